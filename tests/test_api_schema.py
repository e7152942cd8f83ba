"""The JSON API against its own OpenAPI spec, in process (schemathesis over ASGI, no server).

Schemathesis reads /openapi.json from the app, generates requests for every operation, valid
and invalid, and checks each answer: no server error, a status code the spec lists, a body
matching that status's schema, invalid input refused. Once with a manager's token, once with a
rep's (who may read only their own calls and may not review).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from analyzer.rubric import Rubric
from analyzer.store import Store
from analyzer.users import make_token
from analyzer.web import create_app

from reviewing import seed_review_db

EXAMPLES = 25  # per operation, user and mode: 20 runs, well under a minute in all


@dataclass
class Api:
    app: Any
    db: Path
    tokens: dict[str, str]


@pytest.fixture
def api(tmp_path: Path, mini_rubric: Rubric) -> Iterator[Api]:
    db = seed_review_db(tmp_path / "review.db", mini_rubric).db
    with Store.open(db) as store:
        tokens = {name: make_token(store, name) for name in USERS.values()}
        yield Api(create_app(db, store=store), db, tokens)


@pytest.fixture
def api_schema(api: Api) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", api.app)


OPERATIONS = [
    ("GET", "/api/me"),
    ("GET", "/api/calls"),
    ("GET", "/api/calls/{call_id}"),
    ("POST", "/api/calls/{call_id}/review"),
    ("POST", "/api/calls/{call_id}/disputes"),
]
USERS = {"manager": "maria", "rep": "alex"}


def test_the_spec_has_every_operation(api_schema: Any) -> None:
    operations = (
        [(op.method.upper(), op.path) for op in api_schema.get_all_operations_ok()]
        if (hasattr(api_schema, "get_all_operations_ok"))
        else [
            (result.ok().method.upper(), result.ok().path)
            for result in api_schema.get_all_operations()
        ]
    )
    assert sorted(operations) == sorted(OPERATIONS)


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
    )
    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers)

    check()
