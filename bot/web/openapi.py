"""The OpenAPI 3 description of shopbot's HTTP API, served at ``GET /openapi.json``.

The paths come from the running app's router, so the description cannot list
a route that does not exist or miss one that does: routes described in
``OPERATIONS`` get their request and response schemas, any other route (added
by a module that has not described itself yet) still appears with its
handler's docstring as summary. Request bodies are the pydantic models the
server validates with (bot/web/requests.py), written with the running
server's limits; responses are described here. tests/test_openapi_spec.py
validates the served document, tests/test_schemathesis.py checks the live
server's responses against it.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.config import Config
from bot.web.access import MAX_TOKEN_CHARS
from bot.web.errors import MAX_SENDER_CHARS
from bot.web.keys import CONFIG_KEY
from bot.web.requests import (
    AgentReply,
    AgentRequest,
    ChatRequest,
    FeedbackRequest,
    ParseRequest,
    RequestBody,
    RestMessage,
    request_schema,
)

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "the body is not a JSON object (or nests over max_json_depth, 32), or a field "
        "or parameter is missing, of the wrong type or out of range",
        401: "no admin token was sent",
        403: "the admin token is wrong, or admin pages are off",
        404: "no such resource",
        413: "the body or message is over the configured limit",
        409: "another agent has claimed the conversation",
        429: "rate-limited (per sender or per client address), or too many live streams "
        "open from this address; Retry-After says when to try again",
        503: "the server has too many live streams open; Retry-After says when to retry",
    }
    out: dict[str, Any] = {}
    for c in codes:
        out[str(c)] = {"description": text[c], **_json(ERROR)}
        if c in (429, 503):
            out[str(c)]["headers"] = {"Retry-After": RETRY_AFTER}
    return out


RETRY_AFTER = {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}
# An event id (a row id of the conversation log).
EVENT_ID = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


SENDER = {"type": "string", "minLength": 1, "maxLength": MAX_SENDER_CHARS}
# What the bot says (Rasa's message shape); the REST channel adds recipient_id.
BOT_MESSAGE = {
    "type": "object",
    "properties": {
        "recipient_id": {"type": "string"},
        "text": {"type": "string"},
        "buttons": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "payload": {"type": "string"}},
            },
        },
        "image": {"type": "string"},
        "custom": {"type": "object"},
    },
}
REST_MESSAGE = {**BOT_MESSAGE, "required": ["recipient_id"]}
TOKEN = {
    "type": "string",
    "maxLength": MAX_TOKEN_CHARS,
    "description": "the conversation's secret, from its first reply (bot/web/access.py)",
}
CHAT_REPLY = {
    "type": "object",
    "properties": {
        "messages": {"type": "array", "items": BOT_MESSAGE},
        "intent": {"type": ["string", "null"]},
        "confidence": {"type": ["number", "null"]},
        "sources": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "score": {"type": "number"},
                },
            },
        },
        "action": {"type": ["string", "null"]},
        "handoff": {"type": "boolean"},
        "turn_id": {"type": "string"},
        "token": TOKEN,
    },
    "required": ["messages", "turn_id", "handoff", "token"],
}
INTENT = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "confidence": {"type": "number"}},
}
PARSE_REPLY = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "intent": INTENT,
        "intent_ranking": {"type": "array", "items": INTENT},
        "entities": {"type": "array", "items": {"type": "object"}},
    },
}
SOURCE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
        "text": {"type": "string"},
    },
    "required": ["id", "type", "text"],
}
STATUS_OK = {"type": "object", "properties": {"status": {"type": "string"}}}
SENDER_QUERY = {"name": "sender", "in": "query", "required": True, "schema": SENDER}
TOKEN_QUERY = {"name": "token", "in": "query", "required": True, "schema": TOKEN}


def _access_errors() -> dict[str, Any]:
    """401/403 of the routes that belong to one conversation's token holder."""
    return {
        "401": {"description": "the conversation's token was not sent", **_json(ERROR)},
        "403": {
            "description": "the conversation exists and the token is missing or not its own",
            **_json(ERROR),
        },
    }


