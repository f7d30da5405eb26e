"""Counters and a latency summary of the turns, in Prometheus text format (``/metrics``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class Metrics:
    """Counters and a latency summary in Prometheus text format."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.turns: dict[str, int] = defaultdict(int)
        self.turn_latency_sum = 0.0
        self.turn_count = 0
        self.handoffs = 0
        self.fallbacks = 0

    def observe_turn(self, reply: Any) -> None:
        self.turns[reply.action or "none"] += 1
        self.turn_latency_sum += reply.latency_ms / 1000
        self.turn_count += 1
        self.handoffs += int(reply.handoff)
        self.fallbacks += int(reply.fallback)

    def render(self) -> str:
        lines = ["# TYPE shopbot_http_requests_total counter"]
        for (route, status), n in sorted(self.requests.items()):
            lines.append(f'shopbot_http_requests_total{{route="{route}",status="{status}"}} {n}')
        lines.append("# TYPE shopbot_turns_total counter")
        for action, n in sorted(self.turns.items()):
            lines.append(f'shopbot_turns_total{{action="{action}"}} {n}')
        lines += [
            "# TYPE shopbot_turn_latency_seconds summary",
            f"shopbot_turn_latency_seconds_sum {self.turn_latency_sum:.6f}",
            f"shopbot_turn_latency_seconds_count {self.turn_count}",
            "# TYPE shopbot_handoffs_total counter",
            f"shopbot_handoffs_total {self.handoffs}",
            "# TYPE shopbot_grounding_fallbacks_total counter",
            f"shopbot_grounding_fallbacks_total {self.fallbacks}",
        ]
        return "\n".join(lines) + "\n"
