"""Personalised product search: re-rank product hits by the customer's profile.

A product hit's score gets a bonus for fitting what the profile says about
the customer (``bot/insights/profiles.py``):

- interest: the share of the customer's product mentions that fall in the
  product's category (0..1), times ``weight_category``;
- price: 1 when the product's price is within the range the customer asked
  about (up to 20% over their highest amount), falling linearly to 0 at twice
  that, times ``weight_price``.

Only product hits move, and only among themselves: FAQ and policy passages
keep their places, so personalisation never changes whether the bot answers
a question from the knowledge base. ``scripts/bench_personalisation.py``
measures on held-out simulated sessions whether this raises the rank of the
product the customer finally asks about; the ``personalise_search`` config
switch stays off unless that measurement says it helps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

# Fitted by scripts/bench_personalisation.py on its training sessions (see docs/benchmarks.md).
DEFAULT_WEIGHT_CATEGORY = 0.08
DEFAULT_WEIGHT_PRICE = 0.05
# Only products retrieved nearly as well as the best one may move ahead of it: the profile
# breaks near-ties, it never overrides a clear match ("tell me about the wristwatch").
DEFAULT_MARGIN = 0.1


def profile_bonus(
    profile: dict[str, Any] | None,
    product: Any,
    weight_category: float = DEFAULT_WEIGHT_CATEGORY,
    weight_price: float = DEFAULT_WEIGHT_PRICE,
) -> float:
    """How much the customer's profile favours ``product`` (0 without a profile)."""
    if not profile or product is None:
        return 0.0
    bonus = 0.0
    categories = profile.get("categories") or {}
    total = sum(categories.values())
    if total and getattr(product, "category", None):
        bonus += weight_category * categories.get(product.category, 0) / total
    ceiling = profile.get("price_max")
    price = getattr(product, "price", None)
    if ceiling and price is not None:
        limit = 1.2 * float(ceiling)
        fit = 1.0 if price <= limit else max(0.0, 1.0 - (price - limit) / limit)
        bonus += weight_price * fit
    return bonus


def rerank(
    hits: list[Any],
    profile: dict[str, Any] | None,
    products: dict[str, Any],
    weight_category: float = DEFAULT_WEIGHT_CATEGORY,
    weight_price: float = DEFAULT_WEIGHT_PRICE,
    margin: float | None = DEFAULT_MARGIN,
) -> list[Any]:
    """``hits`` with the product hits re-ordered by score plus profile bonus.

    Non-product hits stay where they were; product hits fill the product
    slots in their new order, carrying their personalised score. With a
    ``margin``, only product hits whose cosine is within ``margin`` of the best
    product hit's get a bonus (None: every product hit may move).
    """
    if not profile:
        return list(hits)
    slots = [i for i, h in enumerate(hits) if h.type == "product"]
    if not slots:
        return list(hits)
    floor = max(hits[i].dense for i in slots) - margin if margin is not None else -math.inf
    scored = []
    for i in slots:
        hit = hits[i]
        product = products.get(str(hit.meta.get("product_id")))
        bonus = 0.0
        if hit.dense >= floor:
            bonus = profile_bonus(profile, product, weight_category, weight_price)
        scored.append((hit.score + bonus, -i, hit))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    out = list(hits)
    for slot, (score, _, hit) in zip(slots, scored, strict=True):
        out[slot] = replace(hit, score=score) if hasattr(hit, "__dataclass_fields__") else hit
    return out


@dataclass
class ProductReranker:
    """The bot's hook: picks the product to show for a sender from its search hits."""

    profiles: Any  # anything with ``profile(sender) -> dict | None`` (the InsightsStore)
    products: dict[str, Any]
    weight_category: float = DEFAULT_WEIGHT_CATEGORY
    weight_price: float = DEFAULT_WEIGHT_PRICE
    margin: float = DEFAULT_MARGIN
    min_dense: float = 0.0  # never pick a product the retrieval itself found this unlike

    def best_product(self, sender: str, hits: list[Any], best: Any) -> Any:
        """The product hit to answer with: ``best`` unless the profile prefers another."""
        candidates = [h for h in hits if h.type == "product" and h.dense >= self.min_dense]
        if len(candidates) < 2:
            return best
        profile = self.profiles.profile(sender)
        ranked = rerank(
            candidates,
            profile,
            self.products,
            self.weight_category,
            self.weight_price,
            self.margin,
        )
        return ranked[0]
