"""A conversation belongs to whoever holds its token, not to whoever names its sender id.

Attacks first: each test is something an attacker who knows (or guesses) a
customer's sender id tried against the real server on port 0 (issue 12,
finding 2), then what the rightful customer can still do.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import replace
from bot.storage.conversations import ConversationStore
from bot.web.app import create_app
from tests.conversation import chat, token_for

SHOP = "https://shop.example"


def new_sender() -> str:
    return f"acc-{uuid.uuid4().hex[:12]}"


def reply_text(data: dict) -> str:
    return "\n".join(m.get("text", "") for m in data["messages"])


def _demo_customer(demo_store) -> tuple[dict, dict]:
    """A demo customer with a pending order (the order-status action shows its items)."""
    customers = {
        c["customer_id"]: c
        for c in map(json.loads, (demo_store / "customers.jsonl").read_text().splitlines())
    }
    for order in map(json.loads, (demo_store / "orders.jsonl").read_text().splitlines()):
        if order["status"] == "pending":
            return customers[order["customer_id"]], order
    raise AssertionError("no pending order in the demo store")


@pytest.fixture
async def client(demo_config, demo_bot):
    server = TestServer(create_app(demo_config, bot=demo_bot), port=0)
    async with TestClient(server) as c:
        yield c


async def _events(client: TestClient, url: str, n: int) -> list[dict]:
    """The first ``n`` turn events of a live stream (then closes it)."""
    resp = await client.get(url)
    assert resp.status == 200, await resp.text()
    events, frame = [], {}
    try:
        async with asyncio.timeout(30):
            while len(events) < n:
                line = (await resp.content.readline()).decode().rstrip("\n")
                if line:
                    key, _, value = line.partition(": ")
                    frame[key] = value
                    continue
                if frame.get("event") == "turn":
                    events.append(json.loads(frame["data"]))
                frame = {}
    finally:
        resp.close()
    return events


async def test_first_reply_carries_a_token_and_continuing_needs_it(client):
    sender = new_sender()
    first = await chat(client, sender, "hi")
    token = first["token"]
    assert isinstance(token, str) and len(token) >= 32
    # Another visitor naming the same sender id, with no token or a made-up one: refused.
    for body in (
        {},
        {"token": "x" * 43},
        {"token": token[:-1] + ("A" if token[-1] != "A" else "B")},
    ):
        resp = await client.post("/api/chat", json={"sender": sender, "message": "hi", **body})
        assert resp.status == 403, body
        assert (await resp.json())["error"]["code"] in ("token_required", "invalid_token")
    # A token is no key to other conversations either.
    resp = await client.post(
        "/api/chat", json={"sender": new_sender(), "message": "hi", "token": token}
    )
    assert resp.status == 403
    # The holder goes on, and keeps the same token.
    again = await chat(client, sender, "what payment methods do you accept?")
    assert again["token"] == token
    resp = await client.post("/api/chat", json={"sender": sender, "message": "hi", "token": 5})
    assert resp.status == 400


async def test_a_verified_conversation_cannot_be_taken_over_by_its_sender_id(client, demo_store):
    customer, order = _demo_customer(demo_store)
    sender = new_sender()
    await chat(client, sender, f"my email is {customer['email']}")
    shown = await chat(client, sender, f"what's the status of order {order['order_id']}?")
    assert order["order_id"] in reply_text(shown)
    # The attacker knows the sender id: no reply, no verified identity, no order.
    resp = await client.post(
        "/api/chat",
        json={"sender": sender, "message": f"what's the status of order {order['order_id']}?"},
    )
    assert resp.status == 403
    assert order["order_id"] not in await resp.text()
    # Nor over the Accept: text/event-stream variant.
    resp = await client.post(
        "/api/chat",
        json={"sender": sender, "message": "cancel it"},
        headers={"Accept": "text/event-stream"},
    )
    assert resp.status == 403


async def test_history_and_live_events_need_the_token(client, demo_store):
    customer, _ = _demo_customer(demo_store)
    sender = new_sender()
    await chat(client, sender, f"my email is {customer['email']}")
    for query, status in (("", 401), ("&token=nope", 403), (f"&token={'a' * 300}", 403)):
        resp = await client.get(f"/api/events?sender={sender}{query}")
        assert resp.status == status, query
        body = await resp.text()
        assert customer["email"] not in body and "name" not in json.loads(body)
    (event,) = await _events(client, f"/api/events?sender={sender}&token={token_for(sender)}", 1)
    assert event["author"] == "bot" and event["messages"]


async def test_feedback_needs_the_conversations_token(client):
    sender = new_sender()
    data = await chat(client, sender, "what payment methods do you accept?")
    body = {"sender": sender, "turn_id": data["turn_id"], "rating": 1}
    assert (await client.post("/api/feedback", json=body)).status == 401
    assert (await client.post("/api/feedback", json={**body, "token": "nope"})).status == 403
    ok = await client.post("/api/feedback", json={**body, "token": data["token"]})
    assert ok.status == 200


async def test_conversations_started_elsewhere_are_not_handed_a_token(client, demo_bot):
    # A conversation from before tokens existed (saved state, no token): never claimable.
    legacy = new_sender()
    demo_bot.conversations.db.run(
        "INSERT INTO conversations (sender, slots, history, updated_at) VALUES (?, ?, ?, ?)",
        (legacy, json.dumps({"verified_customer_id": "someone"}), "[]", time.time()),
    )
    resp = await client.post("/api/chat", json={"sender": legacy, "message": "my orders?"})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "token_required"
    assert (await client.get(f"/api/events?sender={legacy}")).status == 401


async def test_a_visitor_naming_an_integrations_user_id_gets_a_separate_conversation(
    client, demo_bot, demo_store
):
    # An integration's user ids are often guessable ("user123"). A visitor who claims the
    # id on /api/chat first must not end up holding the token of the integration's
    # conversation (and so its transcript, verified identity and orders).
    customer, order = _demo_customer(demo_store)
    user = new_sender()
    squatter = await chat(client, user, "hi")
    for text in (f"my email is {customer['email']}", f"status of order {order['order_id']}?"):
        resp = await client.post("/webhooks/rest/webhook", json={"sender": user, "message": text})
        assert resp.status == 200 and (await resp.json())[0]["recipient_id"] == user
    assert order["order_id"] in " ".join(m.get("text", "") for m in await resp.json())
    (event,) = await _events(client, f"/api/events?sender={user}&token={squatter['token']}", 1)
    assert customer["email"] not in json.dumps(event)
    # The visitor's conversation holds only the visitor's own message.
    assert [t["user_text"] for t in demo_bot.conversations.turns(user)] == ["hi"]
    mine = await chat(client, user, f"status of order {order['order_id']}?")
    assert order["order_id"] not in reply_text(mine) or "verify" in reply_text(mine).lower()
    assert not demo_bot.conversations.load_conversation(user).slots.get("verified_customer_id")
    # The channel's own namespace cannot be named from /api/chat.
    resp = await client.post("/api/chat", json={"sender": f"rest:{user}", "message": "hi"})
    assert resp.status == 400


def test_only_one_of_two_first_messages_gets_the_token(tmp_path):
    store = ConversationStore(tmp_path / "log.db")
    try:
        first = store.claim_conversation("twin")
        assert first and store.claim_conversation("twin") is None
        assert store.check_conversation_token("twin", first)
        assert not store.check_conversation_token("twin", first + "x")
        assert not store.check_conversation_token("nobody", first)
        # Only the hash is stored: the token itself is nowhere in the database.
        (stored,) = store.db.fetchone("SELECT token_hash FROM conversation_tokens")
        assert first not in stored
    finally:
        store.close()


async def test_verification_expires_after_the_idle_period(client, demo_bot, demo_store):
    customer, order = _demo_customer(demo_store)
    sender = new_sender()
    await chat(client, sender, f"my email is {customer['email']}")
    conv = demo_bot.conversations.load_conversation(sender)
    assert conv.slots["verified_customer_id"]
    # 31 minutes without a message (the default idle limit is 30).
    conv.slots["last_active"] = time.time() - 31 * 60
    demo_bot.conversations.db.run(
        "UPDATE conversations SET slots = ? WHERE sender = ?", (json.dumps(conv.slots), sender)
    )
    data = await chat(client, sender, f"what's the status of order {order['order_id']}?")
    assert order["order_id"] not in reply_text(data) or "email" in reply_text(data).lower()
    assert not demo_bot.conversations.load_conversation(sender).slots.get("verified_customer_id")
    # Verifying again works, and an active conversation stays verified.
    await chat(client, sender, f"my email is {customer['email']}")
    data = await chat(client, sender, f"what's the status of order {order['order_id']}?")
    assert order["order_id"] in reply_text(data)


async def test_personal_routes_never_get_wildcard_cors(demo_config, demo_bot):
    for origins, expected in ((["*"], None), ([SHOP], SHOP)):
        app = create_app(replace(demo_config, cors_origins=origins), bot=demo_bot)
        async with TestClient(TestServer(app, port=0)) as c:
            sender = new_sender()
            resp = await c.post(
                "/api/chat", json={"sender": sender, "message": "hi"}, headers={"Origin": SHOP}
            )
            token = (await resp.json())["token"]
            assert resp.headers.get("Access-Control-Allow-Origin") == expected, origins
            assert resp.headers["Cache-Control"] == "no-store"
            pre = await c.options(
                "/api/events", headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"}
            )
            assert pre.headers.get("Access-Control-Allow-Origin") == expected
            stream = await c.get(
                f"/api/events?sender={sender}&token={token}", headers={"Origin": SHOP}
            )
            assert stream.status == 200
            assert stream.headers.get("Access-Control-Allow-Origin") == expected
            assert stream.headers["Cache-Control"] == "no-store"
            stream.close()
            # The store's public information stays open to any page with "*".
            info = await c.get("/api/store", headers={"Origin": SHOP})
            assert info.headers.get("Access-Control-Allow-Origin") == (
                "*" if origins == ["*"] else SHOP
            )


async def test_rest_channel_needs_its_token_or_a_local_caller(demo_config, demo_bot):
    body = {"sender": new_sender(), "message": "hi"}
    app = create_app(replace(demo_config, rest_channel_token="chan-s3cret"), bot=demo_bot)
    async with TestClient(TestServer(app, port=0)) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "chan-s3cret"}):
            resp = await c.post("/webhooks/rest/webhook", json=body, headers=headers)
            assert resp.status == 401, headers
        resp = await c.post(
            "/webhooks/rest/webhook", json=body, headers={"Authorization": "Bearer chan-s3cret"}
        )
        assert resp.status == 200 and (await resp.json())[0]["recipient_id"] == body["sender"]
    # No channel token configured: this machine only. A reverse proxy on the same host
    # (loopback peer, forwarded headers) must not make every visitor look local.
    async with TestClient(TestServer(create_app(demo_config, bot=demo_bot), port=0)) as c:
        resp = await c.post("/webhooks/rest/webhook", json=body)
        assert resp.status == 200
        resp = await c.post(
            "/webhooks/rest/webhook", json=body, headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "forbidden"


def test_the_repl_against_a_server_keeps_its_conversations_token(
    demo_config, demo_bot, demo_store, capsys
):
    """``shopbot chat --url``: the second message continues the verified conversation."""
    import threading

    from aiohttp import web

    from bot.repl import _remote_loop

    customer, order = _demo_customer(demo_store)
    runner = web.AppRunner(create_app(demo_config, bot=demo_bot))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(runner.setup(), loop).result()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        asyncio.run_coroutine_threadsafe(site.start(), loop).result()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        lines = [f"my email is {customer['email']}", f"status of order {order['order_id']}?"]
        _remote_loop(url, False, iter(lines))
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
    out = capsys.readouterr().out
    assert "error 403" not in out and order["order_id"] in out, out


def test_access_log_lines_never_carry_tokens():
    from bot.web.app import redact_secrets

    line = redact_secrets("/api/events?sender=web-1&token=s3cret-value&after=12")
    assert "s3cret" not in line and "sender=web-1" in line and "after=12" in line
    assert "abc" not in redact_secrets("/admin/inbox?TOKEN=abc")
