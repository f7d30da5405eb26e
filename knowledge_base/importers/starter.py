"""``shopbot init DIR``: a starter store to edit, every setting explained where it is set.

``store_toml`` is also the ``store.toml`` an import writes into a store that has none.
"""

from __future__ import annotations

import json
from pathlib import Path

from knowledge_base.importers.report import ImportReport
from knowledge_base.store import load_store
from knowledge_base.store_files import StoreError

STORE_TOML = """\
# store.toml: how the shopbot assistant speaks for this store. Every key is optional.
# After a change run `shopbot build --store DIR`, then `shopbot serve --store DIR`.

# The store's name, as the assistant says it.
name = @NAME@
# The currency of the prices in products.jsonl (an ISO code: USD, EUR, GBP, JPY, CHF...).
currency = @CURRENCY@
# The default language: "en" (English) or "zh" (simplified Chinese). A customer who
# writes in the other one is answered in theirs.
language = @LANGUAGE@
# The widget's first message. Unset: "Hi! I'm the <name> assistant. Ask me about ...".
# greeting = "Hi! Ask me about our products, your order, shipping or returns."
# What the assistant says when it passes a conversation to a person.
# handoff_text = "I'm passing this to a member of our team; they will reply here soon."
# How to reach the store when no one can answer in the chat.
# contact_text = "Email help@example.com or call 555-0100, Monday to Friday 9:00-17:00."

# Any text the assistant says, changed per language (keys: those of bot/messages/en.py).
# [texts.en]
# order_not_found = "I can't find order {order_id}. Could you check the number?"

# The runtime settings (the keys of a --config file). The commented lines show the
# default, or an example where there is none; `shopbot config --store DIR` prints all.
[shopbot]
# The chat model's backend: "transformers", "llama-cpp", "openai" or "none" (no model:
# answers quote the store's own text).
# llm_backend = "transformers"
# The chat model: "qwen2.5-0.5b", "smollm2-135m", a model folder or a GGUF file.
# llm_model = "qwen2.5-0.5b"
# An OpenAI-compatible endpoint, for llm_backend = "openai".
# llm_base_url = "http://127.0.0.1:8000/v1"
# A confident FAQ match gets your FAQ answer as written; false: the model words every answer.
# curated_answers = true
# When to answer from the store's knowledge is calibrated at build time; these fix it
# instead (cosine of question and best match: answer at or above, ask which one above clarify).
# answer_min_score = 0.6
# clarify_min_score = 0.45
# The longest customer message, in characters.
# max_message_chars = 2000
# Messages a customer may send per minute (0: no limit).
# rate_limit_per_minute = 60
# The password of the merchant's pages under /admin/ (insights, inbox).
# admin_token = "change-me"
# The bearer token server-side integrations send to the Rasa REST channel.
# rest_channel_token = "change-me-too"
# The shop pages whose widget may hold conversations, e.g. ["https://shop.example"];
# "*" lets any page read only the store's public information.
# cors_origins = ["*"]
# Minutes of quiet after which a verified customer must verify again to see orders.
# verification_idle_minutes = 30.0
# Days conversation logs are kept (0: forever).
# retention_days = 0.0
# Offer a person when a customer gets upset or two answers in a row fail.
# escalation_enabled = true
# Rank product answers by what the customer has shown interest in.
# personalise_search = true
# Customer profiles, demand signals and forecasts (shopbot insights ...).
# insights_enabled = true
"""

