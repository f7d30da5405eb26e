"""The policy: what answers one message.

``Policy.decide`` is the routing in one place, in order: a person asked for;
a handoff in progress; identity details to verify; the answer to the question
asked last turn (a change's yes, a handoff offer, the return form's next
field); then a new request: a person, a question about the rules, an order
action, small talk, a product, or the store's knowledge. The business rules
(verify first, an explicit yes before a change, abstain when the knowledge does
not answer) are visible in that one function; the flows it starts are
bot/turn/flows.py's, knowledge answers bot/turn/knowledge.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from bot.actions.catalog_query import CatalogQuery, read_query
from bot.actions.catalog_vocab import CatalogVocabulary
from bot.actions.order_refs import about_orders, asks_for_own_orders, resolve_order
from bot.actions.order_status import CHOICE_PAYLOAD, LIST_ORDERS_PAYLOAD
from bot.actions.runner import IDENTITY_SLOTS
from bot.nlu import phrases
from bot.nlu.consent import Answer, classify
from bot.turn import followups
from bot.turn.flows import Flows, clear_pending
from bot.turn.knowledge import DECISION_RANK, KnowledgeAnswers
from bot.turn.records import Turn, mentions_product
from bot.turn.routes import (
    ALL_CONFIRM_PAYLOADS,
    CANCEL_INTENTS,
    DECLINE_HANDOFF_PAYLOAD,
    HANDOFF_INTENTS,
    HANDOFF_PAYLOAD,
    INTENT_MIN_CONFIDENCE,
    ORDER_STATUS_INTENTS,
    PRODUCT_INTENTS,
    RETURN_INTENTS,
    SMALL_TALK,
    handoff_buttons,
)
from bot.turn.routing import Router
from bot.turn.services import Services

# The order action's buttons: the list, and one order chosen ("show order <id>").
SHOW_ORDER_PREFIX = CHOICE_PAYLOAD.split("{", 1)[0]
# Intents that ask for an action outright: never read as a follow-up.
ACTION_INTENTS = ORDER_STATUS_INTENTS | CANCEL_INTENTS | RETURN_INTENTS | HANDOFF_INTENTS


class Policy:
    """Chooses and runs what answers each message; its collaborators are passed in."""

    def __init__(self, services: Services, flows: Flows, knowledge: KnowledgeAnswers) -> None:
        self.s = services
        self.flows = flows
        self.knowledge = knowledge
        self.router = Router(services)
        self._vocab: tuple[Any, CatalogVocabulary] | None = None  # (store, its words)

    async def decide(self, turn: Turn) -> AsyncIterator[dict[str, Any]]:
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
            clear_pending(slots)  # a person takes over: no change is left waiting
            await self.flows.run(turn, "action_handoff")
            return
        if slots.get("handoff") and not self.s.has_agent_inbox():
            # No one can answer here (no agent inbox): never leave the customer waiting.
            await asyncio.to_thread(self.s.conversations.close_handoff, turn.conv.sender, "system")
            for key in ("handoff", "handoff_reason"):
                slots.pop(key, None)
        if slots.get("handoff"):
            # The message is logged for the agents' inbox; once an agent has
            # claimed the conversation the bot stays quiet and the agent answers.
            queued = await asyncio.to_thread(
                self.s.conversations.get_open_handoff, turn.conv.sender
            )
            if queued and queued["claimed_by"]:
                turn.action = "handoff_to_agent"
            else:
                turn.action = "handoff_waiting"
                turn.say(turn.texts("handoff_waiting"))
            return

        # Identity details arrived: verify before anything else uses them.
        if not slots.get("verified_customer_id") and self._has_identity(turn):
            await self.flows.run(turn, "action_verify_customer")
            pending = slots.get("pending_action")
            if slots.get("verified_customer_id") and pending:
                await self.flows.resume(turn, pending)
            elif slots.get("verified_customer_id") and (
                turn.entity("order_id")
                or confident
                and intent in ORDER_STATUS_INTENTS
                or about_orders(turn.text, slots, self.s.order_book)
            ):
                # Who they are and what they want in one message: "I'm Yara Li, zip
                # 10126. What's the status of #W3400144?"
                await self.flows.run(turn, "action_order_status")
            return

        # A question we asked last turn gets its answer first: the change question
        # (never asked together with a handoff offer), then the handoff offer.
        pending = slots.get("pending_action")
        if pending and slots.get("awaiting_confirmation") and slots.get("verified_customer_id"):
            slots.pop("offered_handoff", None)
            if await self.flows.answer_confirmation(turn, pending, answer):
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
            await self.flows.run(turn, "action_handoff")
            return
        offered_list = slots.pop("offered_order_list", False)
        if self._asks_for_order_list(turn, payload, offered_list, answer):
            await self.flows.start(turn, "action_order_status")
            return
        if payload in ALL_CONFIRM_PAYLOADS:
            # A button of a question no longer pending (answered, lapsed): change nothing.
            clear_pending(slots)
            turn.action = "action_listen"
            turn.say(turn.texts("confirmation_expired"))
            return
        if pending and slots.get("verified_customer_id"):
            if self.flows.answers_pending_question(turn):
                await self.flows.resume(turn, pending)
                return
        if slots.get("active_loop") == "return_form" and slots.get("verified_customer_id"):
            if slots.get("requested_slot") in (None, "order_id") and not turn.entity("order_id"):
                chosen = resolve_order(turn.text, slots, self.s.order_book)
                if chosen:  # "the first one" of the orders just listed
                    turn.parse.setdefault("entities", []).append(
                        {"entity": "order_id", "value": chosen}
                    )
                elif about_orders(turn.text, slots, self.s.order_book):
                    # "which orders do I have?": the list, and the form keeps waiting.
                    await self.flows.run(turn, "action_order_status")
                    return
            if no and not slots.get("requested_slot") == "return_reason":
                clear_pending(slots)
                turn.action = "action_deactivate_loop"
                turn.say(turn.texts("deny_change"))
                return
            if self._leaves_return_form(turn, intent, confident):
                clear_pending(slots)  # the customer moved on; answer the new request
            else:
                await self.flows.continue_return_form(turn)
                return

        # A new request.
        if self._asks_for_person(turn):
            await self.flows.run(turn, "action_handoff")
        elif (bar := self._knowledge_bar(turn, intent, confident)) and (
            policy := await self.knowledge.policy_question(turn, intent, confident, at_least=bar)
        ):
            offer = self.knowledge.action_offer(turn, intent) if confident else None
            async for event in self.knowledge.answer(turn, False, policy, offer):
                yield event
        elif about_orders(turn.text, slots, self.s.order_book):
            # About the verified customer's own orders: "which one was delivered?", or
            # a change to one of them ("cancel the pending one").
            if intent in CANCEL_INTENTS:
                self.flows.set_cancel_reason(turn)
                await self.flows.start(turn, "action_cancel_order")
            elif intent in RETURN_INTENTS:
                await self.flows.start(turn, "return_form")
            else:
                await self.flows.start(turn, "action_order_status")
        elif (
            confident
            and intent in ORDER_STATUS_INTENTS
            or self._asks_for_own_orders(turn, intent, confident)
        ):
            await self.flows.start(turn, "action_order_status")
        elif confident and intent in CANCEL_INTENTS:
            self.flows.set_cancel_reason(turn)
            await self.flows.start(turn, "action_cancel_order")
        elif confident and intent in RETURN_INTENTS:
            await self.flows.start(turn, "return_form")
        elif talk := self._small_talk_intent(turn, intent, confident):
            self._small_talk(turn, talk)
        # After small talk: "that's great, thanks!" after a product list is thanks.
        elif follow := await self._follow_up(turn, intent, confident):
            kind, decided = follow
            if kind == "knowledge":
                async for event in self.knowledge.answer(turn, False, decided):
                    yield event
            elif kind == "product":
                await self.flows.run(turn, "action_product_search")
            elif kind == "not_listed":
                self._not_listed(turn)
            else:
                await self.flows.start(turn, "action_order_status")
        elif turn.entity("order_id") and not (
            confident and intent not in ("affirm", "deny", "oos")
        ):
            await self.flows.start(turn, "action_order_status")
        elif (
            confident
            and intent in PRODUCT_INTENTS
            or mentions_product(turn)
            or self._reads_catalog(turn)
        ):
            # Not an NLU product match: when the store's pages or FAQ match better than
            # any product, they answer ("is the warranty on sofa frames?" names a kind of
            # product but is the warranty page's), or, for a product intent naming no
            # product at all, ask which entry was meant ("do you have gift cards?" is the
            # payments page's, not an empty catalog search).
            decided, route = None, "catalog"
            at_least = self._knowledge_bar(turn, intent, confident)
            # A price or stock question naming a product is the catalog's to answer
            # ("不锈钢保温杯多少钱" beside the FAQ on how long the flask keeps warm).
            query = self._catalog_query(turn)
            prices = query.named and (query.asks_price or query.in_stock)
            if at_least and not mentions_product(turn) and not prices:
                if not self._reads_catalog(turn):
                    at_least = "clarify"
                decided = await self.knowledge.store_answer(turn, at_least=at_least)
            if at_least and not decided:
                # Names a product, but may ask the store's rules about it (routing.py).
                bar = max(at_least, "answer", key=DECISION_RANK.__getitem__)
                query, vocab = self._catalog_query(turn), self._vocabulary()
                route, decided = await self.router.route(turn, query, vocab, bar)
            if decided:
                async for event in self.knowledge.answer(turn, False, decided):
                    yield event
            elif route == "not_listed":
                self._not_listed(turn, [p.title for p in self._catalog_query(turn).named])
            else:
                await self.flows.run(turn, "action_product_search")
        else:
            async for event in self.knowledge.answer(turn, out_of_scope=intent == "oos"):
                yield event

    def _knowledge_bar(self, turn: Turn, intent: str, confident: bool) -> str | None:
        """How sure the store's pages must be to answer a message instead of the
        catalog: not at all for a catalog question about the products just shown ("do
        you have them in size 11?": the size guide is no answer); a product question
        naming the catalog's products ("do you sell electronics?") only for the
        merchant's own answer (a quote), never a composed one; a request for products
        ("show me your sunscreens") not at all; a rules question naming one ("can I
        return running shoes?") as usual."""
        topic = (turn.slots.get(followups.TOPIC_SLOT) or {}).get("kind")
        if topic == "product" and turn.slots.get("last_products") and self._about_shown(turn):
            return None
        if self._reads_catalog(turn) and (
            phrases.asks_for_products(turn.text, turn.rules)
            or (
                phrases.asks_availability(turn.text, turn.rules)
                and not phrases.tells_situation(turn.text, turn.rules)
            )
        ):
            return None  # "show me your sunscreens", "do you sell electronics?"
        if confident and intent in PRODUCT_INTENTS and self._reads_catalog(turn):
            return "quote"
        return "answer"

    def _asks_catalog(self, turn: Turn) -> bool:
        """The message asks the catalog something (CatalogQuery.asks_catalog); a
        comparison only with two products to compare."""
        query = self._catalog_query(turn)
        shown = turn.slots.get("last_products") or []
        return query.asks_catalog(compare=len(query.named) + len(shown) > 1)

    def _about_shown(self, turn: Turn) -> bool:
        """A catalog question about the products just shown, naming no other: it points
        back at them ("do you have them in size 11?") or names their own option values
        ("is there one in size L?"). An option name alone is not enough ("what's your
        size guide?" is the store's page)."""
        query = self._catalog_query(turn)
        if query.named or not self._asks_catalog(turn):
            return False
        if query.refers_back:
            return True
        vocab = self._vocabulary()
        shown = {str(pid) for pid in turn.slots.get("last_products") or []}
        values = set(query.value_mentions) | {
            v for vals in query.entity_values.values() for v in vals
        }
        return any(shown & vocab.values.get(v, set()) for v in values)

    def _catalog_query(self, turn: Turn) -> CatalogQuery:
        """The message read as a catalog question, with the store's own vocabulary
        (once per turn)."""
        if turn.catalog_query is not None:
            return turn.catalog_query
        turn.catalog_query = read_query(
            turn.text,
            turn.parse.get("entities", []),
            self._vocabulary(),
            turn.slots.get("last_products"),
        )
        return turn.catalog_query

    def _vocabulary(self) -> CatalogVocabulary:
        """The catalog's words, built once per store."""
        store = self.s.store
        if self._vocab is None or self._vocab[0] is not store:
            self._vocab = (store, CatalogVocabulary(list(store.products)))
        return self._vocab[1]

    def _asks_for_own_orders(self, turn: Turn, intent: str, confident: bool) -> bool:
        """Before verification, "which orders do I have?", "where is my most recent
        order?", "where is my vacuum order": the order action, which asks who the
        customer is first (a cancel or a return starts its own flow)."""
        if turn.slots.get("verified_customer_id") or self.s.order_book is None:
            return False
        if confident and intent in CANCEL_INTENTS | RETURN_INTENTS:
            return False
        return asks_for_own_orders(turn.text)

    def _reads_catalog(self, turn: Turn) -> bool:
        """The message names products of the catalog (a title, a kind of product), or
        filters the whole catalog ("anything under $30?", "your cheapest thing")."""
        if not getattr(self.s.store, "products", None):
            return False
        query = self._catalog_query(turn)
        filters = query.has_price_bounds or query.extreme or query.sort or query.in_stock
        return bool(query.named) or bool(query.catalog_wide and filters)

    @staticmethod
    def _asks_for_order_list(turn: Turn, payload: str, offered: bool, answer: Answer) -> bool:
        """The order list's button, a chosen order's button, or a yes to the offer to
        list the orders (bot/actions/order_status.py makes the offer)."""
        if payload == LIST_ORDERS_PAYLOAD or payload.startswith(SHOW_ORDER_PREFIX):
            return True
        return offered and answer is Answer.YES

    async def _follow_up(
        self, turn: Turn, intent: str, confident: bool
    ) -> tuple[str, tuple[list[Any], str] | None] | None:
        """A follow-up on the conversation's topic (bot/turn/followups.py): the route
        ("knowledge" with the hits and decision, "product", "order"), or None.

        A message that asks for an action outright, or names its own order or product,
        is no follow-up; neither is one the store's knowledge answers on its own words
        ("and what is your return policy?" after a product list).
        """
        if confident and intent in ACTION_INTENTS or turn.entity("order_id"):
            return None
        if mentions_product(turn):
            return None
        kind = (turn.slots.get(followups.TOPIC_SLOT) or {}).get("kind")
        reads_back = phrases.follow_up(turn.text, turn.rules) is not None
        if kind == "product" and not reads_back:
            # "is the blue one in stock?", "the cheaper one?": the catalog's own words.
            query = self._catalog_query(turn)
            reads_back = (query.refers_back or self._asks_catalog(turn)) and not query.named
        if not reads_back:
            return None
        if kind == "knowledge":
            hits, decision = await self.knowledge.decide(turn)
            if turn.standalone and decision != "abstain":
                return "knowledge", (hits, decision)
            return None
        topic = turn.slots.get(followups.TOPIC_SLOT)
        if kind == "product" and turn.slots.get("last_products"):
            # A question the catalog holds ("what sizes do they come in and how much?")
            # leaves the catalog only for the merchant's own answer to it ("how much is
            # shipping?"), never for a composed one: passages hold no prices or stock.
            query = self._catalog_query(turn)
            if self._about_shown(turn):
                own = None  # "do you have them in size 11?": only the catalog knows
            else:
                own = await self.knowledge.store_answer(
                    turn, at_least="quote" if self._asks_catalog(turn) else "answer"
                )
            if own:
                return "knowledge", own
            turn.followup_topic = {**topic, "products": list(turn.slots["last_products"])}
            if (
                query.refers_back
                and not self._asks_catalog(turn)
                and followups.own_subject(turn.text)
            ):
                # About the products shown ("they", "it"), but nothing the catalog holds
                # ("what if they arrive damaged?", "does it come with a warranty?"): the
                # store's pages if they come close, else say honestly the catalog doesn't
                # say. "what about drones?" names no product shown: the catalog search.
                own = await self.knowledge.store_answer(turn, at_least="clarify")
                return ("knowledge", own) if own else ("not_listed", None)
            return "product", None
        if kind == "order" and turn.slots.get("verified_customer_id"):
            own = await self.knowledge.store_answer(turn)
            if own:
                return "knowledge", own
            turn.followup_topic = topic
            return "order", None
        return None

    def _not_listed(self, turn: Turn, titles: list[str] | None = None) -> None:
        """The catalog does not say what was asked about the products just shown (or
        ``titles``, the ones named), and neither do the store's pages: say so rather
        than guess; offer a person."""
        vocab = self._vocabulary()
        titles = titles or [
            p.title
            for pid in turn.slots.get("last_products") or []
            if (p := vocab.product(pid)) is not None
        ]
        turn.action = "action_abstain"
        turn.say(
            turn.texts("catalog_not_listed", titles=" / ".join(titles[:3])),
            buttons=handoff_buttons(turn.texts),
        )
        turn.slots["offered_handoff"] = True

    def handoff_reason(self, turn: Turn) -> str:
        """Why this turn handed off, in words an agent can act on."""
        asked = [h["content"] for h in turn.conv.history if h.get("role") == "user"]
        before = f": {asked[-1][:200]}" if asked else ""
        if turn.text.strip() == "/handoff":
            return f"customer chose to talk to a person after asking{before}"
        if self._asks_for_person(turn):
            return f"customer asked for a person: {turn.text.strip()[:200]}"
        return f"the assistant could not help with{before or ' the request'}"

    def _remember_identity(self, turn: Turn) -> None:
        slots = turn.slots
        for entity, slot in IDENTITY_SLOTS.items():
            value = turn.entity(entity)
            if value:
                slots[slot] = value

    def _has_identity(self, turn: Turn) -> bool:
        """This message brought identity details that make verification possible."""
        brought = any(turn.entity(e) for e in IDENTITY_SLOTS)
        slots = turn.slots
        complete = slots.get("customer_email") or (
            slots.get("customer_name") and slots.get("customer_zip")
        )
        return bool(brought and complete)

    def _leaves_return_form(self, turn: Turn, intent: str, confident: bool) -> bool:
        """A confident, different request while the form waits for an order id."""
        if turn.slots.get("requested_slot") not in (None, "order_id") or turn.entity("order_id"):
            return False
        return confident and intent not in RETURN_INTENTS | {"affirm", "deny", "oos"}

    def _asks_for_person(self, turn: Turn) -> bool:
        """The best intent is the handoff one (not rejected as out of scope; the
        confidence bar for actions does not apply) or the words ask for a person;
        never when the words say no to one or ask about the team ("人工客服几点上班？")."""
        if phrases.asks_for_person(turn.text, turn.rules):
            return True
        if phrases.declines_person(turn.text, turn.rules):
            return False
        return turn.parse["intent"]["name"] in HANDOFF_INTENTS

    def _small_talk_intent(self, turn: Turn, intent: str, confident: bool) -> str | None:
        """Greet, thanks or goodbye: the intent model's, or the message language's rules
        (the model reads English small talk; "谢谢" is the rules')."""
        if confident and intent in SMALL_TALK:
            return intent
        return phrases.small_talk(turn.text, turn.rules)

    def _small_talk(self, turn: Turn, intent: str) -> None:
        turn.action = f"utter_{intent}"
        turn.say(turn.texts("greeting" if intent == "greet" else intent))
