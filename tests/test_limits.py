"""Input limits and limits that limit (issue 12, findings 6 and 8).

Finding 6: bad input must be a JSON 4xx, never a 5xx: JSON nested thousands
deep, event cursors past 64 bits. Finding 8: per-client limits must key on the
real client behind a trusted proxy, every public route must be rate-limited,
open event streams capped, and the limiter's memory bounded.

The HTTP tests start the real app on port 0 around the session's demo bot. The
test client always connects from 127.0.0.1, so distinct clients are simulated
with ``X-Forwarded-For`` and ``trusted_proxies=["127.0.0.1"]``.
"""

from __future__ import annotations

import asyncio
import tracemalloc
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import replace
from bot.limits import (
    INT64_MAX,
    JSONLimitError,
    RateLimiter,
    StreamSlots,
    json_depth_exceeds,
    loads_limited,
    parse_int,
)
from bot.web.client_ip import (
    client_address,
    is_loopback_client,
    parse_trusted_proxies,
    resolve_client,
)
from bot.web.keys import CONFIG_KEY
from tests.conftest import started_client
from tests.conversation import chat

ADMIN = {"Authorization": "Bearer s3cret"}
JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 5000 + b"]" * 5000


def sender() -> str:
    return f"lim-{uuid.uuid4().hex[:12]}"


def nested(depth: int) -> bytes:
    """A chat body whose metadata nests ``depth`` levels deep in all."""
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    return f'{{"sender": "{sender()}", "message": "hi", "metadata": {{"x": {inner}}}}}'.encode()


