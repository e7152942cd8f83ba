"""Confirming and overriding grades, disputes, the call view, recordings, and migration 2."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from analyzer.errors import ConflictError, ForbiddenError, NotFoundError, ReviewError
from analyzer.grading.grade import grade_call
from analyzer.grading.rubric import Rubric
from analyzer.review.decisions import ItemDecision, confirm_call, dispute_item
from analyzer.review.rules import recompute_grade
from analyzer.review.users import User, add_user, get_user
from analyzer.review.views import ConfirmedCall, audio_file, call_view, confirmed_examples
from analyzer.store import CallRecord, Store, latest_version
from analyzer.store import store as store_module
from analyzer.transcripts.readers import read_transcript

from helpers import GOOD_CALL, TEXT_CALL, make_call
from reviewing import PASSWORD, SAM_CALL, WEAK_CALL, Seeded, seed_review_db


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric) -> Seeded:
    """The seeded database, made once; each test works on its own copy."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("analyzer.review.users.SCRYPT_N", 2**8)
        return seed_review_db(tmp_path_factory.mktemp("template") / "review.db", mini_rubric)


@pytest.fixture
def seeded(template: Seeded, tmp_path: Path) -> Seeded:
    db = shutil.copy(template.db, tmp_path / template.db.name)
    audio = shutil.copy(template.audio, tmp_path / template.audio.name)
    return Seeded(db=Path(db), audio=Path(audio))


@pytest.fixture
def store(seeded: Seeded):
    with Store.open(seeded.db) as opened:
        yield opened


@pytest.fixture(scope="module")
def good_grade(mini_rubric: Rubric) -> dict[str, Any]:
    """alex-good's suggested grade: every item met, 100."""
    return grade_call(make_call(GOOD_CALL, rep="Alex"), mini_rubric).to_dict()


@pytest.fixture(scope="module")
def weak_grade(mini_rubric: Rubric) -> dict[str, Any]:
    """alex-weak's: screen and pushback na, questions partial (10 of 30), next_step (critical)
    and no_pressure missed (its forbidden line said): 50, below the pass mark, critical missed,
    forbidden said."""
    return grade_call(make_call(WEAK_CALL, rep="Alex"), mini_rubric).to_dict()


def user(store: Store, name: str) -> User:
    return get_user(store, name)


def rows(store: Store, sql: str, params: tuple = ()) -> list[tuple]:
    with store.reading("test query") as conn:
        return conn.execute(sql, params).fetchall()


def count(store: Store, table: str) -> int:
    return rows(store, f"SELECT count(*) FROM {table}")[0][0]


def review_row(store: Store, call_id: str) -> dict[str, Any]:
    with store.reading("test query") as conn:
        cursor = conn.execute("SELECT * FROM reviews WHERE call_id = ?", (call_id,))
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row, strict=True))


def audit(store: Store, call_id: str) -> list[tuple]:
    return rows(
        store,
        "SELECT user_name, action, item_id, old_value, new_value, comment FROM audit_log "
        "WHERE call_id = ? ORDER BY id",
        (call_id,),
    )


def grade_rows(store: Store, call_id: str) -> dict[str, tuple]:
    """kind -> (id, grade, passed, grade_json)."""
    found = rows(
        store,
        "SELECT kind, id, grade, passed, grade_json FROM grades WHERE call_id = ?",
        (call_id,),
    )
    return {kind: rest for kind, *rest in found}


def table_counts(store: Store) -> dict[str, int]:
    tables = ("grades", "item_results", "audit_log", "disputes")
    return {t: count(store, t) for t in tables} | {
        "versions": sum(v for (v,) in rows(store, "SELECT version FROM reviews"))
    }


def items(grade: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for p in grade["phases"] for i in p["items"]}


def phases(grade: dict[str, Any]) -> dict[str, tuple[str, float]]:
    return {p["id"]: (p["status"], p["earned"]) for p in grade["phases"]}


# -- the rules -----------------------------------------------------------------------------------


def test_met_partial_and_missed_earn_all_half_and_none_of_the_points(good_grade) -> None:
    before = copy.deepcopy(good_grade)
    grade = recompute_grade(
        good_grade, {"questions": ("partial", ""), "intro": ("missed", "no company name")}
    )
    assert good_grade == before  # the suggested grade is not touched
    assert items(grade)["questions"]["earned"] == 15.0
    assert items(grade)["intro"]["earned"] == 0.0
    assert items(grade)["permission"]["earned"] == 10.0
    # discover: 40 x (15 + 10) / 40; open: 20 x 10 / 20.
    assert phases(grade) == {
        "screen": ("scored", 10.0),
        "open": ("scored", 10.0),
        "discover": ("scored", 25.0),
        "pushback": ("scored", 10.0),
        "close": ("scored", 20.0),
    }
    assert (grade["grade"], grade["passed"], grade["flags"]) == (75.0, True, [])
    intro = items(grade)["intro"]
    assert (intro["status"], intro["suggested_status"], intro["overridden"], intro["comment"]) == (
        "missed",
        "met",
        True,
        "no company name",
    )
    pain = items(grade)["pain"]
    assert (pain["status"], pain["suggested_status"], pain["overridden"]) == ("met", "met", False)


