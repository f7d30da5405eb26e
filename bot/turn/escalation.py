"""Offering a person before the customer asks: sentiment-aware escalation.

After the policy has answered a message, ``offer_handoff_if_needed`` looks at
how the conversation is going and, once per conversation, adds an offer to
talk to a person when

- the customer's message turns sharply negative: its VADER compound score
  (PyPI ``vaderSentiment``, see ``bot/insights/events.py``) is at most
  ``-drop`` and at least ``drop`` below the previous message's, or
- the bot failed to answer twice in a row (abstained, asked to clarify, or the
  generated answer fell back).

The offer is an ordinary message with its own buttons (``/handoff`` /
``/decline_handoff``); the policy's ``offered_handoff`` slot makes a typed "yes"
a handoff. It is never added to a reply that already asks the customer to
confirm a change: one question per reply, so one "yes" cannot answer two. The message carries
``custom: {"type": "handoff_offer", "reason": ...}`` so the log shows every
offer and ``bot.storage.reports.offer_stats`` can report how many were made and what
the customer did next (the overview page under ``/admin``).
"""

from __future__ import annotations

from typing import Any

from bot.messages.catalogue import Catalogue, Texts
from bot.nlu.sentiment import sentiment
from bot.storage.reports import FAILED_ACTIONS
from bot.turn.routes import handoff_buttons

REASONS = {"negative_turn": "message turned sharply negative", "two_failures": "two failed answers"}


def offer_handoff_if_needed(turn: Any, drop: float = 0.5, texts: Texts | None = None) -> str | None:
    """Add a handoff offer to ``turn`` when the conversation is going badly; the reason or None.

    ``turn`` is the dialogue's turn in progress (``text``, ``action``,
    ``fallback``, ``slots``, ``messages``, ``conv.sender``). Its slots keep the
    previous message's sentiment and the run of failed answers. ``texts``: the
    message catalogue in the reply's language (default English).
    """
    slots = turn.slots
    score = sentiment(turn.text)
    previous = float(slots.get("last_sentiment") or 0.0)
    slots["last_sentiment"] = score
    # A "busy" reply (the LM's queue was full) is the shop's load, not a failed answer.
    failed = turn.action in FAILED_ACTIONS or (
        bool(turn.fallback) and turn.action != "action_answer_busy"
    )
    slots["failed_streak"] = int(slots.get("failed_streak") or 0) + 1 if failed else 0
    if slots.get("handoff") or slots.get("escalation_offered"):
        return None  # with a person already, or offered once in this conversation
    if slots.get("awaiting_confirmation"):
        return None  # this reply asks to confirm a change; the offer can come later
    if score <= -drop and previous - score >= drop:
        reason = "negative_turn"
    elif slots["failed_streak"] >= 2:
        reason = "two_failures"
    else:
        return None
    slots["escalation_offered"] = reason
    marker = {"type": "handoff_offer", "reason": reason}
    if slots.get("offered_handoff"):
        # This reply already asks "talk to a person?" (an abstention): mark it, don't repeat it.
        asking = next((m for m in reversed(turn.messages) if m.get("buttons")), turn.messages[-1])
        asking.setdefault("custom", marker)
        return reason
    slots["offered_handoff"] = True
    texts = texts or Catalogue().for_language("en")
    turn.messages.append(
        {
            "recipient_id": turn.conv.sender,
            "text": texts("escalation_offer"),
            "buttons": handoff_buttons(texts),
            "custom": marker,
        }
    )
    return reason