def via(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture
async def client(demo_config, demo_bot):
    c = await started_client(replace(demo_config, admin_token="s3cret"), demo_bot)
    yield c
    await c.close()


async def assert_error(resp, status: int, code: str | None = None) -> dict:
    body = await resp.json()
    assert resp.status == status, (resp.status, body)
    assert body["error"]["code"] and body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# -- finding 6: deep JSON ---------------------------------------------------------------
JSON_ROUTES = [
    "/api/chat",
    "/webhooks/rest/webhook",
    "/model/parse",
    "/api/feedback",
    "/api/inbox/claim",
    "/api/inbox/reply",
    "/api/inbox/handback",
]


@pytest.mark.parametrize("path", JSON_ROUTES)
async def test_deeply_nested_json_is_a_400_on_every_json_route(client, path):
    for body in (DEEP, b'{"a": ' + DEEP + b"}", nested(33)):
        resp = await client.post(path, data=body, headers={**JSON, **ADMIN})
        error = await assert_error(resp, 400, "invalid_json")
        assert "deep" in error["message"]


async def test_json_at_the_depth_limit_is_still_accepted(client):
    resp = await client.post("/api/chat", data=nested(32), headers=JSON)
    assert resp.status == 200, await resp.text()


def test_the_llm_server_refuses_deep_json_with_a_400():
    """serve-llm's /v1/chat/completions: OpenAI's error shape, never a RecursionError."""
    from bot.answers.llm_server import create_app as create_llm_app

    class NoModel:  # the body is refused before any generation
        name = "none"

    async def run() -> None:
        async with TestClient(TestServer(create_llm_app(NoModel()), port=0)) as c:
            resp = await c.post("/v1/chat/completions", data=DEEP, headers=JSON)
            body = await resp.json()
            assert resp.status == 400, body
            assert body["error"]["type"] == "invalid_request_error"
            assert "deep" in body["error"]["message"]

    asyncio.run(run())


def test_depth_scan_counts_brackets_outside_strings_only():
    assert not json_depth_exceeds(b"[" * 32 + b"]" * 32, 32)
    assert json_depth_exceeds(b"[" * 33 + b"]" * 33, 32)
    # Brackets in strings, escaped quotes and siblings do not add depth.
    text = b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[[[[", "b": [[1], [2], [3]]}'
    assert not json_depth_exceeds(text * 40, 3)
    assert json_depth_exceeds(b'{"s": "]]]]]]", "a": [[[[]]]]}', 4)
    with pytest.raises(JSONLimitError):
        loads_limited(DEEP)
    with pytest.raises(JSONLimitError):
        loads_limited(b'{"rating": NaN}')
    assert loads_limited(b'{"a": [[["x"]]]}', 4) == {"a": [[["x"]]]}


# -- finding 6: numeric parameters --------------------------------------------------------
async def test_event_cursors_out_of_range_are_a_json_400_before_the_stream_starts(client):
    one = sender()
    token = (await chat(client, one, "hi"))["token"]
    base = f"/api/events?sender={one}&token={token}"
    for bad in (str(2**63), "99999999999999999999999999", "9" * 5000, "-1", "1_000", "1e3", "0x10"):
        for kind in ("query", "header"):
            resp = await (
                client.get(f"{base}&after={bad}")
                if kind == "query"
                else client.get(base, headers={"Last-Event-ID": bad})
            )
            assert resp.headers["Content-Type"].startswith("application/json"), (bad, kind)
            await assert_error(resp, 400, "invalid_field")
    # The largest 64-bit id is a valid cursor: the stream opens, and has nothing after it.
    resp = await client.get(f"{base}&after={INT64_MAX}")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    resp.close()


async def test_admin_page_number_out_of_range_is_a_400(client):
    resp = await client.get("/admin/conversations?page=" + "9" * 30, headers=ADMIN)
    assert resp.status == 400
    assert (await client.get("/admin/conversations?page=1", headers=ADMIN)).status == 200


def test_parse_int_accepts_plain_ascii_integers_in_range_only():
    assert parse_int(None, "n") is None and parse_int("  ", "n") is None
    assert parse_int(" 42 ", "n") == 42 and parse_int(str(INT64_MAX), "n") == INT64_MAX
    for bad in (str(INT64_MAX + 1), "-1", "+5", "١٢", "1_0", "0x10", "9" * 5000):
        with pytest.raises(ValueError):
            parse_int(bad, "n")


# -- finding 8: the client behind a trusted proxy -----------------------------------------
def test_client_is_the_rightmost_untrusted_forwarded_address():
    trusted = parse_trusted_proxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])
    # Nothing trusted: the header is ignored.
    assert resolve_client("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"
    # The peer is not a trusted proxy: the header is ignored.
    assert resolve_client("198.51.100.1", ["203.0.113.7"], trusted) == "198.51.100.1"
    # Through one trusted proxy, and through a chain of them.
    assert resolve_client("127.0.0.1", ["203.0.113.7"], trusted) == "203.0.113.7"
    assert resolve_client("127.0.0.1", ["203.0.113.7", "10.1.2.3"], trusted) == "203.0.113.7"
    # Addresses the client wrote itself (left of the first untrusted one) are ignored.
    assert resolve_client("127.0.0.1", ["1.1.1.1", "203.0.113.7"], trusted) == "203.0.113.7"
    # No header, or only trusted hops: the left-most trusted hop is as far as we can see.
    assert resolve_client("127.0.0.1", [], trusted) == "127.0.0.1"
    assert resolve_client("127.0.0.1", ["10.9.9.9"], trusted) == "10.9.9.9"
    # Garbage from a trusted hop stops the walk at the last address that could be read.
    assert resolve_client("127.0.0.1", ["203.0.113.7", "unknown"], trusted) == "127.0.0.1"
    # Ports, brackets, IPv6 and IPv4-mapped peers.
    assert resolve_client("127.0.0.1", ["203.0.113.7:4711"], trusted) == "203.0.113.7"
    assert resolve_client("::ffff:127.0.0.1", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"
    assert resolve_client("fd00::1", ["2001:db8::2"], trusted) == "2001:db8::2"
    with pytest.raises(ValueError, match="trusted_proxies"):
        parse_trusted_proxies(["10.0.0.0/8", "not-an-ip"])


async def test_client_address_and_loopback_over_http(demo_config):
    """Through a real socket (peer 127.0.0.1): what the limits and the REST channel see."""

    async def whoami(request: web.Request) -> web.Response:
        return web.json_response(
            {"client": client_address(request), "local": is_loopback_client(request)}
        )

    async def ask(trusted: list[str], headers: dict[str, str]) -> dict:
        app = web.Application()
        app[CONFIG_KEY] = replace(demo_config, trusted_proxies=trusted)
        app.router.add_get("/", whoami)
        async with TestClient(TestServer(app, port=0)) as c:
            return await (await c.get("/", headers=headers)).json()

    assert await ask([], {}) == {"client": "127.0.0.1", "local": True}
    # A proxy on this host that is not configured: the header is not believed, and the
    # request is not local either (it relays somebody else).
    for name in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        assert await ask([], {name: "203.0.113.7"}) == {"client": "127.0.0.1", "local": False}
    # A configured proxy: the client is the forwarded one.
    assert await ask(["127.0.0.1"], via("203.0.113.7")) == {
        "client": "203.0.113.7",
        "local": False,
    }
    assert await ask(["127.0.0.1"], via("127.0.0.1")) == {"client": "127.0.0.1", "local": True}
    assert await ask(["127.0.0.1"], {}) == {"client": "127.0.0.1", "local": True}
    # A configured proxy that names its client in a header we do not read: not local.
    assert (await ask(["127.0.0.1"], {"X-Real-IP": "203.0.113.7"}))["local"] is False


async def test_per_address_limit_uses_the_forwarded_client_behind_a_trusted_proxy(
    demo_config, demo_bot
):
    # rate 1: each address may call /api/store 10 times a minute.
    config = replace(demo_config, rate_limit_per_minute=1, trusted_proxies=["127.0.0.1"])
    c = await started_client(config, demo_bot)
    try:
        codes = [(await c.get("/api/store", headers=via("203.0.113.1"))).status for _ in range(11)]
        assert codes == [200] * 10 + [429]
        # Another customer behind the same proxy has a bucket of its own.
        assert (await c.get("/api/store", headers=via("203.0.113.2"))).status == 200
        # A client cannot escape its bucket by prepending addresses of its own.
        spoofed = via("198.51.100.9, 203.0.113.1")
        await assert_error(await c.get("/api/store", headers=spoofed), 429, "rate_limited")
        # Chat's per-address limit keys on the forwarded client too.
        for i in range(10):
            resp = await c.post(
                "/api/chat", json={"sender": sender(), "message": "hi"}, headers=via("192.0.2.1")
            )
            assert resp.status == 200, (i, await resp.text())
        resp = await c.post(
            "/api/chat", json={"sender": sender(), "message": "hi"}, headers=via("192.0.2.1")
        )
        await assert_error(resp, 429, "rate_limited")
        assert int(resp.headers["Retry-After"]) >= 1
    finally:
        await c.close()


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(demo_config, demo_bot):
    c = await started_client(replace(demo_config, rate_limit_per_minute=1), demo_bot)
    try:
        # Every request names another client, but nothing is trusted: one bucket.
        codes = [
            (await c.get("/api/store", headers=via(f"203.0.113.{i}"))).status for i in range(11)
        ]
        assert codes == [200] * 10 + [429]
    finally:
        await c.close()


# -- finding 8: every public route is limited -----------------------------------------------
PUBLIC_ROUTES = [
    ("post", "/model/parse", {"text": "where is my order"}),
    ("post", "/api/feedback", {"sender": "s", "turn_id": "t", "rating": 1}),
    ("get", "/api/events?sender=", None),  # refused (400), but counted all the same
    ("get", "/api/sources/nope", None),
    ("get", "/api/store", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PUBLIC_ROUTES)
async def test_every_public_route_is_rate_limited_with_retry_after(
    demo_config, demo_bot, method, path, body
):
    c = await started_client(replace(demo_config, rate_limit_per_minute=1), demo_bot)
    try:
        for _ in range(10):
            resp = await c.request(method, path, json=body)
            assert resp.status != 429, await resp.text()
        resp = await c.request(method, path, json=body)
        error = await assert_error(resp, 429, "rate_limited")
        assert "wait" in error["message"]
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        # The other routes have buckets of their own.
        assert (await c.get("/health")).status == 200
    finally:
        await c.close()


async def test_rate_limit_zero_means_unlimited(demo_config, demo_bot):
    c = await started_client(replace(demo_config, rate_limit_per_minute=0), demo_bot)
    try:
        codes = {(await c.get("/api/store")).status for _ in range(60)}
        assert codes == {200}
    finally:
        await c.close()


# -- finding 8: open event streams are capped -------------------------------------------------
async def test_open_event_streams_are_capped_per_client_and_in_total(demo_config, demo_bot):
    config = replace(
        demo_config,
        trusted_proxies=["127.0.0.1"],
        max_event_streams_per_client=2,
        max_event_streams=3,
    )
    c = await started_client(config, demo_bot)
    slots = None
    try:
        one = sender()
        token = (await chat(c, one, "hi"))["token"]
        url = f"/api/events?sender={one}&token={token}"

        async def open_stream(address: str):
            return await c.get(url, headers=via(address))

        a1, a2 = await open_stream("203.0.113.1"), await open_stream("203.0.113.1")
        assert a1.status == a2.status == 200
        third = await open_stream("203.0.113.1")
        await assert_error(third, 429, "too_many_streams")
        assert int(third.headers["Retry-After"]) >= 1
        b1 = await open_stream("203.0.113.2")
        assert b1.status == 200
        full = await open_stream("203.0.113.3")
        await assert_error(full, 503, "too_many_streams")
        assert "Retry-After" in full.headers

        # A client that disconnects gives its slot back (within a poll interval).
        from bot.web.live import STREAMS_KEY

        slots = c.server.app[STREAMS_KEY]
        assert slots.open == 3 and slots.count("203.0.113.1") == 2
        a1.close()
        for _ in range(50):
            if slots.count("203.0.113.1") == 1:
                break
            await asyncio.sleep(0.1)
        assert slots.count("203.0.113.1") == 1 and slots.open == 2
        again = await open_stream("203.0.113.1")
        assert again.status == 200
        for resp in (a2, b1, again):
            resp.close()
        for _ in range(50):
            if slots.open == 0:
                break
            await asyncio.sleep(0.1)
        assert slots.open == 0 and slots.count("203.0.113.1") == 0
    finally:
        await c.close()
    assert slots is not None and slots.open == 0


def test_stream_slots_count_up_and_down():
    slots = StreamSlots(per_client=2, total=3)
    assert slots.acquire("a") is None and slots.acquire("a") is None
    assert slots.acquire("a") == "client"
    assert slots.acquire("a", per_client_cap=False) is None  # the agents' stream
    assert slots.acquire("b") == "total"
    for _ in range(3):
        slots.release("a")
    assert slots.open == 0 and slots.count("a") == 0
    unlimited = StreamSlots(per_client=0, total=0)
    assert all(unlimited.acquire("a") is None for _ in range(1000))


# -- finding 8: the limiter forgets ------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_drops_keys_whose_window_emptied():
    clock = FakeClock()
    limiter = RateLimiter(2, window=60, clock=clock)
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.check("a") == pytest.approx(60.0)
    clock.now += 30
    assert limiter.check("a") == pytest.approx(30.0)
    limiter.allow("b")
    assert len(limiter) == 2
    clock.now += 31  # a's hits are 61 s old, b's 31 s
    assert limiter.allow("c") and len(limiter) == 2  # a was dropped: b and c remain
    clock.now += 61
    assert limiter.allow("d") and len(limiter) == 1
    # Unlimited keeps nothing at all.
    free = RateLimiter(0)
    assert all(free.allow(f"k{i}") for i in range(1000)) and len(free) == 0


def test_rate_limiter_memory_stays_bounded_after_100k_distinct_keys():
    clock = FakeClock()
    limiter = RateLimiter(5, window=60, max_keys=10_000, clock=clock)
    tracemalloc.start()
    try:
        for i in range(100_000):
            assert limiter.allow(f"ip:10.{i >> 16}.{(i >> 8) & 255}.{i & 255}")
            if i % 1000 == 0:
                clock.now += 0.01  # all within one window: only the hard cap holds
        assert len(limiter) == 10_000
        current, _ = tracemalloc.get_traced_memory()
        # ~1 KB a key (string, deque, dict slot); far less than 100k keys would take.
        assert current < 10_000 * 1500, current
        # The most recent keys are kept, the least recently hit ones went first.
        assert "ip:10.1.134.159" in limiter._hits and "ip:10.0.0.0" not in limiter._hits

        # Once the window has passed, every old key is dropped as traffic goes on.
        clock.now += 61
        for i in range(100):
            limiter.allow(f"new:{i}")
        assert len(limiter) == 100
    finally:
        tracemalloc.stop()
