"""The LoRA training loop of ``shopbot finetune``: tokens, loss, steps, checkpoints.

``train`` renders each example with the base model's chat template (the loss
covers only the reply), trains a peft LoRA adapter with AdamW and linear
warm-up/decay in a plain loop, checkpoints every ``Hyper.checkpoint_every``
steps (``resume`` continues an interrupted run) and saves the adapter.
``Hyper`` holds the hyper-parameters every adapter's manifest records.
"""

from __future__ import annotations

import gc
import json
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


# --------------------------------------------------------------------------- tokens


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

    from bot.answers.generators.transformers import cpu_has_native_bf16, torch_dtype

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
