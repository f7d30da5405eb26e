"""Two server processes share one PostgreSQL: a conversation can hop between them.

Two real ``shopbot serve`` processes on loopback (extractive answers, no chat
LM: the chat servers stay small) share the session's throwaway PostgreSQL.
One customer's turns alternate between them, through order verification, a
handoff to a person and an agent's reply; each process must see the slots,
history, queue and log the other one wrote, and a live stream held open on
one process must hear turns taken by the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from bot.storage.conversations import ConversationStore
from tests.conftest import new_postgres_database
from tests.conversation import chat_body, remember, token_for

TOKEN = "scale-out-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _customer_with_two_orders(store: Path) -> tuple[dict, dict, dict]:
    orders = {
        o["order_id"]: o for o in map(json.loads, (store / "orders.jsonl").read_text().splitlines())
    }
    for customer in map(json.loads, (store / "customers.jsonl").read_text().splitlines()):
        mine = [orders[o] for o in customer.get("orders", []) if o in orders]
        if len(mine) >= 2:
            return customer, mine[0], mine[1]
    raise AssertionError("the demo store has no customer with two orders")


@pytest.fixture(scope="module")
def two_servers(postgres_dsn: str, demo_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """Two ``shopbot serve`` processes on one PostgreSQL database: (urls, database url)."""
    from knowledge_base.build import ensure_built

    ensure_built(demo_store, progress=False)  # built once here, not raced by two servers
    url = new_postgres_database(postgres_dsn)
    logs = tmp_path_factory.mktemp("scale-out")
    env = dict(
        os.environ,
        SHOPBOT_DATABASE_URL=url,
        SHOPBOT_LLM_BACKEND="none",
        SHOPBOT_RATE_LIMIT_PER_MINUTE="0",
        SHOPBOT_ADMIN_TOKEN=TOKEN,
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    procs, urls = [], []
    for name in ("a", "b"):
        port = _free_port()
        cmd = [sys.executable, "-m", "bot.cli", "serve", "--store", str(demo_store)]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        log = (logs / f"{name}.log").open("wb")
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        _wait_healthy(urls, procs, logs)
        yield urls, url
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def _wait_healthy(urls: list[str], procs: list[subprocess.Popen], logs: Path) -> None:
    import urllib.request

    pending = set(range(len(urls)))
    deadline = time.monotonic() + 300  # model loading on a shared 2-core machine
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            if procs[i].poll() is not None:
                pytest.fail(f"server {i} exited: {(logs / 'ab'[i]).with_suffix('.log')}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(urls[i] + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        pending.discard(i)
        time.sleep(0.5)
    if pending:
        tails = {i: (logs / f"{'ab'[i]}.log").read_text()[-2000:] for i in pending}
        pytest.fail(f"servers {sorted(pending)} never became healthy: {tails}")


async def _say(http: aiohttp.ClientSession, base: str, sender: str, text: str) -> str:
    async with http.post(f"{base}/api/chat", json=chat_body(sender, text)) as resp:
        assert resp.status == 200, await resp.text()
        data = await resp.json()
    remember(sender, data)
    return "\n".join(m.get("text", "") for m in data["messages"])


async def _events(http: aiohttp.ClientSession, base: str, sender: str) -> list[dict]:
    """The conversation's logged events so far, from one server's live stream."""
    events: list[dict] = []
    async with http.get(f"{base}/api/events?sender={sender}&token={token_for(sender)}") as resp:
        frame: dict[str, str] = {}
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line:
                key, _, value = line.partition(": ")
                frame[key] = value
                continue
            if frame.get("event") == "synced":
                return events
            if frame.get("event") == "turn":
                events.append(json.loads(frame["data"]))
            frame = {}
    return events


async def _next_event(stream: aiohttp.StreamReader, wanted: str) -> dict:
    """Read SSE frames until one whose data mentions ``wanted``."""
    data = ""
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError("the live stream ended")
        if line.startswith("data: "):
            data = line[6:].strip()
        elif line == "\n" and wanted in data:
            return json.loads(data)


def test_a_conversation_alternating_between_two_servers_keeps_slots_and_history(
    two_servers: tuple[list[str], str], demo_store: Path
) -> None:
    (a, b), url = two_servers
    customer, first, second = _customer_with_two_orders(demo_store)
    sender = f"hop-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            # A asks for verification and remembers which order; B finishes the form.
            text = await _say(http, a, sender, f"where is my order {first['order_id']}?")
            assert "verify" in text.lower(), text
            text = await _say(http, b, sender, f"my email is {customer['email']}")
            assert first["order_id"] in text and first["status"] in text.lower(), text
            # Back on A: verified by B, so the second order is shown without asking again.
            text = await _say(http, a, sender, f"and what about order {second['order_id']}")
            assert second["order_id"] in text and "verify" not in text.lower(), text

            # A live stream held on A hears the turn B takes.
            # After everything so far: only new turns come (ids are shared by both servers).
            last = (await _events(http, b, sender))[-1]["id"]
            events = f"{a}/api/events?sender={sender}&token={token_for(sender)}&after={last}"
            async with http.get(events, timeout=aiohttp.ClientTimeout(total=30)) as live:
                assert live.status == 200
                await live.content.readline()  # "retry:" frame: the stream is open
                ask = "I want to talk to a human please"
                handoff, _ = await asyncio.gather(
                    _next_event(live.content, ask), _say(http, b, sender, ask)
                )
            assert handoff["user"] == ask and handoff["handoff"]

            # The queue is shared: listed on A, claimed on B, answered on A.
            async with http.get(f"{a}/api/inbox/handoffs", headers=AUTH) as resp:
                assert resp.status == 200 and sender in await resp.text()
            claim = {"sender": sender, "agent": "sam"}
            async with http.post(f"{b}/api/inbox/claim", json=claim, headers=AUTH) as resp:
                assert resp.status == 200, await resp.text()
            answer = {**claim, "text": "Hi, Sam here: both orders look fine."}
            async with http.post(f"{a}/api/inbox/reply", json=answer, headers=AUTH) as resp:
                assert resp.status == 200, await resp.text()
            rival = claim | {"agent": "zoe"}
            async with http.post(f"{a}/api/inbox/claim", json=rival, headers=AUTH) as resp:
                assert resp.status == 409, await resp.text()  # B's claim holds on A too

    asyncio.run(scenario())

    store = ConversationStore(url)
    try:
        turns = store.turns(sender)
        assert [t["author"] for t in turns] == ["bot"] * 4 + ["system", "agent"]
        assert turns[1]["user_text"] == "my email is [EMAIL]"  # redacted in either process
        conv = store.load_conversation(sender)
        assert conv.slots["verified_customer_id"] == customer["customer_id"]
        assert conv.slots.get("handoff")
        contents = [h["content"] for h in conv.history]
        assert any(first["order_id"] in c for c in contents)
        assert any(second["order_id"] in c for c in contents)
        assert contents[-1] == "Hi, Sam here: both orders look fine."
        (queued,) = [h for h in store.open_handoffs() if h["sender"] == sender]
        assert queued["claimed_by"] == "sam"
    finally:
        store.close()


def test_simultaneous_messages_on_both_servers_all_reach_the_history(
    two_servers: tuple[list[str], str],
) -> None:
    # Without a lock across processes, turns that start together load the same
    # history and the last save wins: messages would vanish from the LM context.
    (a, b), url = two_servers
    sender = f"rush-{uuid.uuid4().hex[:8]}"
    asks = [f"do you have gift cards, question {i}?" for i in range(6)]

    async def rush() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            # The conversation starts with one message (its reply carries the token), then
            # the customer's messages race each other on both servers.
            await _say(http, a, sender, "hi")
            await asyncio.gather(
                *(_say(http, (a, b)[i % 2], sender, q) for i, q in enumerate(asks))
            )

    asyncio.run(rush())
    store = ConversationStore(url)
    try:
        history = [h["content"] for h in store.load_conversation(sender).history]
        assert sorted(h for h in history if h in asks) == sorted(asks)
        assert len(store.turns(sender)) == len(asks) + 1
    finally:
        store.close()


def test_two_servers_hand_a_new_conversations_token_to_one_first_message_only(
    two_servers: tuple[list[str], str],
) -> None:
    # Six first messages for one new sender id race on both servers sharing PostgreSQL:
    # exactly one starts the conversation and gets its token, the others are refused.
    (a, b), _url = two_servers
    sender = f"claim-{uuid.uuid4().hex[:8]}"

    async def first(http: aiohttp.ClientSession, base: str) -> tuple[int, dict]:
        async with http.post(f"{base}/api/chat", json={"sender": sender, "message": "hi"}) as r:
            return r.status, await r.json()

    async def race() -> list[tuple[int, dict]]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            return await asyncio.gather(*(first(http, (a, b)[i % 2]) for i in range(6)))

    results = asyncio.run(race())
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 403, 403, 403, 403, 403], results
    assert sum(1 for _, body in results if body.get("token")) == 1
