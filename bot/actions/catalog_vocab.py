"""A store's own catalog words, and what can be bought: read once per catalog.

:class:`CatalogVocabulary` holds the words a customer may use for this store's
products: title words (and how many titles share each), categories, option names,
option values and attribute words (``"vegan": true`` -> "vegan", ``"skin_type":
["oily"]`` -> "oily"). Nothing here is fitted to one store: every word comes from
the catalog it is built from. :class:`Offer` is one buyable thing (a variant, or a
product without variants) with its real price and availability.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.actions.catalog_words import BOOLEAN_VALUES, FUNCTION_WORDS, SIZE_CODES, VAGUE_VALUES
from bot.actions.matching import word_tokens
from knowledge_base.chinese import has_chinese
from knowledge_base.chinese import normalise as normalise_chinese

CONTRACTION = re.compile(r"(?<=[a-z])['\u2019](?:s|re|ve|ll|d|m)\b", re.I)


@dataclass(frozen=True)
class Offer:
    """One buyable thing: a variant of a product, or a product without variants."""

    product: Any
    variant: Any | None

    @property
    def price(self) -> float | None:
        if self.variant is not None and self.variant.price is not None:
            return self.variant.price
        return self.product.price

    @property
    def available(self) -> bool:
        if self.variant is None:
            return bool(self.product.in_stock)
        return bool(self.variant.available and self.product.in_stock)

    @property
    def options(self) -> dict[str, str]:
        return dict(self.variant.options) if self.variant is not None else {}


def offers(product: Any) -> list[Offer]:
    """What can be bought of a product: its variants, or the product itself."""
    variants = list(getattr(product, "variants", None) or [])
    if not variants:
        return [Offer(product, None)]
    return [Offer(product, v) for v in variants]


def normalise(text: str) -> str:
    """Lower case, NFKC; Chinese also simplified with small numbers as digits."""
    if has_chinese(text):
        return normalise_chinese(text)
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=65536)
def phrase_tokens(phrase: str) -> tuple[bool, tuple[str, ...]]:
    """How a catalog phrase is looked up: (True, (normalised text,)) for Chinese,
    else (False, its word tokens)."""
    norm = normalise(phrase)
    if has_chinese(norm):
        return True, (norm,)
    return False, tuple(word_tokens(norm))


class Message:
    """A customer's message as catalog words are looked up in it."""

    def __init__(self, text: str) -> None:
        self.raw = text
        self.norm = normalise(text)
        # "what's", "it's", "they're": the word, not a size "S" or a letter "re".
        self.tokens = word_tokens(CONTRACTION.sub("", self.norm))
        self.token_set = set(self.tokens)
        self.positions: dict[str, list[int]] = {}
        for i, token in enumerate(self.tokens):
            self.positions.setdefault(token, []).append(i)

    def find(self, phrase: str) -> tuple[int, int] | None:
        """The token span of ``phrase`` in the message ((-1, -1) for Chinese text found
        as written), or None when it is not there."""
        chinese, want = phrase_tokens(phrase)
        if chinese:
            return (-1, -1) if want[0] in self.norm else None
        n = len(want)
        if not n:
            return None
        for i in self.positions.get(want[0], ()):
            if tuple(self.tokens[i : i + n]) == want:
                return (i, i + n)
        return None

    def has(self, phrase: str) -> bool:
        return self.find(phrase) is not None


def option_names(product: Any) -> list[str]:
    """A product's option names, in the order its variants first use them."""
    names: dict[str, None] = {}
    for variant in getattr(product, "variants", None) or []:
        for name in variant.options:
            names.setdefault(str(name), None)
    return list(names)


def option_values(product: Any, name: str) -> list[str]:
    """The values of one option, in the catalog's own order when its attributes list
    them, else numerically, as clothing sizes, or alphabetically."""
    seen: dict[str, None] = {}
    for variant in getattr(product, "variants", None) or []:
        if name in variant.options:
            seen.setdefault(str(variant.options[name]), None)
    values = list(seen)
    listed = (getattr(product, "attributes", None) or {}).get(name)
    if isinstance(listed, list) and set(map(str, listed)) >= set(values):
        order = [str(v) for v in listed]
        return sorted(values, key=order.index)
    return sorted(values, key=_value_order(values))


def _value_order(values: list[str]) -> Any:
    numbers = [_leading_number(v) for v in values]
    if all(n is not None for n in numbers):
        return lambda v: (_leading_number(v), v)
    if all(v.lower() in SIZE_CODES for v in values):
        return lambda v: SIZE_CODES.index(v.lower())
    return lambda v: v.lower()


