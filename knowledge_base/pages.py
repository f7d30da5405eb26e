"""The store's pages (``docs/*.md``) split at their headings into ``Passage`` objects.

A passage is titled "Page title — Heading" and has the id
``doc:<file-stem>#<heading-slug>``; long sections are cut into chunks of about
``CHUNK_CHARS`` characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.store_files import slugify

# Sections longer than this are split into chunks of about this size: the
# embedding model only reads the first ~256 word pieces of a text, and a
# shorter passage is also a tighter source to quote.
CHUNK_CHARS = 1200


@dataclass
class Passage:
    """A section of one of the store's pages (``docs/*.md``), split at headings."""

    id: str  # "doc:<file-stem>#<heading-slug>", e.g. "doc:returns#refund-timing"
    title: str  # "Page title — Heading"
    text: str
    source: str  # path relative to the store, e.g. "docs/returns.md"


def passage_heading(title: str) -> str:
    """The heading of a passage title ("Page title — Heading" -> "Heading")."""
    return re.split(r"\s+[—–-]\s+", title)[-1].strip()


_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


def split_markdown(
    text: str, stem: str, source: str, used: set[str] | None = None
) -> list[Passage]:
    """Split a markdown page into passages at ``#``/``##``/``###`` headings.

    Text before the first heading belongs to the page title. Empty sections are
    skipped; sections longer than ``CHUNK_CHARS`` become chunks with ids
    suffixed ``-2``, ``-3``... ``used`` collects ids so they stay unique.
    """
    used = set() if used is None else used
    lines = text.splitlines()
    page_title = ""
    sections: list[tuple[str, list[str]]] = []
    heading, body = "", []
    in_fence = False
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence  # '#' inside a code block is not a heading
        match = None if in_fence else _HEADING.match(line)
        if match:
            sections.append((heading, body))
            heading, body = match.group(2).strip(), []
            if len(match.group(1)) == 1 and not page_title:
                page_title = heading
        else:
            body.append(line)
    sections.append((heading, body))
    if not page_title:
        page_title = stem.replace("_", " ").replace("-", " ").strip().capitalize() or stem

    passages: list[Passage] = []
    for head, body_lines in sections:
        body_text = "\n".join(body_lines).strip()
        if not body_text:
            continue
        head = head or page_title
        title = page_title if head == page_title else f"{page_title} — {head}"
        base = f"doc:{stem}#{slugify(head) or 'section'}"
        for i, chunk in enumerate(_chunks(body_text, CHUNK_CHARS)):
            pid = base if i == 0 else f"{base}-{i + 1}"
            pid = _unique(pid, used)
            passages.append(Passage(pid, title, chunk, source))
    return passages


def _unique(pid: str, used: set[str]) -> str:
    candidate, n = pid, 2
    while candidate in used:
        candidate, n = f"{pid}-{n}", n + 1
    used.add(candidate)
    return candidate


def _chunks(text: str, size: int) -> list[str]:
    """Pack paragraphs (then sentences, then words) into chunks of at most ~``size`` chars."""
    if len(text) <= size:
        return [text]
    pieces: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if len(para) <= size:
            pieces.append(para)
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", para):
            while len(sentence) > size:  # a run-on "sentence": cut at a space
                cut = sentence.rfind(" ", 0, size)
                cut = cut if cut > size // 2 else size
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            pieces.append(sentence)
    chunks: list[str] = []
    current = ""
    for piece in filter(None, pieces):
        joined = f"{current}\n\n{piece}" if current else piece
        if current and len(joined) > size:
            chunks.append(current)
            current = piece
        else:
            current = joined
    if current:
        chunks.append(current)
    return chunks
