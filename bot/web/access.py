"""Who may continue a conversation: the holder of its token, not whoever names it.

A sender id is a name the client picks (the widget makes a random one, an
integration sends its own user ids, the README's example says ``"me"``). It is
never a credential. The first reply of a conversation carries ``token``, an
unguessable secret (only its hash is stored, bot/storage/conversations.py); continuing the
conversation, reading its history or following its live events needs it.
A request that names an existing conversation without its token is refused:
it would otherwise inherit the verified identity and see the transcript.

The Rasa REST channel is for server-side integrations, which hold the channel
token configured for the store (``rest_channel_token``); with none configured
it answers only callers on this machine.
"""

from __future__ import annotations

import hmac
from typing import Any

from bot.storage.conversations import ConversationStore

# Tokens are 43 characters (secrets.token_urlsafe(32)); anything far longer is not one.
MAX_TOKEN_CHARS = 256


class AccessDenied(Exception):
    """The caller may not use this conversation or channel; ``status`` is the HTTP code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def authorize_conversation(store: ConversationStore, sender: str, token: Any) -> str:
    """The token that lets this request use ``sender``'s conversation.

    No token: a new conversation is started and its fresh token returned, or,
    when ``sender`` already has a conversation, the request is refused. A token:
    it must be that conversation's. Raises ``AccessDenied``.
    """
    if token is not None and not isinstance(token, str):
        raise AccessDenied(400, "invalid_field", "field 'token' must be a string")
    if token:
        if not _holds(store, sender, token):
            raise AccessDenied(
                403,
                "invalid_token",
                "the token does not belong to this conversation; start a new conversation "
                "with a new sender id (and no token)",
            )
        return token
    fresh = store.claim_conversation(sender)
    if fresh is None:
        raise AccessDenied(
            403,
            "token_required",
            "this conversation already exists: continuing it needs the token its first "
            "reply carried; or start a new conversation with a new sender id",
        )
    return fresh


def check_conversation_token(store: ConversationStore, sender: str, token: Any) -> None:
    """Reading a conversation (history, live events, feedback) needs its token."""
    if not token or not isinstance(token, str):
        raise AccessDenied(
            401, "token_required", "reading a conversation needs its token ('token')"
        )
    if not _holds(store, sender, token):
        raise AccessDenied(403, "invalid_token", "the token does not belong to this conversation")


def _holds(store: ConversationStore, sender: str, token: str) -> bool:
    """``token`` is ``sender``'s conversation token (an over-long one is not even hashed)."""
    return len(token) <= MAX_TOKEN_CHARS and store.check_conversation_token(sender, token)


def check_channel_token(configured: str | None, authorization: str | None, local: bool) -> None:
    """The REST channel: the configured bearer token, or a caller on this machine."""
    if configured:
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), configured.encode()
        ):
            raise AccessDenied(
                401,
                "unauthorized",
                "the REST channel needs 'Authorization: Bearer <rest_channel_token>'",
            )
        return
    if not local:
        raise AccessDenied(
            403,
            "forbidden",
            "the REST channel answers only on this machine unless rest_channel_token is "
            "configured; browsers use /api/chat",
        )
