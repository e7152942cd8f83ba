"""The JSON API against its own OpenAPI spec, in process (schemathesis over ASGI, no server).

Schemathesis reads /openapi.json from the app, generates requests for every operation, valid
and invalid, and checks each answer: no server error, a status code the spec lists, a body
matching that status's schema, invalid input refused. Once with a manager's token, once with a
rep's (who may read only their own calls and may not review).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs  # schemathesis's own JSON Schema validator
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from analyzer.grading.rubric import Rubric
from analyzer.review.users import make_token
from analyzer.store import Store
from analyzer.web import create_app

from reviewing import seed_review_db

EXAMPLES = 25  # per operation, user and mode: 20 runs, well under a minute in all
OPERATIONS = [
    ("GET", "/api/me"),
    ("GET", "/api/calls"),
    ("GET", "/api/calls/{call_id}"),
    ("POST", "/api/calls/{call_id}/review"),
    ("POST", "/api/calls/{call_id}/disputes"),
]
USERS = {"manager": "maria", "rep": "alex"}


@dataclass
class Api:
    app: Any
    db: Path
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric) -> Path:
    """The seeded database, made once; each test works on a copy."""
    folder = tmp_path_factory.mktemp("api-template")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("analyzer.review.users.SCRYPT_N", 2**8)  # as conftest's cheap_password_hashes
        seed_review_db(folder / "review.db", mini_rubric)
    return folder


@pytest.fixture
def api(template: Path, tmp_path: Path) -> Iterator[Api]:
    for path in template.iterdir():
        shutil.copy2(path, tmp_path / path.name)
    db = tmp_path / "review.db"
    with Store.open(db) as store:
        tokens = {name: make_token(store, name) for name in USERS.values()}
        yield Api(create_app(db, store=store), db, tokens)


@pytest.fixture
def api_schema(api: Api) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", api.app)


def test_the_spec_has_every_operation(api_schema: Any) -> None:
    operations = [
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    ]
    assert sorted(operations) == sorted(OPERATIONS)  # the property runs below cover them all


# Each operation is driven with hypothesis directly (`APIOperation.as_strategy`): the pytest
# plugin's lazy `schemathesis.pytest.from_fixture` fails under pytest 9 (it sets
# `Function._nodeid`, which pytest 9 no longer has), and each test wants a fresh database.
@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("role", list(USERS))
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_keeps_its_spec(
    api: Api, api_schema: Any, method: str, path: str, role: str, mode: str
) -> None:
    """No 5xx; only documented status codes; bodies as documented; valid input accepted,
    invalid input refused."""
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {api.tokens[USERS[role]]}"}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same requests every run: a failure here is no fluke
    )
    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers)

    check()


# -- what the property runs found, pinned down ---------------------------------------------------


@pytest.fixture
def client(api: Api) -> Iterator[TestClient]:
    with TestClient(api.app) as test_client:
        yield test_client


def _parameter(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    operation = spec["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)


@pytest.mark.parametrize("name", ["since", "until"])
def test_the_spec_refuses_the_dates_the_api_refuses(
    client: TestClient, api: Api, name: str
) -> None:
    """The API answers since=2026-02-30 with 422; the spec must not call it valid (it only
    gives the pattern \\d{4}-\\d{2}-\\d{2}, so clients and schemathesis send such dates)."""
    response = client.get("/api/calls", params={name: "2026-02-30"}, headers=_auth(api, "maria"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", name]
    spec = client.get("/openapi.json").json()
    schema = _parameter(spec, "/api/calls", name)["schema"]
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    assert validator.is_valid("2026-11-25")
    assert not validator.is_valid("2026-02-30")


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/api/calls/alex-good/review", "/api/calls/{call_id}/review"),
        ("/api/calls/alex-weak/disputes", "/api/calls/{call_id}/disputes"),
    ],
)
def test_a_body_that_is_not_utf8_gets_a_documented_answer(
    client: TestClient, api: Api, path: str, operation: str
) -> None:
    """FastAPI answers a JSON body it cannot decode with 400, which the spec does not list."""
    before = _counts(api.db)
    response = client.post(
        path,
        content=b"\xff\xfe{",
        headers={**_auth(api, "maria"), "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
    documented = client.get("/openapi.json").json()["paths"][operation]["post"]["responses"]
    assert str(response.status_code) in documented
    assert response.json() == {"detail": "There was an error parsing the body"} or (
        response.status_code == 422 and response.json()["detail"][0]["loc"][0] == "body"
    )
    assert _counts(api.db) == before


def test_an_unknown_filter_is_refused_not_ignored(client: TestClient, api: Api) -> None:
    """A misspelt filter must not silently list every call."""
    response = client.get("/api/calls", params={"stauts": "confirmed"}, headers=_auth(api, "maria"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "stauts"]


def _auth(api: Api, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[name]}"}


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("grades", "audit_log", "disputes")
        }
    finally:
        conn.close()
