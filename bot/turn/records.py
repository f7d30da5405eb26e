"""The records of one turn: ``Turn``, its working state while the pipeline runs,
and ``Reply``, what it gives back (built from the logged ``TurnRecord``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.messages.catalogue import Texts
from bot.nlu import phrases
from bot.storage.conversations import Conversation, TurnRecord


@dataclass
class Reply:
    """Everything one turn produced; the API's response is built from it."""

    turn_id: str
    sender: str
    messages: list[dict[str, Any]]
    intent: str | None
    confidence: float | None
    entities: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    action: str | None = None
    handoff: bool = False
    fallback: bool = False
    latency_ms: float = 0.0
    # A follow-up read against the conversation: {"standalone", "topic"} (else None).
    followup: dict[str, Any] | None = None
    # The chat model's {"seconds", "tokens"} when it wrote this reply (for /metrics; not logged).
    generation: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "\n".join(m["text"] for m in self.messages if m.get("text"))

    def to_api(self) -> dict[str, Any]:
        """The ``POST /api/chat`` response body."""
        return {
            "messages": self.messages,
            "intent": self.intent,
            "confidence": self.confidence,
            "sources": self.sources,
            "action": self.action,
            "handoff": self.handoff,
            "turn_id": self.turn_id,
            **({"followup": self.followup} if self.followup else {}),
        }

    @classmethod
    def from_record(cls, record: TurnRecord) -> Reply:
        """The reply of a logged turn."""
        return cls(
            turn_id=record.turn_id,
            sender=record.sender,
            messages=record.messages,
            intent=record.intent,
            confidence=record.confidence,
            entities=record.entities,
            sources=record.sources,
            action=record.action,
            handoff=record.handoff,
            fallback=record.fallback,
            latency_ms=record.latency_ms or 0.0,
            followup=record.followup,
        )


@dataclass
class Turn:
    """Working state of the turn in progress."""

    conv: Conversation
    text: str
    parse: dict[str, Any]
    texts: Texts  # the catalogue in the reply's language
    heard: str | None = None  # the message's own language (None: too short to tell)
    messages: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    action: str | None = None
    fallback: bool = False
    # The standalone question this message was read as, when it was a follow-up
    # (bot/turn/followups.py), and the conversation topic that made it.
    standalone: str | None = None
    followup_topic: dict[str, Any] | None = None
    # Read once per turn, whichever route asks first: the knowledge hits with the
    # calibration's decision (bot/turn/knowledge.py), the catalog question (policy.py).
    decided: tuple[list[Any], str] | None = None
    catalog_query: Any = None
    # The chat model's {"seconds", "tokens"} when it composed the answer (for /metrics).
    generation: dict[str, Any] | None = None

    @property
    def slots(self) -> dict[str, Any]:
        return self.conv.slots

    @property
    def rules(self) -> list[phrases.Phrases]:
        """The lexical rules this message is read with (its language's, bot/nlu/phrases.py)."""
        return phrases.rules_for(self.heard)

    def entity(self, name: str) -> str | None:
        for e in self.parse.get("entities", []):
            if e.get("entity") == name:
                return e.get("value")
        return None

    def say(self, text: str, buttons: list[dict[str, str]] | None = None) -> None:
        msg: dict[str, Any] = {"recipient_id": self.conv.sender, "text": text}
        if buttons:
            msg["buttons"] = buttons
        self.messages.append(msg)


def mentions_product(turn: Turn) -> bool:
    """The message names one of the store's products (an NLU entity)."""
    return any(e.get("entity") == "product" for e in turn.parse.get("entities", []))
