"""Loading a store directory: formats, docs splitting, and errors a merchant can act on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base.pages import CHUNK_CHARS
from knowledge_base.store import load_store
from knowledge_base.store_files import StoreError, slugify

TEE = {
    "id": "TS-1",
    "title": "Organic Cotton T-Shirt",
    "price": 19.5,
    "category": "Apparel",
    "description": "A soft everyday tee.",
    "attributes": {"material": "organic cotton"},
    "variants": [
        {
            "id": "TS-1-S",
            "options": {"size": "S", "color": "red"},
            "price": 19.5,
            "available": True,
        },
        {"id": "TS-1-L", "options": {"size": "L", "color": "red"}, "price": 21, "available": False},
    ],
    "brand": "Acme",
}
MUG = {"id": 2, "title": "Enamel Mug", "price": 12, "in_stock": False}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_store(root: Path, products: list | None = None, faq: list | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if products is not None:
        write_jsonl(root / "products.jsonl", products)
    if faq is not None:
        write_jsonl(root / "faq.jsonl", faq)
    return root


def store_error(root: Path) -> str:
    with pytest.raises(StoreError) as info:
        load_store(root)
    return str(info.value)


def test_jsonl_store_loads_products_faqs_and_settings(tmp_path: Path) -> None:
    root = make_store(
        tmp_path / "shop",
        products=[TEE, MUG],
        faq=[
            {
                "id": "returns",
                "question": "Can I return an item?",
                "answer": "Yes, within 30 days.",
            },
            {
                "question": "Do you ship abroad?",
                "answer": "To the EU and UK.",
                "category": "shipping",
            },
        ],
    )
    (root / "store.toml").write_text(
        'name = "Acme Goods"\ncurrency = "eur"\n[shopbot]\nport = 9000\n'
    )
    (root / "orders.jsonl").write_text("")

    store = load_store(root)

    assert store.settings.name == "Acme Goods"
    assert store.settings.currency == "EUR"
    assert store.settings.language == "en"
    assert store.settings.raw["shopbot"]["port"] == 9000
    assert "Acme Goods" in store.settings.greeting and store.settings.handoff_text
    tee, mug = store.products
    assert tee.attributes == {"material": "organic cotton", "brand": "Acme"}
    assert [v.id for v in tee.variants] == ["TS-1-S", "TS-1-L"]
    assert tee.variants[0].options == {"size": "S", "color": "red"}
    assert tee.in_stock is True  # one variant is available
    assert mug.id == "2" and mug.in_stock is False and mug.price == 12.0
    assert [f.id for f in store.faqs] == ["returns", "faq-do-you-ship-abroad"]
    assert store.orders_path == root / "orders.jsonl"
    assert store.customers_path is None
    assert set(store.input_files) == {
        root / "store.toml",
        root / "products.jsonl",
        root / "faq.jsonl",
    }


def test_csv_store_turns_unknown_columns_into_attributes(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    root.mkdir()
    variants = json.dumps([{"id": "B-1-42", "options": {"size": 42}, "available": True}])
    (root / "products.csv").write_text(
        "id,title,price,category,brand,in_stock,variants\n"
        f'B-1,Trail Running Shoe,89.90,Shoes,Northway,yes,"{variants.replace(chr(34), chr(34) * 2)}"\n'
        "B-2,Shoe Laces,,Accessories,,no,\n",
        encoding="utf-8",
    )
    (root / "faq.csv").write_text(
        'question,answer\n"How long does delivery take?","3 to 5 business days."\n',
        encoding="utf-8",
    )

    store = load_store(root)

    shoe, laces = store.products
    assert shoe.price == 89.9 and shoe.category == "Shoes"
    assert shoe.attributes == {"brand": "Northway"}
    assert shoe.variants[0].options == {"size": "42"} and shoe.variants[0].price is None
    assert laces.price is None and laces.in_stock is False and laces.attributes == {}
    assert store.faqs[0].id == "faq-how-long-does-delivery-take"
    assert store.settings.currency == "USD"  # no store.toml: defaults


def test_docs_are_split_at_headings_into_passages(tmp_path: Path) -> None:
    root = make_store(tmp_path / "shop", faq=[{"question": "Q?", "answer": "A."}])
    (root / "docs").mkdir()
    long_section = "\n\n".join(f"Paragraph {i}. " + "Returns are easy. " * 12 for i in range(16))
    (root / "docs" / "returns.md").write_text(
        "# Returns policy\n\nWe want you to be happy.\n\n"
        "## Refund timing\n\nRefunds take 5 to 7 business days.\n\n"
        "## Empty section\n\n"
        "### Exchanges & swaps\n\n```\n# not a heading\n```\nSwap any size.\n\n"
        f"## The fine print\n\n{long_section}\n",
        encoding="utf-8",
    )

    passages = load_store(root).passages
    ids = [p.id for p in passages]

    assert ids[:3] == [
        "doc:returns#returns-policy",
        "doc:returns#refund-timing",
        "doc:returns#exchanges-swaps",
    ]
    assert "doc:returns#empty-section" not in ids
    fine_print = [p for p in passages if p.id.startswith("doc:returns#the-fine-print")]
    assert [p.id for p in fine_print][:3] == [
        "doc:returns#the-fine-print",
        "doc:returns#the-fine-print-2",
        "doc:returns#the-fine-print-3",
    ]
    assert all(len(p.text) <= CHUNK_CHARS for p in fine_print)
    refund = passages[1]
    assert refund.title == "Returns policy — Refund timing"
    assert refund.text == "Refunds take 5 to 7 business days."
    assert refund.source == "docs/returns.md"
    assert passages[0].title == "Returns policy"
    assert "# not a heading" in passages[2].text


def test_slug_lowercases_and_joins_words_with_dashes() -> None:
    assert slugify("  Refund timing (EU & UK)! ") == "refund-timing-eu-uk"


def test_documents_describe_products_faqs_and_passages(tmp_path: Path) -> None:
    root = make_store(
        tmp_path / "shop",
        products=[TEE],
        faq=[{"id": "returns", "question": "Can I return it?", "answer": "Within 30 days."}],
    )
    (root / "docs").mkdir()
    (root / "docs" / "shipping.md").write_text("## Costs\n\nFree over $50.\n")

    docs = {d.id: d for d in load_store(root).documents()}

    product = docs["product:TS-1"]
    assert product.type == "product"
    assert "Organic Cotton T-Shirt" in product.text and "organic cotton" in product.text
    assert "$19.50 to $21" in product.answer and "In stock" in product.answer
    assert "L / red ($21, sold out)" in product.answer
    assert product.meta == {
        "product_id": "TS-1",
        "category": "Apparel",
        "price_min": 19.5,
        "price_max": 21.0,
        "in_stock": True,
    }
    faq = docs["returns"]
    assert (faq.type, faq.text, faq.answer) == (
        "faq",
        "Can I return it?\nWithin 30 days.",
        "Within 30 days.",
    )
    passage = docs["doc:shipping#costs"]
    assert passage.title == "Shipping — Costs" and passage.answer == "Free over $50."


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": "X", "title": "Broken" "price": 3}', ["products.jsonl line 3", "not valid JSON"]),
        ('{"id": "X", "price": 3}', ["products.jsonl line 3", "field 'title'", "required"]),
        (
            '{"id": "X", "title": "Hat", "price": "abc"}',
            ["products.jsonl line 3: field 'price' must be a number, got \"abc\""],
        ),
        (
            '{"id": "TS-1", "title": "Again"}',
            ["products.jsonl line 3", "field 'id'", "duplicate", "line 1"],
        ),
        ('{"id": "X", "title": "Hat", "price": -1}', ["line 3", "field 'price'", "0 or more"]),
        (
            '{"id": "X", "title": "Hat", "variants": [{"id": "V", "available": "maybe"}]}',
            ["line 3", "field 'variants[0].available'", "true or false"],
        ),
        (
            '{"id": "X", "title": "Hat", "variants": {"id": "V"}}',
            ["line 3", "field 'variants'", "list"],
        ),
        ('["X", "Hat"]', ["line 3", "JSON object"]),
    ],
    ids=[
        "malformed-json",
        "missing-title",
        "price-not-number",
        "duplicate-id",
        "negative-price",
        "variant-available-not-bool",
        "variants-not-list",
        "not-an-object",
    ],
)
def test_bad_product_line_names_file_line_and_field(
    tmp_path: Path, line: str, expected: list[str]
) -> None:
    root = make_store(tmp_path / "shop")
    (root / "products.jsonl").write_text(f"{json.dumps(TEE)}\n\n{line}\n", encoding="utf-8")

    message = store_error(root)

    for part in expected:
        assert part in message
    assert message.count(". ") >= 1  # carries a hint after the problem


def test_bad_csv_row_names_its_line(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "products.csv").write_text(
        'id,title,price\nA,"Multi\nline title",3\nB,Hat,abc\n', encoding="utf-8"
    )
    assert "products.csv line 4: field 'price' must be a number, got \"abc\"" in store_error(root)


def test_csv_missing_required_column_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "faq.csv").write_text("question,category\nWhy?,misc\n", encoding="utf-8")
    assert "faq.csv line 1: missing required column 'answer'" in store_error(root)


def test_bad_faq_lines_name_file_line_and_field(tmp_path: Path) -> None:
    root = make_store(tmp_path / "a", faq=[{"question": "Why?", "answer": ""}])
    assert "faq.jsonl line 1: field 'answer' is required" in store_error(root)
    root = make_store(
        tmp_path / "b",
        faq=[
            {"id": "x", "question": "A?", "answer": "a"},
            {"id": "x", "question": "B?", "answer": "b"},
        ],
    )
    assert "faq.jsonl line 2: field 'id'" in store_error(root)


def test_store_needs_a_directory_and_products_or_faq(tmp_path: Path) -> None:
    assert "not found" in store_error(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    message = store_error(tmp_path / "empty")
    assert "products.jsonl" in message and "faq.jsonl" in message


def test_two_formats_of_one_file_are_ambiguous(tmp_path: Path) -> None:
    root = make_store(tmp_path / "shop", products=[MUG])
    (root / "products.csv").write_text("id,title\n1,Hat\n")
    assert "both products.jsonl and products.csv" in store_error(root)


def test_invalid_store_toml_names_the_line(tmp_path: Path) -> None:
    root = make_store(tmp_path / "shop", products=[MUG])
    (root / "store.toml").write_text('name = "Acme"\ncurrency = \n')
    message = store_error(root)
    assert message.startswith("store.toml") and "line 2" in message
