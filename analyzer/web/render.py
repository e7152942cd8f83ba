"""Server-rendered pages: one Jinja2 environment (autoescaped) over the package's templates."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from analyzer import __version__
from analyzer.transcripts.transcript import format_clock

# One colour class per phase, in rubric order; the CSS defines phase-0 ... phase-7.
PHASE_CLASSES = 8
# How a flag reads to a manager where its name alone would not say it; the others show their
# name with spaces ("critical missed"). `forbidden_said` names the item when the page knows it.
FLAG_LABELS = {"forbidden_said": "said a forbidden line"}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("analyzer.web", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,  # a typo in a template fails the tests, not the manager
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = lambda seconds: "" if seconds is None else format_clock(seconds)
    env.filters["points"] = _points
    env.globals["version"] = __version__
    env.globals["flag_labels"] = FLAG_LABELS
    env.globals["call_url"] = call_url
    return env


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page `template` with `context`, plus the signed-in user and their CSRF token."""
    session = getattr(request.state, "session", None)
    full = {
        "user": session.user if session else None,
        "csrf_token": session.csrf_token if session else "",
        **context,
    }
    html = environment().get_template(template).render(full)
    return HTMLResponse(html, status_code=status_code)


def call_url(call_id: str, action: str = "") -> str:
    """The path of a call's page (or of its `action`: audio, review, disputes), its id encoded
    whole: whatever it holds (`/`, `?`, `#`, `..`, `<`) stays the id and opens that call."""
    path = "/calls/" + quote(call_id, safe="")
    return f"{path}/{action}" if action else path


def _points(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}".rstrip("0").rstrip(".")
