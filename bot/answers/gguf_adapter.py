"""A peft LoRA adapter converted to a llama.cpp GGUF adapter, cached beside it.

The llama-cpp backend runs the base model from its GGUF file and applies the
same LoRA adapter the transformers backend merges, converted once into
``ADAPTER/adapter.gguf`` (or, for a read-only adapter folder, into the shopbot
cache). A small sidecar ``adapter.gguf.json`` records the SHA-256 of the peft
files and of the base GGUF it was made for; the GGUF is re-made when either
changes, so retraining an adapter in place never serves a stale conversion.

The format follows llama.cpp's ``convert_lora_to_gguf.py`` and the checks in
``src/llama-adapter.cpp``:

- metadata ``general.type = "adapter"``, ``general.architecture`` equal to the
  base model's, ``adapter.type = "lora"``, ``adapter.lora.alpha``;
- for each adapted linear layer, tensors ``blk.{i}.attn_q.weight.lora_a`` and
  ``.lora_b``, written in peft's own orientation (A: ``[r, in]``, B:
  ``[out, r]`` in numpy order, i.e. ggml ``ne = [in, r]`` and ``[r, out]``);
  llama.cpp scales ``B @ A`` by ``alpha / r`` like peft does;
- the llama architecture's GGUF stores ``q``/``k`` rows permuted for its rope
  layout (``convert_hf_to_gguf.py``'s ``LlamaModel.permute``), so the rows of
  those B matrices are permuted the same way. Qwen2 needs no permutation.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from bot.answers.models import ModelLoadError, memo_sha256
from knowledge_base.cache import cache_root, sha256_file

GGUF_NAME = "adapter.gguf"
SIDECAR_NAME = "adapter.gguf.json"
# Bump when the conversion itself changes, so old caches are re-made.
FORMAT_VERSION = 1

# peft module name (the last two parts of the path) -> llama.cpp tensor name.
MODULE_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
# Architectures whose GGUF layout matches HF's per-layer linear weights; the
# value says whether q/k rows are permuted for rope (llama's convention).
ARCHITECTURES = {"llama": True, "qwen2": False, "qwen3": False}

_KEY = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$"
)


def _adapter_files(adapter_dir: Path) -> tuple[Path, Path]:
    config = adapter_dir / "adapter_config.json"
    weights = adapter_dir / "adapter_model.safetensors"
    if not config.is_file() or not weights.is_file():
        raise ModelLoadError(
            f"LoRA adapter {adapter_dir} has no adapter_config.json + adapter_model.safetensors "
            "(peft's save_pretrained layout, as `shopbot finetune` writes it); cannot convert it "
            "for llama-cpp."
        )
    return config, weights


def _fingerprint(adapter_dir: Path, base_gguf: Path) -> str:
    """SHA-256 over the peft config, weights and the base GGUF's identity."""
    config, weights = _adapter_files(adapter_dir)
    digest = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    digest.update(config.read_bytes())
    digest.update(sha256_file(weights).encode())
    digest.update(memo_sha256(base_gguf).encode())
    return digest.hexdigest()


def _target(adapter_dir: Path, fingerprint: str) -> Path:
    """``adapter.gguf`` inside the adapter folder, or a cache file if that is read-only."""
    if os.access(adapter_dir, os.W_OK):
        return adapter_dir / GGUF_NAME
    folder = cache_root() / "adapters" / fingerprint[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder / GGUF_NAME


def ensure_gguf_adapter(
    adapter_dir: str | os.PathLike[str], base_gguf: str | os.PathLike[str]
) -> Path:
    """The GGUF version of the peft LoRA ``adapter_dir`` for ``base_gguf``, made if stale.

    Raises :class:`~bot.answers.models.ModelLoadError` when the adapter is missing,
    unsupported (DoRA, embedding LoRA, per-module alphas) or does not fit the
    base model.
    """
    adapter_dir, base_gguf = Path(adapter_dir), Path(base_gguf)
    fingerprint = _fingerprint(adapter_dir, base_gguf)
    target = _target(adapter_dir, fingerprint)
    sidecar = target.with_name(SIDECAR_NAME)
    try:
        if target.is_file() and json.loads(sidecar.read_text())["fingerprint"] == fingerprint:
            return target
    except (OSError, ValueError, KeyError):
        pass  # no or unreadable sidecar: convert again
    info = convert(adapter_dir, base_gguf, target)
    info["fingerprint"] = fingerprint
    tmp = sidecar.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp, sidecar)
    return target


