"""Grounded product descriptions: drafted, checked against the record, approved into the store.

The model is a fake that returns a fixed draft (what a small model does wrong is
written into it), except in one test with the real SmolLM2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main
from bot.config import load_config, replace
from bot.merchant.claims import ClaimChecker
from bot.merchant.describe import build_messages, describe
from bot.merchant.facts import record_of
from bot.merchant.proposals import DescriptionProposals, ProposalError, proposals_dir
from bot.merchant.templates import TONES
from bot.web.descriptions import csrf_token, setup_descriptions
from bot.web.errors import errors_middleware
from bot.web.keys import CONFIG_KEY, METRICS_KEY
from bot.web.metrics import Metrics
from bot.web.security import setup_security
from knowledge_base.catalog import load_products
from knowledge_base.chinese import has_chinese
from knowledge_base.store import load_store
from tests.conftest import DEMO_STORE, copy_demo_store

TSHIRT = "9523456873"
TOKEN = "describe-admin-token"


class FakeGenerator:
    """A chat backend that writes the given draft (and remembers the prompt it got)."""

    def __init__(self, draft: str, name: str = "fake") -> None:
        self.draft, self.name = draft, name
        self.messages: list[dict[str, str]] = []

    def stream(self, messages, max_new_tokens=256, temperature=0.0) -> Iterator[str]:  # type: ignore[no-untyped-def]
        self.messages = messages
        yield from re.findall(r"\S+\s*", self.draft)


class BrokenGenerator:
    name = "broken"

    def stream(self, messages, max_new_tokens=256, temperature=0.0) -> Iterator[str]:  # type: ignore[no-untyped-def]
        raise RuntimeError("endpoint down")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return copy_demo_store(tmp_path / "demo")


def tshirt():  # type: ignore[no-untyped-def]
    return load_store(DEMO_STORE).product(TSHIRT)


ZH_PRODUCTS = [
    {
        "id": "LJ-1",
        "title": "西湖龙井",
        "price": 88,
        "category": "绿茶",
        "attributes": {"产地": "杭州", "规格": ["50克", "100克"]},
        "variants": [
            {"id": "a", "options": {"规格": "50克"}, "price": 88, "available": True},
            {"id": "b", "options": {"规格": "100克"}, "price": 168, "available": True},
        ],
    },
    {"id": "BC-2", "title": "白瓷盖碗", "price": 45, "category": "茶具", "in_stock": False},
]


@pytest.fixture
def zh_store(tmp_path: Path) -> Path:
    root = tmp_path / "tea"
    root.mkdir()
    (root / "store.toml").write_text('name = "青岚茶舍"\ncurrency = "CNY"\nlanguage = "zh"\n')
    lines = [json.dumps(p, ensure_ascii=False) for p in ZH_PRODUCTS]
    (root / "products.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------- drafting


@pytest.mark.parametrize("language", ["en", "zh"])
def test_templates_describe_every_demo_product_with_supported_sentences(language: str) -> None:
    store = load_store(DEMO_STORE)
    products = store.products if language == "en" else store.products[:15]
    for tone in TONES:
        for product in products:
            result = describe(product, language=language, tone=tone)
            assert not result.rejected, (tone, product.id, result.rejected)
            assert len(result.sentences) >= 3
            checker = ClaimChecker(record_of(product, store.settings.currency, language))
            for sentence in result.sentences:
                assert sentence.source == "template"
                assert sentence.rests_on, sentence.text
                assert checker.check(sentence.text).ok, sentence.text
            assert product.title in result.text


def test_invented_claims_are_dropped_with_their_reasons() -> None:
    draft = (
        "The T-Shirt comes in black, blue, purple or red. "
        "It is waterproof, so you can wear it in the rain. "
        "Every T-Shirt comes with a 2-year warranty. "
        "The T-Shirt costs only $19.99. "
        "It has 64GB of storage."
    )
    model = FakeGenerator(draft)
    result = describe(tshirt(), generator=model)
    dropped = {s.text: "; ".join(s.reasons) for s in result.rejected}
    assert "waterproof" in dropped["It is waterproof, so you can wear it in the rain."]
    warranty = dropped["Every T-Shirt comes with a 2-year warranty."]
    assert "warranty" in warranty and "2-year" in warranty
    assert "19.99" in dropped["The T-Shirt costs only $19.99."]
    assert "64gb" in dropped["It has 64GB of storage."].lower()
    kept = [s for s in result.sentences if s.source == "model"]
    assert [s.text for s in kept] == ["The T-Shirt comes in black, blue, purple or red."]
    assert {r["field"] for r in kept[0].rests_on} >= {"title", "attributes.color"}
    for word in ("waterproof", "warranty", "19.99", "64GB"):
        assert word not in result.text
    # The model was shown the record's facts, and nothing it went on to invent.
    assert model.messages == build_messages(record_of(tshirt()))
    facts = model.messages[1]["content"]
    assert "purple" in facts and "$46.66 to $54.84" in facts and "12 (10 available)" in facts
    assert "waterproof" not in facts and "warranty" not in facts


def test_a_wrong_variant_price_or_stock_claim_is_dropped() -> None:
    checker = ClaimChecker(record_of(tshirt()))
    wrong_price = checker.check("The red T-Shirt costs $53.48.")
    assert any("not the price of a variant with red" in r for r in wrong_price.reasons)
    assert checker.check("The blue T-Shirt costs $50.88.").ok
    assert not checker.check("The T-Shirt is out of stock.").ok
    assert not checker.check("It comes in three colors.").ok  # the record lists four
    assert checker.check("It comes in four colors and five sizes.").ok


def test_a_thin_draft_is_completed_from_the_record() -> None:
    result = describe(tshirt(), generator=FakeGenerator("Choose a crew neck or a v-neck T-Shirt."))
    sources = [s.source for s in result.sentences]
    assert sources.count("model") == 1 and sources.count("template") >= 3
    assert result.sentences[0].text.startswith("Meet the T-Shirt")  # what it is comes first
    # The model's sentence covers the style: no template repeats it.
    assert not any("style" in s.text for s in result.sentences if s.source == "template")


def test_a_failing_model_leaves_the_template_description() -> None:
    result = describe(tshirt(), generator=BrokenGenerator())
    assert "endpoint down" in result.error
    assert result.sentences and all(s.source == "template" for s in result.sentences)


# --------------------------------------------------------------------------- Chinese


def test_a_chinese_store_gets_a_chinese_description(zh_store: Path) -> None:
    assert main(["describe", "--store", str(zh_store), "--all", "--llm-backend", "none"]) == 0
    proposals = DescriptionProposals(zh_store).all()
    assert [p["product_id"] for p in proposals] == ["LJ-1", "BC-2"]
    for p in proposals:
        assert p["language"] == "zh" and not p["rejected"]
        assert has_chinese(p["description"]) and p["description"].endswith("。")
    assert "88元至168元" in proposals[0]["description"]
    assert "缺货" in proposals[1]["description"] or "售罄" in proposals[1]["description"]


def test_chinese_claims_are_checked_on_chinese_text(zh_store: Path) -> None:
    product = load_store(zh_store).product("LJ-1")
    draft = (
        "西湖龙井产地为杭州。西湖龙井是明前特级绿茶，两年质保。这款茶叶防水耐用。50克装售价168元。"
    )
    result = describe(product, currency="CNY", language="zh", generator=FakeGenerator(draft))
    kept = [s.text for s in result.sentences if s.source == "model"]
    assert kept == ["西湖龙井产地为杭州。"]
    reasons = " ".join(r for s in result.rejected for r in s.reasons)
    for claim in ("质保", "2年", "防水", "明前", "168"):
        assert claim in reasons
    assert all(has_chinese(s.text) for s in result.sentences)


def test_lang_zh_describes_an_english_store_in_chinese() -> None:
    result = describe(tshirt(), language="zh")
    assert not result.rejected
    assert "颜色可选" in result.text and "46.66" in result.text


# --------------------------------------------------------------------------- approval


def _line_of(path: Path, product_id: str) -> tuple[int, str]:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(keepends=True)):
        if line.strip() and json.loads(line)["id"] == product_id:
            return i, line
    raise AssertionError(product_id)


def test_approval_writes_only_the_description(store: Path) -> None:
    products = store / "products.jsonl"
    before = products.read_bytes()
    book = DescriptionProposals(store)
    proposal = book.add(describe(tshirt(), generator=FakeGenerator("It is waterproof.")))
    assert proposal["status"] == "proposed" and proposal["rejected"]
    assert book.path == proposals_dir(store) / "descriptions.jsonl"
    assert book.path.is_relative_to(store / ".shopbot")
    assert products.read_bytes() == before  # proposing changes nothing in the store

    approved = book.approve(proposal["id"])
    assert approved["status"] == "approved"
    assert Path(approved["backup"]).read_bytes() == before
    old_lines = before.decode().splitlines(keepends=True)
    new_lines = products.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    at, new_line = _line_of(products, TSHIRT)
    assert [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b] == [at]
    # The changed line is the old one with only the description's value replaced.
    old_value = json.dumps(json.loads(old_lines[at])["description"])
    assert new_line == old_lines[at].replace(old_value, json.dumps(proposal["description"]))
    reread = {p.id: p for p in load_products(products)}
    assert reread[TSHIRT].description == proposal["description"]

    with pytest.raises(ProposalError, match="already approved"):
        book.approve(proposal["id"])
    after_approval = products.read_bytes()

    second = book.add(describe(tshirt(), tone="concise"))
    rejected = book.reject(second["id"], note="too dry")
    assert rejected["status"] == "rejected" and rejected["note"] == "too dry"
    assert products.read_bytes() == after_approval
    with pytest.raises(ProposalError, match="already rejected"):
        book.approve(second["id"])
    assert products.read_bytes() == after_approval


def test_a_changed_record_or_a_newer_draft_blocks_approval(store: Path) -> None:
    products = store / "products.jsonl"
    book = DescriptionProposals(store)
    first = book.add(describe(tshirt()))
    newer = book.add(describe(tshirt(), tone="premium"))
    with pytest.raises(ProposalError, match="already superseded"):
        book.approve(first["id"])
    # The merchant edits the price after the draft: the draft's prices may be wrong now.
    at, line = _line_of(products, TSHIRT)
    lines = products.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[at] = line.replace('"price": 46.66', '"price": 39.99', 1)
    products.write_text("".join(lines), encoding="utf-8")
    edited = products.read_bytes()
    with pytest.raises(ProposalError, match="changed since"):
        book.approve(newer["id"])
    assert products.read_bytes() == edited
    assert book.get(newer["id"])["status"] == "proposed"


def test_approval_in_a_csv_store_keeps_every_other_cell(tmp_path: Path) -> None:
    root = tmp_path / "csvshop"
    root.mkdir()
    csv_text = (
        "id,title,price,category,brand\r\n"
        'A1,"Mug, large",12.50,Kitchen,"Acme ""Pro"""\r\n'
        "B2,Plate,8,Kitchen,Acme\r\n"
        'C3,"Bowl\nwith lid",9,Kitchen,\r\n'
    )
    (root / "products.csv").write_bytes(csv_text.encode())
    book = DescriptionProposals(root)
    product = load_store(root).product("B2")
    proposal = book.add(describe(product))
    book.approve(proposal["id"])
    text = (root / "products.csv").read_bytes().decode()
    records = text.split("\r\n")
    assert records[0] == "id,title,price,category,brand,description"
    assert records[1] == 'A1,"Mug, large",12.50,Kitchen,"Acme ""Pro"""'
    assert records[2].startswith("B2,Plate,8,Kitchen,Acme,")
    assert records[3] == 'C3,"Bowl\nwith lid",9,Kitchen,'
    reread = {p.id: p for p in load_products(root / "products.csv")}
    assert reread["B2"].description == proposal["description"]
    assert reread["A1"].description == "" and reread["A1"].attributes == {"brand": 'Acme "Pro"'}


