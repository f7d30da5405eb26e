"""The merchant's pages under ``/admin``: overview, intents, gaps, segments, demand, conversations.

Routes added by ``setup_admin(app)``, which also owns the insights
engine and the background updater (started and stopped in ``cleanup_ctx``).
Every page needs the admin token from the config, given as
``Authorization: Bearer <token>``, or once as ``?token=`` (which sets an
HTTP-only cookie, shared with the agents' inbox, and redirects to the same
page without it). Missing credentials get 401, wrong ones 403; tokens are
compared in constant time. Without a configured token the pages are off.

Pages are server-rendered HTML with inline SVG charts from matplotlib: they
need no JavaScript and no network access.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import io
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.insights.demand import daily_series, demand, demand_gaps
from bot.insights.engine import InsightsEngine, InsightsUpdater
from bot.insights.forecast import forecast, plot_forecast
from bot.insights.personalise import ProductReranker
from bot.insights.segments import plot_segments, segment
from bot.limits import parse_int
from bot.storage import reports
from bot.turn.escalation import REASONS
from bot.web.errors import ApiError
from bot.web.inbox import ADMIN_COOKIE, check_admin, cookie_value
from bot.web.keys import BOT_KEY, CONFIG_KEY, INSIGHTS_KEY, UPDATER_KEY

log = logging.getLogger("shopbot.admin")

COOKIE = ADMIN_COOKIE
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CHART_LOCK = threading.Lock()  # pyplot keeps global state: one chart at a time
MAX_PAGE = 1_000_000  # 50 conversations a page: 50 million, more than any store has
_FORECAST_CACHE: dict[tuple[Any, ...], Any] = {}

CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}
nav{background:#1f2937;padding:.6em 1em}nav a{color:#e5e7eb;margin-right:1.2em;text-decoration:none}
main{padding:1em 2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left;vertical-align:top}
.num{text-align:right}.cards{display:flex;gap:1em;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em}
.card b{display:block;font-size:1.6em}.muted{color:#777}.user{color:#1f4e99}.bot{color:#333}
svg{max-width:100%;height:auto}
"""
NAV = [
    ("/admin", "Overview"),
    ("/admin/intents", "Intents"),
    ("/admin/gaps", "Unanswered & gaps"),
    ("/admin/segments", "Segments"),
    ("/admin/demand", "Demand & forecasts"),
    ("/admin/conversations", "Conversations"),
    ("/admin/descriptions", "Product descriptions"),
    ("/admin/faq-proposals", "Learned FAQ"),
]


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _page(title: str, body: str) -> web.Response:
    nav = "".join(f'<a href="{href}">{_esc(name)}</a>' for href, name in NAV)
    doc = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_esc(title)} · shopbot admin</title><style>{CSS}</style></head>"
        f"<body><nav>{nav}</nav><main><h1>{_esc(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(text=doc, content_type="text/html")


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_esc(c)}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>" if rows else '<p class="muted">nothing yet</p>'


