"""Admission control for generated answers: a bounded queue, then a polite "busy".

Generating an answer is the one expensive step of a turn (seconds of CPU or an
external engine's capacity); everything else takes milliseconds. Under a peak
the generator must not collect an unbounded pile of waiting requests that all
time out at once. :class:`GenerationGate` lets ``concurrency`` answers be
generated at once, lets at most ``queue_size`` more wait (first come, first
served) for at most ``timeout`` seconds, and refuses the rest at once; the
dialogue turns a refusal into a "busy" reply that still quotes the store's
information (bot/turn/pipeline.py), so the customer never waits for nothing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class GenerationGate:
    """``concurrency`` slots plus a FIFO queue of at most ``queue_size`` waiters."""

    def __init__(self, concurrency: int = 1, queue_size: int = 16, timeout: float = 30.0) -> None:
        self.concurrency = max(1, int(concurrency))
        self.queue_size = max(0, int(queue_size))
        self.timeout = max(0.0, float(timeout))
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Counters for /metrics and the load benchmark.
        self.admitted = 0
        self.rejected_full = 0
        self.rejected_timeout = 0

    @classmethod
    def from_config(cls, config: Any) -> GenerationGate:
        """The gate the config's ``generation_*`` fields describe."""
        return cls(
            getattr(config, "generation_concurrency", 1),
            getattr(config, "generation_queue_size", 16),
            getattr(config, "generation_queue_timeout", 10.0),
        )

    @property
    def waiting(self) -> int:
        """Requests queued for a slot right now."""
        return sum(1 for f in self._waiters if not f.done())

    def _check_loop(self) -> None:
        # Futures belong to one event loop; a new loop (tests, a restarted app)
        # starts with an empty gate rather than waking futures nobody awaits.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self.active, self._waiters = loop, 0, deque()

    async def acquire(self) -> bool:
        """True when a slot is ours (call :meth:`release`), False when busy."""
        self._check_loop()
        if self.active < self.concurrency and not self.waiting:
            self.active += 1
            self.admitted += 1
            return True
        if self.waiting >= self.queue_size:
            self.rejected_full += 1
            return False
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            # asyncio.wait never cancels the future, so a slot handed over at the
            # very moment the timeout fires is seen below and not lost.
            await asyncio.wait({waiter}, timeout=self.timeout)
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot reached us as the client went away: pass it on
            else:
                waiter.cancel()
            raise
        if waiter.done() and not waiter.cancelled():
            self.admitted += 1
            return True
        waiter.cancel()
        self.rejected_timeout += 1
        return False

    def release(self) -> None:
        """Give the slot to the longest waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves over; ``active`` is unchanged
                return
        self.active = max(0, self.active - 1)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """``async with gate.slot() as admitted:`` releases the slot when done."""
        admitted = await self.acquire()
        try:
            yield admitted
        finally:
            if admitted:
                self.release()

    def stats(self) -> dict[str, int]:
        """Counters: admitted, refused because the queue was full or the wait too long."""
        return {
            "active": self.active,
            "waiting": self.waiting,
            "admitted": self.admitted,
            "rejected_full": self.rejected_full,
            "rejected_timeout": self.rejected_timeout,
        }

    def prometheus(self) -> str:
        """The counters in Prometheus text format (appended to ``GET /metrics``)."""
        stats = self.stats()
        lines = [
            "# TYPE shopbot_generation_active gauge",
            f"shopbot_generation_active {stats['active']}",
            "# TYPE shopbot_generation_waiting gauge",
            f"shopbot_generation_waiting {stats['waiting']}",
            "# TYPE shopbot_generation_admitted_total counter",
            f"shopbot_generation_admitted_total {stats['admitted']}",
            "# TYPE shopbot_generation_busy_total counter",
            f'shopbot_generation_busy_total{{reason="queue_full"}} {stats["rejected_full"]}',
            f'shopbot_generation_busy_total{{reason="timeout"}} {stats["rejected_timeout"]}',
        ]
        return "\n".join(lines) + "\n"
