"""`analyzer export`: rows from the reviews table and grade JSONs, each flag rule on and off, the
filters, the three formats, the bad-input messages, and nothing half-written."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pydantic import ValidationError

from analyzer.cli import main
from analyzer.config import ExportConfig
from analyzer.grading.grade import Evidence, grade_call
from analyzer.grading.rubric import Rubric
from analyzer.reports import export as export_module
from analyzer.reports.export import (
    COLUMNS,
    ExportError,
    ExportRow,
    export_rows,
    get_exporter,
    render,
    write_atomic,
)
from analyzer.review.decisions import ItemDecision, confirm_call, dispute_item
from analyzer.review.users import get_user
from analyzer.store import CallRecord, Store

from helpers import make_call
from reviewing import SAM_CALL, seed_review_db

# Sam's call that ends without a day and time: the engine is unsure whether it passes.
UNSURE_CALL = [*SAM_CALL[:6], ("Sam", "Can we book a demo sometime?"), ("Lee", "Maybe.")]
DEFAULT = ExportConfig()
ALL = ("sam-text", "alex-weak", "alex-good", "sam-good", "sam-unsure")  # oldest first


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mini_rubric: Rubric) -> Path:
    """The review database of tests/reviewing.py plus `sam-unsure` (2026-11-26): critical item
    missed, low confidence, with the closest thing said to the missed item at 00:30."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("analyzer.review.users.SCRYPT_N", 2**8)
        seeded = seed_review_db(tmp_path_factory.mktemp("template") / "review.db", mini_rubric)
    transcript = make_call(
        UNSURE_CALL, call_id="sam-unsure", rep="Sam", started_at="2026-11-26T10:00:00"
    )
    grade = grade_call(transcript, mini_rubric)
    assert {"critical_missed", "low_confidence"} <= set(grade.flags)
    for phase in grade.phases:  # what the engine stores when a sentence came near the item
        for item in phase.items:
            if item.id == "next_step":
                assert item.status == "missed"
                item.closest = Evidence(
                    turn=6,
                    start=30.0,
                    end=35.0,
                    speaker="Sam",
                    text=UNSURE_CALL[6][1],
                    phrase="Can we book a demo on Thursday at ten?",
                    score=0.55,
                    method="fuzzy",
                    in_phase=False,
                )
    record = CallRecord(
        call_id="sam-unsure", content_hash="hash-sam-unsure", rep="Sam", call_date="2026-11-26"
    )
    with Store.open(seeded.db) as store:
        store.save_call(record, transcript, grade)
    return seeded.db


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(template, tmp_path / "calls.db"))


@pytest.fixture
def store(db: Path):
    with Store.open(db) as opened:
        yield opened


def version(store: Store, call_id: str) -> int:
    with store.reading("test") as conn:
        return conn.execute("SELECT version FROM reviews WHERE call_id = ?", (call_id,)).fetchone()[
            0
        ]


def confirm(store: Store, call_id: str, *decisions: ItemDecision, comment: str = "") -> None:
    user = get_user(store, "maria")
    confirm_call(store, call_id, user, list(decisions), version(store, call_id), comment)


def dispute(store: Store, call_id: str, rep: str, item_id: str, comment: str) -> None:
    dispute_item(store, call_id, get_user(store, rep), item_id, comment, version(store, call_id))


def by_id(rows: list[ExportRow]) -> dict[str, ExportRow]:
    return {row.call_id: row for row in rows}


def flags_of(store: Store, rules: ExportConfig = DEFAULT, **filters) -> dict[str, list[str]]:
    return {r.call_id: r.flags for r in export_rows(store, rules, flagged_only=False, **filters)}


# -- rows ----------------------------------------------------------------------------------------


def test_default_export_is_the_flagged_calls_with_what_went_wrong(store):
    rows = export_rows(store, DEFAULT)
    assert [r.call_id for r in rows] == ["sam-text", "alex-weak", "sam-unsure"]
    weak = by_id(rows)["alex-weak"]
    assert weak == ExportRow(
        call_id="alex-weak",
        rep="Alex",
        call_date="2026-11-24",
        rubric="mini",
        rubric_version="1",
        suggested_grade=50.0,
        confirmed_grade=None,
        grade=50.0,
        passed=False,
        status="unreviewed",
        flags=["below_pass_mark", "critical_missed", "forbidden_said", "phase_below:close"],
        missed_items=["close/next_step", "close/no_pressure"],
        forbidden_said=['close/no_pressure: "This offer expires today, so think it over."'],
        comments=[],
        weak_moments=["00:20"],  # the forbidden line: "This offer expires today"
    )
    unsure = by_id(rows)["sam-unsure"]
    assert unsure.flags == ["critical_missed", "phase_below:close", "low_confidence"]
    assert (unsure.grade, unsure.passed, unsure.missed_items) == (75.0, False, ["close/next_step"])
    assert unsure.weak_moments == ["00:30"]  # the closest thing said to the missed item


