"""Generation admission: a bounded queue, then a polite "busy" reply, never a pile-up."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp.test_utils import TestClient, TestServer

from bot.answers.admission import GenerationGate
from bot.web.app import create_app
from tests.conftest import model_answers

QUESTION = "how long does it take to get my money back after a return?"


async def test_gate_admits_queues_in_order_and_refuses_beyond_the_queue():
    gate = GenerationGate(concurrency=1, queue_size=2, timeout=5)
    assert await gate.acquire()
    order: list[str] = []

    async def wait(name: str) -> bool:
        ok = await gate.acquire()
        order.append(name)
        return ok

    first = asyncio.create_task(wait("a"))
    second = asyncio.create_task(wait("b"))
    await asyncio.sleep(0)
    assert gate.waiting == 2
    assert not await gate.acquire()  # the queue is full: refused at once
    gate.release()
    assert await first
    gate.release()
    assert await second
    assert order == ["a", "b"]
    gate.release()
    assert gate.active == 0 and gate.stats()["rejected_full"] == 1


async def test_gate_gives_up_after_the_timeout_and_loses_no_slot():
    gate = GenerationGate(concurrency=1, queue_size=4, timeout=0.05)
    assert await gate.acquire()
    assert not await gate.acquire()  # waited 50 ms, then busy
    assert gate.stats()["rejected_timeout"] == 1 and gate.waiting == 0
    gate.release()
    async with gate.slot() as admitted:
        assert admitted and gate.active == 1
    assert gate.active == 0


async def test_a_cancelled_waiter_does_not_keep_a_slot():
    gate = GenerationGate(concurrency=1, queue_size=4, timeout=5)
    assert await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    gate.release()
    assert gate.active == 0
    assert await gate.acquire()


async def test_questions_beyond_capacity_get_a_busy_reply_with_the_store_answer(
    demo_config, demo_bot
):
    saved = demo_bot.generation_gate
    # One answer at a time, nobody may wait: concurrent questions beyond the first are busy.
    demo_bot.generation_gate = GenerationGate(concurrency=1, queue_size=0, timeout=0)
    client = TestClient(TestServer(create_app(demo_config, bot=demo_bot), port=0))
    await client.start_server()
    composing = model_answers(demo_bot)
    composing.__enter__()
    try:

        async def ask() -> dict:
            resp = await client.post(
                "/api/chat", json={"sender": f"busy-{uuid.uuid4().hex[:8]}", "message": QUESTION}
            )
            assert resp.status == 200
            return await resp.json()

        replies = await asyncio.gather(*(ask() for _ in range(4)))
        actions = sorted(r["action"] for r in replies)
        assert actions.count("action_answer") >= 1
        assert "action_answer_busy" in actions
        for reply in replies:
            if reply["action"] == "action_answer_busy":
                text = reply["messages"][0]["text"]
                assert "a lot of customers" in text
                # The busy reply still answers from the store's own information.
                assert "business days" in text or "immediately" in text.lower(), text
                assert reply["sources"]
        assert demo_bot.generation_gate.active == 0
        metrics = await (await client.get("/metrics")).text()
        assert 'shopbot_generation_busy_total{reason="queue_full"} 0' not in metrics
        assert "shopbot_generation_admitted_total" in metrics
    finally:
        composing.__exit__(None, None, None)
        demo_bot.generation_gate = saved
        await client.close()
