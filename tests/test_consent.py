"""Consent, verification and honest handoffs (issue 12, findings 1, 3, 7 and 9).

Unit tests of bot/nlu/consent.py's yes/no rules, then the demo store's bot end to end:
a change goes ahead only on an unambiguous yes to the question just asked, each
question has its own buttons, verification refuses conflicting details and stops
after a few failures, and a handoff without an agent inbox says how to reach the
store instead of promising a reply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest

from bot.nlu.consent import Answer, classify
from bot.storage.conversations import identity_key
from bot.turn.escalation import offer_handoff_if_needed

# Pending orders no other test cancels (one per test that changes one).
ORDER_NO_WAIT = "#W7007896"  # Yusuf Ahmed
ORDER_QUESTION = "#W8808563"  # Fatima Nguyen
ORDER_TYPED_YES = "#W5694685"  # Evelyn Kovacs
ORDER_BUTTON = "#W9962383"  # Fatima Muller
ORDER_EXPIRED = "#W2631563"  # Mei Ahmed
ORDER_TWO_QUESTIONS = "#W2974929"  # Fatima Anderson


# ----------------------------------------------------------------- the yes/no rules


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "Yes.",
        "YES!",
        "yes please",
        "Yes please, thank you",
        "ok go ahead",
        "okay, go ahead",
        "yes, cancel it",
        "sure",
        "yep",
        "y",
        "confirm",
        "I confirm",
        "correct",
        "please do",
        "go for it",
        "do it",
        "proceed",
        "yes I want to cancel the order",
        "yes, submit the return",
        "absolutely",
        "Yes\u2019",
        "是",
        "是的",
        "好的",
        "确认",
        "好的，取消吧",
        "没问题",
    ],
)
def test_unambiguous_yes(text: str) -> None:
    assert classify(text) is Answer.YES


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "No thanks",
        "nope",
        "nah",
        "don't",
        "do not",
        "okay, no wait, do not cancel it",
        "yes, no wait",
        "wait",
        "stop",
        "hold on",
        "hang on a second",
        "never mind",
        "not now",
        "yes... actually no",
        "ok don't cancel it",
        "I changed my mind",
        "never",
        "keep it",
        "不",
        "不要",
        "别取消",
        "等等",
        "好的，等一下",
    ],
)
def test_no_and_hesitation_are_no(text: str) -> None:
    assert classify(text) is Answer.NO


@pytest.mark.parametrize(
    "text",
    [
        "Correct me if I am wrong, but would I get the full refund?",
        "yes but how long will the refund take?",
        "ok?",
        "sure thing, and also what's your return policy for shoes",
        "Yes, I would like to know more about the shipping options you have available",
        "cancel it",
        "what about my other order",
        "是吗",
        "",
    ],
)
def test_longer_or_hedged_replies_are_not_a_yes(text: str) -> None:
    assert classify(text) is not Answer.YES


def test_a_yes_prefix_of_a_longer_request_is_not_consent() -> None:
    assert classify("yes and also cancel my other order #W1234567 and the one before") in (
        Answer.OTHER,
        Answer.UNCLEAR,
    )
    assert classify("Correct me if I am wrong, but would I get the full refund?") is Answer.OTHER


def test_the_intent_models_deny_vetoes_a_yes() -> None:
    ranked = {
        "intent": {"name": "affirm", "confidence": 0.55},
        "intent_ranking": [
            {"name": "affirm", "confidence": 0.55},
            {"name": "deny", "confidence": 0.4},
        ],
    }
    assert classify("yes", ranked) is Answer.UNCLEAR
    denied = {"intent": {"name": "deny", "confidence": 0.62}, "intent_ranking": []}
    assert classify("okay", denied) is not Answer.YES
    assert classify("yes", {"intent": {"name": "affirm", "confidence": 0.9}}) is Answer.YES


def test_languages_are_data() -> None:
    from bot.nlu.consent import LEXICONS

    assert {"en", "zh"} <= set(LEXICONS)
    for word in ("是", "好的", "确认"):
        assert word in LEXICONS["zh"].affirm
    for word in ("不", "不要", "别", "等等"):
        assert word in LEXICONS["zh"].negate
    assert classify("yes", languages=["zh"]) is Answer.OTHER
    assert classify("是", languages=["zh"]) is Answer.YES


# ----------------------------------------------------------------- helpers


def new_sender() -> str:
    return f"consent-{uuid4().hex[:8]}"


def customer(demo_store: Any, customer_id: str) -> dict[str, Any]:
    for line in (demo_store / "customers.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["customer_id"] == customer_id:
            return row
    raise KeyError(customer_id)


async def verified(demo_bot: Any, demo_store: Any, order_id: str) -> str:
    """A new conversation verified (by email) as the customer of ``order_id``."""
    sender = new_sender()
    email = customer(demo_store, demo_bot.order_book.get(order_id).customer_id)["email"]
    reply = await demo_bot.handle(sender, f"my email is {email}")
    assert "you're verified" in reply.text, reply.text
    return sender


async def ask_to_cancel(demo_bot: Any, sender: str, order_id: str) -> Any:
    reply = await demo_bot.handle(sender, f"I want to cancel order {order_id}, I no longer need it")
    assert "Please confirm" in reply.text and "Shall I go ahead?" in reply.text, reply.text
    return reply


def status(demo_bot: Any, order_id: str) -> str:
    return demo_bot.order_book.get(order_id).status


def slots(demo_bot: Any, sender: str) -> dict[str, Any]:
    return demo_bot.conversations.load_conversation(sender).slots


def payloads(reply: Any) -> list[str]:
    return [b["payload"] for m in reply.messages for b in m.get("buttons", [])]


@contextmanager
def agent_inbox(demo_bot: Any, present: bool) -> Iterator[None]:
    """The shared bot with (or without) an agent inbox, restored afterwards."""
    before = demo_bot.agent_inbox
    demo_bot.agent_inbox = present
    try:
        yield
    finally:
        demo_bot.agent_inbox = before


# ----------------------------------------------------------------- finding 1: consent


async def test_no_wait_do_not_cancel_cancels_nothing(demo_bot: Any, demo_store: Any) -> None:
    sender = await verified(demo_bot, demo_store, ORDER_NO_WAIT)
    await ask_to_cancel(demo_bot, sender, ORDER_NO_WAIT)
    reply = await demo_bot.handle(sender, "okay, no wait, do not cancel it")
    assert status(demo_bot, ORDER_NO_WAIT) == "pending"
    assert "is cancelled" not in reply.text
    assert "haven't changed anything" in reply.text
    # The question is gone: a later yes changes nothing either.
    await demo_bot.handle(sender, "yes")
    assert status(demo_bot, ORDER_NO_WAIT) == "pending"


async def test_a_question_starting_with_correct_is_not_a_yes(
    demo_bot: Any, demo_store: Any
) -> None:
    sender = await verified(demo_bot, demo_store, ORDER_QUESTION)
    await ask_to_cancel(demo_bot, sender, ORDER_QUESTION)
    reply = await demo_bot.handle(
        sender, "Correct me if I am wrong, but would I get the full refund?"
    )
    assert status(demo_bot, ORDER_QUESTION) == "pending"
    assert "is cancelled" not in reply.text


async def test_a_plain_yes_still_cancels(demo_bot: Any, demo_store: Any) -> None:
    sender = await verified(demo_bot, demo_store, ORDER_TYPED_YES)
    await ask_to_cancel(demo_bot, sender, ORDER_TYPED_YES)
    reply = await demo_bot.handle(sender, "yes please")
    assert f"order {ORDER_TYPED_YES} is cancelled" in reply.text
    assert status(demo_bot, ORDER_TYPED_YES) == "cancelled"


async def test_the_confirmation_has_its_own_buttons(demo_bot: Any, demo_store: Any) -> None:
    sender = await verified(demo_bot, demo_store, ORDER_BUTTON)
    asked = await ask_to_cancel(demo_bot, sender, ORDER_BUTTON)
    assert payloads(asked) == ["/confirm_cancel", "/deny_cancel"]
    # Another question's button answers nothing here.
    await demo_bot.handle(sender, "/confirm_return")
    assert status(demo_bot, ORDER_BUTTON) == "pending"
    await ask_to_cancel(demo_bot, sender, ORDER_BUTTON)
    reply = await demo_bot.handle(sender, "/confirm_cancel")
    assert status(demo_bot, ORDER_BUTTON) == "cancelled", reply.text


async def test_the_question_lapses_after_the_timeout(demo_bot: Any, demo_store: Any) -> None:
    sender = await verified(demo_bot, demo_store, ORDER_EXPIRED)
    await ask_to_cancel(demo_bot, sender, ORDER_EXPIRED)
    config = demo_bot.config
    demo_bot.config = replace(config, confirmation_timeout_seconds=0.0)
    try:
        time.sleep(0.01)
        reply = await demo_bot.handle(sender, "yes")
    finally:
        demo_bot.config = config
    assert status(demo_bot, ORDER_EXPIRED) == "pending"
    assert "expired" in reply.text
    # Another request in between also ends the question.
    await ask_to_cancel(demo_bot, sender, ORDER_EXPIRED)
    await demo_bot.handle(sender, "how long does shipping take?")
    await demo_bot.handle(sender, "yes")
    assert status(demo_bot, ORDER_EXPIRED) == "pending"


# ----------------------------------------------------------------- finding 7: one question


async def test_a_change_question_gets_no_competing_handoff_offer(
    demo_bot: Any, demo_store: Any
) -> None:
    sender = await verified(demo_bot, demo_store, ORDER_TWO_QUESTIONS)
    await demo_bot.handle(sender, "hello, thanks for the help so far")
    reply = await demo_bot.handle(
        sender,
        # Sharply negative: today this reply would also carry the proactive handoff offer.
        f"I want to cancel order {ORDER_TWO_QUESTIONS}, I no longer need it, "
        "ugh this is so annoying",
    )
    assert "Please confirm" in reply.text, reply.text
    offers = [m for m in reply.messages if (m.get("custom") or {}).get("type") == "handoff_offer"]
    assert not offers, reply.messages
    assert "/handoff" not in payloads(reply) and "yes" not in payloads(reply)
    answered = await demo_bot.handle(sender, "yes")
    assert not answered.handoff and answered.action == "action_cancel_order"
    assert status(demo_bot, ORDER_TWO_QUESTIONS) == "cancelled"


def test_escalation_never_adds_an_offer_to_a_confirmation() -> None:
    class Turn:
        text = "This is terrible, awful, horrible service and I hate it."
        action = "action_cancel_order"
        fallback = False
        slots: dict[str, Any] = {"awaiting_confirmation": True, "last_sentiment": 0.5}
        messages: list[dict[str, Any]] = [{"text": "Shall I go ahead?", "buttons": []}]

        class conv:
            sender = "s"

    turn = Turn()
    assert offer_handoff_if_needed(turn) is None
    assert len(turn.messages) == 1 and "offered_handoff" not in turn.slots
    turn.slots = {"last_sentiment": 0.5}
    assert offer_handoff_if_needed(turn) == "negative_turn"
    assert [b["payload"] for b in turn.messages[-1]["buttons"]] == ["/handoff", "/decline_handoff"]


async def test_a_typed_yes_answers_the_handoff_offer_when_it_is_the_only_question(
    demo_bot: Any,
) -> None:
    sender = new_sender()
    with agent_inbox(demo_bot, False):
        reply = await demo_bot.handle(sender, "what will the weather be like on mars next tuesday?")
        assert reply.action == "action_abstain"
        assert payloads(reply) == ["/handoff", "/decline_handoff"]
        accepted = await demo_bot.handle(sender, "yes")
    assert accepted.action == "action_handoff"


# ----------------------------------------------------------------- finding 3: verification


async def test_conflicting_details_verify_no_one(demo_bot: Any) -> None:
    sender = new_sender()
    reply = await demo_bot.handle(
        sender, "I am Yusuf Ahmed, zip 91075, my email is emma.smith3991@example.com"
    )
    assert "don't all belong to one customer" in reply.text, reply.text
    assert "Emma" not in reply.text and "#W" not in reply.text
    assert not slots(demo_bot, sender).get("verified_customer_id")
    listed = await demo_bot.handle(sender, "show me my orders")
    assert "Here are your orders" not in listed.text


async def test_details_remembered_from_earlier_must_agree_too(demo_bot: Any) -> None:
    sender = new_sender()
    await demo_bot.handle(sender, "my name is Yusuf Ahmed")
    reply = await demo_bot.handle(sender, "my email is emma.smith3991@example.com")
    assert "don't all belong to one customer" in reply.text, reply.text
    assert not slots(demo_bot, sender).get("verified_customer_id")


async def test_matching_name_and_email_still_verify(demo_bot: Any) -> None:
    sender = new_sender()
    reply = await demo_bot.handle(
        sender, "my name is Emma Smith and my email is emma.smith3991@example.com"
    )
    assert "you're verified" in reply.text, reply.text
    assert slots(demo_bot, sender)["verified_customer_id"] == "emma_smith_8564"


async def test_three_failures_in_a_conversation_hand_off(demo_bot: Any, demo_store: Any) -> None:
    sender = new_sender()
    right = customer(demo_store, "lucas_martin_4549")["zip"]
    with agent_inbox(demo_bot, False):
        for wrong in ("00001", "00002", "00003"):
            reply = await demo_bot.handle(sender, f"my name is Lucas Martin, zip {wrong}")
            assert not slots(demo_bot, sender).get("verified_customer_id")
        assert reply.action == "action_handoff", reply.text
        assert "can't take more attempts" in reply.text
        reply = await demo_bot.handle(sender, f"my name is Lucas Martin, zip {right}")
        assert not slots(demo_bot, sender).get("verified_customer_id"), reply.text
        assert "pending" not in reply.text
        # Starting over in the same conversation does not reset the count.
        await demo_bot.handle(sender, "/restart")
        await demo_bot.handle(sender, f"my name is Lucas Martin, zip {right}")
        assert not slots(demo_bot, sender).get("verified_customer_id")
    since = time.time() - 3600
    assert demo_bot.conversations.verification_failures(since, sender=sender) == 3


async def test_five_failures_on_one_customer_across_conversations_lock_it(
    demo_bot: Any, demo_store: Any
) -> None:
    target = customer(demo_store, "olivia_smith_5265")
    with agent_inbox(demo_bot, False):
        for n in range(5):
            await demo_bot.handle(new_sender(), f"my name is Olivia Smith, zip 0000{n}")
        key = identity_key("name", "Olivia Smith")
        assert demo_bot.conversations.verification_failures(time.time() - 3600, keys=(key,)) >= 5
        sender = new_sender()
        reply = await demo_bot.handle(sender, f"my name is Olivia Smith, zip {target['zip']}")
    assert not slots(demo_bot, sender).get("verified_customer_id"), reply.text
    assert reply.action == "action_handoff"


# ----------------------------------------------------------------- finding 9: handoff


async def test_without_an_inbox_the_handoff_promises_no_reply(demo_bot: Any) -> None:
    sender = new_sender()
    with agent_inbox(demo_bot, False):
        reply = await demo_bot.handle(sender, "I want to talk to a real person")
        assert reply.action == "action_handoff"
        assert "reply here" not in reply.text and "get back to you" not in reply.text
        assert "contact Harbor & Pine Goods directly" in reply.text
        # The turn handed the customer to the store's people (another channel), but the
        # conversation does not wait for an agent who will never come.
        assert reply.handoff
        assert not demo_bot.conversations.load_conversation(sender).slots.get("handoff")
        after = await demo_bot.handle(sender, "how long does shipping take?")
    assert after.action not in ("handoff_waiting", "handoff_to_agent")
    assert "reply here" not in after.text
    assert demo_bot.conversations.get_open_handoff(sender) is None


async def test_without_an_admin_token_there_is_no_inbox(demo_bot: Any) -> None:
    config = demo_bot.config
    sender = new_sender()
    try:
        demo_bot.config = replace(config, admin_token=None)
        with agent_inbox(demo_bot, None):  # type: ignore[arg-type]
            assert not demo_bot.has_agent_inbox()
            reply = await demo_bot.handle(sender, "/handoff")
            assert "reply here" not in reply.text
            assert not demo_bot.conversations.load_conversation(sender).slots.get("handoff")
        demo_bot.config = replace(config, admin_token="consent-test-token")
        with agent_inbox(demo_bot, None):  # type: ignore[arg-type]
            assert demo_bot.has_agent_inbox()
    finally:
        demo_bot.config = config


async def test_with_an_inbox_the_handoff_waits_for_an_agent(demo_bot: Any) -> None:
    sender = new_sender()
    with agent_inbox(demo_bot, True):
        try:
            reply = await demo_bot.handle(sender, "I want to talk to a real person")
            assert reply.handoff and reply.action == "action_handoff"
            assert demo_bot.settings.handoff_text in reply.text
            waiting = await demo_bot.handle(sender, "hello?")
            assert waiting.action == "handoff_waiting" and waiting.handoff
        finally:
            await demo_bot.handle(sender, "/restart")


def test_the_store_contact_text_is_a_setting(tmp_path: Any) -> None:
    from knowledge_base.store import load_store
    from tests.conftest import copy_demo_store

    store_dir = copy_demo_store(tmp_path / "store")
    assert "contact Harbor & Pine Goods directly" in load_store(store_dir).settings.contact_text
    toml = store_dir / "store.toml"
    toml.write_text(toml.read_text() + '\ncontact = "Call us on 555-0100."\n')
    assert load_store(store_dir).settings.contact_text == "Call us on 555-0100."
