"""The conversation store behaves the same on SQLite and on PostgreSQL.

Every test here runs against both backends: a SQLite file in a temp dir, and
a fresh database on the session's throwaway PostgreSQL server (``postgres_dsn``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from bot.storage.conversations import HISTORY_TURNS, Conversation, ConversationStore, TurnRecord
from bot.storage.db import DatabaseError, open_database
from bot.storage.insights import InsightsStore
from bot.storage.migrations import LATEST, MIGRATIONS, Migration, migrate, schema_version
from tests.conftest import new_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a fresh, empty conversation database lives, for each backend."""
    if request.param == "sqlite":
        return tmp_path / "log.db"
    return new_postgres_database(request.getfixturevalue("postgres_dsn"))


@pytest.fixture
def store(location: str | Path):
    s = ConversationStore(location)
    yield s
    s.close()


def _turn(sender: str, text: str = "hello", **kw: Any) -> TurnRecord:
    return TurnRecord(
        sender=sender,
        user_text=text,
        intent=kw.pop("intent", "greet"),
        confidence=kw.pop("confidence", 0.9),
        messages=[{"recipient_id": sender, "text": f"re: {text}"}],
        **kw,
    )


def test_a_new_sender_has_no_slots_and_no_history(store: ConversationStore) -> None:
    conv = store.load_conversation("nobody")
    assert conv.slots == {} and conv.history == []
    assert store.turns("nobody") == [] and store.count_turns() == 0


def test_a_saved_turn_and_the_state_it_left_survive_reopening(location: str | Path) -> None:
    store = ConversationStore(location)
    slots = {"order_id": "#W1234567", "verified_customer_id": "c-7", "n": 3, "ok": True}
    history = [{"role": "user", "content": "where is my order"}]
    store.save_turn(
        _turn("s1", "where is my order", latency_ms=12.5), Conversation("s1", slots, history)
    )
    store.close()
    again = ConversationStore(location)
    try:
        conv = again.load_conversation("s1")
        assert conv.slots == slots and conv.history == history
        (row,) = again.turns("s1")
        assert row["user_text"] == "where is my order"
        assert row["reply"] == [{"recipient_id": "s1", "text": "re: where is my order"}]
        assert row["reply_text"] == "re: where is my order"
        assert row["intent"] == "greet" and row["confidence"] == pytest.approx(0.9)
        assert row["latency_ms"] == pytest.approx(12.5) and row["author"] == "bot"
        # Timestamps keep sub-second precision (PostgreSQL REAL would not).
        assert abs(row["ts"] - again.events_after("s1", 0)[0]["ts"]) < 1e-6
    finally:
        again.close()


def test_history_is_capped_and_personal_data_redacted(store: ConversationStore) -> None:
    history = [{"role": "user", "content": f"message {i}"} for i in range(50)]
    history.append({"role": "user", "content": "mail me at ava@example.com"})
    store.save_turn(_turn("s1", "I'm ava@example.com"), Conversation("s1", {}, history))
    conv = store.load_conversation("s1")
    assert len(conv.history) == 2 * HISTORY_TURNS
    assert conv.history[-1]["content"] == "mail me at [EMAIL]"
    assert store.turns("s1")[0]["user_text"] == "I'm [EMAIL]"


def test_turns_are_listed_oldest_first_per_sender_and_overall(store: ConversationStore) -> None:
    for i in range(5):
        store.save_turn(_turn("a", f"a{i}"), Conversation("a"))
        store.save_turn(_turn("b", f"b{i}"), Conversation("b"))
    assert [t["user_text"] for t in store.turns("a")] == [f"a{i}" for i in range(5)]
    latest = [t["user_text"] for t in store.turns(limit=3)]
    assert latest == ["b3", "a4", "b4"]
    assert store.count_turns() == 10


