"""The HTTP skin over ``Bot``: aiohttp app factory, routes, middlewares.

``create_app(config)`` builds everything in one place; a test can start it on
port 0. Handlers parse and validate the request, call the bot, and shape the
response; all conversation logic lives in ``bot.dialogue``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.client_ip import client_address, is_loopback_client, parse_trusted_proxies
from bot.config import Config
from bot.conversation_access import (
    AccessDenied,
    authorize_conversation,
    check_channel_token,
    check_conversation_token,
)
from bot.limits import JSONLimitError, RateLimiter, loads_limited, retry_after_header
from bot.live import open_event_stream

log = logging.getLogger("shopbot.server")
STATIC = Path(__file__).resolve().parent / "static"
BOT_KEY: web.AppKey[Any] = web.AppKey("bot", object)
CONFIG_KEY: web.AppKey[Config] = web.AppKey("config", Config)
METRICS_KEY: web.AppKey[Any] = web.AppKey("metrics", object)
SENDER_LIMIT_KEY: web.AppKey[Any] = web.AppKey("sender_limiter", object)
IP_LIMIT_KEY: web.AppKey[Any] = web.AppKey("ip_limiter", object)
ROUTE_LIMIT_KEY: web.AppKey[Any] = web.AppKey("route_limiter", object)


class ApiError(Exception):
    """An error the client caused; becomes ``{"error": {"code", "message"}}``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers  # e.g. Retry-After on a 429


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


