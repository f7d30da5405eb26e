"""Sentence embeddings of training texts, cached on disk (``EmbeddingCache``).

Training an intent model embeds tens of thousands of texts; the cache makes a
rebuild, or a few new rows in a store's ``intents.csv``, re-encode only what changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.cache import cache_root


class EmbeddingCache:
    """Sentence embeddings on disk, keyed by (encoder name, sha256 of the text).

    They live in ``embeddings/`` under ``root`` (default: the shopbot cache root,
    ``knowledge_base.cache.cache_root()``).

    Stored as shards: ``<sha>.npy`` (vectors) + ``<sha>.keys`` (one text hash per
    line). Encoding a training set writes one shard of the texts not seen before,
    so rebuilding a store, or adding a few rows to ``intents.csv``, re-encodes only
    what changed. Shards are written to a temp file and renamed: a crash never
    leaves a half-written shard.
    """

    def __init__(self, encoder_name: str, dim: int, root: Path | None = None) -> None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder_name)
        self.dir = (root or cache_root()) / "embeddings" / f"{slug}-{dim}"
        self.dim = dim

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _index(self) -> dict[str, tuple[Path, int]]:
        index: dict[str, tuple[Path, int]] = {}
        if not self.dir.exists():
            return index
        for keys_file in sorted(self.dir.glob("*.keys")):
            npy = keys_file.with_suffix(".npy")
            if not npy.exists():
                continue
            for row, key in enumerate(keys_file.read_text().split()):
                index.setdefault(key, (npy, row))
        return index

    def encode(self, texts: Sequence[str], encoder: Any, progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` (cached ones read from disk, the rest encoded and stored)."""
        keys = [self.key(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        try:
            index = self._index()
        except OSError:  # unreadable cache: just encode
            index = {}
        by_file: dict[Path, list[tuple[int, int]]] = {}
        todo: dict[str, int] = {}  # key -> first position of a text not in the cache
        for pos, key in enumerate(keys):
            if key in index:
                npy, row = index[key]
                by_file.setdefault(npy, []).append((pos, row))
            else:
                todo.setdefault(key, pos)
        for npy, pairs in by_file.items():
            arr = np.load(npy, mmap_mode="r")
            positions, rows = zip(*pairs, strict=True)
            out[list(positions)] = arr[list(rows)]
        if todo:
            new_keys = list(todo)
            new_texts = [texts[todo[k]] for k in new_keys]
            vecs = np.asarray(encoder.encode(new_texts, progress=progress), dtype=np.float32)
            fresh = dict(zip(new_keys, range(len(new_keys)), strict=True))
            for pos, key in enumerate(keys):
                if key in fresh:
                    out[pos] = vecs[fresh[key]]
            self._write_shard(new_keys, vecs)
        return out

    def _write_shard(self, keys: list[str], vecs: np.ndarray) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
            with tempfile.NamedTemporaryFile(dir=self.dir, suffix=".tmp", delete=False) as fh:
                np.save(fh, vecs)
            os.replace(fh.name, self.dir / f"{name}.npy")
            # The keys file is written last: a shard counts only once both exist.
            tmp_keys = self.dir / f"{name}.keys.tmp"
            tmp_keys.write_text("\n".join(keys) + "\n")
            os.replace(tmp_keys, self.dir / f"{name}.keys")
        except OSError as exc:  # a read-only home must not break training
            warnings.warn(f"could not write the embedding cache in {self.dir}: {exc}", stacklevel=2)
