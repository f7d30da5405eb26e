"""``shopbot actions``: the business actions behind rasa-sdk's own action server.

A Rasa server (``action_endpoint: {url: "http://127.0.0.1:5055/webhook"}`` in its
``endpoints.yml``), or another shopbot (``action_endpoint`` in its config), runs the
actions over rasa-sdk's webhook protocol: ``POST /webhook`` with ``next_action``,
``sender_id``, ``tracker``, ``domain`` and ``version``, answered with ``{"events",
"responses"}``; ``GET /actions`` lists them and ``GET /health`` answers ``{"status":
"ok"}``. The HTTP app is rasa-sdk's (``rasa_sdk.endpoint.create_app``) around a
rasa-sdk ``ActionExecutor``: this module only builds the executor from a store (the
actions take the order book and the catalogue, so instances are registered instead of
a package of classes) and runs the app in one process, so every request sees the same
order book.

An action server believes the tracker it is sent, as every rasa-sdk action server
does: who is verified is the slot ``verified_customer_id``. Only the dialogue server
may reach it, so it listens on 127.0.0.1 unless told otherwise, and answers no
browser (no CORS).
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from rasa_sdk.executor import ActionExecutor

from bot.actions.registry import build_executor
from bot.messages.catalogue import Catalogue
from bot.storage.orders import OrderBook
from knowledge_base.cache import conversation_db_path
from knowledge_base.store import load_store

log = logging.getLogger("shopbot.actions")

DEFAULT_PORT = 5055  # rasa-sdk's own default


def store_executor(store_dir: str | Path, db_path: str | Path | None = None) -> ActionExecutor:
    """An ``ActionExecutor`` with every business action of the store at ``store_dir``.

    The order book keeps its changes (cancellations, returns) in ``orders.db`` beside
    ``db_path``, the conversation database file (default: the store's artifacts folder,
    as ``shopbot serve`` uses), so a chat server and this action server on one store
    see the same orders. No model is loaded: the actions need none.
    """
    store = load_store(store_dir)
    # As the chat server's (knowledge_base/build.py): orders.db is beside it.
    db = Path(db_path) if db_path else conversation_db_path(Path(store_dir))
    db.parent.mkdir(parents=True, exist_ok=True)
    order_book = OrderBook.for_store(store, db)
    return build_executor(
        order_book,
        store.products,
        currency=store.settings.currency,
        catalogue=Catalogue.for_store(store),
    )


def create_app(executor: ActionExecutor) -> Any:
    """rasa-sdk's Sanic app around ``executor``; no cross-origin requests."""
    from rasa_sdk.endpoint import create_app as rasa_sdk_app

    return rasa_sdk_app(executor, cors_origins="")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_actions(
    store_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    db_path: str | Path | None = None,
) -> None:
    """Serve the store's actions until interrupted (one process, no workers)."""
    executor = store_executor(store_dir, db_path)
    app = create_app(executor)
    if not is_loopback(host):
        log.warning(
            "the action server on %s trusts every tracker it is sent (who is verified "
            "included): make sure only the dialogue server can reach it",
            host,
        )
    names = ", ".join(sorted(executor.actions))
    print(f"shopbot: serving actions ({names}) on http://{host}:{port}/webhook", flush=True)
    app.run(host=host, port=port, single_process=True, access_log=False, motd=False)
