"""OrderBook: loading, customer lookup, policy checks and persistence of changes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bot.storage.orders import OrderBook, OrderDataError, OrderError

TAU = Path("/work/shared/datasets/taubench_retail")

# Real tau-bench customers used across the order and action tests.
EMMA = "emma_smith_8564"  # pays by gift card; pending #W2417020, delivered #W5605613
RAJ = "raj_sanchez_2970"  # credit card; delivered #W7736708 (4 items), pending #W4566809
IVAN = "ivan_santos_6635"  # PayPal; delivered #W6893533
OTHERS = ["noah_brown_6181", "james_li_5688"]  # unrelated orders (#W2611340 is processed)
USERS = [EMMA, RAJ, IVAN, *OTHERS]


def _customer_row(user_id: str, user: dict) -> dict:
    name = user["name"]
    return {
        "customer_id": user_id,
        "name": f"{name['first_name']} {name['last_name']}",
        "first_name": name["first_name"],
        "last_name": name["last_name"],
        "email": user["email"],
        "zip": user["address"]["zip"],
        "address": user["address"],
        "payment_methods": user["payment_methods"],
    }


def _order_row(order: dict) -> dict:
    return {
        "order_id": order["order_id"],
        "customer_id": order["user_id"],
        "status": order["status"],
        "items": [
            {
                "product_id": item["product_id"],
                "item_id": item["item_id"],
                "title": item["name"],
                "quantity": 1,
                "price": item["price"],
                "options": item["options"],
            }
            for item in order["items"]
        ],
        "created_at": None,
        "tracking": [t for f in order["fulfillments"] for t in f["tracking_id"]],
        "address": order["address"],
        "payment_history": order["payment_history"],
    }


def make_store(directory: Path, user_ids: list[str] = USERS) -> Path:
    """Write orders.jsonl / customers.jsonl for a few real tau-bench customers."""
    users = json.loads((TAU / "users.json").read_text())
    orders = json.loads((TAU / "orders.json").read_text())
    directory.mkdir(parents=True, exist_ok=True)
    wanted = set(user_ids)
    with (directory / "customers.jsonl").open("w") as fh:
        for user_id in user_ids:
            fh.write(json.dumps(_customer_row(user_id, users[user_id])) + "\n")
    with (directory / "orders.jsonl").open("w") as fh:
        for order in orders.values():
            if order["user_id"] in wanted:
                fh.write(json.dumps(_order_row(order)) + "\n")
    return directory


def open_book(store: Path, db: Path) -> OrderBook:
    return OrderBook(store / "orders.jsonl", store / "customers.jsonl", db)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "store")


@pytest.fixture
def book(store: Path, tmp_path: Path):
    with open_book(store, tmp_path / "state.db") as book:
        yield book


def test_find_customer_by_email_ignores_case(book: OrderBook) -> None:
    customer = book.find_customer(email="  Emma.Smith3991@EXAMPLE.com ")
    assert customer is not None and customer.customer_id == EMMA
    assert customer.first_name == "Emma" and customer.zip == "10192"


def test_find_customer_by_name_and_zip_needs_both(book: OrderBook) -> None:
    found = book.find_customer(name="raj  SANCHEZ", zip="92147")
    assert found is not None and found.customer_id == RAJ
    assert book.find_customer(name="Raj Sanchez") is None
    assert book.find_customer(name="Raj Sanchez", zip="92148") is None
    assert book.find_customer(zip="92147") is None


def test_get_normalises_order_ids(book: OrderBook) -> None:
    for ref in ("#W2417020", "W2417020", "w 2417020"):
        order = book.get(ref)
        assert order is not None and order.order_id == "#W2417020"
    assert book.get("#W0000000") is None


def test_orders_of_lists_only_that_customers_orders(book: OrderBook) -> None:
    ids = {o.order_id for o in book.orders_of(EMMA)}
    assert ids == {"#W2417020", "#W5605613", "#W3614011"}
    assert book.orders_of("nobody") == []


def test_order_total_and_to_dict(book: OrderBook) -> None:
    order = book.get("#W2611340")
    assert order is not None
    assert order.total == pytest.approx(536.65)
    data = order.to_dict()
    assert data["total"] == pytest.approx(536.65)
    assert data["tracking"] == ["357962501027"]
    assert data["items"][0]["title"] == "Water Bottle"
    json.dumps(data)  # JSON-ready


def test_cancel_pending_order_persists_across_reopen(store: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    orders_file = (store / "orders.jsonl").read_bytes()
    with open_book(store, db) as book:
        cancelled = book.cancel("W2417020", "no longer needed")
        assert cancelled.status == "cancelled"
        assert cancelled.cancel_reason == "no longer needed"
    with open_book(store, db) as reopened:
        order = reopened.get("#W2417020")
        assert order is not None and order.status == "cancelled"
        assert reopened.history("#W2417020")[0]["reason"] == "no longer needed"
    # The merchant's file is never rewritten.
    assert (store / "orders.jsonl").read_bytes() == orders_file


def test_cancel_refuses_orders_that_are_not_pending(book: OrderBook) -> None:
    with pytest.raises(OrderError, match="delivered, so it can't be cancelled"):
        book.cancel("#W5605613", "no longer needed")
    book.cancel("#W2417020", "ordered by mistake")
    with pytest.raises(OrderError, match="cancelled"):
        book.cancel("#W2417020", "ordered by mistake")


def test_request_return_only_for_delivered_orders_and_their_items(book: OrderBook) -> None:
    order = book.get("#W7736708")
    assert order is not None and order.status == "delivered"
    first = order.items[0].item_id
    with pytest.raises(OrderError, match="not part of order"):
        book.request_return("#W7736708", ["0000000000"], "too big")
    with pytest.raises(OrderError, match="pending, so it can't be returned"):
        book.request_return("#W4566809", [book.get("#W4566809").items[0].item_id], "x")
    returned = book.request_return("#W7736708", [first], "too big")
    assert returned.status == "return requested"
    assert returned.return_item_ids == [first]
    assert returned.refund_method_id == "credit_card_3362387"  # the original method
    with pytest.raises(OrderError):
        book.request_return("#W7736708", [first], "again")


def test_changes_are_seen_by_another_orderbook_on_the_same_db(store: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with open_book(store, db) as a, open_book(store, db) as b:
        a.cancel("#W4566809", "ordered by mistake")
        assert b.get("#W4566809").status == "cancelled"
        with pytest.raises(OrderError):
            b.cancel("#W4566809", "ordered by mistake")


def test_concurrent_cancels_from_threads_succeed_once(book: OrderBook) -> None:
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            book.cancel("#W3614011", "no longer needed")
            outcomes.append("ok")
        except OrderError:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7


def test_store_dir_form_of_the_constructor(store: Path, tmp_path: Path) -> None:
    with OrderBook(store, tmp_path / "state.db") as book:
        assert book.get("#W2417020") is not None
    empty = tmp_path / "empty_store"
    empty.mkdir()
    with OrderBook(empty, tmp_path / "other.db") as book:  # orders are optional in a store
        assert book.get("#W2417020") is None and book.find_customer(email="x@y.z") is None


def test_bad_json_names_file_and_line(store: Path, tmp_path: Path) -> None:
    orders = store / "orders.jsonl"
    lines = orders.read_text().splitlines()
    lines.insert(2, '{"order_id": "#W1", oops}')
    orders.write_text("\n".join(lines) + "\n")
    with pytest.raises(OrderDataError, match=r"orders\.jsonl, line 3: not valid JSON"):
        open_book(store, tmp_path / "state.db")


def test_bad_field_names_file_line_and_field(store: Path, tmp_path: Path) -> None:
    customers = store / "customers.jsonl"
    customers.write_text(customers.read_text() + json.dumps({"name": "No Id"}) + "\n")
    with pytest.raises(OrderDataError, match=r"customers\.jsonl, line 6, field 'customer_id'"):
        open_book(store, tmp_path / "state.db")
    make_store(store)
    orders = store / "orders.jsonl"
    orders.write_text(
        json.dumps({"order_id": "#W9", "customer_id": EMMA, "status": "shipped", "items": []})
        + "\n"
    )
    with pytest.raises(OrderDataError, match=r"line 1, field 'status'"):
        open_book(store, tmp_path / "state.db")
