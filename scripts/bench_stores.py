"""Every dev store scored as an unseen store: answer quality, abstention, speed.

A dev store is a folder under ``tests/data/stores/`` with its answer cases beside
it in ``<name>.cases.jsonl`` (written by people who did not write the store's
text); the demo store is scored on its held-out cases. Each store is built and
calibrated from its own files only (``knowledge_base/calibration.py``: nothing
of the cases is seen) and served with its own active adapter, which for a store
that has none is the base model. So every figure is the figure of a store the
model and calibration never saw.

Per store: the pass rate of the answerable cases, the share of out-of-scope and
injection cases abstained on honestly, the clarification rate, ungrounded
numbers, the share of answers that were the merchant's own (curated), and
p50/p95 turn time. One chat model is loaded once per (model, adapter) and shared.

    python scripts/bench_stores.py [--stores a,b] [--llm-backend llama-cpp] \\
        [--llm-model qwen2.5-0.5b] [--json docs/bench_stores.json] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STORES_DIR = ROOT / "tests" / "data" / "stores"
DEMO = (
    "demo",
    ROOT / "knowledge_base" / "demo_store",
    [ROOT / "tests" / "data" / "answer_cases_heldout.jsonl"],
)
ABSTAIN_CATEGORIES = {"unanswerable", "injection"}


def dev_stores() -> list[tuple[str, Path, list[Path]]]:
    """(name, store dir, case files) of the demo store and every dev store.

    A store's cases are ``<name>.cases.jsonl`` and, for a store with a catalogue,
    ``<name>.product_cases.jsonl`` (questions about its products, which must
    reach the catalogue while policy questions naming a product must not).
    """
    out = [DEMO]
    for cases in sorted(STORES_DIR.glob("*.cases.jsonl")):
        name = cases.name.removesuffix(".cases.jsonl")
        if (STORES_DIR / name / "store.toml").is_file():
            extra = STORES_DIR / f"{name}.product_cases.jsonl"
            out.append((name, STORES_DIR / name, [cases] + ([extra] if extra.is_file() else [])))
    return out


def routing(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where questions went: product questions to the catalogue, knowledge questions not.

    ``product_to_catalog``: the share of product cases answered by the catalogue
    action; ``knowledge_to_catalog``: the number of policy / FAQ / unanswerable
    cases sent to the catalogue instead of the store's knowledge.
    """
    product = [r for r in rows if r["category"] == "product"]
    knowledge = [r for r in rows if r["category"] in ("policy", "faq", "unanswerable")]
    return {
        "product_cases": len(product),
        "product_to_catalog": round(
            sum(r["action"] == "action_product_search" for r in product) / len(product), 4
        )
        if product
        else None,
        "knowledge_to_catalog": sum(r["action"] == "action_product_search" for r in knowledge),
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))], 1)


