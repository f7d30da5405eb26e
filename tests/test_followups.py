"""Follow-ups: a message read against what the conversation is about (issue 15).

The rules (bot/nlu/phrases.follow_up, bot/turn/followups.py) first, with no model;
then the demo store's bot, where a follow-up is answered from the entry its
standalone question finds, the rewrite is logged, and a message that stands on its
own is left alone.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from bot.nlu import phrases
from bot.turn.followups import rewrite, topic_phrase

RULES = phrases.rules_for(None)


@pytest.mark.parametrize(
    "text, rest, refers",
    [
        ("and how much does it cost?", "how much does it cost?", True),
        ("what about express?", "express?", False),
        ("is it waterproof?", "is it waterproof?", True),
        ("那这个多少钱？", "这个多少钱？", True),
        ("运费呢？", "运费呢？", True),
    ],
)
def test_a_follow_up_is_told_by_its_words(text: str, rest: str, refers: bool) -> None:
    assert phrases.follow_up(text, RULES) == (rest, refers)


@pytest.mark.parametrize(
    "text", ["how long does shipping take?", "do you sell running shoes?", "and", "发货需要多久？"]
)
def test_a_message_that_names_its_subject_is_no_follow_up(text: str) -> None:
    assert phrases.follow_up(text, RULES) is None


def test_the_topic_is_what_the_question_and_its_answer_share() -> None:
    question = "how long does shipping take to canada?"
    assert topic_phrase(question, "How long does shipping take?", "how much does it cost") == (
        "shipping"
    )
    # No shared word: the question's own content words.
    assert topic_phrase("what is the warranty", "Repairs", "and for phones?") == "warranty"
    # The new message's own words are not repeated.
    assert topic_phrase(question, "Shipping times", "what about shipping to the uk") == ""


def test_a_rewrite_puts_the_topic_where_the_message_refers_back() -> None:
    assert rewrite("how much does it cost?", True, "shipping") == "how much does shipping cost?"
    assert rewrite("express?", False, "shipping") == "express shipping?"
    assert rewrite("它多少钱？", True, "运费") == "运费多少钱？"
    assert rewrite("运费呢？", True, "发货") == "发货运费？"
    assert rewrite("anything else?", False, "") == "anything else?"


def _sender() -> str:
    return f"fu-{uuid.uuid4().hex[:10]}"


def _logged(bot: Any, turn_id: str) -> tuple[str, Any]:
    rows = bot.conversations.db.fetch(
        "SELECT user_text, followup FROM turns WHERE turn_id = ?", (turn_id,)
    )
    text, followup = rows[0]
    return text, json.loads(followup) if followup else None


async def test_a_knowledge_follow_up_is_answered_as_its_standalone_question(demo_bot) -> None:
    sender = _sender()
    first = await demo_bot.handle(sender, "how long does shipping take to canada?")
    assert first.sources and first.sources[0]["id"] == "faq-shipping-times"
    reply = await demo_bot.handle(sender, "and how much does it cost?")
    assert reply.sources and reply.sources[0]["id"] == "faq-shipping-cost"
    assert reply.followup["standalone"] == "how much does shipping cost?"
    assert reply.followup["topic"]["id"] == "faq-shipping-times"
    # Both texts are in the turn log, and in the API's reply (shopbot chat --debug).
    assert _logged(demo_bot, reply.turn_id) == ("and how much does it cost?", reply.followup)
    assert reply.to_api()["followup"] == reply.followup


async def test_a_message_that_stands_on_its_own_is_not_rewritten(demo_bot) -> None:
    sender = _sender()
    await demo_bot.handle(sender, "how long does shipping take?")
    reply = await demo_bot.handle(sender, "what is your return policy?")
    assert reply.followup is None and "followup" not in reply.to_api()
    assert reply.sources and reply.sources[0]["id"] == "faq-return-policy"


async def test_without_a_topic_a_follow_up_is_read_alone(demo_bot) -> None:
    reply = await demo_bot.handle(_sender(), "and how much does it cost?")
    assert reply.followup is None


async def test_a_store_question_that_sounds_like_a_product_reaches_the_store_pages(
    demo_bot,
) -> None:
    reply = await demo_bot.handle(_sender(), "do you have gift cards?")
    assert reply.action != "action_product_search"
    assert any("gift" in s["id"] for s in reply.sources)


async def test_a_product_question_still_searches_the_catalog(demo_bot) -> None:
    reply = await demo_bot.handle(_sender(), "do you sell running shoes?")
    assert reply.action == "action_product_search"
    assert "Running Shoes" in reply.text


def test_the_chat_debug_line_shows_what_a_follow_up_was_read_as(capsys) -> None:
    from bot.repl import _print_debug

    _print_debug(
        {
            "intent": "oos",
            "confidence": 0.9,
            "action": "action_answer_curated",
            "sources": [{"id": "faq-shipping-cost", "score": 0.8}],
            "followup": {
                "standalone": "how much does shipping cost?",
                "topic": {"kind": "knowledge", "title": "How long does shipping take?"},
            },
        }
    )
    out = capsys.readouterr().out
    assert "follow-up on knowledge 'How long does shipping take?'" in out
    assert "'how much does shipping cost?'" in out


async def test_the_topic_kept_in_the_stored_slots_is_redacted(demo_bot) -> None:
    sender = _sender()
    await demo_bot.handle(sender, "call me on +1 415 555 0134: how long does shipping take?")
    topic = demo_bot.conversations.load_conversation(sender).slots.get("topic") or {}
    assert topic.get("kind") == "knowledge"
    assert "555 0134" not in str(topic) and "shipping" in topic["question"]


async def test_a_question_about_the_products_shown_that_the_catalog_cannot_answer(
    demo_bot,
) -> None:
    sender = _sender()
    await demo_bot.handle(sender, "do you sell sunglasses?")
    # Points back at them, asks nothing the catalog holds: the store's pages, not a list.
    reply = await demo_bot.handle(sender, "what if they arrive damaged?")
    assert reply.action != "action_product_search"
    assert reply.sources and any("damage" in s["id"] for s in reply.sources)
    # And where neither the catalog nor the pages say, an honest "not listed" and a person.
    await demo_bot.handle(sender, "do you sell yoga mats?")
    reply = await demo_bot.handle(sender, "are they safe for toddlers to chew on?")
    assert reply.action == "action_abstain"
    assert reply.text.startswith("Our catalog doesn't list that for Yoga Mat")
    assert "$" not in reply.text
    assert any(m.get("buttons") for m in reply.messages)


async def test_a_new_kind_of_product_after_a_list_is_searched_not_refused(demo_bot) -> None:
    sender = _sender()
    await demo_bot.handle(sender, "do you sell cameras?")
    reply = await demo_bot.handle(sender, "what about drones?")
    assert "Our catalog doesn't list that" not in reply.text


async def test_before_verification_asking_for_my_orders_asks_who_i_am(demo_bot) -> None:
    for text in ("which orders do I have?", "where is my most recent order?"):
        reply = await demo_bot.handle(_sender(), text)
        assert reply.action == "action_order_status", text
        assert "email" in reply.text and "zip" in reply.text
    # A question about order rules is still the store's answer.
    reply = await demo_bot.handle(_sender(), "what are your order statuses?")
    assert reply.action != "action_order_status"


async def test_a_value_of_the_product_shown_is_the_catalogs_not_the_size_guide(demo_bot) -> None:
    sender = _sender()
    await demo_bot.handle(sender, "how much are the sneakers?")
    reply = await demo_bot.handle(sender, "do you have them in size 11")
    assert reply.action == "action_product_search"
    lines = [line for line in reply.text.splitlines() if line.startswith("- Sneakers")]
    assert lines and all(" 11 / " in line for line in lines), reply.text
    # A bare value of the same product, in a short follow-up.
    reply = await demo_bot.handle(sender, "what about a 10?")
    lines = [line for line in reply.text.splitlines() if line.startswith("- Sneakers")]
    assert lines and all(" 10 / " in line for line in lines), reply.text


async def test_my_vacuum_order_before_verification_is_answered_once_verified(
    demo_bot, demo_store
) -> None:
    orders = [json.loads(line) for line in (demo_store / "orders.jsonl").read_text().splitlines()]
    customers = {
        c["customer_id"]: c
        for c in map(json.loads, (demo_store / "customers.jsonl").read_text().splitlines())
    }
    mine = next(o for o in orders if any(i["title"] == "Vacuum Cleaner" for i in o["items"]))
    owner = customers[mine["customer_id"]]
    with_vacuum = [
        o
        for o in orders
        if o["customer_id"] == owner["customer_id"]
        and any(i["title"] == "Vacuum Cleaner" for i in o["items"])
    ]
    sender = _sender()
    reply = await demo_bot.handle(sender, "where is my vacuum order")
    assert reply.action == "action_order_status" and "email" in reply.text
    reply = await demo_bot.handle(sender, owner["email"])
    if len(with_vacuum) == 1:
        assert mine["order_id"] in reply.text, reply.text
    assert not any(
        o["order_id"] in reply.text for o in orders if o["customer_id"] != owner["customer_id"]
    )
