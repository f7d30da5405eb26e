"""Learned FAQ entries awaiting the merchant's decision, and what the approved ones did since.

``STORE/.shopbot/proposals/faq.jsonl`` (beside the description proposals, the
same lock and atomic rewrite: bot/merchant/proposals.py), one proposal a line::

    {"id", "status", "created_at", "source": "handoff" | "unanswered",
     "question", "questions": [variants, scrubbed], "answer", "answers": [...],
     "evidence": {"conversations", "messages", "handoffs": [ids], "turn_ids": [...],
                  "first_asked", "last_asked"},
     "nearest_faq": {"id", "question", "probability"} | null, "warnings": [...],
     "decided_at", "decided_by", "faq_id", "faq_file", "backup", "note"}

``status`` is ``proposed`` when made, ``edited`` once the merchant saved a
changed question or answer (still waiting), then ``approved`` or ``rejected``.
Nothing reaches the store's FAQ file except through :meth:`FAQProposals.approve`,
which refuses an empty answer and adds exactly one entry (bot/merchant/faq_file.py);
the next ``shopbot build`` indexes it. :meth:`FAQProposals.stats` counts the
decisions and, from the turn log, the customer messages each approved entry
answered after its approval.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from bot.merchant.faq_file import add_faq, faq_file
from bot.merchant.proposals import ProposalBook, ProposalError
from bot.storage import reports
from bot.storage.db import Database

PENDING = ("proposed", "edited")
STATUSES = (*PENDING, "approved", "rejected")
MAX_QUESTION = 300
MAX_ANSWER = 4000


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _timestamp(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


class FAQProposals(ProposalBook):
    """A store's learned FAQ proposals: add, list, edit, approve into the FAQ, reject."""

    file_name = "faq.jsonl"
    kind = "FAQ proposal"
    list_hint = "`shopbot faq list` shows them"

    def pending(self) -> list[dict[str, Any]]:
        """The proposals still waiting for a decision, oldest first."""
        return [p for p in self.all() if p.get("status") in PENDING]

    def add(self, proposal: dict[str, Any]) -> dict[str, Any]:
        """Record a new proposal (``question``, ``answer`` ... as the module docstring says)."""
        slug = re.sub(r"[^a-z0-9]+", "-", proposal.get("question", "").lower()).strip("-")[:32]
        row = {
            "id": f"faq-{slug or 'question'}-{secrets.token_hex(3)}",
            "status": "proposed",
            "created_at": _now(),
            **proposal,
        }
        with self._locked() as rows:
            rows.append(row)
        return row

    def merge(self, proposal_id: str, update: dict[str, Any]) -> dict[str, Any]:
        """Add new evidence to a waiting proposal (a later ``shopbot faq propose`` that met
        the same topic again): more variants and conversations, and an agent's answer
        where it had none. What the merchant edited is kept."""
        with self._locked() as rows:
            row = self._pending(rows, proposal_id, PENDING)
            seen = {q.lower() for q in row["questions"]}
            row["questions"] += [q for q in update["questions"] if q.lower() not in seen]
            ev, new = row["evidence"], update["evidence"]
            for key in ("handoffs", "turn_ids"):
                ev[key] = list(dict.fromkeys([*ev.get(key, []), *new.get(key, [])]))
            ev["senders"] = list(dict.fromkeys([*ev.get("senders", []), *new.get("senders", [])]))
            ev["conversations"] = len(ev["senders"])
            ev["messages"] = len(ev["turn_ids"])
            ev["last_asked"] = max(ev.get("last_asked", 0), new.get("last_asked", 0))
            answers = [a for a in update.get("answers", []) if a not in row.get("answers", [])]
            row["answers"] = [*row.get("answers", []), *answers]
            if not row.get("answer") and update.get("answer"):
                row["answer"] = update["answer"]
                row["source"] = "handoff"
                row["warnings"] = update.get("warnings", [])
            row["updated_at"] = _now()
        return row

    def edit(
        self, proposal_id: str, question: str | None = None, answer: str | None = None
    ) -> dict[str, Any]:
        """Save the merchant's question and/or answer; the proposal keeps waiting (``edited``)."""
        with self._locked() as rows:
            row = self._pending(rows, proposal_id, PENDING)
            self._apply(row, question, answer)
            row.update(status="edited", updated_at=_now())
        return row

    def approve(
        self,
        proposal_id: str,
        question: str | None = None,
        answer: str | None = None,
        by: str = "cli",
    ) -> dict[str, Any]:
        """Add the entry (with the edited ``question`` / ``answer`` if given) to the store's
        FAQ file, then mark the proposal approved.

        Refused (ProposalError, nothing changed) when the proposal is not waiting, the
        answer is empty, the FAQ already has the question, or the file does not load.
        """
        with self._locked() as rows:
            row = self._pending(rows, proposal_id, PENDING)
            before = (row["question"], row["answer"])
            self._apply(row, question, answer)
            if not row["answer"].strip():
                raise ProposalError(
                    f"proposal {proposal_id} has no answer yet, so it was not approved: write "
                    f"one (shopbot faq approve {proposal_id} --answer '...', or on "
                    "/admin/faq-proposals)"
                )
            path = faq_file(self.store_dir)
            try:
                faq_id, backup = add_faq(path, row["question"], row["answer"], self.backups)
            except ValueError as exc:
                raise ProposalError(str(exc)) from exc
            row.update(
                status="approved",
                decided_at=_now(),
                decided_by=by,
                edited=row.get("edited", False) or (row["question"], row["answer"]) != before,
                faq_id=faq_id,
                faq_file=path.name,
                backup=str(backup) if backup else None,
            )
        return row

    def reject(self, proposal_id: str, note: str = "", by: str = "cli") -> dict[str, Any]:
        """Mark a waiting proposal rejected; the store's files are not touched."""
        with self._locked() as rows:
            row = self._pending(rows, proposal_id, PENDING)
            row.update(status="rejected", decided_at=_now(), decided_by=by, note=note)
        return row

    @staticmethod
    def _apply(row: dict[str, Any], question: str | None, answer: str | None) -> None:
        if question is not None:
            question = " ".join(question.split())
            if not question:
                raise ProposalError("the question may not be empty; nothing was changed")
            if len(question) > MAX_QUESTION:
                raise ProposalError(f"the question is over {MAX_QUESTION} characters")
            if question != row["question"]:
                row["question"], row["edited"] = question, True
        if answer is not None:
            answer = answer.strip()
            if len(answer) > MAX_ANSWER:
                raise ProposalError(f"the answer is over {MAX_ANSWER} characters")
            if answer != row["answer"]:
                row["answer"], row["edited"] = answer, True

    # ----------------------------------------------------------------- figures

    def stats(self, db: Database | None = None) -> dict[str, Any]:
        """Proposals made, waiting, approved, rejected (edited before approval), and with the
        turn log ``db``: how many later customer messages each approved entry answered."""
        rows = self.all()
        out: dict[str, Any] = {
            "proposals": len(rows),
            "waiting": sum(r.get("status") in PENDING for r in rows),
            "approved": sum(r.get("status") == "approved" for r in rows),
            "rejected": sum(r.get("status") == "rejected" for r in rows),
            "approved_after_edit": sum(
                r.get("status") == "approved" and bool(r.get("edited")) for r in rows
            ),
            "from_handoffs": sum(r.get("source") == "handoff" for r in rows),
        }
        if db is not None:
            answered = {
                r["faq_id"]: reports.answered_from(db, r["faq_id"], _timestamp(r["decided_at"]))
                for r in rows
                if r.get("status") == "approved" and r.get("faq_id")
            }
            out["answered_after_approval"] = sum(answered.values())
            out["answered_by_entry"] = answered
        return out
