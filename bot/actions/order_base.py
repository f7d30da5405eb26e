"""What every order action is built on: the order book, the texts, verification first.

:class:`OrderBookMixin` holds the order book, the store's currency and the message
catalogue; :class:`OrderAction` adds the plumbing the order actions share
(bot/actions/orders.py, order_status.py, returns.py): a plain reply when the store has
no orders, the verified customer (verifying now if the message carries identity details),
the order id a message or a resumed action means, and the yes to this action's question.
A verified customer sees only their own orders (:meth:`OrderBookMixin.own_order`).
"""

from __future__ import annotations

from collections.abc import Iterable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.formatting import describe_item
from bot.actions.tracker import entity, reset
from bot.actions.verification import identify
from bot.messages.catalogue import Catalogue, Texts
from bot.storage.orders import Customer, Order, OrderBook, OrderItem
from knowledge_base.money import format_money


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