def test_all_exports_every_call_oldest_first(store):
    rows = export_rows(store, DEFAULT, flagged_only=False)
    assert tuple(r.call_id for r in rows) == ALL
    good = by_id(rows)["alex-good"]
    assert (good.flags, good.missed_items, good.weak_moments, good.passed) == ([], [], [], True)
    assert all(r.status == "unreviewed" and r.confirmed_grade is None for r in rows)


@pytest.mark.parametrize(
    ("rule", "off", "call_id", "flag"),
    [
        ("below_pass_mark", False, "alex-weak", "below_pass_mark"),
        ("critical_missed", False, "alex-weak", "critical_missed"),
        ("phase_below_percent", None, "alex-weak", "phase_below:close"),
        ("low_confidence", False, "sam-unsure", "low_confidence"),
    ],
)
def test_each_suggested_grade_rule_can_be_turned_off(store, rule, off, call_id, flag):
    assert flag in flags_of(store)[call_id]
    without = flags_of(store, ExportConfig(**{rule: off}))[call_id]
    assert flag not in without
    assert without == [f for f in flags_of(store)[call_id] if f != flag]


def test_only_the_rules_that_are_on_decide_what_is_flagged(store):
    nothing = ExportConfig(
        below_pass_mark=False,
        critical_missed=False,
        phase_below_percent=None,
        low_confidence=False,
        disputed=False,
        override_points=None,
    )
    # forbidden_said has no [export] key to turn it off: a forbidden line said is always flagged
    assert [(r.call_id, r.flags) for r in export_rows(store, nothing)] == [
        ("alex-weak", ["forbidden_said"])
    ]
    only_below = nothing.model_copy(update={"below_pass_mark": True})
    assert [r.call_id for r in export_rows(store, only_below)] == ["sam-text", "alex-weak"]


def test_phase_below_percent_is_the_share_of_the_phase_weight(store):
    # sam-good's opening earned 15 of 20 (75%): under 80, not under 75.
    assert flags_of(store, ExportConfig(phase_below_percent=80))["sam-good"] == ["phase_below:open"]
    assert flags_of(store, ExportConfig(phase_below_percent=75))["sam-good"] == []
    # phases that did not happen (n/a) never count: alex-weak has no screen or pushback
    strict = flags_of(store, ExportConfig(phase_below_percent=100))["alex-weak"]
    assert [f for f in strict if f.startswith("phase_below:")] == [
        "phase_below:discover",
        "phase_below:close",
    ]


def test_the_confirmed_grade_decides_pass_missed_items_and_comments(store):
    confirm(
        store,
        "alex-weak",
        ItemDecision("next_step", "met", "asked for Thursday"),
        ItemDecision("questions", "met"),
        comment="better than it looks",
    )
    row = by_id(export_rows(store, DEFAULT, flagged_only=False))["alex-weak"]
    assert (row.suggested_grade, row.confirmed_grade, row.grade) == (50.0, 93.8, 93.8)
    assert (row.passed, row.status) == (True, "confirmed")
    assert row.flags == ["forbidden_said", "overridden:+43.8"]  # the manager kept it said
    assert row.missed_items == ["close/no_pressure"]
    assert row.forbidden_said == [
        'close/no_pressure: "This offer expires today, so think it over."'
    ]
    assert row.weak_moments == ["00:20"]
    assert row.comments == ["next_step: asked for Thursday", "maria: better than it looks"]


