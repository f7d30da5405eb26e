"""How shopbot cuts text: sentences, list markers, words and tokens, content words.

The grounding checks compare a reply with its sources by these units: the
vocabulary checks by (crudely stemmed) content words, the n-gram checks (prompt
leaks, echoes of the customer) by tokens, and a streamed reply is checked
sentence by sentence.
"""

from __future__ import annotations

import re

import Stemmer

# "1." / "2)" / "- " at the start of a line: list markers, not facts.
LIST_MARKER_RE = re.compile(r"(?m)^[ \t]*(?:\d{1,2}[.)]|[-*\u2022])[ \t]+")

# --------------------------------------------------------------------------- sentences

_ABBREVIATIONS = (
    "e.g.", "i.e.", "etc.", "approx.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st.", "no.",
    "u.s.", "inc.", "ltd.", "co.", "min.", "max.",
)  # fmt: skip
_BOUNDARY_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")


def split_sentences(text: str, complete_only: bool = False) -> tuple[list[str], str]:
    """Split text into sentences; returns ``(sentences, rest)``.

    A boundary is sentence-final punctuation followed by whitespace, or a line
    break (list items and paragraphs). With ``complete_only`` the text after
    the last boundary is returned as ``rest`` (still being generated);
    otherwise it is the last sentence and ``rest`` is ``""``. Common
    abbreviations ("e.g.") do not end a sentence.
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        piece = text[start : match.end()]
        stripped = piece.strip()
        last_word = stripped.rsplit(None, 1)[-1].lower() if stripped else ""
        if "\n" not in match.group(0) and last_word in _ABBREVIATIONS:
            continue
        if stripped:
            sentences.append(piece)
        start = match.end()
    rest = text[start:]
    if not complete_only:
        if rest.strip():
            sentences.append(rest)
        rest = ""
    return sentences, rest


# --------------------------------------------------------------------------- words

_WORD_RE = re.compile(r"[a-z][a-z']+")
# Tokens for the n-gram checks (prompt leak, echo of the customer): Latin words
# and numbers, and every CJK character on its own, since Chinese has no spaces.
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u3400-\u9fff\uf900-\ufaff]")
_STOPWORDS = set(
    """a an the and or but if then so of to in on at by for with from as is are was were be been
    being it its this that these those there here you your yours we our ours us i me my they them
    their he she his her can could will would should may might must do does did done have has
    had not no yes any all some more most other such than too very just also only about into over
    under up down out off again once what which who whom when where why how each per via while
    within after before until please""".split()
)
# Service boilerplate a grounded reply may use without it being in the passages.
_SERVICE_WORDS = set(
    """sorry happy glad help helping assist assistance thank thanks welcome question questions
    sure unsure certain know information info store team member human agent colleague staff
    connect contact reach support customer customers service answer find let like want
    need able unable check get see look looking great course hello hi hey note however
    provided following below above mentioned according passage passages""".split()
)


def words_of(text: str) -> list[str]:
    """The lower-cased Latin words of ``text`` (for the vocabulary checks)."""
    return _WORD_RE.findall(text.lower())


def tokens_of(text: str) -> list[str]:
    """The lower-cased tokens of ``text`` (for the n-gram checks)."""
    return _TOKEN_RE.findall(text.lower())


_STEMMER = Stemmer.Stemmer("english")  # Snowball (Porter 2), in C


def stem(word: str) -> str:
    """The English Snowball stem of ``word``: "returns"/"returned"/"returning" -> "return"."""
    return _STEMMER.stemWord(word)


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    """Every run of ``n`` consecutive items of ``words``."""
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def is_filler(gram: tuple[str, ...]) -> bool:
    """An n-gram of stop words and boilerplate only ("i would like to know if")."""
    return all(t in _STOPWORDS or t in _SERVICE_WORDS or t.isdigit() for t in gram)


def content_words(text: str) -> list[str]:
    """Stemmed words of ``text`` that carry content (no stop words or boilerplate)."""
    return [
        stem(w)
        for w in words_of(text)
        if w not in _STOPWORDS and w not in _SERVICE_WORDS and len(w) > 2
    ]


def content_word_count(text: str) -> int:
    """How many content words ``text`` has (what the vocabulary checks judge by).

    Chinese and other unspaced scripts count a word per two characters, so a
    Chinese sentence is not mistaken for an empty one.
    """
    cjk = len(re.findall(r"[\u3400-\u9fff\uf900-\ufaff]", text))
    return len(content_words(text)) + cjk // 2
