"""The ``transformers`` backend: a local chat model on CPU, bf16 with an fp32 prefill.

The model is the built-in GGUF converted once to safetensors, a GGUF path or an
HF folder, with an optional peft LoRA adapter merged in.
"""

from __future__ import annotations

import copy
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
from bot.answers.models import DEFAULT_MODEL, ModelLoadError, ensure_hf_folder, resolve_model

log = logging.getLogger(__name__)

# Seconds without a new token before a stuck generation is abandoned.
TOKEN_TIMEOUT = 120.0


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

        threads = thread_count(num_threads)
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
            model = apply_adapter(model, Path(adapter_path))
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


def apply_adapter(model: Any, adapter: Path) -> Any:
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
