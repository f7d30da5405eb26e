"""Returns: the return form's validation (``validate_return_form``), which of an order's
items the customer means (:func:`match_order_items`), and submitting the return.

Only a delivered order of the verified customer can be returned; the refund goes to the
original payment method or a gift card the customer already has, after an explicit yes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.formatting import (
    describe_item,
    describe_payment,
    is_gift_card,
    refusal_text,
    status_text,
    titled_buttons,
)
from bot.actions.matching import contains_phrase, joined_ngrams, word_tokens
from bot.actions.orders import OrderAction, OrderBookMixin
from bot.actions.tracker import entity, latest_entities, message_text, reset
from bot.actions.verification import identify
from bot.storage.orders import Customer, Order, OrderError, OrderItem

# (title key in bot/messages/, payload), as bot/actions/orders.py's cancel buttons.
RETURN_CONFIRM_BUTTONS = [("button_yes_return", "/confirm_return"), ("button_no", "/deny_return")]


class ValidateReturnForm(OrderBookMixin, FormValidationAction):
    """Validates the slots of ``return_form``: ``order_id``, ``return_items``, ``return_reason``.

    Besides validating slot candidates (trailing ``SlotSet`` events, as Rasa's form sends
    them), it extracts candidates from the latest message itself: an ``order_id`` entity,
    and the message text for ``return_items`` / ``return_reason`` when that slot is the
    ``requested_slot`` (or, for items, when the message names a product).
    """

    def name(self) -> str:
        return "validate_return_form"

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
        ref = entity(tracker, "order_id")
        return {"order_id": ref} if ref else {}

    async def extract_return_items(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = message_text(tracker).strip()
        if not text:
            return {}
        if tracker.get_slot("requested_slot") == "return_items" or entity(tracker, "product"):
            return {"return_items": text}
        return {}

    async def extract_return_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = message_text(tracker).strip()
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
        return self.own_order(customer, str(ref))

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
            customer, events, problem = identify(self.order_book, tracker, t)
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
            status = status_text(t, order.status)
            dispatcher.utter_message(
                text=t("return_not_delivered", order_id=order.order_id, status=status)
            )
            return {**slots, "order_id": None}
        newly_given = (
            entity(tracker, "order_id") is not None
            or tracker.get_slot("requested_slot") == "order_id"
        )
        if newly_given and tracker.get_slot("return_items") is None:
            lines = [t("return_order_items", order_id=order.order_id)]
            lines += self.item_lines(order.items)
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
        item_ids = match_order_items(order, slot_value, latest_entities(tracker))
        if not item_ids:
            t = self.texts(tracker)
            items = t("item_separator").join(
                describe_item(item, self.currency) for item in order.items
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
    tokens = word_tokens(text)
    if {"all", "everything", "both", "entire", "whole"} & set(tokens) or _ALL_ZH.search(text):
        return [item.item_id for item in order.items]
    by_id = [item.item_id for item in order.items if item.item_id in set(re.findall(r"\w+", text))]
    if by_id:
        return by_id
    grams = joined_ngrams(tokens)
    entity_titles = {
        str(e.get("value", "")).lower() for e in entities if e.get("entity") == "product"
    }
    entity_products = {str(e.get("product_id")) for e in entities if e.get("product_id")}
    picked: list[OrderItem] = []
    for item in order.items:
        title_tokens = word_tokens(item.title)
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
        if any(contains_phrase(tokens, str(v)) for v in item.options.values())
    ]
    if narrowed and len(narrowed) < len(picked):
        picked = narrowed
    return [item.item_id for item in picked]


class ActionSubmitReturn(OrderAction):
    """Request the return once the form is complete: details and a yes, then submit."""

    def name(self) -> str:
        return "action_submit_return"

    async def handle(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        customer, events = self.verified_customer(dispatcher, tracker)
        if customer is None:
            return events
        done = reset(
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
            return events + done + reset("order_id")
        if order.status != "delivered":
            status = status_text(t, order.status)
            dispatcher.utter_message(
                text=t("return_not_delivered", order_id=order.order_id, status=status)
            )
            return events + done
        items = order.items_by_id(list(item_ids))
        refund_id = self._refund_method(customer, order, tracker)
        amount = self.money(sum(item.price * item.quantity for item in items))
        method = describe_payment(refund_id, customer, t)

        confirmed = self.confirmation(tracker)
        if confirmed is False:
            dispatcher.utter_message(text=t("change_aborted", order_id=order.order_id))
            return events + done
        if confirmed is not True:
            lines = [t("return_confirm", order_id=order.order_id)]
            lines += self.item_lines(items)
            lines.append(t("reason_line", reason=reason))
            lines.append(t("return_refund_line", amount=amount, method=method))
            lines.append(t("ask_yes"))
            dispatcher.utter_message(
                text="\n".join(lines), buttons=titled_buttons(t, RETURN_CONFIRM_BUTTONS)
            )
            return events + [
                SlotSet("pending_action", self.name()),
                SlotSet("refund_method_id", refund_id),
                SlotSet("confirmed", None),
            ]
        try:
            self.order_book.request_return(order.order_id, list(item_ids), reason, refund_id)
        except OrderError as exc:
            dispatcher.utter_message(text=refusal_text(t, exc, order.order_id))
            return events + done
        dispatcher.utter_message(
            text=t("return_done", order_id=order.order_id, amount=amount, method=method)
        )
        return events + done + reset("refund_method_id")

    @staticmethod
    def _refund_method(customer: Customer, order: Order, tracker: Tracker) -> str | None:
        """Policy: the original payment method, or a gift card the customer already has."""
        original = order.payment_method_id
        gift_cards = [m for m in customer.payment_methods if is_gift_card(m, customer)]
        chosen = tracker.get_slot("refund_method_id")
        if chosen == original or chosen in gift_cards:
            return chosen
        text = message_text(tracker).lower()
        if ("gift card" in text or "礼品卡" in text or "禮品卡" in text) and gift_cards:
            return gift_cards[0]
        return original
