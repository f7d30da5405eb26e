"""Building, saving, loading and searching the knowledge index with the real encoder."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.embeddings import Encoder, get_encoder
from knowledge_base.index import KnowledgeIndex, build_index, evaluate_retrieval, tokenize
from knowledge_base.store import Document, load_store

PRODUCTS = [
    {
        "id": "HP-1",
        "title": "Wireless Noise-Cancelling Headphones",
        "price": 149,
        "category": "Audio",
        "description": "Over-ear headphones with 30 hours of battery.",
        "variants": [
            {"id": "HP-1-B", "options": {"color": "black"}, "available": True},
            {"id": "HP-1-W", "options": {"color": "white"}, "price": 159, "available": False},
        ],
    },
    {
        "id": "YM-2",
        "title": "Cork Yoga Mat",
        "price": 45,
        "category": "Fitness",
        "description": "Non-slip natural cork mat, 4 mm thick.",
    },
    {
        "id": "KB-3",
        "title": "Stainless Steel Kettle",
        "price": 39.9,
        "category": "Kitchen",
        "description": "1.7 litre electric kettle with auto shut-off.",
    },
    {
        "id": "TS-4",
        "title": "Organic Cotton T-Shirt",
        "price": 19,
        "category": "Apparel",
        "attributes": {"material": "organic cotton"},
    },
]
FAQS = [
    {
        "id": "faq-returns",
        "question": "How do I return an item?",
        "answer": "Start a return in your account within 30 days; print the prepaid label and drop the parcel off.",
    },
    {
        "id": "faq-shipping-time",
        "question": "How long does delivery take?",
        "answer": "Standard delivery takes 3 to 5 business days.",
    },
    {
        "id": "faq-payment",
        "question": "Which payment methods do you accept?",
        "answer": "Visa, Mastercard, PayPal and gift cards.",
    },
    {
        "id": "faq-cancel",
        "question": "Can I cancel my order?",
        "answer": "Orders can be cancelled until they ship.",
    },
]
RETURNS_MD = """# Returns policy

## Refund timing

Refunds reach your card 5 to 7 business days after we receive the parcel.

## Damaged items

Send us a photo of the damage and we replace the item free of charge.
"""


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return get_encoder()


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    root = tmp_path_factory.mktemp("store")
    (root / "products.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PRODUCTS))
    (root / "faq.jsonl").write_text("".join(json.dumps(f) + "\n" for f in FAQS))
    (root / "docs").mkdir()
    (root / "docs" / "returns.md").write_text(RETURNS_MD)
    return load_store(root).documents()


@pytest.fixture(scope="module")
def index_dir(
    documents: list[Document], encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("index")
    build_index(documents, encoder, out, progress=False)
    return out


@pytest.fixture(scope="module")
def index(index_dir: Path, encoder: Encoder) -> KnowledgeIndex:
    return KnowledgeIndex.load(index_dir, encoder)


def top_id(index: KnowledgeIndex, query: str, mode: str = "hybrid") -> str | None:
    hits = index.search(query, k=3, mode=mode)
    return hits[0].id if hits else None


def test_build_writes_a_folder_with_a_manifest(index_dir: Path, documents: list[Document]) -> None:
    manifest = json.loads((index_dir / "index.json").read_text())
    assert manifest["encoder"] == "all-MiniLM-L6-v2"
    assert manifest["dim"] == 384
    assert manifest["doc_count"] == len(documents)
    assert manifest["index_type"] == "flat-ip"
    assert manifest["built_at"]
    assert (index_dir / "faiss.index").is_file()
    assert (index_dir / "bm25" / "params.index.json").is_file()
    assert len((index_dir / "docs.jsonl").read_text().splitlines()) == len(documents)


def test_load_round_trips_the_documents(index: KnowledgeIndex, documents: list[Document]) -> None:
    assert index.documents == documents
    assert index.get("product:HP-1") == documents[[d.id for d in documents].index("product:HP-1")]
    assert index.get("nope") is None


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_returns_faq_found_for_a_paraphrase(index: KnowledgeIndex, mode: str) -> None:
    assert top_id(index, "how do i send something back", mode) == "faq-returns"


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_product_found_by_title_with_a_typo(index: KnowledgeIndex, mode: str) -> None:
    assert top_id(index, "wireles headphnes", mode) == "product:HP-1"
    assert top_id(index, "stainles stel kettel", mode) == "product:KB-3"


def test_typos_are_fixed_but_real_words_are_left_alone(index: KnowledgeIndex) -> None:
    assert index.query_tokens("retrun the headphnes") == ["return", "headphon"]
    # "back" is a real word the corpus lacks; it must not become "black".
    assert "black" not in index.query_tokens("send it back")


def test_lexical_mode_matches_words_and_stems(index: KnowledgeIndex) -> None:
    assert tokenize("Refunds, refunded!") == ["refund", "refund"]
    assert top_id(index, "refunds", "lexical") == "doc:returns#refund-timing"
    assert index.search("zzzz qqqq", mode="lexical") == []  # no shared word, no hit


def test_dense_mode_finds_meaning_without_shared_words(index: KnowledgeIndex) -> None:
    assert top_id(index, "something to boil water", "dense") == "product:KB-3"
    assert top_id(index, "the parcel arrived broken", "dense") == "doc:returns#damaged-items"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_hit_carries_the_real_cosine(
    index: KnowledgeIndex, encoder: Encoder, mode: str
) -> None:
    query = "cork mat for yoga"
    hits = index.search(query, k=3, mode=mode)
    assert hits and hits[0].id == "product:YM-2"
    qvec = encoder.encode([query])[0]
    for hit in hits:
        expected = float(qvec @ encoder.encode([index.get(hit.id).text])[0])
        assert hit.dense == pytest.approx(expected, abs=1e-4)
        assert 0.0 <= hit.lexical <= 1.0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hit_source_has_the_citation_fields(index: KnowledgeIndex) -> None:
    hit = index.search("how long does delivery take", k=1)[0]
    assert hit.source() == {
        "id": "faq-shipping-time",
        "type": "faq",
        "title": "How long does delivery take?",
        "score": round(hit.score, 4),
    }
    assert hit.answer == "Standard delivery takes 3 to 5 business days."


class _CountingEncoder:
    """The real encoder, counting the texts it embeds."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, []

    def encode(self, texts: list[str]):
        self.texts += list(texts)
        return self.inner.encode(texts)