SAMPLE_PRODUCTS = [
    {
        "id": "classic-tee",
        "title": "Classic Cotton Tee",
        "price": 20.0,
        "category": "T-shirts",
        "description": "Heavyweight organic cotton, cut for a relaxed fit.",
        "attributes": {"material": "100% organic cotton", "care": "Machine wash cold"},
        "variants": [
            {
                "id": "TEE-S-WHT",
                "options": {"size": "S", "color": "white"},
                "price": 20.0,
                "available": True,
            },
            {
                "id": "TEE-M-WHT",
                "options": {"size": "M", "color": "white"},
                "price": 20.0,
                "available": True,
            },
            {
                "id": "TEE-L-BLU",
                "options": {"size": "L", "color": "blue"},
                "price": 22.0,
                "available": False,
            },
        ],
    },
    {
        "id": "ceramic-mug",
        "title": "Stoneware Mug",
        "price": 14.0,
        "category": "Kitchen",
        "description": "Holds 350 ml. Dishwasher and microwave safe.",
        "in_stock": True,
    },
]
SAMPLE_FAQS = [
    {
        "question": "How long does delivery take?",
        "answer": "Orders ship within 1 business day and arrive in 3 to 5 business days.",
        "category": "shipping",
    },
    {
        "question": "Can I return an item?",
        "answer": "Yes: unworn items can be returned within 30 days of delivery for a full refund.",
        "category": "returns",
    },
    {
        "question": "Which payment methods do you accept?",
        "answer": "Visa, Mastercard, American Express and PayPal.",
        "category": "payment",
    },
]
SAMPLE_PAGE = """\
# Shipping and returns

## Shipping

We ship to the US and Canada. Orders placed before 14:00 on a business day leave
the same day. Standard delivery takes 3 to 5 business days; express takes 1 to 2.

## Returns

Unworn items can be returned within 30 days of delivery. Start a return in the
chat or from your account; refunds reach your card 5 to 7 business days after
the parcel arrives.
"""


def store_toml(name: str, currency: str = "USD", language: str = "en") -> str:
    """The commented ``store.toml`` with these three values filled in."""
    return (
        STORE_TOML.replace("@NAME@", json.dumps(name, ensure_ascii=False))
        .replace("@CURRENCY@", json.dumps(currency.upper()))
        .replace("@LANGUAGE@", json.dumps(language))
    )


def default_name(folder: Path) -> str:
    """A store's name from its folder ("harbor_goods" -> "Harbor Goods"), as the loader does."""
    return folder.resolve().name.replace("_", " ").replace("-", " ").title()


def init_store(
    folder: Path, name: str = "", currency: str = "USD", language: str = "en"
) -> ImportReport:
    """Write a starter store into ``folder`` (new or empty) and check that it loads."""
    folder = folder.expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise StoreError(
            str(folder),
            "is not an empty folder" if folder.is_dir() else "is a file",
            hint="shopbot init writes a new store: give it a new folder. To bring your data "
            "into an existing store, use `shopbot import ... --store DIR`",
        )
    report = ImportReport(source=str(folder), kind="starter store")
    files = {
        "store.toml": store_toml(name or default_name(folder), currency, language),
        "products.jsonl": "".join(json.dumps(p) + "\n" for p in SAMPLE_PRODUCTS),
        "faq.jsonl": "".join(json.dumps(f) + "\n" for f in SAMPLE_FAQS),
        "docs/shipping-and-returns.md": SAMPLE_PAGE,
    }
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        report.written.append(f"{rel}: created")
    report.count("products", len(SAMPLE_PRODUCTS))
    report.count("FAQs", len(SAMPLE_FAQS))
    report.notes.append(
        "the products, FAQs and page are examples: edit them, or replace them with your own "
        "data: `shopbot import shopify|woocommerce|faq|rasa SOURCE --store DIR --force`"
    )
    report.notes.append(
        "each heading of a docs/*.md page starts a passage the assistant can quote: "
        "keep one topic per section"
    )
    check_store(folder, report)
    return report


def check_store(folder: Path, report: ImportReport) -> None:
    """Load the store with the normal loader; the report says whether (and why not) it loads."""
    try:
        store = load_store(folder)
    except StoreError as exc:
        report.loads = False
        report.store_check = f"The store does not load yet: {exc}"
        return
    report.loads = True
    report.store_check = (
        f"The store loads: {len(store.products)} products, {len(store.faqs)} FAQs, "
        f"{len(store.passages)} page passages. Next: shopbot build --store {folder}"
    )
