"""Which of their orders the customer means, and what they ask about it.

:func:`read_question` reads one message with every language's words
(bot/actions/order_words.py): the list, an order's items, its tracking, the most recent
order, "it" (the order being discussed), a status ("which one was delivered"), a
position ("the second one"). :func:`pick` then narrows the customer's own orders to the
ones the message points at: an order id written in it, a status, the items ("the vacuum
order", "the one with the headphones", matched against the titles and options of those
very orders), a position in the list just shown, the most recent. It only ever sees the
verified customer's orders, so no reference can reach anyone else's.

:func:`chronological` is the order the customer reads their orders in: by the data's
``created_at`` when every order has one, else as ``orders.jsonl`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.actions.matching import joined_ngrams, word_tokens
from bot.actions.order_words import ORDER_WORDS, OrderWords, position_of
from bot.nlu.language import simplified
from bot.storage.orders import Order, normalize_order_id

ITEMS, TRACKING, STATUS = "items", "tracking", "status"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ID_TOKEN = re.compile(r"#?[\w-]+")
# Option values that say nothing about which item it is.
_BARE_VALUES = frozenset({"yes", "no", "none", "true", "false", "n/a", "na"})
_FILLER = frozenset().union(*(w.filler for w in ORDER_WORDS.values()))


@dataclass(frozen=True)
class OrderQuestion:
    """What one message asks about the customer's orders.

    ``kind``: the reply it wants about one order (``status``, ``items``, ``tracking``).
    ``wants_list``: it asks for the list. ``statuses``: it names a status ("delivered",
    "not arrived yet"). ``position``: 1-based, -1 the last. ``recent``: the most recent
    order. ``current``: "it", "this order" (the order being discussed). ``singular``: it
    means one order ("the delivered one").
    """

    kind: str = STATUS
    wants_list: bool = False
    statuses: frozenset[str] | None = None
    position: int | None = None
    recent: bool = False
    current: bool = False
    singular: bool = False

    @property
    def asks_something(self) -> bool:
        """The message asks about orders at all (else it may be an unrelated text)."""
        return bool(
            self.kind != STATUS
            or self.wants_list
            or self.statuses
            or self.position
            or self.recent
            or self.current
        )


def read_question(text: str, tables: Iterable[OrderWords] | None = None) -> OrderQuestion:
    """The question in ``text``, read with every language's words (or ``tables``)."""
    kind, wants_list, statuses, position = STATUS, False, None, None
    recent = current = singular = False
    for words in tables or ORDER_WORDS.values():
        said = simplified(text) if words.simplify else text
        if kind == STATUS:
            if words.tracking.search(said):
                kind = TRACKING
            elif words.items.search(said):
                kind = ITEMS
        wants_list = wants_list or bool(words.list_orders.search(said))
        recent = recent or bool(words.recent.search(said))
        current = current or bool(words.current.search(said))
        singular = singular or bool(words.singular.search(said))
        if statuses is None:
            statuses = next((s for pattern, s in words.statuses if pattern.search(said)), None)
        if position is None:
            position = _position(words, said)
    return OrderQuestion(kind, wants_list, statuses, position, recent, current, singular)


def _position(words: OrderWords, said: str) -> int | None:
    match = words.ordinals.search(said)
    if match:
        return words.ordinal_values.get(match.group(1).lower())
    match = words.ordinal_number.search(said)
    if match:
        written = next(g for g in match.groups() if g)
        return position_of(words, written)
    return None


@dataclass(frozen=True)
class Pick:
    """The orders a message points at. ``orders`` empty: it points at none of them;
    ``by``: what narrowed them (``id``, ``status``, ``items``, ``position``, ``recent``)."""

    orders: list[Order]
    by: frozenset[str]


def pick(
    question: OrderQuestion, text: str, listed: list[Order], orders: list[Order]
) -> Pick | None:
    """The orders among the customer's own that ``text`` points at; None: no reference.

    ``orders``: all the customer's orders, in :func:`chronological` order. ``listed``:
    those just shown to them (a subset, in the order shown). A position counts in the
    list shown (in all the orders when none was); a status or item is looked for in the
    list first, then in all the orders; "most recent" is the newest of them all.
    """
    by_id = written_ids(text, orders)
    if by_id:
        return Pick(by_id, frozenset({"id"}))
    in_listed = bool(listed) and not question.recent
    pool = list(listed if in_listed else orders)
    by: set[str] = set()
    if question.statuses:
        pool = _first_nonempty(
            [o for o in pool if o.status in question.statuses],
            [o for o in orders if o.status in question.statuses],
        )
        by.add("status")
    matched = item_matches(text, pool)
    if not matched and in_listed and not question.statuses:
        matched = item_matches(text, orders)
    if matched:
        pool = matched
        by.add("items")
    if question.position is not None:
        index = question.position - 1 if question.position > 0 else len(pool) + question.position
        pool = [pool[index]] if 0 <= index < len(pool) else []
        by.add("position")
    elif question.recent and pool:
        pool = [chronological(pool)[-1]]
        by.add("recent")
    if not by:
        return None
    return Pick(pool, frozenset(by))


def _first_nonempty(*candidates: list[Order]) -> list[Order]:
    return next((c for c in candidates if c), [])


def written_ids(text: str, orders: list[Order]) -> list[Order]:
    """The orders among ``orders`` whose id is written in ``text`` (any id format)."""
    keys = {normalize_order_id(tok) for tok in _ID_TOKEN.findall(text)}
    return [o for o in orders if normalize_order_id(o.order_id) in keys]


