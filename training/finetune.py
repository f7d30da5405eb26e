"""``shopbot finetune``: a LoRA adapter for the chat LM from the store and its log.

One run, top to bottom:

1. data: :mod:`training.datasets` builds grounded examples from the store
   (and the conversation log, with ``--logs``), scrubbed, deduplicated, split
   into train and validation; both are written to ``OUT/data/``;
2. tokens: each example is rendered with the base model's chat template; the
   loss covers only the reply (the prompt tokens are masked);
3. training: peft LoRA (r=8 on ``q_proj``/``v_proj``), bf16 (fp32 on CPUs without bf16 units),
   AdamW with linear warm-up/decay, a plain loop with a progress bar; a
   checkpoint every ``checkpoint_every`` steps makes ``--resume`` continue
   where an interrupted run stopped;
4. the adapter and its manifest (``shopbot-adapter.json``: data counts, base
   model, hyper-parameters, losses, timings) are saved to ``OUT``;
5. the gate: answer cases are run for the store's current model and for the
   new adapter: ``--cases``, or by default cases made from this store's own
   FAQ entries and passages held out of training (one in five) and
   out-of-scope questions (``training.answers.store_cases``); the adapter becomes active only if its pass rate
   is higher and its ungrounded numbers are not more. Otherwise it stays in
   ``OUT``, inactive, and the report says why.
"""

from __future__ import annotations

import gc
import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.answers.adapters import MANIFEST_NAME, activate, active_adapter
from bot.answers.grounding import PROMPT_VERSION
from training import datasets


class FinetuneError(ValueError):
    """Bad input for fine-tuning (no data, unusable log, ...); the message says what to do."""


@dataclass
class Hyper:
    """Training hyper-parameters (recorded in the manifest)."""

    steps: int = 200
    batch_size: int = 4
    learning_rate: float = 2e-4
    warmup_steps: int = 10
    max_length: int = 768
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    # LoRA on the top N transformer layers only (0: all). Backpropagation then
    # stops at the lowest adapted layer: on Qwen 0.5B (24 layers) the top 8
    # make a step about twice as fast, and the behaviour this adapter teaches
    # (answer from the passages, keep conditions, abstain) lives near the top.
    lora_layers: int = 8
    paraphrases: int = 2
    val_fraction: float = 0.1
    checkpoint_every: int = 10
    eval_every: int = 50
    seed: int = 0
    # "auto": bf16 where the CPU has bf16 matrix units (AVX512-BF16, AMX), else
    # fp32. On plain AVX2 a bf16 training step is ~8x slower than fp32
    # (SmolLM2, 4 x 128 tokens: 424 s vs 51 s on a loaded 2-core machine).
    dtype: str = "auto"


# --------------------------------------------------------------------------- data


