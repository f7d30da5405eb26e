"""Which LoRA adapter a store serves, and switching it without a restart.

The active adapter is named by a small pointer file in the store's artifacts
folder, ``STORE/.shopbot/adapter.json``::

    {"path": "/abs/path/to/adapter", "base_model": "qwen2.5-0.5b",
     "activated_at": "...", "reason": "pass rate 0.41 -> 0.66, ungrounded 0 -> 0"}

``shopbot finetune`` writes it (atomically) only when the new adapter passed
the gate. Without a pointer, a store may ship an adapter in ``STORE/adapter/``
(the demo store does). An adapter is only applied to the base model it was
trained on (its ``shopbot-adapter.json`` manifest says which), so a store's
Qwen adapter never lands on SmolLM2 in the tests or on an OpenAI endpoint.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from knowledge_base.cache import artifacts_dir

log = logging.getLogger("shopbot.adapters")

POINTER_NAME = "adapter.json"
SHIPPED_DIR = "adapter"
MANIFEST_NAME = "shopbot-adapter.json"
# The backends that run the model here and so apply LoRA adapters.
LOCAL_BACKENDS = ("transformers", "llama-cpp")


def pointer_path(store_dir: str | Path) -> Path:
    """The active-adapter pointer file of ``store_dir``."""
    return artifacts_dir(Path(store_dir)) / POINTER_NAME


def read_manifest(adapter_dir: str | Path) -> dict[str, Any]:
    """An adapter folder's shopbot manifest ({} if absent or unreadable)."""
    try:
        return dict(json.loads((Path(adapter_dir) / MANIFEST_NAME).read_text()))
    except (OSError, ValueError):
        return {}


def prompt_version(adapter: str | os.PathLike[str] | None) -> int:
    """The prompt rules (bot.answers.prompts.SYSTEM_PROMPTS) to serve ``adapter`` with.

    An adapter is served with the rules it was trained with: its manifest's
    ``prompt_version``, or 1 for adapters made before prompts had versions.
    The base model (None) gets the current rules.
    """
    from bot.answers.prompts import PROMPT_VERSION

    if adapter is None:
        return PROMPT_VERSION
    path = Path(adapter)
    manifest = read_manifest(path if path.is_dir() else path.parent)
    try:
        return int(manifest.get("prompt_version", 1))
    except (TypeError, ValueError):
        return 1


def _is_adapter(path: Path) -> bool:
    return (path / "adapter_config.json").is_file()


def _same_base(manifest: dict[str, Any], model: str | None) -> bool:
    """Whether an adapter trained on ``manifest['base_model']`` fits ``model``."""
    base = manifest.get("base_model")
    if not base or model is None:
        return True  # unknown: let peft decide (it fails loudly on a shape mismatch)
    return str(base).lower() == str(model).lower()


def active_adapter(store_dir: str | Path, model: str | None = None) -> Path | None:
    """The adapter ``store_dir`` serves for base ``model``, or None.

    The pointer wins; a pointer with ``"path": null`` means "serve the base
    model". Otherwise the store's shipped ``adapter/`` folder is used.
    """
    store_dir = Path(store_dir)
    pointer = pointer_path(store_dir)
    candidate: Path | None = None
    if pointer.is_file():
        try:
            data = json.loads(pointer.read_text())
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable adapter pointer %s: %s", pointer, exc)
            data = {"path": str(store_dir / SHIPPED_DIR)}
        if not data.get("path"):
            return None
        candidate = Path(data["path"])
        if not candidate.is_absolute():
            candidate = (pointer.parent / candidate).resolve()
    else:
        candidate = store_dir / SHIPPED_DIR
    if not _is_adapter(candidate):
        if pointer.is_file():
            log.warning("active adapter %s (from %s) is missing; serving the base model",
                        candidate, pointer)  # fmt: skip
        return None
    if not _same_base(read_manifest(candidate), model):
        log.info("adapter %s was trained on %s, not %s; serving the base model",
                 candidate, read_manifest(candidate).get("base_model"), model)  # fmt: skip
        return None
    return candidate


def resolve_adapter(
    adapter: str | os.PathLike[str] | None,
    store_dir: str | Path | None,
    model: str | None,
    backend: str | None,
) -> str | os.PathLike[str] | None:
    """The adapter to load: ``adapter`` as given, None for ``"none"`` (the base
    model even where the store has an adapter), or, when none is given, the
    store's active adapter for a local backend."""
    if isinstance(adapter, str) and adapter.strip().lower() == "none":
        return None
    if adapter is None and store_dir is not None and (backend or "").lower() in LOCAL_BACKENDS:
        return active_adapter(store_dir, model)
    return adapter


def activate(store_dir: str | Path, adapter_dir: str | Path | None, **info: Any) -> Path:
    """Make ``adapter_dir`` the store's active adapter (None: the base model).

    Written to a temporary file and renamed, so a server polling the pointer
    never reads half a file.
    """
    pointer = pointer_path(store_dir)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "path": str(Path(adapter_dir).resolve()) if adapter_dir else None,
        "activated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **info,
    }
    tmp = pointer.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, pointer)
    return pointer


class AdapterWatcher:
    """Swaps a running bot's chat model when the store's active adapter changes.

    ``check()`` is cheap (one ``stat``) and is called before generated turns;
    when the pointer's mtime changed and it names another adapter, the model
    is reloaded with it off the event loop and swapped in between turns.
    A failed load keeps the current model and is logged.
    """

    def __init__(self, bot: Any, config: Any) -> None:
        self.bot = bot
        self.config = config
        self.pointer = pointer_path(config.store_dir)
        self._mtime = self._stat()
        self.current = getattr(bot, "adapter_path", None)
        self._loading = False

    def _stat(self) -> float | None:
        try:
            return self.pointer.stat().st_mtime_ns
        except OSError:
            return None

    def enabled(self) -> bool:
        """Only the local backends apply adapters; an explicit llm_adapter pins one."""
        local = self.config.llm_backend in LOCAL_BACKENDS
        return local and not self.config.llm_adapter

    async def check(self) -> bool:
        """Reload if the pointer changed; True when a new model was swapped in."""
        import asyncio

        mtime = self._stat()
        if mtime == self._mtime or self._loading or not self.enabled():
            return False
        self._mtime = mtime
        wanted = active_adapter(self.config.store_dir, self.config.llm_model)
        if wanted == self.current:
            return False
        self._loading = True
        try:
            from bot.answers.generation import load_generator

            generator = await asyncio.to_thread(
                load_generator,
                backend=self.config.llm_backend,
                model=self.config.llm_model,
                adapter=wanted,
            )
        except Exception as exc:
            log.error("could not load the newly activated adapter %s: %s", wanted, exc)
            return False
        finally:
            self._loading = False
        self.bot.answerer.generator = generator
        self.bot.answerer.prompt_version = prompt_version(wanted)
        self.bot.adapter_path = wanted
        self.current = wanted
        log.info("now serving %s", generator.name)
        return True
