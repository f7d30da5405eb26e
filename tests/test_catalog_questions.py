"""Catalog questions as customers ask them (issue 15): options of one product, filters
and order, comparisons, one variant's availability, and follow-ups about the products
just shown, run through rasa-sdk's ActionExecutor on the demo store and dev stores of
other shapes. Expected prices and stock are computed from each store's own catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.actions.catalog_query import read_query
from bot.actions.catalog_vocab import CatalogVocabulary, offers
from bot.actions.registry import build_executor
from bot.actions.runner import DOMAIN, ActionRunner, apply_events, tracker_state
from bot.messages.catalogue import CATALOGUE
from bot.nlu.entities import extract_entities
from knowledge_base.catalog import Product, Variant
from knowledge_base.money import format_money
from knowledge_base.store import load_store

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "knowledge_base" / "demo_store"
COSMETICS = ROOT / "tests" / "data" / "stores" / "mixed_cosmetics"
FURNITURE = ROOT / "tests" / "data" / "stores" / "policy_furniture"


def money(amount: float | None) -> str:
    return format_money(amount, "USD")


class Chat:
    """One conversation with the product search: the NLU's entities, the slots kept."""

    def __init__(self, catalog: Any, language: str | None = None) -> None:
        self.products = catalog.products if hasattr(catalog, "products") else catalog
        self.runner = ActionRunner(executor=build_executor(None, catalog))
        self.slots: dict[str, Any] = {"language": language}

    async def ask(self, text: str, entities: list[dict[str, Any]] | None = None) -> str:
        if entities is None:
            entities = extract_entities(text, self.products)
        state = tracker_state("shopper", self.slots, {"text": text, "entities": entities})
        result = await self.runner.run("action_product_search", state, DOMAIN)
        self.slots = apply_events(self.slots, result["events"])
        self.cards = [
            card
            for r in result["responses"]
            if (r.get("custom") or {}).get("type") == "product_cards"
            for card in r["custom"]["products"]
        ]
        self.text = "\n".join(r.get("text") or "" for r in result["responses"])
        return self.text

    @property
    def last(self) -> list[str]:
        return list(self.slots.get("last_products") or [])


@pytest.fixture(scope="module")
def demo() -> Any:
    return load_store(DEMO)


@pytest.fixture(scope="module")
def cosmetics() -> Any:
    return load_store(COSMETICS)


@pytest.fixture(scope="module")
def furniture() -> Any:
    return load_store(FURNITURE)


def product(store: Any, title: str) -> Any:
    return next(p for p in store.products if p.title == title)


def available_prices(p: Any, **options: str) -> list[float]:
    return [
        o.price
        for o in offers(p)
        if o.available and all(o.options.get(k) == v for k, v in options.items())
    ]


# ----------------------------------------------------------------- reading the question


@pytest.mark.parametrize(
    "text, low, high",
    [
        ("waterproof ones under $300", None, 300),
        ("anything less than 50?", None, 50),
        ("between 20 and 40", 20, 40),
        ("something below 100 dollars", None, 100),
        ("$20-$40 please", 20, 40),
        ("over $1,000", 1000, None),
        ("under 1.5k", None, 1500),
        ("300元以下的商品", None, 300),
        ("三百元以下", None, 300),
        ("100到200元之间", 100, 200),
        ("不超过50块", None, 50),
        # Quantities, not prices: the store's own option values and units.
        ("is the 2L one in stock?", None, None),
        ("does it ship within 5 days", None, None),
        ("an umbrella under 6 ft", None, None),
        ("running shoes in sizes from 8 to 10", None, None),
    ],
)
def test_price_bounds_are_read_and_quantities_are_not(demo, text, low, high) -> None:
    query = read_query(text, [], CatalogVocabulary(demo.products))
    assert (query.low, query.high) == (low, high)


