"""The catalogue: ``Product`` and ``Variant``, read from ``products.jsonl`` or ``products.csv``.

Unknown columns become attributes, ``variants`` may be a JSON cell in a CSV,
and a product without a price of its own costs its cheapest variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge_base.store_files import (
    StoreError,
    bool_field,
    json_cell,
    optional_text,
    price_field,
    read_records,
    required_id,
    required_text,
    show,
)

_PRODUCT_FIELDS = {
    "id",
    "title",
    "price",
    "category",
    "description",
    "attributes",
    "variants",
    "in_stock",
}


@dataclass
class Variant:
    """One buyable version of a product (a size, a colour...)."""

    id: str
    options: dict[str, str]
    price: float | None  # None: same as the product's price
    available: bool


@dataclass
class Product:
    """A catalogue item.

    ``price`` is the listed price; when the file gives none it is the lowest
    variant price, so a product with priced variants always has a price.
    """

    id: str
    title: str
    price: float | None
    category: str
    description: str
    attributes: dict
    variants: list[Variant]
    in_stock: bool

    def price_range(self) -> tuple[float | None, float | None]:
        """Lowest and highest price over the product and its variants."""
        prices = [v.price if v.price is not None else self.price for v in self.variants]
        prices = [p for p in prices if p is not None]
        if not prices and self.price is not None:
            prices = [self.price]
        if not prices:
            return None, None
        return min(prices), max(prices)


def load_products(path: Path) -> list[Product]:
    """The products of ``products.jsonl`` or ``products.csv``; ids must be unique."""
    name = path.name
    products: list[Product] = []
    seen: dict[str, int] = {}
    for line, row in read_records(path):
        product = _parse_product(row, name, line, from_csv=path.suffix == ".csv")
        if product.id in seen:
            raise StoreError(
                name,
                f"field 'id': duplicate product id {show(product.id)} (first used on line {seen[product.id]})",
                line=line,
                field="id",
                hint="Every product needs its own id",
            )
        seen[product.id] = line
        products.append(product)
    return products


def _parse_product(row: dict[str, Any], file: str, line: int, from_csv: bool) -> Product:
    def err(field_: str, message: str, hint: str = "") -> StoreError:
        return StoreError(file, f"field '{field_}' {message}", line=line, field=field_, hint=hint)

    pid = required_id(row, "id", err, "Give every product a unique id, e.g. SKU-123")
    title = required_text(row, "title", err, "Give every product a title")
    price = price_field(row.get("price"), "price", err)
    category = optional_text(row, "category", err)
    description = optional_text(row, "description", err)

    attributes = row.get("attributes")
    if from_csv and isinstance(attributes, str):
        attributes = json_cell(attributes, "attributes", err, '{"material": "cotton"}')
    if attributes in (None, ""):
        attributes = {}
    if not isinstance(attributes, dict):
        raise err(
            "attributes",
            f"must be an object, got {show(attributes)}",
            'Write it like {"material": "cotton"}',
        )
    # Unknown columns/keys are attributes too (brand, material...): merchants
    # export whatever their shop system has, and it is all useful to search.
    for key, value in row.items():
        if key in _PRODUCT_FIELDS or key is None or value in (None, ""):
            continue
        attributes.setdefault(str(key), value)

    raw_variants = row.get("variants")
    if from_csv and isinstance(raw_variants, str):
        raw_variants = json_cell(
            raw_variants,
            "variants",
            err,
            '[{"id": "V1", "options": {"size": "M"}, "available": true}]',
        )
    if raw_variants in (None, ""):
        raw_variants = []
    if not isinstance(raw_variants, list):
        raise err(
            "variants",
            f"must be a list, got {show(raw_variants)}",
            'Write it like [{"id": "V1", "options": {"size": "M"}, "price": 10, "available": true}]',
        )
    variants: list[Variant] = []
    variant_ids: set[str] = set()
    for i, raw in enumerate(raw_variants):
        variant = _parse_variant(raw, i, err)
        if variant.id in variant_ids:
            raise err(
                f"variants[{i}].id",
                f"duplicate variant id {show(variant.id)}",
                "Every variant of a product needs its own id",
            )
        variant_ids.add(variant.id)
        variants.append(variant)

    in_stock = bool_field(row.get("in_stock"), "in_stock", err, default=True)
    if variants:
        # A product with variants is buyable only if some variant is.
        in_stock = in_stock and any(v.available for v in variants)
    if price is None:
        variant_prices = [v.price for v in variants if v.price is not None]
        price = min(variant_prices) if variant_prices else None
    return Product(pid, title, price, category, description, attributes, variants, in_stock)


def _parse_variant(raw: Any, i: int, err: Any) -> Variant:
    where = f"variants[{i}]"
    if not isinstance(raw, dict):
        raise err(where, f"must be an object, got {show(raw)}", 'Write it like {"id": "V1", ...}')
    vid = required_id(
        raw, "id", lambda f, m, h="": err(f"{where}.{f}", m, h), "Give every variant an id"
    )
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise err(
            f"{where}.options",
            f"must be an object, got {show(options)}",
            'Write it like {"size": "M"}',
        )
    bad = [k for k, v in options.items() if isinstance(v, dict | list) or v is None]
    if bad:
        raise err(
            f"{where}.options.{bad[0]}",
            "must be a text or number value",
            'Write options like {"size": "M"}',
        )
    price = price_field(raw.get("price"), f"{where}.price", err)
    available = bool_field(raw.get("available"), f"{where}.available", err, default=True)
    return Variant(vid, {str(k): str(v) for k, v in options.items()}, price, available)
