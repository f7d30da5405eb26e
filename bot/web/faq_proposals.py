"""``/admin/faq-proposals``: FAQ entries learned from handoffs and unanswered questions.

Routes added by ``setup_faq_proposals(app)``, behind the admin token and with
the same form checks as ``/admin/descriptions`` (bot/web/descriptions.py
``checked_form``: the admin token or its cookie, an ``Origin`` of this server
when the browser sends one, the page's ``csrf`` field):

- ``GET  /admin/faq-proposals[?status=waiting|all]``  the proposals: what customers
  asked (the variants), how often, the agent's answer, the closest existing FAQ
  entry, warnings, and a form to edit, approve or reject each;
- ``POST /admin/faq-proposals/propose``  read the conversation log and propose
  (what ``shopbot faq propose`` does, on the running bot's index and log);
- ``POST /admin/faq-proposals/{id}/edit``, ``/approve`` (fields ``question``,
  ``answer``) and ``/reject`` (field ``note``).

Every customer- and agent-written text is HTML-escaped (the page is the
jinja2 template bot/web/templates/faq_proposals.html, autoescaped). The logic is
bot/merchant/faq_proposals.py and bot/merchant/faq_learning.py.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from aiohttp import web

from bot.merchant.faq_learning import propose_faqs
from bot.merchant.faq_proposals import MAX_ANSWER, MAX_QUESTION, PENDING, FAQProposals
from bot.web.admin import page_response
from bot.web.descriptions import MAX_NOTE, checked_form, csrf_token, run_decision
from bot.web.errors import ApiError
from bot.web.inbox import ADMIN_COOKIE, check_admin, cookie_value
from bot.web.keys import BOT_KEY, CONFIG_KEY

PAGE = "/admin/faq-proposals"
REFUSED = {"approve": "not_approved", "edit": "not_edited", "reject": "not_rejected"}
EXTRA_CSS = """
.proposal{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.tag{font-size:.75em;color:#777}.warn{color:#8a1c1c}
textarea,input[type=text]{width:100%;box-sizing:border-box;font:inherit}
form{margin:.4em 0}button{margin-right:.6em}
"""


def _book(request: web.Request) -> FAQProposals:
    return FAQProposals(request.app[CONFIG_KEY].store_dir)


def _bot(request: web.Request) -> Any:
    return request.app.get(BOT_KEY)


def _page(status: int = 200, **context: Any) -> web.Response:
    """The proposals page (a broken proposals file: ``problem``, status 500); never cached."""
    return page_response(
        "faq_proposals.html",
        "Learned FAQ entries",
        extra_css=EXTRA_CSS,
        status=status,
        headers={"Cache-Control": "no-store"},
        **context,
    )


async def faq_page(request: web.Request) -> web.StreamResponse:
    """The learned FAQ proposals, with forms to edit, approve or reject each."""
    check_admin(request, login_path=PAGE)
    config = request.app[CONFIG_KEY]
    if "token" in request.query:
        # As the other admin pages: the token becomes the cookie, out of the address bar.
        response = web.Response(status=303, headers={"Location": PAGE})
        response.set_cookie(
            ADMIN_COOKIE,
            cookie_value(config.admin_token or ""),
            httponly=True,
            samesite="Strict",
            path="/",
        )
        return response
    bot = _bot(request)
    db = getattr(getattr(bot, "conversations", None), "db", None)
    book = _book(request)
    try:
        proposals = await asyncio.to_thread(book.all)
        stats = await asyncio.to_thread(book.stats, db)
    except ValueError as exc:  # a broken proposals file: say where
        return _page(500, problem=str(exc))
    show_all = request.query.get("status") == "all"
    shown = [p for p in proposals if show_all or p.get("status") in PENDING]
    shown.sort(key=lambda p: (p.get("status") not in PENDING, p.get("created_at", "")))
    return _page(
        problem="",
        stats=stats,
        answered=stats.get("answered_after_approval"),
        show_all=show_all,
        page=PAGE,
        can_propose=bot is not None,
        csrf=csrf_token(config.admin_token or ""),
        proposals=shown,
        pending=PENDING,
        max_question=MAX_QUESTION,
        max_answer=MAX_ANSWER,
        max_note=MAX_NOTE,
    )


# --------------------------------------------------------------------------- actions


async def propose(request: web.Request) -> web.StreamResponse:
    """Propose FAQ entries from the conversation log (``shopbot faq propose``)."""
    await checked_form(request, PAGE)
    bot = _bot(request)
    if bot is None:
        raise ApiError(409, "no_bot", "this server has no conversation log to learn from")
    book = _book(request)
    await asyncio.to_thread(
        propose_faqs,
        request.app[CONFIG_KEY].store_dir,
        bot.conversations.db,
        bot.index,
        bot.calibration,
        book=book,
    )
    return web.Response(status=303, headers={"Location": PAGE})


async def _decide(request: web.Request, action: str) -> web.StreamResponse:
    form = await checked_form(request, PAGE)
    proposal_id = request.match_info["proposal_id"]
    book = _book(request)
    question, answer = form.get("question"), form.get("answer")
    if action == "reject":
        decide = partial(book.reject, proposal_id, form.get("note", "")[:MAX_NOTE], "admin")
    elif action == "edit":
        decide = partial(book.edit, proposal_id, question, answer)
    else:  # decided already, no answer, the FAQ file refused: a 409
        decide = partial(book.approve, proposal_id, question, answer, "admin")
    return await run_decision(PAGE, proposal_id, decide, REFUSED[action])


async def approve(request: web.Request) -> web.StreamResponse:
    """Add the proposal (with the form's question and answer) to the store's FAQ file."""
    return await _decide(request, "approve")


async def edit(request: web.Request) -> web.StreamResponse:
    """Save the form's question and answer; the proposal keeps waiting."""
    return await _decide(request, "edit")


async def reject(request: web.Request) -> web.StreamResponse:
    """Reject the proposal; the store's files are not touched."""
    return await _decide(request, "reject")


def setup_faq_proposals(app: web.Application) -> None:
    """Mount ``/admin/faq-proposals`` and its Propose / Edit / Approve / Reject actions."""
    app.router.add_get(PAGE, faq_page)
    app.router.add_post(PAGE + "/propose", propose)
    app.router.add_post(PAGE + "/{proposal_id}/edit", edit)
    app.router.add_post(PAGE + "/{proposal_id}/approve", approve)
    app.router.add_post(PAGE + "/{proposal_id}/reject", reject)
