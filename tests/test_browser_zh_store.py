"""The Chinese demo store (knowledge_base/demo_store_zh) in a real browser.

``shopbot serve --store knowledge_base/demo_store_zh`` serves its demo page with the
widget in Chinese; a customer asks about free shipping, a product's price and for a
person, as a Chinese customer types, and sees the store's own answers in Chinese.
Extractive answers (no chat model): what is checked is the store's data reaching the
customer, not a model's wording.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import load_config, replace
from bot.web.app import create_app
from tests.conftest import require_system

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
WAIT_MS = 90_000  # a page that never loads is a failure, not a hang
TOKEN = "zh-browser-token"
BOT_TEXTS = """() => [...document.getElementById('shopbot-widget').shadowRoot
  .querySelectorAll('.msg.bot')].map(e => e.textContent)"""


@pytest.fixture(scope="module")
def zh_bot(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from bot.assemble import load_bot_sync

    store = tmp_path_factory.mktemp("zh") / "demo_store_zh"
    shutil.copytree(
        ROOT / "knowledge_base" / "demo_store_zh", store, ignore=shutil.ignore_patterns(".shopbot")
    )
    config = load_config(store, llm_backend="none", rate_limit_per_minute=0)
    config = replace(config, admin_token=TOKEN)
    bot = load_bot_sync(config, progress=False)  # builds the store first
    yield config, bot
    bot.conversations.close()


@pytest.fixture
async def page(zh_bot) -> AsyncIterator[tuple[Any, str]]:
    require_system("chromium", shutil.which("chromium") is not None)
    from playwright.async_api import async_playwright

    config, bot = zh_bot
    runner = web.AppRunner(create_app(config, bot=bot))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            try:
                context = await browser.new_context(viewport={"width": 1100, "height": 760})
                context.set_default_timeout(WAIT_MS)
                yield await context.new_page(), url
            finally:
                await browser.close()
    finally:
        await runner.cleanup()


async def ask(page: Any, text: str) -> str:
    """Type ``text`` into the widget, send it, and return the bot's reply as shown."""
    before = len(await page.evaluate(BOT_TEXTS))
    box = page.get_by_role("textbox", name="输入您的消息")
    await box.fill(text)
    await box.press("Enter")
    await page.wait_for_function(
        f"() => ({BOT_TEXTS})().length > {before} && "
        "!document.getElementById('shopbot-widget').shadowRoot"
        ".querySelector('.typing').classList.contains('on')"
    )
    return (await page.evaluate(BOT_TEXTS))[-1]


async def test_a_chinese_customer_talks_to_the_chinese_demo_store(page) -> None:  # type: ignore[no-untyped-def]
    page, url = page
    await page.goto(url + "/")
    assert await page.title() == "林野良品 · shopbot"
    assert await page.evaluate("document.documentElement.lang") == "zh"
    await page.get_by_role("button", name="打开聊天").click()
    await page.get_by_role("dialog", name="在线客服").wait_for()

    shipping = await ask(page, "买满多少免邮啊")
    assert "99元" in shipping and "包邮" in shipping, shipping
    price = await ask(page, "不锈钢保温杯多少钱")
    assert "¥69" in price and "$" not in price, price
    person = await ask(page, "转人工")
    assert "人工客服" in person or "转接" in person, person
    # The handoff is real: the conversation waits in the agents' queue.
    queue = await page.request.get(
        url + "/api/inbox/handoffs", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert queue.ok and (await queue.json())["handoffs"], await queue.text()
