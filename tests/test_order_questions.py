"""Order questions as customers ask them (issue 15, part 4), through rasa-sdk's executor.

After verification: the list (status, date, items), which one was delivered / which are
pending, what is in an order, the most recent one, its tracking; and the order the
customer means, resolved from the conversation ("the first one", "the vacuum order",
"the delivered one"), with a question and one button per order when it is ambiguous.
Run on the demo store, on the tau-bench dev store (another catalogue, other customers)
and on a store whose orders have no dates (file order), in English and Chinese.
A reference never reaches another customer's order: those tests come first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.actions.order_refs import about_orders, chronological, read_question
from bot.actions.order_status import LIST_ORDERS_PAYLOAD
from bot.actions.registry import build_executor
from bot.actions.runner import ActionRunner
from bot.messages.catalogue import CATALOGUE
from bot.storage.orders import OrderBook
from tests.conftest import DEMO_STORE
from tests.test_actions import Chat, ent
from tests.test_orders import EMMA, make_store, open_book

TAU_STORE = Path(__file__).parent / "data" / "stores" / "taubench_retail"
EN, ZH = CATALOGUE["en"], CATALOGUE["zh"]

# Demo store: Emma Santos, 7 orders (the file does not list them by date).
SANTOS = "emma.santos7683@example.com"
SANTOS_BY_DATE = [
    "#W3113816",  # 2026-01-27 delivered, Cycling Helmet, ...
    "#W1539823",  # 2026-07-22 delivered, Indoor Security Camera, ...
    "#W8160318",  # 2026-10-31 processed, Pet Bed, Mechanical Keyboard
    "#W9903153",  # 2026-11-04 pending, Office Chair, ...
    "#W1620235",  # 2026-11-06 pending, Luggage Set, ...
    "#W9655299",  # 2026-11-18 pending, Vacuum Cleaner, ...
    "#W2918688",  # 2026-11-20 pending, Tablet
]
# Demo store: Yusuf Rossi; his #W2378156 (Headphones, Digital Camera in #W6679257) is
# what the attacks aim at.
ROSSI = "yusuf.rossi7301@example.com"
ROSSI_HEADPHONES, ROSSI_CAMERA = "#W2378156", "#W6679257"
# Tau-bench dev store: Sofia Thomas has two pending orders that both hold a vacuum cleaner.
SOFIA = "sofia.thomas3069@example.com"
SOFIA_VACUUM_AND_DUMBBELLS, SOFIA_VACUUM_AND_MORE = "#W2297866", "#W7619352"
# Tau-bench dev store: Ava Nguyen; the newest of her orders is the middle one in the file.
AVA, AVA_NEWEST = "ava.nguyen2868@example.com", "#W1242543"
IVAN, IVAN_DELIVERED = "ivan.santos3158@example.com", "#W6893533"


def _chat(book: OrderBook, language: str | None = None) -> Chat:
    chat = Chat(ActionRunner(executor=build_executor(book, [])))
    if language:
        chat.slots["language"] = language
    return chat


@pytest.fixture
def demo_book(tmp_path: Path) -> Iterator[OrderBook]:
    with OrderBook(DEMO_STORE, tmp_path / "orders.db") as book:
        yield book


@pytest.fixture
def tau_book(tmp_path: Path) -> Iterator[OrderBook]:
    with OrderBook(TAU_STORE, tmp_path / "orders.db") as book:
        yield book


@pytest.fixture
def undated_book(tmp_path: Path) -> Iterator[OrderBook]:
    """Real tau-bench customers whose orders carry no created_at at all."""
    with open_book(make_store(tmp_path / "store"), tmp_path / "state.db") as book:
        yield book


async def verified(book: OrderBook, email: str, language: str | None = None) -> Chat:
    chat = _chat(book, language)
    await chat.run("action_verify_customer", email, [ent("email", email)])
    assert chat.slots["verified_customer_id"]
    return chat


async def ask(chat: Chat, text: str, entities: list[dict[str, Any]] | None = None) -> Chat:
    result = await chat.run("action_order_status", text, entities)
    chat.buttons = [b for r in result["responses"] for b in r.get("buttons") or []]
    return chat


def other_customers_facts(book: OrderBook, email: str) -> list[str]:
    """Order ids, item titles and tracking numbers that only another customer's orders have."""
    me = book.find_customer(email=email)
    assert me is not None
    mine = book.orders_of(me.customer_id)
    my_words = {o.order_id for o in mine} | {i.title for o in mine for i in o.items}
    my_words |= {n for o in mine for n in o.tracking}
    other = book.find_customer(email=ROSSI)
    assert other is not None
    theirs = book.orders_of(other.customer_id)
    facts = {o.order_id for o in theirs} | {i.title for o in theirs for i in o.items}
    facts |= {n for o in theirs for n in o.tracking}
    return sorted(facts - my_words)


