"""The review pages and the JSON API, in process: every route, every rule, every refusal.

Each refused request is followed by a look at the database: nothing may have changed.
"""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import sqlite3
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from fastapi.testclient import TestClient

from analyzer.grading.grade import grade_call
from analyzer.grading.rubric import Rubric
from analyzer.review.users import make_token
from analyzer.store import CallRecord, Store
from analyzer.web import create_app
from analyzer.web.auth import LOGIN_WINDOW, MAX_FAILED_LOGINS, LoginThrottle

from helpers import GOOD_CALL, make_call
from reviewing import PASSWORD, SAM_CALL, Seeded, seed_review_db

QUEUE_ORDER = ["alex-weak", "sam-text", "alex-good", "sam-good"]  # by need, then newest first
CSRF_MESSAGE = "the form's security token is missing or out of date: reload the page"


# -- helpers -------------------------------------------------------------------------------------


class Page(HTMLParser):
    """What the tests read from a page: its tags with their attributes, its table rows with the
    text of their cells, and its forms with the fields a browser would send."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.rows: list[tuple[dict[str, str], list[str]]] = []
        self.forms: list[tuple[dict[str, str], list[tuple[str, str]]]] = []
        self._row: tuple[dict[str, str], list[str]] | None = None
        self._cell: list[str] | None = None
        self._form: list[tuple[str, str]] | None = None
        self._select: list[Any] | None = None  # [name, selected value, first value]
        self._textarea: list[str] | None = None  # [name, text...]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "tr":
            self._row = (a, [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "form":
            self._form = []
            self.forms.append((a, self._form))
        elif self._form is not None and tag == "input" and a.get("name"):
            self._form.append((a["name"], a.get("value", "")))
        elif self._form is not None and tag == "select":
            self._select = [a.get("name", ""), None, None]
        elif self._select is not None and tag == "option":
            if self._select[2] is None:
                self._select[2] = a.get("value", "")
            if "selected" in a:
                self._select[1] = a.get("value", "")
        elif self._form is not None and tag == "textarea":
            self._textarea = [a.get("name", "")]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row[1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, selected, first = self._select
            self._form.append((name, selected if selected is not None else first or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.append((self._textarea[0], "".join(self._textarea[1:])))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._textarea is not None:
            self._textarea.append(data)

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        """Attributes of every `tag` whose attributes include `wanted` (class: one of its
        classes; data_x for data-x)."""
        found = []
        for name, attrs in self.tags:
            if name != tag:
                continue
            ok = True
            for key, value in wanted.items():
                key = key.rstrip("_").replace("_", "-")
                if key == "class":
                    ok = ok and value in attrs.get("class", "").split()
                else:
                    ok = ok and attrs.get(key) == value
            if ok:
                found.append(attrs)
        return found

    def form(self, action: str) -> list[tuple[str, str]]:
        """The fields of the (first) form posting to `action`."""
        for attrs, fields in self.forms:
            if attrs.get("action") == action:
                return fields
        raise AssertionError(f"no form posting to {action}")


def text(page: str) -> str:
    """A page's visible text: tags removed (inline ones without a space), entities decoded,
    whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r"</?(a|span|strong|small|em|code|b|i)\b[^>]*>", "", body)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def by_id(page: str, element_id: str) -> str:
    """The visible text of the element with this id ('' when there is none)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.S)
    return text(match.group(2)) if match else ""


def csrf_of(page: str) -> str:
    """The CSRF token in a page's forms (the session's; on /login, the login form's)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD, next: str | None = None) -> Any:
    """Sign in through the login form as a browser does; the POST's response (303 when right)."""
    form = client.get("/login", params={"next": next} if next else None)
    assert form.status_code == 200
    data = {"name": name, "password": password, "csrf_token": csrf_of(form.text)}
    if next is not None:
        data["next"] = dict(Page(form.text).form("/login"))["next"]
    return client.post("/login", data=data, follow_redirects=False)


def signed_in(client: TestClient, name: str) -> str:
    """Sign in as `name`; the session's CSRF token (as the queue page's forms carry it)."""
    response = login(client, name)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/calls").text)


