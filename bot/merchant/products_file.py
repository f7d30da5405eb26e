"""Writing one product's description into the store's products file, and nothing else.

The products file is the merchant's own (often a spreadsheet export), so an
approved description changes exactly one field of one row: every other row,
and every other field of that row, stays byte for byte as it was (a JSON
line's other keys and their spacing, a CSV row's other cells and their
quoting, line endings, a byte-order mark). The new file is written beside the
old one and renamed over it (never half-written), after a backup copy of the
old one, and only if the file is still what was read (no edit in between).
The written file is read back with the store's own reader; anything but the
one description changed restores the backup.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from bot.merchant.atomic import replace_file
from knowledge_base.catalog import load_products
from knowledge_base.store_files import StoreError

BOM = "\ufeff"


class ProductsFileError(ValueError):
    """The description could not be written; the message says why and what to do."""


def set_description(path: Path, product_id: str, text: str, backup_dir: Path) -> Path:
    """Write ``text`` as the description of ``product_id`` in ``path``; returns the backup."""
    raw = path.read_bytes()
    try:
        old = {p.id: asdict(p) for p in load_products(path)}
    except StoreError as exc:
        raise ProductsFileError(
            f"the products file does not load, so it was not changed: {exc}"
        ) from exc
    if product_id not in old:
        raise ProductsFileError(f"product {product_id!r} is not in {path.name}")
    before = raw.decode("utf-8")
    if path.suffix == ".csv":
        after = _csv_with_description(before, product_id, text)
    else:
        after = _jsonl_with_description(before, product_id, text)
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = backup_dir / f"{path.name}.{stamp}.{os.getpid()}.bak"
    shutil.copy2(path, backup)
    replace_file(path, after.encode("utf-8"), raw, ProductsFileError)
    # Read back with the store's own reader: only this one description may differ.
    expected = dict(old)
    expected[product_id] = {**old[product_id], "description": text.strip()}
    try:
        new = {p.id: asdict(p) for p in load_products(path)}
        problem = "" if new == expected else "it changed more than the one description"
    except StoreError as exc:
        problem = f"it did not read back: {exc}"
    if problem:
        replace_file(path, raw, None, ProductsFileError)
        raise ProductsFileError(f"{path.name} was restored as it was: {problem}")
    return backup


# --------------------------------------------------------------------------- JSONL


def _jsonl_with_description(text: str, product_id: str, description: str) -> str:
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        stripped = body.lstrip(BOM).strip()
        if not stripped:
            continue
        try:
            row = json.loads(stripped)
        except json.JSONDecodeError:
            continue  # the store's reader reports bad lines; they are left as they are
        if not isinstance(row, dict) or str(row.get("id", "")).strip() != product_id:
            continue
        ending = line[len(body) :]
        ascii_only = not any(ord(ch) > 127 for ch in body) and "\\u" in body
        value = json.dumps(description, ensure_ascii=ascii_only)
        lines[i] = _replace_value(body, "description", value, after="title") + ending
        return "".join(lines)
    raise ProductsFileError(f"product {product_id!r} is not in the products file")


def _replace_value(line: str, key: str, value: str, after: str) -> str:
    """``line`` (one JSON object) with ``key``'s value text replaced by ``value``; a missing
    key is added after the key ``after`` (or at the end), in the line's own spacing."""
    spans = _top_level_spans(line)
    if key in spans:
        start, end = spans[key][1]
        return line[:start] + value + line[end:]
    item_sep = ", " if '", "' in line or "}, {" in line or "], " in line else ","
    colon = ": " if '": ' in line else ":"
    insert = f"{item_sep}{json.dumps(key)}{colon}{value}"
    at = spans[after][1][1] if after in spans else None
    if at is None:
        at = line.rstrip().rfind("}")
        insert = insert if spans else insert[len(item_sep) :]
    return line[:at] + insert + line[at:]


def _top_level_spans(line: str) -> dict[str, tuple[int, tuple[int, int]]]:
    """Each top-level key of a JSON object line -> (key start, (value start, value end))."""
    decoder = json.JSONDecoder()
    out: dict[str, tuple[int, tuple[int, int]]] = {}
    i = _skip(line, 0)
    if line[i : i + 1] == BOM:
        i = _skip(line, i + 1)
    if line[i : i + 1] != "{":
        return out
    i = _skip(line, i + 1)
    while i < len(line) and line[i] != "}":
        key_start = i
        key, i = decoder.raw_decode(line, i)
        i = _skip(line, i)
        i = _skip(line, i + 1)  # the colon
        _, end = decoder.raw_decode(line, i)
        out[str(key)] = (key_start, (i, end))
        i = _skip(line, end)
        if line[i : i + 1] == ",":
            i = _skip(line, i + 1)
    return out


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


# --------------------------------------------------------------------------- CSV


def _csv_records(text: str) -> list[str]:
    """The file cut into records as written (a quoted cell may hold line breaks)."""
    records, current, quoted = [], "", False
    for line in text.splitlines(keepends=True):
        current += line
        quoted ^= line.count('"') % 2 == 1
        if not quoted:
            records.append(current)
            current = ""
    if current:
        records.append(current)
    return records


def _cells(record: str) -> list[str]:
    """The cells of one record as written (quotes and all), without its line ending."""
    body = record.rstrip("\r\n")
    cells, start, quoted = [], 0, False
    for i, ch in enumerate(body):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            cells.append(body[start:i])
            start = i + 1
    cells.append(body[start:])
    return cells


def _value(cell: str) -> str:
    return next(csv.reader(io.StringIO(cell)), [""])[0] if cell else ""


def _quote(value: str) -> str:
    needs = any(ch in value for ch in ',"\r\n') or value != value.strip()
    return '"' + value.replace('"', '""') + '"' if needs else value


def _csv_with_description(text: str, product_id: str, description: str) -> str:
    records = _csv_records(text)
    if not records:
        raise ProductsFileError("the products file is empty")
    header = [_value(c).strip().lstrip(BOM).strip() for c in _cells(records[0])]
    if "id" not in header:
        raise ProductsFileError("the products file has no 'id' column")
    id_at = header.index("id")
    for n, record in enumerate(records[1:], start=1):
        cells = _cells(record)
        if id_at >= len(cells) or _value(cells[id_at]).strip() != product_id:
            continue
        ending = record[len(record.rstrip("\r\n")) :]
        if "description" in header:
            at = header.index("description")
            cells += [""] * (at + 1 - len(cells))
            cells[at] = _quote(description)
        else:
            # A new last column: the header and this row grow, every other row stays as it
            # is (a short row reads as "not given" for the missing cells).
            head = records[0]
            head_ending = head[len(head.rstrip("\r\n")) :]
            records[0] = head.rstrip("\r\n") + ",description" + head_ending
            cells += [""] * (len(header) - len(cells)) + [_quote(description)]
        records[n] = ",".join(cells) + (ending or ("\n" if n < len(records) - 1 else ""))
        return "".join(records)
    raise ProductsFileError(f"product {product_id!r} is not in the products file")
