"""Load test: many concurrent conversations against a real ``shopbot serve`` over loopback.

    python scripts/load_test.py [--conversations 200] [--duration 90] [--llm-model qwen2.5-0.5b]
                                [--think 4 10] [--json FILE]
                                [--engine serve-llm [--engine-nice 19] [--engine-max-queue 8]]

Starts ``shopbot serve`` on the demo store as a subprocess (its own process, so
the load generator does not share the server's interpreter), then runs
``--conversations`` customers at once for ``--duration`` seconds. Each customer
loops through a realistic script with a think time (uniform in ``--think``
seconds, a person reading and typing) between messages: small talk, a product
question, a knowledge question (a *generated* answer), "where is my order?",
verification by email, an order-status question, a request for a person, and
/restart. Bounded: nothing starts after the deadline, and every request has a
client timeout (which counts as an error).

Reported per class of turn (by the action the server took): *non-generated*
(small talk, product search, order status and verification, handoff,
clarify/abstain, restart) and *generated* (``action_answer``; its "busy"
variant ``action_answer_busy`` when the generation queue was full or the wait
too long): count, p50/p95/p99 latency, turns per second, errors (non-200,
timeouts, connection errors). Baseline in the same run: ``GET /health``
probed 5 times a second during the load, and idle latencies before it.

With ``--engine serve-llm`` the chat model runs in its own process
(``shopbot serve-llm``, at ``nice --engine-nice``) and the chat server reaches
it through ``llm_backend = "openai"``, as docs/deployment.md describes; the
report then includes the engine's own counters (completed, cancelled, 503s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from serve_process import EngineProcess, ServerProcess  # noqa: E402

DEMO = ROOT / "knowledge_base" / "demo_store"
GENERATED = {"action_answer", "action_answer_busy"}
SMALL_TALK = ["hi", "hello there", "thanks!", "hey"]
PRODUCTS = [
    "how much is the t-shirt in blue?",
    "do you have hiking boots?",
    "what colors does the water bottle come in?",
    "is the office chair in stock?",
]
KNOWLEDGE = [
    "how long does it take to get my money back after a return?",
    "Is shipping free?",
    "How many days does delivery usually take?",
    "Can I change the shipping address after ordering?",
    "how do gift cards work?",
]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(round(q / 100 * len(ordered) + 0.5)))
    return round(ordered[min(rank, len(ordered)) - 1], 1)


def summary(latencies: list[float], seconds: float) -> dict[str, Any]:
    return {
        "count": len(latencies),
        "per_second": round(len(latencies) / seconds, 2) if seconds else None,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
    }


def customers(store: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (store / "customers.jsonl").open(encoding="utf-8")]
    return [c for c in rows if c.get("orders")]


class Recorder:
    """Latencies by class, errors, busy replies."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"non_generated": [], "generated": []}
        self.by_action: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.busy = 0

    def turn(self, action: str | None, ms: float) -> None:
        kind = "generated" if action in GENERATED else "non_generated"
        self.latency[kind].append(ms)
        self.by_action.setdefault(action or "none", []).append(ms)
        self.busy += action == "action_answer_busy"


async def conversation(
    session: aiohttp.ClientSession,
    url: str,
    n: int,
    customer: dict[str, Any],
    deadline: float,
    think: tuple[float, float],
    rec: Recorder,
    rng: random.Random,
    timeout: float,
) -> None:
    """One customer's scripted visit, repeated until the deadline."""
    sender = f"load-{n}-{rng.randrange(10**9)}"
    token: str | None = None  # the conversation's secret, from its first reply
    await asyncio.sleep(rng.uniform(0, think[1]))  # customers arrive spread out
    while time.monotonic() < deadline:
        script = [
            rng.choice(SMALL_TALK),
            rng.choice(PRODUCTS),
            rng.choice(KNOWLEDGE),
            "where is my order?",
            f"my email is {customer['email']}",
            f"what's the status of {rng.choice(customer['orders'])}?",
            "I want to talk to a person",
            "/restart",
        ]
        for text in script:
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                payload = {"sender": sender, "message": text}
                if token:
                    payload["token"] = token
                async with session.post(
                    url + "/api/chat", json=payload, timeout=aiohttp.ClientTimeout(total=timeout)
                ) as resp:
                    body = await resp.json(content_type=None)
                    ms = (time.perf_counter() - started) * 1000
                    if resp.status != 200:
                        rec.errors.append(f"{resp.status} on {text!r}: {str(body)[:200]}")
                    else:
                        token = body.get("token") or token
                        rec.turn(body.get("action"), ms)
            except (TimeoutError, aiohttp.ClientError) as exc:
                rec.errors.append(f"{type(exc).__name__} on {text!r}")
            await asyncio.sleep(rng.uniform(*think))


async def probe_health(
    session: aiohttp.ClientSession, url: str, deadline: float, out: list[float]
) -> None:
    """The baseline: how fast the server answers a request that does no work."""
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            async with session.get(url + "/health") as resp:
                await resp.read()
            out.append((time.perf_counter() - started) * 1000)
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)