def snapshot(db: Path) -> dict[str, Any]:
    """What a refused request must leave as it was: row counts and every call's review state."""
    conn = sqlite3.connect(db)
    try:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("grades", "audit_log", "disputes", "item_results", "sessions")
        }
        counts["reviews"] = conn.execute(
            "SELECT call_id, status, version, confirmed_id, open_disputes FROM reviews "
            "ORDER BY call_id"
        ).fetchall()
        counts["dispute_states"] = conn.execute(
            "SELECT id, status, resolved_by FROM disputes ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return counts


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def version_of(db: Path, call_id: str) -> int:
    return int(query(db, "SELECT version FROM reviews WHERE call_id = ?", call_id)[0][0])


def queue_rows(page: str) -> list[tuple[str, list[str], str]]:
    """(call id, cell texts, row class) of each call in the queue table, in order."""
    return [
        (attrs["data-call"], cells, attrs.get("class", ""))
        for attrs, cells in Page(page).rows
        if "data-call" in attrs
    ]


def audit_rows(page: str) -> list[list[str]]:
    """The call page's history: [when, who, what, item, from, to, comment] per entry."""
    section = page.split('id="disputes"', 1)[1]
    return [cells for _, cells in Page(section).rows if cells and cells[0] != "When"]


def review_form(page: str, call_id: str, **statuses: str) -> list[tuple[str, str]]:
    """The call page's review form as a browser sends it, with some items' statuses changed."""
    fields = Page(page).form(f"/calls/{call_id}/review")
    changed = [
        (name, statuses.pop(name.removeprefix("status__"), value))
        if name.startswith("status__")
        else (name, value)
        for name, value in fields
    ]
    assert not statuses, f"no such items in the form: {statuses}"
    return changed


def replace(fields: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    return [(name, values.get(name, value)) for name, value in fields]


def post_form(client: TestClient, url: str, fields: list[tuple[str, str]]) -> Any:
    body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields)
    return client.post(
        url,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def raw_get(app: Any, path: str, cookie: str) -> tuple[int, bytes]:
    """GET `path` exactly as given (no client-side clean-up of `..`), straight into the app."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", f"analyzer_session={cookie}".encode()),
        ],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric) -> Path:
    """The seeded database and recording, made once; each test works on a copy."""
    folder = tmp_path_factory.mktemp("review-template")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("analyzer.review.users.SCRYPT_N", 2**8)  # as conftest's cheap_password_hashes
        seed_review_db(folder / "review.db", mini_rubric)
    return folder


@pytest.fixture
def seeded(template: Path, tmp_path: Path) -> Seeded:
    for path in template.iterdir():
        shutil.copy2(path, tmp_path / path.name)
    return Seeded(db=tmp_path / "review.db", audio=tmp_path / "alex-good.wav")


@pytest.fixture
def db(seeded: Seeded) -> Path:
    return seeded.db


@pytest.fixture
def tokens(db: Path) -> dict[str, str]:
    with Store.open(db) as store:
        return {name: make_token(store, name) for name in ("maria", "ada", "alex", "sam")}


@pytest.fixture
def client(db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as test_client:
        yield test_client


@pytest.fixture
def quiet_client(db: Path) -> Iterator[TestClient]:
    """A client that answers a server error with its 500, so a test can check the status."""
    with TestClient(create_app(db), raise_server_exceptions=False) as test_client:
        yield test_client


# -- signing in and out --------------------------------------------------------------------------


SIGNED_OUT_PAGES = [
    "/calls",
    "/calls?status=open&rep=Alex",
    "/calls/alex-good",
    "/calls/alex-good/audio",
    "/calls/no-such-call",
]


@pytest.mark.parametrize("path", SIGNED_OUT_PAGES)
def test_every_page_sends_a_signed_out_visitor_to_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [path]}


def test_the_root_leads_to_the_queue_and_so_to_login(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/calls")
    response = client.get("/calls", follow_redirects=False)
    assert response.headers["location"] == "/login?next=/calls"


@pytest.mark.parametrize(
    "path", ["/calls/alex-good/review", "/calls/alex-good/disputes", "/logout"]
)
def test_a_signed_out_post_changes_nothing(client: TestClient, db: Path, path: str) -> None:
    before = snapshot(db)
    response = client.post(
        path,
        data={"csrf_token": "x", "version": "1", "status__intro": "missed", "item_id": "intro"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/login"
    assert snapshot(db) == before


def test_login_returns_to_the_page_asked_for(client: TestClient) -> None:
    first = client.get("/calls?status=open&rep=Alex", follow_redirects=False)
    form_page = client.get(first.headers["location"])
    assert form_page.status_code == 200
    assert dict(Page(form_page.text).form("/login"))["next"] == "/calls?status=open&rep=Alex"
    response = login(client, "maria", next="/calls?status=open&rep=Alex")
    assert response.status_code == 303
    assert response.headers["location"] == "/calls?status=open&rep=Alex"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "maria · manager" in text(page.text)
    assert [row[0] for row in queue_rows(page.text)] == ["alex-weak", "alex-good"]


@pytest.mark.parametrize(
    ("name", "password"),
    [("maria", "not the password"), ("nobody", PASSWORD), ("maria", ""), ("", PASSWORD)],
)
def test_a_wrong_password_is_refused(
    client: TestClient, db: Path, name: str, password: str
) -> None:
    before = snapshot(db)
    response = login(client, name, password)
    assert response.status_code == 401
    assert "Wrong name or password." in text(response.text)
    assert "analyzer_session" not in response.headers.get("set-cookie", "")
    assert dict(Page(response.text).form("/login"))["name"] == name  # kept for a second try
    assert client.get("/calls", follow_redirects=False).status_code == 303
    assert snapshot(db) == before


def test_guessing_a_password_is_paused_after_five_wrong_tries(client: TestClient) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        assert login(client, "maria", "a wrong guess").status_code == 401
    paused = login(client, "MARIA", PASSWORD)  # the right password, same name in any case
    assert paused.status_code == 429
    assert "Too many wrong passwords for MARIA: try again in 15 minutes." in text(paused.text)
    assert "analyzer_session" not in paused.headers.get("set-cookie", "")
    assert login(client, "ada").status_code == 303  # other names are not held up


def test_the_login_throttle_forgets_old_failures_and_successes() -> None:
    now = [1000.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(MAX_FAILED_LOGINS - 1):
        throttle.failed("maria")
    assert throttle.wait_seconds("maria") == 0
    throttle.failed("Maria")
    assert throttle.wait_seconds("maria") == LOGIN_WINDOW
    now[0] += LOGIN_WINDOW - 60
    assert throttle.wait_seconds("maria") == 60
    now[0] += 61
    assert throttle.wait_seconds("maria") == 0  # the first failure left the window
    throttle.failed("maria")
    throttle.succeeded("maria")
    assert throttle.wait_seconds("maria") == 0


NAME_VARIANTS = [" maria", "maria ", "maria\t", "MARIA", "ｍａｒｉａ"]  # spaces, case, full width


def test_every_way_of_typing_a_name_shares_its_guesses_and_signs_in_as_that_user(
    client: TestClient, db: Path
) -> None:
    """Five wrong passwords for maria, each typed another way: every way is paused (a variant
    gets no guesses of its own), and once paused is over each one is maria."""
    assert len(NAME_VARIANTS) == MAX_FAILED_LOGINS
    for variant in NAME_VARIANTS:
        assert login(client, variant, "a wrong guess").status_code == 401
    for variant in ["maria", *NAME_VARIANTS, "Ｍaria\t "]:
        paused = login(client, variant, PASSWORD)
        assert paused.status_code == 429
        assert "analyzer_session" not in paused.headers.get("set-cookie", "")
    with TestClient(create_app(db)) as fresh:  # a restarted server: the pause is over
        for variant in NAME_VARIANTS:
            assert login(fresh, variant).status_code == 303
            assert fresh.get("/api/me").json() == {
                "name": "maria",
                "role": "manager",
                "rep_name": None,
            }
            fresh.cookies.clear()


def test_a_second_try_after_a_wrong_password_works(client: TestClient) -> None:
    wrong = login(client, "maria", "not the password")
    assert wrong.status_code == 401
    response = client.post(
        "/login",
        data={"name": "maria", "password": PASSWORD, "csrf_token": csrf_of(wrong.text)},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/calls")


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_login_without_the_forms_token_is_refused(
    client: TestClient, db: Path, token: str | None
) -> None:
    client.get("/login")  # sets the login cookie the token must match
    before = snapshot(db)
    data = {"name": "maria", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert CSRF_MESSAGE in text(response.text)
    assert "analyzer_session" not in response.headers.get("set-cookie", "")
    assert snapshot(db) == before


def test_login_with_a_token_but_without_its_cookie_is_refused(db: Path) -> None:
    """A page on another site cannot read the login cookie: a token copied from elsewhere fails."""
    with TestClient(create_app(db)) as other:
        token = csrf_of(other.get("/login").text)
    with TestClient(create_app(db)) as client:
        before = snapshot(db)
        response = client.post(
            "/login",
            data={"name": "maria", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert snapshot(db) == before


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/calls",
        "https://evil.example",
        "https://evil.example/calls",
        "/\\evil.example",
        "evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_never_sends_the_user_to_another_site(client: TestClient, target: str) -> None:
    page = client.get("/login", params={"next": target})
    assert dict(Page(page.text).form("/login"))["next"] == "/calls"
    response = client.post(
        "/login",
        data={
            "name": "maria",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": target,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/calls"


def test_logout_needs_the_token_and_ends_the_session(client: TestClient, db: Path) -> None:
    csrf = signed_in(client, "maria")
    cookie = client.cookies["analyzer_session"]
    before = snapshot(db)
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post("/logout", data=data, follow_redirects=False)
        assert refused.status_code == 403
        assert CSRF_MESSAGE in text(refused.text)
        assert snapshot(db) == before
    assert client.get("/calls").status_code == 200  # still signed in

    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert 'analyzer_session=""' in response.headers["set-cookie"]
    assert snapshot(db)["sessions"] == before["sessions"] - 1

    # the old cookie, sent again, opens nothing: the session is gone from the server
    client.cookies.set("analyzer_session", cookie)
    again = client.get("/calls", follow_redirects=False)
    assert again.status_code == 303
    assert urlsplit(again.headers["location"]).path == "/login"
    assert client.get("/api/calls").status_code == 401


def _set_cookie(response: Any, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}")


def test_the_cookies_are_http_only_and_same_site(client: TestClient) -> None:
    login_cookie = _set_cookie(client.get("/login"), "analyzer_login_csrf")
    response = login(client, "maria")
    session_cookie = _set_cookie(response, "analyzer_session")
    for cookie in (login_cookie, session_cookie):
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        assert "secure" not in attributes  # plain http here; see the https test
    assert "max-age=604800" in session_cookie.lower()  # a login lasts a week


def test_the_cookies_are_secure_over_https(db: Path) -> None:
    with TestClient(create_app(db), base_url="https://testserver") as client:
        response = login(client, "maria")
        assert response.status_code == 303
        assert "secure" in [
            p.strip().lower() for p in _set_cookie(response, "analyzer_session").split(";")
        ]


def test_security_headers_on_every_kind_of_response(client: TestClient, tokens: dict) -> None:
    responses = [client.get("/login"), client.get("/calls", follow_redirects=False)]
    signed_in(client, "maria")
    responses += [
        client.get("/calls"),
        client.get("/calls/alex-good"),
        client.get("/calls/no-such-call"),
        client.get("/no-such-page"),
        client.get("/api/calls", headers=bearer(tokens["maria"])),
    ]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_the_pages_use_no_inline_script(client: TestClient) -> None:
    signed_in(client, "maria")
    page = client.get("/calls/alex-good").text
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert not re.search(r"\son\w+=", page)  # no onclick= and the like (the CSP forbids them)
    assert client.get("/static/call.js").status_code == 200


# -- the queue -----------------------------------------------------------------------------------


def test_the_queue_shows_counts_and_calls_by_need(client: TestClient) -> None:
    signed_in(client, "maria")
    response = client.get("/calls")
    assert response.status_code == 200
    page = text(response.text)
    for count in ("4 to review", "0 disputed", "0 confirmed", "4 in all"):
        assert count in page
    rows = queue_rows(response.text)
    assert [row[0] for row in rows] == QUEUE_ORDER
    weak = rows[0][1]
    assert weak[:7] == ["unreviewed", "alex-weak", "Alex", "2026-11-24", "00:30", "mini v1", "50"]
    assert weak[9] == "below pass mark critical missed said a forbidden line: No false urgency"
    assert [row[1][9] for row in rows[1:]] == ["below pass mark critical missed too short", "", ""]
    assert rows[2][1][6:9] == ["100", "–", "pass"]
    assert "Page 1 of 1 · 4 calls" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"rep": "Sam"}, ["sam-text", "sam-good"]),
        ({"rep": "alex"}, ["alex-weak", "alex-good"]),  # case does not matter
        ({"since": "2026-11-25"}, ["alex-good", "sam-good"]),
        ({"until": "2026-11-24"}, ["alex-weak", "sam-text"]),
        ({"since": "2026-11-24", "until": "2026-11-24"}, ["alex-weak"]),
        ({"rubric": "mini"}, QUEUE_ORDER),
        ({"rubric": "other"}, []),
        ({"status": "unreviewed"}, QUEUE_ORDER),
        ({"status": "open"}, QUEUE_ORDER),
        ({"status": "confirmed"}, []),
        ({"rep": "Sam", "since": "2026-11-24"}, ["sam-good"]),
    ],
)
def test_queue_filters(client: TestClient, params: dict[str, str], expected: list[str]) -> None:
    signed_in(client, "maria")
    response = client.get("/calls", params=params)
    assert response.status_code == 200
    assert [row[0] for row in queue_rows(response.text)] == expected
    if not expected:
        assert "No calls match these filters." in text(response.text)
    form = dict(Page(response.text).form("/calls"))  # the form shows the filters in use
    for name in ("since", "until", "status"):
        assert form[name] == params.get(name, "")
    assert form["rep"] == {"Sam": "Sam", "alex": "Alex"}.get(params.get("rep", ""), "")
    assert form["rubric"] == ("mini" if params.get("rubric") == "mini" else "")


def test_queue_filter_choices(client: TestClient) -> None:
    signed_in(client, "maria")
    page = Page(client.get("/calls").text)
    values = [o.get("value") for o in page.find("option")]
    assert values[:3] == ["", "Alex", "Sam"]  # reps
    assert values[3:5] == ["", "mini"]  # rubrics


def test_counts_follow_the_filters_other_than_status(client: TestClient) -> None:
    signed_in(client, "maria")
    page = text(client.get("/calls", params={"rep": "Sam", "status": "confirmed"}).text)
    assert "2 to review" in page
    assert "2 in all" in page
    assert "Page 1 of 1 · 0 calls" in page


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"since": "2026-02-30"}, "since: must be a date as YYYY-MM-DD, not '2026-02-30'"),
        ({"until": "yesterday"}, "until: must be a date as YYYY-MM-DD, not 'yesterday'"),
        (
            {"status": "great"},
            "status: must be one of unreviewed, disputed, confirmed, open, not 'great'",
        ),
        ({"page": "0"}, "page: must be 1 or more"),
        ({"page": "two"}, "page: must be 1 or more"),
    ],
)
def test_an_invalid_filter_is_a_422_naming_the_problem(
    client: TestClient, params: dict[str, str], problem: str
) -> None:
    signed_in(client, "maria")
    response = client.get("/calls", params=params)
    assert response.status_code == 422
    assert problem in text(response.text)
    assert [row[0] for row in queue_rows(response.text)] == QUEUE_ORDER  # the unfiltered queue


@pytest.mark.parametrize(
    "page", ["²", "9" * 30, "9" * 5000], ids=["superscript", "30-digit", "5000-digit"]
)
def test_an_odd_page_number_is_a_422_not_a_server_error(
    quiet_client: TestClient, page: str
) -> None:
    """'²' passes str.isdigit() but not int(); a 30-digit page overflows SQLite's OFFSET; a
    5000-digit one passes the digit checks but exceeds int()'s 4300-digit limit."""
    signed_in(quiet_client, "maria")
    response = quiet_client.get("/calls", params={"page": page})
    assert response.status_code == 422
    assert "page: " in text(response.text)


def test_a_rep_sees_only_their_calls_and_no_rep_filter(client: TestClient) -> None:
    signed_in(client, "alex")
    response = client.get("/calls")
    assert [row[0] for row in queue_rows(response.text)] == ["alex-weak", "alex-good"]
    assert "2 in all" in text(response.text)
    form = dict(Page(response.text).form("/calls"))
    assert "rep" not in form
    other = client.get("/calls", params={"rep": "Sam"})
    assert queue_rows(other.text) == []


@pytest.fixture
def many_calls(db: Path, mini_rubric: Rubric) -> Path:
    """55 more calls by a rep called Bulk: two queue pages of them."""
    transcript = make_call(SAM_CALL, call_id="bulk", rep="Bulk", started_at="2026-10-01T09:00:00")
    grade = grade_call(transcript, mini_rubric)
    with Store.open(db) as store:
        for n in range(55):
            record = CallRecord(
                call_id=f"bulk-{n:02d}",
                content_hash=f"hash-bulk-{n}",
                rep="Bulk",
                call_date=f"2026-10-{1 + n % 28:02d}",
            )
            store.save_call(record, transcript, grade)
    return db


def test_the_queue_is_paginated_keeping_the_filters(client: TestClient, many_calls: Path) -> None:
    signed_in(client, "maria")
    first = client.get("/calls", params={"rep": "Bulk", "status": "open"})
    rows = queue_rows(first.text)
    assert len(rows) == 50
    assert "Page 1 of 2 · 55 calls" in text(first.text)
    links = Page(first.text)
    assert [a["href"] for a in links.find("a", rel="next")] == [
        "/calls?rep=Bulk&status=open&page=2"
    ]
    assert links.find("a", rel="prev") == []

    second = client.get("/calls?rep=Bulk&status=open&page=2")
    rest = queue_rows(second.text)
    assert len(rest) == 5
    assert not {r[0] for r in rows} & {r[0] for r in rest}
    assert {r[0] for r in rows} | {r[0] for r in rest} == {f"bulk-{n:02d}" for n in range(55)}
    assert "Page 2 of 2 · 55 calls" in text(second.text)
    assert [a["href"] for a in Page(second.text).find("a", rel="prev")] == [
        "/calls?rep=Bulk&status=open&page=1"
    ]
    assert Page(second.text).find("a", rel="next") == []
    # the whole queue: the four seeded calls first (they need a look most), then Bulk's
    everything = queue_rows(client.get("/calls").text)
    assert [r[0] for r in everything[:4]] == QUEUE_ORDER


# -- the call page -------------------------------------------------------------------------------


def test_the_call_page_shows_the_facts(client: TestClient) -> None:
    signed_in(client, "maria")
    response = client.get("/calls/alex-good")
    assert response.status_code == 200
    tables = Page(response.text).rows
    page = text(response.text)
    assert "Rep Alex" in page
    assert "Date 2026-11-25 · 10:00" in page
    assert "Length 01:20" in page
    assert "Rubric mini v1" in page
    assert by_id(response.text, "suggested-grade") == "100 pass"
    assert by_id(response.text, "confirmed-grade") == "not yet"
    assert "No reviews or disputes yet." in page
    assert tables == []  # no history table yet


def test_every_turn_has_its_phase_and_rep_turns_are_set_apart(client: TestClient) -> None:
    signed_in(client, "maria")
    page = Page(client.get("/calls/alex-good").text)
    turns = page.find("li", class_="turn")
    assert [t["id"] for t in turns] == [f"turn-{n}" for n in range(len(GOOD_CALL))]
    # the mini rubric's phases cover turns 0-5, 6-7, 8-10, 11-13 and 14-15 of the good call
    phases = [0] * 6 + [1] * 2 + [2] * 3 + [3] * 3 + [4] * 2
    for n, turn in enumerate(turns):
        classes = turn["class"].split()
        assert f"phase-{phases[n]}" in classes, (n, classes)
        assert ("rep" in classes) == (GOOD_CALL[n][0] == "Alex"), (n, classes)
        assert float(turn["data-start"]) == 5.0 * n


def test_turn_phases_of_a_call_that_never_closes(client: TestClient) -> None:
    signed_in(client, "maria")
    page = Page(client.get("/calls/alex-weak").text)
    turns = page.find("li", class_="turn")
    # opening (rubric phase 1) in turns 0-1, discovery (phase 2) in 2-5; no close
    assert [t["class"].split() for t in turns] == [
        ["turn", "phase-1", "rep"],
        ["turn", "phase-1"],
        ["turn", "phase-2", "rep"],
        ["turn", "phase-2"],
        ["turn", "phase-2", "rep"],
        ["turn", "phase-2"],
    ]


def test_evidence_buttons_point_at_their_turn_and_moment(client: TestClient) -> None:
    signed_in(client, "maria")
    page = Page(client.get("/calls/alex-good").text)
    buttons = page.find("button", class_="evidence")
    assert len(buttons) >= 8  # every met item of the good call shows where it was said
    for button in buttons:
        assert float(button["data-start"]) == 5.0 * int(button["data-turn"])
    assert {int(b["data-turn"]) for b in buttons} >= {1, 6, 8, 9, 10, 12, 14}


def test_the_player_is_there_only_for_a_call_with_audio(client: TestClient) -> None:
    signed_in(client, "maria")
    with_audio = Page(client.get("/calls/alex-good").text).find("audio", id="player")
    assert [a["src"] for a in with_audio] == ["/calls/alex-good/audio"]
    without = client.get("/calls/alex-weak")
    assert without.status_code == 200
    assert Page(without.text).find("audio") == []


def item_section(page: str, item_id: str) -> str:
    """The visible text of an item on the call page, its evidence and form fields included."""
    match = re.search(
        rf'id="item-{re.escape(item_id)}">(.*?)(?=<div class="item |</details>)', page, re.S
    )
    assert match, f"no item {item_id} on the page"
    return text(match.group(1))


def status_badges(page: str, item_id: str) -> list[tuple[str, str, str]]:
    """(class, title, label) of each status badge in an item's head: suggested, then confirmed."""
    head = page.split(f'id="item-{item_id}"', 1)[1].split('class="item-text"', 1)[0]
    return re.findall(r'<span class="badge ([^"]+)" title="(\w+)">([^<]+)</span>', head)


def option_labels(page: str, item_id: str) -> list[tuple[str, str]]:
    """(value, label) of each choice of an item's status menu."""
    menu = page.split(f'name="status__{item_id}"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="(\w+)"[^>]*>([^<]+)</option>', menu)


def test_a_forbidden_line_said_shows_as_breached_quoting_what_was_said(client: TestClient) -> None:
    signed_in(client, "maria")
    page = client.get("/calls/alex-weak").text
    assert status_badges(page, "no_pressure") == [("breached", "suggested", "Breached")]
    item = item_section(page, "no_pressure")
    assert item.startswith("Breached No false urgency 0 / 5 must not be said")
    assert "Said a forbidden line: 00:20 “This offer expires today, so think it over.”" in item
    assert "Met" not in item and "Missed" not in item
    assert "breached" in Page(page).find("div", id="item-no_pressure")[0]["class"].split()
    flags = page.split('<p class="flags">', 1)[1].split("</p>", 1)[0]
    assert re.findall(r'<span class="flag ([^"]+)">([^<]+)</span>', flags) == [
        ("below_pass_mark", "below pass mark"),
        ("critical_missed", "critical missed"),
        ("forbidden_said", "said a forbidden line: No false urgency"),
    ]
    # the menu keeps the stored statuses, worded for a forbidden item
    assert option_labels(page, "no_pressure") == [
        ("met", "Not said"),
        ("partial", "Partial"),
        ("missed", "Breached (said it)"),
        ("na", "N/A"),
    ]
    assert dict(Page(page).form("/calls/alex-weak/review"))["status__no_pressure"] == "missed"
    # other items read as before
    assert status_badges(page, "next_step") == [("missed", "suggested", "Missed")]
    assert option_labels(page, "next_step")[0] == ("met", "Met")


def test_a_forbidden_line_never_said_shows_as_not_said_with_full_points(client: TestClient) -> None:
    signed_in(client, "maria")
    page = client.get("/calls/alex-good").text
    assert status_badges(page, "no_pressure") == [("clean", "suggested", "Not said")]
    assert item_section(page, "no_pressure").startswith("Not said No false urgency 5 / 5")
    assert Page(page).find("span", class_="breached") == []
    assert "said a forbidden line" not in text(page).lower()
    assert "breached" not in Page(page).find("div", id="item-no_pressure")[0]["class"].split()
    assert status_badges(page, "intro") == [("met", "suggested", "Met")]


def test_a_manager_clears_a_breach_and_the_statuses_stored_stay_the_rubrics(
    client: TestClient, db: Path
) -> None:
    signed_in(client, "maria")
    page = client.get("/calls/alex-weak").text
    fields = review_form(page, "alex-weak", no_pressure="met")
    fields = replace(fields, comment__no_pressure="the offer really ends today")
    assert post_form(client, "/calls/alex-weak/review", fields).status_code == 303
    stored = query(
        db,
        "SELECT i.status FROM item_results i JOIN grades g ON g.id = i.grade_id "
        "WHERE g.call_id = 'alex-weak' AND i.item_id = 'no_pressure' ORDER BY g.kind",
    )
    assert stored == [("met",), ("missed",)]  # confirmed, suggested
    confirmed = query(
        db, "SELECT grade_json FROM grades WHERE call_id = 'alex-weak' AND kind = 'confirmed'"
    )[0][0]
    assert "forbidden_said" not in confirmed
    call = client.get("/calls/alex-weak").text
    assert status_badges(call, "no_pressure") == [
        ("breached", "suggested", "Breached"),
        ("clean", "confirmed", "Not said"),
    ]
    # the confirmed status decides the item's colour
    assert "breached" not in Page(call).find("div", id="item-no_pressure")[0]["class"].split()
    assert dict(Page(call).form("/calls/alex-weak/review"))["status__no_pressure"] == "met"
    # "breached" is a label, never a status
    fields = review_form(call, "alex-weak", no_pressure="breached")
    response = post_form(client, "/calls/alex-weak/review", fields)
    assert response.status_code == 422
    assert "must be one of met, partial, missed, na, not 'breached'" in by_id(
        response.text, "review-error"
    )


# -- confirming and overriding -------------------------------------------------------------------


def test_override_one_item_and_confirm(client: TestClient, db: Path) -> None:
    signed_in(client, "maria")
    suggested_before = query(db, "SELECT * FROM grades WHERE kind = 'suggested' ORDER BY id")
    before = snapshot(db)
    page = client.get("/calls/alex-good").text
    fields = review_form(page, "alex-good", next_step="missed")
    fields = replace(fields, comment__next_step="No day or time", comment="Listened to it")
    response = post_form(client, "/calls/alex-good/review", fields)
    assert response.status_code == 303
    assert response.headers["location"] == "/calls?confirmed=alex-good"

    queue = client.get(response.headers["location"])
    assert "Confirmed alex-good: 85 (suggested 100)." in by_id(queue.text, "confirmed-notice")
    rows = queue_rows(queue.text)
    assert [r[0] for r in rows] == ["alex-weak", "sam-text", "sam-good", "alex-good"]
    assert rows[-1][1][0] == "confirmed"
    assert rows[-1][1][6:9] == ["100", "85", "fail"]
    assert "status-confirmed" in rows[-1][2]
    assert "1 confirmed" in text(queue.text)

    call = client.get("/calls/alex-good").text
    assert by_id(call, "suggested-grade") == "100 pass"
    assert re.fullmatch(
        r"85 fail by maria, \d{4}-\d\d-\d\d \d\d:\d\d", by_id(call, "confirmed-grade")
    )
    history = audit_rows(call)
    assert [row[1:] for row in history] == [
        ["maria", "override", "next_step", "met", "missed", "No day or time"],
        ["maria", "confirm", "", "100.0", "85.0", "Listened to it"],
    ]
    assert "Manager: No day or time" in text(call)
    assert dict(Page(call).form("/calls/alex-good/review"))["status__next_step"] == "missed"

    # the suggested grade is untouched; one confirmed grade is stored beside it
    assert (
        query(db, "SELECT * FROM grades WHERE kind = 'suggested' ORDER BY id") == suggested_before
    )
    assert query(
        db, "SELECT grade, passed, rubric_version FROM grades WHERE kind = 'confirmed'"
    ) == [(85.0, 0, "1")]
    after = snapshot(db)
    assert after["grades"] == before["grades"] + 1
    assert after["audit_log"] == before["audit_log"] + 2
    assert query(
        db, "SELECT status, version, reviewed_by FROM reviews WHERE call_id = ?", "alex-good"
    ) == [("confirmed", 2, "maria")]


def test_confirming_unchanged_keeps_the_suggested_grade(client: TestClient, db: Path) -> None:
    signed_in(client, "ada")
    page = client.get("/calls/sam-good").text
    response = post_form(client, "/calls/sam-good/review", review_form(page, "sam-good"))
    assert response.status_code == 303
    assert query(db, "SELECT grade FROM grades WHERE call_id = 'sam-good' ORDER BY kind DESC") == [
        (93.8,),
        (93.8,),
    ]
    assert audit_rows(client.get("/calls/sam-good").text)[0][1:6] == [
        "ada",
        "confirm",
        "",
        "93.8",
        "93.8",
    ]


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_review_without_the_sessions_token_is_refused(
    client: TestClient, db: Path, token: str | None
) -> None:
    signed_in(client, "maria")
    fields = review_form(client.get("/calls/alex-good").text, "alex-good", next_step="missed")
    fields = [(k, v) for k, v in fields if k != "csrf_token"]
    if token is not None:
        fields.append(("csrf_token", token))
    before = snapshot(db)
    response = post_form(client, "/calls/alex-good/review", fields)
    assert response.status_code == 403
    assert CSRF_MESSAGE in text(response.text)
    assert snapshot(db) == before


def test_another_sessions_token_does_not_do(client: TestClient, db: Path) -> None:
    with TestClient(create_app(db)) as other:
        other_token = signed_in(other, "ada")
    signed_in(client, "maria")
    fields = review_form(client.get("/calls/alex-good").text, "alex-good", next_step="missed")
    before = snapshot(db)
    response = post_form(client, "/calls/alex-good/review", replace(fields, csrf_token=other_token))
    assert response.status_code == 403
    assert snapshot(db) == before


def test_a_stale_review_is_a_409_and_saves_nothing(client: TestClient, db: Path) -> None:
    """Maria and Ada open the same call; Maria saves first; Ada's save is refused."""
    with TestClient(create_app(db)) as ada:
        signed_in(ada, "ada")
        ada_form = review_form(ada.get("/calls/alex-good").text, "alex-good", intro="partial")
        signed_in(client, "maria")
        maria_form = review_form(
            client.get("/calls/alex-good").text, "alex-good", next_step="missed"
        )
        assert post_form(client, "/calls/alex-good/review", maria_form).status_code == 303
        before = snapshot(db)
        response = post_form(ada, "/calls/alex-good/review", ada_form)
        assert response.status_code == 409
        message = by_id(response.text, "review-error")
        assert message.startswith("call alex-good was changed by maria at ")
        assert message.endswith(
            "after you opened it (version 1, now 2): reload the page and review it again; "
            "nothing was saved"
        )
        assert snapshot(db) == before
        # the page shown with the 409 is the current one: Maria's grade, version 2
        assert by_id(response.text, "confirmed-grade").startswith("85 fail by maria")
        assert dict(Page(response.text).form("/calls/alex-good/review"))["version"] == "2"


@pytest.mark.parametrize("version", ["0", "7", "", "one"])
def test_a_review_with_a_wrong_version_saves_nothing(
    client: TestClient, db: Path, version: str
) -> None:
    signed_in(client, "maria")
    fields = review_form(client.get("/calls/alex-good").text, "alex-good", next_step="missed")
    before = snapshot(db)
    response = post_form(client, "/calls/alex-good/review", replace(fields, version=version))
    assert response.status_code == 409
    assert "reload the page and review it again; nothing was saved" in text(response.text)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (("status__bogus", "met"), "no item 'bogus' in this call's rubric"),
        (("status__intro", "great"), "must be one of met, partial, missed, na, not 'great'"),
        (("comment", "x" * 2001), "comment: longer than 2000 characters"),
    ],
)
def test_an_invalid_review_is_a_422_and_saves_nothing(
    client: TestClient, db: Path, extra: tuple[str, str], problem: str
) -> None:
    signed_in(client, "maria")
    fields = review_form(client.get("/calls/alex-good").text, "alex-good")
    name = extra[0]
    fields = [(k, v) for k, v in fields if k != name] + [extra]
    before = snapshot(db)
    response = post_form(client, "/calls/alex-good/review", fields)
    assert response.status_code == 422
    assert problem in by_id(response.text, "review-error")
    assert snapshot(db) == before


