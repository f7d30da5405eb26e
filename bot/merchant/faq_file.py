"""Adding one approved entry to the store's FAQ file, and nothing else.

The FAQ file is the merchant's own (``faq.jsonl`` or ``faq.csv``, often a
spreadsheet export), so an approved entry is one new row at the end: every
other row stays byte for byte as it was (line endings, quoting, a byte-order
mark); a file whose last line has no line ending gets one, in the file's own
style. A store without an FAQ file gets ``faq.jsonl``. The new file is written
beside the old one and renamed over it (never half-written), after a backup
copy, and only if the file is still what was read. It is read back with the
store's own reader: anything but the one new entry changed restores the backup.
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
from knowledge_base.faq import load_faqs
from knowledge_base.store_files import StoreError, slugify

BOM = "\ufeff"


class FAQFileError(ValueError):
    """The entry could not be written; the message says why and what to do."""


def faq_file(store_dir: Path) -> Path:
    """The store's FAQ file (``faq.jsonl`` if it has neither: the one an entry creates)."""
    for name in ("faq.jsonl", "faq.csv"):
        if (Path(store_dir) / name).is_file():
            return Path(store_dir) / name
    return Path(store_dir) / "faq.jsonl"


def add_faq(path: Path, question: str, answer: str, backup_dir: Path) -> tuple[str, Path | None]:
    """Append the entry to ``path``; returns (its FAQ id, the backup of the old file or None
    when the file is new). FAQFileError, and the file as it was, when it cannot be done."""
    question, answer = " ".join(question.split()), answer.strip()
    if not question or not answer:
        raise FAQFileError("an FAQ entry needs a question and an answer; nothing was written")
    raw = path.read_bytes() if path.exists() else b""
    try:
        old = load_faqs(path) if raw else []
    except StoreError as exc:
        raise FAQFileError(f"the FAQ file does not load, so it was not changed: {exc}") from exc
    same = [f for f in old if f.question.strip().lower() == question.lower()]
    if same:
        raise FAQFileError(
            f"{path.name} already has the question {question!r} (id {same[0].id}); edit that "
            "entry instead, or change the proposal's question"
        )
    text = raw.decode("utf-8")
    if path.suffix == ".csv":
        row, faq_id = _csv_row(text, question, answer, {f.id for f in old})
    else:
        row, faq_id = _jsonl_row(text, question, answer, {f.id for f in old})
    ending = "\r\n" if "\r\n" in text else "\n"
    if text and not text.endswith(("\n", "\r")):
        text += ending
    after = (text + row + ending).encode("utf-8")
    backup = None
    if path.exists():
        backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = backup_dir / f"{path.name}.{stamp}.{os.getpid()}.bak"
        shutil.copy2(path, backup)
    replace_file(path, after, raw, FAQFileError)
    problem = ""
    try:
        new = load_faqs(path)
        added = new[len(old) :]
        if [asdict(f) for f in new[: len(old)]] != [asdict(f) for f in old] or len(added) != 1:
            problem = "it changed more than the one new entry"
        elif (added[0].question, added[0].answer) != (question, answer):
            problem = "the new entry did not read back as written"
        else:
            faq_id = added[0].id
    except StoreError as exc:
        problem = f"it did not read back: {exc}"
    if problem:
        if raw:
            replace_file(path, raw, None, FAQFileError)
        else:
            path.unlink(missing_ok=True)
        raise FAQFileError(f"{path.name} was restored as it was: {problem}")
    return faq_id, backup


def _new_id(question: str, taken: set[str]) -> str:
    """An id like the reader derives (``faq-<slug>``), unused in the file."""
    base = "faq-" + (slugify(question)[:60].rstrip("-") or "question")
    fid, n = base, 2
    while fid in taken:
        fid, n = f"{base}-{n}", n + 1
    return fid


def _jsonl_row(text: str, question: str, answer: str, taken: set[str]) -> tuple[str, str]:
    """The new JSON line, with an ``id`` when the file's rows carry ids (as they do)."""
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line.lstrip(BOM)))
        except json.JSONDecodeError:
            continue
    with_ids = sum(isinstance(r, dict) and "id" in r for r in rows)
    entry: dict[str, str] = {}
    faq_id = _new_id(question, taken)
    if not rows or with_ids * 2 >= len(rows):
        entry["id"] = faq_id
    entry |= {"question": question, "answer": answer}
    sample = next((line for line in text.splitlines() if line.strip()), "")
    compact = sample and '": ' not in sample and '":' in sample
    ascii_only = bool(sample) and "\\u" in sample and not any(ord(c) > 127 for c in sample)
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(entry, ensure_ascii=ascii_only, separators=separators), faq_id


def _csv_row(text: str, question: str, answer: str, taken: set[str]) -> tuple[str, str]:
    """The new CSV record in the header's column order (empty cells for the others)."""
    header_line = text.lstrip(BOM).splitlines()[0] if text.strip() else ""
    header = [h.strip() for h in next(csv.reader([header_line]), [])]
    if "question" not in header or "answer" not in header:
        raise FAQFileError("the FAQ file's header has no 'question' and 'answer' columns")
    faq_id = _new_id(question, taken)
    values = {"question": question, "answer": answer, "id": faq_id if "id" in header else ""}
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([values.get(h, "") for h in header])
    return buf.getvalue(), faq_id
