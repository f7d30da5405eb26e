"""``shopbot insights ...`` and ``shopbot forget``: the merchant's command line for insights.

Every command first catches up on turns logged since the last update, so
what it prints is current even when no server ran the background updater.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-03-31") from exc


def open_engine(args: argparse.Namespace) -> Any:
    """The insights engine over the configured store's log (building the store if needed)."""
    from bot.config import load_config
    from bot.insights.engine import InsightsEngine
    from bot.storage.orders import OrderBook
    from knowledge_base.build import ensure_built
    from knowledge_base.embeddings import get_encoder

    config = load_config(
        getattr(args, "store", None), getattr(args, "config", None), db_path=args.db_path
    )
    encoder = get_encoder()
    artifacts = ensure_built(config.store_dir, progress=False, encoder=encoder)
    db_path = config.db_path or artifacts.db_path
    store = artifacts.store
    order_book = OrderBook.for_store(store, db_path)
    engine = InsightsEngine(
        config.database_url or db_path,
        store.products,
        encoder,
        gap_threshold=config.demand_gap_threshold,
        order_book=order_book,
    )
    engine.config = config  # type: ignore[attr-defined]
    return engine


def cmd_insights(args: argparse.Namespace) -> int:
    """Dispatch ``shopbot insights WHAT``."""
    engine = open_engine(args)
    try:
        if args.what == "recompute":
            n = engine.recompute()
            print(f"recomputed insights from {n} logged turns")
            return 0
        n = engine.process_new()
        if n:
            print(f"(caught up on {n} new turns)")
        return int(_COMMANDS[args.what](engine, args) or 0)
    finally:
        engine.close()


def _profile(engine: Any, args: argparse.Namespace) -> int:
    print(engine.explain_profile(args.customer))
    return 0


def _segments(engine: Any, args: argparse.Namespace) -> int:
    from bot.insights.segments import plot_segments, segment

    seg = segment(engine.store.profiles(), args.k_min, args.k_max, seed=args.seed)
    print(f"{len(seg.senders)} customers, k={seg.k} chosen by silhouette {seg.silhouettes}")
    for p in seg.personas:
        print(f"  segment {p['segment']}: {p['size']} customers ({p['share']:.0%}): {p['persona']}")
    chart = args.chart or Path("segments.png")
    plot_segments(seg, chart)
    print(f"chart: {chart}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "k": seg.k,
                    "silhouettes": seg.silhouettes,
                    "personas": seg.personas,
                    "members": dict(zip(seg.senders, seg.labels.tolist(), strict=True)),
                },
                indent=2,
            )
        )
    return 0


def _demand(engine: Any, args: argparse.Namespace) -> int:
    from bot.insights.demand import demand

    rows = demand(engine.store, args.start, args.end, key_type=args.by, kind=args.kind)
    titles = {pid: p.title for pid, p in engine.catalog.products.items()}
    print(f"{'kind':18s} {args.by:30s} count")
    for r in rows[: args.top]:
        print(f"{r['kind']:18s} {titles.get(r['key'], r['key'])[:30]:30s} {r['count']}")
    if not rows:
        print("(no demand signals in this range)")
    return 0


def _gaps(engine: Any, args: argparse.Namespace) -> int:
    from bot.insights.demand import demand_gaps

    gaps = demand_gaps(engine.store, args.start, args.end)
    for g in gaps[: args.top]:
        print(
            f"{g['requests']:5d} requests, {g['customers']:4d} customers: {g['label']!r} "
            f"({g['first_day']}..{g['last_day']}; e.g. {'; '.join(g['examples'][:3])})"
        )
    if not gaps:
        print("(no demand gaps in this range)")
    return 0


