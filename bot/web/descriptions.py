"""``/admin/descriptions``: drafted product descriptions beside their records, to approve or reject.

Routes added by ``setup_descriptions(app)``, behind the admin token exactly as
the other admin pages (bot/web/inbox.py ``check_admin``: ``Authorization:
Bearer``, or ``?token=`` once, which becomes the shared HTTP-only cookie):

- ``GET  /admin/descriptions[?status=proposed|all]``  the proposals, each beside its
  record, every sentence with the record fields it rests on, the dropped ones with
  their reasons, and Approve / Reject buttons;
- ``POST /admin/descriptions/{id}/approve`` and ``/reject`` (form fields ``csrf``, ``note``).

The buttons are plain HTML forms (the admin pages need no JavaScript). A form
post carries the admin cookie, so besides the cookie's ``SameSite=Strict`` each
post must carry the page's ``csrf`` field (derived from the admin token, compared
in constant time) and, when the browser sends one, an ``Origin`` of this server.
The logic is bot/merchant/proposals.py; drafting is ``shopbot describe``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.merchant.proposals import DescriptionProposals, ProposalError, UnknownProposal
from bot.web.admin import CSS, NAV
from bot.web.errors import ApiError
from bot.web.inbox import ADMIN_COOKIE, check_admin, cookie_value
from bot.web.keys import CONFIG_KEY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PAGE = "/admin/descriptions"
MAX_NOTE = 500
EXTRA_CSS = """
.proposal{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.cols{display:flex;gap:2em;flex-wrap:wrap}.cols>div{flex:1;min-width:20em}
.rests{color:#555;font-size:.85em}.dropped{color:#8a1c1c}.tag{font-size:.75em;color:#777}
form{display:inline-block;margin-right:1em}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def csrf_token(admin_token: str) -> str:
    """The form field every POST of this page carries: derived from the admin token."""
    return hmac.new(admin_token.encode(), b"shopbot-admin-csrf", hashlib.sha256).hexdigest()


def _check(request: web.Request) -> None:
    """The admin token (ApiError 401/403), exactly as the other admin pages."""
    check_admin(request, login_path=PAGE)


def _book(request: web.Request) -> DescriptionProposals:
    return DescriptionProposals(request.app[CONFIG_KEY].store_dir)


# --------------------------------------------------------------------------- page


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


def _record_html(product: Any) -> str:
    if product is None:
        return '<p class="muted">This product is no longer in the store.</p>'
    rows = [("id", product.id), ("title", product.title), ("category", product.category)]
    rows.append(("price", product.price if product.price is not None else "-"))
    rows += [(f"attributes.{k}", v) for k, v in product.attributes.items()]
    if product.variants:
        available = sum(v.available for v in product.variants)
        rows.append(("variants", f"{len(product.variants)} ({available} available)"))
    rows.append(("in_stock", "yes" if product.in_stock else "no"))
    rows.append(("current description", product.description or "-"))
    cells = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _sentences_html(proposal: dict[str, Any]) -> str:
    items = []
    for s in proposal.get("sentences", []):
        rests = ", ".join(f"{r['field']} = {r['value']}" for r in s.get("rests_on", []))
        items.append(
            f"<li>{_esc(s['text'])} <span class=tag>[{_esc(s.get('source', ''))}]</span>"
            f"<div class=rests>rests on: {_esc(rests or '-')}</div></li>"
        )
    out = "<h3>Description</h3><ol>" + "".join(items) + "</ol>"
    dropped = proposal.get("rejected", [])
    if dropped:
        out += "<h3>Dropped sentences</h3><ul>" + "".join(
            f"<li class=dropped>{_esc(s['text'])}"
            f"<div class=rests>{_esc('; '.join(s.get('reasons', [])))}</div></li>"
            for s in dropped
        )
        out += "</ul>"
    return out


def _forms_html(proposal: dict[str, Any], csrf: str) -> str:
    if proposal.get("status") != "proposed":
        return ""
    base = f"{PAGE}/{_esc(proposal['id'])}"
    hidden = f'<input type=hidden name=csrf value="{_esc(csrf)}">'
    return (
        f'<form method=post action="{base}/approve">{hidden}'
        f"<button type=submit>Approve: write it into the products file</button></form>"
        f'<form method=post action="{base}/reject">{hidden}'
        f'<input name=note maxlength={MAX_NOTE} placeholder="why (optional)">'
        f"<button type=submit>Reject</button></form>"
    )


async def descriptions_page(request: web.Request) -> web.StreamResponse:
    _check(request)
    if "token" in request.query:
        # As the other admin pages: the token becomes the cookie, out of the address bar.
        response = web.Response(status=303, headers={"Location": PAGE})
        response.set_cookie(
            ADMIN_COOKIE,
            cookie_value(request.app[CONFIG_KEY].admin_token or ""),
            httponly=True,
            samesite="Strict",
            path="/",
        )
        return response
    show_all = request.query.get("status") == "all"
    config = request.app[CONFIG_KEY]
    try:
        proposals = await asyncio.to_thread(_book(request).all)
    except ProposalError as exc:
        return _page("Product descriptions", f'<p class="dropped">{_esc(exc)}</p>', 500)
    try:
        products = await asyncio.to_thread(_book(request).products)
    except ValueError as exc:  # a StoreError: show the proposals all the same
        products = {}
        store_error = f'<p class="dropped">The store does not load: {_esc(exc)}</p>'
    else:
        store_error = ""
    shown = [p for p in proposals if show_all or p.get("status") == "proposed"]
    shown.sort(key=lambda p: (p.get("status") != "proposed", p.get("created_at", "")))
    csrf = csrf_token(config.admin_token or "")
    sections = []
    for p in shown:
        sections.append(
            f'<section class=proposal id="{_esc(p["id"])}"><h2>{_esc(p.get("title", ""))} '
            f"<span class=tag>{_esc(p['id'])} · {_esc(p.get('status'))} · "
            f"{_esc(p.get('language'))}, {_esc(p.get('tone'))}, {_esc(p.get('generator'))}"
            f"</span></h2><div class=cols><div><h3>Record</h3>"
            f"{_record_html(products.get(p.get('product_id', '')))}</div>"
            f"<div>{_sentences_html(p)}</div></div>{_forms_html(p, csrf)}</section>"
        )
    counts = {s: sum(p.get("status") == s for p in proposals) for s in ("proposed", "approved")}
    intro = (
        f'<p class="muted">{counts["proposed"]} waiting, {counts["approved"]} approved. '
        "Draft more with <code>shopbot describe --store DIR --all</code>. "
        + (f'<a href="{PAGE}">only waiting</a>' if show_all else '<a href="?status=all">all</a>')
        + "</p>"
    )
    body = store_error + intro + ("".join(sections) or '<p class="muted">nothing yet</p>')
    return _page("Product descriptions", body)


# --------------------------------------------------------------------------- actions


def same_origin(request: web.Request) -> bool:
    """Whether a post comes from a page of this server (no ``Origin`` header: not a browser's
    cross-site post, which always sends one)."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None  # "null" (a sandboxed or privacy-stripped page) is refused
    return urlsplit(origin).netloc.lower() == request.host.lower()


async def checked_form(request: web.Request, page: str) -> dict[str, str]:
    """A form post's fields, after the admin token, the origin and the CSRF field are
    checked (ApiError 401/403 otherwise); ``page`` is the admin page the form is on.
    Every admin form (this page's, /admin/faq-proposals) goes through it."""
    check_admin(request, login_path=page)
    if not same_origin(request):
        raise ApiError(403, "cross_origin", "this form may only be posted from the admin page")
    form = await request.post()
    given = str(form.get("csrf", ""))
    expected = csrf_token(request.app[CONFIG_KEY].admin_token or "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(403, "csrf", f"the form is stale or forged; reload {page}")
    return {k: str(v) for k, v in form.items()}


async def run_decision(
    page: str, proposal_id: str, decide: Callable[[], Any], refused: str
) -> web.StreamResponse:
    """Run a proposal book's decision off the event loop and go back to ``page``: an
    unknown proposal is a 404, a refused one (decided already, the store file changed
    or refused) a 409 with the code ``refused``. Every admin proposal page uses it."""
    try:
        await asyncio.to_thread(decide)
    except UnknownProposal as exc:
        raise ApiError(404, "unknown_proposal", str(exc)) from exc
    except ValueError as exc:
        raise ApiError(409, refused, str(exc)) from exc
    return web.Response(status=303, headers={"Location": f"{page}?status=all#{proposal_id}"})


async def _decide(request: web.Request, action: str) -> web.StreamResponse:
    form = await checked_form(request, PAGE)
    proposal_id = request.match_info["proposal_id"]
    book = _book(request)
    if action == "approve":
        decide = partial(book.approve, proposal_id, "admin")
    else:
        decide = partial(book.reject, proposal_id, form.get("note", "")[:MAX_NOTE], "admin")
    return await run_decision(PAGE, proposal_id, decide, "not_" + action + "d")


async def approve(request: web.Request) -> web.StreamResponse:
    return await _decide(request, "approve")


async def reject(request: web.Request) -> web.StreamResponse:
    return await _decide(request, "reject")


def setup_descriptions(app: web.Application) -> None:
    """Mount ``/admin/descriptions`` and its Approve / Reject actions."""
    app.router.add_get(PAGE, descriptions_page)
    app.router.add_post(PAGE + "/{proposal_id}/approve", approve)
    app.router.add_post(PAGE + "/{proposal_id}/reject", reject)
