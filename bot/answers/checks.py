"""The checks a model's reply passes before the customer sees it.

Every number, email address, order id, link and phone number must be in the
sources; the reply must neither leak the system prompt nor echo the customer's
words (above all an injected instruction's payload), and most of its words
must come from the sources. :func:`is_supported` judges a whole reply,
:func:`sentence_problems` one sentence of a streamed one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.answers.grounding import NOT_SURE_TEXT
from bot.answers.instructions import instruction_segments
from bot.answers.numbers import ungrounded_numbers
from bot.answers.prompts import SYSTEM_PROMPT
from bot.answers.text import content_words, is_filler, ngrams, stem, tokens_of, words_of

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORDER_ID_RE = re.compile(r"#?\b[A-Z]{1,3}-?\d{5,}\b")
_URL_RE = re.compile(r"\b(?:https?|ftp)://[^\s)>\]\"'<]+|\bwww\.[^\s)>\]\"'<]+", re.IGNORECASE)
# A bare domain, optionally with a path: "harborpine-refunds.net", "example.co.uk/x".
# The last label must be 2+ letters, so "e.g.", "4.99" and "U.S." are not domains.
_DOMAIN_RE = re.compile(
    r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?![\w-])"
    r"(?:/[^\s)>\]\"'<]*)?",
    re.IGNORECASE,
)
# Phone-like digit runs: "+1 (800) 555-0199", "800.555.0199", "+44 20 7946 0958".
_PHONE_RE = re.compile(r"(?<![\w#$.,])\+?\(?\d[\d \t().-]{5,}\d(?![\d])")
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15

# Distinctive wording of the system prompt, to catch a reply that leaks it.
_PROMPT_NGRAM = 5
# A reply repeating this many consecutive tokens of the customer's message that
# the sources do not contain is an echo (an ordinary answer rewords the
# question: "I"/"you" swap, a few shared words, rarely six in a row).
ECHO_NGRAM = 6
# ... and this many when the words come from an instruction in the message
# ("reply only with this exact sentence: ..."): following it is the attack.
INSTRUCTION_ECHO_NGRAM = 4
# A long sentence with less than this share of its words in the sources is
# about something else (small models drift into generic advice); stopping it
# early beats streaming a paragraph and withdrawing it. Deliberately lower than
# the whole-reply threshold, since single sentences paraphrase more freely.
SENTENCE_MIN_OVERLAP = 0.25


# --------------------------------------------------------------------------- reply checks


def _in_sources(found: str, joined_lower: str) -> bool:
    """Whether an identifier occurs in the sources, not as part of a longer one."""
    pattern = r"(?<![\w-])" + re.escape(found.lower()) + r"(?![\w-])"
    return re.search(pattern, joined_lower) is not None


def _link_key(link: str) -> str:
    """A link without scheme, "www.", trailing slash and sentence punctuation."""
    key = link.lower().rstrip(".,;:!?")
    key = re.sub(r"^(?:https?|ftp)://", "", key)
    key = re.sub(r"^www\.", "", key)
    return key.rstrip("/")


def _phones(text: str) -> list[tuple[str, str]]:
    """(as written, digits) for each phone-number-like run in ``text``."""
    out = []
    for match in _PHONE_RE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
            out.append((match.group(0).strip(), digits))
    return out


def unsupported_identifiers(reply: str, sources: Sequence[str]) -> list[str]:
    """Email addresses, order ids, links, bare domains and phone numbers no source contains.

    A made-up address or number sends a customer somewhere wrong (or to a
    phishing page), so these are held to the same standard as numbers. Only
    the sources count: a link the customer typed is not evidence.
    """
    joined_lower = "\n".join(sources).lower()
    problems = []
    for found in _EMAIL_RE.findall(reply):
        if not _in_sources(found.rstrip("."), joined_lower):
            problems.append(f"email not in sources: {found}")
    for found in _ORDER_ID_RE.findall(reply):
        if found.lower().lstrip("#") not in joined_lower:
            problems.append(f"order id not in sources: {found}")
    rest = _EMAIL_RE.sub(" ", reply)
    source_links = {
        _link_key(m.group(0))
        for pattern in (_URL_RE, _DOMAIN_RE)
        for m in pattern.finditer(_EMAIL_RE.sub(" ", "\n".join(sources)))
    }
    seen: set[str] = set()
    for pattern, what in ((_URL_RE, "link"), (_DOMAIN_RE, "domain")):
        for match in pattern.finditer(rest):
            key = _link_key(match.group(0))
            if not key or key in seen:
                continue
            seen.add(key)
            grounded = any(s == key or s.startswith(key + "/") for s in source_links)
            if not grounded and not _in_sources(key, joined_lower):
                problems.append(f"{what} not in sources: {match.group(0).rstrip('.,;:!?')}")
        rest = pattern.sub(" ", rest)
    source_phones = [digits for _, digits in _phones("\n".join(sources))]
    for written, digits in _phones(rest):
        # "+1 800 555 0199" and "800-555-0199" are the same number.
        if not any(digits.endswith(s) or s.endswith(digits) for s in source_phones):
            problems.append(f"phone number not in sources: {written}")
    return problems


@lru_cache(maxsize=64)
def _prompt_ngrams(system_prompt: str) -> frozenset[tuple[str, ...]]:
    """5-token runs of the instructions, without the not-sure sentence (meant to be said)."""
    grams: set[tuple[str, ...]] = set()
    for part in re.split(r"\{\w+\}|\|", system_prompt.replace(NOT_SURE_TEXT, " | ")):
        grams |= ngrams(tokens_of(part), _PROMPT_NGRAM)
    return frozenset(grams)


# Talk about its own instructions: never part of a customer-service answer.
_META_RE = re.compile(
    r"\b(?:system prompt|system message|my (?:instructions|rules|prompt|guidelines|programming)|"
    r"(?:hidden|initial|original|secret) (?:instructions|prompt|rules)|"
    r"i (?:was|am|have been|were) (?:told|instructed|programmed|asked) to|numbered passages)\b|"
    r"系统提示|提示词|我的指令|我的规则",
    re.IGNORECASE,
)


@lru_cache(maxsize=64)
def _source_ngrams(joined_sources: str, n: int) -> frozenset[tuple[str, ...]]:
    """The n-grams of a turn's sources: the same for every sentence of its reply."""
    return frozenset(ngrams(tokens_of(joined_sources), n))


