"""The business flows a turn runs: starting and resuming an order action, the
return form, the yes a change needs, and the limits on failed identity checks.

Each runs rasa-sdk actions through the store's action runner and applies what
they did to the conversation's slots; the policy (bot/turn/policy.py) decides
which flow a message continues or starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from bot.actions.order_refs import resolve_order
from bot.actions.runner import CUSTOMER_SLOTS, ActionError, apply_events, tracker_state
from bot.nlu import phrases
from bot.nlu.consent import Answer
from bot.storage.conversations import Conversation, identity_key
from bot.turn.records import Turn
from bot.turn.routes import (
    ALL_CONFIRM_PAYLOADS,
    CONFIRM_PAYLOADS,
    RETURN_QUESTIONS,
    RETURN_SLOTS,
    VERIFYING_ACTIONS,
    handoff_buttons,
)
from bot.turn.services import Services

log = logging.getLogger("shopbot.dialogue")


def clear_pending(slots: dict[str, Any]) -> None:
    """Forget any change or form waiting for the customer."""
    for key in (
        "pending_action",
        "confirmed",
        "awaiting_confirmation",
        "confirmation_asked_at",
        "requested_slot",
        "active_loop",
    ):
        slots.pop(key, None)


class Flows:
    """Order actions, the return form and consent, over the bot's services."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def start(self, turn: Turn, action: str) -> None:
        """Begin a business flow; verification comes first for order actions."""
        slots = turn.slots
        clear_pending(slots)
        chosen = turn.entity("order_id") or resolve_order(turn.text, slots, self.s.order_book)
        if chosen:  # an order id, or "the pending one" of the customer's own orders
            slots["order_id"] = chosen
        if action == "return_form":
            slots["active_loop"] = "return_form"
            for name in RETURN_SLOTS:
                if name != "order_id" or not chosen:
                    slots[name] = None
            if not slots.get("verified_customer_id"):
                slots["pending_action"] = "return_form"
                await self.run(turn, "action_verify_customer")
                return
            await self.continue_return_form(turn)
            return
        await self.run(turn, action)

    async def resume(self, turn: Turn, pending: str) -> None:
        """Continue the flow that waited for verification, an answer or a yes."""
        if pending == "return_form":
            turn.slots["pending_action"] = None
            await self.continue_return_form(turn)
        else:
            self.set_cancel_reason(turn)
            await self.run(turn, pending)

    async def continue_return_form(self, turn: Turn) -> None:
        """Fill the return form's next slot from this message, then ask or submit."""
        slots = turn.slots
        slots["active_loop"] = "return_form"
        requested = slots.get("requested_slot")
        if turn.entity("order_id") and (
            requested in (None, "order_id") or not slots.get("order_id")
        ):
            slots["order_id"] = turn.entity("order_id")
            requested = "order_id"
        elif requested in ("return_items", "return_reason"):
            slots[requested] = turn.text
        if requested:
            await self.run(turn, "validate_return_form", requested_slot=requested)
        missing = [name for name in RETURN_SLOTS if not slots.get(name)]
        if missing:
            slots["requested_slot"] = missing[0]
            last = turn.messages[-1].get("text", "") if turn.messages else ""
            if not last.rstrip().endswith(("?", "？")):  # the action asked already
                turn.say(turn.texts(RETURN_QUESTIONS[missing[0]]))
            turn.action = turn.action or "return_form"
            return
        slots["requested_slot"] = None
        slots["active_loop"] = None
        await self.run(turn, "action_submit_return")

    async def run(self, turn: Turn, action: str, requested_slot: str | None = None) -> None:
        """Run a rasa-sdk action and apply what it did to the conversation."""
        slots = turn.slots
        # Identity details about to be checked (the action forgets them when they fail).
        attempt = (
            (
                identity_key("email", slots.get("customer_email")),
                identity_key("name", slots.get("customer_name")),
            )
            if action in VERIFYING_ACTIONS and not slots.get("verified_customer_id")
            else None
        )
        if attempt and not slots.get("verification_locked"):
            if await asyncio.to_thread(self._verification_over_limit, turn.conv.sender, attempt):
                slots["verification_locked"] = True  # the action then checks nothing
        tracker = tracker_state(
            turn.conv.sender,
            dict(
                slots,
                requested_slot=requested_slot or slots.get("requested_slot"),
                agent_inbox=self.s.has_agent_inbox(),
            ),
            turn.parse,
            active_loop={"name": slots["active_loop"]} if slots.get("active_loop") else None,
        )
        try:
            result = await self.s.runner.run(action, tracker)
        except ActionError as exc:
            log.error("action %s failed: %s", action, exc)
            turn.action = action
            turn.say(turn.texts("action_failed"), buttons=handoff_buttons(turn.texts)[:1])
            slots["offered_handoff"] = True
            return
        new_slots = apply_events(dict(slots), result.get("events", []))
        slots.clear()
        slots.update(new_slots)
        turn.action = action
        for response in result.get("responses", []):
            msg = {"recipient_id": turn.conv.sender}
            for key in ("text", "buttons", "image", "custom"):
                if response.get(key):
                    msg[key] = response[key]
            if response.get("json_message"):
                msg["custom"] = response["json_message"]
            if len(msg) > 1:
                turn.messages.append(msg)
        pending = slots.get("pending_action")
        # An action that asks for a yes leaves itself pending with verification done.
        asks = {"yes", "/affirm", *CONFIRM_PAYLOADS.get(str(pending), ())}
        slots["awaiting_confirmation"] = bool(
            pending
            and slots.get("verified_customer_id")
            and any(
                b.get("payload", "").lower() in asks
                for m in turn.messages
                for b in m.get("buttons", [])
            )
        )
        if slots["awaiting_confirmation"]:
            slots["confirmation_asked_at"] = time.time()  # the yes must come soon
            slots.pop("offered_handoff", None)  # one question per reply: this one
        else:
            slots.pop("confirmation_asked_at", None)
        if slots.get("confirmed") and not pending:
            slots["confirmed"] = False
        failure = slots.pop("verification_failure", None)
        if attempt is not None and action != "action_handoff":
            if failure:
                await self._verification_failed(turn, str(failure), attempt)
            if slots.get("verification_locked") and not slots.get("verified_customer_id"):
                # Too many failed attempts: a person, not more guesses.
                clear_pending(slots)
                turn.say(turn.texts("verification_handoff"))
                await self.run(turn, "action_handoff")

    async def answer_confirmation(self, turn: Turn, pending: str, answer: Answer) -> bool:
        """Answer the change question asked last turn; False if this message is not an answer.

        The change goes ahead only on an unambiguous yes (bot/nlu/consent.py) or its own
        button, while the question is current (``confirmation_timeout_seconds``). A no
        cancels it; an unclear reply asks again; anything else lets the question lapse
        (except a new order id or reason for the same change, which asks again).
        """
        slots = turn.slots
        payload = turn.text.strip().lower()
        yes_payload, no_payload = CONFIRM_PAYLOADS.get(pending, ("", ""))
        if payload == yes_payload:
            answer = Answer.YES
        elif payload == no_payload:
            answer = Answer.NO
        elif payload in ALL_CONFIRM_PAYLOADS:
            answer = Answer.OTHER  # another question's button: answered below as stale
        asked = float(slots.get("confirmation_asked_at") or 0.0)
        expired = time.time() - asked > self.s.config.confirmation_timeout_seconds
        turn.action = "action_listen"
        if answer is Answer.NO:
            clear_pending(slots)
            turn.say(turn.texts("deny_change"))
            return True
        if answer is Answer.YES and not expired:
            slots["confirmed"] = True
            await self.resume(turn, pending)
            return True
        if answer is Answer.YES or (answer is Answer.UNCLEAR and expired):
            clear_pending(slots)
            turn.say(turn.texts("confirmation_expired"))
            return True
        if answer is Answer.UNCLEAR:
            yes_no = [
                {"title": turn.texts("button_yes"), "payload": yes_payload or "yes"},
                {"title": turn.texts("button_no"), "payload": no_payload or "no"},
            ]
            turn.say(turn.texts("confirm_unclear"), buttons=yes_no)
            return True
        turn.action = None
        new_detail = turn.entity("order_id") or phrases.cancel_reason(turn.text, turn.rules)
        if expired or not new_detail or payload in ALL_CONFIRM_PAYLOADS:
            clear_pending(slots)  # another request came in between: the question lapses
        return False

    def _verification_over_limit(self, sender: str, keys: tuple[str, ...]) -> bool:
        """Too many failed identity checks: in this conversation, or on this customer."""
        cfg = self.s.config
        since = time.time() - cfg.verification_failure_window_seconds
        store = self.s.conversations
        if store.verification_failures(since, sender=sender) >= cfg.verification_max_failures:
            return True
        return store.verification_failures(since, keys=keys) >= (
            cfg.verification_max_failures_per_customer
        )

    async def _verification_failed(self, turn: Turn, reason: str, keys: tuple[str, str]) -> None:
        """Log a failed identity check for the merchant; lock verification past the limits."""
        sender = turn.conv.sender
        log.warning("conversation %s: identity check failed (%s)", sender, reason)
        await asyncio.to_thread(
            self.s.conversations.record_verification_failure, sender, reason, keys[0], keys[1]
        )
        if await asyncio.to_thread(self._verification_over_limit, sender, keys):
            turn.slots["verification_locked"] = True

    def expire_verification(self, conv: Conversation) -> None:
        """A verification lasts while the conversation is active, not forever.

        After ``verification_idle_minutes`` without a message, the verified
        identity, the details it was made from and any change waiting for a yes
        are forgotten: order details and changes need verifying again.
        """
        now = time.time()
        slots = conv.slots
        idle = now - float(slots.get("last_active") or now)
        if (
            slots.get("verified_customer_id")
            and idle > self.s.config.verification_idle_minutes * 60
        ):
            for key in CUSTOMER_SLOTS:
                slots.pop(key, None)
            clear_pending(slots)
        slots["last_active"] = now

    def answers_pending_question(self, turn: Turn) -> bool:
        """The message carries what a pending action asked for (order id, reason)."""
        if turn.entity("order_id"):
            turn.slots["order_id"] = turn.entity("order_id")
            return True
        return self.set_cancel_reason(turn)

    def set_cancel_reason(self, turn: Turn) -> bool:
        reason = phrases.cancel_reason(turn.text, turn.rules)
        if reason:
            turn.slots["cancel_reason"] = reason
        return bool(reason)
