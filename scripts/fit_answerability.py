"""Fit the quote decision's second look (knowledge_base/answerability.py) on the dev stores.

Each dev store's single-turn answer cases are searched as the bot searches them
(the store's own index and calibration), and labelled:

- ``A`` answerable, the best hit holds the expected answer (every ``expect_all``
  string and one ``expect_any`` string are in its text): quoting it is right;
- ``U`` out of scope, unanswerable or an injection: quoting anything is wrong;
- ``W`` a FAQ/policy question whose best hit is another entry: quoting is wrong.

A logistic model over ``answerability.FEATURES`` separates ``A`` from the rest;
its threshold lets through ``--negative-rate`` of the negatives of the stores it
was fitted on. Reported: every store left out of the fit in turn (fitted on the
others), against the store calibration's quote point alone, as counts of each
label quoted. ``--write`` saves the model fitted on all stores.

    python scripts/fit_answerability.py                 # the leave-one-store-out table
    python scripts/fit_answerability.py --write         # and knowledge_base/data/answerability.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge_base import answerability  # noqa: E402

STORES = ROOT / "tests" / "data" / "stores"
# (store folder, its answer cases): every shape the dev stores cover. Held-out
# case files (tests/data/*heldout*) are never fitted on.
DEV_SETS = [
    (STORES / name, STORES / f"{name}.cases.jsonl")
    for name in (
        "abcd_clothing",
        "faq_coffee",
        "faq_electronics",
        "faq_zh_tea",
        "mixed_cosmetics",
        "policy_furniture",
        "taubench_retail",
    )
] + [
    (ROOT / "knowledge_base" / "demo_store", ROOT / "tests" / "data" / "answer_cases_dev.jsonl"),
    (
        ROOT / "knowledge_base" / "demo_store_zh",
        ROOT / "tests" / "data" / "demo_store_zh.cases.dev.jsonl",
    ),
]
NEGATIVE_CATEGORIES = ("unanswerable", "abstain", "injection", "oos")
ANSWER_CATEGORIES = ("faq", "policy")
SEARCH_DEPTH = 5  # as bot/turn/knowledge.py


def _holds(text: str, case: dict[str, Any]) -> bool:
    text = text.lower()
    every, some = case.get("expect_all") or [], case.get("expect_any") or []
    if not every and not some:
        return False
    return all(e.lower() in text for e in every) and (
        not some or any(e.lower() in text for e in some)
    )


def collect(store: Path, cases: Path) -> list[dict[str, Any]]:
    """One row (label, features, store calibration's quote) per usable case."""
    from bot.answers.grounding import hit_source_text
    from knowledge_base.build import ensure_built
    from knowledge_base.calibration import Calibration
    from knowledge_base.index import KnowledgeIndex

    built = ensure_built(store, progress=False)
    index = KnowledgeIndex.load(built.index_dir, built.encoder)
    cal = Calibration.load(built.calibration_path)
    rows = []
    for line in cases.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        if len(case["turns"]) != 1 or cal.conservative:
            continue
        hits = index.search(case["turns"][0], SEARCH_DEPTH)
        if not hits:
            continue
        best = hits[0]
        if case["category"] in NEGATIVE_CATEGORIES:
            label = "U"
        elif best.type == "product":
            continue  # the catalog answers it, not a quotation
        elif _holds(hit_source_text(best) or best.text, case):
            label = "A"
        elif case["category"] in ANSWER_CATEGORIES:
            label = "W"
        else:
            continue
        p = cal.probability(hits)
        rows.append(
            {
                "store": store.name,
                "label": label,
                "x": answerability.features(hits, p, cal.quote).tolist(),
                "baseline": bool(p >= cal.quote),
                "eligible": bool(p >= cal.clarify),
            }
        )
    return rows


def fit(rows: list[dict[str, Any]], negative_rate: float) -> tuple[np.ndarray, float]:
    """Weights and bias (threshold folded in: quote when the score is above 0)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([r["x"] for r in rows])
    y = np.array([r["label"] == "A" for r in rows])
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(x, y)
    negatives = np.sort(model.decision_function(x[~y]))[::-1]
    threshold = float(negatives[int(negative_rate * len(negatives))])
    return model.coef_[0], float(model.intercept_[0]) - threshold


def quoted(rows: list[dict[str, Any]], weights: np.ndarray, bias: float) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in rows:
        if r["eligible"] and float(np.dot(weights, r["x"]) + bias) > 0:
            out[r["label"]] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--negative-rate", type=float, default=0.15)
    parser.add_argument("--write", action="store_true", help="save the model fitted on all")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    for store, cases in DEV_SETS:
        rows += collect(store, cases)
    stores = sorted({r["store"] for r in rows})
    totals = Counter(r["label"] for r in rows)
    held: Counter[str] = Counter()
    base: Counter[str] = Counter(r["label"] for r in rows if r["baseline"])
    per_store = {}
    print(f"{'left out':18s} {'A quoted':>12s} {'U quoted':>12s} {'W quoted':>12s}   (baseline)")
    for store in stores:
        train = [r for r in rows if r["store"] != store]
        test = [r for r in rows if r["store"] == store]
        w, b = fit(train, args.negative_rate)
        got = quoted(test, w, b)
        was = Counter(r["label"] for r in test if r["baseline"])
        n = Counter(r["label"] for r in test)
        held += got
        per_store[store] = {k: [got[k], was[k], n[k]] for k in "AUW"}
        cells = " ".join(f"{f'{got[k]}/{n[k]} ({was[k]})':>12s}" for k in "AUW")
        print(f"{store:18s} {cells}")
    cells = " ".join(f"{f'{held[k]}/{totals[k]} ({base[k]})':>12s}" for k in "AUW")
    print(f"{'all, left out':18s} {cells}")
    if args.write:
        w, b = fit(rows, args.negative_rate)
        out = {
            "format": answerability.ANSWERABILITY_FORMAT,
            "features": list(answerability.FEATURES),
            "weights": [round(float(v), 6) for v in w],
            "bias": round(b, 6),
            "negative_rate": args.negative_rate,
            "fitted": date.today().isoformat(),
            "cases": dict(totals),
            "leave_one_store_out": {
                "quoted": {k: held[k] for k in "AUW"},
                "baseline_quoted": {k: base[k] for k in "AUW"},
                "per_store_quoted_baseline_total": per_store,
            },
            "command": "python scripts/fit_answerability.py --write",
        }
        answerability.SHIPPED.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {answerability.SHIPPED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
