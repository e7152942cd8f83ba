"""The sentence a manager chose as an item's evidence, on the call page's form and in the API."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_web import (
    Page,
    audit_rows,
    bearer,
    by_id,
    item_section,
    post_form,
    query,
    replace,
    review_form,
    signed_in,
    snapshot,
    text,
)

from analyzer.grading.rubric import Rubric
from analyzer.review.users import make_token
from analyzer.store import Store
from analyzer.web import create_app

from helpers import GOOD_CALL
from reviewing import Seeded, seed_review_db

# The mini rubric's items in form order; no_pressure is forbidden: no sentence earns it.
ITEMS = [
    "screen_ask",
    "intro",
    "permission",
    "questions",
    "pain",
    "acknowledge",
    "next_step",
    "no_pressure",
]
PAIN_TURN = 11  # alex-good: "Twelve reps. Honestly we're happy with our current provider though."


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric) -> Path:
    folder = tmp_path_factory.mktemp("evidence-template")
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
def client(db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as test_client:
        yield test_client


@pytest.fixture
def tokens(db: Path) -> dict[str, str]:
    with Store.open(db) as store:
        return {name: make_token(store, name) for name in ("maria", "alex")}


def confirmed_item(db: Path, call_id: str, item_id: str) -> dict:
    (grade_json,) = query(
        db, "SELECT grade_json FROM grades WHERE call_id = ? AND kind = 'confirmed'", call_id
    )[0]
    grade = json.loads(grade_json)
    return next(i for p in grade["phases"] for i in p["items"] if i["id"] == item_id)


# -- the call page -------------------------------------------------------------------------------


def test_a_manager_gets_a_turn_field_for_every_item_a_sentence_can_earn(
    client: TestClient,
) -> None:
    signed_in(client, "maria")
    page = client.get("/calls/alex-good").text
    fields = Page(page).find("input", class_="evidence-turn")
    assert [f["name"] for f in fields] == [f"evidence__{i}" for i in ITEMS[:-1]]
    for field in fields:
        assert (field["type"], field["min"], field["max"], field.get("value", "")) == (
            "number",
            "0",
            str(len(GOOD_CALL) - 1),
            "",
        )
        assert field["placeholder"] == ""  # nothing chosen yet
    form = dict(Page(page).form("/calls/alex-good/review"))
    assert form["csrf_token"] and form["evidence__pain"] == ""
    numbers = [s for s in text(page).split() if s.startswith("#") and s[1:].isdigit()]
    assert numbers == [f"#{n}" for n in range(len(GOOD_CALL))]  # beside each turn


def test_a_rep_sees_neither_turn_numbers_nor_turn_fields(client: TestClient) -> None:
    signed_in(client, "alex")
    page = client.get("/calls/alex-good").text
    assert Page(page).find("input", class_="evidence-turn") == []
    assert Page(page).find("span", class_="turn-no") == []


def test_a_manager_posts_the_sentence_and_the_page_shows_it_chosen(
    client: TestClient, db: Path
) -> None:
    signed_in(client, "maria")
    page = client.get("/calls/alex-good").text
    fields = replace(review_form(page, "alex-good"), evidence__pain=str(PAIN_TURN))
    response = post_form(client, "/calls/alex-good/review", fields)
    assert response.status_code == 303, by_id(response.text, "review-error")
    pain = confirmed_item(db, "alex-good", "pain")
    assert pain["evidence_by"] == "maria"
    assert [(e["turn"], e["start"], e["method"]) for e in pain["evidence"]] == [
        (PAIN_TURN, 55.0, "manager")
    ]

    call = client.get("/calls/alex-good").text
    chosen = Page(call).find("button", class_="chosen")
    assert [(b["data-turn"], b["data-start"]) for b in chosen] == [(str(PAIN_TURN), "55.0")]
    said = GOOD_CALL[PAIN_TURN][1]
    assert f"00:55 “{said}” chosen by maria" in item_section(call, "pain")
    assert "chosen by" not in item_section(call, "intro")
    history = audit_rows(call)
    assert [row[1:6] for row in history] == [
        ["maria", "evidence", "pain", "", str(PAIN_TURN)],
        ["maria", "confirm", "", "100.0", "100.0"],
    ]
    turn_field = Page(call).find("input", name="evidence__pain")[0]
    assert (turn_field.get("value", ""), turn_field["placeholder"]) == ("", str(PAIN_TURN))

    # The form sends every turn field, empty: the chosen sentence stays.
    again = post_form(client, "/calls/alex-good/review", review_form(call, "alex-good"))
    assert again.status_code == 303
    assert confirmed_item(db, "alex-good", "pain")["evidence"] == pain["evidence"]
    # Set to missed (the script empties the field; here it is empty): the choice is dropped.
    call = client.get("/calls/alex-good").text
    missed = post_form(
        client, "/calls/alex-good/review", review_form(call, "alex-good", pain="missed")
    )
    assert missed.status_code == 303
    assert "evidence_by" not in confirmed_item(db, "alex-good", "pain")
    assert "chosen by" not in text(client.get("/calls/alex-good").text)


@pytest.mark.parametrize(
    ("statuses", "turn", "problem"),
    [
        (
            {"pain": "missed"},
            "3",
            "only an item set to met or partial takes a sentence as "
            "evidence, not one set to missed",
        ),
        ({}, "abc", "must be the number of a turn of the transcript, not 'abc'"),
        ({}, "-1", "must be the number of a turn of the transcript, not '-1'"),
        ({}, "16", "no turn 16 in this call's transcript (turns 0 to 15)"),
    ],
)
def test_a_wrong_turn_on_the_form_is_a_422_naming_the_item(
    client: TestClient, db: Path, statuses: dict[str, str], turn: str, problem: str
) -> None:
    signed_in(client, "maria")
    page = client.get("/calls/alex-good").text
    before = snapshot(db)
    fields = replace(review_form(page, "alex-good", **statuses), evidence__pain=turn)
    response = post_form(client, "/calls/alex-good/review", fields)
    assert response.status_code == 422
    index = ITEMS.index("pain")
    assert by_id(response.text, "review-error") == f"items[{index}].evidence_turn: {problem}"
    assert snapshot(db) == before


def test_a_rep_posting_a_turn_is_refused_as_a_rep(client: TestClient, db: Path) -> None:
    csrf = signed_in(client, "alex")
    before = snapshot(db)
    fields = [
        ("csrf_token", csrf),
        ("version", "1"),
        ("status__pain", "met"),
        ("evidence__pain", "x"),
    ]
    response = post_form(client, "/calls/alex-good/review", fields)
    assert response.status_code == 403
    assert snapshot(db) == before


# -- the JSON API --------------------------------------------------------------------------------


def test_api_review_with_a_sentence(client: TestClient, tokens: dict[str, str], db: Path) -> None:
    response = client.post(
        "/api/calls/alex-good/review",
        headers=bearer(tokens["maria"]),
        json={
            "version": 1,
            "items": [
                {"item_id": "pain", "status": "met", "evidence_turn": PAIN_TURN},
                {"item_id": "intro", "status": "met", "evidence_turn": None},
            ],
        },
    )
    assert response.status_code == 200, response.text
    items = {i["id"]: i for p in response.json()["confirmed"]["phases"] for i in p["items"]}
    assert items["pain"]["evidence"] == [
        {
            "turn": PAIN_TURN,
            "start": 55.0,
            "end": 60.0,
            "speaker": "Dana",
            "text": GOOD_CALL[PAIN_TURN][1],
            "phrase": "",
            "score": None,
            "method": "manager",
            "in_phase": True,
        }
    ]
    assert items["pain"]["evidence_by"] == "maria"
    assert "evidence_by" not in items["intro"]  # null: the evidence it had
    detail = client.get("/api/calls/alex-good", headers=bearer(tokens["alex"])).json()
    assert [(a["action"], a["item_id"], a["new_value"]) for a in detail["audit"]] == [
        ("evidence", "pain", str(PAIN_TURN)),
        ("confirm", None, "100.0"),
    ]
    confirmed = {i["id"]: i for p in detail["confirmed"]["phases"] for i in p["items"]}
    assert confirmed["pain"]["evidence"] == items["pain"]["evidence"]


@pytest.mark.parametrize(
    ("item", "msg"),
    [
        (
            {"item_id": "pain", "status": "met", "evidence_turn": 99},
            "no turn 99 in this call's transcript (turns 0 to 15)",
        ),
        (
            {"item_id": "pain", "status": "na", "evidence_turn": 3},
            "only an item set to met or partial takes a sentence as evidence, not one set to na",
        ),
        (
            {"item_id": "no_pressure", "status": "met", "evidence_turn": 3},
            "a forbidden item is met by never saying its line: no sentence earns it",
        ),
        ({"item_id": "pain", "status": "met", "evidence_turn": -1}, None),
        ({"item_id": "pain", "status": "met", "evidence_turn": "three"}, None),
        ({"item_id": "pain", "status": "met", "evidence_turn": 1.5}, None),
    ],
)
def test_api_a_wrong_turn_is_a_422_naming_the_field(
    client: TestClient, tokens: dict[str, str], db: Path, item: dict, msg: str | None
) -> None:
    before = snapshot(db)
    response = client.post(
        "/api/calls/alex-good/review",
        headers=bearer(tokens["maria"]),
        json={"version": 1, "items": [item]},
    )
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", "items", 0, "evidence_turn"]]
    if msg is not None:  # refused by the rules (the others by the schema)
        assert errors == [{"loc": errors[0]["loc"], "msg": msg, "type": "value_error"}]
    assert snapshot(db) == before


def test_the_spec_documents_the_turn(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    field = spec["components"]["schemas"]["ItemReview"]["properties"]["evidence_turn"]
    assert {"type": "integer", "minimum": 0} in field["anyOf"]
    assert "met or partial" in field["description"]
