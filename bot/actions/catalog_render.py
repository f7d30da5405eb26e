"""How catalog facts are written for the customer: prices, stock, one product with its
variants, the conditions a list was filtered by, and the product cards the widget shows.
Every text comes from bot/messages/ in the reply's language; amounts go through
knowledge_base/money.py."""

from __future__ import annotations

from typing import Any

from bot.actions.catalog_query import CatalogQuery
from bot.actions.catalog_select import Match
from bot.actions.catalog_vocab import Offer, is_boolean_option, key_phrase, offers, option_values
from bot.actions.formatting import describe_options
from bot.messages.catalogue import Texts
from knowledge_base.money import format_money

MAX_VARIANTS_IN_TEXT = 5
MAX_VARIANTS_IN_CARD = 20


class Renderer:
    """Catalog texts in one reply's language and the store's currency."""

    def __init__(self, t: Texts, currency: str) -> None:
        self.t = t
        self.currency = currency

    # -- amounts and stock

    def money(self, amount: float | None) -> str:
        return format_money(amount, self.currency, self.t("price_on_request"))

    def prices(self, items: list[Offer]) -> str:
        """One price, or the range of prices of ``items``."""
        prices = [o.price for o in items if o.price is not None]
        if not prices:
            return self.money(None)
        low, high = min(prices), max(prices)
        if low == high:
            return self.money(low)
        return self.t("price_range", low=self.money(low), high=self.money(high))

    def stock(self, available: bool) -> str:
        return self.t("in_stock" if available else "out_of_stock")

    def join(self, items: list[str]) -> str:
        return self.t("list_separator").join(items)

    def value_text(self, value: Any) -> str:
        """An attribute value as read: yes / no, a list joined, numbers as written."""
        if isinstance(value, bool):
            return self.t("value_yes" if value else "value_no")
        if isinstance(value, list):
            return self.join([self.value_text(v) for v in value])
        return str(value)

    # -- what a list was narrowed to

    def conditions(
        self, query: CatalogQuery, matches: list[Match], stock: bool, values: bool = True
    ) -> str:
        """ "in blue, vegan, in stock, under $300.00" ("" when nothing narrowed it)."""
        parts = []
        if values:
            wanted = self.wanted_values(matches)
            if wanted:
                parts.append(" / ".join(wanted))
            flags = {
                key_phrase(name)
                for m in matches
                for name in m.filters
                if is_boolean_option(m.product, name)
            }
            parts += sorted(flags | set(query.attribute_mentions))
        if stock and query.in_stock:
            parts.append(self.t("in_stock"))
        if query.low is not None and query.high is not None:
            low, high = self.money(query.low), self.money(query.high)
            parts.append(self.t("price_range", low=low, high=high))
        elif query.high is not None:
            parts.append(self.t("cond_under", price=self.money(query.high)))
        elif query.low is not None:
            parts.append(self.t("cond_over", price=self.money(query.low)))
        return self.join(parts)

    def wrapped(self, conditions: str) -> str:
        """ " (in stock, under $300.00)" to follow a noun; "" for no conditions."""
        return self.t("catalog_conditions", conditions=conditions) if conditions else ""

    @staticmethod
    def wanted_values(matches: list[Match]) -> list[str]:
        """The option values asked for, as the catalog spells them ("XL", not "xl")."""
        out: dict[str, None] = {}
        for m in matches:
            for name, values in m.filters.items():
                if is_boolean_option(m.product, name):
                    continue
                spelled = {v.lower(): v for v in option_values(m.product, name)}
                for value in sorted(values):
                    out.setdefault(spelled.get(value, value), None)
        return list(out)

    # -- one product

    def product_text(
        self, product: Any, shown: list[Offer], matching: str | None = None, by_price: bool = False
    ) -> str:
        """The product's summary, then ``shown`` one a line (available first)."""
        t = self.t
        if not product.variants:
            return t(
                "product_simple",
                title=product.title,
                price=self.money(product.price),
                stock=self.stock(product.in_stock),
            )
        # Narrowed by price ("under $350"): the summary is of what fits the budget.
        every = shown if by_price else offers(product)
        buyable = [o for o in every if o.available]
        if buyable and len(buyable) < len(every):
            # What can be bought is what the customer pays: "14 options, 10 in stock
            # at $193.38 to $219.43", not a range opening on a sold-out variant.
            summary = t(
                "product_summary_in_stock",
                title=product.title,
                count=len(every),
                available=len(buyable),
                price_range=self.prices(buyable),
            )
        else:
            summary = t(
                "product_summary",
                title=product.title,
                count=len(product.variants),
                price_range=self.prices(every),
            )
        lines = [summary]
        if matching:
            lines.append(matching)
        lines += self.offer_lines(shown, by_price)
        return "\n".join(lines)

    def offer_lines(self, items: list[Offer], by_price: bool = False) -> list[str]:
        """One line an offer, what can be bought first (cheapest first if ``by_price``)."""
        if by_price:
            ordered = sorted(items, key=lambda o: (not o.available, o.price or 0.0))
        else:
            ordered = sorted(items, key=lambda o: not o.available)
        lines = [
            self.t(
                "product_variant_line",
                title=o.product.title,
                options=describe_options(o.options),
                price=self.money(o.price),
                stock=self.stock(o.available),
            )
            for o in ordered[:MAX_VARIANTS_IN_TEXT]
        ]
        if len(items) > MAX_VARIANTS_IN_TEXT:
            lines.append(self.t("product_more", count=len(items) - MAX_VARIANTS_IN_TEXT))
        return lines

    def no_variant_text(self, product: Any, filters: dict[str, set[str]]) -> str:
        """ "T-Shirt doesn't come in gold. Available color: black, blue, purple, red." """
        t = self.t
        wanted = " / ".join(sorted(v for vals in filters.values() for v in vals))
        if len(filters) == 1:
            option = next(iter(filters))
            return t(
                "product_no_variant",
                title=product.title,
                wanted=wanted,
                option=option,
                values=self.join(option_values(product, option)),
            )
        return t("product_no_variant_plain", title=product.title, wanted=wanted)

    # -- cards

    def card(self, product: Any, shown: list[Offer] | None = None) -> dict[str, Any]:
        """The widget's product card: the whole product's price range, and ``shown``
        (the variants that match; all of them when None)."""
        low_high = [o.price for o in offers(product) if o.price is not None]
        shown = offers(product) if shown is None else shown
        return {
            "id": str(product.id),
            "title": product.title,
            "category": getattr(product, "category", "") or "",
            "price_min": min(low_high) if low_high else None,
            "price_max": max(low_high) if low_high else None,
            "in_stock": bool(product.in_stock),
            "variants": [
                {
                    "id": str(o.variant.id),
                    "options": dict(o.options),
                    "price": o.price,
                    "available": o.available,
                }
                for o in shown[:MAX_VARIANTS_IN_CARD]
                if o.variant is not None
            ],
        }
