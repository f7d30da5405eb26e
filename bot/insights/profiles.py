"""Customer profiles: events folded one at a time, and explained field by field.

``fold(profile, event)`` is the only way a profile changes, both in the
background updater and in a full recompute, so the two agree by construction
(and ``tests/test_insights.py`` checks that they do). Feedback and purchase
history (RFM) are read when a profile is shown: they live in their own tables
and can change without a turn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# A gap longer than this between two messages starts a new conversation.
CONVERSATION_GAP_SECONDS = 30 * 60
# How many examples each field keeps to explain itself.
EVIDENCE = 5
SENTIMENT_WINDOW = 20

FIELDS_HELP = {
    "messages": "messages the customer sent (one per logged turn)",
    "conversations": "sessions: a new one starts after 30 minutes of silence",
    "first_seen": "time of the first logged message",
    "last_seen": "time of the latest logged message",
    "intents": "intent histogram from the NLU model, per message",
    "categories": "catalog categories of products named or shown, per message",
    "products": "products named (entities) or answered from (retrieval sources)",
    "price_range": "amounts the customer mentioned ($50, 100 dollars, budget of 200)",
    "sentiment": "VADER compound score per message (-1 negative .. +1 positive); "
    "trend = mean of the last 5 minus mean of the first 5",
    "handoffs": "messages after which the conversation was with a person",
    "failed_answers": "messages the bot could not answer (abstained, clarified, fell back)",
    "purchase_intent": "messages asking to buy / about the price of a named product",
    "price_objections": "messages saying a price is too high or asking for discounts",
    "demand_gaps": "product requests the catalog has nothing close to",
    "feedback": "thumbs up / down given on replies (from the feedback table)",
    "rfm": "recency (days since last order), frequency (orders), monetary (total spent) "
    "of the verified store customer, from the order book",
}


def empty_profile(sender: str) -> dict[str, Any]:
    """A profile with no messages yet."""
    return {
        "sender": sender,
        "messages": 0,
        "conversations": 0,
        "first_seen": None,
        "last_seen": None,
        "intents": {},
        "categories": {},
        "products": {},
        "price_min": None,
        "price_max": None,
        "sentiment_recent": [],
        "sentiment_first": [],
        "sentiment_sum": 0.0,
        "handoffs": 0,
        "failed_answers": 0,
        "purchase_intent": 0,
        "price_objections": 0,
        "demand_gaps": 0,
        "evidence": {},
    }


def _count(hist: dict[str, int], key: str) -> None:
    hist[key] = hist.get(key, 0) + 1


def _evidence(profile: dict[str, Any], field: str, event: dict[str, Any], note: str) -> None:
    items = profile["evidence"].setdefault(field, [])
    if len(items) < EVIDENCE:
        items.append({"turn_id": event["turn_id"], "day": event["day"], "note": note})


def fold(profile: dict[str, Any] | None, event: dict[str, Any]) -> dict[str, Any]:
    """The profile after one more event (the input is not modified)."""
    import copy

    p = copy.deepcopy(profile) if profile else empty_profile(event["sender"])
    ts = event["ts"]
    # abs(): an imported or replayed log may not be in time order.
    if p["last_seen"] is None or abs(ts - p["last_seen"]) > CONVERSATION_GAP_SECONDS:
        p["conversations"] += 1
    p["messages"] += 1
    p["first_seen"] = ts if p["first_seen"] is None else min(p["first_seen"], ts)
    p["last_seen"] = ts if p["last_seen"] is None else max(p["last_seen"], ts)
    _count(p["intents"], event["intent"])
    for c in event["categories"]:
        _count(p["categories"], c)
        _evidence(p, "categories", event, c)
    for prod in event["products"]:
        _count(p["products"], prod)
        _evidence(p, "products", event, prod)
    for amount in event["amounts"]:
        p["price_min"] = amount if p["price_min"] is None else min(p["price_min"], amount)
        p["price_max"] = amount if p["price_max"] is None else max(p["price_max"], amount)
        _evidence(p, "price_range", event, f"${amount:g}")
    s = event["sentiment"]
    p["sentiment_sum"] = round(p["sentiment_sum"] + s, 4)
    if len(p["sentiment_first"]) < 5:
        p["sentiment_first"].append(s)
    p["sentiment_recent"] = (p["sentiment_recent"] + [s])[-SENTIMENT_WINDOW:]
    if s <= -0.3:
        _evidence(p, "sentiment", event, f"negative ({s:+.2f})")
    for flag, field in (
        ("handoff", "handoffs"),
        ("failed", "failed_answers"),
        ("purchase_intent", "purchase_intent"),
        ("price_objection", "price_objections"),
    ):
        if event[flag]:
            p[field] += 1
            _evidence(p, field, event, event["intent"])
    if event["gap"]:
        p["demand_gaps"] += 1
        _evidence(p, "demand_gaps", event, event["gap"])
    return p


def sentiment_summary(p: dict[str, Any]) -> dict[str, float]:
    """Mean sentiment and its trend (last five messages minus first five)."""
    n = max(p["messages"], 1)
    recent = p["sentiment_recent"][-5:]
    first = p["sentiment_first"]
    trend = (sum(recent) / len(recent) - sum(first) / len(first)) if recent and first else 0.0
    return {"mean": round(p["sentiment_sum"] / n, 3), "trend": round(trend, 3)}


def rfm(order_book: Any, customer_id: str | None, now: float) -> dict[str, Any] | None:
    """Recency (days), frequency (orders) and monetary value (total) of a store customer."""
    if order_book is None or not customer_id:
        return None
    orders = order_book.orders_of(customer_id)
    if not orders:
        return {"customer_id": customer_id, "recency_days": None, "frequency": 0, "monetary": 0.0}
    dates = []
    for o in orders:
        try:
            dates.append(datetime.fromisoformat(str(o.created_at)).timestamp())
        except (TypeError, ValueError):
            continue
    recency = round((now - max(dates)) / 86400, 1) if dates else None
    return {
        "customer_id": customer_id,
        "recency_days": recency,
        "frequency": len(orders),
        "monetary": round(sum(o.total for o in orders), 2),
    }


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


def _top(hist: dict[str, int], n: int = 5, names: dict[str, str] | None = None) -> str:
    items = sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return ", ".join(f"{(names or {}).get(k, k)} ({v})" for k, v in items) or "-"


def explain(
    p: dict[str, Any],
    feedback: list[dict[str, Any]],
    rfm_values: dict[str, Any] | None,
    product_titles: dict[str, str] | None = None,
) -> str:
    """A readable profile: each field, its value, and what went into it."""
    s = sentiment_summary(p)
    pos = sum(1 for f in feedback if f["rating"] > 0)
    neg = sum(1 for f in feedback if f["rating"] < 0)
    price = f"${p['price_min']:g} to ${p['price_max']:g}" if p["price_min"] is not None else "-"
    rows = [
        ("messages", p["messages"]),
        ("conversations", p["conversations"]),
        ("first_seen", _when(p["first_seen"])),
        ("last_seen", _when(p["last_seen"])),
        ("intents", _top(p["intents"])),
        ("categories", _top(p["categories"])),
        ("products", _top(p["products"], names=product_titles)),
        ("price_range", price),
        ("sentiment", f"mean {s['mean']:+.2f}, trend {s['trend']:+.2f}"),
        ("handoffs", p["handoffs"]),
        ("failed_answers", p["failed_answers"]),
        ("purchase_intent", p["purchase_intent"]),
        ("price_objections", p["price_objections"]),
        ("demand_gaps", p["demand_gaps"]),
        ("feedback", f"{pos} up, {neg} down"),
        (
            "rfm",
            (
                f"customer {rfm_values['customer_id']}: recency {rfm_values['recency_days']} days, "
                f"frequency {rfm_values['frequency']}, monetary ${rfm_values['monetary']:.2f}"
            )
            if rfm_values
            else "- (the customer never verified, or the store has no orders)",
        ),
    ]
    lines = [f"Profile of {p['sender']}"]
    for name, value in rows:
        lines.append(f"  {name:17s} {value}")
        lines.append(f"  {'':17s} ^ {FIELDS_HELP[name]}")
        for ev in p["evidence"].get(name, []):
            lines.append(
                f"  {'':17s}   from turn {ev['turn_id'][:12]} on {ev['day']}: {ev['note']}"
            )
    return "\n".join(lines)
