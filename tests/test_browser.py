"""The customer's widget and the agents' inbox in a real browser.

Playwright drives Debian's Chromium (headless; never a downloaded browser).
The shopbot server runs for real on 127.0.0.1 (port 0) with the demo store's
bot and SmolLM2; a second tiny server plays the merchant's site: a plain HTML
page on another origin that embeds the widget with one script tag. The
customer and the agent are two separate browser contexts (two people, two
sets of cookies and storage).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from bot.config import replace
from bot.web.app import create_app
from tests.conftest import model_answers, require_system

pytestmark = pytest.mark.slow

TOKEN = "browser-test-token"
INJECTION = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    "<b onmouseover=alert(3)>bold?</b>"
)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
# A page that never loads is a failure, not a hang; assertions themselves never time anything.
WAIT_MS = 90_000

# Reads the widget's state from the page: what a customer sees, not what the server says.
WIDGET_JS = """() => {
  const root = document.getElementById('shopbot-widget').shadowRoot;
  const texts = sel => [...root.querySelectorAll(sel)].map(e => e.textContent);
  return {
    user: texts('.msg.user'), bot: texts('.msg.bot'), agent: texts('.msg.agent'),
    notices: texts('.notice'), banner: root.querySelector('.banner').hidden ? '' : texts('.banner')[0],
    images: root.querySelectorAll('img, script, iframe').length,
    bold: root.querySelectorAll('.msg b').length,
  };
}"""

# Records, as the log changes, whether the typing indicator showed and what the
# reply bubble held before the finished turn (its rating buttons) was added.
OBSERVE_JS = """() => {
  const root = document.getElementById('shopbot-widget').shadowRoot;
  const log = root.querySelector('.log');
  window.__snaps = [];
  new MutationObserver(() => {
    const bots = [...log.querySelectorAll('.msg.bot')];
    window.__snaps.push({
      typing: log.querySelector('.typing').classList.contains('on'),
      metas: log.querySelectorAll('.meta').length,
      live: bots.length > 1 ? bots[bots.length - 1].textContent : '',
    });
  }).observe(log, {childList: true, subtree: true, characterData: true, attributes: true});
}"""


@dataclass
class Site:
    """The shopbot server, the merchant's page that embeds its widget, and the browser."""

    bot_url: str
    shop_url: str
    browser: Any
    event_streams: list[web.Request] = field(default_factory=list)

    def shop_page(self, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return self.shop_url + "/" + ("?" + query if query else "")

    def drop_customer_streams(self) -> int:
        """Cut the widgets' live connections at the TCP level, as a flaky network would."""
        dropped = 0
        for request in self.event_streams:
            if request.transport is not None and not request.transport.is_closing():
                request.transport.close()
                dropped += 1
        return dropped


def merchant_page(bot_url: str, request: web.Request) -> web.Response:
    """A plain shop page on its own origin; ``?lang=zh`` embeds the widget configured in Chinese."""
    if request.query.get("lang") == "zh":
        lang, attrs = (
            "zh",
            {"data-title": "在线客服", "data-greeting": "您好！欢迎光临，有什么可以帮您？"},
        )
    else:
        lang, attrs = "en", {"data-title": "Harbor & Pine help", "data-color": "#0b6e4f"}
    tag = " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items())
    html = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Harbor &amp; Pine Goods</title></head>
<body><h1>Harbor &amp; Pine Goods</h1><p>Goods for home and trail.</p>
<script src="{bot_url}/widget.js" {tag}></script>
</body></html>"""
    return web.Response(text=html, content_type="text/html")


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def site(demo_config, demo_bot) -> AsyncIterator[Site]:
    require_system("chromium", shutil.which("chromium") is not None)
    from playwright.async_api import async_playwright

    shop = web.Application()
    bot_urls: list[str] = []

    async def shop_page(request: web.Request) -> web.Response:
        return merchant_page(bot_urls[0], request)

    shop.router.add_get("/", shop_page)
    shop_runner, shop_url = await start(shop)
    # The shop's origin is listed by name, as a merchant embedding the widget does: the
    # routes that carry a conversation never answer a wildcard.
    config = replace(demo_config, admin_token=TOKEN, cors_origins=[shop_url])
    app = create_app(config, bot=demo_bot)
    streams: list[web.Request] = []

    async def track_streams(request: web.Request, response: web.StreamResponse) -> None:
        if request.path == "/api/events":
            streams.append(request)

    app.on_response_prepare.append(track_streams)
    bot_runner, bot_url = await start(app)
    bot_urls.append(bot_url)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            try:
                yield Site(bot_url, shop_url, browser, streams)
            finally:
                await browser.close()
    finally:
        await shop_runner.cleanup()
        await bot_runner.cleanup()


async def customer_page(site: Site, watch: list[str] | None = None, **params: str) -> Any:
    """A fresh customer (own context: own storage) on the merchant's page, chat open."""
    context = await site.browser.new_context(viewport={"width": 1100, "height": 760})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    if watch is not None:
        page.on("request", lambda r: watch.append(r.url))
    await page.goto(site.shop_page(**params))
    await page.get_by_role("button", name="Open chat").click()
    return page


async def agent_page(site: Site, name: str) -> Any:
    """An agent signed in to the inbox with the admin token, name typed in."""
    context = await site.browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(f"{site.bot_url}/admin/inbox?token={TOKEN}")
    assert urlsplit(page.url).query == ""  # the token went into a cookie, not the history
    await page.fill("#agent", name)
    await page.press("#agent", "Tab")
    return page


async def sender_of(page: Any, site: Site) -> str:
    return await page.evaluate(f"() => JSON.parse(localStorage['shopbot:{site.bot_url}']).sender")


async def send(page: Any, text: str) -> None:
    box = page.get_by_role("textbox", name="Type your message")
    await box.fill(text)
    await box.press("Enter")


async def widget(page: Any) -> dict[str, Any]:
    return await page.evaluate(WIDGET_JS)


async def test_conversation_streams_cites_sources_takes_feedback_and_survives_reload(
    site: Site, demo_bot
):
    requests: list[str] = []
    page = await customer_page(site, watch=requests)
    await page.evaluate(OBSERVE_JS)

    # A knowledge question: the answer streams in while the LM writes it (composed by
    # the model, whatever the store's quote point: a curated answer comes as one piece).
    with model_answers(demo_bot):
        await send(page, "how long does shipping take?")
        meta = page.locator(".meta").first
        await meta.wait_for()
    snaps = await page.evaluate("() => window.__snaps")
    assert any(s["typing"] for s in snaps), "the typing indicator never showed"
    assert any(s["live"] and s["metas"] == 0 for s in snaps), (
        "the reply was not shown as it streamed"
    )
    assert (await widget(page))["user"] == ["how long does shipping take?"]

    # Its cited source opens in place, as the passage the answer came from.
    source = meta.locator("button.src").first
    title = await source.text_content()
    await source.click()
    passage = page.get_by_role("region", name=title)
    await passage.wait_for()
    assert len(await passage.text_content()) > len(title) + 20
    assert await source.get_attribute("aria-expanded") == "true"

    # Thumbs up: posted to /api/feedback and stored against this turn.
    sender = await sender_of(page, site)
    turn_id = demo_bot.conversations.turns(sender)[-1]["turn_id"]
    helpful = meta.get_by_role("button", name="Helpful", exact=True)
    await helpful.click()
    await meta.get_by_text("Thanks for the feedback").wait_for()
    assert await helpful.get_attribute("aria-pressed") == "true"
    stored = demo_bot.conversations.feedback(turn_id)
    assert [(f["sender"], f["rating"]) for f in stored] == [(sender, 1)]

    # A product question: a card with title, price, variant options and availability.
    await send(page, "how much is the t-shirt in blue?")
    card = page.get_by_role("group", name="T-Shirt")
    await card.wait_for()
    card_text = await card.text_content()
    assert "$" in card_text and "color: blue" in card_text
    assert "in stock" in card_text and "sold out" in card_text

    # Reload: the whole conversation is back, once, with the rating remembered.
    before = await widget(page)
    await page.reload()
    await page.locator(".panel[data-connection=live]").wait_for()
    after = await widget(page)
    assert (
        after["user"]
        == before["user"]
        == [
            "how long does shipping take?",
            "how much is the t-shirt in blue?",
        ]
    )
    assert after["bot"][1:] == before["bot"][1:]  # [0] is the greeting
    assert await page.get_by_role("group", name="T-Shirt").count() == 1
    rated = page.locator(".meta").first.get_by_role("button", name="Helpful", exact=True)
    assert await rated.get_attribute("aria-pressed") == "true"

    # Nothing was fetched from anywhere but the merchant's page and the shopbot server.
    origins = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in requests}
    assert origins <= {site.shop_url, site.bot_url}, origins
    assert any("/api/events" in u for u in requests) and any("/api/chat" in u for u in requests)


