"""Chat LM backends behind one small interface.

A :class:`Generator` turns chat messages into a blocking stream of text
pieces. The caller (``bot/answers/answerer.py``) runs it in a worker thread and stops
early by closing the iterator. Backends:

- ``transformers``: a local model (built-in GGUF converted once to safetensors,
  a GGUF path, or an HF folder), bf16 on CPU, optional peft LoRA adapter;
- ``llama-cpp``: a GGUF file run by llama-cpp-python (optional extra), the
  same LoRA adapter converted to a GGUF adapter;
- ``openai``: any OpenAI-compatible ``/v1/chat/completions`` endpoint
  (llama.cpp server, vLLM, Ollama, OpenAI ...), streamed over SSE;
- ``none``: no model; answering falls back to quoting the best passage.

:func:`load_generator` picks one and turns every load failure into a
:class:`~bot.answers.models.ModelLoadError` whose message says what to do.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.answers.models import DEFAULT_MODEL, ModelLoadError, ensure_hf_folder, resolve_model

log = logging.getLogger(__name__)

# Penalises tokens the reply already used (not the prompt's): stops loops.
REPETITION_PENALTY = 1.1
# Seconds without a new token before a stuck generation is abandoned.
TOKEN_TIMEOUT = 120.0

__all__ = [
    "ExtractiveOnly",
    "GenerationError",
    "Generator",
    "LlamaCppGenerator",
    "ModelLoadError",
    "OpenAIGenerator",
    "TransformersGenerator",
    "load_generator",
]


# End-of-turn markers of the chat templates we know: their token ids stop
# transformers' generation, and llama.cpp stops on them if emitted as text.
STOP_MARKERS = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>"]


def _num_threads(requested: int | None) -> int | None:
    """Threads for a local model: ``requested``, else $SHOPBOT_NUM_THREADS, else every core."""
    return requested or int(os.environ.get("SHOPBOT_NUM_THREADS", "0")) or os.cpu_count()


class GenerationError(RuntimeError):
    """Generation failed after the model was loaded (endpoint down, OOM, ...)."""


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


# --------------------------------------------------------------------------- transformers


class _StopFlag:
    """A transformers StoppingCriteria that stops when a threading.Event is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        # One flag per sequence in the batch (transformers >= 4.39 wants a bool tensor).
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


