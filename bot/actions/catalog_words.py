"""The words customers ask catalog questions with, per language: the one table of them.

Everything store-specific (product types, option names and values, attribute words)
is read from each store's own catalog (bot/actions/catalog_vocab.py). What is here is
only how English and Chinese say "cheapest", "in stock", "under $300", "compare",
"it" or "sizes", so a catalog question reads the same in every store. A message is read
with every language's table: English patterns do not match Chinese and the reverse,
and mixed messages ("Backpack 有货吗") need both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A number as written in a price: "$1,299.99", "300", "1.5k"; read from its first digit
# only and at most 9 digits long, so a run of digits cannot make the patterns backtrack.
NUMBER = r"(?<![\d,.])(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,9}(?:\.\d{1,2})?)(?![\d,.]\d)\s*(k\b)?"


@dataclass(frozen=True)
class QueryWords:
    """One language's words for catalog questions (compiled, case-insensitive)."""

    language: str
    # Currency words or symbols next to an amount ("$", "dollars", "元").
    currency: str
    # Price bounds: each pattern's groups are (number, k) pairs; see catalog_query.
    at_most: tuple[re.Pattern[str], ...]
    at_least: tuple[re.Pattern[str], ...]
    between: tuple[re.Pattern[str], ...]
    # "in stock", "available", "有货".
    stock: re.Pattern[str]
    # "cheapest" / "most expensive": one answer, the extreme one.
    cheapest: re.Pattern[str]
    priciest: re.Pattern[str]
    # "the cheaper one" / "the more expensive one": a pick among products just shown.
    cheaper: re.Pattern[str]
    pricier: re.Pattern[str]
    # "sorted by price", "low to high" / "high to low": a list in that order.
    sort_up: re.Pattern[str]
    sort_down: re.Pattern[str]
    # "how much", "price".
    price: re.Pattern[str]
    # "compare", "vs", "difference".
    compare: re.Pattern[str]
    # "it", "they", "that one": the products just shown.
    refers_back: re.Pattern[str]
    # "the first one", "the second" -> index into the products just shown (-1: last).
    ordinals: dict[str, int]
    # "options", "variants": every option of a product.
    all_options: re.Pattern[str]
    # "anything", "products", "ones": products in general, not one of those just shown.
    catalog_wide: re.Pattern[str]
    # "everything", "in your store", "what else do you have": the whole catalog, even
    # right after a list ("anything under $150?" after a list means among that list).
    whole_store: re.Pattern[str]
    # This language's words for option names -> the English word catalogs use
    # ("colour" -> "color", "尺码" -> "size"); a store's own option names match as written.
    option_words: dict[str, str] = field(default_factory=dict)
    # This language's words for common option values -> how catalogs may write them
    # ("蓝色" -> "blue"; "gray" -> "grey"); used when the store's catalog has that value.
    value_words: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_EN_CURRENCY = r"(?:[$€£¥₹]|usd|eur|gbp|dollars?|bucks|euros?|pounds?)"
_EN_AMOUNT = rf"{_EN_CURRENCY}?\s*{NUMBER}\s*{_EN_CURRENCY}?"

