"""Shopify's product CSV export (Products > Export) as shopbot products.

Rows sharing a Handle are one product: the first row carries the title, the
description and the option names, the rows after it one more variant each (or
only an image, which shopbot has no use for). A product is
``{id: handle, title, price: its lowest variant price, category: Type (else the
last part of Product Category), description: Body (HTML) as text, attributes:
vendor, tags..., variants: [{id: SKU or handle-N, options, price, available}],
in_stock}``. A single-variant product (option "Title" = "Default Title") has no
options, so it gets no variants list: its price and stock are the product's.
Draft and archived products, and those hidden from the online store, are skipped
and the report says so. Shopify's 2024 export renamed some columns ("URL handle",
"Description", "SKU", "Price"...); both spellings are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge_base.importers.html_text import html_to_text
from knowledge_base.importers.report import ImportReport, ImportResult, rows_label
from knowledge_base.importers.tables import (
    Table,
    parse_price,
    read_table,
    require_columns,
    split_list,
    true_cell,
)

FORMAT = "Shopify product CSV"

# The column names of the classic export first, then the 2024 export's.
COLUMNS: dict[str, tuple[str, ...]] = {
    "Handle": ("Handle", "URL handle"),
    "Title": ("Title",),
    "Body (HTML)": ("Body (HTML)", "Description"),
    "Vendor": ("Vendor",),
    "Product Category": ("Product Category",),
    "Type": ("Type",),
    "Tags": ("Tags",),
    "Published": ("Published", "Published on online store"),
    "Status": ("Status",),
    "Option1 Name": ("Option1 Name",),
    "Option1 Value": ("Option1 Value",),
    "Option2 Name": ("Option2 Name",),
    "Option2 Value": ("Option2 Value",),
    "Option3 Name": ("Option3 Name",),
    "Option3 Value": ("Option3 Value",),
    "Variant SKU": ("Variant SKU", "SKU"),
    "Variant Price": ("Variant Price", "Price"),
    "Variant Inventory Tracker": ("Variant Inventory Tracker", "Inventory tracker"),
    "Variant Inventory Qty": ("Variant Inventory Qty", "Inventory quantity"),
    "Variant Inventory Policy": (
        "Variant Inventory Policy",
        "Continue selling when out of stock",
    ),
    "Gift Card": ("Gift Card",),
}
OPTIONS = [(f"Option{i} Name", f"Option{i} Value") for i in (1, 2, 3)]
# Why some columns shopbot does not keep are left out, for the report.
NOT_KEPT = {
    "Variant Compare At Price": "shopbot states the current price only",
    "Compare-at price": "shopbot states the current price only",
    "Cost per item": "your cost is not for customers",
}


class _Columns:
    """The export's spelling of each column shopbot reads."""

    def __init__(self, table: Table) -> None:
        self.names = {key: table.column(*names) for key, names in COLUMNS.items()}

    def has(self, key: str) -> bool:
        return self.names[key] is not None

    def get(self, row: dict[str, str], key: str) -> str:
        name = self.names[key]
        return row.get(name, "") if name else ""


def read_shopify(path: Path) -> ImportResult:
    """Shopify's product CSV export as store products, with the report of what was taken."""
    table = read_table(path)
    require_columns(
        table,
        [COLUMNS["Handle"], COLUMNS["Title"], COLUMNS["Variant Price"]],
        "a Shopify product export",
    )
    cols = _Columns(table)
    report = ImportReport(source=path.name, kind=FORMAT)
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, row in table.rows:
        handle = cols.get(row, "Handle")
        if not handle:
            report.skip(
                f"row {number}", "a row", "no Handle (every row of a product starts with it)"
            )
            continue
        groups.setdefault(handle, []).append((number, row))

    products = []
    for handle, rows in groups.items():
        product = _product(handle, rows, cols, report)
        if product is not None:
            products.append(product)
    _explain_columns(table, cols, report)
    return ImportResult(report=report, products=products)


