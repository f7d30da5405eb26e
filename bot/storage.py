"""The conversation store: turn log, feedback and per-sender state in SQLite.

SQLite in WAL mode is the embedded default: readers never block the writer
and a crash loses nothing that was committed. Every method is synchronous and
thread-safe; the async server calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.privacy import redact_history, redact_turn

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    ts REAL NOT NULL,
    user_text TEXT NOT NULL,
    intent TEXT,
    confidence REAL,
    entities TEXT NOT NULL DEFAULT '[]',
    sources TEXT NOT NULL DEFAULT '[]',
    action TEXT,
    reply TEXT NOT NULL DEFAULT '[]',
    reply_text TEXT NOT NULL DEFAULT '',
    handoff INTEGER NOT NULL DEFAULT 0,
    fallback INTEGER NOT NULL DEFAULT 0,
    latency_ms REAL,
    author TEXT NOT NULL DEFAULT 'bot'
);
CREATE INDEX IF NOT EXISTS turns_sender ON turns(sender, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_turn ON feedback(turn_id);
CREATE TABLE IF NOT EXISTS conversations (
    sender TEXT PRIMARY KEY,
    slots TEXT NOT NULL DEFAULT '{}',
    history TEXT NOT NULL DEFAULT '[]',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS handoffs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    claimed_by TEXT,
    claimed_at REAL,
    closed_at REAL,
    closed_by TEXT
);
CREATE INDEX IF NOT EXISTS handoffs_sender ON handoffs(sender, closed_at);
"""

HISTORY_TURNS = 10


@dataclass
class Conversation:
    """What shopbot remembers about one sender between turns."""

    sender: str
    slots: dict[str, Any] = field(default_factory=dict)
    # [{"role": "user"|"assistant", "content": str}], the last few turns only.
    history: list[dict[str, str]] = field(default_factory=list)


@dataclass
class TurnRecord:
    """One logged exchange: the user's message and everything shopbot did."""

    sender: str
    user_text: str
    intent: str | None = None
    confidence: float | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    action: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    handoff: bool = False
    fallback: bool = False
    latency_ms: float | None = None
    turn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ts: float = field(default_factory=time.time)
    author: str = "bot"

    @property
    def reply_text(self) -> str:
        return "\n".join(m["text"] for m in self.messages if m.get("text"))


