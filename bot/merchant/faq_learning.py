"""FAQ entries learned from people: what customers asked that the store could not answer.

Two kinds of evidence in the turn log (read through bot/storage/reports.py, on
SQLite or PostgreSQL):

- **resolved handoffs**: a conversation an agent answered and handed back. The
  question is what the customer asked before the agent's answer (the messages
  the bot could not answer, or sent while waiting; else the last one before the
  handoff), the answer is the agent's longest reply;
- **unanswered questions**: messages the bot abstained on or could only answer
  with a clarifying question.

Every text is scrubbed first (bot/merchant/scrub.py). The questions are embedded
with the store's own encoder (the one its index was built with) and clustered
(average linkage on cosine similarity, threshold from :func:`merge_threshold`).
A cluster becomes a proposal when an agent answered one of its questions, or
when at least ``min_conversations`` customers asked it (then with an empty
answer for the merchant to write). A cluster is skipped when the store already
answers it (the index's best hit for its central question is an FAQ that the
store's calibration would quote) or when it is a proposal already: new evidence
for a waiting proposal is merged into it, a decided one is left alone.
Proposals go to bot/merchant/faq_proposals.py; nothing is written to the store.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bot.merchant.faq_proposals import PENDING, FAQProposals
from bot.merchant.scrub import MARK_RE, Scrubber, personal_marks
from bot.storage import reports
from bot.storage.db import Database
from knowledge_base.calibration import document_questions, out_of_scope_questions
from knowledge_base.pages import passage_heading
from knowledge_base.store import load_store

# Risk tolerances, the same for every store; the similarities they translate to are the
# store's own (see merge_threshold).
MERGE_RATE = 0.05  # share of pairs of the store's distinct questions we would merge
PARAPHRASE_SPLIT = 0.10  # share of rule-made rewordings we would split from their question
MIN_REFERENCE = 8  # distinct reference questions needed to calibrate on the store
MAX_REFERENCE = 1000
MAX_QUESTIONS = 3000  # newest unanswered messages read per run (the clustering is O(n^2))
MAX_VARIANTS = 10
MIN_CONVERSATIONS = 2
CHITCHAT = frozenset({"greet", "goodbye", "thanks", "affirm", "deny"})
NOT_QUESTIONS = frozenset({"action_handoff", "action_verify_customer", "action_restart"})
WAITING = frozenset({"handoff_waiting", "handoff_to_agent"})
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Threshold:
    """The similarity at which two questions are one topic, and what it was chosen from."""

    value: float
    source: str  # "faq", "faq+passages" or "out-of-scope" (the reference questions)
    reference: int  # distinct reference questions
    distinct_point: float  # the (1 - MERGE_RATE) quantile of their pairwise similarities
    paraphrase_point: float | None  # the PARAPHRASE_SPLIT quantile of rewording similarities


@dataclass
class Asked:
    """One customer question, scrubbed, with where it came from."""

    text: str
    turn_id: str
    sender: str  # a hash of the sender id: conversations are counted, not named
    ts: float
    handoff_id: int | None = None
    answer: str = ""  # the agent's answer (scrubbed), for a handoff's question
    answers: list[str] = field(default_factory=list)


@dataclass
class LearningRun:
    """What one ``propose`` did."""

    threshold: Threshold
    questions: int = 0  # questions clustered
    handoffs: int = 0  # resolved handoffs read
    clusters: int = 0
    proposed: list[dict[str, Any]] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    answered: list[dict[str, Any]] = field(default_factory=list)  # skipped: the FAQ answers
    known: int = 0  # skipped: a decided proposal, or nothing new for a waiting one
    rare: int = 0  # skipped: fewer customers than min_conversations, no agent answer
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "threshold": asdict(self.threshold),
            "questions": self.questions,
            "handoffs": self.handoffs,
            "clusters": self.clusters,
            "proposed": len(self.proposed),
            "merged": len(self.merged),
            "already_answered": len(self.answered),
            "known": self.known,
            "too_rare": self.rare,
            "seconds": round(self.seconds, 2),
        }


# --------------------------------------------------------------------------- threshold


def merge_threshold(store: Any, encoder: Any, seed: int = 0) -> Threshold:
    """The cosine at which two customer questions count as one topic, from the store itself.

    The store's FAQ says which questions its merchant keeps apart: two of its distinct
    questions are different topics, however close their wording ("How do I cancel my
    order?", "Can I cancel an order that has already shipped?"). The threshold is the
    similarity that only ``MERGE_RATE`` of the pairs of distinct FAQ questions reach, so
    two questions are merged only when they are closer than nearly all of the store's
    own distinct questions are to each other. Rule-made rewordings of each question
    (knowledge_base/calibration.py: keywords only, a typo, synonyms ...) cap it: at
    most ``PARAPHRASE_SPLIT`` of them may fall below it. They only cap it, because they
    keep the store's words and are easier than customers' own rewordings (which sit
    lower: on the demo store, hand-written paraphrases of one question have a median
    cosine of 0.55 with MiniLM, rule-made ones 0.87). No constant here is a similarity:
    with MiniLM the point is 0.39 to 0.50 on the English dev stores with an FAQ (0.43 to
    0.68 where headings stand in), with the multilingual e5 (whose cosines run high) 0.89
    on the Chinese one.

    With fewer than ``MIN_REFERENCE`` FAQ entries the policy passages' headings join
    them; with fewer still, the shipped out-of-scope questions (random distinct
    questions) are the reference and nothing caps the point.
    """
    rng = random.Random(seed)
    groups, source = _reference_groups(store, rng)
    if len(groups) < MIN_REFERENCE:
        canon = [[q] for q in out_of_scope_questions(rng, 60, store.settings.language)]
        groups, source = canon, "out-of-scope"
    canonical = encoder.encode([g[0] for g in groups])
    sims = canonical @ canonical.T
    distinct = sims[np.triu_indices(len(groups), 1)]
    distinct_point = float(np.quantile(distinct, 1 - MERGE_RATE))
    variants = [(i, q) for i, g in enumerate(groups) for q in g[1:]]
    paraphrase_point = None
    if variants and source != "out-of-scope":
        vecs = encoder.encode([q for _, q in variants])
        own = np.einsum("ij,ij->i", vecs, canonical[[i for i, _ in variants]])
        paraphrase_point = float(np.quantile(own, PARAPHRASE_SPLIT))
    value = distinct_point if paraphrase_point is None else min(distinct_point, paraphrase_point)
    return Threshold(round(value, 4), source, len(groups), distinct_point, paraphrase_point)


def _reference_groups(store: Any, rng: random.Random) -> tuple[list[list[str]], str]:
    """The store's distinct questions, each in a group with its rule-made rewordings after
    it: the FAQ's questions, and with too few of them the passages' headings asked
    as questions ("Cancelling an order?": the heading alone, since a template such as
    "what is your ...?" would make every heading look alike)."""
    language = store.settings.language
    docs = [d for d in store.documents() if d.type == "faq"]
    source = "faq"
    if len(docs) < MIN_REFERENCE:
        for d in store.documents():
            if d.type == "passage":
                heading = (passage_heading(d.title) or d.title).strip().rstrip("?") + "?"
                docs.append(SimpleNamespace(type="faq", title=heading))
        source = "faq+passages"
    if len(docs) > MAX_REFERENCE:
        docs = rng.sample(docs, MAX_REFERENCE)
    groups = [g for g in (document_questions(d, rng, language) for d in docs) if g]
    return groups, source


# --------------------------------------------------------------------------- evidence


def _is_question(text: str) -> bool:
    """Worth proposing: a few words, not a command, not only placeholders."""
    bare = MARK_RE.sub(" ", text).strip()
    if not bare or bare.startswith("/"):
        return False
    if _CJK.search(bare):
        return len(_CJK.findall(bare)) >= 4
    return len(re.findall(r"\w+", bare)) >= 3


def _who(sender: str) -> str:
    return hashlib.sha256(sender.encode()).hexdigest()[:16]


def _handoff_question(handoff: dict[str, Any], scrub: Scrubber) -> list[Asked]:
    """The customer's question(s) a resolved handoff answered, with the agent's answer."""
    replies = [(r, scrub(r["text"])) for r in handoff["agent"] if r["text"].strip()]
    if not replies:
        return []
    best, answer = max(replies, key=lambda pair: len(pair[1].split()))
    others = [text for r, text in replies if r is not best and len(text.split()) >= 4]
    if len(answer.split()) < 3:  # "ok", "one moment": no answer to propose
        answer = ""
    asked = [
        m
        for m in handoff["customer"]
        if m["ts"] <= best["ts"]
        and m["action"] not in NOT_QUESTIONS
        and m["intent"] not in CHITCHAT
        and _is_question(scrub(m["text"]))
    ]
    wanted = [m for m in asked if m["unanswered"] or m["action"] in WAITING]
    chosen = wanted[-3:] or asked[-1:]
    return [
        Asked(
            scrub(m["text"]),
            m["turn_id"],
            _who(handoff["sender"]),
            float(m["ts"]),
            int(handoff["id"]),
            answer,
            others[:3],
        )
        for m in chosen
    ]


def asked_questions(
    db: Database, scrub: Scrubber, since: float = 0.0, max_questions: int = MAX_QUESTIONS
) -> tuple[list[Asked], int]:
    """Every question to learn from (handoff ones first), and how many resolved handoffs."""
    handoffs = reports.resolved_handoffs(db, since=since)
    out: list[Asked] = []
    for handoff in handoffs:
        out += _handoff_question(handoff, scrub)
    seen = {a.turn_id for a in out}
    for turn_id, sender, ts, text, intent in reports.unanswered_turns(db, since, max_questions):
        if turn_id in seen or intent in CHITCHAT:
            continue
        clean = scrub(text)
        if _is_question(clean):
            out.append(Asked(clean, turn_id, _who(sender), float(ts)))
    return out, len(handoffs)


def cluster(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Groups of row indices whose average pairwise cosine is at least ``threshold``
    (agglomerative, average linkage), largest first."""
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(vectors.astype(np.float64), method="average", metric="cosine")
    labels = fcluster(tree, t=max(0.0, 1.0 - threshold), criterion="distance")
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


# --------------------------------------------------------------------------- proposing


def _variants(members: list[Asked], order: np.ndarray) -> list[str]:
    out: dict[str, str] = {}
    for i in order:
        key = re.sub(r"\W+", " ", members[i].text.lower()).strip()
        out.setdefault(key, members[i].text)
    return list(out.values())[:MAX_VARIANTS]


def _proposal(members: list[Asked], vecs: np.ndarray) -> dict[str, Any]:
    """A cluster as a proposal: its most central question first, the latest agent answer."""
    sims = vecs @ vecs.T
    order = np.argsort(-sims.mean(axis=1), kind="stable")  # the most central first
    with_answer = sorted((a for a in members if a.answer), key=lambda a: a.ts)
    answer = with_answer[-1].answer if with_answer else ""
    answers = list(dict.fromkeys(x for a in with_answer for x in [a.answer, *a.answers]))
    warnings = []
    marks = personal_marks(answer)
    if marks:
        warnings.append(
            f"the answer had personal details ({', '.join(marks)}): it was written for one "
            "customer's case; make it general before approving"
        )
    if not answer:
        warnings.append("no agent answered this: write the answer before approving")
    return {
        "source": "handoff" if answer else "unanswered",
        "question": members[int(order[0])].text,
        "questions": _variants(members, order),
        "answer": answer,
        "answers": [a for a in answers if a != answer][:5],
        "evidence": {
            "conversations": len({a.sender for a in members}),
            "messages": len(members),
            "handoffs": sorted({a.handoff_id for a in members if a.handoff_id is not None}),
            "turn_ids": [a.turn_id for a in members],
            "senders": sorted({a.sender for a in members}),
            "first_asked": min(a.ts for a in members),
            "last_asked": max(a.ts for a in members),
        },
        "nearest_faq": None,
        "warnings": warnings,
    }


def _nearest_faq(index: Any, calibration: Any, question: str) -> tuple[dict | None, bool]:
    """The store's closest FAQ entry to ``question`` and whether it answers it confidently
    (the best hit is that FAQ, at the calibration's point for quoting it as written)."""
    hits = index.search(question, k=5)
    faqs = [h for h in hits if h.type == "faq"]
    if not faqs:
        return None, False
    probability = calibration.probability([faqs[0], *[h for h in hits if h is not faqs[0]]])
    nearest = {"id": faqs[0].id, "question": faqs[0].title, "probability": round(probability, 3)}
    return nearest, hits[0].type == "faq" and calibration.probability(hits) >= calibration.quote


def _existing(book: FAQProposals, encoder: Any) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    rows = [r for r in book.all() if r.get("status") != "superseded"]
    if not rows:
        return rows, None
    return rows, encoder.encode([r["question"] for r in rows])


def propose_faqs(
    store_dir: Path,
    db: Database,
    index: Any,
    calibration: Any,
    *,
    since: float = 0.0,
    min_conversations: int = MIN_CONVERSATIONS,
    book: FAQProposals | None = None,
) -> LearningRun:
    """Read the turn log ``db``, cluster what customers asked, and add the proposals to the
    store's FAQ proposals (``book``). ``index`` and ``calibration``: the store's build."""
    started = time.perf_counter()
    store = load_store(store_dir)
    book = book or FAQProposals(store_dir)
    encoder = index.encoder
    threshold = merge_threshold(store, encoder)
    scrub = Scrubber.for_store(store_dir, reports.agent_names(db))
    asked, handoffs = asked_questions(db, scrub, since)
    run = LearningRun(threshold, questions=len(asked), handoffs=handoffs)
    if not asked:
        run.seconds = time.perf_counter() - started
        return run
    vectors = encoder.encode([a.text for a in asked])
    groups = cluster(vectors, threshold.value)
    run.clusters = len(groups)
    existing, existing_vecs = _existing(book, encoder)
    for group in groups:
        members = [asked[i] for i in group]
        vecs = vectors[group]
        customers = len({a.sender for a in members})
        if not any(a.answer for a in members) and customers < min_conversations:
            run.rare += 1
            continue
        proposal = _proposal(members, vecs)
        match = _match(proposal, vecs, existing, existing_vecs, threshold.value)
        if match is not None:
            new_turns = set(proposal["evidence"]["turn_ids"]) - set(
                match["evidence"].get("turn_ids", [])
            )
            if match.get("status") in PENDING and new_turns:
                book.merge(match["id"], proposal)
                run.merged.append(match["id"])
            else:
                run.known += 1
            continue
        nearest, answered = _nearest_faq(index, calibration, proposal["question"])
        if answered:
            run.answered.append({"question": proposal["question"], "faq": nearest})
            continue
        proposal["nearest_faq"] = nearest
        run.proposed.append(book.add(proposal))
    run.seconds = time.perf_counter() - started
    return run


def _match(
    proposal: dict[str, Any],
    vecs: np.ndarray,
    existing: list[dict[str, Any]],
    existing_vecs: np.ndarray | None,
    threshold: float,
) -> dict[str, Any] | None:
    """The existing proposal of the same topic: one sharing a message, else the closest
    whose question is within the merge threshold of this cluster's questions on average."""
    turns = set(proposal["evidence"]["turn_ids"])
    for row in existing:
        if turns & set(row.get("evidence", {}).get("turn_ids", [])):
            return row
    if existing_vecs is None:
        return None
    sims = (vecs @ existing_vecs.T).mean(axis=0)
    best = int(np.argmax(sims))
    return existing[best] if sims[best] >= threshold else None
