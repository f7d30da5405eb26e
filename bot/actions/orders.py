"""The order actions: verify the customer, an order's status, cancelling an order.

Each action reads the dialogue state (slots, see docs/architecture.md) and the latest parsed
message from the rasa-sdk ``Tracker`` and answers through the ``CollectingDispatcher``, so
the same classes run in-process (:mod:`bot.actions.runner`) or behind any rasa-sdk action
server. The store policy (``wiki.md``) is followed here and in bot/actions/returns.py:

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

from collections.abc import Iterable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.formatting import (
    describe_item,
    describe_payment,
    is_gift_card,
    reason_text,
    refusal_text,
    status_text,
    titled_buttons,
)
from bot.actions.runner import IDENTITY_SLOTS
from bot.actions.tracker import entity, message_text, reset
from bot.actions.verification import identify
from bot.messages import Catalogue, Texts
from bot.nlu import phrases
from bot.storage.orders import CANCEL_REASONS, Customer, Order, OrderBook, OrderError, OrderItem
from knowledge_base.money import format_money

# Each question's own payloads, so a button can only ever answer the question it came with
# (bot/turn/routes.py CONFIRM_PAYLOADS); typed "yes" / "no" still answer the question asked.
# (title key in bot/messages.py, payload): the payloads never change with the language.
CANCEL_CONFIRM_BUTTONS = [
    ("button_yes_cancel", "/confirm_cancel"),
    ("button_no_keep", "/deny_cancel"),
]
CANCEL_REASON_BUTTONS = [
    ("button_no_longer_needed", "no longer needed"),
    ("button_ordered_by_mistake", "ordered by mistake"),
]
MAX_ORDERS_LISTED = 10


class OrderBookMixin:
    """What every order action is built with and reads through: the order book, the store's
    currency and the texts in the conversation's language."""

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

    def money(self, amount: float | None) -> str:
        return format_money(amount, self.currency)

    def item_lines(self, items: Iterable[OrderItem]) -> list[str]:
        """ "- 2 × T-Shirt (blue / M): $50.88", one line per item."""
        return [f"- {describe_item(item, self.currency)}" for item in items]

    def own_order(self, customer: Customer, order_ref: str) -> Order | None:
        """The order if it exists and belongs to this customer; None in every other case."""
        order = self.order_book.get(order_ref)
        if order is None or order.customer_id != customer.customer_id:
            return None
        return order


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


def _cancel_reason(tracker: Tracker) -> str | None:
    """The policy's cancellation reason the latest message gives, else None.

    Read with every language's rules (bot/nlu/phrases.py); a reason button's payload
    is the reason itself, in any language.
    """
    text = message_text(tracker)
    if text.strip().lower() in CANCEL_REASONS:
        return text.strip().lower()
    # Every language's words: a reason typed in another language than the conversation's
    # still counts (the reply stays in the conversation's).
    return phrases.cancel_reason(text, phrases.RULES.values())


