"""A LoRA adapter trained across several stores, not one: the default a new store could get.

The examples are each store's own (``training.datasets.store_examples``: FAQ
answers and paraphrases, policy passages, products, follow-ups, abstentions
where the passages do not answer), made exactly as ``shopbot finetune`` makes
them for one store, pooled, and trained in one run. Nothing of the stores it
is scored on goes in: score it with ``scripts/bench_stores.py --adapter OUT``
on the stores not in ``--stores``, so every figure is an unseen store's.

    python scripts/train_general_adapter.py --out /tmp/general-a \\
        --stores demo,abcd_clothing,faq_coffee,mixed_cosmetics [--steps 150]
    python scripts/bench_stores.py --llm-backend llama-cpp --adapter /tmp/general-a \\
        --stores faq_electronics,policy_furniture,taubench_retail

Two folds (each store scored by the adapter of the other fold) measure the
general adapter leave-one-fold-out; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def main() -> int:
    from bench_stores import dev_stores

    from bot.answers.adapters import MANIFEST_NAME
    from bot.answers.models import ensure_hf_folder, resolve_model
    from training.finetune import adapter_manifest, build_data
    from training.lora import Hyper, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stores", required=True, help="comma-separated dev store names")
    parser.add_argument("--base", default="qwen2.5-0.5b")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--paraphrases", type=int, default=2)
    args = parser.parse_args()

    known = {name: path for name, path, _ in dev_stores()}
    names = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown store(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty; choose another --out")
    hyper = Hyper(steps=args.steps, batch_size=args.batch_size, paraphrases=args.paraphrases)
    started = time.time()
    train_rows, val_rows, per_store = [], [], {}
    for name in names:
        # Each store's held-out entries stay out, as in shopbot finetune.
        data = build_data(known[name], None, args.out / "data" / name, hyper, progress=False)
        train_rows += data["train"]
        val_rows += data["val"]
        per_store[name] = {"train": len(data["train"]), "by_origin": data["report"].counts}
        print(f"{name}: {len(data['train'])} train / {len(data['val'])} validation", flush=True)
    # One pool; the trainer shuffles it each epoch, so stores mix in every batch.
    folder = ensure_hf_folder(resolve_model(args.base))
    metrics = train(folder, train_rows, val_rows, args.out, hyper, progress=True)
    manifest = {
        **adapter_manifest("scripts/train_general_adapter.py", args.base, hyper, metrics),
        "stores": names,
        "data": {"train": len(train_rows), "validation": len(val_rows), "by_store": per_store},
        "total_seconds": round(time.time() - started, 1),
    }
    (args.out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["metrics"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
