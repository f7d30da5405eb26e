"""Personalised product search: the profile re-orders product hits, and only those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.insights.personalise import (
    DEFAULT_MARGIN,
    DEFAULT_WEIGHT_CATEGORY,
    ProductReranker,
    profile_bonus,
    rerank,
)
from bot.insights.profiles import empty_profile
from bot.storage.insights import InsightsStore

QUERY = "do you have anything in black?"


def _profile(category: str, price_max: float | None = None) -> dict[str, Any]:
    p = empty_profile("shopper")
    p["messages"] = 4
    p["categories"] = {category: 4}
    p["price_max"] = price_max
    return p


def _products(bot: Any) -> dict[str, Any]:
    return {p.id: p for p in bot.store.products}


def _category(bot: Any, hit: Any) -> str:
    return _products(bot)[str(hit.meta["product_id"])].category


def test_profile_interest_moves_a_near_tie_product_first(demo_bot: Any) -> None:
    hits = demo_bot.index.search(QUERY, 20)
    product_hits = [h for h in hits if h.type == "product"]
    top = product_hits[0]
    # A product of another category, retrieved nearly as well as the top one.
    rival = next(
        h
        for h in product_hits[1:]
        if _category(demo_bot, h) != _category(demo_bot, top)
        and h.dense >= top.dense - DEFAULT_MARGIN
        and top.score - h.score < DEFAULT_WEIGHT_CATEGORY
    )
    profile = _profile(_category(demo_bot, rival))
    ranked = rerank(hits, profile, _products(demo_bot))
    ranked_products = [h for h in ranked if h.type == "product"]
    assert _category(demo_bot, ranked_products[0]) == _category(demo_bot, rival)
    # FAQ and policy passages keep their places; nothing is lost or duplicated.
    assert [i for i, h in enumerate(ranked) if h.type != "product"] == [
        i for i, h in enumerate(hits) if h.type != "product"
    ]
    assert sorted(h.id for h in ranked) == sorted(h.id for h in hits)
    # No profile: the search order stands.
    assert [h.id for h in rerank(hits, None, _products(demo_bot))] == [h.id for h in hits]


def test_a_clear_match_is_not_overridden_by_the_profile(demo_bot: Any) -> None:
    hits = demo_bot.index.search(QUERY, 40)
    product_hits = [h for h in hits if h.type == "product"]
    top = product_hits[0]
    far = next(h for h in product_hits if h.dense < top.dense - DEFAULT_MARGIN)
    profile = _profile(_category(demo_bot, far))
    ranked = [h for h in rerank(hits, profile, _products(demo_bot)) if h.type == "product"]
    assert ranked[0].id != far.id
    # Without the margin the profile may pull it up: the margin is what protects a clear match.
    loose = rerank(hits, profile, _products(demo_bot), margin=None)
    assert [h.id for h in loose if h.type == "product"].index(far.id) < [
        h.id for h in product_hits
    ].index(far.id)


def test_price_fit_favours_products_within_the_asked_budget(demo_bot: Any) -> None:
    products = sorted(demo_bot.store.products, key=lambda p: p.price)
    cheap, dear = products[0], products[-1]
    profile = _profile("none", price_max=cheap.price * 1.5)
    assert profile_bonus(profile, cheap) > profile_bonus(profile, dear) == 0.0
    assert profile_bonus(None, cheap) == 0.0


def test_the_bot_reranker_reads_the_customers_stored_profile(demo_bot: Any, tmp_path: Path) -> None:
    hits = demo_bot.index.search(QUERY, 20)
    product_hits = [h for h in hits if h.type == "product"]
    top = product_hits[0]
    rival = next(
        h
        for h in product_hits[1:]
        if _category(demo_bot, h) != _category(demo_bot, top)
        and h.dense >= top.dense - DEFAULT_MARGIN
        and top.score - h.score < DEFAULT_WEIGHT_CATEGORY
    )
    profiles = InsightsStore(tmp_path / "log.db")
    event = {"turn_id": "t1", "sender": "fan", "ts": 1_760_000_000.0, "day": "2025-10-09"}
    profiles.apply(1, event, [], _profile(_category(demo_bot, rival)), None)
    reranker = ProductReranker(profiles, _products(demo_bot))
    assert reranker.best_product("stranger", hits, top) is top
    chosen = reranker.best_product("fan", hits, top)
    assert _category(demo_bot, chosen) == _category(demo_bot, rival)
    profiles.close()
