"""Probe: does giving the chat model only the question's closest sentences help?

Runs ``scripts/bench_stores.py`` with the prompt's passages cut to the sentences
nearest the question (MiniLM cosine), within a character budget, instead of each
passage's first ``MAX_PASSAGE_CHARS``. Two modes: ``all`` focuses every passage;
``top1whole`` keeps the best hit whole and focuses the runner-ups. FAQ answers and
passages under 300 characters are always kept whole. The grounding checks are
unchanged (they still see the whole passages). Results: docs/benchmarks.md,
"Focused passages and a larger encoder (probes)".

    FOCUS_MODE=all FOCUS_BUDGET=600 python scripts/probe_focused_passages.py \\
        --stores policy_furniture,taubench_retail,abcd_clothing,faq_electronics \\
        --llm-backend llama-cpp --quiet --json /tmp/focus.json
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_stores  # noqa: E402
import numpy as np  # noqa: E402

import bot.answers.answerer as answering  # noqa: E402
import training.answers as answers  # noqa: E402
from bot.answers.grounding import hit_source_text  # noqa: E402
from bot.answers.text import split_sentences  # noqa: E402

BUDGET = int(os.environ.get("FOCUS_BUDGET", "600"))
MODE = os.environ.get("FOCUS_MODE", "all")
SHORT = 300
_encoder: dict[str, Any] = {}
_eval_bot = answers.eval_bot
_build_messages = answering.build_messages


def eval_bot(*args: Any, **kwargs: Any) -> Any:
    bot = _eval_bot(*args, **kwargs)
    _encoder["current"] = bot.index.encoder
    return bot


def focus(question: str, hits: list[Any]) -> list[Any]:
    """The hits with only their sentences nearest the question, in their own order."""
    units: list[tuple[int, str]] = []
    for i, hit in enumerate(hits):
        text = hit_source_text(hit)
        if hit.type == "faq" or len(text) <= SHORT or (MODE == "top1whole" and i == 0):
            units.append((i, text))
            continue
        sentences, rest = split_sentences(text)
        units += [(i, s.strip()) for s in [*sentences, rest] if s.strip()]
    vectors = _encoder["current"].encode([question] + [u[1] for u in units])
    kept: set[int] = set()
    used = 0
    for j in np.argsort(-(vectors[1:] @ vectors[0])):
        j = int(j)
        if MODE == "top1whole" and units[j][0] == 0:
            kept.add(j)
            continue
        if used + len(units[j][1]) > BUDGET and kept:
            continue
        kept.add(j)
        used += len(units[j][1])
    out = []
    for i, hit in enumerate(hits):
        parts = [units[j][1] for j in sorted(kept) if units[j][0] == i]
        if parts:
            text = " ".join(parts)
            out.append(dataclasses.replace(hit, text=text, answer=text if hit.answer else ""))
    return out


def build_messages(question: str, hits: Any, history: Any, settings: Any, **kw: Any) -> Any:
    return _build_messages(question, focus(question, list(hits)), history, settings, **kw)


if __name__ == "__main__":
    answers.eval_bot = eval_bot
    answering.build_messages = build_messages
    raise SystemExit(bench_stores.main())