def test_missed_to_partial_earns_half_but_an_unchanged_partial_keeps_the_engines_points(
    weak_grade,
) -> None:
    assert items(weak_grade)["questions"]["earned"] == 10.0  # 1 of 3 questions asked
    same = recompute_grade(weak_grade, {})
    assert items(same)["questions"]["earned"] == 10.0
    assert (same["grade"], same["passed"]) == (weak_grade["grade"], False) == (50.0, False)
    assert same["flags"] == ["below_pass_mark", "critical_missed", "forbidden_said"]
    changed = recompute_grade(weak_grade, {"no_pressure": ("partial", "")})
    assert items(changed)["no_pressure"]["earned"] == 2.5
    assert phases(changed)["close"] == ("scored", 2.5)  # 20 x 2.5 / 20


def test_na_leaves_its_phase_and_an_all_na_phase_leaves_the_total(good_grade) -> None:
    grade = recompute_grade(
        good_grade,
        {"intro": ("na", ""), "acknowledge": ("na", ""), "no_pressure": ("missed", "")},
    )
    assert items(grade)["intro"]["earned"] == 0.0
    assert phases(grade) == {
        "screen": ("scored", 10.0),
        "open": ("scored", 20.0),  # permission alone, rescaled to the phase's 20
        "discover": ("scored", 40.0),
        "pushback": ("na", 0.0),  # its only item na: the phase is na
        "close": ("scored", 15.0),  # 20 x 15 / 20
    }
    # 85 earned over the 90 points of weight still scored.
    assert grade["grade"] == 94.4
    assert grade["passed"] is True


def test_an_na_phase_that_gets_a_status_is_scored_again(weak_grade) -> None:
    assert phases(weak_grade)["screen"] == ("na", 0.0)
    grade = recompute_grade(weak_grade, {"screen_ask": ("met", "")})
    assert phases(grade)["screen"] == ("scored", 10.0)
    # (10 + 20 + 20 + 0) over 10 + 20 + 40 + 20.
    assert grade["grade"] == 55.6


def test_a_missed_critical_item_fails_the_call_whatever_the_total(good_grade) -> None:
    grade = recompute_grade(good_grade, {"next_step": ("missed", "no day given")})
    assert grade["grade"] == 85.0  # above the pass mark of 70
    assert grade["passed"] is False
    assert grade["flags"] == ["critical_missed"]
    worse = recompute_grade(
        good_grade,
        {"next_step": ("missed", ""), "questions": ("missed", ""), "pain": ("missed", "")},
    )
    assert worse["grade"] == 45.0
    assert worse["flags"] == ["below_pass_mark", "critical_missed"]
    assert worse["passed"] is False


def test_a_forbidden_line_said_keeps_its_flag_until_a_manager_says_it_was_not(
    good_grade, weak_grade
) -> None:
    assert "forbidden_said" in weak_grade["flags"]
    kept = recompute_grade(weak_grade, {"next_step": ("met", ""), "questions": ("met", "")})
    assert (kept["grade"], kept["passed"], kept["flags"]) == (93.8, True, ["forbidden_said"])
    cleared = recompute_grade(weak_grade, {"no_pressure": ("met", "a real deadline")})
    assert cleared["flags"] == ["below_pass_mark", "critical_missed"]
    # A manager who hears the line the engine missed flags it; the flag alone fails nothing.
    heard = recompute_grade(good_grade, {"no_pressure": ("missed", "said it at 01:10")})
    assert (heard["grade"], heard["passed"], heard["flags"]) == (95.0, True, ["forbidden_said"])
    worst = recompute_grade(
        good_grade, {"no_pressure": ("missed", ""), "next_step": ("missed", "")}
    )
    assert worst["flags"] == ["critical_missed", "forbidden_said"]


def test_low_confidence_is_dropped_and_facts_about_the_call_are_kept(good_grade) -> None:
    suggested = copy.deepcopy(good_grade)
    suggested["flags"] = ["low_confidence", "roles_inferred", "too_short"]
    grade = recompute_grade(suggested, {})
    assert grade["flags"] == ["roles_inferred", "too_short"]
    assert suggested["flags"] == ["low_confidence", "roles_inferred", "too_short"]
    mended = recompute_grade(
        {**copy.deepcopy(good_grade), "flags": ["below_pass_mark", "critical_missed"]}, {}
    )
    assert mended["flags"] == []  # verdict flags are recomputed from the items
    assert mended["passed"] is True


# -- confirming ----------------------------------------------------------------------------------


