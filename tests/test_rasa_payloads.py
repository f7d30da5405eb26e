"""Rasa button payloads (``/intent{"entity": "value"}``): read as that intent at
confidence 1.0 with checked entities (bot/nlu/payloads.py), and never a way around
verification or the explicit yes a change needs."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from bot.nlu.parser import NLU
from bot.nlu.payloads import BUTTON_INTENTS, MAX_ENTITIES, parse_payload
from tests.conftest import DEMO_STORE, started_client

# Pending orders of the demo store that no other test touches (one customer each).
VICTIM_ORDER = "#W4843514"  # Daiki Moore's
OWN_ORDER = "#W9933266"  # Raj Lee's
YES_ORDER = "#W6958840"  # Daiki Li's
BUTTON_ORDER = "#W2392556"  # Mason Li's


def order_row(order_id: str) -> dict[str, Any]:
    return next(
        json.loads(line)
        for line in (DEMO_STORE / "orders.jsonl").read_text().splitlines()
        if json.loads(line)["order_id"] == order_id
    )


def customer_of(order_id: str) -> dict[str, Any]:
    order = order_row(order_id)
    return next(
        json.loads(line)
        for line in (DEMO_STORE / "customers.jsonl").read_text().splitlines()
        if json.loads(line)["customer_id"] == order["customer_id"]
    )


def payload(intent: str, **entities: Any) -> str:
    """A Rasa button payload: ``/intent{"entity": "value", ...}``."""
    return f"/{intent}{json.dumps(entities)}"


def new_sender() -> str:
    return f"payload-{uuid4().hex[:8]}"


def status(bot: Any, order_id: str) -> str:
    return bot.order_book.get(order_id).status


def slots(bot: Any, sender: str) -> dict[str, Any]:
    return bot.conversations.load_conversation(sender).slots


def shows_order(reply: Any, order_id: str) -> bool:
    """The reply gives away something of the order: what is in it, or that it changed."""
    text = reply.text.lower()
    titles = {item["title"].lower() for item in order_row(order_id)["items"]}
    return any(title in text for title in titles) or "is cancelled" in text


async def verified_as(bot: Any, order_id: str) -> str:
    """A new conversation verified (by email) as the customer of ``order_id``."""
    sender = new_sender()
    reply = await bot.handle(sender, f"my email is {customer_of(order_id)['email']}")
    assert "you're verified" in reply.text, reply.text
    return sender


async def ask_to_cancel(bot: Any, sender: str, order_id: str) -> Any:
    reply = await bot.handle(sender, f"I want to cancel order {order_id}, I no longer need it")
    assert "Please confirm" in reply.text, reply.text
    return reply


# ----------------------------------------------------------------- the attacks


@pytest.mark.parametrize(
    "message",
    [
        '/affirm{"order_id": "%s"}',
        '/track_order{"order_id": "%s"}',
        '/cancel_order{"order_id": "%s"}',
        '/confirm_cancel{"order_id": "%s"}',
        '/track_order{"order_id": "%s", "verified_customer_id": "daiki_moore_2408"}',
        '/cancel_order{"order_id": "%s", "confirmed": true, "pending_action": "x"}',
    ],
)
async def test_a_payload_with_an_order_id_does_not_skip_verification(
    demo_bot: Any, message: str
) -> None:
    sender = new_sender()
    reply = await demo_bot.handle(sender, message % VICTIM_ORDER)
    assert not shows_order(reply, VICTIM_ORDER), reply.text
    # And a plain yes afterwards (to whatever was asked) changes nothing either.
    after = await demo_bot.handle(sender, "yes")
    assert not shows_order(after, VICTIM_ORDER), after.text
    assert not slots(demo_bot, sender).get("verified_customer_id")
    assert status(demo_bot, VICTIM_ORDER) == "pending"


async def test_a_payload_cannot_claim_the_verified_customer(demo_bot: Any) -> None:
    parse = demo_bot.parse('/track_order{"verified_customer_id": "daiki_moore_2408"}')
    assert parse["intent"] == {"name": "track_order", "confidence": 1.0}
    assert parse["entities"] == []
    sender = new_sender()
    message = payload("track_order", verified_customer_id="daiki_moore_2408", order_id=VICTIM_ORDER)
    reply = await demo_bot.handle(sender, message)
    assert "verify your identity" in reply.text, reply.text
    assert not slots(demo_bot, sender).get("verified_customer_id")


@pytest.mark.parametrize(
    "message",
    [
        "/affirm",
        '/affirm{"order_id": "%s"}',
        '/affirm{"order_id": "%s", "confirmed": true}',
        '/confirm_cancel{"order_id": "%s"}',
        '/confirm_cancel{"confirmed": "yes"}',
        '/confirm_return{"x": "yes please"}',
        '/yes{"ok": "confirm"}',
        "/yes",
    ],
)
async def test_a_payload_is_not_the_explicit_yes_a_cancel_needs(
    demo_bot: Any, message: str
) -> None:
    sender = await verified_as(demo_bot, OWN_ORDER)
    await ask_to_cancel(demo_bot, sender, OWN_ORDER)
    reply = await demo_bot.handle(sender, message.replace("%s", OWN_ORDER))
    assert status(demo_bot, OWN_ORDER) == "pending", reply.text
    assert "is cancelled" not in reply.text
    assert not slots(demo_bot, sender).get("confirmed")


async def test_a_payload_cannot_cancel_someone_elses_order(demo_bot: Any) -> None:
    sender = await verified_as(demo_bot, YES_ORDER)
    await ask_to_cancel(demo_bot, sender, YES_ORDER)
    reply = await demo_bot.handle(sender, payload("confirm_cancel", order_id=VICTIM_ORDER))
    assert not shows_order(reply, VICTIM_ORDER), reply.text
    await demo_bot.handle(sender, "yes")
    await demo_bot.handle(sender, "/confirm_cancel")
    assert status(demo_bot, VICTIM_ORDER) == "pending"


async def test_shopbots_own_confirm_button_still_cancels(demo_bot: Any) -> None:
    sender = await verified_as(demo_bot, BUTTON_ORDER)
    asked = await ask_to_cancel(demo_bot, sender, BUTTON_ORDER)
    buttons = [b["payload"] for m in asked.messages for b in m.get("buttons", [])]
    assert buttons == ["/confirm_cancel", "/deny_cancel"]
    assert demo_bot.parse("/confirm_cancel")["intent"] == {
        "name": "confirm_cancel",
        "confidence": 1.0,
    }
    reply = await demo_bot.handle(sender, "/confirm_cancel")
    assert status(demo_bot, BUTTON_ORDER) == "cancelled", reply.text


def test_no_payload_reads_as_a_typed_yes() -> None:
    from bot.nlu.consent import Answer, classify

    for text in ["/affirm", '/confirm_cancel{"confirmed": "yes"}', "/yes", "/ok{}"]:
        assert classify(text, {"intent": {"name": "affirm", "confidence": 1.0}}) is Answer.OTHER
    assert classify("/deny", {"intent": {"name": "deny", "confidence": 1.0}}) is Answer.NO
    assert classify("yes", {"intent": {"name": "affirm", "confidence": 0.9}}) is Answer.YES


# ----------------------------------------------------------------- reading a payload


class Labels:
    """A classifier that knows a few intents and reads every text as ``oos``."""

    intents = ["affirm", "deny", "oos", "track_order", "cancel_order"]

    def predict(self, texts: list[str]) -> list[list[tuple[str, float]]]:
        return [[("oos", 0.6)] for _ in texts]


@pytest.fixture
def nlu() -> NLU:
    return NLU(Labels())


def test_a_payload_is_its_intent_at_full_confidence(nlu: NLU) -> None:
    parse = nlu.parse("/track_order")
    assert parse == {
        "text": "/track_order",
        "intent": {"name": "track_order", "confidence": 1.0},
        "intent_ranking": [{"name": "track_order", "confidence": 1.0}],
        "entities": [],
    }


def test_a_payloads_entities_are_read_as_the_extractor_reads_them(nlu: NLU) -> None:
    parse = nlu.parse('/track_order{"order_id": "w 4843514", "email": "Ann@Example.com"}')
    assert parse["entities"] == [
        {"entity": "order_id", "value": "#W4843514", "extractor": "payload"},
        {"entity": "email", "value": "ann@example.com", "extractor": "payload"},
    ]
    parse = nlu.parse('/affirm{"person_name": "yara li", "zip": 10126}')
    assert [(e["entity"], e["value"]) for e in parse["entities"]] == [
        ("person_name", "Yara Li"),
        ("zip", "10126"),
    ]
    listed = nlu.parse('/track_order{"order_id": ["#W4843514", "#W9933266"]}')
    assert [e["value"] for e in listed["entities"]] == ["#W4843514", "#W9933266"]


@pytest.mark.parametrize(
    "entities",
    [
        {"order_id": "not an order"},
        {"order_id": True},
        {"order_id": None},
        {"order_id": {"$ne": ""}},
        {"order_id": [["#W4843514"]]},
        {"order_id": "#W4843514 " + "x" * 200},
        {"zip": 10126.5},
        {"email": "x" * 200 + "@example.com"},
        {"verified_customer_id": "daiki_moore_2408"},
        {"confirmed": True},
        {"requested_slot": "order_id"},
        {"person_name": "the"},
    ],
)
def test_invalid_payload_entities_are_dropped(nlu: NLU, entities: dict[str, Any]) -> None:
    parse = nlu.parse("/cancel_order" + json.dumps(entities))
    assert parse["intent"] == {"name": "cancel_order", "confidence": 1.0}
    assert parse["entities"] == []


def test_payload_entities_are_bounded(nlu: NLU) -> None:
    many = {"order_id": [f"#W{1000000 + i}" for i in range(50)]}
    many.update({f"x{i}": i for i in range(100)})
    assert len(nlu.parse("/track_order" + json.dumps(many))["entities"]) <= MAX_ENTITIES
    huge = "/track_order" + json.dumps({"order_id": "#W4843514", "pad": "x" * 5000})
    assert nlu.parse(huge)["entities"] == []
    deep = "/track_order{" + '"a":' + "[" * 400 + "]" * 400 + "}"
    assert nlu.parse(deep)["intent"]["name"] == "track_order"


@pytest.mark.parametrize(
    "text",
    [
        "/frobnicate",
        "/frobnicate{}",
        "/handoff please",
        "/",
        "/ track_order",
        "/track_order{} more",
    ],
)
def test_anything_else_starting_with_a_slash_is_read_as_text(nlu: NLU, text: str) -> None:
    # As Rasa's RegexMessageHandler: an unknown intent continues as user text.
    assert parse_payload(text, nlu.intents) is None
    assert nlu.parse(text)["intent"] == {"name": "oos", "confidence": 0.6}


@pytest.mark.parametrize(
    "text", ['/track_order{"order_id": }', "/track_order{'order_id': 1}", '/track_order{"a"}']
)
def test_malformed_payload_json_keeps_the_intent_without_entities(nlu: NLU, text: str) -> None:
    # As Rasa's RegexMessageHandler: "Continuing without entities".
    assert nlu.parse(text)["intent"] == {"name": "track_order", "confidence": 1.0}
    assert nlu.parse(text)["entities"] == []


def test_shopbots_own_button_payloads_are_known_intents() -> None:
    from bot.actions.orders import CANCEL_CONFIRM_BUTTONS
    from bot.actions.returns import RETURN_CONFIRM_BUTTONS
    from bot.turn.routes import ALL_CONFIRM_PAYLOADS, DECLINE_HANDOFF_PAYLOAD, HANDOFF_PAYLOAD

    payloads = {HANDOFF_PAYLOAD, DECLINE_HANDOFF_PAYLOAD, *ALL_CONFIRM_PAYLOADS, "/restart"}
    payloads |= {p for _, p in CANCEL_CONFIRM_BUTTONS + RETURN_CONFIRM_BUTTONS}
    assert {p.removeprefix("/") for p in payloads} <= BUTTON_INTENTS
    nlu = NLU(Labels())
    for payload in payloads:
        assert nlu.parse(payload)["intent"] == {"name": payload[1:], "confidence": 1.0}


def test_the_demo_models_intents_are_payloads(demo_bot: Any) -> None:
    for intent in demo_bot.nlu.classifier.intents:
        assert demo_bot.parse(f"/{intent}")["intent"] == {"name": intent, "confidence": 1.0}


# ----------------------------------------------------------------- over HTTP


async def test_model_parse_reads_payloads_and_never_fails(demo_config: Any, demo_bot: Any) -> None:
    client = await started_client(demo_config, demo_bot)
    try:
        text = payload("track_order", order_id=VICTIM_ORDER)
        resp = await client.post("/model/parse", json={"text": text})
        body = await resp.json()
        assert resp.status == 200
        assert body["intent"] == {"name": "track_order", "confidence": 1.0}
        assert body["entities"] == [
            {"entity": "order_id", "value": VICTIM_ORDER, "extractor": "payload"}
        ]
        for odd in ["/nope{", "/track_order{{{", "/track_order" + "[" * 500, "/" + "a" * 1900]:
            resp = await client.post("/model/parse", json={"text": odd})
            assert resp.status == 200, await resp.text()
        # The Rasa REST channel (loopback, no token set) takes payloads as messages too.
        resp = await client.post(
            "/webhooks/rest/webhook", json={"sender": new_sender(), "message": text}
        )
        messages = await resp.json()
        assert resp.status == 200
        assert "verify your identity" in " ".join(m.get("text", "") for m in messages)
    finally:
        await client.close()
