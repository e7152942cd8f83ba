"""Calibration: suggested against confirmed grades, the overrides, and the rubric suggestions."""

from __future__ import annotations

import copy
import doctest
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import analyzer.reports.calibrate
from analyzer.errors import CalibrationError
from analyzer.grading.grade import grade_call
from analyzer.grading.rubric import Rubric
from analyzer.reports.calibrate import (
    ConfirmedCall,
    calibrate,
    calibration_report,
    normalise,
    word_overlap,
    yaml_phrase_line,
)
from analyzer.reports.calibration import Suggestion, format_calibration
from analyzer.review.decisions import ItemDecision, confirm_call
from analyzer.review.rules import recompute_grade
from analyzer.review.users import get_user
from analyzer.store import CallRecord, Store

from helpers import make_call
from reviewing import WEAK_CALL, Seeded, seed_review_db

# Good calls that end without a day and time: the tool misses next_step (critical), and its
# nearest sentence (`closest`) is the rep's last one. Managers accept these as a next step.
OPENING = [
    ("Alex", "Hi Dana, this is Alex from Acme Solutions. Is now a bad time?"),
    ("Dana", "No, go ahead."),
    ("Alex", "How are you handling scheduling today? What is the biggest challenge with that?"),
    ("Dana", "It's a real headache for us."),
    ("Alex", "How many reps are on the team?"),
    ("Dana", "Eight."),
]
PENCIL = {  # call id -> (date, the rep's closing sentence)
    "alex-pencil-1": ("2026-11-26", "Can we pencil in a walkthrough on Thursday?"),
    "alex-pencil-2": ("2026-11-27", "Could we pencil in a walkthrough on Thursday?"),
    "alex-pencil-3": ("2026-11-28", "So can we pencil in a walkthrough on Friday?"),
    "alex-booktime": ("2026-11-29", "Can we book time on Thursday?"),  # said once only
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric) -> Seeded:
    """The review database of the other review tests plus the four calls above; nothing
    confirmed. Made once; each test works on its own copy."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("analyzer.review.users.SCRYPT_N", 2**8)
        seeded = seed_review_db(tmp_path_factory.mktemp("template") / "calibrate.db", mini_rubric)
    with Store.open(seeded.db) as store:
        for call_id, (day, closing) in PENCIL.items():
            lines = [*OPENING, ("Alex", closing), ("Dana", "Thursday works.")]
            transcript = make_call(
                lines, call_id=call_id, rep="Alex", started_at=f"{day}T10:00:00", step=5.0
            )
            record = CallRecord(
                call_id=call_id,
                content_hash=f"hash-{call_id}",
                source_path=f"{call_id}.json",
                rep="Alex",
                call_date=day,
            )
            store.save_call(record, transcript, grade_call(transcript, mini_rubric))
    return seeded


@pytest.fixture
def store(template: Seeded, tmp_path: Path):
    db = shutil.copy(template.db, tmp_path / template.db.name)
    with Store.open(db) as opened:
        yield opened


def confirm(store: Store, call_id: str, **statuses: str) -> dict[str, Any]:
    """Maria confirms the call, overriding the items given (item id=status)."""
    with store.reading("test") as conn:
        version = conn.execute(
            "SELECT version FROM reviews WHERE call_id = ?", (call_id,)
        ).fetchone()[0]
    decisions = [ItemDecision(item, status, "") for item, status in statuses.items()]
    saved = confirm_call(store, call_id, get_user(store, "maria"), decisions, version)
    assert saved.confirmed is not None
    return saved.confirmed


def item(report, item_id: str):
    return next(i for i in report.items if i.item_id == item_id)


# -- the seeded calls' suggestions, as the tests rely on them -----------------------------------


def test_the_extra_calls_miss_next_step_with_the_closing_sentence_as_closest(store: Store):
    for call_id, (_, closing) in PENCIL.items():
        grade = store.grade_json(call_id)
        assert grade is not None
        items = {i["id"]: i for p in grade["phases"] for i in p["items"]}
        assert items["next_step"]["status"] == "missed"
        assert items["next_step"]["closest"]["text"] == closing
        assert items["intro"]["status"] == "met"


# -- the figures, on a small case worked by hand --------------------------------------------------


def test_kappa_agreement_mae_and_bias_of_a_known_small_case(store: Store):
    # alex-weak: na met met partial met na missed missed (50.0); next_step missed -> met.
    # sam-good:  na partial met met met na met met (93.8); intro partial -> missed.
    confirm(store, "alex-weak", next_step="met")
    confirm(store, "sam-good", intro="missed")
    report = calibration_report(store)

    assert [c.call_id for c in report.calls] == ["alex-weak", "sam-good"]
    assert len(report.pairs) == 16
    assert report.agreement == pytest.approx(14 / 16)
    # tool: na 4, met 8, partial 2, missed 2; confirmed: na 4, met 9, partial 1, missed 2
    # pe = (16 + 72 + 2 + 4) / 256; kappa = (0.875 - pe) / (1 - pe) = 65/81
    assert report.kappa == pytest.approx(65 / 81)

    # alex-weak: 55 of the 80 points that applied -> 68.8; sam-good: 70 of 80 -> 87.5
    by_call = {c.call_id: c for c in report.calls}
    assert by_call["alex-weak"].confirmed_grade == 68.8
    assert by_call["alex-weak"].difference == -18.8
    assert by_call["sam-good"].suggested_grade == 93.8
    assert by_call["sam-good"].difference == 6.3
    assert report.mae == pytest.approx(12.55)
    assert report.bias == pytest.approx(-6.25)
    assert report.pass_agreed == 2  # alex-weak fails both ways (68.8 < 70), sam-good passes

    next_step = item(report, "next_step")
    assert (next_step.n, next_step.agreed, next_step.overrides) == (2, 1, 1)
    assert next_step.missed_by_tool == ["alex-weak"] and next_step.credited_wrongly == []
    assert next_step.kappa == pytest.approx(0.0)  # tool missed/met, managers met/met
    intro = item(report, "intro")
    assert intro.credited_wrongly == ["sam-good"] and intro.missed_by_tool == []
    assert intro.kappa == pytest.approx(1 / 3)
    assert item(report, "screen_ask").kappa is None  # na on both sides: undefined

    # ranked by overrides, then rubric order
    assert [i.item_id for i in report.items][:2] == ["intro", "next_step"]
    assert all(i.overrides == 0 for i in report.items[2:])
    assert report.suggestions == []  # one override per item is no pattern


def test_to_dict_is_json_and_carries_the_figures(store: Store):
    confirm(store, "alex-weak", next_step="met")
    confirm(store, "sam-good", intro="missed")
    data = json.loads(json.dumps(calibration_report(store).to_dict()))
    assert data["calls"] == 2 and data["pairs"] == 16
    assert data["overall"] == {
        "agreed": 14,
        "agreement": 0.875,
        "kappa": 0.8025,
        "overrides": 2,
        "missed_by_tool": 1,
        "credited_wrongly": 1,
    }
    assert data["grade"] == {"mae": 12.55, "bias": -6.25, "pass_agreed": 2, "calls": 2}
    assert data["items"][0] == {
        "item_id": "intro",
        "rubric": "mini",
        "phase": "open",
        "text": "Gives name and company",
        "n": 2,
        "agreed": 1,
        "agreement": 0.5,
        "kappa": 0.3333,
        "overrides": 1,
        "missed_by_tool": 0,
        "credited_wrongly": 1,
    }
    assert data["rubrics"] == [{"rubric": "mini", "version": "1"}]
    assert [c["call_id"] for c in data["per_call"]] == ["alex-weak", "sam-good"]
    assert data["suggestions"] == []


# -- suggestions ----------------------------------------------------------------------------------


def test_the_same_override_on_three_calls_suggests_lowering_the_bar(store: Store):
    for call_id in ("alex-pencil-1", "alex-pencil-2", "alex-pencil-3"):
        confirm(store, call_id, next_step="met")
    confirm(store, "alex-good")  # confirmed as suggested: next_step met, no override
    report = calibration_report(store)
    next_step = item(report, "next_step")
    assert (len(next_step.missed_by_tool), len(next_step.credited_wrongly)) == (3, 0)
    assert report.items[0] is next_step
    threshold = [s for s in report.suggestions if s.kind == "threshold"]
    assert threshold == [
        Suggestion(
            "threshold",
            "next_step",
            "mini",
            "lower the bar: add phrasings or use `match: auto`",
            "missed by the tool on 3 of 4 confirmed calls (credited wrongly on 0)",
            calls=("alex-pencil-1", "alex-pencil-2", "alex-pencil-3"),
        )
    ]


def test_two_overrides_or_a_balanced_item_suggest_no_threshold(store: Store):
    confirm(store, "alex-pencil-1", next_step="met")
    confirm(store, "alex-pencil-2", next_step="met")
    report = calibration_report(store)
    assert [s for s in report.suggestions if s.kind == "threshold"] == []


def test_an_item_credited_wrongly_three_times_names_the_phrase_that_matched(store: Store):
    # intro: alex-good met on "This is Alex from Acme Solutions"; the Sam calls partial on it
    for call_id in ("alex-good", "sam-good", "sam-text"):
        confirm(store, call_id, intro="missed")
    report = calibration_report(store)
    (suggestion,) = report.suggestions
    assert suggestion.kind == "threshold" and suggestion.item_id == "intro"
    assert suggestion.action == (
        'tighten: remove the phrase "This is Alex from Acme Solutions" that matched'
    )
    assert suggestion.phrase == "This is Alex from Acme Solutions"
    assert suggestion.reason == (
        "credited wrongly on 3 of 3 confirmed calls (missed by the tool on 0); "
        '"This is Alex from Acme Solutions" matched on 3 of those 3'
    )
    assert suggestion.calls == ("sam-text", "alex-good", "sam-good")  # by date, then id


def test_a_sentence_managers_keep_confirming_becomes_a_phrase_to_add(store: Store):
    for call_id in PENCIL:
        confirm(store, call_id, next_step="met")
    report = calibration_report(store)
    phrasing = [s for s in report.suggestions if s.kind == "phrasing"]
    # the three "pencil in a walkthrough" sentences group (same words, or >= 60% of them);
    # "Can we book time on Thursday?" shares 4 of 8 words with them: said on one call only
    assert len(phrasing) == 1
    (s,) = phrasing
    assert s.item_id == "next_step" and s.rubric == "mini"
    assert s.phrase == "Can we pencil in a walkthrough on Thursday?"
    assert s.yaml_line == '      - "Can we pencil in a walkthrough on Thursday?"'
    assert s.calls == ("alex-pencil-1", "alex-pencil-2", "alex-pencil-3")
    assert "3 calls" in s.reason
    # the threshold suggestion comes first, the phrasing after it
    assert [x.kind for x in report.suggestions] == ["threshold", "phrasing"]


def test_a_phrase_the_rubric_already_has_is_not_suggested_again(store: Store, mini_rubric):
    for call_id in ("alex-pencil-1", "alex-pencil-2"):
        confirm(store, call_id, next_step="met")
    assert [s.kind for s in calibration_report(store).suggestions] == ["phrasing"]
    data = mini_rubric.model_dump()
    data["phases"][4]["items"][0]["phrases"].append("Can we pencil in a walkthrough on Thursday?")
    extended = Rubric.model_validate(data)
    assert calibration_report(store, rubric=extended).suggestions == []


def test_the_text_output_lists_items_summary_and_numbered_suggestions(store: Store):
    for call_id in PENCIL:
        confirm(store, call_id, next_step="met")
    confirm(store, "alex-weak", next_step="met")
    text = format_calibration(calibration_report(store, since="2026-11-24"))
    lines = text.splitlines()
    assert lines[0] == (
        "Calibration: 5 confirmed calls (from 2026-11-24), rubric mini v1, 40 item pairs"
    )
    header = lines.index("Items, most overridden first (suggested vs confirmed):")
    assert lines[header + 1].split() == [
        "item", "n", "agree", "kappa", "overrides", "missed", "by", "tool", "credited", "wrongly"
    ]  # fmt: skip
    assert lines[header + 2].split() == ["next_step", "5", "0.00", "0.00", "5", "5", "0"]
    assert "Overall: agreement 0.88 (35 of 40 item pairs)" in text
    assert "Pass/fail: the same on 1 of 5 calls" in text
    assert "(suggested minus confirmed: the tool grades lower on average)" in text
    start = lines.index("Suggestions:")
    assert lines[start + 1 :] == [
        "  1. next_step: lower the bar: add phrasings or use `match: auto`",
        "     missed by the tool on 5 of 5 confirmed calls (credited wrongly on 0)",
        "  2. next_step: add a phrasing managers keep confirming under next_step's `phrases:` "
        "in the mini rubric",
        "     managers confirmed next_step met on 3 calls where the tool's nearest sentence was "
        '"Can we pencil in a walkthrough on Thursday?" or alike (the tool said missed)',
        '      - "Can we pencil in a walkthrough on Thursday?"',
    ]


def test_the_text_output_says_when_there_is_nothing_to_suggest(store: Store):
    confirm(store, "sam-good")
    text = format_calibration(calibration_report(store))
    assert "1 confirmed call (all dates)" in text
    assert "bias +0.0 (suggested minus confirmed: no lean either way)" in text
    assert text.endswith("Suggestions: none (no item is overridden the same way often enough)\n")


# -- the range and the errors --------------------------------------------------------------------


def test_since_and_until_keep_the_calls_of_those_days(store: Store):
    confirm(store, "sam-text", intro="missed")  # 2026-11-23
    confirm(store, "alex-weak", next_step="met")  # 2026-11-24
    confirm(store, "alex-good")  # 2026-11-25
    confirm(store, "alex-pencil-1", next_step="met")  # 2026-11-26

    def ids(**kwargs: str) -> list[str]:
        return [c.call_id for c in calibration_report(store, **kwargs).calls]

    assert ids() == ["sam-text", "alex-weak", "alex-good", "alex-pencil-1"]
    assert ids(since="2026-11-24") == ["alex-weak", "alex-good", "alex-pencil-1"]
    assert ids(until="2026-11-24") == ["sam-text", "alex-weak"]
    assert ids(since="2026-11-25", until="2026-11-25") == ["alex-good"]
    report = calibration_report(store, since="2026-11-25")
    assert (report.since, report.until) == ("2026-11-25", None)
    assert item(report, "intro").n == 2 and item(report, "intro").overrides == 0


def test_an_empty_database_says_to_confirm_calls_first(tmp_path: Path):
    with Store.open(tmp_path / "empty.db") as store, pytest.raises(CalibrationError) as caught:
        calibration_report(store)
    assert str(caught.value) == (
        "no confirmed grades in DB yet: confirm some calls on the review page first"
    )


def test_graded_calls_none_confirmed_is_the_same_message(store: Store):
    with pytest.raises(CalibrationError, match=r"^no confirmed grades in DB yet: confirm some"):
        calibration_report(store)


def test_a_range_with_no_confirmed_calls_says_which_range(store: Store):
    confirm(store, "alex-weak", next_step="met")  # 2026-11-24
    with pytest.raises(CalibrationError) as caught:
        calibration_report(store, since="2026-11-01", until="2026-11-23")
    assert str(caught.value) == "no confirmed calls from 2026-11-01 to 2026-11-23"
    with pytest.raises(CalibrationError, match=r"^no confirmed calls from 2026-12-01$"):
        calibration_report(store, since="2026-12-01")
    with pytest.raises(CalibrationError, match=r"^no confirmed calls up to 2026-11-01$"):
        calibration_report(store, until="2026-11-01")
    with pytest.raises(CalibrationError, match=r"^no confirmed calls of rubric other$"):
        calibration_report(store, rubric="other")


@pytest.mark.parametrize("bad", ["2026-13-01", "1/11/2026", "yesterday"])
def test_a_bad_date_is_refused(store: Store, bad: str):
    with pytest.raises(
        CalibrationError, match=f"--since must be a date as YYYY-MM-DD, not '{bad}'"
    ):
        calibration_report(store, since=bad)


def test_since_after_until_is_refused(store: Store):
    with pytest.raises(CalibrationError, match="--since 2026-11-30 is after --until 2026-11-01"):
        calibration_report(store, since="2026-11-30", until="2026-11-01")


def test_a_call_graded_again_under_a_new_rubric_version_counts_once_confirmed_again(
    store: Store, mini_rubric: Rubric
):
    confirm(store, "alex-weak", next_step="met")
    confirm(store, "sam-good")
    v2 = Rubric.model_validate({**mini_rubric.model_dump(), "version": 2})
    transcript = store.stored_transcript("hash-sam-good")
    assert transcript is not None
    store.save_call(
        CallRecord(call_id="sam-good", content_hash="hash-sam-good", rep="Sam"),
        transcript,
        grade_call(transcript, v2),
    )
    assert [c.call_id for c in calibration_report(store).calls] == ["alex-weak"]
    confirm(store, "sam-good", intro="missed")
    report = calibration_report(store)
    assert [(c.call_id, c.rubric_version) for c in report.calls] == [
        ("alex-weak", "1"),
        ("sam-good", "2"),
    ]


# -- the pure parts -------------------------------------------------------------------------------


def test_a_forbidden_item_flagged_wrongly_suggests_tightening_its_phrase(mini_rubric: Rubric):
    """For a forbidden item, missed means the rep said it: the tool marking it missed where
    managers say met is its phrase matching too easily."""
    weak = grade_call(make_call(WEAK_CALL, rep="Alex"), mini_rubric).to_dict()
    calls = []
    for n in range(3):
        confirmed = recompute_grade(weak, {"no_pressure": ("met", "just a reminder")})
        calls.append(ConfirmedCall(f"c{n}", f"2026-11-0{n + 1}", "Alex", weak, confirmed))
    report = calibrate(calls, rubric=mini_rubric)
    no_pressure = item(report, "no_pressure")
    assert len(no_pressure.missed_by_tool) == 3
    (suggestion,) = report.suggestions
    assert suggestion.action == 'tighten: remove the phrase "This offer expires today" that matched'
    assert suggestion.yaml_line is None


def test_an_auto_item_is_told_to_add_phrasings_only(mini_rubric: Rubric):
    data = mini_rubric.model_dump()
    data["phases"][4]["items"][0]["match"] = "auto"
    auto = Rubric.model_validate(data)
    weak = grade_call(make_call(WEAK_CALL, rep="Alex"), mini_rubric).to_dict()
    confirmed = recompute_grade(weak, {"next_step": ("met", "")})
    calls = [ConfirmedCall(f"c{n}", None, None, weak, confirmed) for n in range(3)]
    (suggestion,) = calibrate(calls, rubric=auto).suggestions
    assert suggestion.action == "lower the bar: add phrasings (it already uses `match: auto`)"


def test_items_of_two_rubrics_are_kept_apart(mini_rubric: Rubric):
    weak = grade_call(make_call(WEAK_CALL, rep="Alex"), mini_rubric).to_dict()
    other = copy.deepcopy(weak)
    other["rubric"] = "other"
    confirmed = recompute_grade(weak, {"next_step": ("met", "")})
    confirmed_other = copy.deepcopy(confirmed)
    confirmed_other["rubric"] = "other"
    report = calibrate(
        [
            ConfirmedCall("a", None, None, weak, confirmed),
            ConfirmedCall("b", None, None, other, confirmed_other),
        ]
    )
    next_steps = [i for i in report.items if i.item_id == "next_step"]
    assert sorted(i.rubric for i in next_steps) == ["mini", "other"]
    assert all(i.n == 1 for i in next_steps)
    assert "mini:next_step" in format_calibration(report)


def test_normalising_and_word_overlap():
    assert normalise("Can we pencil in a walk-through, on Thursday?!") == (
        "can we pencil in a walkthrough on thursday"
    )
    a = normalise("Can we pencil in a walkthrough on Thursday?")
    assert word_overlap(a, normalise("So can we pencil in a walkthrough on Friday?")) == 7 / 9
    assert word_overlap(a, normalise("Can we book time on Thursday?")) == 4 / 8
    assert word_overlap("", "") == 0.0
    assert yaml_phrase_line('He said "ok" \\ fine') == '      - "He said \\"ok\\" \\\\ fine"'


def test_the_doctests():
    assert doctest.testmod(analyzer.reports.calibrate).failed == 0


# -- the command ----------------------------------------------------------------------------------


def test_the_calibrate_command(store: Store) -> None:
    from click.testing import CliRunner

    from analyzer.cli import main
    from analyzer.review.decisions import ItemDecision, confirm_call
    from analyzer.review.users import get_user

    runner = CliRunner()
    db = str(store.path)
    empty = runner.invoke(main, ["calibrate", "--db", db])
    assert empty.exit_code == 1
    assert empty.output == (
        "Error: no confirmed grades in DB yet: confirm some calls on the review page first\n"
    )
    with store.reading("test") as conn:
        version = conn.execute(
            "SELECT version FROM reviews WHERE call_id = 'alex-weak'"
        ).fetchone()[0]
    decision = ItemDecision("next_step", "met", "booked by email")
    confirm_call(store, "alex-weak", get_user(store, "maria"), [decision], version)
    table = runner.invoke(main, ["calibrate", "--db", db])
    assert table.exit_code == 0, table.output
    assert table.output.startswith("Calibration: 1 confirmed call (all dates), rubric mini v1")
    assert "  next_step      1   0.00   0.00          1               1                 0" in (
        table.output
    )
    as_json = runner.invoke(main, ["calibrate", "--db", db, "--format", "json"])
    assert as_json.exit_code == 0
    assert '"kappa"' in as_json.output
    later = runner.invoke(main, ["calibrate", "--db", db, "--since", "2026-12-01"])
    assert (later.exit_code, later.output) == (
        1,
        "Error: no confirmed calls from 2026-12-01\n",
    )
    bad = runner.invoke(main, ["calibrate", "--db", db, "--since", "2026-13-01"])
    assert bad.exit_code == 2
    assert "must be a date as YYYY-MM-DD, not '2026-13-01'" in bad.output
    missing = runner.invoke(main, ["calibrate", "--db", str(store.path.with_name("no.db"))])
    assert missing.exit_code == 1
    assert "no.db: no such database (run `analyzer batch` first)" in missing.output
