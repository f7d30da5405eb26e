"""The jinja2 templates of the merchant's admin pages (bot/web/templates/*.html).

Autoescape is on for every template, so customer- and agent-written text is
escaped where it is written into the page, not by each caller; only trusted
fragments (matplotlib's SVG charts) go in as ``markupsafe.Markup``. A variable
a template uses but the caller did not pass is an error (``StrictUndefined``),
not an empty string.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


def urlquote(value: Any) -> str:
    """``value`` as one URL path segment: every reserved character percent-encoded."""
    return quote(str(value), safe="")


def when(ts: float | None) -> str:
    """A log timestamp (seconds, UTC) as ``YYYY-MM-DD HH:MM``; ``-`` when there is none."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template is HTML: escape by default, whatever its name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
ENV.filters["urlquote"] = urlquote
ENV.filters["when"] = when


def render(name: str, **context: Any) -> str:
    """The template ``name`` (e.g. ``"gaps.html"``) rendered with ``context``."""
    return ENV.get_template(name).render(**context)
