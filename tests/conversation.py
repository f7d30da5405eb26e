"""Talk to ``POST /api/chat`` the way the widget does: keep each conversation's token.

A sender id is a name, not a credential: the first reply of a conversation
carries ``token``, and every later message of that conversation (and its event
stream, ``?token=``) must present it. Tests that hold a conversation over HTTP
go through ``chat`` so they follow the rule without repeating it.
"""

from __future__ import annotations

from typing import Any

# sender -> the token its conversation's first reply carried (senders are unique per test).
TOKENS: dict[str, str] = {}


def token_for(sender: str) -> str | None:
    """The token this test process was given for ``sender``'s conversation, if any."""
    return TOKENS.get(sender)


def remember(sender: str, body: Any) -> None:
    """Keep the token from a ``/api/chat`` response body (a dict) or SSE ``done`` payload."""
    if isinstance(body, dict) and body.get("token"):
        TOKENS[sender] = body["token"]


def chat_body(sender: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body for one message of ``sender``'s conversation, token included."""
    body: dict[str, Any] = {"sender": sender, "message": message, **extra}
    if "token" not in extra and sender in TOKENS:
        body["token"] = TOKENS[sender]
    return body


async def chat(client: Any, sender: str, message: str, **extra: Any) -> dict[str, Any]:
    """One turn through an aiohttp ``TestClient`` (or ``ClientSession`` with a base URL):
    the parsed JSON body; asserts a 200."""
    resp = await client.post("/api/chat", json=chat_body(sender, message, **extra))
    body = await resp.json()
    assert resp.status == 200, body
    remember(sender, body)
    return body
