"""What a message's words say, per language: the lexical rules of the dialogue policy.

The intent model reads most messages; these rules decide what must never depend on
its confidence (a request for a person), what it cannot tell (a question about the
rules rather than a request about one's own order), and the short replies of a form
(a no, a cancellation reason). One :class:`Phrases` per language in :data:`RULES`;
a message is read with its own language's rules (bot/nlu/language.py), or with every
language's when it is too short to tell ("no", "ok"), so no English pattern decides
a Chinese message. Chinese is matched after converting traditional characters to
simplified ones. Yes/no to a change question is bot/nlu/consent.py's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.nlu.language import simplified

# -- English ---------------------------------------------------------------------------

# A yes to a change is judged by bot/nlu/consent.py (the whole reply, no negation, the
# intent model's "deny"); this prefix match only lets "no ..." leave the return form.
NO_RE = re.compile(
    r"^\s*(no|n|nope|nah|don'?t|do not|never ?mind|stop|cancel that|not now)\b", re.I
)
# Asking for a person is honoured whatever the intent model's confidence: "Can I
# speak to an agent?" must never end in a clarifying question or a refusal.
_PERSON = r"(?:agent|human|person|representative|operator|someone|somebody|staff|support team)"
# A person as the thing wanted: "a human", "a real person", "a live agent".
_A_PERSON = r"(?:an?|the|some)\s+(?:real\s+|live\s+|actual\s+)?(?:human|person|agent|representative|operator)"
HUMAN_REQUEST_RE = re.compile(
    rf"\b(?:talk|speak|chat)\s+(?:to|with)\b[^.?!]{{0,30}}?\b{_PERSON}\b"
    rf"|\b(?:connect|transfer|put)\s+me\b[^.?!]{{0,30}}?\b{_PERSON}\b"
    rf"|\b(?:get|give|find|send)\s+me\s+{_A_PERSON}\b"
    rf"|\b(?:i\s+(?:want|need|would like|'d like)|can i (?:get|have)|let me have)\s+{_A_PERSON}\b"
    r"|^\s*(?:an? )?(?:real |live )?(?:agent|human|representative|operator|person)\s*(?:please)?"
    r"\s*[.!?]*\s*$",
    re.I,
)
# "I don't need a human", "no need to talk to anyone": not a request.
_ANYONE = r"(?:an?\s+|the\s+|any\s+)?(?:real\s+|live\s+)?(?:human|person|agent|representative|operator|someone|somebody|anyone|anybody|people|staff)"
NOT_HUMAN_RE = re.compile(
    rf"\b(?:(?:don'?t|do not|never|not)\s+(?:really\s+)?(?:want|need|wanna)|no need)\s+"
    rf"(?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+)?{_ANYONE}\b",
    re.I,
)
# A question about the rules ("Can I return an item before it arrives?", "Do I
# pay the postage for returns?", "How can I cancel an order?") rather than a
# request about one's own order: answered from the store's policies, with a
# button that starts the action. "Can you ..." is a polite request, not a
# question about the rules, and "where is / status of / when will my" asks
# about one specific order, so neither is one.
GENERAL_QUESTION_RE = re.compile(
    r"^\s*(?:(?:can|could|may|should|must) (?:i|we|one)\b"
    r"|(?:do|does) (?:i|we|you|one)\b"
    r"|(?:is|are) there\b|is it (?:possible|ok|okay|true)\b"
    r"|how (?:long|many|much|soon|often|do|does|can|should|will|would)\b"
    r"|what (?:is|are|happens|if|should|do|can)\b|what's\b"
    r"|why (?:can'?t|cannot|can not|is|are|do|does|did|would|isn'?t|won'?t)\b)"
    r"|\bwhat (?:should|do|can) i do\b|\bwhy\s*\?\s*$",
    re.I,
)
SPECIFIC_ORDER_RE = re.compile(
    r"\b(?:where|status|when will my|has my|did my|tracking number for)\b", re.I
)
CANCEL_REASONS = {
    "no longer needed": re.compile(
        r"no longer need|don'?t need|do not need|not needed|no need|changed my mind", re.I
    ),
    "ordered by mistake": re.compile(r"mistake|by accident|accidental|wrong|didn'?t mean", re.I),
}

# -- Chinese (simplified; traditional input is converted first) --------------------------

# "转人工" is the standard way to ask for a person; also "人工客服", "找客服", "真人",
# "我要投诉找人". "人工" is a person unless it is another word ("人工智能", "人工费").
HUMAN_REQUEST_ZH = re.compile(
    r"转\s*人工|人工(?!智能|费|成本|合成|草坪|湖|降雨)"
    r"|真人|活人"
    r"|(?:找|要|叫|换|转|接|联系|呼叫|请)\s*(?:一?个|一下|下)?\s*(?:客服|工作人员|店长|掌柜|老板|店主|专员)"
    r"|找\s*(?:个|一个)?\s*人|换\s*(?:个|一个)\s*人|我要投诉|要投诉"
)
# Not a request: the words negated ("不要转人工", "不用找客服"), or a question about the
# team rather than for it ("人工客服几点上班？", "客服电话是多少？": the FAQ answers those).
NOT_HUMAN_ZH = re.compile(
    r"(?:不|别|无需|不用|不需要|没必要)\s*(?:要|用|想|必)?\s*(?:转|找|叫|联系)?\s*(?:人工|真人|客服|人)"
    r"|几点|什么时候|什么时间|时间|电话|号码|上班|下班|营业|工作日|周末"
)
# Chinese customers ask about the rules with these ("可以退货吗？", "运费怎么算？").
GENERAL_QUESTION_ZH = re.compile(
    r"可以|可不可以|能不能|能否|是否|会不会|需不需要|要不要|有没有|怎么|怎样|如何|多久|多长时间"
    r"|几天|多少|为什么|为啥|什么|啥|哪些|吗\s*[？?]?\s*$|呢\s*[？?]?\s*$"
)
# ... and about their own order with these ("我的订单到哪了", "这个订单发货了吗").
SPECIFIC_ORDER_ZH = re.compile(
    r"我的(?:订单|包裹|快递|货|退款|东西)|我(?:买|下单|订|拍)的|这(?:个|笔|单)订单|到哪|物流到|单号是"
)
NO_ZH = re.compile(r"^\s*(?:不要|不用|不了|不想|不需要|算了|别|先不|不退了|不取消)")
CANCEL_REASONS_ZH = {
    "no longer needed": re.compile(r"不(?:再)?需要|不想要|不要了|用不上|用不到|改主意|不买了"),
    "ordered by mistake": re.compile(r"买错|拍错|下错|点错|选错|误拍|误购|错拍|搞错|不小心"),
}
# Chinese small talk, the whole message (the intent model reads English small talk).
_ZH_END = r"[\s啊呀呢哈啦了哦噢~～!！。.,，?？]*"
SMALL_TALK_ZH = {
    "greet": re.compile(
        rf"^\s*(?:(?:亲|您好|你好|哈喽|嗨|嗨喽|早上好|上午好|中午好|下午好|晚上好|在吗|在不在|有人吗|客服在吗)"
        rf"{_ZH_END})+$"
    ),
    "thanks": re.compile(
        rf"^\s*(?:(?:好的|好|嗯|嗯嗯|ok|OK|知道了|明白了|收到)?{_ZH_END}"
        rf"(?:谢谢|多谢|感谢|谢了|谢啦|辛苦了|麻烦了)(?:你|您|亲|啦|了)?{_ZH_END})+$"
    ),
    "goodbye": re.compile(
        rf"^\s*(?:(?:好的|好|嗯|ok|OK|谢谢|多谢|感谢)(?:你|您|亲)?{_ZH_END})*"
        rf"(?:再见|拜拜|拜|回见|没事了|没有了|没别的了|就这些|先这样|没其他问题了){_ZH_END}"
        rf"(?:(?:谢谢|多谢|再见|拜拜)(?:你|您|亲)?{_ZH_END})*$"
    ),
}


# A message that leans on what came before: it opens with a connector ("and", "what
# about") or refers back ("it", "they", "that one") instead of naming its subject.
FOLLOW_UP_LEAD_RE = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|so|and|also|then|but|plus)\b[\s,]*|(?:what|how) about\b\s*)+", re.I
)
FOLLOW_UP_REF_RE = re.compile(
    r"\b(?:it|its|it's|they|them|their|those|these|that|this|that one|this one|the same)\b",
    re.I,
)
FOLLOW_UP_LEAD_ZH = re.compile(r"^\s*(?:(?:那么?|还有|另外|然后|那如果|如果是|再问一下)[，,\s]*)+")
FOLLOW_UP_REF_ZH = re.compile(
    r"它们?|这个|那个|这款|那款|这些|那些|这种|那种|同样的|(?<=\S)呢[？?]?\s*$"
)

# A request to see products, not a question about them: "show me your sunscreens", "I'm
# looking for a tent", "I need a new cleanser"; "给我看看防晒霜", "我想买一个背包".
PRODUCT_REQUEST_RE = re.compile(
    r"^\s*(?:hi|hello|hey)?[\s,!]*(?:(?:can|could|would) you\s+)?(?:please\s+)?"
    r"(?:show|list|find|recommend|suggest)\s+(?:me|us)?\b"
    r"|^\s*(?:hi|hello|hey)?[\s,!]*(?:i'?m|i am|we'?re|we are)?\s*"
    r"(?:looking for|searching for|shopping for)\b"
    r"|^\s*(?:hi|hello|hey)?[\s,!]*(?:i|we)\s+(?:need|want|would like)\s+(?:a|an|some|new|to buy)\b"
    r"|^\s*(?:got|have you got)\s+any\b",
    re.I,
)
# A message about the customer's own purchase or a store service rather than the
# catalog: something bought, delivered or used ("the sofa I bought", "arrived cracked",
# "I already opened it"), or a returns / delivery / damage / price-adjustment /
# subscription / financing matter. Generic shop words, no store's products.
SITUATION_RE = re.compile(
    r"\b(?:i|we)(?:'ve| have)?\s+(?:just\s+|already\s+|recently\s+)?"
    r"(?:bought|ordered|purchased|received|got|opened|used|tried|returned|paid)\b"
    r"|\b(?:arrived|came|showed up|was delivered|got delivered|turns? out)\b"
    r"|\b(?:returns?|returning|send (?:\w+ ){0,3}back|refunds?|money back|exchanges?|restocking"
    r"|damaged?|broken|broke|cracked|leak(?:ed|ing|s)?|defect(?:ive)?|scratch(?:ed)?"
    r"|dent(?:ed)?|warrant(?:y|ies)|deliver(?:y|ies|ed)?|ship(?:ping|ped)?|financ(?:e|ing)"
    r"|subscri(?:be|ption)|automatically|price match|match (?:it|that|the price)"
    r"|difference back|adjustment|installments?|assembly)\b",
    re.I,
)
SITUATION_ZH = re.compile(
    r"退货|退款|退换|换货|退回|运费|包邮|发货|快递|配送|送到|破损|坏了|碎了|漏了|瑕疵|保修|质保"
    r"|分期|订阅|自动|价保|差价|保价|我买的|收到的?|已经拆|用过"
)
# Whether the catalog has a product, not a question about one: "do you have a vitamin C
# serum?", "do you sell rugs?", "is there a blue one?", "有没有防晒霜".
AVAILABILITY_RE = re.compile(
    r"\b(?:do|does) (?:you|y'?all|u|the store) (?:guys )?(?:have|sell|carry|stock|make|offer)\b"
    r"|\b(?:is|are) there (?:a|an|any)\b|\bhave you got\b",
    re.I,
)
AVAILABILITY_ZH = re.compile(r"有没有|有卖|卖不卖|有无")
# A question, by its form: a question mark, or a sentence that opens with a question word.
QUESTION_RE = re.compile(
    r"\?|(?:^|[.!]\s+)(?:what|whats|what's|which|how|why|when|where|who|is|are|does|do|can"
    r"|could|will|would|should|has|have)\b",
    re.I,
)
PRODUCT_REQUEST_ZH = re.compile(r"^\s*(?:给我)?(?:看看|推荐|介绍一下)|我(?:想|要)(?:买|找|看)")


@dataclass(frozen=True)
class Phrases:
    """One language's rules. ``simplify``: read traditional Chinese as simplified first."""

    asks_for_person: re.Pattern[str]
    general_question: re.Pattern[str]
    specific_order: re.Pattern[str]
    says_no: re.Pattern[str]
    cancel_reasons: dict[str, re.Pattern[str]]
    follow_up_lead: re.Pattern[str] | None = None
    follow_up_ref: re.Pattern[str] | None = None
    not_person: re.Pattern[str] | None = None
    product_request: re.Pattern[str] | None = None
    small_talk: dict[str, re.Pattern[str]] = field(default_factory=dict)
    situation: re.Pattern[str] | None = None
    availability: re.Pattern[str] | None = None
    question: re.Pattern[str] | None = None
    simplify: bool = False

    def read(self, text: str) -> str:
        return simplified(text) if self.simplify else text


