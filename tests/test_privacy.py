"""Personal data is redacted before it is stored; forget and retention delete it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.storage.conversations import Conversation, ConversationStore, TurnRecord
from bot.storage.insights import InsightsStore
from bot.storage.privacy import redact


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("my email is Ava.Moore@example.com", "Ava.Moore@example.com", "[EMAIL]"),
        ("call me on +1 (555) 123-4567", "123-4567", "[PHONE]"),
        ("or 555.123.4567 after six", "555.123.4567", "[PHONE]"),
        ("card 4111 1111 1111 1111 exp 12/29", "4111", "[CARD]"),
        ("ship to 996 Cedar Street, Suite 656 please", "Cedar", "[ADDRESS]"),
        ("I live at 12 Baker St. in town", "Baker", "[ADDRESS]"),
    ],
)
def test_personal_data_is_redacted(text: str, gone: str, kept: str) -> None:
    out = redact(text)
    assert gone not in out
    assert kept in out


@pytest.mark.parametrize(
    "text",
    [
        "where is order #W4817420, zip 78234?",
        "two of the $129.99 shoes in size 10",
        "order number 1234567890123",  # not a valid card number (Luhn)
        "I bought 3 lamps in 2024",
    ],
)
def test_order_ids_prices_and_zip_codes_are_kept(text: str) -> None:
    assert redact(text) == text


def _turn(sender: str, text: str, ts: float | None = None) -> TurnRecord:
    t = TurnRecord(
        sender=sender,
        user_text=text,
        entities=[{"entity": "email", "value": "ava@example.com"}],
        messages=[{"recipient_id": sender, "text": "Thanks, ava@example.com is verified."}],
    )
    if ts is not None:
        t.ts = ts
    return t


def test_the_log_stores_only_redacted_text(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "log.db")
    conv = Conversation("s1", history=[{"role": "user", "content": "ava@example.com"}])
    store.save_turn(_turn("s1", "I'm ava@example.com, card 4111-1111-1111-1111"), conv)
    store.close()
    raw = (tmp_path / "log.db").read_bytes()
    wal = tmp_path / "log.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert b"ava@example.com" not in raw
    assert b"4111" not in raw
    again = ConversationStore(tmp_path / "log.db")
    row = again.turns("s1")[0]
    assert row["user_text"] == "I'm [EMAIL], card [CARD]"
    assert row["entities"][0]["value"] == "[EMAIL]"
    again.close()


def test_forget_deletes_one_customer_everywhere(tmp_path: Path) -> None:
    log = ConversationStore(tmp_path / "log.db")
    for sender in ("a", "b"):
        turn = _turn(sender, "hello")
        log.save_turn(turn, Conversation(sender))
        log.add_feedback(turn.turn_id, sender, 1, None)
    insights = InsightsStore(tmp_path / "log.db")
    counts = insights.forget("a")
    assert counts["turns"] == 1 and counts["feedback"] == 1 and counts["conversations"] == 1
    assert [t["sender"] for t in log.turns()] == ["b"]
    assert {f["sender"] for f in log.feedback()} == {"b"}
    insights.close()
    log.close()


def test_retention_prunes_old_turns_only(tmp_path: Path) -> None:
    log = ConversationStore(tmp_path / "log.db")
    now = time.time()
    log.save_turn(_turn("old", "hello", ts=now - 40 * 86400), Conversation("old"))
    log.save_turn(_turn("new", "hello", ts=now - 86400), Conversation("new"))
    insights = InsightsStore(tmp_path / "log.db")
    assert insights.prune(0) == {}  # 0 = keep forever
    assert insights.prune(30, now=now)["turns"] == 1
    assert [t["sender"] for t in log.turns()] == ["new"]
    insights.close()
    log.close()
