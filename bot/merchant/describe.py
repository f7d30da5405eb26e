"""One product's description: the chat model's draft, checked sentence by sentence, then completed.

The model is shown the record's facts and nothing else (:func:`build_messages`)
and asked for a few sentences in a tone. Every sentence of what it writes is
checked against the record (bot/merchant/claims.py); one with any unsupported
claim is dropped and kept, with its reasons, for the merchant to see. If what
survives is too thin (fewer than :data:`MIN_SENTENCES` sentences or
:data:`MIN_WORDS` words), sentences composed from the facts
(bot/merchant/templates.py) complete it, topic by topic, skipping what the
model's sentences already cover. With no model the templates are the whole
description, so a description is always grounded, if plain.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from bot.answers.text import split_sentences
from bot.merchant.claims import ClaimChecker, SentenceCheck
from bot.merchant.facts import Record, record_hash, record_of
from bot.merchant.templates import TONES, template_sentences, topic_of
from knowledge_base.catalog import Product

log = logging.getLogger("shopbot.merchant")

LANGUAGES = ("en", "zh")
MIN_SENTENCES = 3
MIN_WORDS = 20  # an English description shorter than this is completed from the facts
MIN_CHARS_ZH = 30  # ... and a Chinese one
MAX_SENTENCES = 8
MAX_NEW_TOKENS = 220

_TONE_EN = {
    "friendly": "warm and friendly",
    "concise": "short and factual",
    "premium": "polished and understated, without exaggeration",
}
_TONE_ZH = {"friendly": "亲切友好", "concise": "简洁、只讲事实", "premium": "优雅克制、不夸张"}
# One worked example: a 0.5B model copies its plain, fact-only style (on 6 demo products
# it kept 20 of 28 sentences with the example, 0 of 34 without).
_EXAMPLE_EN = (
    "Example. Facts: title: Canvas Tote; category: Bags; price: $25; color: natural, black; "
    "stock: in stock. Description: The Canvas Tote is part of our Bags range. It comes in "
    "natural or black. It costs $25 and is in stock."
)
_EXAMPLE_ZH = (
    "示例。信息：标题：帆布包；分类：箱包；价格：25元；颜色：米白、黑色；库存：有货。"
    "描述：帆布包是我们箱包分类的商品。颜色可选米白或黑色。价格为25元，目前有货。"
)
_MARKUP = re.compile(r"(?m)^\s*(?:[-*\u2022#>]+|\d{1,2}[.)])\s*|\*\*|__|`")
_LEAD_IN = re.compile(r"^\s*(?:product )?description\s*[:：]\s*|^\s*产品描述\s*[:：]\s*", re.I)
_CJK = re.compile(r"[\u3400-\u9fff]")
_ZH_BOUNDARY = re.compile(r"(?<=[。！？!?；;])|\n+")


@dataclass
class Description:
    """A drafted description: kept sentences with what they rest on, and the dropped ones."""

    product_id: str
    title: str
    language: str
    tone: str
    generator: str
    record_hash: str
    draft: str = ""  # the model's text as written ("" without a model)
    sentences: list[SentenceCheck] = field(default_factory=list)
    rejected: list[SentenceCheck] = field(default_factory=list)
    error: str = ""  # why the model wrote nothing, if it failed
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """The description as it would be written into the products file."""
        joiner = "" if self.language == "zh" else " "
        return joiner.join(s.text for s in self.sentences)

    def to_dict(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "title": self.title,
            "language": self.language,
            "tone": self.tone,
            "generator": self.generator,
            "record_hash": self.record_hash,
            "description": self.text,
            "draft": self.draft,
            "sentences": [s.to_dict() for s in self.sentences],
            "rejected": [s.to_dict() for s in self.rejected],
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


def description_language(store_language: str, requested: str | None = None) -> str:
    """``requested`` (--lang), else the store's language when shopbot writes it, else English."""
    language = (requested or store_language or "en").lower().split("-")[0]
    return language if language in LANGUAGES else "en"


