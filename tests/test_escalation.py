"""Sentiment-aware escalation: a person is offered before the customer asks."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.config import replace
from bot.storage.reports import offer_stats
from bot.turn.escalation import REASONS
from bot.web.admin import INSIGHTS_KEY
from bot.web.app import create_app
from tests.conversation import chat_body, remember

TOKEN = "escalation-admin-token"


def _offer(reply: Any) -> dict[str, Any] | None:
    return next(
        (
            m["custom"]
            for m in reply.messages
            if isinstance(m.get("custom"), dict) and m["custom"].get("type") == "handoff_offer"
        ),
        None,
    )


async def test_a_sharply_negative_turn_gets_an_offer_and_yes_hands_off(demo_bot: Any) -> None:
    first = await demo_bot.handle("esc-neg", "how long does shipping take?")
    assert _offer(first) is None
    angry = await demo_bot.handle(
        "esc-neg", "this is the worst service ever, I hate it, absolutely useless"
    )
    assert _offer(angry) == {"type": "handoff_offer", "reason": "negative_turn"}
    assert not angry.handoff
    accepted = await demo_bot.handle("esc-neg", "yes")
    # Without an agent inbox (no admin token) the handoff gives the store's contact
    # details and does not leave the customer waiting (tests/test_consent.py).
    assert accepted.action == "action_handoff" and accepted.handoff


async def test_two_failed_answers_in_a_row_get_an_offer_once(demo_bot: Any) -> None:
    one = await demo_bot.handle("esc-fail", "what is the airspeed velocity of an unladen swallow?")
    assert one.action == "action_abstain" and _offer(one) is None
    two = await demo_bot.handle("esc-fail", "can you recommend a good dentist in Paris?")
    assert _offer(two) == {"type": "handoff_offer", "reason": "two_failures"}
    declined = await demo_bot.handle("esc-fail", "no")
    assert not declined.handoff
    # Once per conversation: more failures do not repeat the offer.
    await demo_bot.handle("esc-fail", "who won the football world cup in 1966?")
    again = await demo_bot.handle("esc-fail", "what is the capital of Mongolia?")
    assert _offer(again) is None


async def test_neutral_questions_get_no_offer(demo_bot: Any) -> None:
    for text in ("hi", "how long does shipping take?", "thanks, great"):
        assert _offer(await demo_bot.handle("esc-calm", text)) is None


async def test_overview_shows_offer_rate_and_outcomes(demo_config: Any, demo_bot: Any) -> None:
    app = create_app(replace(demo_config, admin_token=TOKEN), bot=demo_bot)
    async with TestClient(TestServer(app, port=0)) as client:
        for sender, text in [
            ("esc-page-a", "I am very angry, the product broke after one day"),
            ("esc-page-a", "yes"),
            ("esc-page-b", "your website is horrible and I hate this awful shop"),
            ("esc-page-b", "no"),
        ]:
            resp = await client.post("/api/chat", json=chat_body(sender, text))
            assert resp.status == 200
            remember(sender, await resp.json())
        stats = offer_stats(app[INSIGHTS_KEY].store.db, REASONS)
        page = await client.get("/admin", headers={"Authorization": f"Bearer {TOKEN}"})
        text = await page.text()
    assert stats["offers"] >= 2 and stats["accepted"] >= 1 and stats["declined"] >= 1
    assert "Proactive handoff offers" in text and "offered a person unasked" in text
    assert "accepted: handed to a person" in text
