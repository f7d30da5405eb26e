"""``shopbot serve-llm``: shopbot's own chat model behind an OpenAI-compatible API.

The chat servers stay small when generation runs elsewhere (``llm_backend =
"openai"``). vLLM or llama.cpp's server do that for a stock model; this module
does it for shopbot's local transformers model with the store's LoRA adapter,
so a merchant can run the fine-tuned model in its own process (at a lower CPU
priority on the same host) or on another host.

Routes: ``POST /v1/chat/completions`` (``stream`` true: server-sent events of
``chat.completion.chunk`` objects ending with ``data: [DONE]``; false: one
``chat.completion`` with ``usage``), ``GET /v1/models``, ``GET /health``,
``GET /metrics`` (Prometheus: the queue, outcomes, tokens per second, the process).
One generation runs at a time (a CPU model gains nothing from two); at most
``max_queue`` requests wait, for at most ``queue_timeout`` seconds, and the
rest get 503 with ``Retry-After`` at once, so callers never pile up behind a
busy engine. A client that disconnects stops its generation.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from bot.answers.admission import GateCollector, GenerationGate
from bot.answers.generation import count_tokens, stream_in_thread
from bot.limits import DEFAULT_MAX_JSON_DEPTH, JSONLimitError, loads_limited

log = logging.getLogger("shopbot.llm_server")

MAX_BODY_BYTES = 1 << 20  # a long conversation fits easily; anything bigger is a mistake
MAX_TOKENS_LIMIT = 4096
MAX_JSON_DEPTH = DEFAULT_MAX_JSON_DEPTH  # a chat-completions body nests 4 deep
DEFAULT_MAX_TOKENS = 256
ROLES = {"system", "user", "assistant"}
ENGINE_KEY: web.AppKey[Any] = web.AppKey("engine", object)
# As the chat server's shopbot_generation_tokens_per_second (bot/web/metrics.py).
TOKENS_PER_SECOND_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 500, 1000)


class BadRequest(Exception):
    """A request the client must fix; becomes a 400 in OpenAI's error shape."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def openai_error(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """``{"error": {"message", "type", "param", "code"}}``, as OpenAI's API answers."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def parse_request(body: Any) -> dict[str, Any]:
    """Validate a chat-completions body; returns messages, max_tokens, temperature, stream."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of {role, content}.", "messages")
    parsed: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}] must be an object.", f"messages[{i}]")
        role = message.get("role")
        if role not in ROLES:
            raise BadRequest(
                f"messages[{i}].role is {role!r}; use one of system, user, assistant.",
                f"messages[{i}].role",
            )
        content = message.get("content")
        if isinstance(content, list):  # content parts: only text is understood
            texts = [p.get("text") for p in content if isinstance(p, dict)]
            if not texts or not all(isinstance(t, str) for t in texts):
                raise BadRequest(
                    f"messages[{i}].content parts must be text parts.", f"messages[{i}].content"
                )
            content = "".join(texts)
        if not isinstance(content, str):
            raise BadRequest(f"messages[{i}].content must be a string.", f"messages[{i}].content")
        parsed.append({"role": role, "content": content})

    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise BadRequest(f"'max_tokens' must be an integer, got {max_tokens!r}.", "max_tokens")
    if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise BadRequest(f"'max_tokens' must be between 1 and {MAX_TOKENS_LIMIT}.", "max_tokens")
    temperature = body.get("temperature", 0.0)
    if temperature is None:
        temperature = 0.0
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise BadRequest("'temperature' must be a number.", "temperature")
    if not 0 <= temperature <= 2:
        raise BadRequest("'temperature' must be between 0 and 2.", "temperature")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.", "stream")
    options = body.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    return {
        "messages": parsed,
        "max_tokens": max_tokens,
        "temperature": float(temperature),
        "stream": stream,
        "include_usage": include_usage,
    }


class Engine:
    """One loaded generator, its admission gate and its counters."""

    def __init__(
        self,
        generator: Any,
        max_queue: int = 8,
        queue_timeout: float = 30.0,
        model_name: str | None = None,
    ) -> None:
        self.generator = generator
        self.model_name = model_name or getattr(generator, "name", "shopbot")
        self.gate = GenerationGate(concurrency=1, queue_size=max_queue, timeout=queue_timeout)
        self.completed = 0
        self.cancelled = 0
        self.failed = 0
        # This engine's own registry (tests start several engines in one process).
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(GateCollector(lambda: self.gate))
        self.outcomes = Counter(
            "shopbot_llm_generations",
            "Admitted generations by outcome (completed, cancelled, failed).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("completed", "cancelled", "failed"):
            self.outcomes.labels(outcome=outcome)  # shown at 0 before the first one
        self.tokens_per_second = Histogram(
            "shopbot_generation_tokens_per_second",
            "Completion tokens per second of each completed generation, prompt processing included.",
            buckets=TOKENS_PER_SECOND_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def count(self, outcome: str) -> None:
        """One more completed, cancelled or failed generation (``/health`` and ``/metrics``)."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.outcomes.labels(outcome=outcome).inc()

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer (words if it has none)."""
        counted = count_tokens(self.generator, text)
        return len(text.split()) if counted is None else counted

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Tokens of the rendered prompt (via the chat template when there is one)."""
        render = getattr(self.generator, "render", None)
        text = render(messages) if render else "\n".join(m["content"] for m in messages)
        return self.count_tokens(text)

    async def pieces(self, request: dict[str, Any], gone: Any) -> AsyncIterator[str]:
        """The reply's text pieces; stops the model when ``gone()`` turns true.

        The blocking generator runs in a thread of its own; closing its
        iterator (which TransformersGenerator turns into a stop flag) ends
        generation within one token.
        """
        pieces = stream_in_thread(
            self.generator,
            request["messages"],
            request["max_tokens"],
            request["temperature"],
            "shopbot-llm-generate",
            join=True,  # the slot is only free once the model really stopped
        )
        try:
            async for item in pieces:
                if gone():
                    self.count("cancelled")
                    log.info("client went away: generation stopped")
                    return
                yield item
        finally:
            await pieces.aclose()


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None) -> bytes:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions``."""
    engine: Engine = request.app[ENGINE_KEY]
    try:
        # Depth-checked: deeply nested JSON is a 400, not a RecursionError (a 500).
        body = loads_limited(await request.read(), MAX_JSON_DEPTH)
    except web.HTTPRequestEntityTooLarge:
        return openai_error(
            413, f"The request body is larger than {MAX_BODY_BYTES} bytes.",
            "invalid_request_error", code="request_too_large",
        )  # fmt: skip
    except JSONLimitError as exc:
        return openai_error(400, f"The request body is not acceptable: {exc}.",
                            "invalid_request_error", code="invalid_json")  # fmt: skip
    except (ValueError, UnicodeDecodeError):
        return openai_error(400, "The request body is not valid JSON.", "invalid_request_error")
    try:
        req = parse_request(body)
    except BadRequest as exc:
        return openai_error(400, exc.message, "invalid_request_error", exc.param)

    full_before = engine.gate.rejected_full
    async with engine.gate.slot() as admitted:
        if admitted:
            return await _generate(request, engine, req)
    why = "full" if engine.gate.rejected_full > full_before else "wait too long"
    return openai_error(
        503, f"The engine is busy (generation queue {why}); retry shortly.",
        "server_error", code="engine_overloaded", headers={"Retry-After": "2"},
    )  # fmt: skip


async def _generate(
    request: web.Request, engine: Engine, req: dict[str, Any]
) -> web.StreamResponse:
    """Run one admitted generation and answer it, streamed or whole."""
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = engine.model_name

    def gone() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    if gone():  # left while waiting in the queue: do not spend a prefill on nobody
        engine.count("cancelled")
        return web.Response(status=499)
    parts: list[str] = []
    started = time.perf_counter()
    response: web.StreamResponse | None = None
    try:
        if req["stream"]:
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            await response.write(_chunk(cid, created, model, {"role": "assistant", "content": ""}, None))  # fmt: skip
        # aclosing: leaving the loop early (a failed write) stops the model at once.
        async with aclosing(engine.pieces(req, gone)) as pieces:
            async for piece in pieces:
                parts.append(piece)
                if response is not None:
                    await response.write(_chunk(cid, created, model, {"content": piece}, None))
    except ConnectionResetError:
        engine.count("cancelled")
        log.info("client went away: generation stopped")
        return response or web.Response(status=499)
    except Exception as exc:
        engine.count("failed")
        log.exception("generation failed")
        message = f"generation failed: {type(exc).__name__}: {exc}"
        if response is None:
            return openai_error(500, message, "server_error")
        error = {"error": {"message": message, "type": "server_error"}}
        await response.write(f"data: {json.dumps(error)}\n\ndata: [DONE]\n\n".encode())
        return response

    if gone():  # engine.pieces stopped the model early
        return response or web.Response(status=499)
    text = "".join(parts)
    completion_tokens = engine.count_tokens(text)
    spent = time.perf_counter() - started
    if completion_tokens and spent > 0:
        engine.tokens_per_second.observe(completion_tokens / spent)
    # The prompt is tokenised again only when usage is reported.
    needs_usage = response is None or req["include_usage"]
    prompt_tokens = engine.prompt_tokens(req["messages"]) if needs_usage else 0
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    finish = "length" if completion_tokens >= req["max_tokens"] else "stop"
    engine.count("completed")
    if response is None:
        return web.json_response(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish,
                    }
                ],
                "usage": usage,
            }
        )
    try:
        await response.write(_chunk(cid, created, model, {}, finish))
        if req["include_usage"]:
            tail = {"id": cid, "object": "chat.completion.chunk", "created": created,
                    "model": model, "choices": [], "usage": usage}  # fmt: skip
            await response.write(f"data: {json.dumps(tail)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except ConnectionResetError:
        pass  # the whole reply was generated; the client left before the end marker
    return response


async def list_models(request: web.Request) -> web.Response:
    """``GET /v1/models``: the one model this engine serves."""
    engine: Engine = request.app[ENGINE_KEY]
    model = {"id": engine.model_name, "object": "model", "created": 0, "owned_by": "shopbot"}
    return web.json_response({"object": "list", "data": [model]})


async def health(request: web.Request) -> web.Response:
    """``GET /health``: status, the model and the queue's state."""
    engine: Engine = request.app[ENGINE_KEY]
    return web.json_response(
        {
            "status": "ok",
            "model": engine.model_name,
            **engine.gate.stats(),
            "completed": engine.completed,
            "cancelled": engine.cancelled,
            "failed": engine.failed,
        }
    )


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: the engine's metrics in Prometheus text format."""
    engine: Engine = request.app[ENGINE_KEY]
    return web.Response(
        body=generate_latest(engine.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def create_app(
    generator: Any, max_queue: int = 8, queue_timeout: float = 30.0, model_name: str | None = None
) -> web.Application:
    """The engine's aiohttp app around a loaded ``generator`` (tests start it on port 0)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[ENGINE_KEY] = Engine(generator, max_queue, queue_timeout, model_name)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


def serve_llm(
    model: str,
    adapter: str | None = None,
    store: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_queue: int = 8,
    queue_timeout: float = 30.0,
    backend: str = "transformers",
) -> None:
    """Load the model (with the store's active adapter) and serve it until interrupted.

    ``backend`` is ``"transformers"`` or ``"llama-cpp"`` (the GGUF file as is).
    """
    from bot.answers.adapters import resolve_adapter
    from bot.answers.generation import load_generator

    adapter = resolve_adapter(adapter, store, model, backend)
    generator = load_generator(backend=backend, model=model, adapter=adapter)
    app = create_app(generator, max_queue=max_queue, queue_timeout=queue_timeout)
    print(f"shopbot: serving {generator.name} on http://{host}:{port}/v1", flush=True)
    web.run_app(app, host=host, port=port, print=None)
