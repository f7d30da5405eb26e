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

    def close(self) -> None:
        """Checkpoint the WAL and close; safe to call twice."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            except sqlite3.ProgrammingError:
                pass
