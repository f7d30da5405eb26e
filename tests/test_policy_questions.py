"""Which messages the policy treats as questions about the rules or requests for a person."""

from __future__ import annotations

import pytest

from bot.nlu.phrases import GENERAL_QUESTION_RE, HUMAN_REQUEST_RE, SPECIFIC_ORDER_RE


def asks_about_rules(text: str) -> bool:
    return bool(GENERAL_QUESTION_RE.search(text)) and not SPECIFIC_ORDER_RE.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "Do I pay the postage for returns?",
        "How can I cancel an order I placed?",
        "Can I return my order before it arrives?",
        "Is there a deadline for returning items?",
        "Why can't I cancel my order since I changed the items?",
        "My order has no tracking number, why?",
        "The item came broken, what should I do?",
        "How will I know my return request was accepted?",
        "how long do refunds take",
    ],
)
def test_questions_about_the_rules(text: str) -> None:
    assert asks_about_rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order?",
        "I want to cancel my order",
        "Can you cancel my order please",
        "What's the status of my order?",
        "When will my package arrive?",
        "Has my refund been processed?",
        "return my shoes",
    ],
)
def test_requests_about_ones_own_order(text: str) -> None:
    assert not asks_about_rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "Please connect me with a real person",
        "Can I speak to an agent?",
        "connect me to an agent",
        "I'd like to talk to someone from your support team",
        "agent please",
        "Human!",
    ],
)
def test_asking_for_a_person(text: str) -> None:
    assert HUMAN_REQUEST_RE.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order?",
        "Can I return a jacket?",
        "Who is the agent for your shoes in Europe",
        "Can I put someone else's name on the order?",
        "How do I connect my account to someone else's?",
    ],
)
def test_not_asking_for_a_person(text: str) -> None:
    assert not HUMAN_REQUEST_RE.search(text)
