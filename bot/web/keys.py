"""The application's shared keys and paths: what every web module reads from the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import Config

STATIC = Path(__file__).resolve().parent / "static"
BOT_KEY: web.AppKey[Any] = web.AppKey("bot", object)
CONFIG_KEY: web.AppKey[Config] = web.AppKey("config", Config)
METRICS_KEY: web.AppKey[Any] = web.AppKey("metrics", object)
SENDER_LIMIT_KEY: web.AppKey[Any] = web.AppKey("sender_limiter", object)
IP_LIMIT_KEY: web.AppKey[Any] = web.AppKey("ip_limiter", object)
ROUTE_LIMIT_KEY: web.AppKey[Any] = web.AppKey("route_limiter", object)
INSIGHTS_KEY: web.AppKey[Any] = web.AppKey("insights", object)
UPDATER_KEY: web.AppKey[Any] = web.AppKey("insights_updater", object)
