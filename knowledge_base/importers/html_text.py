"""HTML (a product's "Body (HTML)", an FAQ answer) as the plain text the bot may quote.

Block elements become line breaks, list items "- " lines, links keep their text
(and an absolute address, so a customer can follow it), scripts and styles go.
Only the standard library's ``html.parser``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
}  # fmt: skip
# Whose text is never content: code, styling, page furniture.
SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "select"}
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def looks_like_html(text: str) -> bool:
    """True when ``text`` holds HTML tags (an answer exported from a help desk, say)."""
    return bool(_TAG.search(text))


def link_text(text: str, href: str | None) -> str:
    """A link as text: its words, plus the address when it is absolute and not the words."""
    text = text.strip()
    if href and href.startswith(("http://", "https://", "mailto:")):
        address = href.removeprefix("mailto:")
        if address not in text:
            return f"{text} ({address})" if text else address
    return text


def tidy(text: str) -> str:
    """Runs of spaces to one, at most one blank line in a row, ends stripped."""
    lines = [re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


class _TextParser(HTMLParser):
    def __init__(self, keep_newlines: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_newlines = keep_newlines
        self.parts: list[str] = []
        self.skip = 0
        self.link: tuple[str | None, int] | None = None  # (href, index in parts)
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self.skip += 1
        elif tag == "a":
            self.link = (dict(attrs).get("href"), len(self.parts))
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "pre":
            self.pre += 1
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in BLOCK_TAGS:
            self.parts.append("\n\n" if tag in ("p", "div", "table", "ul", "ol", "h1", "h2",
                                                 "h3", "h4", "h5", "h6") else "\n")  # fmt: skip

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.link is not None:
            href, start = self.link
            words = "".join(self.parts[start:])
            self.parts[start:] = [link_text(words, href)]
            self.link = None
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.parts.append("\n")
        elif tag in BLOCK_TAGS and tag not in ("br", "li", "tr"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self.parts.append(data)
        else:
            space = r"[ \t\r\f\v]+" if self.keep_newlines else r"\s+"
            self.parts.append(re.sub(space, " ", data))


def html_to_text(html: str, keep_newlines: bool = False) -> str:
    """The readable text of an HTML fragment (entities decoded, tags gone).

    In HTML a newline is a space; ``keep_newlines`` keeps them as line breaks, for
    text where they mean one (WordPress content; plain text, which always keeps them).
    """
    parser = _TextParser(keep_newlines or not looks_like_html(html))
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.parts))
