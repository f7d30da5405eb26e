"""The demo order backend: a store's orders and customers, plus the changes made in chat.

The store's ``orders.jsonl`` / ``customers.jsonl`` are the merchant's data and are never
rewritten. Cancellations and return requests made through the bot are appended to a small
SQLite table (WAL mode) and laid over the file data whenever an order is read, so they
survive restarts and are seen by every process that shares the database file
(``bot/storage/order_changes.py``).

Policy rules that belong to the data (only pending orders can be cancelled, only delivered
ones returned) are enforced here, so no caller can skip them; the conversational rules
(verification, explicit confirmation) live in :mod:`bot.actions.orders` and
:mod:`bot.actions.returns`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.storage.db import Session
from bot.storage.order_changes import OrderChanges, apply_changes

ORDER_STATUSES = ("pending", "processed", "delivered", "cancelled")
# Statuses only the bot produces (they never appear in orders.jsonl).
CANCELLED = "cancelled"
RETURN_REQUESTED = "return requested"
CANCEL_REASONS = ("no longer needed", "ordered by mistake")


class OrderError(Exception):
    """A requested order change is not allowed; ``str(exc)`` can be shown to the customer."""


class OrderDataError(ValueError):
    """``orders.jsonl`` or ``customers.jsonl`` is malformed; the message names file, line, field."""


@dataclass
class OrderItem:
    """One line of an order: a specific variant (``item_id``) of a product."""

    product_id: str
    item_id: str
    title: str
    quantity: int = 1
    price: float = 0.0
    options: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


@dataclass
class Order:
    """An order as the customer should see it now: file data plus changes made in chat."""

    order_id: str
    customer_id: str
    status: str
    items: list[OrderItem]
    created_at: str | None = None
    tracking: list[str] = field(default_factory=list)
    address: Any = None
    payment_history: list[dict[str, Any]] = field(default_factory=list)
    # Set by changes made through the bot.
    updated_at: str | None = None
    cancel_reason: str | None = None
    return_item_ids: list[str] = field(default_factory=list)
    return_reason: str | None = None
    refund_method_id: str | None = None

    @property
    def total(self) -> float:
        """Sum of the item lines, rounded to cents."""
        return round(sum(item.price * item.quantity for item in self.items), 2)

    @property
    def payment_method_id(self) -> str | None:
        """The payment method the order was paid with (the first payment), if known."""
        for entry in self.payment_history:
            if entry.get("transaction_type", "payment") == "payment":
                return entry.get("payment_method_id")
        return None

    def items_by_id(self, item_ids: list[str]) -> list[OrderItem]:
        """The order lines whose ``item_id`` is in ``item_ids``, in order-line order."""
        wanted = set(item_ids)
        return [item for item in self.items if item.item_id in wanted]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, including the computed ``total``."""
        data = asdict(self)
        data["total"] = self.total
        return data


@dataclass
class Customer:
    """A store customer, as identified during verification."""

    customer_id: str
    name: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    zip: str = ""
    address: Any = None
    # payment method id -> details, e.g. {"source": "credit_card", "brand": "visa", "last_four": "1234"}
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def normalize_order_id(order_id: str) -> str:
    """Key used to look orders up: "#W1234567", "w1234567" and "W 1234567" are the same order."""
    return re.sub(r"[\s#]+", "", str(order_id)).upper()


def _normalize_name(name: str) -> str:
    return " ".join(str(name).lower().split())


def _names_of(customer: Customer) -> set[str]:
    """The normalised spellings of a customer's full name."""
    return {
        _normalize_name(customer.name),
        _normalize_name(f"{customer.first_name} {customer.last_name}"),
    }


