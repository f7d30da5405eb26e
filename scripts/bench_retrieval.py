"""Retrieval benchmark on the demo store, and calibration of the dialogue's retrieval bands.

Usage::

    python scripts/bench_retrieval.py [--store DIR] [--queries CSV] [--json out.json]

1. Runs ``shopbot eval retrieval`` (dense-only, lexical-only and hybrid side by
   side: recall@1, recall@5, MRR) on ``tests/data/retrieval_queries.csv``.
2. Calibrates ``answer_min_score`` and ``clarify_min_score`` (bot/config.py) from
   data instead of by hand. The signal is the best hit's dense cosine, as the
   dialogue uses it. Positives are the store's queries; negatives are
   out-of-scope questions for a shop: CLINC150 ``oos_val`` plus its ``val``
   utterances of domains a web shop does not serve (banking, travel, ...), from
   ``../shared/datasets``. Rules:
   - ``answer_min_score``: the threshold maximising (share of queries answered
     with the right top hit) + (share of out-of-scope questions not answered);
   - ``clarify_min_score``: the largest threshold that still keeps 95 % of the
     queries whose answer is in the top 5 (below it the bot says it can't help).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLINC = ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
QUERIES = ROOT / "tests" / "data" / "retrieval_queries.csv"
# CLINC intents a web shop could plausibly answer (orders, payment, account):
# these are *not* used as out-of-scope negatives.
SHOP_LIKE = {
    "order",
    "order_status",
    "order_checks",
    "shopping_list",
    "shopping_list_update",
    "replacement_card_duration",
    "report_lost_card",
    "card_declined",
    "pay_bill",
    "payday",
    "change_user_name",
    "user_name",
    "reset_settings",
    "damaged_card",
    "expiration_date",
    "new_card",
    "pin_change",
    "freeze_account",
}


def run_eval(store: Path | None, queries: Path) -> dict[str, Any]:
    """``shopbot eval retrieval`` through the real command line."""
    from bot.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "retrieval.json"
        argv = ["eval", "retrieval", "--queries", str(queries), "--json", str(out)]
        if store is not None:
            argv += ["--store", str(store)]
        code = main(argv)
        if code != 0:
            raise SystemExit(code)
        return json.loads(out.read_text())


def negatives(per_intent: int = 2) -> list[str]:
    """Out-of-scope questions for a shop: CLINC oos_val + val rows of non-shop intents."""
    data = json.loads(CLINC.read_text(encoding="utf-8"))
    texts = [t for t, _ in data["oos_val"]]
    seen: dict[str, int] = {}
    for text, intent in data["val"]:
        if intent not in SHOP_LIKE and seen.get(intent, 0) < per_intent:
            seen[intent] = seen.get(intent, 0) + 1
            texts.append(text)
    return texts


def calibrate(store: Path | None, queries: Path) -> dict[str, Any]:
    """Data-chosen ``answer_min_score`` / ``clarify_min_score`` (see the module docstring)."""
    from bot.config import DEMO_STORE
    from knowledge_base.build import ensure_built
    from knowledge_base.embeddings import get_encoder
    from knowledge_base.index import KnowledgeIndex
    from training.evaluate import read_labelled_csv

    encoder = get_encoder()
    artifacts = ensure_built(store or DEMO_STORE, progress=False, encoder=encoder)
    index = KnowledgeIndex.load(artifacts.index_dir, encoder)
    pos_best, pos_top1, pos_top5 = [], [], []
    for query, expected in read_labelled_csv(queries, ("query", "expected_id")):
        if index.get(expected) is None and index.get(f"product:{expected}") is not None:
            expected = f"product:{expected}"
        hits = index.search(query, k=5)
        ids = [h.id for h in hits]
        pos_best.append(hits[0].dense if hits else 0.0)
        pos_top1.append(bool(ids) and ids[0] == expected)
        pos_top5.append(expected in ids)
    neg_best = [(index.search(q, k=1) or [None])[0] for q in negatives()]
    neg = np.array([h.dense if h else 0.0 for h in neg_best])
    pos, top1, top5 = np.array(pos_best), np.array(pos_top1), np.array(pos_top5)

    candidates = np.round(np.arange(0.20, 0.80, 0.01), 2)
    value = [(top1 & (pos >= t)).mean() + (neg < t).mean() for t in candidates]
    answer = float(candidates[int(np.argmax(value))])
    clarify = float(np.floor(100 * np.quantile(pos[top5], 0.05)) / 100)
    clarify = min(clarify, answer)

    def at(t: float) -> dict[str, float]:
        return {
            "queries_answered_right": round(float((top1 & (pos >= t)).mean()), 4),
            "queries_answerable_in_top5_kept": round(float((top5 & (pos >= t)).mean()), 4),
            "out_of_scope_above": round(float((neg >= t).mean()), 4),
        }

    return {
        "positives": int(len(pos)),
        "negatives": int(len(neg)),
        "answer_min_score": answer,
        "clarify_min_score": clarify,
        "at_answer_min_score": at(answer),
        "at_clarify_min_score": at(clarify),
        "dense_quantiles": {
            "queries": [round(float(q), 3) for q in np.quantile(pos, [0.05, 0.25, 0.5])],
            "out_of_scope": [round(float(q), 3) for q in np.quantile(neg, [0.5, 0.75, 0.95])],
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="store directory (default: the demo store)")
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    result = run_eval(args.store, args.queries)
    for mode in ("dense", "lexical", "hybrid"):
        result[mode].pop("misses", None)
    result["calibration"] = calibrate(args.store, args.queries)
    print(json.dumps(result["calibration"], indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
