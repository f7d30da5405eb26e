"""Run business actions: in-process through rasa-sdk's ``ActionExecutor``, or over HTTP.

Both paths send the same rasa-sdk ``ActionCall`` (``next_action``, ``sender_id``,
``tracker``, ``domain``, ``version``) and return the same ``{"events", "responses"}`` dict,
so a merchant can move the actions to their own rasa-sdk action server (``action_endpoint``
in the config, e.g. ``http://localhost:5055/webhook``) without the dialogue noticing.

Any failure (server down, timeout, an action raising) becomes :class:`ActionError`; the
dialogue then hands off politely instead of showing a stack trace.
"""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import rasa_sdk
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionNotFoundException

# Key under which apply_events / tracker_state keep the active form in a flat slots dict.
ACTIVE_LOOP_KEY = "active_loop"

# Who the customer is and what their order request is about: what a verification
# rests on (bot/turn/pipeline.py forgets these together when a verification expires).
CUSTOMER_SLOTS = (
    "verified_customer_id",
    "customer_email",
    "customer_name",
    "customer_zip",
    "order_id",
    "return_items",
    "return_reason",
    "cancel_reason",
    "listed_orders",  # the ids of the orders last shown, as shown (bot/actions/order_status.py)
    "order_question",  # an order question asked before verification, answered once verified
)
# Which slot remembers each identity detail a message may carry (entity -> slot), so name
# and zip may arrive in different turns.
IDENTITY_SLOTS = {"email": "customer_email", "person_name": "customer_name", "zip": "customer_zip"}
SLOT_NAMES = [
    *CUSTOMER_SLOTS,
    "confirmed",
    "pending_action",
    "requested_slot",
    "handoff",
    "language",  # the reply's language (bot/nlu/language.py): the actions' texts are in it
    "last_products",
    "last_scope",  # all the products the last list was drawn from (shown or not)
    "refund_method_id",  # optional: a gift card the customer chose for a return refund
    "offered_order_list",  # the last reply offered to list the orders: a "yes" lists them
]
ACTION_NAMES = [
    "action_verify_customer",
    "action_order_status",
    "action_cancel_order",
    "validate_return_form",
    "action_submit_return",
    "action_product_search",
    "action_handoff",
]

# The domain sent with every action call. rasa-sdk's FormValidationAction validates only the
# slots listed in ``forms.<form>.required_slots``; custom mappings keep Rasa from filling them.
DOMAIN: dict[str, Any] = {
    "version": "3.1",
    "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    "intents": [],
    "entities": ["email", "person_name", "zip", "order_id", "product", "color", "size", "material"],
    "slots": {
        name: {"type": "any", "influence_conversation": False, "mappings": [{"type": "custom"}]}
        for name in SLOT_NAMES
    },
    "responses": {},
    "actions": list(ACTION_NAMES),
    "forms": {
        "return_form": {"required_slots": ["order_id", "return_items", "return_reason"]},
    },
}


class ActionError(RuntimeError):
    """An action could not be run; the message says which and why."""