def test_confirm_stores_a_confirmed_grade_and_leaves_the_suggested_one(store: Store) -> None:
    suggested_before = grade_rows(store, "alex-weak")["suggested"]
    maria = user(store, "maria")
    saved = confirm_call(
        store,
        "alex-weak",
        maria,
        [ItemDecision("next_step", "met", " booked by email "), ItemDecision("questions", "met")],
        version=1,
        comment="fair call",
    )
    # open 20 + discover 40 + close 20 x 15 / 20 = 75 over the 80 points of weight scored
    # (screen and pushback did not happen).
    assert saved.version == 2
    assert saved.confirmed is not None
    assert (saved.confirmed["grade"], saved.confirmed["passed"]) == (93.8, True)
    assert saved.confirmed["kind"] == "confirmed"
    # no_pressure stays missed: the manager agrees the forbidden line was said
    assert saved.confirmed["flags"] == ["forbidden_said"]
    review = saved.confirmed["review"]
    assert (review["by"], review["comment"], review["suggested_grade"]) == (
        "maria",
        "fair call",
        50.0,
    )
    stored = grade_rows(store, "alex-weak")
    assert stored["suggested"] == suggested_before  # byte for byte
    _, grade, passed, grade_json = stored["confirmed"]
    assert (grade, passed) == (93.8, 1)
    assert json.loads(grade_json) == saved.confirmed
    assert items(json.loads(grade_json))["next_step"]["comment"] == "booked by email"
    assert rows(
        store,
        "SELECT item_id, status, earned FROM item_results WHERE grade_id = ? "
        "AND item_id IN ('next_step', 'questions', 'no_pressure') ORDER BY item_id",
        (stored["confirmed"][0],),
    ) == [("next_step", "met", 15.0), ("no_pressure", "missed", 0.0), ("questions", "met", 30.0)]
    assert audit(store, "alex-weak") == [
        ("maria", "override", "questions", "partial", "met", None),
        ("maria", "override", "next_step", "missed", "met", "booked by email"),
        ("maria", "confirm", None, "50.0", "93.8", "fair call"),
    ]
    row = review_row(store, "alex-weak")
    assert (row["status"], row["version"], row["reviewed_by"]) == ("confirmed", 2, "maria")
    assert (row["confirmed_grade"], row["confirmed_passed"], row["suggested_grade"]) == (
        93.8,
        1,
        50.0,
    )
    assert row["queue_rank"] == 1


def test_a_second_confirm_updates_the_confirmed_grade(store: Store) -> None:
    suggested_before = grade_rows(store, "alex-weak")["suggested"]
    first = confirm_call(
        store,
        "alex-weak",
        user(store, "maria"),
        [ItemDecision("next_step", "met", "booked by email"), ItemDecision("questions", "met")],
        version=1,
    )
    confirmed_id = grade_rows(store, "alex-weak")["confirmed"][0]
    second = confirm_call(
        store,
        "alex-weak",
        user(store, "ada"),
        [ItemDecision("next_step", "partial", "no time agreed")],
        version=first.version,
        comment="second look",
    )
    # questions stays met (the last confirmed status); next_step partial: 7.5 of 15.
    assert second.version == 3
    assert second.confirmed is not None
    assert second.confirmed["grade"] == 84.4  # 67.5 over 80
    assert items(second.confirmed)["questions"]["status"] == "met"
    assert items(second.confirmed)["next_step"]["earned"] == 7.5
    stored = grade_rows(store, "alex-weak")
    assert stored["suggested"] == suggested_before
    assert stored["confirmed"][0] == confirmed_id  # updated in place, not a second row
    assert stored["confirmed"][1] == 84.4
    assert rows(store, "SELECT count(*) FROM grades WHERE call_id = 'alex-weak'") == [(2,)]
    assert audit(store, "alex-weak")[3:] == [
        ("ada", "override", "next_step", "met", "partial", "no time agreed"),
        ("ada", "confirm", None, "93.8", "84.4", "second look"),
    ]
    row = review_row(store, "alex-weak")
    assert (row["reviewed_by"], row["confirmed_grade"], row["version"]) == ("ada", 84.4, 3)


def test_a_comment_alone_is_logged(store: Store) -> None:
    confirm_call(
        store, "sam-good", user(store, "maria"), [ItemDecision("intro", "partial", "x")], 1
    )
    assert audit(store, "sam-good") == [
        ("maria", "comment", "intro", None, None, "x"),
        ("maria", "confirm", None, "93.8", "93.8", None),
    ]


def test_a_stale_version_is_a_conflict_and_nothing_is_written(store: Store) -> None:
    confirm_call(store, "alex-weak", user(store, "maria"), [], version=1)
    before = table_counts(store)
    confirmed_before = grade_rows(store, "alex-weak")
    with pytest.raises(ConflictError) as info:
        confirm_call(
            store,
            "alex-weak",
            user(store, "ada"),
            [ItemDecision("next_step", "met", "overwrite")],
            version=1,
            comment="late",
        )
    message = str(info.value)
    assert message.startswith("call alex-weak was changed by maria at ")
    assert message.endswith(
        "after you opened it (version 1, now 2): reload the page and review it again; "
        "nothing was saved"
    )
    assert table_counts(store) == before
    assert grade_rows(store, "alex-weak") == confirmed_before
    assert review_row(store, "alex-weak")["version"] == 2


def test_a_version_from_the_future_is_a_conflict_too(store: Store) -> None:
    before = table_counts(store)
    with pytest.raises(ConflictError, match=r"\(version 7, now 1\)"):
        confirm_call(store, "sam-good", user(store, "maria"), [], version=7)
    assert table_counts(store) == before
    assert "confirmed" not in grade_rows(store, "sam-good")


