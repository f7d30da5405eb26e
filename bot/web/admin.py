"""The merchant's pages under ``/admin``: overview, intents, gaps, segments, demand, conversations.

Routes added by ``setup_admin(app)``, which also owns the insights
engine and the background updater (started and stopped in ``cleanup_ctx``).
Every page needs the admin token from the config, given as
``Authorization: Bearer <token>``, or once as ``?token=`` (which sets an
HTTP-only cookie, shared with the agents' inbox, and redirects to the same
page without it). Missing credentials get 401, wrong ones 403; tokens are
compared in constant time. Without a configured token the pages are off.

Pages are server-rendered HTML (jinja2 templates in bot/web/templates, which
escape every value) with inline SVG charts from matplotlib: they need no
JavaScript and no network access.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup

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
from bot.web.templates import render, when

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


def page_response(
    template: str,
    title: str,
    *,
    extra_css: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    """An admin page: ``template`` (which extends base.html) rendered with the nav,
    the shared CSS plus ``extra_css``, the ``title`` and ``context``."""
    doc = render(
        template, title=title, nav=NAV, css=Markup(CSS), extra_css=Markup(extra_css), **context
    )
    return web.Response(text=doc, content_type="text/html", status=status, headers=headers)


def _svg(draw: Callable[[Any], None], size: tuple[float, float] = (8, 3)) -> Markup:
    """Render a matplotlib drawing to inline SVG (our own drawing: trusted markup); a
    note instead where matplotlib is not installed (the base install)."""
    try:
        import matplotlib
    except ImportError:
        return Markup(
            '<p class="muted">Charts need matplotlib: pip install "shopbot[insights]"</p>'
        )

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
    return _svg_markup(buf.getvalue())


def _svg_markup(text: str) -> Markup:
    """Matplotlib's SVG output without its XML prologue, marked safe for the templates."""
    return Markup(text[text.index("<svg") :])


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
    by_reason = [[REASONS[r], n] for r, n in offers["by_reason"].items() if r in REASONS]
    outcomes = [
        ["accepted: handed to a person", offers["accepted"]],
        ["declined: went on with the assistant", offers["declined"]],
        ["no reply", offers["no_reply"]],
    ]
    # Failed identity checks: guessing shows up here (and hands off after the limits).
    failures = await asyncio.to_thread(
        request.config_dict[BOT_KEY].conversations.recent_verification_failures, 20
    )
    failed = [[f["sender"], f["reason"], when(f["ts"])] for f in failures]
    chart = Markup("")
    if s["per_day"]:
        days = [r[0] for r in s["per_day"]]
        counts = [r[1] for r in s["per_day"]]

        def draw(ax: Any) -> None:
            ax.bar(range(len(days)), counts, color="#1f77b4")
            ax.set_xticks(range(0, len(days), max(1, len(days) // 8)))
            ax.set_xticklabels(days[:: max(1, len(days) // 8)], rotation=30, fontsize=7)
            ax.set_title("messages per day")

        chart = await asyncio.to_thread(_svg, draw)
    return page_response(
        "overview.html",
        "Overview",
        cards=cards,
        by_reason=by_reason,
        outcomes=outcomes,
        failures=failed,
        chart=chart,
    )


async def intents(request: web.Request) -> web.Response:
    engine = await _engine(request)
    rows = await asyncio.to_thread(reports.intent_counts, engine.store.db, 25)
    top = [r[0] for r in rows[:5]]
    trend = await asyncio.to_thread(reports.intents_per_day, engine.store.db)
    table = [[r[0], r[1], f"{r[2] or 0:.2f}", r[3]] for r in rows]
    chart = Markup("")
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

        chart = await asyncio.to_thread(_svg, draw)
    return page_response("intents.html", "Intents", chart=chart, rows=table)


async def gaps(request: web.Request) -> web.Response:
    engine = await _engine(request)
    start, end = _range(request)
    clusters = await asyncio.to_thread(demand_gaps, engine.store, start, end)
    unanswered = await asyncio.to_thread(reports.unanswered_questions, engine.store.db, 30)
    rows = [
        [
            g["label"],
            g["requests"],
            g["customers"],
            "; ".join(g["examples"]),
            f"{g['first_day']} .. {g['last_day']}",
        ]
        for g in clusters[:30]
    ]
    return page_response(
        "gaps.html",
        "Unanswered questions and demand gaps",
        clusters=rows,
        unanswered=[list(r[:3]) for r in unanswered],
    )


async def segments(request: web.Request) -> web.Response:
    engine = await _engine(request)
    profiles = await asyncio.to_thread(engine.store.profiles)
    try:
        seg = await asyncio.to_thread(segment, profiles)
    except ValueError as exc:
        return page_response("segments.html", "Segments", problem=str(exc))

    def chart() -> Markup:
        with _CHART_LOCK:
            buf = io.StringIO()
            plot_segments(seg, buf, fmt="svg")
        return _svg_markup(buf.getvalue())

    return page_response(
        "segments.html",
        "Segments",
        problem="",
        chart=await asyncio.to_thread(chart),
        rows=[[p["segment"], p["size"], f"{p['share']:.0%}", p["persona"]] for p in seg.personas],
        k=seg.k,
        silhouettes=seg.silhouettes,
    )


async def demand_page(request: web.Request) -> web.Response:
    engine = await _engine(request)
    start, end = _range(request)
    rows = await asyncio.to_thread(demand, engine.store, start, end, "category")
    table: dict[str, dict[str, int]] = {}
    for r in rows:
        table.setdefault(r["key"], {})[r["kind"]] = r["count"]
    kinds = ["mention", "purchase_intent", "soldout_question", "price_objection"]
    ordered = sorted(table.items(), key=lambda kv: -kv[1].get("mention", 0))
    forecasts: list[tuple[str, Markup, str]] = []  # (category, chart, why there is none)
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
            forecasts.append((category, Markup(""), str(exc)))
            continue

        def chart(fc: Any = fc, y: Any = y, category: str = category) -> Markup:
            with _CHART_LOCK:
                buf = io.StringIO()
                plot_forecast(y, fc, f"{category}: mentions per day, next 7 days", buf, fmt="svg")
            return _svg_markup(buf.getvalue())

        forecasts.append((category, await asyncio.to_thread(chart), ""))
    return page_response(
        "demand.html",
        "Demand by category, with forecasts",
        kinds=kinds,
        rows=[[c, *(v.get(k, 0) for k in kinds)] for c, v in ordered],
        forecasts=forecasts,
    )


async def conversations(request: web.Request) -> web.Response:
    engine = await _engine(request)
    try:
        # Bounded: page * 50 is an SQL OFFSET, which must fit a 64-bit integer.
        page = parse_int(request.query.get("page"), "page", 0, MAX_PAGE) or 0
    except ValueError as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from exc
    rows = await asyncio.to_thread(reports.conversation_list, engine.store.db, 50, page * 50)
    return page_response(
        "conversations.html",
        "Conversations",
        rows=[[r[0], r[1], when(r[2]), when(r[3]), r[4]] for r in rows],
        older=page + 1 if len(rows) == 50 else None,
    )


async def conversation(request: web.Request) -> web.Response:
    engine = await _engine(request)
    sender = request.match_info["sender"]
    turns = await asyncio.to_thread(reports.conversation_turns, engine.store.db, sender, 500)
    if not turns:
        raise web.HTTPNotFound(reason="no conversation with this customer")
    profile = await asyncio.to_thread(engine.explain_profile, sender)
    return page_response(
        "conversation.html", f"Conversation with {sender}", turns=turns, profile=profile
    )


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
