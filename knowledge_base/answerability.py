"""Whether the best hit may be quoted: a second look, learned from real customers' questions.

A store's calibration (``knowledge_base.calibration``) is fitted on questions made
from the store itself, and rule-made paraphrases keep the store's words: they
teach it what a cosine means in this store, but not what real customers do
("how many days do I have to send something back?" shares one word with the
return-policy FAQ). So the decision to *quote* the merchant's text (no chat model
to catch a near miss) takes a second look, with evidence the store's own
questions cannot calibrate:

- ``calibrated``: how far the store calibration's probability is past its quote
  point (log-odds), which carries everything the store taught it;
- ``lexical``: how much of the question's BM25 weight the best hit holds (a share
  of the question's attainable score, so comparable across stores);
- ``lexical_gap``: that share minus the runner-up's;
- ``lexical_top`` / ``dense_top``: whether the best fused hit is also the best by
  words alone / by meaning alone among the hits.

Its weights are fitted by ``scripts/fit_answerability.py`` on the answer cases of
the dev stores (FAQ-only, policy pages only, catalogue-heavy, Chinese, the demo
stores): real customers' questions labelled by whether the best hit holds the
expected answer, against out-of-scope, unanswerable and injection questions and
answerable ones whose best hit is the wrong entry. The script reports every
store left out of the fit in turn; the shipped file
(``knowledge_base/data/answerability.json``) records those figures, the stores
and the rate of negatives it lets through. A store's own calibration still sets
every point; this model only moves the quote decision around it, and is not used
for a conservative (uncalibrated) store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

ANSWERABILITY_FORMAT = 1
FEATURES = ("calibrated", "lexical", "lexical_gap", "lexical_top", "dense_top")
SHIPPED = Path(__file__).resolve().parent / "data" / "answerability.json"
# Log-odds are bounded so a probability of exactly 0 or 1 stays a finite feature.
_EPS = 1e-6


def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def features(hits: Sequence[Any], probability: float, quote_point: float) -> np.ndarray:
    """The feature vector (``FEATURES``) of a ranked hit list, given the store
    calibration's ``probability`` for it and its ``quote_point``."""
    best = hits[0]
    second_lexical = float(hits[1].lexical) if len(hits) > 1 else 0.0
    lexical = float(best.lexical)
    lexical_top = max(hits, key=lambda h: float(h.lexical)) is best
    dense_top = max(hits, key=lambda h: float(h.dense)) is best
    return np.array(
        [
            _logit(probability) - _logit(quote_point),
            lexical,
            lexical - second_lexical,
            float(lexical_top),
            float(dense_top),
        ],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class Answerability:
    """A linear model over ``FEATURES``: quote when its score is above zero."""

    weights: tuple[float, ...]
    bias: float

    def score(self, x: np.ndarray) -> float:
        return float(np.dot(self.weights, x) + self.bias)

    def quotes(self, hits: Sequence[Any], probability: float, quote_point: float) -> bool:
        """Whether the best of ``hits`` may be quoted as the answer."""
        if not hits:
            return False
        return self.score(features(hits, probability, quote_point)) > 0.0


def from_dict(data: dict[str, Any]) -> Answerability:
    """The model in a saved file's form; a clear error for any other."""
    if data.get("format") != ANSWERABILITY_FORMAT or data.get("features") != list(FEATURES):
        raise ValueError(
            f"answerability model of another format (format {data.get('format')!r}, "
            f"features {data.get('features')!r}); refit it: python scripts/fit_answerability.py"
        )
    weights = tuple(float(w) for w in data["weights"])
    if len(weights) != len(FEATURES):
        raise ValueError(f"answerability model has {len(weights)} weights for {len(FEATURES)}")
    return Answerability(weights=weights, bias=float(data["bias"]))


@lru_cache(maxsize=4)
def load(path: str | None = None) -> Answerability | None:
    """The shipped model (or the one at ``path``); None when there is none, so
    quoting falls back to the store calibration's quote point alone."""
    file = Path(path) if path else SHIPPED
    if not file.is_file():
        return None
    return from_dict(json.loads(file.read_text(encoding="utf-8")))