# ----------------------------------------------------------------- security first


async def test_a_remembered_list_cannot_reach_another_customers_orders(
    demo_book: OrderBook,
) -> None:
    chat = await verified(demo_book, SANTOS)
    # The slot holds someone else's orders (tampered with, or left from another chat).
    chat.slots["listed_orders"] = [ROSSI_HEADPHONES, ROSSI_CAMERA]
    for text in ("the first one", "the last one", "the second", "the one with the headphones"):
        await ask(chat, text)
        for fact in other_customers_facts(demo_book, SANTOS):
            assert fact not in chat.text, (text, fact)
        assert chat.slots.get("order_id") in (None, *SANTOS_BY_DATE)
        assert set(chat.slots.get("listed_orders") or []) <= set(SANTOS_BY_DATE)
        assert all(b["payload"].split()[-1] in SANTOS_BY_DATE for b in chat.buttons)


async def test_a_written_id_or_item_of_another_customer_reveals_nothing(
    demo_book: OrderBook,
) -> None:
    chat = await verified(demo_book, SANTOS)
    await ask(chat, f"status of {ROSSI_HEADPHONES}", [ent("order_id", ROSSI_HEADPHONES)])
    other = chat.text
    await ask(chat, "status of #W0000000", [ent("order_id", "#W0000000")])
    assert other.replace(ROSSI_HEADPHONES, "#ID") == chat.text.replace("#W0000000", "#ID")
    # Written without the NLU finding it, or pointed at by an item only he bought.
    for text in (f"what is in {ROSSI_CAMERA}?", "the digital camera order", "the headphones one"):
        await ask(chat, text)
        for fact in other_customers_facts(demo_book, SANTOS):
            assert fact not in chat.text, (text, fact)


async def test_references_before_verification_show_nothing(demo_book: OrderBook) -> None:
    chat = _chat(demo_book)
    chat.slots["listed_orders"] = list(SANTOS_BY_DATE)
    await ask(chat, "the first one")
    assert chat.text == EN["ask_identity"]
    assert "#W" not in chat.text and chat.slots.get("order_id") is None
    assert chat.slots["pending_action"] == "action_order_status"


# ----------------------------------------------------------------- the list


async def test_list_shows_each_order_with_status_date_and_items_by_date(
    demo_book: OrderBook,
) -> None:
    chat = await verified(demo_book, SANTOS)
    await ask(chat, "which orders do I have?")
    assert chat.slots["listed_orders"] == SANTOS_BY_DATE
    lines = chat.text.splitlines()
    assert lines[0] == EN["order_list_header"]
    assert lines[1].startswith("1. #W3113816 (2026-01-27): delivered, 5 items (Cycling Helmet")
    assert lines[7].startswith("7. #W2918688 (2026-11-20): pending, 1 item (Tablet), $")
    assert "3. #W8160318 (2026-10-31): processed, 2 items (Pet Bed, Mechanical Keyboard)" in (
        chat.text
    )


async def test_without_dates_the_list_is_in_file_order(undated_book: OrderBook) -> None:
    in_file = [o.order_id for o in undated_book.orders_of(EMMA)]
    chat = await verified(undated_book, "emma.smith3991@example.com")
    await ask(chat, "show me my orders")
    assert chat.slots["listed_orders"] == in_file
    assert f"1. {in_file[0]}: " in chat.text and "(20" not in chat.text
    await ask(chat, "where is my most recent order?")
    assert chat.text.startswith(EN["order_most_recent"].format(order_id=in_file[-1]))
    assert "Placed on" not in chat.text


