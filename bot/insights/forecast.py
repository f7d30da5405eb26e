"""Demand forecasts: three baselines and a small GRU, chosen per series by backtest.

Models (each ``f(history, h, m) -> h values``):
- ``seasonal_naive``: the last season repeated (m = 7 for daily series)
- ``moving_average``: the mean of the last ``m`` (at least 4) values, flat
- ``exp_smoothing``: Holt-Winters exponential smoothing from statsmodels
  (additive damped trend, additive season when there are two full seasons)
- ``gru``: a one-layer GRU in torch that reads a window of the (scaled,
  log1p) series and predicts the next ``h`` values at once

``backtest`` is a rolling-origin evaluation: at each of the last ``origins``
cut points the model sees only the past and forecasts ``h`` steps; errors are
MASE (scaled by the in-sample seasonal-naive error) and sMAPE. ``choose``
takes the model with the lowest MASE, and the GRU only where it beats seasonal
naive. Intervals are the chosen model's backtest error quantiles (80%).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Model = Callable[[np.ndarray, int, int], np.ndarray]


def seasonal_naive(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """Repeat the last season (the last value when ``m`` is 1)."""
    m = max(1, min(m, len(y)))
    season = y[-m:]
    return np.array([season[i % m] for i in range(h)], dtype=float)


def moving_average(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """Flat forecast at the mean of the last season (at least 4 points)."""
    window = max(4, m)
    return np.full(h, float(np.mean(y[-window:])))


def exp_smoothing(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """Holt-Winters (statsmodels): damped additive trend, additive season if it fits."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = "add" if m > 1 and len(y) >= 2 * m + 2 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short series
        try:
            fit = ExponentialSmoothing(
                y.astype(float),
                trend="add",
                damped_trend=True,
                seasonal=seasonal,
                seasonal_periods=m if seasonal else None,
                initialization_method="estimated",
            ).fit()
            out = np.asarray(fit.forecast(h), dtype=float)
        except (ValueError, np.linalg.LinAlgError):
            return moving_average(y, h, m)
    return out if np.all(np.isfinite(out)) else moving_average(y, h, m)


@dataclass
class GRUSettings:
    """Plain values; small on purpose (the series are short and CPUs shared)."""

    window: int = 28
    hidden: int = 24
    epochs: int = 120
    lr: float = 0.01
    seed: int = 0