class ConversationStore:
    """SQLite-backed log and state; one instance per process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Called with a sender after anything is logged for it (bot/live.py wakes streams).
        self._listeners: list[Callable[[str], None]] = []
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(
                f"cannot open the conversation database {self.path}: {exc}. "
                "Move the file away to start a fresh log."
            ) from exc

    # -- conversation state -------------------------------------------------
    def load_conversation(self, sender: str) -> Conversation:
        """The sender's slots and recent history (empty for a new sender)."""
        with self._lock:
            row = self._db.execute(
                "SELECT slots, history FROM conversations WHERE sender = ?", (sender,)
            ).fetchone()
        if row is None:
            return Conversation(sender=sender)
        return Conversation(sender=sender, slots=json.loads(row[0]), history=json.loads(row[1]))

    def save_turn(self, turn: TurnRecord, conversation: Conversation) -> None:
        """Log a turn and the conversation state it left, in one transaction.

        Text is redacted (bot/privacy.py) on the way in: the running turn saw the
        raw message, the disk only ever gets the redacted one.
        """
        turn = redact_turn(turn)
        history = redact_history(conversation.history[-2 * HISTORY_TURNS :])
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    """INSERT INTO turns (turn_id, sender, ts, user_text, intent, confidence,
                       entities, sources, action, reply, reply_text, handoff, fallback,
                       latency_ms, author) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    (
                        turn.turn_id,
                        turn.sender,
                        turn.ts,
                        turn.user_text,
                        turn.intent,
                        turn.confidence,
                        json.dumps(turn.entities, ensure_ascii=False),
                        json.dumps(turn.sources, ensure_ascii=False),
                        turn.action,
                        json.dumps(turn.messages, ensure_ascii=False),
                        turn.reply_text,
                        int(turn.handoff),
                        int(turn.fallback),
                        turn.latency_ms,
                        turn.author,
                    ),
                )
                self._db.execute(
                    """INSERT INTO conversations (sender, slots, history, updated_at)
                       VALUES (?,?,?,?) ON CONFLICT(sender) DO UPDATE SET
                       slots = excluded.slots, history = excluded.history,
                       updated_at = excluded.updated_at""",
                    (
                        conversation.sender,
                        json.dumps(conversation.slots, ensure_ascii=False),
                        json.dumps(history, ensure_ascii=False),
                        turn.ts,
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._notify(turn.sender)

    def reset_conversation(self, sender: str) -> None:
        """Forget the sender's slots and history (the log stays)."""
        with self._lock:
            self._db.execute("DELETE FROM conversations WHERE sender = ?", (sender,))

    # -- log and feedback ---------------------------------------------------
    def turns(self, sender: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Logged turns, oldest first (of one sender, or the latest overall)."""
        query = "SELECT * FROM turns"
        args: tuple[Any, ...] = ()
        if sender is not None:
            query += " WHERE sender = ?"
            args = (sender,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            cur = self._db.execute(query, (*args, limit))
            cols = [c[0] for c in cur.description]
            rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        for r in rows:
            for key in ("entities", "sources", "reply"):
                r[key] = json.loads(r[key])
        return rows[::-1]

    def get_turn(self, turn_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT sender FROM turns WHERE turn_id = ?", (turn_id,)
            ).fetchone()
        return {"turn_id": turn_id, "sender": row[0]} if row else None

    def add_feedback(self, turn_id: str, sender: str, rating: int, comment: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (turn_id, sender, rating, comment, ts) VALUES (?,?,?,?,?)",
                (turn_id, sender, rating, comment, time.time()),
            )

    def feedback(self, turn_id: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT turn_id, sender, rating, comment, ts FROM feedback"
        args: tuple[Any, ...] = ()
        if turn_id:
            query += " WHERE turn_id = ?"
            args = (turn_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [
            dict(zip(("turn_id", "sender", "rating", "comment", "ts"), r, strict=True))
            for r in rows
        ]

    def count_turns(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM turns").fetchone()[0])

    # -- live events, agent messages and the handoff queue ----------------------
    # The turns table is the event log: its row id is the event id a live
    # stream resumes from, so a reconnecting client gets exactly what it missed.
    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(sender)`` (from any thread) after each write for that sender."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, sender: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(sender)
            except Exception:  # a listener must never fail a write that was committed
                pass

    def _append_turn(self, turn: TurnRecord, history_add: dict[str, str] | None = None) -> int:
        """Insert one (redacted) turn row; optionally extend the sender's LM history."""
        turn = redact_turn(turn)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    """INSERT INTO turns (turn_id, sender, ts, user_text, action, reply,
                       reply_text, handoff, author) VALUES (?,?,?,?,?,?,?,?,?)""",
                    (
                        turn.turn_id,
                        turn.sender,
                        turn.ts,
                        turn.user_text,
                        turn.action,
                        json.dumps(turn.messages, ensure_ascii=False),
                        turn.reply_text,
                        int(turn.handoff),
                        turn.author,
                    ),
                )
                row_id = int(cur.lastrowid or 0)
                if history_add is not None:
                    row = self._db.execute(
                        "SELECT history FROM conversations WHERE sender = ?", (turn.sender,)
                    ).fetchone()
                    if row is not None:
                        history = json.loads(row[0]) + redact_history([history_add])
                        self._db.execute(
                            "UPDATE conversations SET history = ?, updated_at = ? WHERE sender = ?",
                            (
                                json.dumps(history[-2 * HISTORY_TURNS :], ensure_ascii=False),
                                turn.ts,
                                turn.sender,
                            ),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._notify(turn.sender)
        return row_id

    def log_agent_message(self, sender: str, text: str, agent: str) -> dict[str, Any]:
        """Log a human agent's answer (``author='agent'``; fine-tuning learns from these).

        ``user_text`` stays empty: the question it answers is the customer's last
        message, which is already in the log.
        """
        turn = TurnRecord(
            sender=sender,
            user_text="",
            action="agent_reply",
            messages=[{"recipient_id": sender, "text": text, "agent": agent}],
            handoff=True,
            author="agent",
        )
        row_id = self._append_turn(turn, {"role": "assistant", "content": text})
        return {"id": row_id, "turn_id": turn.turn_id, "ts": turn.ts}

    def log_notice(self, sender: str, text: str, action: str, handoff: bool = True) -> int:
        """Log a notice to the customer (an agent joined...) as ``author='system'``."""
        turn = TurnRecord(
            sender=sender,
            user_text="",
            action=action,
            messages=[{"recipient_id": sender, "text": text}],
            handoff=handoff,
            author="system",
        )
        return self._append_turn(turn)

    def events_after(self, sender: str, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """The sender's logged turns with row id above ``after_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                """SELECT id, turn_id, ts, author, user_text, reply, sources, action, handoff
                   FROM turns WHERE sender = ? AND id > ? ORDER BY id LIMIT ?""",
                (sender, after_id, limit),
            ).fetchall()
        return [
            {
                "id": r[0],
                "turn_id": r[1],
                "ts": r[2],
                "author": r[3] or "bot",
                "user": r[4],
                "messages": json.loads(r[5]),
                "sources": json.loads(r[6]),
                "action": r[7],
                "handoff": bool(r[8]),
            }
            for r in rows
        ]

    def changes_after(self, after_id: int, limit: int = 500) -> list[dict[str, Any]]:
        """Row id, sender and author of every turn logged after ``after_id`` (the inbox feed)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sender, author FROM turns WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [{"id": r[0], "sender": r[1], "author": r[2] or "bot"} for r in rows]

    def last_event_id(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM turns").fetchone()[0])

    _HANDOFF_COLS = "id, sender, reason, created_at, claimed_by, claimed_at, closed_at, closed_by"

    def _handoff_row(self, row: tuple[Any, ...] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return dict(zip(self._HANDOFF_COLS.split(", "), row, strict=True))

    def open_handoff(self, sender: str, reason: str) -> dict[str, Any]:
        """Put the conversation in the agents' queue (idempotent while one is open)."""
        with self._lock:
            current = self.get_open_handoff(sender)
            if current is None:
                self._db.execute(
                    "INSERT INTO handoffs (sender, reason, created_at) VALUES (?,?,?)",
                    (sender, reason, time.time()),
                )
                current = self.get_open_handoff(sender)
        assert current is not None
        return current

    def get_open_handoff(self, sender: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._HANDOFF_COLS} FROM handoffs "
                "WHERE sender = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1",
                (sender,),
            ).fetchone()
        return self._handoff_row(row)

    def open_handoffs(self) -> list[dict[str, Any]]:
        """The queue: open handoffs, oldest first, with the latest customer message."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._HANDOFF_COLS} FROM handoffs WHERE closed_at IS NULL ORDER BY id"
            ).fetchall()
            out = []
            for row in rows:
                item = self._handoff_row(row)
                assert item is not None
                last = self._db.execute(
                    """SELECT user_text, ts FROM turns WHERE sender = ? AND user_text != ''
                       ORDER BY id DESC LIMIT 1""",
                    (item["sender"],),
                ).fetchone()
                item["last_message"], item["last_ts"] = (last[0], last[1]) if last else ("", None)
                out.append(item)
        return out

    def claim_handoff(self, sender: str, agent: str) -> tuple[bool, dict[str, Any] | None]:
        """Claim the open handoff for ``agent``; exactly one agent wins a race.

        Returns (claimed, handoff): ``claimed`` is true when ``agent`` holds it now.
        """
        with self._lock:
            self._db.execute(
                """UPDATE handoffs SET claimed_by = ?, claimed_at = ?
                   WHERE sender = ? AND closed_at IS NULL AND claimed_by IS NULL""",
                (agent, time.time(), sender),
            )
            current = self.get_open_handoff(sender)
        return bool(current and current["claimed_by"] == agent), current

    def close_handoff(self, sender: str, by: str) -> None:
        """Take the conversation out of the queue (handed back, or the customer restarted)."""
        with self._lock:
            self._db.execute(
                "UPDATE handoffs SET closed_at = ?, closed_by = ? "
                "WHERE sender = ? AND closed_at IS NULL",
                (time.time(), by, sender),
            )
        self._notify(sender)

    def close(self) -> None:
        """Checkpoint the WAL and close; safe to call twice."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            except sqlite3.ProgrammingError:
                pass
