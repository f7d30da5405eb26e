"""``shopbot eval answers``: end-to-end answer quality on scripted cases.

A case (one JSONL line) is a short conversation run through the real
pipeline (``Bot.handle``) with a fresh sender::

    {"id": "...", "turns": ["user text", ...], "expect_all": [...], "expect_any": [...],
     "forbid": [...], "expect_handoff": false, "expect_source": "faq-id" | null}

The *last* reply is scored: it must contain every ``expect_all`` string and at
least one ``expect_any`` string (case-insensitive; a string that is a number
such as ``"$20"`` or ``"30%"`` is compared as a number, so ``"$20.00"``
matches), none of the ``forbid`` strings, hand off exactly when
``expect_handoff``, and cite ``expect_source`` when given.

``ungrounded_numbers`` counts, over every generated knowledge answer of every
case (not only the last), the numbers (prices, days, percentages) that appear
in no source the reply used. Replies written by business actions (order
status, product cards) quote the database and are not counted.

The conversation log of an evaluation goes to a temporary database, so the
store's real log and order state are never touched.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answers.numbers import numbers_in, ungrounded_numbers

CASE_KEYS = {"id", "turns", "expect_all", "expect_any", "forbid", "expect_handoff", "expect_source"}
# Optional keys a case may carry for people (ignored by the scorer).
INFO_KEYS = {"category", "note"}
# "$20", "20.00", "30 %", "1,299": strings compared as numbers, not as text.
_NUMERIC_RE = re.compile(r"^\s*[$€£]?\s*\d[\d,]*(?:\.\d+)?\s*(?:%|percent|usd)?\s*$", re.I)


@dataclass
class AnswerCase:
    """One scripted conversation and what its last reply must (not) say."""

    id: str
    turns: list[str]
    expect_all: list[str] = field(default_factory=list)
    expect_any: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    expect_handoff: bool = False
    expect_source: str | None = None
    category: str = ""


def load_cases(path: str | Path) -> list[AnswerCase]:
    """Read answer cases from JSONL; ValueError naming file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such answer-cases file")
    cases: list[AnswerCase] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected a JSON object")
        unknown = set(raw) - CASE_KEYS - INFO_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        case_id = raw.get("id")
        if not isinstance(case_id, str) or not case_id:
            raise ValueError(f"{where}: field 'id' must be a non-empty string")
        if case_id in seen:
            raise ValueError(f"{where}: field 'id': duplicate id {case_id!r}")
        seen.add(case_id)
        turns = raw.get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise ValueError(f"{where}: field 'turns' must be a non-empty list of strings")
        for key in ("expect_all", "expect_any", "forbid"):
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}: field '{key}' must be a list of strings")
        if not isinstance(raw.get("expect_handoff", False), bool):
            raise ValueError(f"{where}: field 'expect_handoff' must be true or false")
        source = raw.get("expect_source")
        if source is not None and not isinstance(source, str):
            raise ValueError(f"{where}: field 'expect_source' must be a string or null")
        cases.append(
            AnswerCase(
                id=case_id,
                turns=turns,
                expect_all=raw.get("expect_all", []),
                expect_any=raw.get("expect_any", []),
                forbid=raw.get("forbid", []),
                expect_handoff=raw.get("expect_handoff", False),
                expect_source=source,
                category=str(raw.get("category", "")),
            )
        )
    if not cases:
        raise ValueError(f"{path}: no answer cases")
    return cases


def contains(reply: str, expected: str) -> bool:
    """Whether ``reply`` says ``expected``: numbers as numbers, text case-insensitively."""
    if _NUMERIC_RE.match(expected):
        wanted = numbers_in(expected.replace("%", " %"))
        return bool(wanted) and wanted <= numbers_in(reply)
    norm = lambda s: " ".join(s.lower().split())  # noqa: E731
    return norm(expected) in norm(reply)


def score_reply(case: AnswerCase, text: str, handoff: bool, source_ids: list[str]) -> list[str]:
    """Why the last reply fails ``case`` (empty list: it passes)."""
    reasons = [f"missing {e!r}" for e in case.expect_all if not contains(text, e)]
    if case.expect_any and not any(contains(text, e) for e in case.expect_any):
        reasons.append(f"none of {case.expect_any!r}")
    reasons += [f"forbidden {f!r}" for f in case.forbid if contains(text, f)]
    if handoff != case.expect_handoff:
        reasons.append(f"handoff {handoff}, expected {case.expect_handoff}")
    if case.expect_source and case.expect_source not in source_ids:
        reasons.append(f"source {case.expect_source!r} not cited ({source_ids})")
    return reasons