def gru(y: np.ndarray, h: int, m: int, settings: GRUSettings | None = None) -> np.ndarray:
    """Train a GRU on windows of the past and forecast the next ``h`` values directly."""
    import torch

    s = settings or GRUSettings()
    window = min(s.window if m > 1 else max(8, s.window // 2), max(4, len(y) - h - 1))
    torch.manual_seed(s.seed)
    z = np.log1p(np.maximum(y, 0.0))
    scale = float(z.mean() or 1.0)
    z = z / scale
    xs, ys = [], []
    for t in range(window, len(z) - h + 1):
        xs.append(z[t - window : t])
        ys.append(z[t : t + h])
    if len(xs) < 8:  # too little history to learn from
        return seasonal_naive(y, h, m)
    x = torch.tensor(np.array(xs), dtype=torch.float32).unsqueeze(-1)
    target = torch.tensor(np.array(ys), dtype=torch.float32)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.nn.GRU(1, s.hidden, batch_first=True)
            self.head = torch.nn.Linear(s.hidden, h)

        def forward(self, inp: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(inp)
            # Predict the change from the last value: the GRU learns the shape, not the level.
            return inp[:, -1, :] + self.head(out[:, -1, :])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=s.lr)
    for _ in range(s.epochs):
        opt.zero_grad()
        loss = torch.nn.functional.l1_loss(net(x), target)
        loss.backward()
        opt.step()
    with torch.no_grad():
        last = torch.tensor(z[-window:], dtype=torch.float32).view(1, -1, 1)
        pred = net(last).numpy()[0] * scale
    return np.maximum(np.expm1(pred), 0.0)


MODELS: dict[str, Model] = {
    "seasonal_naive": seasonal_naive,
    "moving_average": moving_average,
    "exp_smoothing": exp_smoothing,
    "gru": gru,
}


def mase(actual: np.ndarray, pred: np.ndarray, history: np.ndarray, m: int) -> float:
    """Mean absolute error scaled by the in-sample seasonal-naive error."""
    m = max(1, m)
    scale = float(np.mean(np.abs(history[m:] - history[:-m]))) if len(history) > m else 0.0
    if scale == 0.0:
        scale = float(np.mean(np.abs(history))) or 1.0
    return float(np.mean(np.abs(actual - pred)) / scale)


def smape(actual: np.ndarray, pred: np.ndarray) -> float:
    """Symmetric MAPE in percent (0 when both are 0)."""
    denom = np.abs(actual) + np.abs(pred)
    ratio = np.where(denom == 0, 0.0, 2 * np.abs(actual - pred) / np.where(denom == 0, 1, denom))
    return float(100 * np.mean(ratio))


@dataclass
class Backtest:
    """Per model: mean MASE and sMAPE over the origins, and the forecast errors."""

    h: int
    m: int
    origins: int
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: dict[str, list[float]] = field(default_factory=dict)

    def winner(self) -> str:
        """Lowest MASE; the GRU only where it beats seasonal naive."""
        ranked = sorted(self.scores, key=lambda k: self.scores[k]["mase"])
        for name in ranked:
            if name == "gru" and "seasonal_naive" in self.scores:
                if self.scores["gru"]["mase"] >= self.scores["seasonal_naive"]["mase"]:
                    continue
            return name
        return "seasonal_naive"


def backtest(
    y: np.ndarray, h: int, m: int, origins: int = 5, models: dict[str, Model] | None = None
) -> Backtest:
    """Rolling-origin backtest over the last ``origins * h`` points."""
    y = np.asarray(y, dtype=float)
    models = models or MODELS
    if len(y) < origins * h + 2 * max(m, 4):
        raise ValueError(
            f"series too short for the backtest: {len(y)} points, need at least "
            f"{origins * h + 2 * max(m, 4)} (origins={origins}, h={h}, m={m})"
        )
    result = Backtest(h=h, m=m, origins=origins)
    for name, model in models.items():
        mases, smapes, errs = [], [], []
        for i in range(origins, 0, -1):
            cut = len(y) - i * h
            history, actual = y[:cut], y[cut : cut + h]
            pred = model(history, h, m)
            mases.append(mase(actual, pred, history, m))
            smapes.append(smape(actual, pred))
            errs.extend((actual - pred).tolist())
        result.scores[name] = {"mase": float(np.mean(mases)), "smape": float(np.mean(smapes))}
        result.errors[name] = errs
    return result


@dataclass
class Forecast:
    """The chosen model's forecast with an 80% interval, and the backtest behind it."""

    model: str
    values: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    backtest: Backtest


def forecast(
    y: np.ndarray, h: int, m: int, origins: int = 4, models: dict[str, Model] | None = None
) -> Forecast:
    """Backtest every model, refit the winner on all data and forecast ``h`` steps."""
    y = np.asarray(y, dtype=float)
    bt = backtest(y, h, m, origins, models)
    name = bt.winner()
    values = (models or MODELS)[name](y, h, m)
    errs = np.asarray(bt.errors[name])
    lo, hi = np.quantile(errs, [0.1, 0.9]) if len(errs) else (0.0, 0.0)
    return Forecast(name, values, np.maximum(values + lo, 0.0), np.maximum(values + hi, values), bt)


# -- CDNOW ------------------------------------------------------------------------
def load_cdnow(path: str | Path) -> dict[str, np.ndarray]:
    """Daily and weekly units and revenue from ``CDNOW_master.txt``.

    Rows are ``customer_id date(YYYYMMDD) number_of_cds dollar_value``; days
    without purchases count as zero. Weeks are 7-day blocks from the first day.
    """
    import datetime as dt

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"CDNOW file not found: {path}")
    units: dict[dt.date, float] = {}
    revenue: dict[dt.date, float] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts or (lineno == 1 and not parts[1].isdigit()):  # blank line or header
                continue
            if len(parts) != 4:
                raise ValueError(f"{path}:{lineno}: expected 4 columns, got {len(parts)}")
            day = dt.datetime.strptime(parts[1], "%Y%m%d").date()
            units[day] = units.get(day, 0.0) + float(parts[2])
            revenue[day] = revenue.get(day, 0.0) + float(parts[3])
    first, last = min(units), max(units)
    days = [first + dt.timedelta(d) for d in range((last - first).days + 1)]
    du = np.array([units.get(d, 0.0) for d in days])
    dr = np.array([revenue.get(d, 0.0) for d in days])
    n_weeks = len(days) // 7
    return {
        "daily_units": du,
        "daily_revenue": dr,
        "weekly_units": du[: n_weeks * 7].reshape(n_weeks, 7).sum(1),
        "weekly_revenue": dr[: n_weeks * 7].reshape(n_weeks, 7).sum(1),
    }


def plot_forecast(
    history: np.ndarray,
    fc: Forecast,
    title: str,
    out: str | Path | Any,
    fmt: str | None = None,
    tail: int = 90,
) -> None:
    """History, forecast and its 80% interval as a PNG/SVG file or file object."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = np.asarray(history, dtype=float)[-tail:]
    x_hist = np.arange(len(hist))
    x_fc = np.arange(len(hist), len(hist) + len(fc.values))
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(x_hist, hist, color="#444", lw=1, label="history")
    ax.plot(x_fc, fc.values, color="#1f77b4", lw=2, label=f"forecast ({fc.model})")
    ax.fill_between(x_fc, fc.lower, fc.upper, color="#1f77b4", alpha=0.2, label="80% interval")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, format=fmt)
    plt.close(fig)