class Metrics:
    """Counters and a latency summary in Prometheus text format."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.turns: dict[str, int] = defaultdict(int)
        self.turn_latency_sum = 0.0
        self.turn_count = 0
        self.handoffs = 0
        self.fallbacks = 0

    def observe_turn(self, reply: Any) -> None:
        self.turns[reply.action or "none"] += 1
        self.turn_latency_sum += reply.latency_ms / 1000
        self.turn_count += 1
        self.handoffs += int(reply.handoff)
        self.fallbacks += int(reply.fallback)

    def render(self) -> str:
        lines = ["# TYPE shopbot_http_requests_total counter"]
        for (route, status), n in sorted(self.requests.items()):
            lines.append(f'shopbot_http_requests_total{{route="{route}",status="{status}"}} {n}')
        lines.append("# TYPE shopbot_turns_total counter")
        for action, n in sorted(self.turns.items()):
            lines.append(f'shopbot_turns_total{{action="{action}"}} {n}')
        lines += [
            "# TYPE shopbot_turn_latency_seconds summary",
            f"shopbot_turn_latency_seconds_sum {self.turn_latency_sum:.6f}",
            f"shopbot_turn_latency_seconds_count {self.turn_count}",
            "# TYPE shopbot_handoffs_total counter",
            f"shopbot_handoffs_total {self.handoffs}",
            "# TYPE shopbot_grounding_fallbacks_total counter",
            f"shopbot_grounding_fallbacks_total {self.fallbacks}",
        ]
        return "\n".join(lines) + "\n"


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Client errors as JSON 4xx; anything else is logged and becomes a JSON 500."""
    metrics: Metrics = request.app[METRICS_KEY]
    route = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "unknown"
    )
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.headers)
    except web.HTTPRequestEntityTooLarge:
        response = error_response(413, "too_large", "request body is too large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception:  # a bug: log it, never show internals to the client
        log.exception("unhandled error on %s", request.path)
        response = error_response(500, "internal", "internal error; it has been logged")
    metrics.requests[(route, response.status)] += 1
    return response


# Public routes limited per client address by ``limits_middleware`` (path or path prefix
# -> bucket). /api/chat and the REST channel are limited in _chat_request instead, per
# sender and per address, after the body is validated.
ROUTE_LIMITS = {
    "/model/parse": "parse",
    "/api/feedback": "feedback",
    "/api/events": "events",
    "/api/sources/": "sources",
    "/api/store": "store",
}


def _route_bucket(path: str) -> str | None:
    for prefix, bucket in ROUTE_LIMITS.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return bucket
    return None


def rate_limited(seconds: float, what: str = "requests") -> ApiError:
    """The 429 for a refused request, with ``Retry-After``."""
    return ApiError(
        429, "rate_limited", f"too many {what}; please wait a moment", retry_after_header(seconds)
    )


@web.middleware
async def limits_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Per-client-address rate limits on the public routes in ``ROUTE_LIMITS``.

    Each route has its own bucket of ``10 x rate_limit_per_minute`` requests a
    minute per address (the per-address chat budget), so a page load's
    /api/store and sources do not eat into its event-stream reconnects.
    """
    bucket = _route_bucket(request.path) if request.method != "OPTIONS" else None
    if bucket is not None:
        wait = request.app[ROUTE_LIMIT_KEY].check(f"{bucket}:{client_address(request)}")
        if wait:
            raise rate_limited(wait)
    return await handler(request)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length and request.content_length > request.app[CONFIG_KEY].max_body_bytes:
        raise ApiError(413, "too_large", "request body is too large")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "too_large", "request body is too large") from exc
    try:
        # Depth-checked before parsing: 5,000 nested brackets would otherwise be a
        # RecursionError (a 500) here or in the json.dumps below.
        body = loads_limited(raw or b"", request.app[CONFIG_KEY].max_json_depth)
    except JSONLimitError as exc:
        raise ApiError(400, "invalid_json", str(exc)) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", "the request body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    try:
        # JSON escapes can spell lone surrogates ("\\ud800"), which are not text: they
        # would fail later in the tokenizer or the log, so refuse them here.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(400, "invalid_json", "the request body contains invalid unicode") from exc
    return body


def _field(body: dict[str, Any], name: str, kind: type = str, required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"field '{name}' is required")
        return None
    if kind is int and isinstance(value, bool):
        raise ApiError(400, "invalid_field", f"field '{name}' must be an integer")
    if not isinstance(value, kind):
        raise ApiError(400, "invalid_field", f"field '{name}' must be a {kind.__name__}")
    return value


def _chat_request(request: web.Request, body: dict[str, Any]) -> tuple[str, str, dict | None]:
    """Validate sender/message; apply size and rate limits."""
    config: Config = request.app[CONFIG_KEY]
    sender = _field(body, "sender").strip()
    message = _field(body, "message")
    metadata = body.get("metadata")
    if not sender or len(sender) > 128:
        raise ApiError(400, "invalid_field", "field 'sender' must be 1 to 128 characters")
    if not message.strip():
        raise ApiError(400, "invalid_field", "field 'message' must not be empty")
    if len(message) > config.max_message_chars:
        raise ApiError(
            413,
            "message_too_long",
            f"the message has {len(message)} characters; the limit is {config.max_message_chars}",
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise ApiError(400, "invalid_field", "field 'metadata' must be an object")
    limiter: RateLimiter = request.app[SENDER_LIMIT_KEY]
    # The sender first: a sender over its limit does not use up its address's budget.
    wait = limiter.check(f"sender:{sender}") or request.app[IP_LIMIT_KEY].check(
        f"ip:{client_address(request)}"
    )
    if wait:
        raise rate_limited(wait, "messages")
    return sender, message, metadata


# Conversations of the Rasa REST channel are stored under "rest:<sender>" (see rest_webhook).
REST_PREFIX = "rest:"


def _access(check: Any, *args: Any) -> Any:
    """Run a bot.conversation_access check; its refusal becomes the API error."""
    try:
        return check(*args)
    except AccessDenied as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc


# -- handlers ---------------------------------------------------------------
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def rest_webhook(request: web.Request) -> web.Response:
    """Rasa's REST channel: a list of bot messages (server-side integrations only)."""
    config: Config = request.app[CONFIG_KEY]
    _access(
        check_channel_token,
        config.rest_channel_token,
        request.headers.get("Authorization"),
        is_loopback_client(request),
    )
    sender, message, metadata = _chat_request(request, await _json_body(request))
    # The integration's user ids live in their own namespace: a visitor who names the
    # same id on /api/chat starts a different conversation and can never read this one.
    reply = await request.app[BOT_KEY].handle(REST_PREFIX + sender, message, metadata)
    request.app[METRICS_KEY].observe_turn(reply)
    return web.json_response([{**m, "recipient_id": sender} for m in reply.messages])


async def model_parse(request: web.Request) -> web.Response:
    body = await _json_body(request)
    text = _field(body, "text")
    if len(text) > request.app[CONFIG_KEY].max_message_chars:
        raise ApiError(413, "message_too_long", "the text is over the configured limit")
    result = await asyncio.to_thread(request.app[BOT_KEY].parse, text)
    return web.json_response(result)


async def chat(request: web.Request) -> web.StreamResponse:
    """One turn as JSON, or streamed as server-sent events when asked."""
    body = await _json_body(request)
    sender, message, metadata = _chat_request(request, body)
    if sender.startswith(REST_PREFIX):
        raise ApiError(
            400,
            "invalid_field",
            f"sender ids starting with '{REST_PREFIX}' belong to the REST channel",
        )
    bot = request.app[BOT_KEY]
    # The conversation is the token holder's: a new one gets its token here.
    token = await asyncio.to_thread(
        _access, authorize_conversation, bot.conversations, sender, body.get("token")
    )
    if "text/event-stream" not in request.headers.get("Accept", ""):
        reply = await bot.handle(sender, message, metadata)
        request.app[METRICS_KEY].observe_turn(reply)
        return web.json_response({**reply.to_api(), "token": token})

    response = await open_event_stream(request)

    async def send(event: str, data: dict[str, Any]) -> None:
        payload = json.dumps(data, ensure_ascii=False)
        await response.write(f"event: {event}\ndata: {payload}\n\n".encode())

    try:
        async for event in bot.stream_turn(sender, message, metadata):
            if event["type"] == "done":
                reply = event["reply"]
                request.app[METRICS_KEY].observe_turn(reply)
                await send("done", {**reply.to_api(), "token": token})
            else:
                await send(event["type"], {"text": event["text"]})
    except (ConnectionResetError, asyncio.CancelledError):
        # The client went away; the turn was logged (or is being) all the same.
        raise
    except Exception:
        log.exception("error while streaming a turn")
        await send("error", {"code": "internal", "message": "internal error; it has been logged"})
    await response.write_eof()
    return response


async def feedback(request: web.Request) -> web.Response:
    body = await _json_body(request)
    sender = _field(body, "sender")
    turn_id = _field(body, "turn_id")
    rating = _field(body, "rating", int)
    comment = _field(body, "comment", required=False)
    if rating not in (1, -1):
        raise ApiError(400, "invalid_field", "field 'rating' must be 1 or -1")
    if comment is not None and len(comment) > 2000:
        raise ApiError(413, "too_large", "the comment is over 2,000 characters")
    store = request.app[BOT_KEY].conversations
    await asyncio.to_thread(_access, check_conversation_token, store, sender, body.get("token"))
    turn = await asyncio.to_thread(store.get_turn, turn_id)
    if turn is None or turn["sender"] != sender:
        raise ApiError(404, "unknown_turn", "no such turn for this sender")
    await asyncio.to_thread(store.add_feedback, turn_id, sender, rating, comment)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    text = request.app[METRICS_KEY].render()
    gate = getattr(request.app.get(BOT_KEY), "generation_gate", None)
    if gate is not None:  # generation admission: in flight, queued, busy replies
        text += gate.prometheus()
    return web.Response(text=text, content_type="text/plain")


async def index_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def widget_js(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC / "widget.js", headers={"Content-Type": "application/javascript"}
    )


async def store_info(request: web.Request) -> web.Response:
    """What the widget needs to greet the customer."""
    bot = request.app[BOT_KEY]
    settings = bot.settings
    # The chat model's name only ("qwen2.5-0.5b+adapter"), never a path: this route is public.
    generator = getattr(getattr(bot, "answerer", None), "generator", None)
    return web.json_response(
        {
            "name": settings.name,
            "greeting": bot.catalogue.greeting(),
            "language": settings.language,
            "currency": settings.currency,
            "model": getattr(generator, "name", None),
        }
    )


ADAPTER_POLL_SECONDS = 2.0


async def _adapter_watch_ctx(app: web.Application):  # type: ignore[no-untyped-def]
    """Serve a newly activated LoRA adapter (``shopbot finetune``) without a restart."""
    from bot.adapters import AdapterWatcher

    watcher = AdapterWatcher(app[BOT_KEY], app[CONFIG_KEY])

    async def poll() -> None:
        while True:
            await asyncio.sleep(ADAPTER_POLL_SECONDS)
            try:
                await watcher.check()
            except Exception:  # a bad pointer must never take the server down
                log.exception("checking the active adapter failed")

    task = asyncio.create_task(poll()) if watcher.enabled() else None
    yield
    if task is not None:
        task.cancel()


def create_app(config: Config, bot: Any = None) -> web.Application:
    """The aiohttp application; loads the bot on start-up unless one is given."""
    parse_trusted_proxies(config.trusted_proxies)  # a bad entry fails at start, not per request
    app = web.Application(
        middlewares=[errors_middleware, limits_middleware],
        client_max_size=max(config.max_body_bytes, 1024),
    )
    app[CONFIG_KEY] = config
    app[METRICS_KEY] = Metrics()
    app[SENDER_LIMIT_KEY] = RateLimiter(config.rate_limit_per_minute)
    app[IP_LIMIT_KEY] = RateLimiter(config.rate_limit_per_minute * 10)
    app[ROUTE_LIMIT_KEY] = RateLimiter(config.rate_limit_per_minute * 10)

    async def bot_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        from bot.loader import load_bot

        owned = bot is None
        app[BOT_KEY] = bot if bot is not None else await load_bot(config)
        yield
        if owned:
            # Graceful shutdown: the WAL is checkpointed and the log closed.
            app[BOT_KEY].conversations.close()

    app.cleanup_ctx.append(bot_ctx)
    from bot.admin import setup_admin

    setup_admin(app)  # the merchant's /admin pages and the background insights updater
    app.cleanup_ctx.append(_adapter_watch_ctx)
    app.router.add_get("/health", health)
    app.router.add_post("/webhooks/rest/webhook", rest_webhook)
    app.router.add_post("/model/parse", model_parse)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/feedback", feedback)
    app.router.add_get("/api/store", store_info)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index_page)
    app.router.add_get("/widget.js", widget_js)
    # The widget's live stream, cited sources and CORS; the agents' inbox.
    from bot.inbox import setup_inbox
    from bot.live import setup_live
    from bot.widget_api import setup_widget_api

    setup_live(app)
    setup_widget_api(app)
    setup_inbox(app)
    # Last: the CORS allowlist and security headers get the final word (bot/security.py).
    from bot.security import setup_security

    setup_security(app)
    return app


def serve(config: Config) -> None:
    """Run the server until interrupted (``shopbot serve``)."""
    from bot.loader import load_bot_sync

    bot = load_bot_sync(config, progress=True)
    app = create_app(config, bot=bot)

    async def close_log(app: web.Application) -> None:
        bot.conversations.close()

    app.on_cleanup.append(close_log)
    print(f"shopbot: serving {bot.settings.name} on http://{config.host}:{config.port}", flush=True)
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        access_log_class=RedactingAccessLogger,
    )


_SECRET_PARAM = re.compile(r"((?:^|[?&])(?:token|admin_token)=)[^&#]*", re.I)


def redact_secrets(path_qs: str) -> str:
    """``/api/events?sender=a&token=s3cret`` -> ``...&token=***`` (for logs)."""
    return _SECRET_PARAM.sub(r"\1***", path_qs)


class RedactingAccessLogger(AbstractAccessLogger):
    """The access log without the conversation and admin tokens that URLs carry
    (EventSource can only send them in the query string)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.3fs',
            request.remote,
            request.method,
            redact_secrets(request.path_qs),
            response.status,
            time,
        )
