"""Business actions: rasa-sdk ``Action`` classes for verification, orders, returns, products.

Each action reads the dialogue state (slots, see docs/architecture.md) and the latest parsed
message from the rasa-sdk ``Tracker`` and answers through the ``CollectingDispatcher``, so
the same classes run in-process (:mod:`bot.action_runner`) or behind any rasa-sdk action
server. The store policy (``wiki.md``) is followed here:

* orders are shown or changed only after the customer is verified (email, or name + zip);
* a verified customer sees only their own orders; anyone else's order is answered exactly
  like an order that does not exist, so nothing about it leaks;
* cancelling and returning list the details and need an explicit yes (slot ``confirmed``).

An action that cannot finish (not verified yet, a question asked) sets ``pending_action`` to
its own name so the dialogue can run it again once the answer arrives. All customer-facing
wording is in the constants just below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.orders import CANCEL_REASONS, Customer, Order, OrderBook, OrderError, OrderItem

# --------------------------------------------------------------------------- texts

ASK_IDENTITY = (
    "Before I can look at your orders, I need to verify your identity. "
    "Please tell me the email address on your account, or your full name and zip code."
)
ASK_ZIP = "Thanks. What's the zip code on your account?"
ASK_NAME = "Thanks. And your full name (first and last) as it appears on your account?"
CUSTOMER_NOT_FOUND = (
    "I couldn't find an account with those details. Please check them and try again: "
    "the email address on your account, or your full name and zip code."
)
DETAILS_CONFLICT = (
    "Those details don't all belong to one customer account, so I can't verify you with "
    "them. Please give the details of one account only: its email address, or the full "
    "name and zip code on it."
)
VERIFICATION_LOCKED = (
    "I can't verify your identity in this chat after several attempts with details that "
    "didn't match our records."
)
VERIFIED = "Thanks, {first_name}, you're verified."
ALREADY_VERIFIED = "You're already verified, {first_name}. How can I help with your orders?"
ONE_CUSTOMER_ONLY = (
    "I can only help with one customer account per conversation, so I can't act on "
    "another account here."
)
ORDERS_UNAVAILABLE = (
    "I can't look up orders in this chat. Please contact our support team about your order."
)
ORDER_NOT_FOUND = (
    "I couldn't find order {order_id} on your account. Please check the order number; "
    "I can also list your orders if you like."
)
NO_ORDERS = "I don't see any orders on your account."
ORDER_LIST_HEADER = "Here are your orders:"
ORDER_LIST_MORE = "…and {count} more."
ORDER_LIST_FOOTER = "Tell me an order number for its details."
ORDER_STATUS = "Order {order_id} is {status}."
ORDER_ITEMS_HEADER = "Items:"
ORDER_TOTAL = "Total: {total}"
ORDER_TRACKING = "Tracking number: {tracking}"
ORDER_RETURN_INFO = "Return requested for: {items}."
ORDER_CANCEL_INFO = "Cancelled ({reason})."

ASK_ORDER_TO_CANCEL = "Which order would you like to cancel? Your pending orders: {orders}."
NO_PENDING_ORDERS = (
    "You have no pending orders, and only pending orders can be cancelled. "
    "I can show your orders if you like."
)
ASK_CANCEL_REASON = "Why would you like to cancel order {order_id}: is it no longer needed, or was it ordered by mistake?"
CANCEL_NOT_PENDING = (
    "Order {order_id} is {status}, so it can't be cancelled: only pending orders can be cancelled."
)
CANCEL_NOT_PENDING_DELIVERED = " Delivered orders can be returned instead, if you like."
CANCEL_CONFIRM = "Please confirm: cancel order {order_id}?"
CANCEL_REASON_LINE = "Reason: {reason}"
REFUND_GIFT_CARD_PLAN = "Refund: {amount} back to your {method}, immediately."
REFUND_OTHER_PLAN = "Refund: {amount} back to your {method}, within 5 to 7 business days."
CANCEL_DONE = "Done: order {order_id} is cancelled."
REFUND_GIFT_CARD_DONE = "The refund of {amount} goes back to your {method} immediately."
REFUND_OTHER_DONE = "The refund of {amount} goes back to your {method} within 5 to 7 business days."
CHANGE_ABORTED = "Okay, I haven't changed anything. Order {order_id} stays as it is."
ASK_YES = "Shall I go ahead?"

RETURN_NOT_DELIVERED = (
    "Order {order_id} is {status}, so it can't be returned: only delivered orders can be returned."
)
RETURN_ORDER_ITEMS = "Order {order_id} was delivered with these items:"
RETURN_ITEMS_NOT_FOUND = (
    "I couldn't match that to an item in order {order_id}. It contains: {items}. "
    'You can also say "all".'
)
RETURN_REASON_MISSING = "Could you tell me briefly why you're returning the items?"
RETURN_MISSING_SLOTS = "To request a return I still need {missing}."
RETURN_CONFIRM = "Please confirm this return of order {order_id}:"
RETURN_REASON_LINE = "Reason: {reason}"
RETURN_REFUND_LINE = "Refund: {amount} to your {method}."
RETURN_DONE = (
    "Done: a return is requested for order {order_id}. You'll receive an email with "
    "instructions on how to return the items. The refund of {amount} goes to your {method}."
)

PRODUCT_NOT_FOUND = "Sorry, I couldn't find a product matching that in our catalog."
PRODUCT_SUMMARY = "{title}: {count} options, {price_range}."
PRODUCT_NO_VARIANT = "{title} doesn't come in {wanted}. Available {option}: {values}."
PRODUCT_NO_VARIANT_PLAIN = "{title} doesn't come in {wanted}."
PRODUCT_MATCHING = "{count} in {wanted}:"
PRODUCT_MORE = "…and {count} more options."
IN_STOCK = "in stock"
OUT_OF_STOCK = "out of stock"

DEFAULT_HANDOFF_TEXT = (
    "I'm handing you over to a member of our team, who will get back to you as soon as possible."
)
# No agent inbox (no admin token): nobody can answer in this chat, so say how to reach
# the store instead of promising a reply here. {contact}: the store's contact text.
NO_INBOX_HANDOFF = (
    "There's no one from our team in this chat, so I can't hand you over here. {contact}"
)
DEFAULT_CONTACT_TEXT = "Please contact us directly through the contact details on our website."

# The questions the dialogue asks for each slot of ``return_form`` (the form's utter_ask_*).
FORM_QUESTIONS = {
    "order_id": "Which order would you like to return items from?",
    "return_items": 'Which items would you like to return? You can also say "all".',
    "return_reason": "What's the reason for the return?",
}

# Each question's own payloads, so a button can only ever answer the question it came with
# (bot/dialogue.py CONFIRM_PAYLOADS); typed "yes" / "no" still answer the question asked.
CANCEL_CONFIRM_BUTTONS = [
    {"title": "Yes, cancel it", "payload": "/confirm_cancel"},
    {"title": "No, keep it", "payload": "/deny_cancel"},
]
RETURN_CONFIRM_BUTTONS = [
    {"title": "Yes, request the return", "payload": "/confirm_return"},
    {"title": "No", "payload": "/deny_return"},
]
CANCEL_REASON_BUTTONS = [
    {"title": "No longer needed", "payload": "no longer needed"},
    {"title": "Ordered by mistake", "payload": "ordered by mistake"},
]

# --------------------------------------------------------------------------- limits

MAX_ORDERS_LISTED = 10
MAX_PRODUCTS = 3
MAX_VARIANTS_IN_TEXT = 5
MAX_VARIANTS_IN_CARD = 20

# Entity names that are not product options (docs/architecture.md, bot/entities.py).
NON_OPTION_ENTITIES = {"email", "person_name", "zip", "order_id", "product"}
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$"}

# --------------------------------------------------------------------------- helpers


def format_money(amount: float | None, currency: str = "USD") -> str:
    """``$1,234.50`` (two decimals; unknown currencies as ``CHF 12.00``)."""
    if amount is None:
        return "price on request"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    value = f"{amount:,.2f}"
    return f"{symbol}{value}" if symbol else f"{currency.upper()} {value}"


def _latest_entities(tracker: Tracker) -> list[dict[str, Any]]:
    return list((tracker.latest_message or {}).get("entities") or [])


def _entity(tracker: Tracker, name: str) -> str | None:
    """First value of entity ``name`` in the latest message (roles/groups ignored)."""
    for ent in _latest_entities(tracker):
        if ent.get("entity") == name and ent.get("value") not in (None, ""):
            return str(ent["value"])
    return None


def _text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def _option_key(name: str) -> str:
    """Entity names may use underscores where catalog option names have spaces."""
    return name.replace("_", " ").strip().lower()


def _tokens(text: str) -> list[str]:
    """Lower-case word tokens, crude singular ("bottles" -> "bottle") so plurals match."""
    out = []
    for tok in re.findall(r"[a-z0-9]+", text.lower()):
        if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return out


def _joined_ngrams(tokens: list[str], max_n: int = 3) -> set[str]:
    """Adjacent tokens glued together, so "tshirt" / "t shirt" / "t-shirt" all match."""
    return {
        "".join(tokens[i : i + n]) for n in range(1, max_n + 1) for i in range(len(tokens) - n + 1)
    }


def _contains_phrase(tokens: list[str], phrase: str) -> bool:
    want = _tokens(phrase)
    if not want:
        return False
    return any(tokens[i : i + len(want)] == want for i in range(len(tokens) - len(want) + 1))


def _describe_options(options: dict[str, str]) -> str:
    """ "blue / M / cotton"; bare yes/no/none values get their option name ("waterproof: yes")."""
    return " / ".join(
        f"{k}: {v}" if str(v).lower() in ("yes", "no", "none") else str(v)
        for k, v in options.items()
    )


def _describe_item(item: OrderItem, currency: str) -> str:
    qty = f"{item.quantity} × " if item.quantity != 1 else ""
    opts = f" ({_describe_options(item.options)})" if item.options else ""
    return f"{qty}{item.title}{opts}: {format_money(item.price * item.quantity, currency)}"


def _is_gift_card(method_id: str | None, customer: Customer) -> bool:
    if not method_id:
        return False
    info = customer.payment_methods.get(method_id) or {}
    return info.get("source") == "gift_card" or method_id.startswith("gift_card")


def _describe_payment(method_id: str | None, customer: Customer) -> str:
    """ "gift card", "Mastercard ending 9212", "PayPal account" or "original payment method"."""
    if not method_id:
        return "original payment method"
    info = customer.payment_methods.get(method_id) or {}
    source = str(info.get("source") or method_id.rsplit("_", 1)[0])
    if source == "gift_card":
        return "gift card"
    if source == "credit_card":
        brand = str(info.get("brand") or "credit card")
        brand = brand.capitalize() if brand.islower() else brand
        last_four = info.get("last_four")
        return f"{brand} ending {last_four}" if last_four else brand
    if source == "paypal":
        return "PayPal account"
    return "original payment method"


def _paid_amount(order: Order) -> float:
    """What the customer paid (payments minus refunds), falling back to the item total."""
    paid = 0.0
    seen = False
    for entry in order.payment_history:
        amount = entry.get("amount")
        if not isinstance(amount, int | float):
            continue
        seen = True
        paid += -amount if entry.get("transaction_type") == "refund" else amount
    return round(paid, 2) if seen else order.total


def _cancel_reason_from_text(text: str) -> str | None:
    """Map free text to one of the policy's two cancellation reasons."""
    low = text.lower()
    if re.search(r"no longer need|don'?t need|do not need|not needed|changed my mind|no need", low):
        return "no longer needed"
    if re.search(r"mistake|by accident|accidental|wrong(ly)? order|didn'?t mean", low):
        return "ordered by mistake"
    return None