@pytest.mark.parametrize(
    ("decisions", "field", "problem"),
    [
        ([ItemDecision("nope", "met")], "items[0].item_id", "no item 'nope' in this call's rubric"),
        (
            [ItemDecision("intro", "great")],
            "items[0].status",
            "must be one of met, partial, missed, na, not 'great'",
        ),
        (
            [ItemDecision("intro", "met"), ItemDecision("pain", "")],
            "items[1].status",
            "must be one of met, partial, missed, na, not ''",
        ),
        (
            [ItemDecision("intro", "met"), ItemDecision("intro", "missed")],
            "items[1].item_id",
            "item 'intro' given twice",
        ),
        (
            [ItemDecision("intro", "met"), ItemDecision("pain", "met", "x" * 2001)],
            "items[1].comment",
            "longer than 2000 characters",
        ),
    ],
)
def test_an_invalid_review_names_the_field_and_writes_nothing(
    store: Store, decisions: list[ItemDecision], field: str, problem: str
) -> None:
    before = table_counts(store)
    with pytest.raises(ReviewError) as info:
        confirm_call(store, "sam-good", user(store, "maria"), decisions, version=1)
    assert (info.value.field, info.value.problem, info.value.location) == (field, problem, "body")
    assert str(info.value) == f"{field}: {problem}"
    assert table_counts(store) == before


def test_a_long_call_comment_is_refused(store: Store) -> None:
    before = table_counts(store)
    with pytest.raises(ReviewError) as info:
        confirm_call(store, "sam-good", user(store, "maria"), [], version=1, comment="x" * 2001)
    assert info.value.field == "comment"
    assert table_counts(store) == before


def test_a_rep_may_not_confirm_and_an_unknown_call_is_not_found(store: Store) -> None:
    before = table_counts(store)
    with pytest.raises(ForbiddenError) as info:
        confirm_call(store, "alex-weak", user(store, "alex"), [], version=1)
    assert str(info.value) == "only managers and admins may confirm grades"
    with pytest.raises(NotFoundError) as missing:
        confirm_call(store, "nope", user(store, "maria"), [], version=1)
    assert str(missing.value) == "no call 'nope'"
    assert table_counts(store) == before


# -- disputes ------------------------------------------------------------------------------------


def test_a_rep_disputes_an_item_of_their_own_call(store: Store) -> None:
    saved = dispute_item(
        store, "alex-weak", user(store, "alex"), "next_step", "  I booked it by email  ", 1
    )
    assert saved.version == 2
    assert saved.confirmed is None
    assert rows(
        store, "SELECT id, call_id, item_id, raised_by, comment, status, resolved_by FROM disputes"
    ) == [
        (saved.dispute_id, "alex-weak", "next_step", "alex", "I booked it by email", "open", None)
    ]
    row = review_row(store, "alex-weak")
    assert (row["status"], row["open_disputes"], row["priority"], row["queue_rank"]) == (
        "disputed",
        1,
        21,  # critical_missed 8 + forbidden_said 8 + below_pass_mark 4 + disputed 1
        0,
    )
    assert audit(store, "alex-weak") == [
        ("alex", "dispute", "next_step", None, None, "I booked it by email"),
    ]


def test_who_may_dispute_what(store: Store) -> None:
    before = table_counts(store)
    with pytest.raises(ForbiddenError) as other:
        dispute_item(store, "sam-good", user(store, "alex"), "intro", "mine?", 1)
    assert str(other.value) == "call sam-good belongs to another rep"
    for name in ("maria", "ada"):
        with pytest.raises(ForbiddenError) as manager:
            dispute_item(store, "alex-weak", user(store, name), "intro", "why?", 1)
        assert str(manager.value) == "only the rep on the call may dispute an item"
    with pytest.raises(ReviewError) as empty:
        dispute_item(store, "alex-weak", user(store, "alex"), "intro", "  \n ", 1)
    assert (empty.value.field, empty.value.problem) == ("comment", "say why the item is wrong")
    with pytest.raises(ReviewError) as unknown:
        dispute_item(store, "alex-weak", user(store, "alex"), "nope", "why?", 1)
    assert str(unknown.value) == "item_id: no item 'nope' in this call's rubric"
    with pytest.raises(NotFoundError):
        dispute_item(store, "nope", user(store, "alex"), "intro", "why?", 1)
    with pytest.raises(ConflictError):
        dispute_item(store, "alex-weak", user(store, "alex"), "intro", "why?", 2)
    assert table_counts(store) == before


def test_a_second_open_dispute_on_the_same_item_is_refused(store: Store) -> None:
    alex = user(store, "alex")
    first = dispute_item(store, "alex-weak", alex, "next_step", "booked by email", 1)
    before = table_counts(store)
    with pytest.raises(ReviewError) as info:
        dispute_item(store, "alex-weak", alex, "next_step", "really, I did", first.version)
    assert str(info.value) == "item_id: item 'next_step' already has an open dispute"
    assert table_counts(store) == before
    other = dispute_item(store, "alex-weak", alex, "no_pressure", "it was true", first.version)
    assert other.dispute_id != first.dispute_id
    assert review_row(store, "alex-weak")["open_disputes"] == 2


