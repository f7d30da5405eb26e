"""The JSON request bodies of the HTTP API, as pydantic models: one source for both
the server's validation and the OpenAPI document (bot/web/openapi.py).

``parse_body(Model, body, config)`` validates a decoded JSON object (strictly: no
``"5"`` for ``5``, no ``true`` for ``1``) and turns the first problem into the
API's error, ``{"error": {"code", "message"}}`` naming the field: 400
``missing_field`` / ``invalid_field``, 413 for text over its limit. Limits that
the merchant configures (``max_message_chars``) are read from the app's
``Config`` at validation time and written into the schema by
``request_schema(Model, config)``, so the document shows the running server's
limits.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.config import Config
from bot.web.access import MAX_TOKEN_CHARS
from bot.web.errors import MAX_SENDER_CHARS, ApiError

# A schema key naming the Config attribute that bounds a text field; request_schema
# replaces it with that attribute's value as ``maxLength``.
CONFIG_LIMIT = "x-config-limit"
# The feedback comment's limit (not configurable).
MAX_COMMENT_CHARS = 2000


def _refuse(status: int, code: str, message: str) -> PydanticCustomError:
    # The status and code travel in the error's context; parse_body reads them back.
    return PydanticCustomError(code, message, {"status": status})


def _sender(value: str, info: ValidationInfo) -> str:
    """Stripped, 1 to MAX_SENDER_CHARS characters (the same rule as bot.web.errors.sender_id)."""
    sender = value.strip()
    if not sender or len(sender) > MAX_SENDER_CHARS:
        raise _refuse(
            400,
            "invalid_field",
            f"field '{info.field_name}' must be 1 to {MAX_SENDER_CHARS} characters",
        )
    return sender


def _limit(info: ValidationInfo, attr: str) -> int:
    config = (info.context or {}).get("config")
    return int(getattr(config if config is not None else Config, attr))


def _message(value: str, info: ValidationInfo) -> str:
    """Not blank, and within the configured ``max_message_chars``."""
    if not value.strip():
        raise _refuse(400, "invalid_field", f"field '{info.field_name}' must not be empty")
    limit = _limit(info, "max_message_chars")
    if len(value) > limit:
        raise _refuse(
            413,
            "message_too_long",
            f"the message has {len(value)} characters; the limit is {limit}",
        )
    return value


def _parse_text(value: str, info: ValidationInfo) -> str:
    if len(value) > _limit(info, "max_message_chars"):
        raise _refuse(413, "message_too_long", "the text is over the configured limit")
    return value


def _rating(value: int, info: ValidationInfo) -> int:
    if value not in (1, -1):
        raise _refuse(400, "invalid_field", f"field '{info.field_name}' must be 1 or -1")
    return value


def _comment(value: str, info: ValidationInfo) -> str:
    if len(value) > MAX_COMMENT_CHARS:
        raise _refuse(413, "too_large", f"the comment is over {MAX_COMMENT_CHARS:,} characters")
    return value


Sender = Annotated[
    str,
    AfterValidator(_sender),
    Field(
        description="the conversation's name (not a credential); stripped",
        json_schema_extra={"minLength": 1, "maxLength": MAX_SENDER_CHARS, "pattern": r"\S"},
    ),
]
Message = Annotated[
    str,
    AfterValidator(_message),
    Field(
        description="the customer's message; not blank",
        json_schema_extra={"minLength": 1, "pattern": r"\S", CONFIG_LIMIT: "max_message_chars"},
    ),
]
Token = Annotated[
    str,
    Field(
        description="the conversation's secret, from its first reply (bot/web/access.py)",
        json_schema_extra={"maxLength": MAX_TOKEN_CHARS},
    ),
]
Comment = Annotated[
    str, AfterValidator(_comment), Field(json_schema_extra={"maxLength": MAX_COMMENT_CHARS})
]
Metadata = Annotated[dict[str, Any], Field(description="passed to the actions as Rasa does")]


class RequestBody(BaseModel):
    """A JSON object body; unknown fields are ignored (Rasa clients send extras)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # ``"field": null`` has always meant "not sent": required -> missing_field.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class RestMessage(RequestBody):
    """``POST /webhooks/rest/webhook``: Rasa's REST channel message."""

    sender: Sender
    message: Message
    metadata: Metadata | None = None