async def test_handoff_agent_answers_live_through_a_dropped_connection_and_hands_back(
    site: Site, demo_bot
):
    customer = await customer_page(site)
    await send(customer, "I want to buy a gift")
    # The bot cannot help and offers a person: the customer clicks the button.
    await customer.get_by_role("button", name="Talk to a person").click()
    await customer.get_by_text("Waiting for a member of our team").wait_for()
    sender = await sender_of(customer, site)
    assert demo_bot.conversations.get_open_handoff(sender) is not None

    agent = await agent_page(site, "Alex")
    header_bg = await agent.evaluate(
        "() => getComputedStyle(document.querySelector('header')).backgroundColor"
    )
    assert header_bg == "rgb(29, 35, 48)", "the inbox stylesheet did not load"
    await agent.locator(f'#queue button[data-sender="{sender}"]').click()
    await agent.locator("#handoff").get_by_text("Why: ").wait_for()
    assert "gift" in await agent.locator("#handoff").text_content()
    assert "I want to buy a gift" in await agent.locator("#transcript").text_content()

    await agent.get_by_role("button", name="Claim", exact=True).click()
    await customer.get_by_text("Alex from our team has joined the chat.").wait_for()
    await customer.get_by_text("You're chatting with our team").wait_for()

    # A second agent at the same time sees who has it and cannot take it over.
    other = await agent_page(site, "Sam")
    await other.locator(
        f'#queue button[data-sender="{sender}"]', has_text="claimed by Alex"
    ).click()
    await other.locator("#handoff").get_by_text("Claimed by Alex", exact=True).wait_for()
    assert await other.get_by_role("button", name="Claim", exact=True).is_disabled()
    assert await other.get_by_role("textbox", name="Reply to the customer").is_disabled()
    await other.context.close()

    await agent.get_by_role("textbox", name="Reply to the customer").fill("Hi! Who is it for?")
    await agent.get_by_role("textbox", name="Reply to the customer").press("Enter")
    answer = customer.locator(".msg.agent", has_text="Hi! Who is it for?")
    await answer.wait_for()
    assert (await answer.locator(".who").text_content()) == "Alex"

    # The customer answers; it reaches the agent's open transcript live.
    await send(customer, "My sister, she likes hiking")
    await agent.locator("#transcript").get_by_text("My sister, she likes hiking").wait_for()

    # The customer's live connection drops; the agent keeps writing meanwhile.
    await customer.locator(".panel[data-connection=live]").wait_for()
    streams_before = len(site.event_streams)
    assert site.drop_customer_streams() >= 1
    for text in ("Our trail backpacks are popular.", "Shall I send you a link?"):
        await agent.get_by_role("textbox", name="Reply to the customer").fill(text)
        await agent.get_by_role("textbox", name="Reply to the customer").press("Enter")
        await agent.locator("#transcript").get_by_text(text).wait_for()
    await customer.get_by_text("Shall I send you a link?").wait_for()
    await customer.locator(".panel[data-connection=live]").wait_for()
    assert len(site.event_streams) > streams_before  # it did reconnect
    shown = (await widget(customer))["agent"]
    assert [t.removeprefix("Alex") for t in shown] == [
        "Hi! Who is it for?",
        "Our trail backpacks are popular.",
        "Shall I send you a link?",
    ]
    # Logged as human answers, for fine-tuning.
    rows = demo_bot.conversations.turns(sender)
    assert [r["reply_text"] for r in rows if r["author"] == "agent"] == [
        "Hi! Who is it for?",
        "Our trail backpacks are popular.",
        "Shall I send you a link?",
    ]

    # Back to the bot: the customer is told, and the bot answers again.
    await agent.get_by_role("button", name="Hand back to bot").click()
    await agent.locator("#handoff").get_by_text("With the bot", exact=True).wait_for()
    await customer.locator(".banner").wait_for(state="hidden")
    assert demo_bot.conversations.get_open_handoff(sender) is None
    await send(customer, "thank you!")
    await customer.locator(".msg.user:has-text('thank you!') ~ .msg.bot").wait_for()
    assert demo_bot.conversations.turns(sender)[-1]["author"] == "bot"
    assert await agent.locator(f'#queue button[data-sender="{sender}"]').count() == 0


