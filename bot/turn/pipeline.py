"""The path of one message: language, NLU, policy, the chosen answer, the log.

``Bot.stream_turn`` is the whole pipeline in one place, top to bottom:

1. take the conversation's lock and load it (slots, recent history);
2. tell the message's language (bot/nlu/language.py): the reply's fixed texts
   come from the message catalogue in it (bot/messages/), the words that
   decide a route are read with its rules (bot/nlu/phrases.py);
3. read the message (bot/nlu/parser.py: intent model and entities);
4. let the policy choose and run what answers it (bot/turn/policy.py: a
   business flow of bot/turn/flows.py, a knowledge answer of
   bot/turn/knowledge.py, small talk, a handoff);
5. offer a person when the conversation is going badly (bot/turn/escalation.py);
6. log the turn with the state it leaves (bot/storage/conversations.py), and
   only then reply.

It yields events so the server can stream a generated answer while it is
being checked:

- ``{"type": "token", "text"}``: more text of the reply being generated
- ``{"type": "replace", "text"}``: withdraw the streamed text, show this instead
- ``{"type": "done", "reply": Reply}``: the finished turn, already logged
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bot.messages.catalogue import Texts
from bot.nlu.language import detect, reply_language
from bot.storage.conversations import Conversation, TurnRecord
from bot.turn import followups
from bot.turn.escalation import offer_handoff_if_needed
from bot.turn.flows import Flows
from bot.turn.knowledge import KnowledgeAnswers
from bot.turn.locks import ConversationLocks
from bot.turn.policy import Policy
from bot.turn.records import Reply, Turn
from bot.turn.services import Services

__all__ = ["Bot", "Reply"]


class _Service:
    """A ``Services`` field shown as the bot's own attribute: reads and writes go through."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, bot: Any, owner: type | None = None) -> Any:
        return self if bot is None else getattr(bot.services, self.name)

    def __set__(self, bot: Any, value: Any) -> None:
        setattr(bot.services, self.name, value)


