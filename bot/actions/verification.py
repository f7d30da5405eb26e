"""Who the customer is: verification by email, or by full name + zip, against the order book.

The identity details a message carries are remembered in their slots
(:data:`bot.actions.runner.IDENTITY_SLOTS`), so name and zip may arrive in different turns.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from bot.actions.runner import IDENTITY_SLOTS
from bot.actions.tracker import entity, reset
from bot.messages.catalogue import Texts
from bot.storage.orders import Customer, OrderBook


def identify(
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
    for detail, slot in IDENTITY_SLOTS.items():
        value = entity(tracker, detail)
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
        failed = reset(*IDENTITY_SLOTS.values())
        failed.append(SlotSet("verification_failure", why))
        return None, failed, t("details_conflict" if why == "conflict" else "customer_not_found")
    events.append(SlotSet("verified_customer_id", customer.customer_id))
    events.append(SlotSet("verification_failure", None))
    return customer, events, None
