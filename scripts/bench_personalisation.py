"""Does re-ranking product search by the customer's profile help? Held-out simulated sessions.

    python scripts/bench_personalisation.py [--sessions 600] [--seed 0] [--json FILE]

The verdict ``helps`` (which decides the ``personalise_search`` default) is
on the variant the bot runs: only product hits within ``DEFAULT_MARGIN`` of
the best product's cosine may move.

Each simulated session is a customer with one or two favourite categories
and a budget. They first ask about two to four products of those categories
by name and say their budget (these turns go through the real
``turn_event`` / ``fold`` code into a real profile), then ask a vague
question ("do you have anything in black?", "something with material
leather?") and finally name the product they wanted. With probability
``--explore`` (default 0.25) that final product is from any category, to be
honest about customers whose next wish is not their past.

Measured: the rank of the final product among the product hits of the
demo store's real hybrid search for the vague question, without and with the
profile re-rank (``bot/insights/personalise.py``). The two weights are
chosen by grid search on the first half of the sessions and scored on the
held-out second half: mean reciprocal rank, hit@1, hit@3, and the
held-out MRR gain with a paired bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

VAGUE = [
    "do you have anything in {value}?",
    "show me something {value}",
    "I need something with {key} {value}",
    "anything {value} you would recommend?",
]
ASK = ["tell me about the {title}", "how much is the {title}?", "do you have the {title}?"]
GRID_CATEGORY = [0.0, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3]
GRID_PRICE = [0.0, 0.005, 0.01, 0.02, 0.05]


def _value(product: Any, rng: random.Random) -> tuple[str, str] | None:
    """One attribute (name, value) of the product to ask vaguely about."""
    pairs = [
        (str(k), str(v))
        for k, vals in product.attributes.items()
        for v in (vals if isinstance(vals, list) else [vals])
        if str(v) and not str(v).replace(".", "").isdigit()
    ]
    return rng.choice(pairs) if pairs else None


def simulate(store: Any, n: int, seed: int, explore: float) -> list[dict[str, Any]]:
    """Sessions: history rows (as the log stores them), a vague query, the final product."""
    from bot.insights.events import Catalog, turn_event
    from bot.insights.profiles import fold

    rng = random.Random(seed)
    products = [p for p in store.products if p.attributes]
    by_cat: dict[str, list[Any]] = {}
    for p in store.products:
        by_cat.setdefault(p.category, []).append(p)
    catalog = Catalog.from_products(store.products, None)
    cats = sorted(c for c, ps in by_cat.items() if len(ps) >= 2)
    sessions = []
    while len(sessions) < n:
        sender = f"sim{len(sessions)}"
        liked = rng.sample(cats, rng.choice([1, 1, 2]))
        pool = [p for c in liked for p in by_cat[c]]
        budget = round(rng.choice(pool).price * rng.uniform(1.0, 1.6))
        rows = []
        t0 = 1_760_000_000.0 + len(sessions) * 86400
        asked = rng.sample(pool, min(len(pool), rng.randint(2, 4)))
        texts = [(rng.choice(ASK).format(title=p.title.lower()), p) for p in asked]
        texts.insert(rng.randrange(len(texts) + 1), (f"my budget is ${budget}", None))
        for i, (text, product) in enumerate(texts):
            entities = (
                [{"entity": "product", "value": product.title, "product_id": product.id}]
                if product
                else []
            )
            rows.append(
                {
                    "turn_id": f"{sender}-{i}",
                    "sender": sender,
                    "ts": t0 + 60 * i,
                    "user_text": text,
                    "intent": "product_info",
                    "entities": entities,
                    "sources": [],
                    "action": "action_product_search",
                }
            )
        if rng.random() < explore:
            candidates = products
        else:
            candidates = [p for p in pool if p.attributes and p.price <= 1.2 * budget] or [
                p for p in pool if p.attributes
            ]
        if not candidates:
            continue
        target = rng.choice(candidates)
        pair = _value(target, rng)
        if pair is None:
            continue
        key, value = pair
        profile = None
        for row in rows:
            event, _, _ = turn_event(row, catalog)
            profile = fold(profile, event)
        sessions.append(
            {
                "sender": sender,
                "profile": profile,
                "query": rng.choice(VAGUE).format(key=key, value=value),
                "target": target.id,
                "in_profile": target.category in liked,
            }
        )
    return sessions


def ranks(sessions: list[dict[str, Any]], hits_of: dict[str, list[Any]], products: dict, wc: float,
          wp: float, margin: float | None = None) -> list[int]:  # fmt: skip
    """The final product's rank (1 = first) among product hits, per session."""
    from bot.insights.personalise import rerank

    out = []
    for s in sessions:
        hits = hits_of[s["query"]]
        ordered = rerank(hits, s["profile"], products, wc, wp, margin) if (wc or wp) else hits
        ids = [str(h.meta.get("product_id")) for h in ordered]
        out.append(ids.index(s["target"]) + 1 if s["target"] in ids else len(products) + 1)
    return out


