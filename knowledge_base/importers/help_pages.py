"""A help page (HTML or Markdown) split into question/answer pairs.

Both formats are first read into the same ``Block`` stream (headings, questions,
text, and the end of a ``<details>`` or ``<dl>``), then paired by one rule:

- a question is a ``<dt>``, a ``<summary>``, a heading that ends in "?", or a
  paragraph whose bold lead ends in "?" (or that starts "Q:");
- its answer is the text after it, up to the next question, heading, or the end
  of its ``<details>``/``<dl>``; a leading "A:" is dropped;
- a heading that is not a question names the category of the questions under it
  (the page's first ``h1`` is its title, not a category);
- a page with no questions at all has its headings taken as the questions (and
  the report says so).

Only the standard library (``html.parser``, ``re``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from knowledge_base.importers.html_text import BLOCK_TAGS, SKIP_TAGS, link_text

HEADINGS = {f"h{i}": i for i in range(1, 7)}
# Page furniture, never an answer.
PAGE_CHROME = SKIP_TAGS | {"nav", "footer", "aside", "form", "button"}
_QA = re.compile(r"^(?:Q|Question)\s*[:.)]\s*(.+?\?)\s*(.*)$", re.IGNORECASE | re.DOTALL)
_A_PREFIX = re.compile(r"^(?:A|Answer)\s*[:.)]\s*", re.IGNORECASE)


@dataclass
class Block:
    """One block of a page, in reading order."""

    kind: str  # "heading" | "question" | "text" | "end"
    text: str
    line: int
    level: int = 0  # headings: 1-6
    rest: str = ""  # questions: the answer begun in the same paragraph


@dataclass
class PagePair:
    """A question found on the page and its answer."""

    question: str
    answer: str
    category: str
    line: int
    parts: list[str] = field(default_factory=list, repr=False)


def as_question(text: str, bold_lead: str) -> tuple[str, str] | None:
    """(question, answer begun after it) when a paragraph is a question, else None."""
    text = text.strip()
    if m := _QA.match(text):
        return m.group(1).strip(), _A_PREFIX.sub("", m.group(2).strip())
    lead = bold_lead.strip()
    if lead and text.startswith(lead) and lead.rstrip(" :").endswith("?"):
        return lead.rstrip(" :"), _A_PREFIX.sub("", text[len(lead) :].strip())
    return None


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- HTML -------------------------------------------------------------------------


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.stack: list[str] = []  # open block-level tags
        self.pieces: list[tuple[str, bool]] = []  # (text, bold) of the current block
        self.line = 0
        self.skip = 0
        self.bold = 0
        self.link: tuple[str | None, int] | None = None

    def flush(self) -> None:
        text = _squash("".join(t for t, _ in self.pieces))
        lead = ""
        for piece, bold in self.pieces:
            if not piece.strip() and not lead:
                continue
            if not bold:
                break
            lead += piece
        self.pieces = []
        if not text:
            return
        heading = next((t for t in reversed(self.stack) if t in HEADINGS), None)
        if heading:
            self.blocks.append(Block("heading", text, self.line, HEADINGS[heading]))
        elif any(t in ("dt", "summary") for t in self.stack):
            self.blocks.append(Block("question", text, self.line))
        elif q := as_question(text, _squash(lead)):
            self.blocks.append(Block("question", q[0], self.line, rest=q[1]))
        else:
            item = next((t for t in reversed(self.stack) if t in ("li", "ul", "ol")), None)
            self.blocks.append(Block("text", f"- {text}" if item == "li" else text, self.line))

    def _close_implied(self, tag: str) -> None:
        """HTML lets <p>, <li>, <dt> and <dd> go unclosed; a new one closes the last."""
        while self.stack and self.stack[-1] == "p":
            self.stack.pop()
        peers = {"li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}}.get(tag)
        if peers and self.stack and self.stack[-1] in peers:
            self.stack.pop()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in PAGE_CHROME:
            self.skip += 1
            return
        if self.skip:
            return
        if tag in BLOCK_TAGS or tag in ("td", "th"):
            self.flush()
            if tag not in ("br", "hr"):
                self._close_implied(tag)
                self.stack.append(tag)
        elif tag in ("strong", "b"):
            self.bold += 1
        elif tag == "a":
            self.link = (dict(attrs).get("href"), len(self.pieces))

    def handle_endtag(self, tag: str) -> None:
        if tag in PAGE_CHROME:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag in BLOCK_TAGS or tag in ("td", "th"):
            self.flush()
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            if tag in ("details", "dl"):
                self.blocks.append(Block("end", "", self.getpos()[0]))
        elif tag in ("strong", "b"):
            self.bold = max(0, self.bold - 1)
        elif tag == "a" and self.link is not None:
            href, start = self.link
            words = self.pieces[start:]
            text = link_text(_squash("".join(t for t, _ in words)), href)
            self.pieces[start:] = [(text, any(b for _, b in words))]
            self.link = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if data.strip() and not any(t.strip() for t, _ in self.pieces):
            self.line = self.getpos()[0] + data[: len(data) - len(data.lstrip())].count("\n")
        self.pieces.append((re.sub(r"\s+", " ", data), self.bold > 0))


def html_blocks(page: str) -> list[Block]:
    """The blocks of an HTML page (scripts, navigation, header and footer chrome left out)."""
    parser = _PageParser()
    parser.feed(page)
    parser.close()
    parser.flush()
    return parser.blocks


# --- Markdown ---------------------------------------------------------------------

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def md_inline(text: str) -> str:
    """Markdown inline markup as plain text: links keep their words (and an absolute address)."""
    s = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", lambda m: link_text(m[1], m[2]), s)
    s = re.sub(r"<((?:https?://|mailto:)[^>\s]+)>", lambda m: m[1].removeprefix("mailto:"), s)
    s = re.sub(r"(\*\*|__)(.+?)\1", r"\2", s)
    s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", s)
    s = re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"\1", s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    s = _TAG.sub("", s)
    s = re.sub(r"\\([\\`*_{}\[\]()#+\-.!?])", r"\1", s)
    return html.unescape(s).strip()


def markdown_blocks(text: str) -> list[Block]:
    """The blocks of a Markdown page (ATX and underlined headings, paragraphs, list items,
    ``<details><summary>`` written as HTML inside the Markdown)."""
    blocks: list[Block] = []
    para: list[str] = []
    start = 0
    item = False
    fence = False

    def flush() -> None:
        nonlocal para, item
        if para:
            raw = " ".join(para)
            lead = re.match(r"^(\*\*|__)(.+?)\1", raw)
            body = md_inline(raw)
            q = None if item else as_question(body, md_inline(lead.group(2)) if lead else "")
            if q:
                blocks.append(Block("question", q[0], start, rest=q[1]))
            elif body:
                blocks.append(Block("text", f"- {body}" if item else body, start))
        para, item = [], False

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            flush()
            fence = not fence
            continue
        if fence:
            if stripped:
                blocks.append(Block("text", stripped, number))
            continue
        if not stripped:
            flush()
            continue
        if m := _ATX.match(stripped):
            flush()
            blocks.append(Block("heading", md_inline(m.group(2)), number, len(m.group(1))))
            continue
        if re.fullmatch(r"=+|-+", stripped) and len(para) == 1 and not item:
            heading, para = para[0], []  # an underlined (setext) heading
            level = 1 if stripped[0] == "=" else 2
            blocks.append(Block("heading", md_inline(heading), start, level))
            continue
        if _RULE.match(stripped):
            flush()
            continue
        if m := _SUMMARY.search(stripped):
            flush()
            blocks.append(Block("question", md_inline(m.group(1)), number))
            stripped = stripped[m.end() :].strip()
        if "</details>" in stripped.lower():
            flush()
            blocks.append(Block("end", "", number))
            continue
        stripped = re.sub(r"^<details[^>]*>", "", stripped, flags=re.IGNORECASE).strip()
        stripped = stripped.lstrip(">").strip()  # a blockquote's marker
        if not stripped:
            continue
        if m := _ITEM.match(stripped):
            flush()
            para, item, start = [m.group(1)], True, number
            continue
        if not para:
            start = number
        para.append(stripped)
    flush()
    return blocks


# --- pairing ----------------------------------------------------------------------


def pair_blocks(blocks: list[Block]) -> tuple[list[PagePair], list[PagePair], list[str]]:
    """(pairs with answers, questions found without one, notes) from a page's blocks."""
    notes: list[str] = []
    title = blocks[0] if blocks and blocks[0].kind == "heading" and blocks[0].level == 1 else None
    found = any(
        b.kind == "question" or (b.kind == "heading" and b.text.endswith("?")) for b in blocks
    )
    if not found:
        notes.append(
            "no questions on the page (no heading, <dt>, <summary> or bold paragraph ending "
            "in '?'): each heading was taken as a question and the text under it as its answer; "
            "a policy page may suit the store better as docs/<name>.md"
        )
    pairs: list[PagePair] = []
    unanswered: list[PagePair] = []
    current: PagePair | None = None
    category = ""
    before_first = 0

    def close() -> None:
        if current is None:
            return
        parts = [p for p in current.parts if p]
        if parts:
            parts[0] = _A_PREFIX.sub("", parts[0])
        answer = ""
        for part in parts:
            if answer:
                answer += "\n" if part.startswith("- ") else "\n\n"
            answer += part
        current.answer = answer.strip()
        (pairs if current.answer else unanswered).append(current)

    for b in blocks:
        heading_question = (
            b.kind == "heading" and b is not title and (b.text.endswith("?") or not found)
        )
        if b.kind == "question" or heading_question:
            close()
            question = b.text.strip().rstrip(":").strip()
            current = PagePair(question, "", category, b.line, [b.rest] if b.rest else [])
        elif b.kind == "heading":
            close()
            current = None
            if b is not title:
                category = b.text
        elif b.kind == "end":
            close()
            current = None
        elif current is not None:
            current.parts.append(b.text)
        else:
            before_first += 1
    close()
    if before_first and pairs:
        notes.append(f"{before_first} paragraph(s) before the first question were not taken")
    return pairs, unanswered, notes