async def idle_baseline(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Latencies with no other load: /health and a small-talk turn, 20 each."""
    health, turn = [], []
    for i in range(20):
        started = time.perf_counter()
        async with session.get(url + "/health") as resp:
            await resp.read()
        health.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        async with session.post(
            url + "/api/chat", json={"sender": f"idle-{i}", "message": "hi"}
        ) as resp:
            await resp.read()
        turn.append((time.perf_counter() - started) * 1000)
    return {"health_p50_ms": percentile(health, 50), "smalltalk_p50_ms": percentile(turn, 50)}


async def run_load(
    url: str,
    n_conversations: int,
    duration: float,
    think: tuple[float, float],
    seed: int = 0,
    timeout: float = 120.0,
    store: Path = DEMO,
) -> dict[str, Any]:
    """Drive the load against ``url``; returns the report (no server management)."""
    rng = random.Random(seed)
    people = customers(store)
    rec = Recorder()
    health: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        idle = await idle_baseline(session, url)
        started = time.monotonic()
        deadline = started + duration
        tasks = [
            conversation(
                session,
                url,
                i,
                people[i % len(people)],
                deadline,
                think,
                rec,
                random.Random(rng.random()),
                timeout,
            )
            for i in range(n_conversations)
        ]
        await asyncio.gather(probe_health(session, url, deadline, health), *tasks)
        elapsed = time.monotonic() - started
    non_gen, gen = rec.latency["non_generated"], rec.latency["generated"]
    report = {
        "conversations": n_conversations,
        "duration_s": round(elapsed, 1),
        "think_s": list(think),
        "turns": len(non_gen) + len(gen),
        "turns_per_second": round((len(non_gen) + len(gen)) / elapsed, 2),
        "non_generated": summary(non_gen, elapsed),
        "generated": summary(gen, elapsed),
        "generated_busy": rec.busy,
        "generated_answered": len(rec.by_action.get("action_answer", [])),
        "errors": len(rec.errors),
        "error_examples": rec.errors[:10],
        "actions": {a: len(v) for a, v in sorted(rec.by_action.items())},
        # Which kinds of turn make the tail (p95 per action).
        "p95_ms_by_action": {a: percentile(v, 95) for a, v in sorted(rec.by_action.items())},
        "baseline_idle": idle,
        "health_under_load": summary(health, elapsed),
    }
    p95, h95 = report["non_generated"]["p95_ms"], report["health_under_load"]["p95_ms"]
    if p95 and h95:
        report["non_generated_p95_over_health_p95"] = round(p95 / h95, 1)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conversations", type=int, default=200)
    ap.add_argument("--duration", type=float, default=90.0, help="seconds of load")
    ap.add_argument("--think", type=float, nargs=2, default=(4.0, 10.0), metavar=("MIN", "MAX"))
    ap.add_argument("--llm-model", default="qwen2.5-0.5b", help="the chat LM the server loads")
    ap.add_argument("--llm-backend", default=None, help="transformers (default), openai, none")
    ap.add_argument("--generation-concurrency", type=int, default=None)
    ap.add_argument("--generation-queue-size", type=int, default=None)
    ap.add_argument("--generation-queue-timeout", type=float, default=None)
    ap.add_argument("--url", help="drive an already running server instead of starting one")
    ap.add_argument(
        "--engine",
        choices=["serve-llm"],
        help="run the chat model in a separate `shopbot serve-llm` process (openai backend)",
    )
    ap.add_argument("--engine-nice", type=int, default=19, help="the engine's CPU niceness")
    ap.add_argument("--engine-max-queue", type=int, default=None, help="serve-llm --max-queue")
    ap.add_argument(
        "--engine-backend", choices=["transformers", "llama-cpp"], default="transformers"
    )
    ap.add_argument("--engine-threads", type=int, default=None, help="the engine's CPU threads")
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args()
    env = {}
    for key in ("generation_concurrency", "generation_queue_size", "generation_queue_timeout"):
        if getattr(args, key) is not None:
            env[f"SHOPBOT_{key.upper()}"] = str(getattr(args, key))
    server = engine = None
    with tempfile.TemporaryDirectory(prefix="shopbot-load-") as tmp:
        url = args.url
        startup = engine_startup = None
        try:
            if args.engine and not url:
                engine = EngineProcess(
                    args.llm_model,
                    Path(tmp) / "engine.log",
                    store=DEMO,
                    nice=args.engine_nice,
                    max_queue=args.engine_max_queue,
                    backend=args.engine_backend,
                    threads=args.engine_threads,
                )
                engine_startup = engine.start()
                env["SHOPBOT_LLM_BASE_URL"] = engine.url + "/v1"
                args.llm_backend = "openai"
            if not url:
                server = ServerProcess(
                    DEMO,
                    Path(tmp) / "load.db",
                    env=env,
                    llm_model=args.llm_model,
                    llm_backend=args.llm_backend,
                )
                startup = server.start()
                url = server.url
            report = asyncio.run(
                run_load(url, args.conversations, args.duration, tuple(args.think))
            )
            if engine is not None:
                report["engine"] = {
                    "command": "shopbot serve-llm",
                    "nice": args.engine_nice,
                    "backend": args.engine_backend,
                    "threads": args.engine_threads,
                    "startup_s": round(engine_startup or 0, 1),
                    **engine.health(),
                }
        finally:
            if server is not None:
                server.stop()
            if engine is not None:
                engine.stop()
        report["server"] = {
            "llm_model": args.llm_model,
            "llm_backend": args.llm_backend or "transformers",
            "startup_s": round(startup, 1) if startup else None,
            **{k: v for k, v in env.items()},
        }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
