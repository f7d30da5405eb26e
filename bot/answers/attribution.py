"""Cut the model's references to its prompt out of a generated sentence.

The chat model answers from numbered passages, and small models name them to
the customer although the prompt says not to: "According to Passage 2, ...",
"Based on the information provided, ...", "... (Passage 1)", "[2]",
"根据 Passage 3，...", "根据提供的信息，...". That is the product talking about
its prompt; :func:`strip_attribution` removes such clauses before a sentence
is checked and shown.

Only references to the prompt go: a numbered passage, "the passages", "the
information provided", "the store information", "上述信息", "资料". The
store speaking about itself or the customer's things stays: "According to our
policy, ...", "Based on your order, ...", "根据订单状态…", "根据您的尺码…",
"根据您提供的信息…" (the customer's own information).
"""

from __future__ import annotations

import re

__all__ = ["strip_attribution"]

# --------------------------------------------------------------------------- English

_NUM = r"(?:\d{1,2}|one|two|three|four|five|six)"
_NUMS = rf"{_NUM}(?:\s*(?:,|&|and|or|to|-|–)\s*{_NUM})*"
_PASSAGE = r"(?:passage|excerpt|snippet|paragraph|source|document|doc)s?"
# "Passage 2", "passages 1 and 3", "[2]", "[1][3]", "the second passage".
_NUMBERED_EN = (
    rf"(?:(?:the\s+)?{_PASSAGE}\s*(?:no\.?\s*|#\s*)?{_NUMS}\b"
    rf"|\[\s*{_NUMS}\s*\](?:\s*\[\s*{_NUMS}\s*\])*"
    rf"|the\s+(?:first|second|third|fourth|fifth|last|previous|above|same)\s+{_PASSAGE})"
)
_DET = r"(?:the|these|those)\s+"
# Words that make a noun the prompt's: "the *provided* information".
_MOD = (
    r"(?:provided|given|above|following|supplied|available|numbered|retrieved|relevant"
    r"|reference|background)"
)
_AFTER = (
    r"(?:provided|given|above|below|supplied|available|shared|retrieved|listed|here"
    r"|(?:that\s+)?I\s+(?:have\s+been|was|am)\s+given|(?:that\s+)?I\s+have|I\s+see)"
)
# Nouns that only ever mean the prompt ("the passages you provided" too: the
# customer never sent passages).
_PROMPT_NOUN = (
    r"(?:passages?|excerpts?|snippets?|context|knowledge\s+base|reference\s+texts?"
    r"|store(?:'s)?\s+(?:information|info|settings|details|data))"
)
_PROMPT_REF = (
    rf"(?:(?:{_DET})?(?:{_MOD}\s+)*{_PROMPT_NOUN}"
    rf"(?:\s+(?:{_AFTER}|you(?:'ve|\s+have)?\s+(?:provided|given|shared|sent)))?"
    r"(?:\s+(?:to\s+me|here|above|below))?)"
)
# Everyday nouns, the prompt's only when qualified ("the information provided").
_INFO_NOUN = r"(?:information|info|data|texts?|documents?|documentation|sources?|materials?|facts)"
_QUALIFIED_INFO = (
    rf"(?:(?:{_DET})?(?:{_MOD}\s+)+{_INFO_NOUN}(?:\s+{_AFTER})?"
    rf"|{_DET}{_INFO_NOUN}\s+{_AFTER}(?:\s+(?:to\s+me|here|above|below))?)"
)
_BARE_INFO = rf"(?:{_DET}{_INFO_NOUN})"
_WHAT = r"(?:what\s+(?:{ref})\s+(?:says?|states?|shows?|tells?\s+(?:me|us)|mentions?))"
_STRONG_REF = rf"(?:{_NUMBERED_EN}|{_PROMPT_REF}|{_QUALIFIED_INFO})"
_STRONG_REF = rf"(?:{_STRONG_REF}|{_WHAT.format(ref=_STRONG_REF)})"
_ANY_REF = rf"(?:{_STRONG_REF}|{_BARE_INFO})"