def test_a_managers_confirm_resolves_open_disputes(store: Store) -> None:
    disputed = dispute_item(store, "alex-weak", user(store, "alex"), "next_step", "booked", 1)
    saved = confirm_call(
        store,
        "alex-weak",
        user(store, "maria"),
        [ItemDecision("next_step", "met", "email counts")],
        version=disputed.version,
    )
    assert saved.version == 3
    assert rows(
        store,
        "SELECT status, resolved_by, resolution FROM disputes WHERE id = ?",
        (disputed.dispute_id,),
    ) == [("resolved", "maria", "met: email counts")]
    assert audit(store, "alex-weak") == [
        ("alex", "dispute", "next_step", None, None, "booked"),
        ("maria", "override", "next_step", "missed", "met", "email counts"),
        ("maria", "confirm", None, "50.0", "68.8", None),
        ("maria", "resolve", "next_step", None, "met", "email counts"),
    ]
    row = review_row(store, "alex-weak")
    assert (row["status"], row["open_disputes"], row["priority"]) == ("confirmed", 0, 20)
    # The rep may dispute the confirmed grade in turn.
    again = dispute_item(store, "alex-weak", user(store, "alex"), "no_pressure", "no", 3)
    assert again.version == 4
    assert review_row(store, "alex-weak")["status"] == "disputed"


def test_a_resolution_without_a_change_says_the_status(store: Store) -> None:
    disputed = dispute_item(store, "alex-weak", user(store, "alex"), "no_pressure", "no", 1)
    confirm_call(store, "alex-weak", user(store, "ada"), [], version=disputed.version)
    assert rows(store, "SELECT status, resolved_by, resolution FROM disputes") == [
        ("resolved", "ada", "missed")
    ]
    assert audit(store, "alex-weak")[-1] == ("ada", "resolve", "no_pressure", None, "missed", None)


# -- the call view and its recording ------------------------------------------------------------


def test_a_rep_sees_their_own_call_and_not_anothers(store: Store) -> None:
    alex = user(store, "alex")
    view = call_view(store, "alex-good", alex)
    assert view.call["call_id"] == "alex-good"
    assert (view.call["rep"], view.call["call_date"]) == ("Alex", "2026-11-25")
    assert view.has_audio is True
    assert view.suggested is not None and view.suggested["grade"] == 100.0
    assert view.confirmed is None
    assert view.review["status"] == "unreviewed"
    assert view.review["version"] == 1
    assert not [k for k in view.review if k.endswith("_id")]
    assert view.transcript is not None and len(view.transcript["turns"]) == len(GOOD_CALL)
    assert (view.disputes, view.audit) == ([], [])
    assert call_view(store, "alex-weak", alex).has_audio is False
    with pytest.raises(ForbiddenError) as info:
        call_view(store, "sam-good", alex)
    assert str(info.value) == "call sam-good belongs to another rep"
    with pytest.raises(NotFoundError) as missing:
        call_view(store, "nope", user(store, "maria"))
    assert str(missing.value) == "no call 'nope'"
    for name in ("maria", "ada"):
        assert call_view(store, "sam-good", user(store, name)).call["rep"] == "Sam"


def test_the_view_carries_grades_disputes_and_the_audit_trail(store: Store) -> None:
    disputed = dispute_item(store, "alex-weak", user(store, "alex"), "next_step", "booked", 1)
    confirm_call(
        store,
        "alex-weak",
        user(store, "maria"),
        [ItemDecision("next_step", "met")],
        disputed.version,
    )
    view = call_view(store, "alex-weak", user(store, "alex"))
    assert view.suggested is not None and view.suggested["grade"] == 50.0
    assert view.confirmed is not None and view.confirmed["grade"] == 68.8
    assert (view.review["status"], view.review["version"], view.review["reviewed_by"]) == (
        "confirmed",
        3,
        "maria",
    )
    assert [(d["item_id"], d["status"], d["resolution"]) for d in view.disputes] == [
        ("next_step", "resolved", "met")
    ]
    assert [a["action"] for a in view.audit] == ["dispute", "override", "confirm", "resolve"]
    data = view.to_dict()
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
    json.dumps(data)  # the API sends it as it is


def test_the_view_names_no_file(store: Store, seeded: Seeded) -> None:
    text = json.dumps(call_view(store, "alex-good", user(store, "maria")).to_dict())
    for secret in ("alex-good.wav", "alex-good.json", "hash-alex-good", str(seeded.db.parent)):
        assert secret not in text


def test_the_view_of_a_call_stored_from_files_names_no_file(
    tmp_path: Path, mini_rubric: Rubric
) -> None:
    """As `analyzer batch` stores them: the transcript read from its file, the recording named."""
    folder = tmp_path / "incoming-calls"
    folder.mkdir()
    path = folder / "dana.txt"
    path.write_text(TEXT_CALL)
    transcript = read_transcript(path)
    transcript.audio = str(folder / "dana.wav")
    transcript.rep = "Alex"
    with Store.open(tmp_path / "calls.db") as store:
        store.save_call(
            CallRecord(
                call_id="dana",
                content_hash="hash-dana",
                source_path=str(path),
                audio_path=str(folder / "dana.wav"),
                transcript_path=str(path),
                rep="Alex",
                call_date="2026-11-25",
            ),
            transcript,
            grade_call(transcript, mini_rubric),
        )
        manager = add_user(store, "maria", "manager", PASSWORD)
        text = json.dumps(call_view(store, "dana", manager).to_dict())
    assert "dana.txt" not in text
    assert "dana.wav" not in text
    assert str(folder) not in text


