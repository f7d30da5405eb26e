"""The OpenAI-compatible client (bot/answers/generators/openai.py): asks a busy server
again as its ``Retry-After`` says, within a bound, and reads ``$OPENAI_BASE_URL``."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from typing import Any

import pytest
from aiohttp import web

from bot.answers.answerer import KnowledgeAnswerer
from bot.answers.generation import load_generator
from bot.answers.generators.base import GenerationError
from bot.answers.generators.openai import OpenAIGenerator, RetryPolicy, retry_after_seconds
from bot.answers.models import ModelLoadError
from tests.conftest import NORTHWIND, make_hit

MESSAGES = [{"role": "user", "content": "How long do refunds take?"}]
REPLY = ["Refunds take ", "5 to 7", " business days."]


async def sse(request: web.Request) -> web.StreamResponse:
    """A streamed chat completion of REPLY."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for piece in REPLY:
        chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


def busy(status: int, retry_after: str | None) -> web.Response:
    """A refusal in OpenAI's error shape, with ``Retry-After`` when given."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"error": {"message": "busy", "type": "server_error", "code": None}}
    return web.json_response(body, status=status, headers=headers)


async def endpoint(aiohttp_server: Any, answers: list[Any]) -> tuple[str, list[float]]:
    """A local OpenAI-compatible server answering each request with the next of
    ``answers`` (a (status, Retry-After) refusal, or "ok": the stream); the last repeats.
    Returns its /v1 URL and the times requests arrived."""
    arrivals: list[float] = []

    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        arrivals.append(time.monotonic())
        answer = answers[min(len(arrivals), len(answers)) - 1]
        return await sse(request) if answer == "ok" else busy(*answer)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    server = await aiohttp_server(app, host="127.0.0.1")
    return str(server.make_url("/v1")), arrivals


def generate(generator: OpenAIGenerator) -> Any:
    """The whole reply, off the event loop (the client blocks; the server is on the loop)."""
    return asyncio.to_thread(lambda: "".join(generator.stream(MESSAGES, max_new_tokens=20)))


async def test_a_503_with_retry_after_is_asked_again_after_that_wait(aiohttp_server) -> None:
    url, arrivals = await endpoint(aiohttp_server, [(503, "1"), "ok"])
    started = time.monotonic()
    text = await generate(OpenAIGenerator(url, "tiny"))
    assert text == "".join(REPLY)
    assert len(arrivals) == 2
    assert 0.9 <= arrivals[1] - arrivals[0] < 3.0
    assert time.monotonic() - started < 5.0


async def test_retry_after_as_an_http_date_is_honoured(aiohttp_server) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    url, arrivals = await endpoint(aiohttp_server, [(429, when), "ok"])
    assert await generate(OpenAIGenerator(url, "tiny")) == "".join(REPLY)
    assert len(arrivals) == 2 and 0.5 <= arrivals[1] - arrivals[0] < 3.5


async def test_an_endpoint_that_always_429s_is_given_up_within_the_bound(aiohttp_server) -> None:
    url, arrivals = await endpoint(aiohttp_server, [(429, "1")])
    started = time.monotonic()
    with pytest.raises(GenerationError, match=r"HTTP 429.*gave up after 3 attempts"):
        await generate(OpenAIGenerator(url, "tiny"))
    assert len(arrivals) == 3
    assert time.monotonic() - started < 10.0


async def test_a_retry_after_longer_than_the_turn_may_wait_is_not_waited_for(
    aiohttp_server,
) -> None:
    url, arrivals = await endpoint(aiohttp_server, [(503, "120")])
    started = time.monotonic()
    with pytest.raises(GenerationError, match=r"asked to wait 120 s, more than the 10 s left"):
        await generate(OpenAIGenerator(url, "tiny"))
    assert len(arrivals) == 1 and time.monotonic() - started < 2.0


async def test_the_bound_is_configurable(aiohttp_server) -> None:
    url, arrivals = await endpoint(aiohttp_server, [(503, None)])
    retry = RetryPolicy(max_attempts=5, max_wait=0.5, backoff=0.1)
    with pytest.raises(GenerationError, match="more than the"):
        await generate(OpenAIGenerator(url, "tiny", retry=retry))
    assert len(arrivals) == 3  # waited 0.1 and 0.2; 0.4 would pass the 0.5 s
    once = RetryPolicy(max_attempts=1)
    with pytest.raises(GenerationError, match="gave up after 1 attempt\\)"):
        await generate(OpenAIGenerator(url, "tiny", retry=once))


async def test_other_errors_are_not_retried(aiohttp_server) -> None:
    url, arrivals = await endpoint(aiohttp_server, [(400, None)])
    with pytest.raises(GenerationError, match="HTTP 400"):
        await generate(OpenAIGenerator(url, "tiny"))
    assert len(arrivals) == 1


async def test_an_unreachable_endpoint_is_tried_again_then_falls_back() -> None:
    slept: list[float] = []
    generator = OpenAIGenerator("http://127.0.0.1:9/v1", "tiny", sleep=slept.append)
    with pytest.raises(
        GenerationError, match=r"cannot reach .*Connection refused.*\(gave up after 3 attempts\)"
    ):
        await generate(generator)
    assert slept == [0.5, 1.0]


async def test_the_answerer_falls_back_when_the_endpoint_stays_busy(aiohttp_server) -> None:
    url, _ = await endpoint(aiohttp_server, [(429, "1")])
    hits = [make_hit("faq-refunds", "faq", "Refunds", "Refunds take 5 to 7 business days.")]
    generator = OpenAIGenerator(url, "tiny", retry=RetryPolicy(max_attempts=2, max_wait=2))
    final = await KnowledgeAnswerer(generator).answer(
        "How long do refunds take?", hits, [], NORTHWIND
    )
    assert final["fallback"] is True
    assert "HTTP 429" in final["problems"][0]
    assert "5 to 7 business days" in final["text"]


async def test_shopbots_own_llm_server_busy_503_is_retried(aiohttp_server) -> None:
    """serve-llm answers 503 + Retry-After when its queue is full (bot/answers/llm_server.py)."""
    from bot.answers.llm_server import create_app

    class Slow:
        name = "slow"

        def stream(self, messages, max_new_tokens=256, temperature=0.0):  # noqa: ANN001
            time.sleep(1.0)
            yield "Refunds take 5 to 7 business days."

    server = await aiohttp_server(create_app(Slow(), max_queue=0), host="127.0.0.1")
    url = str(server.make_url("/v1"))
    first = asyncio.ensure_future(generate(OpenAIGenerator(url, "slow")))
    await asyncio.sleep(0.3)  # the first one holds the only slot
    second = await generate(OpenAIGenerator(url, "slow"))
    assert second == "Refunds take 5 to 7 business days."
    assert await first == second


# ----------------------------------------------------------------- configuration


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = time.time()
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-4") == 0.0
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(
        30, abs=1
    )
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    for unreadable in (None, "", "soon", "Mon, 99 Foo"):
        assert retry_after_seconds(unreadable) is None


def test_openai_base_url_and_key_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8001/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    generator = load_generator("openai", "tiny")
    assert generator.url == "http://127.0.0.1:8001/v1/chat/completions"
    assert generator.api_key == "from-env"
    explicit = load_generator("openai", "tiny", base_url="http://127.0.0.1:8002", api_key="k")
    assert explicit.url == "http://127.0.0.1:8002/v1/chat/completions"
    assert explicit.api_key == "k"


def test_the_config_chooses_the_url_and_the_retry_bound(monkeypatch, tmp_path) -> None:
    from bot.assemble import load_generator_from_config
    from bot.config import load_config

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8001/v1")
    monkeypatch.setenv("SHOPBOT_LLM_MAX_ATTEMPTS", "2")
    config = load_config(tmp_path, llm_backend="openai", llm_model="tiny", llm_adapter="none")
    generator = load_generator_from_config(config)
    assert generator.url == "http://127.0.0.1:8001/v1/chat/completions"
    assert generator.retry == RetryPolicy(max_attempts=2, max_wait=10.0)
    config = load_config(
        tmp_path, llm_backend="openai", llm_model="tiny", llm_adapter="none",
        llm_base_url="http://127.0.0.1:8003/v1", llm_max_retry_seconds=4,
    )  # fmt: skip
    generator = load_generator_from_config(config)
    assert generator.url == "http://127.0.0.1:8003/v1/chat/completions"
    assert generator.retry.max_wait == 4.0


def test_no_url_anywhere_fails_clearly(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelLoadError, match=r"needs llm_base_url .* or \$OPENAI_BASE_URL"):
        load_generator("openai", "tiny")
