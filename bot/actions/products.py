"""Product search (``action_product_search``): catalog questions as customers ask them,
answered from the catalog only, with real prices, in the conversation's language.

The message (and its entities) is read into a :class:`CatalogQuery`
(bot/actions/catalog_query.py); the products it is about are chosen
(bot/actions/catalog_select.py: those it names, else the ``last_products`` just shown
when it asks about them, else those its catalog words pick out); and one answer is
written (bot/actions/catalog_answers.py):

- a comparison ("compare the two laptops"), side by side;
- one product's option values with their prices and stock ("what sizes does it come
  in?");
- attribute questions ("is it vegan?");
- the cheapest / most expensive match ("the cheapest backpack you have in stock");
- a filtered, sorted list ("waterproof ones under $300");
- one product's variants, narrowed to the options asked for ("in red", "size M"), or
  whether they are in stock ("is the 2L one in stock?").

Every answer also goes out as product cards, and ``last_products`` is set to the
products it is about, so the next message can ask about them.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.catalog_answers import MAX_PRODUCTS, Answer, CatalogAnswers
from bot.actions.catalog_query import CatalogQuery, read_query
from bot.actions.catalog_render import Renderer
from bot.actions.catalog_select import (
    Match,
    asked_attributes,
    asked_options,
    candidates,
    match,
    unlisted,
)
from bot.actions.catalog_vocab import CatalogVocabulary
from bot.actions.tracker import latest_entities, message_text
from bot.messages.catalogue import Catalogue


class ActionProductSearch(Action):
    """Answer a catalog question: products, variants, prices, stock, options, comparisons."""

    def __init__(
        self, catalog: list[Any], currency: str = "USD", catalogue: Catalogue | None = None
    ) -> None:
        self.catalog = list(catalog)
        self.currency = currency
        self.catalogue = catalogue or Catalogue()
        self.vocab = CatalogVocabulary(self.catalog)

    def name(self) -> str:
        return "action_product_search"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        t = self.catalogue.for_language(tracker.get_slot("language"))
        shown = tracker.get_slot("last_products")
        last = shown if isinstance(shown, list) else []
        listed = tracker.get_slot("last_scope")
        scope = listed if isinstance(listed, list) else []
        query = read_query(message_text(tracker), latest_entities(tracker), self.vocab, last)
        answer = self.answer(query, last, Renderer(t, self.currency), scope)
        if answer is None:
            key = "catalog_which_product" if _asks_about_a_product(query) else "product_not_found"
            dispatcher.utter_message(text=t(key))
            return [SlotSet("last_products", []), SlotSet("last_scope", [])]
        if answer.cards:
            dispatcher.utter_message(
                text=answer.text,
                json_message={"type": "product_cards", "products": answer.cards},
            )
        else:
            dispatcher.utter_message(text=answer.text)
        # The products the answer is about, even when none had a card ("doesn't come in
        # gold"), so the next message can ask about them.
        return [
            SlotSet("last_products", answer.product_ids or answer.about),
            SlotSet("last_scope", answer.scope),
        ]

    def answer(
        self, query: CatalogQuery, last: list[Any], r: Renderer, scope: list[Any] | None = None
    ) -> Answer | None:
        """The answer to ``query`` (``last``: the products just shown; ``scope``: all
        those the last list was drawn from), or None when it is about no product."""
        products, source = candidates(query, self.vocab, last, scope)
        if not products:
            return None
        if source == "scope":
            among = self._answer(query, [match(query, p, self.vocab) for p in products], source, r)
            if among.cards:
                return among
            # None of those: say so, and answer from the rest of the catalog.
            rest = [match(query, p, self.vocab) for p in self.vocab.products]
            wider = self._answer(query, rest, "catalog", r)
            if wider.cards:
                conds = r.conditions(query, [], stock=True, values=False)
                wider.paragraphs.insert(0, r.t("catalog_none_of_those", conditions=conds))
            return wider
        if source == "last" and query.ordinal is not None:
            index = query.ordinal
            if -len(products) <= index < len(products):
                products = [products[index]]
        matches = [match(query, p, self.vocab) for p in products]
        answer = self._answer(query, matches, source, r)
        if source in ("named", "last") and query.named_by != "type":
            answer.about = [str(m.product.id) for m in matches[:MAX_PRODUCTS]]
        return answer

    def _answer(
        self, query: CatalogQuery, matches: list[Match], source: str, r: Renderer
    ) -> Answer:
        if source != "named" and len(matches) > 1:
            # "the blue one": of the products shown, those that have what was asked for.
            fitting = [m for m in matches if m.fits]
            if fitting:
                matches = fitting
        if query.pick and len(matches) > 1:
            matches = [_pick(matches, query.pick)]
        answers = CatalogAnswers(r, self.vocab)
        several = len(matches) > 1
        if source in ("named", "last") and query.named_by != "type" and not several:
            missing = unlisted(query, matches[0].product)
            if missing and not _asks_more(query, matches[0]):
                # "is it waterproof?" of a watch whose listing never says: not a guess.
                title = matches[0].product.title
                what = r.join(missing)
                return Answer([r.t("catalog_unlisted", title=title, what=what)])
        if query.compare:
            return answers.compare(matches, query)
        if _asks_options(matches, query):
            return answers.options(matches, query)
        if _asks_attributes(matches, query, source):
            return answers.attributes(matches, query)
        if query.extreme:
            return answers.extreme(matches, query, single=not several)
        if source in ("words", "catalog", "scope") or query.named_by == "type":
            return answers.listing(matches, query)  # a kind of product
        if not several:
            return answers.product(matches[0], query)
        if _is_list(matches, query):
            return answers.listing(matches, query)
        return answers.several(matches)


def _pick(matches: list[Match], order: str) -> Match:
    """ "The cheaper one": the product with the lowest (highest) price that matches."""

    def price(m: Match) -> float:
        best = m.best(order, in_stock=False)
        if best is None or best.price is None:
            return float("inf") if order == "asc" else float("-inf")
        return best.price

    return min(matches, key=price) if order == "asc" else max(matches, key=price)


def _asks_more(query: CatalogQuery, m: Match) -> bool:
    """Asks the catalog something besides an option name: a price, stock, one of the
    product's values."""
    return bool(
        query.asks_price
        or query.in_stock
        or m.filters
        or query.has_price_bounds
        or query.extreme
        or query.compare
    )