def test_reviewing_an_unknown_call_is_a_404(client: TestClient, db: Path) -> None:
    csrf = signed_in(client, "maria")
    before = snapshot(db)
    response = post_form(
        client, "/calls/no-such-call/review", [("csrf_token", csrf), ("version", "1")]
    )
    assert response.status_code == 404
    assert "no call 'no-such-call'" in text(response.text)
    assert snapshot(db) == before


# -- reps ----------------------------------------------------------------------------------------


def test_a_rep_cannot_open_another_reps_call(client: TestClient) -> None:
    signed_in(client, "alex")
    response = client.get("/calls/sam-good")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "403 · Not allowed" in text(response.text)
    assert "call sam-good belongs to another rep" in text(response.text)
    assert "Lee" not in response.text  # nothing of the call shown


def test_an_unknown_call_is_a_404_page(client: TestClient) -> None:
    signed_in(client, "alex")
    response = client.get("/calls/no-such-call")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "404 · Not found" in text(response.text)
    assert "no call 'no-such-call'" in text(response.text)


def test_a_rep_sees_their_call_read_only(client: TestClient) -> None:
    signed_in(client, "alex")
    response = client.get("/calls/alex-weak")
    assert response.status_code == 200
    page = Page(response.text)
    assert page.find("form", id="review-form") == []
    assert not any(a.get("name", "").startswith("status__") for _, a in page.tags)
    dispute_forms = [f for a, f in page.forms if a.get("action") == "/calls/alex-weak/disputes"]
    assert len(dispute_forms) == 8  # one per item of the rubric


