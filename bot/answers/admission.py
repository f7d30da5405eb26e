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
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# Waiting for a slot: none at all when one is free, up to the queue timeout (5-30 s).
QUEUE_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


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
        # Seconds each admitted request waited for its slot (0 when one was free). Not
        # registered anywhere: GateCollector exposes it on each app's registry.
        self.queue_wait = Histogram(
            "shopbot_generation_queue_wait_seconds",
            "Seconds an admitted generation waited in the queue for a slot (0 when one was free).",
            buckets=QUEUE_WAIT_BUCKETS,
            registry=None,
        )

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
            self.queue_wait.observe(0.0)
            return True
        if self.waiting >= self.queue_size:
            self.rejected_full += 1
            return False
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        queued_at = time.monotonic()
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
            self.queue_wait.observe(time.monotonic() - queued_at)
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
        """This gate's metrics alone in Prometheus text format (the chat server and
        ``shopbot serve-llm`` register a :class:`GateCollector` on their own registry)."""
        registry = CollectorRegistry(auto_describe=True)
        registry.register(GateCollector(lambda: self))
        return generate_latest(registry).decode()


class GateCollector:
    """A prometheus_client collector reading a :class:`GenerationGate` at scrape time.

    ``source`` returns the gate (or None): a bot's gate may be replaced after the
    app's registry is made, so it is looked up on every scrape, not held.
    """

    def __init__(self, source: Callable[[], GenerationGate | None]) -> None:
        self.source = source

    def describe(self) -> list[Metric]:
        """The metric names, so a registry refuses a second collector that reuses them."""
        return list(self._families(GenerationGate()))

    def collect(self) -> Iterator[Metric]:
        """The gate's gauges, counters and queue-wait histogram (nothing without a gate)."""
        gate = self.source()
        if gate is not None:
            yield from self._families(gate)

    @staticmethod
    def _families(gate: GenerationGate) -> Iterator[Metric]:
        stats = gate.stats()
        yield GaugeMetricFamily(
            "shopbot_generation_active", "Generations running now.", value=stats["active"]
        )
        yield GaugeMetricFamily(
            "shopbot_generation_waiting",
            "Generations queued for a slot now.",
            value=stats["waiting"],
        )
        yield CounterMetricFamily(
            "shopbot_generation_admitted_total",
            "Generations admitted to a slot.",
            value=stats["admitted"],
        )
        busy = CounterMetricFamily(
            "shopbot_generation_busy_total",
            "Generations refused with a busy reply, by reason (queue_full, timeout).",
            labels=["reason"],
        )
        busy.add_metric(["queue_full"], stats["rejected_full"])
        busy.add_metric(["timeout"], stats["rejected_timeout"])
        yield busy
        yield from gate.queue_wait.collect()
