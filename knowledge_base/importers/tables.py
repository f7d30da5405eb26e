"""Reading a shop system's CSV export: rows numbered as a spreadsheet shows them, columns
found by name (and by the names other versions of the exporter gave them), a file of
the wrong kind recognised and named, prices and lists parsed the way exporters write them.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from knowledge_base.store_files import StoreError, read_text

SPREADSHEET_SUFFIXES = {".xlsx", ".xls", ".xlsm", ".ods", ".numbers"}


@dataclass
class Table:
    """A CSV file's header and its non-blank rows.

    Rows are numbered as in a spreadsheet (the header is row 1), which is what a
    merchant sees when they open the export to fix it.
    """

    name: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]

    def column(self, *names: str) -> str | None:
        """The first of ``names`` the header has (compared ignoring case), as spelled there."""
        by_lower = {h.lower(): h for h in self.header}
        for name in names:
            found = by_lower.get(name.lower())
            if found is not None:
                return found
        return None


def read_table(path: Path) -> Table:
    """Read a CSV export (UTF-8, a BOM allowed; comma, semicolon or tab separated)."""
    name = path.name
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        raise StoreError(
            name,
            "is a spreadsheet file, not a CSV file",
            hint="Export it again as CSV, or open it and save it as 'CSV UTF-8'",
        )
    text = read_text(path, name)
    if not text.strip():
        raise StoreError(name, "is empty", hint="Export the data again; the file has no rows")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
        rows: list[tuple[int, dict[str, str]]] = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            extra = [c for c in cells[len(header) :] if c.strip()]
            if extra:
                raise StoreError(
                    name,
                    f"row {number} has {len(cells)} cells but the header has {len(header)} columns",
                    hint="A cell holding a comma must be in double quotes; export the file again "
                    "rather than editing it by hand",
                )
            row = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
            rows.append((number, row))
    except csv.Error as exc:
        raise StoreError(
            name,
            f"is not a readable CSV file ({exc}, near line {reader.line_num})",
            hint="Export the file again as CSV UTF-8",
        ) from exc
    return Table(name, header, rows)


# Columns that tell one export from another: (what it is, what to do with it, columns
# that must all be there).
_SIGNATURES = [
    ("a Shopify product export", "use `shopbot import shopify`", ("Handle", "Variant Price")),
    ("a Shopify product export", "use `shopbot import shopify`", ("URL handle", "Option1 value")),
    ("a WooCommerce product export", "use `shopbot import woocommerce`", ("Type", "Regular price")),
    ("an FAQ file", "use `shopbot import faq`", ("question", "answer")),
    ("a shopbot products file", "copy it into the store as products.csv", ("id", "title")),
    ("a shopbot intents file", "copy it into the store as intents.csv", ("text", "intent")),
]


def require_columns(table: Table, required: list[tuple[str, ...]], what: str) -> None:
    """Raise a ``StoreError`` naming the missing columns when ``table`` is not ``what``.

    ``required`` holds, per needed column, the names it goes by (first: the usual
    one). When the header looks like another known export, the error says which
    and the command that imports it.
    """
    missing = [names[0] for names in required if table.column(*names) is None]
    if not missing:
        return
    listed = ", ".join(f"'{m}'" for m in missing)
    hint = f"The header row has: {', '.join(table.header[:12]) or 'nothing'}"
    if len(table.header) > 12:
        hint += ", ..."
    other = guess_format(table)
    if other and other[0] != what:
        hint = f"It looks like {other[0]}: {other[1]}. " + hint
    raise StoreError(
        table.name,
        f"is not {what}: missing column{'s' if len(missing) > 1 else ''} {listed}",
        line=1,
        hint=hint,
    )


def guess_format(table: Table) -> tuple[str, str] | None:
    """(what the file looks like, what to do with it), from its header; None if unknown."""
    for what, command, columns in _SIGNATURES:
        if all(table.column(c) is not None for c in columns):
            return what, command
    return None


def parse_price(text: str) -> float | None:
    """A price as exporters write it: ``19.99``, ``1,234.50``, ``19,99`` (a decimal comma,
    as WooCommerce writes for such stores), a currency sign allowed; empty: None.

    Raises ``ValueError`` for anything else, or a negative or infinite amount.
    """
    s = text.strip().replace("\u00a0", "").replace(" ", "")
    s = s.strip("$€£¥₹")
    if not s:
        return None
    if "," in s and "." in s:
        # The separator written last is the decimal one: 1,234.50 or 1.234,50.
        s = (
            s.replace(".", "").replace(",", ".")
            if s.rfind(",") > s.rfind(".")
            else s.replace(",", "")
        )
    elif "," in s:
        groups = s.split(",")
        # 1,234 and 1,234,567 group thousands; 19,99 has a decimal comma.
        thousands = len(groups) > 2 or len(groups[-1]) == 3
        s = s.replace(",", "") if thousands else f"{groups[0]}.{groups[1]}"
    if not re.fullmatch(r"-?\d+(\.\d+)?", s):
        raise ValueError(f"{text!r} is not a price")
    value = float(s)
    if value < 0 or math.isinf(value):
        raise ValueError(f"{text!r} is not a price of 0 or more")
    return value


def split_list(text: str, separator: str = ",") -> list[str]:
    """``"a, b\\, c"`` -> ``["a", "b, c"]``: split at separators not escaped with a backslash
    (WooCommerce's exporter escapes commas inside names so)."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == separator:
            current.append(separator)
            i += 2
            continue
        if ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def true_cell(text: str) -> bool | None:
    """TRUE/FALSE, yes/no, 1/0 as exports write them; anything else (or empty): None."""
    low = text.strip().lower()
    if low in ("true", "yes", "y", "1", "t"):
        return True
    if low in ("false", "no", "n", "0", "f"):
        return False
    return None