def test_a_rep_cannot_post_a_review(client: TestClient, db: Path) -> None:
    csrf = signed_in(client, "alex")
    before = snapshot(db)
    response = post_form(
        client,
        "/calls/alex-weak/review",
        [("csrf_token", csrf), ("version", "1"), ("status__next_step", "met")],
    )
    assert response.status_code == 403
    assert "only managers and admins may confirm grades" in text(response.text)
    assert snapshot(db) == before


def test_a_rep_disputes_an_item(client: TestClient, db: Path) -> None:
    signed_in(client, "alex")
    page = Page(client.get("/calls/alex-weak").text)
    fields = next(
        f
        for a, f in page.forms
        if a.get("action") == "/calls/alex-weak/disputes" and ("item_id", "next_step") in f
    )
    response = post_form(
        client, "/calls/alex-weak/disputes", replace(fields, comment="I asked for Friday.")
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/calls/alex-weak#disputes"

    call = client.get("/calls/alex-weak").text
    assert "Disputed by alex: I asked for Friday." in text(call)
    assert "alex-weak disputed" in text(call)
    assert ("item_id", "next_step") not in [x for _, f in Page(call).forms for x in f]
    assert audit_rows(call)[0][1:] == [
        "alex",
        "dispute",
        "next_step",
        "",
        "",
        "I asked for Friday.",
    ]
    assert query(
        db, "SELECT status, open_disputes, version FROM reviews WHERE call_id = ?", "alex-weak"
    ) == [("disputed", 1, 2)]
    assert query(db, "SELECT item_id, raised_by, comment, status FROM disputes") == [
        ("next_step", "alex", "I asked for Friday.", "open")
    ]

    # the manager's queue shows it, and confirming resolves it
    with TestClient(create_app(db)) as manager:
        signed_in(manager, "maria")
        queue = manager.get("/calls")
        rows = queue_rows(queue.text)
        assert rows[0][0] == "alex-weak"
        assert rows[0][1][0] == "disputed"
        assert "1 dispute" in rows[0][1][9]
        assert "1 disputed" in text(queue.text)
        assert [r[0] for r in queue_rows(manager.get("/calls?status=disputed").text)] == [
            "alex-weak"
        ]
        manager_page = manager.get("/calls/alex-weak").text
        assert "Disputed by alex: I asked for Friday." in text(manager_page)
        fields = review_form(manager_page, "alex-weak", next_step="met")
        assert post_form(manager, "/calls/alex-weak/review", fields).status_code == 303
    assert query(db, "SELECT status, resolved_by, resolution FROM disputes") == [
        ("resolved", "maria", "met")
    ]
    assert query(db, "SELECT status FROM reviews WHERE call_id = 'alex-weak'") == [("confirmed",)]


@pytest.mark.parametrize(
    ("fields", "status", "problem"),
    [
        ({"comment": "  "}, 422, "comment: say why the item is wrong"),
        ({"item_id": "bogus"}, 422, "item_id: no item 'bogus' in this call's rubric"),
        ({"version": "0"}, 409, "nothing was saved"),
        ({"csrf_token": "forged"}, 403, CSRF_MESSAGE),
    ],
)
def test_a_refused_dispute_stores_nothing(
    client: TestClient, db: Path, fields: dict[str, str], status: int, problem: str
) -> None:
    csrf = signed_in(client, "alex")
    form = {"csrf_token": csrf, "version": "1", "item_id": "next_step", "comment": "I did."}
    before = snapshot(db)
    response = post_form(client, "/calls/alex-weak/disputes", list({**form, **fields}.items()))
    assert response.status_code == status
    assert problem in text(response.text)
    assert snapshot(db) == before


def test_a_rep_cannot_dispute_another_reps_call_nor_a_manager_any(
    client: TestClient, db: Path
) -> None:
    csrf = signed_in(client, "alex")
    with TestClient(create_app(db)) as manager:
        manager_csrf = signed_in(manager, "maria")
        before = snapshot(db)
        form = [("csrf_token", csrf), ("version", "1"), ("item_id", "intro"), ("comment", "No.")]
        assert post_form(client, "/calls/sam-good/disputes", form).status_code == 403
        form = replace(form, csrf_token=manager_csrf)
        response = post_form(manager, "/calls/alex-weak/disputes", form)
        assert response.status_code == 403
        assert "only the rep on the call may dispute an item" in text(response.text)
    assert snapshot(db) == before


# -- the recording -------------------------------------------------------------------------------


def test_the_recording_is_served_whole_and_in_ranges(client: TestClient, seeded: Seeded) -> None:
    signed_in(client, "maria")
    recording = seeded.audio.read_bytes()
    whole = client.get("/calls/alex-good/audio")
    assert whole.status_code == 200
    assert whole.content == recording
    assert whole.headers["content-type"] in ("audio/x-wav", "audio/wav")
    assert whole.headers["accept-ranges"] == "bytes"

    part = client.get("/calls/alex-good/audio", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(recording)}"
    assert part.content == recording[1000:2000]

    tail = client.get("/calls/alex-good/audio", headers={"Range": "bytes=-44"})
    assert tail.status_code == 206
    assert tail.content == recording[-44:]


def test_the_rep_of_the_call_may_hear_it_others_not(client: TestClient, db: Path) -> None:
    signed_in(client, "alex")
    assert client.get("/calls/alex-good/audio").status_code == 200
    with TestClient(create_app(db)) as sam:
        signed_in(sam, "sam")
        response = sam.get("/calls/alex-good/audio")
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert b"RIFF" not in response.content


def test_head_on_the_recording_sends_its_headers_without_the_body(
    client: TestClient, seeded: Seeded, db: Path
) -> None:
    """What a player or a link checker asks first: HEAD, with the same checks as GET."""
    signed_out = client.head("/calls/alex-good/audio", follow_redirects=False)
    assert (signed_out.status_code, signed_out.headers["location"]) == (
        303,
        "/login?next=/calls/alex-good/audio",
    )
    signed_in(client, "maria")
    head = client.head("/calls/alex-good/audio")
    whole = client.get("/calls/alex-good/audio")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(seeded.audio.read_bytes()))
    for name in ("content-type", "content-length", "accept-ranges", "etag", "last-modified"):
        assert head.headers[name] == whole.headers[name]
    assert head.headers["x-content-type-options"] == "nosniff"
    assert client.head("/calls/alex-weak/audio").status_code == 404  # no recording
    with TestClient(create_app(db)) as sam:
        signed_in(sam, "sam")
        refused = sam.head("/calls/alex-good/audio")
        assert refused.status_code == 403
        assert b"RIFF" not in refused.content


