"""Benchmark the chat backends: load time, time to first token, tokens/s.

Usage::

    python scripts/bench_generation.py [--models qwen2.5-0.5b smollm2-135m]
        [--max-new-tokens 64] [--prefill auto|none] [--json out.json]
    python scripts/bench_generation.py --compare-backends [--model qwen2.5-0.5b]
        [--questions 8] [--max-new-tokens 128] [--json out.json]
    python scripts/bench_generation.py --compare-models qwen2.5-0.5b qwen2.5-1.5b
        [--questions 8] [--max-new-tokens 128] [--json out.json]

The first form loads
:class:`bot.answers.generators.transformers.TransformersGenerator` for each model
(the first run also converts the GGUF into the safetensors cache; the conversion
time is read from the cache manifest), then streams replies to a short chat
prompt and to grounded prompts built like shopbot's real ones (system rules +
three passages). Prints one JSON document.

``--compare-backends`` measures the served path (the transformers backend, the
default) against llama-cpp-python on the same model, with the demo store's
active LoRA adapter when it has one for that model (converted to a GGUF adapter
for llama.cpp), in one run: the prompts are the ones the server builds
(``bot.answers.prompts.build_messages`` over the demo store's retrieved passages for
single-turn questions of the held-out answer cases). Both models stay loaded and
each prompt runs on both back to back, alternating which goes first, so load
from other processes falls on both alike. llama.cpp's prompt cache is cleared
before each prompt (both start cold). Reports TTFT and decode tokens/s (p50)
and the llama-cpp / transformers ratios. Run it with ``OMP_WAIT_POLICY=PASSIVE``
in the environment, as the CLI sets it for the llama-cpp backend: torch is
loaded first here, and llama.cpp's spinning OpenMP threads collapse on shared
cores (see ``bot.answers.generators.llama_cpp.prefer_passive_openmp``).

``--compare-models A B`` runs two models side by side on the llama-cpp backend
(base models, no adapter: the speed of the models themselves) with the same
served prompts, each prompt on both back to back in alternating order, KV cache
cleared before each. Reports TTFT p50/p95, decode tokens/s, total seconds per
answer p50/p95, and the ratios B/A measured in that one run. New tokens are
counted with A's tokenizer (the same vocabulary for the Qwen2.5 family). It
sets ``OMP_WAIT_POLICY=PASSIVE`` itself, before torch is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from tests.conftest import NORTHWIND, make_hit  # noqa: E402  (hand-made hits)

PASSAGES = [
    make_hit(
        "doc:returns#refunds",
        "passage",
        "Refunds",
        "Once we receive your return, refunds are issued to the original payment method within "
        "5 to 7 business days. Orders paid with a gift card are refunded to a gift card "
        "immediately. Returns are accepted within 30 days of delivery for unworn items with tags "
        "attached. Final-sale items cannot be returned.",
    ),
    make_hit(
        "faq-shipping",
        "faq",
        "How long does shipping take?",
        "Standard shipping takes 3-5 business days and is free on orders over $50. Express "
        "shipping takes 1-2 business days and costs $15.",
    ),
    make_hit(
        "doc:orders#cancel",
        "passage",
        "Cancelling an order",
        "You can cancel an order while its status is pending. Once an order has shipped it can "
        "no longer be cancelled, but you can return it after delivery.",
    ),
]
QUESTIONS = [
    "How long do refunds take?",
    "How much does express shipping cost?",
    "Can I cancel my order after it shipped?",
]


def bench_model(spec: str, max_new_tokens: int, prefill: str) -> dict:
    """Load ``spec`` and time a few streamed replies."""
    from bot.answers.generators.transformers import TransformersGenerator
    from bot.answers.models import MANIFEST_NAME
    from bot.answers.prompts import build_messages

    started = time.time()
    generator = TransformersGenerator(spec, prefill_dtype=None if prefill == "none" else prefill)
    load_seconds = time.time() - started
    manifest_path = generator.folder / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}

    prompts = [("chat", [{"role": "user", "content": "Say hello to a customer in one sentence."}])]
    prompts += [("grounded", build_messages(q, PASSAGES, [], NORTHWIND)) for q in QUESTIONS]
    # Warm-up: the first call pays for lazy initialisation inside torch.
    list(generator.stream(prompts[0][1], max_new_tokens=4))

    runs = []
    for kind, messages in prompts:
        prompt_tokens = len(generator.tokenizer(generator.render(messages))["input_ids"])
        timed = _timed(generator, messages, max_new_tokens, generator.tokenizer)
        runs.append({"kind": kind, "prompt_tokens": prompt_tokens, **timed})
    grounded = [r for r in runs if r["kind"] == "grounded"]
    return {
        "model": generator.name,
        "folder": str(generator.folder),
        "dtype": generator.dtype,
        "prefill_dtype": generator.prefill_dtype or generator.dtype,
        "load_s": round(load_seconds, 1),
        "convert_s_first_run": manifest.get("convert_seconds"),
        "grounded_ttft_s_median": statistics.median(r["ttft_s"] for r in grounded),
        "decode_tok_s_median": statistics.median(
            r["decode_tok_s"] for r in runs if r["decode_tok_s"] is not None
        ),
        "runs": runs,
    }


def served_prompts(
    model: str, questions: int, adapter: str | None = None
) -> tuple[list[tuple[str, list]], str | None]:
    """Grounded prompts as the server builds them for the demo store, and its active adapter."""
    import tempfile

    from bot.answers.adapters import active_adapter
    from bot.answers.prompts import build_messages
    from knowledge_base.build import ensure_built
    from knowledge_base.embeddings import get_encoder
    from knowledge_base.index import KnowledgeIndex
    from tests.conftest import DEMO_STORE, copy_demo_store
    from training.answers import load_cases

    adapter = adapter or active_adapter(DEMO_STORE, model)
    # The demo store's held-out answer cases.
    cases = load_cases(
        Path(__file__).resolve().parents[1] / "tests/data/answer_cases_heldout.jsonl"
    )
    asked = [c.turns[0] for c in cases if len(c.turns) == 1 and not c.expect_handoff]
    # A private copy: building writes artifacts into the store folder.
    store_dir = copy_demo_store(Path(tempfile.mkdtemp(prefix="bench-gen-")) / "demo")
    encoder = get_encoder()
    artifacts = ensure_built(store_dir, progress=False, encoder=encoder)
    index = KnowledgeIndex.load(artifacts.index_dir, encoder)
    prompts = []
    for question in asked[:questions]:
        hits = index.search(question, 5)  # what bot/turn/pipeline.py retrieves per turn
        prompts.append((question, build_messages(question, hits, [], artifacts.store.settings)))
    return prompts, str(adapter) if adapter else None


def _timed(generator, messages: list, max_new_tokens: int, tokenizer) -> dict:  # type: ignore[no-untyped-def]
    """Stream one reply: TTFT, new tokens (counted with one tokenizer for both), decode tok/s."""
    t0 = time.perf_counter()
    first = None
    text = ""
    for piece in generator.stream(messages, max_new_tokens=max_new_tokens):
        if first is None:
            first = time.perf_counter()
        text += piece
    end = time.perf_counter()
    first = first or end
    new_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return {
        "ttft_s": round(first - t0, 3),
        "total_s": round(end - t0, 3),
        "new_tokens": new_tokens,
        "decode_tok_s": round((new_tokens - 1) / (end - first), 2) if end > first else None,
        "reply": text.strip()[:160],
    }


def compare_backends(
    model: str, questions: int, max_new_tokens: int, adapter: str | None = None
) -> dict:
    """transformers (the served default) vs llama-cpp on the same prompts, model and adapter."""
    import gc

    from bot.answers.generators.llama_cpp import LlamaCppGenerator
    from bot.answers.generators.transformers import TransformersGenerator

    prompts, adapter = served_prompts(model, questions, adapter)
    started = time.time()
    served = TransformersGenerator(model, adapter_path=adapter)
    load_transformers = time.time() - started
    started = time.time()
    llama = LlamaCppGenerator(model, adapter_path=adapter)
    load_llama = time.time() - started
    tokenizer = served.tokenizer
    backends = {"transformers": served, "llama-cpp": llama}
    for generator in backends.values():  # warm-up: lazy initialisation on both sides
        list(generator.stream(prompts[0][1], max_new_tokens=4))

    runs: dict[str, list[dict]] = {name: [] for name in backends}
    for i, (question, messages) in enumerate(prompts):
        prompt_tokens = len(
            tokenizer(served.render(messages), add_special_tokens=False)["input_ids"]
        )
        order = list(backends) if i % 2 == 0 else list(reversed(backends))
        for name in order:
            if name == "llama-cpp":
                llama.llm.reset()  # no KV reuse from the previous prompt: both start cold
            run = _timed(backends[name], messages, max_new_tokens, tokenizer)
            runs[name].append({"question": question, "prompt_tokens": prompt_tokens, **run})

    def p50(name: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[name] if r[key] is not None), 3)

    summary = {
        name: {
            "ttft_s_p50": p50(name, "ttft_s"),
            "decode_tok_s_p50": p50(name, "decode_tok_s"),
            "end_to_end_tok_s_p50": round(
                statistics.median(r["new_tokens"] / r["total_s"] for r in runs[name]), 2
            ),
            "new_tokens_total": sum(r["new_tokens"] for r in runs[name]),
        }
        for name in backends
    }
    t, ll = summary["transformers"], summary["llama-cpp"]
    result = {
        "model": model,
        "adapter": adapter,
        "prompts": len(prompts),
        "prompt_tokens_p50": statistics.median(r["prompt_tokens"] for r in runs["transformers"]),
        "max_new_tokens": max_new_tokens,
        "transformers": {
            "decode_dtype": served.dtype,
            "prefill_dtype": served.prefill_dtype or served.dtype,
            "load_s": round(load_transformers, 1),
            **t,
        },
        "llama-cpp": {
            "gguf": str(llama.gguf),
            "lora_gguf": str(llama.lora_path) if llama.lora_path else None,
            "threads": llama.n_threads,
            "load_s": round(load_llama, 1),
            **ll,
        },
        "ratio_llama_cpp_over_transformers": {
            "decode_tok_s": round(ll["decode_tok_s_p50"] / t["decode_tok_s_p50"], 2),
            "end_to_end_tok_s": round(ll["end_to_end_tok_s_p50"] / t["end_to_end_tok_s_p50"], 2),
            "ttft": round(ll["ttft_s_p50"] / t["ttft_s_p50"], 2),
        },
        "runs": runs,
    }
    del served, llama, backends
    gc.collect()
    return result


def _pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, interpolated between closest ranks."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class _LlamaTokens:
    """``tokenizer(text)["input_ids"]`` for :func:`_timed`, backed by a llama.cpp vocabulary."""

    def __init__(self, llm) -> None:  # type: ignore[no-untyped-def]
        self.llm = llm

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True) if text else []
        return {"input_ids": ids}


def _prompt_tokens(llm, messages: list) -> int | None:  # type: ignore[no-untyped-def]
    """Tokens of the chat prompt as llama.cpp renders it with the GGUF's own template."""
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        vocab = llm._model
        formatter = Jinja2ChatFormatter(
            template=llm.metadata["tokenizer.chat_template"],
            eos_token=vocab.token_get_text(vocab.token_eos()),
            bos_token=vocab.token_get_text(vocab.token_bos()),
        )
        prompt = formatter(messages=messages).prompt
        return len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
    except Exception:  # a template or API this llama-cpp-python lacks: leave it out
        return None


