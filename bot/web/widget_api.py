"""What the embeddable widget needs beyond ``/api/chat``: cited passages and cross-origin access.

The widget runs on the merchant's own pages, usually another origin than the
shopbot server, so the public customer API answers CORS requests from the
origins the merchant allows (bot/web/security.py decides which, per route: the
routes carrying a conversation only for origins listed by name). The admin and
inbox routes are not part of it and get no CORS headers.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.errors import ApiError
from bot.web.keys import BOT_KEY

# Paths a page on another origin may call.
PUBLIC_API = ("/api/chat", "/api/feedback", "/api/events", "/api/sources/", "/api/store")
MAX_PASSAGE_CHARS = 4000


def is_public_api(path: str) -> bool:
    """Whether a page on another origin may call ``path``."""
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC_API)


async def source_passage(request: web.Request) -> web.Response:
    """``GET /api/sources/<id>``: the passage a reply cited, to show the customer."""
    source_id = request.match_info["source_id"]
    doc = request.app[BOT_KEY].index.get(source_id)
    if doc is None:
        raise ApiError(404, "unknown_source", "no source with this id")
    text = (doc.answer or doc.text or "")[:MAX_PASSAGE_CHARS]
    return web.json_response({"id": doc.id, "type": doc.type, "title": doc.title, "text": text})


async def preflight(request: web.Request) -> web.Response:
    """CORS preflight for the public API (JSON bodies and ``Last-Event-ID`` need one)."""
    if not is_public_api(request.path):
        raise ApiError(404, "not_found", "Not Found")
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Accept, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        },
    )


def setup_widget_api(app: web.Application) -> None:
    """Mount ``/api/sources/<id>`` and CORS for the public customer API."""
    app.router.add_get("/api/sources/{source_id:.+}", source_passage)
    app.router.add_route("OPTIONS", "/api/{tail:.*}", preflight)