def store_figures(name: str, result: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """The per-store row: pass rates by kind, clarifications, curated share, turn times."""
    rows = result["results"]
    answerable = [r for r in rows if r["category"] not in ABSTAIN_CATEGORIES]
    abstain = [r for r in rows if r["category"] in ABSTAIN_CATEGORIES]
    answers = [r for r in rows if r["action"] in ("action_answer", "action_answer_curated")]
    turn_ms = [r["latency_ms"] for r in rows]
    curated_ms = [r["latency_ms"] for r in rows if r["action"] == "action_answer_curated"]
    generated_ms = [r["latency_ms"] for r in rows if r["action"] == "action_answer"]
    cal = manifest.get("calibration", {})
    return {
        "store": name,
        "cases": len(rows),
        "pass_rate": result["pass_rate"],
        "answer_pass_rate": round(sum(r["passed"] for r in answerable) / len(answerable), 4)
        if answerable
        else None,
        "abstention": round(sum(r["passed"] for r in abstain) / len(abstain), 4)
        if abstain
        else None,
        "clarification_rate": round(
            sum(r["action"] == "action_clarify" for r in rows) / len(rows), 4
        ),
        "curated_share": round(
            sum(r["action"] == "action_answer_curated" for r in answers) / len(answers), 4
        )
        if answers
        else 0.0,
        "ungrounded_numbers": result["ungrounded_numbers"],
        **routing(rows),
        "turn_ms_p50": _pct(turn_ms, 0.5),
        "turn_ms_p95": _pct(turn_ms, 0.95),
        "curated_turn_ms_p95": _pct(curated_ms, 0.95),
        "generated_turn_ms_p50": _pct(generated_ms, 0.5),
        "operating_points": cal.get("operating_points"),
        "calibration_conservative": cal.get("conservative"),
        "build_seconds": manifest.get("build_seconds"),
        "failures": [
            {
                "id": r["id"],
                "reasons": r["reasons"],
                "reply": r["reply"][:200],
                "action": r["action"],
            }
            for r in rows
            if not r["passed"]
        ],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bot.assemble import load_generator_from_config
    from bot.config import Config
    from training.answers import eval_bot, evaluate_bot, load_cases

    wanted = set(args.stores.split(",")) if args.stores else None
    stores = [s for s in dev_stores() if wanted is None or s[0] in wanted]
    generators: dict[tuple[str, str], Any] = {}
    rows = []
    started = time.perf_counter()
    for name, store_dir, case_files in stores:
        config = Config(
            store_dir=store_dir,
            llm_backend=args.llm_backend,
            llm_model=args.llm_model,
            llm_adapter=args.adapter,
            max_new_tokens=args.max_new_tokens,
        )
        from bot.answers.adapters import resolve_adapter

        adapter = resolve_adapter(
            config.llm_adapter, store_dir, config.llm_model, config.llm_backend
        )
        key = (args.llm_model, str(adapter))
        if key not in generators:
            generators[key] = load_generator_from_config(config)
        bot = eval_bot(config, generator=generators[key], progress=not args.quiet)
        try:
            cases = [c for path in case_files for c in load_cases(path)]
            result = asyncio.run(evaluate_bot(bot, cases, progress=not args.quiet))
        finally:
            bot.conversations.close()
        row = store_figures(name, result, bot.artifacts.manifest)
        row["model"] = result["model"]
        rows.append(row)
        print(
            f"{name:>18}: pass {row['pass_rate']:.3f}  answerable {row['answer_pass_rate']}  "
            f"abstention {row['abstention']}  clarify {row['clarification_rate']:.3f}  "
            f"curated {row['curated_share']:.2f}  ungrounded {row['ungrounded_numbers']}  "
            f"product->catalog {row['product_to_catalog']}  "
            f"knowledge->catalog {row['knowledge_to_catalog']}  "
            f"p50/p95 {row['turn_ms_p50']}/{row['turn_ms_p95']} ms",
            flush=True,
        )
    unseen = [r for r in rows if r["store"] != "demo"]
    summary = {
        "command": " ".join(sys.argv),
        "llm_backend": args.llm_backend,
        "llm_model": args.llm_model,
        "seconds": round(time.perf_counter() - started, 1),
        "mean_pass_rate_dev_stores": round(statistics.mean(r["pass_rate"] for r in unseen), 4)
        if unseen
        else None,
        "stores": rows,
    }
    return summary


def markdown(summary: dict[str, Any]) -> str:
    head = (
        "| store | cases | pass | answerable | abstention | clarify | curated | ungrounded "
        "| product -> catalogue | knowledge -> catalogue "
        "| turn p50 / p95 ms | points (quote / answer / clarify) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in summary["stores"]:
        pts = r["operating_points"] or {}
        lines.append(
            f"| {r['store']} | {r['cases']} | {r['pass_rate']:.3f} | {r['answer_pass_rate']} | "
            f"{r['abstention']} | {r['clarification_rate']:.3f} | {r['curated_share']:.2f} | "
            f"{r['ungrounded_numbers']} | {r['product_to_catalog']} | {r['knowledge_to_catalog']} | "
            f"{r['turn_ms_p50']} / {r['turn_ms_p95']} | "
            f"{pts.get('quote')} / {pts.get('answer')} / {pts.get('clarify')} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", help="comma-separated store names (default: all)")
    parser.add_argument("--llm-backend", default="transformers")
    parser.add_argument("--llm-model", default="qwen2.5-0.5b")
    parser.add_argument("--adapter", default=None, help="'none': the base model everywhere")
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    summary = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        print(markdown(summary))
    print(f"mean pass rate over the dev stores: {summary['mean_pass_rate_dev_stores']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
