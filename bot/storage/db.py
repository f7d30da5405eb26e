"""The database under the conversation store: SQLite (embedded) or PostgreSQL (shared).

Both stores (``bot/storage/conversations.py``, ``bot/storage/insights.py``) talk to a
``Database``: a small synchronous interface (``fetch``, ``run``, ``many``,
``transaction``) that callers use from worker threads, as they always have.
SQL is written once with ``?`` placeholders and portable syntax (``ON
CONFLICT``, ``RETURNING``); the PostgreSQL side rewrites the placeholders.

- ``SQLiteDatabase``: one WAL-mode connection behind a lock; the default, a
  file next to the store's artifacts.
- ``PostgresDatabase``: an asyncpg pool owned by a private event-loop thread.
  asyncpg is async, the stores are sync and called through
  ``asyncio.to_thread``; running the pool on its own loop keeps every caller
  unchanged and never blocks the server's loop. Several server processes can
  share one PostgreSQL database (see docs/deployment.md).

``open_database(location)`` picks the backend: a ``postgresql://`` or
``postgres://`` URL is PostgreSQL, anything else a SQLite file path.
Schema changes are numbered migrations (``bot/storage/migrations.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.storage.dialect import pg_arg, rowcount, sqlite_statements, to_postgres

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# PostgreSQL advisory lock ids: writers of the turn log; the insights processor; the
# class of per-conversation locks (two-key form: a separate space from the others).
_LOG_LOCK_KEY = 0x5B07
INSIGHTS_LOCK_KEY = 0x5B09
_CONVERSATION_LOCK_CLASS = 0x5B0C


class DatabaseError(RuntimeError):
    """The database could not be opened or used; the message says what to do."""


def is_postgres_url(location: str | Path | None) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.lower().startswith(POSTGRES_SCHEMES)


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages and ``shopbot config``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class Session:
    """What a transaction (or the database itself, one statement at a time) can do."""

    dialect: str = ""

    def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query (or of ``... RETURNING``), as tuples."""
        raise NotImplementedError

    def fetch_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a query as ``{column: value}``."""
        raise NotImplementedError

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Execute a statement; returns the number of rows it changed."""
        raise NotImplementedError

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Execute one statement for each row of arguments."""
        raise NotImplementedError

    def script(self, sql: str) -> None:
        """Run a whole SQL script as written: any number of statements, no arguments, no
        placeholder rewriting (function bodies, triggers, ``;`` inside strings)."""
        raise NotImplementedError

    def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetch(sql, args)
        return rows[0] if rows else None

    def lock_log(self) -> None:
        """Serialise writers of the turn log until this transaction ends.

        The turn row id is the cursor live streams and insights resume from, so
        ids must become visible in order. SQLite's ``BEGIN IMMEDIATE`` already
        admits one writer at a time; PostgreSQL hands out sequence values to
        concurrent transactions that may commit out of order, so it takes an
        advisory lock there.
        """
        self.advisory_lock(_LOG_LOCK_KEY)

    def advisory_lock(self, key: int) -> None:
        """Hold lock ``key`` until this transaction ends (PostgreSQL; SQLite has one writer)."""


class Database(Session):
    """A connection (or pool) to the conversation database; thread-safe."""

    location: str

    def transaction(self) -> Any:
        """A context manager yielding a ``Session`` whose statements commit together."""
        raise NotImplementedError

    def script(self, sql: str) -> None:
        """Run a whole SQL script in one transaction (see ``Session.script``)."""
        with self.transaction() as tx:
            tx.script(sql)

    def listen(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(sender)`` when another process logs for ``sender`` (PostgreSQL)."""

    def notify(self, session: Session, sender: str) -> None:
        """Inside ``session``'s transaction: tell other processes about ``sender`` at commit."""

    def lock_conversation(self, sender: str, timeout: float) -> bool:
        """Hold ``sender``'s conversation against other processes; False if that timed out.

        SQLite serves one process, whose own lock is enough: nothing to do.
        """
        return True

    def unlock_conversation(self, sender: str) -> None:
        """Release what ``lock_conversation`` took."""

    def close(self) -> None:
        raise NotImplementedError


# -- SQLite -----------------------------------------------------------------------------


class _SQLiteSession(Session):
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._conn.execute(sql, tuple(args)).fetchall()]

    def fetch_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self._conn.execute(sql, tuple(args))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(args)).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, [tuple(r) for r in rows])

    def script(self, sql: str) -> None:
        # Not executescript: it commits the open transaction first.
        for statement in sqlite_statements(sql):
            self._conn.execute(statement)


