"""Who is asking: session cookies for the pages, bearer tokens (or the session) for the API.

Pages need a login: a request without a live session is sent to /login. Every form carries the
session's CSRF token and every POST checks it; the login form, which comes before any session,
uses a double-submit cookie instead. API calls authenticate with `Authorization: Bearer TOKEN`;
a browser using its session cookie on the API must send the CSRF token in `X-CSRF-Token` for
anything but GET.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from analyzer.errors import AnalyzerError
from analyzer.review.users import Session, User, name_key, session_for, user_for_token
from analyzer.store import Store

SESSION_COOKIE = "analyzer_session"
LOGIN_CSRF_COOKIE = "analyzer_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_FAILED_LOGINS = 5  # wrong passwords for one name within LOGIN_WINDOW before a pause
LOGIN_WINDOW = 15 * 60  # seconds

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token from `analyzer users token NAME`.",
)


class LoginRequired(AnalyzerError):
    """No live session: pages redirect to /login, the API answers 401."""


class CsrfError(AnalyzerError):
    """A form or API write without the right CSRF token: refused with 403."""


class LoginThrottle:
    """Failed sign-ins per user name, in memory: after MAX_FAILED_LOGINS within LOGIN_WINDOW
    the name is refused until the oldest failure leaves the window (guessing gets slow). Names
    are counted by `name_key`, as signing in finds them: a variant gets no guesses of its own."""

    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, name: str) -> int:
        """0 when `name` may try to sign in, else the seconds until it may."""
        with self._lock:
            recent = self._recent(name_key(name))
            if len(recent) < MAX_FAILED_LOGINS:
                return 0
            return max(1, int(recent[0] + LOGIN_WINDOW - self._now()))

    def failed(self, name: str) -> None:
        with self._lock:
            key = name_key(name)
            self._failures[key] = [*self._recent(key), self._now()]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name_key(name), None)

    def _recent(self, key: str) -> list[float]:
        cutoff = self._now() - LOGIN_WINDOW
        return [t for t in self._failures.get(key, []) if t > cutoff]

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def page_session(request: Request) -> Session:
    """The session of a page request; LoginRequired (a redirect to /login) without one."""
    session = session_for(store_of(request), request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired("sign in to continue")
    return session


def check_csrf(expected: str | None, sent: object) -> None:
    """Refuse unless `sent` is the expected token (compared in constant time)."""
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise CsrfError("the form's security token is missing or out of date: reload the page")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def api_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
) -> User:
    """The API caller: a bearer token's user, else the browser session's (with CSRF on writes)."""
    store = store_of(request)
    if credentials is not None:
        user = user_for_token(store, credentials.credentials)
        if user is None:
            raise LoginRequired("the API token is not valid")
        return user
    session = session_for(store, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired("send an API token as 'Authorization: Bearer TOKEN'")
    if request.method not in SAFE_METHODS:
        check_csrf(session.csrf_token, request.headers.get(CSRF_HEADER))
    return session.user
