"""Reading a store's data files: ``StoreError``, UTF-8 text, JSONL/CSV records, checked fields.

Every reader of the store format (``knowledge_base.store``, ``.catalog``,
``.faq``) goes through these, so bad data is reported the same way everywhere:
the file, the line and the field, with a hint on what to change, because the
person reading it is a merchant fixing a spreadsheet export, not a developer
reading a traceback. The field checks take an ``err(field, message, hint)``
callback that makes the ``StoreError`` with the reader's file and line.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

_TRUE = {"true", "yes", "y", "1", "in stock", "available"}
_FALSE = {"false", "no", "n", "0", "out of stock", "unavailable", "sold out"}


class StoreError(ValueError):
    """Bad store data; the message names the file, the line and the field."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str = "",
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = file if line is None else f"{file} line {line}"
        text = f"{where}: {message}"
        if hint:
            text += f". {hint}"
        super().__init__(text)


def slugify(text: str) -> str:
    """Lowercase; runs of non-alphanumerics become ``-``; ends stripped."""
    return re.sub(r"[\W_]+", "-", text.lower()).strip("-")


def read_text(path: Path, label: str) -> str:
    """The file's text (UTF-8, a BOM dropped); ``label`` names it in the error."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StoreError(
            label,
            f"is not UTF-8 text (byte {exc.start})",
            hint="Save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')",
        ) from exc


def read_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs from a JSONL or CSV file."""
    text = read_text(path, path.name)
    if path.suffix == ".csv":
        return _csv_records(text, path.name)
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StoreError(
                path.name,
                f"not valid JSON ({exc.msg} at column {exc.colno})",
                line=number,
                hint="Each line must be one complete JSON object; check for a missing comma, quote or brace",
            ) from exc
        if not isinstance(row, dict):
            raise StoreError(
                path.name,
                f"expected a JSON object, got {show(row)}",
                line=number,
                hint='Each line must look like {"id": ..., ...}',
            )
        rows.append((number, row))
    return rows


def _csv_records(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    fields = [f.strip() for f in reader.fieldnames or []]
    if not fields:
        return []
    reader.fieldnames = fields
    required = ("id", "title") if name.startswith("products") else ("question", "answer")
    for col in required:
        if col not in fields:
            raise StoreError(
                name,
                f"missing required column '{col}'",
                line=1,
                field=col,
                hint=f"The header row must include: {', '.join(required)}",
            )
    rows: list[tuple[int, dict[str, Any]]] = []
    start = reader.line_num + 1
    for row in reader:
        if None in row:
            raise StoreError(
                name,
                f"has {len(fields) + len(row[None])} cells but the header has {len(fields)} columns",
                line=start,
                hint="Quote cells that contain commas",
            )
        # Blank cells mean "not given", like a missing key in JSONL.
        clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        if any(v not in (None, "") for v in clean.values()):
            rows.append((start, {k: v for k, v in clean.items() if v not in (None, "")}))
        start = reader.line_num + 1
    return rows


def json_cell(value: str, field_: str, err: Any, example: str) -> Any:
    """A CSV cell holding JSON (attributes, variants), parsed."""
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise err(field_, f"is not valid JSON ({exc.msg})", f"Write it like {example}") from exc


def required_id(row: dict[str, Any], key: str, err: Any, hint: str) -> str:
    """A non-empty text or whole-number id, as text."""
    value = row.get(key)
    if value is None:
        raise err(key, "is required but missing", hint)
    if isinstance(value, str) and not value.strip():
        raise err(key, "is required but empty", hint)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise err(key, f"must be a text or whole number, got {show(value)}", hint)
    return str(value).strip()


def required_text(row: dict[str, Any], key: str, err: Any, hint: str) -> str:
    """A non-empty text, stripped."""
    value = row.get(key)
    if value is None:
        raise err(key, "is required but missing", hint)
    if isinstance(value, str) and not value.strip():
        raise err(key, "is required but empty", hint)
    if not isinstance(value, str):
        raise err(key, f"must be text, got {show(value)}", hint)
    return value.strip()


def optional_text(row: dict[str, Any], key: str, err: Any) -> str:
    """A text (numbers accepted as text), stripped; missing: ``""``."""
    value = row.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise err(key, f"must be text, got {show(value)}", "Put the value in quotes")
    return value.strip()


def price_field(value: Any, key: str, err: Any) -> float | None:
    """A price of 0 or more (a number or numeric text); missing: None."""
    if value is None or value == "":
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or math.isnan(number) or math.isinf(number):
        raise err(
            key,
            f"must be a number, got {show(value)}",
            "Write prices like 19.99 (no currency sign)",
        )
    if number < 0:
        raise err(key, f"must be 0 or more, got {show(value)}", "Prices cannot be negative")
    return number


def bool_field(value: Any, key: str, err: Any, default: bool) -> bool:
    """true/false, 0/1, or the yes/no words of a CSV; missing: ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise err(
        key, f"must be true or false, got {show(value)}", "Use true/false (or yes/no in a CSV)"
    )


def show(value: Any) -> str:
    """``value`` as JSON for an error message, cut at 60 characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
