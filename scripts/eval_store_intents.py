"""Score a store's own trained intent model on a held-out ``text,intent`` CSV.

Usage::

    python scripts/eval_store_intents.py --store tests/data/stores/faq_zh_tea \
        --heldout tests/data/stores/faq_zh_tea.intents_heldout.csv [--json out.json]

The store is built as ``shopbot`` builds it (``knowledge_base.build.ensure_built``: its
language's encoder and training data; an up-to-date build is reused, ``--copy`` builds
a temporary copy instead of writing ``STORE/.shopbot``), and the model of that build
scores the rows: accuracy, in-scope accuracy, the share of in-scope rows an action
would start on (right intent at confidence >= 0.5), oos recall and precision, recall
per intent, and the misclassified rows.

``--train-language en`` scores instead the model the store's encoder trains on the
English shipped data alone (what a Chinese store trained on before the Chinese
examples), without building the store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIN_CONFIDENCE = 0.5  # bot/turn/routes.py INTENT_MIN_CONFIDENCE: below it no action starts


def score(classifier: Any, rows: list[tuple[str, str]], oos: str = "oos") -> dict[str, Any]:
    """The metrics of ``classifier`` (anything with ``predict``) on ``(text, intent)`` rows."""
    texts, gold = [t for t, _ in rows], [i for _, i in rows]
    rankings = classifier.predict(texts)
    pred = [ranking[0][0] for ranking in rankings]
    # What the policy acts on: the right in-scope intent at INTENT_MIN_CONFIDENCE or more.
    sure = [g == r[0][0] and r[0][1] >= MIN_CONFIDENCE for g, r in zip(gold, rankings, strict=True)]
    per: dict[str, list[bool]] = defaultdict(list)
    for g, p in zip(gold, pred, strict=True):
        per[g].append(g == p)
    in_scope = [g == p for g, p in zip(gold, pred, strict=True) if g != oos]
    said_oos = [g == oos for g, p in zip(gold, pred, strict=True) if p == oos]
    return {
        "n": len(rows),
        "accuracy": round(sum(g == p for g, p in zip(gold, pred, strict=True)) / len(rows), 4),
        "in_scope_accuracy": round(sum(in_scope) / len(in_scope), 4) if in_scope else None,
        "confident_in_scope_accuracy": round(
            sum(s for s, g in zip(sure, gold, strict=True) if g != oos) / len(in_scope), 4
        )
        if in_scope
        else None,
        "oos_recall": round(sum(per[oos]) / len(per[oos]), 4) if per.get(oos) else None,
        "oos_precision": round(sum(said_oos) / len(said_oos), 4) if said_oos else None,
        "recall": {k: round(sum(v) / len(v), 4) for k, v in sorted(per.items())},
        "confusions": Counter(f"{g} -> {p}" for g, p in zip(gold, pred, strict=True) if g != p),
        "errors": [[t, g, p] for t, g, p in zip(texts, gold, pred, strict=True) if g != p],
    }


def trained_on(store_dir: Path, language: str) -> tuple[Any, dict[str, Any]]:
    """The model the store's encoder trains on ``language``'s shipped data (and the
    store's own ``intents.csv``), without building the store."""
    from knowledge_base.embeddings import encoder_name_for, get_encoder
    from knowledge_base.store import load_store
    from training.intent_data import builtin_training_data
    from training.intents import IntentClassifier

    encoder = get_encoder(encoder_name_for(load_store(store_dir).settings.language))
    own = store_dir / "intents.csv"
    texts, labels = builtin_training_data(own if own.exists() else None, language)
    model = IntentClassifier.train(texts, labels, encoder, progress=False)
    return model, {"encoder": encoder.name, "intent_examples": len(texts)}


def built(store_dir: Path, copy: bool) -> tuple[Any, dict[str, Any]]:
    """The intent model of the store's build (built first when out of date)."""
    from bot.nlu.intent_model import IntentClassifier
    from knowledge_base.build import ensure_built

    tmp = Path(tempfile.mkdtemp(prefix="eval-intents-")) if copy else None
    try:
        if tmp is not None:
            ignore = shutil.ignore_patterns(".shopbot")
            store_dir = Path(shutil.copytree(store_dir, tmp / store_dir.name, ignore=ignore))
        artifacts = ensure_built(store_dir, progress=False)
        model = IntentClassifier.load(artifacts.intents_dir, artifacts.encoder)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return model, {
        "encoder": artifacts.encoder.name,
        "intent_examples": artifacts.manifest.get("intent_examples"),
        "rebuilt": artifacts.rebuilt,
    }


def main() -> int:
    from training.intent_data import read_intents_csv

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--heldout", type=Path, required=True)
    ap.add_argument("--copy", action="store_true", help="build a temporary copy of the store")
    ap.add_argument("--train-language", help="train on this language's shipped data instead")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.train_language:
        model, info = trained_on(args.store, args.train_language)
    else:
        model, info = built(args.store, args.copy)
    result = score(model, read_intents_csv(args.heldout)) | info
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