# ----------------------------------------------------------------- references after a list


async def test_positions_items_and_status_resolve_to_one_order(demo_book: OrderBook) -> None:
    chat = await verified(demo_book, SANTOS)
    await ask(chat, "list my orders")
    await ask(chat, "the second one")
    assert chat.text.startswith("Order #W1539823 is delivered.")
    assert chat.slots["order_id"] == "#W1539823"
    await ask(chat, "and the tracking?")  # the order being discussed
    assert chat.text == "Order #W1539823 is delivered.\nTracking number: 749747277477"
    await ask(chat, "the last one")
    assert chat.slots["order_id"] == "#W2918688"
    await ask(chat, "the vacuum order")
    assert chat.slots["order_id"] == "#W9655299" and "Vacuum Cleaner" in chat.text
    await ask(chat, "what's in it?")
    assert chat.text.startswith("Order #W9655299 contains:\n- Vacuum Cleaner")
    await ask(chat, "the processed one")
    assert chat.slots["order_id"] == "#W8160318"
    # The list is still the one shown: "the first one" is its first line.
    await ask(chat, "tracking for the first one")
    assert chat.text == "Order #W3113816 is delivered.\nTracking number: 443521489581"


async def test_an_ambiguous_reference_asks_with_one_button_per_order(
    demo_book: OrderBook,
) -> None:
    chat = await verified(demo_book, SANTOS)
    await ask(chat, "list my orders")
    await ask(chat, "the delivered one")
    assert chat.text == EN["which_order"]
    assert [b["payload"] for b in chat.buttons] == [
        "show order #W3113816",
        "show order #W1539823",
    ]
    assert chat.buttons[1]["title"].startswith("#W1539823: 4 items (Indoor Security Camera")
    assert chat.slots["pending_action"] == "action_order_status"
    assert chat.slots["listed_orders"] == ["#W3113816", "#W1539823"]
    # Either the button or a position among the two answers it.
    await ask(chat, chat.buttons[1]["payload"])
    assert chat.text.startswith("Order #W1539823 is delivered.")
    await ask(chat, "the delivered one")
    await ask(chat, "the first")
    assert chat.slots["order_id"] == "#W3113816"
    # Two orders with an office chair: which one?
    await ask(chat, "list my orders")
    await ask(chat, "the one with the office chair")
    assert chat.text == EN["which_order"]
    assert [b["payload"].split()[-1] for b in chat.buttons] == ["#W3113816", "#W9903153"]


async def test_a_position_past_the_list_asks_which_one(demo_book: OrderBook) -> None:
    chat = await verified(demo_book, SANTOS)
    await ask(chat, "which are still pending?")
    assert chat.text.startswith(EN["order_list_header_status"].format(statuses="pending"))
    assert chat.slots["listed_orders"] == SANTOS_BY_DATE[3:]
    await ask(chat, "the 9th one")
    assert chat.text == EN["which_order"]
    assert [b["payload"].split()[-1] for b in chat.buttons] == SANTOS_BY_DATE[3:]


# ----------------------------------------------------------------- questions without a list


async def test_questions_on_the_dev_store(tau_book: OrderBook) -> None:
    chat = await verified(tau_book, IVAN)
    await ask(chat, "which one was delivered?")
    assert chat.text.startswith(f"Order {IVAN_DELIVERED} is delivered.")
    await ask(chat, "which orders haven't arrived yet?")
    assert chat.text.startswith(
        EN["order_list_header_status"].format(statuses="pending or processed")
    ) or chat.text.startswith(EN["order_list_header_status"].format(statuses="pending"))
    assert IVAN_DELIVERED not in chat.text

    chat = await verified(tau_book, AVA)
    await ask(chat, "where is my most recent order?")
    assert chat.text.startswith(f"Your most recent order is {AVA_NEWEST}.\nOrder {AVA_NEWEST} is")
    assert "Placed on 2025-11-17." in chat.text
    assert chat.slots["order_id"] == AVA_NEWEST
    await ask(chat, "what is in order #W9232383?", [ent("order_id", "#W9232383")])
    assert chat.text.startswith("Order #W9232383 contains:\n- Headphones")

    chat = await verified(tau_book, SOFIA)
    await ask(chat, "the vacuum order")
    assert chat.text == EN["which_order"]
    assert {b["payload"].split()[-1] for b in chat.buttons} == {
        SOFIA_VACUUM_AND_DUMBBELLS,
        SOFIA_VACUUM_AND_MORE,
    }
    await ask(chat, "the one with the dumbbell set")
    assert chat.slots["order_id"] == SOFIA_VACUUM_AND_DUMBBELLS
    await ask(chat, "what's the tracking number?")
    assert chat.text.endswith(EN["order_no_tracking"])


