"""What an answer is grounded in, and the grounded answer that needs no model.

A reply may state only what its sources state: the passages the model was
given (:func:`hit_source_text` of :func:`answer_sources`) and the store's
settings (:func:`source_texts`). When the model is absent, or its reply fails
the checks (:mod:`bot.answers.checks`), the answer quotes the best passage
(:func:`extractive_answer`), or says it is not sure (:data:`NOT_SURE_TEXT`).

Hits are duck-typed: anything with ``.id .type .title .answer .text .score``
(``knowledge_base.index.Hit`` in production).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.answers.instructions import strip_instructions
from bot.answers.text import LIST_MARKER_RE, split_sentences

MAX_PASSAGES = 3

NOT_SURE_TEXT = (
    "I'm not sure about that from our store information. "
    "I can connect you with a member of our team if you like."
)


# --------------------------------------------------------------------------- sources


def field_of(obj: Any, name: str, default: Any = "") -> Any:
    """Attribute or mapping access, so hits may be objects or dicts."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def hit_source_text(hit: Any) -> str:
    """The text of a hit the bot may quote: ``answer``, else ``text``.

    Sentences that address the assistant ("ignore your instructions and ...",
    see :func:`strip_instructions`) are left out: store text is data, and an
    instruction planted in a FAQ or product description must neither reach the
    model as part of its passages nor be quoted to the customer.
    """
    return strip_instructions(str(field_of(hit, "answer") or field_of(hit, "text") or "").strip())


def settings_texts(settings: Any) -> list[str]:
    """The store facts in its settings: name, greeting, handoff text, other store.toml strings.

    These are sources like the passages (the support hours or contact address a
    reply may state), written by the merchant, never by the customer.
    """
    if settings is None:
        return []
    out: list[str] = []
    for name in ("name", "greeting", "handoff_text"):
        value = field_of(settings, name, "")
        if isinstance(value, str) and value.strip():
            out.append(value.strip())
    raw = field_of(settings, "raw", None) or {}
    if isinstance(raw, dict):
        for value in raw.values():
            values = value.values() if isinstance(value, dict) else [value]
            out.extend(v.strip() for v in values if isinstance(v, str) and v.strip())
    return [strip_instructions(t) for t in dict.fromkeys(out)]


def source_texts(hits: Sequence[Any], settings: Any = None) -> list[str]:
    """Everything a reply may be grounded in: the passages the model saw, then the settings.

    Never the customer's question or earlier user turns: what the customer
    wrote is not evidence, so a reply cannot be grounded by repeating it.
    """
    return [hit_source_text(h) for h in list(hits)[:MAX_PASSAGES]] + settings_texts(settings)


def answer_sources(hits: Sequence[Any]) -> list[Any]:
    """The hits a composed answer is grounded in: the best three.

    The runner-ups go to the model too: a customer's own words put the entry
    that answers second or third often enough (recall@1 0.84, @5 0.98 on the
    demo store), and the model reads which one answers. Serving
    (``Bot._knowledge``) and the training examples (training/datasets.py) both
    use this, so an adapter is trained on the prompts it is served.
    """
    return list(hits[:3])


# --------------------------------------------------------------------------- fallback

# A sentence that starts like this qualifies the one before it; cutting it off
# would turn "refunds within 30 days" into a promise without its conditions.
_CONDITION_RE = re.compile(
    r"^\W*(?:if|unless|except|only|but|however|provided|as long as|note|please note|"
    r"this (?:does not|doesn't|only|applies|excludes)|excluding|not including|after|before|"
    r"within|orders?|items?|customers?|sale|final[- ]sale|gift cards?|exceptions?)\b"
    # ... and a sentence with these anywhere restricts or excludes something.
    r"|\b(?:cannot|can't|can not|not eligible|non-refundable|non-returnable|excluded|must|"
    r"unless|except|only)\b",
    re.IGNORECASE,
)
MAX_EXTRACTIVE_SENTENCES = 3
MAX_EXTRACTIVE_CHARS = 700


def extractive_answer(hits: Sequence[Any]) -> str:
    """The fallback answer: the best hit's quotable text, trimmed.

    FAQ answers are written to be shown whole, so they are. Other hits
    (policy passages, products) are cut to about three sentences, but a
    sentence that carries a condition of what came before ("Only unworn
    items ...", "If the order has shipped ...") or finishes a list that an
    earlier sentence introduced is kept, up to ~700 characters. With no hits
    the answer is a polite "not sure" with the offer of a human.
    """
    if not hits:
        return NOT_SURE_TEXT
    best = hits[0]
    text = hit_source_text(best)
    if not text:
        return NOT_SURE_TEXT
    if str(field_of(best, "type", "")) == "faq":
        return text
    sentences, _ = split_sentences(text)
    kept: list[str] = []
    length = 0
    for i, sentence in enumerate(sentences):
        s = sentence.strip()
        if i >= MAX_EXTRACTIVE_SENTENCES:
            continues_list = kept and (kept[-1].endswith(":") or LIST_MARKER_RE.match(sentence))
            if not (continues_list or _CONDITION_RE.search(s)):
                break
            if length + len(s) > MAX_EXTRACTIVE_CHARS:
                break
        kept.append(s)
        length += len(s) + 1
    # Lists keep their line breaks; prose is joined with spaces.
    out = ""
    for original, s in zip(sentences, kept, strict=False):
        out += s + ("\n" if "\n" in original else " ")
    return out.strip()


# --------------------------------------------------------------------------- not sure

_NOT_SURE_RE = re.compile(
    r"\b(?:not sure|don't know|do not know|cannot find|can't find|no information|"
    r"unable to (?:find|answer)|connect you with)\b",
    re.IGNORECASE,
)


def is_unsure(reply: str) -> bool:
    """Whether the reply says it does not know (the policy may offer a handoff)."""
    return bool(_NOT_SURE_RE.search(reply))
