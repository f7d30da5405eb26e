"""What one logged turn tells the merchant: products, intent, sentiment, demand signals.

``turn_event(row, catalog, ...)`` is a pure function of a stored turn row (the
redacted text, intent, entities, sources, action) and the catalog, so replaying
the log always yields the same events: the basis of "recompute == incremental".

Sentiment comes from VADER (PyPI ``vaderSentiment``, a rule-based lexicon
tuned for short social-media text; compound score in [-1, 1]).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bot.nlu.sentiment import sentiment
from bot.storage.reports import FAILED_ACTIONS

# Phrases that make a message a product query even when NLU found no product.
SHOPPING_RE = re.compile(
    r"\b(do|does|did) (you|u|ya|the store|your store) (guys )?(sell|have|carry|stock|offer)\b|"
    r"\b(looking for|searching for|shopping for|in the market for|where can i (find|buy|get))\b|"
    r"\b(i('d| would)? (like|want|need) to (buy|get|order)|want to buy|wanna buy|need to buy)\b|"
    r"\b(any|got any|have any) .{1,40}\?",
    re.I,
)
PURCHASE_RE = re.compile(
    r"\b(buy|purchase|order (one|it|two|a)|add (it )?to (my )?cart|check ?out|"
    r"how (much|do i (buy|order))|price of|cost of|i'?ll take|want (one|it|two))\b",
    re.I,
)
AVAILABILITY_RE = re.compile(
    r"\b(in stock|available|availability|sold out|out of stock|back in stock|restock|have it in)\b",
    re.I,
)
PRICE_OBJECTION_RE = re.compile(
    r"\b(too (expensive|pricey|much)|overpriced|cheaper|so expensive|pricey|discount|coupon|"
    r"promo code|price match|costs? too much|can'?t afford|out of my budget|lower price|on sale)\b",
    re.I,
)
# "under $50", "$30 to $80", "around 100 dollars", "budget of 200".
MONEY_RE = re.compile(
    r"(?:\$\s?(\d+(?:\.\d\d)?))|(?:\b(\d+(?:\.\d\d)?)\s?(?:dollars|usd|bucks)\b)|"
    r"(?:\bbudget (?:is |of )?(?:about |around )?\$?(\d+))",
    re.I,
)
PRODUCT_INTENTS = {"product_info"}


@dataclass
class Catalog:
    """The catalog facts the insights need, with product title embeddings for gap detection."""

    products: dict[str, Any]  # product id -> Product
    title_vectors: np.ndarray | None  # (n, dim), rows in ``ids`` order
    ids: list[str]

    @classmethod
    def from_products(cls, products: list[Any], encoder: Any | None) -> Catalog:
        ids = [p.id for p in products]
        vectors = encoder.encode([p.title for p in products]) if encoder and products else None
        return cls({p.id: p for p in products}, vectors, ids)

    def category(self, product_id: str) -> str | None:
        p = self.products.get(product_id)
        return p.category if p else None


def day_of(ts: float) -> str:
    """The UTC calendar day of a timestamp, ISO format."""
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _products_of(row: dict[str, Any]) -> list[str]:
    """Product ids from entities (what the customer named) and product sources (retrieval)."""
    out: list[str] = []
    for e in row.get("entities") or []:
        if e.get("entity") == "product" and e.get("product_id"):
            out.append(str(e["product_id"]))
    for s in row.get("sources") or []:
        sid = str(s.get("id", ""))
        if s.get("type") == "product" and sid.startswith("product:"):
            out.append(sid.split(":", 1)[1])
    return list(dict.fromkeys(out))


def _options_of(row: dict[str, Any], catalog: Catalog, product_id: str) -> dict[str, str]:
    product = catalog.products.get(product_id)
    if product is None:
        return {}
    names = {k for v in product.variants for k in v.options}
    return {
        str(e["entity"]): str(e.get("value"))
        for e in row.get("entities") or []
        if e.get("entity") in names
    }


def _asks_sold_out(row: dict[str, Any], catalog: Catalog, product_id: str) -> bool:
    """The customer asked about a variant (or product) that cannot be bought now."""
    product = catalog.products.get(product_id)
    if product is None:
        return False
    wanted = _options_of(row, catalog, product_id)
    if wanted and product.variants:
        matching = [
            v
            for v in product.variants
            if all(str(v.options.get(k, "")).lower() == val.lower() for k, val in wanted.items())
        ]
        return not any(v.available for v in matching)
    return bool(AVAILABILITY_RE.search(row.get("user_text", ""))) and not product.in_stock


# Wrapping words of a shopping question, removed to leave the thing asked for.
_ASK_WRAPPERS = re.compile(
    r"\b(do|does|did) (you|u|ya|the store|your store) (guys )?(sell|have|carry|stock|offer)\b|"
    r"\b((i'?m|i am|we'?re|we are) )?(looking|searching|shopping) for\b|\bin the market for\b|"
    r"\bwhere can i (find|buy|get)\b|\bi('d| would)? (like|want|need) to (buy|get|order)\b|"
    r"\b(want|wanna|need) to buy\b|\b(got|have|are there|is there) any\b|\bfor sale\b|"
    r"\bin stock\b|\b(hi|hello|hey|please|thanks|any|a|an|some|the)\b",
    re.I,
)


def gap_phrase(text: str) -> str:
    """The thing a shopping question asks for: "do you sell kayaks?" -> "kayaks"."""
    phrase = _ASK_WRAPPERS.sub(" ", text)
    return re.sub(r"[\s?!.,]+", " ", phrase).strip() or text.strip()


def is_product_query(row: dict[str, Any]) -> bool:
    """A request for something to buy (a named product or a shopping question).

    A price objection ("too expensive, any discount?") is about a product
    already shown, not a request for a new one, so it never counts as one.
    """
    text = row.get("user_text", "")
    if PRICE_OBJECTION_RE.search(text):
        return False
    return (
        row.get("intent") in PRODUCT_INTENTS
        or row.get("action") == "action_product_search"
        or bool(SHOPPING_RE.search(text))
    )


def turn_event(
    row: dict[str, Any],
    catalog: Catalog,
    encoder: Any | None = None,
    gap_threshold: float = 0.6,
) -> tuple[dict[str, Any], list[tuple[str, str, str]], np.ndarray | None]:
    """The event, the demand-signal rows ``(kind, key_type, key)`` and the gap vector of a turn.

    A demand gap is a product query that names no catalog product and whose
    best title match (cosine of sentence embeddings) is below ``gap_threshold``.
    """
    text = row.get("user_text") or ""
    products = [p for p in _products_of(row) if p in catalog.products]
    categories = list(dict.fromkeys(c for p in products if (c := catalog.category(p))))
    amounts = [float(next(g for g in m.groups() if g)) for m in MONEY_RE.finditer(text)]
    product_query = is_product_query(row)
    named = [
        e for e in row.get("entities") or [] if e.get("entity") == "product" and e.get("product_id")
    ]
    event: dict[str, Any] = {
        "turn_id": row["turn_id"],
        "sender": row["sender"],
        "ts": float(row["ts"]),
        "day": day_of(float(row["ts"])),
        "intent": row.get("intent") or "none",
        "action": row.get("action"),
        "products": products,
        "categories": categories,
        "amounts": amounts,
        "sentiment": sentiment(text),
        "purchase_intent": bool(products and PURCHASE_RE.search(text)),
        "soldout": [p for p in products if _asks_sold_out(row, catalog, p)],
        "price_objection": bool(PRICE_OBJECTION_RE.search(text)),
        "product_query": product_query,
        "handoff": bool(row.get("handoff")),
        "failed": bool(row.get("fallback")) or row.get("action") in FAILED_ACTIONS,
        "gap": None,
        "best_match": None,
    }
    gap_vec = None
    if product_query and not named and encoder is not None and catalog.title_vectors is not None:
        phrase = gap_phrase(text)
        vec = encoder.encode([phrase])[0]
        scores = catalog.title_vectors @ vec
        best = int(np.argmax(scores))
        event["best_match"] = {
            "product_id": catalog.ids[best],
            "score": round(float(scores[best]), 4),
        }
        if float(scores[best]) < gap_threshold:
            event["gap"] = phrase.lower()
            gap_vec = vec
    signals: list[tuple[str, str, str]] = []
    for p in products:
        signals.append(("mention", "product", p))
        if event["purchase_intent"]:
            signals.append(("purchase_intent", "product", p))
        if event["price_objection"]:
            signals.append(("price_objection", "product", p))
    for c in categories:
        signals.append(("mention", "category", c))
        if event["purchase_intent"]:
            signals.append(("purchase_intent", "category", c))
        if event["price_objection"]:
            signals.append(("price_objection", "category", c))
    for p in event["soldout"]:
        signals.append(("soldout_question", "product", p))
        if c := catalog.category(p):
            signals.append(("soldout_question", "category", c))
    if event["gap"]:
        signals.append(("gap", "gap", event["gap"]))
    return event, list(dict.fromkeys(signals)), gap_vec