def item_matches(text: str, orders: list[Order]) -> list[Order]:
    """The orders whose items the message names best ("the vacuum order", "the blue one").

    A title word counts twice, an option value once; generic words ("the", "order", "one")
    never count. Several orders may tie: the reference is then ambiguous.
    """
    tokens = word_tokens(text)
    said = set(tokens) | joined_ngrams(tokens)
    cjk = "".join(_CJK.findall(simplified(text)))
    best: list[Order] = []
    top = 0
    for order in orders:
        score = _item_score(order, said, cjk)
        if score > top:
            best, top = [order], score
        elif score and score == top:
            best.append(order)
    return best


def _item_score(order: Order, said: set[str], cjk: str) -> int:
    titles: set[str] = set()
    options: set[str] = set()
    for item in order.items:
        words = word_tokens(item.title)
        whole = "".join(words)
        if len(whole) >= 2 and whole in said and whole not in _FILLER:
            titles.add(whole)
        titles |= {w for w in words if len(w) >= 3 and w not in _FILLER and w in said}
        for run in _CJK.findall(simplified(item.title)):
            grams = {run} if len(run) <= 2 else {run[i : i + 2] for i in range(len(run) - 1)}
            titles |= {g for g in grams if g in cjk and g not in _FILLER}
        for value in item.options.values():
            if str(value).strip().lower() in _BARE_VALUES:
                continue
            words = word_tokens(str(value))
            options |= {w for w in words if len(w) >= 3 and w not in _FILLER and w in said}
    return 2 * len(titles) + len(options - titles)


def placed_at(order: Order) -> datetime | None:
    """When the order was placed, from ``created_at`` (ISO 8601 or a Unix time), else None."""
    raw = order.created_at
    when = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        when = _from_epoch(float(raw))
    elif isinstance(raw, str) and raw.strip():
        value = raw.strip()
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            when = _from_epoch(float(value)) if re.fullmatch(r"\d{9,13}", value) else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _from_epoch(seconds: float) -> datetime | None:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def chronological(orders: list[Order]) -> list[Order]:
    """Oldest first by the data's dates when every order has one, else in file order."""
    dates = [placed_at(o) for o in orders]
    if any(d is None for d in dates):
        return list(orders)
    order_of = {id(o): d for o, d in zip(orders, dates, strict=True)}
    return sorted(orders, key=lambda o: order_of[id(o)])


def about_orders(text: str, slots: dict[str, Any], order_book: Any) -> bool:
    """Whether a verified customer's message is a question for ``action_order_status``.

    For the policy, which runs before any action: true when the customer is verified and
    the message writes one of their order ids, asks for the list, names a status, a
    position ("the second one") or the most recent order, names an item of one of their
    orders ("the vacuum order"), or, while an order is being discussed (``order_id``),
    asks about "it", its items or its tracking. Reads only the customer's own orders.
    """
    customer_id = slots.get("verified_customer_id")
    if not customer_id or order_book is None:
        return False
    orders = order_book.orders_of(customer_id)
    if not orders:
        return False
    question = read_question(text)
    if written_ids(text, orders) or question.wants_list or question.statuses:
        return True
    if question.position is not None or question.recent or item_matches(text, orders):
        return True
    current = slots.get("order_id")
    mine = isinstance(current, str) and bool(written_ids(current, orders))
    return mine and (question.current or question.kind != STATUS)


# Where one of their orders is, or what it holds: "where is my vacuum order", "status
# of my order", "what's in my last order"; "我的吸尘器订单到哪了". Not "can I change the
# address on my order?", a question about the rules.
_MY_ORDER = (
    re.compile(
        r"\b(?:where|when|status|track|tracking|what'?s in|what is in|shipped|arrived?|"
        r"delivered)\b.*\b(?:my|our)\s+(?:[\w-]+\s+){0,3}?orders?\b"
        r"|\b(?:my|our)\s+(?:[\w-]+\s+){0,3}?orders?\b.*\b(?:where|when|status|shipped|"
        r"arrived?|delivered|coming)\b",
        re.I,
    ),
    re.compile(
        r"我(?:的|买的|下的)[^，。？！,.?!]{0,8}订单.*(?:到哪|状态|发货|物流|快递|到了|什么时候)"
    ),
)


def asks_for_own_orders(text: str) -> bool:
    """The message asks about the customer's own orders: the list ("which orders do I
    have?"), the most recent one, or one of theirs by what it holds ("where is my
    vacuum order"). For a customer not yet verified: the order action asks who they
    are first."""
    question = read_question(text)
    return bool(question.wants_list or question.recent or any(p.search(text) for p in _MY_ORDER))


def resolve_order(text: str, slots: dict[str, Any], order_book: Any) -> str | None:
    """The one order of the verified customer's that ``text`` points at ("the first
    one" of the orders just listed, "the vacuum order", an id), or None: for the
    policy, which fills a form's order id from it. Reads only the customer's orders."""
    customer_id = slots.get("verified_customer_id")
    if not customer_id or order_book is None:
        return None
    orders = chronological(order_book.orders_of(customer_id))
    own = {o.order_id: o for o in orders}
    listed = [own[i] for i in slots.get("listed_orders") or [] if isinstance(i, str) and i in own]
    chosen = pick(read_question(text), text, listed, orders)
    return chosen.orders[0].order_id if chosen and len(chosen.orders) == 1 else None
