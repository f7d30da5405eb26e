"""FAQ entries learned from people: proposed from the log, approved into the store's FAQ.

The store is a built copy of the demo store (built once, copied per test with its
artifacts, so a test's approval never reaches another test);
the turn log is a real SQLite file (and PostgreSQL once) written through the
conversation store, as the server writes it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main
from bot.config import load_config, replace
from bot.merchant.faq_learning import merge_threshold, propose_faqs
from bot.merchant.faq_proposals import FAQProposals
from bot.merchant.proposals import ProposalError, UnknownProposal
from bot.storage.conversations import Conversation, ConversationStore, TurnRecord
from bot.web.descriptions import csrf_token
from bot.web.errors import errors_middleware
from bot.web.faq_proposals import setup_faq_proposals
from bot.web.keys import BOT_KEY, CONFIG_KEY, METRICS_KEY
from bot.web.metrics import Metrics
from bot.web.security import setup_security
from knowledge_base.calibration import Calibration
from knowledge_base.faq import load_faqs
from knowledge_base.index import KnowledgeIndex
from knowledge_base.store import load_store
from tests.conftest import new_postgres_database

TOKEN = "faq-admin-token"
GIFT_ANSWER = (
    "Hi Ivan, this is Dana. Yes, we gift wrap any order for $5: add a note at checkout. I added "
    "it to order #W6893533 for you; questions to dana@harborpine.example or +1 555 123 4567."
)


@pytest.fixture(scope="module")
def built_store(demo_store: Path) -> Path:
    """The session's copy of the demo store, built (the demo bot's tests share the build)."""
    from knowledge_base.build import ensure_built

    ensure_built(demo_store, progress=False)
    return demo_store


@pytest.fixture
def store(built_store: Path, tmp_path: Path) -> Path:
    """A private copy of the built store (its artifacts still up to date), without its log
    and proposals: a test's approval never reaches another test."""
    skip = shutil.ignore_patterns("shopbot.db*", "proposals")
    return Path(shutil.copytree(built_store, tmp_path / "demo", ignore=skip))


@pytest.fixture
def log(tmp_path: Path) -> Iterator[ConversationStore]:
    conversations = ConversationStore(tmp_path / "log.db")
    yield conversations
    conversations.close()


def build_of(store: Path) -> tuple[KnowledgeIndex, Calibration]:
    build = store / ".shopbot" / "build"
    return KnowledgeIndex.load(build / "index"), Calibration.load(build / "calibration.json")


def say(log: ConversationStore, sender: str, text: str, action: str = "action_abstain") -> None:
    """A customer message as the pipeline logs it (``action_abstain``: left unanswered)."""
    intent = {"action_handoff": "contact_human_agent"}.get(action, "oos")
    turn = TurnRecord(
        sender=sender,
        user_text=text,
        intent=intent,
        confidence=0.9,
        action=action,
        messages=[{"recipient_id": sender, "text": "..."}],
        handoff=action == "action_handoff",
    )
    log.save_turn(turn, Conversation(sender))


def resolved_handoff(log: ConversationStore, sender: str, question: str, answer: str) -> int:
    """The customer asks, the bot cannot answer, an agent answers and hands back."""
    say(log, sender, question)
    say(log, sender, "can I talk to a person", "action_handoff")
    handoff = log.open_handoff(sender, "asked for a person")
    log.claim_handoff(sender, "Dana")
    log.log_agent_message(sender, "Hi, one moment please.", "Dana")
    log.log_agent_message(sender, answer, "Dana")
    log.close_handoff(sender, "Dana")
    return int(handoff["id"])


def propose(store: Path, log: ConversationStore, **kwargs: Any) -> Any:
    index, calibration = build_of(store)
    return propose_faqs(store, log.db, index, calibration, **kwargs)


# --------------------------------------------------------------------------- proposing


