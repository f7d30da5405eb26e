"""Fuzzy matching before and after rapidfuzz: product names (NLU) and typo fixes (BM25).

Usage::

    python scripts/bench_fuzzy.py [--repeats 5] [--json out.json]

The old hand-written code is copied here as the baseline: difflib's
``SequenceMatcher`` ratio in ``bot.nlu.entities._similarity`` and a pure-Python
optimal-string-alignment distance in ``knowledge_base.lexical.Speller``. Both
are timed in the same run, in turn, on the demo store's inputs:

- ``similarity``: the (message window, product title) pairs ``find_products``
  scores for realistic customer messages naming the 50 demo products, with and
  without typos;
- ``ratio``: the ratio alone, on those of the pairs that pass the cheap
  length and first-letter checks and so compute one;
- ``find_products``: the whole product extraction over those messages (old:
  a Python loop over every title and window; new: one ``process.cdist`` call
  per message, the cheap checks only for pairs scoring at least 86);
- ``edit_distance``: the (query word, candidate) pairs the speller confirms for
  misspelt corpus words (seeded deletions, insertions, substitutions,
  transpositions);
- ``correct``: ``Speller.correct`` over those words (candidate table prebuilt).

Each figure is the best of ``--repeats`` runs; ``new/old`` below 1 is faster.
Results that differ between old and new are counted and listed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz  # noqa: E402
from rapidfuzz.distance import OSA  # noqa: E402

from bot.nlu import entities  # noqa: E402
from knowledge_base import lexical  # noqa: E402
from knowledge_base.store import load_store  # noqa: E402

STORE = ROOT / "knowledge_base" / "demo_store"
TEMPLATES = [
    "do you have the {p} in stock?",
    "I want to return my {p}, it arrived broken",
    "how much is the {p}",
    "is the {p} available in blue, size M?",
    "my order #W2611340 had a {p} and a {q}, where is it",
    "compare the {p} with the {q} please",
]


# --------------------------------------------------------------------------- old code (baseline)


def old_similarity(candidate: str, title: str) -> float:
    """bot.nlu.entities._similarity before rapidfuzz (difflib matching blocks)."""
    if candidate == title:
        return 1.0
    if len(title) < 6 or abs(len(candidate) - len(title)) > 2 or candidate[:1] != title[:1]:
        return 0.0
    ratio = SequenceMatcher(None, candidate, title).ratio()
    needed = 0.86 if len(title) < 10 else 0.88
    return round(ratio, 3) if ratio >= needed else 0.0


def old_find_products(text: str, catalog: list[Any]) -> list[dict[str, Any]]:
    """bot.nlu.entities.find_products before rapidfuzz: every title, window by window."""
    index = entities._catalog_index(catalog)
    tokens = entities._norm_words(text)
    candidates: list[tuple[float, int, int, Any, bool]] = []
    for title in index.titles:
        n = len(title.words)
        for size in {n, n - 1, n + 1} - {0}:
            for i in range(len(tokens) - size + 1):
                joined = "".join(w for w, _, _ in tokens[i : i + size])
                score = old_similarity(joined, title.joined)
                if score:
                    candidates.append((score, i, i + size, title, False))
    return entities._pick(tokens, index, candidates)


def old_edit_distance(a: str, b: str) -> int:
    """knowledge_base.lexical._edit_distance before rapidfuzz (pure-Python OSA)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def old_correct(speller: lexical.Speller, word: str) -> str | None:
    """Speller.correct with the old distance (same candidate table)."""
    if len(word) < 4 or word in speller.known_words or any(ch.isdigit() for ch in word):
        return None
    table = speller._table()
    candidates = {c for key in speller._keys(word) for c in table.get(key, ())}
    limit = 1 if len(word) < 8 else 2
    scored = [
        (d, -speller.counts[c], c) for c in candidates if (d := old_edit_distance(word, c)) <= limit
    ]
    return min(scored)[2] if scored else None


# --------------------------------------------------------------------------- inputs


def typo(word: str, rng: random.Random) -> str:
    """One random edit of ``word``: delete, insert, substitute or swap two neighbours."""
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)  # keep the first letter, as most typos do
    kind = rng.choice("disw")
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "d":
        return word[:i] + word[i + 1 :]
    if kind == "i":
        return word[:i] + letter + word[i:]
    if kind == "s":
        return word[:i] + letter + word[i + 1 :]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def messages(titles: list[str], rng: random.Random) -> list[str]:
    """Customer messages naming products, a third of them with a typo in the name."""
    out = []
    for k, title in enumerate(titles):
        for t, template in enumerate(TEMPLATES):
            p = title.lower()
            if (k + t) % 3 == 0:
                p = " ".join(typo(w, rng) if len(w) > 5 else w for w in p.split())
            out.append(template.format(p=p, q=titles[(k + 7) % len(titles)].lower()))
    return out