class Bot:
    """A store's assistant: its services (bot/turn/services.py) and the pipeline of a turn."""

    config = _Service()
    store = _Service()
    nlu = _Service()
    index = _Service()
    answerer = _Service()
    runner = _Service()
    conversations = _Service()
    catalogue = _Service()
    calibration = _Service()
    generation_gate = _Service()
    order_book = _Service()
    artifacts = _Service()
    product_reranker = _Service()
    agent_inbox = _Service()
    adapter_path = _Service()

    def __init__(self, services: Services, on_turn: Sequence[Callable[[TurnRecord], Any]] = ()):
        self.services = services
        self.settings = services.store.settings
        # Called with each logged TurnRecord after the reply is ready (insights);
        # scheduled on the loop, never awaited, so they cannot delay the turn.
        self.on_turn: list[Callable[[TurnRecord], Any]] = list(on_turn)
        self.locks = ConversationLocks()
        self.flows = Flows(services)
        self.policy = Policy(services, self.flows, KnowledgeAnswers(services, self.flows.run))

    def __copy__(self) -> Bot:
        """A bot sharing this one's loaded models, whose services are its own: replacing
        one on the copy (``copy.copy(bot).index = ...``) leaves this bot as it is."""
        return Bot(dataclasses.replace(self.services), self.on_turn)

    # -- public entry points -------------------------------------------------
    async def handle(self, sender: str, text: str, metadata: dict | None = None) -> Reply:
        """Run one turn to completion and return its reply."""
        reply: Reply | None = None
        async for event in self.stream_turn(sender, text, metadata):
            if event["type"] == "done":
                reply = event["reply"]
        assert reply is not None
        return reply

    async def stream_turn(
        self, sender: str, text: str, metadata: dict | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Run one turn, yielding streamed text and finally the logged reply."""
        async with self.lock_for(sender):  # one turn at a time keeps slots consistent
            started = time.perf_counter()
            conv = await asyncio.to_thread(self.conversations.load_conversation, sender)
            self.flows.expire_verification(conv)
            was_handed_off = bool(conv.slots.get("handoff"))
            heard, texts = self._language(conv, text)
            if text.strip().lower() in ("/restart", "/reset"):
                if was_handed_off:  # the customer left the agents' queue
                    await asyncio.to_thread(self.conversations.close_handoff, sender, "customer")
                conv.slots, conv.history = {"language": texts.language}, []
                turn = Turn(
                    conv,
                    text,
                    {
                        "text": text,
                        "intent": {"name": "restart", "confidence": 1.0},
                        "entities": [],
                        "intent_ranking": [],
                    },
                    texts,
                )
                turn.say(texts("restart"))
                turn.action = "action_restart"
            else:
                parse = await asyncio.to_thread(self.nlu.parse, text)
                turn = Turn(conv, text, parse, texts, heard)
                async for event in self.policy.decide(turn):
                    yield event
                if self.config.escalation_enabled and not was_handed_off:
                    # Going badly (sharp negative turn, two failures)? Offer a person first.
                    offer_handoff_if_needed(turn, self.config.escalation_sentiment_drop, texts)
                if turn.slots.get("handoff") and not was_handed_off:
                    turn.slots["handoff_reason"] = self.policy.handoff_reason(turn)
                followups.remember(turn)  # what the next message may follow up on
            reply = await self._finish(turn, started)
            if turn.slots.get("handoff") and not was_handed_off:
                await asyncio.to_thread(
                    self.conversations.open_handoff, sender, turn.slots["handoff_reason"]
                )
            yield {"type": "done", "reply": reply}

    def _language(self, conv: Conversation, text: str) -> tuple[str | None, Texts]:
        """The message's own language (bot/nlu/language.py) and the texts to reply with.

        The reply is in the message's language when the bot speaks it; a message too
        short to tell ("ok", an order id) or one of the buttons just offered (their
        payloads are English) keeps the conversation's language (slot ``language``),
        and the first such message gets the store's.
        """
        slots = conv.slots
        offered = text.strip() in (slots.get("offered_payloads") or ())
        heard = None if offered else detect(text)
        language = reply_language(heard, slots.get("language"), self.catalogue.store_language)
        slots["language"] = language  # the actions read it (bot/actions/)
        return heard, self.catalogue.for_language(language)

    @asynccontextmanager
    async def lock_for(self, sender: str) -> AsyncIterator[None]:
        """Serialise everything that changes one conversation's state (bot/turn/locks.py)."""
        async with self.locks.hold(self.conversations, sender):
            yield

    async def hand_back(self, sender: str, agent: str) -> None:
        """An agent returns the conversation to the bot: clear the handoff, tell the customer."""
        async with self.lock_for(sender):
            conv = await asyncio.to_thread(self.conversations.load_conversation, sender)
            for key in ("handoff", "handoff_reason", "offered_handoff"):
                conv.slots.pop(key, None)
            notice = self.catalogue.text("handed_back", conv.slots.get("language"))
            conv.history.append({"role": "assistant", "content": notice})
            record = TurnRecord(
                sender=sender,
                user_text="",
                action="handback",
                messages=[{"recipient_id": sender, "text": notice}],
                author="system",
            )
            # Closed first: whoever is woken by the notice already sees the queue without it.
            await asyncio.to_thread(self.conversations.close_handoff, sender, agent)
            await asyncio.to_thread(self.conversations.save_turn, record, conv)

    def parse(self, text: str) -> dict[str, Any]:
        """NLU only (``POST /model/parse``)."""
        return self.nlu.parse(text)

    def has_agent_inbox(self) -> bool:
        """Whether people can answer handed-off conversations here (the agents' inbox)."""
        return self.services.has_agent_inbox()

    async def _finish(self, turn: Turn, started: float) -> Reply:
        """Log the turn with the state it leaves; only then is it acknowledged."""
        if not turn.messages and turn.action != "handoff_to_agent":
            turn.say(turn.texts("low_confidence"))
        # A click on one of this reply's buttons keeps the conversation's language.
        payloads = [b["payload"] for m in turn.messages for b in m.get("buttons") or []]
        if payloads:
            turn.slots["offered_payloads"] = payloads
        else:
            turn.slots.pop("offered_payloads", None)
        latency = (time.perf_counter() - started) * 1000
        conv = turn.conv
        reply_text = "\n".join(m["text"] for m in turn.messages if m.get("text"))
        conv.history.extend(
            [{"role": "user", "content": turn.text}, {"role": "assistant", "content": reply_text}]
        )
        record = TurnRecord(
            sender=conv.sender,
            user_text=turn.text,
            intent=turn.parse["intent"]["name"],
            confidence=turn.parse["intent"].get("confidence"),
            entities=turn.parse.get("entities", []),
            sources=turn.sources,
            action=turn.action,
            messages=turn.messages,
            # Handed to people: to the agents' inbox (the slot), or, without an inbox, to
            # the store's own contact channel (action_handoff said how to reach it).
            handoff=bool(conv.slots.get("handoff")) or turn.action == "action_handoff",
            fallback=turn.fallback,
            latency_ms=round(latency, 1),
            followup=(
                {"standalone": turn.standalone, "topic": turn.followup_topic}
                if turn.followup_topic
                else None
            ),
        )
        await asyncio.to_thread(self.conversations.save_turn, record, conv)
        loop = asyncio.get_running_loop()
        for callback in self.on_turn:
            loop.call_soon(callback, record)
        reply = Reply.from_record(record)
        reply.generation = turn.generation  # timing for /metrics, not part of the log
        return reply