def test_the_threshold_comes_from_the_stores_own_faq(store: Path) -> None:
    index, _ = build_of(store)
    t = merge_threshold(load_store(store), index.encoder)
    assert t.source == "faq" and t.reference == len(load_store(store).faqs)
    assert t.value == round(min(t.distinct_point, t.paraphrase_point or 1.0), 4)
    # A store with too few FAQ entries calibrates on its policy headings too.
    small = load_store(store)
    small.faqs = small.faqs[:3]
    assert merge_threshold(small, index.encoder).source == "faq+passages"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_resolved_handoff_becomes_a_proposal_without_personal_data(
    store: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        log = ConversationStore(new_postgres_database(request.getfixturevalue("postgres_dsn")))
    else:
        log = ConversationStore(tmp_path / "log.db")
    try:
        faq_before = (store / "faq.jsonl").read_bytes()
        question = "Do you offer gift wrapping? It's for order #W6893533, my phone is 555-123-4567"
        handoff_id = resolved_handoff(log, "ivan", question, GIFT_ANSWER)
        run = propose(store, log)
    finally:
        log.close()
    assert run.handoffs == 1 and len(run.proposed) == 1, run.summary()
    p = run.proposed[0]
    assert p["status"] == "proposed" and p["source"] == "handoff"
    assert "we gift wrap any order for $5" in p["answer"]
    assert p["evidence"]["handoffs"] == [handoff_id] and p["evidence"]["conversations"] == 1
    assert p["question"].startswith("Do you offer gift wrapping?")
    text = json.dumps([p["question"], p["questions"], p["answer"], p["answers"]])
    for personal in ("W6893533", "@", "555", "123-4567", "Ivan", "Dana", "ivan"):
        assert personal not in text, personal
    assert "[ORDER]" in p["answer"] and p["warnings"]  # written for one customer's case
    assert "one moment" not in p["answer"]  # the substantive reply is the answer
    assert (store / "faq.jsonl").read_bytes() == faq_before  # proposing writes nothing there
    assert FAQProposals(store).path.is_relative_to(store / ".shopbot" / "proposals")


def test_paraphrased_unanswered_questions_cluster_and_unrelated_ones_do_not(
    store: Path, log: ConversationStore
) -> None:
    say(log, "c1", "Do you have a mobile app?")
    say(log, "c2", "Is there an app for iPhone?")
    say(log, "c3", "Do you price match?")
    say(log, "c4", "Will you match a lower price from another store?")
    say(log, "c5", "who won the football game last night")  # one customer: not a topic
    run = propose(store, log)
    topics = sorted(sorted(p["questions"]) for p in run.proposed)
    assert topics == [
        ["Do you have a mobile app?", "Is there an app for iPhone?"],
        ["Do you price match?", "Will you match a lower price from another store?"],
    ], run.summary()
    assert run.rare == 1
    for p in run.proposed:
        assert p["answer"] == "" and p["source"] == "unanswered"
        assert p["evidence"]["conversations"] == 2
    # Proposing again finds nothing new; a new customer's question joins the waiting one.
    again = propose(store, log)
    assert not again.proposed and again.known == 2
    say(log, "c6", "where can I download your app")
    third = propose(store, log)
    assert not third.proposed and len(third.merged) == 1
    merged = FAQProposals(store).get(third.merged[0])
    assert "where can I download your app" in merged["questions"]
    assert merged["evidence"]["conversations"] == 3


def test_a_question_the_faq_already_answers_is_not_proposed(
    store: Path, log: ConversationStore
) -> None:
    say(log, "a1", "How long does shipping take?", "action_answer_curated")
    resolved_handoff(log, "a1", "how long does shipping take", "Usually 3 to 5 business days.")
    run = propose(store, log)
    assert not run.proposed
    assert [s["faq"]["id"] for s in run.answered] == ["faq-shipping-times"]


# --------------------------------------------------------------------------- approving


def test_approval_adds_one_faq_row_and_the_rebuilt_bot_answers_from_it(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.assemble import load_bot_sync

    db = tmp_path / "log.db"
    log = ConversationStore(db)
    resolved_handoff(log, "ivan", "Do you offer gift wrapping?", GIFT_ANSWER)
    log.close()
    assert main(["faq", "propose", "--store", str(store), "--db", str(db)]) == 0
    assert "1 new proposals" in capsys.readouterr().out
    (proposal,) = FAQProposals(store).pending()
    faq = store / "faq.jsonl"
    before = faq.read_bytes()
    answer = "Yes, we gift wrap any order for $5. Add a gift note at checkout."
    args = ["faq", "approve", proposal["id"], "--store", str(store), "--answer", answer]
    assert main([*args, "--question", "Do you offer gift wrapping?"]) == 0
    assert "Rebuild or restart" in capsys.readouterr().out
    after = faq.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 1
    row = json.loads(after[len(before) :])
    assert row == {"id": row["id"], "question": "Do you offer gift wrapping?", "answer": answer}
    approved = FAQProposals(store).get(proposal["id"])
    assert approved["status"] == "approved" and approved["edited"] is True
    assert approved["faq_id"] == row["id"] == load_faqs(faq)[-1].id
    assert Path(approved["backup"]).read_bytes() == before

    config = load_config(store, llm_backend="none", db_path=db, rate_limit_per_minute=0)
    bot = load_bot_sync(config, progress=False)  # the next build picks the entry up
    try:
        reply = asyncio.run(bot.handle("later", "do you do gift wrapping?"))
    finally:
        bot.conversations.close()
    assert reply.sources and reply.sources[0]["id"] == row["id"], (reply.action, reply.sources)
    assert "gift wrap any order for $5" in reply.text
    assert main(["faq", "stats", "--store", str(store), "--db", str(db), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["approved"] == 1 and stats["answered_after_approval"] == 1
    assert stats["answered_by_entry"] == {row["id"]: 1}


def test_refusals_are_clear_and_lose_nothing(store: Path, log: ConversationStore, capsys) -> None:  # type: ignore[no-untyped-def]
    say(log, "c1", "Do you have a mobile app?")
    say(log, "c2", "Is there an app for iPhone?")
    resolved_handoff(log, "c3", "Do you offer gift wrapping?", GIFT_ANSWER)
    run = propose(store, log)
    book = FAQProposals(store)
    app = next(p for p in run.proposed if "app" in p["question"])
    gift = next(p for p in run.proposed if "gift" in p["question"])
    faq = store / "faq.jsonl"
    before = faq.read_bytes()
    with pytest.raises(ProposalError, match="no answer yet"):
        book.approve(app["id"])  # nobody answered it: the merchant must write one
    assert book.get(app["id"])["status"] == "proposed" and faq.read_bytes() == before
    with pytest.raises(UnknownProposal, match="shopbot faq list"):
        book.approve("no-such-proposal")

    assert book.reject(app["id"], note="we have no app")["status"] == "rejected"
    with pytest.raises(ProposalError, match="already rejected"):
        book.approve(app["id"], answer="An answer now")
    assert faq.read_bytes() == before

    edited = book.edit(gift["id"], answer="We gift wrap any order for $5.")
    assert edited["status"] == "edited" and faq.read_bytes() == before
    book.approve(gift["id"])
    approved = faq.read_bytes()
    assert approved != before
    args = ["faq", "approve", gift["id"], "--store", str(store)]
    assert main(args) == 2
    assert "already approved" in capsys.readouterr().err
    assert main(["faq", "reject", gift["id"], "--store", str(store)]) == 2
    assert "already approved" in capsys.readouterr().err
    assert faq.read_bytes() == approved
    assert sorted(p["status"] for p in book.all()) == ["approved", "rejected"]
    assert main(["faq", "list", "--store", str(store), "--all"]) == 0
    assert "[approved]" in capsys.readouterr().out


def test_approval_in_a_csv_faq_keeps_every_other_row(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    root.mkdir()
    text = 'question,answer,category\r\n"Hours, please?","9 to 5, Monday ""to"" Friday",info\r\n'
    (root / "faq.csv").write_bytes(text.encode())
    book = FAQProposals(root)
    p = book.add({"question": "Do you gift wrap?", "questions": [], "answer": "Yes, for $5."})
    book.approve(p["id"])
    after = (root / "faq.csv").read_bytes().decode()
    assert after == text + 'Do you gift wrap?,"Yes, for $5.",\r\n'
    assert [f.question for f in load_faqs(root / "faq.csv")] == [
        "Hours, please?",
        "Do you gift wrap?",
    ]
    assert book.get(p["id"])["faq_id"] == "faq-do-you-gift-wrap"


# --------------------------------------------------------------------------- admin page


@pytest.fixture
async def admin(store: Path, log: ConversationStore) -> AsyncIterator[TestClient]:
    index, calibration = build_of(store)
    app = web.Application(middlewares=[errors_middleware])
    app[CONFIG_KEY] = replace(load_config(store), admin_token=TOKEN)
    app[METRICS_KEY] = Metrics()
    # The parts of the bot the page uses, real: the index, calibration and conversation log.
    app[BOT_KEY] = SimpleNamespace(index=index, calibration=calibration, conversations=log)
    setup_faq_proposals(app)
    setup_security(app)
    async with TestClient(TestServer(app, port=0)) as client:
        yield client


async def test_the_admin_page_needs_the_token_escapes_and_checks_csrf(  # type: ignore[no-untyped-def]
    store: Path, log: ConversationStore, admin
) -> None:
    page = "/admin/faq-proposals"
    assert (await admin.get(page)).status == 401
    assert (await admin.get(page, headers={"Authorization": "Bearer wrong"})).status == 403
    resp = await admin.get(f"{page}?token={TOKEN}", allow_redirects=False)
    assert resp.status == 303 and "shopbot_admin" in resp.cookies

    say(log, "x1", "<script>alert(1)</script> do you gift wrap orders?")
    say(log, "x2", "do you offer gift wrapping for orders")
    assert (await admin.post(f"{page}/propose", data={})).status == 403  # no csrf field
    resp = await admin.post(f"{page}/propose", data={"csrf": csrf_token(TOKEN)})
    assert resp.status == 200 and len(FAQProposals(store).pending()) == 1
    (proposal,) = FAQProposals(store).pending()

    text = await (await admin.get(page)).text()
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert proposal["id"] in text and 'name=csrf value="' + csrf_token(TOKEN) in text
    assert "no agent answered this" in text

    url = f"{page}/{proposal['id']}/approve"
    faq = store / "faq.jsonl"
    before = faq.read_bytes()
    fields = {"question": "Do you gift wrap orders?", "answer": "Yes, for $5 an order."}
    assert (await admin.post(url, data=fields)).status == 403
    forged = {**fields, "csrf": csrf_token(TOKEN)}
    resp = await admin.post(url, data=forged, headers={"Origin": "https://evil.example"})
    assert resp.status == 403 and faq.read_bytes() == before
    resp = await admin.post(url, data={**forged, "answer": " "})
    assert resp.status == 409 and "no answer yet" in (await resp.json())["error"]["message"]
    assert faq.read_bytes() == before
    resp = await admin.post(url, data=forged, allow_redirects=False)
    assert resp.status == 303
    assert load_faqs(faq)[-1].question == "Do you gift wrap orders?"
    resp = await admin.post(url, data=forged)
    assert resp.status == 409 and "already approved" in (await resp.json())["error"]["message"]
    resp = await admin.post(f"{page}/nope/reject", data={"csrf": csrf_token(TOKEN)})
    assert resp.status == 404


def test_the_app_serves_the_page_and_links_it() -> None:
    from bot.web.admin import NAV
    from bot.web.app import create_app
    from tests.conftest import DEMO_STORE

    app = create_app(load_config(DEMO_STORE), bot=object())
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert {"/admin/faq-proposals", "/admin/faq-proposals/{proposal_id}/approve"} <= paths
    assert ("/admin/faq-proposals", "Learned FAQ") in NAV