def _refs(ref: str) -> str:
    """One or more references joined by "and" / commas, with a qualifier or title."""
    return (
        rf"{ref}(?:\s*(?:,|and|&|as\s+well\s+as)\s*{ref})*"
        r"(?:\s+(?:of|in|from)\s+(?:the\s+)?(?:store(?:'s)?\s+)?"
        r"(?:information|passages|context|knowledge\s+base))?"
        r"(?:\s*\([^()\n]{0,40}\))?"
    )


# "According to" and the like make even "the information" the prompt's; "in" /
# "from" only with a clear reference ("In the settings, ..." is the store talking).
_STRONG_CUE = (
    r"(?:according\s+to|based\s+(?:up)?on|going\s+(?:by|off)|judging\s+(?:by|from)|as\s+per"
    r"|per|referring\s+to|with\s+reference\s+to"
    r"|as\s+(?:stated|mentioned|noted|described|explained|outlined|indicated|shown"
    r"|specified|listed|written|given|seen|detailed|provided)\s+(?:in|by))"
)
_WEAK_CUE = r"(?:in|within|from|using|looking\s+at)"
_LEAD_EN = (
    rf"(?:{_STRONG_CUE}\s+{_refs(_ANY_REF)}|{_WEAK_CUE}\s+{_refs(_STRONG_REF)})"
    # "... - " needs the space: "according to the passages-based ..." is no separator.
    r"\s*(?:[,:，：—–]|-(?=\s)|(?=[.!]?\s*$))\s*"
    r"(?:I\s+can\s+(?:tell\s+you|say|confirm|see)\s+(?:that\s+)?)?"
    # "Passage 2 states that ...": only with "that" or a colon, since "The
    # passages mention nothing about X" is a sentence of its own.
    rf"|{_refs(_STRONG_REF)}\s+(?:clearly\s+|also\s+)?(?:says?|states?|mentions?|indicates?"
    r"|notes?|explains?|shows?|confirms?|specif(?:y|ies)|tells?\s+(?:us|me))\s*(?:that\s+|[,:]\s*)"
    rf"|it\s+(?:is|was)\s+(?:stated|mentioned|noted|written)\s+in\s+{_refs(_STRONG_REF)}\s+that\s+"
)

# --------------------------------------------------------------------------- Chinese

_ZH_NUM = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
_ZH_NUMS = rf"{_ZH_NUM}(?:\s*(?:[、,，和与及跟至到~-]|以及)\s*{_ZH_NUM})*"
# "Passage 3", "段落2", "资料1", "第2段", "【2】".
_ZH_NUMBERED = (
    r"(?:(?:passages?|段落|片段|资料|材料|文段|条目|来源|参考资料)\s*(?:第\s*)?"
    rf"{_ZH_NUMS}(?:\s*(?:段|号))?"
    rf"|第\s*{_ZH_NUMS}\s*(?:个)?(?:段落|段|篇|则|份资料|个片段|片段)"
    rf"|[\[【]\s*{_ZH_NUMS}\s*[\]】])"
)
# "提供的信息", "上述信息", "资料", "店铺信息"; never "您提供的信息" (the
# customer's) nor "订单信息" / "商品信息" (the store's facts).
_ZH_GENERAL = (
    r"(?:(?:上述|以上|上面|前面|下面|下述|如下|所给|给出|给定|提供|所提供|已提供|系统提供|已知"
    r"|现有|已有|检索到|相关|这些|该|此|所有|参考)\s*的?\s*)?"
    r"(?:(?:店铺|商店|商家|本店)\s*的?\s*)?"
    r"(?:信息|资料|内容|段落|材料|文本|文档|片段|数据|参考资料|参考信息|背景信息|上下文|知识库)"
)
_ZH_REF = rf"(?:{_ZH_NUMBERED}|{_ZH_GENERAL})"
_ZH_REFS = rf"{_ZH_REF}(?:\s*(?:[和与及、,，]|以及)\s*{_ZH_REF})*"
_ZH_NUMBERED_REFS = rf"{_ZH_NUMBERED}(?:\s*(?:[和与及、,，]|以及)\s*{_ZH_NUMBERED})*"
_ZH_CUE = r"(?:根据|依据|依照|按照|参考|参照|结合|基于|正如|如|据|从|由|在|综合|通过|查看|查阅)"
_ZH_VERB = (
    r"(?:来看|看来|来说|而言|显示|所示|所述|所说|所写|所言|中提到|提到|提及|指出|说明|描述|记载"
    r"|表明|介绍|可知|得知|可以看出|可以看到|可以得知|可以知道|可以确认|我们可以看到|我们可以知道"
    r"|我们可以得知|我了解到|了解到|来判断|判断)"
)
_LEAD_ZH = (
    rf"(?:{_ZH_CUE}\s*{_ZH_REFS}\s*(?:(?:中|里|里面|当中|上|内)\s*)?(?:的\s*)?"
    r"(?:(?:信息|内容|描述|说明|介绍|记载|规定)\s*)?"
    rf"(?:{_ZH_VERB}\s*)?(?:的是\s*)?(?:[，,：:、]|(?=[。.！!]?\s*$))\s*"
    # "资料显示，..." / "段落2提到..." with no "根据": a verb is needed.
    rf"|{_ZH_REFS}\s*(?:中|里)?\s*(?:显示|提到|指出|表明|写道|记载|说明|提及|所述|介绍)\s*了?"
    r"\s*[，,：:]?\s*)"
)