def test_a_forbidden_line_said_is_flagged_and_quoted_until_a_manager_clears_it(store):
    rows = by_id(export_rows(store, DEFAULT, flagged_only=False))
    assert [c for c, r in rows.items() if "forbidden_said" in r.flags] == ["alex-weak"]
    assert all(r.forbidden_said == [] for c, r in rows.items() if c != "alex-weak")
    confirm(store, "alex-weak", ItemDecision("no_pressure", "met", "a real deadline"))
    weak = by_id(export_rows(store, DEFAULT, flagged_only=False))["alex-weak"]
    assert weak.flags == ["below_pass_mark", "critical_missed", "phase_below:close"]
    assert weak.forbidden_said == []
    # Heard by a manager, not by the engine: flagged, with no sentence to quote; still passes.
    confirm(store, "alex-good", ItemDecision("no_pressure", "missed", "at 01:10"))
    good = by_id(export_rows(store, DEFAULT))["alex-good"]
    assert (good.flags, good.forbidden_said, good.passed) == (
        ["forbidden_said"],
        ["close/no_pressure"],
        True,
    )


def test_a_human_review_clears_low_confidence(store):
    assert "low_confidence" in flags_of(store)["sam-unsure"]
    confirm(store, "sam-unsure")
    assert flags_of(store)["sam-unsure"] == ["critical_missed", "phase_below:close"]


def test_override_points_flags_a_confirmed_grade_far_from_the_suggestion(store):
    confirm(store, "sam-good", ItemDecision("intro", "met"))  # 93.8 -> 100.0
    confirm(store, "alex-good", ItemDecision("permission", "missed", "never asked"))  # -> 90.0
    flags = flags_of(store)
    assert flags["sam-good"] == []  # +6.2: under the default 10 points
    assert flags["alex-good"] == ["overridden:-10"]  # at least 10 points, either way
    assert flags_of(store, ExportConfig(override_points=5))["sam-good"] == ["overridden:+6.2"]
    assert flags_of(store, ExportConfig(override_points=None))["alex-good"] == []
    good = by_id(export_rows(store, DEFAULT))["alex-good"]
    assert good.missed_items == ["open/permission"]
    assert good.weak_moments == ["00:30"]  # no closest sentence: where its phase began
    assert good.comments == ["permission: never asked"]


def test_an_open_dispute_is_flagged_with_the_reps_comment_until_resolved(store):
    dispute(store, "alex-good", "alex", "intro", "I said my name and company")
    row = by_id(export_rows(store, DEFAULT))["alex-good"]
    assert (row.status, row.flags) == ("disputed", ["disputed"])
    assert row.comments == ["alex disputes intro: I said my name and company"]
    assert "alex-good" not in by_id(export_rows(store, ExportConfig(disputed=False)))
    confirm(store, "alex-good", ItemDecision("intro", "met", "agreed"))
    row = by_id(export_rows(store, DEFAULT, flagged_only=False))["alex-good"]
    assert (row.status, row.flags, row.comments) == ("confirmed", [], ["intro: agreed"])


def test_rep_and_date_filters(store):
    assert list(flags_of(store, rep="aLeX")) == ["alex-weak", "alex-good"]
    assert list(flags_of(store, since="2026-11-24", until="2026-11-25")) == [
        "alex-weak",
        "alex-good",
        "sam-good",
    ]
    assert list(flags_of(store, rep="Sam", since="2026-11-25")) == ["sam-good", "sam-unsure"]
    assert list(flags_of(store, until="2026-11-23")) == ["sam-text"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"rep": "Zed"}, "no calls match: rep Zed"),
        (
            {"rep": "Alex", "since": "2026-11-01", "until": "2026-11-20"},
            "no calls match: rep Alex, 2026-11-01..2026-11-20",
        ),
        ({"since": "2026-12-01"}, "no calls match: 2026-12-01.."),
        ({"since": "2026-11-30", "until": "2026-11-01"}, "since 2026-11-30 is after until"),
        ({"since": "2026-11-31"}, "since must be a date as YYYY-MM-DD, not '2026-11-31'"),
        ({"until": "26-11-01"}, "until must be a date as YYYY-MM-DD, not '26-11-01'"),
    ],
)
def test_filters_that_match_nothing_or_make_no_sense_are_errors(store, filters, message):
    with pytest.raises(ExportError, match=f"^{message}"):
        export_rows(store, DEFAULT, **filters)


def test_a_flagged_export_with_nothing_flagged_is_empty_not_an_error(store):
    assert export_rows(store, DEFAULT, rep="sam", since="2026-11-25", until="2026-11-25") == []


