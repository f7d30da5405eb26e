"""Simulate a month of customer traffic on the demo store and check what the insights recover.

    python scripts/simulate_traffic.py [--conversations 1500] [--days 30] [--json FILE]

Customers from five personas (runners, tech shoppers, order trackers, campers
asking for gear the store does not sell, unhappy customers) hold 1 to 4 turn
conversations with the real server (aiohttp on a real port, the real NLU,
retrieval, actions and log; the extractive answer backend so a month fits in
minutes). Planted: three demand gaps (tents, kayaks, electric scooters, each
asked in many phrasings) and two trends (Kitchen demand rising over the
month, Garden & Patio falling).

The server stamps turns with the real clock, so after the run each
conversation's turns are moved to its simulated day and the insights are
recomputed from the log. Reported: segments vs personas (adjusted Rand
index), where the planted gaps rank, the recovered trends, and turn latency
with the background updater on vs off (alternating blocks in one run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

GAPS = {
    "tent": [
        "do you sell tents?",
        "I'm looking for a camping tent",
        "do you have a 2 person tent",
        "any tents for backpacking?",
        "where can I buy a tent for camping",
        "do you carry dome tents",
        "I need to buy a waterproof tent",
        "looking for a family camping tent",
    ],
    "kayak": [
        "do you sell kayaks?",
        "I'm looking for an inflatable kayak",
        "do you have kayaks",
        "any kayaks for sale?",
        "where can I buy a sea kayak",
        "do you carry fishing kayaks",
        "I want to buy a kayak for two",
    ],
    "scooter": [
        "do you sell electric scooters?",
        "I'm looking for an e-scooter",
        "do you have electric kick scooters",
        "where can I buy an electric scooter",
        "any electric scooters for commuting?",
        "I want to buy a foldable electric scooter",
    ],
}
COMPLAINTS = [
    "this is ridiculous, my package never arrived and nobody answers",
    "I am very angry, the product broke after one day",
    "terrible service, I want to speak to a human",
    "worst experience ever, I want my money back now",
    "I'm really frustrated, this is the third time I ask",
    "your website is awful and the order is wrong",
]
PRICE_OBJECTIONS = [
    "that's too expensive, any discount?",
    "is there a coupon? it's pricey",
    "can you price match? it's cheaper elsewhere",
]
RUNNER_CATEGORIES = ("Footwear", "Sports & Fitness")
TECH_CATEGORIES = ("Electronics", "Smart Home")


def _products(store: Any, categories: tuple[str, ...]) -> list[Any]:
    return [p for p in store.products if p.category in categories]


def conversation(
    persona: str, day: int, days: int, rng: random.Random, store: Any, customers: list[dict]
) -> list[str]:
    """The customer's messages for one conversation of a persona on a given day."""
    progress = day / max(days - 1, 1)
    msgs: list[str] = []
    if rng.random() < 0.4:
        msgs.append(rng.choice(["hi", "hello", "hey there"]))
    if persona == "runner":
        p = rng.choice(_products(store, RUNNER_CATEGORIES))
        msgs.append(rng.choice([f"do you have {p.title.lower()}?", f"tell me about the {p.title}"]))
        msgs.append(rng.choice([f"how much is the {p.title}? I want to buy one", "great, thanks!"]))
    elif persona == "tech":
        p = rng.choice(_products(store, TECH_CATEGORIES))
        budget = rng.choice([300, 500, 800, 1000])
        msgs.append(f"I'm interested in the {p.title}, my budget is ${budget}")
        msgs.append(rng.choice(PRICE_OBJECTIONS))
    elif persona == "tracker":
        c = rng.choice(customers)
        msgs.append(rng.choice(["where is my order?", "I want to track my order", "order status"]))
        msgs.append(f"my email is {c['email']}")
    elif persona == "camper":
        gap = rng.choice(list(GAPS))
        msgs.append(rng.choice(GAPS[gap]))
        if rng.random() < 0.5:
            msgs.append(rng.choice(["do you have hiking boots?", "how much is the backpack?"]))
    elif persona == "unhappy":
        msgs.append(rng.choice(COMPLAINTS))
        msgs.append(rng.choice(["no, this is useless", "I want a refund for my order", "yes"]))
    # Planted trends, on top of any persona: Kitchen rises, Garden & Patio falls.
    if rng.random() < 0.05 + 0.35 * progress:
        p = rng.choice(_products(store, ("Kitchen",)))
        msgs.append(f"do you have the {p.title.lower()} in stock?")
    if rng.random() < 0.40 - 0.35 * progress:
        p = rng.choice(_products(store, ("Garden & Patio",)))
        msgs.append(f"how much is the {p.title.lower()}?")
    return msgs