def test_the_registered_recording_is_found_beside_the_database(
    store: Store, seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    found = audio_file(store, "alex-good", user(store, "alex"))
    assert found == seeded.db.parent / "alex-good.wav"
    assert found.read_bytes() == seeded.audio.read_bytes()
    assert audio_file(store, "alex-good", user(store, "maria")) == found
    with pytest.raises(ForbiddenError):
        audio_file(store, "alex-good", user(store, "sam"))
    with pytest.raises(NotFoundError) as none:
        audio_file(store, "alex-weak", user(store, "alex"))
    assert str(none.value) == "call alex-weak has no recording"
    with pytest.raises(NotFoundError) as unknown:
        audio_file(store, "nope", user(store, "maria"))
    assert str(unknown.value) == "no call 'nope'"
    seeded.audio.unlink()
    with pytest.raises(NotFoundError) as missing:
        audio_file(store, "alex-good", user(store, "alex"))
    assert str(missing.value) == "the recording of call alex-good is missing: alex-good.wav"


# -- migration 2 ---------------------------------------------------------------------------------


def test_migration_2_gives_every_call_of_a_version_1_database_a_review_row(
    tmp_path: Path, mini_rubric: Rubric
) -> None:
    db = tmp_path / "old.db"
    calls = [
        ("alex-weak", WEAK_CALL, "Alex", "2026-11-24"),
        ("sam-good", SAM_CALL, "Sam", "2026-11-25"),
        ("sam-text", SAM_CALL[:4], "Sam", "2026-11-23"),
    ]
    # Version 1 of the code: one migration, and saving a call knew nothing of reviews.
    with pytest.MonkeyPatch.context() as v1:
        v1.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
        v1.setattr(store_module, "refresh_review", lambda conn, call_id: None)
        with Store.open(db) as old:
            for call_id, lines, rep, day in calls:
                transcript = make_call(
                    lines, call_id=call_id, rep=rep, started_at=f"{day}T10:00:00"
                )
                record = CallRecord(call_id=call_id, content_hash=f"hash-{call_id}", rep=rep)
                old.save_call(record, transcript, grade_call(transcript, mini_rubric))
            assert old.schema_version() == 1
            assert rows(old, "SELECT name FROM sqlite_master WHERE name = 'reviews'") == []

    with Store.open(db) as store:
        assert store.schema_version() == latest_version()
        found = rows(
            store,
            "SELECT call_id, rep, rep_key, call_date, rubric, status, priority, version, "
            "suggested_grade, open_disputes FROM reviews ORDER BY call_id",
        )
        assert found == [
            ("alex-weak", "Alex", "alex", "2026-11-24", "mini", "unreviewed", 20, 1, 50.0, 0),
            ("sam-good", "Sam", "sam", "2026-11-25", "mini", "unreviewed", 0, 1, 93.8, 0),
            ("sam-text", "Sam", "sam", "2026-11-23", "mini", "unreviewed", 12, 1, 62.5, 0),
        ]
        # The upgraded database takes reviews at once.
        maria = add_user(store, "maria", "manager", PASSWORD)
        saved = confirm_call(store, "sam-good", maria, [], version=1)
        assert saved.version == 2
        assert review_row(store, "sam-good")["status"] == "confirmed"


def test_a_dispute_on_an_item_the_new_rubric_version_dropped_is_resolved(store: Store) -> None:
    from analyzer.grading.rubric import parse_rubric

    from conftest import MINI_RUBRIC

    disputed = dispute_item(store, "alex-weak", user(store, "alex"), "next_step", "booked", 1)
    renamed = MINI_RUBRIC.replace("id: next_step", "id: book_meeting").replace(
        "version: 1", "version: 2"
    )
    transcript = make_call(WEAK_CALL, call_id="alex-weak", rep="Alex")
    grade = grade_call(transcript, parse_rubric(renamed, "mini.yaml"))
    record = CallRecord(
        call_id="alex-weak", content_hash="hash-alex-weak", rep="Alex", call_date="2026-11-24"
    )
    store.save_call(record, transcript, grade)  # the nightly batch, under version 2
    row = review_row(store, "alex-weak")
    assert (row["status"], row["rubric_version"]) == ("disputed", "2")
    saved = confirm_call(store, "alex-weak", user(store, "maria"), [], version=row["version"])
    assert saved.version > disputed.version
    assert rows(
        store, "SELECT status, resolution FROM disputes WHERE id = ?", (disputed.dispute_id,)
    ) == [("resolved", "item no longer in mini v2")]
    assert review_row(store, "alex-weak")["status"] == "confirmed"
    assert audit(store, "alex-weak")[-1] == (
        "maria",
        "resolve",
        "next_step",
        None,
        None,
        "item no longer in mini v2",
    )


# -- the sentence a manager chose as an item's evidence ------------------------------------------

# alex-weak's turn 2 (turns are 5 s long), as the confirmed grade stores it once chosen.
CHOSEN_QUESTION = {
    "turn": 2,
    "start": 10.0,
    "end": 15.0,
    "speaker": "Alex",
    "text": "How are you handling scheduling today?",
    "phrase": "",
    "score": None,
    "method": "manager",
    "in_phase": True,
}


def test_the_sentence_a_manager_chose_becomes_the_items_evidence(store: Store) -> None:
    suggested_before = grade_rows(store, "alex-weak")["suggested"]
    evidence_rows = count(store, "evidence")
    saved = confirm_call(
        store,
        "alex-weak",
        user(store, "maria"),
        [ItemDecision("questions", "met", "asked enough", evidence_turn=2)],
        version=1,
    )
    assert saved.confirmed is not None
    questions = items(saved.confirmed)["questions"]
    assert questions["evidence"] == [CHOSEN_QUESTION]  # in place of the suggested evidence
    assert questions["evidence_by"] == "maria"
    assert (questions["status"], questions["earned"]) == ("met", 30.0)
    suggested = json.loads(suggested_before[3])
    for item_id, item in items(saved.confirmed).items():  # the others keep their evidence
        if item_id != "questions":
            assert item["evidence"] == items(suggested)[item_id]["evidence"], item_id
            assert "evidence_by" not in item
    stored = json.loads(grade_rows(store, "alex-weak")["confirmed"][3])
    assert items(stored)["questions"]["evidence"] == [CHOSEN_QUESTION]
    assert grade_rows(store, "alex-weak")["suggested"] == suggested_before
    assert count(store, "evidence") == evidence_rows  # the evidence table is the suggestion's
    assert audit(store, "alex-weak") == [
        ("maria", "override", "questions", "partial", "met", "asked enough"),
        ("maria", "evidence", "questions", None, "2", None),
        ("maria", "confirm", None, "50.0", "75.0", None),
    ]
    view = call_view(store, "alex-weak", user(store, "alex"))  # the rep sees it too
    assert view.confirmed is not None
    assert items(view.confirmed)["questions"]["evidence_by"] == "maria"


def test_an_item_left_met_may_get_its_sentence_too(store: Store) -> None:
    saved = confirm_call(
        store, "alex-good", user(store, "ada"), [ItemDecision("intro", "met", "", 6)], 1
    )
    assert saved.confirmed is not None
    intro = items(saved.confirmed)["intro"]
    assert [(e["turn"], e["speaker"], e["method"]) for e in intro["evidence"]] == [
        (6, "Alex", "manager")
    ]
    assert intro["evidence"][0]["text"].startswith("Hi Dana, this is Alex from Acme Solutions.")
    assert (intro["evidence_by"], intro["overridden"], saved.confirmed["grade"]) == (
        "ada",
        False,
        100.0,
    )
    assert audit(store, "alex-good") == [
        ("ada", "evidence", "intro", None, "6", None),
        ("ada", "confirm", None, "100.0", "100.0", None),
    ]


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        (
            ItemDecision("pain", "met", evidence_turn=8),
            "no turn 8 in this call's transcript (turns 0 to 7)",
        ),
        (
            ItemDecision("pain", "met", evidence_turn=-1),
            "no turn -1 in this call's transcript (turns 0 to 7)",
        ),
        (
            ItemDecision("pain", "met", evidence_turn="3"),  # type: ignore[arg-type]
            "must be the number of a turn of the transcript, not '3'",
        ),
        (
            ItemDecision("pain", "met", evidence_turn=True),
            "must be the number of a turn of the transcript, not True",
        ),
        (
            ItemDecision("pain", "missed", evidence_turn=3),
            "only an item set to met or partial takes a sentence as evidence, "
            "not one set to missed",
        ),
        (
            ItemDecision("pain", "na", evidence_turn=3),
            "only an item set to met or partial takes a sentence as evidence, not one set to na",
        ),
        (
            ItemDecision("no_pressure", "met", evidence_turn=3),
            "a forbidden item is met by never saying its line: no sentence earns it",
        ),
    ],
)
def test_an_invalid_sentence_names_the_field_and_writes_nothing(
    store: Store, decision: ItemDecision, problem: str
) -> None:
    before = table_counts(store)
    with pytest.raises(ReviewError) as info:
        confirm_call(
            store, "sam-good", user(store, "maria"), [ItemDecision("intro", "met"), decision], 1
        )
    assert (info.value.field, info.value.problem) == ("items[1].evidence_turn", problem)
    assert str(info.value) == f"items[1].evidence_turn: {problem}"
    assert table_counts(store) == before


