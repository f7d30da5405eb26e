"""``GET /metrics``: each app's counters and histograms, by prometheus_client, parsed back.

Turns go through the real app on port 0 around the session's demo bot; the
exposition is read with prometheus_client's own parser, as Prometheus would.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.answers.admission import GenerationGate
from bot.answers.llm_server import create_app as create_engine_app
from tests.conftest import model_answers, started_client
from tests.conversation import chat

pytestmark = pytest.mark.slow

# Each reaches a different action: small talk, a catalog question, a request for a person.
MESSAGES = ["hi", "thanks a lot!", "do you sell t-shirts?", "I want to talk to a person"]
QUESTION = "how long does it take to get my money back after a return?"


async def scrape(client: TestClient) -> dict[str, Any]:
    """``GET /metrics`` parsed: family name -> family (``shopbot_turns`` for ``_total``)."""
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(await resp.text())}


def value(families: dict[str, Any], sample: str, **labels: str) -> float:
    """The value of the sample named ``sample`` with exactly these labels (it must exist)."""
    for family in families.values():
        for s in family.samples:
            if s.name == sample and s.labels == labels:
                return s.value
    raise AssertionError(f"no sample {sample}{labels} in /metrics")


def histogram_counts(families: dict[str, Any], name: str) -> dict[tuple, float]:
    """``name``'s ``_count`` per label set (labels as sorted tuples)."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in families[name].samples
        if s.name == f"{name}_count"
    }


async def test_turn_histograms_count_every_turn_by_action(demo_config, demo_bot):
    client = await started_client(demo_config, demo_bot)
    try:
        replies = [await chat(client, f"m-{uuid.uuid4().hex[:8]}", m) for m in MESSAGES]
        families = await scrape(client)
    finally:
        await client.close()
    actions = Counter(r["action"] or "none" for r in replies)
    assert len(actions) >= 3, actions  # several actions, so the labels are really per action

    turn_seconds = families["shopbot_turn_seconds"]
    assert turn_seconds.type == "histogram"
    assert histogram_counts(families, "shopbot_turn_seconds") == {
        (("action", a),): n for a, n in actions.items()
    }
    for action, n in actions.items():
        assert value(families, "shopbot_turns_total", action=action) == n
        buckets = [
            s for s in turn_seconds.samples
            if s.name == "shopbot_turn_seconds_bucket" and s.labels["action"] == action
        ]  # fmt: skip
        assert [b.labels["le"] for b in buckets][:2] == ["0.005", "0.01"]
        assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == n
        assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative
    assert value(families, "shopbot_turn_latency_seconds_count") == len(MESSAGES)
    handoffs = sum(bool(r["handoff"]) for r in replies)
    assert handoffs >= 1
    assert value(families, "shopbot_handoffs_total") == handoffs
    assert value(families, "shopbot_http_requests_total", route="/api/chat", status="200") == len(
        MESSAGES
    )
    # Every family has its # HELP; the process and platform collectors are on the registry.
    shopbot = [f for name, f in families.items() if name.startswith("shopbot_")]
    assert all(f.documentation for f in shopbot)
    for name in ("shopbot_generation_active", "shopbot_generation_queue_wait_seconds",
                 "shopbot_generation_tokens_per_second", "process_cpu_seconds",
                 "process_resident_memory_bytes", "python_info"):  # fmt: skip
        assert name in families, name


async def test_two_apps_in_one_process_keep_their_own_counts(demo_config, demo_bot):
    first = await started_client(demo_config, demo_bot)
    second = await started_client(demo_config, demo_bot)
    try:
        for _ in range(2):
            await chat(first, f"a-{uuid.uuid4().hex[:8]}", "hi")
        await chat(second, f"b-{uuid.uuid4().hex[:8]}", "hi")
        one, two = await scrape(first), await scrape(second)
    finally:
        await first.close()
        await second.close()
    assert sum(histogram_counts(one, "shopbot_turn_seconds").values()) == 2
    assert sum(histogram_counts(two, "shopbot_turn_seconds").values()) == 1
    assert value(one, "shopbot_http_requests_total", route="/api/chat", status="200") == 2
    assert value(two, "shopbot_http_requests_total", route="/api/chat", status="200") == 1


async def test_a_generated_answer_reports_its_queue_wait_and_tokens_per_second(
    demo_config, demo_bot
):
    saved = demo_bot.generation_gate
    demo_bot.generation_gate = GenerationGate(concurrency=1, queue_size=4, timeout=30)
    client = await started_client(demo_config, demo_bot)
    try:
        with model_answers(demo_bot):
            reply = await chat(client, f"g-{uuid.uuid4().hex[:8]}", QUESTION)
        families = await scrape(client)
    finally:
        demo_bot.generation_gate = saved
        await client.close()
    assert reply["action"] == "action_answer", reply
    assert value(families, "shopbot_generation_admitted_total") == 1
    assert value(families, "shopbot_generation_queue_wait_seconds_count") == 1
    assert value(families, "shopbot_generation_busy_total", reason="queue_full") == 0
    # SmolLM2's tokenizer runs in this process, so the answer's speed is known.
    assert value(families, "shopbot_generation_tokens_per_second_count") == 1
    assert value(families, "shopbot_generation_tokens_per_second_sum") > 0


async def test_the_llm_engine_serves_its_own_metrics(small_generator):
    client = TestClient(TestServer(create_engine_app(small_generator), port=0))
    await client.start_server()
    try:
        body = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
        resp = await client.post("/v1/chat/completions", json=body)
        assert resp.status == 200
        families = await scrape(client)
    finally:
        await client.close()
    assert value(families, "shopbot_llm_generations_total", outcome="completed") == 1
    assert value(families, "shopbot_llm_generations_total", outcome="failed") == 0
    assert value(families, "shopbot_generation_queue_wait_seconds_count") == 1
    assert value(families, "shopbot_generation_tokens_per_second_count") == 1
    assert "process_cpu_seconds" in families