ENGLISH = QueryWords(
    language="en",
    currency=_EN_CURRENCY,
    at_most=(
        _re(
            r"(?:\bunder|\bbelow|\bbeneath|\bless than|\bcheaper than|\blower than|\bat most"
            r"|\bup to|\bno more than|\bnot more than|\bmax(?:imum)?|\bwithin|\bbudget(?: of| is)?"
            rf"|<=?)\s*{_EN_AMOUNT}"
        ),
        _re(rf"{_EN_AMOUNT}\s*(?:or less|or under|or below|or cheaper|and under|max)\b"),
    ),
    at_least=(
        _re(
            r"(?:\bover|\babove|\bmore than|\bat least|\bgreater than|\bhigher than"
            rf"|\bmin(?:imum)?|\bstarting at|>=?)\s*{_EN_AMOUNT}"
        ),
        _re(rf"{_EN_AMOUNT}\s*(?:or more|and up|and above|\+)"),
    ),
    between=(
        _re(rf"\bbetween\s*{_EN_AMOUNT}\s*(?:and|to|-|–)\s*{_EN_AMOUNT}"),
        _re(rf"\bfrom\s*{_EN_AMOUNT}\s*(?:to|-|–)\s*{_EN_AMOUNT}"),
        # "$20-$40", "$20 to 40": a currency sign says it is a price.
        _re(rf"[$€£¥₹]\s*{NUMBER}\s*(?:-|–|to)\s*[$€£¥₹]?\s*{NUMBER}"),
    ),
    stock=_re(
        r"\b(?:in[ -]stock|available|availability|have (?:any|one|some) left|any left"
        r"|sold out|out of stock|back in stock|can i (?:buy|order|get) (?:it|one|them)"
        r"|(?:can|could) (?:i )?(?:buy|order|get) (?:right )?now|right now)\b"
    ),
    cheapest=_re(
        r"\b(?:cheapest|least expensive|lowest[- ]price[ds]?|lowest cost|most affordable"
        r"|lowest priced|best price)\b"
    ),
    priciest=_re(r"\b(?:most expensive|priciest|highest[- ]price[ds]?|dearest|top[- ]priced)\b"),
    cheaper=_re(
        r"\b(?:cheaper|less expensive|lower[- ]priced|more affordable|cheap one|cheapest one)\b"
    ),
    pricier=_re(r"\b(?:more expensive|pricier|higher[- ]priced|dearer|expensive one)\b"),
    sort_up=_re(
        r"\b(?:low(?:est)? to high(?:est)?|cheapest first|sort(?:ed)? by price|by price"
        r"|price ascending|ascending price)\b"
    ),
    sort_down=_re(
        r"\b(?:high(?:est)? to low(?:est)?|most expensive first|price descending"
        r"|descending price)\b"
    ),
    price=_re(r"\b(?:how much|prices?|pricing|costs?|expensive|cheap)\b"),
    compare=_re(
        r"\b(?:compare|comparison|comparing|vs\.?|versus|difference|differences|differ"
        r"|which (?:one )?is better|side by side)\b"
    ),
    refers_back=_re(
        r"\b(?:it|its|it's|they|them|their|theirs|these|those|this one|that one|both|either"
        r"|each|the \w+ one|the \w+ ones|the one|which one)\b"
    ),
    ordinals={"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "last": -1},
    all_options=_re(
        r"\b(?:options|variants|versions|variations|configurations|choices|models|flavou?rs)\b"
    ),
    catalog_wide=_re(
        r"\b(?:anything|something|any products?|products|items|stuff|everything|ones|things?"
        r"|what (?:else )?do you (?:have|sell|carry|stock)|your (?:store|shop|catalog|catalogue))\b"
    ),
    whole_store=_re(
        r"\b(?:everything|else|other|all (?:your|of your|the) (?:products|items|stuff|things)"
        r"|(?:in|from|across|of) (?:your|the) (?:whole )?(?:store|shop|catalog|catalogue|range)"
        r"|(?:whole|entire) (?:store|shop|catalog|catalogue|range)|you (?:sell|carry|stock))\b"
    ),
    option_words={"colour": "color", "colours": "color", "sizing": "size", "shade": "color"},
    # Used only where the catalog lacks the customer's own spelling ("medium" for a
    # catalog of S / M / L sizes).
    value_words={
        "gray": ("grey",),
        "grey": ("gray",),
        "small": ("s",),
        "medium": ("m",),
        "large": ("l",),
    },
)

# Chinese: matched on text normalised by knowledge_base.chinese (simplified, NFKC,
# small numbers before units as digits: "三百元以下" -> "300元以下").
_ZH_CURRENCY = r"(?:元|块钱|块|美元|美金|rmb|¥|\$)"
_ZH_AMOUNT = rf"[¥$]?\s*{NUMBER}\s*{_ZH_CURRENCY}?"

CHINESE = QueryWords(
    language="zh",
    currency=_ZH_CURRENCY,
    at_most=(
        _re(rf"{_ZH_AMOUNT}\s*(?:以下|以内|之内|之下|内)"),
        _re(
            rf"(?:(?<!不)低于|(?<!不)少于|不超过|不到|不高于|(?<!不)小于|最多|预算)\s*{_ZH_AMOUNT}"
        ),
    ),
    at_least=(
        _re(rf"{_ZH_AMOUNT}\s*(?:以上|起)"),
        _re(
            rf"(?:(?<!不)高于|(?<!不)超过|(?<!不)多于|不低于|不少于|(?<!不)大于|至少)\s*{_ZH_AMOUNT}"
        ),
    ),
    between=(
        _re(
            rf"[¥$]?\s*{NUMBER}\s*{_ZH_CURRENCY}?\s*(?:到|至|-|~|～)\s*[¥$]?\s*{NUMBER}"
            rf"\s*{_ZH_CURRENCY}(?:之间)?"
        ),
        _re(rf"{NUMBER}\s*(?:到|至|-|~|～)\s*{NUMBER}\s*之间"),
    ),
    stock=_re(r"有货|现货|有库存|库存|缺货|没货|断货|还有吗|还有没有|卖完|售罄|能买到|能买吗"),
    cheapest=_re(r"最便宜|最低价|价格最低|最实惠|最划算"),
    priciest=_re(r"最贵|最高价|价格最高"),
    cheaper=_re(r"便宜点|便宜一点|便宜些|更便宜|便宜的那|便宜的一"),
    pricier=_re(r"贵一点|贵点的|更贵|贵的那|贵的一"),
    sort_up=_re(r"从低到高|从便宜到贵|按价格排|价格排序|由低到高"),
    sort_down=_re(r"从高到低|从贵到便宜|由高到低"),
    price=_re(r"多少钱|价格|价钱|几块|多少元|贵不贵|贵吗|售价|什么价"),
    compare=_re(r"对比|比较|区别|差别|哪个好|哪款好|哪个更好|有什么不同|不同之处"),
    refers_back=_re(
        r"它|它们|这个|那个|这款|那款|这件|那件|这两|那两|这三|那三|这些|那些|这种|那种|哪个|哪款"
    ),
    ordinals={"第一": 0, "第1": 0, "第二": 1, "第2": 1, "第三": 2, "第3": 2, "最后一": -1},
    all_options=_re(r"款式|规格|型号|选项|版本|口味"),
    catalog_wide=_re(r"商品|产品|东西|宝贝|什么都"),
    whole_store=_re(r"全部|所有|全店|店里|店内|别的|其他|其它|还有什么"),
    option_words={
        "颜色": "color",
        "颜色的": "color",
        "尺码": "size",
        "尺寸": "size",
        "大小": "size",
        "码数": "size",
        "容量": "capacity",
        "材质": "material",
        "材料": "material",
        "面料": "material",
        "长度": "length",
        "重量": "weight",
        "存储": "storage",
        "内存": "ram",
        "风格": "style",
        "类型": "type",
    },
    value_words={
        "黑色": ("black",),
        "白色": ("white",),
        "红色": ("red",),
        "蓝色": ("blue",),
        "绿色": ("green",),
        "黄色": ("yellow",),
        "紫色": ("purple",),
        "粉色": ("pink",),
        "粉红": ("pink",),
        "灰色": ("grey", "gray"),
        "银色": ("silver",),
        "金色": ("gold",),
        "玫瑰金": ("rose gold",),
        "棕色": ("brown",),
        "咖啡色": ("brown",),
        "米色": ("beige",),
        "橙色": ("orange",),
        "藏青": ("navy",),
        "深蓝": ("navy",),
        "大号": ("large", "l"),
        "中号": ("medium", "m"),
        "小号": ("small", "s"),
        "加大": ("xl",),
        "无线": ("wireless",),
        "有线": ("wired",),
        "防水": ("waterproof",),
    },
)

WORDS: tuple[QueryWords, ...] = (ENGLISH, CHINESE)

# Option values and attribute words too common in ordinary English sentences to read as
# a filter unless the option is named with them ("size large", "brightness: high").
VAGUE_VALUES = frozenset(
    "yes no none all standard regular normal high low medium small large basic other "
    "one two default".split()
)
# Words inside a multi-word attribute value that say nothing on their own ("iron and
# glass" answers to "iron" and "glass", not "and").
FUNCTION_WORDS = frozenset(
    "and or with without for from the of in on to by a an per plus not non".split()
)
# Values meaning an option or attribute is present: "waterproof" asks for waterproof: yes.
YES_VALUES = frozenset({"yes", "true", "y", "1", "是", "有"})
BOOLEAN_VALUES = YES_VALUES | {"no", "false", "n", "0", "none", "否", "无", "没有"}

# Units after a number that make it a quantity, not a price ("within 5 days", "under
# 2 kg"); a store's own option values ("2 cups", "6 ft") are checked too.
NOT_PRICE_UNITS = frozenset(
    "day days week weeks hour hours minute minutes month months year years inch inches in "
    "ft feet foot cm mm m ml l liter liters litre litres kg g lb lbs oz pcs pieces piece gb tb "
    "mb mah w v hz people person seats seat drawers 天 小时 分钟 周 个月 年 厘米 毫米 米 毫升 升 "
    "克 公斤 斤 件 个 人".split()
)

# Clothing size codes in their natural order (they sort wrongly alphabetically).
SIZE_CODES = ("xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl")


def other_spellings(value: str) -> tuple[str, ...]:
    """How catalogs may also write an option value ("medium" -> "m", "gray" -> "grey")."""
    return tuple(s for words in (ENGLISH, CHINESE) for s in words.value_words.get(value, ()))
