"""Insights from the log: events, incremental profiles, demand signals, gaps, segments."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.insights.demand import daily_series, demand, demand_gaps
from bot.insights.engine import InsightsEngine, InsightsUpdater
from bot.insights.segments import segment
from bot.storage.conversations import Conversation, ConversationStore, TurnRecord
from knowledge_base.store import load_store

DAY = 86400.0
T0 = 1_760_000_000.0  # a fixed day, so the test never depends on the clock


@pytest.fixture(scope="module")
def catalog(demo_store: Path) -> list[Any]:
    return load_store(demo_store).products


@pytest.fixture(scope="module")
def encoder() -> Any:
    from knowledge_base.embeddings import get_encoder

    return get_encoder()


def _product(products: list[Any], title: str) -> Any:
    return next(p for p in products if p.title == title)


def _log(
    store: ConversationStore,
    sender: str,
    text: str,
    ts: float,
    intent: str = "product_info",
    product: Any = None,
    options: dict[str, str] | None = None,
    action: str | None = None,
) -> None:
    entities: list[dict[str, Any]] = []
    if product is not None:
        entities.append({"entity": "product", "value": product.title, "product_id": product.id})
    for name, value in (options or {}).items():
        entities.append({"entity": name, "value": value})
    turn = TurnRecord(
        sender=sender,
        user_text=text,
        intent=intent,
        confidence=0.9,
        entities=entities,
        action=action or ("action_product_search" if product else "action_abstain"),
        messages=[{"recipient_id": sender, "text": "ok"}],
    )
    turn.ts = ts
    store.save_turn(turn, Conversation(sender))


def _snapshot(engine: InsightsEngine) -> tuple[Any, ...]:
    profiles = engine.store.profiles()
    signals = engine.store.signal_counts()
    events = [{k: v for k, v in e.items() if k != "gap_vec"} for e in engine.store.events()]
    return profiles, signals, events


def _traffic(log: ConversationStore, products: list[Any]) -> None:
    rng = random.Random(3)
    shoes, laptop = _product(products, "Running Shoes"), _product(products, "Laptop")
    texts = [
        ("how much are the running shoes? I want to buy them", shoes, None),
        ("the laptop is way too expensive, any discount?", laptop, None),
        ("do you sell kayaks?", None, None),
        ("I'm looking for an inflatable kayak", None, None),
        ("do you have a camping tent", None, None),
        ("this is terrible, nobody helps me", None, None),
    ]
    for i in range(30):
        text, product, options = texts[rng.randrange(len(texts))]
        _log(log, f"cust{i % 7}", text, T0 + i * 3000, product=product, options=options)


def test_recompute_from_the_log_equals_incremental_updates(
    tmp_path: Path, catalog: list[Any], encoder: Any
) -> None:
    log = ConversationStore(tmp_path / "log.db")
    engine = InsightsEngine(tmp_path / "log.db", catalog, encoder)
    rng = random.Random(3)
    shoes = _product(catalog, "Running Shoes")
    for i in range(24):
        # Incremental: the engine runs after every few turns, as the updater does.
        _log(
            log,
            f"c{i % 5}",
            rng.choice(["do you sell kayaks?", "price of shoes?"]),
            T0 + i * 300,
            product=shoes if i % 2 else None,
        )
        if rng.random() < 0.4:
            engine.process_new()
    engine.process_new()
    incremental = _snapshot(engine)
    assert engine.recompute() == 24
    assert _snapshot(engine) == incremental
    profile = incremental[0]["c1"]
    assert profile["messages"] == 5
    assert profile["conversations"] == 1  # 25-minute gaps stay one conversation
    engine.close()
    log.close()


def test_turn_events_find_purchase_intent_objections_and_sold_out_variants(
    tmp_path: Path, catalog: list[Any], encoder: Any
) -> None:
    log = ConversationStore(tmp_path / "log.db")
    sold_out = next((p, v) for p in catalog for v in p.variants if not v.available and v.options)
    product, variant = sold_out
    _log(
        log, "a", f"is the {product.title} in stock?", T0, product=product, options=variant.options
    )
    _log(
        log,
        "a",
        "how much is the laptop, I want to buy one",
        T0 + 60,
        product=_product(catalog, "Laptop"),
    )
    _log(log, "b", "the laptop is too expensive", T0 + DAY, product=_product(catalog, "Laptop"))
    engine = InsightsEngine(tmp_path / "log.db", catalog, encoder)
    engine.process_new()
    totals = {(r["kind"], r["key"]): r["count"] for r in demand(engine.store, key_type="product")}
    laptop = _product(catalog, "Laptop").id
    assert totals[("soldout_question", product.id)] == 1
    assert totals[("purchase_intent", laptop)] == 1
    assert totals[("price_objection", laptop)] == 1
    assert totals[("mention", laptop)] == 2
    # Date ranges are inclusive and by UTC day.
    first_day = engine.store.events()[0]["day"]
    only_first = demand(engine.store, start=first_day, end=first_day, key_type="product")
    assert ("price_objection", laptop) not in {(r["kind"], r["key"]) for r in only_first}
    days, series = daily_series(engine.store, "mention", "product", laptop)
    assert len(days) == 2 and series.tolist() == [1.0, 1.0]
    engine.close()
    log.close()


def test_demand_gaps_cluster_paraphrases_and_ignore_sold_products(
    tmp_path: Path, catalog: list[Any], encoder: Any
) -> None:
    log = ConversationStore(tmp_path / "log.db")
    asks = [
        "do you sell kayaks?",
        "I'm looking for a kayak",
        "do you have inflatable kayaks",
        "any kayaks for sale?",
        "do you sell camping tents?",
        "looking for a tent for camping",
        "do you sell hiking boots?",  # in the catalog: not a gap
        "that's too expensive, any discount?",  # a price objection, not a request
    ]
    for i, text in enumerate(asks):
        _log(log, f"s{i}", text, T0 + i * 60, intent="oos")
    engine = InsightsEngine(tmp_path / "log.db", catalog, encoder)
    engine.process_new()
    gaps = demand_gaps(engine.store)
    assert [g["requests"] for g in gaps] == [4, 2]
    assert "kayak" in gaps[0]["label"] and "tent" in gaps[1]["label"]
    assert gaps[0]["customers"] == 4
    assert all("boots" not in ex for g in gaps for ex in g["examples"])
    # Forgetting a customer removes their contribution.
    engine.store.forget("s0")
    assert demand_gaps(engine.store)[0]["requests"] == 3
    engine.close()
    log.close()


def test_profiles_explain_each_field(tmp_path: Path, catalog: list[Any], encoder: Any) -> None:
    log = ConversationStore(tmp_path / "log.db")
    _traffic(log, catalog)
    engine = InsightsEngine(tmp_path / "log.db", catalog, encoder)
    engine.process_new()
    text = engine.explain_profile("cust1")
    for name in ("messages", "intents", "categories", "sentiment", "price_range", "rfm"):
        assert name in text
    assert "Running Shoes" in text or "Laptop" in text
    with pytest.raises(ValueError, match="no profile"):
        engine.explain_profile("nobody")
    engine.close()
    log.close()


def _persona_profiles() -> dict[str, dict[str, Any]]:
    """Three planted personas with noise: shoppers, order-trackers, unhappy customers."""
    from bot.insights.profiles import empty_profile

    rng = np.random.default_rng(0)
    out = {}
    for i in range(90):
        kind = i % 3
        p = empty_profile(f"u{i}")
        p["messages"] = int(rng.integers(3, 8))
        p["conversations"] = 1
        if kind == 0:
            p["intents"] = {"product_info": p["messages"]}
            p["categories"] = {"Footwear": int(rng.integers(2, 5))}
            p["purchase_intent"] = int(rng.integers(1, 3))
            p["sentiment_sum"] = 0.3 * p["messages"]
        elif kind == 1:
            p["intents"] = {"track_order": p["messages"]}
            p["sentiment_sum"] = 0.0
        else:
            p["intents"] = {"complaint": p["messages"]}
            p["handoffs"] = 1
            p["failed_answers"] = int(rng.integers(1, 3))
            p["sentiment_sum"] = -0.6 * p["messages"]
        out[p["sender"]] = p
    return out


def test_segments_recover_planted_personas_and_are_stable() -> None:
    from sklearn.metrics import adjusted_rand_score

    profiles = _persona_profiles()
    seg = segment(profiles, seed=0)
    truth = [int(s[1:]) % 3 for s in seg.senders]
    assert seg.k == 3
    assert adjusted_rand_score(truth, seg.labels) > 0.9
    again = segment(profiles, seed=0)
    assert again.labels.tolist() == seg.labels.tolist()
    assert sum(p["size"] for p in seg.personas) == 90
    assert all(p["persona"] for p in seg.personas)


async def test_background_updates_follow_real_turns(demo_bot: Any) -> None:
    engine = InsightsEngine.for_bot(demo_bot)
    updater = InsightsUpdater(engine)
    demo_bot.on_turn.append(updater.notify)
    updater.start()
    try:
        reply = await demo_bot.handle("insights-bg", "do you sell kayaks? mail me at a@b.com")
        assert reply.text
    finally:
        demo_bot.on_turn.remove(updater.notify)
        await updater.stop()
    profile = engine.store.profile("insights-bg")
    assert profile is not None and profile["messages"] == 1
    event = engine.store.events(sender="insights-bg")[0]
    assert event["gap"] and "kayak" in event["gap"]
    assert "a@b.com" not in event["gap"]
    engine.close()


async def test_the_updater_works_only_in_the_lulls_between_turns(
    tmp_path: Path, catalog: list[Any], encoder: Any
) -> None:
    import asyncio

    log = ConversationStore(tmp_path / "log.db")
    engine = InsightsEngine(tmp_path / "log.db", catalog, encoder)
    busy = {"turn_in_flight": True}
    updater = InsightsUpdater(engine, busy=lambda: busy["turn_in_flight"], batch=4)
    updater.start()
    for i in range(10):
        _log(log, "lull", "do you sell kayaks?", T0 + i * 60, intent="oos")
    updater.notify()
    await asyncio.sleep(0.3)
    assert engine.store.high_water() == 0  # a reply is being made: the updater waits
    busy["turn_in_flight"] = False
    updater.notify()
    for _ in range(600):  # bounded wait for the catch-up, in batches of 4
        if updater.processed == 10:
            break
        await asyncio.sleep(0.1)
    await updater.stop()
    assert updater.processed == 10
    assert engine.store.profile("lull")["messages"] == 10
    engine.close()
    log.close()
