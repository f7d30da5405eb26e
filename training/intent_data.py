"""The intent model's training data: the shipped CSVs and a store's ``intents.csv``.

``read_intents_csv`` reads one ``text,intent`` file; ``builtin_training_data``
joins the data the product ships (Bitext, small talk, ``oos``; for a store in
Chinese also the hand-written Chinese examples, ``language_training_files``) with
a store's own rows; ``intent_rows`` accepts rows in any of the forms
``evaluate_intents`` takes.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

# Data the product ships (see knowledge_base/data/NOTICE.md and scripts/make_intent_data.py).
BUILTIN_DATA_DIR = Path(__file__).resolve().parents[1] / "knowledge_base" / "data"
BUILTIN_FILES = ("bitext_intents.csv", "smalltalk.csv", "oos.csv")
# What a store in another language trains on besides the English files, by lexical
# language (knowledge_base.index.lexical_language): the Chinese examples of the
# routed and store-question intents and the Chinese off-topic questions (also the
# answer calibration's negatives), written for shopbot (zh/README.md).
LANGUAGE_FILES = {"zh": ("zh/intents.csv", "zh/oos.csv")}


def language_training_files(language: str | None) -> list[Path]:
    """The shipped intent data a store in ``language`` trains on beyond the English
    files (none for English: an English store's training data is the same as ever)."""
    from knowledge_base.index import lexical_language

    return [BUILTIN_DATA_DIR / name for name in LANGUAGE_FILES.get(lexical_language(language), ())]


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


def builtin_training_data(
    store_intents_csv: Path | None = None, language: str | None = None
) -> tuple[list[str], list[str]]:
    """Texts and labels: shipped Bitext + small talk + ``oos`` data, the shipped data
    of the store's ``language`` (Chinese: ``zh/intents.csv``), plus the store's rows.

    A store's ``intents.csv`` *adds* examples: rows naming a built-in intent add to
    it, rows naming a new intent create it.
    """
    rows: list[tuple[str, str]] = []
    for path in [BUILTIN_DATA_DIR / name for name in BUILTIN_FILES]:
        rows.extend(read_intents_csv(path))
    for path in language_training_files(language):
        rows.extend(read_intents_csv(path))
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
