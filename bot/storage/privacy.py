"""Redaction of personal data before text is stored.

The conversation log is read by the merchant's team, by fine-tuning and by the
insights; none of them needs a customer's email, phone number, card number or
street address. The running turn still sees the raw text (verification needs
the email for that one turn); only what is written to disk is redacted.

Patterns are deliberately conservative about what they keep: a false
redaction costs a few characters of context, a missed one leaks data.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# 13 to 19 digits, optionally grouped by spaces or dashes; confirmed by the Luhn check.
CARD_RE = re.compile(r"(?<![\d#W])(?:\d[ \-]?){12,18}\d(?!\d)")
# North American and international forms: +1 (555) 123-4567, 555.123.4567, +44 20 7946 0958.
PHONE_RE = re.compile(
    r"(?<![\w#])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)[\s.\-]?|\d{2,4}[\s.\-])\d{3,4}[\s.\-]?\d{3,4}(?!\d)"
)
STREET_SUFFIX = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|"
    r"way|terrace|parkway|pkwy|circle|cir|highway|hwy|square|sq"
)
# "215 River Road", "12b Baker St.", "996 Cedar Street, Suite 656".
ADDRESS_RE = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[A-Z][a-z]+\.?\s+){{0,3}}(?:{STREET_SUFFIX})\b\.?"
    r"(?:,?\s+(?:suite|ste|apt|apartment|unit|#)\s*\w+)?",
    re.I,
)

PLACEHOLDERS = {
    "email": "[EMAIL]",
    "card": "[CARD]",
    "phone": "[PHONE]",
    "address": "[ADDRESS]",
}


def _luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return PLACEHOLDERS["card"]
    return match.group(0)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    # Fewer than 9 digits is a quantity, a price or a zip code, not a phone number.
    return PLACEHOLDERS["phone"] if 9 <= len(digits) <= 15 else match.group(0)


def redact(text: str) -> str:
    """``text`` with emails, card numbers, phone numbers and street addresses replaced.

    Order ids (``#W1234567``) and zip codes are kept: they identify an order or
    an area, not a person, and the merchant's team needs them.
    """
    if not text:
        return text
    text = EMAIL_RE.sub(PLACEHOLDERS["email"], text)
    text = CARD_RE.sub(_card, text)
    text = PHONE_RE.sub(_phone, text)
    text = ADDRESS_RE.sub(PLACEHOLDERS["address"], text)
    return text


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (lists, dicts, strings)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def redact_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entities as stored: personal values replaced, catalog values kept."""
    out = []
    for e in entities:
        e = dict(e)
        if e.get("entity") in ("email", "phone", "person_name", "card"):
            e["value"] = f"[{str(e['entity']).upper()}]"
        elif isinstance(e.get("value"), str):
            e["value"] = redact(e["value"])
        out.append(e)
    return out


def redact_turn(turn: Any) -> Any:
    """A copy of a ``TurnRecord`` safe to store: text, replies and entities redacted."""
    return dataclasses.replace(
        turn,
        user_text=redact(turn.user_text),
        entities=redact_entities(turn.entities),
        messages=redact_value(turn.messages),
        followup=redact_value(turn.followup) if turn.followup else None,
    )


def redact_history(history: list[dict[str, str]]) -> list[dict[str, str]]:
    """The stored conversation history (LM context), redacted."""
    return [dict(h, content=redact(h.get("content", ""))) for h in history]