def test_bad_input_gets_a_clear_error_and_loses_nothing(store: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    before = (store / "products.jsonl").read_bytes()
    args = ["describe", "--store", str(store), "--llm-backend", "none"]
    assert main([*args, "--product", "NO-SUCH-ID"]) == 2
    assert "no product 'NO-SUCH-ID'" in capsys.readouterr().err
    assert not DescriptionProposals(store).path.exists()
    assert main([*args, "--approve", "no-such-proposal"]) == 2
    assert "no description proposal" in capsys.readouterr().err
    assert main([*args, "--product", TSHIRT]) == 0
    proposal_id = DescriptionProposals(store).all()[0]["id"]
    assert main([*args, "--approve", proposal_id]) == 0
    approved = (store / "products.jsonl").read_bytes()
    assert approved != before
    assert main([*args, "--approve", proposal_id]) == 2
    assert "already approved" in capsys.readouterr().err
    assert (store / "products.jsonl").read_bytes() == approved
    assert main([*args, "--list"]) == 0
    assert "approved" in capsys.readouterr().out


# --------------------------------------------------------------------------- admin page


@pytest.fixture
async def admin(store: Path) -> Iterator[TestClient]:
    config = replace(load_config(store), admin_token=TOKEN)
    app = web.Application(middlewares=[errors_middleware])
    app[CONFIG_KEY] = config
    app[METRICS_KEY] = Metrics()
    setup_descriptions(app)
    setup_security(app)
    async with TestClient(TestServer(app, port=0)) as client:
        yield client


def test_the_app_serves_the_descriptions_page() -> None:
    from bot.web.app import create_app

    app = create_app(load_config(DEMO_STORE), bot=object())
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert {"/admin/descriptions", "/admin/descriptions/{proposal_id}/approve"} <= paths


async def test_the_admin_page_needs_the_token_and_escapes_html(store: Path, admin) -> None:  # type: ignore[no-untyped-def]
    products = store / "products.jsonl"
    at, line = _line_of(products, TSHIRT)
    lines = products.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[at] = line.replace('"title": "T-Shirt"', '"title": "<script>alert(1)</script> Tee"')
    products.write_text("".join(lines), encoding="utf-8")
    product = load_store(store).product(TSHIRT)
    proposal = DescriptionProposals(store).add(describe(product))
    assert "<script>" in proposal["description"]  # the title is the record's, unescaped

    assert (await admin.get("/admin/descriptions")).status == 401
    resp = await admin.get("/admin/descriptions", headers={"Authorization": "Bearer wrong"})
    assert resp.status == 403
    resp = await admin.get(f"/admin/descriptions?token={TOKEN}", allow_redirects=False)
    assert resp.status == 303 and "shopbot_admin" in resp.cookies
    page = await admin.get("/admin/descriptions")  # the cookie now
    text = await page.text()
    assert page.status == 200 and "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tee" in text
    assert "rests on: title" in text and proposal["id"] in text
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]

    url = f"/admin/descriptions/{proposal['id']}/approve"
    before = products.read_bytes()
    assert (await admin.post(url, data={})).status == 403  # no csrf field
    forged = {"csrf": csrf_token(TOKEN)}
    resp = await admin.post(url, data=forged, headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    assert products.read_bytes() == before
    assert 'name=csrf value="' + csrf_token(TOKEN) in text
    resp = await admin.post(url, data={"csrf": csrf_token(TOKEN)}, allow_redirects=False)
    assert resp.status == 303
    assert products.read_bytes() != before
    assert DescriptionProposals(store).get(proposal["id"])["status"] == "approved"
    resp = await admin.post(url, data={"csrf": csrf_token(TOKEN)})
    assert resp.status == 409 and "already approved" in (await resp.json())["error"]["message"]
    resp = await admin.post("/admin/descriptions/nope/reject", data={"csrf": csrf_token(TOKEN)})
    assert resp.status == 404


# --------------------------------------------------------------------------- a real model


@pytest.mark.slow
def test_a_real_small_model_draft_keeps_only_supported_sentences(small_generator) -> None:  # type: ignore[no-untyped-def]
    product = tshirt()
    result = describe(product, generator=small_generator, max_new_tokens=60)
    assert result.draft and not result.error
    checker = ClaimChecker(record_of(product))
    for sentence in result.sentences:
        assert sentence.rests_on and checker.check(sentence.text).ok, sentence.text
    assert all(s.reasons for s in result.rejected)
    assert len(result.sentences) >= 3
