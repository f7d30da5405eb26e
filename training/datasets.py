"""Supervised fine-tuning data for the chat LM, from the store and its conversation log.

Every example is ``{"messages": [...], "target": str, "origin": str}`` where
``messages`` is exactly what the server sends the model
(:func:`bot.answers.prompts.build_messages` over the passages retrieval finds for
the question) and ``target`` is the reply the model should have given.

Where examples come from, best first:

- ``agent``: a human agent's answer after a handoff (``turns.author = 'agent'``);
- ``feedback``: a knowledge answer the customer rated +1;
- ``faq`` / ``faq-paraphrase``: each FAQ question (and light rewordings of it)
  with the FAQ answer as target, so a store can be fine-tuned before it has logs;
- ``policy``: a policy passage asked about by its heading (a few phrasings), the grounded
  (extractive) answer as target;
- ``follow-up``: an FAQ question asked after an earlier exchange (history in
  the prompt), so the model answers the current question, not the last one;
- ``abstain``: a question whose passages do not answer it, with the "not
  sure" reply as target, so the model learns not to improvise.

Turns with any negative rating are excluded, and so are log targets that
state numbers their passages do not (training on them would teach
inventing). A rating is the customer's word, and a customer may be an
attacker rating their own injected reply +1, so a rated turn is used only when
it was a grounded model answer (``action_answer``, not a fallback), its
question carries no instructions to the assistant, and its reply re-passes
every grounding check (:func:`bot.answers.checks.is_supported`: numbers, links,
domains, emails, phone numbers, prompt leaks, echoes of the customer) against
the current text of the sources it cited, looked up in the index. Personal data (emails, phone and card numbers, street addresses)
is scrubbed from every text before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answers.checks import is_supported
from bot.answers.grounding import NOT_SURE_TEXT, answer_sources, extractive_answer, source_texts
from bot.answers.instructions import split_instructions
from bot.answers.numbers import ungrounded_numbers
from bot.answers.prompts import SYSTEM_PROMPT, build_messages
from bot.storage.db import DatabaseError, is_postgres_url, open_database, safe_url
from bot.storage.privacy import redact
from bot.storage.reports import NotALogError, training_log

MAX_HISTORY_TURNS = 2


def scrub(text: str) -> str:
    """``text`` with emails, card numbers, phone numbers and street addresses replaced.

    The same redaction the conversation log applies (:func:`bot.storage.privacy.redact`),
    applied again because a log written before redaction existed, or an agent's
    answer, may still hold personal data.
    """
    return redact(text)


# Light rewordings of an FAQ question: the intent is the same, the surface differs.
_PARAPHRASES = (
    "{q}",
    "Hi, {q_lower}",
    "{q} Thanks!",
    "Quick question: {q_lower}",
    "Could you tell me: {q_lower}",
    "{q_bare}",
)


# Questions about a policy passage, asked by its heading.
_PASSAGE_QUESTIONS = ("Can you explain {t}?", "What is your policy on {t}?")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _variants(question: str, n: int) -> list[str]:
    q = question.strip()
    q_lower = _lower_first(q)
    q_bare = re.sub(r"[?.!]+$", "", q_lower)
    out = [p.format(q=q, q_lower=q_lower, q_bare=q_bare) for p in _PARAPHRASES]
    return list(dict.fromkeys(out))[:n]


@dataclass
class DataReport:
    """How many examples came from where, and what was dropped and why."""

    counts: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    log_turns: int = 0

    def add(self, origin: str) -> None:
        self.counts[origin] = self.counts.get(origin, 0) + 1

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1


def _used_hits(index: Any, question: str) -> list[Any]:
    """The passages the server gives the model for ``question`` (grounding.answer_sources)."""
    return answer_sources(index.search(question, 5))


def _example(question: str, hits: list[Any], history: list[dict], settings: Any,
             target: str, origin: str) -> dict[str, Any]:  # fmt: skip
    question, target = scrub(question), scrub(target.strip())
    # The prompt the server builds: instructions in user turns are cut out of it.
    cleaned = []
    for m in history:
        content = _asked(m["content"]) if m["role"] == "user" else m["content"]
        if content:
            cleaned.append({"role": m["role"], "content": scrub(content)})
    history = cleaned
    return {
        "messages": build_messages(question, hits, history, settings),
        "target": target,
        "origin": origin,
        "question": question,
    }


def store_examples(store: Any, index: Any, report: DataReport,
                   paraphrases: int = 4, seed: int = 0,
                   exclude: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:  # fmt: skip
    """Grounded examples from the store's FAQ, policy passages and products.

    ``exclude``: FAQ and passage ids held out (the gate's cases ask about them).
    """
    rng = random.Random(seed)
    settings = store.settings
    out: list[dict[str, Any]] = []
    faqs = [f for f in store.faqs if f.id not in exclude]
    for faq in faqs:
        for k, question in enumerate(_variants(faq.question, paraphrases)):
            hits = _used_hits(index, question)
            if faq.id not in [h.id for h in hits]:
                report.drop("faq not retrieved for its question")
                continue
            origin = "faq" if k == 0 else "faq-paraphrase"
            out.append(_example(question, hits, [], settings, faq.answer, origin))
            report.add(origin)
    for passage in (p for p in store.passages if p.id not in exclude):
        # "Shipping and delivery — Overnight shipping": ask about the subsection.
        title = re.split(r" > | — ", passage.title)[-1].strip()
        for template in _PASSAGE_QUESTIONS:
            question = template.format(t=title.lower())
            hits = _used_hits(index, question)
            own = [h for h in hits if h.id == passage.id]
            if not own:
                report.drop("passage not retrieved for its heading")
                continue
            # The answer quotes the passage the question is about, conditions kept.
            target = extractive_answer(own)
            out.append(_example(question, hits, [], settings, target, "policy"))
            report.add("policy")
    for product in store.products[::5]:
        question = f"Tell me about the {product.title}."
        hits = _used_hits(index, question)
        own = [h for h in hits if h.id == f"product:{product.id}"]
        if not own:
            report.drop("product not retrieved for its title")
            continue
        out.append(_example(question, hits, [], settings, extractive_answer(own), "product"))
        report.add("product")
    # Follow-up questions: the same FAQ asked after an earlier, unrelated
    # exchange, so the model answers the question in front of it, not the history.
    for faq in rng.sample(faqs, k=min(len(faqs) // 3, len(faqs))):
        before = rng.choice([f for f in faqs if f.id != faq.id] or faqs)
        hits = _used_hits(index, faq.question)
        if faq.id not in [h.id for h in hits]:
            continue
        history = [
            {"role": "user", "content": before.question},
            {"role": "assistant", "content": before.answer},
        ]
        out.append(_example(f"And {_lower_first(faq.question)}", hits, history, settings,
                            faq.answer, "follow-up"))  # fmt: skip
        report.add("follow-up")
    # Abstention: an FAQ question shown only passages about something else.
    for faq in rng.sample(faqs, k=min(len(faqs) // 3, len(faqs))):
        other = rng.choice([f for f in faqs if f.category != faq.category] or faqs)
        hits = [h for h in _used_hits(index, other.question) if h.id != faq.id]
        if not hits or any(faq.id == h.id or faq.answer[:60] in (h.answer or "") for h in hits):
            continue
        out.append(_example(faq.question, hits, [], settings, NOT_SURE_TEXT, "abstain"))
        report.add("abstain")
    return out


def log_examples(log: str | Path, store: Any, index: Any,
                 report: DataReport) -> list[dict[str, Any]]:  # fmt: skip
    """Examples from the conversation log: +1-rated knowledge answers and agent answers.

    ``log``: the conversation database, a SQLite file or a ``postgresql://`` URL, only
    read. Raises FileNotFoundError for a missing file, ValueError when the database
    cannot be read or holds no shopbot conversation log.
    """
    if is_postgres_url(log):
        where, hint = safe_url(str(log)), "pass the database_url the server logs to"
    else:
        log = Path(log)
        where, hint = str(log), "pass the shopbot.db from the store's .shopbot folder"
        if not log.is_file():
            raise FileNotFoundError(f"{log}: no such conversation log")
    try:
        db = open_database(log, read_only=True)
    except DatabaseError as exc:
        raise ValueError(str(exc)) from exc
    try:
        turns, ratings = training_log(db)
    except NotALogError as exc:
        raise ValueError(f"{where} is not a shopbot conversation log ({exc}); {hint}") from exc
    finally:
        db.close()
    report.log_turns = len(turns)
    docs = {d.id: d for d in index.documents}
    settings = store.settings
    out: list[dict[str, Any]] = []
    history: dict[str, list[dict[str, str]]] = {}
    last_question: dict[str, str] = {}
    for row in turns:
        sender, author = row["sender"], (row["author"] or "bot")
        user_text, reply = (row["user_text"] or "").strip(), (row["reply_text"] or "").strip()
        past = history.setdefault(sender, [])
        rated = ratings.get(row["turn_id"], [])
        if author == "agent":
            question = user_text or last_question.get(sender, "")
            if question and reply:
                hits = _used_hits(index, question)
                example = _checked(question, hits, past, settings, reply, "agent", report)
                if example:
                    out.append(example)
            elif reply:
                report.drop("agent answer without a customer question")
        elif any(r < 0 for r in rated):
            report.drop("negative feedback")
        elif any(r > 0 for r in rated):
            if row["action"] != "action_answer":
                report.drop("rated turn not a knowledge answer")
            elif row.get("fallback"):
                report.drop("rated turn was a fallback, not a grounded model answer")
            else:
                ids = [s.get("id") for s in json.loads(row["sources"] or "[]")]
                hits = [docs[i] for i in ids if i in docs]
                if not hits:
                    report.drop("rated answer's sources no longer in the store")
                else:
                    example = _checked(user_text, hits, past, settings, reply, "feedback",
                                       report, strict=True)  # fmt: skip
                    if example:
                        out.append(example)
        if user_text and author != "agent":
            last_question[sender] = user_text
        past.extend(
            [{"role": "user", "content": user_text}, {"role": "assistant", "content": reply}]
            if author != "agent"
            else [{"role": "assistant", "content": reply}]
        )
        del past[: -2 * MAX_HISTORY_TURNS]
    return out


def _checked(question: str, hits: list[Any], history: list[dict], settings: Any, target: str,
             origin: str, report: DataReport, strict: bool = False) -> dict[str, Any] | None:  # fmt: skip
    """A log example, unless its target fails the checks against its passages.

    Always: no numbers its passages do not state, and a question left once
    instructions to the assistant are cut out (the prompt is built from that
    part, as the server does). With ``strict`` (customer-rated model replies)
    also: no instructions in the question at all, no redacted personal data or
    contact in the reply, and the whole :func:`bot.answers.checks.is_supported`
    check against the cited sources' text, with the customer's words as the
    text a reply must not parrot, so a +1 on an injected or phishing reply
    never becomes training data.
    """
    sources = source_texts(hits, settings)
    if ungrounded_numbers(target, sources):
        report.drop(f"{origin} answer has numbers not in its passages")
        return None
    asked, instructions = split_instructions(question)
    if not asked or (strict and instructions):
        report.drop(f"{origin} question carries instructions to the assistant")
        return None
    if strict:
        if _PLACEHOLDER_RE.search(target):
            report.drop(f"{origin} answer held personal data or a contact (redacted in the log)")
            return None
        said = "\n".join([*(m["content"] for m in history if m["role"] == "user"), question])
        system = SYSTEM_PROMPT.format(
            store=getattr(settings, "name", "") or "this store",
            currency=getattr(settings, "currency", "") or "USD",
        )
        ok, _ = is_supported(target, sources, customer_text=said, system_prompt=system)
        if not ok:
            report.drop(f"{origin} answer fails the grounding checks against its sources")
            return None
    report.add(origin)
    return _example(asked, hits, history[-2 * MAX_HISTORY_TURNS :], settings, target, origin)


# What bot/storage/privacy.py puts in place of personal data when the log is written.
_PLACEHOLDER_RE = re.compile(r"\[(?:EMAIL|PHONE|CARD|ADDRESS)\]")


def _asked(text: str) -> str:
    """A customer's message without instructions to the assistant (what the model is shown)."""
    return split_instructions(text)[0]


def deduplicate(examples: list[dict[str, Any]], report: DataReport) -> list[dict[str, Any]]:
    """Drop examples with the same question and target (log examples win, they come first)."""
    seen: set[str] = set()
    out = []
    for ex in examples:
        key = " ".join(ex["question"].lower().split()) + "\x00" + " ".join(ex["target"].split())
        if key in seen:
            report.drop("duplicate")
            continue
        seen.add(key)
        out.append(ex)
    return out


def split(examples: list[dict[str, Any]], val_fraction: float = 0.1,
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """Deterministic train/validation split by a hash of the question's target.

    Grouping by target keeps paraphrases of one FAQ on the same side, so the
    validation loss measures answering unseen questions, not recall.
    """
    train, val = [], []
    for ex in examples:
        h = int(hashlib.sha256(ex["target"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (val if h < val_fraction else train).append(ex)
    if not val and len(train) > 1:
        val.append(train.pop())
    return train, val


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write examples as JSONL (already scrubbed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