def test_a_call_without_a_stored_transcript_takes_no_sentence(store: Store) -> None:
    with store.writing("test: the transcript is gone") as conn:
        conn.execute("DELETE FROM transcripts WHERE call_id = 'sam-text'")
    before = table_counts(store)
    with pytest.raises(ReviewError) as info:
        confirm_call(
            store, "sam-text", user(store, "maria"), [ItemDecision("intro", "met", "", 0)], 1
        )
    assert str(info.value) == (
        "items[0].evidence_turn: this call has no stored transcript to choose a sentence from"
    )
    assert table_counts(store) == before
    # without a sentence the review goes through as before
    assert confirm_call(store, "sam-text", user(store, "maria"), [ItemDecision("intro", "met")], 1)


def test_a_later_confirmation_keeps_the_chosen_sentence(store: Store) -> None:
    first = confirm_call(
        store, "alex-weak", user(store, "maria"), [ItemDecision("questions", "met", "", 2)], 1
    )
    # ada leaves questions out, then names it again with a status a sentence earns, no turn
    second = confirm_call(
        store, "alex-weak", user(store, "ada"), [ItemDecision("next_step", "met")], first.version
    )
    assert second.confirmed is not None
    assert items(second.confirmed)["questions"]["evidence"] == [CHOSEN_QUESTION]
    assert items(second.confirmed)["questions"]["evidence_by"] == "maria"
    third = confirm_call(
        store,
        "alex-weak",
        user(store, "ada"),
        [ItemDecision("questions", "partial", "only two")],
        second.version,
    )
    assert third.confirmed is not None
    questions = items(third.confirmed)["questions"]
    assert (questions["status"], questions["evidence"], questions["evidence_by"]) == (
        "partial",
        [CHOSEN_QUESTION],
        "maria",
    )
    # choosing the same sentence again is no change; choosing another one is
    fourth = confirm_call(
        store,
        "alex-weak",
        user(store, "maria"),
        [ItemDecision("questions", "met", "", 2), ItemDecision("pain", "met", "", 1)],
        third.version,
    )
    assert fourth.confirmed is not None
    fifth = confirm_call(
        store, "alex-weak", user(store, "ada"), [ItemDecision("pain", "met", "", 3)], fourth.version
    )
    assert fifth.confirmed is not None
    assert [e["turn"] for e in items(fifth.confirmed)["pain"]["evidence"]] == [3]
    assert items(fifth.confirmed)["pain"]["evidence_by"] == "ada"
    assert [entry for entry in audit(store, "alex-weak") if entry[1] == "evidence"] == [
        ("maria", "evidence", "questions", None, "2", None),
        ("maria", "evidence", "pain", None, "1", None),
        ("ada", "evidence", "pain", "1", "3", None),
    ]


