"""The admin pages are jinja2 templates: every value escaped, links quoted, no silent blanks."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from jinja2 import UndefinedError

from bot.config import replace
from bot.web.app import create_app
from bot.web.descriptions import setup_descriptions
from bot.web.errors import errors_middleware
from bot.web.faq_proposals import setup_faq_proposals
from bot.web.keys import CONFIG_KEY, METRICS_KEY
from bot.web.metrics import Metrics
from bot.web.templates import render
from tests.conversation import chat_body, remember

TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOSTILE = '<script>alert(1)</script> do you sell " onmouseover="x kayak paddles?'


@pytest.fixture
async def client(demo_config, demo_bot):
    server = TestServer(create_app(replace(demo_config, admin_token=TOKEN), bot=demo_bot), port=0)
    async with TestClient(server) as c:
        yield c


@pytest.mark.slow
async def test_customer_text_is_escaped_and_sender_links_are_quoted(client: TestClient) -> None:
    sender = f"tmpl/{uuid.uuid4().hex[:8]}?x=1&y"  # a path and query in a name
    resp = await client.post("/api/chat", json=chat_body(sender, HOSTILE))
    assert resp.status == 200
    remember(sender, await resp.json())

    for page in ("/admin/gaps", f"/admin/conversations/{quote(sender, safe='')}"):
        resp = await client.get(page, headers=AUTH)
        assert resp.status == 200, page
        text = await resp.text()
        assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text, page
        assert '" onmouseover="x' not in text, page  # the quote cannot close an attribute
    assert "&#34; onmouseover=&#34;x" in text  # the conversation shows the message itself

    listing = await (await client.get("/admin/conversations", headers=AUTH)).text()
    assert f'<a href="/admin/conversations/{quote(sender, safe="")}">' in listing
    assert f"/admin/conversations/{sender}" not in listing
    assert "tmpl/" in listing and "&amp;y" in listing  # the name as text, escaped


@pytest.mark.parametrize(
    ("setup", "page", "file_name"),
    [
        (setup_faq_proposals, "/admin/faq-proposals", "faq.jsonl"),
        (setup_descriptions, "/admin/descriptions", "descriptions.jsonl"),
    ],
)
async def test_a_broken_proposals_file_is_a_500_page_naming_it(  # type: ignore[no-untyped-def]
    demo_config, tmp_path: Path, setup, page: str, file_name: str
) -> None:
    broken = tmp_path / ".shopbot" / "proposals" / file_name
    broken.parent.mkdir(parents=True)
    broken.write_text('{"id": "<b>x</b>"}\nnot json\n', encoding="utf-8")
    app = web.Application(middlewares=[errors_middleware])
    app[CONFIG_KEY] = replace(demo_config, admin_token=TOKEN, store_dir=tmp_path)
    app[METRICS_KEY] = Metrics()
    setup(app)
    async with TestClient(TestServer(app, port=0)) as c:
        resp = await c.get(page, headers=AUTH)
        text = await resp.text()
    assert resp.status == 500
    assert resp.headers["Cache-Control"] == "no-store"
    assert "<h1>" in text and "line 2 is not valid JSON" in text and file_name in text


def test_a_variable_the_caller_did_not_pass_is_an_error_not_a_blank() -> None:
    context = {"title": "T", "nav": [], "css": "", "extra_css": ""}
    with pytest.raises(UndefinedError, match="problem"):
        render("segments.html", **context)
    page = render("segments.html", **context, problem="<too few customers>")
    assert "&lt;too few customers&gt;" in page and "<h1>T</h1>" in page


def test_nav_and_title_are_escaped_in_the_base_page() -> None:
    page = render("base.html", title="<i>x</i>", nav=[("/a?b=1&c", "A & B")], css="", extra_css="")
    assert "<title>&lt;i&gt;x&lt;/i&gt; · shopbot admin</title>" in page
    assert '<a href="/a?b=1&amp;c">A &amp; B</a>' in page
    assert "<script" not in page