RULES: dict[str, Phrases] = {
    "en": Phrases(
        asks_for_person=HUMAN_REQUEST_RE,
        not_person=NOT_HUMAN_RE,
        general_question=GENERAL_QUESTION_RE,
        specific_order=SPECIFIC_ORDER_RE,
        says_no=NO_RE,
        cancel_reasons=CANCEL_REASONS,
        follow_up_lead=FOLLOW_UP_LEAD_RE,
        follow_up_ref=FOLLOW_UP_REF_RE,
        product_request=PRODUCT_REQUEST_RE,
        situation=SITUATION_RE,
        availability=AVAILABILITY_RE,
        question=QUESTION_RE,
    ),
    "zh": Phrases(
        asks_for_person=HUMAN_REQUEST_ZH,
        not_person=NOT_HUMAN_ZH,
        general_question=GENERAL_QUESTION_ZH,
        specific_order=SPECIFIC_ORDER_ZH,
        says_no=NO_ZH,
        cancel_reasons=CANCEL_REASONS_ZH,
        follow_up_lead=FOLLOW_UP_LEAD_ZH,
        follow_up_ref=FOLLOW_UP_REF_ZH,
        product_request=PRODUCT_REQUEST_ZH,
        small_talk=SMALL_TALK_ZH,
        situation=SITUATION_ZH,
        availability=AVAILABILITY_ZH,
        simplify=True,
    ),
}