def _svg(draw: Callable[[Any], None], size: tuple[float, float] = (8, 3)) -> str:
    """Render a matplotlib drawing to inline SVG text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with _CHART_LOCK:
        fig, ax = plt.subplots(figsize=size)
        try:
            draw(ax)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
        finally:
            plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


# -- authentication ---------------------------------------------------------------
def _error(status: int, code: str, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="shopbot admin"'} if status == 401 else None
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


def _check(request: web.Request) -> web.Response | None:
    """None when the request carries the admin token (or its cookie), else the error."""
    try:
        check_admin(request, login_path="/admin")  # the inbox's check: one login for both
    except ApiError as exc:
        return _error(exc.status, exc.code, exc.message)
    return None


def _guarded(handler: Handler) -> Handler:
    """Run ``handler`` only for requests with the admin token."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        denied = _check(request)
        if denied is not None:
            return denied
        if "token" in request.query:
            # Swap the token in the URL for a cookie: out of the address bar and history.
            rest = [(k, v) for k, v in request.query.items() if k != "token"]
            target = request.path + (
                "?" + "&".join(f"{k}={quote(v)}" for k, v in rest) if rest else ""
            )
            response = web.Response(status=303, headers={"Location": target})
            response.set_cookie(
                COOKIE,
                cookie_value(_config(request).admin_token or ""),
                httponly=True,
                samesite="Strict",
                path="/",
            )
            return response
        response = await handler(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    return guarded


def _config(request: web.Request) -> Any:
    return request.config_dict[CONFIG_KEY]


async def _engine(request: web.Request) -> Any:
    """The insights engine, caught up with the log (cheap when the updater runs)."""
    engine = request.config_dict[INSIGHTS_KEY]
    await asyncio.to_thread(engine.process_new)
    return engine


# -- pages --------------------------------------------------------------------------
async def overview(request: web.Request) -> web.Response:
    engine = await _engine(request)
    s = await asyncio.to_thread(reports.overview, engine.store.db)
    offers = await asyncio.to_thread(reports.offer_stats, engine.store.db, REASONS)
    conv = s["senders"] or 0
    cards = [
        ("conversations", conv),
        ("messages", s["turns"]),
        ("resolved without handoff", f"{(1 - s['handed'] / conv) * 100:.0f}%" if conv else "-"),
        ("handoff rate", f"{s['handed'] / conv * 100:.1f}%" if conv else "-"),
        ("unanswered messages", s["failed"]),
        ("feedback: helpful / not helpful", f"{s['up']} / {s['down']}"),  # no emoji: fonts vary
        ("mean turn latency", f"{s['latency']:.0f} ms" if s["latency"] else "-"),
        (
            "offered a person unasked",
            f"{offers['offers']} ({offers['offers'] / conv * 100:.1f}% of conversations)"
            if conv
            else "-",
        ),
    ]
    body = (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{_esc(v)}</b>{_esc(k)}</div>' for k, v in cards)
        + "</div>"
    )
    body += "<h2>Proactive handoff offers</h2>" + _table(
        ["reason", "offers"],
        [[_esc(REASONS[r]), n] for r, n in offers["by_reason"].items() if r in REASONS],
        numeric={1},
    )
    body += _table(
        ["outcome", "offers"],
        [
            ["accepted: handed to a person", offers["accepted"]],
            ["declined: went on with the assistant", offers["declined"]],
            ["no reply", offers["no_reply"]],
        ],
        numeric={1},
    )
    # Failed identity checks: guessing shows up here (and hands off after the limits).
    failures = await asyncio.to_thread(
        request.config_dict[BOT_KEY].conversations.recent_verification_failures, 20
    )
    if failures:
        body += "<h2>Failed identity checks (latest)</h2>" + _table(
            ["customer", "why", "when"],
            [
                [
                    f'<a href="/admin/conversations/{quote(f["sender"], safe="")}">'
                    f"{_esc(f['sender'])}</a>",
                    _esc(f["reason"]),
                    _when(f["ts"]),
                ]
                for f in failures
            ],
        )
    if s["per_day"]:
        days = [r[0] for r in s["per_day"]]
        counts = [r[1] for r in s["per_day"]]

        def draw(ax: Any) -> None:
            ax.bar(range(len(days)), counts, color="#1f77b4")
            ax.set_xticks(range(0, len(days), max(1, len(days) // 8)))
            ax.set_xticklabels(days[:: max(1, len(days) // 8)], rotation=30, fontsize=7)
            ax.set_title("messages per day")

        body += await asyncio.to_thread(_svg, draw)
    return _page("Overview", body)


async def intents(request: web.Request) -> web.Response:
    engine = await _engine(request)
    rows = await asyncio.to_thread(reports.intent_counts, engine.store.db, 25)
    top = [r[0] for r in rows[:5]]
    trend = await asyncio.to_thread(reports.intents_per_day, engine.store.db)
    body = _table(
        ["intent", "messages", "mean confidence", "handoffs"],
        [[_esc(r[0]), r[1], f"{r[2] or 0:.2f}", r[3]] for r in rows],
        numeric={1, 2, 3},
    )
    if trend:
        days = sorted({r[0] for r in trend})
        series = {i: [0] * len(days) for i in top}
        for d, intent, n in trend:
            if intent in series:
                series[intent][days.index(d)] = n

        def draw(ax: Any) -> None:
            for name, ys in series.items():
                ax.plot(range(len(days)), ys, label=str(name))
            ax.legend(fontsize=7)
            ax.set_title("top intents per day")
            ax.set_xticks(range(0, len(days), max(1, len(days) // 8)))
            ax.set_xticklabels(days[:: max(1, len(days) // 8)], rotation=30, fontsize=7)

        body = await asyncio.to_thread(_svg, draw) + body
    return _page("Intents", body)


async def gaps(request: web.Request) -> web.Response:
    engine = await _engine(request)
    start, end = _range(request)
    clusters = await asyncio.to_thread(demand_gaps, engine.store, start, end)
    unanswered = await asyncio.to_thread(reports.unanswered_questions, engine.store.db, 30)
    body = "<h2>Demand gaps: products asked for that the catalog lacks</h2>" + _table(
        ["request", "requests", "customers", "phrasings", "days"],
        [
            [
                _esc(g["label"]),
                g["requests"],
                g["customers"],
                _esc("; ".join(g["examples"])),
                f"{g['first_day']} .. {g['last_day']}",
            ]
            for g in clusters[:30]
        ],
        numeric={1, 2},
    )
    body += "<h2>Unanswered questions</h2>" + _table(
        ["question (redacted)", "times", "last asked"],
        [[_esc(r[0]), r[1], r[2]] for r in unanswered],
        numeric={1},
    )
    return _page("Unanswered questions and demand gaps", body)


async def segments(request: web.Request) -> web.Response:
    engine = await _engine(request)
    profiles = await asyncio.to_thread(engine.store.profiles)
    try:
        seg = await asyncio.to_thread(segment, profiles)
    except ValueError as exc:
        return _page("Segments", f'<p class="muted">{_esc(exc)}</p>')

    def chart() -> str:
        with _CHART_LOCK:
            buf = io.StringIO()
            plot_segments(seg, buf, fmt="svg")
        text = buf.getvalue()
        return text[text.index("<svg") :]

    body = await asyncio.to_thread(chart)
    body += _table(
        ["segment", "customers", "share", "persona"],
        [[p["segment"], p["size"], f"{p['share']:.0%}", _esc(p["persona"])] for p in seg.personas],
        numeric={0, 1, 2},
    )
    body += f'<p class="muted">k={seg.k} by silhouette: {_esc(seg.silhouettes)}</p>'
    return _page("Segments", body)


async def demand_page(request: web.Request) -> web.Response:
    engine = await _engine(request)
    start, end = _range(request)
    rows = await asyncio.to_thread(demand, engine.store, start, end, "category")
    table: dict[str, dict[str, int]] = {}
    for r in rows:
        table.setdefault(r["key"], {})[r["kind"]] = r["count"]
    kinds = ["mention", "purchase_intent", "soldout_question", "price_objection"]
    ordered = sorted(table.items(), key=lambda kv: -kv[1].get("mention", 0))
    body = _table(
        ["category", *kinds],
        [[_esc(c), *(v.get(k, 0) for k in kinds)] for c, v in ordered],
        numeric={1, 2, 3, 4},
    )
    for category, _ in ordered[:3]:
        days, y = await asyncio.to_thread(
            daily_series, engine.store, "mention", "category", category, start, end
        )
        key = (category, tuple(days[-1:]), float(y.sum()), len(y))
        try:
            if key not in _FORECAST_CACHE:
                _FORECAST_CACHE[key] = await asyncio.to_thread(forecast, y, 7, 7, 2)
            fc = _FORECAST_CACHE[key]
        except ValueError as exc:
            body += f"<h3>{_esc(category)}</h3><p class='muted'>no forecast: {_esc(exc)}</p>"
            continue

        def chart(fc: Any = fc, y: Any = y, category: str = category) -> str:
            with _CHART_LOCK:
                buf = io.StringIO()
                plot_forecast(y, fc, f"{category}: mentions per day, next 7 days", buf, fmt="svg")
            text = buf.getvalue()
            return text[text.index("<svg") :]

        body += f"<h3>{_esc(category)}</h3>" + await asyncio.to_thread(chart)
    return _page("Demand by category, with forecasts", body)


async def conversations(request: web.Request) -> web.Response:
    engine = await _engine(request)
    try:
        # Bounded: page * 50 is an SQL OFFSET, which must fit a 64-bit integer.
        page = parse_int(request.query.get("page"), "page", 0, MAX_PAGE) or 0
    except ValueError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from exc
    rows = await asyncio.to_thread(reports.conversation_list, engine.store.db, 50, page * 50)
    body = _table(
        ["customer", "messages", "first", "last", "handoff turns"],
        [
            [
                f'<a href="/admin/conversations/{quote(r[0], safe="")}">{_esc(r[0])}</a>',
                r[1],
                _when(r[2]),
                _when(r[3]),
                r[4],
            ]
            for r in rows
        ],
        numeric={1, 4},
    )
    if len(rows) == 50:
        body += f'<a href="?page={page + 1}">older</a>'
    return _page("Conversations", body)


async def conversation(request: web.Request) -> web.Response:
    engine = await _engine(request)
    sender = request.match_info["sender"]
    turns = await asyncio.to_thread(reports.conversation_turns, engine.store.db, sender, 500)
    if not turns:
        raise web.HTTPNotFound(reason="no conversation with this customer")
    items = "".join(
        f"<tr><td>{_when(t[0])}</td><td><div class=user>{_esc(t[1])}</div>"
        f"<div class=bot>{_esc(t[5])}</div></td><td>{_esc(t[2])} ({t[3] or 0:.2f})<br>"
        f"{_esc(t[4])}{' · handoff' if t[6] else ''}</td></tr>"
        for t in turns
    )
    profile = await asyncio.to_thread(engine.explain_profile, sender)
    body = (
        f"<table><tr><th>time</th><th>customer / shopbot</th><th>intent · action</th></tr>"
        f"{items}</table><h2>Profile</h2><pre>{_esc(profile)}</pre>"
    )
    return _page(f"Conversation with {sender}", body)


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _range(request: web.Request) -> tuple[str | None, str | None]:
    out = []
    for name in ("from", "to"):
        value = request.query.get(name)
        if value:
            try:
                value = dt.date.fromisoformat(value).isoformat()
            except ValueError as exc:
                raise web.HTTPBadRequest(reason=f"{name} must be a date like 2026-03-31") from exc
        out.append(value or None)
    return out[0], out[1]


# -- wiring ---------------------------------------------------------------------------
def setup_admin(app: web.Application) -> None:
    """Add the ``/admin`` pages and run the insights updater for the app's lifetime.

    Call after the bot's cleanup context is appended: this one needs the bot.
    """

    async def insights_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        config = app[CONFIG_KEY]
        bot = app[BOT_KEY]
        engine = await asyncio.to_thread(InsightsEngine.for_bot, bot, config.demand_gap_threshold)
        app[INSIGHTS_KEY] = engine
        if config.personalise_search:
            # Only near-ties (within the reranker's margin of the best hit) are reordered.
            bot.product_reranker = ProductReranker(engine.store, engine.catalog.products)
        updater = None
        if config.insights_enabled:
            updater = InsightsUpdater(
                engine,
                retention_days=config.retention_days,
                busy=bot.locks.busy,  # a held conversation lock = a turn in flight
            )
            bot.on_turn.append(updater.notify)
            updater.start()
        app[UPDATER_KEY] = updater
        yield
        bot.product_reranker = None
        if updater is not None:
            bot.on_turn.remove(updater.notify)
            started = time.perf_counter()
            await updater.stop()
            log.info("insights updater stopped in %.1f s", time.perf_counter() - started)
        engine.close()

    routes: list[tuple[str, Handler]] = [
        ("/admin", overview),
        ("/admin/", overview),
        ("/admin/intents", intents),
        ("/admin/gaps", gaps),
        ("/admin/segments", segments),
        ("/admin/demand", demand_page),
        ("/admin/conversations", conversations),
        ("/admin/conversations/{sender}", conversation),
    ]
    for path, handler in routes:
        app.router.add_get(path, _guarded(handler))
    app.cleanup_ctx.append(insights_ctx)
