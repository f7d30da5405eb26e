"""What an import made (``ImportResult``) and what it says about it (``ImportReport``).

The report is for the merchant: every skipped row is listed with where it is
(a spreadsheet row, a file line) and why, so nothing disappears unexplained.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Skipped:
    """A row (or a group of rows) the import did not take."""

    where: str  # "row 7", "rows 8-9", "data/nlu.yml line 12"
    what: str  # "product 'old-hoodie'"
    reason: str


@dataclass
class ImportReport:
    """What was taken, what was skipped and why, what was written, whether the store loads."""

    source: str
    kind: str  # what the source is: "Shopify product CSV"
    counts: dict[str, int] = field(default_factory=dict)
    taken: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_used: list[str] = field(default_factory=list)  # parts kept or ignored, and why
    notes: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    loads: bool | None = None  # None: not checked (a dry run)
    store_check: str = ""

    def skip(self, where: str, what: str, reason: str) -> None:
        """Record a skipped row."""
        self.skipped.append(Skipped(where, what, reason))

    def sort_skipped(self) -> None:
        """Skipped rows in file order (by the first number in ``where``)."""
        self.skipped.sort(key=lambda s: int(m.group()) if (m := re.search(r"\d+", s.where)) else 0)

    def count(self, what: str, n: int = 1) -> None:
        """Add ``n`` to the count of ``what`` taken ("products", "variants"...)."""
        self.counts[what] = self.counts.get(what, 0) + n

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (``--json``)."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def format(self, limit: int = 25) -> str:
        """The report as text; long lists are cut at ``limit`` lines (``--json`` has all)."""
        counts = ", ".join(f"{n} {what}" for what, n in self.counts.items()) or "nothing"
        lines = [f"{self.source} ({self.kind}): took {counts}."]
        lines += _section("Taken", self.taken, limit)
        lines += _section(
            f"Skipped ({len(self.skipped)})",
            [f"{s.where}: {s.what}: {s.reason}" for s in self.skipped],
            limit,
        )
        lines += _section("Not used", self.not_used, limit)
        lines += _section("Notes", self.notes, limit)
        lines += _section("Written", self.written, limit)
        if self.store_check:
            lines.append(self.store_check)
        return "\n".join(lines)


def _section(title: str, items: list[str], limit: int) -> list[str]:
    if not items:
        return []
    out = [f"{title}:"] + [f"  - {item}" for item in items[:limit]]
    if len(items) > limit:
        out.append(f"  ... and {len(items) - limit} more (the --json report lists all)")
    return out


@dataclass
class ImportResult:
    """The store records an import made, ready for ``store_writer.write_store``.

    ``None`` means "this import has none of these" (the store's file is left
    alone); ``settings`` are the values for a new ``store.toml`` when the store
    has none (name, currency, language).
    """

    report: ImportReport
    products: list[dict[str, Any]] | None = None
    faqs: list[dict[str, Any]] | None = None
    intents: list[tuple[str, str]] | None = None
    files: dict[str, str] = field(default_factory=dict)  # extra files: name -> text
    settings: dict[str, str] = field(default_factory=dict)


def rows_label(rows: list[int]) -> str:
    """``row 4`` or ``rows 4-6`` (spreadsheet rows: the header is row 1)."""
    if not rows:
        return "no row"
    lo, hi = min(rows), max(rows)
    return f"row {lo}" if lo == hi else f"rows {lo}-{hi}"


def plural(n: int, word: str, many: str = "") -> str:
    """``1 rule``, ``2 rules`` (``many`` when the plural is not ``word + "s"``)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
