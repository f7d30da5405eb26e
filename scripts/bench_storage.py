"""How fast is the conversation store, on SQLite and on PostgreSQL?

Each worker thread plays one customer after another and does what a server
turn does to the store: take the conversation lock, load the slots and
history, save the turn with its new state (one transaction), unlock. Reported
per backend: turns per second and per-turn store latency p50/p95/p99, for 1
worker (no contention) and for N workers (contention, the server's thread pool).

PostgreSQL is a throwaway local server (``tests.conftest.postgres_server``,
fsync on: every commit is durable) unless ``--database-url`` names one.

    nice -n 5 python scripts/bench_storage.py --turns 400 --workers 8 --json /tmp/storage.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.storage.conversations import ConversationStore, TurnRecord  # noqa: E402


def _turn(sender: str, i: int) -> TurnRecord:
    # About the size of a real logged turn: entities, sources, a reply of a few lines.
    return TurnRecord(
        sender=sender,
        user_text=f"do you have the trail runner in size {i % 12 + 4}?",
        intent="product_question",
        confidence=0.87,
        entities=[{"entity": "product", "value": "trail runner", "product_id": "p-123"}],
        sources=[{"id": "p-123", "type": "product", "title": "Trail Runner", "score": 0.71}],
        action="action_product_search",
        messages=[{"recipient_id": sender, "text": "Yes: the Trail Runner is $89.00. " * 4}],
        latency_ms=12.0,
    )


def run(store: ConversationStore, workers: int, turns: int) -> dict[str, Any]:
    """``turns`` turns spread over ``workers`` threads; latency of each turn's store work."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_worker = max(1, turns // workers)

    def work(w: int) -> None:
        mine = []
        for i in range(per_worker):
            sender = f"bench-{w}-{i // 5}"  # five turns per customer
            t0 = time.perf_counter()
            store.lock_conversation(sender)
            try:
                conv = store.load_conversation(sender)
                conv.slots["n"] = conv.slots.get("n", 0) + 1
                conv.history += [
                    {"role": "user", "content": "a question"},
                    {"role": "assistant", "content": "an answer"},
                ]
                store.save_turn(_turn(sender, i), conv)
            finally:
                store.unlock_conversation(sender)
            mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies)
    return {
        "workers": workers,
        "turns": len(lat),
        "turns_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
    }


def bench(location: str | Path, name: str, turns: int, workers: int) -> list[dict[str, Any]]:
    store = ConversationStore(location)
    try:
        run(store, 1, 20)  # warm-up: connections, caches
        rows = [run(store, 1, turns // 4), run(store, workers, turns)]
    finally:
        store.close()
    for r in rows:
        r["backend"] = name
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=400)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--database-url", help="an existing PostgreSQL database (else a temp one)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += bench(Path(tmp) / "bench.db", "sqlite", args.turns, args.workers)
    with contextlib.ExitStack() as stack:
        url = args.database_url
        if url is None:
            from tests.conftest import new_postgres_database, postgres_server

            url = new_postgres_database(stack.enter_context(postgres_server(fsync=True)))
        results += bench(url, "postgres", args.turns, args.workers)
    print("| backend | workers | turns | turns/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['backend']} | {r['workers']} | {r['turns']} | {r['turns_per_s']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