class OrderAction(OrderBookMixin, Action):
    """Shared plumbing of the order actions: verification and own-order lookup."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Say so plainly when the store has no order backend; otherwise :meth:`handle`."""
        if self.order_book is None:
            dispatcher.utter_message(text=self.texts(tracker)("orders_unavailable"))
            return reset("pending_action", "confirmed")
        return await self.handle(dispatcher, tracker, domain)

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The action proper (the order book is there)."""
        raise NotImplementedError

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
        customer, events, problem = identify(self.order_book, tracker, t)
        if customer is not None:
            dispatcher.utter_message(text=t("verified", first_name=customer.first_name))
            return customer, events
        dispatcher.utter_message(text=problem)
        events.append(SlotSet("pending_action", self.name()))
        order_ref = entity(tracker, "order_id")
        if order_ref:
            events.append(SlotSet("order_id", order_ref))
        return None, events

    def order_ref(self, tracker: Tracker) -> str | None:
        """Order id from this message, else the ``order_id`` slot when this action is being
        resumed (so a stale id from an earlier topic is not silently reused)."""
        ref = entity(tracker, "order_id")
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


class ActionVerifyCustomer(OrderAction):
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
            email, name, zip_code = (entity(tracker, e) for e in IDENTITY_SLOTS)
            if current is not None:
                if email or (name and zip_code):
                    other = self.order_book.find_customer(email=email, name=name, zip=zip_code)
                    if other is None or other.customer_id != current.customer_id:
                        # Policy: one customer per conversation.
                        dispatcher.utter_message(text=t("one_customer_only"))
                        return []
                dispatcher.utter_message(text=t("already_verified", first_name=current.first_name))
                return []
        customer, events, problem = identify(self.order_book, tracker, t)
        if customer is None:
            dispatcher.utter_message(text=problem)
        else:
            # pending_action is left as it is: the dialogue resumes that action next.
            dispatcher.utter_message(text=t("verified", first_name=customer.first_name))
        return events


class ActionOrderStatus(OrderAction):
    """Report one of the customer's orders (status, items, tracking), or list them all."""

    def name(self) -> str:
        return "action_order_status"

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        customer, events = self.verified_customer(dispatcher, tracker)
        if customer is None:
            return events
        events += reset("pending_action")
        t = self.texts(tracker)
        ref = self.order_ref(tracker)
        if not ref:
            self._list_orders(dispatcher, customer, t)
            return events
        order = self.own_order(customer, ref)
        if order is None:
            dispatcher.utter_message(text=t("order_not_found", order_id=ref))
            return events + reset("order_id")
        dispatcher.utter_message(text=self._describe(order, t))
        return events + [SlotSet("order_id", order.order_id)]

    def _describe(self, order: Order, t: Texts) -> str:
        lines = [t("order_status", order_id=order.order_id, status=status_text(t, order.status))]
        lines.append(t("order_items_header"))
        lines += self.item_lines(order.items)
        lines.append(t("order_total", total=self.money(order.total)))
        sep = t("list_separator")
        if order.tracking:
            lines.append(t("order_tracking", tracking=sep.join(order.tracking)))
        if order.cancel_reason:
            lines.append(t("order_cancel_info", reason=reason_text(t, order.cancel_reason)))
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
                    status=status_text(t, order.status),
                    count=count,
                    total=self.money(order.total),
                )
            )
        if len(orders) > MAX_ORDERS_LISTED:
            lines.append(t("order_list_more", count=len(orders) - MAX_ORDERS_LISTED))
        lines.append(t("order_list_footer"))
        dispatcher.utter_message(text="\n".join(lines))


class ActionCancelOrder(OrderAction):
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
        done = reset("pending_action", "confirmed", "cancel_reason")

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
            return events + done + reset("order_id")
        events.append(SlotSet("order_id", order.order_id))
        if order.status != "pending":
            key = (
                "cancel_not_pending_delivered"
                if order.status == "delivered"
                else "cancel_not_pending"
            )
            status = status_text(t, order.status)
            dispatcher.utter_message(text=t(key, order_id=order.order_id, status=status))
            return events + done

        reason = tracker.get_slot("cancel_reason")
        if reason not in CANCEL_REASONS:
            reason = _cancel_reason(tracker)
        if reason is None:
            dispatcher.utter_message(
                text=t("ask_cancel_reason", order_id=order.order_id),
                buttons=titled_buttons(t, CANCEL_REASON_BUTTONS),
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
        method = describe_payment(method_id, customer, t)
        gift_card = is_gift_card(method_id, customer)
        if confirmed is not True:
            lines = [t("cancel_confirm", order_id=order.order_id), *self.item_lines(order.items)]
            lines.append(t("order_total", total=self.money(order.total)))
            lines.append(t("reason_line", reason=reason_text(t, reason)))
            plan = "refund_gift_card_plan" if gift_card else "refund_other_plan"
            lines.append(t(plan, amount=amount, method=method))
            lines.append(t("ask_yes"))
            dispatcher.utter_message(
                text="\n".join(lines), buttons=titled_buttons(t, CANCEL_CONFIRM_BUTTONS)
            )
            return events + waiting + reset("confirmed")

        try:
            self.order_book.cancel(order.order_id, reason)
        except OrderError as exc:
            dispatcher.utter_message(text=refusal_text(t, exc, order.order_id))
            return events + done
        refund = t(
            "refund_gift_card_done" if gift_card else "refund_other_done",
            amount=amount,
            method=method,
        )
        dispatcher.utter_message(text=t("cancel_done", order_id=order.order_id, refund=refund))
        return events + done
