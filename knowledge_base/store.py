"""A merchant's store directory, loaded and validated.

``load_store(path)`` reads ``store.toml``, the products and FAQ files (JSONL or
CSV) and ``docs/*.md`` into plain dataclasses, and ``Store.documents()`` turns
them into the ``Document`` objects the knowledge index embeds and searches.

Bad data raises ``StoreError`` naming the file, the line and the field, with a
hint on what to change, because the person reading it is a merchant fixing a
spreadsheet export, not a developer reading a traceback.

Orders and customers are not loaded here (``bot/storage/orders.py`` owns them); their
paths are recorded on the ``Store`` so other modules find them in one place.
"""

from __future__ import annotations

import csv
import json
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Sections longer than this are split into chunks of about this size: the
# embedding model only reads the first ~256 word pieces of a text, and a
# shorter passage is also a tighter source to quote.
CHUNK_CHARS = 1200

_TRUE = {"true", "yes", "y", "1", "in stock", "available"}
_FALSE = {"false", "no", "n", "0", "out of stock", "unavailable", "sold out"}
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
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


class StoreError(ValueError):
    """Bad store data; the message names the file, the line and the field."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str = "",
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = file if line is None else f"{file} line {line}"
        text = f"{where}: {message}"
        if hint:
            text += f". {hint}"
        super().__init__(text)


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


@dataclass
class FAQ:
    """A question the merchant has already answered."""

    id: str
    question: str
    answer: str
    category: str


@dataclass
class Passage:
    """A section of one of the store's pages (``docs/*.md``), split at headings."""

    id: str  # "doc:<file-stem>#<heading-slug>", e.g. "doc:returns#refund-timing"
    title: str  # "Page title — Heading"
    text: str
    source: str  # path relative to the store, e.g. "docs/returns.md"


def passage_heading(title: str) -> str:
    """The heading of a passage title ("Page title — Heading" -> "Heading")."""
    return re.split(r"\s+[—–-]\s+", title)[-1].strip()


@dataclass
class StoreSettings:
    """The ``store.toml`` values the bot speaks with."""

    name: str = "Our store"
    currency: str = "USD"
    language: str = "en"
    greeting: str = ""
    handoff_text: str = ""
    # How to reach the store when no one can answer in the chat (no agent inbox).
    contact_text: str = ""
    raw: dict = field(default_factory=dict)  # the whole toml, for other modules' keys