def test_a_call_without_a_recording_has_no_audio(client: TestClient) -> None:
    signed_in(client, "maria")
    response = client.get("/calls/alex-weak/audio")
    assert response.status_code == 404
    assert "call alex-weak has no recording" in text(response.text)
    assert client.get("/calls/no-such-call/audio").status_code == 404


def test_a_missing_recording_is_a_404(client: TestClient, seeded: Seeded) -> None:
    signed_in(client, "maria")
    seeded.audio.unlink()
    response = client.get("/calls/alex-good/audio")
    assert response.status_code == 404
    assert "the recording of call alex-good is missing: alex-good.wav" in text(response.text)


TRAVERSALS = [
    "/calls/..%2F..%2Fetc%2Fpasswd/audio",
    "/calls/alex-good/audio/../../../etc/passwd",
    "/calls/%2e%2e/audio",
    "/calls/..%2Freview.db/audio",
    "/calls/alex-good%2F..%2F..%2Freview.db/audio",
    "/calls/alex-good/audio/..%2F..%2Freview.db",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_reaches_another_file(client: TestClient, seeded: Seeded, path: str) -> None:
    signed_in(client, "maria")
    secrets = [Path("/etc/passwd").read_bytes()[:32], seeded.db.read_bytes()[:16], b"RIFF"]
    response = client.get(path)
    assert response.status_code == 404
    assert not any(secret in response.content for secret in secrets)
    # and sent as is, without the client tidying the `..` away first
    status, body = raw_get(client.app, path, client.cookies["analyzer_session"])
    assert status == 404
    assert not any(secret in body for secret in secrets)


ODD_ID = "../../x?y=1#<b>"  # an id from before call ids were kept to a safe set
ODD_PATH = "/calls/..%2F..%2Fx%3Fy%3D1%23%3Cb%3E"


def test_a_call_with_an_odd_id_is_linked_whole_and_opens(
    client: TestClient, db: Path, mini_rubric: Rubric
) -> None:
    transcript = make_call(SAM_CALL, call_id=ODD_ID, rep="Sam", started_at="2026-11-26T09:00:00")
    record = CallRecord(
        call_id=ODD_ID,
        content_hash="hash-odd",
        audio_path="alex-good.wav",
        rep="Sam",
        call_date="2026-11-26",
    )
    with Store.open(db) as store:
        store.save_call(record, transcript, grade_call(transcript, mini_rubric))
    signed_out = client.get(ODD_PATH, follow_redirects=False)
    assert signed_out.headers["location"] == f"/login?next={quote(ODD_PATH, safe='/')}"
    response = login(client, "maria", next=ODD_PATH)  # and back to it once signed in
    assert (response.status_code, response.headers["location"]) == (303, ODD_PATH)

    queue = client.get("/calls")
    assert ODD_ID in [call for call, _, _ in queue_rows(queue.text)]
    assert "<b>" not in queue.text
    assert ODD_PATH in [a["href"] for a in Page(queue.text).find("a")]
    page = client.get(ODD_PATH)
    assert page.status_code == 200
    assert f"{ODD_ID} unreviewed" in text(page.text)
    # as a server hands it over (decoded: `/` and `..` in the path), with nothing tidied away
    status, _ = raw_get(client.app, unquote(ODD_PATH), client.cookies["analyzer_session"])
    assert status == 200
    [player] = Page(page.text).find("audio", id="player")
    assert player["src"] == f"{ODD_PATH}/audio"
    assert client.get(player["src"]).content[:4] == b"RIFF"
    confirmed = post_form(client, f"{ODD_PATH}/review", Page(page.text).form(f"{ODD_PATH}/review"))
    assert confirmed.status_code == 303
    after = client.get(confirmed.headers["location"])
    assert by_id(after.text, "confirmed-notice").startswith(f"Confirmed {ODD_ID}: ")
    notice = after.text.split('id="confirmed-notice"', 1)[1].split("</p>", 1)[0]
    assert f'<a href="{ODD_PATH}">' in notice
    assert query(db, "SELECT status FROM reviews WHERE call_id = ?", ODD_ID) == [("confirmed",)]


# -- the JSON API --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/me"),
        ("GET", "/api/calls"),
        ("GET", "/api/calls/alex-good"),
        ("POST", "/api/calls/alex-good/review"),
        ("POST", "/api/calls/alex-good/disputes"),
    ],
)
def test_the_api_needs_a_token(client: TestClient, db: Path, method: str, path: str) -> None:
    before = snapshot(db)
    body = {"version": 1, "items": [{"item_id": "intro", "status": "missed"}]}
    for headers, message in [
        ({}, "send an API token as 'Authorization: Bearer TOKEN'"),
        (bearer("an_not-a-real-token"), "the API token is not valid"),
        ({"Authorization": "Basic bWFyaWE6cGFzc3dvcmQ="}, "send an API token as"),
    ]:
        response = client.request(method, path, headers=headers, json=body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"].startswith(message)
    assert snapshot(db) == before


def test_api_me(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/me", headers=bearer(tokens["alex"])).json() == {
        "name": "alex",
        "role": "rep",
        "rep_name": "Alex",
    }
    assert client.get("/api/me", headers=bearer(tokens["maria"])).json() == {
        "name": "maria",
        "role": "manager",
        "rep_name": None,
    }


def test_api_list_calls(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/api/calls", headers=bearer(tokens["maria"]))
    assert response.status_code == 200
    data = response.json()
    assert {k: data[k] for k in ("total", "counts", "page", "per_page", "pages")} == {
        "total": 4,
        "counts": {"unreviewed": 4, "disputed": 0, "confirmed": 0},
        "page": 1,
        "per_page": 50,
        "pages": 1,
    }
    assert [c["call_id"] for c in data["calls"]] == QUEUE_ORDER
    weak = data["calls"][0]
    assert weak == {
        "call_id": "alex-weak",
        "rep": "Alex",
        "call_date": "2026-11-24",
        "duration": 30.0,
        "rubric": "mini",
        "rubric_version": "1",
        "status": "unreviewed",
        "priority": weak["priority"],
        "suggested_grade": 50.0,
        "confirmed_grade": None,
        "grade": 50.0,
        "passed": False,
        "flags": ["below_pass_mark", "critical_missed", "forbidden_said"],
        "open_disputes": 0,
        "reviewed_by": None,
        "forbidden_said": ["No false urgency"],
    }
    assert weak["priority"] > data["calls"][2]["priority"]


@pytest.mark.parametrize(
    ("params", "expected", "pages"),
    [
        ({"rep": "SAM"}, ["sam-text", "sam-good"], 1),
        ({"since": "2026-11-25"}, ["alex-good", "sam-good"], 1),
        ({"until": "2026-11-23"}, ["sam-text"], 1),
        ({"rubric": "other"}, [], 1),
        ({"status": "confirmed"}, [], 1),
        ({"status": "open"}, QUEUE_ORDER, 1),
        ({"per_page": 3}, QUEUE_ORDER[:3], 2),
        ({"per_page": 3, "page": 2}, QUEUE_ORDER[3:], 2),
        ({"per_page": 3, "page": 3}, [], 2),
    ],
)
def test_api_filters_and_pages(
    client: TestClient, tokens: dict[str, str], params: dict, expected: list[str], pages: int
) -> None:
    response = client.get("/api/calls", params=params, headers=bearer(tokens["ada"]))
    assert response.status_code == 200
    assert [c["call_id"] for c in response.json()["calls"]] == expected
    assert response.json()["pages"] == pages


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"since": "26-11-2026"}, ["query", "since"]),
        ({"since": "2026-02-30"}, ["query", "since"]),
        ({"status": "great"}, ["query", "status"]),
        ({"page": 0}, ["query", "page"]),
        ({"per_page": 501}, ["query", "per_page"]),
    ],
)
def test_api_invalid_filters_are_422(
    client: TestClient, tokens: dict[str, str], params: dict, loc: list[str]
) -> None:
    response = client.get("/api/calls", params=params, headers=bearer(tokens["maria"]))
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [loc]