def test_feedback_belongs_to_a_logged_turn(store: ConversationStore) -> None:
    turn = _turn("s1")
    store.save_turn(turn, Conversation("s1"))
    assert store.get_turn(turn.turn_id) == {"turn_id": turn.turn_id, "sender": "s1"}
    assert store.get_turn("missing") is None
    store.add_feedback(turn.turn_id, "s1", -1, "wrong size")
    store.add_feedback(turn.turn_id, "s1", 1, None)
    rows = store.feedback(turn.turn_id)
    assert [(r["rating"], r["comment"]) for r in rows] == [(-1, "wrong size"), (1, None)]
    assert len(store.feedback()) == 2


def test_a_failed_save_writes_neither_the_turn_nor_the_state(store: ConversationStore) -> None:
    turn = _turn("s1", "first")
    store.save_turn(turn, Conversation("s1", {"step": 1}))
    duplicate = _turn("s1", "second")
    duplicate.turn_id = turn.turn_id  # violates the unique turn id: the transaction fails
    with pytest.raises(Exception):  # noqa: B017 - sqlite3 and asyncpg raise their own types
        store.save_turn(duplicate, Conversation("s1", {"step": 2}))
    assert store.load_conversation("s1").slots == {"step": 1}
    assert [t["user_text"] for t in store.turns("s1")] == ["first"]
    store.save_turn(_turn("s1", "third"), Conversation("s1", {"step": 3}))  # still usable
    assert store.load_conversation("s1").slots == {"step": 3}


def test_event_ids_increase_and_a_stream_resumes_exactly(store: ConversationStore) -> None:
    for i in range(4):
        store.save_turn(_turn("s1", f"m{i}"), Conversation("s1"))
    store.save_turn(_turn("other"), Conversation("other"))
    events = store.events_after("s1", 0)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e["user"] for e in store.events_after("s1", ids[1])] == ["m2", "m3"]
    assert store.last_event_id() == max(c["id"] for c in store.changes_after(0))
    assert [c["sender"] for c in store.changes_after(ids[-1])] == ["other"]


def test_agent_messages_and_notices_join_the_log_and_wake_listeners(
    store: ConversationStore,
) -> None:
    woken: list[str] = []
    store.add_listener(woken.append)
    store.save_turn(_turn("s1", "a person please"), Conversation("s1", {"handoff": True}))
    logged = store.log_agent_message("s1", "Hi, Sam here. Let me check.", "sam")
    notice_id = store.log_notice("s1", "Sam joined", "agent_joined")
    assert notice_id > logged["id"] > 0
    events = store.events_after("s1", 0)
    assert [e["author"] for e in events] == ["bot", "agent", "system"]
    assert events[1]["messages"][0]["agent"] == "sam"
    assert store.load_conversation("s1").history[-1] == {
        "role": "assistant",
        "content": "Hi, Sam here. Let me check.",
    }
    assert woken.count("s1") >= 3
    store.remove_listener(woken.append)


def test_the_handoff_queue_opens_once_and_only_one_agent_claims(store: ConversationStore) -> None:
    store.save_turn(_turn("s1", "I want a human"), Conversation("s1"))
    first = store.open_handoff("s1", "asked for a person")
    assert store.open_handoff("s1", "again")["id"] == first["id"]  # idempotent while open
    (queued,) = store.open_handoffs()
    assert queued["sender"] == "s1" and queued["last_message"] == "I want a human"
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda a=a: results.append(store.claim_handoff("s1", a)[0]))
        for a in ("ann", "bob", "cy", "dee")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    store.close_handoff("s1", "ann")
    assert store.get_open_handoff("s1") is None and store.open_handoffs() == []
    assert store.open_handoff("s1", "back again")["id"] != first["id"]


def test_reset_forgets_the_state_but_keeps_the_log(store: ConversationStore) -> None:
    store.save_turn(_turn("s1"), Conversation("s1", {"x": 1}, [{"role": "user", "content": "hi"}]))
    store.reset_conversation("s1")
    assert store.load_conversation("s1").slots == {}
    assert len(store.turns("s1")) == 1


