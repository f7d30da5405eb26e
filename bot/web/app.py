"""The HTTP skin over ``Bot``: aiohttp app factory, routes, middlewares.

``create_app(config)`` builds everything in one place; a test can start it on
port 0. Handlers parse and validate the request, call the bot, and shape the
response; all conversation logic lives in ``bot.turn.pipeline``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.answers.adapters import AdapterWatcher
from bot.assemble import load_bot, load_bot_sync
from bot.config import Config
from bot.limits import RateLimiter
from bot.turn.pipeline import Bot
from bot.web.admin import setup_admin
from bot.web.chat import setup_chat
from bot.web.client_ip import client_address, parse_trusted_proxies
from bot.web.descriptions import setup_descriptions
from bot.web.errors import errors_middleware, rate_limited
from bot.web.faq_proposals import setup_faq_proposals
from bot.web.inbox import setup_inbox
from bot.web.keys import (
    BOT_KEY,
    CONFIG_KEY,
    IP_LIMIT_KEY,
    METRICS_KEY,
    ROUTE_LIMIT_KEY,
    SENDER_LIMIT_KEY,
)
from bot.web.live import setup_live
from bot.web.metrics import Metrics
from bot.web.security import setup_security
from bot.web.widget_api import setup_widget_api

log = logging.getLogger("shopbot.server")


# Public routes limited per client address by ``limits_middleware`` (path or path prefix
# -> bucket). /api/chat and the REST channel are limited in _chat_request instead, per
# sender and per address, after the body is validated.
ROUTE_LIMITS = {
    "/model/parse": "parse",
    "/api/feedback": "feedback",
    "/api/events": "events",
    "/api/sources/": "sources",
    "/api/store": "store",
}


def _route_bucket(path: str) -> str | None:
    for prefix, bucket in ROUTE_LIMITS.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return bucket
    return None


@web.middleware
async def limits_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Per-client-address rate limits on the public routes in ``ROUTE_LIMITS``.

    Each route has its own bucket of ``10 x rate_limit_per_minute`` requests a
    minute per address (the per-address chat budget), so a page load's
    /api/store and sources do not eat into its event-stream reconnects.
    """
    bucket = _route_bucket(request.path) if request.method != "OPTIONS" else None
    if bucket is not None:
        wait = request.app[ROUTE_LIMIT_KEY].check(f"{bucket}:{client_address(request)}")
        if wait:
            raise rate_limited(wait)
    return await handler(request)


ADAPTER_POLL_SECONDS = 2.0


async def _adapter_watch_ctx(app: web.Application):  # type: ignore[no-untyped-def]
    """Serve a newly activated LoRA adapter (``shopbot finetune``) without a restart."""
    watcher = AdapterWatcher(app[BOT_KEY], app[CONFIG_KEY])

    async def poll() -> None:
        while True:
            await asyncio.sleep(ADAPTER_POLL_SECONDS)
            try:
                await watcher.check()
            except Exception:  # a bad pointer must never take the server down
                log.exception("checking the active adapter failed")

    task = asyncio.create_task(poll()) if watcher.enabled() else None
    yield
    if task is not None:
        task.cancel()


def create_app(config: Config, bot: Bot | None = None) -> web.Application:
    """The aiohttp application; loads the bot on start-up unless one is given."""
    parse_trusted_proxies(config.trusted_proxies)  # a bad entry fails at start, not per request
    app = web.Application(
        middlewares=[errors_middleware, limits_middleware],
        client_max_size=max(config.max_body_bytes, 1024),
    )
    app[CONFIG_KEY] = config
    # Its own registry per app; the generation gate is the bot's, read at each scrape.
    app[METRICS_KEY] = Metrics(gate=lambda: getattr(app.get(BOT_KEY), "generation_gate", None))
    app[SENDER_LIMIT_KEY] = RateLimiter(config.rate_limit_per_minute)
    app[IP_LIMIT_KEY] = RateLimiter(config.rate_limit_per_minute * 10)
    app[ROUTE_LIMIT_KEY] = RateLimiter(config.rate_limit_per_minute * 10)

    async def bot_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        owned = bot is None
        app[BOT_KEY] = bot if bot is not None else await load_bot(config)
        yield
        if owned:
            # Graceful shutdown: the WAL is checkpointed and the log closed.
            app[BOT_KEY].conversations.close()

    app.cleanup_ctx.append(bot_ctx)
    setup_admin(app)  # the merchant's /admin pages and the background insights updater
    setup_descriptions(app)  # /admin/descriptions: approve drafted product descriptions
    setup_faq_proposals(app)  # /admin/faq-proposals: approve FAQ entries learned from people
    app.cleanup_ctx.append(_adapter_watch_ctx)
    setup_chat(app)  # /api/chat, the REST channel, feedback, the widget's files
    # The widget's live stream, cited sources and CORS; the agents' inbox.
    setup_live(app)
    setup_widget_api(app)
    setup_inbox(app)
    # Last: the CORS allowlist and security headers get the final word (bot/web/security.py).
    setup_security(app)
    return app


def serve(config: Config) -> None:
    """Run the server until interrupted (``shopbot serve``)."""
    bot = load_bot_sync(config, progress=True)
    app = create_app(config, bot=bot)

    async def close_log(app: web.Application) -> None:
        bot.conversations.close()

    app.on_cleanup.append(close_log)
    print(f"shopbot: serving {bot.settings.name} on http://{config.host}:{config.port}", flush=True)
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        access_log_class=RedactingAccessLogger,
    )


_SECRET_PARAM = re.compile(r"((?:^|[?&])(?:token|admin_token)=)[^&#]*", re.I)


def redact_secrets(path_qs: str) -> str:
    """``/api/events?sender=a&token=s3cret`` -> ``...&token=***`` (for logs)."""
    return _SECRET_PARAM.sub(r"\1***", path_qs)


class RedactingAccessLogger(AbstractAccessLogger):
    """The access log without the conversation and admin tokens that URLs carry
    (EventSource can only send them in the query string)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.3fs',
            request.remote,
            request.method,
            redact_secrets(request.path_qs),
            response.status,
            time,
        )