def test_an_empty_database_is_an_error(tmp_path):
    with Store.open(tmp_path / "empty.db") as store, pytest.raises(ExportError) as caught:
        export_rows(store, DEFAULT)
    assert str(caught.value) == (
        f"{tmp_path / 'empty.db'}: no calls in the database (run `analyzer batch` first)"
    )


# -- formats -------------------------------------------------------------------------------------


@pytest.fixture
def reviewed(store) -> list[ExportRow]:
    """Every call, alex-weak confirmed with comments, alex-good disputed."""
    confirm(
        store,
        "alex-weak",
        ItemDecision("next_step", "met", "asked for Thursday"),
        ItemDecision("questions", "met"),
        comment='=HYPERLINK("http://x")',  # text, never a formula in the sheet
    )
    dispute(store, "alex-good", "alex", "intro", "I said it")
    return export_rows(store, DEFAULT, flagged_only=False)


def test_csv_has_a_header_and_lists_joined(reviewed):
    data = render(reviewed, "csv").decode("utf-8")
    records = list(csv.DictReader(io.StringIO(data)))
    assert tuple(records[0]) == COLUMNS
    assert [r["call_id"] for r in records] == list(ALL)
    weak = records[1]
    assert weak["flags"] == "forbidden_said; overridden:+43.8"
    assert (
        weak["forbidden_said"] == 'close/no_pressure: "This offer expires today, so think it over."'
    )
    assert records[3]["forbidden_said"] == ""  # sam-good never said it
    assert weak["comments"] == 'next_step: asked for Thursday; maria: =HYPERLINK("http://x")'
    assert (weak["grade"], weak["suggested_grade"], weak["passed"]) == ("93.8", "50.0", "True")
    assert records[0]["confirmed_grade"] == ""
    unsure = records[4]
    assert unsure["flags"] == "critical_missed; phase_below:close; low_confidence"
    assert (unsure["missed_items"], unsure["weak_moments"]) == ("close/next_step", "00:30")


def test_jsonl_is_one_object_per_call_with_lists_as_arrays(reviewed):
    lines = render(reviewed, "jsonl").decode("utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["call_id"] for o in objects] == list(ALL)
    assert tuple(objects[0]) == COLUMNS
    good = objects[2]
    assert good["comments"] == ["alex disputes intro: I said it"]
    assert good["flags"] == ["disputed"] and good["status"] == "disputed"
    assert objects[0]["confirmed_grade"] is None and objects[0]["passed"] is False


def test_xlsx_one_sheet_bold_header_frozen_sized(reviewed, tmp_path):
    path = tmp_path / "calls.xlsx"
    write_atomic(path, reviewed, "xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["calls"]
    sheet = book["calls"]
    values = list(sheet.values)
    assert values[0] == COLUMNS
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == len("sam-unsure") + 2
    assert sheet.column_dimensions["N"].width > len("comments") + 2
    weak = dict(zip(COLUMNS, values[2], strict=True))
    assert weak["call_id"] == "alex-weak"
    assert weak["call_date"] == datetime(2026, 11, 24)  # a real date: sorts and filters
    assert (weak["grade"], weak["passed"]) == (93.8, True)
    assert weak["comments"] == 'next_step: asked for Thursday; maria: =HYPERLINK("http://x")'
    assert weak["flags"] == "forbidden_said; overridden:+43.8"
    assert (
        weak["forbidden_said"] == 'close/no_pressure: "This offer expires today, so think it over."'
    )
    assert len(values) == 1 + len(ALL)


def test_xlsx_text_that_looks_like_a_formula_stays_text(tmp_path):
    """A rep name or call id from a file name or calls.csv is data, never a formula to run."""
    row = ExportRow(
        call_id="=1+1",
        rep='=HYPERLINK("http://x","click")',
        call_date=None,
        rubric="mini",
        rubric_version="1",
        suggested_grade=None,
        confirmed_grade=None,
        grade=None,
        passed=None,
        status="unreviewed",
        comments=["bell\x07 and tab\t"],
    )
    write_atomic(tmp_path / "x.xlsx", [row], "xlsx")
    sheet = load_workbook(tmp_path / "x.xlsx")["calls"]
    cells = dict(zip(COLUMNS, sheet[2], strict=True))
    assert (cells["call_id"].value, cells["call_id"].data_type) == ("=1+1", "s")
    assert (cells["rep"].value, cells["rep"].data_type) == ('=HYPERLINK("http://x","click")', "s")
    assert cells["comments"].value == "bell and tab\t"  # control characters Excel refuses: gone
    assert cells["grade"].value is None and cells["call_date"].value is None


def test_xlsx_with_no_rows_is_a_header(tmp_path):
    write_atomic(tmp_path / "none.xlsx", [], "xlsx")
    assert list(load_workbook(tmp_path / "none.xlsx")["calls"].values) == [COLUMNS]


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        get_exporter("pdf")


# -- nothing half-written --------------------------------------------------------------------------


def half_then(error: BaseException):
    def exporter(rows, out):
        out.write(b"call_id,rep\nhalf-a-row")
        out.flush()
        raise error

    return exporter


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("bug")])
def test_a_failure_while_writing_leaves_the_old_file_and_no_temp(
    store, tmp_path, monkeypatch, error
):
    out = tmp_path / "out" / "calls.csv"
    out.parent.mkdir()
    out.write_text("last week's export\n")
    monkeypatch.setitem(export_module.EXPORTERS, "csv", half_then(error))
    with pytest.raises(type(error) if isinstance(error, RuntimeError) else ExportError) as caught:
        write_atomic(out, export_rows(store, DEFAULT), "csv")
    if isinstance(error, OSError):
        assert str(caught.value) == (
            f"{out}: cannot write: No space left on device; nothing was written"
        )
    assert out.read_text() == "last week's export\n"
    assert [p.name for p in out.parent.iterdir()] == ["calls.csv"]