def test_concurrent_writers_lose_nothing_and_ids_stay_unique(location: str | Path) -> None:
    # Two store instances (as two server processes would hold) and four threads each.
    stores = [ConversationStore(location), ConversationStore(location)]
    errors: list[BaseException] = []

    def work(store: ConversationStore, worker: int) -> None:
        try:
            for i in range(10):
                sender = f"w{worker}"
                conv = store.load_conversation(sender)
                conv.slots["n"] = conv.slots.get("n", 0) + 1
                store.save_turn(_turn(sender, f"{worker}-{i}"), conv)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(stores[w % 2], w)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert stores[0].count_turns() == 80
        ids = [c["id"] for c in stores[1].changes_after(0, limit=1000)]
        assert len(ids) == len(set(ids)) == 80 and ids == sorted(ids)
        assert all(stores[1].load_conversation(f"w{w}").slots["n"] == 10 for w in range(8))
    finally:
        for s in stores:
            s.close()


def test_text_the_database_cannot_hold_as_is_is_still_logged(store: ConversationStore) -> None:
    # PostgreSQL text cannot contain NUL; the turn is logged with a replacement character.
    store.save_turn(_turn("s1", "a\x00b ünïcødé 🛍"), Conversation("s1", {"k": "v\x00"}))
    (row,) = store.turns("s1")
    assert row["user_text"].replace("\x00", "\ufffd") == "a\ufffdb ünïcødé 🛍"
    assert store.load_conversation("s1").slots["k"] == "v\x00"  # JSON escapes it