def _reset(*names: str) -> list[EventType]:
    return [SlotSet(name, None) for name in names]


# --------------------------------------------------------------------------- verification


def _identify(
    order_book: OrderBook, tracker: Tracker
) -> tuple[Customer | None, list[EventType], str | None]:
    """Verify the customer from this message's entities and the slots accumulated so far.

    Returns (customer or None, slot events, text to say when not verified). Identity details
    are remembered in ``customer_email`` / ``customer_name`` / ``customer_zip`` so name and
    zip may arrive in different turns; after a failed lookup they are cleared so a typo does
    not stick. Every detail given must belong to the one customer verified: an email with
    another customer's name or zip verifies no one. A failed lookup sets
    ``verification_failure`` (``conflict`` / ``not_found``) so the dialogue can count it.
    While ``verification_locked`` is set (too many failures) nothing is checked at all.
    """
    if tracker.get_slot("verification_locked"):
        return None, [], VERIFICATION_LOCKED
    events: list[EventType] = []
    values = {}
    for entity, slot in (
        ("email", "customer_email"),
        ("person_name", "customer_name"),
        ("zip", "customer_zip"),
    ):
        value = _entity(tracker, entity)
        if value is not None and value != tracker.get_slot(slot):
            events.append(SlotSet(slot, value))
        values[slot] = value if value is not None else tracker.get_slot(slot)
    email, name, zip_code = (
        values["customer_email"],
        values["customer_name"],
        values["customer_zip"],
    )
    if not email and not (name and zip_code):
        if name:
            return None, events, ASK_ZIP
        if zip_code:
            return None, events, ASK_NAME
        return None, events, ASK_IDENTITY
    customer, why = order_book.match_customer(email=email, name=name, zip=zip_code)
    if customer is None:
        failed = _reset("customer_email", "customer_name", "customer_zip")
        failed.append(SlotSet("verification_failure", why))
        return None, failed, DETAILS_CONFLICT if why == "conflict" else CUSTOMER_NOT_FOUND
    events.append(SlotSet("verified_customer_id", customer.customer_id))
    events.append(SlotSet("verification_failure", None))
    return customer, events, None


