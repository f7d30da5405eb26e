"""The chat server's Prometheus metrics (``GET /metrics``), kept with prometheus_client.

Each app has a :class:`Metrics` with its own ``CollectorRegistry``: two apps in
one process (the tests make many) never share or collide on counts. The
registry holds the request and turn counters, the turn-time and
tokens-per-second histograms, the generation gate (read from the bot at scrape
time, bot/answers/admission.py) and prometheus_client's process and platform
collectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    Summary,
    generate_latest,
)

from bot.answers.admission import GateCollector, GenerationGate

# A turn without generation takes milliseconds; a generated answer on a CPU seconds,
# up to the generation queue's timeout and beyond.
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)
# A small CPU model writes a few to a few dozen tokens a second; an engine on a GPU hundreds.
TOKENS_PER_SECOND_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 500, 1000)


class Metrics:
    """One app's counters and histograms, on a registry of its own.

    ``gate``: returns the generation gate to report (the bot's, once it is loaded).
    """

    def __init__(self, gate: Callable[[], GenerationGate | None] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "shopbot_http_requests",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=r,
        )
        self.turns = Counter(
            "shopbot_turns", "Conversation turns, by the action that answered.", ["action"],
            registry=r,
        )  # fmt: skip
        self.turn_seconds = Histogram(
            "shopbot_turn_seconds",
            "Seconds from a message's arrival to its logged reply, by action.",
            ["action"],
            buckets=TURN_BUCKETS,
            registry=r,
        )
        # The summary this endpoint always had; shopbot_turn_seconds has the distribution.
        self.turn_latency = Summary(
            "shopbot_turn_latency_seconds", "Seconds per turn, all actions.", registry=r
        )
        self.handoffs = Counter(
            "shopbot_handoffs", "Turns that handed the conversation to a person.", registry=r
        )
        self.fallbacks = Counter(
            "shopbot_grounding_fallbacks",
            "Turns whose generated answer was refused by the grounding checks and quoted instead.",
            registry=r,
        )
        self.tokens_per_second = Histogram(
            "shopbot_generation_tokens_per_second",
            "Completion tokens per second of each generated answer, prompt processing "
            "included (only for models whose tokenizer runs in this process).",
            buckets=TOKENS_PER_SECOND_BUCKETS,
            registry=r,
        )
        if gate is not None:
            r.register(GateCollector(gate))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def observe_request(self, route: str, status: int) -> None:
        """Count one answered HTTP request (bot/web/errors.py's middleware)."""
        self.requests.labels(route=route, status=str(status)).inc()

    def observe_turn(self, reply: Any) -> None:
        """Count one turn's action, time, handoff, fallback and generation speed."""
        action = reply.action or "none"
        seconds = reply.latency_ms / 1000
        self.turns.labels(action=action).inc()
        self.turn_seconds.labels(action=action).observe(seconds)
        self.turn_latency.observe(seconds)
        if reply.handoff:
            self.handoffs.inc()
        if reply.fallback:
            self.fallbacks.inc()
        generation = getattr(reply, "generation", None) or {}
        tokens, spent = generation.get("tokens"), generation.get("seconds")
        if tokens and spent:
            self.tokens_per_second.observe(tokens / spent)

    def render(self) -> bytes:
        """Everything on the registry in Prometheus text format (``CONTENT_TYPE_LATEST``)."""
        return generate_latest(self.registry)
