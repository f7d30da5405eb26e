"""The FAQ: questions the merchant has already answered, read from ``faq.jsonl`` or ``faq.csv``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from knowledge_base.store_files import (
    StoreError,
    optional_text,
    read_records,
    required_id,
    required_text,
    show,
    slugify,
)


@dataclass
class FAQ:
    """A question the merchant has already answered."""

    id: str
    question: str
    answer: str
    category: str


def load_faqs(path: Path) -> list[FAQ]:
    """The FAQs of ``faq.jsonl`` or ``faq.csv``; an FAQ without an id gets one from its question."""
    name = path.name
    faqs: list[FAQ] = []
    seen: dict[str, int] = {}
    for line, row in read_records(path):

        def err(field_: str, message: str, hint: str = "", _line: int = line) -> StoreError:
            return StoreError(
                name, f"field '{field_}' {message}", line=_line, field=field_, hint=hint
            )

        question = required_text(row, "question", err, "Every FAQ needs a question")
        answer = required_text(row, "answer", err, "Every FAQ needs an answer")
        category = optional_text(row, "category", err)
        if row.get("id") not in (None, ""):
            fid = required_id(row, "id", err, "")
            if fid.startswith(("product:", "doc:")):
                # Products and passages get these prefixes in the index.
                raise err(
                    "id",
                    f"uses a reserved prefix: {show(fid)}",
                    "FAQ ids may not start with 'product:' or 'doc:'",
                )
            if fid in seen:
                raise StoreError(
                    name,
                    f"field 'id': duplicate FAQ id {show(fid)} (first used on line {seen[fid]})",
                    line=line,
                    field="id",
                    hint="Give each FAQ its own id, or leave id empty to derive it from the question",
                )
        else:
            base = "faq-" + _truncate_slug(slugify(question) or "question", 60)
            fid, n = base, 2
            while fid in seen:  # two questions that slug alike
                fid, n = f"{base}-{n}", n + 1
        seen[fid] = line
        faqs.append(FAQ(fid, question, answer, category))
    return faqs


def _truncate_slug(slug: str, limit: int) -> str:
    if len(slug) <= limit:
        return slug
    cut = slug[:limit]
    return cut.rsplit("-", 1)[0] if "-" in cut else cut
