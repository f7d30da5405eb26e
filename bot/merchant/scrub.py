"""Personal data out of a learned FAQ entry: what a customer or an agent said, made general.

The turn log is already redacted on the way in (bot/storage/privacy.py: emails,
card and phone numbers, street addresses); an FAQ entry is published to every
customer, so it loses more: order ids (``#W2611340``), long numbers (tracking
and item numbers), zip codes, and people's names. Names are the store's
customers' (``customers.jsonl``: full names anywhere; first or last names where
text addresses a person, "Hi Ivan," or "Mr. Santos"), the agents' display names,
and whatever follows "my name is" or "Hi". Each removal leaves a placeholder
(``[ORDER]``, ``[NAME]`` ...) so the merchant sees that something was there;
:func:`personal_marks` finds them, and a proposal whose answer still has one
warns that it was written about one customer's case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from bot.storage.privacy import redact
from knowledge_base.store_files import StoreError, read_records

ORDER_RE = re.compile(r"(?<![\w#])#\s?[A-Za-z]{0,3}\d{4,}\b|\b[A-Z]{1,3}\d{6,}\b")
LONG_NUMBER_RE = re.compile(r"(?<![\d.,$])\d{7,}(?![\d.,]\d)")
ZIP_RE = re.compile(
    r"\b(zip(?:\s*code)?|postcode|postal code)(\s*(?:is|:)?\s*)\d{5}(?:-\d{4})?\b", re.I
)
NAME_INTRO_RE = re.compile(
    r"\b(my name is|my name's|name:)(\s+)([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?)", re.I
)
# "Hi Ivan," "thanks, Ivan!" "this is Dana": a capitalised word right after a greeting or
# an introduction (which ones count: Scrubber._greeting).
GREETING_RE = re.compile(
    r"\b((?i:hi|hello|hey|dear|thanks|thank you|sorry|this is|i am|i'm))(,?\s+)([A-Z][a-z'-]+)"
)
TITLE_RE = re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr|Mx)(\.?\s+)([A-Z][a-z'-]+)")
# "Ivan, your refund ...": a known name addressed at the start of a sentence.
ADDRESSED_RE = re.compile(r"(^|[.!?]\s+)([A-Z][a-z'-]+)(?=,)")
MARKS = ("[ORDER]", "[NUMBER]", "[ZIP]", "[NAME]", "[EMAIL]", "[PHONE]", "[CARD]", "[ADDRESS]")
MARK_RE = re.compile("|".join(re.escape(m) for m in MARKS))


class Scrubber:
    """Removes personal data from text; ``names`` are people's names to take out."""

    def __init__(self, names: Iterable[str] = (), agents: Iterable[str] = ()) -> None:
        full, single = {" ".join(str(a).split()) for a in agents if len(str(a).strip()) >= 2}, set()
        for name in names:
            name = " ".join(str(name).split())
            if len(name) < 2:
                continue
            (full if " " in name else single).add(name)
            for part in name.split():
                if len(part) >= 2:
                    single.add(part)
        self._full = _alternation(full)
        self._single = single

    @classmethod
    def for_store(cls, store_dir: Path, agents: Iterable[str] = ()) -> Scrubber:
        """A scrubber knowing the names in the store's ``customers.jsonl`` and the agents'."""
        names: list[str] = []
        path = Path(store_dir) / "customers.jsonl"
        if path.is_file():
            try:
                for _, row in read_records(path):
                    names += [
                        str(row[k]) for k in ("name", "first_name", "last_name") if row.get(k)
                    ]
            except StoreError:
                pass  # a broken customers file costs only the name list, not the proposals
        return cls(names, agents)

    def __call__(self, text: str) -> str:
        """``text`` without personal data, its whitespace tidied."""
        text = redact(text or "")
        text = ORDER_RE.sub("[ORDER]", text)
        text = LONG_NUMBER_RE.sub("[NUMBER]", text)
        text = ZIP_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}[ZIP]", text)
        text = NAME_INTRO_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}[NAME]", text)
        if self._full is not None:
            text = self._full.sub("[NAME]", text)
        text = GREETING_RE.sub(self._greeting, text)
        text = TITLE_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}[NAME]", text)
        text = ADDRESSED_RE.sub(
            lambda m: f"{m.group(1)}[NAME]" if m.group(2) in self._single else m.group(0), text
        )
        text = re.sub(r"\[NAME\](\s+\[NAME\])+", "[NAME]", text)
        return " ".join(text.split())

    def _greeting(self, m: re.Match[str]) -> str:
        # "Hi Ivan" and "Dear Ivan" whoever Ivan is; "Thanks Ivan", "this is Ivan" only for
        # a known name (not "Thanks Everyone", "this is Harbor & Pine").
        known = m.group(3) in self._single or m.group(1).lower() in ("hi", "hello", "hey", "dear")
        return f"{m.group(1)}{m.group(2)}[NAME]" if known else m.group(0)


def personal_marks(text: str) -> list[str]:
    """The placeholders in ``text`` (what was personal in it), in order of appearance."""
    return list(dict.fromkeys(MARK_RE.findall(text or "")))


def _alternation(names: set[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    ordered = sorted(names, key=len, reverse=True)  # "Ivan Santos Jr" before "Ivan Santos"
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in ordered) + r")\b")