class _OrderAction(Action):
    """Shared plumbing of the order actions: verification and own-order lookup."""

    def __init__(self, order_book: OrderBook | None, currency: str = "USD") -> None:
        self.order_book = order_book  # None: the store has no order data
        self.currency = currency

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Say so plainly when the store has no order backend; otherwise :meth:`handle`."""
        if self.order_book is None:
            dispatcher.utter_message(text=ORDERS_UNAVAILABLE)
            return _reset("pending_action", "confirmed")
        return await self.handle(dispatcher, tracker, domain)

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The action proper (the order book is there)."""
        raise NotImplementedError

    def money(self, amount: float | None) -> str:
        return format_money(amount, self.currency)

    def verified_customer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> tuple[Customer | None, list[EventType]]:
        """The verified customer, verifying now if this message carries identity details.

        When not verified: asks for the details, sets ``pending_action`` to this action and
        keeps an order id from the message in ``order_id``, revealing nothing about it.
        """
        customer_id = tracker.get_slot("verified_customer_id")
        if customer_id:
            customer = self.order_book.get_customer(customer_id)
            if customer is not None:
                return customer, []
        customer, events, problem = _identify(self.order_book, tracker)
        if customer is not None:
            dispatcher.utter_message(text=VERIFIED.format(first_name=customer.first_name))
            return customer, events
        dispatcher.utter_message(text=problem)
        events.append(SlotSet("pending_action", self.name()))
        order_ref = _entity(tracker, "order_id")
        if order_ref:
            events.append(SlotSet("order_id", order_ref))
        return None, events

    def own_order(self, customer: Customer, order_ref: str) -> Order | None:
        """The order if it exists and belongs to this customer; None in every other case."""
        order = self.order_book.get(order_ref)
        if order is None or order.customer_id != customer.customer_id:
            return None
        return order

    def order_ref(self, tracker: Tracker) -> str | None:
        """Order id from this message, else the ``order_id`` slot when this action is being
        resumed (so a stale id from an earlier topic is not silently reused)."""
        ref = _entity(tracker, "order_id")
        if ref:
            return ref
        if tracker.get_slot("pending_action") == self.name():
            return tracker.get_slot("order_id")
        return None

    def confirmation(self, tracker: Tracker) -> bool | None:
        """The customer's yes (True) / no (False) to this action's question, else None.

        Only counts while this action is the ``pending_action``: a stale ``confirmed`` left
        over from another flow must never trigger a change.
        """
        if tracker.get_slot("pending_action") != self.name():
            return None
        confirmed = tracker.get_slot("confirmed")
        return confirmed if isinstance(confirmed, bool) else None

    def order_lines(self, order: Order) -> list[str]:
        return [f"- {_describe_item(item, self.currency)}" for item in order.items]


