"""The intent classifier on small real slices of the shipped data, with the real encoder."""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.intent_model import group_support, knn_similarity, knn_top_intents, lexical_vectorizer
from knowledge_base.embeddings import get_encoder
from training.embedding_cache import EmbeddingCache
from training.intent_data import BUILTIN_DATA_DIR, builtin_training_data, read_intents_csv
from training.intent_eval import evaluate_intents
from training.intents import IntentClassifier, LexicalHead

INTENTS = [
    "track_order",
    "cancel_order",
    "get_refund",
    "contact_human_agent",
    "check_payment_methods",
    "delivery_period",
]
PER_INTENT = 25  # cancel_order has only 36 Bitext rows: 25 train + 10 test


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep the tests' embedding cache out of the user's ~/.cache."""
    root = tmp_path_factory.mktemp("cache")
    old = os.environ.get("SHOPBOT_CACHE_DIR")
    os.environ["SHOPBOT_CACHE_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("SHOPBOT_CACHE_DIR", None)
    else:
        os.environ["SHOPBOT_CACHE_DIR"] = old


def _slice() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """25 training + 10 held-out rows per intent, and 80 + 20 oos rows, seeded."""
    rng = random.Random(0)
    bitext = read_intents_csv(BUILTIN_DATA_DIR / "bitext_intents.csv")
    oos = read_intents_csv(BUILTIN_DATA_DIR / "oos.csv")
    train, test = [], []
    for intent in INTENTS:
        rows = rng.sample([r for r in bitext if r[1] == intent], PER_INTENT + 10)
        train += rows[:PER_INTENT]
        test += rows[PER_INTENT:]
    picked = rng.sample(oos, 100)
    return train + picked[:80], test + picked[80:]


@pytest.fixture(scope="module")
def rows(cache_root: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return _slice()


@pytest.fixture(scope="module")
def classifier(rows: tuple[list, list]) -> IntentClassifier:
    train, _ = rows
    return IntentClassifier.train(
        [t for t, _ in train], [i for _, i in train], get_encoder(), progress=False
    )


def test_known_utterances_get_their_intent(classifier: IntentClassifier) -> None:
    cases = {
        "where is my package? I want to track my order": "track_order",
        "I want to cancel my order": "cancel_order",
        "let me talk to a human agent please": "contact_human_agent",
        "which payment methods do you accept?": "check_payment_methods",
    }
    got = {text: classifier.predict([text])[0][0][0] for text in cases}
    assert got == cases


def test_off_topic_sentence_is_oos(classifier: IntentClassifier) -> None:
    ranking = classifier.predict(["what will the weather be like in Paris tomorrow?"])[0]
    assert ranking[0][0] == "oos"


def test_ranking_is_sorted_and_short(classifier: IntentClassifier) -> None:
    rankings = classifier.predict(["I need a refund for my purchase", "tell me a joke"])
    assert len(rankings) == 2
    for ranking in rankings:
        assert 1 <= len(ranking) <= 10
        assert all(isinstance(n, str) and 0.0 <= c <= 1.0 for n, c in ranking)
        # Below the top entry the in-scope intents are in descending order.
        rest = [c for _, c in ranking[1:]]
        assert rest == sorted(rest, reverse=True)
    assert classifier.predict([]) == []


def test_threshold_is_chosen_on_validation_and_in_manifest(classifier: IntentClassifier) -> None:
    m = classifier.manifest
    assert 0.0 < classifier.threshold < 1.0
    assert m["threshold"] == pytest.approx(classifier.threshold, abs=1e-6)
    assert m["validation"]["examples"] > 0
    assert m["validation"]["oos_recall"] is not None
    assert m["encoder"] == get_encoder().name
    assert m["counts"]["track_order"] == PER_INTENT
    assert m["seed"] == 0 and m["train_seconds"] > 0


def test_save_load_round_trip_gives_identical_predictions(
    classifier: IntentClassifier, rows: tuple[list, list], tmp_path: Path
) -> None:
    classifier.save(tmp_path / "intents")
    manifest = json.loads((tmp_path / "intents" / "intent_model.json").read_text())
    assert manifest["threshold"] == classifier.threshold
    loaded = IntentClassifier.load(tmp_path / "intents", get_encoder())
    texts = [t for t, _ in rows[1][:40]]
    assert loaded.predict(texts) == classifier.predict(texts)


def test_knn_over_the_top_intents_finds_the_nearest_row_of_those_intents() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.arange(60) % 4  # intent 3 plays oos: never in the support
    support, offsets = group_support(x, y, 4, oos_index=3)
    assert offsets.tolist() == [0, 15, 30, 45, 45]
    queries = rng.normal(size=(10, 8)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    probs = rng.dirichlet(np.ones(4), size=10).astype(np.float32)
    # With every in-scope intent allowed it is the plain nearest neighbour ...
    everything = knn_top_intents(queries, probs, support, offsets, oos_index=3, k=10)
    assert np.allclose(everything, knn_similarity(queries, x[y != 3]))
    # ... with one, the nearest row of the most probable in-scope intent.
    one = knn_top_intents(queries, probs, support, offsets, oos_index=3, k=1)
    for q, p, got in zip(queries, probs, one, strict=True):
        best = int(np.argmax(p[:3]))
        assert got == pytest.approx(float((x[y == best] @ q).max()), abs=1e-6)


def test_a_format_2_model_without_grouped_support_still_predicts(
    classifier: IntentClassifier, rows: tuple[list, list], tmp_path: Path
) -> None:
    classifier.save(tmp_path / "intents")
    with np.load(tmp_path / "intents" / "head.npz") as head:
        arrays = {k: head[k] for k in head.files if k != "support_offsets"}
    np.savez(tmp_path / "intents" / "head.npz", **arrays)
    old = IntentClassifier.load(tmp_path / "intents", get_encoder())
    assert old.support_offsets is None and old.support is not None
    texts = [t for t, _ in rows[1][:20]]
    assert [r[0][0] for r in old.predict(texts)] == [r[0][0] for r in classifier.predict(texts)]


def test_lexical_head_features_are_exactly_scikit_learns_tfidf(rows: tuple[list, list]) -> None:
    from scipy.sparse import hstack

    train, test = rows
    texts = [t for t, _ in train]
    labels = sorted({i for _, i in train})
    y = np.array([labels.index(i) for _, i in train])
    head = LexicalHead.fit(texts, y, len(labels), seed=0)
    words, chars = lexical_vectorizer("word"), lexical_vectorizer("char")
    words.fit(texts), chars.fit(texts)
    probe = [t for t, _ in test[:30]] + ["cancle my ordr pls", "", "¿dónde está mi pedido?"]
    expected = hstack([words.transform(probe), chars.transform(probe)]).toarray()
    assert np.allclose(head.features(probe).toarray(), expected, atol=1e-6)
    probs = head.probs(probe)
    assert probs.shape == (len(probe), len(labels)) and np.allclose(probs.sum(axis=1), 1.0)


def test_saved_model_keeps_the_lexical_head(classifier: IntentClassifier, tmp_path: Path) -> None:
    assert classifier.lexical is not None
    assert classifier.manifest["lexical_head"]["features"] == classifier.lexical.n_features
    classifier.save(tmp_path / "intents")
    loaded = IntentClassifier.load(tmp_path / "intents", get_encoder())
    assert loaded.lexical is not None
    assert loaded.lexical.word_terms == classifier.lexical.word_terms
    assert np.array_equal(loaded.lexical.coef, classifier.lexical.coef)


def test_training_is_deterministic(classifier: IntentClassifier, rows: tuple[list, list]) -> None:
    train, _ = rows
    again = IntentClassifier.train(
        [t for t, _ in train], [i for _, i in train], get_encoder(), progress=False
    )
    assert np.array_equal(again.coef, classifier.coef)
    assert again.threshold == classifier.threshold


def test_embedding_cache_serves_repeated_texts_without_encoding(cache_root: Path) -> None:
    class CountingEncoder:
        """The real encoder, counting the texts it is asked to embed."""

        def __init__(self) -> None:
            self.inner = get_encoder()
            self.name, self.dim, self.texts = self.inner.name, self.inner.dim, 0

        def encode(self, texts: list[str], **kw: object) -> np.ndarray:
            self.texts += len(texts)
            return self.inner.encode(texts)

    enc = CountingEncoder()
    cache = EmbeddingCache(enc.name, enc.dim, root=cache_root / "own")
    first = cache.encode(["a unique sentence 1", "a unique sentence 2"], enc)
    second = cache.encode(["a unique sentence 2", "a unique sentence 1", "new one"], enc)
    assert enc.texts == 3  # two, then only the new one
    assert np.allclose(second[0], first[1]) and np.allclose(second[1], first[0])


def test_load_without_a_model_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="shopbot build"):
        IntentClassifier.load(tmp_path, get_encoder())


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_without_intent_column_is_a_clear_error(tmp_path: Path) -> None:
    bad = _write(tmp_path / "intents.csv", ["text", "label"], [["hi", "greet"]])
    with pytest.raises(ValueError, match=r"intents\.csv.*intent"):
        builtin_training_data(bad)


def test_csv_empty_cell_names_the_line(tmp_path: Path) -> None:
    bad = _write(tmp_path / "intents.csv", ["text", "intent"], [["hi", "greet"], ["", "greet"]])
    with pytest.raises(ValueError, match="line 3"):
        read_intents_csv(bad)


def test_store_intents_add_to_the_builtin_data(tmp_path: Path) -> None:
    base_texts, base_labels = builtin_training_data(None)
    extra = _write(
        tmp_path / "intents.csv",
        ["text", "intent"],
        [["do you price match?", "price_match"], ["where's my stuff", "track_order"]],
    )
    texts, labels = builtin_training_data(extra)
    assert len(texts) == len(base_texts) + 2
    assert labels.count("track_order") == base_labels.count("track_order") + 1
    assert "price_match" in labels and "oos" in labels and "greet" in labels


def test_evaluate_intents_reports_metrics_and_files(
    rows: tuple[list, list], tmp_path: Path
) -> None:
    train, test = rows
    test = test + [("is this a new intent", "never_trained")]
    result = evaluate_intents(train, test, get_encoder(), report_dir=tmp_path, progress=False)
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["in_scope_accuracy"] > 0.8
    assert result["train_seconds"] > 0 and result["predict_ms_p50"] > 0
    assert any("never_trained" in w for w in result["warnings"])
    report = json.loads((tmp_path / "intent_report.json").read_text())
    assert report["per_intent"]["track_order"]["support"] == 10
    assert isinstance(json.loads((tmp_path / "errors.json").read_text()), list)
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000


def test_evaluate_intents_rejects_an_empty_test_set(rows: tuple[list, list]) -> None:
    with pytest.raises(ValueError, match="test set is empty"):
        evaluate_intents(rows[0], [], get_encoder(), progress=False)


def test_texts_without_a_lexical_vocabulary_train_the_embedding_head_alone() -> None:
    # Single characters give the word vectoriser nothing (its tokens are 2+ chars)
    # and the character one nothing seen twice: no lexical head, no crash.
    texts = ["a", "b", "c", "d", "e", "f", "g", "h"]
    labels = ["x", "x", "x", "x", "y", "y", "y", "y"]
    with pytest.warns(UserWarning, match="without its lexical head"):
        clf = IntentClassifier.train(texts, labels, get_encoder(), progress=False)
    assert clf.lexical is None and clf.manifest["lexical_head"] is None
    assert clf.predict(["a"])[0][0][0] in ("x", "y")