class OrderBook:
    """Orders and customers of one store, with cancellations and returns persisted in SQLite.

    ``OrderBook(orders_path, customers_path, state_db_path)`` reads the two JSONL files.
    ``OrderBook(store_dir, state_db_path)`` (the form in docs/architecture.md) reads
    ``store_dir/orders.jsonl`` and ``store_dir/customers.jsonl``; there both files are
    optional, as in the store format, and a missing one means no orders / customers.

    Safe to share between threads: every method takes one lock (and so does the database).
    """

    def __init__(
        self,
        orders_path: str | Path,
        customers_path: str | Path,
        state_db_path: str | Path | None = None,
    ) -> None:
        """Load the files and open (creating if needed) the state database."""
        if state_db_path is None:
            store_dir = Path(orders_path)
            if not store_dir.is_dir():
                raise TypeError(
                    "OrderBook needs (orders_path, customers_path, state_db_path) "
                    "or (store_dir, state_db_path)"
                )
            state_db_path = customers_path
            orders_path = store_dir / "orders.jsonl"
            customers_path = store_dir / "customers.jsonl"
            required = False
        else:
            required = True
        self.orders_path = Path(orders_path)
        self.customers_path = Path(customers_path)
        self.state_db_path = Path(state_db_path)

        self._orders: dict[str, Order] = {}
        for line_no, row in _read_jsonl(self.orders_path, required):
            order = _order_from_row(row, self.orders_path, line_no)
            key = normalize_order_id(order.order_id)
            if key in self._orders:
                raise OrderDataError(
                    f"{self.orders_path}, line {line_no}, field 'order_id': "
                    f"duplicate order id {order.order_id!r}"
                )
            self._orders[key] = order
        self._customers: dict[str, Customer] = {}
        for line_no, row in _read_jsonl(self.customers_path, required):
            customer = _customer_from_row(row, self.customers_path, line_no)
            if customer.customer_id in self._customers:
                raise OrderDataError(
                    f"{self.customers_path}, line {line_no}, field 'customer_id': "
                    f"duplicate customer id {customer.customer_id!r}"
                )
            self._customers[customer.customer_id] = customer
        self._by_customer: dict[str, list[str]] = {}
        for key, order in self._orders.items():
            self._by_customer.setdefault(order.customer_id, []).append(key)

        self._lock = threading.RLock()
        self._changes = OrderChanges(self.state_db_path)

    @classmethod
    def for_store(cls, store: Any, db_path: Path) -> OrderBook | None:
        """The order book of a loaded store (``knowledge_base`` ``Store``), or None without
        order data; its changes live in ``orders.db`` beside the conversation database
        file ``db_path``."""
        if not (store.orders_path or store.customers_path):
            return None
        return cls(store.orders_path, store.customers_path, db_path.with_name("orders.db"))

    # ----------------------------------------------------------------- lookups

    def find_customer(
        self, email: str | None = None, name: str | None = None, zip: str | None = None
    ) -> Customer | None:
        """The one customer every given detail belongs to, or None.

        The email is compared case-insensitively, the name case- and
        whitespace-insensitively, the zip code exactly. An email identifies on its own,
        a name only with a zip code (the store policy requires both); but whatever else
        is given must agree: an email with someone else's name or zip is no match.
        """
        return self.match_customer(email=email, name=name, zip=zip)[0]

    def match_customer(
        self, email: str | None = None, name: str | None = None, zip: str | None = None
    ) -> tuple[Customer | None, str | None]:
        """(customer, None) when the details identify one customer, else (None, why).

        ``why`` is ``"conflict"`` when the details point at different customers (an
        email and a name or zip that belong to someone else), ``"not_found"`` when
        they match no one, ``"incomplete"`` when they cannot identify anyone (a name
        without a zip code, or nothing at all).
        """
        wanted_email = (email or "").strip().lower()
        wanted_name = _normalize_name(name) if name else ""
        wanted_zip = str(zip).strip() if zip else ""
        with self._lock:
            by_email = None
            if wanted_email:
                by_email = next(
                    (
                        c
                        for c in self._customers.values()
                        if c.email and c.email.strip().lower() == wanted_email
                    ),
                    None,
                )
            by_name_zip = None
            if wanted_name and wanted_zip:
                by_name_zip = next(
                    (
                        c
                        for c in self._customers.values()
                        if wanted_name in _names_of(c) and c.zip.strip() == wanted_zip
                    ),
                    None,
                )
        if wanted_email:
            if by_email is None:
                # A name + zip of a real customer beside an unknown email is no proof either.
                return None, "conflict" if by_name_zip is not None else "not_found"
            if wanted_name and wanted_name not in _names_of(by_email):
                return None, "conflict"
            if wanted_zip and by_email.zip.strip() != wanted_zip:
                return None, "conflict"
            return by_email, None
        if not (wanted_name and wanted_zip):
            return None, "incomplete"
        return (by_name_zip, None) if by_name_zip is not None else (None, "not_found")

    def get_customer(self, customer_id: str) -> Customer | None:
        """The customer with this id, or None."""
        with self._lock:
            return self._customers.get(customer_id)

    def orders_of(self, customer_id: str) -> list[Order]:
        """The customer's orders, with changes made in chat applied, in file order."""
        with self._lock:
            return [self._current(key) for key in self._by_customer.get(customer_id, [])]

    def get(self, order_id: str) -> Order | None:
        """The order with this id ("#W1234567", "W1234567", ...), or None."""
        key = normalize_order_id(order_id)
        with self._lock:
            if key not in self._orders:
                return None
            return self._current(key)

    def history(self, order_id: str) -> list[dict[str, Any]]:
        """The changes made in chat to this order, oldest first (for the merchant's pages)."""
        order = self.get(order_id)
        if order is None:
            return []
        with self._lock:
            return self._changes.of(order.order_id)

    # ----------------------------------------------------------------- changes

    def cancel(self, order_id: str, reason: str) -> Order:
        """Cancel a pending order; raises :class:`OrderError` (customer-readable) otherwise."""
        with self._lock, self._changes.transaction() as tx:
            order = self._require(order_id, tx)
            if order.status != "pending":
                raise OrderError(
                    f"Order {order.order_id} is {order.status}, so it can't be cancelled. "
                    "Only pending orders can be cancelled."
                )
            self._changes.record(tx, order.order_id, "cancel", CANCELLED, reason, [], None)
            return self._current(normalize_order_id(order.order_id), tx)

    def request_return(
        self,
        order_id: str,
        item_ids: list[str],
        reason: str,
        refund_method_id: str | None = None,
    ) -> Order:
        """Mark a delivered order "return requested" for these items.

        The refund goes to ``refund_method_id`` (the original payment method when None).
        Raises :class:`OrderError` (customer-readable) when the order is not delivered or an
        item is not part of it.
        """
        with self._lock, self._changes.transaction() as tx:
            order = self._require(order_id, tx)
            if order.status != "delivered":
                raise OrderError(
                    f"Order {order.order_id} is {order.status}, so it can't be returned. "
                    "Only delivered orders can be returned."
                )
            if not item_ids:
                raise OrderError("Please tell me which items you'd like to return.")
            in_order = {item.item_id for item in order.items}
            unknown = [item_id for item_id in item_ids if item_id not in in_order]
            if unknown:
                raise OrderError(
                    f"Item {', '.join(unknown)} is not part of order {order.order_id}."
                )
            refund_to = refund_method_id or order.payment_method_id
            self._changes.record(
                tx, order.order_id, "return", RETURN_REQUESTED, reason, list(item_ids), refund_to
            )
            return self._current(normalize_order_id(order.order_id), tx)

    def close(self) -> None:
        """Close the state database."""
        with self._lock:
            self._changes.close()

    def __enter__(self) -> OrderBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    def _require(self, order_id: str, session: Session) -> Order:
        key = normalize_order_id(order_id)
        if key not in self._orders:
            raise OrderError(f"I couldn't find order {order_id}.")
        return self._current(key, session)

    def _current(self, key: str, session: Session | None = None) -> Order:
        """The file's order with the recorded changes applied (read fresh: another process
        sharing the database may have changed it)."""
        base = self._orders[key]
        return apply_changes(base, self._changes.of(base.order_id, session))


