"""analyzer.reports.report: the calls frame, progress, top 20% against the rest, outcomes,
import, render.

The database is the review database of `reviewing.seed_review_db` (four calls in the week of
2026-11-23, no outcome) plus twelve calls over five weeks by six reps, built from the same four
transcripts with the rep's speaker renamed, so every grade is one of four known ones:

    G  GOOD_CALL      100.0   phases screen 100, open 100, discover 100, pushback 100, close 100
    W  WEAK_CALL       50.0   screen na, open 100, discover 50, pushback na, close 0
    S  SAM_CALL        93.8   screen na, open 75, discover 100, pushback na, close 100
    T  SAM_CALL[:4]    62.5   screen na, open 75, discover 75, pushback na, close 25

Two W calls are confirmed by a manager with next_step and no_pressure overridden to met:
75.0, passed (W'): open 100, discover 50, close 100. The figures below are worked out by hand
from these.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import shutil
import sqlite3
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from analyzer.errors import AnalyzerError
from analyzer.grading.grade import grade_call
from analyzer.grading.rubric import Rubric, parse_rubric
from analyzer.reports.analysis import (
    Report,
    build_report,
    outcome_relation,
    progress,
    team_progress,
    top_vs_rest,
)
from analyzer.reports.frame import ITEM_PREFIX, PHASE_PREFIX, calls_frame
from analyzer.reports.outcomes import OutcomesFileError, import_outcomes, normalise_outcome
from analyzer.reports.report import render_csv, render_html, render_table, write_report
from analyzer.review.decisions import ItemDecision, confirm_call
from analyzer.review.users import get_user
from analyzer.store import CallRecord, Store

from conftest import MINI_RUBRIC
from helpers import GOOD_CALL, make_call
from reviewing import SAM_CALL, WEAK_CALL, seed_review_db

# (lines, the rep's speaker in them)
KINDS = {
    "G": (GOOD_CALL, "Alex"),
    "W": (WEAK_CALL, "Alex"),
    "S": (SAM_CALL, "Sam"),
    "T": (SAM_CALL[:4], "Sam"),
}
GRADES = {"G": 100.0, "W": 50.0, "S": 93.8, "T": 62.5, "W'": 75.0}

# call_id, kind, rep, date, outcome as calls.csv would give it
EXTRA_CALLS = [
    ("alex-1102", "G", "Alex", "2026-11-03", "won"),
    ("sam-1102", "T", "Sam", "2026-11-04", "lost"),
    ("kim-1102", "W", "Kim", "2026-11-05", "lost"),
    ("pat-1109", "S", "Pat", "2026-11-10", "Won"),
    ("jo-1109", "W", "Jo", "2026-11-11", "closed-lost"),  # confirmed: W'
    ("max-1109", "T", "Max", "2026-11-12", "no"),
    ("kim-1116", "G", "Kim", "2026-11-17", "sale"),
    ("pat-1116", "G", "Pat", "2026-11-18", "closed"),
    ("jo-1116", "T", "Jo", "2026-11-19", "no sale"),
    ("max-1201", "S", "Max", "2026-12-01", "Closed-Won"),
    ("alex-1201", "W", "Alex", "2026-12-02", ""),
    ("jo-1203", "S", "Jo", "2026-12-03", "maybe"),  # not a won or lost word: unknown
]
CONFIRMED = ("alex-weak", "jo-1109")  # next_step and no_pressure overridden to met: 75.0


def save(
    store: Store,
    rubric: Rubric,
    call_id: str,
    kind: str,
    rep: str | None,
    day: str | None,
    outcome: str | None = None,
) -> None:
    """Store a call of a known kind, the rep's speaker renamed to `rep`."""
    lines, speaker = KINDS[kind]
    name = rep or speaker
    renamed = [(name if s == speaker else s, text) for s, text in lines]
    started = f"{day}T10:00:00" if day else None
    transcript = make_call(renamed, call_id=call_id, rep=name, started_at=started, step=5.0)
    grade = grade_call(transcript, rubric)
    record = CallRecord(
        call_id=call_id,
        content_hash=f"hash-{call_id}",
        source_path=f"{call_id}.json",
        rep=rep,
        call_date=day,
        outcome=outcome or None,
    )
    store.save_call(record, transcript, grade)


