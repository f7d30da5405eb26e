"""The multi-turn answer cases (tests/data/multiturn, issue 15) are well-formed.

Fast and model-free: every file parses, every case has the contract's fields,
ids are unique and carry their kind, the dev / held-out split is the seeded one,
and everything a case names (customer emails, name + zip, order ids, tracking
numbers, products, option values, prices) exists in that store's own data.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "tests" / "data" / "multiturn"
STORES = {
    "demo_store": ROOT / "knowledge_base" / "demo_store",
    "taubench_retail": ROOT / "tests" / "data" / "stores" / "taubench_retail",
}
SPLITS = ("dev", "heldout")
# Written later, by someone who had read neither the code nor the cases above: the unseen
# check (one file per store, ids "<store>-fresh-NN", the kind in "category").
FRESH = ("demo_store", "taubench_retail", "mixed_cosmetics")
KINDS = ("product-fu", "knowledge-fu", "routing", "catalog", "orders", "abstain", "single")
CONTRACT_FIELDS = {
    "id",
    "turns",
    "expect_all",
    "expect_any",
    "forbid",
    "expect_handoff",
    "expect_source",
}
OPTIONAL_FIELDS = {"category"}
# Capitalised expectation strings that are neither a product title nor an option value.
PROPER_WORDS = {"USA"}

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ORDER_ID = re.compile(r"#W\d{7}")
ZIP = re.compile(r"\b\d{5}\b")
TRACKING = re.compile(r"^\d{12}$")
MONEY = re.compile(r"\$(\d[\d,]*(?:\.\d+)?)")


def _jsonl(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _money(text: str) -> list[float]:
    return [round(float(m.replace(",", "")), 2) for m in MONEY.findall(text)]


@cache
def store_data(store: str) -> dict:
    root = STORES[store]
    products = _jsonl(root / "products.jsonl")
    orders = {o["order_id"]: o for o in _jsonl(root / "orders.jsonl")}
    customers = _jsonl(root / "customers.jsonl")
    amounts: set[float] = set()
    options: set[str] = set()
    for p in products:
        amounts.add(round(p["price"], 2))
        for v in p.get("variants", []):
            amounts.add(round(v["price"], 2))
            options.update(str(value).lower() for value in v["options"].values())
    for o in orders.values():
        amounts.update(round(i["price"], 2) for i in o["items"])
        amounts.add(round(o.get("total", sum(i["price"] for i in o["items"])), 2))
    texts = [p.read_text(encoding="utf-8") for p in sorted((root / "docs").glob("*.md"))]
    faq_ids: set[str] = set()
    if (root / "faq.jsonl").exists():
        faq = _jsonl(root / "faq.jsonl")
        texts += [f["question"] + " " + f["answer"] for f in faq]
        faq_ids = {f["id"] for f in faq if "id" in f}
    for text in texts:
        amounts.update(_money(text))
    return {
        "titles": {p["title"] for p in products},
        "categories": {p.get("category", "") for p in products},
        "options": options,
        "amounts": amounts,
        "orders": orders,
        "customers": customers,
        "faq_ids": faq_ids,
    }


def load(store: str, split: str) -> list[dict]:
    return _jsonl(CASES_DIR / f"{store}.{split}.jsonl")


ALL = [(store, split, case) for store in STORES for split in SPLITS for case in load(store, split)]
IDS = [f"{store}.{split}:{case['id']}" for store, split, case in ALL]


def kind_of(case_id: str) -> str:
    return next((k for k in KINDS if case_id.startswith(k + "-")), "")


def test_files_and_sizes():
    names = sorted(p.name for p in CASES_DIR.glob("*.jsonl"))
    split_files = [f"{store}.{split}.jsonl" for store in STORES for split in SPLITS]
    assert names == sorted(split_files + [f"{store}.fresh.jsonl" for store in FRESH])
    assert len(ALL) >= 90
    for store in STORES:
        dev, heldout = load(store, "dev"), load(store, "heldout")
        assert 0.3 <= len(dev) / (len(dev) + len(heldout)) <= 0.5, store
        for split, cases in (("dev", dev), ("heldout", heldout)):
            kinds = {kind_of(c["id"]) for c in cases}
            assert kinds == set(KINDS), (store, split, set(KINDS) - kinds)
        multi = [c for c in dev + heldout if len(c["turns"]) > 1]
        assert len(multi) >= 0.7 * len(dev + heldout), store


def test_ids_unique_per_store():
    for store in STORES:
        ids = [c["id"] for split in SPLITS for c in load(store, split)]
        assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


def test_split_is_the_seeded_one():
    spec = importlib.util.spec_from_file_location("multiturn_split", CASES_DIR / "split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.check() == []


@pytest.mark.parametrize(("store", "split", "case"), ALL, ids=IDS)
def test_case_shape(store, split, case):
    assert CONTRACT_FIELDS <= set(case) <= CONTRACT_FIELDS | OPTIONAL_FIELDS
    kind = kind_of(case["id"])
    assert kind, f"id {case['id']!r} has no kind prefix ({', '.join(KINDS)})"
    assert case.get("category", kind) == kind
    assert isinstance(case["turns"], list) and case["turns"]
    assert all(isinstance(t, str) and t.strip() for t in case["turns"])
    if kind == "single":
        assert len(case["turns"]) == 1
    else:
        assert len(case["turns"]) >= 2
    for field in ("expect_all", "expect_any", "forbid"):
        assert isinstance(case[field], list)
        assert all(isinstance(s, str) and s.strip() for s in case[field]), field
    assert case["expect_all"] or case["expect_any"] or case["forbid"] or case["expect_handoff"]
    assert isinstance(case["expect_handoff"], bool)
    assert case["expect_source"] is None or case["expect_source"] in store_data(store)["faq_ids"]
    lowered = {s.lower() for s in case["expect_all"] + case["expect_any"]}
    assert not lowered & {s.lower() for s in case["forbid"]}, "a string both expected and forbidden"


def _customer(store: str, case: dict) -> dict | None:
    """The customer the case verifies as (email, or name + zip), checking both exist."""
    data = store_data(store)
    found = None
    for turn in case["turns"]:
        for email in EMAIL.findall(turn):
            match = [c for c in data["customers"] if c["email"].lower() == email.lower()]
            assert len(match) == 1, f"no customer with email {email}"
            found = match[0]
        for zip_code in ZIP.findall(turn):
            match = [
                c
                for c in data["customers"]
                if c["zip"] == zip_code and c["name"].lower() in turn.lower()
            ]
            assert len(match) == 1, f"no single customer named in {turn!r} with zip {zip_code}"
            found = match[0]
    return found


@pytest.mark.parametrize(("store", "split", "case"), ALL, ids=IDS)
def test_case_names_real_data(store, split, case):
    data = store_data(store)
    customer = _customer(store, case)
    expected = case["expect_all"] + case["expect_any"]

    checked = expected + case["forbid"]
    for text in case["turns"] + checked:
        for order_id in ORDER_ID.findall(text):
            assert order_id in data["orders"], f"unknown order {order_id}"
    for text in checked:
        for amount in _money(text):
            assert amount in data["amounts"], (
                f"${amount} is no price, total or policy amount of {store}"
            )

    mine = {
        o
        for o, order in data["orders"].items()
        if customer and order["customer_id"] == customer["customer_id"]
    }
    tracking = {t for o in mine for t in data["orders"][o].get("tracking", [])}
    for text in expected:
        for order_id in ORDER_ID.findall(text):
            assert order_id in mine, f"{order_id} is not an order of the verified customer"
        if TRACKING.match(text):
            assert text in tracking, f"{text} is no tracking number of the verified customer"

    for text in checked:
        if text[:1].isupper() and not ORDER_ID.match(text):
            option = any(
                text.lower() in value.split() or text.lower() == value for value in data["options"]
            )
            known = text in data["titles"] or option or text in PROPER_WORDS
            assert known, f"{text!r} is no product title or option value of {store}"

    if kind_of(case["id"]) in ("product-fu", "catalog"):
        said = _norm(" ".join(case["turns"] + expected))
        assert any(_norm(title) in said for title in data["titles"]), (
            "names no product of the catalog"
        )


@pytest.mark.parametrize("store", FRESH)
def test_fresh_cases_have_the_contracts_shape(store: str) -> None:
    cases = _jsonl(CASES_DIR / f"{store}.fresh.jsonl")
    assert len(cases) >= 10
    assert len({c["id"] for c in cases}) == len(cases)
    for case in cases:
        assert CONTRACT_FIELDS <= set(case) <= CONTRACT_FIELDS | OPTIONAL_FIELDS, case["id"]
        assert case["category"] in KINDS, case["id"]
        assert case["turns"] and all(isinstance(t, str) and t.strip() for t in case["turns"])