def test_api_a_rep_lists_only_their_calls(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/api/calls", headers=bearer(tokens["sam"]))
    assert [c["call_id"] for c in response.json()["calls"]] == ["sam-text", "sam-good"]
    assert response.json()["counts"] == {"unreviewed": 2, "disputed": 0, "confirmed": 0}
    other = client.get("/api/calls", params={"rep": "Alex"}, headers=bearer(tokens["sam"]))
    assert other.json()["calls"] == []
    assert other.json()["total"] == 0


def test_api_call_detail(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    response = client.get("/api/calls/alex-good", headers=bearer(tokens["maria"]))
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {
        "call",
        "review",
        "suggested",
        "confirmed",
        "disputes",
        "audit",
        "has_audio",
        "transcript",
    }
    assert data["suggested"]["grade"] == 100.0
    assert data["confirmed"] is None
    assert data["audit"] == [] and data["disputes"] == []
    assert data["review"]["version"] == 1
    assert data["review"]["status"] == "unreviewed"
    assert data["has_audio"] is True
    assert data["call"]["call_id"] == "alex-good"
    assert len(data["transcript"]["turns"]) == len(GOOD_CALL)
    for private in ("audio_path", "source_path", "transcript_path", "content_hash"):
        assert private not in data["call"]
    assert "alex-good.wav" not in response.text
    assert str(seeded.db.parent) not in response.text
    assert not any(key.endswith("_id") for key in data["review"])


def test_api_call_detail_shows_no_file_path_of_a_batch_stored_call(
    client: TestClient, tokens: dict[str, str], db: Path, mini_rubric: Rubric, tmp_path: Path
) -> None:
    """`analyzer batch` stores the transcript with `audio` (the recording's path) and
    `source.path` (the transcript file's): neither may reach an API client."""
    recording = tmp_path / "incoming" / "2026-11-26" / "call-7.wav"
    source = recording.with_suffix(".json")
    transcript = make_call(SAM_CALL, call_id="call-7", rep="Sam", started_at="2026-11-26T09:00:00")
    transcript.audio = str(recording)
    transcript.source = {"format": "json", "path": str(source)}
    with Store.open(db) as store:
        store.save_call(
            CallRecord(
                call_id="call-7",
                content_hash="hash-7",
                source_path=str(source),
                audio_path=str(recording),
                transcript_path=str(source),
                rep="Sam",
            ),
            transcript,
            grade_call(transcript, mini_rubric),
        )
    response = client.get("/api/calls/call-7", headers=bearer(tokens["maria"]))
    assert response.status_code == 200
    assert response.json()["has_audio"] is True
    assert str(tmp_path) not in response.text
    assert "call-7.wav" not in response.text


def test_api_call_refusals(client: TestClient, tokens: dict[str, str]) -> None:
    other = client.get("/api/calls/sam-good", headers=bearer(tokens["alex"]))
    assert other.status_code == 403
    assert other.json() == {"detail": "call sam-good belongs to another rep"}
    unknown = client.get("/api/calls/no-such-call", headers=bearer(tokens["maria"]))
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no call 'no-such-call'"}
    assert client.get("/api/calls/alex-weak", headers=bearer(tokens["alex"])).status_code == 200


def test_api_review(client: TestClient, tokens: dict[str, str], db: Path) -> None:
    suggested_before = query(db, "SELECT * FROM grades WHERE kind = 'suggested' ORDER BY id")
    response = client.post(
        "/api/calls/alex-good/review",
        headers=bearer(tokens["maria"]),
        json={
            "version": 1,
            "items": [{"item_id": "next_step", "status": "missed", "comment": "no time given"}],
            "comment": "checked",
        },
    )
    assert response.status_code == 200
    data = response.json()
    assert data["call_id"] == "alex-good"
    assert data["version"] == 2
    confirmed = data["confirmed"]
    assert (confirmed["grade"], confirmed["passed"], confirmed["flags"]) == (
        85.0,
        False,
        ["critical_missed"],
    )
    assert confirmed["kind"] == "confirmed"
    assert confirmed["review"]["by"] == "maria"
    assert confirmed["review"]["suggested_grade"] == 100.0

    detail = client.get("/api/calls/alex-good", headers=bearer(tokens["ada"])).json()
    assert detail["review"]["version"] == 2
    assert detail["review"]["status"] == "confirmed"
    assert detail["suggested"]["grade"] == 100.0
    assert detail["confirmed"]["grade"] == 85.0
    assert [
        (a["user_name"], a["action"], a["item_id"], a["old_value"], a["new_value"])
        for a in detail["audit"]
    ] == [
        ("maria", "override", "next_step", "met", "missed"),
        ("maria", "confirm", None, "100.0", "85.0"),
    ]
    assert (
        query(db, "SELECT * FROM grades WHERE kind = 'suggested' ORDER BY id") == suggested_before
    )

    # a second review, from the new version, builds on the first
    again = client.post(
        "/api/calls/alex-good/review",
        headers=bearer(tokens["ada"]),
        json={"version": 2, "items": [{"item_id": "next_step", "status": "met"}]},
    )
    assert again.status_code == 200
    assert (again.json()["version"], again.json()["confirmed"]["grade"]) == (3, 100.0)


def test_api_stale_review_is_a_409(client: TestClient, tokens: dict[str, str], db: Path) -> None:
    first = client.post(
        "/api/calls/alex-good/review", headers=bearer(tokens["maria"]), json={"version": 1}
    )
    assert first.status_code == 200
    before = snapshot(db)
    response = client.post(
        "/api/calls/alex-good/review",
        headers=bearer(tokens["ada"]),
        json={"version": 1, "items": [{"item_id": "intro", "status": "missed"}]},
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith("call alex-good was changed by maria at ")
    assert detail.endswith(
        "after you opened it (version 1, now 2): reload the page and review it again; "
        "nothing was saved"
    )
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            {"version": 1, "items": [{"item_id": "intro", "status": "great"}]},
            ["body", "items", 0, "status"],
        ),
        ({"items": []}, ["body", "version"]),
        ({"version": -1}, ["body", "version"]),
        ({"version": "one"}, ["body", "version"]),
        ({"version": 1, "grade": 100}, ["body", "grade"]),
        (
            {"version": 1, "items": [{"item_id": "intro", "status": "met", "points": 10}]},
            ["body", "items", 0, "points"],
        ),
        ({"version": 1, "items": [{"status": "met"}]}, ["body", "items", 0, "item_id"]),
        ({"version": 1, "comment": "x" * 2001}, ["body", "comment"]),
        (
            {"version": 1, "items": [{"item_id": "bogus", "status": "met"}]},
            ["body", "items", 0, "item_id"],
        ),
        (
            {
                "version": 1,
                "items": [
                    {"item_id": "intro", "status": "met"},
                    {"item_id": "intro", "status": "missed"},
                ],
            },
            ["body", "items", 1, "item_id"],
        ),
    ],
)
def test_api_invalid_review_is_a_422_naming_the_field(
    client: TestClient, tokens: dict[str, str], db: Path, body: dict, loc: list
) -> None:
    before = snapshot(db)
    response = client.post(
        "/api/calls/alex-good/review", headers=bearer(tokens["maria"]), json=body
    )
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [loc]
    assert all(e["msg"] for e in errors)
    assert snapshot(db) == before