@dataclass
class Document:
    """One searchable unit: an FAQ, a product or a passage."""

    id: str
    type: str  # "faq" | "product" | "passage"
    title: str
    text: str  # what is embedded and indexed
    answer: str  # what the bot may quote
    meta: dict

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (one line of ``docs.jsonl``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """The inverse of ``to_dict``."""
        return cls(**{k: data[k] for k in ("id", "type", "title", "text", "answer", "meta")})


@dataclass
class Store:
    """Everything in a store directory that the knowledge base needs."""

    path: Path
    settings: StoreSettings
    products: list[Product]
    faqs: list[FAQ]
    passages: list[Passage]
    input_files: list[Path]  # every file the artifacts depend on (for change detection)
    orders_path: Path | None = None
    customers_path: Path | None = None
    intents_path: Path | None = None

    def product(self, product_id: str) -> Product | None:
        """The product with this id (without the ``product:`` prefix), if any."""
        for p in self.products:
            if p.id == product_id:
                return p
        return None

    def documents(self) -> list[Document]:
        """What gets indexed: FAQs, then products, then passages."""
        docs = [
            Document(
                id=f.id,
                type="faq",
                title=f.question,
                text=f"{f.question}\n{f.answer}",
                answer=f.answer,
                meta={"category": f.category},
            )
            for f in self.faqs
        ]
        docs += [_product_document(p, self.settings.currency) for p in self.products]
        docs += [
            Document(
                id=p.id,
                type="passage",
                title=p.title,
                text=f"{p.title}\n{p.text}",
                answer=p.text,
                meta={"source": p.source},
            )
            for p in self.passages
        ]
        return docs


def format_price(amount: float, currency: str = "USD") -> str:
    """``$19.99``, ``€5``, or ``19.99 CHF`` for currencies without a known symbol."""
    text = f"{amount:,.2f}"
    if text.endswith(".00"):
        text = text[:-3]
    symbol = _CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def slugify(text: str) -> str:
    """Lowercase; runs of non-alphanumerics become ``-``; ends stripped."""
    return re.sub(r"[\W_]+", "-", text.lower()).strip("-")


def load_store(path: str | Path) -> Store:
    """Load and validate the store directory at ``path``.

    Raises ``StoreError`` (a ``ValueError``) on any bad data, naming the file,
    the line and the field.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise StoreError(
            str(root),
            "store directory not found",
            hint="Pass --store with a folder that holds products.jsonl/.csv and/or faq.jsonl/.csv",
        )
    inputs: list[Path] = []

    settings = StoreSettings(name=root.resolve().name.replace("_", " ").replace("-", " ").title())
    toml_path = root / "store.toml"
    if toml_path.is_file():
        inputs.append(toml_path)
        settings = _load_settings(toml_path, default_name=settings.name)
    _fill_setting_defaults(settings)

    products_path = _pick(root, "products")
    faq_path = _pick(root, "faq")
    if products_path is None and faq_path is None and not any((root / "docs").glob("*.md")):
        raise StoreError(
            str(root),
            "no products, FAQ or docs found",
            hint="Add products.jsonl (or products.csv), faq.jsonl (or faq.csv) and/or "
            "docs/*.md pages to the store",
        )
    products: list[Product] = []
    faqs: list[FAQ] = []
    if products_path is not None:
        inputs.append(products_path)
        products = _load_products(products_path)
    if faq_path is not None:
        inputs.append(faq_path)
        faqs = _load_faqs(faq_path)

    passages: list[Passage] = []
    docs_dir = root / "docs"
    if docs_dir.is_dir():
        used: set[str] = set()
        for md in sorted(docs_dir.glob("*.md")):
            inputs.append(md)
            passages += split_markdown(
                _read_text(md, f"docs/{md.name}"), md.stem, f"docs/{md.name}", used
            )

    intents_path = root / "intents.csv"
    if intents_path.is_file():
        inputs.append(intents_path)  # the intent model is trained on it

    if not (products or faqs or passages):
        raise StoreError(
            str(root),
            "the store has no products, FAQs or docs",
            hint="Add at least one product, FAQ line or docs page with text",
        )

    orders = root / "orders.jsonl"
    customers = root / "customers.jsonl"
    return Store(
        path=root,
        settings=settings,
        products=products,
        faqs=faqs,
        passages=passages,
        input_files=inputs,
        orders_path=orders if orders.is_file() else None,
        customers_path=customers if customers.is_file() else None,
        intents_path=intents_path if intents_path.is_file() else None,
    )


# --- settings -----------------------------------------------------------------


def _load_settings(path: Path, default_name: str) -> StoreSettings:
    try:
        raw = tomllib.loads(_read_text(path, "store.toml"))
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already says "(at line N, column M)".
        raise StoreError(
            "store.toml", f"not valid TOML: {exc}", hint='Check quotes and `key = "value"` lines'
        ) from exc
    # Keys may sit at the top level or in a [store] table.
    table = {**raw.get("store", {}), **raw} if isinstance(raw.get("store"), dict) else raw
    values: dict[str, str] = {}
    for key in ("name", "currency", "language", "greeting", "handoff_text", "contact_text"):
        if key not in table:
            continue
        value = table[key]
        if not isinstance(value, str):
            raise StoreError(
                "store.toml",
                f"field '{key}' must be a string, got {_show(value)}",
                field=key,
                hint=f'Write it in quotes: {key} = "..."',
            )
        values[key] = value.strip()
    settings = StoreSettings(
        name=values.get("name") or default_name,
        currency=(values.get("currency") or "USD").upper(),
        language=values.get("language") or "en",
        greeting=values.get("greeting", ""),
        handoff_text=values.get("handoff_text", ""),
        # "contact" is accepted as a shorter spelling of the same key.
        contact_text=values.get("contact_text") or _contact(table),
        raw=raw,
    )
    return settings


def _contact(table: dict) -> str:
    """The optional ``contact`` key (a string), checked like the other settings."""
    value = table.get("contact", "")
    if not isinstance(value, str):
        raise StoreError(
            "store.toml",
            f"field 'contact' must be a string, got {_show(value)}",
            field="contact",
            hint='Write it in quotes: contact = "..."',
        )
    return value.strip()


def _fill_setting_defaults(settings: StoreSettings) -> None:
    if not settings.greeting:
        settings.greeting = (
            f"Hi! I'm the {settings.name} assistant. Ask me about products, "
            "orders, shipping or returns."
        )
    if not settings.contact_text:
        settings.contact_text = (
            f"Please contact {settings.name} directly through the contact details on our website."
        )
    if not settings.handoff_text:
        settings.handoff_text = "I'm passing this to a member of our team; they will get back to you as soon as they can."


# --- products -----------------------------------------------------------------


def _pick(root: Path, stem: str) -> Path | None:
    """``<stem>.jsonl`` or ``<stem>.csv``; both at once is ambiguous, so an error."""
    jsonl, csv_ = root / f"{stem}.jsonl", root / f"{stem}.csv"
    if jsonl.is_file() and csv_.is_file():
        raise StoreError(
            f"{stem}.jsonl",
            f"both {stem}.jsonl and {stem}.csv exist",
            hint="Keep one of them so it is clear which is current",
        )
    if jsonl.is_file():
        return jsonl
    if csv_.is_file():
        return csv_
    return None


def _load_products(path: Path) -> list[Product]:
    name = path.name
    products: list[Product] = []
    seen: dict[str, int] = {}
    for line, row in _records(path):
        product = _parse_product(row, name, line, from_csv=path.suffix == ".csv")
        if product.id in seen:
            raise StoreError(
                name,
                f"field 'id': duplicate product id {_show(product.id)} (first used on line {seen[product.id]})",
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

    pid = _required_id(row, "id", err, "Give every product a unique id, e.g. SKU-123")
    title = _required_text(row, "title", err, "Give every product a title")
    price = _price(row.get("price"), "price", err)
    category = _optional_text(row, "category", err)
    description = _optional_text(row, "description", err)

    attributes = row.get("attributes")
    if from_csv and isinstance(attributes, str):
        attributes = _json_cell(attributes, "attributes", err, '{"material": "cotton"}')
    if attributes in (None, ""):
        attributes = {}
    if not isinstance(attributes, dict):
        raise err(
            "attributes",
            f"must be an object, got {_show(attributes)}",
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
        raw_variants = _json_cell(
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
            f"must be a list, got {_show(raw_variants)}",
            'Write it like [{"id": "V1", "options": {"size": "M"}, "price": 10, "available": true}]',
        )
    variants: list[Variant] = []
    variant_ids: set[str] = set()
    for i, raw in enumerate(raw_variants):
        variant = _parse_variant(raw, i, err)
        if variant.id in variant_ids:
            raise err(
                f"variants[{i}].id",
                f"duplicate variant id {_show(variant.id)}",
                "Every variant of a product needs its own id",
            )
        variant_ids.add(variant.id)
        variants.append(variant)

    in_stock = _bool(row.get("in_stock"), "in_stock", err, default=True)
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
        raise err(where, f"must be an object, got {_show(raw)}", 'Write it like {"id": "V1", ...}')
    vid = _required_id(
        raw, "id", lambda f, m, h="": err(f"{where}.{f}", m, h), "Give every variant an id"
    )
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise err(
            f"{where}.options",
            f"must be an object, got {_show(options)}",
            'Write it like {"size": "M"}',
        )
    bad = [k for k, v in options.items() if isinstance(v, dict | list) or v is None]
    if bad:
        raise err(
            f"{where}.options.{bad[0]}",
            "must be a text or number value",
            'Write options like {"size": "M"}',
        )
    price = _price(raw.get("price"), f"{where}.price", err)
    available = _bool(raw.get("available"), f"{where}.available", err, default=True)
    return Variant(vid, {str(k): str(v) for k, v in options.items()}, price, available)


def _product_document(p: Product, currency: str) -> Document:
    lo, hi = p.price_range()
    text_lines = [p.title]
    if p.category:
        text_lines.append(f"Category: {p.category}")
    if p.description:
        text_lines.append(p.description)
    for key, value in p.attributes.items():
        text_lines.append(f"{key}: {_plain(value)}")
    # Option values once each rather than one line per variant: a product with
    # 20 variants would otherwise drown its title in near-identical lines, and
    # the embedding model only reads the first ~256 word pieces.
    option_values: dict[str, list[str]] = {}
    for v in p.variants:
        for name, val in v.options.items():
            if val not in option_values.setdefault(name, []):
                option_values[name].append(val)
    if option_values:
        text_lines.append(
            "Options: " + "; ".join(f"{k} {', '.join(vals)}" for k, vals in option_values.items())
        )
    if lo is not None and hi is not None:
        price_text = format_price(lo, currency)
        if hi != lo:
            price_text += f" to {format_price(hi, currency)}"
        text_lines.append(f"Price: {price_text}")

    # The answer states facts only, so generation can quote it verbatim.
    summary = [f"{p.title}" + (f" ({p.category})" if p.category else "") + "."]
    if lo is not None and hi is not None:
        if lo == hi:
            summary.append(f"Price: {format_price(lo, currency)}.")
        else:
            summary.append(f"Price: {format_price(lo, currency)} to {format_price(hi, currency)}.")
    summary.append("In stock." if p.in_stock else "Currently out of stock.")
    if p.variants:
        parts = []
        for v in p.variants:
            label = " / ".join(v.options.values()) or v.id
            price = v.price if v.price is not None else p.price
            extra = [format_price(price, currency)] if price is not None else []
            extra.append("available" if v.available else "sold out")
            parts.append(f"{label} ({', '.join(extra)})")
        summary.append("Options: " + "; ".join(parts) + ".")
    if p.attributes:
        summary.append(
            " ".join(
                f"{str(k).replace('_', ' ').capitalize()}: {_plain(v)}."
                for k, v in p.attributes.items()
            )
        )
    if p.description:
        summary.append(p.description)
    return Document(
        id=f"product:{p.id}",
        type="product",
        title=p.title,
        text="\n".join(text_lines),
        answer=" ".join(summary),
        meta={
            "product_id": p.id,
            "category": p.category,
            "price_min": lo,
            "price_max": hi,
            "in_stock": p.in_stock,
        },
    )


# --- FAQ ----------------------------------------------------------------------


def _load_faqs(path: Path) -> list[FAQ]:
    name = path.name
    faqs: list[FAQ] = []
    seen: dict[str, int] = {}
    for line, row in _records(path):

        def err(field_: str, message: str, hint: str = "", _line: int = line) -> StoreError:
            return StoreError(
                name, f"field '{field_}' {message}", line=_line, field=field_, hint=hint
            )

        question = _required_text(row, "question", err, "Every FAQ needs a question")
        answer = _required_text(row, "answer", err, "Every FAQ needs an answer")
        category = _optional_text(row, "category", err)
        if row.get("id") not in (None, ""):
            fid = _required_id(row, "id", err, "")
            if fid.startswith(("product:", "doc:")):
                # Products and passages get these prefixes in the index.
                raise err(
                    "id",
                    f"uses a reserved prefix: {_show(fid)}",
                    "FAQ ids may not start with 'product:' or 'doc:'",
                )
            if fid in seen:
                raise StoreError(
                    name,
                    f"field 'id': duplicate FAQ id {_show(fid)} (first used on line {seen[fid]})",
                    line=line,
                    field="id",
                    hint="Give each FAQ its own id, or leave id empty to derive it from the question",
                )
        else:
            base = "faq-" + _truncate_slug(slugify(question) or "question", 60)
            fid, n = base, 2
            while fid in seen:  # two questions that slug alike
                fid, n = f"{base}-{n}", n + 1
        seen[fid] = line
        faqs.append(FAQ(fid, question, answer, category))
    return faqs


def _truncate_slug(slug: str, limit: int) -> str:
    if len(slug) <= limit:
        return slug
    cut = slug[:limit]
    return cut.rsplit("-", 1)[0] if "-" in cut else cut


# --- docs ---------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


def split_markdown(
    text: str, stem: str, source: str, used: set[str] | None = None
) -> list[Passage]:
    """Split a markdown page into passages at ``#``/``##``/``###`` headings.

    Text before the first heading belongs to the page title. Empty sections are
    skipped; sections longer than ``CHUNK_CHARS`` become chunks with ids
    suffixed ``-2``, ``-3``... ``used`` collects ids so they stay unique.
    """
    used = set() if used is None else used
    lines = text.splitlines()
    page_title = ""
    sections: list[tuple[str, list[str]]] = []
    heading, body = "", []
    in_fence = False
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence  # '#' inside a code block is not a heading
        match = None if in_fence else _HEADING.match(line)
        if match:
            sections.append((heading, body))
            heading, body = match.group(2).strip(), []
            if len(match.group(1)) == 1 and not page_title:
                page_title = heading
        else:
            body.append(line)
    sections.append((heading, body))
    if not page_title:
        page_title = stem.replace("_", " ").replace("-", " ").strip().capitalize() or stem

    passages: list[Passage] = []
    for head, body_lines in sections:
        body_text = "\n".join(body_lines).strip()
        if not body_text:
            continue
        head = head or page_title
        title = page_title if head == page_title else f"{page_title} — {head}"
        base = f"doc:{stem}#{slugify(head) or 'section'}"
        for i, chunk in enumerate(_chunks(body_text, CHUNK_CHARS)):
            pid = base if i == 0 else f"{base}-{i + 1}"
            pid = _unique(pid, used)
            passages.append(Passage(pid, title, chunk, source))
    return passages


def _unique(pid: str, used: set[str]) -> str:
    candidate, n = pid, 2
    while candidate in used:
        candidate, n = f"{pid}-{n}", n + 1
    used.add(candidate)
    return candidate


def _chunks(text: str, size: int) -> list[str]:
    """Pack paragraphs (then sentences, then words) into chunks of at most ~``size`` chars."""
    if len(text) <= size:
        return [text]
    pieces: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if len(para) <= size:
            pieces.append(para)
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", para):
            while len(sentence) > size:  # a run-on "sentence": cut at a space
                cut = sentence.rfind(" ", 0, size)
                cut = cut if cut > size // 2 else size
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            pieces.append(sentence)
    chunks: list[str] = []
    current = ""
    for piece in filter(None, pieces):
        joined = f"{current}\n\n{piece}" if current else piece
        if current and len(joined) > size:
            chunks.append(current)
            current = piece
        else:
            current = joined
    if current:
        chunks.append(current)
    return chunks


# --- reading and field helpers ---------------------------------------------------


def _read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StoreError(
            label,
            f"is not UTF-8 text (byte {exc.start})",
            hint="Save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')",
        ) from exc


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs from a JSONL or CSV file."""
    text = _read_text(path, path.name)
    if path.suffix == ".csv":
        return _csv_records(text, path.name)
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StoreError(
                path.name,
                f"not valid JSON ({exc.msg} at column {exc.colno})",
                line=number,
                hint="Each line must be one complete JSON object; check for a missing comma, quote or brace",
            ) from exc
        if not isinstance(row, dict):
            raise StoreError(
                path.name,
                f"expected a JSON object, got {_show(row)}",
                line=number,
                hint='Each line must look like {"id": ..., ...}',
            )
        rows.append((number, row))
    return rows


def _csv_records(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    fields = [f.strip() for f in reader.fieldnames or []]
    if not fields:
        return []
    reader.fieldnames = fields
    required = ("id", "title") if name.startswith("products") else ("question", "answer")
    for col in required:
        if col not in fields:
            raise StoreError(
                name,
                f"missing required column '{col}'",
                line=1,
                field=col,
                hint=f"The header row must include: {', '.join(required)}",
            )
    rows: list[tuple[int, dict[str, Any]]] = []
    start = reader.line_num + 1
    for row in reader:
        if None in row:
            raise StoreError(
                name,
                f"has {len(fields) + len(row[None])} cells but the header has {len(fields)} columns",
                line=start,
                hint="Quote cells that contain commas",
            )
        # Blank cells mean "not given", like a missing key in JSONL.
        clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        if any(v not in (None, "") for v in clean.values()):
            rows.append((start, {k: v for k, v in clean.items() if v not in (None, "")}))
        start = reader.line_num + 1
    return rows


def _json_cell(value: str, field_: str, err: Any, example: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise err(field_, f"is not valid JSON ({exc.msg})", f"Write it like {example}") from exc


def _required_id(row: dict[str, Any], key: str, err: Any, hint: str) -> str:
    value = row.get(key)
    if value is None:
        raise err(key, "is required but missing", hint)
    if isinstance(value, str) and not value.strip():
        raise err(key, "is required but empty", hint)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise err(key, f"must be a text or whole number, got {_show(value)}", hint)
    return str(value).strip()


def _required_text(row: dict[str, Any], key: str, err: Any, hint: str) -> str:
    value = row.get(key)
    if value is None:
        raise err(key, "is required but missing", hint)
    if isinstance(value, str) and not value.strip():
        raise err(key, "is required but empty", hint)
    if not isinstance(value, str):
        raise err(key, f"must be text, got {_show(value)}", hint)
    return value.strip()


def _optional_text(row: dict[str, Any], key: str, err: Any) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise err(key, f"must be text, got {_show(value)}", "Put the value in quotes")
    return value.strip()


def _price(value: Any, key: str, err: Any) -> float | None:
    if value is None or value == "":
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or math.isnan(number) or math.isinf(number):
        raise err(
            key,
            f"must be a number, got {_show(value)}",
            "Write prices like 19.99 (no currency sign)",
        )
    if number < 0:
        raise err(key, f"must be 0 or more, got {_show(value)}", "Prices cannot be negative")
    return number


def _bool(value: Any, key: str, err: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise err(
        key, f"must be true or false, got {_show(value)}", "Use true/false (or yes/no in a CSV)"
    )


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return str(value)