def test_the_language_words_of_a_catalog_question(demo) -> None:
    vocab = CatalogVocabulary(demo.products)

    def read(text: str) -> Any:
        return read_query(text, [], vocab)

    assert read("is it in stock?").in_stock and read("还有货吗").in_stock
    assert read("the cheapest backpack").extreme == "asc"
    assert read("最贵的是哪个").extreme == "desc"
    cheaper = read("the cheaper one?")
    assert cheaper.pick == "asc" and cheaper.refers_back and not cheaper.extreme
    assert read("sort them by price, high to low").sort == "desc"
    assert read("compare the tablet and the e-reader").compare
    assert read("the second one").ordinal == 1 and read("第二个呢").ordinal == 1
    assert read("what sizes do they come in?").option_mentions == ["size"]
    assert read("有什么颜色").option_mentions == ["color"]
    assert "purple" in read("does it come in purple?").value_mentions
    assert "2l" in read("is the 2L one in stock?").value_mentions
    # Words of the product's own name are not read as option values.
    assert read("do you sell running shoes?").value_mentions == set()


# ----------------------------------------------------------------- filters and order


async def test_cheapest_backpack_in_stock_is_an_available_variant(demo) -> None:
    backpack = product(demo, "Backpack")
    cheapest_any = min(o.price for o in offers(backpack))
    cheapest_available = min(available_prices(backpack))
    assert cheapest_any < cheapest_available  # the catalog's cheapest is sold out
    chat = Chat(demo)
    text = await chat.ask("what's the cheapest backpack you have in stock?")
    assert text.startswith("The cheapest Backpack (in stock):")
    assert money(cheapest_available) in text and money(cheapest_any) not in text
    [card] = chat.cards
    assert [v["price"] for v in card["variants"]] == [cheapest_available]
    assert card["variants"][0]["available"] is True
    assert chat.last == [backpack.id]


async def test_waterproof_ones_under_300_lists_what_matches_at_its_price(demo) -> None:
    expected = {}
    for p in demo.products:
        names = [n for v in p.variants for n in v.options if n == "waterproof"]
        hits = [o for o in offers(p) if names and o.options.get("waterproof") == "yes"]
        hits = [o for o in hits if o.price is not None and o.price <= 300]
        if hits:
            expected[p.title] = hits
    assert expected
    chat = Chat(demo)
    text = await chat.ask("waterproof ones under $300")
    assert text.startswith("Here's what I found (waterproof, under $300.00):")
    for title, hits in expected.items():
        low, high = min(o.price for o in hits), max(o.price for o in hits)
        assert f"- {title}: {money(low)} to {money(high)} ({len(hits)} options)" in text
    assert {c["title"] for c in chat.cards} == set(expected)
    for card in chat.cards:
        assert all(
            v["options"]["waterproof"] == "yes" and v["price"] <= 300 for v in card["variants"]
        )


def _category(store: Any, name: str) -> list[Any]:
    return [p for p in store.products if p.category == name]


