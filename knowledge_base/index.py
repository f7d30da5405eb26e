"""The knowledge index: dense (faiss) + lexical (BM25) search over store documents.

``build_index`` writes a plain folder::

    out_dir/
      index.json    manifest: encoder, dim, doc count, index type, built_at, ...
      faiss.index   inner-product index over L2-normalised embeddings (= cosine)
      bm25/         a bm25s index (its own save format) + lexicon.json for typo fixes
      docs.jsonl    the Document objects, in index order
      keys.npy      FAQ questions embedded alone (format 2), with keys.json: their doc rows

An FAQ is found by its question as much as by its answer: a customer who asks
"What is your return policy?" should meet the FAQ of that question at a cosine
near 1, not at the 0.5 of the question-plus-answer text. So each FAQ has a
second vector, its question alone, and an FAQ's ``Hit.dense`` is the higher of
the two cosines.

``KnowledgeIndex.load(dir, encoder)`` reads it back and ``search`` answers
queries in ``dense``, ``lexical`` or ``hybrid`` mode. Every hit carries the real
query–document cosine in ``Hit.dense`` whatever the mode, because the dialogue
policy uses it as its confidence signal.

Documents are embedded with the encoder's ``encode_documents`` and queries
(and FAQ questions, which are compared with queries) with ``encode``: the same
for MiniLM, e5's "passage: " and "query: " sides for the multilingual encoder.
The manifest names the encoder, and loading uses that one.

A Chinese store (``language = "zh"``) gets a Chinese lexical analyzer:
``knowledge_base.chinese`` normalises (full-width forms, traditional
characters, "七天" -> "7天"), segments with rjieba and adds the single
characters (where the segmentation of a store and a customer differ); ASCII words inside
Chinese text go through the English stopwords and stemmer. The manifest's
``bm25.language`` says which analyzer built the index (absent: English, as in
every index before it), and queries are analysed the same way. The lexical side
(analyzer, typo correction, BM25 scores) is ``knowledge_base.lexical``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from knowledge_base.lexical import (
    STEMMER_NAME,
    Analyzer,
    LexicalIndex,
    build_bm25,
    known_words,
    read_bm25,
)
from knowledge_base.store import Document

FORMAT_VERSION = 2
# Up to this many documents an exact (flat) index is fast enough (~1 ms per
# query) and has perfect recall; above it, HNSW keeps queries fast.
EXACT_INDEX_MAX_DOCS = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# How many candidates each retriever contributes before hybrid fusion.
FUSION_CANDIDATES = 50
# Recent queries' embeddings and lexical scores, kept per index: one turn searches
# its text more than once (the decision, the routing between catalog and knowledge,
# a policy question), and embedding it is the cost of a search.
QUERY_CACHE = 256
# Hybrid score = DENSE_WEIGHT * cosine + (1 - DENSE_WEIGHT) * lexical, where
# lexical = BM25 / the query's highest attainable BM25 (see ``LexicalIndex.scores``).
# Measured on tests/data/retrieval_queries.csv (309 queries, demo store):
#   dense alone                        r@1 .809  r@5 .974  mrr .881
#   this, weight 0.7                   r@1 .822  r@5 .981  mrr .890
#   BM25 / best BM25 of query, w 0.7   r@1 .783  r@5 .964  mrr .859
#   reciprocal-rank fusion (k=10..60)  r@1 .744  r@5 .96   mrr .84
# Dividing by the best hit's score gives a lone one-word match full marks;
# rank fusion throws away how close the scores are. Both lose to dense alone.
DENSE_WEIGHT = 0.7

MODES = ("hybrid", "dense", "lexical")


@dataclass
class Hit:
    """One search result."""

    id: str
    type: str
    title: str
    score: float  # fused score, higher = better
    dense: float  # cosine of query and document; the calibrated confidence signal
    lexical: (
        float  # BM25 / the query's highest attainable BM25: 0..1, 1 = every word matched strongly
    )
    text: str
    answer: str
    meta: dict = field(default_factory=dict)

    def source(self) -> dict[str, Any]:
        """The citation shape of the HTTP API: ``{"id", "type", "title", "score"}``."""
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "score": round(self.score, 4),
        }


# --- tokenising ------------------------------------------------------------------


def lexical_language(language: str | None) -> str:
    """The lexical analyzer for a store language: ``zh`` for any Chinese, else ``en``."""
    return "zh" if (language or "en").lower().startswith("zh") else "en"


def tokenize(text: str, language: str = "en") -> list[str]:
    """The lexical tokens of ``text`` as the index sees them (for debugging and tests)."""
    return Analyzer(STEMMER_NAME, lexical_language(language)).tokens(text)


# --- building --------------------------------------------------------------------


def build_index(
    documents: Sequence[Document],
    encoder: Any,
    out_dir: str | Path,
    progress: bool = True,
    approximate: bool | None = None,
    language: str = "en",
) -> dict[str, Any]:
    """Embed and index ``documents`` into ``out_dir``; returns the manifest.

    ``approximate`` forces the HNSW index (True) or the exact one (False);
    by default HNSW is used above ``EXACT_INDEX_MAX_DOCS`` documents.
    ``language`` (the store's) chooses the lexical analyzer (``lexical_language``).
    """
    if not documents:
        raise ValueError("nothing to index: the store has no products, FAQs or docs")
    ids = [d.id for d in documents]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    if dupes:
        raise ValueError(f"duplicate document ids: {', '.join(dupes[:5])}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    encode_documents = getattr(encoder, "encode_documents", encoder.encode)
    vectors = encode_documents([d.text for d in documents], progress=progress)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    use_hnsw = len(documents) > EXACT_INDEX_MAX_DOCS if approximate is None else approximate
    if use_hnsw:
        dense: faiss.Index = faiss.IndexHNSWFlat(
            vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT
        )
        dense.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        dense = faiss.IndexFlatIP(vectors.shape[1])
    dense.add(vectors)
    faiss.write_index(dense, str(out / "faiss.index"))
    key_rows = [i for i, d in enumerate(documents) if d.type == "faq" and d.title.strip()]
    keys = encoder.encode([documents[i].title for i in key_rows]) if key_rows else None
    np.save(out / "keys.npy", np.asarray(keys if keys is not None else [], dtype=np.float32))
    (out / "keys.json").write_text(json.dumps(key_rows), encoding="utf-8")

    bm25_info = build_bm25(documents, out / "bm25", lexical_language(language), progress)

    with (out / "docs.jsonl").open("w", encoding="utf-8") as fh:
        for d in documents:
            fh.write(json.dumps(d.to_dict(), ensure_ascii=False) + "\n")

    manifest = {
        "format": FORMAT_VERSION,
        "encoder": encoder.name,
        "dim": int(vectors.shape[1]),
        "doc_count": len(documents),
        "doc_types": dict(Counter(d.type for d in documents)),
        "index_type": "hnsw-ip" if use_hnsw else "flat-ip",
        "bm25": bm25_info,
        "fusion": {
            "method": "weighted-sum",
            "dense_weight": DENSE_WEIGHT,
            "lexical": "bm25/attainable",
        },
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    # The manifest goes last: a folder without one is an unfinished build.
    (out / "index.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


# --- searching -------------------------------------------------------------------


class KnowledgeIndex:
    """A loaded index; ``search`` is safe to call from several threads."""

    def __init__(
        self,
        documents: list[Document],
        dense: faiss.Index,
        bm25: bm25s.BM25,
        lexicon: dict[str, int],
        encoder: Any,
        manifest: dict[str, Any],
        keys: np.ndarray | None = None,
        key_rows: Sequence[int] = (),
    ) -> None:
        self.documents = documents
        # FAQ questions embedded alone: row j of ``keys`` belongs to document key_rows[j].
        self._keys = keys if keys is not None and len(key_rows) else None
        self._key_rows = np.asarray(key_rows, dtype=np.int64)
        self._key_of = {int(r): j for j, r in enumerate(key_rows)}
        self.manifest = manifest
        self.encoder = encoder
        self._dense = dense
        bm25_info = manifest.get("bm25", {})
        self._lexical = LexicalIndex(
            bm25,
            lexicon,
            bm25_info.get("stemmer"),
            lexical_language(bm25_info.get("language", "en")),
            known_words(encoder),
        )
        self._by_id = {d.id: i for i, d in enumerate(documents)}
        self.dense_weight = float(manifest.get("fusion", {}).get("dense_weight", DENSE_WEIGHT))
        self._queries: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._queries_lock = threading.Lock()

    @classmethod
    def load(cls, directory: str | Path, encoder: Any = None) -> KnowledgeIndex:
        """Read an index folder written by ``build_index``.

        Queries are embedded by the encoder that built the index (the manifest
        names it): ``encoder`` is used when it is that one, otherwise (or when
        None) that one is loaded (``knowledge_base.embeddings.get_encoder``), so
        a caller holding the English encoder still searches a Chinese store
        right. An index whose encoder is not available here is refused.
        """
        root = Path(directory)
        manifest_path = root / "index.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{root}: no index.json; build the index first (shopbot build)")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if encoder is None or manifest.get("encoder") != encoder.name:
            from knowledge_base.embeddings import get_encoder

            try:
                encoder = get_encoder(str(manifest.get("encoder")))
            except ValueError:
                encoder = encoder or get_encoder()  # for the error below
        if manifest.get("dim") != encoder.dim or manifest.get("encoder") != encoder.name:
            raise ValueError(
                f"{root}: index was built with encoder {manifest.get('encoder')!r} "
                f"(dim {manifest.get('dim')}), but the current encoder is {encoder.name!r} "
                f"(dim {encoder.dim}); rebuild it (shopbot build --force)"
            )
        with (root / "docs.jsonl").open(encoding="utf-8") as fh:
            documents = [Document.from_dict(json.loads(line)) for line in fh if line.strip()]
        dense = faiss.read_index(str(root / "faiss.index"))
        if isinstance(dense, faiss.IndexHNSWFlat):
            dense.hnsw.efSearch = max(HNSW_EF_SEARCH, FUSION_CANDIDATES)
        bm25, lexicon = read_bm25(root / "bm25")
        if not (len(documents) == dense.ntotal == manifest.get("doc_count")):
            raise ValueError(f"{root}: docs.jsonl, faiss.index and index.json disagree; rebuild it")
        keys, key_rows = None, []
        if (root / "keys.json").is_file():
            key_rows = json.loads((root / "keys.json").read_text(encoding="utf-8"))
            keys = np.load(root / "keys.npy")
            if len(key_rows) and (keys.ndim != 2 or keys.shape[0] != len(key_rows)):
                raise ValueError(f"{root}: keys.npy and keys.json disagree; rebuild it")
        return cls(documents, dense, bm25, lexicon, encoder, manifest, keys, key_rows)

    @property
    def index_type(self) -> str:
        """``flat-ip`` (exact) or ``hnsw-ip`` (approximate)."""
        return str(self.manifest.get("index_type"))

    def get(self, doc_id: str) -> Document | None:
        """The document with this id, if indexed."""
        i = self._by_id.get(doc_id)
        return None if i is None else self.documents[i]

    def query_tokens(self, query: str) -> list[str]:
        """BM25 tokens for ``query``, with words unknown to the corpus spell-corrected."""
        return self._lexical.analyse_query(query)[0]

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` best documents for ``query``; ``mode`` is hybrid, dense or lexical."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        n = len(self.documents)
        if not query.strip() or n == 0 or k <= 0:
            return []
        qvec, lexical = self._analysed(query)

        pool = min(n, max(k, FUSION_CANDIDATES))
        candidates: dict[int, float] = {}  # doc index -> cosine
        if mode in ("dense", "hybrid"):
            sims, idx = self._dense.search(qvec, pool if mode == "hybrid" else min(n, k))
            candidates.update(
                (int(i), float(s)) for i, s in zip(idx[0], sims[0], strict=True) if i >= 0
            )
        key_sims = None
        if self._keys is not None and mode in ("dense", "hybrid"):
            key_sims = self._keys @ qvec[0]
            for j in _top_indices(key_sims, pool if mode == "hybrid" else min(n, k)):
                i = int(self._key_rows[j])
                if i not in candidates:
                    candidates[i] = self._cosine(qvec[0], i)
        if mode in ("lexical", "hybrid"):
            top = _top_indices(lexical, pool if mode == "hybrid" else k)
            for i in top:
                if lexical[i] > 0 and i not in candidates:
                    candidates[int(i)] = self._cosine(qvec[0], int(i))
        if key_sims is not None:  # an FAQ matches by its question alone too
            for i in candidates:
                j = self._key_of.get(i)
                if j is not None:
                    candidates[i] = max(candidates[i], float(key_sims[j]))

        hits = []
        for i, cosine in candidates.items():
            lex = float(lexical[i])
            if mode == "dense":
                score = cosine
            elif mode == "lexical":
                score = lex
            else:
                score = self.dense_weight * cosine + (1 - self.dense_weight) * lex
            d = self.documents[i]
            hits.append(Hit(d.id, d.type, d.title, score, cosine, lex, d.text, d.answer, d.meta))
        hits.sort(key=lambda h: (-h.score, -h.dense))
        return hits[:k]

    def _analysed(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """The query's embedding and lexical scores (read-only), from the recent ones
        when it was searched a moment ago."""
        with self._queries_lock:
            known = self._queries.get(query)
            if known is not None:
                self._queries.move_to_end(query)
                return known
        qvec = self.encoder.encode([query])
        lexical = self._lexical.scores(query)
        qvec.flags.writeable = False
        lexical.flags.writeable = False
        with self._queries_lock:
            self._queries[query] = (qvec, lexical)
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return qvec, lexical

    def _cosine(self, qvec: np.ndarray, i: int) -> float:
        # Both flat and HNSW-flat indexes keep the full vectors.
        return float(np.dot(qvec, self._dense.reconstruct(i)))


def _top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


# --- evaluation --------------------------------------------------------------------


def evaluate_retrieval(
    index: KnowledgeIndex, queries: Iterable[tuple[str, str]], k: int = 5
) -> dict[str, Any]:
    """Recall@1, recall@5 and MRR (over the top ``k``) of each search mode.

    ``queries`` are ``(query, expected_id)`` pairs; an expected product id may
    be given with or without its ``product:`` prefix. The top-level
    ``recall@1``/``recall@5``/``mrr`` are the hybrid mode's (what the bot uses).
    """
    pairs = []
    unknown: list[str] = []
    for query, expected in queries:
        expected = expected.strip()
        if index.get(expected) is None and index.get(f"product:{expected}") is not None:
            expected = f"product:{expected}"
        if index.get(expected) is None:
            unknown.append(expected)
        pairs.append((query, expected))
    depth = max(k, 5)
    result: dict[str, Any] = {"queries": len(pairs), "k": k}
    for mode in MODES:
        r1 = r5 = rr = 0.0
        misses = []
        started = time.perf_counter()
        for query, expected in pairs:
            ranked = [h.id for h in index.search(query, k=depth, mode=mode)]
            rank = ranked.index(expected) + 1 if expected in ranked else None
            r1 += rank == 1
            r5 += rank is not None and rank <= 5
            rr += 1.0 / rank if rank is not None and rank <= k else 0.0
            if rank != 1:
                misses.append({"query": query, "expected": expected, "got": ranked[:3]})
        n = max(len(pairs), 1)
        result[mode] = {
            "recall@1": round(r1 / n, 4),
            "recall@5": round(r5 / n, 4),
            "mrr": round(rr / n, 4),
            "ms_per_query": round(1000 * (time.perf_counter() - started) / n, 2),
            "misses": misses,
        }
    for key in ("recall@1", "recall@5", "mrr"):
        result[key] = result["hybrid"][key]
    if unknown:
        # Counted as misses; listed so a stale queries file is easy to spot.
        result["unknown_expected_ids"] = sorted(set(unknown))
    return result
