"""NLU.parse: the Rasa-style parse built from a real (small) intent model and entities."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from bot.nlu.parser import NLU
from knowledge_base.embeddings import get_encoder
from knowledge_base.store import load_store
from tests.conftest import DEMO_STORE
from training.intent_data import BUILTIN_DATA_DIR, read_intents_csv
from training.intents import IntentClassifier


@pytest.fixture(scope="module")
def nlu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NLU]:
    old = os.environ.get("SHOPBOT_CACHE_DIR")
    os.environ["SHOPBOT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    rng = random.Random(0)
    rows = []
    for name in ("bitext_intents.csv", "oos.csv"):
        data = read_intents_csv(BUILTIN_DATA_DIR / name)
        for intent in ("track_order", "cancel_order", "contact_human_agent", "oos"):
            matching = [r for r in data if r[1] == intent]
            rows += rng.sample(matching, min(30, len(matching)))
    clf = IntentClassifier.train(
        [t for t, _ in rows], [i for _, i in rows], get_encoder(), progress=False
    )
    catalog = [p for p in load_store(DEMO_STORE).products if p.title == "T-Shirt"]
    yield NLU(clf, catalog)
    if old is None:
        os.environ.pop("SHOPBOT_CACHE_DIR", None)
    else:
        os.environ["SHOPBOT_CACHE_DIR"] = old


def test_parse_has_the_rasa_shape(nlu: NLU) -> None:
    parse = nlu.parse("I want to cancel order #W2611340")
    assert set(parse) == {"text", "intent", "intent_ranking", "entities"}
    assert parse["text"] == "I want to cancel order #W2611340"
    assert parse["intent"]["name"] == "cancel_order"
    assert parse["intent_ranking"][0] == parse["intent"]
    assert all(set(r) == {"name", "confidence"} for r in parse["intent_ranking"])
    assert [(e["entity"], e["value"]) for e in parse["entities"]] == [("order_id", "#W2611340")]


def test_off_topic_message_is_intent_oos(nlu: NLU) -> None:
    assert nlu.parse("can you recommend a good pasta recipe?")["intent"]["name"] == "oos"


def test_catalog_entities_come_through(nlu: NLU) -> None:
    entities = nlu.parse("where is my blue t-shirt")["entities"]
    assert {(e["entity"], e["value"]) for e in entities} == {
        ("product", "T-Shirt"),
        ("color", "blue"),
    }


def test_bare_order_id_keeps_the_model_intent(nlu: NLU) -> None:
    # NLU reports; the dialogue policy decides what a lone order id means.
    parse = nlu.parse("#W2611340")
    assert parse["entities"][0]["value"] == "#W2611340"
    assert parse["intent"]["name"] == parse["intent_ranking"][0]["name"]


def test_empty_message_is_oos_without_entities(nlu: NLU) -> None:
    assert nlu.parse("   ") == {
        "text": "   ",
        "intent": {"name": "oos", "confidence": 1.0},
        "intent_ranking": [{"name": "oos", "confidence": 1.0}],
        "entities": [],
    }
