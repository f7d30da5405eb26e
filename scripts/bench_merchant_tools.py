"""The merchant tools measured: grounded product descriptions (and, later, FAQ learning).

Descriptions (``--part descriptions``, the default): every product of a store (or
the first ``--limit``) described by ``bot.merchant.describe`` with the chosen
chat backend, then measured: the share of kept sentences fully supported (each
re-checked by a fresh checker and resting on at least one record field: should
be 100 %), how many of the model's draft sentences the check dropped (and why),
how many sentences came from the model and how many from the templates, mean
description length in words, words per sentence (a simple readability figure),
and seconds per product (model load reported apart). Nothing is written to the
store: the drafts are not proposed.

    python scripts/bench_merchant_tools.py --llm-backend none
    nice -n 10 python scripts/bench_merchant_tools.py --llm-backend llama-cpp \\
        --llm-model qwen2.5-0.5b --limit 10 --json /tmp/descriptions.json

A later part (FAQ learning) adds its function to ``PARTS`` and is chosen with
``--part faq``; its figures go beside these in the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "knowledge_base" / "demo_store"


def _reason_kind(reason: str) -> str:
    """ "claim not in the record: waterproof" -> "claim"; "words the record ..." -> "words"."""
    head = reason.split(":")[0]
    if head.startswith("words the record"):
        return "unsupported words"
    if " is a " in reason and ", not a " in reason:
        return "value of another key"
    if reason.startswith("price ") and "not the price of a variant" in reason:
        return "wrong variant price"
    if reason.startswith("says "):
        return "wrong count or stock"
    if reason.startswith("states ") and "each variant has one" in reason:
        return "options stated as combined"
    return re.sub(r" not in the record$", "", head)


def _words(text: str, language: str) -> int:
    if language == "zh":
        return len(re.findall(r"[\u3400-\u9fff]", text))  # characters, for Chinese
    return len(text.split())


def load_generator(args: argparse.Namespace) -> tuple[Any, float]:
    """The chat backend the options name (None for "none") and its load time in seconds."""
    if args.llm_backend == "none":
        return None, 0.0
    from bot.answers.generation import load_generator as load

    started = time.perf_counter()
    generator = load(backend=args.llm_backend, model=args.llm_model, base_url=args.llm_base_url)
    return generator, time.perf_counter() - started


def bench_descriptions(args: argparse.Namespace) -> dict[str, Any]:
    """Describe the store's products and measure the descriptions (see the module docstring)."""
    from bot.merchant.claims import ClaimChecker
    from bot.merchant.describe import describe, description_language
    from bot.merchant.facts import record_of
    from knowledge_base.store import load_store

    store = load_store(args.store)
    products = store.products[: args.limit] if args.limit else store.products
    language = description_language(store.settings.language, args.lang)
    generator, load_seconds = load_generator(args)
    rows = []
    reasons: Counter[str] = Counter()
    kept_model: list[dict[str, Any]] = []
    for product in products:
        result = describe(
            product,
            currency=store.settings.currency,
            language=language,
            tone=args.tone,
            generator=generator,
            max_new_tokens=args.max_new_tokens,
        )
        checker = ClaimChecker(record_of(product, store.settings.currency, language))
        supported = sum(bool(s.rests_on) and checker.check(s.text).ok for s in result.sentences)
        model_drafted = [s for s in result.rejected if s.source == "model"]
        model_kept = [s for s in result.sentences if s.source == "model"]
        for s in model_drafted:
            reasons.update({_reason_kind(r) for r in s.reasons})
        kept_model += [
            {"product": product.title, "text": s.text, "rests_on": s.rests_on} for s in model_kept
        ]
        rows.append(
            {
                "product_id": product.id,
                "title": product.title,
                "sentences": len(result.sentences),
                "supported": supported,
                "model_kept": len(model_kept),
                "model_dropped": len(model_drafted),
                "template_dropped": sum(s.source == "template" for s in result.rejected),
                "words": _words(result.text, language),
                "seconds": round(result.seconds, 3),
                "error": result.error,
                "description": result.text,
                "dropped": [{"text": s.text, "reasons": s.reasons} for s in result.rejected],
            }
        )
        if not args.quiet:
            print(
                f"{product.title[:28]:>28}: {len(result.sentences)} sentences "
                f"({len(model_kept)} model), {len(model_drafted)} model sentences dropped, "
                f"{result.seconds:.1f} s",
                flush=True,
            )
    sentences = sum(r["sentences"] for r in rows)
    drafted = sum(r["model_kept"] + r["model_dropped"] for r in rows)
    return {
        "store": str(args.store),
        "products": len(rows),
        "language": language,
        "tone": args.tone,
        "generator": getattr(generator, "name", "none") if generator else "none",
        "load_seconds": round(load_seconds, 1),
        "sentences_kept": sentences,
        "supported_share": round(sum(r["supported"] for r in rows) / sentences, 4)
        if sentences
        else None,
        "model_sentences_drafted": drafted,
        "model_sentences_dropped": sum(r["model_dropped"] for r in rows),
        "model_sentences_kept": sum(r["model_kept"] for r in rows),
        "template_sentences_kept": sentences - sum(r["model_kept"] for r in rows),
        "template_sentences_dropped": sum(r["template_dropped"] for r in rows),
        "drop_reasons": dict(reasons.most_common()),
        "mean_words": round(statistics.mean(r["words"] for r in rows), 1),
        "words_per_sentence": round(sum(r["words"] for r in rows) / sentences, 1)
        if sentences
        else None,
        "seconds_per_product": round(statistics.mean(r["seconds"] for r in rows), 3),
        "seconds_per_product_max": round(max(r["seconds"] for r in rows), 3),
        "errors": sum(bool(r["error"]) for r in rows),
        "model_sentences_kept_list": kept_model,
        "rows": rows,
    }


# The parts of this benchmark; FAQ learning adds ``"faq": bench_faq_learning`` here.
PARTS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "descriptions": bench_descriptions,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), default="descriptions")
    parser.add_argument("--store", type=Path, default=DEMO)
    parser.add_argument(
        "--llm-backend", default="none", choices=["none", "llama-cpp", "transformers", "openai"]
    )
    parser.add_argument("--llm-model", default="qwen2.5-0.5b")
    parser.add_argument("--llm-base-url", default=None)
    parser.add_argument("--limit", type=int, default=0, help="only the first N products")
    parser.add_argument("--lang", choices=["en", "zh"], default=None)
    parser.add_argument("--tone", default="friendly", choices=["friendly", "concise", "premium"])
    parser.add_argument("--max-new-tokens", type=int, default=220)
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = {"command": " ".join(["python", *sys.argv]), "part": args.part}
    result |= PARTS[args.part](args)
    result["seconds"] = round(time.perf_counter() - started, 1)
    summary = {k: v for k, v in result.items() if k not in ("rows", "model_sentences_kept_list")}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
