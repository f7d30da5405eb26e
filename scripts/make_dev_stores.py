#!/usr/bin/env python3
"""Build the development stores used to measure shopbot across store shapes.

The bot must not be tuned to the bundled demo store, so the answer-quality
evaluation also runs on stores of other shapes. This script converts two public
datasets (both MIT licensed, copied under ``../shared/datasets``) into store
directories in shopbot's format (see "A store directory" in the contract):

``tests/data/stores/taubench_retail/``  (catalogue + policy pages, no FAQ)
    From tau-bench's retail environment (sierra-research/tau-bench,
    ``envs/retail``): ``products.jsonl`` (all 50 products and their variants;
    the product price is the lowest variant price, the category is assigned
    here because tau-bench has none, the description is generated from the
    variant data only), ``docs/*.md`` (``wiki.md`` split into one page per
    section, agent-only instructions such as "make one tool call at a time"
    removed, every rule and number kept), ``orders.jsonl`` (a deterministic
    subset of 200 orders, with a synthetic ``created_at`` because tau-bench
    orders have no dates) and ``customers.jsonl`` (the customers of those
    orders).

``tests/data/stores/abcd_clothing/``  (policy pages only)
    From the ABCD guidelines (asappresearch/abcd, ``guidelines.json``): one
    page per guideline flow ("topic group") with a heading per subflow.
    The guidelines are step lists for human agents clicking buttons in a UI;
    each subflow is rewritten below (``ABCD_PAGES``) as a customer-facing
    policy section that keeps every rule, number and condition, dropping only
    agent-only UI steps (buttons, forms, surveys, "make up a reason"). Subflows
    whose steps are identical upstream (e.g. the three return reasons) share
    one section. The script checks that every upstream flow and subflow is
    covered exactly once and that every number of a subflow's source text
    appears in its section (except the few listed in ``ABCD_DROPPED_NUMBERS``),
    so a change upstream fails loudly instead of silently going stale.

Both stores get ``store.toml`` (an invented store name) and ``NOTICE.md``
(upstream, licence, what was derived or invented). The answer cases for the
stores (``tests/data/stores/<name>.cases.jsonl``) are hand-written and are not
touched by this script.

Output is deterministic (byte-identical on re-runs); files are only rewritten
when their content changes, stale ``docs/*.md`` pages are removed, and other
files (e.g. ``.shopbot/`` build artifacts) are left alone. Standard library only.

Usage::

    python scripts/make_dev_stores.py [--shared ../shared/datasets] [--out tests/data/stores]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = ROOT.parent / "shared" / "datasets"
DEFAULT_OUT = ROOT / "tests" / "data" / "stores"

ORDER_SUBSET = 200  # orders kept in the tau-bench store
EST = timezone(timedelta(hours=-5))  # tau-bench: "All times in the database are EST"


class SourceError(RuntimeError):
    """The upstream data is not what this script was written for."""


# =============================================================================
# Small helpers
# =============================================================================


def slugify(text: str) -> str:
    return re.sub(r"[\W_]+", "-", text.lower()).strip("-")


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def store_toml(settings: dict[str, str], script_note: str) -> str:
    lines = [f"# {script_note}", ""]
    lines += [f"{k} = {toml_string(v)}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


_SIZES = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]


def natural_key(value: str) -> tuple:
    """Sort "8", "10", "S", "M" sensibly: numbers by value, clothing sizes small to large, then text."""
    match = re.match(r"^(\d+(?:\.\d+)?)", value)
    if match:
        return (0, float(match.group(1)), value)
    if value.upper() in _SIZES:
        return (1, float(_SIZES.index(value.upper())), value)
    return (2, 0.0, value.lower())


def join_or(values: list[str]) -> str:
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


def reflow(text: str) -> str:
    """One line per paragraph and per list item (the sources above are hard-wrapped)."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines: list[str] = []
        for line in block.split("\n"):
            if line.startswith("- ") or not lines:
                lines.append(line.strip())
            else:
                lines[-1] += " " + line.strip()
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def write_store(out: Path, files: dict[str, str]) -> list[str]:
    """Write ``files`` (relative path -> text) under ``out``; drop stale docs pages."""
    changed: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    docs = out / "docs"
    if docs.is_dir():
        for page in docs.glob("*.md"):
            if f"docs/{page.name}" not in files:
                page.unlink()
                changed.append(f"removed docs/{page.name}")
    for rel, text in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.write_text(text, encoding="utf-8")
        changed.append(rel)
    return changed


def licence_block(path: Path) -> str:
    return "```\n" + path.read_text(encoding="utf-8").strip() + "\n```\n"


# =============================================================================
# tau-bench retail -> taubench_retail
# =============================================================================

TAU_SETTINGS = {
    "name": "Cobalt Crate",
    "currency": "USD",
    "language": "en",
    "greeting": (
        "Hi, this is Cobalt Crate! Ask me about our products and prices, or about "
        "cancelling, changing, returning or exchanging an order."
    ),
    "handoff_text": (
        "I'm handing this conversation to one of our customer service agents. "
        "They will pick it up here as soon as they can."
    ),
}

