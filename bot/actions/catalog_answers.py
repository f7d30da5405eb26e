"""The answers to catalog questions, from the catalog only: one product (its variants,
or whether what was asked for is in stock), the cheapest or most expensive match, a
filtered and sorted list, one product's option values with their prices and stock,
attribute questions ("is it vegan?") and a side-by-side comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.actions.catalog_query import CatalogQuery
from bot.actions.catalog_render import Renderer
from bot.actions.catalog_select import Match, asked_attributes, asked_options
from bot.actions.catalog_vocab import (
    CatalogVocabulary,
    Offer,
    key_phrase,
    offers,
    option_names,
    option_values,
)
from bot.actions.formatting import describe_options

MAX_PRODUCTS = 3  # products described in full (or compared) in one reply
MAX_LISTED = 5  # products one a line in a filtered list
MAX_ATTRIBUTES = 6  # attributes shown per product in a comparison
# Products of a list remembered for the next message's filter (slot ``last_scope``): the
# conversation's stored slots stay small whatever the catalog's size.
MAX_SCOPE = 200


@dataclass
class Answer:
    """A reply: its text, the product cards, and the products it is about."""

    paragraphs: list[str] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    about: list[str] = field(default_factory=list)  # product ids, for answers without cards
    # A list's products, shown or not ("…and 8 more"): what "anything under $150?" next
    # filters (slot ``last_scope``).
    scope: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(p for p in self.paragraphs if p)

    @property
    def product_ids(self) -> list[str]:
        return [card["id"] for card in self.cards]


class CatalogAnswers:
    """Writes each kind of answer with a :class:`Renderer`."""

    def __init__(self, r: Renderer, vocab: CatalogVocabulary) -> None:
        self.r = r
        self.t = r.t
        self.vocab = vocab

    # -- one product

    def product(self, m: Match, query: CatalogQuery) -> Answer:
        """One product: its variants, narrowed to what was asked; a stock question
        answered yes / partly / no."""
        r, t, p = self.r, self.t, m.product
        narrowed = bool(m.filters) or query.has_price_bounds
        if narrowed and not m.offers:
            if m.filters and not query.has_price_bounds:
                return Answer([r.no_variant_text(p, m.filters)])
            conds = r.conditions(query, [m], stock=False)
            none = t("product_none_matching", title=p.title, conditions=r.wrapped(conds))
            return Answer([none, r.product_text(p, [])], [r.card(p, [])])
        if query.in_stock:
            return self._stock(m, query)
        if not p.variants:
            return Answer([r.product_text(p, [])], [r.card(p)])
        if not narrowed:
            return Answer([r.product_text(p, m.offers)], [r.card(p, m.offers)])
        if query.has_price_bounds:
            conds = r.conditions(query, [m], stock=False)
            line = t(
                "product_matching_conditions", count=len(m.offers), conditions=r.wrapped(conds)
            )
        else:
            # The values asked for, else the yes/no options ("waterproof").
            wanted = " / ".join(r.wanted_values([m])) or r.conditions(query, [m], stock=False)
            line = t("product_matching", count=len(m.offers), wanted=wanted)
        text = r.product_text(p, m.offers, line, by_price=query.has_price_bounds)
        return Answer([text], [r.card(p, m.offers)])

    def _stock(self, m: Match, query: CatalogQuery) -> Answer:
        r, t, p = self.r, self.t, m.product
        if not p.variants:
            return Answer([r.product_text(p, [])], [r.card(p)])
        wanted = r.wrapped(r.conditions(query, [m], stock=False))
        available = m.available
        if len(available) == len(m.offers):
            lead = t("stock_answer_all", title=p.title, wanted=wanted)
        elif available:
            lead = t(
                "stock_answer_some",
                title=p.title,
                wanted=wanted,
                available=len(available),
                count=len(m.offers),
            )
        else:
            lead = t("stock_answer_none", title=p.title, wanted=wanted)
        lines = [lead, *r.offer_lines(m.offers, by_price=True)]
        if not available and len(m.filters) == 1:
            # "Sorry, rose gold is out of stock" -> which colours are in stock.
            name = next(iter(m.filters))
            have = [
                v
                for v in option_values(p, name)
                if any(o.available and o.options.get(name) == v for o in offers(p))
            ]
            if have:
                lines.append(t("stock_in_stock_values", option=name, values=r.join(have)))
        return Answer(["\n".join(lines)], [r.card(p, m.offers)])

    # -- the cheapest / most expensive

    def extreme(self, matches: list[Match], query: CatalogQuery, single: bool) -> Answer:
        """The one cheapest (or most expensive) match; ``single``: of one product's
        variants, else across products."""
        r, t = self.r, self.t
        order = query.extreme or query.pick or "asc"
        # "The cheapest one" is the cheapest the customer can buy; an out-of-stock
        # offer only when nothing that matches is available.
        bests = [b for m in matches if m.fits and (b := m.best(order, True))]
        if not bests and not query.in_stock:
            bests = [b for m in matches if m.fits and (b := m.best(order, False))]
        conds = r.conditions(query, matches, stock=True)
        if not bests:
            return self._nothing(matches, query, conds, single)
        pick = min if order == "asc" else max
        best = pick(bests, key=lambda o: o.price or 0.0)
        product = best.product
        stock = r.stock(best.available)
        if single and best.variant is not None:
            key = "catalog_cheapest_variant" if order == "asc" else "catalog_priciest_variant"
            text = t(
                key,
                title=product.title,
                conditions=r.wrapped(conds),
                options=describe_options(best.options),
                price=r.money(best.price),
                stock=stock,
            )
        else:
            key = "catalog_cheapest_product" if order == "asc" else "catalog_priciest_product"
            item = product.title
            if best.variant is not None:
                item = f"{item} — {describe_options(best.options)}"
            text = t(
                key, conditions=r.wrapped(conds), item=item, price=r.money(best.price), stock=stock
            )
        return Answer([text], [r.card(product, [best])])

    def _nothing(
        self, matches: list[Match], query: CatalogQuery, conds: str, single: bool
    ) -> Answer:
        r, t = self.r, self.t
        if single and matches:
            p = matches[0].product
            none = t("product_none_matching", title=p.title, conditions=r.wrapped(conds))
            return Answer([none, r.product_text(p, [])], [r.card(p, [])])
        return Answer([t("catalog_nothing_matches", conditions=r.wrapped(conds))])

    # -- lists

    def listing(self, matches: list[Match], query: CatalogQuery) -> Answer:
        """Products one a line with the price of what matches, in stock only when asked,
        in price order when asked."""
        r, t = self.r, self.t
        rows: list[tuple[Match, list[Offer]]] = []
        for m in matches:
            shown = m.available if query.in_stock else m.offers
            if m.fits and shown:
                rows.append((m, shown))
        conds = r.conditions(query, matches, stock=True)
        if not rows:
            return Answer([t("catalog_nothing_matches", conditions=r.wrapped(conds))])
        order = query.sort or query.extreme
        if order == "asc":
            rows.sort(
                key=lambda row: min((o.price for o in row[1] if o.price is not None), default=0)
            )
        elif order == "desc":
            rows.sort(
                key=lambda row: -max((o.price for o in row[1] if o.price is not None), default=0)
            )
        header = {"asc": "catalog_sorted_up", "desc": "catalog_sorted_down"}.get(
            order or "", "catalog_list_header"
        )
        lines = [t(header, conditions=r.wrapped(conds))]
        for m, shown in rows[:MAX_LISTED]:
            stock = r.stock(any(o.available for o in shown))
            if len(shown) == 1 and shown[0].variant is not None:
                lines += r.offer_lines(shown)
            elif m.product.variants:
                lines.append(
                    t(
                        "catalog_list_line_options",
                        title=m.product.title,
                        price=r.prices(shown),
                        count=len(shown),
                        stock=stock,
                    )
                )
            else:
                lines.append(
                    t(
                        "catalog_list_line",
                        title=m.product.title,
                        price=r.prices(shown),
                        stock=stock,
                    )
                )
        if len(rows) > MAX_LISTED:
            lines.append(t("catalog_list_more", count=len(rows) - MAX_LISTED))
        cards = [r.card(m.product, shown) for m, shown in rows[:MAX_LISTED]]
        scope = [str(m.product.id) for m, _ in rows[:MAX_SCOPE]]
        return Answer(["\n".join(lines)], cards, scope=scope)

    def several(self, matches: list[Match]) -> Answer:
        """A few products named together, each with its variants."""
        answer = Answer()
        for m in matches[:MAX_PRODUCTS]:
            if m.filters and not m.offers:
                answer.paragraphs.append(self.r.no_variant_text(m.product, m.filters))
                continue
            line = None
            if m.filters:
                wanted = " / ".join(self.r.wanted_values([m]))
                line = self.t("product_matching", count=len(m.offers), wanted=wanted)
            answer.paragraphs.append(self.r.product_text(m.product, m.offers, line))
            answer.cards.append(self.r.card(m.product, m.offers))
        return answer

    # -- options and attributes

    def options(self, matches: list[Match], query: CatalogQuery) -> Answer:
        """The values of the options asked about, each with its price and stock, over
        the variants that match the rest of the question ("sizes in black")."""
        r, t = self.r, self.t
        answer = Answer()
        for m in matches[:MAX_PRODUCTS]:
            p = m.product
            names = [n for n in asked_options(query, p) if n not in m.filters]
            if not p.variants:
                answer.paragraphs.append(self._attribute_lines(p, asked_attributes(query, p)))
                answer.cards.append(r.card(p))
                continue
            if not names:
                asked = query.option_mentions[0] if query.option_mentions else ""
                text = t(
                    "option_not_offered",
                    title=p.title,
                    option=asked,
                    names=r.join(option_names(p)),
                )
                answer.paragraphs.append(text)
                answer.cards.append(r.card(p))
                continue
            if not m.offers:
                answer.paragraphs.append(r.no_variant_text(p, m.filters) if m.filters else "")
                continue
            lines = []
            for name in names:
                lines.append(t("option_values_header", title=p.title, option=name))
                for value in option_values(p, name):
                    these = [o for o in m.offers if o.options.get(name) == value]
                    if not these:
                        continue
                    available = [o for o in these if o.available]
                    lines.append(
                        t(
                            "option_value_line",
                            value=value,
                            price=r.prices(available or these),
                            stock=r.stock(bool(available)),
                        )
                    )
            answer.paragraphs.append("\n".join(lines))
            answer.cards.append(r.card(p, m.offers))
        return answer

    def _attribute_lines(self, product: Any, keys: list[str]) -> str:
        r, t = self.r, self.t
        attributes = getattr(product, "attributes", None) or {}
        if not keys:
            return r.product_text(product, [])
        lines = [
            t(
                "option_attribute_line",
                title=product.title,
                name=key_phrase(k),
                value=r.value_text(attributes[k]),
            )
            for k in keys
        ]
        return "\n".join([*lines, r.product_text(product, [])])

    def attributes(self, matches: list[Match], query: CatalogQuery) -> Answer:
        """ "Is it vegan?": yes or no per product, with the attribute as the catalog has it."""
        r, t = self.r, self.t
        answer = Answer()
        for m in matches[:MAX_PRODUCTS]:
            p = m.product
            attributes = getattr(p, "attributes", None) or {}
            lines = []
            for word in sorted(m.attributes):
                key = self.vocab.attribute_key(p, word)
                shown = attributes.get(key) if key in attributes else None
                value = r.value_text(shown) if shown is not None else r.value_text(False)
                lines.append(
                    t(
                        "attribute_has" if m.attributes[word] else "attribute_lacks",
                        title=p.title,
                        name=key_phrase(key),
                        value=value,
                    )
                )
            lines.append(r.product_text(p, m.offers if m.offers else []))
            answer.paragraphs.append("\n".join(lines))
            answer.cards.append(r.card(p, m.offers))
        return answer

    # -- comparisons

    def compare(self, matches: list[Match], query: CatalogQuery) -> Answer:
        """Two or three products side by side: price range, stock, options."""
        r, t = self.r, self.t
        if len(matches) == 1:
            single = self.product(matches[0], query)
            return Answer([t("compare_only_one"), *single.paragraphs], single.cards)
        lines = [t("compare_header")]
        cards = []
        for m in matches[:MAX_PRODUCTS]:
            p = m.product
            shown = m.offers or offers(p)
            lines.append(
                t(
                    "catalog_list_line",
                    title=p.title,
                    price=r.prices(shown),
                    stock=self._stock_summary(p, shown),
                )
            )
            for name in option_names(p):
                values = r.join(option_values(p, name))
                lines.append(t("compare_detail", name=name, values=values))
            if not p.variants:
                names = set(option_names(p))
                attributes = getattr(p, "attributes", None) or {}
                for key in [k for k in attributes if k not in names][:MAX_ATTRIBUTES]:
                    value = r.value_text(attributes[key])
                    lines.append(t("compare_detail", name=key_phrase(key), values=value))
            cards.append(r.card(p, shown))
        return Answer(["\n".join(lines)], cards)

    def _stock_summary(self, product: Any, shown: list[Offer]) -> str:
        available = [o for o in shown if o.available]
        if not product.variants or len(available) in (0, len(shown)):
            return self.r.stock(bool(available))
        return self.t("compare_stock_some", available=len(available), count=len(shown))
