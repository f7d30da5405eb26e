"""The onnxruntime sentence encoder: same embeddings as torch, cached export, fallback.

Every test exports into its own cache dir (``SHOPBOT_CACHE_DIR``), so the user's
cache is never touched and the export path itself is exercised.
"""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.embeddings import BACKEND_ENV, Encoder

DATA = Path(__file__).parent / "data"


def _real_sentences() -> list[str]:
    """Customer queries (typos included), Chinese, and texts beyond 256 tokens."""
    with (DATA / "retrieval_queries.csv").open(encoding="utf-8") as fh:
        queries = [row["query"] for row in csv.DictReader(fh)][::6][:30]
    long_policy = (
        "Returns are accepted within thirty days of delivery for unworn items with tags. " * 40
    )
    return queries + [
        "我的订单在哪里？",
        "这件外套有黑色的吗，多少钱",
        "wher is my oder its been 2 weeks!!!",
        "can i retrun teh shoes if they dont fit",
        long_policy,  # far beyond max_seq_length: both paths must truncate the same way
        "x " * 700,
        "?",
    ]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """A private shopbot cache dir for the module's exports."""
    path = tmp_path_factory.mktemp("shopbot-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHOPBOT_CACHE_DIR", str(path))
        mp.delenv(BACKEND_ENV, raising=False)
        yield path


@pytest.fixture(scope="module")
def onnx_encoder(cache_dir: Path) -> Encoder:
    return Encoder(backend="onnx")


@pytest.fixture(scope="module")
def torch_encoder(cache_dir: Path) -> Encoder:
    return Encoder(backend="torch")


def test_onnx_embeddings_match_torch_one_at_a_time_and_in_batches(
    onnx_encoder: Encoder, torch_encoder: Encoder
) -> None:
    assert onnx_encoder.backend == "onnx" and torch_encoder.backend == "torch"
    texts = _real_sentences()
    ref = torch_encoder.encode(texts, batch_size=8)
    batched = onnx_encoder.encode(texts, batch_size=8)
    single = np.vstack([onnx_encoder.encode([t]) for t in texts])
    assert batched.shape == ref.shape == (len(texts), onnx_encoder.dim)
    assert batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(ref * batched, axis=1)) > 0.9999
    assert np.min(np.sum(ref * single, axis=1)) > 0.9999


def test_export_is_cached_and_reused(onnx_encoder: Encoder, cache_dir: Path) -> None:
    exported = onnx_encoder.onnx.path
    assert exported.is_relative_to(cache_dir) and exported.name == "model.onnx"
    assert (exported.parent / "manifest.json").is_file()
    assert (exported.parent / "verified.json").is_file()  # checked against torch once
    before = exported.stat()
    again = Encoder(backend="onnx")
    assert again.onnx.path == exported
    after = exported.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_corrupt_cached_export_is_rebuilt(
    onnx_encoder: Encoder, torch_encoder: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    exported = onnx_encoder.onnx.path
    size = exported.stat().st_size
    with exported.open("r+b") as fh:  # a half-written file, as after a full disk
        fh.truncate(size // 2)
    with caplog.at_level(logging.WARNING, logger="shopbot.embeddings"):
        rebuilt = Encoder(backend="onnx")
    assert "re-exporting" in caplog.text
    assert rebuilt.backend == "onnx" and exported.stat().st_size == size
    text = ["do you ship to canada"]
    assert float(rebuilt.encode(text)[0] @ torch_encoder.encode(text)[0]) > 0.9999


def test_backend_env_forces_torch_and_rejects_unknown_values(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BACKEND_ENV, "torch")
    enc = Encoder()
    assert enc.backend == "torch" and enc.onnx is None
    monkeypatch.setenv(BACKEND_ENV, "tensorrt")
    with pytest.raises(ValueError, match="torch"):
        Encoder()


def test_missing_onnxruntime_falls_back_to_torch_with_a_logged_reason(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # None in sys.modules makes ``import onnxruntime`` raise ImportError, as on a
    # machine where the package is not installed.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with caplog.at_level(logging.WARNING, logger="shopbot.embeddings"):
        enc = Encoder()
    assert enc.backend == "torch" and "onnxruntime" in enc.backend_reason
    assert "runs on torch" in caplog.text
    assert enc.encode(["hello"]).shape == (1, enc.dim)
    with pytest.raises(RuntimeError, match="onnx encoder backend is not available"):
        Encoder(backend="onnx")
