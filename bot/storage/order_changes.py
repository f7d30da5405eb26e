"""The changes made to orders in chat (cancellations, return requests), kept in SQLite.

The order book (``bot/storage/orders.py``) never rewrites the merchant's files: each change
is a row of ``order_changes`` in a small SQLite file (WAL mode, ``bot/storage/db.py``), read
fresh whenever an order is looked up, so every process sharing the file sees it. Its
schema is a list of numbered migrations (``ORDER_MIGRATIONS``, ``bot/storage/migrations.py``).
``apply_changes`` lays an order's rows over the order as the files describe it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.storage.db import Session, SQLiteDatabase
from bot.storage.migrations import Migration, migrate

# The order book's own schema, versioned in ``order_schema_version`` (it may share a file
# with the conversation log). Append to change it; never edit one that has shipped.
# Version 1 is the table as it was before it was versioned (IF NOT EXISTS: adopted as is).
ORDER_MIGRATIONS = [
    Migration(
        1,
        "cancellations and return requests made in chat",
        """
        CREATE TABLE IF NOT EXISTS order_changes (
            id {id},
            order_id TEXT NOT NULL,
            kind TEXT NOT NULL,                   -- 'cancel' | 'return'
            status TEXT NOT NULL,                 -- the order's status after the change
            reason TEXT,
            item_ids TEXT NOT NULL DEFAULT '[]',  -- JSON list of item ids (returns)
            refund_method_id TEXT,
            created_at TEXT NOT NULL              -- ISO 8601, UTC
        );
        CREATE INDEX IF NOT EXISTS order_changes_by_order ON order_changes (order_id, id)
        """,
    ),
]
ORDER_VERSION_TABLE = "order_schema_version"
_COLUMNS = ("kind", "status", "reason", "item_ids", "refund_method_id", "created_at")


class OrderChanges:
    """The ``order_changes`` table of one SQLite file; thread-safe.

    ``transaction()`` is ``BEGIN IMMEDIATE`` ... ``COMMIT``: a status check and the write
    of a change are one transaction, even across processes.
    """

    def __init__(self, path: str | Path) -> None:
        self.db = SQLiteDatabase(path, busy_timeout=10.0, purpose="order changes database")
        migrate(self.db, migrations=ORDER_MIGRATIONS, table=ORDER_VERSION_TABLE)

    def transaction(self) -> Any:
        """A context manager yielding the ``Session`` a change is checked and recorded in."""
        return self.db.transaction()

    def of(self, order_id: str, session: Session | None = None) -> list[dict[str, Any]]:
        """The changes recorded for ``order_id``, oldest first (``item_ids`` decoded)."""
        rows = (session or self.db).fetch(
            f"SELECT {', '.join(_COLUMNS)} FROM order_changes WHERE order_id = ? ORDER BY id",
            (order_id,),
        )
        changes = [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
        for change in changes:
            change["item_ids"] = json.loads(change["item_ids"])
        return changes

    @staticmethod
    def record(
        session: Session,
        order_id: str,
        kind: str,
        status: str,
        reason: str | None,
        item_ids: list[str],
        refund_method_id: str | None,
    ) -> None:
        """Add one change (inside ``session``, the transaction that checked it)."""
        session.run(
            "INSERT INTO order_changes "
            "(order_id, kind, status, reason, item_ids, refund_method_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (order_id, kind, status, reason, json.dumps(item_ids), refund_method_id, _now()),
        )

    def close(self) -> None:
        self.db.close()


def apply_changes(order: Any, changes: list[dict[str, Any]]) -> Any:
    """A copy of ``order`` (a ``bot.storage.orders.Order``) with ``changes`` applied in turn."""
    current = replace(order, items=list(order.items), return_item_ids=[])
    for change in changes:
        current.status = change["status"]
        current.updated_at = change["created_at"]
        if change["kind"] == "cancel":
            current.cancel_reason = change["reason"]
        elif change["kind"] == "return":
            current.return_item_ids = list(change["item_ids"])
            current.return_reason = change["reason"]
            current.refund_method_id = change["refund_method_id"]
    return current


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
