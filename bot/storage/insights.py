"""Where the insights live: per-turn events, demand signals and profiles.

The tables sit in the conversation database itself (SQLite or PostgreSQL, see
``bot/storage/db.py``; created by ``bot/storage/migrations.py``), so ``forget`` and retention
pruning remove a customer's log and everything derived from it in one
transaction.

- ``insight_events``: one row per processed turn (what the turn told us), with
  the embedding of a demand-gap query so gaps can be clustered later.
- ``insight_signals``: one row per (turn, kind, product/category/gap); every
  daily count is a ``GROUP BY`` over these, so a customer's contributions can
  be deleted exactly.
- ``insight_profiles``: the incrementally folded profile of each sender.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.storage.db import INSIGHTS_LOCK_KEY, Database, open_database
from bot.storage.migrations import migrate

# What a signal row can count.
SIGNAL_KINDS = ("mention", "purchase_intent", "soldout_question", "price_objection", "gap")


class InsightsStore:
    """Events, signals and profiles next to the turn log; thread-safe.

    ``db`` is a SQLite path, a ``postgresql://`` URL, or an open ``Database``
    to share (the running bot's), which ``close`` then leaves open.
    """

    def __init__(self, db: str | Path | Database) -> None:
        self._owned = not isinstance(db, Database)
        self.db: Database = open_database(db) if not isinstance(db, Database) else db
        self.path: Path | None = getattr(self.db, "path", None)
        try:
            migrate(self.db)
        except BaseException:
            if self._owned:
                self.db.close()
            raise

    # -- reading the turn log -------------------------------------------------
    def turns_after(self, seq: int, limit: int = 500) -> list[dict[str, Any]]:
        """Logged turns with ``id > seq``, in log order."""
        rows = self.db.fetch_dicts(
            "SELECT * FROM turns WHERE id > ? ORDER BY id LIMIT ?", (int(seq), int(limit))
        )
        for r in rows:
            for key in ("entities", "sources", "reply"):
                r[key] = json.loads(r[key])
        return rows

    def high_water(self) -> int:
        """The id of the last turn the insights have processed."""
        row = self.db.fetchone("SELECT value FROM insight_meta WHERE key = 'high_water'")
        return int(row[0]) if row else 0

    # -- writing ----------------------------------------------------------------
    def apply(
        self,
        seq: int,
        event: dict[str, Any],
        signals: list[tuple[str, str, str]],
        profile: dict[str, Any],
        gap_vec: np.ndarray | None,
    ) -> bool:
        """Store one turn's event, its signals and the sender's new profile atomically.

        Returns False (and stores nothing) when turn ``seq`` was already processed:
        with several server processes on one database each runs an insights
        updater, and a turn folded twice would count twice in its profile.
        """
        blob = gap_vec.astype(np.float32).tobytes() if gap_vec is not None else None
        with self.db.transaction() as tx:
            tx.advisory_lock(INSIGHTS_LOCK_KEY)
            row = tx.fetchone("SELECT value FROM insight_meta WHERE key = 'high_water'")
            if row is not None and int(row[0]) >= seq:
                return False
            tx.run(
                """INSERT INTO insight_events (turn_id, seq, sender, ts, day, data, gap_vec)
                   VALUES (?,?,?,?,?,?,?) ON CONFLICT(turn_id) DO UPDATE SET
                   seq = excluded.seq, sender = excluded.sender, ts = excluded.ts,
                   day = excluded.day, data = excluded.data, gap_vec = excluded.gap_vec""",
                (
                    event["turn_id"],
                    int(seq),
                    event["sender"],
                    float(event["ts"]),
                    event["day"],
                    json.dumps(event, ensure_ascii=False, sort_keys=True),
                    blob,
                ),
            )
            tx.run("DELETE FROM insight_signals WHERE turn_id = ?", (event["turn_id"],))
            tx.many(
                "INSERT INTO insight_signals (turn_id, sender, day, kind, key_type, key) "
                "VALUES (?,?,?,?,?,?)",
                [
                    (event["turn_id"], event["sender"], event["day"], kind, key_type, key)
                    for kind, key_type, key in signals
                ],
            )
            tx.run(
                """INSERT INTO insight_profiles (sender, data, updated_at) VALUES (?,?,?)
                   ON CONFLICT(sender) DO UPDATE SET
                   data = excluded.data, updated_at = excluded.updated_at""",
                (event["sender"], json.dumps(profile, sort_keys=True), time.time()),
            )
            tx.run(
                """INSERT INTO insight_meta (key, value) VALUES ('high_water', ?)
                   ON CONFLICT(key) DO UPDATE SET value = excluded.value""",
                (str(seq),),
            )
        return True

    def clear(self) -> None:
        """Drop all derived insights (the log stays), for a full recompute."""
        with self.db.transaction() as tx:
            for table in ("insight_events", "insight_signals", "insight_profiles", "insight_meta"):
                tx.run(f"DELETE FROM {table}")

    # -- profiles -------------------------------------------------------------------
    def profile(self, sender: str) -> dict[str, Any] | None:
        """One sender's folded profile, or None."""
        row = self.db.fetchone("SELECT data FROM insight_profiles WHERE sender = ?", (sender,))
        return json.loads(row[0]) if row else None

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Every sender's profile."""
        rows = self.db.fetch("SELECT sender, data FROM insight_profiles ORDER BY sender")
        return {s: json.loads(d) for s, d in rows}

    # -- events and signals -----------------------------------------------------------
    def events(
        self,
        start: str | None = None,
        end: str | None = None,
        sender: str | None = None,
        gaps_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Events with ``start <= day <= end`` (ISO dates), in log order; gap vectors attached."""
        query, args = "SELECT data, gap_vec FROM insight_events WHERE 1=1", []
        if start:
            query += " AND day >= ?"
            args.append(start)
        if end:
            query += " AND day <= ?"
            args.append(end)
        if sender:
            query += " AND sender = ?"
            args.append(sender)
        if gaps_only:
            query += " AND gap_vec IS NOT NULL"
        rows = self.db.fetch(query + " ORDER BY seq", args)
        out = []
        for data, blob in rows:
            event = json.loads(data)
            event["gap_vec"] = np.frombuffer(blob, dtype=np.float32) if blob else None
            out.append(event)
        return out

    def signal_counts(
        self,
        start: str | None = None,
        end: str | None = None,
        kind: str | None = None,
        key_type: str | None = None,
        by_day: bool = True,
    ) -> list[dict[str, Any]]:
        """Counts of signals per (day,) kind and key within a date range (inclusive)."""
        if kind is not None and kind not in SIGNAL_KINDS:
            raise ValueError(f"unknown signal kind {kind!r}; one of {', '.join(SIGNAL_KINDS)}")
        cols = "day, kind, key_type, key" if by_day else "kind, key_type, key"
        query, args = f"SELECT {cols}, COUNT(*) FROM insight_signals WHERE 1=1", []
        for clause, value in (
            ("day >= ?", start),
            ("day <= ?", end),
            ("kind = ?", kind),
            ("key_type = ?", key_type),
        ):
            if value:
                query += f" AND {clause}"
                args.append(value)
        query += f" GROUP BY {cols} ORDER BY {cols}"
        rows = self.db.fetch(query, args)
        names = [*cols.split(", "), "count"]
        return [dict(zip(names, r, strict=True)) for r in rows]

    # -- the log ----------------------------------------------------------------------------
    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read-only ad-hoc query over the log and the insights (the merchant's pages
        read through ``bot/storage/reports.py``)."""
        return self.db.fetch(sql, args)

    def verified_customer(self, sender: str) -> str | None:
        """The store customer id this sender verified as, if any (for RFM)."""
        row = self.db.fetchone("SELECT slots FROM conversations WHERE sender = ?", (sender,))
        if not row:
            return None
        return json.loads(row[0]).get("verified_customer_id")

    # -- privacy ---------------------------------------------------------------------------
    def forget(self, sender: str) -> dict[str, int]:
        """Delete the sender's log, state, feedback, profile and signal contributions."""
        counts: dict[str, int] = {}
        with self.db.transaction() as tx:
            for table in (
                "turns",
                "feedback",
                "conversations",
                "conversation_tokens",
                "verification_failures",
                "insight_events",
                "insight_signals",
                "insight_profiles",
            ):
                counts[table] = tx.run(f"DELETE FROM {table} WHERE sender = ?", (sender,))
        return counts

    def prune(self, retention_days: float, now: float | None = None) -> dict[str, int]:
        """Delete log turns, feedback and per-turn insight rows older than the retention period.

        Profiles keep their aggregates (counts, histograms): they hold no text.
        """
        if retention_days <= 0:
            return {}
        cutoff = (now if now is not None else time.time()) - retention_days * 86400
        counts: dict[str, int] = {}
        with self.db.transaction() as tx:
            old = "SELECT turn_id FROM turns WHERE ts < ?"
            counts["insight_signals"] = tx.run(
                f"DELETE FROM insight_signals WHERE turn_id IN ({old})", (cutoff,)
            )
            counts["insight_events"] = tx.run("DELETE FROM insight_events WHERE ts < ?", (cutoff,))
            counts["feedback"] = tx.run("DELETE FROM feedback WHERE ts < ?", (cutoff,))
            counts["turns"] = tx.run("DELETE FROM turns WHERE ts < ?", (cutoff,))
        return counts

    def close(self) -> None:
        """Close the database unless it is shared with the running bot."""
        if self._owned:
            self.db.close()