class TransformersGenerator:
    """A local chat model run with transformers on CPU.

    ``model_spec`` is anything :func:`bot.answers.models.resolve_model` accepts. GGUF
    models are converted once to a cached safetensors folder (first load of
    the default Qwen model: ~80 s; later loads: a few seconds). ``adapter_path``
    is a peft LoRA folder (``adapter_config.json`` + weights); it is merged into
    the base weights, since shopbot only runs inference. Decoding is greedy
    unless ``temperature > 0``, with a mild repetition penalty that ignores the
    prompt (penalising prompt tokens would discourage quoting the passages).

    Split precision: on CPUs without native bf16 matrix units (AVX2, plain
    AVX-512) a bf16 matmul over many tokens is ~6x slower than fp32, while
    one-token decoding is memory-bound and ~1.6x faster in bf16. So by default
    the prompt is prefilled by an fp32 copy of the model and the reply decoded
    by the bf16 copy from the converted KV cache (Qwen 0.5B, 400-token prompt:
    prefill 2.3 s instead of 14 s). This costs a second copy of the weights
    (~2 GB extra for Qwen). ``prefill_dtype=None`` (or env
    ``SHOPBOT_PREFILL_DTYPE=none``) uses a single model.

    One model serves one generation at a time (a lock): two concurrent
    requests on two CPU cores would each run at half speed and both be late,
    so the second one waits its turn.
    """

    def __init__(
        self,
        model_spec: str = DEFAULT_MODEL,
        adapter_path: str | os.PathLike[str] | None = None,
        dtype: str = "bfloat16",
        num_threads: int | None = None,
        prefill_dtype: str | None = "auto",
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.time()
        resolved = resolve_model(model_spec)
        self.folder = ensure_hf_folder(resolved)
        self.convert_seconds = time.time() - started

        threads = _num_threads(num_threads)
        if threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

        decode_dtype = torch_dtype(dtype)
        prefill = _choose_prefill_dtype(prefill_dtype, decode_dtype)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            model = AutoModelForCausalLM.from_pretrained(
                str(self.folder), dtype=prefill or decode_dtype
            )
        except Exception as exc:  # corrupt weights, unknown architecture, ...
            raise ModelLoadError(
                f"Could not load the chat model from {self.folder}: {type(exc).__name__}: {exc}. "
                "If this is shopbot's converted cache, delete that folder to reconvert it."
            ) from exc

        self.name = resolved.name
        if adapter_path is not None:
            model = _apply_adapter(model, Path(adapter_path))
            self.name = f"{resolved.name}+{Path(adapter_path).name}"
        model.eval()
        # The decode copy is made after merging the adapter, so both copies carry it.
        self.prefill_model = model if prefill is not None else None
        self.model = copy.deepcopy(model).to(decode_dtype) if prefill is not None else model
        self.dtype = dtype
        self.prefill_dtype = str(prefill).removeprefix("torch.") if prefill is not None else None
        self._eos_ids = _eos_token_ids(self.tokenizer, self.model)
        self._lock = threading.Lock()
        self.load_seconds = time.time() - started
        log.info(
            "chat model %s loaded from %s in %.1fs (decode %s, prefill %s)",
            self.name, self.folder, self.load_seconds, dtype, self.prefill_dtype or dtype,
        )  # fmt: skip

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text for ``messages``, via the model's chat template."""
        try:
            return str(
                self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            )
        except Exception:
            # Some templates (e.g. Gemma's) reject a system role: fold it into the first user turn.
            if not messages or messages[0]["role"] != "system":
                raise
            system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
            first_user = next((m for m in rest if m["role"] == "user"), None)
            if first_user is None:
                rest.insert(0, {"role": "user", "content": system})
            else:
                first_user["content"] = f"{system}\n\n{first_user['content']}"
            return str(
                self.tokenizer.apply_chat_template(rest, tokenize=False, add_generation_prompt=True)
            )

    def stream(
        self, messages: list[dict[str, str]], max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield the reply as it is generated; closing the iterator stops generation."""
        from transformers import (
            LogitsProcessorList,
            RepetitionPenaltyLogitsProcessor,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        with self._lock:
            prompt = self.render(messages)
            inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            prompt_len = int(inputs["input_ids"].shape[1])
            streamer = TextIteratorStreamer(
                self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=TOKEN_TIMEOUT
            )
            stop = threading.Event()
            kwargs: dict[str, Any] = {
                **inputs,
                "streamer": streamer,
                "max_new_tokens": max_new_tokens,
                "logits_processor": LogitsProcessorList(
                    [
                        RepetitionPenaltyLogitsProcessor(
                            REPETITION_PENALTY, prompt_ignore_length=prompt_len
                        )
                    ]
                ),
                "stopping_criteria": StoppingCriteriaList([_StopFlag(stop)]),
                "eos_token_id": self._eos_ids,
                "pad_token_id": self._eos_ids[0] if self._eos_ids else None,
            }
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=0.9)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)

            failure: list[BaseException] = []

            def run() -> None:
                import torch

                try:
                    with torch.inference_mode():
                        if self.prefill_model is not None and prompt_len > 1:
                            kwargs["past_key_values"] = self._prefill(inputs, prompt_len)
                        self.model.generate(**kwargs)
                except BaseException as exc:  # surfaced to the consumer below
                    failure.append(exc)
                    streamer.end()  # unblock the consumer

            worker = threading.Thread(target=run, name="shopbot-generate", daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    if piece:
                        yield piece
            except Exception as exc:  # queue.Empty on timeout
                stop.set()
                raise GenerationError(f"generation stalled: {type(exc).__name__}") from exc
            finally:
                # Reached on normal end, on error and when the consumer closes us early.
                stop.set()
                worker.join()
            if failure:
                raise GenerationError(
                    f"generation failed: {type(failure[0]).__name__}: {failure[0]}"
                ) from failure[0]

    def _prefill(self, inputs: Any, prompt_len: int) -> Any:
        """KV cache of all but the last prompt token, computed by the fp32 copy.

        ``generate`` then only runs the last prompt token and the reply through
        the decode copy. The cache is cast to the decode dtype in place.
        """
        assert self.prefill_model is not None
        head = {k: v[:, : prompt_len - 1] for k, v in inputs.items()}
        out = self.prefill_model(**head, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        decode_dtype = self.model.dtype
        for layer in cache.layers:
            layer.keys = layer.keys.to(decode_dtype)
            layer.values = layer.values.to(decode_dtype)
            layer.dtype = decode_dtype
        return cache


def torch_dtype(name: str) -> Any:
    """``"bfloat16"`` -> ``torch.bfloat16``; ModelLoadError for unknown names."""
    import torch

    value = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise ModelLoadError(f"Unknown dtype '{name}'; use bfloat16, float16 or float32.")
    return value


def cpu_has_native_bf16() -> bool:
    """Whether the CPU has bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False  # unknown: assume not, which is only slower on such CPUs
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _choose_prefill_dtype(requested: str | None, decode_dtype: Any) -> Any:
    """The dtype of the separate prefill model, or None for a single model."""
    import torch

    requested = os.environ.get("SHOPBOT_PREFILL_DTYPE", requested or "none")
    if str(requested).lower() in ("none", "off", ""):
        return None
    if requested == "auto":
        low_precision = decode_dtype in (torch.bfloat16, torch.float16)
        return torch.float32 if low_precision and not cpu_has_native_bf16() else None
    prefill = torch_dtype(requested)
    return None if prefill == decode_dtype else prefill


def _apply_adapter(model: Any, adapter: Path) -> Any:
    """Load a peft LoRA adapter onto ``model`` and merge it for faster inference."""
    if not (adapter / "adapter_config.json").is_file():
        raise ModelLoadError(
            f"LoRA adapter {adapter} not found (expected a folder with adapter_config.json, as "
            "written by `shopbot finetune` or peft's save_pretrained). Fix llm_adapter or unset it."
        )
    try:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    except ImportError as exc:
        raise ModelLoadError("Loading a LoRA adapter needs peft: pip install peft") from exc
    except Exception as exc:
        raise ModelLoadError(
            f"Could not apply the LoRA adapter {adapter}: {type(exc).__name__}: {exc}. "
            "Was it trained on the same base model?"
        ) from exc


def _eos_token_ids(tokenizer: Any, model: Any) -> list[int]:
    """Every id that ends a chat turn: the configured eos plus the usual end markers.

    GGUF-derived configs sometimes name only one of ``<|im_end|>`` /
    ``<|endoftext|>``; stopping at all of them keeps the model from running on
    into an invented next turn.
    """
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.append(value)
        elif isinstance(value, list):
            ids.extend(v for v in value if isinstance(v, int))
    vocab = tokenizer.get_vocab()
    for marker in STOP_MARKERS:
        if marker in vocab:
            ids.append(vocab[marker])
    return list(dict.fromkeys(ids))


# --------------------------------------------------------------------------- llama-cpp


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
        threads = _num_threads(num_threads)
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


# --------------------------------------------------------------------------- openai


class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint, streamed with server-sent events.

    ``base_url`` is the server root or its ``/v1`` (``http://localhost:8000``
    and ``http://localhost:8000/v1`` both work). Uses only the standard
    library, so no extra dependency is needed.
    """

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ModelLoadError(
                f"llm_base_url must be an http(s) URL of an OpenAI-compatible server, got {base_url!r}"
            )
        root = base_url.rstrip("/")
        self.url = root + ("/chat/completions" if root.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.name = f"openai:{model}"

    def stream(
        self, messages: list[dict[str, str]], max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield content deltas from the endpoint's SSE stream."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": messages,
                "max_tokens": max_new_tokens,
                "temperature": temperature,
                "stream": True,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise GenerationError(f"{self.url} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GenerationError(f"cannot reach {self.url}: {exc}") from exc
        with response:
            for raw in response:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments, "event:" lines
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if "error" in chunk:
                    raise GenerationError(f"{self.url} reported: {chunk['error']}")
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece


# --------------------------------------------------------------------------- none


class ExtractiveOnly:
    """No language model: ``stream`` yields nothing and answers quote the best passage."""

    name = "none"

    def stream(
        self, messages: list[dict[str, str]], max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield nothing."""
        return iter(())


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
    backend: Any = "transformers",
    model: str | None = DEFAULT_MODEL,
    adapter: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
) -> Generator:
    """Load the chat backend ``backend``: ``"transformers"``, ``"llama-cpp"``, ``"openai"`` or ``"none"``.

    ``backend`` may also be a :class:`bot.config.Config` (anything with
    ``llm_backend``, ``llm_model``, ``llm_adapter``, ``llm_base_url``,
    ``llm_api_key``), whose values are then used. Raises
    :class:`~bot.answers.models.ModelLoadError` with an actionable message when the
    model cannot be found, verified or loaded.
    """
    if not isinstance(backend, str):
        config = backend
        backend = config.llm_backend
        model = config.llm_model
        adapter = config.llm_adapter
        base_url = config.llm_base_url
        api_key = config.llm_api_key
    kind = (backend or "none").strip().lower()
    if kind in ("none", "extractive", "off"):
        return ExtractiveOnly()
    if kind == "openai":
        if not base_url:
            raise ModelLoadError(
                "llm_backend 'openai' needs llm_base_url (e.g. http://127.0.0.1:8000/v1) "
                "and llm_model (the model name the server knows)."
            )
        return OpenAIGenerator(base_url, model or "default", api_key=api_key)
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