def summary(r: list[int]) -> dict[str, float]:
    n = len(r)
    return {
        "mrr": round(sum(1 / x for x in r) / n, 4),
        "hit@1": round(sum(x == 1 for x in r) / n, 4),
        "hit@3": round(sum(x <= 3 for x in r) / n, 4),
        "mean_rank": round(sum(r) / n, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--explore", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import numpy as np

    from bot.insights.personalise import DEFAULT_MARGIN
    from knowledge_base.build import ensure_built
    from knowledge_base.embeddings import get_encoder
    from knowledge_base.index import KnowledgeIndex

    started = time.perf_counter()
    encoder = get_encoder()
    artifacts = ensure_built(
        ROOT / "knowledge_base" / "demo_store", progress=False, encoder=encoder
    )
    index = KnowledgeIndex.load(artifacts.index_dir, encoder)
    store = artifacts.store
    products = {p.id: p for p in store.products}
    sessions = simulate(store, args.sessions, args.seed, args.explore)
    hits_of = {}
    for s in sessions:
        if s["query"] not in hits_of:
            hits_of[s["query"]] = [h for h in index.search(s["query"], 80) if h.type == "product"]
    half = len(sessions) // 2
    train, test = sessions[:half], sessions[half:]
    base = ranks(test, hits_of, products, 0.0, 0.0)
    variants = {}
    # "bot": only near-ties (within the margin of the best product's cosine) may move, as the
    # bot runs it; "unguarded": any product hit may move. Each gets its weights from train.
    for name, margin in (("bot", DEFAULT_MARGIN), ("unguarded", None)):
        grid = {
            (wc, wp): summary(ranks(train, hits_of, products, wc, wp, margin))["mrr"]
            for wc in GRID_CATEGORY
            for wp in GRID_PRICE
        }
        (wc, wp), train_mrr = max(grid.items(), key=lambda kv: (kv[1], -kv[0][0] - kv[0][1]))
        pers = ranks(test, hits_of, products, wc, wp, margin)
        gain = np.array([1 / p - 1 / b for p, b in zip(pers, base, strict=True)])
        rng = np.random.default_rng(args.seed)
        boot = [gain[rng.integers(0, len(gain), len(gain))].mean() for _ in range(2000)]
        inside = [i for i, s in enumerate(test) if s["in_profile"]]
        outside = [i for i, s in enumerate(test) if not s["in_profile"]]
        variants[name] = {
            "margin": margin,
            "weights": {"category": wc, "price": wp},
            "train_mrr": {"baseline": grid[(0.0, 0.0)], "personalised": train_mrr},
            "test": summary(pers),
            "test_mrr_gain": round(float(gain.mean()), 4),
            "test_mrr_gain_95ci": [round(float(q), 4) for q in np.quantile(boot, [0.025, 0.975])],
            "test_in_profile": summary([pers[i] for i in inside]),
            "test_outside_profile": summary([pers[i] for i in outside]),
            "paired": {
                "better": int((gain > 0).sum()),
                "worse": int((gain < 0).sum()),
                "same": int((gain == 0).sum()),
            },
        }
    inside = [i for i, s in enumerate(test) if s["in_profile"]]
    outside = [i for i, s in enumerate(test) if not s["in_profile"]]
    report = {
        "sessions": len(sessions),
        "train_sessions": len(train),
        "test_sessions": len(test),
        "explore": args.explore,
        "test_baseline": summary(base),
        "test_baseline_in_profile": summary([base[i] for i in inside]),
        "test_baseline_outside_profile": summary([base[i] for i in outside]),
        "variants": variants,
        "seconds": round(time.perf_counter() - started, 1),
    }
    # The verdict (the personalise_search default) is on the variant the bot runs:
    # the held-out MRR gain's bootstrap 95% interval must lie above zero.
    report["helps"] = bool(variants["bot"]["test_mrr_gain_95ci"][0] > 0)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
