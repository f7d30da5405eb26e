"""Which products a catalog question is about, and which of their offers match it.

:func:`candidates` picks the products: those the message names; else the products just
shown (the ``last_products`` slot) when it points back at them ("is the blue one in
stock?", "the cheaper one?") or asks about them without naming any; else the products
its catalog words pick out ("waterproof ones under $300"); else, for "the cheapest
thing you have", the whole catalog. :func:`match` narrows one product to the offers
the question asks for: option values, price bounds and, when asked, availability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.actions.catalog_query import CatalogQuery, option_key
from bot.actions.catalog_vocab import (
    CatalogVocabulary,
    Offer,
    attribute_words,
    is_boolean_option,
    key_phrase,
    offers,
    option_names,
    option_values,
)
from bot.actions.catalog_words import YES_VALUES, other_spellings
from bot.actions.matching import word_tokens


@dataclass
class Match:
    """One product against the question."""

    product: Any
    filters: dict[str, set[str]] = field(default_factory=dict)  # option -> lower values
    attributes: dict[str, bool] = field(default_factory=dict)  # attribute word -> has it
    offers: list[Offer] = field(default_factory=list)  # matching filters and price bounds

    @property
    def available(self) -> list[Offer]:
        return [o for o in self.offers if o.available]

    @property
    def fits(self) -> bool:
        """Has an offer that matches and every attribute word asked for."""
        return bool(self.offers) and all(self.attributes.values())

    def best(self, order: str, in_stock: bool) -> Offer | None:
        pool = [o for o in (self.available if in_stock else self.offers) if o.price is not None]
        if not pool:
            return None
        return (
            min(pool, key=lambda o: o.price) if order == "asc" else max(pool, key=lambda o: o.price)
        )


def candidates(
    query: CatalogQuery,
    vocab: CatalogVocabulary,
    last_ids: list[Any] | None,
    scope_ids: list[Any] | None = None,
) -> tuple[list[Any], str]:
    """The products the question is about and where they came from: "named", "last"
    (the products just shown), "scope" (all those the last list was drawn from),
    "words" (picked by option or attribute words) or "catalog" (everything); ([], "")
    when it is about no product."""
    last = [p for pid in last_ids or [] if (p := vocab.product(pid)) is not None]
    if query.named:
        named = list(query.named)
        if query.compare and len(named) == 1 and last:
            named += [p for p in last if p not in named]  # "compare it with the tablet"
        return named, "named"
    picked = products_with_words(query, vocab)
    scope = [p for pid in scope_ids or [] if (p := vocab.product(pid)) is not None]
    if len(scope) > len(last) and query.refers_back and is_filter(query):
        # "which of them cost under $150?", "the cheapest one you have in stock": all
        # of the list, not only the lines it showed ("…and 8 more"); "the second one"
        # and "the cheaper one" are of the lines shown.
        if query.ordinal is None and not query.pick:
            among = [p for p in scope if picked is None or p in picked]
            if among:
                return among, "scope"
    if last and query.refers_back:
        return last, "last"
    if (scope or last) and is_filter(query) and not query.whole_store:
        # "anything under $150?" right after a list ("do you sell electronics?"): among
        # all the products that list was drawn from, not only the few it showed; after
        # one product, its own variants ("which ones are under $350?"), unless the
        # message asks for products ("anything under $150?").
        pool = scope if len(scope) > 1 else last
        among = [p for p in pool if picked is None or p in picked]
        if among and (len(pool) > 1 or not query.asks_products):
            return among, "scope" if len(pool) > 1 else "last"
    if last and not query.catalog_wide and query.is_follow_up():
        among = [p for p in last if picked is not None and p in picked]
        if among:
            return among, "last"
        if picked is None or not _type_words(query, vocab):
            return last, "last"  # "in gold?": say the product shown doesn't come in gold
    if picked is not None:
        return picked, "words"
    if query.catalog_wide and is_filter(query):
        return list(vocab.products), "catalog"  # "the cheapest thing you have"
    return [], ""


def is_filter(query: CatalogQuery) -> bool:
    """The question narrows or orders a list: a price bound, cheapest, sorted, in stock."""
    return bool(query.extreme or query.sort or query.has_price_bounds or query.in_stock)


def products_with_words(query: CatalogQuery, vocab: CatalogVocabulary) -> list[Any] | None:
    """The products that have every option value, attribute word and yes/no option the
    message names (None when it names none)."""
    words = (
        set(query.value_mentions)
        | set(query.attribute_mentions)
        | {v for vals in query.entity_values.values() for v in vals}
    )
    flags = _flag_mentions(query, vocab)
    if not words and not flags:
        return None
    pids = {str(p.id) for p in vocab.products}
    for word in words:
        pids &= vocab.values.get(word, set()) | vocab.attributes.get(word, set())
    out = [p for p in vocab.products if str(p.id) in pids]
    return [p for p in out if all(_has_flag(p, flag) for flag in flags)]


def _type_words(query: CatalogQuery, vocab: CatalogVocabulary) -> bool:
    """The message names a kind of product (a yes/no option, an attribute word)."""
    return bool(query.attribute_mentions or _flag_mentions(query, vocab))


def _flag_mentions(query: CatalogQuery, vocab: CatalogVocabulary) -> list[str]:
    """Option names that are yes/no options somewhere ("waterproof")."""
    out = []
    for mention in query.option_mentions:
        pids = vocab.option_names.get(mention, set())
        if any(
            is_boolean_option(vocab.by_id[pid], name)
            for pid in pids
            for name in option_names(vocab.by_id[pid])
            if key_phrase(name) == mention
        ):
            out.append(mention)
    return out


def _has_flag(product: Any, flag: str) -> bool:
    for name in option_names(product):
        if key_phrase(name) == flag and is_boolean_option(product, name):
            return any(v.lower() in YES_VALUES for v in option_values(product, name))
    return attribute_words(product).get(flag) is not None


def _has_value(product: Any, word: str) -> bool:
    return any(str(value).lower() == word for v in product.variants for value in v.options.values())


def asked_options(query: CatalogQuery, product: Any) -> list[str]:
    """The product's option names the question asks about ("what sizes" -> "size";
    "colors" -> "frame color" and "lens color"); yes/no options are filters instead."""
    names = option_names(product)
    out: list[str] = []
    for mention in query.option_mentions:
        want = word_tokens(mention)
        exact = [n for n in names if key_phrase(n) == mention]
        loose = [n for n in names if _contains(word_tokens(key_phrase(n)), want)]
        for name in exact or loose:
            if name not in out and not is_boolean_option(product, name):
                out.append(name)
    if not out and query.all_options and not query.option_mentions:
        out = [n for n in names if not is_boolean_option(product, n)]
    return out


def asked_attributes(query: CatalogQuery, product: Any) -> list[str]:
    """A product's attribute keys the question names ("size" -> "size_ml")."""
    keys = [str(k) for k in (getattr(product, "attributes", None) or {})]
    out = []
    for mention in query.option_mentions:
        want = word_tokens(mention)
        out += [k for k in keys if k not in out and _contains(word_tokens(key_phrase(k)), want)]
    return out