# tau-bench has product types but no categories; these are assigned here.
TAU_CATEGORIES: dict[str, str] = {
    "T-Shirt": "Clothing & Footwear",
    "Fleece Jacket": "Clothing & Footwear",
    "Running Shoes": "Clothing & Footwear",
    "Hiking Boots": "Clothing & Footwear",
    "Sneakers": "Clothing & Footwear",
    "Sunglasses": "Accessories & Travel",
    "Wristwatch": "Accessories & Travel",
    "Backpack": "Accessories & Travel",
    "Luggage Set": "Accessories & Travel",
    "Laptop": "Electronics",
    "Smartphone": "Electronics",
    "Tablet": "Electronics",
    "E-Reader": "Electronics",
    "Smart Watch": "Electronics",
    "Portable Charger": "Electronics",
    "Wireless Earbuds": "Electronics",
    "Headphones": "Electronics",
    "Bluetooth Speaker": "Electronics",
    "Gaming Mouse": "Electronics",
    "Mechanical Keyboard": "Electronics",
    "Action Camera": "Electronics",
    "Digital Camera": "Electronics",
    "Indoor Security Camera": "Smart Home",
    "Smart Thermostat": "Smart Home",
    "LED Light Bulb": "Smart Home",
    "Coffee Maker": "Kitchen",
    "Espresso Machine": "Kitchen",
    "Electric Kettle": "Kitchen",
    "Tea Kettle": "Kitchen",
    "Air Purifier": "Home & Office",
    "Vacuum Cleaner": "Home & Office",
    "Wall Clock": "Home & Office",
    "Bookshelf": "Home & Office",
    "Desk Lamp": "Home & Office",
    "Office Chair": "Home & Office",
    "Notebook": "Home & Office",
    "Garden Hose": "Outdoor & Garden",
    "Grill": "Outdoor & Garden",
    "Patio Umbrella": "Outdoor & Garden",
    "Bicycle": "Sports & Fitness",
    "Cycling Helmet": "Sports & Fitness",
    "Dumbbell Set": "Sports & Fitness",
    "Skateboard": "Sports & Fitness",
    "Water Bottle": "Sports & Fitness",
    "Yoga Mat": "Sports & Fitness",
    "Electric Toothbrush": "Health & Beauty",
    "Makeup Kit": "Health & Beauty",
    "Perfume": "Health & Beauty",
    "Jigsaw Puzzle": "Toys, Games & Pets",
    "Pet Bed": "Toys, Games & Pets",
}

# wiki.md is written to an LLM agent. Each edit is (exact source text, replacement):
# agent-only instructions are removed; sentences that mix a rule with an
# instruction to the agent keep the rule. Every edit must match exactly once.
TAU_WIKI_EDITS: list[tuple[str, str]] = [
    # Instructions about the agent's own behaviour, not store policy.
    (
        "- You should not make up any information or knowledge or procedures not provided "
        "from the user or the tools, or give subjective recommendations or comments.\n\n",
        "",
    ),
    (
        "- You should at most make one tool call at a time, and if you take a tool call, you "
        "should not respond to the user at the same time. If you respond to the user, you "
        "should not make a tool call.\n\n",
        "",
    ),
    # Tool mechanics -> the rule they encode.
    (
        "- Exchange or modify order tools can only be called once. Be sure that all items to "
        "be changed are collected into a list before making the tool call!!!",
        "- An exchange or an item modification can only be done once per order, so all items "
        "to be changed must be collected into one list before it is made.",
    ),
    (
        "- An order can only be cancelled if its status is 'pending', and you should check its "
        "status before taking the action.",
        "- An order can only be cancelled if its status is 'pending'.",
    ),
    (
        "- An order can only be modified if its status is 'pending', and you should check its "
        "status before taking the action.",
        "- An order can only be modified if its status is 'pending'.",
    ),
    (
        "- This action can only be called once, and will change the order status to 'pending "
        "(items modifed)', and the agent will not be able to modify or cancel the order anymore. "
        "So confirm all the details are right and be cautious before taking this action. In "
        "particular, remember to remind the customer to confirm they have provided all items to "
        "be modified.",
        "- Items can only be modified once: this changes the order status to 'pending (items "
        "modifed)', and after that the order cannot be modified or cancelled anymore. So all the "
        "details must be confirmed before the change, in particular that the customer has "
        "provided all items to be modified.",
    ),
    (
        "- An order can only be returned if its status is 'delivered', and you should check its "
        "status before taking the action.",
        "- An order can only be returned if its status is 'delivered'.",
    ),
    (
        "- An order can only be exchanged if its status is 'delivered', and you should check its "
        "status before taking the action. In particular, remember to remind the customer to "
        "confirm they have provided all items to be exchanged.",
        "- An order can only be exchanged if its status is 'delivered'. The customer needs to "
        "confirm they have provided all items to be exchanged.",
    ),
]

# Page titles for wiki.md's sections (the source heading when not listed).
TAU_PAGE_TITLES = {
    "Retail agent policy": "Customer service policy",
    "Domain basic": "Accounts, products and orders",
}


def _tau_docs(wiki: str) -> dict[str, str]:
    text = wiki.replace("\r\n", "\n")
    for old, new in TAU_WIKI_EDITS:
        count = text.count(old)
        if count != 1:
            raise SourceError(
                f"wiki.md: expected this text once, found it {count} times: {old[:70]!r}"
            )
        text = text.replace(old, new)

    # Split at "## " headings; the part before the first one is the "# " page.
    sections: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        match = re.match(r"^(#{1,2})\s+(.+?)\s*$", line)
        if match:
            sections.append((match.group(2), []))
        elif sections:
            sections[-1][1].append(line)
        elif line.strip():
            raise SourceError("wiki.md: text before the first heading")
    pages: dict[str, str] = {}
    for heading, body in sections:
        title = TAU_PAGE_TITLES.get(heading, heading)
        lines = [f"# {title}", ""]
        for line in body:
            # Subsections of a page ("### Modify payment") become "##" headings.
            lines.append(re.sub(r"^###\s+", "## ", line))
        page = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
        name = f"docs/{slugify(title)}.md"
        if name in pages:
            raise SourceError(f"wiki.md: two sections named {title!r}")
        pages[name] = page
    if len(pages) < 4:
        raise SourceError(f"wiki.md: expected at least 4 sections, found {len(pages)}")
    return pages


def _tau_products(raw: dict[str, Any]) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    for pid, p in raw.items():
        title = p["name"]
        if title not in TAU_CATEGORIES:
            raise SourceError(f"products.json: product {title!r} has no category in TAU_CATEGORIES")
        variants = [
            {
                "id": str(v["item_id"]),
                "options": {str(k): str(val) for k, val in v["options"].items()},
                "price": float(v["price"]),
                "available": bool(v["available"]),
            }
            for v in p["variants"].values()
        ]
        if not variants:
            raise SourceError(f"products.json: product {pid} has no variants")
        option_values: dict[str, list[str]] = {}
        for v in variants:
            for k, val in v["options"].items():
                option_values.setdefault(k, [])
                if val not in option_values[k]:
                    option_values[k].append(val)
        available = sum(v["available"] for v in variants)
        opts = "; ".join(
            f"{k}: {join_or(sorted(vals, key=natural_key))}" for k, vals in option_values.items()
        )
        description = (
            f"{title}, offered in {len(variants)} variants ({opts}). "
            f"{available} of the {len(variants)} variants are in stock."
        )
        products.append(
            {
                "id": str(pid),
                "title": title,
                "price": min(v["price"] for v in variants),
                "category": TAU_CATEGORIES[title],
                "description": description,
                "variants": variants,
                "in_stock": available > 0,
            }
        )
    return products


