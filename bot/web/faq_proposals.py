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

Every customer- and agent-written text is HTML-escaped. The logic is
bot/merchant/faq_proposals.py and bot/merchant/faq_learning.py.
"""

from __future__ import annotations

import asyncio
import html
from functools import partial
from typing import Any

from aiohttp import web

from bot.merchant.faq_learning import propose_faqs
from bot.merchant.faq_proposals import MAX_ANSWER, MAX_QUESTION, PENDING, FAQProposals
from bot.web.admin import CSS, NAV
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


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _book(request: web.Request) -> FAQProposals:
    return FAQProposals(request.app[CONFIG_KEY].store_dir)


def _bot(request: web.Request) -> Any:
    return request.app.get(BOT_KEY)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    nav = "".join(f'<a href="{href}">{_esc(name)}</a>' for href, name in NAV)
    doc = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_esc(title)} · shopbot admin</title><style>{CSS}{EXTRA_CSS}</style></head>"
        f"<body><nav>{nav}</nav><main><h1>{_esc(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(
        text=doc, content_type="text/html", status=status, headers={"Cache-Control": "no-store"}
    )


def _proposal_html(p: dict[str, Any], csrf: str) -> str:
    ev = p.get("evidence", {})
    handoffs = ", ".join(str(h) for h in ev.get("handoffs", []))
    head = (
        f'<section class=proposal id="{_esc(p["id"])}"><h2>{_esc(p.get("question", ""))} '
        f"<span class=tag>{_esc(p['id'])} · {_esc(p.get('status'))} · from "
        f"{_esc(p.get('source'))}</span></h2><p class=muted>{_esc(ev.get('conversations', 0))} "
        f"conversations, {_esc(ev.get('messages', 0))} messages"
        + (f", handoffs {_esc(handoffs)}" if handoffs else "")
        + "</p>"
    )
    asked = "".join(f"<li>{_esc(q)}</li>" for q in p.get("questions", []))
    body = f"<h3>Customers asked</h3><ul>{asked}</ul>"
    nearest = p.get("nearest_faq")
    if nearest:
        body += (
            f"<p class=muted>Closest existing FAQ entry: {_esc(nearest.get('question'))} "
            f"({_esc(nearest.get('id'))}, match {_esc(nearest.get('probability'))})</p>"
        )
    body += "".join(f"<p class=warn>{_esc(w)}</p>" for w in p.get("warnings", []))
    others = p.get("answers", [])
    if others:
        body += "<h3>Other agent replies</h3><ul>" + "".join(f"<li>{_esc(a)}</li>" for a in others)
        body += "</ul>"
    if p.get("status") not in PENDING:
        done = f"<p>Answer: {_esc(p.get('answer') or '-')}</p>"
        if p.get("faq_id"):
            done += f"<p class=muted>In the FAQ as {_esc(p['faq_id'])} ({_esc(p['faq_file'])})</p>"
        return head + body + done + "</section>"
    base = f"{PAGE}/{_esc(p['id'])}"
    hidden = f'<input type=hidden name=csrf value="{_esc(csrf)}">'
    form = (
        f'<form method=post action="{base}/approve">{hidden}'
        f"<label>Question<input type=text name=question maxlength={MAX_QUESTION} "
        f'value="{_esc(p.get("question", ""))}"></label>'
        f"<label>Answer<textarea name=answer rows=4 maxlength={MAX_ANSWER}>"
        f"{_esc(p.get('answer', ''))}</textarea></label>"
        f"<button type=submit>Approve: add it to the FAQ</button>"
        f'<button type=submit formaction="{base}/edit">Save without approving</button></form>'
        f'<form method=post action="{base}/reject">{hidden}'
        f'<input type=text name=note maxlength={MAX_NOTE} placeholder="why (optional)">'
        f"<button type=submit>Reject</button></form>"
    )
    return head + body + form + "</section>"


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
        return _page("Learned FAQ entries", f"<p class=warn>{_esc(exc)}</p>", 500)
    show_all = request.query.get("status") == "all"
    shown = [p for p in proposals if show_all or p.get("status") in PENDING]
    shown.sort(key=lambda p: (p.get("status") not in PENDING, p.get("created_at", "")))
    csrf = csrf_token(config.admin_token or "")
    answered = stats.get("answered_after_approval")
    intro = (
        f"<p class=muted>{stats['waiting']} waiting, {stats['approved']} approved, "
        f"{stats['rejected']} rejected"
        + (
            f"; approved entries answered {answered} later questions"
            if answered is not None
            else ""
        )
        + ". Approved entries are served after the next <code>shopbot build</code> or restart. "
        + (f'<a href="{PAGE}">only waiting</a>' if show_all else '<a href="?status=all">all</a>')
        + "</p>"
    )
    if bot is not None:
        intro += (
            f'<form method=post action="{PAGE}/propose"><input type=hidden name=csrf '
            f'value="{_esc(csrf)}"><button type=submit>Propose from the conversation log'
            "</button></form>"
        )
    sections = "".join(_proposal_html(p, csrf) for p in shown)
    return _page("Learned FAQ entries", intro + (sections or '<p class="muted">nothing yet</p>'))


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