ADMIN = [{"adminToken": []}]

# (method, path) -> operation. Paths use OpenAPI's {name} templates.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/health"): {
        "summary": "Liveness",
        "responses": {"200": {"description": "up", **_json(STATUS_OK)}},
    },
    ("post", "/webhooks/rest/webhook"): {
        "summary": "Rasa REST channel (server-side integrations): one turn, the bot's messages",
        "security": [{"restChannelToken": []}],
        "requestBody": RestMessage,
        "responses": {
            "200": {
                "description": "the bot's messages",
                **_json({"type": "array", "items": REST_MESSAGE}),
            },
            **_errors(400, 413, 429),
            "401": {"description": "the channel token is missing or wrong", **_json(ERROR)},
            "403": {
                "description": "no channel token is configured and the caller is not local",
                **_json(ERROR),
            },
        },
    },
    ("post", "/model/parse"): {
        "summary": "NLU only (Rasa-style parse)",
        "requestBody": ParseRequest,
        "responses": {
            "200": {"description": "intent and entities", **_json(PARSE_REPLY)},
            **_errors(400, 413, 429),
        },
    },
    ("post", "/api/chat"): {
        "summary": "One turn; with 'Accept: text/event-stream' the reply streams as SSE",
        "requestBody": ChatRequest,
        "responses": {
            "200": {
                "description": "the turn (JSON), or events token/replace/done/error (SSE)",
                "content": {
                    "application/json": {"schema": CHAT_REPLY},
                    "text/event-stream": {"schema": {"type": "string"}},
                },
            },
            **_errors(400, 413, 429),
            "403": _access_errors()["403"],
        },
    },
    ("post", "/api/feedback"): {
        "summary": "Rate a turn",
        "requestBody": FeedbackRequest,
        "responses": {
            "200": {"description": "recorded", **_json(STATUS_OK)},
            **_errors(400, 404, 413, 429),
            **_access_errors(),
        },
    },
    ("get", "/api/store"): {
        "summary": "What the widget needs to greet the customer",
        "responses": {
            "200": {
                "description": "store name, greeting, language",
                **_json(
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "greeting": {"type": "string"},
                            "language": {"type": "string"},
                            "currency": {"type": "string"},
                            "model": {"type": ["string", "null"]},
                        },
                        "required": ["name", "greeting", "language", "currency"],
                    }
                ),
            },
            **_errors(429),
        },
    },
    ("get", "/api/sources/{source_id}"): {
        "summary": "A cited passage, to show the customer",
        "parameters": [
            {"name": "source_id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "the passage", **_json(SOURCE)}, **_errors(404, 429)},
    },
    ("get", "/api/events"): {
        "summary": "One conversation's log, live (server-sent events, resumable)",
        "parameters": [
            SENDER_QUERY,
            TOKEN_QUERY,
            {"name": "after", "in": "query", "required": False, "schema": EVENT_ID},
            {"name": "Last-Event-ID", "in": "header", "required": False, "schema": EVENT_ID},
        ],
        "responses": {
            "200": {"description": "text/event-stream"},
            **_errors(400, 429, 503),
            **_access_errors(),
        },
    },
    ("options", "/api/{tail}"): {
        "summary": "CORS preflight for the public customer API",
        "parameters": [
            {"name": "tail", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {"204": {"description": "allowed methods and headers"}, **_errors(404)},
    },
    ("get", "/metrics"): {
        "summary": "Prometheus metrics",
        "responses": {"200": {"description": "text/plain; Prometheus exposition format"}},
    },
    ("get", "/openapi.json"): {
        "summary": "This description",
        "responses": {"200": {"description": "OpenAPI 3 document"}},
    },
    # The agents' inbox API (bot/web/inbox.py), behind the admin token.
    ("get", "/api/inbox/handoffs"): {
        "summary": "Conversations waiting for or claimed by an agent",
        "security": ADMIN,
        "responses": {"200": {"description": "the open handoffs"}, **_errors(401, 403)},
    },
    ("get", "/api/inbox/conversation"): {
        "summary": "One conversation's log and the customer's profile, for an agent",
        "security": ADMIN,
        "parameters": [SENDER_QUERY],
        "responses": {"200": {"description": "turns and profile"}, **_errors(400, 401, 403, 404)},
    },
    ("post", "/api/inbox/claim"): {
        "summary": "An agent takes a waiting conversation",
        "security": ADMIN,
        "requestBody": AgentRequest,
        "responses": {"200": {"description": "claimed"}, **_errors(400, 401, 403, 404, 409)},
    },
    ("post", "/api/inbox/reply"): {
        "summary": "An agent's message to the customer",
        "security": ADMIN,
        "requestBody": AgentReply,
        "responses": {"200": {"description": "sent"}, **_errors(400, 401, 403, 404, 409, 413)},
    },
    ("post", "/api/inbox/handback"): {
        "summary": "Return the conversation to the assistant",
        "security": ADMIN,
        "requestBody": AgentRequest,
        "responses": {"200": {"description": "handed back"}, **_errors(400, 401, 403, 404)},
    },
    ("get", "/api/inbox/events"): {
        "summary": "Every change to any conversation, live (server-sent events)",
        "security": ADMIN,
        "parameters": [{"name": "after", "in": "query", "required": False, "schema": EVENT_ID}],
        "responses": {
            "200": {"description": "text/event-stream"},
            **_errors(400, 401, 403, 503),
        },
    },
    ("get", "/"): {"summary": "The demo page", "responses": {"200": {"description": "HTML"}}},
    ("get", "/widget.js"): {
        "summary": "The embeddable chat widget",
        "responses": {"200": {"description": "JavaScript"}},
    },
}


def _template(path: str) -> str:
    """aiohttp's ``{name:regex}`` -> OpenAPI's ``{name}``."""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


def _params_of(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", path)
    ]


def _request_body(op: dict[str, Any], config: Config, schemas: dict[str, Any]) -> dict[str, Any]:
    """``op`` with its request model (bot/web/requests.py) as its JSON request body.

    The model's schema carries this server's limits; the models it nests (pydantic's
    ``$defs``) go to ``components/schemas``, where its refs point.
    """
    model = op.get("requestBody")
    if not (isinstance(model, type) and issubclass(model, RequestBody)):
        return op
    schema, defs = request_schema(model, config, "#/components/schemas/")
    schemas.update(defs)
    return {**op, "requestBody": {"required": True, **_json(schema)}}


def build_openapi(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route ``app`` serves."""
    paths: dict[str, dict[str, Any]] = {}
    config: Config = app[CONFIG_KEY]
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for route in app.router.routes():
        method = route.method.lower()
        if method == "head" or route.resource is None:
            continue  # aiohttp adds HEAD for every GET
        path = _template(route.resource.canonical)
        op = OPERATIONS.get((method, path))
        if op is not None:
            op = _request_body(op, config, schemas)
        else:
            doc = (getattr(route.handler, "__doc__", None) or "").strip().splitlines()
            op = {
                "summary": doc[0] if doc else f"{method.upper()} {path}",
                "responses": {"200": {"description": "OK"}, **_errors(400, 404)},
            }
            if params := _params_of(path):
                op["parameters"] = params
            if path.startswith(("/admin", "/api/inbox")):
                op["security"] = ADMIN
                op["responses"].update(_errors(401, 403))
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "shopbot",
            "version": "1",
            "description": "Customer-service chat for one store. Errors are "
            '{"error": {"code", "message"}} with a 4xx status; a 5xx is a bug.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer"},
                "restChannelToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }
