"""The merchant's /admin pages: token required, pages rendered from real conversations."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import replace
from bot.web.app import create_app
from tests.conversation import chat_body, remember

pytestmark = pytest.mark.slow
TOKEN = "s3cret-admin-token"
PAGES = [
    "/admin",
    "/admin/intents",
    "/admin/gaps",
    "/admin/segments",
    "/admin/demand",
    "/admin/conversations",
]


@pytest.fixture
async def client(demo_config, demo_bot):
    server = TestServer(create_app(replace(demo_config, admin_token=TOKEN), bot=demo_bot), port=0)
    async with TestClient(server) as c:
        yield c


async def test_pages_refuse_a_missing_or_wrong_token(client: TestClient) -> None:
    for page in PAGES + ["/admin/conversations/anyone"]:
        resp = await client.get(page)
        assert resp.status == 401, page
        assert (await resp.json())["error"]["code"] == "unauthorized"
        resp = await client.get(page, headers={"Authorization": "Bearer wrong"})
        assert resp.status == 403, page
        resp = await client.get(page + "?token=wrong", allow_redirects=False)
        assert resp.status == 403, page
    resp = await client.get("/admin", cookies={"shopbot_admin": "forged"})
    assert resp.status == 403


async def test_pages_are_off_without_a_configured_token(demo_config, demo_bot) -> None:
    server = TestServer(create_app(replace(demo_config, admin_token=None), bot=demo_bot), port=0)
    async with TestClient(server) as c:
        resp = await c.get("/admin", headers={"Authorization": "Bearer anything"})
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "admin_disabled"


async def test_token_in_the_url_becomes_a_cookie(client: TestClient) -> None:
    resp = await client.get("/admin/intents?token=" + TOKEN, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/admin/intents"
    assert "shopbot_admin" in resp.cookies
    assert TOKEN not in resp.cookies["shopbot_admin"].value
    resp = await client.get("/admin/intents")  # the client keeps the cookie
    assert resp.status == 200


async def test_pages_show_real_conversations(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for sender, text in [
        ("admin-a", "do you sell kayaks?"),
        ("admin-b", "I'm looking for an inflatable kayak"),
        ("admin-c", "how much are the running shoes?"),
        ("admin-c", "my email is carol@example.com, call 555-123-4567"),
    ]:
        resp = await client.post("/api/chat", json=chat_body(sender, text))
        assert resp.status == 200
        remember(sender, await resp.json())
    for page in PAGES:
        resp = await client.get(page, headers=auth)
        assert resp.status == 200, page
        assert resp.headers["Content-Type"].startswith("text/html")
        assert "<h1>" in await resp.text()
    overview = await (await client.get("/admin", headers=auth)).text()
    assert "handoff rate" in overview and "<svg" in overview
    gaps = await (await client.get("/admin/gaps", headers=auth)).text()
    assert "kayak" in gaps
    convo = await (await client.get("/admin/conversations/admin-c", headers=auth)).text()
    assert "running shoes" in convo.lower()
    assert "carol@example.com" not in convo and "[EMAIL]" in convo
    assert "Profile of admin-c" in convo
    resp = await client.get("/admin/conversations/nobody-here", headers=auth)
    assert resp.status == 404
    resp = await client.get("/admin/gaps?from=yesterday", headers=auth)
    assert resp.status == 400


async def test_failed_identity_checks_are_shown_to_the_merchant(client: TestClient) -> None:
    import uuid

    sender = f"admin-guess-{uuid.uuid4().hex[:8]}"
    for text in ("where is my order?", "my email is nobody-here@example.com"):
        resp = await client.post("/api/chat", json=chat_body(sender, text))
        assert resp.status == 200
        remember(sender, await resp.json())
    page = await client.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"})
    text = await page.text()
    assert "Failed identity checks" in text and sender in text
