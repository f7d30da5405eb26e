"""``shopbot finetune``: a LoRA adapter for the chat LM from the store and its log.

One run, top to bottom:

1. data: :mod:`training.datasets` builds grounded examples from the store
   (and the conversation log, with ``--logs``), scrubbed, deduplicated, split
   into train and validation; both are written to ``OUT/data/``;
2. tokens (:mod:`training.lora`): each example is rendered with the base model's chat template; the
   loss covers only the reply (the prompt tokens are masked);
3. training (:mod:`training.lora`): peft LoRA (r=8 on ``q_proj``/``v_proj``), bf16 (fp32 on CPUs without bf16 units),
   AdamW with linear warm-up/decay, a plain loop with a progress bar; a
   checkpoint every ``checkpoint_every`` steps makes ``--resume`` continue
   where an interrupted run stopped;
4. the adapter and its manifest (``shopbot-adapter.json``: data counts, base
   model, hyper-parameters, losses, timings) are saved to ``OUT``;
5. the gate (:mod:`training.adapter_gate`): answer cases are run for the store's current model and for the
   new adapter: ``--cases``, or by default cases made from this store's own
   FAQ entries and passages held out of training (one in five) and
   out-of-scope questions (``training.answers.store_cases``); the adapter becomes active only if its pass rate
   is higher and its ungrounded numbers are not more. Otherwise it stays in
   ``OUT``, inactive, and the report says why.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.answers.adapters import MANIFEST_NAME
from bot.answers.prompts import PROMPT_VERSION
from training import datasets
from training.adapter_gate import run_gate
from training.lora import FinetuneError, Hyper, train, training_dtype

# --------------------------------------------------------------------------- data


def build_data(store_dir: Path, logs: Path | str | None, out: Path, hyper: Hyper,
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
    data = build_data(store_dir, logs or None, out, hyper, include_store, progress)
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
    rules its examples were made with (bot.answers.prompts.SYSTEM_PROMPTS), hyper-parameters
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
