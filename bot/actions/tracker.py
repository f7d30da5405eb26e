"""What the actions read from the rasa-sdk ``Tracker`` (the latest message's text and
entities) and the slot events they answer with."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet


def latest_entities(tracker: Tracker) -> list[dict[str, Any]]:
    """The entities of the latest message."""
    return list((tracker.latest_message or {}).get("entities") or [])


def entity(tracker: Tracker, name: str) -> str | None:
    """First value of entity ``name`` in the latest message (roles/groups ignored)."""
    for ent in latest_entities(tracker):
        if ent.get("entity") == name and ent.get("value") not in (None, ""):
            return str(ent["value"])
    return None


def message_text(tracker: Tracker) -> str:
    """The latest message's text ("" when there is none)."""
    return str((tracker.latest_message or {}).get("text") or "")


def reset(*names: str) -> list[EventType]:
    """Events that clear the slots ``names``."""
    return [SlotSet(name, None) for name in names]
