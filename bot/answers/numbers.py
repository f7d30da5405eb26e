"""The numbers a text states, and those of a reply that no source states.

A small chat model invents numbers (prices, days, percentages) easily, and a
wrong refund window is worse than no answer: every number of a reply must be
in its sources, compared after normalisation ("$49.00" is "49", "two weeks" is
"14 days").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.answers.text import LIST_MARKER_RE

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_WORD_VALUES = {w: i for i, w in enumerate(_UNITS)} | _TENS

# Period words: a spelled "one" only counts as a number before one of these
# ("one business day"), since "one" is mostly a pronoun ("the blue one").
_PERIOD = r"(?:business |working |calendar |full )?(?:minute|hour|day|week|month|year)s?"

_SPELLED_RE = re.compile(
    r"\b(?P<tens>twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[- ](?P<unit>one|two|three|four|five|six|seven|eight|nine))?\b"
    r"|\b(?P<word>" + "|".join(_UNITS[2:]) + r"|zero)\b"
    r"|\bone(?=[- ]" + _PERIOD + r"\b)",
    re.IGNORECASE,
)

# A number: not glued to a preceding letter/digit (so order ids like W1234567
# and SKUs are not numbers), optional thousands separators and decimals.
_NUMBER_RE = re.compile(r"(?<![A-Za-z0-9_])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\d])")
# "9:30" / "17:00": a clock time.
_TIME_RE = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?![\d:])")
# "[1]" / "(passage 2)": citations of the prompt's passage numbers.
_CITATION_RE = re.compile(
    r"\[\d{1,2}\]|\b(?:passages?|sources?)\s*(?:#|no\.?\s*)?\d{1,2}\b", re.IGNORECASE
)


def _normalise_number(integer: str, decimals: str | None) -> str:
    """'1,234' '50' -> '1234' '.50'; trailing decimal zeros dropped: 49.00 -> 49."""
    whole = integer.replace(",", "").lstrip("0") or "0"
    frac = (decimals or "").rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def _strip_non_facts(text: str) -> str:
    """Remove list markers and passage citations, which are not claims."""
    return _CITATION_RE.sub(" ", LIST_MARKER_RE.sub("", text))


def numbers_in(text: str) -> set[str]:
    """The numbers ``text`` states, normalised so equal values compare equal.

    - currency and separators: ``"$1,234.50"`` -> ``"1234.5"``, ``"$49.00"`` -> ``"49"``;
    - ranges and pairs: ``"5-7"`` / ``"5–7"`` / ``"24/7"`` -> both ends;
    - percentages: ``"15%"`` / ``"15 percent"`` -> ``"15"``;
    - time periods and units glued to the number: ``"30-day"``, ``"48h"``, ``"5pm"`` -> the number;
    - clock times: ``"9:00"`` -> ``"9"``, ``"9:30"`` -> ``"9:30"``;
    - spelled numbers ``two`` .. ``ninety-nine`` -> digits; ``"one"`` only before a
      period word (``"one business day"``), because it is usually a pronoun.

    Not numbers: digits glued to a preceding letter (order ids such as
    ``#W1234567``, SKUs), list markers at line starts (``"1. "``) and
    citations of passage numbers (``"[2]"``).
    """
    text = _strip_non_facts(text)
    found: set[str] = set()

    def clock(match: re.Match[str]) -> str:
        hour, minute = int(match.group(1)), match.group(2)
        found.add(str(hour) if minute == "00" else f"{hour}:{minute}")
        return " "

    text = _TIME_RE.sub(clock, text)
    for match in _NUMBER_RE.finditer(text):
        found.add(_normalise_number(match.group(1), match.group(2)))
    for match in _SPELLED_RE.finditer(text):
        if match.group("tens"):
            value = _TENS[match.group("tens").lower()]
            if match.group("unit"):
                value += _UNITS.index(match.group("unit").lower())
        elif match.group("word"):
            value = _WORD_VALUES[match.group("word").lower()]
        else:
            value = 1
        found.add(str(value))
    return found


# Equivalent periods, so "two weeks" is grounded by "14 days" and vice versa.
_PERIOD_RE = re.compile(
    r"(?<![A-Za-z0-9])(\d+|" + "|".join([*_UNITS[1:], *_TENS]) + r")[- ]?"
    r"(?:business |working |calendar |full )?(hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)


def _period_equivalents(text: str) -> set[str]:
    """Numbers equivalent to the periods in ``text`` in other units."""
    extra: set[str] = set()
    for match in _PERIOD_RE.finditer(text):
        raw = match.group(1).lower()
        n = int(raw) if raw.isdigit() else _WORD_VALUES.get(raw)
        if n is None:
            continue
        unit = match.group(2).lower().rstrip("s")
        if unit == "day":
            extra.add(str(n * 24))
            if n % 7 == 0:
                extra.add(str(n // 7))
            if n in (30, 31):
                extra.add("1")  # "30 days" ~ "1 month"
            if n in (365, 366):
                extra.add("1")
        elif unit == "week":
            extra.add(str(n * 7))
        elif unit == "hour" and n % 24 == 0:
            extra.add(str(n // 24))
        elif unit == "month":
            extra.add(str(n * 30))
            if n % 12 == 0:
                extra.add(str(n // 12))
        elif unit == "year":
            extra.update({str(n * 12), str(n * 365)})
    return extra


def grounded_numbers(sources: Iterable[str]) -> set[str]:
    """Every number the sources state, plus period equivalents (14 days = 2 weeks)."""
    out: set[str] = set()
    for source in sources:
        out |= numbers_in(source)
        out |= _period_equivalents(source)
    return out


def ungrounded_numbers(reply: str, sources: Sequence[str]) -> list[str]:
    """Numbers in ``reply`` that no source states, in order of appearance.

    Normalisation is :func:`numbers_in`'s, so "$49" in the reply matches
    "49.00 USD" in a source, and "two weeks" matches "14 days". List markers
    ("1. ") and passage citations ("[2]") in the reply are ignored; "0" is
    ignored too ("$0 shipping" style claims are rare and "0" is mostly noise
    like "0 items"). Everything else counts: a number not in the sources is
    treated as invented, even when the customer said it.
    """
    allowed = grounded_numbers(sources)
    reply_numbers = numbers_in(reply)
    missing = [n for n in reply_numbers if n not in allowed and n != "0"]
    # Report in reply order for readable logs.
    order = {n: _first_position(reply, n) for n in missing}
    return sorted(missing, key=lambda n: order[n])


def _first_position(text: str, number: str) -> int:
    whole = number.split(".")[0].split(":")[0]
    pos = text.replace(",", "").find(whole)
    return pos if pos >= 0 else len(text)
