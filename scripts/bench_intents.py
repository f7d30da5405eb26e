"""Intent benchmarks: CLINC150 (with out-of-scope) and Bitext, through ``shopbot eval intents``.

Usage::

    python scripts/bench_intents.py clinc   [--json out.json] [--report-dir DIR]
    python scripts/bench_intents.py bitext  [--json out.json] [--report-dir DIR]
    python scripts/bench_intents.py compare [--json out.json]

``clinc``: trains on CLINC150 ``train`` + ``oos_train`` and tests on ``test`` +
``oos_test`` (``../shared/datasets/clinc150/data_full.json``), by writing the two
CSVs into a temp dir and running the real command ``shopbot eval intents``.

``bitext``: the Bitext customer-support set, stratified 80/20 split, seed 0.

``compare``: the approaches considered for the default model, on the same frozen
MiniLM embeddings. Everything is *selected* on CLINC ``val`` + ``oos_val`` (the
threshold of each approach is set there at a fixed share of wrongly rejected
in-scope utterances); ``test`` + ``oos_test`` numbers are reported beside them,
never used to choose.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
CLINC = DATASETS / "clinc150" / "data_full.json"
BITEXT = DATASETS / "bitext" / "bitext_cs_21534.csv"


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)
    return path


def clinc_rows() -> dict[str, list[tuple[str, str]]]:
    """CLINC150 ``data_full.json`` splits as (text, intent) rows."""
    data = json.loads(CLINC.read_text(encoding="utf-8"))
    return {split: [(t, i) for t, i in rows] for split, rows in data.items()}


def bitext_split(seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Bitext, stratified 80/20 by intent with ``seed``."""
    from sklearn.model_selection import train_test_split

    with BITEXT.open(encoding="utf-8-sig", newline="") as fh:
        rows = [(r["utterance"].strip(), r["intent"].strip()) for r in csv.DictReader(fh)]
    train, test = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=[i for _, i in rows]
    )
    return train, test


def run_eval(
    train: list[tuple[str, str]], test: list[tuple[str, str]], report_dir: Path | None
) -> dict[str, Any]:
    """``shopbot eval intents`` on the rows (written as CSVs to a temp dir)."""
    from bot.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        argv = [
            "eval",
            "intents",
            "--train",
            str(_write_csv(tmp_dir / "train.csv", train)),
            "--test",
            str(_write_csv(tmp_dir / "test.csv", test)),
            "--json",
            str(tmp_dir / "result.json"),
        ]
        if report_dir is not None:
            argv += ["--report-dir", str(report_dir)]
        code = main(argv)
        if code != 0:
            raise SystemExit(code)
        return json.loads((tmp_dir / "result.json").read_text())


# --------------------------------------------------------------------------- compare


def _oos_metrics(
    probs: np.ndarray, score: np.ndarray, y: np.ndarray, oos: int, threshold: float
) -> dict[str, float]:
    """In-scope accuracy and oos recall when rejecting on the oos class or score < threshold."""
    masked = probs.copy()
    masked[:, oos] = -np.inf
    best = masked.argmax(axis=1)
    rejected = (probs[:, oos] >= masked.max(axis=1)) | (score < threshold)
    pred = np.where(rejected, oos, best)
    in_scope = y != oos
    return {
        "in_scope_accuracy": round(float((pred[in_scope] == y[in_scope]).mean()), 4),
        "oos_recall": round(float(rejected[~in_scope].mean()), 4),
        "false_oos_rate": round(float(rejected[in_scope].mean()), 4),
    }


def _auroc(score_in: np.ndarray, score_oos: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.ones(len(score_in)), np.zeros(len(score_oos))]
    return round(float(roc_auc_score(labels, np.r_[score_in, score_oos])), 4)


def compare(budgets: tuple[float, ...] = (0.01, 0.02, 0.03)) -> dict[str, Any]:
    """Heads and oos scores on frozen MiniLM; thresholds set on CLINC val."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    from knowledge_base.embeddings import get_encoder
    from training.intents import HEAD_C, EmbeddingCache, knn_similarity

    rows = clinc_rows()
    enc = get_encoder()
    cache = EmbeddingCache(enc.name, enc.dim)

    def embed(*splits: str) -> tuple[np.ndarray, list[str]]:
        part = [r for s in splits for r in rows[s]]
        return cache.encode([t for t, _ in part], enc, progress=True), [i for _, i in part]

    x_tr, l_tr = embed("train", "oos_train")
    x_va, l_va = embed("val", "oos_val")
    x_te, l_te = embed("test", "oos_test")
    intents = sorted(set(l_tr))
    oos = intents.index("oos")
    y_tr, y_va, y_te = (np.array([intents.index(i) for i in ls]) for ls in (l_tr, l_va, l_te))
    x_in = x_tr[y_tr != oos]

    heads: dict[str, Any] = {
        "logreg": LogisticRegression(C=HEAD_C, max_iter=1000, class_weight="balanced"),
        "mlp": MLPClassifier(
            hidden_layer_sizes=(768,), early_stopping=True, max_iter=60, random_state=0
        ),
    }
    results: dict[str, Any] = {}
    for head_name, head in heads.items():
        started = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            head.fit(x_tr, y_tr)
        fit_seconds = round(time.time() - started, 1)
        p_va, p_te = head.predict_proba(x_va), head.predict_proba(x_te)
        top_va = np.delete(p_va, oos, axis=1).max(axis=1)
        top_te = np.delete(p_te, oos, axis=1).max(axis=1)
        knn_va, knn_te = knn_similarity(x_va, x_in), knn_similarity(x_te, x_in)
        scores = {
            "max_prob": (top_va, top_te),
            "knn": (knn_va, knn_te),
            "max_prob+knn": (top_va + knn_va, top_te + knn_te),
        }
        for score_name, (s_va, s_te) in scores.items():
            name = f"{head_name} / {score_name}"
            entry: dict[str, Any] = {
                "fit_seconds": fit_seconds,
                "oos_class_only": _oos_metrics(p_te, np.full(len(y_te), np.inf), y_te, oos, 0),
                "auroc_val": _auroc(s_va[y_va != oos], s_va[y_va == oos]),
                "auroc_test": _auroc(s_te[y_te != oos], s_te[y_te == oos]),
            }
            for budget in budgets:
                in_va = np.sort(s_va[y_va != oos])
                threshold = float(in_va[int(np.floor(budget * len(in_va)))])
                entry[f"false_oos_{budget:.0%}"] = {
                    "val": _oos_metrics(p_va, s_va, y_va, oos, threshold),
                    "test": _oos_metrics(p_te, s_te, y_te, oos, threshold),
                }
            results[name] = entry
            print(name, json.dumps(entry), flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["clinc", "bitext", "compare"])
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--report-dir", type=Path, help="intent_report.json, errors, PNG")
    args = parser.parse_args()
    if args.what == "clinc":
        rows = clinc_rows()
        result = run_eval(
            rows["train"] + rows["oos_train"], rows["test"] + rows["oos_test"], args.report_dir
        )
    elif args.what == "bitext":
        train, test = bitext_split(seed=0)
        result = run_eval(train, test, args.report_dir)
    else:
        result = compare()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
