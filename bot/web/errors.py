"""Client errors: ``ApiError`` and its JSON shape, the middleware that turns any
error into JSON, and the request-body helpers: ``json_body`` (every JSON route),
``field`` / ``sender_id`` for the routes whose bodies are not yet validated by a
model of bot/web/requests.py (the agents' inbox)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from bot.limits import JSONLimitError, loads_limited, retry_after_header
from bot.web.access import AccessDenied
from bot.web.keys import CONFIG_KEY, METRICS_KEY

log = logging.getLogger("shopbot.server")


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


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Client errors as JSON 4xx; anything else is logged and becomes a JSON 500."""
    metrics = request.app[METRICS_KEY]
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
    metrics.observe_request(route, response.status)
    return response


def rate_limited(seconds: float, what: str = "requests") -> ApiError:
    """The 429 for a refused request, with ``Retry-After``."""
    return ApiError(
        429, "rate_limited", f"too many {what}; please wait a moment", retry_after_header(seconds)
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (size- and depth-limited, valid unicode), or a 400/413."""
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


def field(body: dict[str, Any], name: str, kind: type = str, required: bool = True) -> Any:
    """``body[name]`` checked to be a ``kind``; null counts as absent."""
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


MAX_SENDER_CHARS = 128


def sender_id(value: Any, what: str = "field 'sender'") -> str:
    """A conversation's sender id from the request: text of 1 to 128 characters, stripped."""
    sender = value.strip() if isinstance(value, str) else ""
    if not sender or len(sender) > MAX_SENDER_CHARS:
        raise ApiError(400, "invalid_field", f"{what} must be 1 to {MAX_SENDER_CHARS} characters")
    return sender


def access(check: Any, *args: Any) -> Any:
    """Run a bot.web.access check; its refusal becomes the API error."""
    try:
        return check(*args)
    except AccessDenied as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
