"""Business actions: rasa-sdk ``Action`` classes for verification, orders, returns, products.

Each action reads the dialogue state (slots, see docs/architecture.md) and the latest parsed
message from the rasa-sdk ``Tracker`` and answers through the ``CollectingDispatcher``, so
the same classes run in-process (:mod:`bot.actions.runner`) or behind any rasa-sdk action
server. The store policy (``wiki.md``) is followed here:

* orders are shown or changed only after the customer is verified (email, or name + zip);
* a verified customer sees only their own orders; anyone else's order is answered exactly
  like an order that does not exist, so nothing about it leaks;
* cancelling and returning list the details and need an explicit yes (slot ``confirmed``).

An action that cannot finish (not verified yet, a question asked) sets ``pending_action`` to
its own name so the dialogue can run it again once the answer arrives. All customer-facing
wording is in the message catalogue (bot/messages.py), in the language of the conversation's
``language`` slot (the store's language when the slot is unset).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.messages import Catalogue, Texts
from bot.nlu import phrases
from bot.storage.orders import CANCEL_REASONS, Customer, Order, OrderBook, OrderError, OrderItem

# --------------------------------------------------------------------------- texts

# Each question's own payloads, so a button can only ever answer the question it came with
# (bot/turn/pipeline.py CONFIRM_PAYLOADS); typed "yes" / "no" still answer the question asked.
# (title key in bot/messages.py, payload): the payloads never change with the language.
CANCEL_CONFIRM_BUTTONS = [
    ("button_yes_cancel", "/confirm_cancel"),
    ("button_no_keep", "/deny_cancel"),
]
RETURN_CONFIRM_BUTTONS = [("button_yes_return", "/confirm_return"), ("button_no", "/deny_return")]
CANCEL_REASON_BUTTONS = [
    ("button_no_longer_needed", "no longer needed"),
    ("button_ordered_by_mistake", "ordered by mistake"),
]
# The order book's statuses and cancellation reasons, as the customer reads them.
STATUS_TEXTS = {
    "pending": "status_pending",
    "processed": "status_processed",
    "delivered": "status_delivered",
    "cancelled": "status_cancelled",
}
REASON_TEXTS = {
    "no longer needed": "reason_no_longer_needed",
    "ordered by mistake": "reason_ordered_by_mistake",
}


def _buttons(t: Texts, pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"title": t(key), "payload": payload} for key, payload in pairs]


def _status(t: Texts, status: str) -> str:
    """An order status in the reply's language (an unknown one as the data says it)."""
    return t(STATUS_TEXTS[status]) if status in STATUS_TEXTS else status


def _reason(t: Texts, reason: str) -> str:
    """A cancellation reason in the reply's language (free text as written)."""
    return t(REASON_TEXTS[reason]) if reason in REASON_TEXTS else reason


# --------------------------------------------------------------------------- limits

MAX_ORDERS_LISTED = 10
MAX_PRODUCTS = 3
MAX_VARIANTS_IN_TEXT = 5
MAX_VARIANTS_IN_CARD = 20

# Entity names that are not product options (docs/architecture.md, bot/nlu/entities.py).
NON_OPTION_ENTITIES = {"email", "person_name", "zip", "order_id", "product"}
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$"}

# --------------------------------------------------------------------------- helpers


def format_money(
    amount: float | None, currency: str = "USD", unpriced: str = "price on request"
) -> str:
    """``$1,234.50`` (two decimals; unknown currencies as ``CHF 12.00``; no amount: ``unpriced``)."""
    if amount is None:
        return unpriced
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


def _describe_payment(method_id: str | None, customer: Customer, t: Texts) -> str:
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
    return phrases.cancel_reason(text, [phrases.RULES["zh"]])


def _refused(t: Texts, exc: OrderError, order_id: str) -> str:
    """Why the order book refused a change: its own (English) words, else the catalogue's."""
    return str(exc) if t.language == "en" else t("order_change_refused", order_id=order_id)


def _reset(*names: str) -> list[EventType]:
    return [SlotSet(name, None) for name in names]


# --------------------------------------------------------------------------- verification