async def test_html_and_script_in_customer_and_agent_text_is_shown_as_text(site: Site, demo_bot):
    dialogs: list[str] = []
    customer = await customer_page(site)
    customer.on("dialog", lambda d: dialogs.append(d.message))
    await send(customer, "/handoff")
    await customer.get_by_text("Waiting for a member of our team").wait_for()
    await send(customer, INJECTION)
    await customer.locator(".msg.user", has_text="bold?").wait_for()
    sender = await sender_of(customer, site)

    agent = await agent_page(site, '<img src=y onerror="window.__pwned=3">')
    agent.on("dialog", lambda d: dialogs.append(d.message))
    await agent.locator(f'#queue button[data-sender="{sender}"]').click()
    await agent.get_by_role("button", name="Claim", exact=True).click()
    box = agent.get_by_role("textbox", name="Reply to the customer")
    await box.fill(INJECTION)
    await box.press("Enter")
    await customer.locator(".msg.agent").wait_for()

    # Oversized agent text: a clear error, and the draft stays in the box.
    await box.fill("x" * 2500)
    await box.press("Enter")
    await agent.get_by_text("Not sent: the reply has 2500 characters; the limit is 2000").wait_for()
    assert len(await box.input_value()) == 2500

    seen = await widget(customer)
    assert seen["user"][-1] == INJECTION
    assert seen["agent"] == ['<img src=y onerror="window.__pwned=3">' + INJECTION]
    assert seen["images"] == 0 and seen["bold"] == 0
    transcript = agent.locator("#transcript")
    assert (await transcript.text_content()).count(INJECTION) == 2
    for page in (customer, agent):
        await page.mouse.move(10, 10)
        assert await page.evaluate("() => window.__pwned") is None
        assert await page.evaluate("() => document.querySelectorAll('img, b').length") == 0
    assert dialogs == []
    assert demo_bot.conversations.turns(sender)[-1]["reply_text"] == INJECTION


