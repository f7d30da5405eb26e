"""The /admin pages in a real headless Chromium (Playwright): every page with the token, none without."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from aiohttp import web

from bot.config import replace
from bot.web.app import create_app
from tests.conftest import require_system
from tests.conversation import chat_body, remember

pytestmark = pytest.mark.slow
TOKEN = "browser-admin-token"
PAGES = {
    "/admin": "Overview",
    "/admin/intents": "Intents",
    "/admin/gaps": "Unanswered questions and demand gaps",
    "/admin/segments": "Segments",
    "/admin/demand": "Demand by category, with forecasts",
    "/admin/conversations": "Conversations",
}


@pytest.fixture
async def server_url(demo_config: Any, demo_bot: Any):
    runner = web.AppRunner(create_app(replace(demo_config, admin_token=TOKEN), bot=demo_bot))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    require_system("Chromium", chromium is not None)
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def test_admin_pages_in_a_real_browser(server_url: str, browser: Any) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for sender, text in [
            ("browser-a", "do you sell kayaks?"),
            ("browser-b", "I'm looking for an inflatable kayak"),
            ("browser-c", "how much are the running shoes?"),
            ("browser-c", "this is the worst shop ever, I hate it"),
        ]:
            async with http.post(f"{server_url}/api/chat", json=chat_body(sender, text)) as resp:
                assert resp.status == 200
                remember(sender, await resp.json())

    context = await browser.new_context()
    page = await context.new_page()
    # No token, then a wrong one: refused, and nothing of the page is shown.
    for url, status in [
        (f"{server_url}/admin", 401),
        (f"{server_url}/admin/segments", 401),
        (f"{server_url}/admin?token=wrong", 403),
        (f"{server_url}/admin/demand?token=wrong", 403),
    ]:
        response = await page.goto(url)
        assert response is not None and response.status == status, url
        assert "Overview" not in await page.content()

    # The token once in the URL: redirected to the clean address, then a cookie carries it.
    response = await page.goto(f"{server_url}/admin?token={TOKEN}")
    assert response is not None and response.status == 200
    assert page.url == f"{server_url}/admin"
    for path, title in PAGES.items():
        # Reached by clicking the navigation, as a merchant would.
        await page.goto(f"{server_url}/admin")
        if path != "/admin":
            await page.click(f'nav a[href="{path}"]')
            await page.wait_for_url(f"{server_url}{path}")
        assert await page.text_content("h1") == title, path
    await page.goto(f"{server_url}/admin")
    assert await page.locator("svg").count() >= 1  # the server-rendered chart
    assert "Proactive handoff offers" in await page.content()
    await page.goto(f"{server_url}/admin/gaps")
    assert "kayak" in (await page.content()).lower()
    await page.goto(f"{server_url}/admin/conversations")
    await page.click('a[href="/admin/conversations/browser-c"]')
    assert "Profile of browser-c" in await page.content()
    await context.close()

    # A fresh browser without the cookie is refused again.
    other = await browser.new_context()
    fresh = await other.new_page()
    response = await fresh.goto(f"{server_url}/admin/conversations")
    assert response is not None and response.status == 401
    await other.close()
