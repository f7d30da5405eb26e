"""One turn at a time per conversation: an asyncio lock in this process and, when
several server processes share a PostgreSQL log, the store's conversation lock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.storage.conversations import ConversationStore

log = logging.getLogger("shopbot.dialogue")


@asynccontextmanager
async def _shared_lock(store: ConversationStore, sender: str) -> AsyncIterator[None]:
    """The store's cross-process lock on one conversation, released even on cancellation."""
    loop = asyncio.get_running_loop()
    acquiring = asyncio.ensure_future(asyncio.to_thread(store.lock_conversation, sender))
    try:
        locked = await asyncio.shield(acquiring)
    except asyncio.CancelledError:
        # The worker thread may still get the lock: give it back when it does.
        def give_back(f: asyncio.Future[bool]) -> None:
            if not f.cancelled() and f.exception() is None and f.result():
                loop.run_in_executor(None, store.unlock_conversation, sender)

        acquiring.add_done_callback(give_back)
        raise
    if not locked:
        log.warning("conversation %s: another server held it too long; going ahead", sender)
    try:
        yield
    finally:
        if locked:
            try:
                await asyncio.shield(asyncio.to_thread(store.unlock_conversation, sender))
            except Exception:  # the database connection went away: its locks went with it
                log.exception("conversation %s: releasing the shared lock failed", sender)


class ConversationLocks:
    """Serialises everything that changes one conversation's state."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @asynccontextmanager
    async def hold(self, store: ConversationStore, sender: str) -> AsyncIterator[None]:
        """In this process an asyncio lock; with PostgreSQL shared by several server
        processes, the store's conversation lock as well (bot/storage/conversations.py),
        so a customer's two quick messages on two servers cannot both start from the
        same slots."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # locks belong to one event loop
            self._locks, self._loop = {}, loop
        async with self._locks.setdefault(sender, asyncio.Lock()):
            if getattr(store, "shared", False):
                async with _shared_lock(store, sender):
                    yield
            else:
                yield

    def busy(self) -> bool:
        """A turn is in flight (some conversation's lock is held)."""
        return any(lock.locked() for lock in list(self._locks.values()))