def build_data(store_dir: Path, logs: Path | None, out: Path, hyper: Hyper,
               include_store: bool = True, progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Build, write and return ``{"train", "val", "report"}``; FinetuneError if nothing usable."""
    from knowledge_base.build import ensure_built
    from knowledge_base.embeddings import get_encoder
    from knowledge_base.index import KnowledgeIndex

    encoder = get_encoder()
    artifacts = ensure_built(store_dir, progress=progress, encoder=encoder)
    index = KnowledgeIndex.load(artifacts.index_dir, encoder)
    report = datasets.DataReport()
    examples: list[dict[str, Any]] = []
    if logs is not None:
        try:
            examples += datasets.log_examples(logs, artifacts.store, index, report)
        except (FileNotFoundError, ValueError) as exc:
            raise FinetuneError(str(exc)) from exc
        if report.log_turns == 0:
            raise FinetuneError(
                f"the conversation log {logs} is empty: it has no turns yet. Serve the store for "
                "a while (or run without --logs to train on the store's own data)."
            )
        if not examples:
            raise FinetuneError(
                f"the conversation log {logs} has {report.log_turns} turns but none usable for "
                "training: fine-tuning uses knowledge answers rated +1 and human agents' answers "
                f"after a handoff (dropped: {report.dropped or 'no rated or agent turns'})."
            )
    held_out: set[str] = set()
    if include_store:
        from training.answers import held_out_ids, store_cases, write_cases

        # One in five FAQ entries and passages stays out of training; the gate asks about them.
        held_out = held_out_ids(artifacts.store)
        examples += datasets.store_examples(
            artifacts.store, index, report, paraphrases=hyper.paraphrases, seed=hyper.seed,
            exclude=held_out,
        )  # fmt: skip
        write_cases(
            out / "data" / "gate_cases.jsonl", store_cases(artifacts.store, held_out=held_out)
        )
    examples = datasets.deduplicate(examples, report)
    if not examples:
        raise FinetuneError("no training examples: the store has no FAQ or policy passages")
    train, val = datasets.split(examples, hyper.val_fraction)
    datasets.write_jsonl(out / "data" / "train.jsonl", train)
    datasets.write_jsonl(out / "data" / "val.jsonl", val)
    return {"train": train, "val": val, "report": report, "held_out": sorted(held_out)}


def tokenize(
    tokenizer: Any, example: dict[str, Any], max_length: int
) -> dict[str, list[int]] | None:
    """Chat-template token ids with the prompt masked out of the labels; None if too long."""
    prompt = tokenizer.apply_chat_template(
        example["messages"], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(
        [*example["messages"], {"role": "assistant", "content": example["target"]}],
        tokenize=False,
    )
    if not full.startswith(prompt):  # templates that rewrite earlier turns: keep it simple
        full = prompt + example["target"] + (tokenizer.eos_token or "")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    # Drop the template's trailing newline after the end-of-turn marker.
    while ids and tokenizer.decode(ids[-1:]).strip() == "":
        ids = ids[:-1]
    if len(ids) > max_length or len(ids) <= len(prompt_ids):
        return None
    labels = [-100] * len(prompt_ids) + ids[len(prompt_ids) :]
    return {"input_ids": ids, "labels": labels}


def _target_loss(model: Any, row: dict[str, list[int]]) -> tuple[Any, int]:
    """Summed next-token loss over one example's target tokens, and their count.

    One example at a time (a batch is accumulated), so there is no padding,
    and the vocabulary projection runs only where a target token is predicted:
    with ~450 prompt tokens and a 151k-token vocabulary (Qwen), projecting
    every prompt position costs about a quarter of the step for nothing.
    """
    import torch

    ids = torch.tensor([row["input_ids"]])
    labels = torch.tensor(row["labels"])
    first = int((labels != -100).nonzero()[0])  # the first target token
    keep = len(row["input_ids"]) - first + 1  # logits at positions first-1 .. end
    logits = model(input_ids=ids, logits_to_keep=keep).logits[0, :-1].float()
    targets = labels[first:]
    loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    return loss, int(targets.numel())


# --------------------------------------------------------------------------- training


def training_dtype(name: str) -> Any:
    """The torch dtype to train in: ``"auto"`` picks bf16 only on CPUs with native bf16."""
    import torch

    from bot.answers.generation import cpu_has_native_bf16, torch_dtype

    if name == "auto":
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    return torch_dtype(name)


def _lr_at(step: int, hyper: Hyper) -> float:
    if step < hyper.warmup_steps:
        return hyper.learning_rate * (step + 1) / hyper.warmup_steps
    left = max(hyper.steps - hyper.warmup_steps, 1)
    return hyper.learning_rate * max(0.0, 1 - (step - hyper.warmup_steps) / left)


def _val_loss(model: Any, rows: list[dict[str, list[int]]]) -> float:
    """Mean loss per target token over ``rows``."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in rows:
            loss, n = _target_loss(model, row)
            total += float(loss)
            count += n
    model.train()
    return total / max(count, 1)


def _top_layers(model: Any, count: int) -> list[int] | None:
    """Indices of the top ``count`` transformer layers (None: all of them)."""
    total = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if count <= 0 or total <= count:
        return None
    return list(range(total - count, total))


def _latest_checkpoint(out: Path) -> Path | None:
    found = sorted((out / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return found[-1] if found else None


def train(model_folder: Path, train_rows: list[dict[str, Any]], val_rows: list[dict[str, Any]],
          out: Path, hyper: Hyper, resume: bool = False, progress: bool = True,
          log: Any = print, until_step: int | None = None) -> dict[str, Any]:  # fmt: skip
    """LoRA-train on tokenized examples; saves the adapter into ``out``; returns metrics.

    ``until_step`` stops early after that step with a checkpoint (and no
    adapter): a run on a busy machine can be done in slices with ``resume``.
    """
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(hyper.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(model_folder))
    train_tok = [t for t in (tokenize(tokenizer, e, hyper.max_length) for e in train_rows) if t]
    val_tok = [t for t in (tokenize(tokenizer, e, hyper.max_length) for e in val_rows) if t]
    too_long = len(train_rows) + len(val_rows) - len(train_tok) - len(val_tok)
    if not train_tok:
        raise FinetuneError(
            f"every training example is longer than max_length={hyper.max_length} tokens; "
            "raise --max-length"
        )
    dtype = training_dtype(hyper.dtype)
    base = AutoModelForCausalLM.from_pretrained(str(model_folder), dtype=dtype)
    checkpoint = _latest_checkpoint(out) if resume else None
    if checkpoint is not None:
        model = PeftModel.from_pretrained(base, str(checkpoint), is_trainable=True)
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        log(f"resuming from {checkpoint} (step {state['step']})")
    else:
        lora = LoraConfig(
            r=hyper.lora_r,
            lora_alpha=hyper.lora_alpha,
            lora_dropout=hyper.lora_dropout,
            target_modules=list(hyper.target_modules),
            layers_to_transform=_top_layers(base, hyper.lora_layers),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(base, lora)
        state = {"step": 0, "history": []}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hyper.learning_rate, weight_decay=0.0)
    if checkpoint is not None and (checkpoint / "optimizer.pt").is_file():
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
    model.train()

    # A fixed shuffled order per epoch, so a resumed run sees the same batches.
    def batch_at(step: int) -> list[dict[str, list[int]]]:
        per_epoch = max(1, math.ceil(len(train_tok) / hyper.batch_size))
        epoch, k = divmod(step, per_epoch)
        order = list(range(len(train_tok)))
        random.Random(hyper.seed + epoch).shuffle(order)
        picked = order[k * hyper.batch_size : (k + 1) * hyper.batch_size]
        return [train_tok[i] for i in picked] or [train_tok[order[0]]]

    history: list[dict[str, Any]] = state["history"]
    started = time.time()
    first_step = state["step"]
    bar = tqdm(total=hyper.steps, initial=first_step, desc="fine-tuning", unit="step",
               disable=not progress)  # fmt: skip
    last_step = min(hyper.steps, until_step) if until_step else hyper.steps
    for step in range(first_step, last_step):
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, hyper)
        # Gradients accumulate example by example; the step's loss is the mean
        # over all its target tokens, as one padded batch would give.
        rows = batch_at(step)
        tokens = sum(sum(1 for x in r["labels"] if x != -100) for r in rows)
        total = 0.0
        for row in rows:
            loss, _ = _target_loss(model, row)
            (loss / tokens).backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        entry: dict[str, Any] = {"step": step + 1, "loss": round(total / tokens, 4)}
        if val_tok and ((step + 1) % hyper.eval_every == 0 or step + 1 == hyper.steps):
            entry["val_loss"] = round(_val_loss(model, val_tok), 4)
            log(f"step {step + 1}: loss {entry['loss']:.4f}, val_loss {entry['val_loss']:.4f}")
        history.append(entry)
        bar.update(1)
        bar.set_postfix(loss=f"{entry['loss']:.3f}")
        if (step + 1) % hyper.checkpoint_every == 0 and step + 1 < hyper.steps:
            _save_checkpoint(model, optimizer, out, step + 1, history)
    bar.close()
    seconds = time.time() - started
    trained_steps = last_step - first_step
    if last_step < hyper.steps:
        if last_step % hyper.checkpoint_every:  # not saved by the loop yet
            _save_checkpoint(model, optimizer, out, last_step, history)
        log(f"stopped after step {last_step} of {hyper.steps}; continue with --resume")
        return {"steps": last_step, "stopped_early": True, "history": history,
                "train_seconds": round(seconds, 1)}  # fmt: skip
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out / "tokenizer"))
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    vals = [h["val_loss"] for h in history if "val_loss" in h]
    losses = [h["loss"] for h in history]
    del model, base
    gc.collect()
    return {
        "steps": hyper.steps,
        "steps_this_run": trained_steps,
        "train_examples_tokenized": len(train_tok),
        "val_examples_tokenized": len(val_tok),
        "dropped_too_long": too_long,
        "first_loss": losses[0] if losses else None,
        "final_loss": round(sum(losses[-10:]) / len(losses[-10:]), 4) if losses else None,
        "val_loss": vals[-1] if vals else None,
        "train_seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / trained_steps, 2) if trained_steps else None,
        "history": history,
    }


