"""An FAQ from wherever the merchant keeps it, as shopbot FAQ entries.

- CSV (``question,answer[,category][,id]``; header case and common names such as
  Q/A, Title/Body, Response or Section accepted; comma, semicolon or tab);
- JSONL (one object a line) or JSON (a list of objects), with the same keys;
- an HTML or Markdown help page, split into questions and answers by
  ``knowledge_base.importers.help_pages``.

Answers written in HTML (help-desk exports) become plain text. A question asked
twice is taken once, and the report names the row of the other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from knowledge_base.importers.help_pages import html_blocks, markdown_blocks, pair_blocks
from knowledge_base.importers.html_text import html_to_text, looks_like_html
from knowledge_base.importers.report import ImportReport, ImportResult
from knowledge_base.importers.tables import guess_format, read_table
from knowledge_base.store_files import StoreError, read_text

QUESTION_KEYS = ("question", "questions", "q", "faq", "faq question", "query", "title", "subject")
ANSWER_KEYS = ("answer", "answers", "a", "response", "reply", "body", "content", "solution")
CATEGORY_KEYS = ("category", "section", "topic", "group")
SUFFIXES = {
    ".csv": "csv", ".tsv": "csv", ".txt": "markdown", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".json": "json", ".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown",
}  # fmt: skip
KINDS = {
    "csv": "FAQ CSV",
    "jsonl": "FAQ JSONL",
    "json": "FAQ JSON",
    "html": "HTML help page",
    "markdown": "Markdown help page",
}
RESERVED_PREFIXES = ("product:", "doc:")  # the index's ids for products and passages


def read_faq(path: Path) -> ImportResult:
    """The question/answer pairs of an FAQ file or help page, with the report."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise StoreError(
            path.name,
            f"is not a kind of file the FAQ import reads ({path.suffix or 'no extension'})",
            hint="Use a .csv, .jsonl, .json, .html or .md file",
        )
    report = ImportReport(source=path.name, kind=KINDS[kind])
    entries: list[tuple[str, dict[str, Any]]] = []  # (where, faq)
    if kind == "csv":
        entries = _from_csv(path, report)
    elif kind in ("jsonl", "json"):
        entries = _from_json(path, kind, report)
    else:
        text = read_text(path, path.name)
        blocks = html_blocks(text) if kind == "html" else markdown_blocks(text)
        pairs, unanswered, notes = pair_blocks(blocks)
        report.notes += notes
        for pair in unanswered:
            report.skip(
                f"line {pair.line}",
                f"question {pair.question!r}",
                "no answer text before the next question or heading",
            )
        for pair in pairs:
            faq = {"question": pair.question, "answer": pair.answer}
            if pair.category:
                faq["category"] = pair.category
            entries.append((f"line {pair.line}", faq))

    faqs = _unique(entries, report)
    report.sort_skipped()
    return ImportResult(report=report, faqs=faqs)


def _from_csv(path: Path, report: ImportReport) -> list[tuple[str, dict[str, Any]]]:
    table = read_table(path)
    q_col, a_col = table.column(*QUESTION_KEYS), table.column(*ANSWER_KEYS)
    if q_col is None or a_col is None:
        missing = [n for n, c in (("question", q_col), ("answer", a_col)) if c is None]
        other = guess_format(table)
        hint = f"It looks like {other[0]}: {other[1]}. " if other and "FAQ" not in other[0] else ""
        raise StoreError(
            path.name,
            f"is not an FAQ file: no {' or '.join(missing)} column",
            line=1,
            hint=hint + f"The header row has: {', '.join(table.header) or 'nothing'}; name the "
            "columns question and answer (Q/A, title/body, response... are understood too)",
        )
    c_col, id_col = table.column(*CATEGORY_KEYS), table.column("id")
    report.not_used += [
        f"column {h}: shopbot's FAQ has no field for it"
        for h in table.header
        if h not in (q_col, a_col, c_col, id_col) and any(r.get(h) for _, r in table.rows)
    ]
    out = []
    for number, row in table.rows:
        raw = {"question": row.get(q_col, ""), "answer": row.get(a_col, "")}
        if c_col:
            raw["category"] = row.get(c_col, "")
        if id_col:
            raw["id"] = row.get(id_col, "")
        faq = _checked(raw, f"row {number}", report)
        if faq is not None:
            out.append((f"row {number}", faq))
    return out