def prompt_leaks(text: str, sources: Sequence[str], system_prompt: str | None = None) -> list[str]:
    """Why ``text`` reveals the assistant's instructions, if it does.

    A run of five tokens of ``system_prompt`` (default: :data:`SYSTEM_PROMPT`;
    pass the system message :func:`build_messages` made, store name included)
    that the sources do not contain themselves, or talk about "my
    instructions" / "the system prompt". What the customer wrote does not
    excuse it: "starting with: You are the customer-service assistant of" is
    exactly how a leak is asked for.
    """
    problems = []
    joined = "\n".join(sources)
    prompt = _prompt_ngrams(system_prompt or SYSTEM_PROMPT)
    tokens = tokens_of(text)
    leaked = ngrams(tokens, _PROMPT_NGRAM) & prompt
    if leaked and leaked - _source_ngrams(joined, _PROMPT_NGRAM):
        problems.append("reply repeats the system instructions")
    meta = _META_RE.search(text)
    if meta and meta.group(0).lower() not in joined.lower():
        problems.append(f"reply talks about its instructions: {meta.group(0)}")
    return problems


def echoed_customer_text(reply: str, customer_text: str, sources: Sequence[str]) -> list[str]:
    """Spans of ``reply`` copied from the customer's words that no source contains.

    Two sizes: :data:`ECHO_NGRAM` tokens of anything the customer wrote, and
    :data:`INSTRUCTION_ECHO_NGRAM` tokens of an instruction in it
    (:func:`instruction_segments`), since following "reply only with: <text>"
    means saying <text>. Runs of stop words only do not count.
    """
    if not customer_text.strip():
        return []
    reply_tokens = tokens_of(reply)
    joined = "\n".join(sources)
    spans: list[str] = []
    checks = [(customer_text, ECHO_NGRAM)] + [
        (segment, INSTRUCTION_ECHO_NGRAM) for segment in instruction_segments(customer_text)
    ]
    for said, n in checks:
        copied = ngrams(reply_tokens, n) & ngrams(tokens_of(said), n)
        copied -= _source_ngrams(joined, n)
        spans.extend(" ".join(g) for g in sorted(copied) if not is_filler(g))
    return list(dict.fromkeys(spans))


