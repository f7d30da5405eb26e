"""Button payloads in Rasa's convention: ``/intent`` or ``/intent{"entity": "value"}``.

Rasa front ends send a button's payload as the user's message; Rasa's
``RegexMessageHandler`` reads it as that intent with confidence 1.0 and the JSON's
entities, and shopbot does the same (:func:`parse_payload`), following Rasa where it
is lenient and stricter where a payload could be abused:

- the intent must be one the bot knows (the intent model's labels and
  :data:`BUTTON_INTENTS`); an unknown ``/something`` is read as text, as Rasa does;
- malformed JSON (or JSON that is not an object, or longer than
  :data:`MAX_JSON_CHARS`) keeps the intent and drops the entities, as Rasa does;
  text after the JSON makes the whole message text;
- each entity value must be a string or a number (or a short list of them), at most
  :data:`MAX_VALUE_CHARS` long, and shopbot's own extractor (bot/nlu/entities.py) must
  find an entity of that type in it, read as the customer's words; the value is then
  the extractor's (``w 2611340`` becomes ``#W2611340``). So a payload can say nothing
  the customer could not have typed, and an entity type the extractor never produces
  (``verified_customer_id``, ``confirmed``) never gets through.

A payload is a claim about what the customer meant, never a credential: the dialogue
still verifies the customer before order details and asks for an explicit yes before
a change, whatever intent and entities a payload carries.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Collection
from typing import Any

from bot.nlu.entities import extract_entities, find_person_names

log = logging.getLogger("shopbot.nlu")

PREFIX = "/"
# The payloads of shopbot's own buttons and commands, as intents (bot/turn/routes.py:
# the handoff offer and each change question's yes/no; bot/turn/pipeline.py: /restart).
# The dialogue recognises these buttons by their exact text; the parse names them too.
BUTTON_INTENTS = frozenset(
    {
        "handoff",
        "decline_handoff",
        "confirm_cancel",
        "deny_cancel",
        "confirm_return",
        "deny_return",
        "restart",
    }
)
EXTRACTOR = "payload"
MAX_JSON_CHARS = 1000
MAX_ENTITIES = 10
MAX_VALUE_CHARS = 100
MAX_LIST_VALUES = 5

# "/name" or "/name{...}"; the name as Rasa's (no "{", "@" or spaces in it).
_PAYLOAD_RE = re.compile(r"/(?P<intent>[^{@\s]+)(?P<entities>\{.*\})?", re.DOTALL)


def looks_like_payload(text: str) -> bool:
    """``text`` has a payload's shape (``/name`` or ``/name{...}``), known intent or not.

    Such a message is a button, not typed words: bot/nlu/consent.py never reads a yes
    in it (``/confirm_return{"x": "yes"}`` is made of yes words, and no yes).
    """
    return _PAYLOAD_RE.fullmatch(text.strip()) is not None


def parse_payload(
    text: str, known_intents: Collection[str], catalog: list[Any] | None = None
) -> dict[str, Any] | None:
    """The parse of a payload message, or None when ``text`` is to be read as text.

    ``{"text", "intent": {"name", "confidence": 1.0}, "intent_ranking": [that intent],
    "entities": [...]}``; each entity ``{"entity", "value", "extractor": "payload"}``
    (products add the extractor's ``product_id``). ``known_intents``: the intents the
    bot has; ``catalog``: the store's products, for product and option entities.
    """
    stripped = text.strip()
    if not stripped.startswith(PREFIX):
        return None
    match = _PAYLOAD_RE.fullmatch(stripped)
    if not match:
        return None  # "/handoff please", "/ what?": words, read as text
    intent = match.group("intent")
    if intent not in known_intents:
        log.info("payload names an unknown intent %r: read as text", intent[:50])
        return None
    entities = payload_entities(match.group("entities"), catalog)
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "intent_ranking": [{"name": intent, "confidence": 1.0}],
        "entities": entities,
    }


def payload_entities(raw: str | None, catalog: list[Any] | None = None) -> list[dict[str, Any]]:
    """The valid entities of a payload's JSON part (see the module docstring); [] when
    there is none or it is not a JSON object."""
    if raw is None:
        return []
    if len(raw) > MAX_JSON_CHARS:
        log.info("payload entities over %d characters: ignored", MAX_JSON_CHARS)
        return []
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        log.info("payload entities are not valid JSON: ignored")
        return []
    if not isinstance(data, dict):
        return []
    entities: list[dict[str, Any]] = []
    for name, given in data.items():
        values = given if isinstance(given, list) else [given]
        for value in values[:MAX_LIST_VALUES]:
            found = _checked(name, value, catalog)
            if found is None:
                log.info("payload entity %r dropped: not a valid value", str(name)[:50])
                continue
            entities.append(found)
            if len(entities) >= MAX_ENTITIES:
                return entities
    return entities


def _checked(name: str, value: Any, catalog: list[Any] | None) -> dict[str, Any] | None:
    """``value`` as entity ``name``, as shopbot's extractor reads it; None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None  # objects, null, true/false: never an entity value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    words = str(value).strip()
    if not words or len(words) > MAX_VALUE_CHARS:
        return None
    if name == "person_name":
        # A name alone ("Yara Li") has no "my name is" before it, which the extractor needs.
        found = find_person_names(f"my name is {words}")
    else:
        found = extract_entities(words, catalog)
    for entity in found:
        if entity["entity"] == name:
            extra = {k: v for k, v in entity.items() if k not in ("start", "end", "extractor")}
            return {**extra, "extractor": EXTRACTOR}
    return None
