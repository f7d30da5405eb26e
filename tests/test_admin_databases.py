"""Every admin page and report on both conversation databases: SQLite and PostgreSQL.

The SQL in ``bot/storage`` is written once for both; these tests are what holds it to
that. The reports are compared row for row on the same log written to each database, and
the merchant's pages are rendered from real conversations on a bot serving from each.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import replace
from bot.storage import reports
from bot.storage.conversations import Conversation, ConversationStore, TurnRecord
from bot.web.app import create_app
from bot.web.descriptions import csrf_token
from tests.conftest import new_postgres_database
from tests.conversation import chat

pytestmark = pytest.mark.slow
TOKEN = "admin-databases-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY = 1_780_000_000.0  # 2026-05-28 20:26 UTC: a fixed clock, so both logs hold the same days


def _seed(log: ConversationStore) -> None:
    """The same log on any database: answered and unanswered questions over two days
    (one asked in two spellings), ratings, a handoff offer, and a handoff an agent
    resolved."""
    clock = iter(DAY + 60.0 * i for i in range(1000))

    def say(sender: str, text: str, intent: str, action: str, **extra: Any) -> TurnRecord:
        turn = TurnRecord(
            sender=sender,
            user_text=text,
            intent=intent,
            confidence=0.8,
            action=action,
            messages=extra.pop("messages", [{"recipient_id": sender, "text": "ok"}]),
            ts=extra.pop("ts", next(clock)),
            latency_ms=12.5,
            **extra,
        )
        log.save_turn(turn, Conversation(sender))
        return turn

    say("ana", "Do you sell kayaks?", "oos", "action_abstain")
    say("ben", "do you sell KAYAKS?", "oos", "action_abstain", ts=DAY + 86_400.0)
    say("ben", "what is a kayak paddle made of", "product_info", "action_clarify")
    answered = say(
        "cat",
        "what is your return policy?",
        "return_policy",
        "action_answer",
        sources=[{"id": "faq:returns", "type": "faq"}],
    )
    log.add_feedback(answered.turn_id, "cat", 1, None)
    rated = say("cat", "and for sale items?", "return_policy", "action_answer")
    log.add_feedback(rated.turn_id, "cat", -1, "too vague")
    offer = [{"recipient_id": "dan", "custom": {"type": "handoff_offer", "reason": "repeated"}}]
    say("dan", "this is not working", "complaint", "action_abstain", messages=offer)
    say("dan", "yes please", "affirm", "action_handoff", handoff=True)
    log.open_handoff("dan", "asked for a person")
    log.claim_handoff("dan", "Dana")
    log.log_agent_message("dan", "We gift wrap any order for $5.", "Dana")
    log.close_handoff("dan", "Dana")
    log.record_verification_failure("eve", "eve@example.com", "Eve Stone", "no such customer")


def _without_times(value: Any) -> Any:
    """``value`` with timestamps and row ids dropped (they differ between two logs)."""
    if isinstance(value, dict):
        drop = {"ts", "created_at", "claimed_at", "closed_at", "id", "turn_id", "latency"}
        return {k: _without_times(v) for k, v in value.items() if k not in drop}
    if isinstance(value, list | tuple):
        return [_without_times(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


@pytest.fixture
def logs(postgres_dsn: str, tmp_path: Path) -> Iterator[dict[str, ConversationStore]]:
    opened = {
        "sqlite": ConversationStore(tmp_path / "log.db"),
        "postgres": ConversationStore(new_postgres_database(postgres_dsn)),
    }
    for log in opened.values():
        _seed(log)
    yield opened
    for log in opened.values():
        log.close()


def test_every_report_reads_the_same_on_sqlite_and_postgresql(logs) -> None:
    def read(db: Any) -> dict[str, Any]:
        per_sender = reports.conversation_list(db)
        return {
            "overview": reports.overview(db),
            "intents": reports.intent_counts(db),
            "intents_per_day": reports.intents_per_day(db),
            "unanswered": reports.unanswered_questions(db),
            # (sender, messages, handoff turns): first and last ts differ between logs.
            "conversations": [(r[0], r[1], r[4]) for r in per_sender],
            "transcript": [r[1:] for r in reports.conversation_turns(db, "dan")],
            "offers": reports.offer_stats(db, ["repeated", "frustrated"]),
            "unanswered_turns": [r[1:2] + r[3:] for r in reports.unanswered_turns(db)],
            "resolved": reports.resolved_handoffs(db),
            "agents": reports.agent_names(db),
            "answered_from": reports.answered_from(db, "faq:returns", since=0.0),
            "ratings": reports.feedback_ratings(db, "cat"),
            "log": [
                {k: v for k, v in t.items() if k in ("sender", "user_text", "action", "author")}
                for t in reports.training_log(db)[0]
            ],
        }

    sqlite, postgres = (read(logs[name].db) for name in ("sqlite", "postgres"))
    for name in sqlite:
        assert _without_times(postgres[name]) == _without_times(sqlite[name]), name

    # And what the merchant is shown is right, not only the same twice.
    # The customers' turns on their two days; the agent's reply is logged at today's date.
    assert sqlite["overview"]["per_day"][:2] == [("2026-05-28", 6), ("2026-05-29", 1)]
    assert sqlite["overview"]["up"] == 1 and sqlite["overview"]["down"] == 1
    # One question in two spellings is one row, counted twice, last asked on the later day.
    question, times, last_day = sqlite["unanswered"][0]
    assert question.lower() == "do you sell kayaks?" and times == 2 and last_day == "2026-05-29"
    assert sqlite["offers"]["offers"] == 1 and sqlite["offers"]["accepted"] == 1
    assert sqlite["resolved"][0]["agent"][0]["text"] == "We gift wrap any order for $5."
    assert sqlite["agents"] == ["Dana"] and sqlite["answered_from"] == 1
    failures = [logs[n].recent_verification_failures() for n in ("sqlite", "postgres")]
    assert _without_times(failures[0]) == _without_times(failures[1]) and failures[0]


# --------------------------------------------------------------------------- the pages


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(request, demo_store: Path, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A bot on a private copy of the built demo store, logging to one database."""
    from bot.assemble import load_bot_sync
    from bot.config import load_config

    request.getfixturevalue("demo_bot")  # the session's build of the demo store
    root = tmp_path_factory.mktemp(f"admin-{request.param}")
    store = Path(
        shutil.copytree(
            demo_store, root / "demo", ignore=shutil.ignore_patterns("*.db*", "proposals")
        )
    )
    config = load_config(store, llm_backend="none", rate_limit_per_minute=0)
    if request.param == "postgres":
        url = new_postgres_database(request.getfixturevalue("postgres_dsn"))
        config = replace(config, database_url=url)
    config = replace(config, admin_token=TOKEN)
    bot = load_bot_sync(config, progress=False)  # extractive answers: no chat model
    yield request.param, config, bot
    bot.conversations.close()


