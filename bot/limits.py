"""Limits that hold: JSON depth, bounded rate limiters, open-stream caps, integer ranges.

- ``loads_limited`` parses a JSON body after checking its nesting depth with
  an iterative scan, so ``[[[[...]]]]`` 5,000 deep is a clear error instead of
  a ``RecursionError`` (a 500) inside ``json.loads`` or anything that walks
  the result afterwards.
- ``RateLimiter`` is a sliding-window limiter whose memory is bounded: keys
  whose window has emptied are dropped as time passes, and the number of keys
  has a hard cap (least recently used first out).
- ``StreamSlots`` counts open event streams per client and in total.
- ``parse_int`` reads an integer parameter within a range.

Nothing here knows about HTTP errors: callers turn the exceptions and refusals
into their own error shapes (bot/web/app.py, bot/web/live.py, bot/answers/llm_server.py).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

DEFAULT_MAX_JSON_DEPTH = 32
INT64_MAX = 2**63 - 1

# A JSON string (with its escapes) or one bracket. Strings are matched whole, in C, so
# brackets inside them are not counted; the unrolled form never backtracks.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


class JSONLimitError(ValueError):
    """A body that is not acceptable JSON; ``str()`` says why, for the client."""


def json_depth_exceeds(raw: bytes, max_depth: int) -> bool:
    """True when ``raw`` nests arrays/objects more than ``max_depth`` deep.

    An iterative scan, so any depth is safe to check. Brackets inside strings
    do not count. For malformed JSON the answer may be either; such a body is
    refused by the parser anyway.
    """
    # Fast path: fewer openers in total than the limit cannot nest deeper than it.
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(raw):
        token = match.group()
        if len(token) != 1:
            continue  # a string
        if token[0] in _OPENERS:
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise JSONLimitError(f"{name} is not valid JSON")


def loads_limited(raw: bytes | str, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for untrusted bodies: nesting at most ``max_depth`` deep.

    Raises ``JSONLimitError`` (a ValueError) when too deep or for ``NaN`` /
    ``Infinity`` (not JSON; they would poison sums and logs), and ValueError /
    UnicodeDecodeError as ``json.loads`` does for anything else malformed.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if json_depth_exceeds(data, max_depth):
        raise JSONLimitError(f"the JSON is nested more than {max_depth} levels deep")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:  # belt and braces: the scan should have caught it
        raise JSONLimitError(f"the JSON is nested more than {max_depth} levels deep") from exc


class RateLimiter:
    """Sliding window of ``per_minute`` hits per ``window`` seconds, per key.

    Memory stays bounded however many distinct keys (addresses, senders) come
    by: keys are kept in order of their newest hit, so the keys whose window
    has emptied are at the front and are dropped as each call passes; and at
    most ``max_keys`` are kept, the least recently hit leaving first (it loses
    its history, which can only let it through early, never lock it out).
    ``per_minute <= 0`` means unlimited and keeps nothing.
    """

    def __init__(
        self,
        per_minute: int,
        window: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.window = window
        self.max_keys = max(1, max_keys)
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys are held (for tests and metrics)."""
        return len(self._hits)

    def _prune(self, now: float) -> None:
        # Front = oldest newest-hit; stop at the first key still inside its window.
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and now - hits[-1] <= self.window:
                break
            del self._hits[key]

    def allow(self, key: str) -> bool:
        """Record a hit for ``key`` and say whether it is within the limit."""
        return self.check(key) == 0.0

    def check(self, key: str) -> float:
        """Record a hit for ``key``: 0.0 when allowed, else seconds until it would be."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        self._prune(now)
        hits = self._hits.get(key)
        if hits is None:
            while len(self._hits) >= self.max_keys:
                self._hits.popitem(last=False)
            hits = self._hits[key] = deque()
        while hits and now - hits[0] > self.window:
            hits.popleft()
        if len(hits) >= self.per_minute:
            # Refused: not recorded, so a client that keeps trying is not locked out longer.
            return max(hits[0] + self.window - now, 0.001)
        hits.append(now)
        self._hits.move_to_end(key)
        return 0.0


def retry_after_header(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds (at least 1), as HTTP wants it."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class StreamSlots:
    """Open event streams: at most ``per_client`` per client address, ``total`` in all.

    0 (or less) means no cap. ``acquire`` returns None when a slot was taken,
    else "total" or "client" (which cap refused it); every successful
    ``acquire`` must be paired with ``release`` (in a ``finally``).
    """

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self.open = 0
        self._by_client: dict[str, int] = {}

    def count(self, client: str) -> int:
        """Streams open for ``client``."""
        return self._by_client.get(client, 0)

    def acquire(self, client: str, per_client_cap: bool = True) -> str | None:
        """Take a slot for ``client``; the refusing cap's name when there is none."""
        if self.total > 0 and self.open >= self.total:
            return "total"
        if per_client_cap and self.per_client > 0 and self.count(client) >= self.per_client:
            return "client"
        self.open += 1
        self._by_client[client] = self.count(client) + 1
        return None

    def release(self, client: str) -> None:
        """Give back a slot taken by ``acquire``; clients with none open are forgotten."""
        self.open = max(0, self.open - 1)
        left = self.count(client) - 1
        if left > 0:
            self._by_client[client] = left
        else:
            self._by_client.pop(client, None)


def parse_int(raw: str | None, name: str, low: int = 0, high: int = INT64_MAX) -> int | None:
    """``raw`` as an integer in ``[low, high]``; None when absent or blank.

    Only ASCII digits (with a leading ``-``) are accepted: ``int()`` alone also
    takes ``1_000``, ``+5`` and other scripts' digits, and any number of digits.
    Raises ValueError with a message for the client.
    """
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if not re.fullmatch(r"-?[0-9]{1,20}", text):
        raise ValueError(f"'{name}' must be an integer from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"'{name}' must be an integer from {low} to {high}")
    return value
