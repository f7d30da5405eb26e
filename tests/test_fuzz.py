"""Fuzzing the HTTP API from its own OpenAPI description: no request gets a 5xx.

A few hundred hypothesis-generated requests (schema-following, almost
schema-following, arbitrary JSON, raw bytes; every route; with and without
the admin token) against the real app on a real port. The benchmark version
with 5,000+ requests against ``shopbot serve`` is scripts/fuzz_api.py.
"""

from __future__ import annotations

import asyncio
import copy
import sys
import threading
from pathlib import Path

import pytest
from aiohttp import web

from bot.answers.answerer import KnowledgeAnswerer
from bot.answers.generation import load_generator
from bot.config import replace
from bot.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from fuzz_api import ADMIN_TOKEN, fuzz  # noqa: E402


@pytest.fixture(scope="module")
def server_port(demo_config, demo_bot):
    """The app in a background event loop; extractive answers keep it fast."""
    bot = copy.copy(demo_bot)
    bot.answerer = KnowledgeAnswerer(load_generator(backend="none", model=None))
    config = replace(
        demo_config, admin_token=ADMIN_TOKEN, rate_limit_per_minute=0, insights_enabled=False
    )
    runner = web.AppRunner(create_app(config, bot=bot))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(runner.setup(), loop).result()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(site.start(), loop).result()
    port = runner.addresses[0][1]
    yield port
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


def test_generated_requests_on_every_route_never_get_a_5xx(server_port):
    report = fuzz("127.0.0.1", server_port, n=300)
    assert report["requests"] == 300
    assert report["server_errors"] == 0, report["examples"]
    # The generator reached the handlers, not only the validation in front of them.
    assert report["statuses"].get("200", 0) > 20, report["statuses"]
    assert any(code.startswith("4") for code in report["statuses"])