async def test_keyboard_only_use_and_an_oversized_message(site: Site):
    context = await site.browser.new_context(viewport={"width": 1100, "height": 760})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(site.shop_page())
    launcher = page.locator(".launch")
    assert await launcher.get_attribute("aria-label") == "Open chat"
    assert await launcher.get_attribute("aria-expanded") == "false"

    await page.keyboard.press("Tab")  # the launcher is the page's first stop
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Harbor & Pine help")
    await dialog.wait_for()
    assert await page.locator(".launch").get_attribute("aria-expanded") == "true"
    assert await page.get_by_role("log").count() == 1
    focused = "() => document.getElementById('shopbot-widget').shadowRoot.activeElement.tagName"
    assert await page.evaluate(focused) == "TEXTAREA"

    # Over the server's limit: its error is shown, the text is kept, nothing is lost.
    await page.keyboard.insert_text("é" * 2500)
    await page.keyboard.press("Enter")
    await (
        page.get_by_role("alert")
        .get_by_text("the message has 2500 characters; the limit is 2000")
        .wait_for()
    )
    assert await page.get_by_role("textbox").input_value() == "é" * 2500
    assert (await widget(page))["user"] == []

    # A quick reply, from the keyboard, sends its question.
    await page.get_by_role("button", name="Where is my order?").focus()
    await page.keyboard.press("Enter")
    await page.locator(".msg.user:has-text('Where is my order?') ~ .msg.bot").wait_for()
    assert await page.get_by_role("button", name="Where is my order?").count() == 0

    # Escape closes the chat and gives focus back to the launcher.
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="hidden")
    assert await page.evaluate(focused) == "BUTTON"
    assert await launcher.get_attribute("aria-expanded") == "false"


async def test_phone_sized_widget_in_chinese(site: Site):
    context = await site.browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(site.shop_page(lang="zh"))
    await page.get_by_role("button", name="打开聊天").tap()
    panel = page.get_by_role("dialog", name="在线客服")
    await panel.wait_for()
    box = await panel.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 375, "height": 667}  # the whole screen
    assert await page.get_by_role("button", name="打开聊天").count() == 0  # launcher hidden
    seen = await widget(page)
    assert seen["bot"] == ["您好！欢迎光临，有什么可以帮您？"]
    assert await page.get_by_role("button", name="查询订单").is_visible()
    textbox = page.get_by_role("textbox", name="输入您的消息")
    assert await textbox.get_attribute("placeholder") == "输入您的消息…"
    send_box = await page.get_by_role("button", name="发送").bounding_box()
    assert send_box["x"] + send_box["width"] <= 375 and send_box["y"] + send_box["height"] <= 667
    await page.get_by_role("button", name="关闭聊天").tap()
    await panel.wait_for(state="hidden")
