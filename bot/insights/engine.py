"""Keeping the insights current: log turns -> events, signals, profiles.

``InsightsEngine.process_new`` reads the turns logged since the last one it
processed (a high-water mark on the log's ``id``), in log order, and folds
each into its sender's profile. The background ``InsightsUpdater`` only wakes
it up after a turn is logged, so the reply is never delayed by the insights,
and a crash or restart just resumes at the mark. ``recompute`` clears the
derived tables and replays the whole log through the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.insights.events import Catalog, turn_event
from bot.insights.profiles import explain, fold, rfm
from bot.storage.db import Database
from bot.storage.insights import InsightsStore
from bot.storage.reports import feedback_ratings

log = logging.getLogger("shopbot.insights")


class InsightsEngine:
    """Incremental insights over one conversation database and one catalog."""

    def __init__(
        self,
        db_path: str | Path | Database,
        products: list[Any],
        encoder: Any | None = None,
        gap_threshold: float = 0.6,
        order_book: Any | None = None,
    ) -> None:
        self.store = InsightsStore(db_path)
        self.encoder = encoder
        self.catalog = Catalog.from_products(products, encoder)
        self.gap_threshold = gap_threshold
        self.order_book = order_book
        self._lock = threading.Lock()  # one processor at a time keeps log order

    @classmethod
    def for_bot(cls, bot: Any, gap_threshold: float = 0.6) -> InsightsEngine:
        """The engine over a loaded bot's log, catalog and encoder."""
        return cls(
            bot.conversations.db,  # shares the bot's connection (or PostgreSQL pool)
            bot.store.products,
            getattr(bot.index, "encoder", None),
            gap_threshold=gap_threshold,
            order_book=getattr(bot, "order_book", None),
        )

    def process_new(self, batch: int = 500, max_turns: int | None = None) -> int:
        """Process the turns logged since the last call (at most ``max_turns``); returns how many."""
        done = 0
        with self._lock:
            while max_turns is None or done < max_turns:
                size = batch if max_turns is None else min(batch, max_turns - done)
                rows = self.store.turns_after(self.store.high_water(), size)
                if not rows:
                    return done
                for row in rows:
                    event, signals, vec = turn_event(
                        row, self.catalog, self.encoder, self.gap_threshold
                    )
                    profile = fold(self.store.profile(row["sender"]), event)
                    self.store.apply(int(row["id"]), event, signals, profile, vec)
                    done += 1
        return done

    def recompute(self) -> int:
        """Forget all derived insights and rebuild them from the log."""
        with self._lock:
            self.store.clear()
        return self.process_new()

    def explain_profile(self, sender: str, now: float | None = None) -> str:
        """``shopbot insights profile``: the profile with what went into each field."""
        profile = self.store.profile(sender)
        if profile is None:
            raise ValueError(f"no profile for customer {sender!r}: they have no logged messages")
        feedback = [{"rating": r} for r in feedback_ratings(self.store.db, sender)]
        values = rfm(self.order_book, self.store.verified_customer(sender), now or time.time())
        titles = {pid: p.title for pid, p in self.catalog.products.items()}
        return explain(profile, feedback, values, titles)

    def close(self) -> None:
        self.store.close()


class InsightsUpdater:
    """Runs ``process_new`` in a worker thread whenever a turn was logged.

    ``notify`` is the bot's ``on_turn`` callback: it only sets an event, so
    the turn that triggered it returns at once. Retention pruning runs here
    too, at start and then daily.

    Given ``busy`` (true while a customer's turn is in flight), the updater
    works only in the lulls between turns, a small batch at a time: on two
    shared cores its embedding and SQLite work would otherwise slow the
    replies it runs beside. Under constant traffic it falls behind and
    catches up when traffic pauses; the admin pages catch up on demand.
    """

    def __init__(
        self,
        engine: InsightsEngine,
        retention_days: float = 0.0,
        busy: Callable[[], bool] | None = None,
        batch: int = 16,
    ) -> None:
        self.engine = engine
        self.retention_days = retention_days
        self.busy = busy
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_prune = 0.0
        self.processed = 0

    def notify(self, _turn: Any = None) -> None:
        """Ask for an update soon (never blocks)."""
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            # A short pause lets a burst of turns be processed as one batch.
            await asyncio.sleep(0.05)
            try:
                if self.busy is None:
                    await self.run_once()
                    continue
                while not self._stopping:
                    while self.busy() and not self._stopping:
                        await asyncio.sleep(0.05)  # a reply is being made: stay out of its way
                    if await self.run_once(max_turns=self.batch) < self.batch:
                        break
            except Exception:  # keep the updater alive; the next turn retries
                log.exception("insights update failed")

    async def run_once(self, max_turns: int | None = None) -> int:
        """Prune if due, then process what is new (at most ``max_turns``)."""
        if self.retention_days > 0 and time.time() - self._last_prune > 86400:
            self._last_prune = time.time()
            pruned = await asyncio.to_thread(self.engine.store.prune, self.retention_days)
            if any(pruned.values()):
                log.info("retention: pruned %s", pruned)
        n = await asyncio.to_thread(self.engine.process_new, 500, max_turns)
        self.processed += n
        return n

    def start(self) -> None:
        """Start the background task on the running loop, catching up on the log first."""
        self._task = asyncio.get_running_loop().create_task(self._loop())
        self._wake.set()

    async def stop(self) -> None:
        """Finish what was logged, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.run_once()