class ChatRequest(RestMessage):
    """``POST /api/chat``: one customer message."""

    token: Token | None = Field(
        default=None, description="required to continue an existing conversation"
    )


class ParseRequest(RequestBody):
    """``POST /model/parse``: text to run through the NLU only."""

    text: Annotated[
        str,
        AfterValidator(_parse_text),
        Field(json_schema_extra={CONFIG_LIMIT: "max_message_chars"}),
    ]


class FeedbackRequest(RequestBody):
    """``POST /api/feedback``: a rating of one turn."""

    # Plain text, not Sender: an unknown sender is a 404/403 from the conversation log.
    sender: str
    turn_id: str
    rating: Annotated[int, AfterValidator(_rating), Field(json_schema_extra={"enum": [1, -1]})]
    comment: Comment | None = None
    token: Token | None = Field(default=None, description="the conversation's token")


class AgentRequest(RequestBody):
    """``POST /api/inbox/claim`` and ``/api/inbox/handback``: an agent and a conversation."""

    sender: Sender
    agent: Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": 64})]


class AgentReply(AgentRequest):
    """``POST /api/inbox/reply``: an agent's message to the customer."""

    text: Annotated[
        str, Field(json_schema_extra={"minLength": 1, CONFIG_LIMIT: "max_message_chars"})
    ]


Model = TypeVar("Model", bound=RequestBody)

# pydantic error types -> what the field must be, for invalid_field messages.
_MUST_BE = {
    "string_type": "a string",
    "int_type": "an integer",
    "dict_type": "an object",
}


def validation_error(exc: ValidationError) -> ApiError:
    """The API error for the first problem pydantic found (fields in declaration order)."""
    err = exc.errors(include_url=False)[0]
    name = str(err["loc"][0]) if err["loc"] else "body"
    ctx = err.get("ctx") or {}
    if "status" in ctx:  # one of this module's own refusals
        return ApiError(int(ctx["status"]), err["type"], err["msg"])
    if err["type"] == "missing":
        return ApiError(400, "missing_field", f"field '{name}' is required")
    what = _MUST_BE.get(err["type"])
    if what is not None:
        return ApiError(400, "invalid_field", f"field '{name}' must be {what}")
    detail = err["msg"][0].lower() + err["msg"][1:] if err["msg"] else "is invalid"
    return ApiError(400, "invalid_field", f"field '{name}': {detail}")


def parse_body(model: type[Model], body: dict[str, Any], config: Config) -> Model:
    """``body`` (a decoded JSON object) as ``model``, or the ApiError naming the bad field."""
    try:
        return model.model_validate(body, context={"config": config})
    except ValidationError as exc:
        raise validation_error(exc) from None


def _apply_limits(node: Any, config: Config) -> Any:
    if isinstance(node, dict):
        out = {k: _apply_limits(v, config) for k, v in node.items() if k != CONFIG_LIMIT}
        if CONFIG_LIMIT in node:
            out["maxLength"] = int(getattr(config, node[CONFIG_LIMIT]))
        return out
    if isinstance(node, list):
        return [_apply_limits(v, config) for v in node]
    return node


def request_schema(
    model: type[RequestBody], config: Config, ref_prefix: str = "#/components/schemas/"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``model``'s JSON schema with ``config``'s limits, and the definitions it refers to
    (pydantic's ``$defs``, for the caller to place where ``ref_prefix`` points)."""
    schema = model.model_json_schema(ref_template=ref_prefix + "{model}")
    defs = schema.pop("$defs", {})
    return _apply_limits(schema, config), _apply_limits(defs, config)
