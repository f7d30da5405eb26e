"""Chat LM backends behind one small interface.

A :class:`Generator` turns chat messages into a blocking stream of text
pieces. The caller (``bot/answers/answerer.py``) runs it in a worker thread
(:func:`stream_in_thread`) and stops early by closing the iterator. Backends
(``bot/answers/generators/``):

- ``transformers``: a local model (built-in GGUF converted once to safetensors,
  a GGUF path, or an HF folder), bf16 on CPU, optional peft LoRA adapter;
- ``llama-cpp``: a GGUF file run by llama-cpp-python (optional extra), the
  same LoRA adapter converted to a GGUF adapter;
- ``openai``: any OpenAI-compatible ``/v1/chat/completions`` endpoint
  (llama.cpp server, vLLM, Ollama, OpenAI ...), streamed over SSE;
- ``none``: no model (:class:`ExtractiveOnly`); answering falls back to quoting
  the best passage.

:func:`load_generator` picks one and turns every load failure into a
:class:`~bot.answers.models.ModelLoadError` whose message says what to do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, runtime_checkable

from bot.answers.generators.llama_cpp import LlamaCppGenerator
from bot.answers.generators.openai import OpenAIGenerator, RetryPolicy
from bot.answers.generators.transformers import TransformersGenerator
from bot.answers.models import DEFAULT_MODEL, ModelLoadError

log = logging.getLogger(__name__)

__all__ = ["ExtractiveOnly", "Generator", "count_tokens", "load_generator", "stream_in_thread"]


@runtime_checkable
class Generator(Protocol):
    """A chat model: ``stream`` yields the reply in pieces, blocking."""

    name: str

    def stream(
        self, messages: list[dict[str, str]], max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield the assistant reply to ``messages`` as text pieces.

        Closing the iterator early stops generation.
        """
        ...


# --------------------------------------------------------------------------- none


class ExtractiveOnly:
    """No language model: ``stream`` yields nothing and answers quote the best passage."""

    name = "none"

    def stream(
        self, messages: list[dict[str, str]], max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield nothing."""
        return iter(())


def count_tokens(generator: Any, text: str) -> int | None:
    """Tokens in ``text`` by the generator's own tokenizer; None when it has none here
    (an OpenAI-compatible endpoint counts its tokens itself)."""
    tokenizer = getattr(generator, "tokenizer", None)  # transformers
    if tokenizer is not None:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    llm = getattr(generator, "llm", None)  # llama-cpp
    if llm is not None and hasattr(llm, "tokenize"):
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
    return None


# --------------------------------------------------------------------------- async


_DONE = object()


async def stream_in_thread(
    generator: Generator,
    messages: list[dict[str, str]],
    max_new_tokens: int,
    temperature: float,
    name: str = "shopbot-generate",
    join: bool = False,
) -> AsyncIterator[str]:
    """``generator.stream(...)`` in a worker thread, its pieces yielded on the event loop.

    The blocking model never holds up the loop. An error raised by the model is
    raised here. Leaving early (``break``, an error, ``aclose()``) stops
    generation: the worker stops pulling pieces and closes the model's stream,
    which TransformersGenerator turns into a stop flag (within one token).
    ``join``: also wait until the worker has really stopped (a caller that
    frees a capacity slot afterwards).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def put(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            stop.set()  # the event loop is gone; nobody is listening

    def produce() -> None:
        pieces = None
        try:
            pieces = generator.stream(
                messages, max_new_tokens=max_new_tokens, temperature=temperature
            )
            for piece in pieces:
                if stop.is_set():
                    break
                put(piece)
        except BaseException as exc:  # handed to the consumer
            put(exc)
        else:
            put(_DONE)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                try:
                    close()  # stops the model's generation thread early
                except Exception:
                    log.debug("closing the generator stream failed", exc_info=True)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if join:
            await asyncio.to_thread(worker.join)


# --------------------------------------------------------------------------- factory


def load_generator(
    backend: str = "transformers",
    model: str | None = DEFAULT_MODEL,
    adapter: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    retry: RetryPolicy | None = None,
) -> Generator:
    """Load the chat backend ``backend``: ``"transformers"``, ``"llama-cpp"``, ``"openai"`` or ``"none"``.

    ``"openai"``: ``base_url`` (else ``$OPENAI_BASE_URL``), ``api_key`` (else
    ``$OPENAI_API_KEY``) and how hard to retry a busy server (``retry``).

    Raises :class:`~bot.answers.models.ModelLoadError` with an actionable
    message when the model cannot be found, verified or loaded.
    """
    kind = (backend or "none").strip().lower()
    if kind in ("none", "extractive", "off"):
        return ExtractiveOnly()
    if kind == "openai":
        return OpenAIGenerator(base_url, model or "default", api_key=api_key, retry=retry)
    if kind == "transformers":
        try:
            return TransformersGenerator(model or DEFAULT_MODEL, adapter_path=adapter)
        except ModelLoadError:
            raise
        except ImportError as exc:
            raise ModelLoadError(
                f"The transformers backend needs torch and transformers ({exc}); install them, "
                "or set llm_backend = 'none' for extractive answers."
            ) from exc
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load chat model '{model}': {type(exc).__name__}: {exc}. "
                "Set llm_model to another model or llm_backend = 'none'."
            ) from exc
    if kind == "llama-cpp":
        return LlamaCppGenerator(model or DEFAULT_MODEL, adapter_path=adapter)
    raise ModelLoadError(
        f"Unknown llm_backend '{backend}': use 'transformers', 'llama-cpp', 'openai' or 'none'."
    )