def test_migrations_are_numbered_recorded_and_applied_once(location: str | Path) -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))
    db = open_database(location)
    try:
        assert migrate(db, target=1) == [1]  # an older shopbot's database
        assert schema_version(db) == 1
        db.run("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    finally:
        db.close()
    store = ConversationStore(location)  # upgrades on open, keeping the data
    try:
        assert schema_version(store.db) == LATEST
        assert store.db.fetch("SELECT value FROM meta WHERE key = 'kept'") == [("yes",)]
        assert migrate(store.db) == []
        versions = store.db.fetch("SELECT version FROM schema_version ORDER BY version")
        assert [v for (v,) in versions] == list(range(1, LATEST + 1))
        store.db.run(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (LATEST + 1, "from the future", 0.0),
        )
    finally:
        store.close()
    with pytest.raises(DatabaseError, match="newer than this shopbot"):
        ConversationStore(location)


def test_a_migration_may_be_any_sql_script(location: str | Path) -> None:
    # ";" inside a string, a comment, and a body of several statements: a trigger on
    # SQLite, a PL/pgSQL function on PostgreSQL. Splitting on ";" breaks every one.
    body = {
        "sqlite": """
            CREATE TRIGGER notes_stamp AFTER INSERT ON notes BEGIN
                UPDATE notes SET text = text || '; stamped' WHERE id = NEW.id;
                INSERT INTO notes_audit (note_id) VALUES (NEW.id);
            END;
        """,
        "postgres": """
            CREATE FUNCTION notes_stamp() RETURNS trigger AS $$
            BEGIN
                UPDATE notes SET text = text || '; stamped' WHERE id = NEW.id;
                INSERT INTO notes_audit (note_id) VALUES (NEW.id);
                RETURN NEW;
            END; $$ LANGUAGE plpgsql;
            CREATE TRIGGER notes_stamp AFTER INSERT ON notes
                FOR EACH ROW EXECUTE FUNCTION notes_stamp();
        """,
    }
    db = open_database(location)
    try:
        script = (
            "CREATE TABLE notes (id {id}, text TEXT NOT NULL DEFAULT 'a;b'); -- a ; in a note\n"
            "CREATE TABLE notes_audit (note_id INTEGER NOT NULL);\n"
        )
        steps = [
            Migration(1, "notes", script),
            Migration(2, "stamp notes", body["sqlite"], dialects=("sqlite",)),
            Migration(3, "stamp notes", body["postgres"], dialects=("postgres",)),
        ]
        assert migrate(db, migrations=steps, table="notes_version") == [1, 2, 3]
        assert schema_version(db, migrations=steps, table="notes_version") == 3
        assert schema_version(db) == 0  # the conversation log's own version is apart
        db.run("INSERT INTO notes (text) VALUES (?)", ("x",))
        assert db.fetch("SELECT text FROM notes") == [("x; stamped",)]
        assert db.fetch("SELECT COUNT(*) FROM notes_audit") == [(1,)]

        # A migration that fails leaves the schema and the recorded version as they were.
        broken = [*steps, Migration(4, "broken", "CREATE TABLE more (x INTEGER); NOT SQL")]
        with pytest.raises(Exception):  # noqa: B017 - each driver raises its own error
            migrate(db, migrations=broken, table="notes_version")
        assert schema_version(db, migrations=steps, table="notes_version") == 3
        with pytest.raises(Exception):  # noqa: B017
            db.fetch("SELECT * FROM more")
        with pytest.raises(ValueError, match="numbered 1, 2, 3"):
            migrate(db, migrations=steps[1:], table="notes_version")
        with pytest.raises(ValueError, match="table name"):
            migrate(db, migrations=steps, table="notes; DROP TABLE notes")
    finally:
        db.close()


def test_the_order_books_schema_is_versioned(tmp_path: Path) -> None:
    from bot.storage.order_changes import ORDER_MIGRATIONS, ORDER_VERSION_TABLE, OrderChanges

    path = tmp_path / "orders.db"
    # A file made before the schema was versioned: the table exists, no version table.
    old = open_database(path)
    old.run(
        "CREATE TABLE order_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT "
        "NULL, kind TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, item_ids TEXT NOT NULL "
        "DEFAULT '[]', refund_method_id TEXT, created_at TEXT NOT NULL)"
    )
    old.run(
        "INSERT INTO order_changes (order_id, kind, status, reason, created_at) "
        "VALUES ('#W1', 'cancel', 'cancelled', 'no longer needed', '2026-01-01T00:00:00Z')"
    )
    old.close()
    changes = OrderChanges(path)
    try:
        assert [c["status"] for c in changes.of("#W1")] == ["cancelled"]  # adopted, kept
        latest = ORDER_MIGRATIONS[-1].version
        assert schema_version(changes.db, ORDER_MIGRATIONS, ORDER_VERSION_TABLE) == latest
    finally:
        changes.db.close()


def test_insights_share_the_database_and_forget_a_customer_everywhere(
    store: ConversationStore,
) -> None:
    import numpy as np

    for sender in ("s1", "s2"):
        turn = _turn(sender, "do you have red shoes")
        store.save_turn(turn, Conversation(sender, {"verified_customer_id": f"c-{sender}"}))
        store.add_feedback(turn.turn_id, sender, 1, None)
    insights = InsightsStore(store.db)
    for seq, row in enumerate(store.changes_after(0), start=1):
        (turn_row,) = [t for t in insights.turns_after(seq - 1) if t["id"] == row["id"]][:1]
        event = {"turn_id": turn_row["turn_id"], "sender": row["sender"], "ts": turn_row["ts"]}
        event["day"] = "2026-11-23"
        vec = np.ones(4, dtype=np.float32)
        insights.apply(row["id"], event, [("gap", "query", "red shoes")], {"turns": seq}, vec)
    assert insights.high_water() == store.last_event_id()
    # Another server process's updater finds the turn done and folds nothing twice.
    assert not insights.apply(store.last_event_id(), event, [], {"turns": 99}, None)
    assert insights.verified_customer("s1") == "c-s1"
    assert insights.signal_counts(kind="gap", by_day=False)[0]["count"] == 2
    assert insights.events(gaps_only=True)[0]["gap_vec"].tolist() == [1.0] * 4
    # The merchant's report SQL (written for SQLite) runs on both databases.
    (day,) = insights.query("SELECT date(ts, 'unixepoch') d, COUNT(*) FROM turns GROUP BY d")
    assert len(day[0]) == 10 and day[1] == 2
    counts = insights.forget("s1")
    assert counts["turns"] == 1 and counts["insight_profiles"] == 1
    assert store.turns("s1") == [] and insights.profile("s1") is None
    assert insights.profile("s2") == {"turns": 2}
    assert insights.prune(1, now=store.turns("s2")[0]["ts"] + 2 * 86400)["turns"] == 1
    insights.close()  # shared: the store's database stays open
    assert store.count_turns() == 0


def test_a_bad_database_location_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="unsupported database URL mysql://u:\\*\\*\\*@h/db"):
        ConversationStore("mysql://u:secret@h/db")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(DatabaseError, match="cannot connect to PostgreSQL") as err:
        ConversationStore(f"postgresql://shop:hunter2@127.0.0.1:{port}/shop")
    assert "hunter2" not in str(err.value)
    garbage = tmp_path / "not-a.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="Move the file away"):
        ConversationStore(garbage)


