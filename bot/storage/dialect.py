"""The SQL that differs between SQLite and PostgreSQL, in one place.

Everything else in ``bot/storage`` is written once, in SQL both databases run: ``?``
placeholders (rewritten here for PostgreSQL), ``ON CONFLICT``, ``RETURNING``,
``CASE`` rather than summed booleans, and an aggregate (``MIN``/``MAX``) around any
column that is not grouped by. What cannot be written once lives here:

- ``TYPES``: the column types of the schema (``{id}``, ``{float}``, ``{blob}`` in the
  migrations);
- ``day_sql``: the UTC calendar day (``YYYY-MM-DD``) of a Unix timestamp column;
- ``sqlite_statements``: a script cut into whole statements for SQLite, which runs one
  statement per call (PostgreSQL takes a whole script at once);
- ``to_postgres`` / ``pg_arg`` / ``rowcount``: placeholders, values and row counts in
  asyncpg's terms.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from typing import Any

DIALECTS = ("sqlite", "postgres")
TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "float": "REAL", "blob": "BLOB"},
    "postgres": {"id": "BIGSERIAL PRIMARY KEY", "float": "DOUBLE PRECISION", "blob": "BYTEA"},
}
# The UTC day of a Unix timestamp. PostgreSQL also has SQLite's spelling (migration 3, for
# the merchant's own queries), but the built-in expression needs no function of ours.
_DAY = {
    "sqlite": "date({}, 'unixepoch')",
    "postgres": "to_char(to_timestamp({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?")


def _known(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; one of {', '.join(DIALECTS)}")
    return dialect


def day_sql(dialect: str, column: str = "ts") -> str:
    """SQL for the UTC day (``'YYYY-MM-DD'`` text) of the Unix-time ``column``."""
    return _DAY[_known(dialect)].format(column)


def sqlite_statements(script: str) -> list[str]:
    """``script`` cut into the statements SQLite would run, one at a time.

    A ``;`` ends a statement only where SQLite agrees (``sqlite3.complete_statement``):
    not inside a string literal, a quoted name, a comment or a trigger's
    ``BEGIN ... END``. Text after the last complete statement is an error (a statement
    missing its end), not silently dropped.
    """
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            if statement.strip(";").strip() and not _only_comments(statement):
                statements.append(statement)
            pending = ""
    rest = pending[:-1]  # the ";" added after the last piece
    if rest.strip() and not _only_comments(rest):
        raise ValueError(f"incomplete SQL statement at the end of the script: {rest.strip()!r}")
    return statements


def _only_comments(sql: str) -> bool:
    # "-- note;" is complete to SQLite, yet executing it alone runs nothing: skip it.
    lines = [ln.strip() for ln in sql.splitlines()]
    body = " ".join(ln for ln in lines if ln and not ln.startswith("--"))
    return not body.strip("; ")


@functools.lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """``?`` placeholders to ``$1, $2, ...`` (leaving string literals alone)."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda m: f"${next(counter)}" if m.group(0) == "?" else m.group(0), sql)


def pg_arg(value: Any) -> Any:
    """``value`` as PostgreSQL can store it: text cannot hold NUL (SQLite's can), so it
    becomes U+FFFD rather than failing the turn."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def rowcount(status: str) -> int:
    """Rows changed, from asyncpg's command tag: "DELETE 3", "UPDATE 0", "INSERT 0 1"."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
