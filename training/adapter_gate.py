"""The gate of ``shopbot finetune``: the store's current model against the new adapter.

Both answer the same cases (``training.answers``), each from a fresh bot;
the adapter becomes active only if its pass rate is higher and its ungrounded
numbers are not more.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from bot.answers.adapters import activate, active_adapter


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
