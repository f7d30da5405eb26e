"""Benchmark the transformers chat backend: load time, time to first token, tokens/s.

Usage::

    python scripts/bench_generation.py [--models qwen2.5-0.5b smollm2-135m]
        [--max-new-tokens 64] [--prefill auto|none] [--json out.json]

For each model it loads :class:`bot.generation.TransformersGenerator` (the first
run also converts the GGUF into the safetensors cache; the conversion time is
read from the cache manifest), then streams replies to a short chat prompt and
to grounded prompts built like shopbot's real ones (system rules + three
passages). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from tests.conftest import NORTHWIND, make_hit  # noqa: E402  (hand-made hits)

PASSAGES = [
    make_hit(
        "doc:returns#refunds",
        "passage",
        "Refunds",
        "Once we receive your return, refunds are issued to the original payment method within "
        "5 to 7 business days. Orders paid with a gift card are refunded to a gift card "
        "immediately. Returns are accepted within 30 days of delivery for unworn items with tags "
        "attached. Final-sale items cannot be returned.",
    ),
    make_hit(
        "faq-shipping",
        "faq",
        "How long does shipping take?",
        "Standard shipping takes 3-5 business days and is free on orders over $50. Express "
        "shipping takes 1-2 business days and costs $15.",
    ),
    make_hit(
        "doc:orders#cancel",
        "passage",
        "Cancelling an order",
        "You can cancel an order while its status is pending. Once an order has shipped it can "
        "no longer be cancelled, but you can return it after delivery.",
    ),
]
QUESTIONS = [
    "How long do refunds take?",
    "How much does express shipping cost?",
    "Can I cancel my order after it shipped?",
]


def bench_model(spec: str, max_new_tokens: int, prefill: str) -> dict:
    """Load ``spec`` and time a few streamed replies."""
    from bot.generation import TransformersGenerator
    from bot.grounding import build_messages
    from bot.models import MANIFEST_NAME

    started = time.time()
    generator = TransformersGenerator(spec, prefill_dtype=None if prefill == "none" else prefill)
    load_seconds = time.time() - started
    manifest_path = generator.folder / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}

    prompts = [("chat", [{"role": "user", "content": "Say hello to a customer in one sentence."}])]
    prompts += [("grounded", build_messages(q, PASSAGES, [], NORTHWIND)) for q in QUESTIONS]
    # Warm-up: the first call pays for lazy initialisation inside torch.
    list(generator.stream(prompts[0][1], max_new_tokens=4))

    runs = []
    for kind, messages in prompts:
        prompt_tokens = len(generator.tokenizer(generator.render(messages))["input_ids"])
        t0 = time.time()
        first = None
        text = ""
        for piece in generator.stream(messages, max_new_tokens=max_new_tokens):
            if first is None:
                first = time.time()
            text += piece
        end = time.time()
        new_tokens = len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])
        decode_time = end - (first or end)
        runs.append(
            {
                "kind": kind,
                "prompt_tokens": prompt_tokens,
                "new_tokens": new_tokens,
                "ttft_s": round((first or end) - t0, 2),
                "total_s": round(end - t0, 2),
                # Tokens after the first, over the time after the first piece arrived.
                "decode_tok_s": round((new_tokens - 1) / decode_time, 1)
                if decode_time > 0
                else None,
                "reply": text.strip()[:200],
            }
        )
    grounded = [r for r in runs if r["kind"] == "grounded"]
    return {
        "model": generator.name,
        "folder": str(generator.folder),
        "dtype": generator.dtype,
        "prefill_dtype": generator.prefill_dtype or generator.dtype,
        "load_s": round(load_seconds, 1),
        "convert_s_first_run": manifest.get("convert_seconds"),
        "grounded_ttft_s_median": statistics.median(r["ttft_s"] for r in grounded),
        "decode_tok_s_median": statistics.median(
            r["decode_tok_s"] for r in runs if r["decode_tok_s"] is not None
        ),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "smollm2-135m"])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--prefill", default="auto", help="prefill dtype: auto (default), none, float32"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    import torch

    results = {
        "machine": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "platform": platform.platform(),
        },
        "models": [bench_model(m, args.max_new_tokens, args.prefill) for m in args.models],
    }
    out = json.dumps(results, indent=2)
    print(out)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
