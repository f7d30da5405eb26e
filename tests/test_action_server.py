"""``shopbot actions``: the business actions behind rasa-sdk's own action server, called
over rasa-sdk's webhook protocol as a Rasa server calls them, and by shopbot's own
``action_endpoint``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import rasa_sdk

from bot.actions.runner import ACTION_NAMES, DOMAIN, SLOT_NAMES
from tests.conftest import ROOT

ORDER = "#W4817420"  # delivered; read only here
CUSTOMER = "ava_moore_2033"
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def action_server(demo_bot: Any, demo_store: Path, tmp_path_factory) -> Iterator[str]:
    """``shopbot actions`` on the demo store (the shared bot's, so both see one order
    book), on a free port of 127.0.0.1; its base URL. Stopped at the end."""
    port = free_port()
    log = tmp_path_factory.mktemp("action-server") / "log.txt"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "actions", "--store", str(demo_store),
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if get(f"{url}/health")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the action server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def action_call(
    action: str, text: str, entities: list[dict[str, Any]], slots: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A rasa-sdk webhook request as a Rasa server sends it (next_action, tracker, domain)."""
    sender = f"rasa-{uuid4().hex[:8]}"
    message = {
        "text": text,
        "intent": {"name": "track_order", "confidence": 0.9},
        "intent_ranking": [],
        "entities": entities,
    }
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": {**dict.fromkeys(SLOT_NAMES), **(slots or {})},
            "latest_message": message,
            "events": [
                {"event": "user", "timestamp": time.time(), "text": text, "parse_data": message}
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": DOMAIN,
        "version": rasa_sdk.__version__,
    }


def customer_email(demo_store: Path, customer_id: str) -> str:
    for line in (demo_store / "customers.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["customer_id"] == customer_id:
            return row["email"]
    raise KeyError(customer_id)


def test_the_action_server_lists_every_business_action(action_server: str) -> None:
    assert get(f"{action_server}/health") == (200, {"status": "ok"})
    status, actions = get(f"{action_server}/actions")
    assert status == 200
    assert sorted(a["name"] for a in actions) == sorted(ACTION_NAMES)


def test_the_webhook_verifies_a_customer(action_server: str, demo_store: Path) -> None:
    email = customer_email(demo_store, CUSTOMER)
    call = action_call(
        "action_verify_customer", f"my email is {email}", [{"entity": "email", "value": email}]
    )
    status, result = post(f"{action_server}/webhook", call)
    assert status == 200, result
    slots = {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}
    assert slots["verified_customer_id"] == CUSTOMER
    assert slots["customer_email"] == email
    assert [r["text"] for r in result["responses"]] == ["Thanks, Ava, you're verified."]


def test_the_webhook_answers_order_status_only_when_verified(action_server: str) -> None:
    text = f"what's the status of order {ORDER}?"
    entities = [{"entity": "order_id", "value": ORDER}]
    status, result = post(
        f"{action_server}/webhook",
        action_call("action_order_status", text, entities, {"verified_customer_id": CUSTOMER}),
    )
    assert status == 200, result
    reply = " ".join(r["text"] for r in result["responses"])
    assert ORDER in reply and "delivered" in reply, reply
    # The same question without a verified customer: no order details, a request to verify.
    status, result = post(
        f"{action_server}/webhook", action_call("action_order_status", text, entities)
    )
    assert status == 200, result
    reply = " ".join(r["text"] for r in result["responses"])
    assert "verify your identity" in reply and "delivered" not in reply, reply
    slots = {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}
    assert slots.get("pending_action") == "action_order_status"


def test_an_unknown_action_is_a_404(action_server: str) -> None:
    status, result = post(f"{action_server}/webhook", action_call("action_nope", "hi", []))
    assert status == 404 and result["action_name"] == "action_nope"


async def test_shopbots_action_endpoint_runs_a_turn_on_the_action_server(
    action_server: str, demo_config: Any, demo_bot: Any, demo_store: Path
) -> None:
    from bot.assemble import load_bot_sync
    from bot.config import replace

    config = replace(demo_config, action_endpoint=f"{action_server}/webhook")
    bot = load_bot_sync(config, progress=False, generator=demo_bot.answerer.generator)
    try:
        assert bot.runner.executor is None and bot.runner.endpoint_url == config.action_endpoint
        sender = f"remote-{uuid4().hex[:8]}"
        reply = await bot.handle(sender, f"my email is {customer_email(demo_store, CUSTOMER)}")
        assert "you're verified" in reply.text, reply.text
        assert reply.action == "action_verify_customer"
        reply = await bot.handle(sender, f"what's the status of order {ORDER}?")
        assert reply.action == "action_order_status"
        assert ORDER in reply.text and "delivered" in reply.text, reply.text
    finally:
        await bot.runner.close()
        bot.conversations.close()


async def test_a_stores_own_currency_prices_its_products(tmp_path: Path) -> None:
    # The Chinese demo store sells in CNY: its prices never come out in dollars.
    from bot.actions.server import store_executor

    executor = store_executor(ROOT / "knowledge_base" / "demo_store_zh", tmp_path / "log.db")
    call = action_call("action_product_search", "不锈钢保温杯多少钱", [])
    result = await executor.run(call)
    texts = " ".join(r.get("text") or "" for r in result.responses)
    assert "¥69" in texts and "$" not in texts, texts