async def run_case(bot: Any, case: AnswerCase, source_texts: dict[str, str]) -> dict[str, Any]:
    """Run one case's turns with a fresh sender and score the last reply."""
    sender = f"eval-{case.id}-{uuid.uuid4().hex[:8]}"
    ungrounded: list[str] = []
    latencies: list[float] = []
    reply = None
    fallbacks = 0
    generated = 0
    for text in case.turns:
        started = time.perf_counter()
        reply = await bot.handle(sender, text)
        latencies.append((time.perf_counter() - started) * 1000)
        if reply.action == "action_answer":
            generated += 1
            fallbacks += int(reply.fallback)
            sources = [source_texts.get(s["id"], "") for s in reply.sources]
            ungrounded += ungrounded_numbers(reply.text, sources)
    assert reply is not None
    source_ids = [s["id"] for s in reply.sources]
    reasons = score_reply(case, reply.text, reply.handoff, source_ids)
    return {
        "id": case.id,
        "category": case.category,
        "passed": not reasons,
        "reasons": reasons,
        "reply": reply.text,
        "action": reply.action,
        "handoff": reply.handoff,
        "handoff_correct": reply.handoff == case.expect_handoff,
        "sources": source_ids,
        "fallback": reply.fallback,
        "generated_answers": generated,
        "fallbacks": fallbacks,
        "ungrounded": ungrounded,
        "latency_ms": round(sum(latencies), 1),
    }


def summarise(results: list[dict[str, Any]], model: str, seconds: float) -> dict[str, Any]:
    """Totals over per-case results: pass rate, ungrounded numbers, handoffs, latency."""
    n = len(results)
    generated = sum(r["generated_answers"] for r in results)
    latencies = [r["latency_ms"] for r in results]
    by_category: dict[str, list[bool]] = {}
    for r in results:
        by_category.setdefault(r["category"] or "uncategorised", []).append(r["passed"])
    return {
        "model": model,
        "cases": n,
        "passed": sum(r["passed"] for r in results),
        "pass_rate": round(sum(r["passed"] for r in results) / n, 4) if n else 0.0,
        "ungrounded_numbers": sum(len(r["ungrounded"]) for r in results),
        "handoff_accuracy": round(sum(r["handoff_correct"] for r in results) / n, 4) if n else 0,
        "generated_answers": generated,
        "fallback_rate": round(sum(r["fallbacks"] for r in results) / generated, 4)
        if generated
        else 0.0,
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_ms_max": round(max(latencies), 1) if latencies else 0.0,
        "seconds": round(seconds, 1),
        "pass_rate_by_category": {
            k: round(sum(v) / len(v), 4) for k, v in sorted(by_category.items())
        },
        "results": results,
    }


def source_texts_of(bot: Any) -> dict[str, str]:
    """Quotable text of every indexed document, by id (what a reply may be grounded in)."""
    return {d.id: d.answer or d.text for d in bot.index.documents}


async def evaluate_bot(bot: Any, cases: list[AnswerCase], progress: bool = False) -> dict[str, Any]:
    """Run every case through ``bot`` and summarise."""
    from tqdm import tqdm

    texts = source_texts_of(bot)
    started = time.perf_counter()
    results = []
    for case in tqdm(cases, desc="answer cases", unit="case", disable=not progress):
        results.append(await run_case(bot, case, texts))
    name = getattr(bot.answerer.generator, "name", "?")
    return summarise(results, name, time.perf_counter() - started)


def eval_bot(config: Any, generator: Any = None, progress: bool = True) -> Any:
    """A bot for evaluation: the config's store and model, a throwaway log and order state."""
    from bot.assemble import load_bot_sync
    from bot.config import replace

    tmp = Path(tempfile.mkdtemp(prefix="shopbot-eval-"))
    config = replace(config, db_path=tmp / "eval.db", rate_limit_per_minute=0)
    return load_bot_sync(config, progress=progress, generator=generator)


def evaluate_answers(
    config: Any, cases_path: str | Path, generator: Any = None, progress: bool = True
) -> dict[str, Any]:
    """Load the bot for ``config`` and score the cases in ``cases_path``."""
    cases = load_cases(cases_path)
    bot = eval_bot(config, generator=generator, progress=progress)
    try:
        return asyncio.run(evaluate_bot(bot, cases, progress=progress))
    finally:
        bot.conversations.close()