def _product(
    handle: str, rows: list[tuple[int, dict[str, str]]], cols: _Columns, report: ImportReport
) -> dict[str, Any] | None:
    where = rows_label([n for n, _ in rows])
    first = next((row for _, row in rows if cols.get(row, "Title")), rows[0][1])
    title = cols.get(first, "Title")
    if not title:
        report.skip(where, f"product {handle!r}", "no Title on any of its rows")
        return None
    label = f"product {handle!r} ({title})"
    status = cols.get(first, "Status").lower()
    if status in ("draft", "archived"):
        report.skip(where, label, f"its Status is {status}")
        return None
    if true_cell(cols.get(first, "Published")) is False:
        report.skip(where, label, "hidden from the online store (Published is FALSE)")
        return None

    option_names = [cols.get(first, name) for name, _ in OPTIONS]
    variants: list[dict[str, Any]] = []
    for i, (number, row) in enumerate(rows):
        if i and not _is_variant_row(row, cols):
            continue  # an image row
        variant = _variant(handle, number, row, option_names, cols, report, variants)
        if variant is not None:
            variants.append(variant)

    product: dict[str, Any] = {"id": handle, "title": title}
    prices = [v["price"] for v in variants if v["price"] is not None]
    if prices:
        product["price"] = min(prices)
    path = [p.strip() for p in cols.get(first, "Product Category").split(">") if p.strip()]
    category = cols.get(first, "Type") or (path[-1] if path else "")
    if category:
        product["category"] = category
    description = html_to_text(cols.get(first, "Body (HTML)"))
    if description:
        product["description"] = description
    attributes: dict[str, Any] = {}
    if vendor := cols.get(first, "Vendor"):
        attributes["vendor"] = vendor
    if tags := split_list(cols.get(first, "Tags")):
        attributes["tags"] = tags
    if path and " > ".join(path) != category:
        attributes["product_category"] = " > ".join(path)
    if true_cell(cols.get(first, "Gift Card")):
        attributes["gift_card"] = "yes"

    if len(variants) == 1 and not variants[0]["options"]:
        # "Default Title": one variant and no options; the product is the variant.
        only = variants.pop()
        if only["sku"]:
            attributes["sku"] = only["sku"]
        product["in_stock"] = only["available"]
    elif variants:
        product["in_stock"] = any(v["available"] for v in variants)
    for v in variants:
        del v["sku"]
    if attributes:
        product["attributes"] = attributes
    if variants:
        product["variants"] = variants
    elif not prices:
        report.notes.append(f"{where}: {label} has no price")

    price = ""
    if prices:
        price = f", {'from ' if len(set(prices)) > 1 else ''}{min(prices):.2f}"
    kinds = f"{len(variants)} variants" if variants else "no options"
    report.taken.append(f"{where}: {label}: {kinds}{price}")
    report.count("products")
    report.count("variants", len(variants))
    return product


def _is_variant_row(row: dict[str, str], cols: _Columns) -> bool:
    return any(cols.get(row, key) for key in ("Option1 Value", "Variant SKU", "Variant Price"))


def _variant(
    handle: str,
    number: int,
    row: dict[str, str],
    option_names: list[str],
    cols: _Columns,
    report: ImportReport,
    taken: list[dict[str, Any]],
) -> dict[str, Any] | None:
    options = {}
    for name, (_, value_key) in zip(option_names, OPTIONS, strict=True):
        value = cols.get(row, value_key)
        if name and value and not (name == "Title" and value == "Default Title"):
            options[name] = value
    raw_price = cols.get(row, "Variant Price")
    try:
        price = parse_price(raw_price)
    except ValueError:
        report.skip(
            f"row {number}",
            f"a variant of {handle!r}",
            f"Variant Price {raw_price!r} is not a number",
        )
        return None
    if any(v["options"] == options for v in taken):
        shown = " / ".join(options.values()) or "no options"
        report.skip(f"row {number}", f"a variant of {handle!r}", f"a second variant {shown}")
        return None
    sku = cols.get(row, "Variant SKU")
    vid = sku or f"{handle}-{len(taken) + 1}"
    if any(v["id"] == vid for v in taken):
        vid = f"{vid}-{len(taken) + 1}"
        report.notes.append(
            f"row {number}: SKU {sku!r} is used twice in {handle!r}; this one is {vid!r}"
        )
    return {
        "id": vid,
        "options": options,
        "price": price,
        "available": _available(row, cols),
        "sku": sku,
    }


def _available(row: dict[str, str], cols: _Columns) -> bool:
    """Buyable: stock not tracked, selling on when out of stock, or some stock left."""
    policy = cols.get(row, "Variant Inventory Policy").lower()
    if policy == "continue" or true_cell(policy):
        return True
    if cols.has("Variant Inventory Tracker") and not cols.get(row, "Variant Inventory Tracker"):
        return True  # Shopify does not track this variant's stock: it never runs out
    quantity = cols.get(row, "Variant Inventory Qty")
    if not quantity:
        return True  # not exported (a store with several locations): unknown, so buyable
    try:
        return float(quantity) > 0
    except ValueError:
        return True


def _explain_columns(table: Table, cols: _Columns, report: ImportReport) -> None:
    if not cols.has("Status"):
        report.notes.append(
            "no Status column (an older export): drafts cannot be told apart; products hidden "
            "from the online store (Published FALSE) were skipped"
        )
    if not cols.has("Variant Inventory Qty") and not cols.has("Variant Inventory Policy"):
        report.notes.append(
            "no inventory columns (Shopify leaves them out for stores with several locations): "
            "every variant is taken as available"
        )
    used = {name for name in cols.names.values() if name}
    filled = [h for h in table.header if h not in used and any(row.get(h) for _, row in table.rows)]
    reasons = [f"{h}: {NOT_KEPT[h]}" for h in filled if h in NOT_KEPT]
    rest = [h for h in filled if h not in NOT_KEPT]
    report.not_used += reasons
    if rest:
        report.not_used.append(f"columns {', '.join(rest)}: shopbot has no field for them")
