"""Schemathesis against the live app: every response matches the served OpenAPI document.

The real app runs on 127.0.0.1 port 0 in a background event loop with
extractive answers (no chat model, as ``--llm-backend none``). For each
operation of its own ``/openapi.json``, schemathesis generates schema-following
requests (and a few schema-breaking ones) and checks that none gets a 5xx, that
the status code and content type are documented, and that the body matches the
documented schema. tests/test_fuzz.py only looks for 5xx; this checks the
document is true.
"""

from __future__ import annotations

from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import serve_in_background

ADMIN_TOKEN = "schemathesis-admin"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation and generation mode: bounded, the suite stays quick.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
# Live event streams stay open until the client leaves: their 200 cannot be read to the
# end (their refusals are covered by tests/test_live.py and tests/test_fuzz.py).
STREAMS = {"GET /api/events", "GET /api/inbox/events"}


@pytest.fixture(scope="module")
def base_url(demo_config, demo_bot):
    """The app in a background event loop, on a real port."""
    with serve_in_background(demo_config, demo_bot, ADMIN_TOKEN) as port:
        yield f"http://127.0.0.1:{port}"


def _headers(label: str) -> dict[str, str]:
    # The agents' inbox API is checked with the admin token, so its handlers run; the
    # merchant's pages are checked without it (their refusal), as they change the store.
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"} if " /api/inbox/" in label else {}


def _run(
    operation, base_url: str, mode: GenerationMode, session: requests.Session, statuses: Counter
) -> None:
    """``EXAMPLES[mode]`` generated requests to ``operation``; raises the checks' failures."""
    headers = _headers(operation.label)

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        response = case.call_and_validate(
            base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=30
        )
        statuses[(operation.label, response.status_code)] += 1

    try:
        check()
    except Unsatisfiable:
        # No way to break the schema of this operation (no parameters, or only free text).
        if mode is not GenerationMode.NEGATIVE:
            raise


def test_every_response_matches_the_served_document(base_url):
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: dict[str, str] = {}
    checked = []
    statuses: Counter = Counter()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in STREAMS:
                continue
            checked.append(operation.label)
            for mode in EXAMPLES:
                try:
                    _run(operation, base_url, mode, session, statuses)
                except (Exception, FailureGroup) as exc:  # collect, report them all
                    failures[f"{operation.label} ({mode.value})"] = str(exc)[:3000]
    assert {"POST /api/chat", "POST /webhooks/rest/webhook", "POST /model/parse"} <= set(checked)
    assert len(checked) >= 20, checked
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    # The generated requests reached the handlers, not only the validation in front.
    for label in ("POST /api/chat", "POST /webhooks/rest/webhook", "POST /model/parse"):
        assert statuses[(label, 200)] >= 5, (label, statuses)
    assert any(status == 400 for _, status in statuses), statuses


def test_replies_the_generator_cannot_reach_match_the_document(base_url):
    """A conversation continued with its token, feedback on a real turn and a cited
    source: their 200s are checked against the document too (random ids never hit them)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")

    def send(method: str, path: str, **parts) -> requests.Response:
        case = schema[path][method].Case(**parts)
        return case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)

    sender = "schemathesis-known"
    first = send(
        "POST", "/api/chat", body={"sender": sender, "message": "what is your return policy?"}
    )
    assert first.status_code == 200
    reply = first.json()
    assert reply["sources"], reply
    again = send(
        "POST",
        "/api/chat",
        body={"sender": sender, "message": "and for sale items?", "token": reply["token"]},
    )
    assert again.status_code == 200
    rated = send(
        "POST",
        "/api/feedback",
        body={"sender": sender, "turn_id": reply["turn_id"], "rating": 1, "token": reply["token"]},
    )
    assert rated.status_code == 200
    source = send(
        "GET", "/api/sources/{source_id}", path_parameters={"source_id": reply["sources"][0]["id"]}
    )
    assert source.status_code == 200 and source.json()["text"]