def _hash_fraction(key: str) -> float:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _created_at(order_id: str, status: str) -> str:
    """A synthetic order date (tau-bench orders have none), fixed by the order id.

    Delivered and cancelled orders fall between 2025-01-06 and 2025-09-30,
    processed (shipped) orders in October 2025, pending ones 2025-11-01..11-20.
    """
    windows = {
        "delivered": (datetime(2025, 1, 6, tzinfo=EST), datetime(2025, 9, 30, 23, 59, tzinfo=EST)),
        "cancelled": (datetime(2025, 1, 6, tzinfo=EST), datetime(2025, 9, 30, 23, 59, tzinfo=EST)),
        "processed": (
            datetime(2025, 10, 1, tzinfo=EST),
            datetime(2025, 10, 31, 23, 59, tzinfo=EST),
        ),
        "pending": (datetime(2025, 11, 1, tzinfo=EST), datetime(2025, 11, 20, 23, 59, tzinfo=EST)),
    }
    if status not in windows:
        raise SourceError(f"orders.json: order {order_id} has unknown status {status!r}")
    start, end = windows[status]
    seconds = int(_hash_fraction("created_at:" + order_id) * (end - start).total_seconds())
    return (start + timedelta(seconds=seconds)).isoformat()


def _tau_orders(raw: dict[str, Any]) -> list[dict[str, Any]]:
    # A deterministic, status-mixed subset: the orders whose id hashes lowest.
    chosen = sorted(raw, key=lambda oid: hashlib.sha256(oid.encode("utf-8")).hexdigest())
    chosen = sorted(chosen[:ORDER_SUBSET], key=lambda oid: list(raw).index(oid))
    orders: list[dict[str, Any]] = []
    for oid in chosen:
        o = raw[oid]
        items = [
            {
                "product_id": str(it["product_id"]),
                "item_id": str(it["item_id"]),
                "title": it["name"],
                "quantity": 1,  # tau-bench lists one line per unit
                "price": float(it["price"]),
                "options": {str(k): str(v) for k, v in it["options"].items()},
            }
            for it in o["items"]
        ]
        tracking = [str(t) for f in o.get("fulfillments", []) for t in f.get("tracking_id", [])]
        orders.append(
            {
                "order_id": o["order_id"],
                "customer_id": o["user_id"],
                "status": o["status"],
                "items": items,
                "created_at": _created_at(o["order_id"], o["status"]),
                "tracking": tracking,
                "address": o.get("address"),
                "payment_history": o.get("payment_history", []),
            }
        )
    return orders