def rules_for(language: str | None) -> list[Phrases]:
    """The rules to read a message in ``language`` (bot/language.detect) with: its own,
    or every language's when it has none the rules know."""
    if language in RULES:
        return [RULES[language]]
    return list(RULES.values())


def asks_for_person(text: str, rules: Iterable[Phrases]) -> bool:
    """The words ask for a person ("talk to an agent", "转人工"), not negated."""
    for r in rules:
        said = r.read(text)
        if r.asks_for_person.search(said) and not (r.not_person and r.not_person.search(said)):
            return True
    return False


def declines_person(text: str, rules: Iterable[Phrases]) -> bool:
    """The words say no to a person, or ask about the team rather than for it ("I
    don't need a human", "人工客服几点上班？"): whatever the intent model reads."""
    for r in rules:
        said = r.read(text)
        if r.not_person and r.not_person.search(said):
            return True
    return False


def asks_for_products(text: str, rules: Iterable[Phrases]) -> bool:
    """A request to see products ("show me your sunscreens", "我想买背包")."""
    return any(r.product_request and r.product_request.search(r.read(text)) for r in rules)


def tells_situation(text: str, rules: Iterable[Phrases]) -> bool:
    """The message is about the customer's own purchase or a store service (a return,
    a delivery, damage, a price adjustment, a subscription), not the catalog."""
    return any(r.situation and r.situation.search(r.read(text)) for r in rules)


