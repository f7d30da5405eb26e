"""The quote decision's second look (knowledge_base/answerability.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base import answerability
from knowledge_base.calibration import Calibration, conservative
from tests.conftest import make_hit


def _hits(lexical: float, second_lexical: float = 0.0, dense: float = 0.8) -> list:
    best = make_hit("a", "faq", "Q", "A", dense=dense)
    other = make_hit("b", "faq", "Q2", "B", dense=dense - 0.05)
    best.lexical, other.lexical = lexical, second_lexical
    return [best, other]


def _calibration() -> Calibration:
    # p = sigmoid(10 * dense - 8): 0.5 at dense 0.8.
    return Calibration(weights=[10.0, 0.0], bias=-8.0, answer=0.55, quote=0.6, clarify=0.3)


def test_the_shipped_model_loads_and_records_how_it_was_measured() -> None:
    model = answerability.load()
    assert model is not None and len(model.weights) == len(answerability.FEATURES)
    data = json.loads(answerability.SHIPPED.read_text(encoding="utf-8"))
    loso = data["leave_one_store_out"]
    # Fitted across stores of several shapes, and measured with each one left out:
    # more answerable questions quoted, no more wrong ones, than the quote point alone.
    assert len(loso["per_store_quoted_baseline_total"]) >= 6
    assert loso["quoted"]["A"] > loso["baseline_quoted"]["A"]
    wrong = loso["quoted"]["U"] + loso["quoted"]["W"]
    assert wrong <= loso["baseline_quoted"]["U"] + loso["baseline_quoted"]["W"]


def test_the_words_of_the_question_in_the_best_entry_decide_a_close_call() -> None:
    cal = _calibration()
    # The same cosine (p = 0.5, under the quote point of 0.6): the entry that holds
    # the question's words is quoted, the one that holds none of them is not.
    assert cal.decide(_hits(lexical=1.0), can_compose=False)[0] == "quote"
    assert cal.decide(_hits(lexical=0.0), can_compose=False)[0] == "clarify"


def test_a_sure_match_by_meaning_alone_is_still_quoted() -> None:
    cal = _calibration()
    assert cal.decide(_hits(lexical=0.0, dense=0.99), can_compose=False)[0] == "quote"


def test_words_alone_never_lift_a_question_the_store_does_not_answer() -> None:
    cal = _calibration()
    # Below the clarify point (p ~ 0.05) no lexical match makes it a quotation.
    assert cal.decide(_hits(lexical=1.0, dense=0.5), can_compose=False)[0] == "abstain"


def test_a_conservative_store_uses_its_floor_only() -> None:
    cal = conservative()
    hits = _hits(lexical=1.0, dense=cal.quote - 0.01)
    assert cal.decide(hits, can_compose=False)[0] != "quote"


def test_a_model_file_of_another_shape_is_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "answerability.json"
    bad.write_text(json.dumps({"format": 1, "features": ["dense"], "weights": [1], "bias": 0}))
    with pytest.raises(ValueError, match="refit it"):
        answerability.load(str(bad))
    assert answerability.load(str(tmp_path / "missing.json")) is None
