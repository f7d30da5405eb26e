"""Issue 15's examples, end to end over HTTP (``POST /api/chat`` with the conversation's
token): follow-ups about the products just shown, a follow-up on a policy topic, the
orders of a verified customer in the middle of a return, store questions that sound
like product ones, and the cheapest variant that can be bought. Every expected fact is
read from the demo store's own files, not written here."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import create_app
from knowledge_base.catalog import Product
from knowledge_base.money import format_money
from knowledge_base.store import load_store
from tests.conversation import chat

pytestmark = pytest.mark.slow


@pytest.fixture
async def client(demo_config, demo_bot):
    server = TestServer(create_app(demo_config, bot=demo_bot), port=0)
    async with TestClient(server) as c:
        yield c


@pytest.fixture(scope="module")
def store(demo_store: Path):  # type: ignore[no-untyped-def]
    return load_store(demo_store)


def text_of(data: dict) -> str:
    return "\n".join(m.get("text", "") for m in data["messages"])


def product(store, title: str) -> Product:  # type: ignore[no-untyped-def]
    return next(p for p in store.products if p.title == title)


def faq(store, faq_id: str) -> str:  # type: ignore[no-untyped-def]
    return next(f.answer for f in store.faqs if f.id == faq_id)


def sender() -> str:
    return f"i15-{uuid.uuid4().hex[:8]}"


async def test_sizes_and_prices_of_the_running_shoes_just_shown(client, store) -> None:
    shoes = product(store, "Running Shoes")
    me = sender()
    first = await chat(client, me, "do you sell running shoes?")
    assert "Running Shoes" in text_of(first)
    data = await chat(client, me, "what sizes do they come in and how much?")
    text = text_of(data)
    assert "couldn't find" not in text
    for size in {v.options["size"] for v in shoes.variants if v.available}:
        assert f"- {size}:" in text
    cheapest = min(v.price for v in shoes.variants if v.available)
    assert format_money(cheapest, "USD") in text


async def test_shipping_to_canada_then_how_much(client, store) -> None:
    me = sender()
    first = await chat(client, me, "how long does shipping take to canada?")
    assert first["sources"], first
    data = await chat(client, me, "and how much does it cost?")
    assert data["action"] != "action_abstain", text_of(data)
    assert data["sources"][0]["id"] == "faq-shipping-cost"
    assert faq(store, "faq-shipping-cost").split(".")[0] in text_of(data)


async def test_which_orders_do_i_have_in_the_middle_of_a_return(client, demo_store) -> None:
    orders = [json.loads(line) for line in (demo_store / "orders.jsonl").read_text().splitlines()]
    customers = {
        c["customer_id"]: c
        for c in map(json.loads, (demo_store / "customers.jsonl").read_text().splitlines())
    }
    mine = [o for o in orders if o["customer_id"] == orders[0]["customer_id"]]
    customer = customers[orders[0]["customer_id"]]
    me = sender()
    await chat(client, me, "I want to return an item")
    await chat(client, me, f"my email is {customer['email']}")
    data = await chat(client, me, "which orders do I have?")
    text = text_of(data)
    for order in mine:
        assert order["order_id"] in text, text
    others = [o["order_id"] for o in orders if o["customer_id"] != customer["customer_id"]]
    assert not any(oid in text for oid in others)
    # The return still waits for its order: "the first one" of that list is taken.
    data = await chat(client, me, "the first one")
    assert data["action"] != "action_abstain"


async def test_gift_cards_reach_the_payment_pages_not_the_catalog(client) -> None:
    data = await chat(client, sender(), "do you have gift cards?")
    assert data["action"] != "action_product_search"
    assert "couldn't find a product" not in text_of(data)
    assert any("gift" in s["id"] for s in data["sources"])


async def test_price_match_is_never_an_empty_catalog_search(client) -> None:
    me = sender()
    await chat(client, me, "how much is the coffee maker?")
    data = await chat(client, me, "do you price match?")
    assert "couldn't find a product" not in text_of(data)


async def test_the_cheapest_backpack_in_stock_is_one_that_can_be_bought(client, store) -> None:
    backpack = product(store, "Backpack")
    buyable = min(v.price for v in backpack.variants if v.available)
    sold_out = min(v.price for v in backpack.variants)
    assert sold_out < buyable
    data = await chat(client, sender(), "what's the cheapest backpack you have in stock?")
    text = text_of(data)
    assert format_money(buyable, "USD") in text and format_money(sold_out, "USD") not in text


async def test_a_filter_after_a_list_stays_in_that_list(client, store) -> None:
    me = sender()
    await chat(client, me, "do you sell electronics?")
    data = await chat(client, me, "anything under $150?")
    text = text_of(data)
    electronics = {p.title for p in store.products if p.category == "Electronics"}
    listed = {line[2:].split(":")[0] for line in text.splitlines() if line.startswith("- ")}
    assert listed and listed <= electronics, text