def _save_checkpoint(model: Any, optimizer: Any, out: Path, step: int, history: list) -> None:
    """Adapter + optimizer + step, written to a temp folder and renamed (a crash leaves the last good one)."""
    import torch

    root = out / "checkpoints"
    tmp = root / f".step-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "trainer_state.json").write_text(json.dumps({"step": step, "history": history}))
    final = root / f"step-{step}"
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in root.glob("step-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- the gate


def gate_decision(current: dict[str, Any], new: dict[str, Any]) -> tuple[bool, str]:
    """Activate only if the pass rate is higher and ungrounded numbers are not more."""
    summary = (
        f"pass rate {current['pass_rate']:.3f} -> {new['pass_rate']:.3f}, "
        f"ungrounded numbers {current['ungrounded_numbers']} -> {new['ungrounded_numbers']}"
    )
    if new["pass_rate"] <= current["pass_rate"]:
        return False, f"not activated: pass rate is not higher ({summary})"
    if new["ungrounded_numbers"] > current["ungrounded_numbers"]:
        return False, f"not activated: more ungrounded numbers ({summary})"
    return True, f"activated: {summary}"


def run_gate(store_dir: Path, base: str, adapter_dir: Path, cases: Path,
             progress: bool = True, log: Any = print) -> dict[str, Any]:  # fmt: skip
    """Evaluate current vs new on ``cases``; activate the new adapter if it wins."""
    import asyncio

    from bot.answers.generation import load_generator
    from bot.config import load_config
    from training.answers import eval_bot, evaluate_bot, load_cases

    case_list = load_cases(cases)
    config = load_config(store_dir, llm_model=base, llm_backend="transformers")
    current_adapter = active_adapter(store_dir, base)
    results = {}
    for label, adapter in (("current", current_adapter), ("new", adapter_dir)):
        log(f"gate: evaluating the {label} model ({adapter or base}) on {len(case_list)} cases")
        generator = load_generator(backend="transformers", model=base, adapter=adapter)
        # A fresh bot per model: the cases cancel orders and open handoffs, and the
        # second model must start from the same order state as the first.
        bot = eval_bot(config, generator=generator, progress=False)
        try:
            results[label] = asyncio.run(evaluate_bot(bot, case_list, progress=progress))
        finally:
            bot.conversations.close()
        results[label]["adapter"] = str(adapter) if adapter else None
        del generator, bot
        gc.collect()
    ok, reason = gate_decision(results["current"], results["new"])
    if ok:
        activate(store_dir, adapter_dir, base_model=base, reason=reason,
                 pass_rate=results["new"]["pass_rate"],
                 ungrounded_numbers=results["new"]["ungrounded_numbers"])  # fmt: skip
    return {
        "activated": ok,
        "reason": reason,
        "cases": str(cases),
        "current": {k: v for k, v in results["current"].items() if k != "results"},
        "new": {k: v for k, v in results["new"].items() if k != "results"},
        "per_case": {
            label: [
                {"id": r["id"], "passed": r["passed"], "reply": r["reply"], "reasons": r["reasons"]}
                for r in results[label]["results"]
            ]
            for label in results
        },
    }


# --------------------------------------------------------------------------- the command


def finetune(store_dir: str | Path, out: str | Path, logs: str | Path | None = None,
             base: str = "qwen2.5-0.5b", hyper: Hyper | None = None, resume: bool = False,
             gate: bool = True, cases: str | Path | None = None, include_store: bool = True,
             progress: bool = True, log: Any = print,
             until_step: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The whole run; returns the manifest (also written to ``OUT/shopbot-adapter.json``).

    With ``until_step`` the run stops after that step with a checkpoint (no
    adapter, no gate); ``resume=True`` continues it.
    """
    from bot.answers.models import ModelLoadError, ensure_hf_folder, resolve_model

    hyper = hyper or Hyper()
    store_dir, out = Path(store_dir).resolve(), Path(out).resolve()
    # The gate's cases: --cases, else cases made from this store's held-out entries
    # (written to OUT/data/gate_cases.jsonl by build_data).
    cases_path = Path(cases) if cases else out.resolve() / "data" / "gate_cases.jsonl"
    if gate and cases and not cases_path.is_file():
        raise FinetuneError(f"{cases_path}: no such answer-cases file for the gate (--cases)")
    if gate and not cases and not include_store:
        raise FinetuneError(
            "the gate needs answer cases: pass --cases, or train on the store's data too "
            "(its held-out entries make the cases)"
        )
    try:
        folder = ensure_hf_folder(resolve_model(base))
    except ModelLoadError as exc:
        raise FinetuneError(f"base model '{base}' is not available: {exc}") from exc
    if out.exists() and any(out.iterdir()) and not resume:
        if (out / "adapter_config.json").is_file() or (out / "checkpoints").is_dir():
            raise FinetuneError(
                f"{out} already holds an adapter or checkpoints; pass --resume to continue "
                "that run, or choose another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    data = build_data(store_dir, Path(logs) if logs else None, out, hyper, include_store, progress)
    report: datasets.DataReport = data["report"]
    log(
        f"data: {len(data['train'])} train / {len(data['val'])} validation examples "
        f"({', '.join(f'{k} {v}' for k, v in sorted(report.counts.items()))}); "
        f"dropped: {report.dropped or 'none'}"
    )
    metrics = train(folder, data["train"], data["val"], out, hyper, resume, progress, log,
                    until_step=until_step)  # fmt: skip
    if metrics.get("stopped_early"):
        return {"made_by": "shopbot finetune", "stopped_early": True, "metrics": metrics}
    manifest: dict[str, Any] = {
        **adapter_manifest("shopbot finetune", base, hyper, metrics),
        "base_model_folder": str(folder),
        "store": str(store_dir),
        "logs": str(logs) if logs else None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "data": {
            "train": len(data["train"]),
            "validation": len(data["val"]),
            "by_origin": report.counts,
            "dropped": report.dropped,
            "log_turns": report.log_turns,
            "held_out_for_gate": data["held_out"],
        },
    }
    _write_manifest(out, manifest)
    if gate:
        manifest["gate"] = run_gate(store_dir, base, out, cases_path, progress, log)
        log(f"gate: {manifest['gate']['reason']}")
    else:
        manifest["gate"] = {"activated": False, "reason": "not activated: gate skipped (--no-gate)"}
    manifest["total_seconds"] = round(time.time() - started, 1)
    _write_manifest(out, manifest)
    return manifest


def adapter_manifest(
    made_by: str, base: str, hyper: Hyper, metrics: dict[str, Any]
) -> dict[str, Any]:
    """What every adapter's manifest records: who made it, the base model, the prompt
    rules its examples were made with (bot.answers.grounding.SYSTEM_PROMPTS), hyper-parameters
    and training metrics."""
    return {
        "made_by": made_by,
        "prompt_version": PROMPT_VERSION,
        "base_model": base,
        "hyper_parameters": {
            **asdict(hyper),
            "target_modules": list(hyper.target_modules),
            "dtype": str(training_dtype(hyper.dtype)).removeprefix("torch."),
            "device": "cpu",
        },
        "metrics": {k: v for k, v in metrics.items() if k != "history"},
        "loss_history": metrics["history"],
    }


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def main(args: Any) -> int:
    """Entry point of ``shopbot finetune``."""
    from bot.config import DEMO_STORE

    hyper = Hyper(steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
                  max_length=args.max_length)  # fmt: skip
    try:
        manifest = finetune(
            args.store or DEMO_STORE, args.out, logs=args.logs, base=args.base, hyper=hyper,
            resume=args.resume, gate=not args.no_gate, cases=args.cases,
        )  # fmt: skip
    except FinetuneError as exc:
        print(f"shopbot finetune: {exc}\nNo adapter was activated.")
        return 2
    m = manifest["metrics"]
    print(
        f"adapter saved to {args.out}: {m['steps']} steps, loss {m['first_loss']} -> "
        f"{m['final_loss']}, val_loss {m['val_loss']}, {m['seconds_per_step']} s/step, "
        f"{m['train_seconds']} s training"
    )
    print(manifest["gate"]["reason"])
    return 0
