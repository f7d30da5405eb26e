"""Screenshots of the chat widget (desktop and phone) and the agents' inbox for the README.

Runs the real server on the bundled demo store (its conversation log in a
temporary file, so the store is left as it was), then drives Debian's
Chromium through Playwright, exactly as tests/test_browser.py does: a
customer asks about a product and a policy, opens a cited source and rates
the answer; another customer, on a phone, is handed off, and an agent answers
from the inbox.

    HF_HUB_OFFLINE=1 nice -n 5 python scripts/screenshots.py [--out docs/screenshots]
        [--llm-model qwen2.5-0.5b | --llm-backend none]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
WAIT_MS = 300_000  # a slow CPU may take a while to write an answer


async def run(out: Path, llm_backend: str, llm_model: str) -> list[Path]:
    """Start the server, play the scenes, write the PNGs; returns their paths."""
    from playwright.async_api import async_playwright

    from bot.assemble import load_bot
    from bot.config import load_config
    from bot.web.app import create_app

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshots: Chromium is not installed (scripts/system-deps installs it)")
    token = secrets.token_urlsafe(16)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(
            None,
            llm_backend=llm_backend,
            llm_model=llm_model,
            admin_token=token,
            db_path=Path(tmp) / "shopbot.db",
            rate_limit_per_minute=0,
            insights_enabled=False,
        )
        bot = await load_bot(config)
        runner = web.AppRunner(create_app(config, bot=bot))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        written: list[Path] = []
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                written += await desktop_scene(browser, base, out)
                written += await handoff_scene(browser, base, token, out)
                await browser.close()
        finally:
            await runner.cleanup()
            bot.conversations.close()
    return written


async def ask(page, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type a message into the widget and wait for the bot's finished turn (its rating buttons)."""
    before = await page.locator(".meta").count()
    box = page.get_by_role("textbox", name="Type your message")
    await box.fill(text)
    await box.press("Enter")
    await page.locator(".meta").nth(before).wait_for()


async def desktop_scene(browser, base: str, out: Path) -> list[Path]:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport={"width": 1100, "height": 780})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(base + "/")
    await page.get_by_role("button", name="Open chat").click()
    await ask(page, "how much is the t-shirt in blue?")
    await ask(page, "do you ship internationally?")
    meta = page.locator(".meta").last
    await meta.get_by_role("button", name="Helpful", exact=True).click()
    sources = meta.locator("button.src")
    if await sources.count():
        await sources.first.click()
        await page.locator(".passage").wait_for()
    await page.locator(".log").evaluate("log => { log.scrollTop = log.scrollHeight; }")
    path = out / "widget-desktop.png"
    await page.screenshot(path=str(path))
    await context.close()
    return [path]


async def handoff_scene(browser, base: str, token: str, out: Path) -> list[Path]:  # type: ignore[no-untyped-def]
    phone = await browser.new_context(
        viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True
    )
    phone.set_default_timeout(WAIT_MS)
    customer = await phone.new_page()
    await customer.goto(base + "/")
    await customer.get_by_role("button", name="Open chat").tap()
    await ask(customer, "my email is sofia.rossi2645@example.com")
    await ask(customer, "can I talk to a person please?")
    if not await customer.get_by_text("Waiting for a member of our team").count():
        await ask(
            customer, "/handoff"
        )  # the intent model did not take it as a request for a person
    await ask(customer, "My order #W5918442 hasn't shipped yet and it's a birthday gift.")
    sender = await customer.evaluate(f"() => JSON.parse(localStorage['shopbot:{base}']).sender")

    desk = await browser.new_context(viewport={"width": 1280, "height": 760})
    desk.set_default_timeout(WAIT_MS)
    agent = await desk.new_page()
    await agent.goto(f"{base}/admin/inbox?token={token}")
    await agent.fill("#agent", "Alex")
    await agent.press("#agent", "Tab")
    await agent.locator(f'#queue button[data-sender="{sender}"]').click()
    await agent.get_by_role("button", name="Claim", exact=True).click()
    reply = (
        "Hi Sofia, I'm Alex. I've asked the warehouse to ship #W5918442 today "
        "with express delivery, at no extra cost."
    )
    box = agent.get_by_role("textbox", name="Reply to the customer")
    await box.fill(reply)
    await box.press("Enter")
    await customer.locator(".msg.agent").wait_for()
    await customer.get_by_role("textbox", name="Type your message").fill("Thank you so much!")
    await customer.get_by_role("textbox", name="Type your message").press("Enter")
    await agent.locator("#transcript").get_by_text("Thank you so much!").wait_for()
    phone_path, inbox_path = out / "widget-phone.png", out / "inbox.png"
    await customer.screenshot(path=str(phone_path))
    await agent.screenshot(path=str(inbox_path))
    await phone.close()
    await desk.close()
    return [phone_path, inbox_path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--llm-backend", default="transformers")
    parser.add_argument("--llm-model", default="qwen2.5-0.5b")
    args = parser.parse_args()
    for path in asyncio.run(run(args.out, args.llm_backend, args.llm_model)):
        print(path)


if __name__ == "__main__":
    main()
