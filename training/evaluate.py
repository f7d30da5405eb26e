"""``shopbot eval``: measure intent classification and retrieval on labelled data."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any


def read_labelled_csv(path: Path, columns: tuple[str, str]) -> list[tuple[str, str]]:
    """Rows of a CSV with the two named columns; a clear error otherwise."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}; "
                f"the header must include {','.join(columns)} (found: {','.join(header) or 'nothing'})"
            )
        rows = []
        for line, row in enumerate(reader, start=2):
            a, b = (row.get(columns[0]) or "").strip(), (row.get(columns[1]) or "").strip()
            if not a or not b:
                raise ValueError(f"{path} line {line}: empty '{columns[0]}' or '{columns[1]}'")
            rows.append((a, b))
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return rows


def _write(result: dict[str, Any], json_path: Path | None) -> None:
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False))


def eval_intents(args: argparse.Namespace) -> dict[str, Any]:
    from knowledge_base.embeddings import get_encoder
    from training.intent_eval import evaluate_intents

    train = read_labelled_csv(args.train, ("text", "intent"))
    test = read_labelled_csv(args.test, ("text", "intent"))
    return evaluate_intents(
        train, test, get_encoder(), oos_label=args.oos_label, report_dir=args.report_dir
    )


def eval_retrieval(args: argparse.Namespace) -> dict[str, Any]:
    from knowledge_base.build import ensure_built
    from knowledge_base.embeddings import get_encoder
    from knowledge_base.index import KnowledgeIndex, evaluate_retrieval

    queries = read_labelled_csv(args.queries, ("query", "expected_id"))
    encoder = get_encoder()
    store_dir = args.store
    if store_dir is None:
        from bot.config import DEMO_STORE

        store_dir = DEMO_STORE
    artifacts = ensure_built(store_dir, progress=True, encoder=encoder)
    index = KnowledgeIndex.load(artifacts.index_dir, encoder)
    known = {d.id for d in index.documents}
    unknown = sorted({expected for _, expected in queries if expected not in known})
    result = evaluate_retrieval(index, queries)
    # The store's answer calibration: its operating points and held-out figures.
    result["calibration"] = artifacts.manifest.get("calibration")
    if unknown:
        result["warnings"] = [f"expected ids not in the store: {', '.join(unknown[:20])}"]
    return result


def main(args: argparse.Namespace) -> int:
    """Entry point of ``shopbot eval``."""
    result = eval_intents(args) if args.what == "intents" else eval_retrieval(args)
    _write(result, args.json)
    summary = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
    print(json.dumps(summary if summary else result, indent=2, ensure_ascii=False))
    calibration = result.pop("calibration", None) if args.what == "retrieval" else None
    for key, value in result.items():
        if isinstance(value, dict) and args.what == "retrieval":
            print(
                f"{key:>8}: "
                + "  ".join(f"{m}={v:.3f}" for m, v in value.items() if isinstance(v, float))
            )
    if calibration:
        points = calibration["operating_points"]
        print(
            "calibration: quote >= {quote}, answer >= {answer}, clarify >= {clarify}".format(
                **points
            )
            + (" (conservative)" if calibration.get("conservative") else "")
        )
        for name, value in calibration.get("validation", {}).get("held_out", {}).items():
            print(f"  held out: {name} {value}")
        for warning in calibration.get("warnings", []):
            print(f"warning: {warning}")
    for warning in result.get("warnings", []):
        print(f"warning: {warning}")
    return 0
