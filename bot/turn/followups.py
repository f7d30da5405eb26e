"""Follow-ups: a message read against what the conversation is about.

After each turn the conversation remembers its topic (slot ``topic``): the
knowledge entry it answered from (its title and the question it answered), the
products it showed (their ids are the actions' slot ``last_products``), or the
order it was about. A message that reads as a follow-up
(``bot/nlu/phrases.follow_up``: "and how much does it cost?", "那这个呢？") is
rewritten into a standalone question against that topic. The knowledge route uses
the rewrite only when the store's calibration is surer of it than of the message
alone (bot/turn/knowledge.py), so a message that stands on its own is never made
worse; the turn log keeps both texts.
"""

from __future__ import annotations

import re
from typing import Any

from bot.actions.catalog_vocab import CONTRACTION
from bot.nlu import phrases
from bot.storage.privacy import redact
from bot.turn.records import Turn
from knowledge_base import chinese

TOPIC_SLOT = "topic"

# Words that ask rather than name a subject: never a topic ("how long does shipping
# take" is about shipping). Per language; Chinese is read in jieba words.
QUESTION_WORDS = {
    "en": frozenset(
        """a an the and or but to of in on at for from with about by as is are was were be
        been do does did can could would will should shall may might must have has had i
        me my mine we our you your it its they them their this that these those there here
        what which who whom whose when where why how much many long take takes took cost
        costs get gets got make need want know tell please any some much more most also
        just if then than so not no yes ok okay hi hello thanks thank""".split()
    ),
    "zh": frozenset(
        "的 了 吗 呢 吧 啊 是 有 在 我 你 您 我们 他 她 它 这 那 这个 那个 什么 怎么 怎么样 "
        "多少 多久 几 哪 哪里 哪个 为什么 请问 请 一下 可以 能 会 要 想 还 也 都 和 跟 与 "
        "就 吗 么 呀 嘛 钱 多长时间 时间".split()
    ),
}
# Where a rewrite puts the topic in place of a word that refers back.
_REF_EN = re.compile(
    r"\b(?:that one|this one|the same|it|its|it's|they|them|their|those|these|that|this)\b", re.I
)
_REF_ZH = re.compile(r"它们?|这个|那个|这款|那款|这些|那些|这种|那种|同样的")
_TRAILING_NE = re.compile(r"呢\s*([？?]?)\s*$")


# Words that ask to see or have a product rather than ask something about it ("tell
# me more about it", "I'll take them"): no subject of their own.
REQUEST_WORDS = {
    "en": frozenset(
        """more show see look tell details detail info information like love buy order take
        one ones good great nice cool ok sure please interested""".split()
    ),
    "zh": frozenset("介绍 详细 看看 看 买 要 下单 喜欢 不错 好 一下 详情 信息".split()),
}


def _words(text: str) -> list[str]:
    if chinese.has_chinese(text):
        return [w for w in chinese.words(text) if w.strip()]
    return re.findall(r"[a-z0-9][a-z0-9'-]*", CONTRACTION.sub("", text.lower()))


def own_subject(text: str) -> list[str]:
    """The words of ``text`` that name a subject of its own: not question words, not
    pointers back ("it", "they"), not asking to see or buy. "what if they arrive
    damaged?" -> ["arrive", "damaged"]; "tell me more about it" -> []."""
    language = "zh" if chinese.has_chinese(text) else "en"
    skip = QUESTION_WORDS[language] | REQUEST_WORDS[language]
    refs = _REF_ZH if language == "zh" else _REF_EN
    return [
        w
        for w in _words(text)
        if w not in skip and not refs.fullmatch(w) and (len(w) > 1 or language == "zh")
    ]


def topic_phrase(question: str, title: str, current: str) -> str:
    """The subject of the last answer, in the customer's words: the content words of
    the question it answered that its entry's title also uses (else all of the
    question's content words), less those the new message already says."""
    language = "zh" if chinese.has_chinese(question) else "en"
    stop = QUESTION_WORDS[language]
    asked = [w for w in dict.fromkeys(_words(question)) if w not in stop and len(w) > 1]
    in_title = set(_words(title))
    shared = [w for w in asked if w in in_title] or asked
    said = set(_words(current))
    kept = [w for w in shared if w not in said]
    return ("" if language == "zh" else " ").join(kept)


def rewrite(rest: str, refers: bool, topic: str) -> str:
    """``rest`` (the message without its connector) with ``topic`` where it refers back,
    or added to it."""
    if not topic:
        return rest
    if chinese.has_chinese(rest) or chinese.has_chinese(topic):
        if refers and _REF_ZH.search(rest):
            return _REF_ZH.sub(topic, rest, count=1)
        return topic + _TRAILING_NE.sub(r"\1", rest)
    if refers and _REF_EN.search(rest):
        return _REF_EN.sub(topic, rest, count=1)
    body = rest.rstrip(" ?!.")
    return f"{body} {topic}?" if body else f"{topic}?"


def standalone(turn: Turn) -> str | None:
    """The message as a standalone question about the conversation's knowledge topic,
    or None when it is no follow-up or there is no such topic."""
    topic = turn.slots.get(TOPIC_SLOT) or {}
    if topic.get("kind") != "knowledge":
        return None
    read = phrases.follow_up(turn.text, turn.rules)
    if read is None:
        return None
    rest, refers = read
    phrase = topic_phrase(str(topic.get("question", "")), str(topic.get("title", "")), rest)
    out = rewrite(rest, refers, phrase)
    return out if out.strip() and out.strip() != turn.text.strip() else None


KNOWLEDGE_ACTIONS = {"action_answer", "action_answer_curated"}
PRODUCT_ACTIONS = {"action_product_search"}
ORDER_ACTIONS = {"action_order_status", "action_cancel_order", "action_submit_return"}


def remember(turn: Turn) -> None:
    """What this turn leaves the conversation talking about (slot ``topic``)."""
    slots = turn.slots
    action = turn.action or ""
    if action in KNOWLEDGE_ACTIONS and turn.sources:
        source: dict[str, Any] = turn.sources[0]
        slots[TOPIC_SLOT] = {
            "kind": "knowledge",
            "id": source.get("id"),
            "title": source.get("title", ""),
            # Kept in the conversation's slots, which are stored: redacted like the log.
            "question": redact(turn.standalone or turn.text),
        }
    elif action in PRODUCT_ACTIONS:
        slots[TOPIC_SLOT] = {"kind": "product"}
    elif action in ORDER_ACTIONS:
        slots[TOPIC_SLOT] = {"kind": "order", "id": slots.get("order_id")}
    elif action in ("action_handoff", "action_restart"):
        slots.pop(TOPIC_SLOT, None)
