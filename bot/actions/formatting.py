"""How the actions write order facts for the customer: statuses, reasons, items, options,
payment methods and buttons, in the reply's language (the ``Texts`` of bot/messages/).
Amounts go through knowledge_base/money.py's ``format_money``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.messages.catalogue import Texts
from bot.storage.orders import RETURN_REQUESTED, Customer, Order, OrderError, OrderItem
from knowledge_base.money import format_money

# The order book's statuses and cancellation reasons, as the customer reads them.
STATUS_TEXTS = {
    "pending": "status_pending",
    "processed": "status_processed",
    "delivered": "status_delivered",
    "cancelled": "status_cancelled",
    RETURN_REQUESTED: "status_return_requested",
}
# How many item titles an order's one-line summary names.
SUMMARY_TITLES = 3
REASON_TEXTS = {
    "no longer needed": "reason_no_longer_needed",
    "ordered by mistake": "reason_ordered_by_mistake",
}


def titled_buttons(t: Texts, pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Buttons from (title key in bot/messages/, payload) pairs."""
    return [{"title": t(key), "payload": payload} for key, payload in pairs]


def status_text(t: Texts, status: str) -> str:
    """An order status in the reply's language (an unknown one as the data says it)."""
    return t(STATUS_TEXTS[status]) if status in STATUS_TEXTS else status


def statuses_text(t: Texts, statuses: Iterable[str]) -> str:
    """ "pending or processed": several statuses, in the order book's order of statuses."""
    rank = {status: n for n, status in enumerate(STATUS_TEXTS)}
    ordered = sorted(set(statuses), key=lambda s: (rank.get(s, len(rank)), s))
    return t("list_or").join(status_text(t, s) for s in ordered)


def date_text(t: Texts, when: datetime) -> str:
    """The day an order was placed, as the reply's language writes dates."""
    return t("date_format", year=when.year, month=when.month, day=when.day)


def items_summary(t: Texts, order: Order) -> str:
    """ "3 items (Water Bottle, 2 × T-Shirt, …)": an order's items on one line."""
    count = sum(item.quantity for item in order.items)
    titles = [
        f"{item.quantity} × {item.title}" if item.quantity != 1 else item.title
        for item in order.items[:SUMMARY_TITLES]
    ]
    if len(order.items) > SUMMARY_TITLES or not titles:
        titles.append("…")
    key = "order_items_summary_one" if count == 1 else "order_items_summary_many"
    return t(key, count=count, titles=t("list_separator").join(titles))


def reason_text(t: Texts, reason: str) -> str:
    """A cancellation reason in the reply's language (free text as written)."""
    return t(REASON_TEXTS[reason]) if reason in REASON_TEXTS else reason


def describe_options(options: dict[str, str]) -> str:
    """ "blue / M / cotton"; bare yes/no/none values get their option name ("waterproof: yes")."""
    return " / ".join(
        f"{k}: {v}" if str(v).lower() in ("yes", "no", "none") else str(v)
        for k, v in options.items()
    )


def describe_item(item: OrderItem, currency: str) -> str:
    """ "2 × T-Shirt (blue / M): $50.88": quantity, title, options and the line's amount."""
    qty = f"{item.quantity} × " if item.quantity != 1 else ""
    opts = f" ({describe_options(item.options)})" if item.options else ""
    return f"{qty}{item.title}{opts}: {format_money(item.price * item.quantity, currency)}"


def is_gift_card(method_id: str | None, customer: Customer) -> bool:
    """The payment method is one of the customer's gift cards."""
    if not method_id:
        return False
    info = customer.payment_methods.get(method_id) or {}
    return info.get("source") == "gift_card" or method_id.startswith("gift_card")


def describe_payment(method_id: str | None, customer: Customer, t: Texts) -> str:
    """ "gift card", "Mastercard ending 9212", "PayPal account" or "original payment method"."""
    if not method_id:
        return t("payment_original")
    info = customer.payment_methods.get(method_id) or {}
    source = str(info.get("source") or method_id.rsplit("_", 1)[0])
    if source == "gift_card":
        return t("payment_gift_card")
    if source == "credit_card":
        brand = str(info.get("brand") or t("payment_credit_card"))
        brand = brand.capitalize() if brand.islower() else brand
        last_four = info.get("last_four")
        return t("payment_card_ending", brand=brand, last_four=last_four) if last_four else brand
    if source == "paypal":
        return t("payment_paypal")
    return t("payment_original")


def refusal_text(t: Texts, exc: OrderError, order_id: str) -> str:
    """Why the order book refused a change: its own (English) words, else the catalogue's."""
    return str(exc) if t.language == "en" else t("order_change_refused", order_id=order_id)