async def test_the_question_asked_before_verification_is_answered_after(
    tau_book: OrderBook,
) -> None:
    chat = _chat(tau_book)
    await ask(chat, "where is my most recent order?")
    assert chat.text == EN["ask_identity"]
    await ask(chat, AVA, [ent("email", AVA)])
    assert chat.texts[0] == EN["verified"].format(first_name="Ava")
    assert f"Your most recent order is {AVA_NEWEST}" in chat.text
    assert chat.slots["order_question"] is None and chat.slots["pending_action"] is None


async def test_none_with_that_status_says_so_and_lists_them(tau_book: OrderBook) -> None:
    chat = await verified(tau_book, AVA)  # three pending orders
    await ask(chat, "which ones were delivered?")
    assert chat.text.startswith(EN["no_orders_with_status"].format(statuses="delivered"))
    assert len(chat.slots["listed_orders"]) == 3


# ----------------------------------------------------------------- the offer to list


async def test_the_offer_to_list_is_a_button_and_a_yes(demo_book: OrderBook) -> None:
    chat = await verified(demo_book, SANTOS)
    await ask(chat, "status of #W0000000", [ent("order_id", "#W0000000")])
    assert chat.buttons == [{"title": EN["button_list_orders"], "payload": LIST_ORDERS_PAYLOAD}]
    assert chat.slots["offered_order_list"] is True
    await ask(chat, "yes")
    assert chat.text.startswith(EN["order_list_header"])
    assert chat.slots["listed_orders"] == SANTOS_BY_DATE
    assert chat.slots["offered_order_list"] is None
    await ask(chat, "#W0000000", [ent("order_id", "#W0000000")])
    await ask(chat, LIST_ORDERS_PAYLOAD)  # the button
    assert chat.slots["listed_orders"] == SANTOS_BY_DATE
    await ask(chat, "#W0000000", [ent("order_id", "#W0000000")])
    await ask(chat, "no thanks")
    assert chat.text == EN["order_list_declined"]


async def test_cancel_without_pending_orders_offers_the_list(tau_book: OrderBook) -> None:
    chat = await verified(tau_book, "omar.johnson6791@example.com")  # delivered, cancelled
    result = await chat.run("action_cancel_order", "cancel my order")
    assert chat.text == EN["no_pending_orders"]
    buttons = [b for r in result["responses"] for b in r.get("buttons") or []]
    assert buttons == [{"title": EN["button_list_orders"], "payload": LIST_ORDERS_PAYLOAD}]
    await ask(chat, "yes")
    assert chat.text.startswith(EN["order_list_header"]) and "#W2809253" in chat.text


# ----------------------------------------------------------------- Chinese


async def test_chinese_questions_get_chinese_answers(demo_book: OrderBook) -> None:
    chat = await verified(demo_book, SANTOS, language="zh")
    await ask(chat, "我的订单有哪些")
    assert chat.text.startswith(ZH["order_list_header"])
    assert "1. #W3113816（2026年1月27日）：已送达，5 件商品（Cycling Helmet、" in chat.text
    await ask(chat, "第二个")
    assert chat.text.startswith("订单 #W1539823 的状态：已送达。")
    await ask(chat, "最后一个")
    assert chat.slots["order_id"] == "#W2918688"
    await ask(chat, "Vacuum Cleaner那个订单里有什么")
    assert chat.text.startswith("订单 #W9655299 包含以下商品：")
    await ask(chat, "已送达的那个")
    assert chat.text == ZH["which_order"]
    assert [b["payload"] for b in chat.buttons] == ["show order #W3113816", "show order #W1539823"]
    assert chat.buttons[0]["title"].startswith("#W3113816：5 件商品（")
    await ask(chat, "最近的订单到哪了")
    assert chat.text.startswith("您最近的订单是 #W2918688。\n订单 #W2918688 的状态：待处理。")
    assert "下单日期：2026年11月20日。" in chat.text
    assert chat.text.endswith(ZH["order_no_tracking"])
    await ask(chat, "还没发货的订单有哪些")
    assert chat.text.startswith(ZH["order_list_header_status"].format(statuses="待处理"))