def _leading_number(value: str) -> float | None:
    m = re.match(r"\s*(\d+(?:\.\d+)?)", value)
    return float(m.group(1)) if m else None


def is_boolean_option(product: Any, name: str) -> bool:
    """An option whose values are yes/no ("waterproof": yes)."""
    values = {v.lower() for v in option_values(product, name)}
    return bool(values) and values <= BOOLEAN_VALUES


def attribute_words(product: Any) -> dict[str, str]:
    """Words a product's attributes answer to (lower case) -> the attribute key.

    A true flag answers to its key ("fragrance_free": true -> "fragrance free"); a text
    value or a list of them to each value ("skin_type": ["oily"] -> "oily"). Attributes
    that repeat an option name, numbers and everyday words are left out.
    """
    names = {n.lower() for n in option_names(product)}
    out: dict[str, str] = {}
    for key, value in (getattr(product, "attributes", None) or {}).items():
        key = str(key)
        if key.lower() in names:
            continue
        if value is True or (isinstance(value, str) and value.lower() in ("yes", "true")):
            out[key_phrase(key)] = key
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str):
                continue
            if _usable_word(item):
                out.setdefault(item.lower().strip(), key)
            words = word_tokens(normalise(item))
            if len(words) > 1:  # "solid white oak" also answers to "oak"
                for word in words:
                    if word not in FUNCTION_WORDS and _usable_word(word):
                        out.setdefault(word, key)
    return out


def key_phrase(key: str) -> str:
    """An attribute or option key as words: "fragrance_free" -> "fragrance free"."""
    return re.sub(r"[_\s]+", " ", key).strip().lower()


def _head(title: str) -> str:
    words = [t for t in word_tokens(normalise(title.split(",")[0])) if t.isalpha()]
    return words[-1] if words else ""


def _usable_word(value: str) -> bool:
    value = value.strip().lower()
    if has_chinese(value):
        return len(value) >= 2
    return len(value) >= 3 and value not in VAGUE_VALUES and not value.replace(".", "").isdigit()


class CatalogVocabulary:
    """The words of one catalog: titles, categories, option names and values, attributes."""

    def __init__(self, catalog: list[Any]) -> None:
        self.products = list(catalog)
        self.by_id = {str(p.id): p for p in self.products}
        self.title_tokens = {str(p.id): word_tokens(normalise(p.title)) for p in self.products}
        # A title's head noun: the last word before any comma ("Tamsin Dining Chair, Set
        # of 2" -> "chair"), leaving out numbers ("Foaming Cleanser 2%" -> "cleanser").
        self.head_tokens = {str(p.id): _head(p.title) for p in self.products}
        self.title_df: Counter[str] = Counter(
            t for tokens in self.title_tokens.values() for t in set(tokens)
        )
        self.category_tokens = {
            str(p.id): set(word_tokens(normalise(getattr(p, "category", "") or "")))
            for p in self.products
        }
        # Lower-case phrase -> product ids, for each kind of word.
        self.values: dict[str, set[str]] = {}
        self.option_names: dict[str, set[str]] = {}
        self.attributes: dict[str, set[str]] = {}
        self.attribute_key_of: dict[str, str] = {}  # attribute word -> its key
        for p in self.products:
            pid = str(p.id)
            for name in option_names(p):
                self.option_names.setdefault(key_phrase(name), set()).add(pid)
                for value in option_values(p, name):
                    self.values.setdefault(value.lower().strip(), set()).add(pid)
            for word, key in attribute_words(p).items():
                self.attributes.setdefault(word, set()).add(pid)
                self.attribute_key_of.setdefault(word, key)
        # The last word of each option name ("size" of "screen size"), and attribute keys.
        self.option_heads = {toks[-1] for n in self.option_names if (toks := word_tokens(n))}
        self.attribute_keys = {
            key_phrase(str(k))
            for p in self.products
            for k in (getattr(p, "attributes", None) or {})
        }

    def product(self, pid: Any) -> Any | None:
        return self.by_id.get(str(pid))

    def attribute_key(self, product: Any, word: str) -> str:
        """The attribute key ``word`` belongs to: the product's own, else the key other
        products have it under ("oily" -> "skin_type")."""
        return attribute_words(product).get(word) or self.attribute_key_of.get(word, word)

    def is_value(self, surface: str) -> bool:
        """``surface`` ("2 cups", "6ft") starts one of the catalog's option values."""
        norm = re.sub(r"\s+", "", surface.lower())
        return any(re.sub(r"\s+", "", v).startswith(norm) for v in self.values)
