"""Live updates over server-sent events, resumable without loss or duplicates.

The conversation log (the ``turns`` table) is the event log: every bot turn,
agent reply and notice is one row, and the row id is the SSE event id. A
stream sends the rows after the client's cursor, then sleeps until the store
reports a write for that conversation. A client that reconnects with
``Last-Event-ID`` (EventSource does this by itself) or ``?after=`` gets exactly
the rows it missed, from the database, so nothing is lost across dropped
connections or server restarts, and nothing is sent twice. Once the backlog is
sent, an ``event: synced`` (without an id) says the client is up to date.

- ``GET /api/events?sender=S[&after=N]``: the customer's widget.
- ``GET /api/inbox/events`` (bot/inbox.py): every conversation, for agents.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("shopbot.live")

KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000
BATCH = 200


class LiveBus:
    """Wakes waiting streams when the store logs something for a conversation.

    ``notify`` may be called from any thread (the store writes in worker
    threads); waiters live on the server's event loop.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        # sender -> futures of streams waiting on it; None -> streams waiting on any sender
        self._waiters: dict[str | None, set[asyncio.Future[None]]] = {}
        self.closed = False

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self.closed = loop, False

    def notify(self, sender: str) -> None:
        """A write for ``sender`` was committed (thread-safe)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._wake, sender)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _wake(self, sender: str | None) -> None:
        keys = list(self._waiters) if sender is None else [sender, None]
        for key in keys:
            for fut in self._waiters.pop(key, set()):
                if not fut.done():
                    fut.set_result(None)

    def waiter(self, sender: str | None) -> asyncio.Future[None]:
        """A future resolved at the next write for ``sender`` (any sender when None).

        Take it *before* reading the log, so a write between the read and the
        wait still wakes the stream.
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(sender, set()).add(fut)
        return fut

    async def wait(self, sender: str | None, fut: asyncio.Future[None], timeout: float) -> bool:
        """Wait for ``fut``; False on timeout. Always forgets the future afterwards."""
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.forget(sender, fut)

    def forget(self, sender: str | None, fut: asyncio.Future[None]) -> None:
        """Drop a waiter that is no longer needed."""
        fut.cancel()
        waiting = self._waiters.get(sender)
        if waiting is not None:
            waiting.discard(fut)

    def close(self) -> None:
        """Server shutdown: end every stream so the server can stop promptly."""
        self.closed = True
        if self._loop is not None and not self._loop.is_closed():
            self._wake(None)


def parse_cursor(request: web.Request) -> int | None:
    """The event id the client has seen: the larger of ``Last-Event-ID`` and ``?after=``.

    None when the client sent neither.
    """
    from bot.server import ApiError

    cursor: int | None = None
    for raw in (request.headers.get("Last-Event-ID"), request.query.get("after")):
        if raw is None or raw.strip() == "":
            continue
        try:
            value = int(raw)
        except ValueError as exc:
            raise ApiError(400, "invalid_field", "the event id must be an integer") from exc
        if value < 0:
            raise ApiError(400, "invalid_field", "the event id must not be negative")
        cursor = value if cursor is None else max(cursor, value)
    return cursor


async def open_event_stream(request: web.Request) -> web.StreamResponse:
    """A prepared server-sent-events response (no caching, no proxy buffering)."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold the events back
        }
    )
    await response.prepare(request)
    return response


async def stream(
    request: web.Request,
    bus: LiveBus,
    key: str | None,
    cursor: int,
    fetch: Callable[[int], Awaitable[list[dict[str, Any]]]],
    event_name: str,
) -> web.StreamResponse:
    """Send rows after ``cursor`` as SSE events, then follow new ones until closed."""
    response = await open_event_stream(request)
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        synced = False
        while not bus.closed:
            fut = bus.waiter(key)
            rows = await fetch(cursor)
            for row in rows:
                payload = json.dumps(row, ensure_ascii=False)
                await response.write(
                    f"id: {row['id']}\nevent: {event_name}\ndata: {payload}\n\n".encode()
                )
                cursor = row["id"]
            if not synced and len(rows) < BATCH:
                # Caught up with the log (no id: the client's cursor stays where it is).
                await response.write(b"event: synced\ndata: {}\n\n")
                synced = True
            if rows:
                bus.forget(key, fut)
                continue
            if not await bus.wait(key, fut, KEEPALIVE_SECONDS) and not bus.closed:
                # A comment line: keeps proxies from closing an idle stream and
                # tells us early when the client has gone.
                await response.write(b": keepalive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client went away; it resumes from its last event id
    return response


async def customer_events(request: web.Request) -> web.StreamResponse:
    """``GET /api/events?sender=S``: one conversation's log, live."""
    from bot.server import BOT_KEY, ApiError

    sender = (request.query.get("sender") or "").strip()
    if not sender or len(sender) > 128:
        raise ApiError(400, "invalid_field", "query parameter 'sender' must be 1 to 128 characters")
    # A widget without a cursor has no history yet: it gets the whole conversation.
    cursor = parse_cursor(request) or 0
    store = request.app[BOT_KEY].conversations

    async def fetch(after: int) -> list[dict[str, Any]]:
        return await asyncio.to_thread(store.events_after, sender, after, BATCH)

    return await stream(request, request.app[LIVE_KEY], sender, cursor, fetch, "turn")


LIVE_KEY: web.AppKey[LiveBus] = web.AppKey("live_bus", LiveBus)


def setup_live(app: web.Application) -> None:
    """Mount ``/api/events`` and connect the bus to the bot's store for the app's lifetime."""
    from bot.server import BOT_KEY

    bus = LiveBus()
    app[LIVE_KEY] = bus

    async def live_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        bus.attach(asyncio.get_running_loop())
        store = app[BOT_KEY].conversations
        store.add_listener(bus.notify)
        yield
        store.remove_listener(bus.notify)
        bus.close()

    async def on_shutdown(app: web.Application) -> None:
        bus.close()

    app.cleanup_ctx.append(live_ctx)
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/api/events", customer_events)
