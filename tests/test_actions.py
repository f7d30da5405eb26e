"""Business actions run through rasa-sdk's real ActionExecutor (and over HTTP) on real data."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.executor import ActionExecutor

from bot.actions.registry import build_executor
from bot.actions.runner import (
    DOMAIN,
    ActionError,
    ActionRunner,
    apply_events,
    tracker_state,
)
from bot.messages.catalogue import CATALOGUE
from bot.storage.orders import OrderBook
from tests.test_orders import EMMA, RAJ, TAU, make_store, open_book

HANDOFF = "Connecting you with our support team now."
# The actions' English texts (bot/messages/).
ASK_IDENTITY = CATALOGUE["en"]["ask_identity"]
CUSTOMER_NOT_FOUND = CATALOGUE["en"]["customer_not_found"]
ORDERS_UNAVAILABLE = CATALOGUE["en"]["orders_unavailable"]
PRODUCT_NOT_FOUND = CATALOGUE["en"]["product_not_found"]


@dataclass
class Variant:
    id: str
    options: dict[str, str]
    price: float | None
    available: bool


@dataclass
class Product:
    id: str
    title: str
    price: float | None
    category: str
    variants: list[Variant] = field(default_factory=list)
    in_stock: bool = True


def load_catalog() -> list[Product]:
    """The tau-bench products, shaped like knowledge_base.store.Product."""
    raw = json.loads((TAU / "products.json").read_text())
    catalog = []
    for p in raw.values():
        variants = [
            Variant(v["item_id"], v["options"], v["price"], v["available"])
            for v in p["variants"].values()
        ]
        catalog.append(
            Product(
                p["product_id"], p["name"], None, "", variants, any(v.available for v in variants)
            )
        )
    return catalog


CATALOG = load_catalog()
TSHIRT = next(p for p in CATALOG if p.title == "T-Shirt")


class Chat:
    """One conversation: runs actions and keeps the slots the way the dialogue would."""

    def __init__(self, runner: ActionRunner, sender: str = "tester") -> None:
        self.runner = runner
        self.sender = sender
        self.slots: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []

    async def run(
        self,
        action: str,
        text: str = "",
        entities: list[dict[str, Any]] | None = None,
        **slots: Any,
    ) -> dict[str, Any]:
        self.slots.update(slots)
        message = {
            "text": text,
            "intent": {"name": "x", "confidence": 1.0},
            "entities": entities or [],
        }
        state = tracker_state(self.sender, self.slots, message, events=self.events)
        result = await self.runner.run(action, state, DOMAIN)
        self.slots = apply_events(self.slots, result["events"])
        self.texts = [r.get("text") or "" for r in result["responses"]]
        self.text = "\n".join(self.texts)
        return result


def ent(name: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": 0, "extractor": "test", **extra}


def slot_events(result: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "store")


@pytest.fixture
def book(store: Path, tmp_path: Path):
    with open_book(store, tmp_path / "state.db") as book:
        yield book


@pytest.fixture
def executor(book: OrderBook) -> ActionExecutor:
    return build_executor(book, CATALOG, HANDOFF)


@pytest.fixture
def chat(executor: ActionExecutor) -> Chat:
    return Chat(ActionRunner(executor=executor))


async def verify(chat: Chat, email: str) -> None:
    await chat.run("action_verify_customer", f"my email is {email}", [ent("email", email)])
    assert chat.slots["verified_customer_id"]


# ----------------------------------------------------------------- verification


async def test_verify_by_email(chat: Chat) -> None:
    result = await chat.run(
        "action_verify_customer",
        "it's EMMA.smith3991@example.com",
        [ent("email", "EMMA.smith3991@example.com")],
    )
    assert slot_events(result)["verified_customer_id"] == EMMA
    assert "Emma" in chat.text


async def test_verify_by_name_and_zip_across_turns(chat: Chat) -> None:
    await chat.run("action_verify_customer", "I'm Raj Sanchez", [ent("person_name", "Raj Sanchez")])
    assert "zip code" in chat.text
    assert chat.slots["customer_name"] == "Raj Sanchez"
    assert not chat.slots.get("verified_customer_id")
    await chat.run("action_verify_customer", "92147", [ent("zip", "92147")])
    assert chat.slots["verified_customer_id"] == RAJ


async def test_verify_with_wrong_details_says_so_and_forgets_them(chat: Chat) -> None:
    await chat.run(
        "action_verify_customer",
        "Raj Sanchez 11111",
        [ent("person_name", "Raj Sanchez"), ent("zip", "11111")],
    )
    assert chat.text == CUSTOMER_NOT_FOUND
    assert not chat.slots.get("verified_customer_id")
    assert chat.slots["customer_name"] is None and chat.slots["customer_zip"] is None


async def test_one_customer_per_conversation(chat: Chat) -> None:
    await verify(chat, "emma.smith3991@example.com")
    await chat.run(
        "action_verify_customer",
        "raj.sanchez2046@example.com",
        [ent("email", "raj.sanchez2046@example.com")],
    )
    assert "one customer account per conversation" in chat.text
    assert chat.slots["verified_customer_id"] == EMMA


# ----------------------------------------------------------------- order status


async def test_order_status_refuses_before_verification(chat: Chat) -> None:
    result = await chat.run(
        "action_order_status", "where is #W2417020", [ent("order_id", "#W2417020")]
    )
    assert chat.text == ASK_IDENTITY
    assert "pending" not in chat.text and "Laptop" not in chat.text
    assert slot_events(result)["pending_action"] == "action_order_status"
    # Resumed after verification, it answers about the remembered order.
    await chat.run(
        "action_order_status",
        "emma.smith3991@example.com",
        [ent("email", "emma.smith3991@example.com")],
    )
    assert "Order #W2417020 is pending" in chat.text
    assert chat.slots["pending_action"] is None


async def test_order_status_of_another_customers_order_reveals_nothing(chat: Chat) -> None:
    await verify(chat, "emma.smith3991@example.com")
    await chat.run("action_order_status", "status of #W2611340", [ent("order_id", "#W2611340")])
    other = chat.text
    await chat.run("action_order_status", "status of #W0000000", [ent("order_id", "#W0000000")])
    missing = chat.text
    # Someone else's order reads exactly like an order that does not exist.
    assert other.replace("#W2611340", "#ID") == missing.replace("#W0000000", "#ID")
    for leak in ("processed", "Water Bottle", "Office Chair", "357962501027", "536"):
        assert leak not in other


async def test_order_status_reports_status_items_and_tracking(chat: Chat) -> None:
    await verify(chat, "raj.sanchez2046@example.com")
    result = await chat.run("action_order_status", "W7736708?", [ent("order_id", "W7736708")])
    assert "Order #W7736708 is delivered" in chat.text
    assert "Headphones (on-ear / wireless / red): $377.97" in chat.text
    assert "Total: $980.87" in chat.text
    assert "Tracking number:" in chat.text
    assert slot_events(result)["order_id"] == "#W7736708"


async def test_order_status_without_id_lists_the_customers_orders(chat: Chat) -> None:
    await verify(chat, "emma.smith3991@example.com")
    await chat.run("action_order_status", "show my orders")
    for order_id in ("#W2417020", "#W5605613", "#W3614011"):
        assert order_id in chat.text
    assert "#W2611340" not in chat.text


# ----------------------------------------------------------------- cancel


async def test_cancel_asks_reason_then_yes_then_cancels_and_persists(
    chat: Chat, store: Path, tmp_path: Path
) -> None:
    await verify(chat, "emma.smith3991@example.com")
    result = await chat.run(
        "action_cancel_order", "cancel #W2417020", [ent("order_id", "#W2417020")]
    )
    assert "no longer needed, or was it ordered by mistake" in chat.text
    assert [b["payload"] for b in result["responses"][0]["buttons"]] == [
        "no longer needed",
        "ordered by mistake",
    ]
    assert chat.slots["pending_action"] == "action_cancel_order"

    await chat.run("action_cancel_order", "I don't need it anymore")
    assert "Please confirm: cancel order #W2417020?" in chat.text
    assert "Laptop" in chat.text and "$2,674.40" in chat.text
    assert "Reason: no longer needed" in chat.text
    assert chat.slots["pending_action"] == "action_cancel_order"
    with open_book(store, tmp_path / "state.db") as other:
        assert other.get("#W2417020").status == "pending"  # nothing changed without a yes

    await chat.run("action_cancel_order", "yes", confirmed=True)
    assert "order #W2417020 is cancelled" in chat.text
    assert "gift card immediately" in chat.text
    assert chat.slots["pending_action"] is None and chat.slots["confirmed"] is None

    with open_book(store, tmp_path / "state.db") as reopened:
        assert reopened.get("#W2417020").status == "cancelled"


async def test_cancel_paid_by_card_is_refunded_in_5_to_7_business_days(chat: Chat) -> None:
    await verify(chat, "raj.sanchez2046@example.com")
    await chat.run(
        "action_cancel_order",
        "cancel #W4566809, ordered by mistake",
        [ent("order_id", "#W4566809")],
    )
    assert "Reason: ordered by mistake" in chat.text
    await chat.run("action_cancel_order", "yes", confirmed=True)
    assert "5 to 7 business days" in chat.text and "$826.70" in chat.text


async def test_cancel_without_an_order_id_offers_the_pending_orders(chat: Chat) -> None:
    await verify(chat, "emma.smith3991@example.com")
    result = await chat.run("action_cancel_order", "I want to cancel an order")
    assert "#W2417020" in chat.text and "#W3614011" in chat.text
    assert "#W5605613" not in chat.text  # delivered: not cancellable
    assert [b["title"] for b in result["responses"][0]["buttons"]] == ["#W2417020", "#W3614011"]
    assert chat.slots["pending_action"] == "action_cancel_order"


async def test_a_stale_yes_does_not_cancel_without_asking(chat: Chat, book: OrderBook) -> None:
    await verify(chat, "emma.smith3991@example.com")
    await chat.run(
        "action_cancel_order",
        "cancel #W3614011 by mistake",
        [ent("order_id", "#W3614011")],
        confirmed=True,
    )
    assert "Please confirm" in chat.text
    assert book.get("#W3614011").status == "pending"


async def test_cancel_of_a_delivered_order_is_refused(chat: Chat, book: OrderBook) -> None:
    await verify(chat, "emma.smith3991@example.com")
    await chat.run(
        "action_cancel_order",
        "cancel #W5605613 by mistake",
        [ent("order_id", "#W5605613")],
        confirmed=True,
    )
    assert "is delivered, so it can't be cancelled" in chat.text
    assert book.get("#W5605613").status == "delivered"


async def test_cancel_no_leaves_the_order_alone(chat: Chat, book: OrderBook) -> None:
    await verify(chat, "emma.smith3991@example.com")
    await chat.run(
        "action_cancel_order", "cancel #W3614011 not needed", [ent("order_id", "#W3614011")]
    )
    await chat.run("action_cancel_order", "no", confirmed=False)
    assert "haven't changed anything" in chat.text
    assert book.get("#W3614011").status == "pending"


async def test_cancel_refuses_another_customers_order(chat: Chat, book: OrderBook) -> None:
    await verify(chat, "ivan.santos3158@example.com")
    await chat.run(
        "action_cancel_order",
        "cancel #W2417020 no longer needed",
        [ent("order_id", "#W2417020")],
        confirmed=True,
    )
    assert "couldn't find order #W2417020 on your account" in chat.text
    assert book.get("#W2417020").status == "pending"


# ----------------------------------------------------------------- returns


async def test_return_form_accepts_a_delivered_order_and_its_items(chat: Chat) -> None:
    await verify(chat, "raj.sanchez2046@example.com")
    result = await chat.run(
        "validate_return_form",
        "return from #W7736708",
        [ent("order_id", "#W7736708")],
        requested_slot="order_id",
    )
    assert slot_events(result)["order_id"] == "#W7736708"
    assert "Luggage Set" in chat.text  # the items to choose from

    result = await chat.run(
        "validate_return_form", "the headphones and the notebooks", requested_slot="return_items"
    )
    assert slot_events(result)["return_items"] == ["3104857380", "6574183535"]

    result = await chat.run("validate_return_form", "all of it", requested_slot="return_items")
    assert len(slot_events(result)["return_items"]) == 4

    result = await chat.run("validate_return_form", "the bicycle", requested_slot="return_items")
    assert slot_events(result)["return_items"] is None
    assert "couldn't match that" in chat.text

    result = await chat.run(
        "validate_return_form", "They arrived damaged", requested_slot="return_reason"
    )
    assert slot_events(result)["return_reason"] == "They arrived damaged"


async def test_return_form_rejects_orders_that_are_not_delivered_or_not_yours(chat: Chat) -> None:
    await verify(chat, "raj.sanchez2046@example.com")
    result = await chat.run(
        "validate_return_form",
        "#W4566809",
        [ent("order_id", "#W4566809")],
        requested_slot="order_id",
    )
    assert slot_events(result)["order_id"] is None
    assert "is pending, so it can't be returned" in chat.text

    result = await chat.run(
        "validate_return_form",
        "#W5605613",
        [ent("order_id", "#W5605613")],
        requested_slot="order_id",
    )
    assert slot_events(result)["order_id"] is None
    assert "delivered" not in chat.text and "Camera" not in chat.text


async def test_return_form_validates_candidates_sent_as_slot_events(chat: Chat) -> None:
    """The Rasa way: candidates arrive as trailing SlotSet events."""
    await verify(chat, "ivan.santos3158@example.com")
    chat.slots.update(
        order_id="#W6893533", return_items="the garden hose", requested_slot="return_items"
    )
    chat.events = [
        {"event": "slot", "name": "return_items", "value": "the garden hose", "timestamp": None}
    ]
    result = await chat.run("validate_return_form", "the garden hose")
    assert slot_events(result)["return_items"] == ["5206946487"]


async def test_return_form_asks_for_verification_first(chat: Chat) -> None:
    result = await chat.run(
        "validate_return_form",
        "#W7736708",
        [ent("order_id", "#W7736708")],
        requested_slot="order_id",
    )
    assert chat.text == ASK_IDENTITY
    assert slot_events(result)["order_id"] is None
    assert slot_events(result)["pending_action"] == "return_form"


async def test_submit_return_asks_yes_then_requests_the_return(chat: Chat, book: OrderBook) -> None:
    await verify(chat, "raj.sanchez2046@example.com")
    chat.slots.update(order_id="#W7736708", return_items=["3104857380"], return_reason="too loud")
    result = await chat.run("action_submit_return", "")
    assert "Please confirm this return of order #W7736708" in chat.text
    assert "Headphones" in chat.text
    assert "Refund: $377.97 to your Mastercard ending 2130." in chat.text  # the original method
    # The question's own payload, so no other question's "yes" button can answer it.
    assert result["responses"][0]["buttons"][0]["payload"] == "/confirm_return"
    assert book.get("#W7736708").status == "delivered"

    await chat.run("action_submit_return", "yes", confirmed=True)
    assert "You'll receive an email with instructions" in chat.text
    assert "$377.97" in chat.text
    order = book.get("#W7736708")
    assert order.status == "return requested" and order.return_item_ids == ["3104857380"]
    assert chat.slots["return_items"] is None and chat.slots["pending_action"] is None


async def test_submit_return_can_refund_to_an_existing_gift_card(
    chat: Chat, book: OrderBook
) -> None:
    await verify(chat, "raj.sanchez2046@example.com")
    chat.slots.update(order_id="#W7736708", return_items=["6574183535"], return_reason="wrong size")
    await chat.run("action_submit_return", "please refund it to my gift card")
    assert "Refund: $28.14 to your gift card." in chat.text
    await chat.run("action_submit_return", "yes", confirmed=True)
    assert book.get("#W7736708").refund_method_id == "gift_card_2259499"


# ----------------------------------------------------------------- products


async def test_product_search_lists_real_variants_filtered_by_colour(chat: Chat) -> None:
    result = await chat.run(
        "action_product_search",
        "do you have a blue t-shirt?",
        [ent("product", "T-Shirt", product_id=TSHIRT.id), ent("color", "blue")],
    )
    blue = [v for v in TSHIRT.variants if v.options["color"] == "blue"]
    assert blue
    for v in blue[:5]:
        assert f"{v.price:.2f}" in chat.text
    assert "T-Shirt — blue / M / cotton / crew neck: $50.88, in stock" in chat.text
    cards = result["responses"][0]["custom"]
    assert cards["type"] == "product_cards"
    card = cards["products"][0]
    assert card["id"] == TSHIRT.id
    assert {v["id"] for v in card["variants"]} == {v.id for v in blue}
    assert all(v["options"]["color"] == "blue" for v in card["variants"])
    prices = [v.price for v in TSHIRT.variants]
    assert card["price_min"] == min(prices) and card["price_max"] == max(prices)
    assert slot_events(result)["last_products"] == [TSHIRT.id]


async def test_product_search_from_text_alone(chat: Chat) -> None:
    result = await chat.run("action_product_search", "how much are your red tshirts")
    card = result["responses"][0]["custom"]["products"][0]
    assert card["title"] == "T-Shirt"
    assert card["variants"] and all(v["options"]["color"] == "red" for v in card["variants"])


async def test_product_search_reads_a_size_from_the_text(chat: Chat) -> None:
    await chat.run("action_product_search", "tshirt size XL")
    xl = [v for v in TSHIRT.variants if v.options["size"] == "XL"]
    assert f"{len(xl)} in XL:" in chat.text
    for v in xl:
        assert f"${v.price:.2f}" in chat.text


async def test_product_search_follow_up_uses_last_products(chat: Chat) -> None:
    await chat.run(
        "action_product_search", "t-shirts", [ent("product", "T-Shirt", product_id=TSHIRT.id)]
    )
    result = await chat.run("action_product_search", "in purple?", [ent("color", "purple")])
    card = result["responses"][0]["custom"]["products"][0]
    assert card["id"] == TSHIRT.id and all(
        v["options"]["color"] == "purple" for v in card["variants"]
    )


async def test_product_search_with_an_unavailable_colour_says_so(chat: Chat) -> None:
    result = await chat.run(
        "action_product_search",
        "gold t-shirt",
        [ent("product", "T-Shirt", product_id=TSHIRT.id), ent("color", "gold")],
    )
    assert "T-Shirt doesn't come in gold" in chat.text
    assert result["responses"][0]["custom"] == {}


async def test_unknown_product_gets_an_honest_no_match(chat: Chat) -> None:
    result = await chat.run("action_product_search", "do you sell hovercrafts?")
    assert chat.text == PRODUCT_NOT_FOUND
    assert all(not r["custom"] for r in result["responses"])
    assert slot_events(result)["last_products"] == []


async def test_a_store_without_orders_says_orders_cannot_be_looked_up() -> None:
    chat = Chat(ActionRunner(executor=build_executor(None, CATALOG, HANDOFF)))
    await chat.run("action_order_status", "#W2417020", [ent("order_id", "#W2417020")])
    assert chat.text == ORDERS_UNAVAILABLE
    await chat.run("validate_return_form", "#W2417020", [ent("order_id", "#W2417020")])
    assert chat.text == ORDERS_UNAVAILABLE
    result = await chat.run("action_product_search", "t-shirt")
    assert result["responses"][0]["custom"]["products"][0]["title"] == "T-Shirt"


# ----------------------------------------------------------------- handoff and runner


async def test_handoff_sets_the_slot_and_says_the_store_text(chat: Chat) -> None:
    result = await chat.run("action_handoff", "I want a human")
    assert chat.text == HANDOFF
    assert slot_events(result)["handoff"] is True


async def test_runner_does_not_mutate_the_callers_tracker(executor: ActionExecutor) -> None:
    state = tracker_state(
        "s",
        {"verified_customer_id": RAJ, "requested_slot": "return_items", "order_id": "#W7736708"},
        {"text": "the notebook", "entities": []},
    )
    before = json.dumps(state, sort_keys=True)
    await ActionRunner(executor=executor).run("validate_return_form", state)
    assert json.dumps(state, sort_keys=True) == before


async def test_runner_turns_unknown_or_failing_actions_into_action_errors(
    executor: ActionExecutor,
) -> None:
    runner = ActionRunner(executor=executor)
    with pytest.raises(ActionError, match="no action named 'action_nope'"):
        await runner.run("action_nope", tracker_state("s", {}, None))
    # A malformed tracker makes the action itself raise.
    broken = tracker_state("s", {}, {"text": "hi", "entities": [None]})
    with pytest.raises(ActionError, match="action 'action_product_search' failed"):
        await runner.run("action_product_search", broken)


async def _action_server(executor: ActionExecutor) -> TestServer:
    """A minimal rasa-sdk webhook (same protocol as rasa_sdk.endpoint) on port 0."""

    async def webhook(request: web.Request) -> web.Response:
        result = await executor.run(await request.json())
        return web.json_response(result.model_dump() if result else None)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = TestServer(app, port=0)
    await server.start_server()
    return server


async def test_runner_over_http_matches_in_process(executor: ActionExecutor) -> None:
    server = await _action_server(executor)
    try:
        state = tracker_state("s", {}, {"text": "blue t-shirt", "entities": [ent("color", "blue")]})
        async with ActionRunner(endpoint_url=str(server.make_url("/webhook"))) as remote:
            over_http = await remote.run("action_product_search", state)
        in_process = await ActionRunner(executor=executor).run("action_product_search", state)
        assert over_http == json.loads(json.dumps(in_process))
        assert over_http["responses"][0]["custom"]["type"] == "product_cards"
    finally:
        await server.close()


async def test_runner_reports_an_unreachable_action_server() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ActionRunner(endpoint_url=f"http://127.0.0.1:{port}/webhook", timeout=2) as runner:
        with pytest.raises(ActionError, match="not reachable"):
            await runner.run("action_handoff", tracker_state("s", {}, None))


def test_apply_events_sets_slots_and_active_loop() -> None:
    slots = {"order_id": "#W1", "confirmed": True}
    out = apply_events(
        slots,
        [
            {"event": "slot", "name": "confirmed", "value": None},
            {"event": "active_loop", "name": "return_form"},
            {"event": "bot", "text": "hi"},
        ],
    )
    assert out == {"order_id": "#W1", "confirmed": None, "active_loop": "return_form"}
    assert slots["confirmed"] is True  # a copy
    state = tracker_state("s", out, {"text": "x"})
    assert state["active_loop"] == {"name": "return_form"}
    assert "active_loop" not in state["slots"] and state["slots"]["handoff"] is None
    assert apply_events(out, [{"event": "active_loop", "name": None}])["active_loop"] is None
