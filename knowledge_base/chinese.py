"""Chinese text as the lexical index sees it: normalised, cut into words, and characters.

BM25 needs words, and Chinese is written without spaces: the English tokenizer
sees "满多少包邮" as one opaque token, so a store's "满99元包邮" never matches.
``words`` cuts text with rjieba (jieba-rs, jieba's dictionary and algorithm in
Rust, ~2 µs a sentence) in search mode, which also emits the shorter words
inside long ones ("增值税" -> "增值", "增值税"), so a customer's shorter word
still meets the store's longer one.

``terms``, what BM25 indexes, adds each Chinese character to the words. Words
alone miss where the cut differs between a store's sentence and a customer's:
jieba guesses words it does not know ("顺丰" is not in its dictionary, so
"或顺丰速运" is cut "或顺", "丰速运" and "能发顺丰吗" "发顺丰"), and customers
write one character for a word ("可以退吗" for 退货). Measured on the Chinese
dev store's 94 colloquial queries (tests/data/stores/faq_zh_tea.retrieval.csv,
multilingual e5, hybrid at the usual dense weight 0.7): words alone recall@1
0.72, @5 0.90 (below dense alone, 0.77 / 0.94); words + characters 0.80 /
0.99; words + character bigrams 0.71 / 0.95; words + both 0.80 / 0.97.

``normalise`` runs first, on the index and on every query alike:

- NFKC: full-width digits, letters and punctuation become ASCII ("９９元？" ->
  "99元?"), as Chinese input methods type either;
- traditional characters become simplified (OpenCC ``t2s``), so "退貨" finds
  "退货";
- a small Chinese number before a unit becomes digits ("七天" -> "7天",
  "三个工作日" -> "3个工作日", "九五折" -> "9.5折"), because customers write
  "七天无理由" and stores "7天无理由", and the reverse.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# Function words and the words questions are wrapped in ("请问", "你好，想问下",
# "亲"): they are in most questions, so they only add noise (as the English list
# in knowledge_base.index does for "how do I", "can you").
STOPWORDS = frozenset(
    """的 了 着 过 吗 呢 啊 吧 呀 嘛 哦 哈 么 啦 哇 喔 嗯 嘞 哎 唉 诶 呗 咯
    我 你 您 他 她 它 我们 你们 他们 她们 咱们 自己 人家 本人
    是 在 和 与 及 或 或者 就 都 也 还 又 再 才 而 并 跟 把 被 让 给 对 向 从 于 以 为
    请问 请 问 问下 问一下 想问 想问下 想问一下 一下 下 想 要 能 会 可以 可不可以 能不能 有没有 是不是 会不会
    亲 亲亲 你好 您好 在吗 谢谢 谢了 多谢 麻烦 麻烦问下 老板 掌柜 店家
    这 那 这个 那个 这些 那些 这样 那样 这么 那么 个 些 啥 什么 怎么 怎么样 怎样 如何 为什么 为啥
    哪 哪里 哪儿 哪个 哪些 不 没 没有 有 得 地 之 其 该 如果 的话 但是 可是 然后 所以 因为
    一 已经 现在 一般 大概 大约 哈哈 嘿嘿""".split()
)

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# Units a small number is written before; not "点" ("便宜一点") or "分" ("十分").
_UNITS = (
    "小时|分钟|工作日|公斤|天|日|周|个|月|年|秒|元|块|毛|折|期|件|盒|罐|袋|包|克|斤|次|倍|份|张"
    "|位|瓶|箱|台|杯|泡|岁|号"
)
_NUMBER_BEFORE_UNIT = re.compile(rf"([零〇一二两三四五六七八九十百]+)(?=(?:{_UNITS}))")
# A number and its unit are words of their own: rjieba cuts "7天无理由" into
# "7", "天无", "理由", but "七天无理由" into "七天", "无", "理由".
_NUMBER_AND_UNIT = re.compile(rf"(\d+(?:\.\d+)?)({_UNITS})?")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def has_chinese(text: str) -> bool:
    """Whether ``text`` contains a Chinese (CJK unified) character."""
    return bool(_CJK.search(text))


def _number(numeral: str, unit: str) -> str | None:
    """The digits of a Chinese numeral under 1,000 ("十五" -> "15"), or None if malformed."""
    if unit == "折" and len(numeral) == 2 and all(c in _DIGITS for c in numeral):
        return f"{_DIGITS[numeral[0]]}.{_DIGITS[numeral[1]]}"  # 九五折 = 9.5折
    total, digit, seen_digit = 0, 0, False
    for ch in numeral:
        if ch in _DIGITS:
            if seen_digit:
                return None  # "一二天": not a number
            digit, seen_digit = _DIGITS[ch], True
        else:
            total += (digit if seen_digit else 1) * (100 if ch == "百" else 10)
            digit, seen_digit = 0, False
    return str(total + digit)


def _digits_before_units(text: str) -> str:
    def replace(m: re.Match[str]) -> str:
        unit = text[m.end() : m.end() + 1]
        return _number(m.group(1), unit) or m.group(1)

    return _NUMBER_BEFORE_UNIT.sub(replace, text)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """NFKC, lower case, traditional -> simplified, small numbers before units -> digits."""
    text = unicodedata.normalize("NFKC", text).lower()
    if has_chinese(text):
        text = _digits_before_units(_t2s().convert(text))
    return text


def words(text: str) -> list[str]:
    """The normalised words of ``text``: rjieba's search-mode cut, without punctuation.

    A number and its unit are two words ("7", "天"); other non-Chinese runs
    come out as rjieba cuts them ("logo", "iphone"); words of
    neither Chinese nor ASCII letters and digits (punctuation, spaces) are
    dropped. Stopwords are kept (the index drops them).
    """
    import rjieba

    text = normalise(text)
    tokens: list[str] = []
    start = 0
    for m in _NUMBER_AND_UNIT.finditer(text):
        tokens += rjieba.cut_for_search(text[start : m.start()])
        tokens += [t for t in m.groups() if t]
        start = m.end()
    tokens += rjieba.cut_for_search(text[start:])
    return [
        t
        for token in tokens
        if (t := token.strip()) and (has_chinese(t) or _ASCII_WORD.fullmatch(t))
    ]


def characters(text: str) -> list[str]:
    """The Chinese characters of ``text``, normalised, in order."""
    return _CJK.findall(normalise(text))


def terms(text: str) -> list[str]:
    """What BM25 indexes for Chinese text: its ``words`` and its ``characters``."""
    return words(text) + characters(text)


def segmenter_version() -> str:
    """What cuts the words (recorded in an index's manifest)."""
    from importlib.metadata import version

    return f"rjieba {version('rjieba')}, opencc {version('opencc')}"
