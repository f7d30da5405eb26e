"""HTTP hardening: the CORS allowlist, security headers and the OpenAPI route.

What this module adds to the app (``setup_security``), in one place:

- **CORS allowlist.** The widget runs on the merchant's own pages, so the
  public customer API (bot/web/widget_api.py: ``/api/chat``, ``/api/events``, ...)
  answers cross-origin requests from the origins in ``config.cors_origins``,
  echoing the origin with ``Vary: Origin``. The routes that carry a
  conversation (``PERSONAL_API``: chat, its live events, feedback) answer only
  origins listed by name; ``"*"`` (the default) opens just the store's public
  information (``/api/store``, cited passages) to any page. An empty list turns
  cross-origin access off. Requests carry no cookies (a conversation is the
  holder of its token, bot/web/access.py), so
  ``Access-Control-Allow-Credentials`` is never sent. Admin and inbox routes
  never get CORS headers.
- **Security headers** on every response: no MIME sniffing, no framing of the
  pages (clickjacking), no referrer leaking of ``?token=`` addresses, and
  ``no-store`` caching for API and admin responses.
- ``GET /openapi.json``: the OpenAPI 3 description of the HTTP API (bot/web/openapi.py).

The admin token check lives in bot/web/inbox.py (``check_admin``, constant-time
comparison), for the inbox and the admin pages alike.
"""

from __future__ import annotations

from aiohttp import web

from bot.config import Config
from bot.web.keys import CONFIG_KEY
from bot.web.openapi import build_openapi
from bot.web.widget_api import is_public_api

# Responses that must not be cached by browsers or shared proxies.
NO_STORE_PREFIXES = ("/api/", "/admin", "/model/", "/webhooks/")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
# The widget script is loaded by other origins' pages; nothing else needs to be.
CROSS_ORIGIN_RESOURCES = ("/widget.js",)
# Scripts only from this server; styles may be inline because the admin pages carry
# their stylesheet in <style> and matplotlib's SVG charts style every shape inline
# (without it the pages render unstyled and the charts lose their colours). Every
# customer- or agent-written text on these pages is HTML-escaped.
ADMIN_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def normalise_origin(origin: str) -> str:
    """``https://Shop.Example/`` -> ``https://shop.example`` (how browsers send it)."""
    return origin.strip().rstrip("/").lower()


# Routes that carry a customer's conversation (transcript, verified name, orders):
# only origins the merchant listed may read them from a browser, never "*".
PERSONAL_API = ("/api/chat", "/api/events", "/api/feedback")


def allowed_origin(config: Config, origin: str | None, personal: bool = False) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin``, or None to refuse it.

    ``personal``: the route carries personal data, where ``*`` in the allowlist
    does not count; the origin must be listed by name.
    """
    if not origin:
        return None
    allow = [normalise_origin(o) for o in (config.cors_origins or [])]
    if normalise_origin(origin) in allow:
        return origin
    if "*" in allow and not personal:
        return "*"
    return None


async def _apply_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The one CORS and security-header hook: the allowlist decides every response's
    ``Access-Control-Allow-Origin`` (whatever a handler set is dropped first)."""
    config: Config = request.app[CONFIG_KEY]
    path = request.path
    origin = request.headers.get("Origin")
    response.headers.pop("Access-Control-Allow-Origin", None)
    if origin and is_public_api(path):
        value = allowed_origin(config, origin, personal=path in PERSONAL_API)
        if value is not None:
            response.headers["Access-Control-Allow-Origin"] = value
        if value != "*":
            # The answer depends on the Origin header: caches must key on it.
            response.headers["Vary"] = "Origin"
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if path not in CROSS_ORIGIN_RESOURCES and not is_public_api(path):
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if path.startswith(NO_STORE_PREFIXES):
        response.headers.setdefault("Cache-Control", "no-store")
    if path.startswith("/admin"):
        response.headers.setdefault("Content-Security-Policy", ADMIN_CSP)


async def openapi_json(request: web.Request) -> web.Response:
    """``GET /openapi.json``: the OpenAPI 3 description of this server's routes."""
    return web.json_response(build_openapi(request.app))


def setup_security(app: web.Application) -> None:
    """Mount ``/openapi.json`` and the CORS / security-header hook (call last in create_app)."""
    app.router.add_get("/openapi.json", openapi_json)
    app.on_response_prepare.append(_apply_headers)