def test_a_new_file_is_not_created_when_writing_fails(store, tmp_path, monkeypatch):
    monkeypatch.setitem(export_module.EXPORTERS, "xlsx", half_then(RuntimeError("bug")))
    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "new.xlsx", export_rows(store, DEFAULT), "xlsx")
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("calls.db")] == []


def test_write_atomic_replaces_a_file_whole(store, tmp_path):
    out = tmp_path / "calls.jsonl"
    out.write_text("old\n")
    write_atomic(out, export_rows(store, DEFAULT), "jsonl")
    assert [json.loads(line)["call_id"] for line in out.read_text().splitlines()] == [
        "sam-text",
        "alex-weak",
        "sam-unsure",
    ]


def test_write_atomic_refuses_a_missing_folder_or_a_folder(tmp_path):
    with pytest.raises(ExportError, match=r"no such folder"):
        write_atomic(tmp_path / "nope" / "x.csv", [], "csv")
    with pytest.raises(ExportError, match=r"is a folder: give a file name"):
        write_atomic(tmp_path, [], "csv")


# -- the command -----------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no analyzer.toml but the tests' own

    def invoke(*args):
        return CliRunner().invoke(main, ["export", *map(str, args)])

    return invoke


def test_cli_csv_to_stdout_and_the_flagged_count_to_stderr(run, db):
    result = run("--db", db)
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["call_id"] for r in records] == ["sam-text", "alex-weak", "sam-unsure"]
    assert result.stderr == "3 of 5 calls flagged\n"


def test_cli_all_jsonl_filtered(run, db):
    result = run("--db", db, "--all", "--format", "jsonl", "--rep", "sam", "--until", "2026-11-25")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["call_id"] for line in result.stdout.splitlines()] == [
        "sam-text",
        "sam-good",
    ]
    assert result.stderr == ""


def test_cli_xlsx_to_a_file(run, db, tmp_path):
    out = tmp_path / "coaching.xlsx"
    result = run("--db", db, "--format", "xlsx", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"3 of 5 calls flagged\nWrote 3 calls to {out}\n"
    assert [row[0] for row in load_workbook(out)["calls"].values] == [
        "call_id",
        "sam-text",
        "alex-weak",
        "sam-unsure",
    ]


def test_cli_nothing_flagged_is_a_header_and_a_note(run, db):
    result = run("--db", db, "--rep", "Sam", "--since", "2026-11-25", "--until", "2026-11-25")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == ",".join(COLUMNS).encode() + b"\r\n"  # CSV's own CRLF
    assert result.stderr == "0 of 1 calls flagged\n"


def test_cli_no_database(run, tmp_path):
    result = run("--db", tmp_path / "missing.db")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'missing.db'}: no such database (run `analyzer batch` first)\n"
    )
    assert not (tmp_path / "missing.db").exists()


