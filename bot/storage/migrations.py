"""Numbered schema migrations of the conversation database, for SQLite and PostgreSQL.

Each migration is applied once, in order, and recorded in ``schema_version``.
DDL is written once; the few words that differ between the two databases are
placeholders (``{id}``: an auto-numbered primary key, ``{float}``: a double,
``{blob}``: bytes). To change the schema, append a migration; never edit one
that has shipped.

Migration 1 is the schema shopbot had before migrations existed (``IF NOT
EXISTS`` throughout), so a database made by an older version adopts the
numbering without any change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.storage.db import Database, DatabaseError, Session, safe_url

_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "float": "REAL", "blob": "BLOB"},
    "postgres": {"id": "BIGSERIAL PRIMARY KEY", "float": "DOUBLE PRECISION", "blob": "BYTEA"},
}


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str  # statements separated by ";", with {id}/{float}/{blob} placeholders
    dialects: tuple[str, ...] = ("sqlite", "postgres")

    def statements(self, dialect: str) -> list[str]:
        text = self.sql.format(**_TYPES[dialect])
        return [s.strip() for s in text.split(";") if s.strip()]


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "turn log, feedback, conversation state, handoff queue, insights",
        """
        CREATE TABLE IF NOT EXISTS turns (
            id {id},
            turn_id TEXT NOT NULL UNIQUE,
            sender TEXT NOT NULL,
            ts {float} NOT NULL,
            user_text TEXT NOT NULL,
            intent TEXT,
            confidence {float},
            entities TEXT NOT NULL DEFAULT '[]',
            sources TEXT NOT NULL DEFAULT '[]',
            action TEXT,
            reply TEXT NOT NULL DEFAULT '[]',
            reply_text TEXT NOT NULL DEFAULT '',
            handoff INTEGER NOT NULL DEFAULT 0,
            fallback INTEGER NOT NULL DEFAULT 0,
            latency_ms {float},
            author TEXT NOT NULL DEFAULT 'bot'
        );
        CREATE INDEX IF NOT EXISTS turns_sender ON turns(sender, id);
        CREATE TABLE IF NOT EXISTS feedback (
            id {id},
            turn_id TEXT NOT NULL,
            sender TEXT NOT NULL,
            rating INTEGER NOT NULL,
            comment TEXT,
            ts {float} NOT NULL
        );
        CREATE INDEX IF NOT EXISTS feedback_turn ON feedback(turn_id);
        CREATE TABLE IF NOT EXISTS conversations (
            sender TEXT PRIMARY KEY,
            slots TEXT NOT NULL DEFAULT '{{}}',
            history TEXT NOT NULL DEFAULT '[]',
            updated_at {float} NOT NULL
        );
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS handoffs (
            id {id},
            sender TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at {float} NOT NULL,
            claimed_by TEXT,
            claimed_at {float},
            closed_at {float},
            closed_by TEXT
        );
        CREATE INDEX IF NOT EXISTS handoffs_sender ON handoffs(sender, closed_at);
        CREATE TABLE IF NOT EXISTS insight_events (
            turn_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            sender TEXT NOT NULL,
            ts {float} NOT NULL,
            day TEXT NOT NULL,
            data TEXT NOT NULL,
            gap_vec {blob}
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
            updated_at {float} NOT NULL
        );
        CREATE TABLE IF NOT EXISTS insight_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
        """,
    ),
    Migration(
        2,
        "index turns and feedback by time (retention pruning, per-day reports)",
        """
        CREATE INDEX IF NOT EXISTS turns_ts ON turns(ts);
        CREATE INDEX IF NOT EXISTS feedback_ts ON feedback(ts);
        CREATE INDEX IF NOT EXISTS insight_signals_turn ON insight_signals(turn_id)
        """,
    ),
    Migration(
        3,
        "SQLite's date(ts, 'unixepoch') for the merchant's per-day reports",
        """
        CREATE OR REPLACE FUNCTION date(ts DOUBLE PRECISION, modifier TEXT) RETURNS TEXT
        AS 'SELECT to_char(to_timestamp(ts) AT TIME ZONE ''UTC'', ''YYYY-MM-DD'')'
        LANGUAGE SQL IMMUTABLE
        """,
        dialects=("postgres",),
    ),
    Migration(
        4,
        "conversation tokens: a conversation belongs to whoever holds its secret",
        """
        CREATE TABLE IF NOT EXISTS conversation_tokens (
            sender TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL,
            created_at {float} NOT NULL
        )
        """,
    ),
    Migration(
        5,
        "failed identity checks, for the attempt limits and the merchant's review",
        """
        CREATE TABLE IF NOT EXISTS verification_failures (
            id {id},
            sender TEXT NOT NULL,
            email_key TEXT NOT NULL DEFAULT '',
            name_key TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL,
            ts {float} NOT NULL
        );
        CREATE INDEX IF NOT EXISTS verification_failures_sender
            ON verification_failures(sender, ts);
        CREATE INDEX IF NOT EXISTS verification_failures_email
            ON verification_failures(email_key, ts);
        CREATE INDEX IF NOT EXISTS verification_failures_name
            ON verification_failures(name_key, ts)
        """,
    ),
    Migration(
        6,
        "a follow-up's standalone question and the topic it was read against",
        "ALTER TABLE turns ADD COLUMN followup TEXT",
    ),
]

LATEST = MIGRATIONS[-1].version
_MIGRATE_LOCK_KEY = 0x5B08  # PostgreSQL advisory lock: one process migrates at a time


def _ensure_table(session: Session) -> int:
    session.run(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
        f"description TEXT NOT NULL, applied_at {_TYPES[session.dialect]['float']} NOT NULL)"
    )
    row = session.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    return int(row[0]) if row else 0


def schema_version(db: Database) -> int:
    """The highest migration applied to ``db`` (0 for an empty database)."""
    with db.transaction() as tx:
        return _ensure_table(tx)


def migrate(db: Database, target: int | None = None) -> list[int]:
    """Apply every migration above the database's version (up to ``target``); returns them.

    Safe when several processes start at once: SQLite's write lock or a
    PostgreSQL advisory lock lets one migrate while the others wait, and they
    then find nothing left to do. Everything runs in one transaction, so a
    failed migration leaves the previous schema intact. A database newer than
    this shopbot is refused.
    """
    target = LATEST if target is None else target
    applied = []
    with db.transaction() as tx:
        if tx.dialect == "postgres":
            tx.run("SELECT pg_advisory_xact_lock(?)", (_MIGRATE_LOCK_KEY,))
        current = _ensure_table(tx)
        if current > LATEST:
            where = db.location if db.dialect == "sqlite" else safe_url(db.location)
            raise DatabaseError(
                f"the conversation database {where} has schema version {current}, newer "
                f"than this shopbot knows ({LATEST}); upgrade shopbot before serving from it."
            )
        for m in MIGRATIONS:
            if current < m.version <= target:
                if db.dialect in m.dialects:
                    for statement in m.statements(db.dialect):
                        tx.run(statement)
                tx.run(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (?, ?, ?)",
                    (m.version, m.description, time.time()),
                )
                applied.append(m.version)
    return applied