def build_messages(record: Record, tone: str = "friendly") -> list[dict[str, str]]:
    """The drafting prompt: the record's facts as a list, the rules, the tone."""
    product = record.product
    lines = [f"- title: {product.title}"]
    if product.category:
        lines.append(f"- category: {product.category}")
    price = record.price_text()
    if price:
        lines.append(f"- price: {price}")
    for key, values in record.options.items():
        lines.append(f"- {record.label(key)}: {', '.join(values)}")
    if product.variants:
        available = sum(v.available for v in product.variants)
        lines.append(f"- variants: {len(product.variants)} ({available} available)")
    if record.language == "zh":
        lines.append(f"- 库存: {'有货' if product.in_stock else '缺货'}")
        system = (
            "你为网店撰写商品描述。只能使用下面列出的商品信息，不要添加任何未列出的材质、颜色、尺寸、"
            "数字、兼容性、保修、认证、产地或品质宣传。用中文写3到5句，语气"
            f"{_TONE_ZH.get(tone, _TONE_ZH['friendly'])}。只写信息里有的内容：不写用途、好处、感受或比较。"
            f"只输出描述本身。{_EXAMPLE_ZH}"
        )
        user = "商品信息：\n" + "\n".join(lines) + "\n\n请写商品描述。"
    else:
        lines.append(f"- stock: {'in stock' if product.in_stock else 'out of stock'}")
        system = (
            "You write product descriptions for an online store. Use only the facts listed. "
            "Do not add any material, colour, size, number, compatibility, warranty, "
            "certification, origin or quality claim that is not in the facts. Write 3 to 5 "
            f"sentences in English, {_TONE_EN.get(tone, _TONE_EN['friendly'])}. "
            "Say only what the facts say: no uses, benefits, feelings or comparisons. "
            f"Output only the description. {_EXAMPLE_EN}"
        )
        user = "Product facts:\n" + "\n".join(lines) + "\n\nWrite the description."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def split_draft(text: str, language: str = "en") -> list[str]:
    """The sentences of a model's draft, without list markers, bold marks and a "Description:"."""
    text = _LEAD_IN.sub("", _MARKUP.sub("", text)).strip().strip("\"'“”")
    if language == "zh":
        pieces = _ZH_BOUNDARY.split(text)
    else:
        pieces, _ = split_sentences(text)
    return [p.strip().strip("\"'“”") for p in pieces if p and p.strip()]


def run_model(generator: Any, messages: list[dict[str, str]], max_new_tokens: int) -> str:
    """The model's whole reply to ``messages`` (greedy)."""
    return "".join(generator.stream(messages, max_new_tokens=max_new_tokens, temperature=0.0))


def _terminated(sentence: str) -> str:
    """A sentence ends with its full stop (a list line the model wrote has none)."""
    if re.search(r"[.!?。！？]$", sentence):
        return sentence
    return sentence + ("。" if _CJK.search(sentence) else ".")


def _is_thin(sentences: list[SentenceCheck], language: str) -> bool:
    if len(sentences) < MIN_SENTENCES:
        return True
    if language == "zh":
        return sum(len(s.text) for s in sentences) < MIN_CHARS_ZH
    return sum(len(s.text.split()) for s in sentences) < MIN_WORDS


def describe(
    product: Product,
    *,
    currency: str = "USD",
    language: str = "en",
    tone: str = "friendly",
    generator: Any = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Description:
    """Draft, check and complete the description of ``product``.

    ``generator`` is a chat backend (bot/answers/generation.py) or None for the
    templates only; a backend that fails is logged and the templates take over.
    """
    if tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}: use one of {', '.join(TONES)}")
    started = time.perf_counter()
    record = record_of(product, currency, language)
    checker = ClaimChecker(record)
    name = str(getattr(generator, "name", "none")) if generator is not None else "none"
    result = Description(product.id, product.title, language, tone, name, record_hash(product))
    if generator is not None and name != "none":
        try:
            result.draft = run_model(generator, build_messages(record, tone), max_new_tokens)
        except Exception as exc:  # a model failure must not lose the templates' description
            result.error = f"{type(exc).__name__}: {exc}"
            log.warning("drafting %s failed: %s", product.id, result.error)
    seen: set[str] = set()
    for sentence in map(_terminated, split_draft(result.draft, language)):
        check = checker.check(sentence, "model")
        key = re.sub(r"\W+", "", sentence.lower())
        if key in seen:
            check.reasons.append("repeats an earlier sentence")
        seen.add(key)
        (result.sentences if check.ok else result.rejected).append(check)
    result.sentences = result.sentences[:MAX_SENTENCES]
    if _is_thin(result.sentences, language):
        covered = {topic_of(r["field"]) for s in result.sentences for r in s.rests_on}
        for text, topic in template_sentences(record, tone):
            if len(result.sentences) >= MAX_SENTENCES:
                break
            if topic in covered:
                continue
            check = checker.check(text, "template")
            if not check.ok:
                result.rejected.append(check)
            elif topic == "intro":
                result.sentences.insert(0, check)  # what the product is comes first
            else:
                result.sentences.append(check)
            covered.add(topic)
    result.seconds = time.perf_counter() - started
    return result