def _tau_customers(raw: dict[str, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = {o["customer_id"] for o in orders}
    kept_orders: dict[str, list[str]] = {}
    for o in orders:
        kept_orders.setdefault(o["customer_id"], []).append(o["order_id"])
    customers: list[dict[str, Any]] = []
    for uid, u in raw.items():
        if uid not in wanted:
            continue
        name = f"{u['name']['first_name']} {u['name']['last_name']}".strip()
        customers.append(
            {
                "customer_id": uid,
                "name": name,
                "email": u["email"],
                "zip": u["address"]["zip"],
                "address": u["address"],
                "payment_methods": list(u.get("payment_methods", {}).values()),
                "orders": kept_orders[uid],
            }
        )
    missing = wanted - {c["customer_id"] for c in customers}
    if missing:
        raise SourceError(f"users.json: no user for orders of {sorted(missing)[:3]}")
    return customers


def build_taubench(src: Path) -> dict[str, str]:
    products_raw = json.loads((src / "products.json").read_text(encoding="utf-8"))
    orders_raw = json.loads((src / "orders.json").read_text(encoding="utf-8"))
    users_raw = json.loads((src / "users.json").read_text(encoding="utf-8"))
    wiki = (src / "wiki.md").read_text(encoding="utf-8")

    products = _tau_products(products_raw)
    orders = _tau_orders(orders_raw)
    customers = _tau_customers(users_raw, orders)
    files = {
        "store.toml": store_toml(
            TAU_SETTINGS,
            "Development store generated by scripts/make_dev_stores.py - edit the script, not this file.",
        ),
        "products.jsonl": jsonl(products),
        "orders.jsonl": jsonl(orders),
        "customers.jsonl": jsonl(customers),
        **_tau_docs(wiki),
    }
    sold_out_low = sum(
        not min(p["variants"], key=lambda v: v["price"])["available"] for p in products
    )
    statuses: dict[str, int] = {}
    for o in orders:
        statuses[o["status"]] = statuses.get(o["status"], 0) + 1
    status_text = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    pages = ", ".join(f"`{k}`" for k in sorted(k for k in files if k.startswith("docs/")))
    files["NOTICE.md"] = f"""# Development store "{TAU_SETTINGS["name"]}": data sources and notices

A fictional store used to measure shopbot on a store other than the bundled
demo. Generated by `scripts/make_dev_stores.py` from the dataset below; rerun
the script rather than editing these files. Shape: catalogue + policy pages +
order backend, no FAQ.

## Source

**tau-bench, retail environment** (sierra-research/tau-bench, `envs/retail`), MIT licence
(copyright 2024 Sierra): `products.json`, `orders.json`, `users.json`, `wiki.md`.

## What was taken and what was derived

- `products.jsonl`: all {len(products)} products with every variant (item id, options, price,
  availability) unchanged. Derived: a product's `price` is its lowest variant price
  (for {sold_out_low} products that variant is sold out); `in_stock` is true when any variant is available; the `description` is generated from the
  variants' options and availability only.
- **Invented: categories** (tau-bench has none), assigned by product type in the script.
- `orders.jsonl`: {len(orders)} of tau-bench's {len(orders_raw):,} orders ({status_text}), chosen
  deterministically (lowest SHA-256 of the order id); items, status, tracking ids, address
  and payment history unchanged; every item has quantity 1, as in tau-bench.
- **Invented: order dates.** tau-bench orders have no dates; `created_at` is a synthetic EST
  timestamp in 2025 derived from a SHA-256 hash of the order id (delivered and cancelled:
  2025-01-06 to 2025-09-30; processed: October 2025; pending: 2025-11-01 to 2025-11-20).
- `customers.jsonl`: the {len(customers)} customers of those orders (name, email, zip,
  address, payment methods; `orders` lists only their orders kept here). All names, emails
  and addresses are fictional in tau-bench.
- `docs/*.md` ({pages}): `wiki.md`, one page per section, with the text kept. Removed: the
  instructions addressed to the agent itself (not to make up information; one tool call at a
  time; "check its status before taking the action"; the tool-call mechanics of
  exchanging/modifying once, restated as the rule they encode). All rules and numbers are
  kept. The status string 'pending (items modifed)' keeps its upstream spelling.
- **Invented:** the store name, greeting and hand-off text in `store.toml`.

## tau-bench licence

{licence_block(src / "LICENSE")}"""
    return files


# =============================================================================
# ABCD guidelines -> abcd_clothing
# =============================================================================

ABCD_SETTINGS = {
    "name": "Larkspur Lane Clothing",
    "currency": "USD",
    "language": "en",
    "greeting": (
        "Hi, welcome to Larkspur Lane Clothing! I can answer questions about our policies: "
        "refunds and returns, shipping, orders, your account, promo codes and our premium "
        "subscription."
    ),
    "handoff_text": (
        "I'm passing you to one of our customer service agents; they will reply here as soon "
        "as they can."
    ),
}

# Identity checks that recur in many subflows, stated once per section.
_FIND_ORDER = "To look up your order we need your full name or account ID, and the order ID."
_VALIDATE = (
    "To confirm the purchase we need your username, the email address on your account and the "
    "order ID. If you don't remember your username, we can recover it for you (see Account "
    "access)."
)
_THREE_OF_SEVEN = (
    "To protect your account we verify your identity first: you need to give us 3 of these 7 "
    "items: your zip code, telephone number, PIN number, username, password, email address, or "
    "the order ID of a previous purchase."
)
_NOT_SHIPPED = (
    "The shipping status of an order is one of 'Order Received' (we have your order but it "
    "has not shipped yet), 'In Transit', 'Out for Delivery' or 'Delivered'."
)
_WE_CAN_ORDER = (
    "If none of this works, we can place the order for you: we need your credit card number "
    "and its expiration date, and the brand and item you want (for example 'Guess Jeans' or "
    "'Calvin Klein Shirt')."
)

# guidelines.json flow -> page. Each section lists the upstream subflows it
# covers; its text restates those subflows' rules for customers.
ABCD_PAGES: list[dict[str, Any]] = [
    {
        "flow": "Product Defect",
        "file": "refunds-and-returns",
        "title": "Refunds and returns",
        "intro": "How to get a refund, add an item to a refund, check a refund, and return an item.",
        "sections": [
            (
                "Requesting a refund",
                ["Initiate Refund"],
                f"""Tell us why you want a refund. {_VALIDATE}

You can choose how you receive the refund:

- **Gift card**: a prepaid gift card, mailed to you; we need your full address.
- **Add value**: the amount is added to the value of your account; we need your account ID.
- **Paper check**: a check mailed to you; we need your full address.
- **Credit card**: refunded directly to the credit card on file on your account; we need
  your account ID to find it.

The refund is for the dollar amount of your purchase. If you don't know the amount, the
default refund amount is $50.""",
            ),
            (
                "Adding an item to an existing refund",
                ["Update Refund"],
                f"""If you already have a refund and want to add another item to it, tell us the reason
for the refund. {_VALIDATE}

Tell us the brand and type of the new item you want to return (for example 'Old Navy Socks'
or 'Nike Shoes') and its price. The total refund is the amount of your previous refund plus
the new one: for example, if your previous refund was $100 and the new item costs $30, the
total refund is $130.""",
            ),
            (
                "Checking the status of a refund",
                ["Refund Status"],
                """We can tell you the status of your refund and how it was initiated. To find the order
we need your username first, then your email address, then the order ID.

- The refund status is one of: not started, in progress, or complete.
- A refund is initiated in one of three ways: online, by phone, or by chat.

If you are not happy with the status of your refund, we escalate it to a manager. If you
want to change the refund's payment method, we update the order to change the method.""",
            ),
            (
                "Returning an item: a stain, the wrong color or the wrong size",
                ["Return Due to Stain", "Return Due to Color", "Return Due to Size"],
                f"""You can return an item that has a stain, came in the wrong color, or is the wrong
size; all three follow the same steps. {_VALIDATE}

Whether an order can be returned depends on your membership level:

- **Gold** members get unlimited returns.
- **Silver** members can return if the purchase was within the last 6 months, or if they
  have the receipt, or if the item is in its original packaging.
- **Bronze** members can return if the purchase was within the last 90 days, or if they
  have the receipt, or if the item is in its original packaging.
- **Guest** customers can return if the purchase was within the last 30 days, or if they
  have the receipt.

If the item cannot be returned, we explain why. If it can, we need your full address
(street number and street name, city, state and zip code), because you will print out a
shipping label for the return. You can then return the item by mail, in store, or at a drop
off center.""",
            ),
        ],
    },
    {
        "flow": "Order Issue",
        "file": "order-issues",
        "title": "Order issues and changes",
        "intro": (
            "Fees, delivery times, payment methods and quantities on an order, and changes to an "
            "order: overnight shipping, slower delivery, adding an item, and a duplicate item. "
            + _NOT_SHIPPED
        ),
        "sections": [
            (
                "An unexpected fee on your order",
                ["Status Mystery Fee"],
                f"""If you believe an extra charge was added to your order, we look into it. {_FIND_ORDER}

We first check whether the fee was our mistake; if it was, the fee is removed. If it was
not our mistake, it depends on your membership level:

- **Gold and Silver** members always get the extra fee removed: we trust our Gold and
  Silver members. We confirm the amount you feel you were overcharged and remove it.
- **Guest and Bronze** members: the extra fee stays, and we cannot remove it.""",
            ),
            (
                "Changing the delivery time",
                ["Status Delivery Time"],
                f"""If you believe the delivery time of your order is wrong and want to move it, for
example from morning to evening, we look into it. {_FIND_ORDER} (If you only want to
confirm a delivery date, see Shipping and delivery.)

We check whether the delivery time was our error; if it was not, we check the shipping
status of your order. When the delivery can be changed, we update the order; when it
cannot, we are sorry that we cannot change it.""",
            ),
            (
                "Changing the payment method of an order",
                ["Status Payment Method"],
                f"""Valid payment methods are credit card, debit card and PayPal. If the payment method
on your order is wrong, or you want to change it, we can help. {_FIND_ORDER}

- If the order is 'Order Received' or 'In Transit', we can change its payment method
  immediately.
- If it is 'Out for Delivery' or 'Delivered', the new payment method only applies to your
  future orders.""",
            ),
            (
                "The order confirmation shows the wrong quantity",
                ["Status Quantity"],
                f"""If the email confirming your order does not match the quantity you ordered, we look
into it. {_FIND_ORDER} We check whether the email is accurate:

- If the email was wrong, you were only charged for one item; the email was in error.
- If the email was right, it is our mistake. If the order is 'Order Received', we refund the
  unwanted item immediately and remove it from your order. If it is 'In Transit', 'Out for
  Delivery' or 'Delivered', you need to wait until the item arrives and then contact
  customer support again to start the return process. The refund is the cost of the item to
  be returned.""",
            ),
            (
                "Upgrading to overnight shipping",
                ["Manage Upgrade"],
                f"""You can ask us to upgrade an order to overnight shipping. {_FIND_ORDER}

- If the order is 'Order Received' (we have it, but it has not shipped yet), we can upgrade
  it to overnight shipping, so it arrives tomorrow.
- If it is 'In Transit', 'Out for Delivery' or 'Delivered', it is too late: the item has
  already shipped and the date cannot be changed. It will likely arrive today or tomorrow
  anyway.

The extra fee for overnight shipping depends on your membership level: **Gold** members have
the fee waived; **Guest, Bronze and Silver** members pay $20, charged to the credit card on
the account, which is the only way to pay for it.""",
            ),
            (
                "Moving delivery to next week to save on shipping",
                ["Manage Downgrade"],
                f"""You can ask to move delivery to next week to save on shipping fees. (To get a refund
of a shipping fee instead, see Shipping and delivery.) {_FIND_ORDER}

- If the order is 'Order Received' (not yet shipped), we can delay the shipping date to next
  week with no problem, whatever your membership level.
- If it is 'In Transit', 'Out for Delivery' or 'Delivered', it has already shipped and the
  date cannot be changed. **Gold, Silver and Bronze** members get a credit back to their
  account for the amount of the shipping fee; for **Guest** customers there is nothing we
  can do.""",
            ),
            (
                "Adding an item to an existing order",
                ["Manage Create"],
                f"""You can ask us to add something to an order you have already placed. {_FIND_ORDER}
Tell us the brand and item you want to add, for example 'Guess Jeans' or 'Calvin Klein
Shirt'.

- If the order is 'Order Received', we add the item to your order.
- If it is 'In Transit', 'Out for Delivery' or 'Delivered', it is too late to add to it.
  **Silver and Gold** members get special treatment: we ship the new item to them as soon as
  possible in a separate order with no shipping fee. Otherwise the item cannot be added to
  the order.""",
            ),
            (
                "Ordered two items by mistake",
                ["Manage Cancel"],
                f"""If you accidentally ordered two items when you meant to order just one, we can help. {_FIND_ORDER}

- If the order is 'Order Received', we refund you immediately and remove the unwanted item
  from your order.
- If it is 'In Transit', 'Out for Delivery' or 'Delivered': **Bronze, Silver and Gold**
  members get a refund immediately; after the item arrives, contact customer support again to
  get the shipping label for the return. **Guest** customers must wait until the item arrives
  and then contact customer support to start the return process.

The refund is the cost of the item to be returned.""",
            ),
        ],
    },
    {
        "flow": "Account Access",
        "file": "account-access",
        "title": "Account access",
        "intro": "Your username, your password and two-factor authentication.",
        "sections": [
            (
                "Recovering your username",
                ["Recover Username"],
                """We start with your full name or account ID, then you need to give us 3 of these 4
items: your full name (first and last), zip code, phone number, email address.

Your username is the first letter of your first name followed by your last name and the
number 1. For example, John Smith's username is jsmith1 and Wendy Chesterfield's is
wchesterfield1.""",
            ),
            (
                "Resetting your password",
                ["Recover Password"],
                """We cannot tell you your password, but we can generate a new one for you. We need your
username to check your identity (if you don't have it, we recover it first), and either your
PIN number or the answer to your security question. We then share the new password with
you.""",
            ),
            (
                "Resetting two-factor authentication",
                ["Reset Two-Factor Auth"],
                """To reset two-factor authentication, we send a special reset code to your email
address, so we need your email address. If you don't have it, give us your PIN number or the
answer to the security question 'What is your mother's maiden name?' instead; we then send
the reset code to the email address saved on file.

To be safe, you should also follow best practices for security: we send you a link about
security best practices.""",
            ),
        ],
    },
    {
        "flow": "Troubleshoot Site",
        "file": "website-troubleshooting",
        "title": "Website troubleshooting",
        "intro": "What to try when the website misbehaves. The steps can be tried in any order.",
        "sections": [
            (
                "Your credit card keeps getting rejected",
                ["Invalid Credit Card"],
                f"""If your credit card keeps getting rejected as invalid:

- Try entering your credit card information again.
- Log out of your account and log back in.
- Check the card's expiration date: the card may be too old.

{_WE_CAN_ORDER}""",
            ),
            (
                "Your shopping cart is not updating",
                ["Cart Not Updating"],
                f"""If an item you add does not show up in your shopping cart:

- Refresh the page and add the item again.
- Log out of your account and log back in.
- Check whether the item is out of stock: this is shown on the bottom left-hand side of the
  product page.

{_WE_CAN_ORDER}""",
            ),
            (
                "Search shows 'No results found'",
                ["Search Not Working"],
                f"""If every search shows 'No results found':

- Log out of your account and log back in.
- Clear your cookies: cookies can be reset in your browser's settings, under 'More
  Details'.
- Search for a different product, for example 'Prada Handbag'. If that search works, try
  searching for your original item again.
- We write up a report for our Website Team, so they can do a better job.

{_WE_CAN_ORDER}""",
            ),
            (
                "The website is too slow",
                ["Website Too Slow"],
                f"""If our website has slowed down to a crawl:

- We write up a report about the slow speeds for our Website Team to fix.
- Log out of your account and log back in.
- Try visiting another website first. If all websites are slow, the problem is your internet
  connection, not our website.
- Close all the other tabs in your browser and any other programs that may be running: many
  programs running in the background can cause a slowdown.

{_WE_CAN_ORDER}""",
            ),
        ],
    },
    {
        "flow": "Manage Account",
        "file": "your-account",
        "title": "Managing your account",
        "intro": "Services on your account, missing credit, and changing your address, name, phone number or payment method.",
        "sections": [
            (
                "A service you did not ask for was added to your account",
                ["Status Service Added"],
                """Tell us how you heard about it (an email, your spouse, or the news); we then check our
system.

- If there was no change: an email about it was a scam email (if you check the sender, it is
  not from our official marketing team); if your spouse told you, they must have misheard;
  if you saw it in the news, it must have been a misunderstanding. You have nothing to worry
  about and there are no extra charges.
- If the service was added: we remove the extra service and refund you $40.""",
            ),
            (
                "A service was removed from your plan",
                ["Status Service Removed"],
                """Tell us how you heard about it (an email, your spouse, or the news); we then check our
system.

- If nothing was removed: an email about it was a scam email (if you check the sender, it is
  not from our official marketing team); if your spouse told you, they must have misheard;
  if you saw it in the news, it must have been a misunderstanding. You have nothing to worry
  about and there are no extra charges.
- If the service was removed: we reinstate it. If it does not show as active on your account
  right away, it may take a few minutes.""",
            ),
            (
                "Free international shipping on your account",
                ["Status Shipping Question"],
                """If you want to know whether your account gives you free shipping to or from another
country (international shipping), we check your account and send you a link with the
information.""",
            ),
            (
                "Credit missing from your account",
                ["Status Credit Missing"],
                """Tell us where the credit came from: a subscription refund, a previous purchase, or a
promotional package. We then check our system.

- If the credit is not missing, it is a display problem in your account: log out and log
  back in. The credit shows up on our side.
- If the credit is missing, we add it back to your account with a promo code. If you don't
  know how much credit is missing, the standard amount is $40.""",
            ),
            (
                "Changing your address",
                ["Manage Change Address"],
                f"""To change the address on your account, you must be able to give us your current
address; we only need the street address (for example, for '7221 Florshim Drive, San Carlos,
CA 91207', just '7221 Florshim Drive'). {_THREE_OF_SEVEN} Then tell us the new street
address, and we update it in our system.""",
            ),
            (
                "Changing your name",
                ["Manage Change Name"],
                f"""To change the name on your account, you must be able to give us your current full
name (first and last name). {_THREE_OF_SEVEN} Then tell us the new name, and we update it in
our system.""",
            ),
            (
                "Changing your phone number",
                ["Manage Change Phone"],
                f"""To change your phone number, you must be able to give us your current number, in the
format (XXX) XXX-XXXX. {_THREE_OF_SEVEN} Then tell us the new number, in the same format,
and we update it in our system.""",
            ),
            (
                "Changing your payment method",
                ["Manage Payment Method"],
                f"""To change your payment method, tell us your current payment method: credit card, debit
card or PayPal. {_THREE_OF_SEVEN} Then tell us the new payment method (credit card, debit
card or PayPal), and we update it in our system.""",
            ),
        ],
    },
    {
        "flow": "Purchase Dispute",
        "file": "prices-stock-and-promo-codes",
        "title": "Prices, stock and promo codes",
        "intro": "Disputed prices, out-of-stock items, promo codes that do not work, and billing problems.",
        "sections": [
            (
                "A competitor's price, or yesterday's price, was lower",
                ["Bad Price Competitor", "Bad Price Yesterday"],
                f"""Tell us why you are disputing the price: a competitor has a better price, or the price
was lower yesterday. {_FIND_ORDER}

Prices sometimes change, and that is outside our control: our pricing algorithms often
change the price of an item dynamically. If you are still unhappy, we can offer you a
discount with a promo code.""",
            ),
            (
                "Items out of stock",
                ["Out-of-Stock General"],
                """If items you want are out of stock, we write up a report to let our Purchasing
Department know, so they can do a better job. If you are still unhappy, we can offer you a
discount with a promo code.""",
            ),
            (
                "One particular item out of stock",
                ["Out-of-Stock One Item"],
                """Tell us which item (brand and type, for example 'Gap Sweater' or 'Uniqlo Socks'). We
write up a report to let our Purchasing Department know, so they can do a better job. We can
also back-order the item for you: it then ships immediately when it becomes available, paid
with the credit card on file.""",
            ),
            (
                "A promo code that does not work",
                ["Promo Code Invalid", "Promo Code Out of Date"],
                """Promotions typically last only 7 days, so a code issued more than 7 days ago is out of
date, and that might be why it doesn't work. Whether the code is invalid or out of date, we
check our system:

- If the code should have worked, we generate a new promo code for you.
- If it should not have: **Gold, Silver and Bronze** members all qualify for a new promo
  code anyway, because they are valued members. **Guest** customers: we are sorry, but there
  is nothing we can do.

A new promo code is for 20% off your next purchase.""",
            ),
            (
                "You returned an item but have not received your credit",
                ["Mistimed Billing Already Returned"],
                f"""{_VALIDATE} Tell us how many days you have waited for the refund to show up.

- If you have waited more than 7 days, we start processing the credit.
- If it has been less than 7 days, only **Gold** members get the credit processed now (we
  value our Gold members, even though we risk refunding twice). For all other members we
  cannot help with this yet.""",
            ),
            (
                "Billed for something you never bought",
                ["Mistimed Billing Never Bought"],
                f"""{_VALIDATE} We check our system: if the charge is our error, we start processing a
credit for you. If our system says it is not our error, only **Gold** members still get the
credit, because we value our Gold members highly. For all other members we cannot help with
this.""",
            ),
        ],
    },
    {
        "flow": "Shipping Issue",
        "file": "shipping-and-delivery",
        "title": "Shipping and delivery",
        "intro": "Checking and changing a shipment, missing packages, and shipping costs. "
        + _NOT_SHIPPED,
        "sections": [
            (
                "A shipping email that looks wrong",
                ["Shipping Status"],
                f"""If you received an email notification about your shipment that seems to say something
is wrong, ask us your question. {_FIND_ORDER} {_VALIDATE}

We check our system: if your order looks as expected, the email was incorrect. If there is a
problem, we fix it by changing the delivery date, the address, the item or the price.""",
            ),
            (
                "Changing the address or the item of a shipment",
                ["Manage Shipping"],
                f"""You can change the shipping address of an order, or change the order if you ordered
the wrong item. (If you want to cancel because the shipping cost is too high, see Shipping
cost below.) Tell us the shipping status of the order. {_VALIDATE} We then update the order
with the change of address or the change of order.""",
            ),
            (
                "Your package has not arrived",
                ["Missing Item"],
                f"""{_VALIDATE} It can often take a couple of days for a product to arrive.

- If you have been waiting for 7 days or less: sometimes a package is mistakenly marked as
  delivered but still takes a couple of days to arrive.
- If you have been waiting for a week or longer, we ship a new order to you. We need your
  full address and the brand and type of the product (for example 'Guess Jeans').""",
            ),
            (
                "Shipping cost",
                ["Shipping Cost"],
                f"""If the shipping cost is too high and you want the shipping fee waived or refunded, we can
help. {_VALIDATE}

- If the order is 'Order Received' or 'In Transit', we waive the shipping fee on your
  shipment.
- If it is 'Out for Delivery' or 'Delivered', the best we can do is give you part of the
  shipping fee back: standard shipping is $8.00, and we refund $8.

(To delay delivery instead of getting a refund, see Order issues and changes.)""",
            ),
        ],
    },
    {
        "flow": "Subscription Inquiry",
        "file": "premium-subscription",
        "title": "Premium subscription",
        "intro": "Billing and updates of our premium subscription service.",
        "sections": [
            (
                "Your subscription status, amount due and renewal date",
                ["Status Active", "Status Due Amount", "Status Due Date"],
                f"""We can check whether your payment went through and your subscription is still active,
how much is due, and the monthly renewal date of your subscription. {_FIND_ORDER}

Your subscription status shows whether the subscription is active or cancelled, the amount
due and the due date. We can also send you a link for signing into your account so you can
look this up yourself in the future. Your username is the first letter of your first name
followed by your last name and the number 1 (for example, Howard Chen is hchen1). If your
subscription is not active or is past due, you can pay the bill.""",
            ),
            (
                "Paying or renewing your subscription",
                ["Manage Pay Bill"],
                f"""{_FIND_ORDER} The standard subscription is $99 a year. Tell us how much of it you
want to pay; if you don't know the amount, we look up the amount due. Give us a credit card
number, or we use the credit card on your account. We then renew your subscription.""",
            ),
            (
                "Asking for an extension",
                ["Manage Extension"],
                f"""If you cannot pay for your premium subscription on time, you can ask for an extension.
{_FIND_ORDER} Whether you get one depends on your membership level:

- **Gold** members can always get an extension.
- **Silver** members get an extension if they are only 1 day late.
- **Bronze** and **Guest** members cannot get an extension.

If you do not get an extension, we can escalate to a manager: give us your phone number and
the manager will call you back later.""",
            ),
            (
                "A wrong subscription bill",
                ["Manage Dispute Bill"],
                f"""If you think something is wrong with your subscription bill, for example you were
billed twice, we look into it. {_FIND_ORDER} Whether you get a refund depends on your membership level:

- **Gold** members always get what they ask for.
- **Silver** members get a refund if the wrong amount is less than $10.
- **Bronze** and **Guest** members: we check our system; you get the refund if it confirms
  the error, and no refund if it does not.

The refund is the difference: if you should have been charged $50 and the bill was $60, the
refund is $10. If you have not paid the bill yet, there is nothing to refund.""",
            ),
        ],
    },
    {
        "flow": "Single-Item Query",
        "file": "product-questions",
        "title": "Questions about jeans, boots, shirts and jackets",
        "intro": (
            "Our support agents answer frequently asked questions about these items from our "
            "product FAQ. The answers are not on this page; these are the questions they cover."
        ),
        "sections": [
            (
                "Boots",
                ["Boots FAQ"],
                """How to remove a paint stain, how wide the shoe is, how to remove gum, how long it takes
to wear them in, whether they are waterproof, the lace color, what to do if the size you
want is not in stock, and whether they come with a warranty.""",
            ),
            (
                "Shirts",
                ["Shirt FAQ"],
                """How to remove a stain from the shirt, how to wash it, the arm length, how wide the
collar is, whether the shirt shrinks, whether small, medium or large is in stock, buttons in
brown or black, and what material the shirt is made of.""",
            ),
            (
                "Jeans",
                ["Jeans FAQ"],
                """How to remove a grass stain, how often they need to be washed, the leg length, the
cost of getting them tailored, whether they shrink after washing, dark blue or black color,
whether there are any in a larger or smaller size, and designs with ripped holes.""",
            ),
            (
                "Jackets",
                ["Jacket FAQ"],
                """How to remove a wine stain, whether it is washer safe or dry-clean only, the arm
length, how to detach the hood, whether it shrinks after washing, whether the store has any
in stock, what material it is made of, and whether it is warm enough to wear.""",
            ),
        ],
    },
    {
        "flow": "Storewide Query",
        "file": "store-questions",
        "title": "Questions about pricing, timing, membership and policies",
        "intro": (
            "Our support agents answer frequently asked store-wide questions from our store FAQ. "
            "The answers are not on this page (some are covered on our other policy pages); "
            "these are the questions they cover."
        ),
        "sections": [
            (
                "Pricing",
                ["Pricing FAQ"],
                """The price of gift wrapping, the price of stitching your name, the price of overnight
shipping, and whether your shopping cart qualifies for free shipping.""",
            ),
            (
                "Membership",
                ["Membership FAQ"],
                """What the membership levels are, how to qualify for premium membership, the benefits of
membership, and how long membership lasts.""",
            ),
            (
                "Timing",
                ["Timing FAQ"],
                """When the spring collection drops, when the local store opens, when the annual sale
begins, and when promo codes expire.""",
            ),
            (
                "Policies",
                ["Policy FAQ"],
                """Cancelling subscriptions, being late on a subscription payment, the refund policy, and
the return policy.""",
            ),
        ],
    },
]

# Numbers in a subflow's source text that are not restated, and why.
ABCD_DROPPED_NUMBERS: dict[str, set[str]] = {
    # UI: "Read through the list of 8 options" / "4 options" of the agent's FAQ panel.
    "Boots FAQ": {"8"},
    "Shirt FAQ": {"8"},
    "Jeans FAQ": {"8"},
    "Jacket FAQ": {"8"},
    "Pricing FAQ": {"4"},
    "Membership FAQ": {"4"},
    "Timing FAQ": {"4"},
    "Policy FAQ": {"4"},
    # "Option 1..5" labels of the agent's troubleshooting steps.
    "Invalid Credit Card": {"1", "2", "3", "4"},
    "Cart Not Updating": {"1", "2", "3", "4"},
    "Search Not Working": {"1", "2", "3", "4", "5"},
    "Website Too Slow": {"1", "2", "3", "4", "5"},
    # "If this value is $0, make it $99": an instruction to fix the agent's mock data.
    "Manage Pay Bill": {"0"},
    # "(i.e. bill due today but amount due of $0) ... make it $20": mock-data fix-ups.
    "Status Active": {"0", "20"},
    "Status Due Amount": {"0", "20"},
    "Status Due Date": {"0", "20"},
    # "the example address 7226 Florishim Drive" for the new value.
    "Manage Change Address": {"7226"},
}


def _source_text(subflow: dict[str, Any]) -> str:
    parts = list(subflow.get("instructions", []))
    for action in subflow.get("actions", []):
        parts.append(action.get("text", ""))
        parts += action.get("subtext", [])
    return "\n".join(parts)


def _numbers(text: str) -> set[str]:
    found = set()
    for match in re.finditer(r"(?<![\w.])\d+(?:\.\d+)?", text):
        value = match.group(0)
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        found.add(value)
    return found


def _abcd_docs(guidelines: dict[str, Any]) -> dict[str, str]:
    flows = {page["flow"] for page in ABCD_PAGES}
    if set(guidelines) != flows:
        raise SourceError(
            "guidelines.json: flows changed; not covered: "
            f"{sorted(set(guidelines) - flows)}, gone: {sorted(flows - set(guidelines))}"
        )
    pages: dict[str, str] = {}
    for page in ABCD_PAGES:
        flow = guidelines[page["flow"]]
        upstream = list(flow["subflows"])
        covered = [name for _, names, _ in page["sections"] for name in names]
        if sorted(covered) != sorted(upstream):
            raise SourceError(
                f"guidelines.json: flow {page['flow']!r} has subflows {upstream}, "
                f"the script covers {covered}"
            )
        lines = [f"# {page['title']}", "", page["intro"], ""]
        for heading, names, text in page["sections"]:
            said = _numbers(text)
            for name in names:
                missing = _numbers(_source_text(flow["subflows"][name])) - said
                missing -= ABCD_DROPPED_NUMBERS.get(name, set())
                if missing:
                    raise SourceError(
                        f"{page['flow']} / {name}: numbers {sorted(missing)} of the source are "
                        "not in the rewritten section"
                    )
            lines += [f"## {heading}", "", reflow(text), ""]
        pages[f"docs/{page['file']}.md"] = "\n".join(lines).rstrip() + "\n"
    return pages


def build_abcd(src: Path) -> dict[str, str]:
    guidelines = json.loads((src / "guidelines.json").read_text(encoding="utf-8"))
    docs = _abcd_docs(guidelines)
    n_sub = sum(len(f["subflows"]) for f in guidelines.values())
    n_sec = sum(len(p["sections"]) for p in ABCD_PAGES)
    files = {
        "store.toml": store_toml(
            ABCD_SETTINGS,
            "Development store generated by scripts/make_dev_stores.py - edit the script, not this file.",
        ),
        **docs,
    }
    files["NOTICE.md"] = f"""# Development store "{ABCD_SETTINGS["name"]}": data sources and notices

A fictional online clothing store used to measure shopbot on a store other than
the bundled demo. Generated by `scripts/make_dev_stores.py` from the dataset
below; rerun the script rather than editing these files. Shape: policy pages
only (no products, no FAQ, no orders).

## Source

**ABCD, Action-Based Conversations Dataset** (asappresearch/abcd), MIT licence (copyright
2021 ASAPP Research): `guidelines.json`, the policy flows that ABCD's human agents followed.

## What was taken and what was derived

- `docs/*.md`: one page per guideline flow ({len(guidelines)} pages), one `##` section per
  subflow ({n_sub} subflows in {n_sec} sections: subflows whose upstream steps are identical,
  such as the three return reasons, share a section). The agents' step lists are rewritten
  as customer-facing policy text keeping every rule, number and condition; the script
  checks each subflow's numbers are restated.
- Dropped: the agent-only UI steps (buttons, forms, the survey, "Ask the Oracle", which is
  stated as "we check our system"); instructions to invent data ("make up some reason why
  the price was high", "make up an email address", fixing $0 amounts in mock data); the
  "fake link" www.AcmeBrands.com; the UI's option numbering. Upstream names the company
  AcmeCorp; its name is replaced by the invented store name (or "our").
- The two FAQ flows (Single-Item Query, Storewide Query) contain only the list of questions
  the agents' FAQ answers, not the answers; their pages list those questions and say that
  the answers are not on the page.
- **Invented:** the store name, greeting and hand-off text in `store.toml`, and the page
  introductions.

## ABCD licence

{licence_block(src / "LICENSE")}"""
    return files


# =============================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shared", type=Path, default=DEFAULT_SHARED, help="the shared datasets folder"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the store folders go")
    args = parser.parse_args(argv)

    builds = {
        "taubench_retail": (build_taubench, args.shared / "taubench_retail"),
        "abcd_clothing": (build_abcd, args.shared / "abcd"),
    }
    for name, (build, src) in builds.items():
        if not src.is_dir():
            print(f"error: {src} not found (pass --shared)", file=sys.stderr)
            return 2
        try:
            files = build(src)
        except (SourceError, KeyError, json.JSONDecodeError) as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 1
        changed = write_store(args.out / name, files)
        summary = ", ".join(changed) if changed else "unchanged"
        print(f"{args.out / name}: {len(files)} files ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
