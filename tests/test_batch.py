"""The nightly batch: idempotent, resumable, one run at a time, bad calls never stop the night."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.batch import CallJob, grade_job, hold_lock, run_batch
from analyzer.cli import main
from analyzer.config import Config, GradingConfig
from analyzer.discover import CallSource, discover_calls
from analyzer.errors import BatchBusyError, StoreError
from analyzer.settings import TranscribeSettings
from analyzer.store import Store

from conftest import MINI_RUBRIC
from helpers import TEXT_CALL

ROOT = Path(__file__).resolve().parents[1]

CALL = TEXT_CALL + "[00:40] Alex: Great, talk then.\n"


@pytest.fixture
def night(tmp_path):
    """A folder of five calls by two reps over two days, and a mini rubric."""
    folder = tmp_path / "night"
    folder.mkdir()
    for i, name in enumerate(
        [
            "2026-11-23_alex_1",
            "2026-11-23_alex_2",
            "2026-11-24_sam_3",
            "2026-11-24_sam_4",
            "2026-11-24_alex_5",
        ]
    ):
        (folder / f"{name}.txt").write_text(CALL.replace("Twelve", f"Twelve {i}"))
    rubric = tmp_path / "mini.yaml"
    rubric.write_text(MINI_RUBRIC)
    return folder, rubric


def config_for(rubric: Path) -> Config:
    return Config(
        grading=GradingConfig(rubric=rubric), transcription=TranscribeSettings(cache_dir=None)
    )


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_a_night_is_graded_once(night, tmp_path):
    folder, rubric = night
    db = tmp_path / "calls.db"
    first = run_batch([folder], config_for(rubric), db, workers=1)
    assert (first.found, len(first.graded), first.skipped, first.failed) == (5, 5, 0, [])
    again = run_batch([folder], config_for(rubric), db, workers=1)
    assert (len(again.graded), again.skipped) == (0, 5)
    assert rows(db, "select count(*) from grades") == [(5,)]
    assert rows(db, "select status, graded, skipped from batch_runs order by id") == [
        ("finished", 5, 0),
        ("finished", 0, 5),
    ]
    # metadata from the file name pattern {date}_{rep}_{id}
    assert rows(db, "select rep, call_date from calls where call_id = '2026-11-24_sam_3'") == [
        ("Sam", "2026-11-24")
    ]


def test_workers_grade_in_parallel_with_the_same_result(night, tmp_path):
    folder, rubric = night
    serial = run_batch([folder], config_for(rubric), tmp_path / "a.db", workers=1)
    parallel = run_batch([folder], config_for(rubric), tmp_path / "b.db", workers=2)
    assert sorted(serial.graded) == sorted(parallel.graded)


def test_each_worker_takes_the_parents_model_settings_and_its_share_of_the_cores(monkeypatch):
    """Two workers on two cores run the embedding model on one thread each, not two apiece
    (which made them fight for the cores), and with the model the parent was configured with."""
    import torch

    from analyzer import batch, semantic

    monkeypatch.setattr(semantic, "_configured", None)
    monkeypatch.setattr(semantic, "_layers", semantic.LAYERS)
    monkeypatch.setattr(semantic, "_threads", None)
    before = torch.get_num_threads()
    try:
        batch._start_worker(1, (Path("models/other-minilm"), 4))
        assert semantic.settings() == (Path("models/other-minilm"), 4)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_new_rubric_version_regrades_from_stored_transcripts(night, tmp_path):
    folder, rubric = night
    db = tmp_path / "calls.db"
    run_batch([folder], config_for(rubric), db, workers=1)
    for f in folder.iterdir():  # the files are gone: only stored transcripts can be used
        f.write_text(f.read_text())  # same content, same hash
    rubric.write_text(MINI_RUBRIC.replace("version: 1", "version: 2"))
    report = run_batch([folder], config_for(rubric), db, workers=1)
    assert len(report.graded) == 5 and report.skipped == 0
    assert rows(db, "select rubric_version, count(*) from grades group by 1") == [
        ("1", 5),
        ("2", 5),
    ]


def test_metadata_from_manifest_and_sidecar_and_missing_rows(night, tmp_path):
    folder, rubric = night
    (folder / "calls.csv").write_text(
        "file,rep,date,customer,call_type,outcome\n"
        "2026-11-23_alex_1.txt,Alex Moreno,2026-11-20,Northwind,prospecting,won\n"
        "gone.wav,Alex,2026-11-20,,,\n"
    )
    (folder / "2026-11-24_sam_3.meta.json").write_text(
        json.dumps({"rep": "Sam Lee", "outcome": "lost"})
    )
    db = tmp_path / "calls.db"
    report = run_batch([folder], config_for(rubric), db, workers=1)
    assert report.failed == [(str(folder / "gone.wav"), "listed in calls.csv but not found")]
    assert rows(
        db,
        "select rep, call_date, customer, outcome from calls where call_id = '2026-11-23_alex_1'",
    ) == [("Alex Moreno", "2026-11-20", "Northwind", "won")]
    assert rows(db, "select rep, outcome from calls where call_id = '2026-11-24_sam_3'") == [
        ("Sam Lee", "lost")
    ]
    assert rows(db, "select path, reason from batch_failures") == [
        (str(folder / "gone.wav"), "listed in calls.csv but not found")
    ]


def test_bad_calls_are_recorded_and_the_night_goes_on(night, tmp_path):
    folder, rubric = night
    (folder / "2026-11-24_sam_9.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "2026-11-24_sam_8.json").write_text("{not json")
    (folder / "2026-11-24_sam_7.wav").write_bytes(b"")
    db = tmp_path / "calls.db"
    report = run_batch([folder], config_for(rubric), db, workers=1)
    assert len(report.graded) == 5
    assert dict(report.failed) == {
        str(folder / "2026-11-24_sam_9.txt"): "not a transcript (binary data)",
        str(folder / "2026-11-24_sam_8.json"): dict(report.failed)[
            str(folder / "2026-11-24_sam_8.json")
        ],
        str(folder / "2026-11-24_sam_7.wav"): "empty file (0 bytes)",
    }
    assert "JSON" in dict(report.failed)[str(folder / "2026-11-24_sam_8.json")]


def test_a_file_that_vanishes_mid_run_is_a_failed_call(night, tmp_path):
    folder, rubric = night
    gone = folder / "vanished.txt"
    job = CallJob(CallSource(None, gone), "hash", "vanished", rubric)
    done = grade_job(job, TranscribeSettings(cache_dir=None))
    assert done.grade is None and done.error == "no such file"


def test_a_full_disk_fails_the_call_and_keeps_the_rest(night, tmp_path, monkeypatch):
    folder, rubric = night
    db = tmp_path / "calls.db"
    real = Store.save_call
    calls = {"n": 0}

    def flaky(self, call, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreError(f"disk full while saving {call.call_id} in {db}")
        return real(self, call, *args, **kwargs)

    monkeypatch.setattr(Store, "save_call", flaky)
    report = run_batch([folder], config_for(rubric), db, workers=1)
    assert len(report.graded) == 4 and len(report.failed) == 1
    assert report.failed[0][1].startswith("disk full while saving")
    monkeypatch.setattr(Store, "save_call", real)
    assert len(run_batch([folder], config_for(rubric), db, workers=1).graded) == 1


def test_a_second_run_at_once_is_refused(night, tmp_path):
    folder, rubric = night
    db = tmp_path / "calls.db"
    with hold_lock(db), pytest.raises(BatchBusyError) as info:
        run_batch([folder], config_for(rubric), db, workers=1)
    assert str(info.value).startswith(f"{db}: another batch run is using this database (pid ")
    assert str(info.value).endswith("wait for it to finish")
    assert len(run_batch([folder], config_for(rubric), db, workers=1).graded) == 5


def test_a_read_only_database_path_is_refused_at_start(night, tmp_path):
    folder, rubric = night
    with pytest.raises(StoreError, match=r"cannot write the database at .*missing folder"):
        run_batch([folder], config_for(rubric), tmp_path / "no" / "calls.db", workers=1)


def test_since_keeps_later_calls_only(night, tmp_path):
    from datetime import date

    folder, rubric = night
    report = run_batch(
        [folder], config_for(rubric), tmp_path / "c.db", workers=1, since=date(2026, 11, 24)
    )
    assert sorted(c for c, _, _ in report.graded) == [
        "2026-11-24_alex_5",
        "2026-11-24_sam_3",
        "2026-11-24_sam_4",
    ]


@pytest.mark.slow
def test_kill_minus_nine_then_rerun_finishes_the_rest(tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    for i in range(400):
        (folder / f"2026-11-23_alex_{i:04d}.txt").write_text(CALL.replace("Twelve", f"{i} reps"))
    rubric = tmp_path / "mini.yaml"
    rubric.write_text(MINI_RUBRIC)
    db = tmp_path / "calls.db"
    cmd = [
        sys.executable,
        "-m",
        "analyzer.cli",
        "batch",
        str(folder),
        "--db",
        str(db),
        "--rubric",
        str(rubric),
        "--workers",
        "1",
        "--quiet",
        "--no-cache",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.05)
        if db.exists():
            try:
                if rows(db, "select count(*) from grades")[0][0] >= 20:
                    break
            except sqlite3.Error:
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = rows(db, "select count(*) from grades")[0][0]
    assert 20 <= stored < 400, "the run was not killed mid-way"
    assert rows(db, "pragma integrity_check") == [("ok",)]
    # every stored call is whole: one grade with all its items
    assert rows(
        db,
        "select count(*) from grades g where (select count(*) from item_results i "
        "where i.grade_id = g.id) != 8",
    ) == [(0,)]
    report = run_batch([folder], config_for(rubric), db, workers=2)
    assert report.skipped == stored and len(report.graded) == 400 - stored
    assert rows(db, "select count(*) from grades") == [(400,)]
    assert rows(db, "select status from batch_runs order by id") == [
        ("interrupted",),
        ("finished",),
    ]


def test_cli_batch_summary_exit_code_and_calls_listing(night, tmp_path):
    folder, rubric = night
    (folder / "broken.json").write_text("{")
    db = tmp_path / "calls.db"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "batch",
            str(folder),
            "--db",
            str(db),
            "--rubric",
            str(rubric),
            "--workers",
            "1",
            "--no-cache",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "5 graded, 0 already graded, 1 failed" in result.stdout
    assert f"  {folder / 'broken.json'}: " in result.stdout
    listing = runner.invoke(main, ["calls", "--db", str(db), "--format", "json", "--rep", "sam"])
    assert listing.exit_code == 0
    assert [json.loads(x)["call_id"] for x in listing.stdout.splitlines()] == [
        "2026-11-24_sam_3",
        "2026-11-24_sam_4",
    ]
    csv_out = runner.invoke(main, ["calls", "--db", str(db), "--format", "csv"]).stdout
    assert csv_out.splitlines()[0] == "call_id,date,rep,grade,passed,flags,rubric,duration,source"
    missing = runner.invoke(main, ["calls", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1
    assert "none.db: no such database (run `analyzer batch` first)" in missing.stderr


def test_cli_batch_stores_and_lists_a_forbidden_line_said(night, tmp_path):
    folder, rubric = night
    pushy = folder / "2026-11-24_alex_6.txt"
    pushy.write_text(
        CALL + "[00:45] Alex: Prices go up next month anyway, this offer expires today.\n"
    )
    db = tmp_path / "calls.db"
    runner = CliRunner()
    args = ["batch", str(folder), "--db", str(db), "--rubric", str(rubric), "--workers", "1"]
    result = runner.invoke(main, [*args, "--no-cache"])
    assert result.exit_code == 0, result.output
    # the summary lists it for review: it passes, and only the forbidden line flags it
    assert "Flagged for review (1):" in result.stdout
    assert "   93.8  2026-11-24_alex_6  [forbidden_said]" in result.stdout
    stored = rows(
        db,
        "select g.call_id, g.passed, g.flags_json, r.priority from grades g "
        "join reviews r on r.suggested_id = g.id order by g.call_id",
    )
    assert [(c, p, json.loads(f)) for c, p, f, _ in stored if "forbidden_said" in f] == [
        ("2026-11-24_alex_6", 1, ["forbidden_said"])
    ]
    assert {c: priority for c, _, _, priority in stored}["2026-11-24_alex_6"] == 8
    listing = runner.invoke(main, ["calls", "--db", str(db), "--flagged", "--format", "json"])
    assert [json.loads(x)["call_id"] for x in listing.stdout.splitlines()] == ["2026-11-24_alex_6"]


def test_samples_batch_like_the_demo(tmp_path):
    calls, problems = discover_calls([ROOT / "samples"])
    assert problems == [] and len(calls) >= 12
    report = run_batch([ROOT / "samples"], Config(), tmp_path / "demo.db", workers=2)
    assert report.failed == [] and len(report.graded) == len(calls)
    reps = {r[0] for r in rows(tmp_path / "demo.db", "select rep from calls")}
    assert len(reps) >= 4


def test_samples_survive_being_copied(tmp_path):
    copy = tmp_path / "samples"
    shutil.copytree(ROOT / "samples", copy)
    assert discover_calls([copy])[1] == []