def test_api_unknown_item_says_which(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/api/calls/alex-good/review",
        headers=bearer(tokens["maria"]),
        json={"version": 1, "items": [{"item_id": "bogus", "status": "met"}]},
    )
    assert response.json() == {
        "detail": [
            {
                "loc": ["body", "items", 0, "item_id"],
                "msg": "no item 'bogus' in this call's rubric",
                "type": "value_error",
            }
        ]
    }


def test_api_a_rep_cannot_review(client: TestClient, tokens: dict[str, str], db: Path) -> None:
    before = snapshot(db)
    response = client.post(
        "/api/calls/alex-good/review", headers=bearer(tokens["alex"]), json={"version": 1}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "only managers and admins may confirm grades"}
    unknown = client.post(
        "/api/calls/no-such-call/review", headers=bearer(tokens["maria"]), json={"version": 1}
    )
    assert unknown.status_code == 404
    assert snapshot(db) == before


def test_api_dispute(client: TestClient, tokens: dict[str, str], db: Path) -> None:
    response = client.post(
        "/api/calls/alex-weak/disputes",
        headers=bearer(tokens["alex"]),
        json={"version": 1, "item_id": "next_step", "comment": "I asked for Friday."},
    )
    assert response.status_code == 201
    data = response.json()
    assert data["call_id"] == "alex-weak"
    assert data["version"] == 2
    assert query(db, "SELECT id, item_id, raised_by, status FROM disputes") == [
        (data["dispute_id"], "next_step", "alex", "open")
    ]
    detail = client.get("/api/calls/alex-weak", headers=bearer(tokens["maria"])).json()
    assert detail["review"]["status"] == "disputed"
    assert detail["review"]["open_disputes"] == 1
    assert [d["comment"] for d in detail["disputes"]] == ["I asked for Friday."]
    listed = client.get(
        "/api/calls", params={"status": "disputed"}, headers=bearer(tokens["maria"])
    ).json()
    assert [c["call_id"] for c in listed["calls"]] == ["alex-weak"]

    before = snapshot(db)
    twice = client.post(
        "/api/calls/alex-weak/disputes",
        headers=bearer(tokens["alex"]),
        json={"version": 2, "item_id": "next_step", "comment": "Again."},
    )
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["loc"] == ["body", "item_id"]
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("who", "call_id", "body", "status"),
    [
        ("maria", "alex-weak", {"version": 1, "item_id": "intro", "comment": "x"}, 403),
        ("alex", "sam-good", {"version": 1, "item_id": "intro", "comment": "x"}, 403),
        ("alex", "alex-weak", {"version": 0, "item_id": "intro", "comment": "x"}, 409),
        ("alex", "alex-weak", {"version": 1, "item_id": "intro", "comment": " "}, 422),
        ("alex", "alex-weak", {"version": 1, "item_id": "intro"}, 422),
        ("alex", "no-such-call", {"version": 1, "item_id": "intro", "comment": "x"}, 404),
    ],
)
def test_api_refused_disputes_store_nothing(
    client: TestClient,
    tokens: dict[str, str],
    db: Path,
    who: str,
    call_id: str,
    body: dict,
    status: int,
) -> None:
    before = snapshot(db)
    response = client.post(f"/api/calls/{call_id}/disputes", headers=bearer(tokens[who]), json=body)
    assert response.status_code == status
    assert snapshot(db) == before