def test_postgres_listeners_hear_writes_from_other_processes(postgres_dsn: str) -> None:
    url = new_postgres_database(postgres_dsn)
    writer, reader = ConversationStore(url), ConversationStore(url)
    heard = threading.Event()
    reader.add_listener(lambda sender: heard.set() if sender == "s9" else None)
    try:
        writer.save_turn(_turn("s9"), Conversation("s9"))
        assert heard.wait(10), "the other store was not notified through LISTEN/NOTIFY"
        # The listening connection dies (a PostgreSQL restart, a network blip): it comes back.
        killed = writer.db.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert killed == [(True,)]
        heard.clear()
        for _ in range(30):  # writes before the reconnect are not heard; keep writing
            writer.save_turn(_turn("s9"), Conversation("s9"))
            if heard.wait(1):
                break
        assert heard.is_set(), "the listener did not reconnect"
    finally:
        writer.close()
        reader.close()


def _increment(store: ConversationStore, sender: str, times: int) -> None:
    """Read-modify-write of a slot, one locked turn at a time (what a server turn does)."""
    for i in range(times):
        assert store.lock_conversation(sender)
        try:
            conv = store.load_conversation(sender)
            conv.slots["n"] = conv.slots.get("n", 0) + 1
            store.save_turn(_turn(sender, f"turn {i}"), conv)
        finally:
            store.unlock_conversation(sender)


def test_locked_turns_of_one_conversation_lose_no_update(store: ConversationStore) -> None:
    threads = [threading.Thread(target=_increment, args=(store, "busy", 10)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.load_conversation("busy").slots["n"] == 40
    assert store._local_locks == {}  # nothing left behind per sender


def test_postgres_conversation_lock_holds_off_other_processes(postgres_dsn: str) -> None:
    url = new_postgres_database(postgres_dsn)
    a, b = ConversationStore(url), ConversationStore(url)
    try:
        assert a.shared and b.shared
        # Two "servers", two threads each, one customer: every increment survives.
        threads = [threading.Thread(target=_increment, args=(s, "hop", 8)) for s in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert a.load_conversation("hop").slots["n"] == 32
        assert a.lock_conversation("held")
        assert not b.lock_conversation("held", timeout=0.2)  # A holds it
        assert b.lock_conversation("other", timeout=5)  # other customers are not blocked
        b.unlock_conversation("other")
        a.close()  # a server that goes away releases its locks with its connection
        assert b.lock_conversation("held", timeout=10)
        b.unlock_conversation("held")
    finally:
        a.close()
        b.close()
