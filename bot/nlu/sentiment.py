"""How a message feels: VADER's compound polarity, in [-1, 1] (0 = neutral).

Read per turn by escalation (a conversation going badly is offered a person)
and stored with each turn's insight event.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER compound polarity of ``text``, in [-1, 1] (0 = neutral)."""
    return round(float(_vader().polarity_scores(text)["compound"]), 4)
