"""End to end: the real server on a real port, holding real conversations.

The demo store is built from scratch into a temporary copy; the chat LM is
SmolLM2 through the real transformers backend.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import create_app
from tests.conftest import copy_demo_store
from tests.conversation import chat

pytestmark = pytest.mark.slow


def _orders(store: Path) -> dict[str, dict]:
    return {
        o["order_id"]: o for o in map(json.loads, (store / "orders.jsonl").read_text().splitlines())
    }


def _customers(store: Path) -> dict[str, dict]:
    return {
        c["customer_id"]: c
        for c in map(json.loads, (store / "customers.jsonl").read_text().splitlines())
    }


def _order_with_status(store: Path, status: str) -> tuple[dict, dict]:
    customers = _customers(store)
    for order in _orders(store).values():
        if order["status"] == status:
            return order, customers[order["customer_id"]]
    raise AssertionError(f"no {status} order in the demo store")


@pytest.fixture
async def client(demo_config, demo_bot):
    server = TestServer(create_app(demo_config, bot=demo_bot), port=0)
    async with TestClient(server) as c:
        yield c


async def say(client: TestClient, sender: str, text: str) -> dict:
    return await chat(client, sender, text)


def reply_text(data: dict) -> str:
    return "\n".join(m.get("text", "") for m in data["messages"])


async def test_health_and_demo_page(client):
    assert await (await client.get("/health")).json() == {"status": "ok"}
    page = await client.get("/")
    assert page.status == 200 and "widget.js" in await page.text()
    js = await client.get("/widget.js")
    assert js.status == 200 and "textContent" in await js.text()


async def test_faq_answer_cites_its_source(client):
    data = await say(client, "faq-1", "how long does it take to get my money back after a return?")
    # Composed by the model, or the merchant's own FAQ answer when the match is confident.
    assert data["action"] in ("action_answer", "action_answer_curated"), data["action"]
    ids = [s["id"] for s in data["sources"]]
    assert any(i in ids for i in ("faq-return-refund-time", "faq-refund-timing")), ids
    text = reply_text(data)
    # Whatever the small LM wrote, the shown answer is grounded: every number is in a source.
    assert "5 to 7 business days" in text or "immediately" in text.lower(), text
    assert data["handoff"] is False


async def test_product_question_gets_real_variant_prices(client, demo_store):
    data = await say(client, "product-1", "how much is the t-shirt in blue?")
    assert data["action"] == "action_product_search"
    products = {
        p["id"]: p
        for p in map(json.loads, (demo_store / "products.jsonl").read_text().splitlines())
    }
    shirt = next(p for p in products.values() if p["title"] == "T-Shirt")
    blue = [v for v in shirt["variants"] if v["options"].get("color") == "blue"]
    text = reply_text(data)
    for variant in blue:
        assert f"${variant['price']:.2f}" in text
    cards = [m["custom"] for m in data["messages"] if m.get("custom")]
    assert cards and cards[0]["type"] == "product_cards"
    assert cards[0]["products"][0]["title"] == "T-Shirt"


async def test_order_status_asks_for_verification_then_reports_true_status(client, demo_store):
    order, customer = _order_with_status(demo_store, "delivered")
    first = await say(client, "status-1", f"where is my order {order['order_id']}?")
    text = reply_text(first).lower()
    assert "verify" in text and "delivered" not in text
    second = await say(client, "status-1", f"my email is {customer['email']}")
    text = reply_text(second)
    assert order["order_id"] in text and "delivered" in text.lower(), text


async def test_verification_by_name_and_zip(client, demo_store):
    order, customer = _order_with_status(demo_store, "pending")
    await say(client, "status-2", "what's the status of my order?")
    data = await say(
        client, "status-2", f"my name is {customer['name']} and my zip is {customer['zip']}"
    )
    assert customer["first_name"] in reply_text(data)
    data = await say(client, "status-2", f"what about {order['order_id']}")
    assert "pending" in reply_text(data).lower()


async def test_another_customers_order_is_not_revealed(client, demo_store):
    order, _ = _order_with_status(demo_store, "delivered")
    other = next(
        c for c in _customers(demo_store).values() if c["customer_id"] != order["customer_id"]
    )
    await say(client, "snoop-1", f"my email is {other['email']}")
    data = await say(client, "snoop-1", f"where is order {order['order_id']}")
    text = reply_text(data).lower()
    assert "delivered" not in text
    assert all(item["title"].lower() not in text for item in order["items"])


async def test_cancel_asks_for_confirmation_then_changes_the_order(client, demo_store, demo_bot):
    order, customer = _order_with_status(demo_store, "pending")
    oid = order["order_id"]
    await say(client, "cancel-1", f"my email is {customer['email']}")
    data = await say(client, "cancel-1", f"please cancel order {oid}, I no longer need it")
    assert "yes" in json.dumps(data["messages"]).lower()
    assert demo_bot.order_book.get(oid).status == "pending"  # nothing changed before the yes
    data = await say(client, "cancel-1", "yes")
    assert "cancel" in reply_text(data).lower()
    assert demo_bot.order_book.get(oid).status == "cancelled"


async def test_out_of_scope_is_not_answered_with_invented_facts(client):
    data = await say(client, "oos-1", "what will the weather be like on mars next tuesday?")
    assert data["action"] == "action_abstain"
    text = reply_text(data).lower()
    assert "can't help" in text or "not sure" in text
    assert any(b["payload"] for m in data["messages"] for b in m.get("buttons", []))
    data = await say(client, "oos-1", "yes")
    # No admin token here, so no agent inbox: the store's contact details, no waiting.
    assert data["action"] == "action_handoff" and data["handoff"] is True
    assert "reply here" not in reply_text(data)


async def test_ambiguous_question_gets_a_clarifying_question_with_candidate_buttons(client):
    # A store question, but no store text matches well enough to answer
    # outright: the retrieval confidence falls in the clarify band.
    data = await say(client, "clarify-1", "colour options")
    assert data["action"] == "action_clarify"
    assert "did you mean" in reply_text(data).lower()
    buttons = [b for m in data["messages"] for b in m.get("buttons", [])]
    candidates = [b for b in buttons if b["payload"] != "/handoff"]
    # One button per top candidate (at most 3), each one of the retrieved sources,
    # plus a way out to a person.
    assert 1 <= len(candidates) <= 3
    assert {b["title"] for b in candidates} <= {s["title"] for s in data["sources"]}
    assert any(b["payload"] == "/handoff" for b in buttons)
    # Choosing a candidate gets that question answered, not another clarification.
    data = await say(client, "clarify-1", candidates[0]["payload"])
    assert data["action"] != "action_clarify" and data["handoff"] is False


async def test_off_topic_wording_of_a_store_question_is_answered_or_clarified_not_refused(
    client,
):
    # The intent model calls this out of scope, but the FAQ has the answer: the
    # customer gets it, or is offered the matching entry, never just refused.
    data = await say(client, "clarify-oos", "how much is delivery")
    assert data["action"] in ("action_clarify", "action_answer", "action_answer_curated")
    if data["action"] == "action_clarify":
        titles = [b["title"] for m in data["messages"] for b in m.get("buttons", [])]
        assert any("shipping cost" in t.lower() for t in titles)
    else:
        assert any(s["id"] == "faq-shipping-cost" for s in data["sources"]), data["sources"]


async def test_handoff_on_request(client):
    # No admin token, so no agent inbox: the turn hands off to the store's own contact
    # channel, no reply here is promised and the assistant keeps answering (with an
    # inbox: tests/test_inbox.py).
    data = await say(client, "human-1", "I want to talk to a real person")
    assert data["handoff"] is True and data["action"] == "action_handoff"
    assert "reply here" not in reply_text(data)
    data = await say(client, "human-1", "hello?")
    assert data["handoff"] is False and data["action"] != "handoff_waiting"


async def test_streaming_reply_over_server_sent_events(client):
    resp = await client.post(
        "/api/chat",
        json={"sender": "sse-1", "message": "do you ship internationally?"},
        headers={"Accept": "text/event-stream"},
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    body = await resp.text()
    events = [block for block in body.split("\n\n") if block.strip()]
    assert events[-1].startswith("event: done")
    done = json.loads(events[-1].split("data: ", 1)[1])
    assert done["turn_id"] and done["messages"]


async def test_turns_are_logged_and_feedback_stored(client, demo_bot):
    data = await say(client, "log-1", "what payment methods do you accept?")
    rows = demo_bot.conversations.turns("log-1")
    assert rows[-1]["turn_id"] == data["turn_id"]
    assert rows[-1]["intent"] == data["intent"] and rows[-1]["reply_text"]
    resp = await client.post(
        "/api/feedback",
        json={"sender": "log-1", "turn_id": data["turn_id"], "rating": 1, "token": data["token"]},
    )
    assert resp.status == 200
    assert demo_bot.conversations.feedback(data["turn_id"])[0]["rating"] == 1


async def test_rest_webhook_and_model_parse(client):
    resp = await client.post("/webhooks/rest/webhook", json={"sender": "rest-1", "message": "hi"})
    messages = await resp.json()
    assert resp.status == 200 and messages[0]["recipient_id"] == "rest-1" and messages[0]["text"]
    resp = await client.post("/model/parse", json={"text": "where is my order #W2611340"})
    parsed = await resp.json()
    assert {"text", "intent", "intent_ranking", "entities"} <= parsed.keys()
    assert {"entity": "order_id", "value": "#W2611340"}.items() <= parsed["entities"][0].items()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (json.dumps({"sender": "x"}).encode(), 400, "missing_field"),
        (json.dumps({"message": "hi"}).encode(), 400, "missing_field"),
        (json.dumps({"sender": "x", "message": 5}).encode(), 400, "invalid_field"),
        (json.dumps({"sender": "x", "message": "a" * 2001}).encode(), 413, "message_too_long"),
    ],
)
async def test_bad_requests_get_clear_errors(client, body, status, code):
    for route in ("/api/chat", "/webhooks/rest/webhook"):
        resp = await client.post(route, data=body, headers={"Content-Type": "application/json"})
        assert resp.status == status
        assert (await resp.json())["error"]["code"] == code


async def test_message_at_the_limit_is_accepted(client):
    resp = await client.post("/api/chat", json={"sender": "long-1", "message": "a" * 2000})
    assert resp.status == 200


async def test_metrics_in_prometheus_format(client):
    await say(client, "metrics-1", "hi")
    text = await (await client.get("/metrics")).text()
    assert "shopbot_turns_total" in text and "shopbot_http_requests_total" in text


def test_malformed_product_line_names_file_line_and_field_and_keeps_artifacts(tmp_path, demo_bot):
    from knowledge_base.build import ensure_built
    from knowledge_base.store_files import StoreError

    store = copy_demo_store(tmp_path / "store")
    # Reuse the session's good build so this test does not retrain.
    shutil.copytree(demo_bot.artifacts.build_dir, store / ".shopbot" / "build")
    good = ensure_built(store, progress=False)
    before = (good.build_dir / "manifest.json").read_text()
    lines = (store / "products.jsonl").read_text().splitlines()
    broken = json.loads(lines[6])
    broken["price"] = "abc"
    lines[6] = json.dumps(broken)
    (store / "products.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(StoreError) as err:
        ensure_built(store, progress=False)
    message = str(err.value)
    assert "products.jsonl" in message and "line 7" in message and "price" in message
    assert (good.build_dir / "manifest.json").read_text() == before
    assert (good.build_dir / "index" / "faiss.index").exists()


async def test_return_flow_collects_order_items_reason_then_confirms(client, demo_store, demo_bot):
    order, customer = _order_with_status(demo_store, "delivered")
    oid = order["order_id"]
    await say(client, "return-1", f"my email is {customer['email']}")
    data = await say(client, "return-1", "I want to return some items")
    assert "order" in reply_text(data).lower()
    data = await say(client, "return-1", oid)
    assert order["items"][0]["title"] in reply_text(data)
    await say(client, "return-1", "all of them")
    data = await say(client, "return-1", "they didn't fit")
    assert "yes" in json.dumps(data["messages"]).lower()
    assert demo_bot.order_book.get(oid).status == "delivered"
    data = await say(client, "return-1", "yes")
    assert demo_bot.order_book.get(oid).status == "return requested", reply_text(data)


async def test_a_different_question_leaves_the_return_form(client, demo_store):
    _, customer = _order_with_status(demo_store, "delivered")
    await say(client, "return-2", f"my email is {customer['email']}")
    await say(client, "return-2", "I want to return something")
    data = await say(client, "return-2", "what payment methods do you accept?")
    assert data["action"] != "validate_return_form"
    assert "order id" not in reply_text(data).lower()


@pytest.mark.parametrize(
    "question, offer",
    [
        ("Do I pay the postage for returns?", "Start a return"),
        ("How can I cancel an order I placed?", "Cancel an order"),
    ],
)
async def test_a_question_about_the_rules_is_answered_with_a_button_for_the_action(
    client, question, offer
):
    # The intent is an order action, but the customer asks how the rules work:
    # the policy answers it (no verification asked for), and one click starts
    # the action itself.
    data = await say(client, f"rules-{offer}", question)
    assert data["action"] in (
        "action_answer",
        "action_answer_busy",
        "action_answer_curated",
    ), data["action"]
    assert data["sources"] and all(s["type"] != "product" for s in data["sources"])
    buttons = [b for m in data["messages"] for b in m.get("buttons", [])]
    assert [b["title"] for b in buttons] == [offer]
    data = await say(client, f"rules-{offer}", buttons[0]["payload"])
    assert data["action"] in ("action_verify_customer", "action_cancel_order"), data["action"]
    assert "email" in reply_text(data).lower()  # verification first, as for any order action


async def test_a_request_about_ones_own_order_still_starts_the_action(client):
    data = await say(client, "rules-own", "Where is my order?")
    assert data["action"] == "action_order_status" and "email" in reply_text(data).lower()
    data = await say(client, "rules-own", "I want to cancel my order")
    assert data["action"] == "action_cancel_order" and "email" in reply_text(data).lower()
