"""The conversation store: turn log, feedback, per-sender state, live events.

One interface over two databases (``bot/storage/db.py``): SQLite in WAL mode, the
embedded default, where readers never block the writer and a crash loses
nothing that was committed; or PostgreSQL, which several server processes
share (``database_url``). Every method is synchronous and thread-safe; the
async server calls them through ``asyncio.to_thread``. The schema is managed
by numbered migrations (``bot/storage/migrations.py``), applied when a store opens.
The handoff queue it also keeps is ``bot/storage/handoffs.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storage.db import Database, Session, open_database
from bot.storage.handoffs import HandoffQueue
from bot.storage.migrations import migrate
from bot.storage.privacy import redact_history, redact_turn

HISTORY_TURNS = 10
# How long a turn waits for another server process to finish one for the same customer.
LOCK_TIMEOUT_SECONDS = 30.0


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
    # A follow-up read against the conversation: {"standalone", "topic"} (else None).
    followup: dict[str, Any] | None = None

    @property
    def reply_text(self) -> str:
        return "\n".join(m["text"] for m in self.messages if m.get("text"))


class ConversationStore(HandoffQueue):
    """The log and state of every conversation; one instance per process.

    ``location`` is a SQLite file path or a ``postgresql://`` URL.
    """

    def __init__(self, location: str | Path) -> None:
        self.db: Database = open_database(location)
        # A Path for SQLite (training and tools read the file), None for PostgreSQL.
        self.path: Path | None = getattr(self.db, "path", None)
        self.location = self.db.location
        # Shared by several server processes (PostgreSQL): turns take the conversation lock.
        self.shared = self.db.dialect == "postgres"
        # Called with a sender after anything is logged for it (bot/web/live.py wakes streams).
        self._listeners: list[Callable[[str], None]] = []
        self._local_locks: dict[str, list[Any]] = {}
        self._locks_guard = threading.Lock()
        try:
            migrate(self.db)
        except BaseException:
            self.db.close()
            raise

    # -- conversation state -------------------------------------------------
    def load_conversation(self, sender: str) -> Conversation:
        """The sender's slots and recent history (empty for a new sender)."""
        row = self.db.fetchone(
            "SELECT slots, history FROM conversations WHERE sender = ?", (sender,)
        )
        if row is None:
            return Conversation(sender=sender)
        return Conversation(sender=sender, slots=json.loads(row[0]), history=json.loads(row[1]))

    def save_turn(self, turn: TurnRecord, conversation: Conversation) -> None:
        """Log a turn and the conversation state it left, in one transaction.

        Text is redacted (bot/storage/privacy.py) on the way in: the running turn saw the
        raw message, the disk only ever gets the redacted one.
        """
        turn = redact_turn(turn)
        history = redact_history(conversation.history[-2 * HISTORY_TURNS :])
        with self.db.transaction() as tx:
            tx.run(
                """INSERT INTO conversations (sender, slots, history, updated_at)
                   VALUES (?,?,?,?) ON CONFLICT(sender) DO UPDATE SET
                   slots = excluded.slots, history = excluded.history,
                   updated_at = excluded.updated_at""",
                (
                    conversation.sender,
                    json.dumps(conversation.slots, ensure_ascii=False),
                    json.dumps(history, ensure_ascii=False),
                    float(turn.ts),
                ),
            )
            # Last, so the log lock is held as briefly as possible (up to the commit).
            tx.lock_log()
            tx.run(
                """INSERT INTO turns (turn_id, sender, ts, user_text, intent, confidence,
                   entities, sources, action, reply, reply_text, handoff, fallback,
                   latency_ms, author, followup) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (
                    turn.turn_id,
                    turn.sender,
                    turn.ts,
                    turn.user_text,
                    turn.intent,
                    _float(turn.confidence),
                    json.dumps(turn.entities, ensure_ascii=False),
                    json.dumps(turn.sources, ensure_ascii=False),
                    turn.action,
                    json.dumps(turn.messages, ensure_ascii=False),
                    turn.reply_text,
                    int(turn.handoff),
                    int(turn.fallback),
                    _float(turn.latency_ms),
                    turn.author,
                    json.dumps(turn.followup, ensure_ascii=False) if turn.followup else None,
                ),
            )
            self.db.notify(tx, turn.sender)
        self._notify(turn.sender)

    # -- conversation tokens (who may continue a conversation) -------------
    def claim_conversation(self, sender: str) -> str | None:
        """A new conversation's secret token, or None when ``sender`` already has one.

        A sender id is a name, not a credential: whoever starts a conversation gets
        an unguessable token, and only its hash is stored. A sender that already
        has a conversation (a token, logged turns or saved state, including ones
        made before tokens existed or by the REST channel) is never handed a new
        token, so nobody can take over someone else's conversation by naming it.
        Atomic across server processes: of two first messages at once, one wins.
        """
        token = secrets.token_urlsafe(32)
        with self.db.transaction() as tx:
            if tx.fetchone("SELECT 1 FROM conversations WHERE sender = ?", (sender,)) or (
                tx.fetchone("SELECT 1 FROM turns WHERE sender = ? LIMIT 1", (sender,))
            ):
                return None
            inserted = tx.run(
                """INSERT INTO conversation_tokens (sender, token_hash, created_at)
                   VALUES (?, ?, ?) ON CONFLICT(sender) DO NOTHING""",
                (sender, _token_hash(token), time.time()),
            )
        return token if inserted else None

    def check_conversation_token(self, sender: str, token: str) -> bool:
        """Whether ``token`` is the secret of ``sender``'s conversation (constant time)."""
        row = self.db.fetchone(
            "SELECT token_hash FROM conversation_tokens WHERE sender = ?", (sender,)
        )
        if row is None:
            hmac.compare_digest(_token_hash(token), _token_hash(""))  # same work either way
            return False
        return hmac.compare_digest(str(row[0]), _token_hash(token))

    def lock_conversation(self, sender: str, timeout: float = LOCK_TIMEOUT_SECONDS) -> bool:
        """Take ``sender``'s conversation for one turn: load, decide, save, then unlock.

        Within a process the server's own lock already serialises a customer's
        turns; this also holds off other server processes sharing PostgreSQL, so
        two messages landing on two servers at once cannot both start from the
        same slots. Returns False when the wait timed out (the turn proceeds:
        answering late-but-unlocked beats not answering).
        """
        with self._locks_guard:
            # [lock, holders and waiters]: dropped when nobody needs it (no growth per sender).
            entry = self._local_locks.setdefault(sender, [threading.Lock(), 0])
            entry[1] += 1
        if entry[0].acquire(timeout=timeout):
            try:
                if self.db.lock_conversation(sender, timeout):
                    return True
            except BaseException:
                self._release_local(sender)
                raise
            self._release_local(sender)
            return False
        self._forget_local(sender)
        return False

    def unlock_conversation(self, sender: str) -> None:
        """Release a lock taken by ``lock_conversation`` (from any thread)."""
        try:
            self.db.unlock_conversation(sender)
        finally:
            self._release_local(sender)

    def _release_local(self, sender: str) -> None:
        self._local_locks[sender][0].release()
        self._forget_local(sender)

    def _forget_local(self, sender: str) -> None:
        with self._locks_guard:
            entry = self._local_locks[sender]
            entry[1] -= 1
            if entry[1] == 0:
                del self._local_locks[sender]

    def reset_conversation(self, sender: str) -> None:
        """Forget the sender's slots and history (the log stays)."""
        self.db.run("DELETE FROM conversations WHERE sender = ?", (sender,))

    # -- log and feedback ---------------------------------------------------
    def turns(self, sender: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Logged turns, oldest first (of one sender, or the latest overall)."""
        query = "SELECT * FROM turns"
        args: tuple[Any, ...] = ()
        if sender is not None:
            query += " WHERE sender = ?"
            args = (sender,)
        query += " ORDER BY id DESC LIMIT ?"
        rows = self.db.fetch_dicts(query, (*args, limit))
        for r in rows:
            for key in ("entities", "sources", "reply"):
                r[key] = json.loads(r[key])
        return rows[::-1]

    def get_turn(self, turn_id: str) -> dict[str, Any] | None:
        """The sender a logged turn belongs to (feedback checks it), or None."""
        row = self.db.fetchone("SELECT sender FROM turns WHERE turn_id = ?", (turn_id,))
        return {"turn_id": turn_id, "sender": row[0]} if row else None

    def add_feedback(self, turn_id: str, sender: str, rating: int, comment: str | None) -> None:
        """Record a customer's rating of one turn."""
        self.db.run(
            "INSERT INTO feedback (turn_id, sender, rating, comment, ts) VALUES (?,?,?,?,?)",
            (turn_id, sender, int(rating), comment, time.time()),
        )

    def feedback(self, turn_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded feedback (of one turn, or all), oldest first."""
        query = "SELECT turn_id, sender, rating, comment, ts FROM feedback"
        args: tuple[Any, ...] = ()
        if turn_id:
            query += " WHERE turn_id = ?"
            args = (turn_id,)
        return self.db.fetch_dicts(query + " ORDER BY id", args)

    def count_turns(self) -> int:
        """How many turns the log holds."""
        row = self.db.fetchone("SELECT COUNT(*) FROM turns")
        return int(row[0]) if row else 0

    # -- live events and agent messages ----------------------------------------
    # The turns table is the event log: its row id is the event id a live
    # stream resumes from, so a reconnecting client gets exactly what it missed.
    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(sender)`` (from any thread) after each write for that sender.

        On PostgreSQL this includes writes by other server processes (LISTEN/NOTIFY).
        """
        self._listeners.append(listener)
        self.db.listen(listener)

    def remove_listener(self, listener: Callable[[str], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)
        unlisten = getattr(self.db, "unlisten", None)
        if unlisten is not None:
            unlisten(listener)

    def _notify(self, sender: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(sender)
            except Exception:  # a listener must never fail a write that was committed
                pass

    def _append_turn(self, turn: TurnRecord, history_add: dict[str, str] | None = None) -> int:
        """Insert one (redacted) turn row; optionally extend the sender's LM history."""
        turn = redact_turn(turn)
        with self.db.transaction() as tx:
            if history_add is not None:
                self._extend_history(tx, turn, history_add)
            # Always the conversation row first, then the log lock (as save_turn): one
            # order of locks, so two writers can never deadlock on each other.
            tx.lock_log()
            row = tx.fetchone(
                """INSERT INTO turns (turn_id, sender, ts, user_text, action, reply,
                   reply_text, handoff, author) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id""",
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
            row_id = int(row[0]) if row else 0
            self.db.notify(tx, turn.sender)
        self._notify(turn.sender)
        return row_id

    @staticmethod
    def _extend_history(tx: Session, turn: TurnRecord, history_add: dict[str, str]) -> None:
        row = tx.fetchone("SELECT history FROM conversations WHERE sender = ?", (turn.sender,))
        if row is None:
            return
        history = json.loads(row[0]) + redact_history([history_add])
        tx.run(
            "UPDATE conversations SET history = ?, updated_at = ? WHERE sender = ?",
            (
                json.dumps(history[-2 * HISTORY_TURNS :], ensure_ascii=False),
                float(turn.ts),
                turn.sender,
            ),
        )

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
        rows = self.db.fetch(
            """SELECT id, turn_id, ts, author, user_text, reply, sources, action, handoff
               FROM turns WHERE sender = ? AND id > ? ORDER BY id LIMIT ?""",
            (sender, int(after_id), int(limit)),
        )
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
        rows = self.db.fetch(
            "SELECT id, sender, author FROM turns WHERE id > ? ORDER BY id LIMIT ?",
            (int(after_id), int(limit)),
        )
        return [{"id": r[0], "sender": r[1], "author": r[2] or "bot"} for r in rows]

    def last_event_id(self) -> int:
        """The row id of the newest logged turn (0 for an empty log)."""
        row = self.db.fetchone("SELECT COALESCE(MAX(id), 0) FROM turns")
        return int(row[0]) if row else 0

    # -- failed identity checks (attempt limits; the merchant's review) -------
    def record_verification_failure(
        self, sender: str, reason: str, email_key: str = "", name_key: str = ""
    ) -> None:
        """Log one failed identity check of ``sender``'s conversation.

        ``email_key`` / ``name_key``: opaque keys of the email and the name that were
        tried (see :func:`identity_key`), so attempts on one customer can be counted
        across conversations without storing the details themselves.
        """
        self.db.run(
            "INSERT INTO verification_failures (sender, email_key, name_key, reason, ts) "
            "VALUES (?, ?, ?, ?, ?)",
            (sender, email_key, name_key, reason[:200], time.time()),
        )

    def verification_failures(
        self, since: float, sender: str | None = None, keys: tuple[str, ...] = ()
    ) -> int:
        """Failed identity checks since ``since``: of one conversation, or on any of ``keys``."""
        if sender is not None:
            row = self.db.fetchone(
                "SELECT COUNT(*) FROM verification_failures WHERE sender = ? AND ts >= ?",
                (sender, since),
            )
            return int(row[0]) if row else 0
        keys = tuple(k for k in keys if k)
        if not keys:
            return 0
        marks = ", ".join("?" for _ in keys)
        row = self.db.fetchone(
            "SELECT COUNT(*) FROM verification_failures WHERE ts >= ? "
            f"AND (email_key IN ({marks}) OR name_key IN ({marks}))",
            (since, *keys, *keys),
        )
        return int(row[0]) if row else 0

    def recent_verification_failures(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest failed identity checks, newest first (for the merchant)."""
        rows = self.db.fetch(
            "SELECT sender, reason, ts FROM verification_failures ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [{"sender": r[0], "reason": r[1], "ts": r[2]} for r in rows]

    def close(self) -> None:
        """Close the database (SQLite: checkpoint the WAL); safe to call twice."""
        self.db.close()


def identity_key(kind: str, value: str | None) -> str:
    """An opaque, stable key for an email or a full name tried at verification ('' if none).

    Case and spacing do not matter, so "Emma  SMITH" and "emma smith" are one target.
    """
    if not value:
        return ""
    norm = " ".join(str(value).lower().split())
    return hashlib.sha256(f"shopbot-identity:{kind}:{norm}".encode()).hexdigest()[:32]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _float(value: Any) -> float | None:
    # numpy scalars and ints bind as doubles in both databases.
    return None if value is None else float(value)
