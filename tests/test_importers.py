"""Bring your store: Shopify, WooCommerce, Rasa and FAQ exports become store folders.

The inputs are small but faithful exports (tests/data/imports/): the columns
and cell conventions of Shopify's and WooCommerce's own exporters, a Rasa 3
project, a help-center page and a Markdown FAQ. Each test checks real values
of the mapping, the report's skipped rows and reasons, or what happens to a
store's existing files; one test imports, builds and answers over HTTP.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from knowledge_base.importers.commands import run_import
from knowledge_base.importers.faq import read_faq
from knowledge_base.importers.rasa import read_rasa
from knowledge_base.importers.report import ImportReport, ImportResult
from knowledge_base.importers.shopify import read_shopify
from knowledge_base.importers.starter import init_store
from knowledge_base.importers.store_writer import write_store
from knowledge_base.importers.woocommerce import read_woocommerce
from knowledge_base.store import load_store
from knowledge_base.store_files import StoreError
from tests.conftest import TEST_LLM, started_client
from tests.conversation import chat

DATA = Path(__file__).resolve().parent / "data" / "imports"
SHOPIFY = DATA / "shopify_products_export.csv"
WOO = DATA / "woocommerce_products_export.csv"
RASA = DATA / "rasa_project"
HELP_PAGE = DATA / "help_center.html"
FAQ_MD = DATA / "faq.md"


def by_id(products: list[dict]) -> dict[str, dict]:
    return {p["id"]: p for p in products}


def skipped(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s.where: s.reason for s in report.skipped}


# --- Shopify ----------------------------------------------------------------------


def test_shopify_rows_sharing_a_handle_become_one_product_with_variants():
    products = by_id(read_shopify(SHOPIFY).products)
    jacket = products["harbour-rain-jacket"]
    assert jacket["title"] == "Harbour Rain Jacket"
    assert jacket["price"] == 89.0  # the lowest variant price
    assert jacket["category"] == "Jackets"  # Type wins over Product Category
    assert jacket["description"].startswith("A fully seam-sealed rain jacket")
    assert "- Waterproof to 10,000 mm\n- Packs into its own pocket" in jacket["description"]
    assert "<" not in jacket["description"] and "&amp;" not in jacket["description"]
    assert jacket["attributes"] == {
        "vendor": "Tidewater",
        "tags": ["outdoor", "rain", "waterproof"],
        "product_category": "Apparel & Accessories > Clothing > Outerwear > Coats & Jackets",
    }
    variants = {v["id"]: v for v in jacket["variants"]}
    assert list(variants) == [
        "HRJ-S-NAVY",
        "HRJ-M-NAVY",
        "HRJ-L-NAVY",
        "HRJ-S-OLIVE",
    ]  # no image row
    assert variants["HRJ-M-NAVY"] == {
        "id": "HRJ-M-NAVY",
        "options": {"Size": "M", "Color": "Navy"},
        "price": 89.0,
        "available": False,  # 0 in stock and the policy is "deny"
    }
    assert variants["HRJ-L-NAVY"]["available"] is True  # 0 in stock but policy "continue"
    assert variants["HRJ-L-NAVY"]["price"] == 94.0
    assert jacket["in_stock"] is True


def test_shopify_default_title_product_has_no_options():
    mug = by_id(read_shopify(SHOPIFY).products)["enamel-camp-mug"]
    assert "variants" not in mug
    assert mug["price"] == 16.0 and mug["in_stock"] is True
    assert mug["category"] == "Mugs"  # no Type: the last part of Product Category
    assert mug["attributes"]["sku"] == "MUG-01"
    assert mug["description"] == "Holds 350 ml. Dishwasher safe."


def test_shopify_untracked_variants_are_available_and_ids_fall_back_to_the_handle():
    card = by_id(read_shopify(SHOPIFY).products)["gift-card"]
    assert [(v["id"], v["options"], v["price"], v["available"]) for v in card["variants"]] == [
        ("gift-card-1", {"Denominations": "$25"}, 25.0, True),
        ("gift-card-2", {"Denominations": "$50"}, 50.0, True),
    ]
    assert card["attributes"]["gift_card"] == "yes"


def test_shopify_report_lists_drafts_and_archived_products_with_their_rows():
    report = read_shopify(SHOPIFY).report
    assert report.counts == {"products": 3, "variants": 6}
    assert skipped(report) == {
        "rows 8-9": "its Status is draft",
        "row 10": "its Status is archived",
    }
    assert "merino-beanie" in report.skipped[0].what
    assert any("Variant Compare At Price" in line for line in report.not_used)
    assert any("Image Src" in line for line in report.not_used)
    text = report.format()
    assert "rows 8-9: product 'merino-beanie' (Merino Beanie): its Status is draft" in text


def test_shopify_bad_variant_price_skips_that_row_only(tmp_path):
    text = SHOPIFY.read_text(encoding="utf-8").replace(
        "HRJ-L-NAVY,590,shopify,0,continue,manual,94.00",
        "HRJ-L-NAVY,590,shopify,0,continue,manual,N/A",
    )
    edited = tmp_path / "products_export.csv"
    edited.write_text(text, encoding="utf-8")
    result = read_shopify(edited)
    assert skipped(result.report)["row 4"] == "Variant Price 'N/A' is not a number"
    jacket = by_id(result.products)["harbour-rain-jacket"]
    assert [v["id"] for v in jacket["variants"]] == ["HRJ-S-NAVY", "HRJ-M-NAVY", "HRJ-S-OLIVE"]


def test_shopify_importer_tells_a_woocommerce_file_apart():
    with pytest.raises(StoreError) as exc:
        read_shopify(WOO)
    message = str(exc.value)
    assert (
        "is not a Shopify product export: missing columns 'Handle', 'Title', 'Variant Price'"
        in message
    )
    assert "WooCommerce" in message and "shopbot import woocommerce" in message


def test_shopify_2024_column_names_are_read_too(tmp_path):
    path = tmp_path / "products_export_1.csv"
    path.write_text(
        "Title,URL handle,Description,Vendor,Type,Status,SKU,Option1 name,Option1 value,Price,"
        "Inventory tracker,Inventory quantity,Continue selling when out of stock\n"
        "Trail Cap,trail-cap,<p>Light cap.</p>,Tidewater,Hats,Active,CAP-S,Size,S,21.00,shopify,0,DENY\n"
        ",trail-cap,,,,,CAP-L,,L,23.00,shopify,4,DENY\n",
        encoding="utf-8",
    )
    cap = read_shopify(path).products[0]
    assert (cap["id"], cap["title"], cap["price"], cap["description"]) == (
        "trail-cap", "Trail Cap", 21.0, "Light cap."
    )  # fmt: skip
    assert [(v["options"], v["available"]) for v in cap["variants"]] == [
        ({"Size": "S"}, False),
        ({"Size": "L"}, True),
    ]


# --- WooCommerce ------------------------------------------------------------------


def test_woocommerce_variations_attach_to_their_variable_parent():
    boot = by_id(read_woocommerce(WOO, today=dt.date(2025, 6, 1)).products)["BOOT-RIDGE"]
    assert boot["title"] == "Ridge Hiking Boot" and boot["category"] == "Boots"
    assert [(v["id"], v["options"], v["price"], v["available"]) for v in boot["variants"]] == [
        ("BOOT-RIDGE-40-BR", {"Size": "40", "Color": "Brown"}, 149.0, True),
        # Out of stock; its sale (Black Friday 2020) is over, so the regular price.
        ("BOOT-RIDGE-41-BR", {"Size": "41", "Color": "Brown"}, 149.0, False),
        ("BOOT-RIDGE-42-BK", {"Size": "42", "Color": "Black"}, 155.0, True),  # on backorder
    ]
    assert boot["price"] == 149.0 and boot["in_stock"] is True
    # Size and Color are the variants' options; the other attribute stays an attribute.
    assert boot["attributes"]["Waterproof"] == "Yes" and "Size" not in boot["attributes"]
    assert boot["attributes"]["categories"] == ["Footwear > Boots", "Outdoor"]
    assert boot["description"] == (
        "Waterproof leather boot for rocky trails.\n\n"
        "Full-grain leather upper with a Vibram sole.\n\nRuns true to size."
    )


def test_woocommerce_sale_price_wins_while_the_sale_runs():
    products = by_id(read_woocommerce(WOO, today=dt.date(2025, 6, 1)).products)
    bottle = products["BOTTLE-750"]
    assert bottle["price"] == 19.5  # sale 19.50 over regular 24.00, no end date
    assert bottle["in_stock"] is True
    assert bottle["description"] == (
        "750 ml, keeps drinks cold for 24 hours.\n\n"
        "Double-wall stainless steel.\n\nFits most car cup holders."
    )
    assert (
        bottle["attributes"]["weight"] == "0.4 kg" and bottle["attributes"]["brand"] == "Ridgeline"
    )
    during = by_id(read_woocommerce(WOO, today=dt.date(2020, 11, 28)).products)["BOOT-RIDGE"]
    assert [v["price"] for v in during["variants"]] == [149.0, 129.0, 155.0]


def test_woocommerce_parents_by_id_grouped_and_external_products():
    products = by_id(read_woocommerce(WOO).products)
    towel = products["108"]  # no SKU: the WooCommerce ID; its variations say "id:108"
    assert [(v["id"], v["options"]) for v in towel["variants"]] == [
        ("109", {"Colour": "Blue"}),
        ("110", {"Colour": "Sand"}),
    ]
    assert towel["price"] == 12.5
    assert products["KIT-CAMP"]["attributes"]["includes"] == [
        "Trail Water Bottle",
        "Quick-dry Camp Towel",
    ]
    assert "price" not in products["KIT-CAMP"]
    assert (
        products["BOOK-COAST"]["attributes"]["buy_at"] == "https://books.example.com/coastal-trails"
    )


def test_woocommerce_report_names_drafts_hidden_and_disabled_rows():
    report = read_woocommerce(WOO).report
    assert skipped(report) == {
        "row 7": "disabled in WooCommerce (Published is not 1)",
        "row 8": "it is a draft (Published is -1)",
        "row 12": "hidden from the catalog and search",
    }
    assert report.counts == {"products": 5, "variants": 5}


def test_woocommerce_orphan_variations_say_why(tmp_path):
    path = tmp_path / "wc-product-export.csv"
    path.write_text(
        "ID,Type,SKU,Name,Published,In stock?,Regular price,Parent,Attribute 1 name,Attribute 1 value(s)\n"
        '1,variable,DRAFTY,Drafty,-1,1,,,Size,"S, M"\n'
        "2,variation,DRAFTY-S,Drafty - S,-1,1,5.00,DRAFTY,Size,S\n"
        "3,variation,LOST-S,Lost - S,1,1,5.00,id:999,Size,S\n"
        '4,simple,OK-1,Fine product,1,0,"7,50",,,\n',
        encoding="utf-8",
    )
    result = read_woocommerce(path)
    assert skipped(result.report) == {
        "row 2": "it is a draft (Published is -1)",
        "row 3": "its parent (row 2) was skipped",
        "row 4": "its parent 'id:999' is not in this file",
    }
    fine = result.products[0]
    assert (fine["id"], fine["price"], fine["in_stock"]) == ("OK-1", 7.5, False)  # decimal comma


def test_woocommerce_importer_tells_a_shopify_file_apart():
    with pytest.raises(
        StoreError, match="missing columns 'Name', 'Regular price', 'ID'.*shopbot import shopify"
    ):
        read_woocommerce(SHOPIFY)


# --- Rasa -------------------------------------------------------------------------


def test_rasa_examples_lose_their_entity_annotations():
    rows = read_rasa(RASA).intents
    assert ("where is my order #48213?", "order_status") in rows
    assert ("has my order number 48213 shipped yet", "order_status") in rows
    assert ("do you have the rain jacket in navy?", "product_availability") in rows
    assert ("is the raincoat in stock in size M", "product_availability") in rows
    assert ("do you still sell the merino beanie", "product_availability") in rows
    assert ("what's the weather in Boston", "oos") in rows  # a {text, metadata} example
    assert not [t for t, _ in rows if re.search(r"[\[\]{}]|\]\(", t)]


def test_rasa_intents_take_shopbots_names_and_retrieval_intents_become_faqs():
    result = read_rasa(RASA)
    labels = {i for _, i in result.intents}
    assert {"thanks", "oos", "faq", "greet"} <= labels
    assert not labels & {"thankyou", "out_of_scope", "faq/shipping_time"}
    assert result.faqs == [
        {
            "question": "how long does shipping take",
            "answer": "Orders ship within 1 business day; standard delivery takes 3-5 business days.",
            "category": "faq",
        },
        {
            "question": "how long do I have to return something",
            "answer": "You can return unworn items within 45 days of delivery.",
            "category": "faq",
        },
    ]
    assert result.settings == {"language": "en"}  # from config.yml


def test_rasa_report_skips_an_example_taught_to_two_intents():
    report = read_rasa(RASA).report
    assert skipped(report) == {
        "data/nlu.yml line 50": "also an example of intent 'greet' (data/nlu.yml line 7); "
        "one text can teach only one intent"
    }
    assert report.counts["intent examples"] == 35
    assert (
        "1 story and 2 rules: not imported; shopbot's dialogue (orders, returns, handoff) is its own"
        in report.not_used
    )
    assert any("responses.yml" in line for line in report.not_used)


def test_rasa_responses_and_synonyms_are_kept_in_rasas_format():
    files = read_rasa(RASA).files
    responses = yaml.safe_load(files["responses.yml"])["responses"]
    assert responses["utter_greet"][0]["text"] == "Hi! I'm the Tidewater assistant. How can I help?"
    assert responses["utter_ask_order_id"][0]["buttons"][0]["payload"] == "/deny"
    nlu = yaml.safe_load(files["synonyms.yml"])["nlu"]
    synonyms = {e["synonym"]: e["examples"] for e in nlu if "synonym" in e}
    # Declared synonyms and the value of an annotation [raincoat](product:rain jacket).
    assert synonyms["rain jacket"] == "- raincoat\n- rain coat\n- waterproof jacket\n"
    assert {"lookup": "product", "examples": "- rain jacket\n- camp mug\n- merino beanie\n"} in nlu
    assert {"regex": "order_id", "examples": "- \\#?\\d{5}\n"} in nlu


def test_rasa_import_writes_a_store_the_loader_and_trainer_read(tmp_path):
    from training.intent_data import read_intents_csv

    store = tmp_path / "store"
    report = run_import("rasa", RASA, store)
    assert report.loads is True  # its two FAQs make a store
    assert read_intents_csv(store / "intents.csv")[:2] == [("hey", "greet"), ("hello", "greet")]
    assert len(read_intents_csv(store / "intents.csv")) == 35
    assert {p.name for p in store.iterdir()} == {
        "intents.csv", "faq.jsonl", "responses.yml", "synonyms.yml", "store.toml"
    }  # fmt: skip
    loaded = load_store(store)
    assert loaded.intents_path == store / "intents.csv"
    assert [f.question for f in loaded.faqs] == [
        "how long does shipping take",
        "how long do I have to return something",
    ]


def test_rasa_1_markdown_nlu_is_read(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.md").write_text(
        "## intent:greet\n- hey\n- hello there\n\n## intent:ask_price\n"
        "- how much is the [camp mug](product)\n\n## synonym:camp mug\n- enamel mug\n",
        encoding="utf-8",
    )
    result = read_rasa(tmp_path)
    assert result.intents == [
        ("hey", "greet"), ("hello there", "greet"), ("how much is the camp mug", "ask_price")
    ]  # fmt: skip
    assert "enamel mug" in result.files["synonyms.yml"]


def test_rasa_broken_yaml_is_named_with_its_line(tmp_path):
    shutil.copytree(RASA, tmp_path / "bot")
    nlu = tmp_path / "bot" / "data" / "nlu.yml"
    nlu.write_text(nlu.read_text() + "- intent: broken\n  examples: [unclosed\n")
    with pytest.raises(StoreError, match=r"data/nlu\.yml line \d+: is not valid YAML"):
        read_rasa(tmp_path / "bot")


# --- FAQ --------------------------------------------------------------------------


def test_help_page_summaries_definitions_and_bold_questions_become_faqs():
    result = read_faq(HELP_PAGE)
    faqs = {f["question"]: f for f in result.faqs}
    assert list(faqs) == [
        "How long does shipping take?",
        "Do you ship internationally?",
        "What is your return policy?",
        "How do I start a return?",
        "Are your jackets really waterproof?",
        "Do you offer gift wrapping?",
    ]
    assert faqs["What is your return policy?"] == {
        "question": "What is your return policy?",
        "answer": "You can return unworn items within 45 days of delivery for a full refund.",
        "category": "Returns & refunds",
    }
    assert faqs["How do I start a return?"]["answer"] == (
        "- Open the returns portal (https://tidewater.example/returns).\n"
        "- Enter your order number and email.\n- Print the prepaid label."
    )
    assert faqs["Are your jackets really waterproof?"]["answer"].startswith("Yes. Every seam")
    assert faqs["Do you offer gift wrapping?"]["category"] == "Products"
    assert faqs["How long does shipping take?"]["category"] == "Shipping"
    everything = json.dumps(result.faqs)
    assert "Home" not in everything and "dataLayer" not in everything  # nav and script
    assert "help@tidewater.example" not in everything  # the footer
    assert skipped(result.report) == {
        "line 28": "no answer text before the next question or heading"
    }


def test_markdown_faq_headings_and_bold_questions():
    faqs = {f["question"]: f for f in read_faq(FAQ_MD).faqs}
    assert faqs["Can I cancel my order?"]["answer"].startswith("Yes, within 2 hours")
    assert faqs["Can I cancel my order?"]["category"] == "Orders"
    assert faqs["Which payment methods do you accept?"]["answer"] == (
        "- Visa, Mastercard and American Express\n- PayPal and Apple Pay\n"
        "- Shop Pay (pay in 4 installments)"
    )
    assert faqs["How do I choose my size?"]["answer"] == (
        "Use the size guide (https://tidewater.example/pages/size-guide); "
        "if you are between sizes, take the larger one."
    )
    assert faqs["How do I wash the rain jacket?"]["answer"].startswith("Machine wash cold")
    assert faqs["Do you repair worn gear?"]["answer"].endswith("for a flat $15.")
    assert faqs["Do you repair worn gear?"]["category"] == "Sizing & care"
    assert "Is there a warranty?" not in faqs


def test_faq_csv_with_other_column_names(tmp_path):
    path = tmp_path / "faq-export.csv"
    path.write_text(
        "Q;A;Section;Views\n"
        "Do you ship to Canada?;<p>Yes, in <b>5-8</b> business days.</p>;Shipping;120\n"
        "Do you ship to canada;Yes.;Shipping;3\n"
        "Is there a store in Boston?;;Stores;0\n",
        encoding="utf-8",
    )
    result = read_faq(path)
    assert result.faqs == [
        {
            "question": "Do you ship to Canada?",
            "answer": "Yes, in 5-8 business days.",
            "category": "Shipping",
        }
    ]
    assert skipped(result.report) == {
        "row 3": "the same question as row 2",
        "row 4": "no answer",
    }
    assert any("Views" in line for line in result.report.not_used)


def test_faq_jsonl_reports_bad_lines(tmp_path):
    path = tmp_path / "faq.jsonl"
    path.write_text(
        '{"Question": "Can I pay by invoice?", "Answer": "Yes, for orders over $500."}\n'
        '{"question": "broken", \n'
        '["not", "an", "object"]\n',
        encoding="utf-8",
    )
    result = read_faq(path)
    assert result.faqs == [
        {"question": "Can I pay by invoice?", "answer": "Yes, for orders over $500."}
    ]
    reasons = skipped(result.report)
    assert reasons["line 2"].startswith("not valid JSON")
    assert reasons["line 3"] == "not a JSON object with question and answer"


def test_faq_importer_refuses_a_products_file_and_unknown_kinds(tmp_path):
    products = tmp_path / "products.csv"
    products.write_text("id,title,price\nMUG-01,Camp Mug,16\n", encoding="utf-8")
    with pytest.raises(
        StoreError, match="not an FAQ file: no answer column.*a shopbot products file"
    ):
        read_faq(products)
    with pytest.raises(StoreError, match=r"\.pdf"):
        read_faq(tmp_path / "help.pdf")


# --- writing a store --------------------------------------------------------------


def test_an_existing_store_file_is_never_overwritten_silently(tmp_path):
    store = tmp_path / "store"
    run_import("shopify", SHOPIFY, store)
    before = (store / "products.jsonl").read_bytes()
    with pytest.raises(StoreError) as exc:
        run_import("woocommerce", WOO, store)
    assert "already has products.jsonl" in str(exc.value)
    assert "--merge" in str(exc.value) and "--force" in str(exc.value)
    assert (store / "products.jsonl").read_bytes() == before
    assert not list(store.glob("*.bak"))


def test_force_replaces_and_keeps_the_old_file(tmp_path):
    store = tmp_path / "store"
    run_import("shopify", SHOPIFY, store)
    before = (store / "products.jsonl").read_bytes()
    report = run_import("woocommerce", WOO, store, mode="force")
    assert (store / "products.jsonl.bak").read_bytes() == before
    assert any("products.jsonl -> products.jsonl.bak" in line for line in report.written)
    assert {p.id for p in load_store(store).products} == {
        "BOTTLE-750", "BOOT-RIDGE", "108", "BOOK-COAST", "KIT-CAMP"
    }  # fmt: skip


def test_merge_replaces_same_ids_and_keeps_the_rest(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "products.csv").write_text(
        "id,title,price\nenamel-camp-mug,Old Mug,12\nlantern,Brass Lantern,45\n", encoding="utf-8"
    )
    report = run_import("shopify", SHOPIFY, store, mode="merge")
    assert any(
        "merged into products.csv: 2 products added, 1 replaced, 1 kept" in w
        for w in report.written
    )
    assert (store / "products.csv.bak").exists() and not (store / "products.csv").exists()
    loaded = {p.id: p for p in load_store(store).products}
    assert (
        loaded["enamel-camp-mug"].title == "Enamel Camp Mug"
        and loaded["enamel-camp-mug"].price == 16.0
    )
    assert loaded["lantern"].price == 45.0
    assert list(loaded) == ["enamel-camp-mug", "lantern", "harbour-rain-jacket", "gift-card"]


def test_merge_faqs_by_question(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "faq.jsonl").write_text(
        '{"id": "returns", "question": "What is your return policy?", "answer": "30 days."}\n'
        '{"question": "Where are you based?", "answer": "Portland, Maine."}\n',
        encoding="utf-8",
    )
    report = run_import("faq", HELP_PAGE, store, mode="merge")
    assert any("5 FAQs added, 1 replaced, 1 kept" in w for w in report.written)
    faqs = {f.id: f for f in load_store(store).faqs}
    assert faqs["returns"].answer.startswith("You can return unworn items within 45 days")
    assert faqs["faq-where-are-you-based"].answer == "Portland, Maine."


def test_dry_run_writes_nothing_and_says_what_would_happen(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "faq.jsonl").write_text('{"question": "Q?", "answer": "A."}\n', encoding="utf-8")
    report = run_import("rasa", RASA, store, dry_run=True)
    assert sorted(p.name for p in store.iterdir()) == ["faq.jsonl"]
    assert (
        "faq.jsonl: would be refused: the store has faq.jsonl (add --merge or --force)"
        in report.written
    )
    assert "intents.csv: would be 35 intent examples" in report.written
    assert report.loads is None


def test_nothing_to_import_is_an_error_and_writes_nothing(tmp_path):
    drafts = tmp_path / "products_export.csv"
    lines = SHOPIFY.read_text(encoding="utf-8").splitlines()
    drafts.write_text("\n".join([lines[0], lines[7], lines[8]]) + "\n", encoding="utf-8")
    with pytest.raises(StoreError, match="has nothing shopbot can import.*its Status is draft"):
        run_import("shopify", drafts, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_records_the_store_loader_rejects_are_never_written(tmp_path):
    bad = ImportResult(
        report=ImportReport(source="hand-made", kind="test"),
        products=[{"id": "mug", "title": "Mug", "price": -3}],
    )
    with pytest.raises(StoreError, match="a record the store loader rejects.*must be 0 or more"):
        write_store(tmp_path / "store", bad)
    assert not (tmp_path / "store").exists()


def test_an_existing_store_toml_is_kept(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "store.toml").write_text('name = "Tidewater"\ncurrency = "EUR"\n', encoding="utf-8")
    report = run_import("shopify", SHOPIFY, store, settings={"name": "Other", "currency": ""})
    assert (store / "store.toml").read_text() == 'name = "Tidewater"\ncurrency = "EUR"\n'
    assert any("store.toml was kept" in n for n in report.notes)
    assert load_store(store).settings.currency == "EUR"


# --- the starter store and the command line ---------------------------------------


def test_init_writes_a_commented_starter_store_that_loads(tmp_path):
    from bot.config import Config, load_config

    store = tmp_path / "my-shop"
    report = init_store(store, currency="EUR")
    assert report.loads is True
    loaded = load_store(store)
    assert loaded.settings.name == "My Shop" and loaded.settings.currency == "EUR"
    assert len(loaded.products) == 2 and len(loaded.faqs) == 3 and loaded.passages
    load_config(store)  # the [shopbot] table is a valid config
    # Every commented setting is a real one, shown with its default where it has one.
    defaults = {f.name: getattr(Config(), f.name) for f in fields(Config)}
    toml = (store / "store.toml").read_text()
    section = toml.split("\n[shopbot]\n", 1)[1]
    settings = re.findall(r"^# (\w+) = (.+)$", section, flags=re.MULTILINE)
    assert len(settings) >= 15
    for key, value in settings:
        assert key in defaults, key
        parsed = tomllib.loads(f"v = {value}")["v"]
        if defaults[key] is not None:
            assert parsed == defaults[key], key
    with pytest.raises(StoreError, match="is not an empty folder"):
        init_store(store)


def test_the_import_command_prints_the_report_and_writes_json(tmp_path, capsys):
    store, out = tmp_path / "store", tmp_path / "report.json"
    assert main(["import", "faq", str(FAQ_MD), "--store", str(store), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "faq.md (Markdown help page): took 5 FAQs." in printed
    assert "line 30: question 'Is there a warranty?'" in printed
    assert "The store loads: 0 products, 5 FAQs" in printed
    report = json.loads(out.read_text())
    assert report["counts"] == {"FAQs": 5} and report["loads"] is True
    assert main(["import", "shopify", str(WOO), "--store", str(store)]) == 2
    assert "use `shopbot import woocommerce`" in capsys.readouterr().err
    assert main(["init", str(store)]) == 2


def test_intents_csv_is_written_as_csv(tmp_path):
    store = tmp_path / "store"
    run_import("rasa", RASA, store)
    with (store / "intents.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["text", "intent"]
    assert ["has my order number 48213 shipped yet", "order_status"] in rows


# --- end to end -------------------------------------------------------------------


@pytest.mark.slow
async def test_imported_store_answers_over_http(tmp_path, small_generator):
    """Import a Shopify export and a help page into one store, build it, ask over HTTP."""
    from bot.assemble import load_bot_sync
    from bot.config import load_config

    store = tmp_path / "tidewater"
    run_import("shopify", SHOPIFY, store, settings={"name": "Tidewater Supply"})
    assert run_import("faq", HELP_PAGE, store).loads is True
    config = load_config(store, llm_model=TEST_LLM, rate_limit_per_minute=0)
    bot = load_bot_sync(config, progress=False, generator=small_generator)
    client = await started_client(config, bot)
    try:
        data = await chat(client, "import-e2e-1", "how much is the Harbour Rain Jacket?")
        text = "\n".join(m.get("text", "") for m in data["messages"])
        assert data["action"] == "action_product_search"
        assert "$89.00 to $94.00" in text, text  # the imported variant prices
        assert "M / Navy: $89.00, out of stock" in text, text  # 0 in stock, policy "deny"
        cards = [m["custom"] for m in data["messages"] if m.get("custom")]
        assert cards[0]["products"][0]["title"] == "Harbour Rain Jacket"

        data = await chat(client, "import-e2e-2", "what is your return policy?")
        text = "\n".join(m.get("text", "") for m in data["messages"])
        assert "45 days" in text, text
        assert "faq-what-is-your-return-policy" in [s["id"] for s in data["sources"]]
        assert data["handoff"] is False
    finally:
        await client.close()
        bot.conversations.close()