def test_cli_empty_database(run, tmp_path):
    Store.open(tmp_path / "empty.db").close()
    result = run("--db", tmp_path / "empty.db", "--out", tmp_path / "x.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'empty.db'}: no calls in the database (run `analyzer batch` first)\n"
    )
    assert not (tmp_path / "x.csv").exists()


def test_cli_no_call_in_range(run, db, tmp_path):
    out = tmp_path / "x.csv"
    out.write_text("keep\n")
    result = run(
        "--db", db, "--rep", "Alex", "--since", "2026-11-01", "--until", "2026-11-20", "--out", out
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: no calls match: rep Alex, 2026-11-01..2026-11-20\n"
    assert out.read_text() == "keep\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx"], "Error: --format xlsx writes a file: give --out FILE.xlsx"),
        (
            ["--since", "2026-11-31"],
            "Error: Invalid value for '--since': must be a date as YYYY-MM-DD, not '2026-11-31'",
        ),
        (
            ["--until", "yesterday"],
            "Error: Invalid value for '--until': must be a date as YYYY-MM-DD, not 'yesterday'",
        ),
        (
            ["--since", "2026-11-30", "--until", "2026-11-01"],
            "Error: --since 2026-11-30 is after --until 2026-11-01",
        ),
    ],
)
def test_cli_usage_errors(run, db, args, message):
    result = run("--db", db, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == message


def test_cli_a_failure_while_writing_leaves_the_file(run, db, tmp_path, monkeypatch):
    out = tmp_path / "x.csv"
    out.write_text("keep\n")
    monkeypatch.setitem(export_module.EXPORTERS, "csv", half_then(OSError(28, "No space left")))
    result = run("--db", db, "--out", out)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {out}: cannot write: No space left; nothing was written\n"
    assert out.read_text() == "keep\n"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("calls.db")] == ["x.csv"]
    # to stdout: nothing is printed unless all of it was made
    result = run("--db", db)
    assert result.exit_code == 1 and result.stdout == ""


def test_cli_rules_from_analyzer_toml(run, db, store, tmp_path):
    confirm(store, "alex-good", ItemDecision("permission", "missed"))  # 100 -> 90
    (tmp_path / "analyzer.toml").write_text(
        "[export]\nbelow_pass_mark = false\ncritical_missed = false\nphase_below_percent = 80\n"
        "override_points = false\n"
    )
    result = run("--db", db, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    flagged = {o["call_id"]: o["flags"] for o in map(json.loads, result.stdout.splitlines())}
    assert flagged == {
        "alex-weak": ["forbidden_said", "phase_below:discover", "phase_below:close"],
        "alex-good": ["phase_below:open"],  # 10 of 20; not overridden:-10, that rule is off
        "sam-good": ["phase_below:open"],
        "sam-text": ["phase_below:open", "phase_below:discover", "phase_below:close"],
        "sam-unsure": ["phase_below:open", "phase_below:close", "low_confidence"],
    }


def test_cli_bad_export_rules_are_all_reported(run, db, tmp_path):
    (tmp_path / "analyzer.toml").write_text(
        "[export]\nphase_below_percent = 150\noverride_points = -1\nflag_everything = true\n"
        "low_confidence = 3\n"
    )
    result = run("--db", db)
    assert result.exit_code == 1
    message = result.stderr
    assert message.startswith(f"Error: {tmp_path / 'analyzer.toml'}: ")
    assert "export.phase_below_percent: Input should be less than or equal to 100" in message
    assert "export.override_points: Input should be greater than 0" in message
    assert "export.flag_everything: unknown key" in message
    assert "export.low_confidence: Input should be a valid boolean" in message
    assert len(message.splitlines()) == 1


def test_export_config_defaults_and_false_turns_a_numeric_rule_off():
    rules = ExportConfig()
    assert (rules.phase_below_percent, rules.override_points) == (50, 10)
    assert rules.below_pass_mark and rules.critical_missed and rules.low_confidence
    assert rules.disputed
    off = ExportConfig.model_validate({"phase_below_percent": False, "override_points": False})
    assert (off.phase_below_percent, off.override_points) == (None, None)
    with pytest.raises(ValidationError, match="give a number, or false to turn the rule off"):
        ExportConfig.model_validate({"override_points": True})
