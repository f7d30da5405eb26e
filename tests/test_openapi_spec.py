"""The served ``/openapi.json`` is a valid OpenAPI 3.1 document, lists every route the
app serves, and its request bodies are the server's own validation models
(bot/web/requests.py) with the running server's limits.

The real app on port 0 around the session's demo bot.
"""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from bot.config import replace
from bot.web.keys import CONFIG_KEY
from bot.web.requests import ChatRequest, request_schema
from tests.conftest import started_client


@pytest.fixture
async def client(demo_config, demo_bot):
    c = await started_client(
        replace(demo_config, admin_token="s3cret", max_message_chars=700), demo_bot
    )
    yield c
    await c.close()


async def _spec(client) -> dict:
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    return await resp.json()


async def test_the_served_document_is_valid_openapi(client):
    spec = await _spec(client)
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises OpenAPIValidationError with the offending path


async def test_every_served_route_is_in_the_document(client):
    spec = await _spec(client)
    served = {
        (r.method.lower(), re.sub(r"\{(\w+):[^}]*\}", r"{\1}", r.resource.canonical))
        for r in client.server.app.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    described = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert served - described == set()
    assert described - served == set()


async def test_request_bodies_are_the_validation_models_with_the_configured_limits(client):
    spec = await _spec(client)
    body = spec["paths"]["/api/chat"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    expected, _ = request_schema(ChatRequest, client.server.app[CONFIG_KEY])
    assert schema["required"] == ["sender", "message"]
    # The limit is this server's max_message_chars, not a constant.
    assert schema["properties"]["message"]["maxLength"] == 700
    assert schema["properties"]["sender"]["maxLength"] == 128
    assert "x-config-limit" not in str(spec)
    assert set(schema["properties"]) == set(expected["properties"])
    parse = spec["paths"]["/model/parse"]["post"]["requestBody"]
    assert parse["content"]["application/json"]["schema"]["required"] == ["text"]
    feedback = spec["paths"]["/api/feedback"]["post"]["requestBody"]
    rating = feedback["content"]["application/json"]["schema"]["properties"]["rating"]
    assert rating["type"] == "integer" and rating["enum"] == [1, -1]
    # Every $ref points at a schema the document defines.
    for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(spec).replace("'", '"')):
        assert ref in spec["components"]["schemas"], ref


async def test_the_configured_limit_is_the_one_enforced(client):
    resp = await client.post("/api/chat", json={"sender": "spec-limit", "message": "x" * 701})
    assert resp.status == 413
    error = (await resp.json())["error"]
    assert error["code"] == "message_too_long" and "700" in error["message"]
    resp = await client.post("/model/parse", json={"text": "x" * 701})
    assert resp.status == 413


@pytest.mark.parametrize(
    ("body", "status", "code", "named"),
    [
        ({"message": "hi"}, 400, "missing_field", "sender"),
        ({"sender": None, "message": "hi"}, 400, "missing_field", "sender"),
        ({"sender": "s", "message": 5}, 400, "invalid_field", "message"),
        ({"sender": "s", "message": "hi", "metadata": [1]}, 400, "invalid_field", "metadata"),
        ({"sender": "s", "message": "hi", "token": 5}, 400, "invalid_field", "token"),
        ({"sender": " ", "message": "hi"}, 400, "invalid_field", "sender"),
    ],
)
async def test_validation_errors_name_the_field(client, body, status, code, named):
    resp = await client.post("/api/chat", json=body)
    assert resp.status == status
    error = (await resp.json())["error"]
    assert error["code"] == code and f"'{named}'" in error["message"]


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        (True, "must be an integer"),
        (1.0, "must be an integer"),
        ("1", "must be an integer"),
        (5, "must be 1 or -1"),
    ],
)
async def test_feedback_rating_is_strictly_one_or_minus_one(client, rating, message):
    resp = await client.post(
        "/api/feedback", json={"sender": "s", "turn_id": "t", "rating": rating}
    )
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_field" and message in error["message"]
