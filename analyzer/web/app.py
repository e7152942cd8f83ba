"""The FastAPI app: the review pages, the JSON API, their error pages and security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from analyzer import __version__
from analyzer.errors import (
    AnalyzerError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ReviewError,
    StoreError,
)
from analyzer.store import Store
from analyzer.web import api, pages
from analyzer.web.auth import CsrfError, LoginRequired, LoginThrottle
from analyzer.web.render import render

# Scripts, styles and media only from this server; no framing, no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

STATUS_OF: list[tuple[type[AnalyzerError], int]] = [
    (LoginRequired, 401),
    (CsrfError, 403),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (ReviewError, 422),
    (StoreError, 503),
]


def create_app(db_path: str | Path, store: Store | None = None) -> FastAPI:
    """The app serving the database at `db_path` (opened, and migrated, when it starts).

    `store`: an already open Store to use instead (tests); the app then leaves it open.
    """
    owned = store is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            app.state.store = Store.open(db_path)
        try:
            yield
        finally:
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="analyzer",
        version=__version__,
        summary="Suggested and confirmed grades of recorded sales calls.",
        description=(
            "The review API: list and filter calls, read a call with its suggested and "
            "confirmed grades, post a review. Authenticate with an API token from "
            "`analyzer users token NAME`, sent as `Authorization: Bearer TOKEN`."
        ),
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN; the spec is enough
        redoc_url=None,
    )
    if store is not None:
        app.state.store = store
    app.state.login_throttle = LoginThrottle()
    static = resources.files("analyzer.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(AnalyzerError)
    async def analyzer_error(request: Request, exc: AnalyzerError) -> Response:
        status = next((code for cls, code in STATUS_OF if isinstance(exc, cls)), 400)
        if _is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            if isinstance(exc, ReviewError):
                return JSONResponse(
                    {"detail": [_field_error(exc)]}, status_code=422, headers=headers
                )
            return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)
        if isinstance(exc, LoginRequired):
            target = _raw_path(request) + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        return error_page(request, status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or request.url.path.startswith("/static/"):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if _is_api(request):
            return JSONResponse({"detail": errors}, status_code=422)
        fields = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
        return error_page(request, 422, f"invalid request: {fields}")

    return app


def error_page(request: Request, status: int, message: str) -> Response:
    titles = {
        401: "Sign in",
        403: "Not allowed",
        404: "Not found",
        409: "Changed by someone else",
        422: "Invalid request",
        503: "Busy",
    }
    return render(
        request,
        "error.html",
        {"title": titles.get(status, "Error"), "message": message, "status": status},
        status_code=status,
    )


def _field_error(exc: ReviewError) -> dict[str, Any]:
    loc: list[Any] = [exc.location]
    for part in exc.field.replace("]", "").split("."):
        name, _, index = part.partition("[")
        loc.append(name)
        if index:
            loc.append(int(index))
    return {"loc": loc, "msg": exc.problem, "type": "value_error"}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _raw_path(request: Request) -> str:
    """The path as sent (`%2F` in a call id kept), for coming back to it after signing in."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else _quote(request.url.path)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
