"""Product search (``action_product_search``): the products a message names, narrowed by
the options it asks for ("in red", "size M"), listed with their variants, prices and stock,
and sent as product cards too."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.formatting import describe_options
from bot.actions.matching import contains_phrase, joined_ngrams, word_tokens
from bot.actions.tracker import latest_entities, message_text
from bot.messages import Catalogue, Texts
from knowledge_base.money import format_money

MAX_PRODUCTS = 3
MAX_VARIANTS_IN_TEXT = 5
MAX_VARIANTS_IN_CARD = 20

# Entity names that are not product options (docs/architecture.md, bot/nlu/entities.py).
NON_OPTION_ENTITIES = {"email", "person_name", "zip", "order_id", "product"}

# Title words too generic to identify a product on their own ("smart", "electric", ...).
_GENERIC_WORDS = {
    "smart", "electric", "digital", "portable", "wireless", "indoor", "mechanical", "running",
    "office", "light", "maker", "machine", "set", "kit", "security", "action", "gaming", "garden",
}  # fmt: skip
# Option values too common in ordinary sentences to read as a filter without an entity.
_VAGUE_VALUES = {
    "yes",
    "no",
    "none",
    "standard",
    "high",
    "low",
    "medium",
    "small",
    "large",
    "basic",
}


class ActionProductSearch(Action):
    """Find products by ``product`` entities or title words; list variants, prices, stock."""

    def __init__(
        self, catalog: list[Any], currency: str = "USD", catalogue: Catalogue | None = None
    ) -> None:
        self.catalog = list(catalog)
        self.currency = currency
        self.catalogue = catalogue or Catalogue()
        self._by_id = {str(p.id): p for p in self.catalog}

    def name(self) -> str:
        return "action_product_search"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = message_text(tracker)
        t = self.catalogue.for_language(tracker.get_slot("language"))
        products = self.find_products(tracker)
        option_filters = self._option_entities(tracker)
        if not products and option_filters:
            # "Do you have it in red?": the products shown last.
            products = [
                self._by_id[str(pid)]
                for pid in tracker.get_slot("last_products") or []
                if str(pid) in self._by_id
            ]
        if not products:
            dispatcher.utter_message(text=t("product_not_found"))
            return [SlotSet("last_products", [])]

        paragraphs: list[str] = []
        cards: list[dict[str, Any]] = []
        for product in products[:MAX_PRODUCTS]:
            filters = self._filters_for(product, option_filters, text)
            variants = [v for v in product.variants if self._matches(v, filters)]
            if filters and not variants:
                paragraphs.append(self._no_variant_text(product, filters, t))
                continue
            paragraphs.append(self._product_text(product, variants, t, filters))
            cards.append(self._card(product, variants))
        if cards:
            dispatcher.utter_message(
                text="\n\n".join(paragraphs),
                json_message={"type": "product_cards", "products": cards},
            )
        else:
            dispatcher.utter_message(text="\n\n".join(paragraphs))
        return [SlotSet("last_products", [card["id"] for card in cards])]

    # -- matching

    def find_products(self, tracker: Tracker) -> list[Any]:
        """Products named by entities, else by all their title words in the text, else by a
        distinctive title word or the category."""
        found: list[Any] = []
        for ent in latest_entities(tracker):
            if ent.get("entity") != "product":
                continue
            product = self._by_id.get(str(ent.get("product_id")))
            if product is None:
                value = str(ent.get("value", "")).lower()
                product = next((p for p in self.catalog if p.title.lower() == value), None)
            if product is not None and product not in found:
                found.append(product)
        if found:
            return found
        tokens = word_tokens(message_text(tracker))
        if not tokens:
            return []
        token_set = set(tokens)
        grams = joined_ngrams(tokens)
        full, partial, category = [], [], []
        for product in self.catalog:
            title_tokens = word_tokens(product.title)
            if title_tokens and (
                all(t in token_set for t in title_tokens) or "".join(title_tokens) in grams
            ):
                full.append(product)
            elif any(
                len(t) >= 4 and t not in _GENERIC_WORDS and t in token_set for t in title_tokens
            ):
                partial.append(product)
            elif (
                getattr(product, "category", "") and set(word_tokens(product.category)) & token_set
            ):
                category.append(product)
        return full or partial or category

    @staticmethod
    def _option_entities(tracker: Tracker) -> dict[str, set[str]]:
        filters: dict[str, set[str]] = {}
        for ent in latest_entities(tracker):
            name = str(ent.get("entity", ""))
            if name in NON_OPTION_ENTITIES or ent.get("value") in (None, ""):
                continue
            filters.setdefault(_option_key(name), set()).add(str(ent["value"]).lower())
        return filters

    @staticmethod
    def _filters_for(
        product: Any, entity_filters: dict[str, set[str]], text: str
    ) -> dict[str, set[str]]:
        """The option filters that apply to this product's options."""
        names = {_option_key(k): k for v in product.variants for k in v.options}
        filters = {names[k]: vals for k, vals in entity_filters.items() if k in names}
        if entity_filters:
            return filters
        # No option entities: look for this product's own option values in the text.
        tokens = word_tokens(text)
        for variant in product.variants:
            for key, value in variant.options.items():
                val = str(value)
                if (
                    len(val) >= 2
                    and not val.isdigit()
                    and val.lower() not in _VAGUE_VALUES
                    and contains_phrase(tokens, val)
                ):
                    filters.setdefault(key, set()).add(val.lower())
        return filters

    @staticmethod
    def _matches(variant: Any, filters: dict[str, set[str]]) -> bool:
        return all(str(variant.options.get(k, "")).lower() in vals for k, vals in filters.items())

    # -- rendering

    def _price(self, product: Any, variant: Any | None = None) -> float | None:
        if variant is not None and variant.price is not None:
            return variant.price
        return product.price

    def _product_text(
        self,
        product: Any,
        variants: list[Any],
        t: Texts,
        filters: dict[str, set[str]] | None = None,
    ) -> str:
        def money(amount: float | None) -> str:
            return format_money(amount, self.currency, t("price_on_request"))

        if not product.variants:
            stock = t("in_stock" if product.in_stock else "out_of_stock")
            return t("product_simple", title=product.title, price=money(product.price), stock=stock)
        prices = [p for p in (self._price(product, v) for v in product.variants) if p is not None]
        price_range = (
            money(min(prices))
            if prices and min(prices) == max(prices)
            else t("price_range", low=money(min(prices)), high=money(max(prices)))
            if prices
            else money(None)
        )
        lines = [
            t(
                "product_summary",
                title=product.title,
                count=len(product.variants),
                price_range=price_range,
            )
        ]
        if filters:
            # The catalog's spelling ("XL"), not the lower-cased filter value.
            wanted = " / ".join(
                sorted({str(v.options[k]) for v in variants for k in filters if k in v.options})
            )
            lines.append(t("product_matching", count=len(variants), wanted=wanted))
        # Available variants first: they are what the customer can buy.
        ordered = sorted(variants, key=lambda v: not (v.available and product.in_stock))
        for variant in ordered[:MAX_VARIANTS_IN_TEXT]:
            stock = t("in_stock" if variant.available and product.in_stock else "out_of_stock")
            lines.append(
                t(
                    "product_variant_line",
                    title=product.title,
                    options=describe_options(variant.options),
                    price=money(self._price(product, variant)),
                    stock=stock,
                )
            )
        if len(variants) > MAX_VARIANTS_IN_TEXT:
            lines.append(t("product_more", count=len(variants) - MAX_VARIANTS_IN_TEXT))
        return "\n".join(lines)

    def _no_variant_text(self, product: Any, filters: dict[str, set[str]], t: Texts) -> str:
        wanted = " / ".join(sorted(v for vals in filters.values() for v in vals))
        if len(filters) == 1:
            option = next(iter(filters))
            values = sorted(
                {str(v.options.get(option)) for v in product.variants if option in v.options}
            )
            return t(
                "product_no_variant",
                title=product.title,
                wanted=wanted,
                option=option,
                values=t("list_separator").join(values),
            )
        return t("product_no_variant_plain", title=product.title, wanted=wanted)

    def _card(self, product: Any, variants: list[Any]) -> dict[str, Any]:
        prices = [p for p in (self._price(product, v) for v in product.variants) if p is not None]
        if not prices and product.price is not None:
            prices = [product.price]
        return {
            "id": str(product.id),
            "title": product.title,
            "category": getattr(product, "category", "") or "",
            "price_min": min(prices) if prices else None,
            "price_max": max(prices) if prices else None,
            "in_stock": bool(product.in_stock),
            "variants": [
                {
                    "id": str(v.id),
                    "options": dict(v.options),
                    "price": self._price(product, v),
                    "available": bool(v.available and product.in_stock),
                }
                for v in variants[:MAX_VARIANTS_IN_CARD]
            ],
        }


def _option_key(name: str) -> str:
    """Entity names may use underscores where catalog option names have spaces."""
    return name.replace("_", " ").strip().lower()