def _get_pages(app: Any) -> list[str]:
    """Every GET page and read API of the merchant's side, as registered in the app."""
    paths = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "GET" and path.startswith(("/admin", "/api/inbox")):
            paths.add(path)
    return sorted(paths)


async def test_every_admin_page_renders_from_real_conversations(served) -> None:  # type: ignore[no-untyped-def]
    backend, config, bot = served
    app = create_app(config, bot=bot)
    async with TestClient(TestServer(app, port=0)) as client:
        tag = uuid.uuid4().hex[:6]
        ana, ben, cat = (f"{backend}-{who}-{tag}" for who in ("ana", "ben", "cat"))
        for sender, text in [
            (ana, "do you gift wrap orders?"),
            (ben, "Do you offer gift wrapping"),
        ]:
            reply = await chat(client, sender, text)
            assert reply["action"] in reports.FAILED_ACTIONS, reply
        answered = await chat(client, cat, "what is your return policy?")
        resp = await client.post(
            "/api/feedback",
            json={
                "sender": cat,
                "turn_id": answered["turn_id"],
                "rating": -1,
                "token": answered["token"],
            },
        )
        assert resp.status == 200
        handed = await chat(client, cat, "I want to talk to a person")
        assert handed["handoff"] is True
        for path, body in [
            ("/api/inbox/claim", {"sender": cat, "agent": "Dana"}),
            ("/api/inbox/reply", {"sender": cat, "agent": "Dana", "text": "Returns are free."}),
            ("/api/inbox/handback", {"sender": cat, "agent": "Dana"}),
        ]:
            resp = await client.post(path, json=body, headers=AUTH)
            assert resp.status == 200, (path, await resp.text())

        pages = _get_pages(app)
        assert {"/admin", "/admin/gaps", "/admin/inbox", "/admin/faq-proposals"} <= set(pages)
        fill = {"{sender}": cat, "{tail}": ""}
        for page in pages:
            for slot, value in fill.items():
                page = page.replace(slot, value)
            query = f"?sender={cat}" if page == "/api/inbox/conversation" else ""
            if page == "/api/inbox/events":
                continue  # a stream that stays open: tests/test_inbox.py reads it
            resp = await client.get(page + query, headers=AUTH)
            assert resp.status == 200, (backend, page, await resp.text())

        gaps = await (await client.get("/admin/gaps", headers=AUTH)).text()
        assert "gift wrap" in gaps.lower()
        overview = await (await client.get("/admin", headers=AUTH)).text()
        assert "handoff rate" in overview and "<svg" in overview
        convo = await (await client.get(f"/admin/conversations/{cat}", headers=AUTH)).text()
        assert "Returns are free." in convo and "return policy" in convo
        detail = await (
            await client.get(f"/api/inbox/conversation?sender={cat}", headers=AUTH)
        ).json()
        assert any(t["author"] == "agent" for t in detail["transcript"])

        # Learning FAQ entries reads the unanswered questions and the resolved handoff.
        resp = await client.post(
            "/admin/faq-proposals/propose", data={"csrf": csrf_token(TOKEN)}, headers=AUTH
        )
        assert resp.status == 200, await resp.text()
        proposals = await (await client.get("/admin/faq-proposals", headers=AUTH)).text()
        assert "gift wrap" in proposals.lower()
