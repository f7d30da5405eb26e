"""Where the insights live: per-turn events, demand signals and profiles in SQLite.

The tables sit in the conversation database itself (its own connection, WAL
mode), so ``forget`` and retention pruning remove a customer's log and
everything derived from it in one transaction.

- ``insight_events``: one row per processed turn (what the turn told us), with
  the embedding of a demand-gap query so gaps can be clustered later.
- ``insight_signals``: one row per (turn, kind, product/category/gap); every
  daily count is a ``GROUP BY`` over these, so a customer's contributions can
  be deleted exactly.
- ``insight_profiles``: the incrementally folded profile of each sender.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS insight_events (
    turn_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    ts REAL NOT NULL,
    day TEXT NOT NULL,
    data TEXT NOT NULL,
    gap_vec BLOB
);
CREATE INDEX IF NOT EXISTS insight_events_day ON insight_events(day);
CREATE INDEX IF NOT EXISTS insight_events_sender ON insight_events(sender);
CREATE TABLE IF NOT EXISTS insight_signals (
    turn_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    key_type TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS insight_signals_day ON insight_signals(day, kind);
CREATE INDEX IF NOT EXISTS insight_signals_sender ON insight_signals(sender);
CREATE TABLE IF NOT EXISTS insight_profiles (
    sender TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS insight_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# What a signal row can count.
SIGNAL_KINDS = ("mention", "purchase_intent", "soldout_question", "price_objection", "gap")


class InsightsStore:
    """Events, signals and profiles next to the turn log; thread-safe."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        # The turn log's tables may not exist yet when insights open first.
        from bot.storage import _SCHEMA as TURN_SCHEMA

        self._db.executescript(TURN_SCHEMA)

    # -- reading the turn log -------------------------------------------------
    def turns_after(self, seq: int, limit: int = 500) -> list[dict[str, Any]]:
        """Logged turns with ``id > seq``, in log order."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM turns WHERE id > ? ORDER BY id LIMIT ?", (seq, limit)
            )
            cols = [c[0] for c in cur.description]
            rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        for r in rows:
            for key in ("entities", "sources", "reply"):
                r[key] = json.loads(r[key])
        return rows

    def high_water(self) -> int:
        """The id of the last turn the insights have processed."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM insight_meta WHERE key = 'high_water'"
            ).fetchone()
        return int(row[0]) if row else 0

    # -- writing ----------------------------------------------------------------
    def apply(
        self,
        seq: int,
        event: dict[str, Any],
        signals: list[tuple[str, str, str]],
        profile: dict[str, Any],
        gap_vec: np.ndarray | None,
    ) -> None:
        """Store one turn's event, its signals and the sender's new profile atomically."""
        blob = gap_vec.astype(np.float32).tobytes() if gap_vec is not None else None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO insight_events VALUES (?,?,?,?,?,?,?)",
                    (
                        event["turn_id"],
                        seq,
                        event["sender"],
                        event["ts"],
                        event["day"],
                        json.dumps(event, ensure_ascii=False, sort_keys=True),
                        blob,
                    ),
                )
                self._db.execute(
                    "DELETE FROM insight_signals WHERE turn_id = ?", (event["turn_id"],)
                )
                self._db.executemany(
                    "INSERT INTO insight_signals VALUES (?,?,?,?,?,?)",
                    [
                        (event["turn_id"], event["sender"], event["day"], kind, key_type, key)
                        for kind, key_type, key in signals
                    ],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO insight_profiles VALUES (?,?,?)",
                    (event["sender"], json.dumps(profile, sort_keys=True), time.time()),
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO insight_meta VALUES ('high_water', ?)", (str(seq),)
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def clear(self) -> None:
        """Drop all derived insights (the log stays), for a full recompute."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for table in ("insight_events", "insight_signals", "insight_profiles", "insight_meta"):
                self._db.execute(f"DELETE FROM {table}")
            self._db.execute("COMMIT")

    # -- profiles -------------------------------------------------------------------
    def profile(self, sender: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM insight_profiles WHERE sender = ?", (sender,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def profiles(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT sender, data FROM insight_profiles ORDER BY sender"
            ).fetchall()
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
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
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
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        names = [*cols.split(", "), "count"]
        return [dict(zip(names, r, strict=True)) for r in rows]

    # -- the log, read for the merchant's pages ------------------------------------------
    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read-only query over the log and the insights (admin pages, reports)."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def verified_customer(self, sender: str) -> str | None:
        """The store customer id this sender verified as, if any (for RFM)."""
        with self._lock:
            row = self._db.execute(
                "SELECT slots FROM conversations WHERE sender = ?", (sender,)
            ).fetchone()
        if not row:
            return None
        return json.loads(row[0]).get("verified_customer_id")

    # -- privacy ---------------------------------------------------------------------------
    def forget(self, sender: str) -> dict[str, int]:
        """Delete the sender's log, state, feedback, profile and signal contributions."""
        counts: dict[str, int] = {}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in (
                    "turns",
                    "feedback",
                    "conversations",
                    "insight_events",
                    "insight_signals",
                    "insight_profiles",
                ):
                    cur = self._db.execute(f"DELETE FROM {table} WHERE sender = ?", (sender,))
                    counts[table] = cur.rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return counts

    def prune(self, retention_days: float, now: float | None = None) -> dict[str, int]:
        """Delete log turns, feedback and per-turn insight rows older than the retention period.

        Profiles keep their aggregates (counts, histograms): they hold no text.
        """
        if retention_days <= 0:
            return {}
        cutoff = (now if now is not None else time.time()) - retention_days * 86400
        counts: dict[str, int] = {}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                old = "SELECT turn_id FROM turns WHERE ts < ?"
                counts["insight_signals"] = self._db.execute(
                    f"DELETE FROM insight_signals WHERE turn_id IN ({old})", (cutoff,)
                ).rowcount
                counts["insight_events"] = self._db.execute(
                    "DELETE FROM insight_events WHERE ts < ?", (cutoff,)
                ).rowcount
                counts["feedback"] = self._db.execute(
                    "DELETE FROM feedback WHERE ts < ?", (cutoff,)
                ).rowcount
                counts["turns"] = self._db.execute(
                    "DELETE FROM turns WHERE ts < ?", (cutoff,)
                ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return counts

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.ProgrammingError:
                pass