@pytest.mark.parametrize("store_name", ["demo", "cosmetics", "furniture"])
async def test_a_filter_after_a_list_narrows_that_list_not_the_catalog(
    store_name: str, request: pytest.FixtureRequest
) -> None:
    store = request.getfixturevalue(store_name)
    # The category with the most products, so its list is longer than one reply shows.
    categories = {p.category for p in store.products if p.category}
    name = max(sorted(categories), key=lambda c: len(_category(store, c)))
    kind = _category(store, name)
    assert len(kind) > 1
    prices = sorted(o.price for p in kind for o in offers(p) if o.price is not None)
    bound = prices[len(prices) // 2]  # about half of that category's offers are under it
    chat = Chat(store)
    await chat.ask(f"what {name.lower()} do you have?", entities=[])
    scope = [p for p in store.products if p.id in set(chat.slots["last_scope"])]
    assert len(scope) > len(chat.cards) or len(scope) > 1
    text = await chat.ask(f"anything under {bound:g}?", entities=[])
    wanted = {
        p.title for p in scope if any(o.price is not None and o.price <= bound for o in offers(p))
    }
    assert wanted and {c["title"] for c in chat.cards} <= wanted
    others = {p.title for p in store.products if p not in scope}
    assert not any(f"- {title}:" in text for title in others), text


async def test_a_filter_that_says_the_whole_store_searches_it(demo) -> None:
    chat = Chat(demo)
    await chat.ask("what do you have for the kitchen?", entities=[])
    await chat.ask("anything under $60 in your store?", entities=[])
    cheap = {p.title for p in demo.products if any((o.price or 1e9) <= 60 for o in offers(p))}
    assert cheap and {c["title"] for c in chat.cards} <= cheap
    assert not any(c["title"] in ("Electric Kettle", "Tea Kettle") for c in chat.cards)


async def test_none_of_those_says_so_then_answers_from_the_rest(demo) -> None:
    kitchen = [p for p in demo.products if p.title in ("Coffee Maker", "Espresso Machine")]
    low = min(o.price for p in kitchen for o in offers(p))
    bound = low - 100  # nothing of those two is that cheap
    assert any(o.price <= bound for p in demo.products for o in offers(p))
    chat = Chat(demo)
    await chat.ask("compare the coffee maker and the espresso machine")
    text = await chat.ask(f"any under {bound:g}?", entities=[])
    assert text.startswith(f"None of those are under {money(bound)}. From the rest of our catalog:")
    assert chat.cards and all(
        c["title"] not in ("Coffee Maker", "Espresso Machine") for c in chat.cards
    )


async def test_the_cheapest_of_a_product_is_one_the_customer_can_buy(demo) -> None:
    boots = product(demo, "Hiking Boots")
    cheapest_any = min(o.price for o in offers(boots))
    cheapest_available = min(available_prices(boots))
    assert cheapest_any < cheapest_available  # its cheapest variant is sold out
    chat = Chat(demo)
    await chat.ask("do you sell hiking boots?")
    text = await chat.ask("what's the cheapest pair I can buy?")
    assert money(cheapest_available) in text and money(cheapest_any) not in text


async def test_a_product_price_is_what_can_be_bought(demo) -> None:
    backpack = product(demo, "Backpack")
    buyable = available_prices(backpack)
    chat = Chat(demo)
    text = await chat.ask("how much is the backpack?")
    head = text.splitlines()[0]
    assert head == (
        f"Backpack: {len(backpack.variants)} options, {len(buyable)} in stock at "
        f"{money(min(buyable))} to {money(max(buyable))}."
    )


async def test_an_option_the_listing_never_mentions_is_not_guessed(demo) -> None:
    watch = product(demo, "Smart Watch")
    assert not any("waterproof" in n for v in watch.variants for n in v.options)
    chat = Chat(demo)
    await chat.ask("do you sell smart watches?")
    text = await chat.ask("is it waterproof?")
    assert text.startswith("Our catalog doesn't list waterproof for Smart Watch")
    assert not chat.cards and "$" not in text
    # A product whose options do say still answers from them.
    await chat.ask("do you sell hiking boots?")
    text = await chat.ask("are they waterproof?")
    assert "waterproof: yes" in text and "doesn't list" not in text


async def test_a_size_word_finds_the_size_code(demo) -> None:
    shirt = product(demo, "T-Shirt")
    assert any(v.options.get("size") == "M" for v in shirt.variants)
    chat = Chat(demo)
    await chat.ask("do you sell t-shirts?")
    text = await chat.ask("is the medium one in stock?")
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines and all(" / M / " in line for line in lines), text


async def test_a_price_in_the_message_is_not_a_size(demo) -> None:
    shoes = product(demo, "Running Shoes")
    assert any(v.options.get("size") == "9" for v in shoes.variants)
    chat = Chat(demo)
    text = await chat.ask("running shoes under $9")
    assert text.startswith("Sorry, Running Shoes has nothing (under $9.00) right now.")
    assert "doesn't come in 9" not in text


async def test_vegan_cleansers_under_25(cosmetics) -> None:
    def is_cleanser(p: Any) -> bool:
        return p.category == "Cleansers" or "Cleanser" in p.title

    expected = [
        p
        for p in cosmetics.products
        if is_cleanser(p)
        and p.attributes.get("vegan") is True
        and any(o.price is not None and o.price <= 25 for o in offers(p))
    ]
    assert len(expected) > 5
    chat = Chat(cosmetics)
    text = await chat.ask("vegan cleansers under $25")
    assert text.startswith("Here's what I found (vegan, under $25.00):")
    assert f"…and {len(expected) - 5} more." in text
    listed = {c["title"] for c in chat.cards}
    assert len(listed) == 5 and listed <= {p.title for p in expected}
    assert chat.last == [c["id"] for c in chat.cards]


async def test_serums_between_20_and_30_low_to_high(cosmetics) -> None:
    chat = Chat(cosmetics)
    await chat.ask("serums between 20 and 30 dollars, low to high")
    prices = [
        min(v["price"] for v in c["variants"]) if c["variants"] else c["price_min"]
        for c in chat.cards
    ]
    assert prices == sorted(prices) and all(20 <= p <= 30 for p in prices)
    assert chat.text.startswith("Here's what I found ($20.00 to $30.00), cheapest first:")


async def test_chairs_under_1000_and_a_catalog_word_inside_attributes(furniture) -> None:
    chairs = [
        p
        for p in furniture.products
        if (p.category == "Chairs" or "Chair" in p.title) and p.price <= 1000
    ]
    chat = Chat(furniture)
    await chat.ask("what chairs do you have under 1000?")
    assert {c["title"] for c in chat.cards} == {p.title for p in chairs}
    oak = [
        p for p in furniture.products if any("oak" in str(v).split() for v in p.attributes.values())
    ]
    await chat.ask("anything in oak?")
    assert {c["title"] for c in chat.cards} == {p.title for p in oak}


# ----------------------------------------------------------------- one product's options


async def test_sizes_and_prices_of_the_shoes_just_shown(demo) -> None:
    shoes = product(demo, "Running Shoes")
    chat = Chat(demo)
    await chat.ask("do you sell running shoes?")
    assert chat.last == [shoes.id]
    text = await chat.ask("what sizes do they come in and how much?")
    assert text.startswith("Running Shoes comes in these size options:")
    for size in sorted({v.options["size"] for v in shoes.variants}, key=int):
        prices = available_prices(shoes, size=size)
        low, high = min(prices), max(prices)
        shown = money(low) if low == high else f"{money(low)} to {money(high)}"
        assert f"- {size}: {shown}, in stock" in text
    # In the catalog's order of sizes: 8, 9, 10.
    assert text.index("- 8:") < text.index("- 9:") < text.index("- 10:")
    assert chat.last == [shoes.id]


async def test_does_it_come_in_purple_then_gold_then_red(demo) -> None:
    shirt = product(demo, "T-Shirt")
    chat = Chat(demo)
    await chat.ask("t-shirt")
    await chat.ask("does it come in purple?")
    purple = [v for v in shirt.variants if v.options["color"] == "purple"]
    assert f"{len(purple)} in purple:" in chat.text
    assert {v["id"] for v in chat.cards[0]["variants"]} == {v.id for v in purple}
    await chat.ask("what about gold?")
    assert chat.text.startswith("T-Shirt doesn't come in gold.")
    assert chat.last == [shirt.id]  # still about the T-shirt
    await chat.ask("and red?")
    assert all(v["options"]["color"] == "red" for v in chat.cards[0]["variants"])


async def test_is_the_2l_one_in_stock(demo) -> None:
    kettle = product(demo, "Electric Kettle")
    two_litre = [o for o in offers(kettle) if o.options["capacity"] == "2L"]
    available = [o for o in two_litre if o.available]
    assert 0 < len(available) < len(two_litre)
    chat = Chat(demo)
    await chat.ask("electric kettle")
    text = await chat.ask("is the 2L one in stock?")
    assert text.startswith(
        f"Yes, Electric Kettle (2L) is in stock in {len(available)} of {len(two_litre)} options."
    )
    assert {v["id"] for v in chat.cards[0]["variants"]} == {o.variant.id for o in two_litre}
    # What can be bought comes first, cheapest first.
    first = min(available, key=lambda o: o.price)
    assert text.splitlines()[1].endswith(f"{money(first.price)}, in stock")


async def test_a_sold_out_variant_says_which_values_are_in_stock(cosmetics) -> None:
    serum = product(cosmetics, "Hyaluronic Acid Hydrating Serum")
    chat = Chat(cosmetics)
    text = await chat.ask("is the hyaluronic acid serum in 60 ml in stock?")
    assert text.startswith("Sorry, Hyaluronic Acid Hydrating Serum (60 ml) is out of stock")
    in_stock = [o.options["size"] for o in offers(serum) if o.available]
    assert f"In stock in size: {', '.join(in_stock)}." in text


async def test_attribute_questions_and_options_of_a_product_without_variants(
    cosmetics, furniture
) -> None:
    chat = Chat(cosmetics)
    await chat.ask("is the honey glow cleansing jelly vegan?")
    assert chat.text.startswith("No: Honey Glow Cleansing Jelly — vegan: no.")
    await chat.ask("and the oat milk cream cleanser?")
    await chat.ask("is it vegan?")
    assert chat.text.startswith("Yes: Oat Milk Cream Cleanser — vegan: yes.")
    chat = Chat(furniture)
    await chat.ask("what colors does the marlow loveseat come in?")
    loveseat = product(furniture, "Marlow Leather Loveseat")
    assert f"Marlow Leather Loveseat — color: {loveseat.attributes['color']}" in chat.text


# ----------------------------------------------------------------- comparisons and picks


async def test_compare_two_products_side_by_side(demo) -> None:
    chat = Chat(demo)
    await chat.ask("compare the tablet and the e-reader")
    assert chat.text.startswith("Here's how they compare:")
    for title in ("Tablet", "E-Reader"):
        p = product(demo, title)
        prices = [o.price for o in offers(p)]
        assert f"- {title}: {money(min(prices))} to {money(max(prices))}" in chat.text
        for name in p.attributes:
            assert f"  {name}: " in chat.text
    assert chat.last == [product(demo, "Tablet").id, product(demo, "E-Reader").id]
    await chat.ask("the cheaper one?")
    assert chat.last == [product(demo, "E-Reader").id]
    assert chat.text.startswith("E-Reader: ")


def two_laptops() -> list[Product]:
    def laptop(pid: str, title: str, prices: list[float]) -> Product:
        variants = [
            Variant(f"{pid}-{i}", {"ram": f"{8 * (i + 1)}GB"}, price, i != 0)
            for i, price in enumerate(prices)
        ]
        return Product(pid, title, min(prices), "Computers", "", {}, variants, True)

    return [
        laptop("L1", "Aero 14 Laptop", [899.0, 1099.0]),
        laptop("L2", "Forge 16 Gaming Laptop", [1499.0, 1799.0]),
        Product("M1", "Travel Mouse", 29.0, "Accessories", "", {}, [], True),
    ]


async def test_compare_the_two_laptops_of_a_store_that_has_two() -> None:
    chat = Chat(two_laptops())
    await chat.ask("compare the two laptops")
    assert "- Aero 14 Laptop: $899.00 to $1,099.00, 1 of 2 options in stock" in chat.text
    assert "- Forge 16 Gaming Laptop: $1,499.00 to $1,799.00" in chat.text
    assert "Travel Mouse" not in chat.text
    await chat.ask("the second one")
    assert chat.last == ["L2"]
    await chat.ask("is the 8GB one in stock?")
    assert chat.text.startswith("Sorry, Forge 16 Gaming Laptop (8GB) is out of stock right now.")
    assert "In stock in ram: 16GB." in chat.text


async def test_compare_chairs_then_the_cheaper_one(furniture) -> None:
    chat = Chat(furniture)
    await chat.ask("what chairs do you have under 1000?")
    shown = chat.last
    await chat.ask("compare them")
    assert chat.text.startswith("Here's how they compare:") and chat.last == shown
    await chat.ask("the cheaper one?")
    cheapest = min((p for p in furniture.products if p.id in shown), key=lambda p: p.price)
    assert chat.last == [cheapest.id]
    assert chat.text.startswith(f"{cheapest.title}: {money(cheapest.price)}")


# ----------------------------------------------------------------- Chinese


async def test_catalog_questions_in_chinese(demo) -> None:
    backpack = product(demo, "Backpack")
    chat = Chat(demo, language="zh")
    await chat.ask("Backpack 最便宜的是哪款？有货的")
    assert chat.text.startswith("最便宜的Backpack（有货）：")
    assert money(min(available_prices(backpack))) in chat.text
    await chat.ask("T-Shirt")
    await chat.ask("蓝色的有货吗")
    assert chat.text.startswith("有的，T-Shirt（blue）的 ")
    assert all(v["options"]["color"] == "blue" for v in chat.cards[0]["variants"])
    await chat.ask("有什么尺码？")
    assert chat.text.startswith("T-Shirt 可选的size：")
    await chat.ask("三百元以下的商品")
    assert chat.text.startswith("为您找到以下商品（$300.00以下）：")
    assert all(c["price_min"] <= 300 for c in chat.cards)


# ----------------------------------------------------------------- nothing to go on


async def test_a_follow_up_with_nothing_shown_asks_which_product(demo) -> None:
    chat = Chat(demo)
    await chat.ask("what sizes does it come in?")
    assert chat.text == CATALOGUE["en"]["catalog_which_product"]
    assert chat.last == []
    await chat.ask("do you sell hovercrafts under $300?")
    assert chat.text == CATALOGUE["en"]["product_not_found"]


@pytest.mark.parametrize(
    "entities, last",
    [
        ([{"entity": "product", "value": None}], ["no-such-id"]),
        ([{"entity": "product", "value": "Nope", "product_id": 12}], "not a list"),
        ([{"entity": "color", "value": ""}, {"value": "blue"}], [None, 3.5]),
    ],
)
async def test_odd_entities_and_slots_get_a_clear_reply(demo, entities, last) -> None:
    chat = Chat(demo)
    chat.slots["last_products"] = last
    text = await chat.ask("is the blue one in stock?", entities)
    assert text  # an answer or a clear "which product", never a crash
    assert text in (CATALOGUE["en"]["catalog_which_product"],) or "blue" in text.lower()


async def test_an_option_asked_by_a_synonym_of_its_name_is_answered(cosmetics) -> None:
    tint = next(p for p in cosmetics.products if p.title.startswith("Skin Tint"))
    shades = {v.options["shade"] for v in tint.variants}
    chat = Chat(cosmetics)
    text = await chat.ask("what shades does the skin tint come in")
    assert "doesn't list" not in text
    assert all(shade in text for shade in shades), text


async def test_the_cheapest_of_them_is_of_the_whole_list_not_the_lines_shown(cosmetics) -> None:
    chat = Chat(cosmetics)
    await chat.ask("i need a new cleanser", entities=[])
    scope = [p for p in cosmetics.products if p.id in set(chat.slots["last_scope"])]
    assert len(scope) > len(chat.cards)  # "…and N more"
    cheapest = min((o for p in scope for o in offers(p) if o.available), key=lambda o: o.price)
    text = await chat.ask("what's the cheapest one you actually have in stock?", entities=[])
    assert cheapest.product.title in text and money(cheapest.price) in text, text


async def test_the_remembered_list_is_bounded_whatever_the_catalog() -> None:
    from bot.actions.catalog_answers import MAX_SCOPE

    catalog = [
        Product(f"p{i}", f"Widget {i}", 10.0 + i % 50, "Widgets", "", {}, [], True)
        for i in range(MAX_SCOPE * 3)
    ]
    chat = Chat(catalog)
    await chat.ask("anything under $100?", entities=[])
    assert 0 < len(chat.slots["last_scope"]) <= MAX_SCOPE
