"""Description sentences composed from a record's facts alone, per language and tone.

What the chat model's draft lacks is completed from these, and with no model
they are the whole description. They use only the record's values and the
neutral words of bot/merchant/lexicon.py, so they pass the same check as a
model's sentences (and are checked like them all the same).

Each sentence comes with the topic it covers ("intro", "price", "options:color",
"variants", "stock"): a topic a kept model sentence already covers is not
repeated.
"""

from __future__ import annotations

from bot.merchant.facts import Record

TONES = ("friendly", "concise", "premium")
MAX_OPTION_SENTENCES = 4

# {title} {category} {price} {lo} {hi} {label} {values} {value} {n} {m}
TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "friendly": {
            "intro": "Meet the {title}, part of our {category} range.",
            "intro_bare": "Meet the {title}.",
            "price_one": "It costs {price}.",
            "price_range": "It costs {lo} to {hi}, depending on the option you choose.",
            "option": "Choose your {label}: {values}.",
            "single": "Its {label} is {value}.",
            "variants": "There are {n} variants, and {m} of them are available right now.",
            "variants_none": "There are {n} variants, none of them available at the moment.",
            "in_stock": "Good news: it is in stock.",
            "out_of_stock": "It is currently out of stock.",
        },
        "concise": {
            "intro": "{title}, listed under {category}.",
            "intro_bare": "{title}, listed in our catalog.",
            "price_one": "Price: {price} each.",
            "price_range": "Price: {lo} to {hi}.",
            "option": "{Label} options: {values}.",
            "single": "{Label}: {value}.",
            "variants": "{n} variants, {m} available.",
            "variants_none": "{n} variants, none available.",
            "in_stock": "Currently in stock.",
            "out_of_stock": "Currently out of stock.",
        },
        "premium": {
            "intro": "The {title} belongs to our {category} collection.",
            "intro_bare": "The {title} is part of our collection.",
            "price_one": "It is offered at {price}.",
            "price_range": "It is offered from {lo} to {hi}.",
            "option": "Select the {label} you prefer: {values}.",
            "single": "Its {label} is {value}.",
            "variants": "It comes in {n} variants, {m} of which are available now.",
            "variants_none": "It comes in {n} variants, none of which is available at the moment.",
            "in_stock": "It is available now.",
            "out_of_stock": "It is currently sold out.",
        },
    },
    "zh": {
        "friendly": {
            "intro": "{title}是我们{category}分类的商品。",
            "intro_bare": "{title}是我们的商品。",
            "price_one": "价格为{price}。",
            "price_range": "价格为{lo}至{hi}，不同款式价格不同。",
            "option": "{label}可选：{values}。",
            "single": "{label}为{value}。",
            "variants": "共有{n}个款式，其中{m}个有货。",
            "variants_none": "共有{n}个款式，目前均已售罄。",
            "in_stock": "目前有现货。",
            "out_of_stock": "目前暂时缺货。",
        },
        "concise": {
            "intro": "{title}，{category}类商品。",
            "intro_bare": "{title}，本店商品。",
            "price_one": "价格：{price}。",
            "price_range": "价格：{lo}至{hi}。",
            "option": "{label}可选：{values}。",
            "single": "{label}为{value}。",
            "variants": "共{n}个款式，{m}个有货。",
            "variants_none": "共{n}个款式，均已售罄。",
            "in_stock": "目前有货。",
            "out_of_stock": "目前缺货。",
        },
        "premium": {
            "intro": "{title}属于{category}系列。",
            "intro_bare": "{title}属于本店系列商品。",
            "price_one": "售价{price}。",
            "price_range": "售价{lo}至{hi}。",
            "option": "{label}可选{values}。",
            "single": "{label}为{value}。",
            "variants": "共有{n}款可供挑选，其中{m}款有货。",
            "variants_none": "共有{n}款，目前均已售罄。",
            "in_stock": "目前有货，欢迎选购。",
            "out_of_stock": "目前暂时售罄。",
        },
    },
}


def join_values(values: list[str], language: str) -> str:
    """ "black, blue or red" / "黑色、蓝色或红色"."""
    if language == "zh":
        return "、".join(values[:-1]) + "或" + values[-1] if len(values) > 1 else values[0]
    return ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else values[0]


def template_sentences(record: Record, tone: str = "friendly") -> list[tuple[str, str]]:
    """(sentence, topic) pairs that describe ``record`` in its language and ``tone``."""
    language = record.language if record.language in TEMPLATES else "en"
    t = TEMPLATES[language][tone if tone in TONES else "friendly"]
    product = record.product
    out: list[tuple[str, str]] = []
    if product.category:
        out.append((t["intro"].format(title=product.title, category=product.category), "intro"))
    else:
        out.append((t["intro_bare"].format(title=product.title), "intro"))
    lo, hi = product.price_range()
    if lo is not None and hi is not None:
        if lo == hi:
            out.append((t["price_one"].format(price=record.money(lo)), "price"))
        else:
            text = t["price_range"].format(lo=record.money(lo), hi=record.money(hi))
            out.append((text, "price"))
    for key, values in list(record.options.items())[:MAX_OPTION_SENTENCES]:
        if not values:
            continue
        label = record.label(key)
        fill = {"label": label, "Label": label[:1].upper() + label[1:]}
        shown = [record.value(v) for v in values]
        if len(values) == 1:
            out.append((t["single"].format(value=shown[0], **fill), f"options:{key}"))
        else:
            text = t["option"].format(values=join_values(shown, language), **fill)
            out.append((text, f"options:{key}"))
    if product.variants:
        available = sum(v.available for v in product.variants)
        which = "variants" if available else "variants_none"
        out.append((t[which].format(n=len(product.variants), m=available), "variants"))
    out.append((t["in_stock" if product.in_stock else "out_of_stock"], "stock"))
    return out


def topic_of(field: str) -> str:
    """The template topic a record field belongs to ("attributes.color" -> "options:color")."""
    if field == "category":  # naming the title alone does not say what the product is
        return "intro"
    if field in ("price", "variants.price"):
        return "price"
    if field.startswith(("attributes.", "variants.options.")):
        return "options:" + field.split(".")[-1]
    if field in ("variants", "variants.available"):
        return "variants"
    if field == "in_stock":
        return "stock"
    return field