def similarity_pairs(texts: list[str], catalog: list[Any]) -> list[tuple[str, str]]:
    """The (window, title) pairs find_products scores for ``texts``."""
    index = entities._catalog_index(catalog)
    pairs = []
    for text in texts:
        tokens = entities._norm_words(text)
        for title in index.titles:
            n = len(title.words)
            for size in {n, n - 1, n + 1} - {0}:
                for i in range(len(tokens) - size + 1):
                    joined = "".join(w for w, _, _ in tokens[i : i + size])
                    pairs.append((joined, title.joined))
    return pairs


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compare(repeats: int, old: Callable[[], Any], new: Callable[[], Any]) -> dict[str, float]:
    """Old and new timed in turn (so background load hits both alike), best of ``repeats``."""
    old_s = new_s = float("inf")
    for _ in range(repeats):
        old_s = min(old_s, best_of(1, old))
        new_s = min(new_s, best_of(1, new))
    return {"old_s": old_s, "new_s": new_s, "new/old": new_s / old_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    rng = random.Random(0)
    store = load_store(STORE)
    catalog = store.products
    texts = messages([p.title for p in catalog], rng)
    pairs = similarity_pairs(texts, catalog)
    new_similarity = entities._similarity

    # The speller on the demo store's own corpus words, as build_bm25 counts them.
    analyzer = lexical.Analyzer(None)
    counts: dict[str, int] = {}
    for doc in [f"{p.title}\n{p.description}" for p in catalog] + [
        json.dumps(line) for line in (STORE / "faq.jsonl").read_text().splitlines()
    ]:
        for w in analyzer.words(doc):
            counts[w] = counts.get(w, 0) + 1
    speller = lexical.Speller(counts)
    speller._table()  # built once in production too; not what is compared
    corpus_words = sorted(w for w in counts if len(w) >= 4 and w.isalpha())
    misspelt = [typo(w, rng) for w in corpus_words for _ in range(2)] + ["retrun", "shiping"]
    table = speller._table()
    distance_pairs = [
        (w, c) for w in misspelt for key in speller._keys(w) for c in table.get(key, ())
    ]

    # Those past the cheap checks (length, first letter), that compute a ratio.
    ratio_pairs = [
        (a, b)
        for a, b in pairs
        if a != b and len(b) >= 6 and abs(len(a) - len(b)) <= 2 and a[:1] == b[:1]
    ]
    results: dict[str, Any] = {
        "inputs": {
            "messages": len(texts),
            "similarity_pairs": len(pairs),
            # Those past the cheap checks (length, first letter), that compute a ratio.
            "ratio_pairs": len(ratio_pairs),
            "misspelt_words": len(misspelt),
            "distance_pairs": len(distance_pairs),
        }
    }
    results["similarity"] = compare(
        args.repeats,
        lambda: [old_similarity(a, b) for a, b in pairs],
        lambda: [new_similarity(a, b) for a, b in pairs],
    )

    results["ratio"] = compare(
        args.repeats,
        lambda: [SequenceMatcher(None, a, b).ratio() for a, b in ratio_pairs],
        lambda: [fuzz.ratio(a, b, score_cutoff=86.0) for a, b in ratio_pairs],
    )

    results["find_products"] = compare(
        args.repeats,
        lambda: [old_find_products(t, catalog) for t in texts],
        lambda: [entities.find_products(t, catalog) for t in texts],
    )
    results["edit_distance"] = compare(
        args.repeats,
        lambda: [old_edit_distance(a, b) <= 2 for a, b in distance_pairs],
        lambda: [OSA.distance(a, b, score_cutoff=2) <= 2 for a, b in distance_pairs],
    )
    results["correct"] = compare(
        args.repeats,
        lambda: [old_correct(speller, w) for w in misspelt],
        lambda: [speller.correct(w) for w in misspelt],
    )

    # Where old and new disagree.
    sim_diff = [
        (a, b, old_similarity(a, b), new_similarity(a, b))
        for a, b in set(pairs)
        if old_similarity(a, b) != new_similarity(a, b)
    ]
    old_found = [old_find_products(t, catalog) for t in texts]
    new_found = [entities.find_products(t, catalog) for t in texts]
    found_diff = [
        (t, [e["value"] for e in o], [e["value"] for e in n])
        for t, o, n in zip(texts, old_found, new_found, strict=True)
        if o != n  # value, span, product id and confidence
    ]
    correct_diff = [
        (w, old_correct(speller, w), speller.correct(w))
        for w in misspelt
        if old_correct(speller, w) != speller.correct(w)
    ]
    results["differences"] = {
        "similarity_scores": sim_diff[:20],
        "similarity_scores_count": len(sim_diff),
        "distinct_pairs": len(set(pairs)),
        "find_products_messages": found_diff[:20],
        "find_products_messages_count": len(found_diff),
        "corrections": correct_diff[:20],
        "corrections_count": len(correct_diff),
    }

    print(json.dumps(results["inputs"]))
    print(f"{'part':15} {'old s':>9} {'new s':>9} {'new/old':>8}")
    for part in ("ratio", "similarity", "find_products", "edit_distance", "correct"):
        r = results[part]
        print(f"{part:15} {r['old_s']:9.4f} {r['new_s']:9.4f} {r['new/old']:8.3f}")
    d = results["differences"]
    print(
        f"differences: similarity {d['similarity_scores_count']} of {d['distinct_pairs']} "
        f"distinct pairs, find_products {d['find_products_messages_count']} of {len(texts)} "
        f"messages, corrections {d['corrections_count']} of {len(misspelt)} words"
    )
    for row in d["similarity_scores"][:10]:
        print("  similarity", row)
    for row in d["find_products_messages"][:10]:
        print("  find_products", row)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
