"""The HTML pages: login, the review queue, the call page with its review and dispute forms."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from analyzer.errors import AnalyzerError, ConflictError, ReviewError
from analyzer.grading.rubric import ITEM_STATUSES
from analyzer.review.decisions import ItemDecision, confirm_call, dispute_item
from analyzer.review.queue import MAX_PAGE, QueueFilters, list_queue
from analyzer.review.users import SESSION_DAYS, authenticate, end_session, start_session
from analyzer.review.views import CallView, audio_file, call_view
from analyzer.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    new_csrf_token,
    page_session,
    store_of,
)
from analyzer.web.render import PHASE_CLASSES, call_url, render

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {
    "met": "Met",
    "partial": "Partial",
    "missed": "Missed",
    "na": "N/A",
}
# A forbidden item, for display only (the statuses stored and posted stay the ones above): missed
# means its line was said, a breach; met means it was never said. (badge class, label)
FORBIDDEN_LABELS = {"met": ("clean", "Not said"), "missed": ("breached", "Breached")}
# ...and the choices of its status menu, with the same values.
FORBIDDEN_OPTION_LABELS = {**STATUS_LABELS, "met": "Not said", "missed": "Breached (said it)"}


# -- signing in and out --------------------------------------------------------------------------


@router.get("/")
def home() -> Response:
    return RedirectResponse("/calls", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/calls") -> Response:
    token = new_csrf_token()
    response = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next)})
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token"))
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/calls")))
    store = store_of(request)
    throttle = request.app.state.login_throttle
    wait = throttle.wait_seconds(name)
    if wait:
        minutes = -(-wait // 60)
        message = f"Too many wrong passwords for {name}: try again in {minutes} minutes."
        return _login_again(request, target, name, message, status_code=429)
    user = None
    if name and password:  # scrypt takes a while: off the event loop
        user = await run_in_threadpool(authenticate, store, name, password)
    if user is None:
        throttle.failed(name)
        return _login_again(request, target, name, "Wrong name or password.", status_code=401)
    throttle.succeeded(name)
    value, _ = start_session(store, user)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, value, max_age=SESSION_DAYS * 86400)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = page_session(request)
    form = await request.form()
    check_csrf(session.csrf_token, form.get("csrf_token"))
    end_session(store_of(request), request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- the queue -----------------------------------------------------------------------------------


@router.get("/calls")
def queue_page(
    request: Request,
    rep: str = "",
    since: str = "",
    until: str = "",
    rubric: str = "",
    status: str = "",
    page: str = "1",
    confirmed: str = "",
) -> Response:
    session = page_session(request)
    request.state.session = session
    filters = QueueFilters(
        rep=rep or None,
        since=since or None,
        until=until or None,
        rubric=rubric or None,
        status=status or None,
        page=_page_number(page),
    )
    error = None
    problems = filters.problems()
    if problems:
        error = "; ".join(f"{name}: {problem}" for name, problem in problems)
        filters = QueueFilters()
    queue = list_queue(store_of(request), session.user, filters, choices=True)
    view = _quiet_view(request, confirmed) if confirmed else None
    query = {
        k: v
        for k, v in (
            ("rep", rep),
            ("since", since),
            ("until", until),
            ("rubric", rubric),
            ("status", status),
        )
        if v
    }
    return render(
        request,
        "queue.html",
        {
            "queue": queue,
            "filters": filters,
            "error": error,
            "confirmed": view.call["call_id"] if view else "",
            "confirmed_review": view.review if view else None,
            "page_link": lambda n: "/calls?" + urlencode({**query, "page": n}),
        },
        status_code=422 if error else 200,
    )


# -- one call ------------------------------------------------------------------------------------
# A call id may hold anything, `/` included: links encode it whole (`render.call_url`) and the
# routes take the rest of the path, the recording's before the page's (which would take
# `ID/audio` for an id).


@router.api_route("/calls/{call_id:path}/audio", methods=["GET", "HEAD"])
def call_audio(request: Request, call_id: str) -> Response:
    """The call's registered recording, with range requests (the player seeks with them); HEAD
    answers the same checks and headers without the body."""
    session = page_session(request)
    path = audio_file(store_of(request), call_id, session.user)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)


@router.get("/calls/{call_id:path}")
def call_page(request: Request, call_id: str) -> Response:
    session = page_session(request)
    request.state.session = session
    view = call_view(store_of(request), call_id, session.user)
    return _render_call(request, view)


@router.post("/calls/{call_id:path}/review")
async def review_call(request: Request, call_id: str) -> Response:
    session = page_session(request)
    request.state.session = session
    form = await request.form()
    check_csrf(session.csrf_token, form.get("csrf_token"))
    store = store_of(request)
    decisions = [
        ItemDecision(
            item_id=str(key).removeprefix("status__"),
            status=str(value),
            comment=str(form.get("comment__" + str(key).removeprefix("status__"), "")),
            evidence_turn=_turn_field(
                form.get("evidence__" + str(key).removeprefix("status__"), "")
            ),
        )
        for key, value in form.multi_items()
        if str(key).startswith("status__")
    ]
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        version = -1
    try:
        confirm_call(store, call_id, session.user, decisions, version, str(form.get("comment", "")))
    except (ConflictError, ReviewError) as exc:
        view = call_view(store, call_id, session.user)
        status = 409 if isinstance(exc, ConflictError) else 422
        return _render_call(request, view, error=str(exc), status_code=status)
    return RedirectResponse(f"/calls?{urlencode({'confirmed': call_id})}", status_code=303)


@router.post("/calls/{call_id:path}/disputes")
async def dispute(request: Request, call_id: str) -> Response:
    session = page_session(request)
    request.state.session = session
    form = await request.form()
    check_csrf(session.csrf_token, form.get("csrf_token"))
    store = store_of(request)
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        version = -1
    try:
        dispute_item(
            store,
            call_id,
            session.user,
            str(form.get("item_id", "")),
            str(form.get("comment", "")),
            version,
        )
    except (ConflictError, ReviewError) as exc:
        view = call_view(store, call_id, session.user)
        status = 409 if isinstance(exc, ConflictError) else 422
        return _render_call(request, view, error=str(exc), status_code=status)
    return RedirectResponse(call_url(call_id) + "#disputes", status_code=303)


# -- helpers -------------------------------------------------------------------------------------


def _render_call(
    request: Request, view: CallView, error: str | None = None, status_code: int = 200
) -> Response:
    grade = view.confirmed or view.suggested
    suggested_items: dict[str, Any] = {}
    phase_of_turn: dict[int, tuple[int, str]] = {}
    forbidden_said: list[str] = []  # the suggested grade's forbidden items said, for its flag
    if view.suggested:
        for n, phase in enumerate(view.suggested.get("phases", [])):
            for first, last in phase.get("segments", []):
                for turn in range(first, last + 1):
                    phase_of_turn[turn] = (n % PHASE_CLASSES, phase["title"])
            for item in phase.get("items", []):
                suggested_items[item["id"]] = item
                if (
                    phase.get("status") == "scored"
                    and item.get("forbidden")
                    and item.get("status") == "missed"
                ):
                    forbidden_said.append(str(item.get("text") or item["id"]))
    turns = (view.transcript or {}).get("turns", [])
    rep_speakers = {
        speaker
        for speaker, role in ((view.suggested or {}).get("roles") or {}).items()
        if role == "rep"
    }
    return render(
        request,
        "call.html",
        {
            "view": view,
            "grade": grade,
            "suggested_items": suggested_items,
            "turns": turns,
            "phase_of_turn": phase_of_turn,
            "rep_speakers": rep_speakers,
            "statuses": ITEM_STATUSES,
            "status_labels": STATUS_LABELS,
            "forbidden_labels": FORBIDDEN_LABELS,
            "forbidden_option_labels": FORBIDDEN_OPTION_LABELS,
            "forbidden_said": forbidden_said,
            "open_disputes": {d["item_id"]: d for d in view.disputes if d["status"] == "open"},
            "error": error,
        },
        status_code=status_code,
    )


def _login_again(
    request: Request, target: str, name: str, error: str, status_code: int
) -> Response:
    token = new_csrf_token()
    context = {"login_csrf": token, "next": target, "error": error, "name": name}
    response = render(request, "login.html", context, status_code=status_code)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _quiet_view(request: Request, call_id: str) -> CallView | None:
    session = request.state.session
    try:
        return call_view(store_of(request), call_id, session.user)
    except AnalyzerError:
        return None


def _turn_field(value: Any) -> Any:
    """An item's `evidence__ID` field: the turn index, None when empty; anything else is passed
    on as sent, for `confirm_call` to refuse with the field's name (after checking the user)."""
    text = str(value).strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else text


def _page_number(text: str) -> int:
    """?page as a number; 0 (refused as a problem) when it is not one, MAX_PAGE + 1 when huge."""
    if not (text.isascii() and text.isdigit()):
        return 0
    return int(text) if len(text) <= 12 else MAX_PAGE + 1


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (`//evil`, `https://...`, `/\\evil`)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/calls"
    return target


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