def tracker_state(
    sender_id: str,
    slots: dict[str, Any],
    latest_message: dict[str, Any] | None,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A rasa-sdk ``TrackerState`` dict.

    Every domain slot is present (None when unset). An ``active_loop`` key in ``slots`` (as
    kept by :func:`apply_events`) becomes the tracker's active loop unless one is given.
    To have ``validate_return_form`` validate a candidate value, set ``requested_slot`` and
    either put the candidate as a trailing ``SlotSet`` event (as Rasa's form does) or leave
    it in the latest message, from which the form extracts it.
    """
    slot_values = {name: None for name in SLOT_NAMES}
    slot_values.update(slots)
    loop = slot_values.pop(ACTIVE_LOOP_KEY, None) if active_loop is None else active_loop
    slot_values.pop(ACTIVE_LOOP_KEY, None)
    if isinstance(loop, str):
        loop = {"name": loop}
    message = {"text": "", "intent": {}, "intent_ranking": [], "entities": []}
    message.update(latest_message or {})
    return {
        "sender_id": sender_id,
        "slots": slot_values,
        "latest_message": message,
        "events": list(events or []),
        "paused": False,
        "followup_action": None,
        "active_loop": loop or {},
        "latest_action_name": None,
        "stack": [],
        "user_id": None,
    }


def apply_events(slots: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``slots`` with the actions' events applied.

    ``slot`` events set a slot; ``active_loop`` events set (or, with a null name, clear)
    ``slots["active_loop"]``; ``reset_slots`` and ``restart`` clear every slot. Other events
    (``bot``, ``followup``, ...) do not change slots and are ignored.
    """
    out = dict(slots)
    for event in events:
        kind = event.get("event")
        if kind == "slot":
            out[event["name"]] = event.get("value")
        elif kind == "active_loop":
            out[ACTIVE_LOOP_KEY] = event.get("name")
        elif kind in ("reset_slots", "restart"):
            out = {name: None for name in out}
    return out


class ActionRunner:
    """Runs business actions in-process (``executor``) or on an action server (``endpoint_url``)."""

    def __init__(
        self,
        executor: ActionExecutor | None = None,
        endpoint_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Give an executor, or the full webhook URL of a rasa-sdk action server."""
        if executor is None and not endpoint_url:
            raise ValueError("ActionRunner needs an ActionExecutor or an action server URL")
        self.executor = executor
        self.endpoint_url = endpoint_url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def run(
        self, action_name: str, tracker: dict[str, Any], domain: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one action; returns ``{"events": [...], "responses": [...]}``."""
        # rasa-sdk's Tracker mutates the slots/events it is given (forms add slot events);
        # the caller's state must only change through the returned events.
        action_call = {
            "next_action": action_name,
            "sender_id": tracker.get("sender_id", ""),
            "tracker": copy.deepcopy(tracker),
            "domain": copy.deepcopy(domain if domain is not None else DOMAIN),
            "version": rasa_sdk.__version__,
        }
        if self.endpoint_url:
            return await self._run_remote(action_name, action_call)
        return await self._run_local(action_name, action_call)

    async def _run_local(self, action_name: str, action_call: dict[str, Any]) -> dict[str, Any]:
        assert self.executor is not None
        try:
            result = await self.executor.run(action_call)
        except ActionNotFoundException as exc:
            raise ActionError(f"no action named '{action_name}' is registered") from exc
        except Exception as exc:  # an action's bug must not take the conversation down
            raise ActionError(f"action '{action_name}' failed: {exc!r}") from exc
        if result is None:
            return {"events": [], "responses": []}
        return result.model_dump()

    async def _run_remote(self, action_name: str, action_call: dict[str, Any]) -> dict[str, Any]:
        assert self.endpoint_url is not None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.post(self.endpoint_url, json=action_call) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
                if resp.status != 200:
                    detail = body.get("error") if isinstance(body, dict) else None
                    raise ActionError(
                        f"action server {self.endpoint_url} answered {resp.status} for "
                        f"'{action_name}': {detail or resp.reason}"
                    )
        except TimeoutError as exc:
            raise ActionError(
                f"action server {self.endpoint_url} did not answer '{action_name}' within "
                f"{self.timeout:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise ActionError(
                f"action server {self.endpoint_url} is not reachable ({exc}); is it running?"
            ) from exc
        if body is None:
            return {"events": [], "responses": []}
        if not isinstance(body, dict) or not isinstance(body.get("events", []), list):
            raise ActionError(
                f"action server {self.endpoint_url} sent an unexpected reply for '{action_name}'"
            )
        return {"events": body.get("events") or [], "responses": body.get("responses") or []}

    async def close(self) -> None:
        """Close the HTTP session (if one was opened)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ActionRunner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