class SQLiteDatabase(Database):
    """One SQLite file in WAL mode: readers never block the writer, commits survive a crash."""

    dialect = "sqlite"

    def __init__(
        self,
        path: str | Path,
        busy_timeout: float = 5.0,
        read_only: bool = False,
        purpose: str = "conversation database",
    ) -> None:
        """``read_only``: an existing file, never written; ``purpose`` names it in errors."""
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            target = f"{self.path.resolve().as_uri()}?mode=ro" if read_only else str(self.path)
            self._conn = sqlite3.connect(
                target, uri=read_only, check_same_thread=False, isolation_level=None
            )
            # Seconds a statement waits for another process's write lock.
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            if not read_only:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"cannot open the {purpose} {self.path}: {exc}. "
                "Move the file away to start a fresh log."
            ) from exc
        self._session = _SQLiteSession(self._conn)

    def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._session.fetch(sql, args)

    def fetch_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return self._session.fetch_dicts(sql, args)

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._session.run(sql, args)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock:
            self._session.many(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._lock:
            # IMMEDIATE takes the write lock now, so two processes never deadlock upgrading.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._session
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Checkpoint the WAL and close; safe to call twice."""
        with self._lock:
            try:
                if not self.read_only:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.close()
            except sqlite3.ProgrammingError:
                pass


# -- PostgreSQL -------------------------------------------------------------------------

NOTIFY_CHANNEL = "shopbot_events"


async def _awaited(awaitable: Any) -> Any:
    # run_coroutine_threadsafe takes coroutines only; asyncpg also returns awaitables.
    return await awaitable


async def _lazy(factory: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await factory(*args, **kwargs)


def _conversation_key(sender: str) -> int:
    """A stable signed 32-bit key for a sender (PostgreSQL's two-int advisory lock form)."""
    digest = hashlib.blake2b(sender.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class _PostgresSession(Session):
    """Statements on one connection (inside a transaction), run on the owner's loop."""

    dialect = "postgres"

    def __init__(self, db: PostgresDatabase, conn: Any) -> None:
        self._db = db
        self._conn = conn

    def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = self._db._call(self._conn.fetch(to_postgres(sql), *map(pg_arg, args)))
        return [tuple(r.values()) for r in rows]

    def fetch_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        rows = self._db._call(self._conn.fetch(to_postgres(sql), *map(pg_arg, args)))
        return [dict(r.items()) for r in rows]

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return rowcount(self._db._call(self._conn.execute(to_postgres(sql), *map(pg_arg, args))))

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(map(pg_arg, r)) for r in rows]
        if batch:
            self._db._call(self._conn.executemany(to_postgres(sql), batch))

    def script(self, sql: str) -> None:
        # Without arguments asyncpg uses the simple protocol: several statements at once.
        self._db._call(self._conn.execute(sql))

    def advisory_lock(self, key: int) -> None:
        self.run("SELECT pg_advisory_xact_lock(?)", (key,))


class PostgresDatabase(Database):
    """An asyncpg pool on a private event-loop thread, behind the synchronous interface."""

    dialect = "postgres"
    path = None

    def __init__(
        self, url: str, min_size: int = 1, max_size: int = 10, read_only: bool = False
    ) -> None:
        import asyncpg

        self.location = url
        self._asyncpg = asyncpg
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="shopbot-postgres", daemon=True
        )
        self._thread.start()
        self._listen_conn: Any = None
        self._lock_conn: Any = None
        self._lock_guard = asyncio.Lock()  # one statement at a time on the lock connection
        self._callbacks: list[Callable[[str], None]] = []
        self._closed = self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        try:
            # The pool is built on its own loop (asyncpg binds it to the running loop).
            self._pool = self._call(
                _lazy(
                    asyncpg.create_pool,
                    url,
                    min_size=min_size,
                    max_size=max_size,
                    command_timeout=30,
                    server_settings={"default_transaction_read_only": "on"} if read_only else None,
                ),
                timeout=30,
            )
        except Exception as exc:
            self._stop_loop()
            raise DatabaseError(
                f"cannot connect to PostgreSQL at {safe_url(url)}: {exc}. Check that the "
                "server runs, the database exists and the user may log in "
                "(database_url / SHOPBOT_DATABASE_URL)."
            ) from exc

    def _call(self, coro: Any, timeout: float | None = 60) -> Any:
        """Run ``coro`` on the pool's loop and wait for it from this (worker) thread."""
        if self._closed:
            if asyncio.iscoroutine(coro):
                coro.close()
            raise DatabaseError(f"the PostgreSQL store {safe_url(self.location)} is closed")
        return asyncio.run_coroutine_threadsafe(_awaited(coro), self._loop).result(timeout)

    def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = self._call(self._pool.fetch(to_postgres(sql), *map(pg_arg, args)))
        return [tuple(r.values()) for r in rows]

    def fetch_dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        rows = self._call(self._pool.fetch(to_postgres(sql), *map(pg_arg, args)))
        return [dict(r.items()) for r in rows]

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return rowcount(self._call(self._pool.execute(to_postgres(sql), *map(pg_arg, args))))

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.transaction() as tx:
            tx.many(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        conn = self._call(self._pool.acquire())
        try:
            tx = conn.transaction()
            self._call(tx.start())
            try:
                yield _PostgresSession(self, conn)
            except BaseException:
                self._call(tx.rollback())
                raise
            self._call(tx.commit())
        finally:
            self._call(self._pool.release(conn))

    # -- one turn per conversation across processes: session advisory locks --------------
    # Held on one dedicated connection per process, so a server that dies releases
    # every lock it held the moment PostgreSQL notices the connection is gone.
    def lock_conversation(self, sender: str, timeout: float) -> bool:
        key = _conversation_key(sender)

        async def acquire() -> bool:
            deadline = self._loop.time() + timeout
            while True:
                async with self._lock_guard:
                    if self._lock_conn is None or self._lock_conn.is_closed():
                        self._lock_conn = await self._asyncpg.connect(self.location)
                    got = await self._lock_conn.fetchval(
                        "SELECT pg_try_advisory_lock($1, $2)", _CONVERSATION_LOCK_CLASS, key
                    )
                if got:
                    return True
                if self._loop.time() > deadline:
                    return False
                await asyncio.sleep(0.01)  # another server is mid-turn for this customer

        return bool(self._call(acquire(), timeout=timeout + 30))

    def unlock_conversation(self, sender: str) -> None:
        key = _conversation_key(sender)

        async def release() -> None:
            async with self._lock_guard:
                if self._lock_conn is not None and not self._lock_conn.is_closed():
                    await self._lock_conn.fetchval(
                        "SELECT pg_advisory_unlock($1, $2)", _CONVERSATION_LOCK_CLASS, key
                    )

        self._call(release())

    # -- cross-process wake-ups: LISTEN/NOTIFY ------------------------------------------
    def notify(self, session: Session, sender: str) -> None:
        # Delivered at commit, to every process listening (including this one).
        session.run("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, sender))

    def listen(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)
        if self._listen_conn is None:
            self._listen_conn = self._call(self._connect_listener())

    async def _connect_listener(self) -> Any:
        conn = await self._asyncpg.connect(self.location)
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        conn.add_termination_listener(self._on_listener_lost)
        return conn

    def _on_listener_lost(self, _conn: Any) -> None:
        # PostgreSQL restarted or the network dropped: reconnect in the background.
        # Meanwhile live streams still poll the log at each keepalive.
        if not self._closing:
            self._reconnecting = self._loop.create_task(self._reconnect_listener())

    async def _reconnect_listener(self) -> None:
        delay = 0.5
        while not self._closing:
            try:
                self._listen_conn = await self._connect_listener()
            except Exception:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            else:
                return

    def unlisten(self, callback: Callable[[str], None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        for callback in list(self._callbacks):
            try:
                callback(payload)
            except Exception:  # a listener never breaks the others
                pass

    def close(self) -> None:
        """Close the pool and stop the loop thread; safe to call twice."""
        if self._closed:
            return

        self._closing = True  # our own close of the listener is not a lost connection

        async def shutdown() -> None:
            if self._reconnecting is not None:
                self._reconnecting.cancel()
            for conn in (self._listen_conn, self._lock_conn):
                if conn is not None and not conn.is_closed():
                    await conn.close()
            await asyncio.wait_for(self._pool.close(), 10)

        try:
            self._call(shutdown(), timeout=15)
        except Exception:
            self._pool.terminate()
        self._closed = True
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def open_database(location: str | Path, read_only: bool = False) -> Database:
    """A PostgreSQL database for a ``postgresql://`` URL, else a SQLite file at ``location``
    (``read_only``: an existing file; nothing is created, migrated or written)."""
    if is_postgres_url(location):
        return PostgresDatabase(str(location), read_only=read_only)
    if isinstance(location, str) and "://" in location:
        raise DatabaseError(
            f"unsupported database URL {safe_url(location)}: use postgresql://user:password@"
            "host:port/database, or a SQLite file path"
        )
    return SQLiteDatabase(location, read_only=read_only)
