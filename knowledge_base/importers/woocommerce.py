"""WooCommerce's product CSV export (Products > Export, the built-in exporter) as shopbot products.

One row per product or variation. Simple, external and grouped products become
products; a variable product becomes a product whose variants are its variation
rows (found by the "Parent" column: the parent's SKU, or ``id:123``). A product
is ``{id: SKU (else the WooCommerce ID), title: Name, price, category: the last
part of the first category path, description: short and long description as text,
attributes: visible attributes, tags, brands, weight and size..., variants,
in_stock}``. The price is the sale price while a sale runs (its dates, when given,
include today), else the regular price. Drafts, private, pending and hidden
products, disabled variations and variations of skipped products are skipped, and
the report says so.

What the exporter does to cells is undone here: newlines written as ``\\n``,
commas inside names escaped as ``\\,``, a leading ``'`` before ``= + - @``, and
prices with the store's decimal comma.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from knowledge_base.importers.html_text import html_to_text
from knowledge_base.importers.report import ImportReport, ImportResult
from knowledge_base.importers.tables import (
    Table,
    parse_price,
    read_table,
    require_columns,
    split_list,
)

FORMAT = "WooCommerce product CSV"
TYPES = ("simple", "variable", "variation", "grouped", "external")
# The exporter's "Published": -1 draft, 0 private (a variation: disabled), 1 published, 2 pending.
NOT_PUBLISHED = {"-1": "a draft", "0": "private", "2": "pending review"}
_SIZE_COLUMN = re.compile(r"^(Weight|Length|Width|Height) \((.+)\)$")
_ATTRIBUTE = re.compile(r"^Attribute (\d+) name$")
USED = {
    "ID", "Type", "SKU", "Name", "Published", "Visibility in catalog", "Short description",
    "Description", "Date sale price starts", "Date sale price ends", "In stock?", "Stock",
    "Sale price", "Regular price", "Categories", "Tags", "Parent", "Grouped products",
    "External URL", "Brands",
}  # fmt: skip
NOT_KEPT = {
    "Images": "shopbot's answers are text",
    "Purchase note": "it is shown after buying, not before",
    "Upsells": "shopbot does not recommend by these links yet",
    "Cross-sells": "shopbot does not recommend by these links yet",
}


class _Row:
    """One export row, its cells unescaped."""

    def __init__(self, number: int, row: dict[str, str]) -> None:
        self.number = number
        self.cells = {k: _unescape(v) for k, v in row.items()}
        self.id = self.get("ID")
        self.sku = self.get("SKU")
        self.name = self.get("Name")
        tokens = [t.lower() for t in split_list(self.get("Type"))]
        self.flags = set(tokens)
        self.type = next((t for t in tokens if t in TYPES), "")
        if not self.type and tokens:  # a plugin's type: "variable-subscription"...
            self.type = "variation" if tokens[0].endswith("variation") else (
                "variable" if tokens[0].startswith("variable") else "simple"
            )  # fmt: skip
        self.where = f"row {number}"

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    @property
    def label(self) -> str:
        key = self.sku or (f"id:{self.id}" if self.id else "")
        return (
            f"{self.type or 'product'} {key!r} ({self.name})"
            if key
            else f"{self.type} {self.name!r}"
        )


def read_woocommerce(path: Path, today: dt.date | None = None) -> ImportResult:
    """WooCommerce's product CSV export as store products, with the report of what was taken.

    ``today`` decides which sales are running (default: the real today).
    """
    table = read_table(path)
    require_columns(
        table,
        [("Type",), ("Name",), ("Regular price",), ("ID", "SKU")],
        "a WooCommerce product export",
    )
    today = today or dt.date.today()
    report = ImportReport(source=path.name, kind=FORMAT)
    rows = [_Row(n, r) for n, r in table.rows]
    attributes = sorted(int(m.group(1)) for h in table.header if (m := _ATTRIBUTE.match(h)))

    products: dict[str, dict[str, Any]] = {}  # by product id, in file order
    by_key: dict[str, tuple[_Row, dict[str, Any] | None]] = {}  # "id:N" and SKU -> row, product
    for row in rows:
        if row.type == "variation":
            continue
        product = _product(row, table, attributes, today, report, products)
        for key in (f"id:{row.id}" if row.id else "", row.sku):
            if key:
                by_key.setdefault(key, (row, product))
        if product is not None:
            products[product["id"]] = product

    for row in rows:
        if row.type == "variation":
            _attach_variation(row, attributes, today, report, by_key)
    for row in rows:
        if row.type == "grouped" and (found := by_key.get(f"id:{row.id}") or by_key.get(row.sku)):
            _group(found[1], row, by_key)

    for product in products.values():
        _finish(product, report)
    _explain_columns(table, report)
    report.sort_skipped()
    return ImportResult(report=report, products=list(products.values()))


def _product(
    row: _Row,
    table: Table,
    attributes: list[int],
    today: dt.date,
    report: ImportReport,
    taken: dict[str, dict[str, Any]],
) -> dict[str, Any] | None:
    if not row.type:
        report.skip(
            row.where, row.label, "no Type (simple, variable, variation, grouped, external)"
        )
        return None
    if not row.name:
        report.skip(row.where, row.label, "no Name")
        return None
    pid = row.sku or row.id
    if not pid:
        report.skip(row.where, row.label, "neither an ID nor a SKU")
        return None
    if (state := NOT_PUBLISHED.get(row.get("Published"))) is not None:
        report.skip(row.where, row.label, f"it is {state} (Published is {row.get('Published')})")
        return None
    if row.get("Visibility in catalog").lower() == "hidden":
        report.skip(row.where, row.label, "hidden from the catalog and search")
        return None
    if pid in taken:
        report.skip(row.where, row.label, f"a second product with id {pid!r}")
        return None
    try:
        price = _price(row, today)
    except ValueError as exc:
        report.skip(row.where, row.label, str(exc))
        return None

    product: dict[str, Any] = {"id": pid, "title": row.name, "_row": row.number}
    if price is not None:
        product["price"] = price
    paths = [
        [p.strip() for p in path.split(">") if p.strip()]
        for path in split_list(row.get("Categories"))
    ]
    paths = [p for p in paths if p]
    if paths:
        product["category"] = paths[0][-1]
    description = _description(row)
    if description:
        product["description"] = description
    attrs: dict[str, Any] = {}
    for i in attributes:
        name, values = (
            row.get(f"Attribute {i} name"),
            split_list(row.get(f"Attribute {i} value(s)")),
        )
        if name and values and row.get(f"Attribute {i} visible") != "0":
            attrs[name] = values[0] if len(values) == 1 else values
    if len(paths) > 1 or (paths and len(paths[0]) > 1):
        attrs["categories"] = [" > ".join(p) for p in paths]
    if tags := split_list(row.get("Tags")):
        attrs["tags"] = tags
    if brands := split_list(row.get("Brands")):
        attrs["brand"] = brands[0] if len(brands) == 1 else brands
    if row.type != "variable":
        for column in table.header:
            if (m := _SIZE_COLUMN.match(column)) and row.get(column):
                attrs[m.group(1).lower()] = f"{row.get(column)} {m.group(2)}"
    if "downloadable" in row.flags:
        attrs["downloadable"] = "yes"
    if row.type == "external" and row.get("External URL"):
        attrs["buy_at"] = row.get("External URL")
    if attrs:
        product["attributes"] = attrs
    if row.type == "variable":
        product["variants"] = []
    else:
        product["in_stock"] = _available(row)
    return product


def _attach_variation(
    row: _Row,
    attributes: list[int],
    today: dt.date,
    report: ImportReport,
    by_key: dict[str, tuple[_Row, dict[str, Any] | None]],
) -> None:
    parent_ref = row.get("Parent")
    found = by_key.get(parent_ref) if parent_ref else None
    if found is None and parent_ref.isdigit():
        found = by_key.get(f"id:{parent_ref}")
    if found is None:
        reason = f"its parent {parent_ref!r} is not in this file" if parent_ref else "no Parent"
        report.skip(row.where, row.label, reason)
        return
    parent_row, parent = found
    if parent is None:
        report.skip(row.where, row.label, f"its parent ({parent_row.where}) was skipped")
        return
    if "variants" not in parent:
        report.skip(
            row.where, row.label, f"its parent ({parent_row.where}) is not a variable product"
        )
        return
    if row.get("Published") in NOT_PUBLISHED:
        report.skip(row.where, row.label, "disabled in WooCommerce (Published is not 1)")
        return
    try:
        price = _price(row, today)
    except ValueError as exc:
        report.skip(row.where, row.label, str(exc))
        return
    options = {}
    for i in attributes:
        name, value = row.get(f"Attribute {i} name"), row.get(f"Attribute {i} value(s)")
        if name and value:  # an empty value is "any": the variation takes every value
            options[name] = value.replace("\\,", ",")
    vid = row.sku or row.id or f"{parent['id']}-{len(parent['variants']) + 1}"
    if any(v["id"] == vid for v in parent["variants"]):
        report.skip(row.where, row.label, f"a second variation with id {vid!r}")
        return
    parent["variants"].append(
        {"id": vid, "options": options, "price": price, "available": _available(row)}
    )


def _group(product: dict[str, Any] | None, row: _Row, by_key: dict[str, Any]) -> None:
    """A grouped product lists the products it groups (by their titles)."""
    if product is None:
        return
    titles = []
    for ref in split_list(row.get("Grouped products")):
        child = by_key.get(ref)
        if child is not None and child[1] is not None:
            titles.append(child[1]["title"])
    if titles:
        product.setdefault("attributes", {})["includes"] = titles


def _finish(product: dict[str, Any], report: ImportReport) -> None:
    number = product.pop("_row")
    variants = product.get("variants")
    if variants is not None:
        used = {name for v in variants for name in v["options"]}
        attrs = product.get("attributes", {})
        for name in used:
            attrs.pop(name, None)  # shown as the variants' options instead
        if not attrs:
            product.pop("attributes", None)
        prices = [v["price"] for v in variants if v["price"] is not None]
        if prices:
            product["price"] = min(prices)
        product["in_stock"] = any(v["available"] for v in variants)
        if not variants:
            del product["variants"]
            report.notes.append(
                f"row {number}: variable product {product['id']!r} has no variations in this file"
            )
    varied = variants and len({v["price"] for v in variants}) > 1
    price = (
        f", {'from ' if varied else ''}{product['price']:.2f}"
        if "price" in product
        else ", no price"
    )
    kinds = f"{len(variants)} variations" if variants else "no options"
    report.taken.append(
        f"row {number}: product {product['id']!r} ({product['title']}): {kinds}{price}"
    )
    report.count("products")
    report.count("variants", len(variants or []))


def _price(row: _Row, today: dt.date) -> float | None:
    try:
        regular = parse_price(row.get("Regular price"))
        sale = parse_price(row.get("Sale price"))
    except ValueError as exc:
        raise ValueError(f"a price is not a number ({exc})") from exc
    if sale is not None and _sale_runs(row, today):
        return sale
    return regular


def _sale_runs(row: _Row, today: dt.date) -> bool:
    start, end = _date(row.get("Date sale price starts")), _date(row.get("Date sale price ends"))
    return (start is None or start <= today) and (end is None or today <= end)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10]) if text.strip() else None
    except ValueError:
        return None


def _available(row: _Row) -> bool:
    """In stock or on backorder; without a stock status, some stock (or untracked)."""
    status = row.get("In stock?").lower()
    if status in ("1", "instock", "backorder", "onbackorder"):
        return True
    if status in ("0", "outofstock"):
        return False
    try:
        return float(row.get("Stock")) > 0
    except ValueError:
        return True  # stock not managed: it does not run out


def _description(row: _Row) -> str:
    parts = [row.get("Short description"), row.get("Description")]
    # WordPress content: a newline is a line break, a blank line a new paragraph.
    texts = [html_to_text(_newlines(p), keep_newlines=True) for p in parts if p]
    return "\n\n".join(t for t in texts if t)


def _newlines(text: str) -> str:
    """The exporter writes a newline as ``\\n`` and a literal ``\\n`` as ``\\\\n``."""
    return text.replace("\\\\n", "\0").replace("\\n", "\n").replace("\0", "\\n")


def _unescape(cell: str) -> str:
    """Undo the exporter's guard against spreadsheet formulas (a ``'`` before ``= + - @``)."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r":
        return cell[1:]
    return cell


def _explain_columns(table: Table, report: ImportReport) -> None:
    filled = [
        h
        for h in table.header
        if h not in USED
        and not _SIZE_COLUMN.match(h)
        and not h.startswith("Attribute ")
        and any(row.get(h) for _, row in table.rows)
    ]
    report.not_used += [f"{h}: {NOT_KEPT[h]}" for h in filled if h in NOT_KEPT]
    rest = [h for h in filled if h not in NOT_KEPT]
    if rest:
        report.not_used.append(f"columns {', '.join(rest)}: shopbot has no field for them")