def _from_json(path: Path, kind: str, report: ImportReport) -> list[tuple[str, dict[str, Any]]]:
    text = read_text(path, path.name)
    items: list[tuple[str, Any]] = []
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(
                path.name,
                f"is not valid JSON ({exc.msg})",
                line=exc.lineno,
                hint='A .json FAQ is a list of {"question": ..., "answer": ...} objects; '
                "for one object a line, name the file .jsonl",
            ) from exc
        if isinstance(data, dict):  # {"faqs": [...]} and the like
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        if not isinstance(data, list):
            raise StoreError(path.name, "is not a list of questions", hint="Write [{...}, {...}]")
        items = [(f"item {i}", item) for i, item in enumerate(data, start=1)]
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                report.skip(f"line {number}", "a line", f"not valid JSON ({exc.msg})")
    out = []
    for where, item in items:
        if not isinstance(item, dict):
            report.skip(where, "an entry", "not a JSON object with question and answer")
            continue
        lower = {str(k).strip().lower(): v for k, v in item.items()}
        raw = {
            "question": next((lower[k] for k in QUESTION_KEYS if k in lower), ""),
            "answer": next((lower[k] for k in ANSWER_KEYS if k in lower), ""),
            "category": next((lower[k] for k in CATEGORY_KEYS if k in lower), ""),
            "id": lower.get("id", ""),
        }
        faq = _checked(raw, where, report)
        if faq is not None:
            out.append((where, faq))
    return out


def _checked(raw: dict[str, Any], where: str, report: ImportReport) -> dict[str, Any] | None:
    """One FAQ entry from question/answer/category/id values, or None (and a report line)."""
    values = {k: (str(v).strip() if v is not None else "") for k, v in raw.items()}
    question, answer = values.get("question", ""), values.get("answer", "")
    shown = f"question {question[:60]!r}" if question else "an entry"
    if not question:
        report.skip(where, shown, "no question")
        return None
    if looks_like_html(answer):
        answer = html_to_text(answer)
    if not answer:
        report.skip(where, shown, "no answer")
        return None
    faq: dict[str, Any] = {"question": question, "answer": answer}
    if values.get("category"):
        faq["category"] = values["category"]
    fid = values.get("id", "")
    if fid and fid.startswith(RESERVED_PREFIXES):
        report.notes.append(
            f"{where}: id {fid!r} starts with a prefix shopbot keeps for itself; left out"
        )
    elif fid:
        faq["id"] = fid
    return faq


def _unique(
    entries: list[tuple[str, dict[str, Any]]], report: ImportReport
) -> list[dict[str, Any]]:
    seen: dict[str, str] = {}
    ids: dict[str, str] = {}
    out = []
    for where, faq in entries:
        key = question_key(faq["question"])
        if key in seen:
            report.skip(
                where, f"question {faq['question'][:60]!r}", f"the same question as {seen[key]}"
            )
            continue
        if "id" in faq and faq["id"] in ids:
            report.notes.append(
                f"{where}: id {faq['id']!r} is also used at {ids[faq['id']]}; left out"
            )
            del faq["id"]
        seen[key] = where
        if "id" in faq:
            ids[faq["id"]] = where
        out.append(faq)
        report.taken.append(f"{where}: {faq['question'][:70]}")
        report.count("FAQs")
    return out


def question_key(question: str) -> str:
    """A question compared ignoring case, spacing and punctuation."""
    return re.sub(r"\W+", " ", question.casefold()).strip()
