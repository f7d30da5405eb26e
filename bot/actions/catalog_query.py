"""What a catalog question asks: :func:`read_query` turns a message (and its entities)
into a :class:`CatalogQuery`.

It reads the products the message names (entities, else title words, else category
words, all from the store's own catalog), price bounds ("under $300", "between 20 and
40", "300元以下"), availability ("in stock", "有货"), order ("cheapest", "the cheaper
one", "low to high"), a comparison, the options asked about ("what sizes", a store's
own option name such as "capacity"), option values ("purple", "2L") and attribute
words ("vegan", "oily"), and whether it points back at the products just shown ("it",
"the blue one", "the second one"). The language words are bot/actions/catalog_words.py's;
the catalog words are bot/actions/catalog_vocab.py's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.actions.catalog_vocab import CatalogVocabulary, Message, key_phrase, normalise
from bot.actions.catalog_words import NOT_PRICE_UNITS, VAGUE_VALUES, WORDS
from bot.actions.matching import joined_ngrams, word_tokens
from knowledge_base.chinese import has_chinese

# Entity names that are not product options (docs/architecture.md, bot/nlu/entities.py).
NON_OPTION_ENTITIES = {"email", "person_name", "zip", "order_id", "product"}


@dataclass
class CatalogQuery:
    """One catalog question, as read from the message."""

    message: Message
    low: float | None = None  # price bounds, in the store's currency
    high: float | None = None
    in_stock: bool = False  # asks about, or filters on, availability
    extreme: str | None = None  # "asc" cheapest / "desc" most expensive: one answer
    pick: str | None = None  # "asc" / "desc": the cheaper / pricier of those shown
    sort: str | None = None  # "asc" / "desc": a list in price order
    asks_price: bool = False
    compare: bool = False
    refers_back: bool = False  # "it", "they", "the blue one"
    ordinal: int | None = None  # "the second one" -> 1; "the last one" -> -1
    all_options: bool = False  # "what options", "which variants"
    catalog_wide: bool = False  # "anything", "products", "ones"
    whole_store: bool = False  # "everything", "in your store": never only those just shown
    asks_products: bool = False  # "anything", "products" (not "ones"): other products
    option_mentions: list[str] = field(default_factory=list)  # "size", "screen size"
    value_mentions: set[str] = field(default_factory=set)  # "purple", "2l" (lower case)
    attribute_mentions: set[str] = field(default_factory=set)  # "vegan", "oily"
    entity_values: dict[str, set[str]] = field(default_factory=dict)  # option -> values
    named: list[Any] = field(default_factory=list)  # products the message names
    # How: "entity", "title" (all its words), "partial" (its distinctive words) or
    # "type" (a kind of product: a category, or a word many titles end with).
    named_by: str = ""
    # Where the message states its price bounds (character spans of message.norm):
    # "under" of "under $12" names no product ("Under-Eye Gel Patches").
    price_spans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def has_price_bounds(self) -> bool:
        return self.low is not None or self.high is not None

    def is_follow_up(self) -> bool:
        """Asks something about products without naming one: options, values, prices,
        availability, an order or a comparison."""
        return self.refers_back or self.asks_catalog()

    def asks_catalog(self, compare: bool = True) -> bool:
        """Asks something the catalog holds (an option, a value, a price, stock, an
        order, a comparison), beyond pointing back at products ("what if they arrive
        damaged?" points back, but asks the store's policies). ``compare``: whether a
        comparison word counts (not with one product in view: "can I get the
        difference refunded?")."""
        return bool(
            self.ordinal is not None
            or self.pick
            or self.extreme
            or self.sort
            or self.asks_price
            or self.in_stock
            or (compare and self.compare)
            or self.all_options
            or self.option_mentions
            or self.value_mentions
            or self.attribute_mentions
            or self.entity_values
            or self.has_price_bounds
        )


def read_query(
    text: str,
    entities: list[dict[str, Any]],
    vocab: CatalogVocabulary,
    last_ids: list[Any] | None = None,
) -> CatalogQuery:
    """The catalog question in ``text`` (entities: the NLU's, Rasa-style dicts;
    ``last_ids``: the products just shown)."""
    message = Message(text)
    query = CatalogQuery(message)
    numbers = _read_prices(query, vocab)
    _read_words(query)
    for ent in entities:
        if not isinstance(ent, dict):
            raise TypeError(f"an entity must be a dict, got {ent!r}")
        name, value = str(ent.get("entity", "")), ent.get("value")
        if value in (None, ""):
            continue
        if name == "product":
            product = vocab.product(ent.get("product_id")) or next(
                (p for p in vocab.products if p.title.lower() == str(value).lower()), None
            )
            if product is not None and product not in query.named:
                query.named.append(product)
                query.named_by = "entity"
        elif name not in NON_OPTION_ENTITIES and str(value).strip().lower() not in numbers:
            query.entity_values.setdefault(option_key(name), set()).add(str(value).lower())
    if not query.named:
        query.named, query.named_by = name_products(_without_prices(query), vocab)
        if query.refers_back and query.named_by in ("partial", "type"):
            # "Is it wireless?" about the headphones just shown: their option value,
            # not the Wireless Earbuds.
            words = naming_words(query, vocab)
            last = {str(pid) for pid in last_ids or []}
            if any(last & vocab.values.get(w, set()) for w in words):
                query.named, query.named_by = [], ""
    _read_catalog_words(query, vocab, naming_words(query, vocab), numbers, last_ids)
    # "Is it vegan?": a yes/no attribute asked about, not an option to list.
    query.option_mentions = [m for m in query.option_mentions if m not in query.attribute_mentions]
    return query


def _without_prices(query: CatalogQuery) -> Message:
    """The message with its price bounds blanked out, for naming products."""
    if not query.price_spans:
        return query.message
    chars = list(query.message.norm)
    for start, end in query.price_spans:
        chars[start:end] = " " * (end - start)
    return Message("".join(chars))


def option_key(name: str) -> str:
    """Entity names may use underscores where catalog option names have spaces."""
    return key_phrase(name)


# -- prices


def _read_prices(query: CatalogQuery, vocab: CatalogVocabulary) -> set[str]:
    """Fill the price bounds; returns the numbers read as prices (not option values)."""
    text = query.message.norm
    numbers: set[str] = set()
    for words in WORDS:
        for kind, patterns in (
            ("between", words.between),
            ("high", words.at_most),
            ("low", words.at_least),
        ):
            for pattern in patterns:
                for m in pattern.finditer(text):
                    amounts = _amounts(m, text, words.currency, vocab)
                    if amounts is None:
                        continue
                    if kind == "between" and _all_values(m, words.currency, vocab):
                        continue  # "sizes from 8 to 10"
                    numbers.update(_number_text(m.group(i)) for i in (1, 3) if _group(m, i))
                    query.price_spans.append(m.span())
                    if kind == "between" and len(amounts) == 2:
                        lo, hi = sorted(amounts)
                        query.low = lo if query.low is None else max(query.low, lo)
                        query.high = hi if query.high is None else min(query.high, hi)
                    elif kind == "high":
                        query.high = (
                            amounts[0] if query.high is None else min(query.high, amounts[0])
                        )
                    elif kind == "low":
                        query.low = amounts[0] if query.low is None else max(query.low, amounts[0])
    if query.low is not None and query.high is not None and query.low > query.high:
        query.low, query.high = query.high, query.low
    return numbers


def _all_values(m: re.Match[str], currency: str, vocab: CatalogVocabulary) -> bool:
    """Every number of a match without a currency is one of the catalog's option values."""
    if re.search(currency, m.group(0), re.I):
        return False
    found = [_number_text(_group(m, i)) for i in (1, 3) if _group(m, i)]
    return bool(found) and all(n in vocab.values for n in found)


def _group(m: re.Match[str], i: int) -> str | None:
    return m.group(i) if m.re.groups >= i else None


def _number_text(raw: str | None) -> str:
    return (raw or "").replace(",", "")


def _amounts(
    m: re.Match[str], text: str, currency: str, vocab: CatalogVocabulary
) -> list[float] | None:
    """The amounts of a price match, or None when the number is a quantity ("under 2L",
    "within 5 days", "under 6 ft" in a store selling 6 ft umbrellas)."""
    amounts = []
    for i in (1, 3):
        raw = _group(m, i)
        if not raw:
            continue
        value = float(_number_text(raw))
        if _group(m, i + 1):  # "1.5k"
            value *= 1000
        amounts.append(value)
    if not amounts:
        return None
    if re.search(currency, m.group(0), re.I):
        return amounts
    after = text[m.end() :]
    if after[:1].isalpha() and not has_chinese(after[:1]):
        return None  # glued to a unit: "2l", "5mm"
    nxt = re.match(r"\s*([^\s\d,.!?;:，。！？]+)", after)
    unit = nxt.group(1).lower() if nxt else ""
    if unit and (
        unit in NOT_PRICE_UNITS
        or unit[:1] in NOT_PRICE_UNITS
        and has_chinese(unit[:1])
        or vocab.is_value(f"{_number_text(_group(m, 1))} {unit}")
    ):
        return None
    return amounts


# -- the language's words


def _read_words(query: CatalogQuery) -> None:
    text = query.message.norm
    for words in WORDS:
        if words.stock.search(text):
            query.in_stock = True
        if words.cheapest.search(text):
            query.extreme = "asc"
        elif words.priciest.search(text):
            query.extreme = "desc"
        if words.cheaper.search(text):
            query.pick = "asc"
        elif words.pricier.search(text):
            query.pick = "desc"
        if words.sort_down.search(text):
            query.sort = "desc"
        elif words.sort_up.search(text):
            query.sort = "asc"
        query.asks_price |= bool(words.price.search(text))
        query.compare |= bool(words.compare.search(text))
        query.refers_back |= bool(words.refers_back.search(text))
        query.all_options |= bool(words.all_options.search(text))
        wide = [m.group(0).lower() for m in words.catalog_wide.finditer(text)]
        query.catalog_wide |= bool(wide)
        # "which ones?" after one product means its variants; "anything?" means products.
        query.asks_products |= any(w != "ones" for w in wide)
        query.whole_store |= bool(words.whole_store.search(text))
        for word, index in words.ordinals.items():
            if has_chinese(word):
                if word in text:
                    query.ordinal = index
            elif re.search(rf"\bthe {re.escape(word)}\b", text):
                query.ordinal = index
        for word, canonical in words.option_words.items():
            found = word in text if has_chinese(word) else word in query.message.token_set
            if found and canonical not in query.option_mentions:
                query.option_mentions.append(canonical)
    if query.extreme:
        query.pick = None  # "the cheapest one" is the superlative
    if query.ordinal is not None or query.pick:
        query.refers_back = True


# -- the catalog's words


def name_products(message: Message, vocab: CatalogVocabulary) -> tuple[list[Any], str]:
    """Products the text names: all their title words ("title"), else their distinctive
    title words ("partial"; a title's head noun beats a modifier: "running watch" is a
    watch), else a kind of product ("type": "serums" is the Serums category and every
    title with "serum"). Returns the products and how they were named."""
    tokens = message.tokens
    grams = joined_ngrams(tokens)
    full = []
    for p in vocab.products:
        title_tokens = vocab.title_tokens[str(p.id)]
        if has_chinese(p.title):
            if normalise(p.title) in message.norm:
                full.append(p)
        elif title_tokens and (
            all(t in message.token_set for t in title_tokens) or "".join(title_tokens) in grams
        ):
            full.append(p)
    if full:
        return full, "title"
    scored = []
    for p in vocab.products:
        title_tokens = vocab.title_tokens[str(p.id)]
        matched = frozenset(t for t in title_tokens if len(t) >= 4 and t in message.token_set)
        if matched:
            head = vocab.head_tokens[str(p.id)] in matched
            score = sum(1.0 / vocab.title_df[t] for t in matched)
            scored.append((p, matched, head, score))
    if any(head for _, _, head, _ in scored):
        scored = [s for s in scored if s[2]]
    scored = [s for s in scored if not any(s[1] < other[1] for other in scored)]
    scored.sort(key=lambda s: -s[3])
    partial = [p for p, _, _, _ in scored]
    words = set().union(*(s[1] for s in scored)) if scored else message.token_set
    by_category = [
        p
        for p in vocab.products
        if (cats := vocab.category_tokens[str(p.id)])
        and cats & words
        and (
            not partial or words <= cats  # "serums": the category's own word
        )
    ]
    if by_category:
        return partial + [p for p in by_category if p not in partial], "type"
    if partial:
        return partial, "partial"
    cjk = [
        p
        for p in vocab.products
        if has_chinese(getattr(p, "category", "") or "") and normalise(p.category) in message.norm
    ]
    return cjk, "type" if cjk else ""


def naming_words(query: CatalogQuery, vocab: CatalogVocabulary) -> set[str]:
    """The words that named the products: not also read as option or attribute words.
    A product named by its title takes its title's words; a kind of product ("vegan
    cleansers") only its category word, so "vegan" still narrows the kind."""
    if query.named_by == "partial":
        return {
            t
            for p in query.named
            for t in vocab.title_tokens.get(str(p.id), [])
            if t in query.message.token_set
        }
    if query.named_by == "type":
        words = set()
        for p in query.named:
            words |= vocab.category_tokens.get(str(p.id), set())
        return words & query.message.token_set or {
            vocab.head_tokens[str(p.id)] for p in query.named
        }
    return {t for p in query.named for t in vocab.title_tokens.get(str(p.id), [])}


def _read_catalog_words(
    query: CatalogQuery,
    vocab: CatalogVocabulary,
    taken: set[str],
    numbers: set[str],
    last_ids: list[Any] | None = None,
) -> None:
    """Option names, option values and attribute words of this catalog in the message
    (not the words naming the products, nor numbers read as prices)."""
    message = query.message
    for name in sorted(set(vocab.option_names) | vocab.attribute_keys):
        if message.has(name) and not set(word_tokens(name)) <= taken:
            _mention(query, name)
    for token in message.tokens:
        if token in vocab.option_heads and token not in taken:
            _mention(query, token)
    spans: list[tuple[tuple[int, int], str, str]] = []
    for kind, phrases in (("value", vocab.values), ("attribute", vocab.attributes)):
        for phrase in phrases:
            span = message.find(phrase)
            if span is None or phrase in numbers:
                continue
            if span != (-1, -1):
                if set(message.tokens[span[0] : span[1]]) <= taken:
                    continue
                if not _plain_word_ok(message, phrase, span, vocab) and not _shown_value(
                    message, phrase, vocab, last_ids
                ):
                    continue
            spans.append((span, phrase, kind))
    for span, phrase, kind in spans:
        inside = any(
            o != span and o[0] <= span[0] and span[1] <= o[1] and o != (-1, -1) for o, _, _ in spans
        )
        if inside:
            continue  # "gold" inside "rose gold"
        if kind == "value":
            query.value_mentions.add(phrase)
        elif phrase not in query.value_mentions:
            query.attribute_mentions.add(phrase)
    for words in WORDS:
        for word, spellings in words.value_words.items():
            if word not in message.norm if has_chinese(word) else word not in message.token_set:
                continue
            if word in vocab.values:
                continue  # the catalog spells it as the customer does
            for spelling in spellings:
                if spelling in vocab.values:
                    query.value_mentions.add(spelling)
                    break
                if spelling in vocab.option_names:  # "防水" -> the option "waterproof"
                    _mention(query, spelling)
                    break
    query.attribute_mentions -= query.value_mentions


def _mention(query: CatalogQuery, name: str) -> None:
    if name not in query.option_mentions:
        query.option_mentions.append(name)


def _plain_word_ok(
    message: Message, phrase: str, span: tuple[int, int], vocab: CatalogVocabulary
) -> bool:
    """A vague value ("large", "high"), a bare number ("10") or a short code ("M") counts
    only next to an option name ("size large", "large size") or, for codes, written as
    the catalog writes them ("M", not the "m" of "I'm")."""
    vague = phrase in VAGUE_VALUES or phrase.replace(".", "").isdigit()
    short = len(phrase) <= 2 and phrase.isalpha()
    if not (vague or short):
        return True
    i, j = span
    if vague and message.tokens[j : j + 1] in (["one"], ["ones"]):
        return True  # "the medium one", "large ones"
    beside = set(message.tokens[max(0, i - 2) : i]) | set(message.tokens[j : j + 2])
    names = {t for n in vocab.option_names for t in word_tokens(n)}
    if beside & names:
        return True
    if short and not vague:
        spellings = {v for v in _catalog_spellings(vocab, phrase)}
        return any(
            re.search(rf"(?<![\w'’]){re.escape(s)}(?![\w'’])", message.raw) for s in spellings
        )
    return False


def _shown_value(
    message: Message, phrase: str, vocab: CatalogVocabulary, last_ids: list[Any] | None
) -> bool:
    """A short follow-up naming a value of the products just shown ("what about a 10?"
    after the sneakers): that value, though alone it could be any number or letter."""
    if not last_ids or len(message.tokens) > 5:
        return False
    return bool({str(pid) for pid in last_ids} & vocab.values.get(phrase, set()))


def _catalog_spellings(vocab: CatalogVocabulary, lower: str) -> set[str]:
    out = set()
    for pid in vocab.values.get(lower, ()):
        product = vocab.by_id[pid]
        for variant in product.variants:
            for value in variant.options.values():
                if str(value).lower() == lower and str(value) != lower:
                    out.add(str(value))
    return out