def _base_layout(base_gguf: Path) -> dict[str, Any]:
    """Architecture, head counts and tensor shapes of the base GGUF (read lazily, mmap)."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(base_gguf))
    except Exception as exc:
        raise ModelLoadError(f"Could not read the base GGUF {base_gguf}: {exc}") from exc

    def field(key: str) -> Any:
        entry = reader.fields.get(key)
        return entry.contents() if entry is not None else None

    arch = field("general.architecture")
    return {
        "arch": arch,
        "n_head": field(f"{arch}.attention.head_count"),
        "n_head_kv": field(f"{arch}.attention.head_count_kv"),
        # ggml order (ne0 = input size, ne1 = output size)
        "shapes": {t.name: [int(d) for d in t.shape] for t in reader.tensors},
    }


def _permute_rows(b: Any, n_head: int) -> Any:
    """llama's rope permutation of weight rows (convert_hf_to_gguf ``LlamaModel.permute``)."""
    return (
        b.reshape(n_head, 2, b.shape[0] // n_head // 2, *b.shape[1:])
        .swapaxes(1, 2)
        .reshape(b.shape)
    )


def convert(adapter_dir: Path, base_gguf: Path, out: Path) -> dict[str, Any]:
    """Write the GGUF LoRA for ``adapter_dir`` to ``out`` (atomically); returns a summary."""
    import gguf
    import numpy as np
    from safetensors.torch import load_file

    config_path, weights_path = _adapter_files(adapter_dir)
    config = json.loads(config_path.read_text())
    if config.get("peft_type", "LORA") != "LORA":
        raise ModelLoadError(f"{adapter_dir} is a {config.get('peft_type')} adapter, not LoRA.")
    if config.get("use_dora") or config.get("alpha_pattern") or config.get("lora_bias"):
        raise ModelLoadError(
            f"{adapter_dir} uses DoRA, LoRA biases or per-module alphas, which llama.cpp "
            "adapters cannot express; use the transformers backend for it."
        )
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # rsLoRA scales by alpha/sqrt(r); llama.cpp by alpha/r

    layout = _base_layout(base_gguf)
    arch = layout["arch"]
    if arch not in ARCHITECTURES:
        raise ModelLoadError(
            f"Converting LoRA adapters for the '{arch}' architecture is not supported "
            f"(supported: {', '.join(ARCHITECTURES)}); use llm_backend = 'transformers'."
        )
    try:
        # Through torch: peft saves bf16 LoRA weights, which numpy cannot read.
        weights = {k: v.float().numpy() for k, v in load_file(str(weights_path)).items()}
    except Exception as exc:
        raise ModelLoadError(f"Could not read the LoRA weights {weights_path}: {exc}") from exc

    pairs: dict[str, dict[str, Any]] = {}
    for key, value in weights.items():
        match = _KEY.match(key)
        module = MODULE_NAMES.get(match.group(2)) if match else None
        if match is None or module is None:
            raise ModelLoadError(
                f"{weights_path}: LoRA weight '{key}' targets a module llama.cpp adapters "
                "cannot take here (only the attention and MLP projections of each layer)."
            )
        name = f"blk.{match.group(1)}.{module}.weight"
        pairs.setdefault(name, {})[match.group(3)] = value

    writer = gguf.GGUFWriter(None, arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name in sorted(pairs):
        a, b = pairs[name].get("A"), pairs[name].get("B")
        shape = layout["shapes"].get(name)
        if a is None or b is None:
            raise ModelLoadError(f"{weights_path}: '{name}' has only one of lora_A / lora_B.")
        if shape is None or shape != [a.shape[1], b.shape[0]] or a.shape[0] != b.shape[1]:
            raise ModelLoadError(
                f"The adapter {adapter_dir} does not fit the base model {base_gguf.name}: "
                f"{name} is {shape} there, the adapter's A/B are {list(a.shape)}/{list(b.shape)}. "
                "Was it trained on another base model?"
            )
        if ARCHITECTURES[arch] and name.endswith(("attn_q.weight", "attn_k.weight")):
            heads = layout["n_head"] if "attn_q" in name else layout["n_head_kv"]
            b = _permute_rows(b, int(heads))
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b))

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".adapter-", suffix=".gguf", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer.write_header_to_file(tmp)
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "source": str(adapter_dir),
        "base_gguf": str(base_gguf),
        "architecture": arch,
        "rank": rank,
        "alpha": alpha,
        "tensors": len(pairs) * 2,
        "made_by": "shopbot bot.answers.gguf_adapter",
    }
