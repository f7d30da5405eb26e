"""The facts of one product record, each named by the field it comes from.

A description may state only these. Each fact is one value (one colour, one
price), so a sentence can say which fields it rests on; a few facts are
derived by counting (12 variants, 10 of them available, 4 colours), since a
sentence may count what the record lists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from knowledge_base.catalog import Product
from knowledge_base.chinese import has_chinese
from knowledge_base.money import format_money

# Chinese names of common attribute keys, for Chinese descriptions of a store whose
# keys are English. A label stands for its key's field, so "颜色" rests on attributes.color.
KEY_LABELS_ZH = {
    "color": "颜色", "colour": "颜色", "size": "尺码", "material": "材质", "style": "款式",
    "capacity": "容量", "type": "类型", "storage": "存储容量", "screen size": "屏幕尺寸",
    "brand": "品牌", "length": "长度", "weight": "重量", "features": "功能",
    "connectivity": "连接方式", "resolution": "分辨率", "flavor": "口味", "flavour": "口味",
    "origin": "产地", "scent": "香型", "thickness": "厚度", "height": "高度", "width": "宽度",
    "pieces": "片数", "theme": "主题", "design": "设计", "ram": "内存", "processor": "处理器",
}  # fmt: skip
# ... and of common values (colours, materials), so "黑色" rests on the record's "black".
VALUE_LABELS_ZH = {
    "black": "黑色", "white": "白色", "red": "红色", "blue": "蓝色", "green": "绿色",
    "yellow": "黄色", "purple": "紫色", "pink": "粉色", "grey": "灰色", "gray": "灰色",
    "brown": "棕色", "beige": "米色", "navy": "藏青色", "gold": "金色", "silver": "银色",
    "rose gold": "玫瑰金", "orange": "橙色", "cotton": "棉", "polyester": "涤纶",
    "nylon": "尼龙", "leather": "皮革", "wool": "羊毛", "silk": "丝绸", "glass": "玻璃",
    "plastic": "塑料", "metal": "金属", "stainless steel": "不锈钢", "wood": "木质",
    "rubber": "橡胶", "ceramic": "陶瓷", "bamboo": "竹", "small": "小号", "medium": "中号",
    "large": "大号", "yes": "是", "no": "否",
}  # fmt: skip


_OPTION_FIELDS = ("attributes.", "variants.options.")


@dataclass(frozen=True)
class Fact:
    """One value of the record: ``field`` is where it is ("attributes.color"), ``label``
    what it is called ("color"), ``value`` the value as the record writes it."""

    field: str
    label: str
    value: str

    def text(self) -> str:
        """The fact as a line of evidence (and of the drafting prompt)."""
        return f"{self.label}: {self.value}" if self.label else self.value


@dataclass
class Record:
    """A product and everything a description of it may rest on."""

    product: Product
    currency: str = "USD"
    language: str = "en"
    facts: list[Fact] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)  # key -> values, in order

    def money(self, amount: float) -> str:
        """A price as the description writes it: "$46.66", "99元"."""
        if self.language == "zh" and self.currency.upper() in ("CNY", "RMB"):
            return f"{amount:,.2f}".removesuffix(".00") + "元"
        return format_money(amount, self.currency, trim_cents=True)

    def evidence(self) -> list[str]:
        """The record as texts, for the number and identifier checks."""
        return [f.text() for f in self.facts]

    def label(self, key: str) -> str:
        """How a description in the record's language names an attribute key."""
        if self.language == "zh" and not has_chinese(key):
            return KEY_LABELS_ZH.get(key.lower().replace("_", " "), key)
        return key.replace("_", " ")  # "key_ingredients" -> "key ingredients"

    def value(self, value: str) -> str:
        """How a description in the record's language writes an option value."""
        if self.language == "zh" and not has_chinese(value):
            return VALUE_LABELS_ZH.get(value.lower(), value)
        return value

    def price_text(self) -> str | None:
        """ "$46.66 to $53.48", "$20" or None (no price)."""
        lo, hi = self.product.price_range()
        if lo is None or hi is None:
            return None
        if lo == hi:
            return self.money(lo)
        joiner = "至" if self.language == "zh" else " to "
        return f"{self.money(lo)}{joiner}{self.money(hi)}"


def _values(value: Any) -> list[str]:
    """An attribute's values as texts: a list is several values, an object its pairs."""
    if isinstance(value, list):
        return [v for item in value for v in _values(item)]
    if isinstance(value, dict):
        return [f"{k} {', '.join(_values(v))}" for k, v in value.items()]
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    text = str(value).strip()
    return [text] if text else []


def record_of(product: Product, currency: str = "USD", language: str = "en") -> Record:
    """The facts of ``product``: title, category, prices, attributes, options, stock, counts."""
    record = Record(product, currency, language)
    facts = record.facts
    facts.append(Fact("title", "", product.title))
    if product.category:
        facts.append(Fact("category", "category", product.category))
    lo, hi = product.price_range()
    if product.price is not None:
        facts.append(Fact("price", "price", record.money(product.price)))
    for amount in (lo, hi):
        if amount is not None and amount != product.price:
            facts.append(Fact("variants.price", "price", record.money(amount)))
    seen_prices = {product.price, lo, hi}
    for v in product.variants:
        if v.price is not None and v.price not in seen_prices:
            seen_prices.add(v.price)
            facts.append(Fact("variants.price", "variant price", record.money(v.price)))
    for key, raw in product.attributes.items():
        values = _values(raw)
        for value in values:
            facts.append(Fact(f"attributes.{key}", str(key), value))
        record.options[str(key)] = values
    for v in product.variants:
        for key, value in v.options.items():
            known = record.options.setdefault(key, [])
            if value not in known:
                known.append(value)
                facts.append(Fact(f"variants.options.{key}", key, value))
    if language == "zh":
        for f in list(facts):
            translated = record.value(f.value) if f.field.startswith(_OPTION_FIELDS) else f.value
            if translated != f.value:
                facts.append(Fact(f.field, f.label, translated))
    for key, values in record.options.items():
        if len(values) > 1:
            facts.append(Fact(f"attributes.{key}", f"number of {key} choices", str(len(values))))
    if product.variants:
        available = sum(v.available for v in product.variants)
        facts.append(Fact("variants", "variants", str(len(product.variants))))
        facts.append(Fact("variants.available", "variants available", str(available)))
    facts.append(Fact("in_stock", "", "in stock" if product.in_stock else "out of stock"))
    if product.description:
        facts.append(Fact("description", "current description", product.description))
    return record


def record_hash(product: Product) -> str:
    """A fingerprint of the whole record: a draft is approved only for the record it was made from."""
    text = json.dumps(asdict(product), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
