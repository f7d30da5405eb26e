"""``action_order_status``: the questions a verified customer asks about their orders.

"List my orders", "which one was delivered?", "which are still pending?", "what's in
order #W123?", "where is my most recent order?", "the tracking of the second one",
and, after a list, the order they mean: "the first one", "the last one", "the vacuum
order", "the one with the headphones", "the delivered one" (bot/actions/order_refs.py).

Slots read: ``verified_customer_id`` (verification first, unchanged: bot/actions/
order_base.py), ``order_id`` (the order being discussed; an order id in the message wins),
``listed_orders`` (the ids of the orders last shown, in the order shown), ``pending_action``
(this action resumed after verification or after its own question),
``order_question`` (the question asked before verification, answered once verified),
``offered_order_list`` (the last reply offered to list the orders: a "yes" lists them,
a "no" is accepted), ``language`` (the texts). Slots set: ``order_id`` when a reference
resolves to one order, ``listed_orders`` whenever orders are listed or offered as choices.

Only the verified customer's own orders are ever read: the ids in ``listed_orders`` are
checked again on every turn, and anyone else's order reads like one that does not exist.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.formatting import (
    date_text,
    items_summary,
    reason_text,
    status_text,
    statuses_text,
    titled_buttons,
)
from bot.actions.order_base import OrderAction
from bot.actions.order_refs import (
    ITEMS,
    STATUS,
    TRACKING,
    OrderQuestion,
    chronological,
    pick,
    placed_at,
    read_question,
)
from bot.actions.runner import IDENTITY_SLOTS
from bot.actions.tracker import entity, message_text, reset
from bot.messages.catalogue import Texts
from bot.nlu.consent import Answer, classify
from bot.storage.orders import Customer, Order

# The button that takes up "I can also list your orders": its payload asks for the list
# (English whatever the reply's language; the click keeps the conversation's language).
LIST_ORDERS_PAYLOAD = "list my orders"
LIST_ORDERS_BUTTON = ("button_list_orders", LIST_ORDERS_PAYLOAD)
# A choice button's payload: the order id, which the next turn resolves.
CHOICE_PAYLOAD = "show order {order_id}"
MAX_ORDERS_LISTED = 10
MAX_CHOICES = 10
MAX_REMEMBERED = 50


class ActionOrderStatus(OrderAction):
    """Answer a verified customer's question about their orders, or list them."""

    def name(self) -> str:
        return "action_order_status"

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = message_text(tracker)
        customer, events = self.verified_customer(dispatcher, tracker)
        if customer is None:
            if text.strip() and not _gives_identity(tracker):
                events.append(SlotSet("order_question", text[:500]))
            return events
        t = self.texts(tracker)
        if tracker.get_slot("pending_action") == self.name():
            saved = tracker.get_slot("order_question")
            if isinstance(saved, str) and saved and (_gives_identity(tracker) or not text.strip()):
                text = saved  # the question asked before verification
        offered = bool(tracker.get_slot("offered_order_list"))
        events += reset("pending_action", "order_question", "offered_order_list")
        question = read_question(text)

        ref = self.order_ref(tracker)
        if ref:
            order = self.own_order(customer, ref)
            if order is None:
                dispatcher.utter_message(
                    text=t("order_not_found", order_id=ref),
                    buttons=titled_buttons(t, [LIST_ORDERS_BUTTON]),
                )
                return events + reset("order_id") + [SlotSet("offered_order_list", True)]
            return events + self._answer(dispatcher, t, order, question)
        if offered and not question.asks_something and classify(text) is Answer.NO:
            dispatcher.utter_message(text=t("order_list_declined"))
            return events

        orders = chronological(self.order_book.orders_of(customer.customer_id))
        if not orders:
            dispatcher.utter_message(text=t("no_orders"))
            return events
        listed = self._listed(tracker, customer)
        if tracker.get_slot("listed_orders") not in (None, [o.order_id for o in listed]):
            # Forget what is not this customer's (or not an order id at all).
            events.append(SlotSet("listed_orders", [o.order_id for o in listed] or None))
        chosen = pick(question, text, listed, orders)
        current = self._current(tracker, customer)
        if current is not None and not question.wants_list:
            # "is it delivered?", "what's in it?", "and the tracking?": the order discussed.
            about_it = question.current and (chosen is None or chosen.by <= {"status"})
            if about_it or (chosen is None and question.kind != STATUS):
                return events + self._answer(dispatcher, t, current, question)
        if chosen is None:
            if not question.wants_list and len(orders) == 1:
                return events + self._answer(dispatcher, t, orders[0], question)
            return events + self._list(dispatcher, t, orders, t("order_list_header"))
        found = chosen.orders
        if not found:
            if "status" in chosen.by:
                lines = [t("no_orders_with_status", statuses=statuses_text(t, question.statuses))]
                return events + self._list(dispatcher, t, orders, t("order_list_header"), lines)
            return events + self._choose(dispatcher, t, listed or orders, t("which_order"))
        several = len(found) > 1 and not question.singular
        if question.wants_list or (chosen.by == {"status"} and several):
            header = t("order_list_header")
            if "status" in chosen.by:
                header = t("order_list_header_status", statuses=statuses_text(t, question.statuses))
            return events + self._list(dispatcher, t, found, header)
        if len(found) > 1:
            return events + self._choose(dispatcher, t, found, t("which_order"))
        return events + self._answer(dispatcher, t, found[0], question, "recent" in chosen.by)

    # ----------------------------------------------------------------- what it reads

    def _listed(self, tracker: Tracker, customer: Customer) -> list[Order]:
        """The orders last shown, as shown: only this customer's, each read afresh."""
        ids = tracker.get_slot("listed_orders")
        if not isinstance(ids, list):
            return []
        out: list[Order] = []
        for order_id in ids[:MAX_REMEMBERED]:
            order = self.own_order(customer, order_id) if isinstance(order_id, str) else None
            if order is not None and all(o.order_id != order.order_id for o in out):
                out.append(order)
        return out

    def _current(self, tracker: Tracker, customer: Customer) -> Order | None:
        """The order being discussed (slot ``order_id``), if it is this customer's."""
        order_id = tracker.get_slot("order_id")
        return self.own_order(customer, order_id) if isinstance(order_id, str) else None

    # ----------------------------------------------------------------- what it says

    def _answer(
        self,
        dispatcher: CollectingDispatcher,
        t: Texts,
        order: Order,
        question: OrderQuestion,
        recent: bool = False,
    ) -> list[EventType]:
        """One order: its status and details, its items, or its tracking."""
        lines = []
        when = placed_at(order)
        if recent:
            lines.append(t("order_most_recent", order_id=order.order_id))
        status = status_text(t, order.status)
        sep = t("list_separator")
        if question.kind == ITEMS:
            lines.append(t("order_contents", order_id=order.order_id))
            lines += self.item_lines(order.items)
            lines.append(t("order_total", total=self.money(order.total)))
        elif question.kind == TRACKING:
            lines.append(t("order_status", order_id=order.order_id, status=status))
            if when and recent:
                lines.append(t("order_placed", date=date_text(t, when)))
            lines.append(
                t("order_tracking", tracking=sep.join(order.tracking))
                if order.tracking
                else t("order_no_tracking")
            )
        else:
            lines.append(t("order_status", order_id=order.order_id, status=status))
            if when:
                lines.append(t("order_placed", date=date_text(t, when)))
            lines.append(t("order_items_header"))
            lines += self.item_lines(order.items)
            lines.append(t("order_total", total=self.money(order.total)))
            if order.tracking:
                lines.append(t("order_tracking", tracking=sep.join(order.tracking)))
            if order.cancel_reason:
                lines.append(t("order_cancel_info", reason=reason_text(t, order.cancel_reason)))
            if order.return_item_ids:
                titles = sep.join(i.title for i in order.items_by_id(order.return_item_ids))
                lines.append(t("order_return_info", items=titles))
        dispatcher.utter_message(text="\n".join(lines))
        return [SlotSet("order_id", order.order_id)]

    def _list(
        self,
        dispatcher: CollectingDispatcher,
        t: Texts,
        orders: list[Order],
        header: str,
        before: list[str] | None = None,
    ) -> list[EventType]:
        """The orders, numbered as "the first one", "the second" count them: the most
        recent ``MAX_ORDERS_LISTED``, oldest first, each with status, date and items."""
        shown = orders[-MAX_ORDERS_LISTED:]
        lines = [*(before or []), header]
        for n, order in enumerate(shown, start=1):
            when = placed_at(order)
            values = {
                "n": n,
                "order_id": order.order_id,
                "status": status_text(t, order.status),
                "items": items_summary(t, order),
                "total": self.money(order.total),
            }
            if when:
                lines.append(t("order_list_entry_dated", date=date_text(t, when), **values))
            else:
                lines.append(t("order_list_entry", **values))
        if len(orders) > len(shown):
            lines.append(t("order_list_earlier", count=len(orders) - len(shown)))
        lines.append(t("order_list_ask"))
        dispatcher.utter_message(text="\n".join(lines))
        return [SlotSet("listed_orders", [o.order_id for o in shown])]

    def _choose(
        self, dispatcher: CollectingDispatcher, t: Texts, orders: list[Order], question: str
    ) -> list[EventType]:
        """A short question with one button per candidate order; the reply resumes here."""
        shown = orders[-MAX_CHOICES:]
        buttons = [
            {
                "title": t("order_choice", order_id=o.order_id, items=items_summary(t, o)),
                "payload": CHOICE_PAYLOAD.format(order_id=o.order_id),
            }
            for o in shown
        ]
        dispatcher.utter_message(text=question, buttons=buttons)
        return [
            SlotSet("listed_orders", [o.order_id for o in shown]),
            SlotSet("pending_action", self.name()),
            SlotSet("order_id", None),
        ]


def _gives_identity(tracker: Tracker) -> bool:
    """The message carries identity details (it answers the verification question)."""
    return any(entity(tracker, detail) for detail in IDENTITY_SLOTS)
