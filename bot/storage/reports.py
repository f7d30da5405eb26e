"""Reading the turn log for reports: the admin pages, handoff offers, FAQ learning, insights,
fine-tuning.

Every read goes through a ``Database`` (``bot/storage/db.py``), written once with ``?``
placeholders in SQL that SQLite and PostgreSQL both run (the UTC day of a timestamp is
the one phrase that differs: ``bot/storage/dialect.day_sql``), so the merchant's pages and
the fine-tuning data work on either backend; tests/test_admin_databases.py runs every
report on both. Rows come back as tuples in the order each docstring gives.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from bot.storage.db import Database
from bot.storage.dialect import day_sql

# Actions that mean the customer did not get an answer (with a fallback: "unanswered").
FAILED_ACTIONS = frozenset({"action_abstain", "action_clarify"})
_FAILED = tuple(sorted(FAILED_ACTIONS))
# A turn that left the customer without an answer; takes ``_FAILED`` as its arguments.
_UNANSWERED = f"(fallback = 1 OR action IN ({', '.join('?' for _ in _FAILED)}))"


class NotALogError(ValueError):
    """The database holds no shopbot conversation log (or is no database at all)."""


# -- the admin pages ---------------------------------------------------------------------
def overview(db: Database) -> dict[str, Any]:
    """The overview's figures: ``senders``, ``turns``, ``handed`` (conversations handed
    off), ``failed`` (unanswered messages), ``up`` / ``down`` (ratings), ``latency`` (mean
    ms) and ``per_day`` ([(day, messages)])."""
    senders, turns = db.fetch("SELECT COUNT(DISTINCT sender), COUNT(*) FROM turns")[0]
    handed = db.fetch("SELECT COUNT(DISTINCT sender) FROM turns WHERE handoff = 1")[0][0]
    failed = db.fetch(f"SELECT COUNT(*) FROM turns WHERE {_UNANSWERED}", _FAILED)[0][0]
    up, down = db.fetch(
        # CASE, not SUM(rating > 0): PostgreSQL does not sum booleans.
        "SELECT COALESCE(SUM(CASE WHEN rating > 0 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN rating < 0 THEN 1 ELSE 0 END), 0) FROM feedback"
    )[0]
    latency = db.fetch("SELECT AVG(latency_ms) FROM turns")[0][0]
    per_day = db.fetch(f"SELECT {day_sql(db.dialect)} d, COUNT(*) FROM turns GROUP BY d ORDER BY d")
    return {
        "senders": senders,
        "turns": turns,
        "handed": handed,
        "failed": failed,
        "up": up,
        "down": down,
        "latency": latency,
        "per_day": per_day,
    }


def intent_counts(db: Database, limit: int = 25) -> list[tuple[Any, ...]]:
    """The most frequent intents: (intent, messages, mean confidence, handoff turns)."""
    return db.fetch(
        "SELECT intent, COUNT(*) n, AVG(confidence), SUM(handoff) FROM turns "
        "GROUP BY intent ORDER BY n DESC, COALESCE(intent, '') LIMIT ?",
        (limit,),
    )


def intents_per_day(db: Database) -> list[tuple[Any, ...]]:
    """(day, intent, messages) for every day and intent, by day."""
    return db.fetch(
        f"SELECT {day_sql(db.dialect)} d, intent, COUNT(*) FROM turns GROUP BY d, intent "
        "ORDER BY d, COALESCE(intent, '')"
    )


def unanswered_questions(db: Database, limit: int = 30) -> list[tuple[Any, ...]]:
    """The questions most often left unanswered: (question, times, last day asked).

    Case-insensitively grouped; the question is shown as one of its spellings.
    """
    return db.fetch(
        f"SELECT MIN(user_text), COUNT(*) n, MAX({day_sql(db.dialect)}) FROM turns "
        f"WHERE {_UNANSWERED} GROUP BY lower(user_text) ORDER BY n DESC, MIN(user_text) LIMIT ?",
        (*_FAILED, limit),
    )


def conversation_list(db: Database, limit: int = 50, offset: int = 0) -> list[tuple[Any, ...]]:
    """Conversations, latest first: (sender, messages, first ts, last ts, handoff turns)."""
    return db.fetch(
        "SELECT sender, COUNT(*), MIN(ts), MAX(ts), SUM(handoff) FROM turns GROUP BY sender "
        "ORDER BY MAX(ts) DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )


def conversation_turns(db: Database, sender: str, limit: int = 500) -> list[tuple[Any, ...]]:
    """One conversation, oldest first: (ts, user text, intent, confidence, action, reply
    text, handoff)."""
    return db.fetch(
        "SELECT ts, user_text, intent, confidence, action, reply_text, handoff FROM turns "
        "WHERE sender = ? ORDER BY id LIMIT ?",
        (sender, limit),
    )


def offer_stats(db: Database, reasons: Iterable[str]) -> dict[str, Any]:
    """How many proactive handoff offers were made, why, and what the customer did next.

    ``reasons``: the offer reasons to count (each starts at 0). Outcomes: ``accepted``
    (the next turn handed off, or, without an agent inbox, gave the store's contact
    details through the handoff action), ``declined`` (the customer answered and went
    on with the bot), ``no_reply`` (the customer left).
    """
    rows = db.fetch(
        "SELECT id, sender, reply FROM turns WHERE reply LIKE ? ORDER BY id",
        ('%"handoff_offer"%',),
    )
    out: dict[str, Any] = {
        "offers": 0,
        "by_reason": {r: 0 for r in reasons},
        "accepted": 0,
        "declined": 0,
        "no_reply": 0,
    }
    for seq, sender, reply in rows:
        offered = [
            m["custom"]["reason"]
            for m in json.loads(reply)
            if isinstance(m.get("custom"), dict) and m["custom"].get("type") == "handoff_offer"
        ]
        if not offered:
            continue
        out["offers"] += 1
        out["by_reason"][offered[0]] = out["by_reason"].get(offered[0], 0) + 1
        after = db.fetch(
            "SELECT handoff, action FROM turns WHERE sender = ? AND id > ? AND author = 'bot' "
            "ORDER BY id LIMIT 1",
            (sender, seq),
        )
        if not after:
            out["no_reply"] += 1
        elif after[0][0] or after[0][1] == "action_handoff":
            out["accepted"] += 1
        else:
            out["declined"] += 1
    return out


# -- FAQ learning (bot/merchant/faq_learning.py) ----------------------------------------
# Who closes a handoff without an agent having resolved it (bot/turn/pipeline.py, policy.py).
NOT_AGENTS = ("customer", "system")


def unanswered_turns(db: Database, since: float = 0.0, limit: int = 5000) -> list[tuple[Any, ...]]:
    """Customer messages left unanswered since ``since`` (a timestamp), newest first:
    (turn_id, sender, ts, user_text, intent)."""
    return db.fetch(
        "SELECT turn_id, sender, ts, user_text, intent FROM turns "
        f"WHERE {_UNANSWERED} AND author = 'bot' AND user_text != '' AND ts >= ? "
        "ORDER BY id DESC LIMIT ?",
        (*_FAILED, since, limit),
    )


def resolved_handoffs(
    db: Database, since: float = 0.0, limit: int = 1000, before: int = 8
) -> list[dict[str, Any]]:
    """Handoffs an agent closed (handed back) since ``since``, newest first, each with what
    was said: ``{"id", "sender", "created_at", "claimed_by", "closed_at", "closed_by",
    "customer": [...], "agent": [...]}``.

    ``customer``: the customer's last ``before`` messages up to the agent's last reply
    (not before the sender's previous handoff closed), oldest first, as
    ``{"turn_id", "ts", "text", "action", "intent", "unanswered"}``; ``agent``: the agents'
    replies while the handoff was open, as ``{"turn_id", "ts", "text"}``. A handoff no
    agent replied to is left out.
    """
    rows = db.fetch(
        "SELECT id, sender, created_at, claimed_by, closed_at, closed_by FROM handoffs "
        f"WHERE closed_at IS NOT NULL AND closed_by NOT IN ({', '.join('?' for _ in NOT_AGENTS)}) "
        "AND created_at >= ? ORDER BY id DESC LIMIT ?",
        (*NOT_AGENTS, since, limit),
    )
    out = []
    for hid, sender, created, claimed_by, closed, closed_by in rows:
        agent = db.fetch(
            "SELECT turn_id, ts, reply_text FROM turns WHERE sender = ? AND author = 'agent' "
            "AND ts >= ? AND ts <= ? ORDER BY id",
            (sender, created, closed),
        )
        if not agent:
            continue
        previous = db.fetchone(
            "SELECT MAX(closed_at) FROM handoffs WHERE sender = ? AND id < ?", (sender, hid)
        )
        start = float(previous[0]) if previous and previous[0] is not None else 0.0
        customer = db.fetch(
            "SELECT turn_id, ts, user_text, action, intent, "
            f"CASE WHEN {_UNANSWERED} THEN 1 ELSE 0 END FROM turns "
            "WHERE sender = ? AND author = 'bot' AND user_text != '' AND ts > ? AND ts <= ? "
            "ORDER BY id DESC LIMIT ?",
            (*_FAILED, sender, start, agent[-1][1], before),
        )
        out.append(
            {
                "id": hid,
                "sender": sender,
                "created_at": created,
                "claimed_by": claimed_by,
                "closed_at": closed,
                "closed_by": closed_by,
                "customer": [
                    {
                        "turn_id": t,
                        "ts": ts,
                        "text": text,
                        "action": a,
                        "intent": i,
                        "unanswered": bool(u),
                    }
                    for t, ts, text, a, i, u in reversed(customer)
                ],
                "agent": [{"turn_id": t, "ts": ts, "text": text} for t, ts, text in agent],
            }
        )
    return out


def agent_names(db: Database) -> list[str]:
    """The display names agents claimed handoffs under (to keep them out of learned text)."""
    rows = db.fetch("SELECT DISTINCT claimed_by FROM handoffs WHERE claimed_by IS NOT NULL")
    return sorted(str(r[0]) for r in rows if r[0])


def answered_from(db: Database, source_id: str, since: float) -> int:
    """How many customer messages after ``since`` were answered citing ``source_id`` (an FAQ,
    product or passage id) among their sources; clarifying questions do not count."""
    rows = db.fetch(
        "SELECT sources FROM turns WHERE ts > ? AND author = 'bot' AND sources LIKE ? "
        f"AND fallback = 0 AND COALESCE(action, '') NOT IN ({', '.join('?' for _ in _FAILED)})",
        (since, f"%{json.dumps(source_id)}%", *_FAILED),
    )
    # LIKE only narrows the rows down (an id may hold its wildcards); the JSON decides.
    return sum(any(s.get("id") == source_id for s in json.loads(r[0] or "[]")) for r in rows)


# -- insights and fine-tuning ------------------------------------------------------------
def feedback_ratings(db: Database, sender: str) -> list[int]:
    """Every rating ``sender`` gave, oldest first."""
    rows = db.fetch("SELECT rating FROM feedback WHERE sender = ? ORDER BY id", (sender,))
    return [int(r[0]) for r in rows]


def training_log(db: Database) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
    """The whole log for fine-tuning: every turn (as ``{column: value}``, in log order)
    and the ratings of each rated turn (``{turn_id: [rating, ...]}``).

    Raises :class:`NotALogError` when the database has no shopbot log tables.
    """
    errors: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)
    if db.dialect == "postgres":
        import asyncpg

        errors += (asyncpg.PostgresError,)
    try:
        turns = db.fetch_dicts("SELECT * FROM turns ORDER BY id")
        ratings: dict[str, list[int]] = {}
        for turn_id, rating in db.fetch("SELECT turn_id, rating FROM feedback"):
            ratings.setdefault(turn_id, []).append(int(rating))
    except errors as exc:
        raise NotALogError(str(exc)) from exc
    return turns, ratings