# --------------------------------------------------------------------- file loading


def _read_jsonl(path: Path, required: bool) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; clear errors for bad JSON."""
    if not path.exists():
        if required:
            raise FileNotFoundError(f"{path}: file not found")
        return []
    rows: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise OrderDataError(
                    f"{path}, line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from exc
            if not isinstance(row, dict):
                raise OrderDataError(f"{path}, line {line_no}: expected a JSON object")
            rows.append((line_no, row))
    return rows


def _field(row: dict[str, Any], name: str, path: Path, line_no: int) -> Any:
    value = row.get(name)
    if value is None or value == "":
        raise OrderDataError(f"{path}, line {line_no}, field '{name}': missing")
    return value


def _order_from_row(row: dict[str, Any], path: Path, line_no: int) -> Order:
    def bad(name: str, why: str) -> OrderDataError:
        return OrderDataError(f"{path}, line {line_no}, field '{name}': {why}")

    order_id = str(_field(row, "order_id", path, line_no))
    customer_id = str(_field(row, "customer_id", path, line_no))
    status = str(_field(row, "status", path, line_no)).strip().lower()
    if status not in ORDER_STATUSES:
        raise bad("status", f"{status!r} is not one of {', '.join(ORDER_STATUSES)}")
    raw_items = row.get("items") or []
    if not isinstance(raw_items, list):
        raise bad("items", "expected a list")
    items: list[OrderItem] = []
    for n, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise bad(f"items[{n}]", "expected an object")
        product_id = raw.get("product_id")
        title = raw.get("title") or raw.get("name")
        if not product_id:
            raise bad(f"items[{n}].product_id", "missing")
        if not title:
            raise bad(f"items[{n}].title", "missing")
        try:
            price = float(raw.get("price") or 0.0)
            quantity = int(raw.get("quantity") or 1)
        except (TypeError, ValueError) as exc:
            raise bad(f"items[{n}]", f"price and quantity must be numbers ({exc})") from exc
        options = raw.get("options") or {}
        if not isinstance(options, dict):
            raise bad(f"items[{n}].options", "expected an object")
        items.append(
            OrderItem(
                product_id=str(product_id),
                # Stores without variants have no item ids; the product id names the line.
                item_id=str(raw.get("item_id") or product_id),
                title=str(title),
                quantity=quantity,
                price=price,
                options={str(k): str(v) for k, v in options.items()},
            )
        )
    tracking = row.get("tracking") or []
    if isinstance(tracking, str):
        tracking = [tracking]
    if not isinstance(tracking, list):
        raise bad("tracking", "expected a list of tracking ids")
    payment_history = row.get("payment_history") or []
    if not isinstance(payment_history, list):
        raise bad("payment_history", "expected a list")
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        status=status,
        items=items,
        created_at=row.get("created_at"),
        tracking=[str(t) for t in tracking],
        address=row.get("address"),
        payment_history=payment_history,
    )


def _customer_from_row(row: dict[str, Any], path: Path, line_no: int) -> Customer:
    customer_id = str(_field(row, "customer_id", path, line_no))
    first = str(row.get("first_name") or "")
    last = str(row.get("last_name") or "")
    name = row.get("name") or ""
    if isinstance(name, dict):  # tolerate {"first_name", "last_name"} as in tau-bench
        first = first or str(name.get("first_name") or "")
        last = last or str(name.get("last_name") or "")
        name = ""
    name = str(name) or f"{first} {last}".strip()
    if not name:
        raise OrderDataError(f"{path}, line {line_no}, field 'name': missing")
    if not first and not last:
        first, _, last = name.partition(" ")
    address = row.get("address")
    zip_code = row.get("zip") or (address.get("zip") if isinstance(address, dict) else "") or ""
    methods = row.get("payment_methods") or {}
    if isinstance(methods, list):  # a list of {"id", ...} is fine too
        methods = {str(m.get("id", n)): m for n, m in enumerate(methods) if isinstance(m, dict)}
    if not isinstance(methods, dict):
        raise OrderDataError(
            f"{path}, line {line_no}, field 'payment_methods': expected an object or a list"
        )
    return Customer(
        customer_id=customer_id,
        name=name,
        first_name=first,
        last_name=last,
        email=str(row.get("email") or ""),
        zip=str(zip_code),
        address=address,
        payment_methods=methods,
    )