def test_a_question_searched_again_in_the_same_turn_is_not_embedded_again(
    index_dir: Path, encoder: Encoder
) -> None:
    counting = _CountingEncoder(encoder)
    index = KnowledgeIndex.load(index_dir, encoder)
    index.encoder = counting
    first = index.search("how long is the return window?", k=5)
    deeper = index.search("how long is the return window?", k=8)
    dense = index.search("how long is the return window?", k=5, mode="dense")
    assert counting.texts == ["how long is the return window?"]
    # The same hits, whatever the depth or mode asked of the remembered query.
    assert [(h.id, h.dense, h.lexical) for h in deeper[:5]] == [
        (h.id, h.dense, h.lexical) for h in first
    ]
    assert dense[0].id == index.search("how long is the return window?", 5, "dense")[0].id
    index.search("do you sell kettles?", k=5)
    assert counting.texts[-1] == "do you sell kettles?" and len(counting.texts) == 2


def test_unknown_mode_and_empty_query(index: KnowledgeIndex) -> None:
    with pytest.raises(ValueError, match="mode"):
        index.search("kettle", mode="fuzzy")
    assert index.search("   ") == []


def test_approximate_index_is_used_when_forced(
    documents: list[Document], encoder: Encoder, index: KnowledgeIndex, tmp_path: Path
) -> None:
    manifest = build_index(documents, encoder, tmp_path, progress=False, approximate=True)
    approx = KnowledgeIndex.load(tmp_path, encoder)

    assert manifest["index_type"] == approx.index_type == "hnsw-ip"
    for query in ("how do i send something back", "electric kettle", "pay with paypal"):
        exact = [(h.id, round(h.dense, 4)) for h in index.search(query, k=3, mode="dense")]
        assert [(h.id, round(h.dense, 4)) for h in approx.search(query, k=3, mode="dense")] == exact


def test_index_from_another_encoder_is_refused(
    index_dir: Path, encoder: Encoder, tmp_path: Path
) -> None:
    manifest = json.loads((index_dir / "index.json").read_text())
    (tmp_path / "index.json").write_text(json.dumps({**manifest, "encoder": "other-model"}))
    with pytest.raises(ValueError, match="rebuild"):
        KnowledgeIndex.load(tmp_path, encoder)


def test_search_is_safe_from_worker_threads(index: KnowledgeIndex) -> None:
    queries = ["kettle", "yoga mat", "refund timing", "cancel my order"] * 4
    expected = [top_id(index, q) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda q: top_id(index, q), queries)) == expected


def test_evaluate_retrieval_scores_every_mode(index: KnowledgeIndex) -> None:
    queries = [
        ("how do i send something back", "faq-returns"),
        ("when will my refund arrive", "doc:returns#refund-timing"),
        ("yoga mat", "YM-2"),  # a bare product id is accepted
        ("gift card payment", "faq-payment"),
    ]
    result = evaluate_retrieval(index, queries, k=5)

    assert result["queries"] == 4
    for mode in ("dense", "lexical", "hybrid"):
        scores = result[mode]
        assert 0.0 <= scores["recall@1"] <= scores["recall@5"] <= 1.0
        assert scores["recall@1"] <= scores["mrr"] <= scores["recall@5"]
    assert result["recall@1"] == result["hybrid"]["recall@1"]
    assert result["hybrid"]["recall@5"] == 1.0
    assert "unknown_expected_ids" not in result
    assert np.isclose(evaluate_retrieval(index, [("kettle", "missing")])["mrr"], 0.0)
