"""``/admin/descriptions``: drafted product descriptions beside their records, to approve or reject.

Routes added by ``setup_descriptions(app)``, behind the admin token exactly as
the other admin pages (bot/web/inbox.py ``check_admin``: ``Authorization:
Bearer``, or ``?token=`` once, which becomes the shared HTTP-only cookie):

- ``GET  /admin/descriptions[?status=proposed|all]``  the proposals, each beside its
  record, every sentence with the record fields it rests on, the dropped ones with
  their reasons, and Approve / Reject buttons;
- ``POST /admin/descriptions/{id}/approve`` and ``/reject`` (form fields ``csrf``, ``note``).

The page is the jinja2 template bot/web/templates/descriptions.html (autoescaped:
record and draft text is escaped there). The buttons are plain HTML forms (the
admin pages need no JavaScript). A form
post carries the admin cookie, so besides the cookie's ``SameSite=Strict`` each
post must carry the page's ``csrf`` field (derived from the admin token, compared
in constant time) and, when the browser sends one, an ``Origin`` of this server.
The logic is bot/merchant/proposals.py; drafting is ``shopbot describe``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.merchant.proposals import DescriptionProposals, ProposalError, UnknownProposal
from bot.web.admin import page_response
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


def csrf_token(admin_token: str) -> str:
    """The form field every POST of this page carries: derived from the admin token."""
    return hmac.new(admin_token.encode(), b"shopbot-admin-csrf", hashlib.sha256).hexdigest()


def _check(request: web.Request) -> None:
    """The admin token (ApiError 401/403), exactly as the other admin pages."""
    check_admin(request, login_path=PAGE)


def _book(request: web.Request) -> DescriptionProposals:
    return DescriptionProposals(request.app[CONFIG_KEY].store_dir)


# --------------------------------------------------------------------------- page


def _page(status: int = 200, **context: Any) -> web.Response:
    """The proposals page (a broken proposals file: ``problem``, status 500); never cached."""
    return page_response(
        "descriptions.html",
        "Product descriptions",
        extra_css=EXTRA_CSS,
        status=status,
        headers={"Cache-Control": "no-store"},
        **context,
    )


def _record(product: Any) -> list[tuple[str, Any]] | None:
    """The record's fields a proposal rests on, as (field, value) rows; None: gone."""
    if product is None:
        return None
    rows = [("id", product.id), ("title", product.title), ("category", product.category)]
    rows.append(("price", product.price if product.price is not None else "-"))
    rows += [(f"attributes.{k}", v) for k, v in product.attributes.items()]
    if product.variants:
        available = sum(v.available for v in product.variants)
        rows.append(("variants", f"{len(product.variants)} ({available} available)"))
    rows.append(("in_stock", "yes" if product.in_stock else "no"))
    rows.append(("current description", product.description or "-"))
    return rows


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
        return _page(500, problem=str(exc))
    try:
        products = await asyncio.to_thread(_book(request).products)
    except ValueError as exc:  # a StoreError: show the proposals all the same
        products = {}
        store_error = str(exc)
    else:
        store_error = ""
    shown = [p for p in proposals if show_all or p.get("status") == "proposed"]
    shown.sort(key=lambda p: (p.get("status") != "proposed", p.get("created_at", "")))
    counts = {s: sum(p.get("status") == s for p in proposals) for s in ("proposed", "approved")}
    return _page(
        problem="",
        store_error=store_error,
        counts=counts,
        show_all=show_all,
        page=PAGE,
        proposals=[(p, _record(products.get(p.get("product_id", "")))) for p in shown],
        csrf=csrf_token(config.admin_token or ""),
        max_note=MAX_NOTE,
    )


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