def print_summary(result: dict[str, Any], failures: int = 10) -> None:
    """A short human-readable report of an evaluation."""
    print(
        f"{result['model']}: {result['passed']}/{result['cases']} passed "
        f"(pass_rate {result['pass_rate']:.3f}), ungrounded_numbers {result['ungrounded_numbers']}, "
        f"handoff_accuracy {result['handoff_accuracy']:.3f}, fallback_rate "
        f"{result['fallback_rate']:.3f}, latency p50 {result['latency_ms_p50']} ms"
    )
    for category, rate in result["pass_rate_by_category"].items():
        print(f"  {category:>14}: {rate:.3f}")
    failed = [r for r in result["results"] if not r["passed"]]
    for r in failed[:failures]:
        print(f"  FAIL {r['id']}: {'; '.join(r['reasons'])}")
    if len(failed) > failures:
        print(f"  ... and {len(failed) - failures} more failures (see --json)")


def main(args: Any) -> int:
    """Entry point of ``shopbot eval answers``."""
    from bot.assemble import command_config

    config = command_config(args)
    result = evaluate_answers(config, args.cases, progress=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print_summary(result)
    return 0


# --------------------------------------------------------------------------- cases from a store

# Replies that abstain honestly (the bot's fixed texts and a model's "not sure").
ABSTAIN_EXPECT = ["not sure", "can't help", "connect you", "person"]
# One in this many FAQ entries and passages is held out of training for the gate.
HOLD_OUT_EVERY = 5


def held_out_ids(store: Any) -> set[str]:
    """The FAQ entries and passages kept out of fine-tuning to judge it (stable per id)."""
    import hashlib

    ids = [f.id for f in store.faqs] + [p.id for p in store.passages]
    return {i for i in ids if int(hashlib.sha256(i.encode()).hexdigest(), 16) % HOLD_OUT_EVERY == 0}


def _key_facts(answer: str, doc_freq: dict[str, int]) -> list[str]:
    """Strings a correct reply to a question about ``answer`` contains: its numbers,
    else its rarest words in the store."""
    numbers = sorted(numbers_in(answer))
    if numbers:
        return numbers[:3]
    words = dict.fromkeys(re.findall(r"[A-Za-z]{5,}", answer.lower()))
    rare = sorted(words, key=lambda w: (doc_freq.get(w, 0), w))
    return rare[:3]


def store_cases(store: Any, seed: int = 0, held_out: set[str] | None = None) -> list[AnswerCase]:
    """Answer cases made from a store's own held-out entries, plus out-of-scope ones.

    Each held-out FAQ entry and passage (:func:`held_out_ids`) is asked as a
    customer would (rule paraphrases, knowledge_base/calibration.py) and must
    be answered with its facts and cited; CLINC150 out-of-scope questions and
    injection attempts must be abstained on. Used by the fine-tuning gate when
    no ``--cases`` are given, so a merchant's adapter is judged on that
    merchant's store, from an installed package as from a checkout.
    """
    import random

    from knowledge_base.calibration import (
        INJECTIONS,
        document_questions,
        out_of_scope_questions,
    )

    rng = random.Random(seed)
    held_out = held_out_ids(store) if held_out is None else held_out
    docs = [d for d in store.documents() if d.id in held_out]
    doc_freq: dict[str, int] = {}
    for d in store.documents():
        for w in set(re.findall(r"[A-Za-z]{5,}", d.answer.lower())):
            doc_freq[w] = doc_freq.get(w, 0) + 1
    cases = []
    for doc in docs:
        questions = document_questions(doc, rng)
        # Not the FAQ's own wording: a paraphrase, as a customer asks.
        question = questions[1] if len(questions) > 1 else questions[0]
        cases.append(
            AnswerCase(
                id=f"store-{doc.id}",
                turns=[question],
                expect_any=_key_facts(doc.answer, doc_freq),
                expect_source=doc.id,
                category=doc.type,
            )
        )
    n_out = max(4, len(cases) // 3)
    pool = out_of_scope_questions(rng, n_out)
    asked = pool[: n_out - 2] + rng.sample(list(INJECTIONS), 2)
    for k, question in enumerate(asked):
        cases.append(
            AnswerCase(
                id=f"out-of-scope-{k:02d}",
                turns=[question],
                expect_any=list(ABSTAIN_EXPECT),
                category="unanswerable",
            )
        )
    return cases


def write_cases(path: Path, cases: list[AnswerCase]) -> None:
    """Answer cases as JSONL (the format :func:`load_cases` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for c in cases:
            row = {
                "id": c.id,
                "category": c.category,
                "turns": c.turns,
                "expect_all": c.expect_all,
                "expect_any": c.expect_any,
                "forbid": c.forbid,
                "expect_handoff": c.expect_handoff,
                "expect_source": c.expect_source,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
