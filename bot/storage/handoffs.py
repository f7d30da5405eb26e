"""The handoff queue: conversations waiting for, or held by, a human agent.

One row of ``handoffs`` per handoff, open until an agent hands the conversation back (or
the customer restarts). Part of the conversation store (``ConversationStore`` in
``bot/storage/conversations.py`` mixes it in): it shares the store's database and wakes
the store's listeners when a handoff closes. Claiming is one conditional ``UPDATE``, so
exactly one agent wins a race, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.storage.db import Database, Session


class HandoffQueue:
    """The agents' queue, over the conversation store's ``db``."""

    db: Database
    _notify: Callable[[str], None]  # the store's: wake live streams for a sender

    _HANDOFF_COLS = "id, sender, reason, created_at, claimed_by, claimed_at, closed_at, closed_by"

    def _handoff_row(self, row: tuple[Any, ...] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return dict(zip(self._HANDOFF_COLS.split(", "), row, strict=True))

    def open_handoff(self, sender: str, reason: str) -> dict[str, Any]:
        """Put the conversation in the agents' queue (idempotent while one is open)."""
        with self.db.transaction() as tx:
            # The log lock also serialises queue writers across processes: one open row.
            tx.lock_log()
            current = self._open_handoff(tx, sender)
            if current is None:
                tx.run(
                    "INSERT INTO handoffs (sender, reason, created_at) VALUES (?,?,?)",
                    (sender, reason, time.time()),
                )
                current = self._open_handoff(tx, sender)
        assert current is not None
        return current

    def _open_handoff(self, session: Session, sender: str) -> dict[str, Any] | None:
        return self._handoff_row(
            session.fetchone(
                f"SELECT {self._HANDOFF_COLS} FROM handoffs "
                "WHERE sender = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1",
                (sender,),
            )
        )

    def get_open_handoff(self, sender: str) -> dict[str, Any] | None:
        """The sender's open handoff, or None."""
        return self._open_handoff(self.db, sender)

    def open_handoffs(self) -> list[dict[str, Any]]:
        """The queue: open handoffs, oldest first, with the latest customer message."""
        rows = self.db.fetch(
            f"SELECT {self._HANDOFF_COLS} FROM handoffs WHERE closed_at IS NULL ORDER BY id"
        )
        out = []
        for row in rows:
            item = self._handoff_row(row)
            assert item is not None
            last = self.db.fetchone(
                """SELECT user_text, ts FROM turns WHERE sender = ? AND user_text != ''
                   ORDER BY id DESC LIMIT 1""",
                (item["sender"],),
            )
            item["last_message"], item["last_ts"] = (last[0], last[1]) if last else ("", None)
            out.append(item)
        return out

    def claim_handoff(self, sender: str, agent: str) -> tuple[bool, dict[str, Any] | None]:
        """Claim the open handoff for ``agent``; exactly one agent wins a race.

        Returns (claimed, handoff): ``claimed`` is true when ``agent`` holds it now.
        The conditional UPDATE is atomic in both databases, across processes too.
        """
        with self.db.transaction() as tx:
            tx.run(
                """UPDATE handoffs SET claimed_by = ?, claimed_at = ?
                   WHERE sender = ? AND closed_at IS NULL AND claimed_by IS NULL""",
                (agent, time.time(), sender),
            )
            current = self._open_handoff(tx, sender)
        return bool(current and current["claimed_by"] == agent), current

    def close_handoff(self, sender: str, by: str) -> None:
        """Take the conversation out of the queue (handed back, or the customer restarted)."""
        with self.db.transaction() as tx:
            tx.run(
                "UPDATE handoffs SET closed_at = ?, closed_by = ? "
                "WHERE sender = ? AND closed_at IS NULL",
                (time.time(), by, sender),
            )
            self.db.notify(tx, sender)
        self._notify(sender)