# --------------------------------------------------------------------------- actions


class ActionVerifyCustomer(_OrderAction):
    """Verify the customer by email, or by full name + zip code."""

    def name(self) -> str:
        return "action_verify_customer"

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        verified_id = tracker.get_slot("verified_customer_id")
        if verified_id:
            current = self.order_book.get_customer(verified_id)
            email, name, zip_code = (_entity(tracker, e) for e in ("email", "person_name", "zip"))
            if current is not None:
                if email or (name and zip_code):
                    other = self.order_book.find_customer(email=email, name=name, zip=zip_code)
                    if other is None or other.customer_id != current.customer_id:
                        # Policy: one customer per conversation.
                        dispatcher.utter_message(text=ONE_CUSTOMER_ONLY)
                        return []
                dispatcher.utter_message(
                    text=ALREADY_VERIFIED.format(first_name=current.first_name)
                )
                return []
        customer, events, problem = _identify(self.order_book, tracker)
        if customer is None:
            dispatcher.utter_message(text=problem)
        else:
            # pending_action is left as it is: the dialogue resumes that action next.
            dispatcher.utter_message(text=VERIFIED.format(first_name=customer.first_name))
        return events


class ActionOrderStatus(_OrderAction):
    """Report one of the customer's orders (status, items, tracking), or list them all."""

    def name(self) -> str:
        return "action_order_status"

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        customer, events = self.verified_customer(dispatcher, tracker)
        if customer is None:
            return events
        events += _reset("pending_action")
        ref = self.order_ref(tracker)
        if not ref:
            self._list_orders(dispatcher, customer)
            return events
        order = self.own_order(customer, ref)
        if order is None:
            dispatcher.utter_message(text=ORDER_NOT_FOUND.format(order_id=ref))
            return events + _reset("order_id")
        dispatcher.utter_message(text=self._describe(order))
        return events + [SlotSet("order_id", order.order_id)]

    def _describe(self, order: Order) -> str:
        lines = [ORDER_STATUS.format(order_id=order.order_id, status=order.status)]
        lines.append(ORDER_ITEMS_HEADER)
        lines += self.order_lines(order)
        lines.append(ORDER_TOTAL.format(total=self.money(order.total)))
        if order.tracking:
            lines.append(ORDER_TRACKING.format(tracking=", ".join(order.tracking)))
        if order.cancel_reason:
            lines.append(ORDER_CANCEL_INFO.format(reason=order.cancel_reason))
        if order.return_item_ids:
            titles = ", ".join(i.title for i in order.items_by_id(order.return_item_ids))
            lines.append(ORDER_RETURN_INFO.format(items=titles))
        return "\n".join(lines)

    def _list_orders(self, dispatcher: CollectingDispatcher, customer: Customer) -> None:
        orders = self.order_book.orders_of(customer.customer_id)
        if not orders:
            dispatcher.utter_message(text=NO_ORDERS)
            return
        lines = [ORDER_LIST_HEADER]
        for order in orders[:MAX_ORDERS_LISTED]:
            count = sum(item.quantity for item in order.items)
            noun = "item" if count == 1 else "items"
            lines.append(
                f"- {order.order_id}: {order.status}, {count} {noun}, {self.money(order.total)}"
            )
        if len(orders) > MAX_ORDERS_LISTED:
            lines.append(ORDER_LIST_MORE.format(count=len(orders) - MAX_ORDERS_LISTED))
        lines.append(ORDER_LIST_FOOTER)
        dispatcher.utter_message(text="\n".join(lines))


