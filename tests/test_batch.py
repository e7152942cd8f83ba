"""The nightly batch: idempotent, resumable, one run at a time, bad calls never stop the night."""

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.config import Config, GradingConfig
from analyzer.errors import BatchBusyError, StoreError
from analyzer.runs.batch import (
    BatchReport,
    _store,
    hold_lock,
    run_batch,
)
from analyzer.runs.discover import CallSource, discover_calls
from analyzer.runs.worker import CallJob, grade_job
from analyzer.speech.settings import TranscribeSettings
from analyzer.store import Store
from analyzer.transcripts.transcript import Turn

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


def batch_command(folder: Path, db: Path, rubric: Path, workers: int) -> list[str]:
    """`analyzer batch` as a night's cron job runs it."""
    return [
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
        str(workers),
        "--quiet",
        "--no-cache",
    ]


def a_long_night(tmp_path: Path, calls: int = 400) -> tuple[Path, Path]:
    folder = tmp_path / "night"
    folder.mkdir()
    for i in range(calls):
        (folder / f"2026-11-23_alex_{i:04d}.txt").write_text(CALL.replace("Twelve", f"{i} reps"))
    rubric = tmp_path / "mini.yaml"
    rubric.write_text(MINI_RUBRIC)
    return folder, rubric


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return state, int(parent)


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    """The live processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None and stat[1] == pid and alive(int(entry)):
                found.append(int(entry))
    return sorted(found)


def open_files(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            found.add(os.readlink(fd))
    return found


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

    from analyzer.grading import semantic
    from analyzer.runs import batch

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
    folder, rubric = a_long_night(tmp_path)
    db = tmp_path / "calls.db"
    cmd = batch_command(folder, db, rubric, workers=1)
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


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_kill_minus_nine_of_the_parent_alone_leaves_no_workers_and_frees_the_database(tmp_path):
    """The nightly job killed outright (an OOM kill, `kill -9` of the pid in the lock file) while
    its workers grade: the workers die with it, never held the lock, and the next run starts at
    once, records the killed run as interrupted with what it did, and finishes the night."""
    folder, rubric = a_long_night(tmp_path)
    db = tmp_path / "calls.db"
    cmd = batch_command(folder, db, rubric, workers=2)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    rerun: subprocess.Popen[str] | None = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
            workers = children(proc.pid)
            with contextlib.suppress(sqlite3.Error):
                if len(workers) == 2 and rows(db, "select count(*) from grades")[0][0] >= 10:
                    break
        assert len(workers) == 2, "the batch did not start two workers"
        lock = os.path.realpath(db) + ".lock"
        assert all(lock not in open_files(w) for w in workers)  # only the parent has the lock
        with pytest.raises(BatchBusyError), hold_lock(db):  # and it still holds it
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        rerun = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 2
        while time.time() < deadline and any(alive(w) for w in workers):
            time.sleep(0.05)
        assert [w for w in workers if alive(w)] == [], "the killed batch's workers live on"
        out, err = rerun.communicate(timeout=300)
    finally:  # whatever failed, leave no batch running
        for leftover in (proc, rerun):
            if leftover is not None and leftover.poll() is None:
                leftover.kill()
                leftover.wait()
        for worker in workers:
            if alive(worker) and b"analyzer.cli" in Path(f"/proc/{worker}/cmdline").read_bytes():
                os.kill(worker, signal.SIGKILL)
    assert rerun.returncode == 0, err
    assert "400 calls found" in out and ", 0 failed" in out
    assert rows(db, "select count(*) from grades") == [(400,)]
    (first, first_graded, first_started, first_ended), (second, *_) = rows(
        db, "select status, graded, started_at, finished_at from batch_runs order by id"
    )
    assert (first, second) == ("interrupted", "finished")
    # what the killed run did, as the database shows it: its grades, and when it stored the last
    assert rows(db, "select count(*) from grades where run_id = 1") == [(first_graded,)]
    assert 10 <= first_graded < 400
    last_stored = rows(db, "select max(created_at) from grades where run_id = 1")[0][0]
    assert first_started <= first_ended == last_stored


def test_a_worker_whose_parent_is_already_gone_ends_at_once():
    """A parent killed between starting a worker and the worker asking to die with it: the
    worker finds another parent than the one it was started by, and ends at once."""

    def worker(parent: str) -> subprocess.CompletedProcess[str]:
        script = (
            "import os\nfrom analyzer.runs.batch import die_with_parent\n"
            f"die_with_parent({parent})\nprint('still here')\n"
        )
        return subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
        )

    gone = worker(str(os.getpid() + 1_000_000))  # not this process: a parent that was
    assert (gone.returncode, gone.stdout) == (1, "")
    kept = worker("os.getppid()")
    assert (kept.returncode, kept.stdout) == (0, "still here\n")


def test_every_path_to_a_database_takes_the_same_lock(night, tmp_path, monkeypatch):
    folder, rubric = night
    db = tmp_path / "calls.db"
    Store.open(db).close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "link.db"
    link.symlink_to(db)
    monkeypatch.chdir(tmp_path)
    for other in (link, Path("calls.db"), Path("./calls.db"), elsewhere / ".." / "calls.db"):
        with hold_lock(db), pytest.raises(BatchBusyError) as info:
            run_batch([folder], config_for(rubric), other, workers=1)
        assert str(info.value).startswith(
            f"{other}: another batch run is using this database (pid {os.getpid()}, started "
        )
    with hold_lock(link), pytest.raises(BatchBusyError):  # and the other way round
        run_batch([folder], config_for(rubric), db, workers=1)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["link.db"]  # the lock is by the file
    assert len(run_batch([folder], config_for(rubric), link, workers=1).graded) == 5


def test_a_call_that_cannot_be_stored_fails_alone(night, tmp_path):
    """Storing a call fails (here: text that is not valid Unicode, a lone surrogate): the call
    is recorded as failed with why, nothing of it is stored, and the calls around it are."""
    folder, rubric = night
    db = tmp_path / "calls.db"
    settings = TranscribeSettings(cache_dir=None)
    outcomes = []
    for n, path in enumerate(sorted(folder.iterdir())[:3]):
        source = CallSource(None, path, {"rep": "Alex"})
        outcomes.append(grade_job(CallJob(source, f"hash-{n}", path.stem, rubric), settings))
    broken = outcomes[1].transcript
    broken.turns[0] = Turn(broken.turns[0].speaker, "Hi Dana \ud800", 0.0, 5.0)
    with Store.open(db) as store:
        report = BatchReport(store.start_run({}))
        for outcome in outcomes:
            _store(store, report, outcome)
        assert [call for call, _, _ in report.graded] == [
            outcomes[0].job.call_id,
            outcomes[2].job.call_id,
        ]
        reason = (
            "text that is not valid Unicode (surrogates not allowed) "
            f"while saving {outcomes[1].job.call_id} in {db}"
        )
        assert report.failed == [(str(outcomes[1].job.source.path), reason)]
        assert [(f["path"], f["reason"]) for f in store.run_failures(report.run_id)] == [
            (str(outcomes[1].job.source.path), reason)
        ]
    for table in ("calls", "transcripts", "grades", "reviews"):
        assert rows(db, f"select call_id from {table} order by call_id") == [
            (outcomes[0].job.call_id,),
            (outcomes[2].job.call_id,),
        ]


def test_stored_transcripts_that_cannot_be_regraded_or_stored_fail_and_the_night_goes_on(
    night, tmp_path
):
    """A new rubric version re-grades stored transcripts, two of which hold a lone surrogate
    (not valid Unicode): one in its text (grading it fails), one in its metadata (storing it
    fails). Every run records both as failed and finishes; their old grades stay."""
    folder, rubric = night
    db = tmp_path / "calls.db"
    run_batch([folder], config_for(rubric), db, workers=1)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "update transcripts set transcript_json = replace(transcript_json, 'Twelve 2', "
            "'Twelve \\ud800') where call_id = '2026-11-24_sam_3'"
        )
        conn.execute(
            "update transcripts set transcript_json = json_set(transcript_json, '$.metadata', "
            "json('{\"note\": \"\\ud800\"}')) where call_id = '2026-11-24_sam_4'"
        )
    rubric.write_text(MINI_RUBRIC.replace("version: 1", "version: 2"))
    failed = [
        (
            str(folder / "2026-11-24_sam_3.txt"),
            "internal error: UnicodeEncodeError: 'utf-8' codec can't encode character '\\ud800' "
            "in position 0: surrogates not allowed",
        ),
        (
            str(folder / "2026-11-24_sam_4.txt"),
            "text that is not valid Unicode (surrogates not allowed) "
            f"while saving 2026-11-24_sam_4 in {db}",
        ),
    ]
    for graded in (3, 0):
        report = run_batch([folder], config_for(rubric), db, workers=1)
        assert (len(report.graded), report.failed) == (graded, failed)
    assert rows(db, "select status, graded, failed from batch_runs order by id") == [
        ("finished", 5, 0),
        ("finished", 3, 2),
        ("finished", 0, 2),
    ]
    assert rows(
        db,
        "select call_id, group_concat(rubric_version) from grades "
        "where call_id like '%sam%' group by call_id order by call_id",
    ) == [("2026-11-24_sam_3", "1"), ("2026-11-24_sam_4", "1")]


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


def _wav(tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
    """A WAV file whose header declares these fields, over 0.1 s of silence."""
    align = channels * max(bits, 8) // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * align) & 0xFFFF_FFFF, align, bits)
    payload = bytes(1600)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_a_night_of_every_known_bad_input_grades_the_good_and_fails_the_bad_once(tmp_path):
    """The fault probe's reproductions in one folder beside good calls: the good ones (and the
    mended ones) are graded, each bad one is recorded as failed with its reason, the run exits
    1, no file takes over 5 s, and a second run grades nothing more."""
    folder, rubric = tmp_path / "night", tmp_path / "mini.yaml"
    folder.mkdir()
    rubric.write_text(MINI_RUBRIC)
    (folder / "2026-11-23_alex_1.txt").write_text(CALL)
    turns = [{"speaker": "Rep\ud800", "text": "Hi, this is Alex from Acme Solutions\ud800."}]
    (folder / "2026-11-23_alex_2.json").write_text(json.dumps({"turns": turns}))
    many = [{"speaker": "Rep" if i % 2 else "Customer", "text": "Okay."} for i in range(50_000)]
    (folder / "2026-11-23_alex_3.json").write_text(json.dumps({"turns": many}))
    (folder / "2026-11-23_alex_4.md").write_text("[" * 100_000)
    (folder / "2026-11-23_alex_5.txt").write_text(("A" * 39 + ":") * 10_000)
    (folder / "2026-11-23_alex_6.txt").write_text(CALL.replace("Twelve", "Twelve 6"))
    (folder / "2026-11-23_alex_6.meta.json").write_text(json.dumps({"call_id": "../../x?y=1#<b>"}))
    (folder / "2026-11-23_alex_7.txt").write_bytes(
        CALL.replace("Twelve", "Twelve 7").encode("utf-16-le")
    )
    for i, header in enumerate(
        [_wav(bits=0), _wav(tag=3), _wav(tag=0), _wav(channels=163), _wav(rate=486_000_000)]
    ):
        (folder / f"2026-11-23_alex_w{i}.wav").write_bytes(header)
    db = tmp_path / "calls.db"
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["batch", str(folder), "--db", str(db), "--rubric", str(rubric)]
    )
    took = time.perf_counter() - started
    assert result.exit_code == 1, result.output
    assert took < 5 * 14
    graded = {r[0] for r in rows(db, "SELECT call_id FROM calls")}
    assert graded == {
        "2026-11-23_alex_1",
        "2026-11-23_alex_2",
        "2026-11-23_alex_5",
        "x-y-1-b",
        "2026-11-23_alex_7",
    }
    failed = dict(rows(db, "SELECT path, reason FROM batch_failures"))
    names = {Path(p).name: reason for p, reason in failed.items()}
    assert names["2026-11-23_alex_3.json"] == "the call has 50,000 turns; at most 20,000 are graded"
    assert "not a readable audio stream (bits per sample 0)" in names["2026-11-23_alex_w0.wav"]
    assert "163 channels; at most 8 are supported" in names["2026-11-23_alex_w3.wav"]
    assert all(not r.startswith("internal error") for r in failed.values()), failed
    with sqlite3.connect(db) as conn:
        for (name,) in conn.execute("SELECT rep FROM calls"):
            name.encode("utf-8")
    again = CliRunner().invoke(
        main, ["batch", str(folder), "--db", str(db), "--rubric", str(rubric)]
    )
    assert "0 graded" in again.output, again.output
    assert {r[0] for r in rows(db, "SELECT call_id FROM calls")} == graded
