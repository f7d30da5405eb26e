"""Security of the HTTP skin: CORS allowlist, headers, validation, limits, OpenAPI.

Each test starts the real app on port 0 around the session's demo bot.
"""

from __future__ import annotations

import uuid

import pytest

from bot.config import replace
from tests.conftest import started_client
from tests.conversation import chat_body, remember

SHOP = "https://shop.example"
EVIL = "https://evil.example"


def sender() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def client(demo_config, demo_bot):
    c = await started_client(
        replace(demo_config, cors_origins=[SHOP], admin_token="s3cret"), demo_bot
    )
    yield c
    await c.close()


async def test_cors_allowlist_answers_listed_origins_only(client):
    pre = await client.options(
        "/api/chat", headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"}
    )
    assert pre.status == 204
    assert pre.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in pre.headers["Vary"]
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    ok = await client.post(
        "/api/chat", json={"sender": sender(), "message": "hi"}, headers={"Origin": SHOP}
    )
    assert ok.status == 200 and ok.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Credentials" not in ok.headers

    bad = await client.options(
        "/api/chat", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in bad.headers
    store = await client.get("/api/store", headers={"Origin": EVIL})
    assert "Access-Control-Allow-Origin" not in store.headers
    # Admin routes never answer cross-origin, even for an allowed origin.
    admin = await client.get(
        "/api/inbox/handoffs", headers={"Origin": SHOP, "Authorization": "Bearer s3cret"}
    )
    assert admin.status == 200 and "Access-Control-Allow-Origin" not in admin.headers


async def test_cors_wildcard_only_when_configured_and_off_when_empty(demo_config, demo_bot):
    for origins, expected in ((["*"], "*"), ([], None)):
        c = await started_client(replace(demo_config, cors_origins=origins), demo_bot)
        try:
            resp = await c.get("/api/store", headers={"Origin": EVIL})
            assert resp.headers.get("Access-Control-Allow-Origin") == expected, origins
        finally:
            await c.close()


async def test_security_headers_on_pages_and_api(client):
    for path in ("/", "/health", "/api/store", "/openapi.json"):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    api = await client.get("/api/store")
    assert api.headers["Cache-Control"] == "no-store"
    widget = await client.get("/widget.js")
    assert widget.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    inbox = await client.get("/admin/inbox", headers={"Authorization": "Bearer s3cret"})
    assert "frame-ancestors 'none'" in inbox.headers["Content-Security-Policy"]


async def test_admin_routes_need_the_token(client):
    for path in ("/api/inbox/handoffs", "/admin/inbox"):
        assert (await client.get(path)).status == 401
        wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status == 403
        body = await wrong.json()
        assert "s3cret" not in str(body)


# Every JSON route, with bodies that must each get a clear 4xx (never a 5xx).
BAD_BODIES = [
    b"",
    b"not json",
    b"[]",
    b'"a string"',
    b"null",
    b"{}",
    b'{"sender": 5, "message": "hi"}',
    b'{"sender": "s", "message": ["hi"]}',
    b'{"sender": "s", "message": "   "}',
    b'{"sender": "", "message": "hi"}',
    b'{"sender": "s", "message": "hi", "metadata": "x"}',
    b'{"text": 3}',
    b'{"sender": "s", "turn_id": "t", "rating": true}',
    b'{"sender": "s", "turn_id": "t", "rating": 5}',
    b'{"sender": "s", "turn_id": 7, "rating": 1}',
    b'{"sender": "\\ud800", "message": "lone surrogate"}',
    b'{"sender": "s", "message": "\\udfff"}',
    b'{"text": "\\ud800"}',
    b"\xff\xfe{}",
]
JSON_ROUTES = ["/api/chat", "/webhooks/rest/webhook", "/model/parse", "/api/feedback"]


@pytest.mark.parametrize("path", JSON_ROUTES)
async def test_bad_bodies_get_a_json_4xx_on_every_route(client, path):
    for body in BAD_BODIES:
        resp = await client.post(path, data=body, headers={"Content-Type": "application/json"})
        assert 400 <= resp.status < 500 or resp.status == 200, (path, body, resp.status)
        if resp.status != 200:
            error = (await resp.json())["error"]
            assert error["code"] and error["message"], (path, body)


async def test_oversized_bodies_messages_and_senders_are_refused(client, demo_config):
    big = b'{"sender": "s", "message": "' + b"x" * (demo_config.max_body_bytes + 10) + b'"}'
    resp = await client.post("/api/chat", data=big, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    long_message = "x" * (demo_config.max_message_chars + 1)
    resp = await client.post("/api/chat", json={"sender": sender(), "message": long_message})
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "message_too_long"
    resp = await client.post("/api/chat", json={"sender": "s" * 129, "message": "hi"})
    assert resp.status == 400
    resp = await client.get("/api/events", params={"sender": "s" * 129})
    assert resp.status == 400


async def test_rate_limits_per_sender_and_per_address(demo_config, demo_bot):
    c = await started_client(replace(demo_config, rate_limit_per_minute=3), demo_bot)
    try:
        one = sender()
        codes = []
        for _ in range(4):
            resp = await c.post("/api/chat", json=chat_body(one, "hi"))
            codes.append(resp.status)
            remember(one, await resp.json())
        assert codes == [200, 200, 200, 429]
        # The per-address limit (10x the per-sender one) stops many fresh senders.
        codes = [
            (await c.post("/api/chat", json={"sender": sender(), "message": "hi"})).status
            for _ in range(30)
        ]
        assert codes == [200] * 27 + [429] * 3  # 3 of the 30 per minute already used
    finally:
        await c.close()


async def test_openapi_describes_every_route_with_schemas_for_the_contract(client):
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    spec = await resp.json()
    assert spec["openapi"].startswith("3.")
    served = {
        (r.method.lower(), r.resource.canonical)
        for r in client.server.app.router.routes()
        if r.method != "HEAD"
    }
    import re

    described = {
        (m, re.sub(r"\{(\w+)\}", r"{\1}", p)) for p, ops in spec["paths"].items() for m in ops
    }
    templated = {(m, re.sub(r"\{(\w+):[^}]*\}", r"{\1}", p)) for m, p in served}
    assert templated == described
    chat = spec["paths"]["/api/chat"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"sender", "message"}
    for path in ("/api/chat", "/webhooks/rest/webhook", "/model/parse", "/api/feedback"):
        op = spec["paths"][path]["post"]
        assert "requestBody" in op and "400" in op["responses"], path
    assert spec["paths"]["/api/inbox/handoffs"]["get"]["security"]