class ActionCancelOrder(_OrderAction):
    """Cancel a pending order: reason, then details and an explicit yes, then cancel."""

    def name(self) -> str:
        return "action_cancel_order"

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        customer, events = self.verified_customer(dispatcher, tracker)
        if customer is None:
            return events
        waiting = [SlotSet("pending_action", self.name())]
        done = _reset("pending_action", "confirmed", "cancel_reason")

        ref = self.order_ref(tracker)
        if not ref:
            pending = [
                o for o in self.order_book.orders_of(customer.customer_id) if o.status == "pending"
            ]
            buttons = [
                {"title": o.order_id, "payload": f"cancel order {o.order_id}"}
                for o in pending[:MAX_ORDERS_LISTED]
            ]
            if not pending:
                dispatcher.utter_message(text=NO_PENDING_ORDERS)
                return events + done
            listed = ", ".join(o.order_id for o in pending[:MAX_ORDERS_LISTED])
            dispatcher.utter_message(
                text=ASK_ORDER_TO_CANCEL.format(orders=listed), buttons=buttons
            )
            return events + waiting
        order = self.own_order(customer, ref)
        if order is None:
            dispatcher.utter_message(text=ORDER_NOT_FOUND.format(order_id=ref))
            return events + done + _reset("order_id")
        events.append(SlotSet("order_id", order.order_id))
        if order.status != "pending":
            text = CANCEL_NOT_PENDING.format(order_id=order.order_id, status=order.status)
            if order.status == "delivered":
                text += CANCEL_NOT_PENDING_DELIVERED
            dispatcher.utter_message(text=text)
            return events + done

        reason = tracker.get_slot("cancel_reason")
        if reason not in CANCEL_REASONS:
            reason = _cancel_reason_from_text(_text(tracker))
        if reason is None:
            dispatcher.utter_message(
                text=ASK_CANCEL_REASON.format(order_id=order.order_id),
                buttons=CANCEL_REASON_BUTTONS,
            )
            return events + waiting
        events.append(SlotSet("cancel_reason", reason))

        confirmed = self.confirmation(tracker)
        # A "yes" only counts for the order it was asked about.
        asked_about = tracker.get_slot("order_id")
        if asked_about and self.order_book.get(asked_about) != order:
            confirmed = None
        if confirmed is False:
            dispatcher.utter_message(text=CHANGE_ABORTED.format(order_id=order.order_id))
            return events + done
        method_id = order.payment_method_id
        amount = self.money(_paid_amount(order))
        method = _describe_payment(method_id, customer)
        gift_card = _is_gift_card(method_id, customer)
        if confirmed is not True:
            lines = [CANCEL_CONFIRM.format(order_id=order.order_id), *self.order_lines(order)]
            lines.append(ORDER_TOTAL.format(total=self.money(order.total)))
            lines.append(CANCEL_REASON_LINE.format(reason=reason))
            plan = REFUND_GIFT_CARD_PLAN if gift_card else REFUND_OTHER_PLAN
            lines.append(plan.format(amount=amount, method=method))
            lines.append(ASK_YES)
            dispatcher.utter_message(text="\n".join(lines), buttons=CANCEL_CONFIRM_BUTTONS)
            return events + waiting + _reset("confirmed")

        try:
            self.order_book.cancel(order.order_id, reason)
        except OrderError as exc:
            dispatcher.utter_message(text=str(exc))
            return events + done
        refund = REFUND_GIFT_CARD_DONE if gift_card else REFUND_OTHER_DONE
        dispatcher.utter_message(
            text=CANCEL_DONE.format(order_id=order.order_id)
            + " "
            + refund.format(amount=amount, method=method)
        )
        return events + done


