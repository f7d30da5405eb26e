"""Description proposals awaiting the merchant's decision, in the store's artifacts folder.

``STORE/.shopbot/proposals/descriptions.jsonl`` (the folder
``knowledge_base.cache.artifacts_dir`` picks, so a read-only store keeps them in
the user's cache), one proposal a line::

    {"id", "product_id", "title", "status", "created_at", "language", "tone",
     "generator", "record_hash", "description", "draft",
     "sentences": [{"text", "source", "reasons", "rests_on": [{"field", "value"}]}],
     "rejected": [...same, with reasons...], "decided_at", "decided_by", "backup", "note"}

``status`` is ``proposed`` until the merchant approves or rejects it; a newer
draft for the same product supersedes an older proposed one. Nothing reaches
the store's products file except through :meth:`DescriptionProposals.approve`,
which writes the one description (bot/merchant/products_file.py) and only for
the record the draft was made from. The file is rewritten atomically under a
lock, so the command line and the admin page can act at the same time
(:class:`ProposalBook`, which the learned FAQ entries' proposals share:
bot/merchant/faq_proposals.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.merchant.describe import Description
from bot.merchant.facts import record_hash
from bot.merchant.products_file import set_description
from knowledge_base.cache import artifacts_dir
from knowledge_base.store import load_store

STATUSES = ("proposed", "approved", "rejected", "superseded")
FILE_NAME = "descriptions.jsonl"


class ProposalError(ValueError):
    """A decision that cannot be made (decided already, record changed, ...)."""


class UnknownProposal(ProposalError):
    """No proposal has this id."""


def proposals_dir(store_dir: Path) -> Path:
    """Where a store's proposals (and the backups of its products file) are kept."""
    return artifacts_dir(Path(store_dir)) / "proposals"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ProposalBook:
    """A store's proposals of one kind: a JSONL file in the proposals folder, changed
    under a lock and rewritten atomically (the description and FAQ proposals share it)."""

    file_name = FILE_NAME
    kind = "description proposal"  # how messages name one
    list_hint = "`shopbot describe --list` shows them"

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = Path(store_dir)
        self.dir = proposals_dir(self.store_dir)
        self.path = self.dir / self.file_name
        self.backups = self.dir / "backups"

    # ----------------------------------------------------------------- reading

    def all(self) -> list[dict[str, Any]]:
        """Every proposal, oldest first."""
        if not self.path.is_file():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ProposalError(
                    f"{self.path} line {number} is not valid JSON ({exc.msg}); fix or delete it"
                ) from exc
        return out

    def get(self, proposal_id: str) -> dict[str, Any]:
        """The proposal ``proposal_id``; a ProposalError naming the ids there are if unknown."""
        for proposal in self.all():
            if proposal.get("id") == proposal_id:
                return proposal
        raise self._unknown(proposal_id)

    def _unknown(self, proposal_id: str) -> UnknownProposal:
        return UnknownProposal(f"no {self.kind} {proposal_id!r} in {self.path}; {self.list_hint}")

    # ----------------------------------------------------------------- changing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[dict[str, Any]]]:
        """The proposals, to change in place; written back atomically when the block ends."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                rows = self.all()
                yield rows
                tmp = self.path.with_name(f".{self.file_name}.{os.getpid()}.tmp")
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _pending(
        self, rows: list[dict[str, Any]], proposal_id: str, pending: tuple[str, ...] = ("proposed",)
    ) -> dict[str, Any]:
        """The row ``proposal_id`` if it awaits a decision (status in ``pending``), else a
        ProposalError that says what became of it."""
        for row in rows:
            if row.get("id") == proposal_id:
                if row["status"] not in pending:
                    when = f" on {row['decided_at']}" if row.get("decided_at") else ""
                    raise ProposalError(
                        f"proposal {proposal_id} was already {row['status']}{when}; "
                        "nothing was changed"
                    )
                return row
        raise self._unknown(proposal_id)


class DescriptionProposals(ProposalBook):
    """The proposals of one store: add drafts, list them, approve or reject one."""

    def products(self) -> dict[str, Any]:
        """The store's products by id, as they are now (StoreError if the store does not load)."""
        return {p.id: p for p in load_store(self.store_dir).products}

    # ----------------------------------------------------------------- changing

    def add(self, description: Description) -> dict[str, Any]:
        """Record a draft as ``proposed``; an older proposed draft of the product is superseded."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", description.product_id).strip("-")[:32] or "product"
        proposal = {
            "id": f"{slug}-{secrets.token_hex(3)}",
            "status": "proposed",
            "created_at": _now(),
            **description.to_dict(),
        }
        with self._locked() as rows:
            for row in rows:
                if row.get("product_id") == description.product_id and row["status"] == "proposed":
                    row.update(status="superseded", decided_at=_now(), note=proposal["id"])
            rows.append(proposal)
        return proposal

    def approve(self, proposal_id: str, by: str = "cli") -> dict[str, Any]:
        """Write the proposal's description into the products file, then mark it approved.

        Refused (ProposalError, nothing changed) when the proposal is not pending, the
        product is gone, or its record changed since the draft was made.
        """
        with self._locked() as rows:
            proposal = self._pending(rows, proposal_id)
            store = load_store(self.store_dir)
            product = store.product(proposal["product_id"])
            products = [f for f in store.input_files if f.stem == "products"]
            if product is None or not products:
                raise ProposalError(
                    f"product {proposal['product_id']!r} is no longer in the store; "
                    f"reject proposal {proposal_id}"
                )
            if record_hash(product) != proposal.get("record_hash"):
                raise ProposalError(
                    f"product {product.id!r} changed since proposal {proposal_id} was drafted; "
                    f"nothing was changed. Draft it again: shopbot describe --product {product.id}"
                )
            backup = set_description(products[0], product.id, proposal["description"], self.backups)
            proposal.update(status="approved", decided_at=_now(), decided_by=by, backup=str(backup))
        return proposal

    def reject(self, proposal_id: str, note: str = "", by: str = "cli") -> dict[str, Any]:
        """Mark a pending proposal rejected; the store's files are not touched."""
        with self._locked() as rows:
            proposal = self._pending(rows, proposal_id)
            proposal.update(status="rejected", decided_at=_now(), decided_by=by, note=note)
        return proposal
