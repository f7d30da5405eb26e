"""A question about a policy that names a product goes to the store's knowledge; a
product question stays with the catalog; a question about a product the catalog and
pages do not answer gets an honest "not listed", never the price line (issue 15).

Through the real bot (no chat model: quotations only) on a small bicycle shop built
in tmp_path, a store none of the routing was written for.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from bot.nlu import phrases

PRODUCTS = """id,title,price,category,description,in_stock,material,color
BK-101,Corrie Gravel Bike,1450,Bikes,"A drop-bar gravel bike with 40 mm tyres and hydraulic disc brakes.",true,aluminium,sage
BK-102,Tessel City Bike,820,Bikes,"An upright city bike with a chain guard, fenders and a rear rack.",true,steel,navy
BK-103,Pike Kids Bike,310,Bikes,"A 20 inch kids bike with hand brakes and a low step-through frame.",true,aluminium,red
HL-201,Orbit Commuter Helmet,89,Helmets,"A vented helmet with a rear light and a magnetic buckle.",true,polycarbonate,white
LK-301,Anvil U-Lock,64,Locks,"A hardened steel U-lock with two keys and a frame mount.",true,steel,black
LT-401,Beacon Front Light,45,Lights,"An 800 lumen front light that charges over USB-C.",false,aluminium,black
"""

DOCS = {
    "returns.md": """# Returns

## The return window

You have 30 days from delivery to return a bike or accessory for a full refund. Bikes must
be unridden, with no more than a test ride around the block, and come back in the original
box. Refunds go to the original payment method within 5 business days of the return arriving.

## Restocking

Bikes returned after being assembled by our workshop carry a 10% restocking fee. Helmets,
locks and lights return free of any fee.
""",
    "damage.md": """# Damaged deliveries

If a bike or accessory arrives damaged, with a bent wheel, a scratched frame or a cracked
part, email a photo to the workshop within 7 days of delivery. We send a replacement part or
a new bike free of charge and collect the damaged one.
""",
    "delivery.md": """# Delivery

## Where we deliver

We deliver bikes to the mainland only. Islands and overseas territories are not served.

## Delivery times

Bikes arrive in 3 to 5 business days, fully assembled and tuned. Accessories ship in 1 to 2
business days.
""",
    "price-match.md": """# Price adjustments

If the price of a bike you bought drops on our own site within 14 days of delivery, we
refund the difference. We do not match the prices of other shops.
""",
    "servicing.md": """# Servicing

## Free first service

Every bike bought from us gets a free first service within 90 days: gears indexed, brakes
adjusted, bolts checked. Book it at the workshop.

## Workshop hours

The workshop is open Tuesday to Saturday, 9:00 to 18:00.
""",
    "finance.md": """# Paying in instalments

Orders over 500 dollars can be paid in 6 or 12 monthly instalments with no interest. The
instalment plan is chosen at checkout.
""",
    "warranty.md": """# Warranty

Frames carry a lifetime warranty against manufacturing defects for the original owner.
Components are covered for 2 years. Crash damage and wear are not covered.
""",
    "privacy.md": """# Privacy

We keep your name, address and order history only to deliver and service your bike. We never
sell customer data.
""",
}


@pytest.fixture(scope="module")
def bike_bot(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real bot, no chat model, on the bicycle shop (built once for the module)."""
    from bot.assemble import load_bot_sync
    from bot.config import load_config

    root = tmp_path_factory.mktemp("bikes") / "store"
    (root / "docs").mkdir(parents=True)
    (root / "store.toml").write_text(
        'name = "Spoke & Chain Cycles"\ncurrency = "USD"\nlanguage = "en"\n', encoding="utf-8"
    )
    (root / "products.csv").write_text(PRODUCTS, encoding="utf-8")
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    config = load_config(
        root,
        db_path=root.parent / "log.db",
        llm_backend="none",
        rate_limit_per_minute=0,
    )
    bot = load_bot_sync(config, progress=False)
    yield bot
    bot.conversations.close()


def ask(bot: Any, *texts: str) -> Any:
    """The bot's reply to the last of ``texts``, asked in one fresh conversation."""
    sender = f"routing-{uuid.uuid4().hex[:8]}"
    reply = None
    for text in texts:
        reply = asyncio.run(bot.handle(sender, text))
    return reply


@pytest.mark.parametrize(
    ("text", "page"),
    [
        ("If I return the gravel bike do I get all my money back or is there a catch?", "returns"),
        ("my helmet arrived cracked, what now?", "damage"),
    ],
)
def test_a_policy_question_naming_a_product_is_answered_from_the_stores_pages(
    bike_bot: Any, text: str, page: str
) -> None:
    reply = ask(bike_bot, text)
    # The page answers, or is offered to choose ("clarify"); never the price line.
    assert reply.action in ("action_answer", "action_answer_curated", "action_clarify")
    assert "$" not in reply.text
    assert reply.sources[0]["id"].startswith(f"doc:{page}")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("how much is the gravel bike?", "Corrie Gravel Bike"),
        ("do you have a kids bike?", "Pike Kids Bike"),
        ("is the Beacon front light in stock?", "Beacon Front Light"),
        ("show me your helmets", "Orbit Commuter Helmet"),
    ],
)
def test_a_product_question_still_reaches_the_catalog(bike_bot: Any, text: str, title: str) -> None:
    reply = ask(bike_bot, text)
    assert reply.action == "action_product_search"
    assert title in reply.text


def test_a_question_the_catalog_does_not_answer_is_not_answered_with_a_price(
    bike_bot: Any,
) -> None:
    reply = ask(bike_bot, "what's the maximum rider weight for the Tessel city bike?")
    assert reply.action == "action_abstain"
    assert "$820" not in reply.text
    assert "Tessel City Bike" in reply.text
    assert any(b["payload"] == "/handoff" for b in reply.messages[0].get("buttons", []))


def test_a_question_the_product_record_answers_stays_with_the_catalog(bike_bot: Any) -> None:
    reply = ask(bike_bot, "what is the Anvil U-lock made of?")
    assert reply.action == "action_product_search"
    assert "Anvil U-Lock" in reply.text


@pytest.mark.parametrize(
    "text",
    [
        "the sofa I bought last week is cheaper today",
        "my serum arrived cracked",
        "can I send the lamp back?",
        "我买的茶叶破损了",
    ],
)
def test_a_situation_about_a_purchase_or_a_service_is_told(text: str) -> None:
    assert phrases.tells_situation(text, phrases.rules_for(None))


@pytest.mark.parametrize(
    "text", ["how much is the sofa?", "the blue lamp in size L", "防晒霜多少钱"]
)
def test_a_catalog_question_tells_no_situation(text: str) -> None:
    assert not phrases.tells_situation(text, phrases.rules_for(None))


def test_asking_whether_the_store_has_a_product_is_a_catalog_request() -> None:
    rules = phrases.rules_for("en")
    assert phrases.asks_availability("do you guys sell kids bikes?", rules)
    assert not phrases.asks_availability("how do I book a service?", rules)
    assert phrases.asks_question("the light, does it charge over USB?", rules)
    assert not phrases.asks_question("show me your helmets", rules)
