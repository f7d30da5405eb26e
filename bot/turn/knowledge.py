"""Answers from the store's knowledge: retrieve, let the store's calibration
decide (quote the merchant's answer, have the chat model compose one, ask which
entry was meant, or abstain honestly), and hand product matches to the catalog.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from bot.answers.grounding import answer_sources, extractive_answer, hit_source_text
from bot.nlu import phrases
from bot.turn import followups
from bot.turn.records import Turn, mentions_product
from bot.turn.routes import (
    ACTION_OFFERS,
    CANCEL_INTENTS,
    ORDER_STATUS_INTENTS,
    PRODUCT_INTENTS,
    RETURN_INTENTS,
    handoff_buttons,
)
from bot.turn.services import Services

# How many hits a question retrieves for the decision and the prompt.
SEARCH_DEPTH = 5
# The calibration's decisions, from least to most sure of an answer.
DECISION_RANK = {"abstain": 0, "clarify": 1, "answer": 2, "quote": 3}


@asynccontextmanager
async def _admitted() -> AsyncIterator[bool]:
    """No generator, no queue: extractive answers are always admitted."""
    yield True


class KnowledgeAnswers:
    """The knowledge route of the policy, over the bot's services.

    ``run_action`` runs a business action for the turn (the product search a
    product match is answered with).
    """

    def __init__(
        self, services: Services, run_action: Callable[[Turn, str], Awaitable[None]]
    ) -> None:
        self.s = services
        self.run_action = run_action

    async def policy_question(
        self, turn: Turn, intent: str, confident: bool, at_least: str = "answer"
    ) -> tuple[list[Any], str] | None:
        """The knowledge hits and the calibration's decision on them, when this
        message asks about the rules, not for an action.

        Only where the intent would otherwise start an order action or a product
        search, the message names no order, is phrased as a general question,
        and the store's policies or FAQ answer it at least ``at_least`` surely (a
        product as the best match keeps the product search: "Do you have running
        shoes?").
        """
        routes_to_action = confident and intent in (
            ORDER_STATUS_INTENTS | CANCEL_INTENTS | RETURN_INTENTS | PRODUCT_INTENTS
        )
        if not (routes_to_action or mentions_product(turn)) or turn.entity("order_id"):
            return None
        if not phrases.asks_about_rules(turn.text, turn.rules):
            return None
        hits = await asyncio.to_thread(self.s.index.search, turn.text, SEARCH_DEPTH)
        best = hits[0] if hits else None
        if best is None or best.type == "product":
            return None
        decision, _ = self.s.calibration.decide(hits, self.s.composes())
        return (hits, decision) if DECISION_RANK[decision] >= DECISION_RANK[at_least] else None

    def abstain_text(self, turn: Turn, out_of_scope: bool) -> str:
        return turn.texts("oos" if out_of_scope else "low_confidence")

    def abstain(self, turn: Turn, out_of_scope: bool) -> None:
        """Say honestly that the store's information does not answer; offer a person."""
        turn.action = "action_abstain"
        turn.say(self.abstain_text(turn, out_of_scope), buttons=handoff_buttons(turn.texts))
        turn.slots["offered_handoff"] = True

    @staticmethod
    def action_offer(turn: Turn, intent: str) -> dict[str, str] | None:
        """The button that starts the action a policy question was about, if any."""
        offer = ACTION_OFFERS.get(intent)
        return {**offer, "title": turn.texts(offer["title"])} if offer else None

    async def decide(self, turn: Turn) -> tuple[list[Any], str]:
        """The hits for this message and the store calibration's decision on them.

        A follow-up ("and how much does it cost?") is also searched as the standalone
        question it reads as against the conversation's topic (bot/turn/followups.py);
        the rewrite is used, and remembered on the turn, when the calibration is at
        least as sure of it as of the message alone.
        """
        if turn.decided is None:
            turn.decided = await self._decide(turn)
        return turn.decided

    async def _decide(self, turn: Turn) -> tuple[list[Any], str]:
        composes = self.s.composes()
        hits = await asyncio.to_thread(self.s.index.search, turn.text, SEARCH_DEPTH)
        # The store's own calibration (knowledge_base/calibration.py) decides.
        decision, _ = self.s.calibration.decide(hits, composes)
        rewritten = followups.standalone(turn)
        if rewritten is not None:
            # A follow-up is read against its topic first: "and how much does it cost?"
            # alone may match some entry about a cost, not the one the topic meant.
            again = await asyncio.to_thread(self.s.index.search, rewritten, SEARCH_DEPTH)
            better, _ = self.s.calibration.decide(again, composes)
            if DECISION_RANK[better] >= DECISION_RANK[decision] and better != "abstain":
                turn.standalone = rewritten
                turn.followup_topic = turn.slots.get(followups.TOPIC_SLOT)
                hits, decision = again, better
        return hits, decision

    async def store_answer(
        self, turn: Turn, at_least: str = "answer"
    ) -> tuple[list[Any], str] | None:
        """The hits and decision when the store's knowledge, not its catalog, is the
        best match for this message (its best hit is no product) and the calibration
        is at least ``at_least`` sure of it ("clarify": a question whose buttons are
        the best entries), else None."""
        hits, decision = await self.decide(turn)
        if hits and hits[0].type != "product":
            if DECISION_RANK[decision] >= DECISION_RANK[at_least]:
                return hits, decision
        return None

    async def answer(
        self,
        turn: Turn,
        out_of_scope: bool,
        decided: tuple[list[Any], str] | None = None,
        offer: dict[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Answer from the store's knowledge, ask which entry was meant, or abstain.

        ``decided``: the hits and the calibration's decision when the caller has
        them already. ``offer``: a button that starts the action the question was
        about, shown under the answer ("Start a return" under the return policy).
        """
        generates = self.s.composes()
        if decided is None:
            hits, decision = await self.decide(turn)
        else:
            hits, decision = decided
        best = hits[0] if hits else None
        # An out-of-scope intent with a plausible store match ("how much is delivery"
        # beside the FAQ "How much does shipping cost?") gets the clarifying question
        # below, not a refusal: the customer picks the entry or a person.
        if best is None or decision == "abstain":
            self.abstain(turn, out_of_scope)
            return
        if decision == "clarify":
            turn.action = "action_clarify"
            options = []
            for i, hit in enumerate(hits[:3]):
                if (i == 0 or self.s.calibration.plausible(hits, i)) and hit.title not in options:
                    options.append(hit.title)
            turn.say(
                turn.texts("clarify"),
                buttons=[{"title": t, "payload": t} for t in options]
                + [{"title": turn.texts("button_none_of_these"), "payload": "/handoff"}],
            )
            turn.sources = [h.source() for h in hits[:3]]
            return
        if best.type == "product":
            reranker = self.s.product_reranker
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
            await self.run_action(turn, "action_product_search")
            turn.sources = [best.source()]
            return
        # The merchant's own answer to this question, sent as written (a curated
        # reply), less any sentence addressing the assistant (store text is data).
        quotes = decision == "quote" and best.type == "faq" and self.s.config.curated_answers
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
        gate = self.s.generation_gate.slot() if generates else _admitted()
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
            unsure = self.abstain_text(turn, out_of_scope) if decision != "quote" else None
            async for event in self.s.answerer.stream(
                turn.standalone or turn.text,
                used,
                turn.conv.history[-4:],
                self.s.store.settings,
                fallback=unsure,
            ):
                if event["type"] == "final":
                    final = event
                else:
                    yield event
        turn.fallback = bool(final.get("fallback"))
        turn.generation = final.get("generation")  # for /metrics (tokens per second)
        if turn.fallback and unsure is not None:
            self.abstain(turn, out_of_scope)
            return
        turn.say(final.get("text") or used[0].answer, buttons=[offer] if offer else None)
