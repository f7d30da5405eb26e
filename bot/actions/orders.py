"""The order actions: verify the customer, cancelling an order (an order's status and
the questions about one's orders are bot/actions/order_status.py's).

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
wording is in the message catalogue (bot/messages/), in the language of the conversation's
``language`` slot (the store's language when the slot is unset).
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.formatting import (
    describe_payment,
    is_gift_card,
    reason_text,
    refusal_text,
    status_text,
    titled_buttons,
)
from bot.actions.order_base import OrderAction, OrderBookMixin
from bot.actions.order_status import LIST_ORDERS_BUTTON, ActionOrderStatus
from bot.actions.runner import IDENTITY_SLOTS
from bot.actions.tracker import entity, message_text, reset
from bot.actions.verification import identify
from bot.nlu import phrases
from bot.storage.orders import CANCEL_REASONS, Order, OrderError

# What other modules import from here (bot/actions/registry.py, returns.py).
__all__ = [
    "ActionCancelOrder",
    "ActionOrderStatus",
    "ActionVerifyCustomer",
    "OrderAction",
    "OrderBookMixin",
]

# Each question's own payloads, so a button can only ever answer the question it came with
# (bot/turn/routes.py CONFIRM_PAYLOADS); typed "yes" / "no" still answer the question asked.
# (title key in bot/messages/, payload): the payloads never change with the language.
CANCEL_CONFIRM_BUTTONS = [
    ("button_yes_cancel", "/confirm_cancel"),
    ("button_no_keep", "/deny_cancel"),
]
CANCEL_REASON_BUTTONS = [
    ("button_no_longer_needed", "no longer needed"),
    ("button_ordered_by_mistake", "ordered by mistake"),
]
MAX_ORDERS_LISTED = 10


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
                # "I can show your orders if you like": a button, and a "yes", show them.
                dispatcher.utter_message(
                    text=t("no_pending_orders"), buttons=titled_buttons(t, [LIST_ORDERS_BUTTON])
                )
                return events + done + [SlotSet("offered_order_list", True)]
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
