"""Is this reply a yes or a no to the question just asked?

A consequential change (cancelling an order, submitting a return) goes ahead only on
an unambiguous yes: the whole short reply is made of affirmative words and phrases
("yes", "yes please", "ok go ahead", "yes, cancel it"), nothing in it negates or
hesitates ("no", "don't", "wait", "hold on", ...), and the intent model does not rank
``deny`` high. "Yes" as the first word of a longer sentence is not consent: "okay, no
wait, do not cancel it" is a no, and "Correct me if I am wrong, but would I get the
full refund?" is a new question. A message in a button payload's shape (``/affirm``,
``/confirm_cancel{...}``, bot/nlu/payloads.py) is never a yes by its words; the dialogue
knows its own yes buttons by their exact payload.

The words are data, one :class:`Lexicon` per language in :data:`LEXICONS`, so another
language is added by adding its lists (Chinese is here as a start). Languages written
without spaces (Chinese) are segmented by greedy longest match against the lists;
traditional Chinese is read as simplified.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bot.nlu.language import simplified
from bot.nlu.payloads import looks_like_payload


class Answer(Enum):
    """How a reply answers a pending yes/no question."""

    YES = "yes"  # unambiguous consent: the change may go ahead
    NO = "no"  # a refusal or hesitation: nothing changes
    UNCLEAR = "unclear"  # short and about the question, but not a clean yes: ask again
    OTHER = "other"  # not an answer: a new request (the question lapses)


@dataclass(frozen=True)
class Lexicon:
    """One language's words for consent.

    ``affirm``: phrases that say yes on their own. ``filler``: words that may sit
    beside a yes without changing it ("please", "cancel it", "the order"), but are
    not a yes by themselves. ``negate``: words and phrases that, anywhere in the
    reply, make it a no (refusal, negation, "wait"). ``hedge``: words that make a reply
    not a yes without making it a no (a question, "but", "maybe").
    """

    affirm: frozenset[str]
    negate: frozenset[str]
    hedge: frozenset[str] = field(default_factory=frozenset)
    filler: frozenset[str] = field(default_factory=frozenset)


def _list(text: str) -> frozenset[str]:
    """Comma-separated phrases (any line breaks), as a set."""
    return frozenset(p.strip() for p in text.split(",") if p.strip())


LEXICONS: dict[str, Lexicon] = {
    "en": Lexicon(
        affirm=_list(
            """yes, y, yeah, yea, yep, yup, ya, sure, ok, okay, okey, k, kk, alright,
            all right, confirm, confirmed, i confirm, correct, that's correct,
            that is correct, that's right, right, please do, go ahead, go for it, do it,
            do that, proceed, absolutely, definitely, of course, affirmative, sounds good,
            fine, perfect, great, yes please, agreed, i agree"""
        ),
        negate=_list(
            """no, n, nope, nah, not, don't, dont, do not, doesn't, isn't, won't, can't,
            cannot, never, never mind, nevermind, wait, stop, hold on, hold off, hold up,
            hang on, abort, rather not, changed my mind, change my mind, second thought,
            second thoughts, nothing, neither, nor, not now, keep it, leave it, undo"""
        ),
        hedge=_list("but, if, unless, maybe, perhaps, actually, hmm, hm, later, ?"),
        filler=_list(
            """please, thanks, thank, you, thx, it, that, this, the, order, my, now, cancel,
            cancelled, canceled, return, returns, submit, request, refund, go, ahead, do, i,
            want, to, and, so, then, just, yes, is, that's, one, them, items, item, a, very,
            much, !, ."""
        )
        | {","},
    ),
    "zh": Lexicon(
        affirm=_list(
            """是, 是的, 是滴, 好, 好的, 好滴, 好嘞, 确认, 确定, 可以, 可以的, 对, 对的, 对呀,
            行, 行的, 没问题, 没错, 同意, 嗯, 嗯嗯"""
        ),
        negate=_list(
            "不, 不要, 别, 等等, 等一下, 等会, 等会儿, 慢着, 再想想, 算了, 先不, 不用, 暂停"
        ),
        hedge=_list("但是, 可是, 如果, 吗, ？"),
        filler=_list("请, 吧, 了, 取消, 退货, 订单, 谢谢, 麻烦, 。, ！, ，"),
    ),
}

# A yes is short: anything longer is a sentence with its own meaning.
MAX_YES_WORDS = 8
# A reply this short that mentions the question is an answer, even if not a clean one.
MAX_ANSWER_WORDS = 12
# The intent model ranking "deny" at least this high vetoes a yes.
DENY_VETO = 0.3

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_PUNCTUATION = {"!", "！", ".", "。", ",", "，"}
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:'[a-z]+)?|[?？!！.。,，]")


def _normalise(text: str) -> str:
    text = simplified(unicodedata.normalize("NFKC", text)).lower()
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _split(text: str, cjk_words: dict[str, int]) -> list[str]:
    """Tokens of ``text``: Latin words, punctuation, and CJK runs cut into known words.

    A CJK run is segmented greedily, longest known word first; characters that are no
    known word stay single tokens (and so never count as part of a yes).
    """
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(_normalise(text)):
        tok = match.group(0)
        if not _CJK_RUN.fullmatch(tok):
            tokens.append(tok)
            continue
        i = 0
        longest = max(cjk_words.values(), default=1)
        while i < len(tok):
            for n in range(min(longest, len(tok) - i), 0, -1):
                if n == 1 or tok[i : i + n] in cjk_words:
                    tokens.append(tok[i : i + n])
                    i += n
                    break
    return tokens


def _covers(tokens: list[str], phrases: set[tuple[str, ...]], at: int) -> int:
    """Length of the longest phrase starting at ``tokens[at]`` (0: none)."""
    best = 0
    for phrase in phrases:
        n = len(phrase)
        if n > best and tuple(tokens[at : at + n]) == phrase:
            best = n
    return best


def _contains(tokens: list[str], phrases: set[tuple[str, ...]]) -> bool:
    return any(_covers(tokens, phrases, i) for i in range(len(tokens)))


def _deny_score(parse: dict[str, Any] | None) -> float:
    """How strongly the intent model reads the reply as ``deny``."""
    if not parse:
        return 0.0
    intent = parse.get("intent") or {}
    if intent.get("name") == "deny":
        return float(intent.get("confidence") or 1.0)
    for entry in parse.get("intent_ranking") or []:
        if entry.get("name") == "deny":
            return float(entry.get("confidence") or 0.0)
    return 0.0


def classify(
    text: str, parse: dict[str, Any] | None = None, languages: Iterable[str] | None = None
) -> Answer:
    """How ``text`` answers a pending yes/no question (see :class:`Answer`).

    ``parse``: the NLU result of ``text`` (its ``intent`` / ``intent_ranking``), so the
    intent model can veto a yes it reads as a refusal. ``languages``: lexicon keys to
    use, default all of them (customers mix languages).
    """
    if looks_like_payload(text):
        # A button's payload is no typed yes, whatever words its name or JSON holds; the
        # dialogue's own yes buttons answer only their question (bot/turn/flows.py).
        return Answer.NO if _deny_score(parse) >= 0.5 else Answer.OTHER
    lexicons = [LEXICONS[k] for k in (languages or LEXICONS)]
    kinds = ("affirm", "negate", "hedge", "filler")
    cjk_words = {
        p: len(p) for lx in lexicons for k in kinds for p in getattr(lx, k) if _CJK_RUN.fullmatch(p)
    }
    affirm, negate, hedge, filler = (
        {tuple(_split(p, cjk_words)) for lx in lexicons for p in getattr(lx, k)} for k in kinds
    )
    tokens = _split(text, cjk_words)
    words = [t for t in tokens if t not in _PUNCTUATION]
    if not words:
        return Answer.OTHER
    short = len(words) <= MAX_ANSWER_WORDS
    has_yes = _contains(tokens, affirm)
    if _contains(tokens, negate):
        # Nothing negated is ever a yes; a short one is a no (nothing changes), a long
        # one a new message to read on its own.
        return Answer.NO if short else Answer.OTHER
    deny = _deny_score(parse)
    if (
        has_yes
        and len(words) <= MAX_YES_WORDS
        and not _contains(tokens, hedge)
        and _only(tokens, affirm, filler)
    ):
        return Answer.UNCLEAR if deny >= DENY_VETO else Answer.YES
    if deny >= 0.5 and short:
        return Answer.NO
    if has_yes and short:
        # "yes but how long does the refund take?": about the question, not a clean yes.
        return Answer.UNCLEAR
    return Answer.OTHER


def _only(tokens: list[str], affirm: set[tuple[str, ...]], filler: set[tuple[str, ...]]) -> bool:
    """Every token is part of an affirmative phrase or an allowed filler word."""
    i = 0
    while i < len(tokens):
        n = max(_covers(tokens, affirm, i), _covers(tokens, filler, i))
        if not n:
            return False
        i += n
    return True


def is_yes(text: str, parse: dict[str, Any] | None = None) -> bool:
    """An unambiguous yes (:data:`Answer.YES`)."""
    return classify(text, parse) is Answer.YES


def is_no(text: str, parse: dict[str, Any] | None = None) -> bool:
    """A refusal or hesitation (:data:`Answer.NO`)."""
    return classify(text, parse) is Answer.NO
