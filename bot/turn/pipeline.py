"""The path of one message: NLU, policy, action or knowledge answer, logging.

``Bot.stream_turn`` is the whole pipeline in one place. It yields events so
the server can stream a generated answer while it is being checked:

- ``{"type": "token", "text"}``: more text of the reply being generated
- ``{"type": "replace", "text"}``: withdraw the streamed text, show this instead
- ``{"type": "done", "reply": Reply}``: the finished turn, already logged

The policy is deliberately a short, readable function (``_decide``): the
business rules (verify first, explicit yes before a change, abstain when the
knowledge base does not answer) are visible in one screen.

Each message's language is told first (bot/nlu/language.py): the reply's fixed texts
come from the message catalogue in that language (bot/messages.py), and the words
that decide a route are read with that language's rules (bot/nlu/phrases.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.actions.runner import (
    CUSTOMER_SLOTS,
    ActionError,
    ActionRunner,
    apply_events,
    tracker_state,
)
from bot.answers.admission import GenerationGate
from bot.answers.grounding import answer_sources, extractive_answer, hit_source_text
from bot.config import Config
from bot.messages import Catalogue, Texts
from bot.nlu import phrases
from bot.nlu.consent import Answer, classify
from bot.nlu.language import detect, reply_language
from bot.storage.conversations import Conversation, ConversationStore, TurnRecord, identity_key
from bot.turn.escalation import offer_handoff_if_needed
from knowledge_base.calibration import Calibration, conservative

log = logging.getLogger("shopbot.dialogue")

# Intents that start a business action. Bitext names where Bitext has one.
ORDER_STATUS_INTENTS = {"track_order", "order_status"}
CANCEL_INTENTS = {"cancel_order"}
RETURN_INTENTS = {"return_order", "get_refund"}
HANDOFF_INTENTS = {"contact_human_agent"}
PRODUCT_INTENTS = {"product_info"}
SMALL_TALK = {"greet", "goodbye", "thanks"}
ORDER_ACTIONS = {
    "action_order_status",
    "action_cancel_order",
    "action_submit_return",
    "return_form",
}

# Below this intent confidence the intent does not start an action on its own.
INTENT_MIN_CONFIDENCE = 0.5

RETURN_SLOTS = ("order_id", "return_items", "return_reason")

# The words that decide a route whatever the intent model says (asking for a person,
# a question about the rules, a "no", a cancellation reason) are bot/nlu/phrases.py's, per
# language. Every text the customer reads is bot/messages.py's, in their language.

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


def handoff_buttons(texts: Texts) -> list[dict[str, str]]:
    """The "Talk to a person" / "No thanks" buttons, in the reply's language."""
    return [
        {"title": texts("button_talk_to_person"), "payload": HANDOFF_PAYLOAD},
        {"title": texts("button_no_thanks"), "payload": DECLINE_HANDOFF_PAYLOAD},
    ]


# Actions whose run may verify the customer from the details given (bot/actions/registry.py).
VERIFYING_ACTIONS = {
    "action_verify_customer",
    "action_order_status",
    "action_cancel_order",
    "action_submit_return",
    "validate_return_form",
}


@asynccontextmanager
async def _admitted() -> AsyncIterator[bool]:
    """No generator, no queue: extractive answers are always admitted."""
    yield True


@asynccontextmanager
async def _shared_lock(store: ConversationStore, sender: str) -> AsyncIterator[None]:
    """The store's cross-process lock on one conversation, released even on cancellation."""
    loop = asyncio.get_running_loop()
    acquiring = asyncio.ensure_future(asyncio.to_thread(store.lock_conversation, sender))
    try:
        locked = await asyncio.shield(acquiring)
    except asyncio.CancelledError:
        # The worker thread may still get the lock: give it back when it does.
        def give_back(f: asyncio.Future[bool]) -> None:
            if not f.cancelled() and f.exception() is None and f.result():
                loop.run_in_executor(None, store.unlock_conversation, sender)

        acquiring.add_done_callback(give_back)
        raise
    if not locked:
        log.warning("conversation %s: another server held it too long; going ahead", sender)
    try:
        yield
    finally:
        if locked:
            try:
                await asyncio.shield(asyncio.to_thread(store.unlock_conversation, sender))
            except Exception:  # the database connection went away: its locks went with it
                log.exception("conversation %s: releasing the shared lock failed", sender)


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
        }


@dataclass
class _Turn:
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