def unlisted(query: CatalogQuery, product: Any) -> list[str]:
    """The option names the question mentions that this product's record has nowhere:
    not an option, an attribute, nor words of its title or description ("is it
    waterproof?" about a watch whose listing never says). None when any mention is
    in the record ("what shades...": "shade" is, its synonym "color" need not be)."""
    names = [word_tokens(key_phrase(n)) for n in option_names(product)]
    names += [word_tokens(key_phrase(str(k))) for k in getattr(product, "attributes", None) or {}]
    words = set(attribute_words(product))
    text = set(word_tokens(f"{product.title} {getattr(product, 'description', '') or ''}"))
    out = []
    for mention in query.option_mentions:
        want = word_tokens(mention)
        if mention in words or set(want) <= text or any(_contains(n, want) for n in names):
            continue
        out.append(mention)
    if len(out) < len(query.option_mentions):
        return []
    # "battery life" and its head "life": the longest phrase says it.
    return [m for m in out if not any(m != o and m in o for o in out)]


def _contains(tokens: list[str], want: list[str]) -> bool:
    n = len(want)
    return bool(n) and any(tokens[i : i + n] == want for i in range(len(tokens) - n + 1))


def match(query: CatalogQuery, product: Any, vocab: CatalogVocabulary) -> Match:
    """The product's offers that match the question's option values and price bounds
    (availability is left to the answer: a filter for lists, a question for one).

    A value the NLU found that the product lacks still filters, so the answer says
    "doesn't come in gold"; values read from the text only filter products having them.
    """
    result = Match(product)
    names = {option_key(n): n for n in option_names(product)}
    lowered = {n: {v.lower() for v in option_values(product, n)} for n in option_names(product)}
    for key, values in query.entity_values.items():
        if key in names:
            result.filters.setdefault(names[key], set()).update(values)
            continue
        for value in values:  # an entity name this product lacks: its own option with that value
            owners = [n for n, vals in lowered.items() if value in vals]
            for name in owners[:1]:
                result.filters.setdefault(name, set()).add(value)
    for value in query.value_mentions:
        owners = [n for n, vals in lowered.items() if value in vals]
        for other in [] if owners else other_spellings(value):
            # "medium" where this product's sizes are S / M / L.
            owners = [n for n, vals in lowered.items() if other in vals]
            if owners:
                value = other
                break
        if owners:
            if not any(value in result.filters.get(n, set()) for n in owners):
                result.filters.setdefault(owners[0], set()).add(value)
    for flag in _flag_mentions(query, vocab):
        for name in option_names(product):
            if key_phrase(name) == flag and is_boolean_option(product, name):
                yes = {v.lower() for v in option_values(product, name)} & YES_VALUES
                result.filters.setdefault(name, set()).update(yes)
    words = attribute_words(product)
    for word in query.attribute_mentions:
        result.attributes[word] = word in words or _has_value(product, word)
    result.offers = [
        o for o in offers(product) if _matches(o, result.filters) and _in_budget(o, query)
    ]
    return result


def _matches(offer: Offer, filters: dict[str, set[str]]) -> bool:
    options = offer.options
    return all(str(options.get(k, "")).lower() in vals for k, vals in filters.items())


def _in_budget(offer: Offer, query: CatalogQuery) -> bool:
    if not query.has_price_bounds:
        return True
    price = offer.price
    if price is None:
        return False
    if query.low is not None and price < query.low:
        return False
    return not (query.high is not None and price > query.high)