def confirm_close(store: Store, call_id: str) -> None:
    maria = get_user(store, "maria")
    with store.reading("test") as conn:
        version = conn.execute(
            "SELECT version FROM reviews WHERE call_id = ?", (call_id,)
        ).fetchone()[0]
    decisions = [ItemDecision("next_step", "met", "asked"), ItemDecision("no_pressure", "met")]
    confirm_call(store, call_id, maria, decisions, version)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric) -> Path:
    """The database, made once; tests that write work on a copy (`db`)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("analyzer.review.users.SCRYPT_N", 2**8)
        seeded = seed_review_db(tmp_path_factory.mktemp("report") / "report.db", mini_rubric)
    with Store.open(seeded.db) as store:
        for call_id, kind, rep, day, outcome in EXTRA_CALLS:
            save(store, mini_rubric, call_id, kind, rep, day, outcome)
        for call_id in CONFIRMED:
            confirm_close(store, call_id)
    return seeded.db


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(template, tmp_path / "report.db"))


@pytest.fixture
def store(db: Path):
    with Store.open(db) as opened:
        yield opened


@pytest.fixture(scope="module")
def frame(template: Path) -> pd.DataFrame:
    with Store.open(template, readonly=True) as store:
        return calls_frame(store)


@pytest.fixture(scope="module")
def report(template: Path) -> Report:
    with Store.open(template, readonly=True) as store:
        return build_report(store, "week", "rep")


def outcomes_of(db: Path) -> dict[str, str | None]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT call_id, outcome FROM calls").fetchall())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- the calls frame ------------------------------------------------------------------------------


def test_the_four_kinds_of_call_grade_as_the_figures_assume(frame: pd.DataFrame) -> None:
    kinds = {"alex-good": "G", "alex-weak": "W'", "sam-good": "S", "sam-text": "T"}
    kinds |= {c: k for c, k, *_ in EXTRA_CALLS} | {"jo-1109": "W'"}
    grades = dict(zip(frame["call_id"], frame["grade"], strict=True))
    assert grades == {call_id: GRADES[kind] for call_id, kind in kinds.items()}


def test_calls_frame_has_one_row_per_graded_call_oldest_first(frame: pd.DataFrame) -> None:
    assert len(frame) == 16
    assert list(frame.columns[:9]) == [
        "call_id",
        "rep",
        "call_date",
        "grade",
        "passed",
        "confirmed",
        "outcome",
        "rubric",
        "rubric_version",
    ]
    assert [c for c in frame.columns if c.startswith(PHASE_PREFIX)] == [
        "phase:screen",
        "phase:open",
        "phase:discover",
        "phase:pushback",
        "phase:close",
    ]
    assert [c for c in frame.columns if c.startswith(ITEM_PREFIX)] == [
        "item:screen_ask",
        "item:intro",
        "item:permission",
        "item:questions",
        "item:pain",
        "item:acknowledge",
        "item:next_step",
        "item:no_pressure",
    ]
    assert pd.api.types.is_datetime64_any_dtype(frame["call_date"])
    assert frame["call_date"].is_monotonic_increasing
    assert frame["call_id"].iloc[0] == "alex-1102"
    assert frame["call_date"].iloc[0] == pd.Timestamp("2026-11-03")
    assert frame["passed"].dtype == bool and frame["confirmed"].dtype == bool


def test_a_confirmed_grade_counts_instead_of_the_suggestion(frame: pd.DataFrame) -> None:
    rows = frame.set_index("call_id")
    weak = rows.loc["alex-weak"]
    # open 20 + discover 20 (questions partial: 10 + 10 of 40) + close 20, over 80
    assert (weak["grade"], weak["passed"], weak["confirmed"]) == (75.0, True, True)
    assert weak["item:next_step"] == 1.0 and weak["item:no_pressure"] == 1.0
    assert weak["phase:close"] == 100.0 and weak["phase:discover"] == 50.0
    assert sorted(frame.loc[frame["confirmed"], "call_id"]) == ["alex-weak", "jo-1109"]
    unconfirmed = rows.loc["kim-1102"]  # the same call, not confirmed
    assert (unconfirmed["grade"], unconfirmed["passed"], unconfirmed["confirmed"]) == (
        50.0,
        False,
        False,
    )


def test_phase_percent_and_item_credit_columns(frame: pd.DataFrame) -> None:
    rows = frame.set_index("call_id")
    text = rows.loc["sam-text"]  # T
    assert math.isnan(text["phase:screen"]) and math.isnan(text["phase:pushback"])  # na
    assert (text["phase:open"], text["phase:discover"], text["phase:close"]) == (75, 75, 25)
    assert math.isnan(text["item:screen_ask"])  # its phase did not happen
    assert text["item:intro"] == 0.5  # partial
    assert text["item:questions"] == 0.5  # partial (2 of 3 questions)
    assert text["item:next_step"] == 0.0  # missed
    assert text["item:no_pressure"] == 1.0  # forbidden, avoided
    weak = rows.loc["kim-1102"]  # W: says "This offer expires today"
    assert weak["item:no_pressure"] == 0.0


def test_outcomes_are_normalised(frame: pd.DataFrame) -> None:
    outcomes = dict(zip(frame["call_id"], frame["outcome"], strict=True))
    assert outcomes["pat-1109"] == "won"  # Won
    assert outcomes["kim-1116"] == "won"  # sale
    assert outcomes["pat-1116"] == "won"  # closed
    assert outcomes["max-1201"] == "won"  # Closed-Won
    assert outcomes["jo-1109"] == "lost"  # closed-lost
    assert outcomes["max-1109"] == "lost"  # no
    assert outcomes["jo-1116"] == "lost"  # no sale
    assert outcomes["alex-1201"] is None  # empty
    assert outcomes["jo-1203"] is None  # maybe
    assert outcomes["alex-good"] is None
    assert frame.attrs["unrecognised_outcomes"] == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("won", "won"),
        ("Closed", "won"),
        ("closed-won", "won"),
        ("Closed_Won", "won"),
        ("CLOSED WON", "won"),
        ("sale", "won"),
        ("yes", "won"),
        (" lost ", "lost"),
        ("closed-lost", "lost"),
        ("no sale", "lost"),
        ("No-Sale", "lost"),
        ("no", "lost"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalise_outcome(value: str | None, expected: str | None) -> None:
    assert normalise_outcome(value) == expected


@pytest.mark.parametrize("value", ["maybe", "pending", "1", "closed-maybe"])
def test_normalise_outcome_refuses_other_words(value: str) -> None:
    with pytest.raises(ValueError, match="unrecognised outcome"):
        normalise_outcome(value)


def test_calls_frame_date_range_is_inclusive(store: Store) -> None:
    df = calls_frame(store, since="2026-11-17", until="2026-11-24")
    assert list(df["call_id"]) == ["kim-1116", "pat-1116", "jo-1116", "sam-text", "alex-weak"]
    same = calls_frame(store, since=date(2026, 11, 17), until=date(2026, 11, 24))
    assert list(same["call_id"]) == list(df["call_id"])


def test_a_confirmation_for_an_older_rubric_version_is_not_used(
    store: Store, mini_rubric: Rubric
) -> None:
    v2 = parse_rubric(MINI_RUBRIC.replace("version: 1", "version: 2"), "mini.yaml")
    save(store, v2, "alex-weak", "W", "Alex", "2026-11-24")  # re-graded under version 2
    row = calls_frame(store).set_index("call_id").loc["alex-weak"]
    assert (row["grade"], row["confirmed"], row["rubric_version"]) == (50.0, False, "2")


def test_a_grade_stored_without_item_rows_is_read_from_its_json(
    store: Store, frame: pd.DataFrame
) -> None:
    with store.writing("test") as conn:
        conn.execute(
            "DELETE FROM item_results WHERE grade_id IN (SELECT confirmed_id FROM reviews "
            "WHERE call_id = 'alex-weak' UNION SELECT suggested_id FROM reviews "
            "WHERE call_id = 'sam-text')"
        )
    again = calls_frame(store)
    pd.testing.assert_frame_equal(again, frame)
    assert again.attrs == frame.attrs


def test_calls_frame_of_an_empty_database(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty.db") as store:
        df = calls_frame(store)
    assert df.empty
    assert list(df.columns) == [
        "call_id",
        "rep",
        "call_date",
        "grade",
        "passed",
        "confirmed",
        "outcome",
        "rubric",
        "rubric_version",
    ]


# -- progress -------------------------------------------------------------------------------------


def test_progress_by_rep_per_week(frame: pd.DataFrame) -> None:
    table = progress(frame, "week", "rep")
    assert list(table.columns) == ["period", "rep", "calls", "mean_grade"]
    rows = {(p.strftime("%Y-%m-%d"), rep): (n, round(g, 2)) for p, rep, n, g in table.values}
    assert rows == {
        ("2026-11-02", "Alex"): (1, 100.0),
        ("2026-11-02", "Kim"): (1, 50.0),
        ("2026-11-02", "Sam"): (1, 62.5),
        ("2026-11-09", "Jo"): (1, 75.0),
        ("2026-11-09", "Max"): (1, 62.5),
        ("2026-11-09", "Pat"): (1, 93.8),
        ("2026-11-16", "Jo"): (1, 62.5),
        ("2026-11-16", "Kim"): (1, 100.0),
        ("2026-11-16", "Pat"): (1, 100.0),
        # alex-good 100 and alex-weak confirmed 75.0: (100 + 75) / 2
        ("2026-11-23", "Alex"): (2, 87.5),
        # sam-text 62.5 (Monday the 23rd) and sam-good 93.8: (62.5 + 93.8) / 2
        ("2026-11-23", "Sam"): (2, 78.15),
        # Tuesday 1 December is in the week of Monday 30 November
        ("2026-11-30", "Alex"): (1, 50.0),
        ("2026-11-30", "Jo"): (1, 93.8),
        ("2026-11-30", "Max"): (1, 93.8),
    }
    assert list(table["period"].dt.day_of_week.unique()) == [0]  # every week starts on a Monday
    assert table["period"].is_monotonic_increasing


def test_progress_by_rep_per_month_and_per_day(frame: pd.DataFrame) -> None:
    month = progress(frame, "month", "rep")
    alex = month[month["rep"] == "Alex"]
    assert [p.strftime("%Y-%m-%d") for p in alex["period"]] == ["2026-11-01", "2026-12-01"]
    # November: 100 (3rd) + 75 (24th) + 100 (25th); December: 50
    assert list(alex["calls"]) == [3, 1]
    assert [round(g, 3) for g in alex["mean_grade"]] == [round(275 / 3, 3), 50.0]
    day = progress(frame, "day", "rep")
    on_25th = day[day["period"] == pd.Timestamp("2026-11-25")]
    assert list(zip(on_25th["rep"], on_25th["mean_grade"], strict=True)) == [
        ("Alex", 100.0),
        ("Sam", 93.8),
    ]


def test_progress_by_phase(frame: pd.DataFrame) -> None:
    table = progress(frame, "week", "phase")
    assert list(table.columns) == ["period", "phase", "calls", "mean_percent"]
    first = table[table["period"] == pd.Timestamp("2026-11-02")]  # G, T, W
    assert list(first["phase"]) == ["screen", "open", "discover", "pushback", "close"]
    got = {p: (n, round(v, 2)) for p, n, v in first[["phase", "calls", "mean_percent"]].values}
    assert got == {
        "screen": (1, 100.0),  # only G got through a gatekeeper
        "open": (3, round((100 + 75 + 100) / 3, 2)),
        "discover": (3, 75.0),  # (100 + 75 + 50) / 3
        "pushback": (1, 100.0),
        "close": (3, round((100 + 25 + 0) / 3, 2)),
    }
    last = table[table["period"] == pd.Timestamp("2026-11-30")]  # S, W, S: no screen, no pushback
    assert list(last["phase"]) == ["open", "discover", "close"]


def test_progress_by_item(frame: pd.DataFrame) -> None:
    table = progress(frame, "week", "item")
    assert list(table.columns) == ["period", "item", "calls", "credit_percent"]
    first = table[table["period"] == pd.Timestamp("2026-11-02")].set_index("item")  # G, T, W
    assert first.loc["questions", "calls"] == 3
    assert round(first.loc["questions", "credit_percent"], 2) == round(200 / 3, 2)  # 1, .5, .5
    assert round(first.loc["next_step", "credit_percent"], 2) == round(100 / 3, 2)  # 1, 0, 0
    assert (first.loc["screen_ask", "calls"], first.loc["screen_ask", "credit_percent"]) == (1, 100)
    assert round(first.loc["no_pressure", "credit_percent"], 2) == round(200 / 3, 2)


def test_team_progress(frame: pd.DataFrame) -> None:
    team = team_progress(frame, "week")
    assert list(team.columns) == ["period", "calls", "reps", "mean_grade", "pass_rate", "confirmed"]
    rows = [
        (p.strftime("%Y-%m-%d"), n, r, round(g, 3), round(pr, 2), c)
        for p, n, r, g, pr, c in team.values
    ]
    assert rows == [
        ("2026-11-02", 3, 3, round(212.5 / 3, 3), 33.33, 0),
        ("2026-11-09", 3, 3, 77.1, 66.67, 1),  # 93.8 + 75 (W') + 62.5
        ("2026-11-16", 3, 3, 87.5, 66.67, 0),
        ("2026-11-23", 4, 2, 82.825, 75.0, 1),  # 62.5 + 75 + 100 + 93.8
        ("2026-11-30", 3, 3, 79.2, 66.67, 0),
    ]


def test_progress_refuses_an_unknown_period_or_grouping(frame: pd.DataFrame) -> None:
    with pytest.raises(AnalyzerError, match="period must be one of day, week, month"):
        progress(frame, "year", "rep")
    with pytest.raises(AnalyzerError, match="by must be one of rep, phase, item"):
        progress(frame, "week", "team")


# -- top 20% against the rest ---------------------------------------------------------------------


def test_top_vs_rest(frame: pd.DataFrame) -> None:
    result = top_vs_rest(frame)
    # Pat (93.8 + 100) / 2 = 96.9; Alex (alex-1102 100, alex-weak 75, alex-good 100,
    # alex-1201 50) / 4 = 81.25; Max (62.5 + 93.8) / 2 = 78.15; Jo (75 + 62.5 + 93.8) / 3
    # = 77.1; Kim (50 + 100) / 2 = 75; Sam (93.8 + 62.5 + 62.5) / 3 = 72.93.
    # Six reps: the top ceil(1.2) = 2.
    assert result.top_reps == ["Pat", "Alex"]
    assert result.rest_reps == ["Max", "Jo", "Kim", "Sam"]
    means = [round(g, 2) for g in result.reps["mean_grade"]]
    assert means == [96.9, 81.25, 78.15, 77.1, 75.0, 72.93]
    assert list(result.reps["rank"]) == [1, 2, 3, 4, 5, 6]
    assert list(result.reps["calls"]) == [2, 4, 2, 3, 2, 3]
    assert list(result.reps["group"]) == ["top", "top", "rest", "rest", "rest", "rest"]
    assert (result.top_calls, result.rest_calls) == (6, 10)
    assert round(result.top_grade, 2) == round((93.8 + 100 + 100 + 75 + 100 + 50) / 6, 2)
    assert round(result.rest_grade, 2) == round((62.5 + 93.8 + 231.3 + 150 + 218.8) / 10, 2)
    phases = result.phases.set_index("phase")
    # open: top S 75, G 100, G 100, W' 100, G 100, W 100 -> 575 / 6; rest: 825 / 10
    assert phases.loc["open", "top_calls"] == 6 and phases.loc["open", "rest_calls"] == 10
    assert round(phases.loc["open", "top_percent"], 3) == round(575 / 6, 3)
    assert phases.loc["open", "rest_percent"] == 82.5
    assert round(phases.loc["open", "gap"], 3) == round(575 / 6 - 82.5, 3)
    # close: top Pat 100, 100; Alex 100, W' 100, 100, W 0 = 500 / 6; rest (Max 25, 100;
    # Jo W' 100, 25, 100; Kim 0, 100; Sam 100, 25, 25) = 600 / 10
    assert round(phases.loc["close", "top_percent"], 3) == round(500 / 6, 3)
    assert phases.loc["close", "rest_percent"] == 60.0
    # screen: G calls only: top alex-1102, pat-1116, alex-good; rest kim-1116
    assert (phases.loc["screen", "top_calls"], phases.loc["screen", "rest_calls"]) == (3, 1)
    assert list(result.phases["phase"]) == ["screen", "open", "discover", "pushback", "close"]


def test_top_vs_rest_with_one_rep_has_no_rest(frame: pd.DataFrame) -> None:
    result = top_vs_rest(frame[frame["rep"] == "Pat"])
    assert result.top_reps == ["Pat"] and result.rest_reps == []
    assert result.rest_calls == 0 and math.isnan(result.rest_grade)
    open_ = result.phases.set_index("phase").loc["open"]
    assert open_["top_percent"] == 87.5 and math.isnan(open_["gap"])


def test_the_top_group_is_at_least_one_rep_rounded_up(frame: pd.DataFrame) -> None:
    five = frame[frame["rep"] != "Sam"]  # five reps: ceil(1.0) = 1
    assert top_vs_rest(five).top_reps == ["Pat"]
    twelve = pd.concat(
        [frame.assign(rep=frame["rep"] + str(n)) for n in range(2)], ignore_index=True
    )  # twelve reps: ceil(2.4) = 3
    assert len(top_vs_rest(twelve).top_reps) == 3


# -- outcomes -------------------------------------------------------------------------------------


def test_outcome_relation(frame: pd.DataFrame) -> None:
    result = outcome_relation(frame)
    assert result is not None
    # Known: won G alex-1102, S pat-1109, G kim-1116, G pat-1116, S max-1201;
    # lost T sam-1102, W kim-1102, W' jo-1109, T max-1109, T jo-1116.
    assert (result.calls, result.won, result.close_pct) == (10, 5, 50.0)
    assert round(result.mean_grade_won, 2) == round((100 * 3 + 93.8 * 2) / 5, 2)
    assert round(result.mean_grade_lost, 2) == round((62.5 * 3 + 50 + 75) / 5, 2)
    items = result.items.set_index("item")
    counts = ["with_calls", "with_won", "without_calls", "without_won"]
    # next_step: credited in G, S (all five won) and W' (lost); missed in T x3 and W.
    assert list(items.loc["next_step", counts]) == [6, 5, 4, 0]
    assert round(items.loc["next_step", "with_close_pct"], 2) == 83.33
    assert items.loc["next_step", "without_close_pct"] == 0.0
    assert round(items.loc["next_step", "difference"], 2) == 83.33
    # no_pressure (forbidden): avoided in G, S, T (and W' by the manager's word); said in W.
    assert list(items.loc["no_pressure", counts]) == [9, 5, 1, 0]
    assert round(items.loc["no_pressure", "with_close_pct"], 2) == 55.56
    # screen_ask applies only where a gatekeeper answered (G): never without.
    assert list(items.loc["screen_ask", counts]) == [3, 3, 0, 0]
    assert math.isnan(items.loc["screen_ask", "without_close_pct"])
    assert math.isnan(items.loc["screen_ask", "difference"])
    # intro: met in G and W, partial in S and T: credited everywhere.
    assert list(items.loc["intro", counts]) == [10, 5, 0, 0]
    assert items.loc["next_step", "phase"] == "close"
    bands = result.bands
    assert list(bands["band"]) == ["<50", "50-70", "70-85", ">=85"]
    assert list(bands["calls"]) == [0, 4, 1, 5]  # W 50.0 is in 50-70; W' 75.0 in 70-85
    assert list(bands["won"]) == [0, 0, 0, 5]
    assert math.isnan(bands["close_pct"].iloc[0])
    assert list(bands["close_pct"].iloc[1:]) == [0.0, 0.0, 100.0]


def test_outcome_relation_is_none_without_outcomes(frame: pd.DataFrame) -> None:
    assert outcome_relation(frame.assign(outcome=None)) is None


# -- importing outcomes ---------------------------------------------------------------------------


def test_import_outcomes_writes_the_valid_rows_and_lists_the_rest(db: Path, tmp_path: Path) -> None:
    before = outcomes_of(db)
    path = write(
        tmp_path / "outcomes.csv",
        "call_id,outcome\n"
        "alex-good,Won\n"  # 2
        "sam-good,closed lost\n"  # 3
        "nobody,won\n"  # 4: unknown call
        "alex-weak,maybe\n"  # 5: not a won or lost word
        ",won\n"  # 6: no call id
        "sam-text,\n"  # 7: no outcome
        "kim-1102,Closed-Won\n",  # 8: was lost
    )
    with Store.open(db) as store:
        result = import_outcomes(store, path)
    assert result.rows == 7
    assert result.written == [("alex-good", "won"), ("sam-good", "lost"), ("kim-1102", "won")]
    assert result.changed == 3
    assert [(s.line, s.reason) for s in result.skipped] == [
        (4, "unknown call id 'nobody'"),
        (5, "call alex-weak: unrecognised outcome 'maybe' (use won or lost)"),
        (6, "no call id"),
        (7, "call sam-text: no outcome"),
    ]
    after = outcomes_of(db)
    assert after == before | {"alex-good": "won", "sam-good": "lost", "kim-1102": "won"}
    summary = result.summary()
    assert summary.splitlines()[0] == (f"{path}: 3 outcomes written (3 changed), 4 rows skipped")
    assert "  skipped line 4: unknown call id 'nobody'" in summary
    with Store.open(db) as store:  # and the report now counts them
        df = calls_frame(store)
    assert df.set_index("call_id").loc["sam-good", "outcome"] == "lost"


def test_import_outcomes_skips_every_row_of_a_call_given_two_outcomes(
    db: Path, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "o.csv",
        "outcome,call_id,notes\nwon,alex-good,x\nlost,alex-good,\nwon,sam-good\nyes,sam-good\n"
        "won\n",  # a short row: no call id
    )
    with Store.open(db) as store:
        result = import_outcomes(store, path)
    assert result.written == [("sam-good", "won")]  # given twice, the same: written once
    assert [(s.line, s.call_id) for s in result.skipped] == [
        (2, "alex-good"),
        (3, "alex-good"),
        (6, ""),
    ]
    assert "different outcomes (lines 2, 3)" in result.skipped[0].reason
    assert outcomes_of(db)["alex-good"] is None


def test_import_outcomes_with_no_valid_row_writes_nothing(db: Path, tmp_path: Path) -> None:
    before = outcomes_of(db)
    path = write(tmp_path / "bad.csv", "call_id,outcome\nnobody,won\nalex-good,perhaps\n")
    with Store.open(db) as store, pytest.raises(OutcomesFileError) as caught:
        import_outcomes(store, path)
    message = str(caught.value)
    assert message.splitlines() == [
        f"{path}: no valid row; nothing written (2 skipped)",
        "  line 2: unknown call id 'nobody'",
        "  line 3: call alex-good: unrecognised outcome 'perhaps' (use won or lost)",
    ]
    assert isinstance(caught.value, AnalyzerError)
    assert len(caught.value.skipped) == 2
    assert outcomes_of(db) == before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("call_id,result\nalex-good,won\n", "missing column outcome"),
        ("id,result\nalex-good,won\n", "missing columns call_id, outcome"),
        ("", "empty file"),
        ("call_id,outcome\n", "no data rows; nothing written"),
        ("call_id,outcome\n\n\n", "no data rows; nothing written"),
    ],
)
def test_import_outcomes_refuses_a_file_it_cannot_use(
    db: Path, tmp_path: Path, text: str, problem: str
) -> None:
    before = outcomes_of(db)
    path = write(tmp_path / "outcomes.csv", text)
    with Store.open(db) as store, pytest.raises(OutcomesFileError) as caught:
        import_outcomes(store, path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)
    assert outcomes_of(db) == before


def test_import_outcomes_names_a_missing_or_unreadable_file(db: Path, tmp_path: Path) -> None:
    with Store.open(db) as store:
        with pytest.raises(OutcomesFileError, match=r"nope\.csv: no such file"):
            import_outcomes(store, tmp_path / "nope.csv")
        binary = tmp_path / "binary.csv"
        binary.write_bytes(b"call_id,outcome\n\xff\xfe\x00won\n")
        with pytest.raises(OutcomesFileError, match=r"binary\.csv: not a UTF-8 text file"):
            import_outcomes(store, binary)


def test_import_outcomes_reads_a_bom_and_header_case(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffCall_ID , Outcome\r\nalex-good,Closed Won\r\n".encode())
    with Store.open(db) as store:
        result = import_outcomes(store, path)
    assert result.written == [("alex-good", "won")]


# -- the report -----------------------------------------------------------------------------------


def test_build_report(report: Report) -> None:
    assert (report.period, report.by) == ("week", "rep")
    assert (report.first_date, report.last_date) == ("2026-11-03", "2026-12-03")
    assert (report.since, report.until) == (None, None)
    assert (report.calls, report.confirmed, report.reps, report.with_outcome) == (16, 2, 6, 10)
    assert (report.undated, report.unrecognised_outcomes) == (0, 1)
    assert report.top_vs_rest.top_reps == ["Pat", "Alex"]
    assert report.outcomes is not None and report.outcomes.calls == 10
    assert report.phase_titles["open"] == "Opening"
    assert report.item_texts["next_step"] == "Asks for a meeting with a day and time"
    assert int(report.progress["calls"].sum()) == 16


def test_build_report_over_a_range(store: Store) -> None:
    result = build_report(store, "day", "phase", since="2026-11-23", until="2026-11-25")
    assert result.calls == 4 and result.with_outcome == 0
    assert result.outcomes is None
    assert (result.first_date, result.last_date) == ("2026-11-23", "2026-11-25")
    assert sorted({p.strftime("%d") for p in result.progress["period"]}) == ["23", "24", "25"]


def test_a_call_without_a_date_is_compared_but_not_on_the_timeline(
    store: Store, mini_rubric: Rubric
) -> None:
    save(store, mini_rubric, "undated", "G", "Pat", None)
    result = build_report(store)
    assert (result.calls, result.undated) == (17, 1)
    assert int(result.progress["calls"].sum()) == 16
    assert result.top_vs_rest.reps.set_index("rep").loc["Pat", "calls"] == 3
    assert "1 without a date" in render_table(result)
    assert build_report(store, since="2026-11-01").calls == 16  # a range leaves it out


def test_build_report_on_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    with Store.open(path) as store, pytest.raises(AnalyzerError) as caught:
        build_report(store)
    assert str(caught.value) == f"no graded calls in {path}"


def test_build_report_on_a_range_with_no_calls(store: Store) -> None:
    with pytest.raises(AnalyzerError) as caught:
        build_report(store, since="2027-01-01", until="2027-01-31")
    assert str(caught.value) == (
        f"no graded calls from 2027-01-01 to 2027-01-31 in {store.path} "
        "(it has 16 graded calls, from 2026-11-03 to 2026-12-03)"
    )
    with pytest.raises(AnalyzerError, match="no graded calls from 2027-01-01 on"):
        build_report(store, since="2027-01-01")
    with pytest.raises(AnalyzerError, match="no graded calls up to 2020-01-01"):
        build_report(store, until="2020-01-01")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "2026-13-01"}, "since must be a date as YYYY-MM-DD, not '2026-13-01'"),
        ({"until": "yesterday"}, "until must be a date as YYYY-MM-DD, not 'yesterday'"),
        ({"since": "2026-12-01", "until": "2026-11-01"}, "since 2026-12-01 is after until"),
        ({"period": "year"}, "period must be one of day, week, month, not 'year'"),
        ({"by": "customer"}, "by must be one of rep, phase, item, not 'customer'"),
    ],
)
def test_build_report_refuses_bad_arguments(store: Store, kwargs: dict, message: str) -> None:
    with pytest.raises(AnalyzerError) as caught:
        build_report(store, **kwargs)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# -- rendering ------------------------------------------------------------------------------------


class Page(HTMLParser):
    """Collects what a browser would show: headings, tables, images; checks tags are closed."""

    VOID: ClassVar[set[str]] = {"meta", "img", "br", "link", "hr", "input"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.tables = 0
        self.text: list[str] = []
        self._heading: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        if tag == "table":
            self.tables += 1
        if tag in {"h1", "h2", "h3"}:
            self._heading = tag
            self.headings.append((tag, ""))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == self._heading:
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading is not None:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)


def parse_page(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_render_html_is_one_page_with_charts_and_tables(report: Report) -> None:
    text = render_html(report)
    assert text.startswith("<!DOCTYPE html>")
    page = parse_page(text)
    assert page.problems == [] and page.stack == []
    assert [h for h in page.headings if h[0] == "h1"] == [("h1", "Script adherence report")]
    h2 = [t for tag, t in page.headings if tag == "h2"]
    assert h2 == [
        "Team, by week",
        "Mean grade by rep, by week",
        "Top 20% of reps against the rest, by phase",
        "Adherence and closing",
    ]
    assert len(page.images) == 3  # progress, top vs rest, close rate by item
    for image in page.images:
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"))
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        assert image["alt"]
    assert '<img src="data:image/png;base64,' in text
    assert page.tables == 6  # team, progress, top vs rest, reps, items, bands
    shown = " ".join(page.text)
    assert "87.5 (2)" in shown  # Alex, week of 2026-11-23
    assert "Asks for a meeting with a day and time" in shown
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")  # self-contained
    assert "<style>" in text


def test_render_html_without_outcomes_and_with_odd_names(
    tmp_path: Path, mini_rubric: Rubric
) -> None:
    with Store.open(tmp_path / "odd.db") as store:
        save(store, mini_rubric, "odd", "G", "<b>Bo & Co</b>", "2026-11-25")
        result = build_report(store, "month", "item")
    text = render_html(result)
    page = parse_page(text)
    assert page.problems == [] and page.stack == []
    assert len(page.images) == 2  # no outcomes: no close-rate chart
    assert "<b>Bo" not in text and "&lt;b&gt;Bo &amp; Co&lt;/b&gt;" in text
    assert "analyzer outcomes import FILE" in " ".join(page.text)
    assert "Rest: no other rep to compare with." in " ".join(page.text)


def test_render_csv_parses(report: Report) -> None:
    text = render_csv(report)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "section",
        "period",
        "key",
        "group",
        "measure",
        "calls",
        "won",
        "value",
    ]
    sections = {r["section"] for r in rows}
    assert sections == {
        "team",
        "progress_by_rep",
        "reps",
        "top_vs_rest",
        "close_rate_by_item",
        "close_rate_by_grade",
    }
    alex = [r for r in rows if r["section"] == "progress_by_rep" and r["key"] == "Alex"]
    assert ("2026-11-23", "2", "87.5") in [(r["period"], r["calls"], r["value"]) for r in alex]
    next_step = {
        r["group"]: (r["calls"], r["won"], r["value"])
        for r in rows
        if r["section"] == "close_rate_by_item" and r["key"] == "next_step"
    }
    assert next_step == {
        "with": ("6", "5", "83.33"),
        "without": ("4", "0", "0.0"),
        "": ("", "", "83.33"),
    }
    bands = [
        (r["key"], r["calls"], r["won"], r["value"])
        for r in rows
        if r["section"] == "close_rate_by_grade"
    ]
    assert bands == [
        ("<50", "0", "0", ""),
        ("50-70", "4", "0", "0.0"),
        ("70-85", "1", "0", "0.0"),
        (">=85", "5", "5", "100.0"),
    ]
    frame = pd.read_csv(io.StringIO(text))
    assert len(frame) == len(rows)


def test_render_table(report: Report) -> None:
    text = render_table(report)
    lines = text.splitlines()
    assert lines[0].startswith("Script adherence report: ")
    assert "16 graded calls, 2 confirmed by a manager, 6 reps, 10 with a known outcome" in lines[1]
    assert "Team, by week" in lines
    assert "Mean grade by rep, by week" in lines
    assert any(line.split() == ["2026-11-23", "Alex", "2", "87.5"] for line in lines)
    assert any(line.split() == ["2026-11-23", "4", "2", "82.8", "75.0%", "1"] for line in lines)
    assert any(line.startswith("Top 20%: 2 of 6 reps") and "Pat (96.9)" in line for line in lines)
    assert any(line.split()[:2] == ["next_step", "6"] for line in lines)
    assert any(line.split() == [">=85", "5", "5", "100.0%"] for line in lines)


def test_write_report_is_whole_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report("<p>one</p>", out)
    write_report("<p>two</p>", out)
    assert out.read_text() == "<p>two</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    with pytest.raises(AnalyzerError, match="no such folder"):
        write_report("x", tmp_path / "missing" / "report.html")
    with pytest.raises(AnalyzerError, match="is a folder"):
        write_report("x", tmp_path)
    assert not (tmp_path / "missing").exists()


def test_write_report_leaves_an_existing_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report.csv"
    out.write_text("old")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("analyzer.reports.report.os.fsync", fail)
    with pytest.raises(AnalyzerError, match="cannot write the report"):
        write_report("new", out)
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


# -- the commands ---------------------------------------------------------------------------------


def test_the_report_command(db: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from analyzer.cli import main

    runner = CliRunner()
    table = runner.invoke(main, ["report", "--db", str(db), "--period", "month"])
    assert table.exit_code == 0, table.output
    assert table.output.startswith(f"Script adherence report: {db}\n")
    assert "Top 20% of reps against the rest, by phase" in table.output
    out = tmp_path / "team.html"
    html = runner.invoke(main, ["report", "--db", str(db), "--format", "html", "--out", str(out)])
    assert html.exit_code == 0, html.output
    assert html.output == f"Wrote the html report to {out}\n"
    page = out.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') >= 2
    empty_range = runner.invoke(main, ["report", "--db", str(db), "--since", "2030-01-01"])
    assert empty_range.exit_code == 1
    assert empty_range.output.startswith("Error: no graded calls from 2030-01-01")
    missing = runner.invoke(main, ["report", "--db", str(tmp_path / "none.db")])
    assert (missing.exit_code, missing.output) == (
        1,
        f"Error: {tmp_path / 'none.db'}: no such database (run `analyzer batch` first)\n",
    )


def test_the_outcomes_import_command(db: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from analyzer.cli import main

    before = outcomes_of(db)
    call = next(iter(before))
    path = write(
        tmp_path / "outcomes.csv",
        f"call_id,outcome\n{call},Closed-Won\nnobody,won\n{call}-x,maybe\n",
    )
    result = CliRunner().invoke(main, ["outcomes", "import", str(path), "--db", str(db)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}: 1 outcome written")
    assert lines[0].endswith("2 rows skipped")
    assert "  skipped line 3: unknown call id 'nobody'" in lines
    assert outcomes_of(db)[call] == "won"
    nothing = write(tmp_path / "bad.csv", "call_id,outcome\nnobody,won\n")
    refused = CliRunner().invoke(main, ["outcomes", "import", str(nothing), "--db", str(db)])
    assert refused.exit_code == 1
    assert outcomes_of(db)[call] == "won"  # nothing else changed
