"""The review queue: order by need, filters, pages, counts, and what a rep may see."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from analyzer.errors import ReviewError
from analyzer.grading.grade import grade_call
from analyzer.grading.rubric import Rubric, parse_rubric
from analyzer.review.decisions import ItemDecision, confirm_call, dispute_item
from analyzer.review.queue import QueueFilters, list_queue
from analyzer.review.users import User, add_user, get_user
from analyzer.store import CallRecord, Store

from conftest import MINI_RUBRIC
from helpers import GOOD_CALL, make_call
from reviewing import SAM_CALL, WEAK_CALL, seed_review_db

# The queue every test reads, most needy first (priority: critical_missed 8, forbidden_said 8,
# below_pass_mark 4, low_confidence 2, an open dispute 1):
ORDER = [
    "alex-weak",  # 20 = 8 + 8 + 4 (the deadline it pushes is a forbidden line), 2026-11-24
    "sam-text",  # 12 = 8 + 4 (too_short counts nothing), 2026-11-23: older, so after
    "sam-below",  # 4
    "alex-unsure",  # 3 = 2 + 1: disputed
    "alex-good",  # 1: disputed
    "sam-good",  # 0, 2026-11-25
    "sam-alt",  # 0, 2026-11-19 (rubric mini2)
    "alex-critical",  # 8, but confirmed: last
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric):
    """The seeded calls, four more, two disputes and one confirmed call; read-only after."""
    db = tmp_path_factory.mktemp("queue") / "queue.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("analyzer.review.users.SCRYPT_N", 2**8)
        seed_review_db(db, mini_rubric)
    other_rubric = parse_rubric(MINI_RUBRIC.replace("rubric: mini", "rubric: mini2"), "mini2")
    extra = [
        ("alex-critical", WEAK_CALL, "Alex", "2026-11-22", mini_rubric, ["critical_missed"]),
        ("sam-below", SAM_CALL, "Sam", "2026-11-26", mini_rubric, ["below_pass_mark"]),
        ("alex-unsure", GOOD_CALL, "Alex", "2026-11-26", mini_rubric, ["low_confidence"]),
        ("sam-alt", SAM_CALL, "Sam", "2026-11-19", other_rubric, None),
    ]
    with Store.open(db) as opened:
        for call_id, lines, rep, day, rubric, flags in extra:
            transcript = make_call(lines, call_id=call_id, rep=rep, started_at=f"{day}T09:00:00")
            grade = grade_call(transcript, rubric)
            if flags is not None:
                grade = dataclasses.replace(grade, flags=flags)
            record = CallRecord(call_id=call_id, content_hash=f"hash-{call_id}", rep=rep)
            opened.save_call(record, transcript, grade)
        alex, maria = get_user(opened, "alex"), get_user(opened, "maria")
        dispute_item(opened, "alex-good", alex, "intro", "I said it", 1)
        dispute_item(opened, "alex-unsure", alex, "questions", "I asked three", 1)
        confirm_call(
            opened,
            "alex-critical",
            maria,
            [ItemDecision("next_step", "met"), ItemDecision("questions", "met")],
            1,
        )
        yield opened


@pytest.fixture(scope="module")
def maria(store: Store) -> User:
    return get_user(store, "maria")


def ids(store: Store, user: User, **filters) -> list[str]:
    return [r.call_id for r in list_queue(store, user, QueueFilters(**filters)).rows]


def test_calls_that_need_a_human_come_first_ordered_by_need(store: Store, maria: User) -> None:
    page = list_queue(store, maria, QueueFilters())
    assert [r.call_id for r in page.rows] == ORDER
    assert [(r.status, r.priority) for r in page.rows[:7]] == [
        ("unreviewed", 20),
        ("unreviewed", 12),
        ("unreviewed", 4),
        ("disputed", 3),
        ("disputed", 1),
        ("unreviewed", 0),
        ("unreviewed", 0),
    ]
    assert page.rows[-1].status == "confirmed"
    assert (page.total, page.page, page.pages) == (8, 1, 1)
    assert page.counts == {"unreviewed": 5, "disputed": 2, "confirmed": 1}
    assert list_queue(store, get_user(store, "ada"), QueueFilters()).rows == page.rows


def test_a_row_carries_the_grade_that_counts(store: Store, maria: User) -> None:
    rows = {r.call_id: r for r in list_queue(store, maria, QueueFilters()).rows}
    confirmed = rows["alex-critical"]
    assert (confirmed.suggested_grade, confirmed.confirmed_grade, confirmed.grade) == (
        50.0,
        93.8,
        93.8,
    )
    assert (confirmed.passed, confirmed.reviewed_by) == (True, "maria")  # the confirmed verdict
    weak = rows["alex-weak"]
    assert (weak.grade, weak.passed, weak.confirmed_grade, weak.reviewed_by) == (
        50.0,
        False,
        None,
        None,
    )
    assert weak.flags == ["below_pass_mark", "critical_missed", "forbidden_said"]
    assert weak.forbidden_said == ["No false urgency"]  # the item's text, for "why"
    assert weak.to_dict()["forbidden_said"] == ["No false urgency"]
    assert rows["alex-critical"].forbidden_said == []  # its flags do not say it
    assert rows["sam-good"].forbidden_said == []
    assert (weak.rep, weak.call_date, weak.rubric, weak.rubric_version) == (
        "Alex",
        "2026-11-24",
        "mini",
        "1",
    )
    assert rows["alex-good"].open_disputes == 1
    assert rows["alex-good"].to_dict()["grade"] == 100.0


def test_filter_by_rep_without_regard_to_case(store: Store, maria: User) -> None:
    alex = ["alex-weak", "alex-unsure", "alex-good", "alex-critical"]
    assert ids(store, maria, rep="ALEX") == alex
    assert ids(store, maria, rep="alex") == alex
    assert ids(store, maria, rep="Nobody") == []


def test_filter_by_dates_inclusive(store: Store, maria: User) -> None:
    assert ids(store, maria, since="2026-11-24", until="2026-11-25") == [
        "alex-weak",
        "alex-good",
        "sam-good",
    ]
    assert ids(store, maria, since="2026-11-26") == ["sam-below", "alex-unsure"]
    assert ids(store, maria, until="2026-11-22") == ["sam-alt", "alex-critical"]
    assert ids(store, maria, since="2026-11-23", until="2026-11-23") == ["sam-text"]
    assert ids(store, maria, since="2026-11-27") == []


def test_filter_by_rubric(store: Store, maria: User) -> None:
    assert ids(store, maria, rubric="mini2") == ["sam-alt"]
    assert ids(store, maria, rubric="mini") == [c for c in ORDER if c != "sam-alt"]
    assert ids(store, maria, rubric="inside-sales") == []


def test_filter_by_status(store: Store, maria: User) -> None:
    assert ids(store, maria, status="disputed") == ["alex-unsure", "alex-good"]
    assert ids(store, maria, status="confirmed") == ["alex-critical"]
    assert ids(store, maria, status="unreviewed") == [
        "alex-weak",
        "sam-text",
        "sam-below",
        "sam-good",
        "sam-alt",
    ]
    assert ids(store, maria, status="open") == ORDER[:-1]


def test_filters_combine(store: Store, maria: User) -> None:
    assert ids(store, maria, rep="sam", status="open", since="2026-11-20") == [
        "sam-text",
        "sam-below",
        "sam-good",
    ]


def test_pages(store: Store, maria: User) -> None:
    second = list_queue(store, maria, QueueFilters(page=2, per_page=1))
    assert [r.call_id for r in second.rows] == ["sam-text"]
    assert (second.total, second.page, second.per_page, second.pages) == (8, 2, 1, 8)
    last = list_queue(store, maria, QueueFilters(page=3, per_page=3))
    assert [r.call_id for r in last.rows] == ["sam-alt", "alex-critical"]
    assert (last.total, last.pages) == (8, 3)
    beyond = list_queue(store, maria, QueueFilters(page=9, per_page=3))
    assert (beyond.rows, beyond.total, beyond.pages) == ([], 8, 3)
    disputed = list_queue(store, maria, QueueFilters(status="disputed", page=2, per_page=1))
    assert [r.call_id for r in disputed.rows] == ["alex-good"]
    assert (disputed.total, disputed.pages) == (2, 2)
    assert disputed.to_dict()["pages"] == 2
    empty = list_queue(store, maria, QueueFilters(rep="nobody"))
    assert (empty.total, empty.pages) == (0, 1)


def test_counts_ignore_the_status_filter_but_not_the_others(store: Store, maria: User) -> None:
    everything = {"unreviewed": 5, "disputed": 2, "confirmed": 1}
    for status in ("disputed", "confirmed", "open", "unreviewed"):
        page = list_queue(store, maria, QueueFilters(status=status))
        assert page.counts == everything
    disputed = list_queue(store, maria, QueueFilters(status="disputed"))
    assert disputed.total == 2
    sam = list_queue(store, maria, QueueFilters(rep="Sam", status="confirmed"))
    assert sam.counts == {"unreviewed": 4, "disputed": 0, "confirmed": 0}
    assert (sam.rows, sam.total) == ([], 0)
    alex = list_queue(store, maria, QueueFilters(rep="alex", since="2026-11-24"))
    assert alex.counts == {"unreviewed": 1, "disputed": 2, "confirmed": 0}


def test_a_rep_sees_only_their_own_calls(store: Store) -> None:
    alex, sam = get_user(store, "alex"), get_user(store, "sam")
    mine = list_queue(store, alex, QueueFilters(), choices=True)
    assert [r.call_id for r in mine.rows] == [
        "alex-weak",
        "alex-unsure",
        "alex-good",
        "alex-critical",
    ]
    assert mine.counts == {"unreviewed": 1, "disputed": 2, "confirmed": 1}
    assert mine.reps == ["Alex"]
    theirs = list_queue(store, alex, QueueFilters(rep="Sam"))
    assert (theirs.rows, theirs.total) == ([], 0)
    assert theirs.counts == {"unreviewed": 0, "disputed": 0, "confirmed": 0}
    assert ids(store, alex, rep="SAM", status="open") == []
    assert ids(store, alex, rep="alex", status="disputed") == ["alex-unsure", "alex-good"]
    assert ids(store, sam) == ["sam-text", "sam-below", "sam-good", "sam-alt"]


def test_filter_choices(store: Store, maria: User) -> None:
    page = list_queue(store, maria, QueueFilters(), choices=True)
    assert (page.reps, page.rubrics) == (["Alex", "Sam"], ["mini", "mini2"])
    plain = list_queue(store, maria, QueueFilters())
    assert (plain.reps, plain.rubrics) == ([], [])


def test_problems_lists_every_bad_field_at_once() -> None:
    filters = QueueFilters(
        since="2026-13-01", until="yesterday", status="done", page=0, per_page=501
    )
    assert filters.problems() == [
        ("since", "must be a date as YYYY-MM-DD, not '2026-13-01'"),
        ("until", "must be a date as YYYY-MM-DD, not 'yesterday'"),
        ("status", "must be one of unreviewed, disputed, confirmed, open, not 'done'"),
        ("page", "must be 1 or more"),
        ("per_page", "must be between 1 and 500"),
    ]
    assert QueueFilters(per_page=0).problems() == [("per_page", "must be between 1 and 500")]
    assert QueueFilters(since="2026-2-01").problems() == [
        ("since", "must be a date as YYYY-MM-DD, not '2026-2-01'")
    ]
    assert QueueFilters().problems() == []
    good = QueueFilters(since="2026-02-28", until="2026-12-31", status="open", page=3, per_page=500)
    assert good.problems() == []


def test_list_queue_refuses_a_bad_date(store: Store, maria: User) -> None:
    with pytest.raises(ReviewError) as info:
        list_queue(store, maria, QueueFilters(since="2026-02-30", status="done"))
    assert (info.value.field, info.value.location) == ("since", "query")
    assert str(info.value) == "since: must be a date as YYYY-MM-DD, not '2026-02-30'"
    with pytest.raises(ReviewError) as status:
        list_queue(store, maria, QueueFilters(status="closed"))
    assert status.value.field == "status"


def test_a_page_number_too_large_for_the_database_is_a_problem_not_a_crash(
    store: Store, maria: User
) -> None:
    """The call page passes any digits it is given (/calls?page=99999999999999999999)."""
    huge = QueueFilters(page=10**19)
    assert [name for name, _ in huge.problems()] == ["page"]
    with pytest.raises(ReviewError) as info:
        list_queue(store, maria, huge)
    assert (info.value.field, info.value.location) == ("page", "query")


def test_an_empty_database_has_an_empty_queue(tmp_path: Path, maria: User) -> None:
    with Store.open(tmp_path / "empty.db") as empty:
        page = list_queue(empty, maria, QueueFilters(), choices=True)
    assert (page.rows, page.total, page.pages) == ([], 0, 1)
    assert page.counts == {"unreviewed": 0, "disputed": 0, "confirmed": 0}
    assert (page.reps, page.rubrics) == ([], [])


def test_a_forbidden_line_said_comes_before_a_call_only_below_the_pass_mark(
    tmp_path: Path, mini_rubric: Rubric
) -> None:
    """A call that passes but says a forbidden line weighs as much as a critical item missed."""
    pushy = [*SAM_CALL, ("Sam", "This offer expires today, so sign now.")]
    # No discovery at all: under the pass mark, nothing critical missed.
    shallow = [
        *SAM_CALL[:2],
        ("Sam", "Our tool books demos for you."),
        ("Lee", "Okay."),
        *SAM_CALL[6:],
    ]
    calls = [
        ("clean", SAM_CALL, "2026-11-27"),
        ("pushy", pushy, "2026-11-25"),
        ("shallow", shallow, "2026-11-26"),
    ]
    with Store.open(tmp_path / "q.db") as opened:
        for call_id, lines, day in calls:
            transcript = make_call(lines, call_id=call_id, rep="Sam", started_at=f"{day}T09:00")
            record = CallRecord(call_id=call_id, content_hash=call_id, rep="Sam", call_date=day)
            opened.save_call(record, transcript, grade_call(transcript, mini_rubric))
        maria = add_user(opened, "maria", "manager", "a long password")
        rows = list_queue(opened, maria, QueueFilters()).rows
    assert [(r.call_id, r.passed, r.flags, r.priority) for r in rows] == [
        ("pushy", True, ["forbidden_said"], 8),
        ("shallow", False, ["below_pass_mark"], 4),
        ("clean", True, [], 0),
    ]
    assert [r.forbidden_said for r in rows] == [["No false urgency"], [], []]
