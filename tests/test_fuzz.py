"""Fuzzing the HTTP API from its own OpenAPI description: no request gets a 5xx.

A few hundred hypothesis-generated requests (schema-following, almost
schema-following, arbitrary JSON, raw bytes; every route; with and without
the admin token) against the real app on a real port. The benchmark version
with 5,000+ requests against ``shopbot serve`` is scripts/fuzz_api.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import serve_in_background

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from fuzz_api import ADMIN_TOKEN, fuzz  # noqa: E402


@pytest.fixture(scope="module")
def server_port(demo_config, demo_bot):
    """The app in a background event loop; extractive answers keep it fast."""
    with serve_in_background(demo_config, demo_bot, ADMIN_TOKEN) as port:
        yield port


def test_generated_requests_on_every_route_never_get_a_5xx(server_port):
    report = fuzz("127.0.0.1", server_port, n=300)
    assert report["requests"] == 300
    assert report["server_errors"] == 0, report["examples"]
    # The generator reached the handlers, not only the validation in front of them.
    assert report["statuses"].get("200", 0) > 20, report["statuses"]
    assert any(code.startswith("4") for code in report["statuses"])