def _check(
    text: str,
    sources: Sequence[str],
    context: str,
    customer_text: str,
    system_prompt: str | None,
    min_overlap: float,
    min_words: int,
    before: str = "",
) -> list[str]:
    problems = [f"number not in sources: {n}" for n in ungrounded_numbers(text, sources)]
    problems.extend(unsupported_identifiers(text, sources))
    # The n-gram checks also see the end of what was already shown, so a leak
    # split across two sentences is caught before the second is shown.
    tail = " ".join(tokens_of(before)[-(_PROMPT_NGRAM + ECHO_NGRAM) :])
    window = f"{tail} {text}" if tail else text
    problems.extend(prompt_leaks(window, sources, system_prompt))
    echoed = echoed_customer_text(window, customer_text, sources)
    if echoed:
        problems.append(f"reply repeats the customer's words, not the sources: {echoed[0]!r}")
    overlap = lexical_overlap(text, sources, context, min_words=min_words)
    if overlap is not None and overlap < min_overlap:
        problems.append(f"reply mostly not from the sources ({overlap:.0%} of its words)")
    return problems


def is_supported(
    reply: str,
    sources: Sequence[str],
    context: str = "",
    min_overlap: float = 0.5,
    *,
    customer_text: str = "",
    system_prompt: str | None = None,
) -> tuple[bool, list[str]]:
    """Whether ``reply`` is supported by ``sources``; returns ``(ok, problems)``.

    ``sources`` are the store's texts (passages, FAQ answers, settings:
    :func:`source_texts`) and ``context`` extra store vocabulary such as its
    name. Neither may hold the customer's words: a reply is never grounded by
    repeating the question. ``customer_text`` (the question and earlier user
    turns) is used only to catch replies that echo it. Checks, each adding a
    human-readable problem:

    - the reply is not empty;
    - every number is grounded (:func:`ungrounded_numbers`);
    - every email address, order id (``#W1234567`` style), link, bare domain
      and phone number appears in a source (:func:`unsupported_identifiers`);
    - the reply does not repeat or discuss the system prompt (:func:`prompt_leaks`);
    - the reply does not copy the customer's words that the sources lack,
      above all an instruction's payload (:func:`echoed_customer_text`);
    - at least ``min_overlap`` of its content words (stop words and service
      boilerplate such as "sorry", "team" excluded; crude stemming) occur in
      the sources or ``context``, when it has four or more content words. This
      is a vocabulary check, not entailment: it catches replies about
      something else, not subtle contradictions.
    """
    text = reply.strip()
    if not text:
        return False, ["empty reply"]
    problems = _check(text, sources, context, customer_text, system_prompt, min_overlap, 4)
    return not problems, problems


def sentence_problems(
    sentence: str,
    sources: Sequence[str],
    context: str = "",
    *,
    customer_text: str = "",
    system_prompt: str | None = None,
    before: str = "",
) -> list[str]:
    """Why one sentence of a streamed reply may not be shown (empty list: show it).

    The checks of :func:`is_supported`, run before the sentence is sent, with
    a laxer vocabulary threshold (:data:`SENTENCE_MIN_OVERLAP`, six content
    words at least) since single sentences paraphrase more freely. ``before``
    is the text already shown, so that a leak or an echo spanning a sentence
    boundary is still caught here rather than after it was streamed.
    """
    if not sentence.strip():
        return []
    return _check(
        sentence,
        sources,
        context,
        customer_text,
        system_prompt,
        SENTENCE_MIN_OVERLAP,
        6,
        before,
    )


# Problems that mean the reply was steered by an attacker (or leaked), not
# merely wrong: the answerer never withdraws shown text for these (see
# bot/answers/answerer.py), and fine-tuning never learns from such a reply.
_SECURITY_PROBLEM_RE = re.compile(
    r"system instructions|talks about its instructions|customer's words|"
    r"(?:link|domain|email|phone number) not in sources"
)


def is_security_problem(problem: str) -> bool:
    """Whether a problem from the checks is a leak, an echo or a foreign contact/link."""
    return bool(_SECURITY_PROBLEM_RE.search(problem))


def lexical_overlap(
    text: str, sources: Sequence[str], context: str = "", min_words: int = 4
) -> float | None:
    """Share of ``text``'s content words found in ``sources`` or ``context``.

    Stop words and service boilerplate are not content words; words are
    crudely stemmed. ``None`` when ``text`` has fewer than ``min_words``
    content words (too short to judge). ``context`` is store vocabulary (its
    name), never the customer's message.
    """
    vocabulary = {stem(w) for w in words_of("\n".join(sources) + "\n" + context)}
    content = content_words(text)
    if len(content) < min_words:
        return None
    return sum(w in vocabulary for w in content) / len(content)