PERSONAS = ["runner", "tech", "tracker", "camper", "unhappy"]


async def run_traffic(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    from aiohttp import web

    from bot.assemble import load_bot
    from bot.config import load_config
    from bot.web.admin import INSIGHTS_KEY, UPDATER_KEY
    from bot.web.app import create_app

    workdir = Path(tempfile.mkdtemp(prefix="shopbot-sim-"))
    db_path = workdir / "sim.db"
    config = load_config(
        None, llm_backend="none", rate_limit_per_minute=0, db_path=db_path, admin_token="sim"
    )
    bot = await load_bot(config)
    app = create_app(config, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    updater = app[UPDATER_KEY]

    rng = random.Random(args.seed)
    customers = [
        json.loads(line)
        for line in (bot.store.path / "customers.jsonl").read_text().splitlines()
        if line.strip()
    ]
    plan = []
    for i in range(args.conversations):
        persona = PERSONAS[i % len(PERSONAS)]
        # Customers come back: each sender has ~3 conversations on different days.
        sender = f"{persona}-{rng.randrange(max(1, args.conversations // (3 * len(PERSONAS))))}"
        day = rng.randrange(args.days)
        plan.append(
            (sender, persona, day, conversation(persona, day, args.days, rng, bot.store, customers))
        )
    rng.shuffle(plan)

    latencies: dict[bool, list[float]] = {True: [], False: []}
    sem = asyncio.Semaphore(args.concurrency)
    turn_days: dict[str, int] = {}
    tokens: dict[str, str] = {}  # returning customers' conversation tokens, as the widget keeps

    async def talk(session: aiohttp.ClientSession, item: tuple, insights_on: bool) -> None:
        sender, _, day, msgs = item
        async with sem:
            for text in msgs:
                started = time.perf_counter()
                payload = {"sender": sender, "message": text}
                if sender in tokens:
                    payload["token"] = tokens[sender]
                async with session.post(f"{url}/api/chat", json=payload) as resp:
                    body = await resp.json()
                    if resp.status != 200:
                        raise RuntimeError(f"server said {resp.status}: {body}")
                tokens[sender] = body.get("token") or tokens.get(sender, "")
                latencies[insights_on].append((time.perf_counter() - started) * 1000)
                turn_days[body["turn_id"]] = day

    started = time.time()
    async with aiohttp.ClientSession() as session:
        block = args.block
        for b in range(0, len(plan), block):
            on = (b // block) % 2 == 1
            # Off blocks: the updater is unhooked, so turns only get logged.
            if on and updater.notify not in bot.on_turn:
                bot.on_turn.append(updater.notify)
            if not on and updater.notify in bot.on_turn:
                bot.on_turn.remove(updater.notify)
            await asyncio.gather(*(talk(session, item, on) for item in plan[b : b + block]))
            print(f"  {min(b + block, len(plan))}/{len(plan)} conversations", file=sys.stderr)
    wall = time.time() - started
    if updater.notify not in bot.on_turn:
        bot.on_turn.append(updater.notify)
    engine = app[INSIGHTS_KEY]
    await runner.cleanup()
    await asyncio.to_thread(bot.conversations.close)

    # Move every turn to its simulated day (keeping the time of day), then recompute.
    base = time.time() - args.days * 86400
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT turn_id, ts FROM turns").fetchall()
    for turn_id, ts in rows:
        day = turn_days.get(turn_id, 0)
        db.execute(
            "UPDATE turns SET ts = ? WHERE turn_id = ?",
            # 09:00 on the simulated day plus the real offset keeps each conversation's order.
            (base + day * 86400 + 9 * 3600 + (ts - started), turn_id),
        )
    db.commit()
    db.close()
    from bot.insights.engine import InsightsEngine

    engine = InsightsEngine(
        db_path, bot.store.products, bot.index.encoder, order_book=bot.order_book
    )
    n = engine.recompute()
    return {
        "engine": engine,
        "turns": n,
        "wall_seconds": wall,
        "latencies": latencies,
        "plan": plan,
        "base": base,
        "workdir": str(workdir),
    }


def evaluate(result: dict[str, Any], days: int) -> dict[str, Any]:
    """What the insights recovered, against what was planted."""
    import datetime as dt

    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    from bot.insights.demand import daily_series, demand_gaps
    from bot.insights.segments import segment

    engine = result["engine"]
    profiles = engine.store.profiles()
    seg = segment(profiles, k_min=2, k_max=8, seed=0)
    truth = [s.rsplit("-", 1)[0] for s in seg.senders]
    ari = adjusted_rand_score(truth, seg.labels)
    gaps = demand_gaps(engine.store)
    ranks = {}
    for name in GAPS:
        ranks[name] = next(
            (i + 1 for i, g in enumerate(gaps) if name in " ".join([g["label"], *g["examples"]])),
            None,
        )
    first = dt.date.fromtimestamp(result["base"]).isoformat()
    last = (dt.date.fromtimestamp(result["base"]) + dt.timedelta(days - 1)).isoformat()
    trends = {}
    for category in ("Kitchen", "Garden & Patio"):
        _, y = daily_series(engine.store, "mention", "category", category, first, last)
        x = np.arange(len(y))
        slope = float(np.polyfit(x, y, 1)[0]) if len(y) > 1 else 0.0
        week = max(1, len(y) // 4)
        trends[category] = {
            "first_week_per_day": round(float(y[:week].mean()), 2),
            "last_week_per_day": round(float(y[-week:].mean()), 2),
            "slope_per_day": round(slope, 3),
        }
    # The demand-signal series the merchant would forecast: backtest every model on them.
    from bot.insights.forecast import backtest
    from bot.storage.reports import offer_stats
    from bot.turn.escalation import REASONS

    forecasts = {}
    for category in ("Kitchen", "Garden & Patio", None):
        _, y = daily_series(engine.store, "mention", "category", category, first, last)
        try:
            bt = backtest(y, h=7, m=7, origins=2)
        except ValueError as exc:
            forecasts[category or "all categories"] = {"error": str(exc)}
            continue
        forecasts[category or "all categories"] = {
            "scores": {
                k: {"mase": round(v["mase"], 3), "smape": round(v["smape"], 1)}
                for k, v in bt.scores.items()
            },
            "chosen": bt.winner(),
        }
    lat = result["latencies"]
    p50 = {k: statistics.median(v) for k, v in lat.items() if v}
    mean = {k: statistics.fmean(v) for k, v in lat.items() if v}
    return {
        "conversations": len(result["plan"]),
        "turns": result["turns"],
        "customers": len(profiles),
        "wall_seconds": round(result["wall_seconds"], 1),
        "segments_k": seg.k,
        "silhouettes": seg.silhouettes,
        "ari_vs_personas": round(float(ari), 3),
        "personas": [p["persona"] for p in seg.personas],
        "segment_sizes": [p["size"] for p in seg.personas],
        "top_gaps": [(g["label"], g["requests"], g["customers"]) for g in gaps[:8]],
        "planted_gap_ranks": ranks,
        "trends": trends,
        "demand_forecast_backtest": forecasts,
        "handoff_offers": offer_stats(engine.store.db, REASONS),
        "latency_ms": {
            "insights_on": {
                "p50": round(p50[True], 1),
                "mean": round(mean[True], 1),
                "n": len(lat[True]),
            },
            "insights_off": {
                "p50": round(p50[False], 1),
                "mean": round(mean[False], 1),
                "n": len(lat[False]),
            },
            "mean_ratio_on_off": round(mean[True] / mean[False], 3),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--block", type=int, default=100, help="conversations per on/off block")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    result = asyncio.run(run_traffic(args))
    report = evaluate(result, args.days)
    result["engine"].close()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