@pytest.mark.parametrize("status", ["missed", "na"])
def test_the_chosen_sentence_is_dropped_when_the_item_is_set_to_missed_or_na(
    store: Store, status: str
) -> None:
    suggested = json.loads(grade_rows(store, "alex-good")["suggested"][3])
    first = confirm_call(
        store, "alex-good", user(store, "maria"), [ItemDecision("pain", "met", "", 11)], 1
    )
    dropped = confirm_call(
        store, "alex-good", user(store, "ada"), [ItemDecision("pain", status)], first.version
    )
    assert dropped.confirmed is not None
    pain = items(dropped.confirmed)["pain"]
    assert pain["evidence"] == items(suggested)["pain"]["evidence"]  # the suggestion's again
    assert "evidence_by" not in pain
    assert audit(store, "alex-good")[-3:] == [
        ("ada", "override", "pain", "met", status, None),
        ("ada", "evidence", "pain", "11", None, None),
        ("ada", "confirm", None, "100.0", "100.0" if status == "na" else "90.0", None),
    ]
    # met again, without a sentence: the suggestion's evidence, not the dropped choice
    again = confirm_call(
        store, "alex-good", user(store, "maria"), [ItemDecision("pain", "met")], dropped.version
    )
    assert again.confirmed is not None
    assert items(again.confirmed)["pain"]["evidence"] == items(suggested)["pain"]["evidence"]
    assert "evidence_by" not in items(again.confirmed)["pain"]


def test_confirmed_examples_give_the_managers_statuses_and_sentences(
    store: Store, mini_rubric: Rubric
) -> None:
    from analyzer.grading.rubric import parse_rubric

    from conftest import MINI_RUBRIC

    maria = user(store, "maria")
    confirm_call(store, "alex-weak", maria, [ItemDecision("questions", "met", "", 2)], 1)
    confirm_call(store, "alex-good", maria, [ItemDecision("next_step", "missed", "no time")], 1)
    confirm_call(store, "sam-good", maria, [], 1)
    with store.writing("test: sam-good's transcript is gone") as conn:
        conn.execute("DELETE FROM transcripts WHERE call_id = 'sam-good'")
    # alex-weak is graded again under version 2 and confirmed there, with no sentence chosen
    transcript = make_call(WEAK_CALL, call_id="alex-weak", rep="Alex")
    grade = grade_call(
        transcript, parse_rubric(MINI_RUBRIC.replace("version: 1", "version: 2"), "mini.yaml")
    )
    record = CallRecord(
        call_id="alex-weak", content_hash="hash-alex-weak", rep="Alex", call_date="2026-11-24"
    )
    store.save_call(record, transcript, grade)
    v2 = review_row(store, "alex-weak")["version"]
    confirm_call(store, "alex-weak", maria, [ItemDecision("next_step", "met")], v2)

    examples = confirmed_examples(store, "mini", 1)
    assert [(e.call_id, e.rep) for e in examples] == [("alex-good", "Alex"), ("alex-weak", "Alex")]
    good, weak = examples
    assert isinstance(good, ConfirmedCall)
    assert good.statuses["next_step"] == "missed"  # the manager's override
    assert good.statuses["intro"] == "met"
    assert list(good.statuses) == [i.id for p in mini_rubric.phases for i in p.items]
    assert good.evidence_turns == {}
    assert good.transcript["call_id"] == "alex-good"
    assert [t["text"] for t in good.transcript["turns"]] == [text for _, text in GOOD_CALL]
    assert (weak.statuses["questions"], weak.statuses["next_step"]) == ("met", "missed")
    assert weak.evidence_turns == {"questions": (2,)}
    assert weak.transcript["turns"][2]["text"] == "How are you handling scheduling today?"

    assert [
        (e.call_id, e.statuses["next_step"], e.evidence_turns)
        for e in confirmed_examples(store, "mini", "2")
    ] == [("alex-weak", "met", {})]
    assert confirmed_examples(store, "mini", 3) == []
    assert confirmed_examples(store, "other", 1) == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        good.rep = "Sam"  # type: ignore[misc]
