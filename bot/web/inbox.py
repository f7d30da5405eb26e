"""The agents' inbox: handed-off conversations, claimed and answered by people.

When the bot hands a conversation off (bot/turn/pipeline.py), it enters the queue
(``handoffs`` table) with the reason. An agent opens ``/admin/inbox``, sees the
queue, the transcript, the customer's verified identity and a profile summary,
claims the conversation (exactly one agent can), answers (logged as
``author='agent'``, delivered live to the customer's widget through
bot/web/live.py) and finally hands it back to the bot.

All agents share the merchant's admin token; each agent types a display name,
which is what claims and replies are recorded under.

Routes (all behind the admin token):
- ``GET  /admin/inbox``                 the inbox page (``?token=`` sets a cookie)
- ``GET  /admin/inbox/inbox.js``, ``/admin/inbox/inbox.css``  its script and styles
- ``GET  /api/inbox/handoffs``          the queue
- ``GET  /api/inbox/conversation?sender=S``  transcript, identity, profile
- ``POST /api/inbox/claim``     ``{"sender", "agent"}``
- ``POST /api/inbox/reply``     ``{"sender", "agent", "text"}``
- ``POST /api/inbox/handback``  ``{"sender", "agent"}``
- ``GET  /api/inbox/events``            live feed of changes (SSE, resumable)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

from aiohttp import web

from bot.web.errors import ApiError, field, json_body, sender_id
from bot.web.keys import BOT_KEY, CONFIG_KEY, STATIC
from bot.web.live import BATCH, LIVE_KEY, parse_cursor, stream

ADMIN_COOKIE = "shopbot_admin"
MAX_AGENT_NAME = 64


# -- the admin token ------------------------------------------------------------
def cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the token itself is not stored.

    One cookie for every admin page (``/admin`` and the inbox): one login opens both.
    """
    return hmac.new(token.encode(), b"shopbot-admin-cookie", hashlib.sha256).hexdigest()


