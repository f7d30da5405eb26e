#!/usr/bin/env python3
"""Build shopbot's bundled demo store from public datasets.

Converts the tau-bench retail environment (products, orders, customers and the
customer-service policy) and parts of the ABCD guidelines into a store
directory in shopbot's format (see ``docs/architecture.md`` and the contract):

    knowledge_base/demo_store/
      store.toml  products.jsonl  orders.jsonl  customers.jsonl
      faq.jsonl   intents.csv     docs/*.md     NOTICE.md

The output is deterministic: running the script twice with the same inputs
writes byte-identical files. Files are only rewritten when their content
changes, stale ``docs/*.md`` pages are removed, and anything else in the
output folder (for example the ``.shopbot/`` build artifacts) is left alone.

Usage::

    python scripts/make_demo_store.py [--datasets ../shared/datasets] \
        [--out knowledge_base/demo_store]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
DEFAULT_OUT = ROOT / "knowledge_base" / "demo_store"
FAQ_FILE = Path(__file__).resolve().parent / "demo_store_faq.json"

STORE_NAME = "Harbor & Pine Goods"
SUPPORT_HOURS = "Monday to Friday, 9:00 to 18:00 EST"

# ---------------------------------------------------------------------------
# Catalogue categories (tau-bench has product types but no categories).
# ---------------------------------------------------------------------------

CATEGORIES: dict[str, str] = {
    "T-Shirt": "Apparel",
    "Fleece Jacket": "Apparel",
    "Running Shoes": "Footwear",
    "Hiking Boots": "Footwear",
    "Sneakers": "Footwear",
    "Sunglasses": "Accessories",
    "Wristwatch": "Accessories",
    "Backpack": "Bags & Travel",
    "Luggage Set": "Bags & Travel",
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
    "Air Purifier": "Home",
    "Vacuum Cleaner": "Home",
    "Wall Clock": "Home",
    "Bookshelf": "Home",
    "Notebook": "Office",
    "Office Chair": "Office",
    "Desk Lamp": "Office",
    "Garden Hose": "Garden & Patio",
    "Patio Umbrella": "Garden & Patio",
    "Grill": "Garden & Patio",
    "Yoga Mat": "Sports & Fitness",
    "Dumbbell Set": "Sports & Fitness",
    "Cycling Helmet": "Sports & Fitness",
    "Bicycle": "Sports & Fitness",
    "Skateboard": "Sports & Fitness",
    "Water Bottle": "Sports & Fitness",
    "Electric Toothbrush": "Beauty & Personal Care",
    "Makeup Kit": "Beauty & Personal Care",
    "Perfume": "Beauty & Personal Care",
    "Jigsaw Puzzle": "Toys & Games",
    "Pet Bed": "Pet Supplies",
}

# Ordered scales for option values that are words rather than numbers. A list
# of values is sorted along a scale when every value belongs to it.
_SCALES = [
    ["XS", "S", "M", "L", "XL", "XXL"],
    ["small", "medium", "large", "portable"],
    ["low", "medium", "high"],
    ["light", "medium", "dark"],
    ["beginner", "intermediate", "expert"],
]
_UNIT_SCALE = {"tb": 1000.0, "l": 1000.0, "liter": 1000.0, "liters": 1000.0, "k": 1000.0}
_NUMBER_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*-?\s*([A-Za-z%]*)")


def option_sort_key(value: str) -> tuple[int, float, str, str]:
    """Natural order of one value: 8GB < 16GB < 1TB, 1L < 1.5L, then text."""
    match = _NUMBER_RE.match(value)
    if match:
        number = float(match.group(1)) * _UNIT_SCALE.get(match.group(2).lower(), 1.0)
        return (0, number, value.lower(), value)
    return (1, 0.0, value.lower(), value)


def sort_option_values(values: Iterable[str]) -> list[str]:
    """Sort option values naturally (sizes S < M < L, numbers with units, else A-Z)."""
    values = set(values)
    for scale in _SCALES:
        if values <= set(scale):
            return sorted(values, key=scale.index)
    return sorted(values, key=option_sort_key)


def join_words(values: list[str], last: str = "or") -> str:
    """``["a", "b", "c"]`` -> ``"a, b or c"``."""
    if len(values) <= 1:
        return "".join(values)
    return f"{', '.join(values[:-1])} {last} {values[-1]}"


def money(value: float) -> str:
    """Format a USD amount."""
    return f"${value:,.2f}"


# ---------------------------------------------------------------------------
# Conversion of the tau-bench data
# ---------------------------------------------------------------------------


def convert_products(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """tau-bench products.json -> shopbot product records."""
    products = []
    for pid, prod in raw.items():
        title = prod["name"]
        if title not in CATEGORIES:
            raise SystemExit(f"products.json: product {pid} ({title!r}) has no category mapping")
        variants = [
            {
                "id": item["item_id"],
                "options": dict(item["options"]),
                "price": item["price"],
                "available": bool(item["available"]),
            }
            for item in prod["variants"].values()
        ]
        option_values: dict[str, set[str]] = {}
        for variant in variants:
            for name, value in variant["options"].items():
                option_values.setdefault(name, set()).add(value)
        attributes = {name: sort_option_values(values) for name, values in option_values.items()}
        available = [v for v in variants if v["available"]]
        priced = available or variants
        price = min(v["price"] for v in priced)
        category = CATEGORIES[title]
        products.append(
            {
                "id": pid,
                "title": title,
                "price": price,
                "category": category,
                "description": describe_product(title, category, attributes, variants),
                "attributes": attributes,
                "variants": variants,
                "in_stock": bool(available),
            }
        )
    return products


def describe_product(
    title: str, category: str, attributes: dict[str, list[str]], variants: list[dict[str, Any]]
) -> str:
    """A short factual description built only from the catalogue data."""
    options = "; ".join(f"{name}: {join_words(values)}" for name, values in attributes.items())
    available = [v["price"] for v in variants if v["available"]]
    text = f"{title} ({category}). Options - {options}. "
    if available:
        low, high = min(available), max(available)
        span = money(low) if low == high else f"{money(low)} to {money(high)}"
        text += (
            f"{len(available)} of {len(variants)} variants are currently available, priced {span}."
        )
    else:
        text += "No variant is currently available."
    return text


def _pick(digest: bytes, offset: int, modulo: int) -> int:
    return int.from_bytes(digest[offset : offset + 4], "big") % modulo


# Synthetic order dates (tau-bench has none): older for finished orders,
# recent for orders still pending. All in 2026, EST (UTC-05:00).
_DATE_RANGES = {
    "delivered": (date(2026, 1, 5), date(2026, 9, 30)),
    "cancelled": (date(2026, 1, 5), date(2026, 9, 30)),
    "processed": (date(2026, 10, 1), date(2026, 10, 31)),
    "pending": (date(2026, 11, 1), date(2026, 11, 20)),
}


def order_created_at(order_id: str, status: str) -> str:
    """Deterministic ISO timestamp in 2026 derived from a hash of the order id."""
    start, end = _DATE_RANGES.get(status, (date(2026, 1, 5), date(2026, 11, 20)))
    digest = hashlib.sha256(order_id.encode("utf-8")).digest()
    day = start + timedelta(days=_pick(digest, 0, (end - start).days + 1))
    hour, minute, second = 8 + _pick(digest, 4, 14), _pick(digest, 8, 60), _pick(digest, 12, 60)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}-05:00"


def convert_orders(raw: dict[str, Any], products: dict[str, dict[str, Any]]) -> list[dict]:
    """tau-bench orders.json -> shopbot order records."""
    orders = []
    for order_id, order in raw.items():
        items = []
        for item in order["items"]:
            if item["product_id"] not in products:
                raise SystemExit(f"orders.json: {order_id} references unknown product")
            items.append(
                {
                    "product_id": item["product_id"],
                    "item_id": item["item_id"],
                    "title": item["name"],
                    "quantity": 1,
                    "price": item["price"],
                    "options": dict(item["options"]),
                }
            )
        tracking = [tid for f in order["fulfillments"] for tid in f["tracking_id"]]
        orders.append(
            {
                "order_id": order_id,
                "customer_id": order["user_id"],
                "status": order["status"],
                "items": items,
                "total": round(sum(i["price"] for i in items), 2),
                "created_at": order_created_at(order_id, order["status"]),
                "tracking": tracking,
                "fulfillments": [
                    {"tracking": list(f["tracking_id"]), "item_ids": list(f["item_ids"])}
                    for f in order["fulfillments"]
                ],
                "address": dict(order["address"]),
                "payment_history": [dict(p) for p in order["payment_history"]],
            }
        )
    return orders


def convert_customers(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """tau-bench users.json -> shopbot customer records."""
    customers = []
    for user_id, user in raw.items():
        first, last = user["name"]["first_name"], user["name"]["last_name"]
        customers.append(
            {
                "customer_id": user_id,
                "name": f"{first} {last}",
                "first_name": first,
                "last_name": last,
                "email": user["email"],
                "zip": user["address"]["zip"],
                "address": dict(user["address"]),
                "payment_methods": [dict(m) for m in user["payment_methods"].values()],
                "orders": list(user.get("orders", [])),
            }
        )
    return customers


# ---------------------------------------------------------------------------
# Store settings
# ---------------------------------------------------------------------------


def toml_string(value: str) -> str:
    """A TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def store_toml() -> str:
    """The store's settings file."""
    settings = {
        "name": STORE_NAME,
        "currency": "USD",
        "language": "en",
        "greeting": (
            f"Hi, welcome to {STORE_NAME}! I can answer questions about our products and "
            "store policies, check your orders, and help you cancel, return or exchange "
            "items. What can I do for you?"
        ),
        "handoff_text": (
            "I'm passing this conversation to a member of our support team. They are "
            f"available {SUPPORT_HOURS} and will reply here as soon as they can."
        ),
        "support_hours": SUPPORT_HOURS,
        "country": "USA",
        "timezone": "EST",
    }
    lines = [
        "# Demo store generated by scripts/make_demo_store.py - edit the script, not this file.",
        "",
    ]
    lines += [f"{key} = {toml_string(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Policy pages. Rules and numbers from tau-bench's wiki.md are kept exactly;
# pages marked ABCD are adapted from the ABCD guidelines; facts neither
# source gives (shipping times, support hours, ...) are listed in NOTICE.md.
# ---------------------------------------------------------------------------

DOCS: dict[str, str] = {}

DOCS["orders-and-cancellations"] = """\
# Orders and cancellations

What happens to your order after you place it, what each status means, how to
cancel, and what can still be changed.

## Order statuses

Every order has one of these statuses:

- **pending**: we have received your order and it has not shipped yet. Pending orders can be cancelled or modified.
- **processed**: your order has been packed and handed to the carrier, and it has a tracking number. It can no longer be cancelled or modified.
- **delivered**: your order has arrived. Delivered orders can be returned or exchanged.
- **cancelled**: the order was cancelled and its total was refunded.

After a request you may also see **pending (items modified)**, **return requested** or
**exchange requested**. Generally, we can only take action on orders that are pending or delivered.

## Order numbers and item numbers

Order numbers start with #W followed by 7 digits, for example #W1234567. You can find yours in
your order confirmation email, or we can look up your orders once you have verified your identity.
Every product in our catalogue has a unique product id, and every specific variant of it (for
example a T-Shirt in color blue, size M) has its own unique item id. Product ids and item ids
are unrelated numbers, so please don't confuse them.

## Cancelling an order

An order can only be cancelled if its status is pending; we always check the status first.
To cancel, please confirm:

- the order id, and
- the reason for cancelling: either "no longer needed" or "ordered by mistake".

We list the details of the cancellation and go ahead only after you reply with an explicit
"yes". The order status then changes to cancelled. A cancellation applies to the whole order,
and there is no cancellation fee.

## Cancellation refunds

When an order is cancelled, the total is refunded via the original payment method:
immediately if you paid with a gift card, otherwise in 5 to 7 business days.

## Orders that have already shipped

Once an order is processed it has left our warehouse, so it can no longer be cancelled or
modified. Please wait until it is delivered: delivered orders can be returned or exchanged.

## Changing a pending order

An order can only be modified if its status is pending. For a pending order we can change its
shipping address, its payment method, or the options of its items, but nothing else: products
can't be added to or removed from an existing order. As with every change, we list the details
first and only go ahead after your explicit "yes".

## Changing the shipping address

While your order is pending, we can send it to a different address. Tell us the new address and
confirm it. Updating the default address on your profile does not change orders you have
already placed.

## Changing the payment method

- You can choose a single payment method that is different from the original payment method.
- If you want to switch to a gift card, it must have enough balance to cover the order total.
- After you confirm, the order status stays pending. The original payment method is refunded
  immediately if it is a gift card, otherwise in 5 to 7 business days.

## Changing item options

- Each item in a pending order can be changed to an available item of the same product with
  different options, for example another size or color. The product type can't change: a shirt
  can't be changed into a shoe.
- You need to provide a payment method to pay or receive a refund of the price difference. If
  you choose a gift card, it must have enough balance to cover the price difference.
- Item options can only be changed once per order, so please tell us every item you want to
  change in one request.
- After the change the order status becomes "pending (items modified)", and the order can no
  longer be modified or cancelled. Please check all the details carefully before you confirm.
"""

DOCS["returns-and-exchanges"] = """\
# Returns and exchanges

How to send items back for a refund, or swap them for another size, color or other option
of the same product.

## Which orders can be returned

An order can only be returned or exchanged if its status is delivered; we always check the
status first. If your order is still pending you can cancel or modify it instead, and if it is
processed (on its way to you), please wait until it has been delivered. There is no fixed
return deadline: as long as the order's status is delivered, you can request a return or an
exchange.

## How to request a return

1. Verify your identity with your email address, or your full name and zip code.
2. Confirm the order id, the list of items you want to return (some or all of them), and the
   payment method that should receive the refund.
3. We list the details of the return; reply "yes" to confirm.

The order status then changes to "return requested", and you will receive an email explaining
how to return the items.

## Sending items back

The email you receive after a return or exchange request explains how to send the items back
and includes a prepaid return shipping label, so returns cost you nothing. Please pack the items
securely, in their original packaging where possible.

## Return refunds

The refund goes either to the original payment method or to an existing gift card on your
account. It is issued once the returned items reach us: to a gift card immediately, and to
other payment methods (credit card or PayPal) in 5 to 7 business days.

## Exchanges

Items in a delivered order can be exchanged for an available item of the same product with
different options, for example another size or color. There can't be any change of product
type: a shirt can't be exchanged for a shoe. If you want a different product, return the item
and place a new order. After you confirm, the order status changes to "exchange requested" and
you will receive an email explaining how to return the items. There is no need to place a new
order for an exchange.

## One exchange request per order

An exchange can only be requested once per order, so please collect every item you want to
exchange into a single request. We will remind you to confirm you have listed all of them
before we submit it.

## Price differences on exchanges

You need to provide a payment method to pay or receive a refund of the price difference
between the old and the new items. If you choose a gift card, it must have enough balance to
cover the price difference.
"""

DOCS["account-and-verification"] = """\
# Your account and identity verification

How we keep your orders private, what is on your profile, and what our assistant can do for you.

## Verifying your identity

Before we share or change anything about your orders or profile, we verify who you are, with
either the email address on your account, or your full name together with your zip code. This
is required even if you already know your user id.

## What we can help with

Once you are verified, we can give you information about your orders, our products and your
profile (for example, help you look up an order id); cancel or modify pending orders; return or
exchange delivered orders; and update the default address on your profile.

## One customer per conversation

We can only help one customer per conversation. You are welcome to make several requests about
your own account in the same chat, but we must decline requests about another person's account
or orders, even a family member's; they need to contact us themselves.

## Confirming changes

Before any change to your orders (cancel, modify, return or exchange), we list exactly what will
happen and need your explicit "yes" to go ahead. If you say no, nothing is changed.

## Your profile

Your profile holds your email address, your default address, your user id and your payment
methods. Each payment method is a gift card, a PayPal account or a credit card.

## Updating your default address

Once you are verified, we can update the default address on your profile. This address is used
for future orders; orders you have already placed keep their address, but a pending order's
shipping address can be changed separately.

## Talking to a person

Our assistant answers from our records and policies only: it doesn't make up information or
procedures, and it doesn't give subjective recommendations. If your request can't be handled
within what the assistant can do, it transfers you to a human agent. Our support team is
available {support_hours}.
""".replace("{support_hours}", SUPPORT_HOURS)

DOCS["shipping-and-delivery"] = """\
# Shipping and delivery

Where we ship, how long it takes and what it costs. (Adapted in part from the ABCD
customer-service guidelines.)

## Where we ship

We currently ship to addresses in the USA only.

## Processing time

Orders are usually processed, that is packed and handed to the carrier, within 1 to 2 business
days. Until then the order is pending, and you can still cancel it or change its address,
payment method or item options.

## Delivery times and shipping costs

Standard shipping is free on every order. Standard delivery takes 3 to 5 business days after
your order has been processed.

## Overnight shipping

While an order is still pending, you can upgrade it to overnight shipping for $20; Gold members
get the upgrade free. Once an order has been processed (shipped), its delivery date can no
longer be changed, but it is already on its way to you.

## Tracking your order

When your order is processed it gets a tracking number. The items of an order ship together in
one package with a single tracking number. To see your order's status and tracking number, ask
our assistant: verify your identity and tell us the order number (it starts with #W).

## Package marked delivered but not received

Sometimes a package is marked as delivered a little early and still takes a couple of days to
arrive, so please check with neighbours or your building's mailroom. If it still hasn't arrived
7 days after it was marked as delivered, contact us and our support team will arrange a
replacement.

## Times and time zone

All times in our records are EST, on a 24-hour clock. For example, "02:30:00" means 2:30 AM EST.
"""

DOCS["payments-and-gift-cards"] = """\
# Payments, refunds and gift cards

How you can pay, how refunds work and what to do if a payment fails.

## Accepted payment methods

We accept credit cards, PayPal and gift cards. Each order is paid with a single payment method.

## Paying with a gift card

Gift cards saved on your account have a balance. To pay for an order with a gift card, or to
switch a pending order's payment to a gift card, the gift card must have enough balance to cover
the order total. Once you are verified, we can tell you the balance of the gift cards on your
profile.

## Refund timing

Refunds always go back through a payment method on your account: to a gift card immediately,
and to a credit card or PayPal account in 5 to 7 business days. This applies to cancelled
orders, to payment method changes and to returns (once the returned items reach us).

## Price changes

Our prices can change from day to day. You pay the price shown when you placed your order; we
don't offer price adjustments for earlier orders and we don't match competitors' prices.

## Card declined at checkout

If your credit card keeps being rejected, please try entering the card details again, sign out
of your account and back in, and check that the card has not expired. If it still doesn't
work, you can pay with PayPal or a gift card, or ask to talk to our support team.
"""

DOCS["promotions-and-membership"] = """\
# Promo codes and membership

Promo codes and the benefits of our membership levels. (Adapted from the ABCD customer-service
guidelines.)

## Promo codes

A promo code is valid for 7 days from the day it is issued. Enter it at checkout; only one promo
code can be used per order, and a code can't be added to an order that has already been placed.

## Promo code not working

Promotions only last 7 days, so first check when your code was issued: after 7 days it has
expired. Also check that you typed it exactly as written. If your code still doesn't work and
you are a Bronze, Silver or Gold member, our support team can give you a new promo code for 20%
off your next purchase. We are sorry that we can't replace codes for Guest customers.

## Membership levels

Our membership levels are Guest, Bronze, Silver and Gold. Your level is kept on your account,
and our support team can tell you which level you have.

## Member benefits

- Gold members get the overnight shipping upgrade free; for all other levels it costs $20.
- Bronze, Silver and Gold members can get a replacement promo code for 20% off their next
  purchase if a promo code doesn't work.
"""

DOCS["website-help"] = """\
# Website help

Quick fixes for common problems with our website. (Adapted from the ABCD customer-service
guidelines.)

## Cart not updating

If an item won't go into your shopping cart, refresh the page and add the item again. If that
doesn't help, sign out of your account and sign back in. Also check whether the option you chose
is unavailable: options that are out of stock can't be added to the cart.

## Search shows no results

If every search says "No results found", sign out and back in, and try clearing your browser's
cookies (in your browser's settings). Then search for a different product; if that works, try
your original search again. You can also ask our assistant directly about any product.

## Website running slowly

Try visiting another website: if every site is slow, the problem is likely your internet
connection. Otherwise, close other browser tabs and programs running in the background, then
sign out and back in. If the site is still slow, let us know and we will report it to our
website team.
"""

DOCS["privacy-and-security"] = """\
# Privacy and security

How we protect your account and your order information.

## What we ask for

To verify your identity we only ask for the email address on your account, or your full name
and zip code. We never ask for your password or your full card number in a chat; payment methods
are referred to by their type, such as a credit card's brand and last four digits.

## Who can see your orders

We only discuss orders and profile details with the verified account holder, and we help one
customer per conversation. We can't share information about another customer's orders.

## Suspicious emails

We will never ask you for your password by email. If you receive an email about charges or
services you don't recognise, check the sender address; if in doubt, don't click its links and
ask us directly instead.

## Forgotten password

We can't see or send you your current password. Use the "Forgot password" link on the sign-in
page to set a new one.
"""


def product_issue_doc(size_summary: str) -> str:
    """The product issues page, with the catalogue's sizes filled in."""
    return f"""\
# Product issues, sizes and warranty

What to do if something is wrong with an item, and what our product pages tell you.
(Adapted in part from the ABCD customer-service guidelines.)

## Damaged or defective items

If an item in a delivered order arrived damaged or doesn't work, you can request a return for a
refund or an exchange for the same product in another option, following our usual return and
exchange rules. If neither solves the problem, ask to talk to our support team.

## Wrong item received

If you received an item in the wrong size or color, you can exchange it for the option you
wanted (if it is available), or return it for a refund, once the order shows as delivered.

## Warranty

Our product pages don't list warranty terms for individual products, and our assistant can't
promise warranty coverage. For a fault that a return or exchange doesn't cover, please ask to
talk to our support team.

## Product information

Each product page lists the options the product comes in (such as color, size or material), the
price of each variant, and whether it is currently available. We don't publish specifications
beyond these, and we won't guess them.

## Unavailable options

Some variants are currently unavailable. An unavailable variant can't be ordered, and it can't
be chosen when you change or exchange an item, until it is available again. We don't have
restock dates; other options of the same product may be available.

## Sizes

We list the sizes each product comes in: {size_summary}. We don't publish size charts or
measurements. If a size doesn't fit once your order is delivered, you can exchange it for
another available size of the same product.
"""


def about_doc(products: list[dict[str, Any]]) -> str:
    """The store overview page, with the catalogue listed by category."""
    by_category: dict[str, list[str]] = {}
    for product in products:
        by_category.setdefault(product["category"], []).append(product["title"])
    lines = [
        f"- **{category}**: {', '.join(sorted(titles))}"
        for category, titles in sorted(by_category.items())
    ]
    catalogue = "\n".join(lines)
    return f"""\
# About {STORE_NAME}

## What we sell

{STORE_NAME} sells {len(products)} types of products in {len(by_category)} categories:

{catalogue}

Each type of product comes in variants with different options; for example, a T-Shirt can come
in color blue size M or color red size L. Each variant has its own price and availability.

## How our assistant can help

Our assistant answers questions about our products and policies. After you verify your identity
(email, or full name and zip code), it can show your orders and their tracking numbers, cancel
pending orders, and start returns and exchanges of delivered orders.

## Contacting our support team

Our support team is available {SUPPORT_HOURS}. Ask our assistant to talk to a person at any
time; messages sent outside these hours are answered on the next business day.
"""


def size_summary(products: list[dict[str, Any]]) -> str:
    """ "T-Shirt S, M, L, XL and XXL; ..." for products with a size option."""
    parts = []
    for product in sorted(products, key=lambda p: p["title"]):
        sizes = product["attributes"].get("size")
        if sizes and product["category"] in {"Apparel", "Footwear", "Sports & Fitness"}:
            parts.append(f"{product['title']} in {join_words(sizes, 'and')}")
    return "; ".join(parts)


def build_docs(products: list[dict[str, Any]]) -> dict[str, str]:
    """All policy pages, keyed by file stem."""
    docs = dict(DOCS)
    docs["product-issues-and-warranty"] = product_issue_doc(size_summary(products))
    docs["about"] = about_doc(products)
    return dict(sorted(docs.items()))


# ---------------------------------------------------------------------------
# FAQ
# ---------------------------------------------------------------------------


def load_faq(products: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Hand-written FAQ entries (scripts/demo_store_faq.json) with placeholders filled."""
    entries = json.loads(FAQ_FILE.read_text(encoding="utf-8"))
    values = {"{sizes}": size_summary(products), "{support_hours}": SUPPORT_HOURS}
    faq = []
    seen: set[str] = set()
    for entry in entries:
        if entry["id"] in seen:
            raise SystemExit(f"{FAQ_FILE.name}: duplicate FAQ id {entry['id']}")
        seen.add(entry["id"])
        answer = entry["answer"]
        for key, value in values.items():
            answer = answer.replace(key, value)
        faq.append(
            {
                "id": entry["id"],
                "question": entry["question"],
                "answer": answer,
                "category": entry["category"],
            }
        )
    return faq


# ---------------------------------------------------------------------------
# Store-specific intents (added to the built-in Bitext intents)
# ---------------------------------------------------------------------------

INTENTS: dict[str, list[str]] = {
    "greet": [
        "hi",
        "hello",
        "hey",
        "hey there",
        "hiya",
        "good morning",
        "good afternoon",
        "good evening",
        "helo",
        "hii",
        "heyy",
        "yo",
        "howdy",
        "hi there!",
        "hello?",
        "anyone there?",
        "is anybody there",
        "hey shopbot",
        "hi, can you help me",
        "hello good morning",
        "morning!",
        "evening",
        "hey hey",
        "greetings",
        "hi team",
        "hello harbor and pine",
        "hi!!",
        "sup",
        "hellooo",
        "hey, hope you're well",
        "hi there, hope you're doing well",
        "hello, i have a question",
        "good day",
        "hai",
        "heloo",
        "hi again",
        "hey it's me again",
        "hello there",
        "hi folks",
        "yo anyone around",
        "hi assistant",
        "hey bot",
        "good morning team",
        "hello hello",
        "hi :)",
        "hiii",
        "hey, quick question",
        "hi, is this the support chat?",
    ],
    "goodbye": [
        "bye",
        "goodbye",
        "bye bye",
        "see you",
        "see ya",
        "talk later",
        "that's all, bye",
        "ok bye",
        "cya",
        "later!",
        "i'm done",
        "have a good day",
        "have a nice day",
        "good night",
        "take care",
        "thats all for today",
        "bye for now",
        "gotta go",
        "ok thats it bye",
        "catch you later",
        "farewell",
        "i'm leaving now",
        "that will be all",
        "nothing else, bye",
        "all good, bye",
        "signing off",
        "ttyl",
        "adios",
        "okay have a good one",
        "have a great weekend",
        "bye!!",
        "end chat",
        "close the chat",
        "that's everything",
        "i'm all set, bye",
        "talk to you soon",
        "peace out",
        "bye then",
        "until next time",
        "so long",
        "ok ciao",
        "im out",
        "good bye",
        "gtg",
        "byee",
        "nothing more, goodbye",
    ],
    "thanks": [
        "thanks",
        "thank you",
        "thx",
        "ty",
        "thanks a lot",
        "thank you so much",
        "many thanks",
        "cheers",
        "appreciate it",
        "much appreciated",
        "thanks for the help",
        "that helps, thanks",
        "great thanks",
        "awesome thank you",
        "perfect, thanks",
        "thank u",
        "tysm",
        "thanks!!",
        "thanks a bunch",
        "thanks heaps",
        "you've been very helpful",
        "that was helpful",
        "thankyou",
        "thnks",
        "thank you very much",
        "super helpful thanks",
        "ok thanks",
        "cool thx",
        "you're a star",
        "i appreciate your help",
        "thanks for sorting that out",
        "thanks for checking",
        "thanks for your patience",
        "great job, thanks",
        "thank you kindly",
        "thx a lot",
        "ty so much",
        "thanks mate",
        "lovely, thank you",
        "that's great, thank you",
        "nice one, thanks",
        "appreciate the quick reply",
        "wonderful thanks",
        "thanks again",
        "thank you, that answers my question",
        "thanks that's exactly what i needed",
    ],
    "affirm": [
        "yes",
        "yep",
        "yeah",
        "yes please",
        "sure",
        "sure, go ahead",
        "go ahead",
        "confirm",
        "confirmed",
        "i confirm",
        "correct",
        "that's right",
        "right",
        "exactly",
        "absolutely",
        "of course",
        "ok",
        "okay",
        "ok do it",
        "yes do it",
        "please proceed",
        "proceed",
        "yes cancel it",
        "yes that's correct",
        "yup",
        "y",
        "ya",
        "yea",
        "definitely",
        "sounds good",
        "that works",
        "affirmative",
        "yes i'm sure",
        "yes go for it",
        "do it",
        "please do",
        "alright",
        "that's the one",
        "uh huh",
        "yes, confirm the return",
        "yes submit it",
        "yes please go ahead",
        "for sure",
        "yes thats right",
        "ok sure",
        "fine by me",
        "works for me",
        "k",
        "yess",
        "yes, that's my order",
    ],
    "deny": [
        "no",
        "nope",
        "nah",
        "no thanks",
        "no thank you",
        "don't",
        "dont do that",
        "never mind",
        "nevermind",
        "stop",
        "not now",
        "no, don't cancel it",
        "wait no",
        "that's wrong",
        "incorrect",
        "not that one",
        "no that's not right",
        "hold on, don't",
        "i changed my mind",
        "forget it",
        "no way",
        "negative",
        "not really",
        "i don't think so",
        "absolutely not",
        "n",
        "no!!",
        "don't proceed",
        "please don't",
        "scratch that",
        "actually no",
        "no, leave it as is",
        "i'd rather not",
        "not yet",
        "no i'm not sure",
        "nah i'm good",
        "no need",
        "no, keep it",
        "don't submit it",
        "don't go ahead",
        "abort",
        "no stop",
        "nah that's fine, leave it",
        "noo",
        "no, that's not my order",
        "wrong, that's not what i asked",
    ],
    "product_info": [
        "do you have the hiking boots in size 10",
        "how much is the office chair",
        "is the blue t-shirt in stock",
        "what colors does the fleece jacket come in",
        "price of the espresso machine?",
        "do u sell laptops",
        "what sizes do the running shoes come in",
        "is the waterproof action camera available",
        "how much r the wireless earbuds",
        "does the smartphone come in rose gold",
        "what's the cheapest tablet you have",
        "do you have a 17-inch laptop with an i9",
        "is the mechanical keyboard available with tactile switches",
        "what materials is the backpack made of",
        "do you carry yoga mats",
        "how much does the bicycle cost",
        "is the mountain bike in stock in large",
        "tell me about the smart thermostat",
        "does the smart thermostat work with apple homekit",
        "what capacity does the electric kettle have",
        "do you have a glass tea kettle for induction",
        "is the bluetooth speaker water resistant",
        "how long does the bluetooth speaker battery last",
        "whats the price range for the digital camera",
        "any sunglasses with polarized lenses?",
        "do you have the wristwatch with a leather strap",
        "is there a pink yoga mat",
        "which dumbbell sets are adjustable",
        "how much is the pet bed in large",
        "do you sell memory foam pet beds",
        "do you have the garden hose in 100ft",
        "i'm looking for a 6 ft patio umbrella",
        "what options are there for the air purifier",
        "is the robotic vacuum cleaner in stock",
        "do you have a cordless vacuum",
        "what scents does the perfume come in",
        "how much is the 100ml perfume",
        "do you have a makeup kit for dark skin tone",
        "is the skateboard available with a bamboo deck",
        "how many pieces does the jigsaw puzzle have",
        "is there a gas grill with a side burner",
        "do you sell wireless over-ear headphones",
        "how much are the headphones",
        "gaming mouse wireless price",
        "is the e-reader available with cellular",
        "portable charger 20000mah in stock?",
        "do you have usb-c portable chargers",
        "what resolution is the indoor security camera",
        "do you have 4k security cameras",
        "is there a wifi led light bulb",
        "price of the smart watch with amoled display",
        "is the electric toothbrush rechargeable",
        "does the coffee maker come with a built-in grinder",
        "how much is the coffee maker",
        "do you have the luggage set in 3-piece",
        "hardshell luggage price",
        "is the notebook available in A5",
        "what colors does the desk lamp come in",
        "is the cycling helmet available in size M",
        "is the wall clock digital or analog",
        "what heights does the bookshelf come in",
        "do you have a wooden bookshelf",
        "sneakers size 8 in stock?",
        "what colours do the sneakers come in",
        "water bottle 750ml stainless steel",
        "whats the price of the water bottle",
        "do you have any v-neck t shirts",
        "tshirt in xxl?",
        "show me your laptops",
        "what electronics do you sell",
        "do you have it in black",
        "is it in stock",
        "how much is the 32gb ram laptop",
        "which tablet has 128gb storage",
        "r the hiking boots waterproof",
    ],
    "return_order": [
        "i want to return items from my order",
        "i'd like to return my order",
        "how do i send back the hiking boots",
        "return the office chair please",
        "i need to return something",
        "can i return the sneakers i got last week",
        "want to return 2 items from order #W1234567",
        "start a return",
        "return request for order W7654321",
        "the t-shirt doesn't fit, i want to return it",
        "i want to send this back",
        "i got my package but i want to return the headphones",
        "please process a return for my order",
        "how to return an item",
        "can you help me return my laptop",
        "i'm returning the yoga mat, i want my money back",
        "return the whole order",
        "i'd like to return everything in my last order",
        "need to return a damaged kettle",
        "the bluetooth speaker broke, i want to return it",
        "can i return part of my order",
        "returning the water bottle and the backpack",
        "i changed my mind about the espresso machine, return it",
        "return pls",
        "retrun my order",
        "i wanna return stuff",
        "how can i return the jacket",
        "initiate a return",
        "return the smart watch from my delivered order",
        "i don't want the perfume anymore, it came yesterday, how do i return it",
        "help me return a purchase",
        "i need a return label for my order",
        "start return for #W2611340",
        "return my item and refund it to my gift card",
        "i want to return the vacuum cleaner and get the refund on paypal",
        "the desk lamp isn't what i expected, i'm sending it back",
        "can i send back the luggage set",
        "return the puzzle please",
        "i need to return an item that arrived broken",
        "my order arrived and i want to return one of the items",
        "i'd like to return the gaming mouse",
        "send back the earbuds",
        "how do i make a return",
        "ok i want to do a return",
        "return item",
        "i want to return some things i bought",
        "i'd like to return two items from my delivered order",
        "the shoes are too small, i just want to return them",
        "returning my delivered order",
        "i want to return it",
    ],
    "exchange_order": [
        "i want to exchange an item",
        "can i exchange the t-shirt for a different size",
        "swap my hiking boots for size 11",
        "exchange the green backpack for the black one",
        "i got the wrong size, can i swap it",
        "i'd like to exchange items from my order",
        "exchange the sneakers for size 10",
        "can i change the color of the fleece jacket i received",
        "exchange pls",
        "exhcange my order",
        "i want the same headphones but wireless instead of wired",
        "swap the office chair for the mesh version",
        "replace the size M shirt with an L",
        "i need a bigger size of what i got",
        "can i get a smaller size instead",
        "exchange my delivered order",
        "want to exchange the keyboard for linear switches",
        "the smart watch band is wrong, i want to exchange it for leather",
        "exchange the water bottle for the 1000ml one",
        "i want to swap 2 items from order #W1234567",
        "can i exchange the yoga mat for the 6mm one",
        "exchange the cycling helmet for a medium",
        "how do exchanges work",
        "start an exchange",
        "i'd like a different color for the item i received",
        "exchange running shoes size 9 for size 10",
        "swap the 4k action camera for the 5k version",
        "can i exchange instead of returning",
        "exchange the pet bed for the large size",
        "wrong colour, want to swap it",
        "it doesn't fit, can i exchange it for another size",
        "i'd like to trade my tablet for the 128gb one",
        "exchange an item in my order for a different option",
        "exchange the boots i got for a different size",
        "exchange my luggage set for the hardshell one",
        "swap the puzzle for the 1000 piece one",
        "exchange the perfume for the 50ml bottle",
        "i want to exchange the garden hose for the 50ft one",
        "can u swap my order",
        "request an exchange",
        "exchange for a different variant",
        "the jacket is too big, swap it for an S",
        "i'd like to exchange, not return",
        "exchange the grill for the gas version",
        "swap out the sunglasses for polarized ones",
        "exchange the laptop for the one with 32gb ram",
        "can i exchange my order #W2611340",
        "exchange the kettle for the stainless steel one",
    ],
}


def intents_csv() -> str:
    """intents.csv text (``text,intent``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["text", "intent"])
    for intent, texts in INTENTS.items():
        if len(set(texts)) != len(texts):
            raise SystemExit(f"intent {intent}: duplicate examples")
        for text in texts:
            writer.writerow([text, intent])
    return buf.getvalue()


# ---------------------------------------------------------------------------
# NOTICE
# ---------------------------------------------------------------------------


def notice(datasets: Path, n_faq: int) -> str:
    """Data sources, their licences, and what was derived or invented."""
    tau_licence = (datasets / "taubench_retail" / "LICENSE").read_text(encoding="utf-8").strip()
    abcd_licence = (datasets / "abcd" / "LICENSE").read_text(encoding="utf-8").strip()
    return f"""\
# Demo store: data sources and notices

The bundled demo store "{STORE_NAME}" is fictional. It is generated by
`scripts/make_demo_store.py` (with the hand-written `scripts/demo_store_faq.json`)
from the public datasets below. Regenerate it with
`python scripts/make_demo_store.py`; don't edit the files by hand.

## Sources

- **tau-bench, retail environment** (sierra-research/tau-bench, `envs/retail`), MIT licence:
  `products.json` (50 products and their variants), `orders.json` (1,000 orders),
  `users.json` (500 customers) and `wiki.md` (the customer-service policy).
- **ABCD, Action-Based Conversations Dataset** (asappresearch/abcd), MIT licence:
  `guidelines.json` (customer-service flows for an online store).

## What was taken and what was derived

- Products, variants, prices and availability, orders (items, status, fulfilments and
  tracking ids, addresses, payment history), customers (names, emails, addresses, payment
  methods) come unchanged from tau-bench. All names, emails and addresses there are fictional.
- Derived: each product's `price` is its lowest available variant price; `attributes` lists
  the option values of its variants; `description` is generated from the product type and
  those values only; `in_stock` is true when any variant is available; an order's `total` is
  the sum of its item prices; every order item has quantity 1 (as in tau-bench).
- **Invented: product categories** (tau-bench has none).
- **Invented: order dates.** tau-bench orders have no dates. `created_at` is a synthetic
  timestamp in 2026 (EST, UTC-05:00) derived deterministically from a SHA-256 hash of the
  order id: delivered and cancelled orders fall between 2026-01-05 and 2026-09-30, processed
  orders in October 2026, pending orders between 2026-11-01 and 2026-11-20.
- The policy pages `docs/orders-and-cancellations.md`, `docs/returns-and-exchanges.md` and
  `docs/account-and-verification.md` rewrite tau-bench's `wiki.md` for customers, keeping its
  rules and numbers.
- `docs/shipping-and-delivery.md`, `docs/promotions-and-membership.md`,
  `docs/website-help.md`, `docs/payments-and-gift-cards.md` and
  `docs/product-issues-and-warranty.md` adapt parts of the ABCD guidelines: overnight shipping
  for $20 (free for Gold members), membership levels Guest, Bronze, Silver and Gold, promo codes
  valid for 7 days and replacement codes for 20% off for members, waiting 7 days before a
  package marked delivered counts as missing, and the website troubleshooting steps.
- **Invented store facts** (neither dataset gives them; stated once in the docs and used
  consistently in the FAQ): the store name; shipping to the USA only; processing within 1 to 2
  business days; free standard shipping with delivery in 3 to 5 business days after
  processing; one package and tracking number per order; no fixed return deadline for
  delivered orders; free returns with a prepaid label; refunds for returns issued when the
  items reach the store (gift card immediately, otherwise 5 to 7 business days, as for
  cancellations); no cancellation fee; one payment method and one promo code per order; no
  price adjustments or price matching; support hours {SUPPORT_HOURS}.
- The {n_faq} FAQ entries and the example utterances in `intents.csv` were written for this
  store.

## The shipped LoRA adapter (`adapter/`)

`adapter/` is a LoRA adapter (peft, r=8 on the q/v projections of the top 8 of 24 layers,
about 0.7 MB) for the default chat model Qwen2.5-Coder-0.5B-Instruct (Apache-2.0 upstream; the PyPI
packages that carry its GGUF ship no licence file). It was trained on this store by
`shopbot finetune --store knowledge_base/demo_store --out DIR --steps 100 --batch-size 2`
from store-made examples only (no conversation log) and passed the gate on
`tests/data/answer_cases_heldout.jsonl`; `adapter/shopbot-adapter.json` records the data
counts, hyper-parameters, losses and the gate's numbers. It is not regenerated by
`make_demo_store.py`: re-run `shopbot finetune` after changing the store.

## tau-bench licence

```
{tau_licence}
```

## ABCD licence

```
{abcd_licence}
```
"""


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def jsonl(records: Iterable[dict[str, Any]]) -> str:
    """One compact JSON object per line."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; True if written."""
    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def build_store(datasets: Path) -> dict[str, str]:
    """Every file of the demo store, as ``relative path -> text``."""
    tau = datasets / "taubench_retail"
    for name in ("products.json", "orders.json", "users.json", "wiki.md", "LICENSE"):
        if not (tau / name).exists():
            raise SystemExit(f"missing {tau / name}; pass --datasets")
    for name in ("guidelines.json", "LICENSE"):
        if not (datasets / "abcd" / name).exists():
            raise SystemExit(f"missing {datasets / 'abcd' / name}; pass --datasets")

    raw_products = json.loads((tau / "products.json").read_text(encoding="utf-8"))
    raw_orders = json.loads((tau / "orders.json").read_text(encoding="utf-8"))
    raw_users = json.loads((tau / "users.json").read_text(encoding="utf-8"))

    products = convert_products(raw_products)
    orders = convert_orders(raw_orders, {p["id"]: p for p in products})
    customers = convert_customers(raw_users)
    faq = load_faq(products)

    files = {
        "store.toml": store_toml(),
        "products.jsonl": jsonl(products),
        "orders.jsonl": jsonl(orders),
        "customers.jsonl": jsonl(customers),
        "faq.jsonl": jsonl(faq),
        "intents.csv": intents_csv(),
        "NOTICE.md": notice(datasets, len(faq)),
    }
    for stem, text in build_docs(products).items():
        files[f"docs/{stem}.md"] = text
    return files


def write_store(files: dict[str, str], out: Path) -> tuple[int, int]:
    """Write the files into ``out``; remove stale docs pages. Returns (written, removed)."""
    written = sum(write_if_changed(out / rel, text) for rel, text in files.items())
    removed = 0
    docs_dir = out / "docs"
    if docs_dir.is_dir():
        for page in sorted(docs_dir.glob("*.md")):
            if f"docs/{page.name}" not in files:
                page.unlink()
                removed += 1
    return written, removed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=DEFAULT_DATASETS,
        help="folder holding taubench_retail/ and abcd/ (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="store folder to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    files = build_store(args.datasets)
    written, removed = write_store(files, args.out)
    print(
        f"{STORE_NAME}: {len(files)} files in {args.out} "
        f"({written} updated, {removed} stale removed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