def compare_models(models: list[str], questions: int, max_new_tokens: int) -> dict:
    """Two (or more) models on the llama-cpp backend, same served prompts, one run."""
    import gc

    from bot.answers.generators.llama_cpp import LlamaCppGenerator

    prompts, _ = served_prompts(models[0], questions)
    generators = {}
    loads = {}
    for spec in models:
        started = time.time()
        generators[spec] = LlamaCppGenerator(spec)  # base model: no adapter
        loads[spec] = round(time.time() - started, 1)
    tokenizer = _LlamaTokens(generators[models[0]].llm)
    for generator in generators.values():  # warm-up: lazy initialisation on every side
        list(generator.stream(prompts[0][1], max_new_tokens=4))

    runs: dict[str, list[dict]] = {spec: [] for spec in models}
    for i, (question, messages) in enumerate(prompts):
        order = list(models) if i % 2 == 0 else list(reversed(models))
        for spec in order:
            generator = generators[spec]
            generator.llm.reset()  # no KV reuse from the previous prompt: all start cold
            prompt_tokens = _prompt_tokens(generator.llm, messages)
            run = _timed(generator, messages, max_new_tokens, tokenizer)
            runs[spec].append({"question": question, "prompt_tokens": prompt_tokens, **run})

    def stats(spec: str) -> dict:
        rows = runs[spec]
        ttft = [r["ttft_s"] for r in rows]
        total = [r["total_s"] for r in rows]
        decode = [r["decode_tok_s"] for r in rows if r["decode_tok_s"] is not None]
        known = [r["prompt_tokens"] for r in rows if r["prompt_tokens"] is not None]
        return {
            "gguf": str(generators[spec].gguf),
            "gguf_bytes": generators[spec].gguf.stat().st_size,
            "threads": generators[spec].n_threads,
            "load_s": loads[spec],
            "prompt_tokens_p50": statistics.median(known) if known else None,
            "ttft_s_p50": round(_pct(ttft, 0.5), 3),
            "ttft_s_p95": round(_pct(ttft, 0.95), 3),
            "decode_tok_s_p50": round(_pct(decode, 0.5), 2),
            "total_s_p50": round(_pct(total, 0.5), 3),
            "total_s_p95": round(_pct(total, 0.95), 3),
            "total_s_mean": round(statistics.fmean(total), 3),
            "new_tokens_mean": round(statistics.fmean(r["new_tokens"] for r in rows), 1),
            "end_to_end_tok_s_p50": round(
                statistics.median(r["new_tokens"] / r["total_s"] for r in rows), 2
            ),
        }

    summary = {spec: stats(spec) for spec in models}
    base = summary[models[0]]
    ratio_keys = ["ttft_s_p50", "ttft_s_p95", "decode_tok_s_p50", "total_s_p50", "total_s_p95",
                  "total_s_mean", "end_to_end_tok_s_p50", "new_tokens_mean"]  # fmt: skip
    ratios = {
        f"{spec}/{models[0]}": {
            k: round(summary[spec][k] / base[k], 2) if base[k] else None for k in ratio_keys
        }
        for spec in models[1:]
    }
    result = {
        "backend": "llama-cpp",
        "models": models,
        "prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        **summary,
        "ratios": ratios,
        "runs": runs,
    }
    generators.clear()  # free the models before the JSON is printed
    gc.collect()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "smollm2-135m"])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--prefill", default="auto", help="prefill dtype: auto (default), none, float32"
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--compare-backends",
        action="store_true",
        help="transformers vs llama-cpp on the served prompts of the demo store",
    )
    parser.add_argument("--model", default="qwen2.5-0.5b", help="with --compare-backends")
    parser.add_argument(
        "--questions", type=int, default=8, help="with --compare-backends or --compare-models"
    )
    parser.add_argument(
        "--adapter", help="with --compare-backends: this LoRA folder instead of the store's"
    )
    parser.add_argument(
        "--compare-models",
        nargs="+",
        metavar="MODEL",
        help="these models side by side on the llama-cpp backend (ratios are to the first)",
    )
    args = parser.parse_args(argv)
    if args.compare_models:
        # Before torch loads libgomp: llama.cpp's OpenMP threads must sleep, not spin.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    import torch

    results = {
        "machine": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "platform": platform.platform(),
        },
    }
    if args.compare_models:
        import llama_cpp

        results["machine"]["llama_cpp_python"] = llama_cpp.__version__
        results["machine"]["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
        results["compare_models"] = compare_models(
            args.compare_models, args.questions, args.max_new_tokens
        )
    elif args.compare_backends:
        import llama_cpp

        results["machine"]["llama_cpp_python"] = llama_cpp.__version__
        results["compare_backends"] = compare_backends(
            args.model, args.questions, args.max_new_tokens, args.adapter
        )
    else:
        results["models"] = [bench_model(m, args.max_new_tokens, args.prefill) for m in args.models]
    out = json.dumps(results, indent=2)
    print(out)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