# --------------------------------------------------------------------------- patterns

# A clause starts the text, follows a sentence end, or follows a Chinese comma
# ("好的，根据资料，..."); only after a sentence end is the next word
# re-capitalised. After an English comma it is cut by _BETWEEN_COMMAS_RE.
_LEAD_RE = re.compile(
    r"(?P<pre>^|[。！？；;\n]|[.!?]\s+|，\s*)"
    r"(?P<marker>[ \t]*(?:\d{1,2}[.)]|[-*\u2022])[ \t]+)?"
    rf"(?:{_LEAD_EN}|{_LEAD_ZH})"
    # The next word, re-capitalised when the cut clause began the sentence.
    r"(?P<word>[a-z][a-z']*\b)?",
    re.IGNORECASE,
)
# "(Passage 1)", "[2]", "（见段落2）", "(source: Passage 1, Refunds)"; a bare
# number only in square brackets, as the prompt numbers passages "[1]" but
# "step (2)" is the store's.
_SQUARE_NUMBERS_RE = re.compile(rf"\s*(?:\[\s*{_NUMS}\s*\]|【\s*{_ZH_NUMS}\s*】)+", re.IGNORECASE)
_BRACKET_RE = re.compile(
    r"\s*[（(【\[]\s*(?:(?:见|参见|详见|参考|参阅|参照|来源|出自|引自|如|据|根据|see(?:\s+also)?|cf\.?"
    r"|sources?|ref\.?|from|per|according\s+to|based\s+on|as\s+(?:stated|mentioned|noted)\s+in)"
    r"\s*[：:]?\s*)?"
    rf"(?:{_refs(_STRONG_REF)}|{_ZH_REFS})"
    r"(?:\s*(?:所述|所示|中|提到|内容))?(?:\s*[:：,，-][^)）\]】\n]{0,40})?\s*[)）\]】]",
    re.IGNORECASE,
)
_INLINE_CUE_EN = (
    rf"(?:{_STRONG_CUE}|see|in|from|as\s+(?:the\s+)?(?:passages?|information)\s+(?:says?|states?))"
)
# ", as stated in passage 2," between two parts of one clause.
_BETWEEN_COMMAS_RE = re.compile(
    rf"(?P<before>^|[^,]*?)\s*,\s*{_INLINE_CUE_EN}\s+{_refs(_STRONG_REF)}\s*,\s*",
    re.IGNORECASE,
)
# Openers whose comma stays: "Yes, according to passage 2, ..." -> "Yes, ...",
# but "Refunds, as the passages say, take ..." -> "Refunds take ...".
_OPENER_RE = re.compile(
    r"(?:.*[.!?]\s+)?(?:yes|no|sure|okay|ok|well|so|also|however|unfortunately|great|(?:good|great) news"
    r"|absolutely|of course|certainly|currently|generally|hi|hello|thanks|thank you)\s*",
    re.IGNORECASE,
)
# "..., as stated in the passages." at the end of a clause.
_TRAILING_RE = re.compile(
    rf"\s*,?\s*\b{_INLINE_CUE_EN}\s+{_refs(_STRONG_REF)}(?=\s*(?:[.;:!?。，！？；)）]|$))",
    re.IGNORECASE,
)
# "in passage 2" anywhere: a numbered passage is never the store's word.
_NUMBERED_ANYWHERE_RE = re.compile(
    rf"\s*\b{_INLINE_CUE_EN}\s+{_NUMBERED_EN}(?:\s*\([^()\n]{{0,40}}\))?", re.IGNORECASE
)
# "，如段落2所述" / "，详见第2段" inside a Chinese sentence.
_ZH_INLINE_RE = re.compile(
    rf"\s*[，,]?\s*(?:正如|如|据|详见|参见|见|参考|参阅)\s*{_ZH_NUMBERED_REFS}\s*"
    r"(?:所述|所示|所说|中所述|中提到的|提到的那样|提到的)?(?=\s*(?:[，,。！？；.!?]|$))",
    re.IGNORECASE,
)
_HAS_CONTENT_RE = re.compile(r"\w")


