"""The words of order questions, per language: data for bot/actions/order_refs.py.

What a verified customer asks about their orders ("list my orders", "what's in it",
"the tracking", "my most recent order") and how they point at one of the orders just
listed ("the first one", "the last one", "the delivered one"). One :class:`OrderWords`
per language in :data:`ORDER_WORDS`; a message is read with every language's table
(the scripts do not overlap, and customers mix them). Nothing here names a store's
products: "the vacuum order" is matched against the titles of the customer's own orders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.storage.orders import CANCELLED, RETURN_REQUESTED

PENDING, PROCESSED, DELIVERED = "pending", "processed", "delivered"
NOT_DELIVERED = frozenset({PENDING, PROCESSED})


@dataclass(frozen=True)
class OrderWords:
    """One language's words for order questions.

    ``statuses``: (pattern, statuses) in order, the first that matches wins, so a
    negated status ("hasn't arrived") is listed before the plain one ("arrived").
    ``ordinals``: word -> position (1-based; -1 the last); ``ordinal_number``: a pattern
    whose group 1 is a position written as a number ("2nd", "#2", "第2个").
    ``singular``: the message means one order ("the delivered one", "which one"), so
    several matches get a question rather than a list.
    ``filler``: words never taken as naming an item ("the one with the ...").
    ``simplify``: read traditional Chinese as simplified first.
    """

    list_orders: re.Pattern[str]
    items: re.Pattern[str]
    tracking: re.Pattern[str]
    recent: re.Pattern[str]
    current: re.Pattern[str]
    singular: re.Pattern[str]
    statuses: tuple[tuple[re.Pattern[str], frozenset[str]], ...]
    ordinals: re.Pattern[str]
    ordinal_values: dict[str, int]
    ordinal_number: re.Pattern[str]
    filler: frozenset[str]
    simplify: bool = False


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


EN = OrderWords(
    list_orders=re.compile(
        r"\b(?:list|show|see|view|give)\b[^.?!]{0,25}\borders\b"
        r"|\b(?:which|what|all|any|other)(?: of)?(?: my)? orders\b|\border history\b"
        r"|\borders (?:do|did) i (?:have|place|make)\b|\bmy orders\b"
        r"|\b(?:list|show) (?:them|me them|all)\b",
        re.I,
    ),
    items=re.compile(
        r"\bwhat(?:'s| is| was| were| are)? (?:in|inside)\b|\bwhat did i (?:order|buy|get|purchase)\b"
        r"|\bitems?\b|\bcontents?\b|\bcontain|\bproducts?\b",
        re.I,
    ),
    tracking=re.compile(r"\btrack(?:ing|ed)?\b|\bshipment\b|\bcarrier\b|\bparcel\b", re.I),
    recent=re.compile(
        r"\b(?:most recent(?:ly)?|latest|newest|recent(?:ly)?|last placed|last ordered)\b", re.I
    ),
    current=re.compile(
        r"\b(?:it|its|it's|that order|this order|the order|that one|this one)\b", re.I
    ),
    singular=re.compile(r"\b(?:the|that|this|which)(?: \w+){0,2} (?:one|order)\b", re.I),
    statuses=(
        (
            re.compile(
                r"\b(?:not|never|yet to)\b[^.?!]{0,15}\b(?:deliver|arriv|receiv|come|came|got)"
                r"|\b(?:hasn't|haven't|didn't|hasnt|havent|didnt)\b[^.?!]{0,10}"
                r"\b(?:deliver|arriv|receiv|come|came|got)"
                r"|\bundelivered\b|\bstill (?:on (?:the|its) way|coming|open)\b|\bwaiting\b",
                re.I,
            ),
            NOT_DELIVERED,
        ),
        (
            re.compile(
                r"\b(?:not|hasn't|haven't|hasnt|havent)\b[^.?!]{0,12}\b(?:shipped|sent|dispatched)"
                r"|\bpending\b|\bstill processing\b|\bnot (?:yet )?processed\b",
                re.I,
            ),
            frozenset({PENDING}),
        ),
        (
            re.compile(
                r"\bshipped\b|\bon (?:its|the) way\b|\bin transit\b|\bprocessed\b|\bdispatched\b",
                re.I,
            ),
            frozenset({PROCESSED}),
        ),
        (
            re.compile(r"\b(?:delivered|arrived|received)\b", re.I),
            frozenset({DELIVERED}),
        ),
        (re.compile(r"\bcancel(?:l)?ed\b", re.I), frozenset({CANCELLED})),
        (re.compile(r"\breturn(?:ed| requested)\b", re.I), frozenset({RETURN_REQUESTED})),
    ),
    ordinals=re.compile(
        r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final)\b",
        re.I,
    ),
    ordinal_values={
        "first": 1,
        "second": 2,
        "third": 3,
        "fourth": 4,
        "fifth": 5,
        "sixth": 6,
        "seventh": 7,
        "eighth": 8,
        "ninth": 9,
        "tenth": 10,
        "last": -1,
        "final": -1,
    },
    ordinal_number=re.compile(
        r"\b(\d{1,2})(?:st|nd|rd|th)\b|(?:\bnumber|\bno\.?|#)\s?(\d{1,2})\b(?![-/.]?\d)", re.I
    ),
    filler=_words(
        """a an the one ones order orders my me i it its that this these those which what
        with of in for and or is was were are has have had where when show tell about status
        please did do does thing things stuff bought ordered got get buy purchase purchased
        containing contains contain item items product products one's yes no ok okay list all
        new old can could would will you your from there here them they thanks want need
        know see check find just still yet now been being also any some how why who whose look
        like not but into out over on at to be am so if then than more most much many last
        first second third next other another same"""
    ),
)

_ZH_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_ZH_NUMERALS |= {"八": 8, "九": 9, "十": 10, "头": 1, "首": 1}

ZH = OrderWords(
    list_orders=re.compile(
        r"(?:所有|全部|哪些|哪几个|哪几笔|几个|几笔|什么)的?订单|订单列表|订单记录|历史订单|列出|列一下|列给我|订单(?:都)?有哪些"
        r"|看看?(?:我的)?(?:所有|全部)?订单|我的订单(?:有哪些|列表)?\s*[？?]?\s*$"
    ),
    items=re.compile(
        r"(?:买|订|下单|拍)了?(?:什么|啥|哪些)|(?:里面|里边)?有(?:什么|啥|哪些)(?:东西|商品)?"
        r"|包含|(?:哪些|什么)商品|商品(?:明细|清单)|东西"
    ),
    tracking=re.compile(r"物流|快递|运单|单号|追踪|跟踪|到哪"),
    recent=re.compile(r"最近|最新|刚(?:下|买|订|拍)的|上一(?:个|笔|单)订单"),
    current=re.compile(r"这个订单|这笔订单|这单|那个订单|那笔订单|该订单|它"),
    singular=re.compile(r"(?:那|这|哪)一?(?:个|笔|单)"),
    statuses=(
        (
            re.compile(
                r"(?:还没|没有|没|未|尚未)(?:送到|送达|到货|收到|签收|到)|未送达|在路上|运输中"
            ),
            NOT_DELIVERED,
        ),
        (
            re.compile(r"(?:还没|没有|没|未|尚未)发货|待发货|待处理|处理中|未处理"),
            frozenset({PENDING}),
        ),
        (re.compile(r"已发货|发货了|已处理|已寄出"), frozenset({PROCESSED})),
        (
            re.compile(r"已送达|送到了|送达|签收|收到了|已收到|已收货|到货了"),
            frozenset({DELIVERED}),
        ),
        (re.compile(r"已取消|取消了的|取消的"), frozenset({CANCELLED})),
        (re.compile(r"已退货|退货中|申请了退货"), frozenset({RETURN_REQUESTED})),
    ),
    ordinals=re.compile(r"(最后|倒数第一)(?:个|笔|单|条|那个)?"),
    ordinal_values={"最后": -1, "倒数第一": -1},
    ordinal_number=re.compile(
        r"第\s*([一二两三四五六七八九十]|10|[1-9])\s*(?:个|笔|单|条)?|(头|首)一?(?:个|笔|单)"
    ),
    filler=frozenset("订单 那个 这个 那笔 这笔 一个 一笔 商品 东西 我的 哪个 什么 请问".split()),
    simplify=True,
)

ORDER_WORDS: dict[str, OrderWords] = {"en": EN, "zh": ZH}


def position_of(words: OrderWords, written: str) -> int | None:
    """A position written as a number or a numeral ("2", "二", "头") as an int, else None."""
    if written.isdigit():
        return int(written)
    return _ZH_NUMERALS.get(written) if words.simplify else None
