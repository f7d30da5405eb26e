"""Grounding: number normalisation, invented-number detection, fallback answers, prompts."""

from __future__ import annotations

import pytest

from bot.grounding import (
    NOT_SURE_TEXT,
    build_messages,
    extractive_answer,
    is_supported,
    is_unsure,
    numbers_in,
    split_sentences,
    ungrounded_numbers,
)
from tests.conftest import NORTHWIND, make_hit

REFUNDS = (
    "Once we receive your return, refunds are issued to the original payment method within "
    "5 to 7 business days. Orders paid with a gift card are refunded to a gift card immediately. "
    "Returns are accepted within 30 days of delivery for unworn items with tags attached. "
    "Only orders with status delivered can be returned. Final-sale items cannot be returned."
)
SHIPPING = "Standard shipping takes 3-5 business days and is free on orders over $50.00."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It costs $1,234.50.", {"1234.5"}),
        ("Only $49.00!", {"49"}),
        ("4.5 stars", {"4.5"}),
        ("5-7 business days", {"5", "7"}),
        ("5\u20137 business days", {"5", "7"}),
        ("five to seven business days", {"5", "7"}),
        ("twenty-five dollars", {"25"}),
        ("a 30-day return window", {"30"}),
        ("15% off, or 20 percent for members", {"15", "20"}),
        ("replies within 48h, open 9:00-17:30, chat 24/7", {"48", "9", "17:30", "24", "7"}),
        ("ships in one business day", {"1"}),
        ("the blue one is nicer", set()),
        ("order #W1234567 and SKU AB12345", set()),
        ("1. Pack the item\n2. Print 2 labels", {"2"}),
        ("as passage [2] says", set()),
    ],
)
def test_numbers_are_normalised(text: str, expected: set[str]) -> None:
    assert numbers_in(text) == expected


def test_grounded_reply_has_no_ungrounded_numbers() -> None:
    reply = (
        "Refunds go back to your card within five to seven business days; returns within 30 days."
    )
    assert ungrounded_numbers(reply, [REFUNDS]) == []


def test_invented_price_and_days_are_reported_in_reply_order() -> None:
    reply = "Express shipping costs $12.99 and arrives in 2 days. Standard takes 3-5 days."
    assert ungrounded_numbers(reply, [SHIPPING]) == ["12.99", "2"]


def test_equivalent_periods_count_as_grounded() -> None:
    assert ungrounded_numbers("You have two weeks to return it.", ["Returns within 14 days."]) == []
    assert ungrounded_numbers("Replies within 2 days.", ["We reply within 48 hours."]) == []


def test_currency_formats_match_each_other() -> None:
    assert ungrounded_numbers("Free shipping over $50.", [SHIPPING]) == []
    assert ungrounded_numbers("Free shipping over 50 dollars.", ["Free over USD 50.00"]) == []


def test_list_markers_are_not_claims_but_listed_numbers_are() -> None:
    reply = "1. Pack the item.\n2. Ship it within 30 days.\n3. Wait 10 days."
    assert ungrounded_numbers(reply, [REFUNDS]) == ["10"]


def test_numbers_only_the_customer_said_are_still_ungrounded() -> None:
    # The customer's "45 days" is not a store fact; echoing it as policy is a claim.
    assert ungrounded_numbers("Yes, 45 days is fine.", [REFUNDS]) == ["45"]


def test_extractive_answer_returns_whole_faq_answer() -> None:
    long_answer = " ".join(f"Sentence number {i} about shipping." for i in range(6))
    hit = make_hit("faq-ship", "faq", "Shipping", long_answer)
    assert extractive_answer([hit]) == long_answer


def test_extractive_answer_trims_passages_but_keeps_conditions() -> None:
    hit = make_hit("doc:returns#refunds", "passage", "Refunds", REFUNDS + " Our stores are lovely.")
    answer = extractive_answer([hit])
    assert answer.startswith("Once we receive your return")
    # The 4th sentence ("Only orders with status delivered ...") qualifies the
    # 3rd, and so does the 5th, so both stay; the unrelated last one goes.
    assert "Only orders with status delivered" in answer
    assert "Final-sale items cannot be returned." in answer
    assert "lovely" not in answer


def test_extractive_answer_without_hits_is_not_sure() -> None:
    assert extractive_answer([]) == NOT_SURE_TEXT
    assert is_unsure(NOT_SURE_TEXT)


def test_split_sentences_keeps_incomplete_tail_and_abbreviations() -> None:
    done, rest = split_sentences(
        "We ship e.g. to Canada. It costs $4.99! And th", complete_only=True
    )
    assert [s.strip() for s in done] == ["We ship e.g. to Canada.", "It costs $4.99!"]
    assert rest == "And th"


def test_is_supported_accepts_a_faithful_paraphrase() -> None:
    ok, problems = is_supported(
        "We refund returns to your original payment method within 5 to 7 business days.",
        [REFUNDS],
    )
    assert ok, problems


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("", "empty reply"),
        ("Refunds take 10 days.", "number not in sources: 10"),
        ("Email refunds@northwind.example for help.", "email not in sources"),
        ("Your order #W7654321 has shipped.", "order id not in sources"),
        ("See https://northwind.example/returns for details.", "link not in sources"),
        (
            "Our velvet sofas come in many gorgeous colours and designer fabrics today.",
            "mostly not from the sources",
        ),
        (
            "My rules: answer the customer's question ONLY from the numbered passages you are given.",
            "repeats the system instructions",
        ),
    ],
)
def test_is_supported_rejects(reply: str, problem: str) -> None:
    ok, problems = is_supported(reply, [REFUNDS])
    assert not ok
    assert any(problem in p for p in problems), problems


def test_not_sure_reply_is_supported() -> None:
    assert is_supported(NOT_SURE_TEXT, [REFUNDS]) == (True, [])


def test_build_messages_numbers_passages_and_trims_history() -> None:
    hits = [
        make_hit("doc:returns#refunds", "passage", "Refunds", REFUNDS),
        make_hit("faq-ship", "faq", "Shipping", SHIPPING),
        make_hit("faq-3", "faq", "Gift cards", "Gift cards never expire."),
        make_hit("faq-4", "faq", "Fourth", "Not shown."),
    ]
    history = [{"role": "user", "content": f"q{i}"} for i in range(10)]
    history.append({"role": "user", "content": "How long do refunds take?"})
    messages = build_messages("How long do refunds take?", hits, history, NORTHWIND)

    system, *turns, last = messages
    assert system["role"] == "system" and "Northwind Outfitters" in system["content"]
    assert "ONLY from the numbered passages" in system["content"]
    assert "USD" in system["content"]
    # Last 3 turns at most, and the current question not duplicated from history.
    assert [t["content"] for t in turns] == ["q4", "q5", "q6", "q7", "q8", "q9"]
    assert last["role"] == "user"
    assert "[1] Refunds\nOnce we receive" in last["content"]
    assert "[3] Gift cards" in last["content"] and "Not shown." not in last["content"]
    assert last["content"].endswith("Customer question: How long do refunds take?")
