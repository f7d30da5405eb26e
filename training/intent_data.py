"""The intent model's training data: the shipped CSVs and a store's ``intents.csv``.

``read_intents_csv`` reads one ``text,intent`` file; ``builtin_training_data``
joins the data the product ships (Bitext, small talk, ``oos``) with a store's
own rows; ``intent_rows`` accepts rows in any of the forms ``evaluate_intents``
takes.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

# Data the product ships (see knowledge_base/data/NOTICE.md and scripts/make_intent_data.py).
BUILTIN_DATA_DIR = Path(__file__).resolve().parents[1] / "knowledge_base" / "data"
BUILTIN_FILES = ("bitext_intents.csv", "smalltalk.csv", "oos.csv")


def read_intents_csv(path: str | Path) -> list[tuple[str, str]]:
    """``(text, intent)`` rows of a CSV with ``text`` and ``intent`` columns.

    Raises ``ValueError`` naming the file (and line) when a column is missing or a
    row is empty; a UTF-8 BOM (spreadsheet exports) is accepted.
    """
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in ("text", "intent") if c not in header]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}; the first line must be a "
                f"header with 'text,intent' (found: {','.join(header) or 'nothing'})"
            )
        reader.fieldnames = header
        rows = []
        for line, row in enumerate(reader, start=2):
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not text and not intent:
                continue  # blank line
            if not text or not intent:
                field = "text" if not text else "intent"
                raise ValueError(f"{path} line {line}: empty '{field}'")
            rows.append((text, intent))
    return rows


def builtin_training_data(store_intents_csv: Path | None = None) -> tuple[list[str], list[str]]:
    """Texts and labels: shipped Bitext + small talk + ``oos`` data, plus the store's rows.

    A store's ``intents.csv`` *adds* examples: rows naming a built-in intent add to
    it, rows naming a new intent create it.
    """
    rows: list[tuple[str, str]] = []
    for name in BUILTIN_FILES:
        rows.extend(read_intents_csv(BUILTIN_DATA_DIR / name))
    if store_intents_csv is not None:
        rows.extend(read_intents_csv(store_intents_csv))
    return [t for t, _ in rows], [i for _, i in rows]


def intent_rows(rows: Any, what: str) -> list[tuple[str, str]]:
    """Accept a CSV path, (text, intent) pairs or dicts with text/intent keys."""
    if isinstance(rows, str | Path):
        return read_intents_csv(rows)
    out = []
    for row in rows:
        if isinstance(row, dict):
            if "text" not in row or "intent" not in row:
                raise ValueError(f"{what}: rows need 'text' and 'intent' keys, got {sorted(row)}")
            out.append((str(row["text"]), str(row["intent"])))
        else:
            text, intent = row
            out.append((str(text), str(intent)))
    return out
