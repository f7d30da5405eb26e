"""A merchant's store directory, loaded and validated.

``load_store(path)`` reads ``store.toml``, the products and FAQ files (JSONL or
CSV) and ``docs/*.md`` into plain dataclasses, and ``Store.documents()`` turns
them into the ``Document`` objects the knowledge index embeds and searches.

The settings (``store.toml``) are read here; the catalogue in
``knowledge_base.catalog``, the FAQ in ``knowledge_base.faq``, the pages in
``knowledge_base.pages``. Bad data raises ``knowledge_base.store_files.StoreError``
naming the file, the line and the field, with a hint on what to change.

Orders and customers are not loaded here (``bot/storage/orders.py`` owns them); their
paths are recorded on the ``Store`` so other modules find them in one place.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from knowledge_base.catalog import Product, load_products
from knowledge_base.faq import FAQ, load_faqs
from knowledge_base.money import format_money
from knowledge_base.pages import Passage, split_markdown
from knowledge_base.store_files import StoreError, read_text, show


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
        products = load_products(products_path)
    if faq_path is not None:
        inputs.append(faq_path)
        faqs = load_faqs(faq_path)

    passages: list[Passage] = []
    docs_dir = root / "docs"
    if docs_dir.is_dir():
        used: set[str] = set()
        for md in sorted(docs_dir.glob("*.md")):
            inputs.append(md)
            passages += split_markdown(
                read_text(md, f"docs/{md.name}"), md.stem, f"docs/{md.name}", used
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
        raw = tomllib.loads(read_text(path, "store.toml"))
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
                f"field '{key}' must be a string, got {show(value)}",
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
            f"field 'contact' must be a string, got {show(value)}",
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


# --- the store's files -----------------------------------------------------------


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


# --- documents ----------------------------------------------------------------


def _product_document(p: Product, currency: str) -> Document:
    """A product as the index sees it: searchable text, and a factual answer to quote."""

    def money(amount: float) -> str:
        return format_money(amount, currency, trim_cents=True)  # "$20", not "$20.00"

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
        price_text = money(lo)
        if hi != lo:
            price_text += f" to {money(hi)}"
        text_lines.append(f"Price: {price_text}")

    # The answer states facts only, so generation can quote it verbatim.
    summary = [f"{p.title}" + (f" ({p.category})" if p.category else "") + "."]
    if lo is not None and hi is not None:
        if lo == hi:
            summary.append(f"Price: {money(lo)}.")
        else:
            summary.append(f"Price: {money(lo)} to {money(hi)}.")
    summary.append("In stock." if p.in_stock else "Currently out of stock.")
    if p.variants:
        parts = []
        for v in p.variants:
            label = " / ".join(v.options.values()) or v.id
            price = v.price if v.price is not None else p.price
            extra = [money(price)] if price is not None else []
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


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return str(value)
