"""The ``llama-cpp`` backend: a GGUF file run as is by llama-cpp-python (optional extra).

The transformers backend's LoRA adapter is converted to a GGUF adapter for it
(:mod:`bot.answers.gguf_adapter`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.answers.generators.base import (
    REPETITION_PENALTY,
    STOP_MARKERS,
    GenerationError,
    thread_count,
)
from bot.answers.models import DEFAULT_MODEL, ModelLoadError, resolve_model

log = logging.getLogger(__name__)


def prefer_passive_openmp() -> None:
    """Make OpenMP worker threads sleep, not spin, while they wait (unless set otherwise).

    llama.cpp's CPU threads (an OpenMP team) spin-wait at every barrier. When
    the cores are shared (other processes, or torch in this same process), a
    spinning thread that loses its core stalls the whole team: on the 2-core
    test machine under load, SmolLM2 decoding with 2 threads fell from 30 to
    0.5-7 tokens/s; with ``OMP_WAIT_POLICY=PASSIVE`` it stayed at 30. The
    OpenMP runtime reads this once, when it is first loaded, and torch loads
    the same ``libgomp.so.1``, so this must run before torch is imported: the
    CLI calls it as soon as the config names the llama-cpp backend.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class LlamaCppGenerator:
    """A local GGUF chat model run by llama.cpp (``pip install 'shopbot[llama]'``).

    ``model_spec`` is the built-in name (the verified, joined Qwen GGUF or
    SmolLM2's) or a path to a ``.gguf`` file; it is run as is, quantised, with
    no conversion. The chat template is the GGUF's own. ``adapter_path`` is the
    same peft LoRA folder the transformers backend takes; it is converted once
    to ``adapter.gguf`` beside it (:mod:`bot.answers.gguf_adapter`) and applied by
    llama.cpp at load. Decoding is greedy at temperature 0, with the same
    repetition penalty as the transformers backend over llama.cpp's window of
    the last 64 tokens.

    llama.cpp keeps the previous prompt's KV cache and only evaluates what
    differs, so a repeated system prompt is not prefilled again. One ``Llama``
    object serves one generation at a time (a lock).
    """

    def __init__(
        self,
        model_spec: str = DEFAULT_MODEL,
        adapter_path: str | os.PathLike[str] | None = None,
        n_ctx: int = 4096,
        num_threads: int | None = None,
    ) -> None:
        prefer_passive_openmp()  # in effect only if no OpenMP runtime is loaded yet
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelLoadError(
                f"The llama-cpp backend needs llama-cpp-python ({exc}). Install it with "
                "pip install 'shopbot[llama]' (it compiles llama.cpp, a few minutes), or use "
                "llm_backend = 'transformers'."
            ) from exc
        started = time.time()
        resolved = resolve_model(model_spec)
        if resolved.kind != "gguf":
            raise ModelLoadError(
                f"The llama-cpp backend runs GGUF files; '{model_spec}' is a transformers folder. "
                "Point llm_model at a .gguf file or use llm_backend = 'transformers'."
            )
        self.gguf = resolved.gguf_path()
        if not self.gguf.is_file():
            raise ModelLoadError(f"GGUF model file {self.gguf} does not exist.")
        self.name = resolved.name
        self.lora_path: Path | None = None
        if adapter_path is not None:
            from bot.answers.gguf_adapter import ensure_gguf_adapter

            self.lora_path = ensure_gguf_adapter(adapter_path, self.gguf)
            self.name = f"{resolved.name}+{Path(adapter_path).name}"
        threads = thread_count(num_threads)
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(self.gguf),
                lora_path=str(self.lora_path) if self.lora_path else None,
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=0,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports load failures as ValueError
            raise ModelLoadError(
                f"llama.cpp could not load {self.gguf}"
                + (f" with the adapter {self.lora_path}" if self.lora_path else "")
                + f": {type(exc).__name__}: {exc}"
            ) from exc
        self.n_threads = threads
        self._lock = threading.Lock()
        self.load_seconds = time.time() - started
        log.info("chat model %s loaded by llama.cpp from %s in %.1fs (%s threads)",
                 self.name, self.gguf, self.load_seconds, threads)  # fmt: skip

    def stream(
        self, messages: list[dict[str, str]], max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield the reply as llama.cpp decodes it; closing the iterator stops decoding."""
        with self._lock:
            sampling: dict[str, Any] = (
                {"temperature": temperature, "top_p": 0.9}
                if temperature > 0
                else {"temperature": 0.0, "top_k": 1}
            )
            try:
                chunks = self.llm.create_chat_completion(
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=max_new_tokens,
                    stop=STOP_MARKERS,
                    repeat_penalty=REPETITION_PENALTY,
                    stream=True,
                    **sampling,
                )
            except Exception as exc:  # a bad template, ...
                raise GenerationError(f"llama.cpp failed: {type(exc).__name__}: {exc}") from exc
            try:
                for chunk in chunks:  # type: ignore[union-attr]
                    piece = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
                    if piece:
                        yield piece
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise GenerationError(f"llama.cpp failed: {exc}") from exc
            finally:
                # Reached on normal end, on error and when the consumer closes us
                # early: closing llama-cpp's own generator stops its decode loop.
                chunks.close()  # type: ignore[union-attr]
