"""Forecasters, the rolling-origin backtest, model choice and the CDNOW loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.insights.forecast import (
    MODELS,
    Backtest,
    backtest,
    forecast,
    load_cdnow,
    mase,
    plot_forecast,
    smape,
)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The GRU is tiny: one thread avoids oversubscribing a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _weekly_series(days: int = 140, seed: int = 0) -> np.ndarray:
    """Daily demand with a strong weekly pattern, a slow rise and a little noise."""
    rng = np.random.default_rng(seed)
    week = np.array([5, 6, 7, 8, 12, 20, 18], dtype=float)
    t = np.arange(days)
    return week[t % 7] + 0.02 * t + rng.normal(0, 0.5, days)


def test_errors_are_scaled_as_defined() -> None:
    history = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    # The in-sample one-step naive error is 1, so MASE is the plain mean absolute error.
    assert mase(np.array([10.0, 10]), np.array([9.0, 12]), history, 1) == pytest.approx(1.5)
    assert smape(np.array([0.0, 100]), np.array([0.0, 100])) == 0.0
    assert smape(np.array([100.0]), np.array([0.0])) == pytest.approx(200.0)


def test_backtest_scores_every_model_and_seasonality_wins_on_a_seasonal_series() -> None:
    y = _weekly_series()
    bt = backtest(y, h=7, m=7, origins=3)
    assert set(bt.scores) == set(MODELS)
    assert all(np.isfinite(s["mase"]) and s["smape"] >= 0 for s in bt.scores.values())
    # A flat mean cannot follow the week; the seasonal models can.
    assert bt.scores["seasonal_naive"]["mase"] < bt.scores["moving_average"]["mase"]
    assert bt.scores["exp_smoothing"]["mase"] < bt.scores["moving_average"]["mase"]
    assert bt.winner() != "moving_average"
    assert len(bt.errors["gru"]) == 3 * 7


def test_the_gru_is_chosen_only_where_it_beats_seasonal_naive() -> None:
    bt = Backtest(h=7, m=7, origins=3)
    bt.scores = {
        "seasonal_naive": {"mase": 0.80, "smape": 20.0},
        "moving_average": {"mase": 0.95, "smape": 25.0},
        "gru": {"mase": 0.80, "smape": 19.0},  # a tie is not a win
    }
    assert bt.winner() == "seasonal_naive"
    bt.scores["gru"]["mase"] = 0.70
    assert bt.winner() == "gru"
    bt.scores["moving_average"]["mase"] = 0.60
    assert bt.winner() == "moving_average"


def test_forecast_refits_the_winner_with_an_interval(tmp_path: Path) -> None:
    y = _weekly_series()
    fc = forecast(y, h=14, m=7, origins=2)
    assert fc.model == fc.backtest.winner()
    assert fc.values.shape == fc.lower.shape == fc.upper.shape == (14,)
    assert np.all(fc.lower <= fc.values + 1e-9) and np.all(fc.values <= fc.upper + 1e-9)
    assert np.all(fc.lower >= 0)
    # The forecast keeps the weekly shape: its peak day is the series' peak day.
    assert int(np.argmax(fc.values[:7])) == (5 - len(y)) % 7
    plot_forecast(y, fc, "test series", tmp_path / "fc.svg")
    assert (tmp_path / "fc.svg").read_text().lstrip().startswith("<?xml")


def test_a_series_too_short_for_the_backtest_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="series too short"):
        backtest(np.ones(20), h=7, m=7, origins=3)


def test_cdnow_loader_builds_daily_and_weekly_series(tmp_path: Path) -> None:
    path = tmp_path / "CDNOW_master.txt"
    path.write_text(
        "00001 19970101 1 11.77\n"
        "00002 19970101 2 20.00\n"
        "00001 19970103 1 5.00\n"
        "00003 19970114 3 30.00\n"
    )
    series = load_cdnow(path)
    assert series["daily_units"].tolist()[:3] == [3.0, 0.0, 1.0]
    assert len(series["daily_units"]) == 14  # zero days filled in
    assert series["weekly_units"].tolist() == [4.0, 3.0]
    assert series["weekly_revenue"].tolist() == pytest.approx([36.77, 30.0])
    path.write_text("00001 19970101 1\n")
    with pytest.raises(ValueError, match="expected 4 columns"):
        load_cdnow(path)
    with pytest.raises(FileNotFoundError):
        load_cdnow(tmp_path / "missing.txt")