def _forecast(engine: Any, args: argparse.Namespace) -> int:
    import numpy as np

    from bot.insights.demand import daily_series
    from bot.insights.forecast import forecast, load_cdnow, plot_forecast

    if args.cdnow:
        series = load_cdnow(args.cdnow)["daily_units"]
        name, days = "CDNOW daily units", None
    else:
        key_type, _, key = (args.series or "category:").partition(":")
        if key_type not in ("category", "product"):
            raise ValueError("--series must look like category:NAME, product:ID or category:")
        days, series = daily_series(
            engine.store, args.kind, key_type, key or None, args.start, args.end
        )
        name = f"{args.kind} of {key_type} {key or '(all)'} per day"
    fc = forecast(np.asarray(series), args.horizon, 7, origins=args.origins)
    print(f"{name}: {len(series)} days of history; model {fc.model} (backtest winner)")
    for model, s in fc.backtest.scores.items():
        print(f"  {model:15s} MASE {s['mase']:.3f}  sMAPE {s['smape']:.1f}%")
    start = dt.date.fromisoformat(days[-1]) + dt.timedelta(1) if days else None
    for i, (v, lo, hi) in enumerate(zip(fc.values, fc.lower, fc.upper, strict=True)):
        label = (start + dt.timedelta(i)).isoformat() if start else f"t+{i + 1}"
        print(f"  {label}: {v:8.1f}  (80%: {lo:.1f} .. {hi:.1f})")
    chart = args.chart or Path("forecast.png")
    plot_forecast(series, fc, name, chart)
    print(f"chart: {chart}")
    return 0


def _prune(engine: Any, args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else engine.config.retention_days
    if days <= 0:
        print("retention_days is 0 (keep forever): nothing pruned")
        return 0
    print(f"pruned records older than {days:g} days: {engine.store.prune(days)}")
    return 0


_COMMANDS: dict[str, Callable[[Any, argparse.Namespace], int]] = {
    "profile": _profile,
    "segments": _segments,
    "demand": _demand,
    "gaps": _gaps,
    "forecast": _forecast,
    "prune": _prune,
}


def cmd_forget(args: argparse.Namespace) -> int:
    """Delete one customer's log, state, feedback, profile and signal contributions."""
    engine = open_engine(args)
    try:
        engine.process_new()
        counts = engine.store.forget(args.customer)
    finally:
        engine.close()
    if not any(counts.values()):
        print(f"nothing stored for customer {args.customer!r}")
        return 1
    print(f"forgot {args.customer!r}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def add_commands(sub: Any) -> None:
    """Register ``insights`` and ``forget`` on the ``shopbot`` sub-parser set."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", type=Path, help="store directory (default: the demo store)")
        p.add_argument("--config", type=Path, help="a TOML config file")
        p.add_argument("--db", dest="db_path", type=Path, help="conversation database file")

    def dates(p: argparse.ArgumentParser) -> None:
        p.add_argument("--from", dest="start", type=_date, help="first day (YYYY-MM-DD)")
        p.add_argument("--to", dest="end", type=_date, help="last day, inclusive")

    p = sub.add_parser("insights", help="customer profiles, segments, demand signals, forecasts")
    isub = p.add_subparsers(dest="what", required=True)
    q = isub.add_parser("profile", help="one customer's profile, explained field by field")
    q.add_argument("customer")
    common(q)
    q = isub.add_parser("segments", help="k-means segments with personas, and a chart")
    q.add_argument("--k-min", type=int, default=2)
    q.add_argument("--k-max", type=int, default=8)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--chart", type=Path, help="image file (default segments.png)")
    q.add_argument("--json", type=Path)
    common(q)
    q = isub.add_parser("demand", help="demand signals per product or category")
    q.add_argument("--by", choices=["product", "category"], default="product")
    q.add_argument(
        "--kind",
        choices=["mention", "purchase_intent", "soldout_question", "price_objection"],
    )
    q.add_argument("--top", type=int, default=25)
    dates(q)
    common(q)
    q = isub.add_parser("gaps", help="clustered requests for products the store lacks")
    q.add_argument("--top", type=int, default=20)
    dates(q)
    common(q)
    q = isub.add_parser("forecast", help="forecast a demand series (or CDNOW) with intervals")
    q.add_argument("--series", help="category:NAME, product:ID, or category: for all (default)")
    q.add_argument("--kind", default="mention")
    q.add_argument("--horizon", type=int, default=14, help="days ahead")
    q.add_argument("--origins", type=int, default=3, help="backtest origins")
    q.add_argument("--cdnow", type=Path, help="forecast CDNOW_master.txt daily units instead")
    q.add_argument("--chart", type=Path, help="image file (default forecast.png)")
    dates(q)
    common(q)
    q = isub.add_parser("recompute", help="rebuild all insights from the log")
    common(q)
    q = isub.add_parser("prune", help="delete log records older than the retention period")
    q.add_argument("--days", type=float, help="override retention_days")
    common(q)
    p.set_defaults(func=cmd_insights)

    p = sub.add_parser("forget", help="delete everything stored about one customer (sender id)")
    p.add_argument("customer")
    common(p)
    p.set_defaults(func=cmd_forget)
