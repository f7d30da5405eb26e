"""``shopbot serve-llm``: the local chat model behind an OpenAI-compatible API.

The engine runs on port 0 in a thread with its own event loop, serving the
session's SmolLM2; clients talk to it over real HTTP (urllib, shopbot's own
OpenAIGenerator, and a whole Bot configured with ``llm_backend = "openai"``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web

from bot.answers.generators.openai import OpenAIGenerator
from bot.answers.llm_server import ENGINE_KEY, MAX_BODY_BYTES, create_app

HELLO = [{"role": "user", "content": "Say hello."}]


class BackgroundEngine:
    """An engine app served on 127.0.0.1:0 from a thread with its own event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app, self.engine = app, app[ENGINE_KEY]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = web.AppRunner(app)
        self.call(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.call(site.start())
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def call(self, coro: Any) -> Any:
        """Run ``coro`` on the engine's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def close(self) -> None:
        self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def engine(small_generator) -> Iterator[BackgroundEngine]:
    server = BackgroundEngine(create_app(small_generator, max_queue=2))
    yield server
    server.close()


def post(url: str, body: Any, raw: bytes | None = None) -> tuple[int, dict, dict]:
    """POST JSON (or ``raw`` bytes); returns status, parsed body and headers."""
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + "/v1/chat/completions",
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return dict(json.loads(resp.read()))


def test_a_completion_returns_text_and_token_counts(engine):
    status, body, _ = post(engine.url, {"model": "any", "messages": HELLO, "max_tokens": 12})
    assert status == 200, body
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_streamed_completion_is_server_sent_chunks_ending_with_done(engine):
    request = urllib.request.Request(
        engine.url + "/v1/chat/completions",
        data=json.dumps({"messages": HELLO, "max_tokens": 12, "stream": True}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        events = [
            line[5:].strip()
            for line in resp.read().decode().splitlines()
            if line.startswith("data:")
        ]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.strip()


def test_shopbots_openai_backend_streams_pieces_from_the_engine(engine):
    generator = OpenAIGenerator(engine.url + "/v1", "smollm2-135m")
    pieces = list(generator.stream(HELLO, max_new_tokens=12))
    assert pieces and "".join(pieces).strip()


def test_models_and_health_name_the_served_model(engine):
    models = get(engine.url + "/v1/models")
    assert [m["id"] for m in models["data"]] == ["smollm2-135m"]
    health = get(engine.url + "/health")
    assert health["status"] == "ok" and health["active"] == 0 and health["completed"] >= 1


@pytest.mark.parametrize(
    "body, raw, needle",
    [
        (None, b"{not json", "not valid JSON"),
        ([1, 2], None, "JSON object"),
        ({"max_tokens": 5}, None, "messages"),
        ({"messages": []}, None, "messages"),
        ({"messages": ["hi"]}, None, "messages[0]"),
        ({"messages": [{"role": "bot", "content": "hi"}]}, None, "role"),
        ({"messages": [{"role": "user", "content": 5}]}, None, "content"),
        ({"messages": HELLO, "max_tokens": "ten"}, None, "max_tokens"),
        ({"messages": HELLO, "max_tokens": 0}, None, "max_tokens"),
        ({"messages": HELLO, "temperature": "hot"}, None, "temperature"),
        ({"messages": HELLO, "stream": "yes"}, None, "stream"),
    ],
)
def test_malformed_requests_get_a_400_in_openais_error_shape(engine, body, raw, needle):
    status, reply, _ = post(engine.url, body, raw)
    assert status == 400
    assert reply["error"]["type"] == "invalid_request_error"
    assert needle in reply["error"]["message"]


def test_an_oversized_body_gets_413_and_generates_nothing(engine):
    before = get(engine.url + "/health")["admitted"]
    padding = "x" * (MAX_BODY_BYTES + 10)
    status, reply, _ = post(engine.url, {"messages": [{"role": "user", "content": padding}]})
    assert status == 413 and "larger than" in reply["error"]["message"]
    assert get(engine.url + "/health")["admitted"] == before


def test_beyond_the_queue_requests_get_503_with_retry_after(small_generator):
    server = BackgroundEngine(create_app(small_generator, max_queue=0))
    try:
        gate = server.engine.gate
        assert server.call(gate.acquire())  # a generation in progress holds the one slot
        status, reply, headers = post(server.url, {"messages": HELLO, "max_tokens": 4})
        assert status == 503
        assert reply["error"]["code"] == "engine_overloaded"
        assert "busy" in reply["error"]["message"]
        assert int(headers["Retry-After"]) > 0
        gate.release()
        status, reply, _ = post(server.url, {"messages": HELLO, "max_tokens": 4})
        assert status == 200  # the slot is free again: served
    finally:
        server.close()


def test_a_client_that_disconnects_stops_its_generation(engine):
    long_job = {
        "messages": [{"role": "user", "content": "Count from 1 to 500, separated by commas."}],
        "max_tokens": 600,
        "stream": True,
    }
    before = get(engine.url + "/health")["cancelled"]
    request = urllib.request.Request(
        engine.url + "/v1/chat/completions",
        data=json.dumps(long_job).encode(),
        headers={"Content-Type": "application/json"},
    )
    resp = urllib.request.urlopen(request, timeout=120)
    for line in resp:
        if b'"content"' in line and b'"content": ""' not in line:
            break  # the first generated piece arrived
    resp.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        health = get(engine.url + "/health")
        if health["cancelled"] > before and health["active"] == 0:
            break
        time.sleep(0.2)
    assert health["cancelled"] == before + 1 and health["active"] == 0, health


def test_a_bot_on_the_openai_backend_answers_through_the_engine(engine, demo_config, tmp_path):
    from bot.assemble import load_bot_sync

    config = replace(
        demo_config,
        llm_backend="openai",
        llm_base_url=engine.url + "/v1",
        db_path=tmp_path / "engine-bot.storage.db",
        curated_answers=False,  # the model composes (no curated FAQ quote)
    )
    bot = load_bot_sync(config, progress=False)
    bot.answerer.max_new_tokens = 32  # enough to show the path; keeps the test short
    before = get(engine.url + "/health")["admitted"]
    try:
        assert bot.answerer.generator.name == "openai:smollm2-135m"
        reply = asyncio.run(
            bot.handle("engine-1", "how long does it take to get my money back after a return?")
        )
    finally:
        bot.conversations.close()
    # The model's reply, or, refused by the grounding checks, an honest "not sure".
    assert reply.action in ("action_answer", "action_abstain"), reply.action
    assert reply.text.strip()
    assert get(engine.url + "/health")["admitted"] == before + 1  # the engine generated it
