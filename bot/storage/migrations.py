"""Numbered schema migrations of the conversation database, for SQLite and PostgreSQL.

Each migration is applied once, in order, and recorded in ``schema_version``.
DDL is written once; the few words that differ between the two databases are
placeholders (``{id}``: an auto-numbered primary key, ``{float}``: a double,
``{blob}``: bytes; ``bot/storage/dialect.py``). A migration is a whole SQL script,
run as written: triggers, function bodies and ``;`` inside strings are fine. To
change the schema, append a migration; never edit one that has shipped.

A database file may hold more than one schema: the conversation log (``MIGRATIONS``,
versions in ``schema_version``) and the order book's changes
(``bot/storage/order_changes.py``, its own list and version table).

Migration 1 is the schema shopbot had before migrations existed (``IF NOT
EXISTS`` throughout), so a database made by an older version adopts the
numbering without any change.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.storage.db import Database, DatabaseError, Session, safe_url
from bot.storage.dialect import TYPES

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str  # a SQL script, with {id}/{float}/{blob} placeholders ({{ }} for braces)
    dialects: tuple[str, ...] = ("sqlite", "postgres")

    def script(self, dialect: str) -> str:
        """The migration's SQL for ``dialect``, placeholders filled in."""
        return self.sql.format(**TYPES[dialect])


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


def _ensure_table(session: Session, table: str = "schema_version") -> int:
    session.run(
        f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER PRIMARY KEY, "
        f"description TEXT NOT NULL, applied_at {TYPES[session.dialect]['float']} NOT NULL)"
    )
    row = session.fetchone(f"SELECT COALESCE(MAX(version), 0) FROM {table}")
    return int(row[0]) if row else 0


def _checked(migrations: Sequence[Migration], table: str) -> None:
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"not a plain table name for migration versions: {table!r}")
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, ... in order; got {versions}")


def schema_version(
    db: Database, migrations: Sequence[Migration] = MIGRATIONS, table: str = "schema_version"
) -> int:
    """The highest migration applied to ``db`` (0 for an empty database)."""
    _checked(migrations, table)
    with db.transaction() as tx:
        return _ensure_table(tx, table)


def migrate(
    db: Database,
    target: int | None = None,
    migrations: Sequence[Migration] = MIGRATIONS,
    table: str = "schema_version",
) -> list[int]:
    """Apply every migration above the database's version (up to ``target``); returns them.

    ``migrations`` / ``table``: the schema to bring up to date and where its version is
    recorded (default: the conversation log's). Safe when several processes start at
    once: SQLite's write lock or a PostgreSQL advisory lock lets one migrate while the
    others wait, and they then find nothing left to do. Everything runs in one
    transaction, so a failed migration leaves the previous schema intact. A database
    newer than this shopbot is refused.
    """
    _checked(migrations, table)
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    applied = []
    with db.transaction() as tx:
        if tx.dialect == "postgres":
            tx.run("SELECT pg_advisory_xact_lock(?)", (_MIGRATE_LOCK_KEY,))
        current = _ensure_table(tx, table)
        if current > latest:
            where = db.location if db.dialect == "sqlite" else safe_url(db.location)
            raise DatabaseError(
                f"the database {where} has {table} {current}, newer than this shopbot "
                f"knows ({latest}); upgrade shopbot before serving from it."
            )
        for m in migrations:
            if current < m.version <= target:
                if db.dialect in m.dialects:
                    tx.script(m.script(db.dialect))
                tx.run(
                    f"INSERT INTO {table} (version, description, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.description, time.time()),
                )
                applied.append(m.version)
    return applied