async def test_chinese_offer_button_keeps_an_english_payload(tau_book: OrderBook) -> None:
    chat = await verified(tau_book, SOFIA, language="zh")
    await ask(chat, "订单 #W0000000", [ent("order_id", "#W0000000")])
    assert chat.buttons == [{"title": ZH["button_list_orders"], "payload": LIST_ORDERS_PAYLOAD}]
    await ask(chat, "好的")
    assert chat.text.startswith(ZH["order_list_header"])


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "listed",
    ["#W3113816", [None, 3, {"x": 1}, "#W3113816"], ["nonsense"] * 200, {"a": "b"}],
)
async def test_a_malformed_remembered_list_is_ignored(demo_book: OrderBook, listed: Any) -> None:
    chat = await verified(demo_book, SANTOS)
    chat.slots["listed_orders"] = listed
    await ask(chat, "the first one")
    # Only real ids of hers count; otherwise "the first one" of all her orders.
    assert chat.slots["order_id"] == "#W3113816"


@pytest.mark.parametrize("text", ["", "   ", "????", "x" * 3000, "第零个", "the 0th one", "#"])
async def test_odd_messages_get_a_clear_reply(demo_book: OrderBook, text: str) -> None:
    chat = await verified(demo_book, SANTOS)
    await ask(chat, "list my orders")
    await ask(chat, text)
    assert chat.text.strip()
    assert chat.slots.get("order_id") in (None, *SANTOS_BY_DATE)


async def test_a_customer_without_orders_is_told_so(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store")
    with (store / "customers.jsonl").open("a") as fh:
        fh.write('{"customer_id": "new_1", "name": "Nia New", "email": "nia@example.com"}\n')
    with open_book(store, tmp_path / "state.db") as book:
        chat = await verified(book, "nia@example.com")
        for text in ("list my orders", "the first one", "where is my most recent order?"):
            await ask(chat, text)
            assert chat.text == EN["no_orders"]


def test_reading_questions() -> None:
    first = read_question("tracking for the first one")
    assert first.kind == "tracking" and first.position == 1
    assert read_question("the last one").position == -1
    assert read_question("which of my orders hasn't arrived yet?").statuses == {
        "pending",
        "processed",
    }
    assert read_question("the one with the headphones").position is None
    assert read_question("第3个").position == 3 and read_question("头一个").position == 1
    assert read_question("我最近的订单").recent and read_question("所有订单").wants_list


def test_chronological_falls_back_to_file_order(undated_book: OrderBook) -> None:
    orders = undated_book.orders_of(EMMA)
    assert chronological(orders) == orders


def test_the_policy_can_tell_an_order_question_before_running_the_action(
    demo_book: OrderBook,
) -> None:
    santos = demo_book.find_customer(email=SANTOS)
    assert santos is not None
    slots: dict[str, Any] = {"verified_customer_id": santos.customer_id}
    for text in ("the second one", "the vacuum order", "which one was delivered?", "第二个"):
        assert about_orders(text, slots, demo_book), text
    for text in ("do you sell running shoes?", "how long does shipping take?", "thanks"):
        assert not about_orders(text, slots, demo_book), text
    # "what's in it?" needs an order being discussed, and one of hers.
    assert not about_orders("what's in it?", slots, demo_book)
    assert about_orders("what's in it?", {**slots, "order_id": "#W9655299"}, demo_book)
    assert not about_orders("what's in it?", {**slots, "order_id": ROSSI_CAMERA}, demo_book)
    # Another customer's order id or item is no reference; nor is anything unverified.
    assert not about_orders(f"what about {ROSSI_CAMERA}?", slots, demo_book)
    assert not about_orders("the espresso machine one", slots, demo_book)
    assert not about_orders("the second one", {}, demo_book)
