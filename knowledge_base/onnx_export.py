"""The MiniLM encoder's ONNX export: exported once, checked against torch, cached, run.

The transformer, mean pooling and L2 normalisation are exported with
``torch.onnx.export`` to ``<cache>/encoders/<model>-<sha16>-v<N>/model.onnx``
(keyed by the SHA-256 of the model folder's files) and run by onnxruntime.
Tokenisation stays the sentence-transformers model's own (``tokenize``), so
truncation at ``max_seq_length`` is the same. An export is used only once it
reproduces the torch embeddings on ``PROBE_TEXTS``; ``knowledge_base.embeddings.Encoder``
falls back to torch when it does not.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.cache import cache_root, memoised

log = logging.getLogger("shopbot.embeddings")  # the encoder's logger: exports are its story

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
    feats = tokenize(model, ["a short example", "a somewhat longer example sentence to pad"])
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


def tokenize(model: Any, texts: list[str]) -> dict[str, np.ndarray]:
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


def export_dir(name: str, model_path: Path) -> Path:
    """The cache folder of a model's export (keyed by the model files' hash)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    sha = model_files_sha256(model_path)
    return cache_root() / "encoders" / f"{slug}-{sha[:16]}-v{ONNX_EXPORT_VERSION}"


def load_onnx(
    model: Any, name: str, model_path: Path, reference: Callable[[list[str]], np.ndarray]
) -> OnnxSentenceModel:
    """The cached export if it reproduces torch, else a fresh export (then cached).

    ``model`` is the loaded sentence-transformers model called ``name`` (from
    ``model_path``); ``reference`` embeds texts with it on torch. Raises
    (ImportError without onnxruntime, RuntimeError for a pipeline that cannot be
    exported or an export that differs from torch) when there is no good export.
    """
    import onnxruntime  # noqa: F401  - ImportError here is the usual fallback reason

    folder = export_dir(name, model_path)
    target = folder / "model.onnx"
    if target.is_file():
        try:
            loaded = OnnxSentenceModel(target)
            # Checked against torch once per file (size, mtime) and runtime
            # versions, not at every start: a truncated or replaced file has a
            # new key and is checked again.
            memoised(
                folder / VERIFIED_MEMO,
                _verify_key(target),
                lambda: _verify(loaded, model, reference),
            )
            return loaded
        except Exception as exc:
            log.warning("Cached encoder export %s is unusable (%s); re-exporting", target, exc)
            target.unlink(missing_ok=True)
    # The cache folder is keyed by the model files' hash: only a new export
    # needs the pipeline checked.
    _check_pipeline(model)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".model-", suffix=".onnx", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _export_onnx(model, tmp)
        exported = OnnxSentenceModel(tmp)
        verified = _verify(exported, model, reference)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is a plain user cache
        # Renamed only once verified: a crash mid-export never leaves a file that
        # a later start would take for a good one.
        os.replace(tmp, target)
        exported.path = target  # the session is in memory; the rename keeps size and mtime
        memoised(folder / VERIFIED_MEMO, _verify_key(target), lambda: verified)
    finally:
        tmp.unlink(missing_ok=True)
    manifest = {
        "source": str(model_path),
        "model_sha256": model_files_sha256(model_path),
        "export_version": ONNX_EXPORT_VERSION,
        "opset": ONNX_OPSET,
        "max_seq_length": int(model.max_seq_length),
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


def _verify_key(path: Path) -> str:
    import onnxruntime
    import torch

    st = path.stat()
    return (
        f"{path.name}|{st.st_size}|{st.st_mtime_ns}|"
        f"onnxruntime {onnxruntime.__version__}|torch {torch.__version__}"
    )


def _verify(
    onnx_model: OnnxSentenceModel, model: Any, reference: Callable[[list[str]], np.ndarray]
) -> str:
    """Raise unless the onnx graph reproduces torch on the probe texts; the cosine."""
    ref = reference(PROBE_TEXTS)
    got = onnx_model.run(tokenize(model, PROBE_TEXTS))
    cos = float(np.min(np.sum(ref * got, axis=1)))
    if not np.isfinite(cos) or cos < MIN_PROBE_COSINE:
        raise RuntimeError(f"onnx embeddings differ from torch (cosine {cos:.6f})")
    return f"cosine {cos:.7f}"
