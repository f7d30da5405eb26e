"""``evaluate_intents``: train the intent model on one set, score it on another.

Used by ``shopbot eval intents`` (training/evaluate.py) and the benchmarks; writes
a per-intent report, the misclassified rows and a confusion-matrix plot on request.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from training.embedding_cache import EmbeddingCache
from training.intent_data import intent_rows
from training.intents import IntentClassifier, masked_mean


def evaluate_intents(
    train_rows: Iterable[Any] | str | Path,
    test_rows: Iterable[Any] | str | Path,
    encoder: Any,
    oos_label: str = "oos",
    report_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Train on ``train_rows``, score ``test_rows``; returns the metrics as a dict.

    Rows are ``(text, intent)`` pairs, dicts with ``text``/``intent`` keys, or the
    path of a ``text,intent`` CSV. Keys: ``accuracy``, ``macro_f1``,
    ``in_scope_accuracy``, ``oos_recall``, ``oos_precision``, ``false_oos_rate``
    (in-scope rows predicted ``oos``; macro F1 is over the test set's intents),
    ``train_seconds``, ``predict_ms_p50`` (one utterance at a time, ~200 of them),
    counts and ``warnings`` (e.g. test intents absent from training).
    With ``report_dir``: ``intent_report.json``, ``errors.json`` and
    ``confusion_matrix.png`` are written there.
    """
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    train = intent_rows(train_rows, "train rows")
    test = intent_rows(test_rows, "test rows")
    if not test:
        raise ValueError("the test set is empty: give at least one text,intent row to score")
    if not train:
        raise ValueError("the training set is empty: give text,intent rows to train on")

    warns: list[str] = []
    train_intents = {i for _, i in train}
    unseen = sorted({i for _, i in test} - train_intents - {oos_label})
    if unseen:
        n = sum(1 for _, i in test if i in unseen)
        warns.append(
            f"{len(unseen)} test intent(s) never seen in training ({n} rows, always wrong): "
            + ", ".join(unseen[:20])
        )

    t0 = time.time()
    clf = IntentClassifier.train(
        [t for t, _ in train], [i for _, i in train], encoder, oos_label, seed, progress
    )
    train_seconds = time.time() - t0

    texts = [t for t, _ in test]
    gold = [i for _, i in test]
    cache = EmbeddingCache(encoder.name, encoder.dim)
    x = cache.encode(texts, encoder, progress=progress)
    rankings = clf.rank_embeddings(x, texts)
    pred = [r[0][0] for r in rankings]

    # Latency as the server sees it: one utterance, encoder included, no cache.
    latencies = []
    for text in texts[:200]:
        t = time.perf_counter()
        clf.predict([text])
        latencies.append((time.perf_counter() - t) * 1000)

    g, p = np.array(gold), np.array(pred)
    is_oos, said_oos = g == oos_label, p == oos_label
    labels = sorted(set(gold) | set(pred))
    result: dict[str, Any] = {
        "accuracy": round(float((g == p).mean()), 4),
        # Macro F1 over the intents of the test set: an intent the test never asks
        # for (e.g. small talk) would only add a meaningless 0 to the average.
        "macro_f1": round(
            float(f1_score(g, p, labels=sorted(set(gold)), average="macro", zero_division=0)), 4
        ),
        "in_scope_accuracy": masked_mean(g == p, ~is_oos),
        "oos_recall": masked_mean(said_oos, is_oos),
        "oos_precision": masked_mean(is_oos, said_oos),
        "false_oos_rate": masked_mean(said_oos, ~is_oos),
        "train_seconds": round(train_seconds, 2),
        "predict_ms_p50": round(float(np.percentile(latencies, 50)), 2),
        "predict_ms_p95": round(float(np.percentile(latencies, 95)), 2),
        "threshold": round(clf.threshold, 4),
        "n_train": len(train),
        "n_test": len(test),
        "n_intents": len(train_intents),
        "encoder": encoder.name,
        "warnings": warns,
    }

    if report_dir is not None:
        out = Path(report_dir)
        out.mkdir(parents=True, exist_ok=True)
        prec, rec, f1, support = precision_recall_fscore_support(
            g, p, labels=labels, zero_division=0
        )
        confusions = Counter((a, b) for a, b in zip(gold, pred, strict=True) if a != b)
        per_intent = {}
        for k, label in enumerate(labels):
            top = [
                {"predicted": b, "count": c} for (a, b), c in confusions.most_common() if a == label
            ][:5]
            per_intent[label] = {
                "precision": round(float(prec[k]), 4),
                "recall": round(float(rec[k]), 4),
                "f1": round(float(f1[k]), 4),
                "support": int(support[k]),
                "top_confusions": top,
            }
        report = {
            "summary": {k: v for k, v in result.items() if k != "warnings"},
            "warnings": warns,
            "per_intent": per_intent,
            "top_confusions": [
                {"gold": a, "predicted": b, "count": c} for (a, b), c in confusions.most_common(30)
            ],
        }
        (out / "intent_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        errors = [
            {
                "text": text,
                "gold": gl,
                "predicted": r[0][0],
                "confidence": round(r[0][1], 4),
                "ranking": [[n, round(c, 4)] for n, c in r[:3]],
            }
            for text, gl, r in zip(texts, gold, rankings, strict=True)
            if r[0][0] != gl
        ]
        (out / "errors.json").write_text(json.dumps(errors, indent=2, ensure_ascii=False))
        try:
            _plot_confusion(gold, pred, out / "confusion_matrix.png")
            result["report_files"] = ["intent_report.json", "errors.json", "confusion_matrix.png"]
        except ImportError:
            warns.append(
                "matplotlib is not installed: no confusion-matrix PNG (pip install matplotlib)"
            )
            result["report_files"] = ["intent_report.json", "errors.json"]
    return result


def _plot_confusion(gold: list[str], pred: list[str], path: Path, top_n: int = 30) -> None:
    """Row-normalised confusion matrix; with many intents, only the ``top_n`` most confused."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers / CI
    import matplotlib.pyplot as plt

    labels = sorted(set(gold) | set(pred))
    if len(labels) > top_n:
        errors = Counter()
        for a, b in zip(gold, pred, strict=True):
            if a != b:
                errors[a] += 1
                errors[b] += 1
        labels = sorted(label for label, _ in errors.most_common(top_n)) or labels[:top_n]
    pos = {label: i for i, label in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)))
    for a, b in zip(gold, pred, strict=True):
        if a in pos and b in pos:
            m[pos[a], pos[b]] += 1
    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    size = max(6.0, 0.35 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    title = "Intent confusion (row-normalised)"
    if len(labels) < len(set(gold) | set(pred)):
        title += f", {len(labels)} most confused intents"
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