def check_admin(request: web.Request, login_path: str = "/admin/inbox") -> None:
    """Raise 401 without credentials, 403 with wrong ones or when no token is configured.

    Accepted: ``Authorization: Bearer <token>``, ``?token=<token>``, or the
    cookie set when a page was opened with ``?token=``. Compared in constant time.
    """
    token = request.app[CONFIG_KEY].admin_token
    if not token:
        raise ApiError(
            403,
            "admin_disabled",
            "the admin pages are off: set admin_token in the config (or SHOPBOT_ADMIN_TOKEN)",
        )
    auth = request.headers.get("Authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    given = given or request.query.get("token")
    if given:
        if hmac.compare_digest(given.encode(), token.encode()):
            return
        raise ApiError(403, "forbidden", "the admin token is wrong")
    cookie = request.cookies.get(ADMIN_COOKIE)
    if cookie:
        if hmac.compare_digest(cookie.encode(), cookie_value(token).encode()):
            return
        raise ApiError(403, "forbidden", "the admin cookie is stale; open the page with ?token=")
    raise ApiError(
        401,
        "unauthorized",
        f"send the admin token: 'Authorization: Bearer <token>', or open {login_path}?token=<token>",
    )


# -- pages ------------------------------------------------------------------------
async def inbox_page(request: web.Request) -> web.StreamResponse:
    check_admin(request)
    if "token" in request.query:
        # Keep the token out of the address bar and history: cookie, then a clean URL.
        response = web.Response(status=303, headers={"Location": request.path})
        response.set_cookie(
            ADMIN_COOKIE,
            cookie_value(request.app[CONFIG_KEY].admin_token or ""),
            httponly=True,
            samesite="Strict",
            path="/",
        )
        return response
    return web.FileResponse(STATIC / "inbox.html", headers={"Cache-Control": "no-store"})


async def inbox_js(request: web.Request) -> web.FileResponse:
    check_admin(request)
    return web.FileResponse(STATIC / "inbox.js", headers={"Content-Type": "application/javascript"})


async def inbox_css(request: web.Request) -> web.FileResponse:
    # A file rather than an inline <style>: the admin CSP (bot/web/security.py) allows 'self' only.
    check_admin(request)
    return web.FileResponse(STATIC / "inbox.css", headers={"Content-Type": "text/css"})


# -- API ----------------------------------------------------------------------------
def _agent(body: dict[str, Any]) -> str:
    agent = field(body, "agent").strip()
    if not agent or len(agent) > MAX_AGENT_NAME:
        raise ApiError(
            400, "invalid_field", f"field 'agent' must be 1 to {MAX_AGENT_NAME} characters"
        )
    return agent


async def _open_handoff(request: web.Request, sender: str) -> dict[str, Any]:
    store = request.app[BOT_KEY].conversations
    handoff = await asyncio.to_thread(store.get_open_handoff, sender)
    if handoff is None:
        raise ApiError(404, "no_handoff", "this conversation is not waiting for an agent")
    return handoff


def _profile(bot: Any, slots: dict[str, Any]) -> dict[str, Any]:
    """The verified customer and a short order summary (or what is known unverified)."""
    customer_id = slots.get("verified_customer_id")
    book = getattr(bot, "order_book", None)
    if customer_id and book is not None:
        customer = book.get_customer(customer_id)
        if customer is not None:
            orders = book.orders_of(customer_id)
            return {
                "verified": True,
                "customer_id": customer.customer_id,
                "name": customer.name,
                "email": customer.email,
                "zip": customer.zip,
                "order_count": len(orders),
                "lifetime_value": round(sum(o.total for o in orders), 2),
                "orders": [
                    {
                        "order_id": o.order_id,
                        "status": o.status,
                        "total": o.total,
                        "created_at": o.created_at,
                        "items": len(o.items),
                    }
                    for o in orders[-5:]
                ],
            }
    # Not verified: what the customer said about themselves, clearly marked as such.
    return {
        "verified": False,
        "name": slots.get("customer_name"),
        "order_id": slots.get("order_id"),
    }


async def list_handoffs(request: web.Request) -> web.Response:
    check_admin(request)
    bot = request.app[BOT_KEY]
    store = bot.conversations
    handoffs = await asyncio.to_thread(store.open_handoffs)
    for item in handoffs:
        conv = await asyncio.to_thread(store.load_conversation, item["sender"])
        profile = _profile(bot, conv.slots)
        item["customer"] = {"verified": profile["verified"], "name": profile.get("name")}
    last = await asyncio.to_thread(store.last_event_id)
    return web.json_response({"handoffs": handoffs, "last_event_id": last})


async def conversation(request: web.Request) -> web.Response:
    check_admin(request)
    sender = sender_id(request.query.get("sender"))
    bot = request.app[BOT_KEY]
    store = bot.conversations
    conv = await asyncio.to_thread(store.load_conversation, sender)
    rows = await asyncio.to_thread(store.turns, sender, 300)
    if not rows:
        raise ApiError(404, "unknown_sender", "no conversation with this sender")
    transcript = [
        {
            "id": r["id"],
            "turn_id": r["turn_id"],
            "ts": r["ts"],
            "author": r.get("author") or "bot",
            "user": r["user_text"],
            "messages": r["reply"],
            "action": r["action"],
            "intent": r["intent"],
        }
        for r in rows
    ]
    handoff = await asyncio.to_thread(store.get_open_handoff, sender)
    return web.json_response(
        {
            "sender": sender,
            "handoff": handoff,
            "customer": await asyncio.to_thread(_profile, bot, conv.slots),
            "transcript": transcript,
        }
    )


async def claim(request: web.Request) -> web.Response:
    check_admin(request)
    body = await json_body(request)
    sender, agent = sender_id(body.get("sender")), _agent(body)
    store = request.app[BOT_KEY].conversations
    before = await _open_handoff(request, sender)
    claimed, handoff = await asyncio.to_thread(store.claim_handoff, sender, agent)
    if not claimed:
        holder = handoff["claimed_by"] if handoff else None
        raise ApiError(409, "already_claimed", f"{holder} has already claimed this conversation")
    if before["claimed_by"] != agent:  # a repeated claim by the holder says nothing new
        await asyncio.to_thread(
            store.log_notice, sender, f"{agent} from our team has joined the chat.", "agent_joined"
        )
    return web.json_response({"status": "ok", "handoff": handoff})


async def reply(request: web.Request) -> web.Response:
    check_admin(request)
    body = await json_body(request)
    sender, agent = sender_id(body.get("sender")), _agent(body)
    text = field(body, "text")
    limit = request.app[CONFIG_KEY].max_message_chars
    if not text.strip():
        raise ApiError(400, "invalid_field", "field 'text' must not be empty")
    if len(text) > limit:
        raise ApiError(
            413, "message_too_long", f"the reply has {len(text)} characters; the limit is {limit}"
        )
    bot = request.app[BOT_KEY]
    # Under the conversation's lock: a customer turn in flight cannot overwrite
    # the history entry this reply adds.
    async with bot.lock_for(sender):
        handoff = await _open_handoff(request, sender)
        if handoff["claimed_by"] != agent:
            holder = handoff["claimed_by"]
            raise ApiError(
                409,
                "not_claimed",
                f"{holder} has claimed this conversation"
                if holder
                else "claim the conversation before replying",
            )
        logged = await asyncio.to_thread(bot.conversations.log_agent_message, sender, text, agent)
    return web.json_response({"status": "ok", **logged})


async def handback(request: web.Request) -> web.Response:
    check_admin(request)
    body = await json_body(request)
    sender, agent = sender_id(body.get("sender")), _agent(body)
    handoff = await _open_handoff(request, sender)
    if handoff["claimed_by"] not in (None, agent):
        raise ApiError(409, "not_claimed", f"{handoff['claimed_by']} has claimed this conversation")
    await request.app[BOT_KEY].hand_back(sender, agent)
    return web.json_response({"status": "ok"})


async def inbox_events(request: web.Request) -> web.StreamResponse:
    """Every change to any conversation (id, sender, author); the page refetches what changed."""
    check_admin(request)
    store = request.app[BOT_KEY].conversations
    cursor = parse_cursor(request)
    if cursor is None:
        cursor = await asyncio.to_thread(store.last_event_id)

    async def fetch(after: int) -> list[dict[str, Any]]:
        return await asyncio.to_thread(store.changes_after, after, BATCH)

    # Agents share one office address often enough: only the total cap applies.
    return await stream(
        request, request.app[LIVE_KEY], None, cursor, fetch, "change", per_client_cap=False
    )


async def _inbox_ctx(app: web.Application):  # type: ignore[no-untyped-def]
    """Tell the bot whether agents can answer here: the inbox is on with an admin token.

    Without one, a handoff must not promise a reply in the chat (bot/turn/pipeline.py
    ``Bot.has_agent_inbox``). Restored on shutdown, since tests share one bot.
    """
    bot = app[BOT_KEY]
    before = getattr(bot, "agent_inbox", None)
    bot.agent_inbox = bool(app[CONFIG_KEY].admin_token)
    yield
    bot.agent_inbox = before


def setup_inbox(app: web.Application) -> None:
    """Mount the inbox routes (needs bot/web/live.py's bus: call after ``setup_live``)."""
    app.cleanup_ctx.append(_inbox_ctx)  # after create_app's bot_ctx: the bot is there
    app.router.add_get("/admin/inbox", inbox_page)
    app.router.add_get("/admin/inbox/inbox.js", inbox_js)
    app.router.add_get("/admin/inbox/inbox.css", inbox_css)
    app.router.add_get("/api/inbox/handoffs", list_handoffs)
    app.router.add_get("/api/inbox/conversation", conversation)
    app.router.add_post("/api/inbox/claim", claim)
    app.router.add_post("/api/inbox/reply", reply)
    app.router.add_post("/api/inbox/handback", handback)
    app.router.add_get("/api/inbox/events", inbox_events)
