"""Live updates over server-sent events, resumable without loss or duplicates.

The conversation log (the ``turns`` table) is the event log: every bot turn,
agent reply and notice is one row, and the row id is the SSE event id. A
stream sends the rows after the client's cursor, then sleeps until the store
reports a write for that conversation. A client that reconnects with
``Last-Event-ID`` (EventSource does this by itself) or ``?after=`` gets exactly
the rows it missed, from the database, so nothing is lost across dropped
connections or server restarts, and nothing is sent twice. Once the backlog is
sent, an ``event: synced`` (without an id) says the client is up to date.

- ``GET /api/events?sender=S&token=T[&after=N]``: the customer's widget (the
  conversation's token is required, bot/web/access.py).
- ``GET /api/inbox/events`` (bot/web/inbox.py): every conversation, for agents.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from bot.limits import INT64_MAX, StreamSlots, parse_int, retry_after_header
from bot.web.access import AccessDenied, check_conversation_token
from bot.web.client_ip import client_address
from bot.web.errors import ApiError, sender_id
from bot.web.keys import BOT_KEY, CONFIG_KEY

log = logging.getLogger("shopbot.live")

KEEPALIVE_SECONDS = 15.0
# How often an idle stream looks whether its client has gone: a closed stream must give
# its slot back (StreamSlots) well before the next keepalive write would notice.
GONE_POLL_SECONDS = 1.0
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
    cursor: int | None = None
    header = request.headers.get("Last-Event-ID")
    for name, raw in (("Last-Event-ID", header), ("after", request.query.get("after"))):
        # 0..2**63-1: a row id; anything larger would overflow the database's integer
        # inside the already-started stream (a 500 mid-stream).
        try:
            value = parse_int(raw, name, 0, INT64_MAX)
        except ValueError as exc:
            raise ApiError(400, "invalid_field", f"the event id {exc}") from exc
        if value is not None:
            cursor = value if cursor is None else max(cursor, value)
    return cursor


async def open_event_stream(request: web.Request) -> web.StreamResponse:
    """A prepared server-sent-events response (no caching, no proxy buffering)."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            # A conversation's transcript: never kept by a browser or a shared cache.
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold the events back
        }
    )
    await response.prepare(request)
    return response


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _wait_or_gone(
    request: web.Request, bus: LiveBus, key: str | None, fut: asyncio.Future[None]
) -> bool:
    """``bus.wait`` for up to KEEPALIVE_SECONDS, but raise ConnectionResetError as soon
    as the client has disconnected (aiohttp does not cancel the handler for it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + KEEPALIVE_SECONDS
    try:
        while (remaining := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait({fut}, timeout=min(GONE_POLL_SECONDS, remaining))
            if done:
                return True
            if _gone(request):
                raise ConnectionResetError("the client went away")
        return False
    finally:
        bus.forget(key, fut)


# StreamSlots.acquire's refusals: the server's total (503) or this address's share (429).
STREAM_REFUSALS = {
    "total": (503, "the server has too many live streams open; retry later"),
    "client": (429, "too many live streams open from this address"),
}


@contextmanager
def _stream_slot(request: web.Request, per_client_cap: bool) -> Iterator[None]:
    """Hold one of the app's StreamSlots while the stream is open, or refuse with 429/503."""
    client = client_address(request)
    refused = request.app[STREAMS_KEY].acquire(client, per_client_cap)
    if refused:
        status, message = STREAM_REFUSALS[refused]
        raise ApiError(status, "too_many_streams", message, retry_after_header(10))
    try:
        yield
    finally:
        request.app[STREAMS_KEY].release(client)


async def stream(
    request: web.Request,
    bus: LiveBus,
    key: str | None,
    cursor: int,
    fetch: Callable[[int], Awaitable[list[dict[str, Any]]]],
    event_name: str,
    per_client_cap: bool = True,
) -> web.StreamResponse:
    """Send rows after ``cursor`` as SSE events, then follow new ones until closed.

    The stream holds one of the app's StreamSlots while open (refused with 429/503
    before it starts when none is left); ``per_client_cap=False`` counts it only
    toward the total (the agents' stream, behind the admin token).
    """
    with _stream_slot(request, per_client_cap):
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
                if not await _wait_or_gone(request, bus, key, fut) and not bus.closed:
                    # A comment line: keeps proxies from closing an idle stream and
                    # tells us early when the client has gone.
                    await response.write(b": keepalive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the client went away; it resumes from its last event id
        except Exception:
            # The response has started: a JSON 500 from the middleware would be written
            # into the event stream. End the stream instead; the client reconnects.
            log.exception("error in a live event stream")
            try:
                await response.write(b'event: error\ndata: {"code": "internal"}\n\n')
            except ConnectionResetError:
                pass
        return response


async def customer_events(request: web.Request) -> web.StreamResponse:
    """``GET /api/events?sender=S&token=T``: one conversation's log, live."""
    sender = sender_id(request.query.get("sender"), "query parameter 'sender'")
    # The transcript and live replies are the token holder's (``?token=``: EventSource
    # cannot set headers), never anyone's who knows or guesses the sender id.
    try:
        await asyncio.to_thread(
            check_conversation_token,
            request.app[BOT_KEY].conversations,
            sender,
            request.query.get("token"),
        )
    except AccessDenied as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    # A widget without a cursor has no history yet: it gets the whole conversation.
    cursor = parse_cursor(request) or 0
    store = request.app[BOT_KEY].conversations

    async def fetch(after: int) -> list[dict[str, Any]]:
        return await asyncio.to_thread(store.events_after, sender, after, BATCH)

    return await stream(request, request.app[LIVE_KEY], sender, cursor, fetch, "turn")


LIVE_KEY: web.AppKey[LiveBus] = web.AppKey("live_bus", LiveBus)
STREAMS_KEY: web.AppKey[Any] = web.AppKey("event_streams", object)


def setup_live(app: web.Application) -> None:
    """Mount ``/api/events`` and connect the bus to the bot's store for the app's lifetime."""
    bus = LiveBus()
    app[LIVE_KEY] = bus
    config = app[CONFIG_KEY]
    app[STREAMS_KEY] = StreamSlots(config.max_event_streams_per_client, config.max_event_streams)

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