def _identify(
    order_book: OrderBook, tracker: Tracker, t: Texts
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
        return None, [], t("verification_locked")
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
            return None, events, t("ask_zip")
        if zip_code:
            return None, events, t("ask_name")
        return None, events, t("ask_identity")
    customer, why = order_book.match_customer(email=email, name=name, zip=zip_code)
    if customer is None:
        failed = _reset("customer_email", "customer_name", "customer_zip")
        failed.append(SlotSet("verification_failure", why))
        return None, failed, t("details_conflict" if why == "conflict" else "customer_not_found")
    events.append(SlotSet("verified_customer_id", customer.customer_id))
    events.append(SlotSet("verification_failure", None))
    return customer, events, None


class _OrderAction(Action):
    """Shared plumbing of the order actions: verification and own-order lookup."""

    def __init__(
        self,
        order_book: OrderBook | None,
        currency: str = "USD",
        catalogue: Catalogue | None = None,
    ) -> None:
        self.order_book = order_book  # None: the store has no order data
        self.currency = currency
        self.catalogue = catalogue or Catalogue()

    def texts(self, tracker: Tracker) -> Texts:
        """The catalogue in the conversation's language (slot ``language``)."""
        return self.catalogue.for_language(tracker.get_slot("language"))

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Say so plainly when the store has no order backend; otherwise :meth:`handle`."""
        if self.order_book is None:
            dispatcher.utter_message(text=self.texts(tracker)("orders_unavailable"))
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
        t = self.texts(tracker)
        customer, events, problem = _identify(self.order_book, tracker, t)
        if customer is not None:
            dispatcher.utter_message(text=t("verified", first_name=customer.first_name))
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
        t = self.texts(tracker)
        verified_id = tracker.get_slot("verified_customer_id")
        if verified_id:
            current = self.order_book.get_customer(verified_id)
            email, name, zip_code = (_entity(tracker, e) for e in ("email", "person_name", "zip"))
            if current is not None:
                if email or (name and zip_code):
                    other = self.order_book.find_customer(email=email, name=name, zip=zip_code)
                    if other is None or other.customer_id != current.customer_id:
                        # Policy: one customer per conversation.
                        dispatcher.utter_message(text=t("one_customer_only"))
                        return []
                dispatcher.utter_message(text=t("already_verified", first_name=current.first_name))
                return []
        customer, events, problem = _identify(self.order_book, tracker, t)
        if customer is None:
            dispatcher.utter_message(text=problem)
        else:
            # pending_action is left as it is: the dialogue resumes that action next.
            dispatcher.utter_message(text=t("verified", first_name=customer.first_name))
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
        t = self.texts(tracker)
        ref = self.order_ref(tracker)
        if not ref:
            self._list_orders(dispatcher, customer, t)
            return events
        order = self.own_order(customer, ref)
        if order is None:
            dispatcher.utter_message(text=t("order_not_found", order_id=ref))
            return events + _reset("order_id")
        dispatcher.utter_message(text=self._describe(order, t))
        return events + [SlotSet("order_id", order.order_id)]

    def _describe(self, order: Order, t: Texts) -> str:
        lines = [t("order_status", order_id=order.order_id, status=_status(t, order.status))]
        lines.append(t("order_items_header"))
        lines += self.order_lines(order)
        lines.append(t("order_total", total=self.money(order.total)))
        sep = t("list_separator")
        if order.tracking:
            lines.append(t("order_tracking", tracking=sep.join(order.tracking)))
        if order.cancel_reason:
            lines.append(t("order_cancel_info", reason=_reason(t, order.cancel_reason)))
        if order.return_item_ids:
            titles = sep.join(i.title for i in order.items_by_id(order.return_item_ids))
            lines.append(t("order_return_info", items=titles))
        return "\n".join(lines)

    def _list_orders(self, dispatcher: CollectingDispatcher, customer: Customer, t: Texts) -> None:
        orders = self.order_book.orders_of(customer.customer_id)
        if not orders:
            dispatcher.utter_message(text=t("no_orders"))
            return
        lines = [t("order_list_header")]
        for order in orders[:MAX_ORDERS_LISTED]:
            count = sum(item.quantity for item in order.items)
            lines.append(
                t(
                    "order_list_line_one" if count == 1 else "order_list_line_many",
                    order_id=order.order_id,
                    status=_status(t, order.status),
                    count=count,
                    total=self.money(order.total),
                )
            )
        if len(orders) > MAX_ORDERS_LISTED:
            lines.append(t("order_list_more", count=len(orders) - MAX_ORDERS_LISTED))
        lines.append(t("order_list_footer"))
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
        t = self.texts(tracker)
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
                dispatcher.utter_message(text=t("no_pending_orders"))
                return events + done
            listed = t("list_separator").join(o.order_id for o in pending[:MAX_ORDERS_LISTED])
            dispatcher.utter_message(text=t("ask_order_to_cancel", orders=listed), buttons=buttons)
            return events + waiting
        order = self.own_order(customer, ref)
        if order is None:
            dispatcher.utter_message(text=t("order_not_found", order_id=ref))
            return events + done + _reset("order_id")
        events.append(SlotSet("order_id", order.order_id))
        if order.status != "pending":
            key = (
                "cancel_not_pending_delivered"
                if order.status == "delivered"
                else "cancel_not_pending"
            )
            status = _status(t, order.status)
            dispatcher.utter_message(text=t(key, order_id=order.order_id, status=status))
            return events + done

        reason = tracker.get_slot("cancel_reason")
        if reason not in CANCEL_REASONS:
            reason = _cancel_reason_from_text(_text(tracker))
        if reason is None:
            dispatcher.utter_message(
                text=t("ask_cancel_reason", order_id=order.order_id),
                buttons=_buttons(t, CANCEL_REASON_BUTTONS),
            )
            return events + waiting
        events.append(SlotSet("cancel_reason", reason))

        confirmed = self.confirmation(tracker)
        # A "yes" only counts for the order it was asked about.
        asked_about = tracker.get_slot("order_id")
        if asked_about and self.order_book.get(asked_about) != order:
            confirmed = None
        if confirmed is False:
            dispatcher.utter_message(text=t("change_aborted", order_id=order.order_id))
            return events + done
        method_id = order.payment_method_id
        amount = self.money(_paid_amount(order))
        method = _describe_payment(method_id, customer, t)
        gift_card = _is_gift_card(method_id, customer)
        if confirmed is not True:
            lines = [t("cancel_confirm", order_id=order.order_id), *self.order_lines(order)]
            lines.append(t("order_total", total=self.money(order.total)))
            lines.append(t("reason_line", reason=_reason(t, reason)))
            plan = "refund_gift_card_plan" if gift_card else "refund_other_plan"
            lines.append(t(plan, amount=amount, method=method))
            lines.append(t("ask_yes"))
            dispatcher.utter_message(
                text="\n".join(lines), buttons=_buttons(t, CANCEL_CONFIRM_BUTTONS)
            )
            return events + waiting + _reset("confirmed")

        try:
            self.order_book.cancel(order.order_id, reason)
        except OrderError as exc:
            dispatcher.utter_message(text=_refused(t, exc, order.order_id))
            return events + done
        refund = t(
            "refund_gift_card_done" if gift_card else "refund_other_done",
            amount=amount,
            method=method,
        )
        dispatcher.utter_message(text=t("cancel_done", order_id=order.order_id, refund=refund))
        return events + done


class ValidateReturnForm(FormValidationAction):
    """Validates the slots of ``return_form``: ``order_id``, ``return_items``, ``return_reason``.

    Besides validating slot candidates (trailing ``SlotSet`` events, as Rasa's form sends
    them), it extracts candidates from the latest message itself: an ``order_id`` entity,
    and the message text for ``return_items`` / ``return_reason`` when that slot is the
    ``requested_slot`` (or, for items, when the message names a product).
    """

    def __init__(
        self,
        order_book: OrderBook | None,
        currency: str = "USD",
        catalogue: Catalogue | None = None,
    ) -> None:
        self.order_book = order_book
        self.currency = currency
        self.catalogue = catalogue or Catalogue()

    def name(self) -> str:
        return "validate_return_form"

    def texts(self, tracker: Tracker) -> Texts:
        """The catalogue in the conversation's language (slot ``language``)."""
        return self.catalogue.for_language(tracker.get_slot("language"))

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if self.order_book is None:
            dispatcher.utter_message(text=self.texts(tracker)("orders_unavailable"))
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
        t = self.texts(tracker)
        if self._customer(tracker) is None:
            customer, events, problem = _identify(self.order_book, tracker, t)
            slots.update({e["name"]: e["value"] for e in events})
            if customer is None:
                dispatcher.utter_message(text=problem)
                # Nothing about the order is checked or revealed yet; the form is resumed
                # (and asks for the order again) once the customer is verified.
                slots["pending_action"] = "return_form"
                return {**slots, "order_id": None}
            dispatcher.utter_message(text=t("verified", first_name=customer.first_name))
            tracker.slots.update(slots)  # so _own_order below sees the verification
        order = self._own_order(tracker, slot_value)
        if order is None:
            dispatcher.utter_message(text=t("order_not_found", order_id=slot_value))
            return {**slots, "order_id": None}
        if order.status != "delivered":
            status = _status(t, order.status)
            dispatcher.utter_message(
                text=t("return_not_delivered", order_id=order.order_id, status=status)
            )
            return {**slots, "order_id": None}
        newly_given = (
            _entity(tracker, "order_id") is not None
            or tracker.get_slot("requested_slot") == "order_id"
        )
        if newly_given and tracker.get_slot("return_items") is None:
            lines = [t("return_order_items", order_id=order.order_id)]
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
            t = self.texts(tracker)
            items = t("item_separator").join(
                _describe_item(item, self.currency) for item in order.items
            )
            dispatcher.utter_message(
                text=t("return_items_not_found", order_id=order.order_id, items=items)
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
            dispatcher.utter_message(text=self.texts(tracker)("return_reason_missing"))
            return {"return_reason": None}
        return {"return_reason": reason}


# "All of them" in Chinese ("全部", "都退", "两个都要退").
_ALL_ZH = re.compile(r"全部|所有|全都|都退|全退|都要退|两个都|两件都|整单|整个订单")


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
    if {"all", "everything", "both", "entire", "whole"} & set(tokens) or _ALL_ZH.search(text):
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
        t = self.texts(tracker)
        order_ref = tracker.get_slot("order_id")
        item_ids = tracker.get_slot("return_items") or []
        reason = tracker.get_slot("return_reason")
        missing = [
            t(label)
            for label, value in (
                ("missing_order_number", order_ref),
                ("missing_return_items", item_ids),
                ("missing_return_reason", reason),
            )
            if not value
        ]
        if missing:
            listed = t("list_separator").join(missing)
            dispatcher.utter_message(text=t("return_missing_slots", missing=listed))
            return events
        # Slots were validated by the form, but the order may have changed since: re-check.
        order = self.own_order(customer, order_ref)
        if order is None:
            dispatcher.utter_message(text=t("order_not_found", order_id=order_ref))
            return events + done + _reset("order_id")
        if order.status != "delivered":
            status = _status(t, order.status)
            dispatcher.utter_message(
                text=t("return_not_delivered", order_id=order.order_id, status=status)
            )
            return events + done
        items = order.items_by_id(list(item_ids))
        refund_id = self._refund_method(customer, order, tracker)
        amount = self.money(sum(item.price * item.quantity for item in items))
        method = _describe_payment(refund_id, customer, t)

        confirmed = self.confirmation(tracker)
        if confirmed is False:
            dispatcher.utter_message(text=t("change_aborted", order_id=order.order_id))
            return events + done
        if confirmed is not True:
            lines = [t("return_confirm", order_id=order.order_id)]
            lines += [f"- {_describe_item(item, self.currency)}" for item in items]
            lines.append(t("reason_line", reason=reason))
            lines.append(t("return_refund_line", amount=amount, method=method))
            lines.append(t("ask_yes"))
            dispatcher.utter_message(
                text="\n".join(lines), buttons=_buttons(t, RETURN_CONFIRM_BUTTONS)
            )
            return events + [
                SlotSet("pending_action", self.name()),
                SlotSet("refund_method_id", refund_id),
                SlotSet("confirmed", None),
            ]
        try:
            self.order_book.request_return(order.order_id, list(item_ids), reason, refund_id)
        except OrderError as exc:
            dispatcher.utter_message(text=_refused(t, exc, order.order_id))
            return events + done
        dispatcher.utter_message(
            text=t("return_done", order_id=order.order_id, amount=amount, method=method)
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
        text = _text(tracker).lower()
        if ("gift card" in text or "礼品卡" in text or "禮品卡" in text) and gift_cards:
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
        text = _text(tracker)
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
                    options=_describe_options(variant.options),
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

    def money(self, amount: float | None) -> str:
        return format_money(amount, self.currency)


class ActionHandoff(Action):
    """Hand the conversation to a person: set ``handoff`` and say the store's handoff text.

    Only where agents can answer: when the dialogue says there is no agent inbox (slot
    ``agent_inbox`` False), nobody would ever reply in this chat, so the customer is told
    how to reach the store instead and the conversation stays with the assistant.
    """

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        """``catalogue``: the store's texts (``handoff``, ``contact``: store.toml's
        ``handoff_text`` / ``contact_text`` in the store's language)."""
        self.catalogue = catalogue or Catalogue()

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        t = self.catalogue.for_language(tracker.get_slot("language"))
        if tracker.get_slot("agent_inbox") is False:
            dispatcher.utter_message(text=t("no_inbox_handoff", contact=t("contact")))
            return [SlotSet("handoff", None), SlotSet("pending_action", None)]
        dispatcher.utter_message(text=t("handoff"))
        return [SlotSet("handoff", True), SlotSet("pending_action", None)]


# --------------------------------------------------------------------------- registry


def build_actions(
    order_book: OrderBook | None,
    catalog: Any,
    handoff_text: str | None = None,
    currency: str = "USD",
    contact_text: str | None = None,
    catalogue: Catalogue | None = None,
) -> list[Action]:
    """Every business action, ready to register. See :func:`build_executor`."""
    products = catalog
    if hasattr(catalog, "products") and hasattr(catalog, "settings"):
        # A knowledge_base.store.Store: its products, texts (store.toml) and currency.
        catalogue = catalogue or Catalogue.for_store(catalog)
        products = catalog.products
        currency = getattr(catalog.settings, "currency", None) or currency
    catalogue = catalogue or Catalogue()
    # Texts given here are the store's own, in the store's language.
    given = {"handoff": handoff_text, "contact": contact_text}
    own = {key: text.replace("{", "{{").replace("}", "}}") for key, text in given.items() if text}
    if own:
        overrides = {k: dict(v) for k, v in catalogue.overrides.items()}
        overrides.setdefault(catalogue.store_language, {}).update(own)
        catalogue = Catalogue(overrides, catalogue.store_name, catalogue.store_language)
    return [
        ActionVerifyCustomer(order_book, currency, catalogue),
        ActionOrderStatus(order_book, currency, catalogue),
        ActionCancelOrder(order_book, currency, catalogue),
        ValidateReturnForm(order_book, currency, catalogue),
        ActionSubmitReturn(order_book, currency, catalogue),
        ActionProductSearch(products, currency, catalogue),
        ActionHandoff(catalogue),
    ]


def build_executor(
    order_book: OrderBook | None,
    catalog: Any,
    handoff_text: str | None = None,
    currency: str = "USD",
    contact_text: str | None = None,
    catalogue: Catalogue | None = None,
) -> ActionExecutor:
    """A rasa-sdk ``ActionExecutor`` with all business actions registered.

    ``order_book`` may be None (a store without orders): the order actions then say that
    orders can't be looked up here. ``catalog`` is a list of products (``.id``, ``.title``,
    ``.category``, ``.price``, ``.variants``, ``.in_stock``), or a whole ``Store``, whose
    ``store.toml`` then supplies the texts and the currency. ``catalogue``: the texts
    (bot/messages.py), in every language; ``handoff_text`` / ``contact_text`` (how to reach
    the store, said instead of the handoff text when there is no agent inbox) override
    its handoff and contact texts in the store's language.
    """
    executor = ActionExecutor()
    actions = build_actions(order_book, catalog, handoff_text, currency, contact_text, catalogue)
    for action in actions:
        executor.register_action(action)
    return executor