def _strip_leads(text: str) -> str:
    """Remove attribution clauses that open a sentence or clause, re-capitalising."""

    def replace(match: re.Match[str]) -> str:
        pre, marker, word = match.group("pre"), match.group("marker") or "", match.group("word")
        if word and not re.search(r"[,，]", pre) and word.islower():
            word = word[0].upper() + word[1:]
        return pre + marker + (word or "")

    # Twice: "Based on the passages, according to passage 2, ..." has two.
    for _ in range(2):
        text = _LEAD_RE.sub(replace, text)
    return text


def _between_commas(match: re.Match[str]) -> str:
    """A mid-sentence ", as stated in passage 2," cut, keeping an opener's comma."""
    before = match.group("before")
    return before + (", " if _OPENER_RE.fullmatch(before) else " ")


def _tidy(text: str) -> str:
    """Spacing and punctuation left behind by a cut."""
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+([,.;:!?，。；：！？)）])", r"\1", text)
    text = re.sub(r"([,，;；])\s*([,，.。;；!！?？])", r"\2", text)
    text = re.sub(r"^[\s,，;；:：、]+", "", text)
    return text


def strip_attribution(sentence: str) -> str:
    """``sentence`` without clauses that name the prompt's passages or "information".

    "According to Passage 2, returns are free." -> "Returns are free.";
    "Returns are free (Passage 1)." -> "Returns are free.";
    "根据提供的信息，西藏地区实付满199元包邮。" -> "西藏地区实付满199元包邮。".
    A sentence that is nothing but attribution ("Based on the passages:")
    becomes ``""``. A sentence with none is returned unchanged, whitespace
    included; otherwise its leading and trailing whitespace is kept, so
    streamed sentences still join up.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"strip_attribution needs a str, not {type(sentence).__name__}")
    body = sentence.strip()
    if not body:
        return sentence
    cut = _strip_leads(body)
    cut = _BRACKET_RE.sub("", cut)
    cut = _SQUARE_NUMBERS_RE.sub("", cut)
    cut = _BETWEEN_COMMAS_RE.sub(_between_commas, cut)
    cut = _TRAILING_RE.sub("", cut)
    cut = _NUMBERED_ANYWHERE_RE.sub("", cut)
    cut = _ZH_INLINE_RE.sub("", cut)
    if cut == body:
        return sentence
    # A citation that opened the sentence may have hidden a lead clause.
    cut = _strip_leads(_tidy(cut)).strip()
    if not _HAS_CONTENT_RE.search(cut):
        return ""
    if body[0].isupper() and cut[0].islower() and re.match(r"[a-z][a-z']*\b", cut):
        cut = cut[0].upper() + cut[1:]
    lead = sentence[: len(sentence) - len(sentence.lstrip())]
    trail = sentence[len(sentence.rstrip()) :]
    return lead + cut + trail