class Bot:
    """A store's assistant: holds the loaded models and runs turns."""

    def __init__(
        self,
        config: Config,
        store: Any,
        nlu: Any,
        index: Any,
        answerer: Any,
        runner: ActionRunner,
        conversations: ConversationStore,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.settings = store.settings
        # Every fixed text, per language, with the store's overrides (bot/messages.py).
        self.catalogue = catalogue or Catalogue.for_store(store)
        self.nlu = nlu
        self.index = index
        self.answerer = answerer
        self.runner = runner
        self.conversations = conversations
        self._sender_locks: dict[str, asyncio.Lock] = {}
        self._locks_loop: asyncio.AbstractEventLoop | None = None
        # Bounded admission to the chat LM: a queue, then a polite "busy" reply.
        self.generation_gate = GenerationGate.from_config(config)
        self.artifacts: Any = None
        self.order_book: Any = None
        # Called with each logged TurnRecord after the reply is ready (insights);
        # scheduled on the loop, never awaited, so they cannot delay the turn.
        self.on_turn: list[Any] = []
        # When to answer, quote, ask or abstain: the store's calibration (bot/assemble.py).
        self.calibration: Calibration = conservative()
        # Whether agents can answer handed-off conversations; None: the config decides
        # (see has_agent_inbox). The server sets it while it runs (bot/web/inbox.py).
        self.agent_inbox: bool | None = None

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
            self._expire_verification(conv)
            was_handed_off = bool(conv.slots.get("handoff"))
            heard, texts = self._language(conv, text)
            if text.strip().lower() in ("/restart", "/reset"):
                if was_handed_off:  # the customer left the agents' queue
                    await asyncio.to_thread(self.conversations.close_handoff, sender, "customer")
                conv.slots, conv.history = {"language": texts.language}, []
                turn = _Turn(
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
                turn = _Turn(conv, text, parse, texts, heard)
                async for event in self._decide(turn):
                    yield event
                if self.config.escalation_enabled and not was_handed_off:
                    # Going badly (sharp negative turn, two failures)? Offer a person first.
                    offer_handoff_if_needed(turn, self.config.escalation_sentiment_drop, texts)
                if turn.slots.get("handoff") and not was_handed_off:
                    turn.slots["handoff_reason"] = self._handoff_reason(turn)
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
        slots["language"] = language  # the actions read it (bot/actions/registry.py)
        return heard, self.catalogue.for_language(language)

    @asynccontextmanager
    async def lock_for(self, sender: str) -> AsyncIterator[None]:
        """Serialise everything that changes one conversation's state.

        In this process an asyncio lock; with PostgreSQL shared by several server
        processes, the store's conversation lock as well (bot/storage/conversations.py), so a
        customer's two quick messages on two servers cannot both start from the
        same slots.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._locks_loop:  # locks belong to one event loop
            self._sender_locks, self._locks_loop = {}, loop
        async with self._sender_locks.setdefault(sender, asyncio.Lock()):
            if getattr(self.conversations, "shared", False):
                async with _shared_lock(self.conversations, sender):
                    yield
            else:
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

    # -- the policy ---------------------------------------------------------
    async def _decide(self, turn: _Turn) -> AsyncIterator[dict[str, Any]]:
        """Choose and run what answers this message."""
        slots = turn.slots
        intent = turn.parse["intent"]["name"]
        confidence = float(turn.parse["intent"].get("confidence") or 0.0)
        confident = confidence >= INTENT_MIN_CONFIDENCE
        # How this message answers a yes/no question; a change needs Answer.YES.
        answer = classify(turn.text, turn.parse)
        no = (intent == "deny" and confident) or phrases.says_no(turn.text, turn.rules)
        payload = turn.text.strip().lower()
        self._remember_identity(turn)

        if payload == HANDOFF_PAYLOAD:
            self._clear_pending(slots)  # a person takes over: no change is left waiting
            await self._run(turn, "action_handoff")
            return
        if slots.get("handoff") and not self.has_agent_inbox():
            # No one can answer here (no agent inbox): never leave the customer waiting.
            await asyncio.to_thread(self.conversations.close_handoff, turn.conv.sender, "system")
            for key in ("handoff", "handoff_reason"):
                slots.pop(key, None)
        if slots.get("handoff"):
            # The message is logged for the agents' inbox; once an agent has
            # claimed the conversation the bot stays quiet and the agent answers.
            queued = await asyncio.to_thread(self.conversations.get_open_handoff, turn.conv.sender)
            if queued and queued["claimed_by"]:
                turn.action = "handoff_to_agent"
            else:
                turn.action = "handoff_waiting"
                turn.say(turn.texts("handoff_waiting"))
            return

        # Identity details arrived: verify before anything else uses them.
        if not slots.get("verified_customer_id") and self._has_identity(turn):
            await self._run(turn, "action_verify_customer")
            pending = slots.get("pending_action")
            if slots.get("verified_customer_id") and pending:
                await self._resume(turn, pending)
            return

        # A question we asked last turn gets its answer first: the change question
        # (never asked together with a handoff offer), then the handoff offer.
        pending = slots.get("pending_action")
        if pending and slots.get("awaiting_confirmation") and slots.get("verified_customer_id"):
            slots.pop("offered_handoff", None)
            if await self._answer_confirmation(turn, pending, answer):
                return
            pending = slots.get("pending_action")
        offered = slots.pop("offered_handoff", False)
        if payload == DECLINE_HANDOFF_PAYLOAD or (offered and answer is Answer.NO):
            turn.action = "action_listen"
            turn.say(turn.texts("deny_handoff"))
            return
        if offered and (
            answer is Answer.YES or (answer is Answer.UNCLEAR and intent == "affirm" and confident)
        ):
            await self._run(turn, "action_handoff")
            return
        if payload in _ALL_CONFIRM_PAYLOADS:
            # A button of a question no longer pending (answered, lapsed): change nothing.
            self._clear_pending(slots)
            turn.action = "action_listen"
            turn.say(turn.texts("confirmation_expired"))
            return
        if pending and slots.get("verified_customer_id"):
            if self._answers_pending_question(turn):
                await self._resume(turn, pending)
                return
        if slots.get("active_loop") == "return_form" and slots.get("verified_customer_id"):
            if no and not slots.get("requested_slot") == "return_reason":
                self._clear_pending(slots)
                turn.action = "action_deactivate_loop"
                turn.say(turn.texts("deny_change"))
                return
            if self._leaves_return_form(turn, intent, confident):
                self._clear_pending(slots)  # the customer moved on; answer the new request
            else:
                await self._continue_return_form(turn)
                return

        # A new request.
        if self._asks_for_person(turn):
            await self._run(turn, "action_handoff")
        elif policy := await self._policy_question(turn, intent, confident):
            offer = self._action_offer(turn, intent) if confident else None
            async for event in self._knowledge(turn, False, policy, offer):
                yield event
        elif confident and intent in ORDER_STATUS_INTENTS:
            await self._start(turn, "action_order_status")
        elif confident and intent in CANCEL_INTENTS:
            self._set_cancel_reason(turn)
            await self._start(turn, "action_cancel_order")
        elif confident and intent in RETURN_INTENTS:
            await self._start(turn, "return_form")
        elif talk := self._small_talk_intent(turn, intent, confident):
            self._small_talk(turn, talk)
        elif turn.entity("order_id") and not (
            confident and intent not in ("affirm", "deny", "oos")
        ):
            await self._start(turn, "action_order_status")
        elif confident and intent in PRODUCT_INTENTS or self._mentions_product(turn):
            await self._run(turn, "action_product_search")
        else:
            async for event in self._knowledge(turn, out_of_scope=intent == "oos"):
                yield event

    # -- knowledge answers --------------------------------------------------
    async def _policy_question(
        self, turn: _Turn, intent: str, confident: bool
    ) -> tuple[list[Any], str] | None:
        """The knowledge hits and the calibration's decision on them, when this
        message asks about the rules, not for an action.

        Only where the intent would otherwise start an order action or a product
        search, the message names no order, is phrased as a general question,
        and the store's policies or FAQ answer it confidently (a product as the
        best match keeps the product search: "Do you have running shoes?").
        """
        routes_to_action = confident and intent in (
            ORDER_STATUS_INTENTS | CANCEL_INTENTS | RETURN_INTENTS | PRODUCT_INTENTS
        )
        if not (routes_to_action or self._mentions_product(turn)) or turn.entity("order_id"):
            return None
        if not phrases.asks_about_rules(turn.text, turn.rules):
            return None
        hits = await asyncio.to_thread(self.index.search, turn.text, 5)
        best = hits[0] if hits else None
        if best is None or best.type == "product":
            return None
        decision, _ = self.calibration.decide(hits, self._composes())
        return (hits, decision) if decision in ("quote", "answer") else None

    def _abstain_text(self, turn: _Turn, out_of_scope: bool) -> str:
        return turn.texts("oos" if out_of_scope else "low_confidence")

    def _abstain(self, turn: _Turn, out_of_scope: bool) -> None:
        """Say honestly that the store's information does not answer; offer a person."""
        turn.action = "action_abstain"
        turn.say(self._abstain_text(turn, out_of_scope), buttons=handoff_buttons(turn.texts))
        turn.slots["offered_handoff"] = True

    @staticmethod
    def _action_offer(turn: _Turn, intent: str) -> dict[str, str] | None:
        """The button that starts the action a policy question was about, if any."""
        offer = ACTION_OFFERS.get(intent)
        return {**offer, "title": turn.texts(offer["title"])} if offer else None

    def _composes(self) -> bool:
        """Whether a chat model writes knowledge answers (else they are quotations)."""
        return getattr(getattr(self.answerer, "generator", None), "name", "none") != "none"

    async def _knowledge(
        self,
        turn: _Turn,
        out_of_scope: bool,
        decided: tuple[list[Any], str] | None = None,
        offer: dict[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Answer from the store's knowledge, ask which entry was meant, or abstain.

        ``decided``: the hits and the calibration's decision when the caller has
        them already. ``offer``: a button that starts the action the question was
        about, shown under the answer ("Start a return" under the return policy).
        """
        generates = self._composes()
        if decided is None:
            hits = await asyncio.to_thread(self.index.search, turn.text, 5)
            # The store's own calibration (knowledge_base/calibration.py) decides.
            decision, _ = self.calibration.decide(hits, generates)
        else:
            hits, decision = decided
        best = hits[0] if hits else None
        # An out-of-scope intent with a plausible store match ("how much is delivery"
        # beside the FAQ "How much does shipping cost?") gets the clarifying question
        # below, not a refusal: the customer picks the entry or a person.
        if best is None or decision == "abstain":
            self._abstain(turn, out_of_scope)
            return
        if decision == "clarify":
            turn.action = "action_clarify"
            options = []
            for i, hit in enumerate(hits[:3]):
                if (i == 0 or self.calibration.plausible(hits, i)) and hit.title not in options:
                    options.append(hit.title)
            turn.say(
                turn.texts("clarify"),
                buttons=[{"title": t, "payload": t} for t in options]
                + [{"title": turn.texts("button_none_of_these"), "payload": "/handoff"}],
            )
            turn.sources = [h.source() for h in hits[:3]]
            return
        if best.type == "product":
            reranker = getattr(self, "product_reranker", None)
            if reranker is not None:  # the customer's profile breaks near-ties (personalise.py)
                best = await asyncio.to_thread(reranker.best_product, turn.conv.sender, hits, best)
            # Prices and availability come from the catalog action, never from the LM.
            turn.parse.setdefault("entities", []).append(
                {
                    "entity": "product",
                    "value": best.title,
                    "product_id": best.meta.get("product_id"),
                }
            )
            await self._run(turn, "action_product_search")
            turn.sources = [best.source()]
            return
        # The merchant's own answer to this question, sent as written (a curated
        # reply), less any sentence addressing the assistant (store text is data).
        quotes = decision == "quote" and best.type == "faq" and self.config.curated_answers
        curated = hit_source_text(best) if quotes else ""
        if curated:
            turn.action = "action_answer_curated"
            turn.sources = [best.source()]
            yield {"type": "token", "text": curated}
            turn.say(curated, buttons=[offer] if offer else None)
            return
        used = answer_sources(hits)
        turn.action = "action_answer"
        turn.sources = [h.source() for h in used]
        final: dict[str, Any] = {}
        # Beyond the generator's capacity and its bounded queue: a polite "busy"
        # that still quotes the store's information (bot/answers/admission.py).
        gate = self.generation_gate.slot() if generates else _admitted()
        async with gate as admitted:
            if not admitted:
                turn.action = "action_answer_busy"
                turn.fallback = True
                turn.say(
                    turn.texts("busy", answer=extractive_answer(used)),
                    buttons=[offer] if offer else None,
                )
                return
            # Below the quote point the passages may not answer: when the model's
            # reply is refused, say so honestly rather than quote a near miss.
            unsure = self._abstain_text(turn, out_of_scope) if decision != "quote" else None
            async for event in self.answerer.stream(
                turn.text, used, turn.conv.history[-4:], self.settings, fallback=unsure
            ):
                if event["type"] == "final":
                    final = event
                else:
                    yield event
        turn.fallback = bool(final.get("fallback"))
        if turn.fallback and unsure is not None:
            self._abstain(turn, out_of_scope)
            return
        turn.say(final.get("text") or used[0].answer, buttons=[offer] if offer else None)

    # -- business actions ---------------------------------------------------
    async def _start(self, turn: _Turn, action: str) -> None:
        """Begin a business flow; verification comes first for order actions."""
        slots = turn.slots
        self._clear_pending(slots)
        if turn.entity("order_id"):
            slots["order_id"] = turn.entity("order_id")
        if action == "return_form":
            slots["active_loop"] = "return_form"
            for name in RETURN_SLOTS:
                if name != "order_id" or not turn.entity("order_id"):
                    slots[name] = None
            if not slots.get("verified_customer_id"):
                slots["pending_action"] = "return_form"
                await self._run(turn, "action_verify_customer")
                return
            await self._continue_return_form(turn)
            return
        await self._run(turn, action)

    async def _resume(self, turn: _Turn, pending: str) -> None:
        """Continue the flow that waited for verification, an answer or a yes."""
        if pending == "return_form":
            turn.slots["pending_action"] = None
            await self._continue_return_form(turn)
        else:
            self._set_cancel_reason(turn)
            await self._run(turn, pending)

    async def _continue_return_form(self, turn: _Turn) -> None:
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
            await self._run(turn, "validate_return_form", requested_slot=requested)
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
        await self._run(turn, "action_submit_return")

    async def _run(self, turn: _Turn, action: str, requested_slot: str | None = None) -> None:
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
                agent_inbox=self.has_agent_inbox(),
            ),
            turn.parse,
            active_loop={"name": slots["active_loop"]} if slots.get("active_loop") else None,
        )
        try:
            result = await self.runner.run(action, tracker)
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
                self._clear_pending(slots)
                turn.say(turn.texts("verification_handoff"))
                await self._run(turn, "action_handoff")

    # -- consent and verification limits ----------------------------------------
    async def _answer_confirmation(self, turn: _Turn, pending: str, answer: Answer) -> bool:
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
        elif payload in _ALL_CONFIRM_PAYLOADS:
            answer = Answer.OTHER  # another question's button: answered below as stale
        asked = float(slots.get("confirmation_asked_at") or 0.0)
        expired = time.time() - asked > self.config.confirmation_timeout_seconds
        turn.action = "action_listen"
        if answer is Answer.NO:
            self._clear_pending(slots)
            turn.say(turn.texts("deny_change"))
            return True
        if answer is Answer.YES and not expired:
            slots["confirmed"] = True
            await self._resume(turn, pending)
            return True
        if answer is Answer.YES or (answer is Answer.UNCLEAR and expired):
            self._clear_pending(slots)
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
        if expired or not new_detail or payload in _ALL_CONFIRM_PAYLOADS:
            self._clear_pending(slots)  # another request came in between: the question lapses
        return False

    def has_agent_inbox(self) -> bool:
        """Whether people can answer handed-off conversations here (the agents' inbox).

        The server sets ``agent_inbox`` while it runs (bot/web/inbox.py); otherwise the
        config decides: the inbox exists only with an admin token.
        """
        if self.agent_inbox is not None:
            return bool(self.agent_inbox)
        return bool(self.config.admin_token)

    def _verification_over_limit(self, sender: str, keys: tuple[str, ...]) -> bool:
        """Too many failed identity checks: in this conversation, or on this customer."""
        cfg = self.config
        since = time.time() - cfg.verification_failure_window_seconds
        store = self.conversations
        if store.verification_failures(since, sender=sender) >= cfg.verification_max_failures:
            return True
        return store.verification_failures(since, keys=keys) >= (
            cfg.verification_max_failures_per_customer
        )

    async def _verification_failed(self, turn: _Turn, reason: str, keys: tuple[str, str]) -> None:
        """Log a failed identity check for the merchant; lock verification past the limits."""
        sender = turn.conv.sender
        log.warning("conversation %s: identity check failed (%s)", sender, reason)
        await asyncio.to_thread(
            self.conversations.record_verification_failure, sender, reason, keys[0], keys[1]
        )
        if await asyncio.to_thread(self._verification_over_limit, sender, keys):
            turn.slots["verification_locked"] = True

    # -- small helpers --------------------------------------------------------
    def _expire_verification(self, conv: Conversation) -> None:
        """A verification lasts while the conversation is active, not forever.

        After ``verification_idle_minutes`` without a message, the verified
        identity, the details it was made from and any change waiting for a yes
        are forgotten: order details and changes need verifying again.
        """
        now = time.time()
        slots = conv.slots
        idle = now - float(slots.get("last_active") or now)
        if slots.get("verified_customer_id") and idle > self.config.verification_idle_minutes * 60:
            for key in CUSTOMER_SLOTS:
                slots.pop(key, None)
            self._clear_pending(slots)
        slots["last_active"] = now

    def _remember_identity(self, turn: _Turn) -> None:
        slots = turn.slots
        for entity, slot in (
            ("email", "customer_email"),
            ("person_name", "customer_name"),
            ("zip", "customer_zip"),
        ):
            value = turn.entity(entity)
            if value:
                slots[slot] = value

    def _has_identity(self, turn: _Turn) -> bool:
        """This message brought identity details that make verification possible."""
        brought = any(turn.entity(e) for e in ("email", "person_name", "zip"))
        slots = turn.slots
        complete = slots.get("customer_email") or (
            slots.get("customer_name") and slots.get("customer_zip")
        )
        return bool(brought and complete)

    def _answers_pending_question(self, turn: _Turn) -> bool:
        """The message carries what a pending action asked for (order id, reason)."""
        if turn.entity("order_id"):
            turn.slots["order_id"] = turn.entity("order_id")
            return True
        return self._set_cancel_reason(turn)

    def _leaves_return_form(self, turn: _Turn, intent: str, confident: bool) -> bool:
        """A confident, different request while the form waits for an order id."""
        if turn.slots.get("requested_slot") not in (None, "order_id") or turn.entity("order_id"):
            return False
        return confident and intent not in RETURN_INTENTS | {"affirm", "deny", "oos"}

    def _handoff_reason(self, turn: _Turn) -> str:
        """Why this turn handed off, in words an agent can act on."""
        asked = [h["content"] for h in turn.conv.history if h.get("role") == "user"]
        before = f": {asked[-1][:200]}" if asked else ""
        if turn.text.strip() == "/handoff":
            return f"customer chose to talk to a person after asking{before}"
        if self._asks_for_person(turn):
            return f"customer asked for a person: {turn.text.strip()[:200]}"
        return f"the assistant could not help with{before or ' the request'}"

    def _asks_for_person(self, turn: _Turn) -> bool:
        """The best intent is the handoff one (not rejected as out of scope; the
        confidence bar for actions does not apply) or the words ask for a person."""
        return turn.parse["intent"]["name"] in HANDOFF_INTENTS or phrases.asks_for_person(
            turn.text, turn.rules
        )

    def _set_cancel_reason(self, turn: _Turn) -> bool:
        reason = phrases.cancel_reason(turn.text, turn.rules)
        if reason:
            turn.slots["cancel_reason"] = reason
        return bool(reason)

    def _mentions_product(self, turn: _Turn) -> bool:
        return any(e.get("entity") == "product" for e in turn.parse.get("entities", []))

    def _clear_pending(self, slots: dict[str, Any]) -> None:
        for key in (
            "pending_action",
            "confirmed",
            "awaiting_confirmation",
            "confirmation_asked_at",
            "requested_slot",
            "active_loop",
        ):
            slots.pop(key, None)

    def _small_talk_intent(self, turn: _Turn, intent: str, confident: bool) -> str | None:
        """Greet, thanks or goodbye: the intent model's, or the message language's rules
        (the model reads English small talk; "谢谢" is the rules')."""
        if confident and intent in SMALL_TALK:
            return intent
        return phrases.small_talk(turn.text, turn.rules)

    def _small_talk(self, turn: _Turn, intent: str) -> None:
        turn.action = f"utter_{intent}"
        turn.say(turn.texts("greeting" if intent == "greet" else intent))

    async def _finish(self, turn: _Turn, started: float) -> Reply:
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
        )
        await asyncio.to_thread(self.conversations.save_turn, record, conv)
        loop = asyncio.get_running_loop()
        for callback in self.on_turn:
            loop.call_soon(callback, record)
        return Reply(
            turn_id=record.turn_id,
            sender=conv.sender,
            messages=turn.messages,
            intent=record.intent,
            confidence=record.confidence,
            entities=record.entities,
            sources=turn.sources,
            action=turn.action,
            handoff=record.handoff,
            fallback=turn.fallback,
            latency_ms=record.latency_ms or 0.0,
        )


_ALL_CONFIRM_PAYLOADS = {p for pair in CONFIRM_PAYLOADS.values() for p in pair}

# What the return form asks for each slot (catalogue keys).
RETURN_QUESTIONS = {
    "order_id": "return_ask_order_id",
    "return_items": "return_ask_items",
    "return_reason": "return_ask_reason",
}