class ValidateReturnForm(FormValidationAction):
    """Validates the slots of ``return_form``: ``order_id``, ``return_items``, ``return_reason``.

    Besides validating slot candidates (trailing ``SlotSet`` events, as Rasa's form sends
    them), it extracts candidates from the latest message itself: an ``order_id`` entity,
    and the message text for ``return_items`` / ``return_reason`` when that slot is the
    ``requested_slot`` (or, for items, when the message names a product).
    """

    def __init__(self, order_book: OrderBook | None, currency: str = "USD") -> None:
        self.order_book = order_book
        self.currency = currency

    def name(self) -> str:
        return "validate_return_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if self.order_book is None:
            dispatcher.utter_message(text=ORDERS_UNAVAILABLE)
            return [SlotSet("order_id", None), SlotSet("requested_slot", None)]
        return await super().run(dispatcher, tracker, domain)

    # -- extraction

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        ref = _entity(tracker, "order_id")
        return {"order_id": ref} if ref else {}

    async def extract_return_items(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker).strip()
        if not text:
            return {}
        if tracker.get_slot("requested_slot") == "return_items" or _entity(tracker, "product"):
            return {"return_items": text}
        return {}

    async def extract_return_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker).strip()
        if text and tracker.get_slot("requested_slot") == "return_reason":
            return {"return_reason": text}
        return {}

    # -- validation

    def _customer(self, tracker: Tracker) -> Customer | None:
        customer_id = tracker.get_slot("verified_customer_id")
        return self.order_book.get_customer(customer_id) if customer_id else None

    def _own_order(self, tracker: Tracker, ref: Any) -> Order | None:
        customer = self._customer(tracker)
        if customer is None or not ref:
            return None
        order = self.order_book.get(str(ref))
        if order is None or order.customer_id != customer.customer_id:
            return None
        return order

    async def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """The order must be the verified customer's own and delivered."""
        slots: dict[str, Any] = {}
        if self._customer(tracker) is None:
            customer, events, problem = _identify(self.order_book, tracker)
            slots.update({e["name"]: e["value"] for e in events})
            if customer is None:
                dispatcher.utter_message(text=problem)
                # Nothing about the order is checked or revealed yet; the form is resumed
                # (and asks for the order again) once the customer is verified.
                slots["pending_action"] = "return_form"
                return {**slots, "order_id": None}
            dispatcher.utter_message(text=VERIFIED.format(first_name=customer.first_name))
            tracker.slots.update(slots)  # so _own_order below sees the verification
        order = self._own_order(tracker, slot_value)
        if order is None:
            dispatcher.utter_message(text=ORDER_NOT_FOUND.format(order_id=slot_value))
            return {**slots, "order_id": None}
        if order.status != "delivered":
            dispatcher.utter_message(
                text=RETURN_NOT_DELIVERED.format(order_id=order.order_id, status=order.status)
            )
            return {**slots, "order_id": None}
        newly_given = (
            _entity(tracker, "order_id") is not None
            or tracker.get_slot("requested_slot") == "order_id"
        )
        if newly_given and tracker.get_slot("return_items") is None:
            lines = [RETURN_ORDER_ITEMS.format(order_id=order.order_id)]
            lines += [f"- {_describe_item(item, self.currency)}" for item in order.items]
            dispatcher.utter_message(text="\n".join(lines))
        return {**slots, "order_id": order.order_id}

    async def validate_return_items(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Item ids, product titles (narrowed by option values such as a colour) or "all"."""
        order = self._own_order(tracker, tracker.get_slot("order_id"))
        if order is None or order.status != "delivered":
            return {"return_items": None}
        item_ids = match_order_items(order, slot_value, _latest_entities(tracker))
        if not item_ids:
            items = "; ".join(_describe_item(item, self.currency) for item in order.items)
            dispatcher.utter_message(
                text=RETURN_ITEMS_NOT_FOUND.format(order_id=order.order_id, items=items)
            )
            return {"return_items": None}
        return {"return_items": item_ids}

    async def validate_return_reason(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Any short free text will do; the merchant reads it."""
        reason = " ".join(str(slot_value or "").split())[:500]
        if len(reason) < 2:
            dispatcher.utter_message(text=RETURN_REASON_MISSING)
            return {"return_reason": None}
        return {"return_reason": reason}


def match_order_items(
    order: Order, value: Any, entities: Iterable[dict[str, Any]] = ()
) -> list[str]:
    """The item ids of ``order`` that ``value`` refers to.

    ``value`` is a list of item ids / titles, or the customer's text: "all", item ids,
    product titles ("the water bottle"), optionally narrowed by option values mentioned
    ("the blue t-shirt") when the order holds several lines of one product.
    """
    if isinstance(value, list | tuple):
        ids: list[str] = []
        for part in value:
            for item_id in match_order_items(order, str(part)):
                if item_id not in ids:
                    ids.append(item_id)
        return ids
    text = str(value or "")
    tokens = _tokens(text)
    if {"all", "everything", "both", "entire", "whole"} & set(tokens):
        return [item.item_id for item in order.items]
    by_id = [item.item_id for item in order.items if item.item_id in set(re.findall(r"\w+", text))]
    if by_id:
        return by_id
    grams = _joined_ngrams(tokens)
    entity_titles = {
        str(e.get("value", "")).lower() for e in entities if e.get("entity") == "product"
    }
    entity_products = {str(e.get("product_id")) for e in entities if e.get("product_id")}
    picked: list[OrderItem] = []
    for item in order.items:
        title_tokens = _tokens(item.title)
        if (
            item.product_id in entity_products
            or item.title.lower() in entity_titles
            or (title_tokens and all(t in tokens for t in title_tokens))
            or "".join(title_tokens) in grams
        ):
            picked.append(item)
    # Several lines of the same product: keep those whose options the text mentions.
    narrowed = [
        item
        for item in picked
        if any(_contains_phrase(tokens, str(v)) for v in item.options.values())
    ]
    if narrowed and len(narrowed) < len(picked):
        picked = narrowed
    return [item.item_id for item in picked]


class ActionSubmitReturn(_OrderAction):
    """Request the return once the form is complete: details and a yes, then submit."""

    def name(self) -> str:
        return "action_submit_return"

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        customer, events = self.verified_customer(dispatcher, tracker)
        if customer is None:
            return events
        done = _reset(
            "pending_action", "confirmed", "return_items", "return_reason", "requested_slot"
        )
        order_ref = tracker.get_slot("order_id")
        item_ids = tracker.get_slot("return_items") or []
        reason = tracker.get_slot("return_reason")
        missing = [
            label
            for label, value in (
                ("the order number", order_ref),
                ("the items to return", item_ids),
                ("the reason", reason),
            )
            if not value
        ]
        if missing:
            dispatcher.utter_message(text=RETURN_MISSING_SLOTS.format(missing=", ".join(missing)))
            return events
        # Slots were validated by the form, but the order may have changed since: re-check.
        order = self.own_order(customer, order_ref)
        if order is None:
            dispatcher.utter_message(text=ORDER_NOT_FOUND.format(order_id=order_ref))
            return events + done + _reset("order_id")
        if order.status != "delivered":
            dispatcher.utter_message(
                text=RETURN_NOT_DELIVERED.format(order_id=order.order_id, status=order.status)
            )
            return events + done
        items = order.items_by_id(list(item_ids))
        refund_id = self._refund_method(customer, order, tracker)
        amount = self.money(sum(item.price * item.quantity for item in items))
        method = _describe_payment(refund_id, customer)

        confirmed = self.confirmation(tracker)
        if confirmed is False:
            dispatcher.utter_message(text=CHANGE_ABORTED.format(order_id=order.order_id))
            return events + done
        if confirmed is not True:
            lines = [RETURN_CONFIRM.format(order_id=order.order_id)]
            lines += [f"- {_describe_item(item, self.currency)}" for item in items]
            lines.append(RETURN_REASON_LINE.format(reason=reason))
            lines.append(RETURN_REFUND_LINE.format(amount=amount, method=method))
            lines.append(ASK_YES)
            dispatcher.utter_message(text="\n".join(lines), buttons=RETURN_CONFIRM_BUTTONS)
            return events + [
                SlotSet("pending_action", self.name()),
                SlotSet("refund_method_id", refund_id),
                SlotSet("confirmed", None),
            ]
        try:
            self.order_book.request_return(order.order_id, list(item_ids), reason, refund_id)
        except OrderError as exc:
            dispatcher.utter_message(text=str(exc))
            return events + done
        dispatcher.utter_message(
            text=RETURN_DONE.format(order_id=order.order_id, amount=amount, method=method)
        )
        return events + done + _reset("refund_method_id")

    @staticmethod
    def _refund_method(customer: Customer, order: Order, tracker: Tracker) -> str | None:
        """Policy: the original payment method, or a gift card the customer already has."""
        original = order.payment_method_id
        gift_cards = [m for m in customer.payment_methods if _is_gift_card(m, customer)]
        chosen = tracker.get_slot("refund_method_id")
        if chosen == original or chosen in gift_cards:
            return chosen
        if "gift card" in _text(tracker).lower() and gift_cards:
            return gift_cards[0]
        return original


# --------------------------------------------------------------------------- products


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

    def __init__(self, catalog: list[Any], currency: str = "USD") -> None:
        self.catalog = list(catalog)
        self.currency = currency
        self._by_id = {str(p.id): p for p in self.catalog}

    def name(self) -> str:
        return "action_product_search"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = _text(tracker)
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
            dispatcher.utter_message(text=PRODUCT_NOT_FOUND)
            return [SlotSet("last_products", [])]

        paragraphs: list[str] = []
        cards: list[dict[str, Any]] = []
        for product in products[:MAX_PRODUCTS]:
            filters = self._filters_for(product, option_filters, text)
            variants = [v for v in product.variants if self._matches(v, filters)]
            if filters and not variants:
                paragraphs.append(self._no_variant_text(product, filters))
                continue
            paragraphs.append(self._product_text(product, variants, filters))
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
        for ent in _latest_entities(tracker):
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
        tokens = _tokens(_text(tracker))
        if not tokens:
            return []
        token_set = set(tokens)
        grams = _joined_ngrams(tokens)
        full, partial, category = [], [], []
        for product in self.catalog:
            title_tokens = _tokens(product.title)
            if title_tokens and (
                all(t in token_set for t in title_tokens) or "".join(title_tokens) in grams
            ):
                full.append(product)
            elif any(
                len(t) >= 4 and t not in _GENERIC_WORDS and t in token_set for t in title_tokens
            ):
                partial.append(product)
            elif getattr(product, "category", "") and set(_tokens(product.category)) & token_set:
                category.append(product)
        return full or partial or category

    @staticmethod
    def _option_entities(tracker: Tracker) -> dict[str, set[str]]:
        filters: dict[str, set[str]] = {}
        for ent in _latest_entities(tracker):
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
        tokens = _tokens(text)
        for variant in product.variants:
            for key, value in variant.options.items():
                val = str(value)
                if (
                    len(val) >= 2
                    and not val.isdigit()
                    and val.lower() not in _VAGUE_VALUES
                    and _contains_phrase(tokens, val)
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
        self, product: Any, variants: list[Any], filters: dict[str, set[str]] | None = None
    ) -> str:
        if not product.variants:
            stock = IN_STOCK if product.in_stock else OUT_OF_STOCK
            return f"{product.title}: {self.money(product.price)}, {stock}."
        prices = [p for p in (self._price(product, v) for v in product.variants) if p is not None]
        price_range = (
            self.money(min(prices))
            if prices and min(prices) == max(prices)
            else f"{self.money(min(prices))} to {self.money(max(prices))}"
            if prices
            else self.money(None)
        )
        lines = [
            PRODUCT_SUMMARY.format(
                title=product.title, count=len(product.variants), price_range=price_range
            )
        ]
        if filters:
            # The catalog's spelling ("XL"), not the lower-cased filter value.
            wanted = " / ".join(
                sorted({str(v.options[k]) for v in variants for k in filters if k in v.options})
            )
            lines.append(PRODUCT_MATCHING.format(count=len(variants), wanted=wanted))
        # Available variants first: they are what the customer can buy.
        ordered = sorted(variants, key=lambda v: not (v.available and product.in_stock))
        for variant in ordered[:MAX_VARIANTS_IN_TEXT]:
            stock = IN_STOCK if variant.available and product.in_stock else OUT_OF_STOCK
            lines.append(
                f"- {product.title} — {_describe_options(variant.options)}: "
                f"{self.money(self._price(product, variant))}, {stock}"
            )
        if len(variants) > MAX_VARIANTS_IN_TEXT:
            lines.append(PRODUCT_MORE.format(count=len(variants) - MAX_VARIANTS_IN_TEXT))
        return "\n".join(lines)

    def _no_variant_text(self, product: Any, filters: dict[str, set[str]]) -> str:
        wanted = " / ".join(sorted(v for vals in filters.values() for v in vals))
        if len(filters) == 1:
            option = next(iter(filters))
            values = sorted(
                {str(v.options.get(option)) for v in product.variants if option in v.options}
            )
            return PRODUCT_NO_VARIANT.format(
                title=product.title, wanted=wanted, option=option, values=", ".join(values)
            )
        return PRODUCT_NO_VARIANT_PLAIN.format(title=product.title, wanted=wanted)

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

    def money(self, amount: float | None) -> str:
        return format_money(amount, self.currency)


class ActionHandoff(Action):
    """Hand the conversation to a person: set ``handoff`` and say the store's handoff text.

    Only where agents can answer: when the dialogue says there is no agent inbox (slot
    ``agent_inbox`` False), nobody would ever reply in this chat, so the customer is told
    how to reach the store instead and the conversation stays with the assistant.
    """

    def __init__(self, handoff_text: str | None = None, contact_text: str | None = None) -> None:
        self.handoff_text = handoff_text or DEFAULT_HANDOFF_TEXT
        self.contact_text = contact_text or DEFAULT_CONTACT_TEXT

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("agent_inbox") is False:
            dispatcher.utter_message(text=NO_INBOX_HANDOFF.format(contact=self.contact_text))
            return [SlotSet("handoff", None), SlotSet("pending_action", None)]
        dispatcher.utter_message(text=self.handoff_text)
        return [SlotSet("handoff", True), SlotSet("pending_action", None)]


# --------------------------------------------------------------------------- registry


def build_actions(
    order_book: OrderBook | None,
    catalog: Any,
    handoff_text: str | None = None,
    currency: str = "USD",
    contact_text: str | None = None,
) -> list[Action]:
    """Every business action, ready to register. See :func:`build_executor`."""
    products = catalog
    if hasattr(catalog, "products") and hasattr(catalog, "settings"):
        # A knowledge_base.store.Store: take its products, handoff text and currency.
        settings = catalog.settings
        products = catalog.products
        handoff_text = handoff_text or getattr(settings, "handoff_text", None)
        contact_text = contact_text or getattr(settings, "contact_text", None)
        currency = getattr(settings, "currency", None) or currency
    return [
        ActionVerifyCustomer(order_book, currency),
        ActionOrderStatus(order_book, currency),
        ActionCancelOrder(order_book, currency),
        ValidateReturnForm(order_book, currency),
        ActionSubmitReturn(order_book, currency),
        ActionProductSearch(products, currency),
        ActionHandoff(handoff_text, contact_text),
    ]


def build_executor(
    order_book: OrderBook | None,
    catalog: Any,
    handoff_text: str | None = None,
    currency: str = "USD",
    contact_text: str | None = None,
) -> ActionExecutor:
    """A rasa-sdk ``ActionExecutor`` with all business actions registered.

    ``order_book`` may be None (a store without orders): the order actions then say that
    orders can't be looked up here. ``catalog`` is a list of products (``.id``, ``.title``, ``.category``, ``.price``,
    ``.variants``, ``.in_stock``), or a whole ``Store``, whose settings then supply the
    handoff text, contact text and currency. ``contact_text``: how to reach the store,
    said instead of the handoff text when there is no agent inbox.
    """
    executor = ActionExecutor()
    for action in build_actions(order_book, catalog, handoff_text, currency, contact_text):
        executor.register_action(action)
    return executor
