"""The policy's vocabulary: which intents start which route, the buttons' payloads,
the actions that verify a customer, and what the return form asks."""

from __future__ import annotations

from bot.messages.catalogue import Texts

# Intents that start a business action. Bitext names where Bitext has one.
ORDER_STATUS_INTENTS = {"track_order", "order_status"}
CANCEL_INTENTS = {"cancel_order"}
RETURN_INTENTS = {"return_order", "get_refund"}
HANDOFF_INTENTS = {"contact_human_agent"}
PRODUCT_INTENTS = {"product_info"}
SMALL_TALK = {"greet", "goodbye", "thanks"}

# Below this intent confidence the intent does not start an action on its own.
INTENT_MIN_CONFIDENCE = 0.5

RETURN_SLOTS = ("order_id", "return_items", "return_reason")

# The words that decide a route whatever the intent model says (asking for a person,
# a question about the rules, a "no", a cancellation reason) are bot/nlu/phrases.py's, per
# language. Every text the customer reads is bot/messages/'s, in their language.

# The button offered beside a policy answer; its payload is sent as the
# customer's next message and starts the action. Its title is a catalogue key; the
# payload stays English whatever the reply's language (the click keeps the language).
ACTION_OFFERS = {
    **dict.fromkeys(
        ORDER_STATUS_INTENTS,
        {"title": "button_check_order", "payload": "I want to check the status of my order"},
    ),
    **dict.fromkeys(
        CANCEL_INTENTS, {"title": "button_cancel_order", "payload": "I want to cancel my order"}
    ),
    **dict.fromkeys(
        RETURN_INTENTS,
        {"title": "button_start_return", "payload": "I want to return an item from my order"},
    ),
}

# Each change question's own button payloads: (yes, no). A button answers only the
# question it came with; a typed reply answers the question asked most recently.
CONFIRM_PAYLOADS = {
    "action_cancel_order": ("/confirm_cancel", "/deny_cancel"),
    "action_submit_return": ("/confirm_return", "/deny_return"),
}
HANDOFF_PAYLOAD, DECLINE_HANDOFF_PAYLOAD = "/handoff", "/decline_handoff"
ALL_CONFIRM_PAYLOADS = {p for pair in CONFIRM_PAYLOADS.values() for p in pair}


def handoff_buttons(texts: Texts) -> list[dict[str, str]]:
    """The "Talk to a person" / "No thanks" buttons, in the reply's language."""
    return [
        {"title": texts("button_talk_to_person"), "payload": HANDOFF_PAYLOAD},
        {"title": texts("button_no_thanks"), "payload": DECLINE_HANDOFF_PAYLOAD},
    ]


# Actions whose run may verify the customer from the details given (bot/actions/orders.py, returns.py).
VERIFYING_ACTIONS = {
    "action_verify_customer",
    "action_order_status",
    "action_cancel_order",
    "action_submit_return",
    "validate_return_form",
}

# What the return form asks for each slot (catalogue keys).
RETURN_QUESTIONS = {
    "order_id": "return_ask_order_id",
    "return_items": "return_ask_items",
    "return_reason": "return_ask_reason",
}