def test_a_browser_session_on_the_api(client: TestClient, db: Path) -> None:
    csrf = signed_in(client, "maria")
    listed = client.get("/api/calls")
    assert listed.status_code == 200
    assert listed.json()["total"] == 4
    assert client.get("/api/me").json()["name"] == "maria"

    before = snapshot(db)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = client.post("/api/calls/alex-good/review", json={"version": 1}, headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {"detail": CSRF_MESSAGE}
        assert snapshot(db) == before

    done = client.post(
        "/api/calls/alex-good/review", json={"version": 1}, headers={"X-CSRF-Token": csrf}
    )
    assert done.status_code == 200
    assert done.json()["version"] == 2


def test_the_openapi_spec_lists_the_api_only(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert set(spec["paths"]) == {
        "/api/me",
        "/api/calls",
        "/api/calls/{call_id}",
        "/api/calls/{call_id}/review",
        "/api/calls/{call_id}/disputes",
    }
    assert spec["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `analyzer users token NAME`.",
        }
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            assert "401" in operation["responses"], (method, path)
    review = spec["paths"]["/api/calls/{call_id}/review"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(review)
    assert "201" in spec["paths"]["/api/calls/{call_id}/disputes"]["post"]["responses"]
    assert client.get("/docs").status_code == 404  # no page loading scripts from a CDN
