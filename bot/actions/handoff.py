"""Handing the conversation to a person (``action_handoff``), or, where no agent can
answer in this chat, telling the customer how to reach the store."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.messages.catalogue import Catalogue


class ActionHandoff(Action):
    """Hand the conversation to a person: set ``handoff`` and say the store's handoff text.

    Only where agents can answer: when the dialogue says there is no agent inbox (slot
    ``agent_inbox`` False), nobody would ever reply in this chat, so the customer is told
    how to reach the store instead and the conversation stays with the assistant.
    """

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        """``catalogue``: the store's texts (``handoff``, ``contact``: store.toml's
        ``handoff_text`` / ``contact_text`` in the store's language)."""
        self.catalogue = catalogue or Catalogue()

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        t = self.catalogue.for_language(tracker.get_slot("language"))
        if tracker.get_slot("agent_inbox") is False:
            dispatcher.utter_message(text=t("no_inbox_handoff", contact=t("contact")))
            return [SlotSet("handoff", None), SlotSet("pending_action", None)]
        dispatcher.utter_message(text=t("handoff"))
        return [SlotSet("handoff", True), SlotSet("pending_action", None)]