def asks_availability(text: str, rules: Iterable[Phrases]) -> bool:
    """Asks whether the store has a product ("do you have ...?", "有没有...")."""
    return any(r.availability and r.availability.search(r.read(text)) for r in rules)


def asks_question(text: str, rules: Iterable[Phrases]) -> bool:
    """The message is a question by its form (languages with no question rule: never)."""
    return any(r.question and r.question.search(r.read(text)) for r in rules)


def small_talk(text: str, rules: Iterable[Phrases]) -> str | None:
    """``greet`` / ``thanks`` / ``goodbye`` when the whole message is that, else None."""
    for r in rules:
        said = r.read(text)
        for intent, pattern in r.small_talk.items():
            if pattern.match(said):
                return intent
    return None


def asks_about_rules(text: str, rules: Iterable[Phrases]) -> bool:
    """A general question about the store's rules, not a request about one specific order."""
    for r in rules:
        said = r.read(text)
        if r.general_question.search(said) and not r.specific_order.search(said):
            return True
    return False


def says_no(text: str, rules: Iterable[Phrases]) -> bool:
    """The message starts with a refusal ("no ...", "不要…")."""
    return any(r.says_no.match(r.read(text)) for r in rules)


def cancel_reason(text: str, rules: Iterable[Phrases]) -> str | None:
    """One of the policy's cancellation reasons when the message gives it, else None."""
    for r in rules:
        said = r.read(text)
        for reason, pattern in r.cancel_reasons.items():
            if pattern.search(said):
                return reason
    return None


def follow_up(text: str, rules: Iterable[Phrases]) -> tuple[str, bool] | None:
    """``(the message without its leading connector, whether it refers back)`` when the
    message reads as a follow-up ("and how much does it cost?", "那这个呢？"), else None."""
    for r in rules:
        if r.follow_up_lead is None or r.follow_up_ref is None:
            continue
        said = r.read(text)
        lead = r.follow_up_lead.match(said)
        rest = said[lead.end() :] if lead else said
        refers = bool(r.follow_up_ref.search(rest))
        if (lead and rest.strip()) or refers:
            return rest.strip(), refers
    return None