def _asks_options(matches: list[Match], query: CatalogQuery) -> bool:
    """The question asks which values an option has ("what sizes"), not for one value."""
    if not (query.option_mentions or query.all_options):
        return False
    for m in matches:
        if m.product.variants:
            if [n for n in asked_options(query, m.product) if n not in m.filters]:
                return True
        elif asked_attributes(query, m.product):
            return True
    return False


def _asks_attributes(matches: list[Match], query: CatalogQuery, source: str) -> bool:
    """ "Is it vegan?" about a product or two, not "vegan cleansers" (a list)."""
    if not query.attribute_mentions or len(matches) > MAX_PRODUCTS:
        return False
    if query.has_price_bounds or query.extreme or query.sort:
        return False
    return source == "last" or (source == "named" and query.named_by != "type")


def _is_list(matches: list[Match], query: CatalogQuery) -> bool:
    """Many products, or several narrowed by price, stock, order or attribute words."""
    return bool(
        len(matches) > MAX_PRODUCTS
        or query.has_price_bounds
        or query.in_stock
        or query.sort
        or query.attribute_mentions
    )


def _asks_about_a_product(query: CatalogQuery) -> bool:
    """ "What sizes does it come in?" with nothing shown yet: ask which product."""
    return bool(
        query.refers_back
        or query.option_mentions
        or query.all_options
        or query.compare
        or query.extreme
        or query.sort
        or query.ordinal is not None
    )
