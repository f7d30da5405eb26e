"""The customer-facing routes: ``/api/chat`` (JSON or streamed), the Rasa REST
channel, ``/model/parse``, feedback, the store's greeting, the widget's files,
health and metrics. Each handler checks its request, calls the bot and shapes
the reply; the conversation logic is the turn pipeline's."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.config import Config
from bot.limits import RateLimiter
from bot.web.access import authorize_conversation, check_channel_token, check_conversation_token
from bot.web.client_ip import client_address, is_loopback_client
from bot.web.errors import ApiError, access, json_body, rate_limited
from bot.web.keys import BOT_KEY, CONFIG_KEY, IP_LIMIT_KEY, METRICS_KEY, SENDER_LIMIT_KEY, STATIC
from bot.web.live import open_event_stream
from bot.web.requests import ChatRequest, FeedbackRequest, ParseRequest, RestMessage, parse_body
from bot.web.templates import render

Msg = TypeVar("Msg", bound=RestMessage)

log = logging.getLogger("shopbot.server")


def _chat_request(request: web.Request, model: type[Msg], body: dict[str, Any]) -> Msg:
    """Validate the body as ``model`` (sender, message, metadata); apply the rate limits."""
    msg = parse_body(model, body, request.app[CONFIG_KEY])
    limiter: RateLimiter = request.app[SENDER_LIMIT_KEY]
    # The sender first: a sender over its limit does not use up its address's budget.
    wait = limiter.check(f"sender:{msg.sender}") or request.app[IP_LIMIT_KEY].check(
        f"ip:{client_address(request)}"
    )
    if wait:
        raise rate_limited(wait, "messages")
    return msg


# Conversations of the Rasa REST channel are stored under "rest:<sender>" (see rest_webhook).
REST_PREFIX = "rest:"


# -- handlers ---------------------------------------------------------------
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def rest_webhook(request: web.Request) -> web.Response:
    """Rasa's REST channel: a list of bot messages (server-side integrations only)."""
    config: Config = request.app[CONFIG_KEY]
    access(
        check_channel_token,
        config.rest_channel_token,
        request.headers.get("Authorization"),
        is_loopback_client(request),
    )
    msg = _chat_request(request, RestMessage, await json_body(request))
    sender, message, metadata = msg.sender, msg.message, msg.metadata
    # The integration's user ids live in their own namespace: a visitor who names the
    # same id on /api/chat starts a different conversation and can never read this one.
    reply = await request.app[BOT_KEY].handle(REST_PREFIX + sender, message, metadata)
    request.app[METRICS_KEY].observe_turn(reply)
    return web.json_response([{**m, "recipient_id": sender} for m in reply.messages])


async def model_parse(request: web.Request) -> web.Response:
    text = parse_body(ParseRequest, await json_body(request), request.app[CONFIG_KEY]).text
    result = await asyncio.to_thread(request.app[BOT_KEY].parse, text)
    return web.json_response(result)


async def chat(request: web.Request) -> web.StreamResponse:
    """One turn as JSON, or streamed as server-sent events when asked."""
    msg = _chat_request(request, ChatRequest, await json_body(request))
    sender, message, metadata = msg.sender, msg.message, msg.metadata
    if sender.startswith(REST_PREFIX):
        raise ApiError(
            400,
            "invalid_field",
            f"sender ids starting with '{REST_PREFIX}' belong to the REST channel",
        )
    bot = request.app[BOT_KEY]
    # The conversation is the token holder's: a new one gets its token here.
    token = await asyncio.to_thread(
        access, authorize_conversation, bot.conversations, sender, msg.token
    )
    if "text/event-stream" not in request.headers.get("Accept", ""):
        reply = await bot.handle(sender, message, metadata)
        request.app[METRICS_KEY].observe_turn(reply)
        return web.json_response({**reply.to_api(), "token": token})

    response = await open_event_stream(request)

    async def send(event: str, data: dict[str, Any]) -> None:
        payload = json.dumps(data, ensure_ascii=False)
        await response.write(f"event: {event}\ndata: {payload}\n\n".encode())

    try:
        async for event in bot.stream_turn(sender, message, metadata):
            if event["type"] == "done":
                reply = event["reply"]
                request.app[METRICS_KEY].observe_turn(reply)
                await send("done", {**reply.to_api(), "token": token})
            else:
                await send(event["type"], {"text": event["text"]})
    except (ConnectionResetError, asyncio.CancelledError):
        # The client went away; the turn was logged (or is being) all the same.
        raise
    except Exception:
        log.exception("error while streaming a turn")
        await send("error", {"code": "internal", "message": "internal error; it has been logged"})
    await response.write_eof()
    return response


async def feedback(request: web.Request) -> web.Response:
    """Rate one turn (1 or -1), with an optional comment; the conversation's token is needed."""
    rated = parse_body(FeedbackRequest, await json_body(request), request.app[CONFIG_KEY])
    sender, turn_id = rated.sender, rated.turn_id
    store = request.app[BOT_KEY].conversations
    await asyncio.to_thread(access, check_conversation_token, store, sender, rated.token)
    turn = await asyncio.to_thread(store.get_turn, turn_id)
    if turn is None or turn["sender"] != sender:
        raise ApiError(404, "unknown_turn", "no such turn for this sender")
    await asyncio.to_thread(store.add_feedback, turn_id, sender, rated.rating, rated.comment)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format: requests, turns, generation admission, the process."""
    body = request.app[METRICS_KEY].render()  # this app's registry (bot/web/metrics.py)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def index_page(request: web.Request) -> web.Response:
    """The demo page: the store's name, and the widget embedded in the store's language."""
    settings = request.app[BOT_KEY].settings
    zh = (settings.language or "en").lower().startswith("zh")
    page = render(
        "index.html",
        lang="zh" if zh else "en",
        zh=zh,
        store=settings.name,
        title="在线客服" if zh else "Chat with us",
        origin=f"{request.scheme}://{request.host}",
    )
    return web.Response(text=page, content_type="text/html")


async def widget_js(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC / "widget.js", headers={"Content-Type": "application/javascript"}
    )


async def store_info(request: web.Request) -> web.Response:
    """What the widget needs to greet the customer."""
    bot = request.app[BOT_KEY]
    settings = bot.settings
    # The chat model's name only ("qwen2.5-0.5b+adapter"), never a path: this route is public.
    generator = getattr(getattr(bot, "answerer", None), "generator", None)
    return web.json_response(
        {
            "name": settings.name,
            "greeting": bot.catalogue.greeting(),
            "language": settings.language,
            "currency": settings.currency,
            "model": getattr(generator, "name", None),
        }
    )


def setup_chat(app: web.Application) -> None:
    """Mount the customer-facing routes."""
    app.router.add_get("/health", health)
    app.router.add_post("/webhooks/rest/webhook", rest_webhook)
    app.router.add_post("/model/parse", model_parse)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/feedback", feedback)
    app.router.add_get("/api/store", store_info)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index_page)
    app.router.add_get("/widget.js", widget_js)
