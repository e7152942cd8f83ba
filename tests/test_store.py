"""The SQLite store: schema and migrations, saving calls atomically, queries, batch runs, errors."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.errors import AnalyzerError, StoreError
from analyzer.grading.grade import Grade, grade_call
from analyzer.grading.rubric import Rubric
from analyzer.store import CallRecord, CallSummary, Store, latest_version, split_statements
from analyzer.store import store as store_module
from analyzer.transcripts.transcript import Transcript

from helpers import GOOD_CALL, make_call

NEXT = latest_version() + 1  # the version a test's own extra migration gets

ROOT = Path(__file__).resolve().parents[1]

BAD_CALL = [
    ("Alex", "Hello, is that Dana?"),
    ("Dana", "Yes."),
    ("Alex", "We sell software, want some? This offer expires today."),
    ("Dana", "No thanks, bye."),
]


@pytest.fixture(scope="module")
def good(mini_rubric: Rubric) -> tuple[Transcript, Grade]:
    call = make_call(GOOD_CALL, call_id="good", rep="Alex", started_at="2026-11-25T10:00:00")
    call.source.update({"backend": "faster-whisper", "model": "base.en"})
    return call, grade_call(call, mini_rubric)


@pytest.fixture(scope="module")
def bad(mini_rubric: Rubric) -> tuple[Transcript, Grade]:
    call = make_call(BAD_CALL, call_id="bad", rep="Alex")
    return call, grade_call(call, mini_rubric)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "analyzer.db"


@pytest.fixture
def store(db: Path):
    with Store.open(db) as opened:
        yield opened


def record(call_id: str, **kwargs) -> CallRecord:
    return CallRecord(
        call_id=call_id, content_hash=kwargs.pop("content_hash", f"hash-{call_id}"), **kwargs
    )


def count(store: Store, table: str, where: str = "", params: tuple = ()) -> int:
    sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
    return store._conn.execute(sql, params).fetchone()[0]


def evidence_rows(grade: Grade) -> int:
    return sum(len(i.evidence) for p in grade.phases for i in p.items)


def item_rows(grade: Grade) -> int:
    return sum(len(p.items) for p in grade.phases)


def with_version(grade: Grade, version: int | str, **changes) -> Grade:
    return dataclasses.replace(grade, rubric_version=version, **changes)


# -- opening, settings, migrations ------------------------------------------------------------


def test_open_creates_a_wal_database_with_foreign_keys(db: Path) -> None:
    with Store.open(str(db)) as store:
        conn = store._conn
        assert store.path == db
        assert db.exists()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.isolation_level is None
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {
            "schema_migrations",
            "calls",
            "transcripts",
            "batch_runs",
            "batch_failures",
            "grades",
            "item_results",
            "evidence",
        } <= tables
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"calls_rep", "calls_call_date", "grades_rubric", "evidence_grade"} <= indexes


def test_migrations_are_recorded_once(db: Path) -> None:
    with Store.open(db) as store:
        assert store.schema_version() == latest_version() == 3
    with Store.open(db) as store:
        rows = store._conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    assert [(v, n) for v, n, _ in rows] == [(m[0], m[1]) for m in store_module.MIGRATIONS]
    assert all(at.startswith("20") for _, _, at in rows)


def test_a_new_migration_applies_once_and_is_recorded(
    db: Path, monkeypatch: pytest.MonkeyPatch, good
) -> None:
    transcript, grade = good
    with Store.open(db) as store:
        store.save_call(record("a"), transcript, grade)
    migration = (
        NEXT,
        "notes",
        """
        CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            grade_id INTEGER NOT NULL REFERENCES grades(id) ON DELETE CASCADE,
            note TEXT  -- a comment; with a semicolon
        );
        CREATE TRIGGER notes_note AFTER INSERT ON notes BEGIN
            UPDATE notes SET note = coalesce(note, 'none;') WHERE id = NEW.id;
        END;
        INSERT INTO notes (grade_id) SELECT id FROM grades;
        """,
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, migration])
    for _ in range(2):
        with Store.open(db) as store:
            assert store.schema_version() == NEXT
            assert store._conn.execute("SELECT note FROM notes").fetchall() == [("none;",)]
            versions = store._conn.execute(
                "SELECT version, name FROM schema_migrations ORDER BY version"
            ).fetchall()
            assert versions == [
                *((m[0], m[1]) for m in store_module.MIGRATIONS[:-1]),
                (NEXT, "notes"),
            ]
            assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_failing_migration_is_rolled_back(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db).close()
    broken = (NEXT, "broken", "CREATE TABLE half (x);\nINSERT INTO nowhere VALUES (1);")
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, broken])
    with pytest.raises(StoreError, match="no such table: nowhere") as info:
        Store.open(db)
    assert isinstance(info.value.__cause__, sqlite3.Error)
    monkeypatch.undo()
    with Store.open(db) as store:
        assert store.schema_version() == NEXT - 1
        assert count(store, "sqlite_master", "name = 'half'") == 0


def test_a_migration_that_breaks_a_foreign_key_is_refused(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(db).close()
    orphan = (
        NEXT,
        "orphan",
        "INSERT INTO batch_failures (run_id, path, reason, at) VALUES (42, 'x', 'y', 'z');",
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, orphan])
    with pytest.raises(StoreError) as info:
        Store.open(db)
    assert str(info.value) == (
        f"{db}: migration {NEXT} (orphan) breaks a foreign key in table batch_failures"
    )


def test_split_statements_keeps_triggers_and_strings_whole() -> None:
    script = "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;\n"
    script += "INSERT INTO a VALUES ('x;y'); -- done;\n"
    assert split_statements(script) == [
        "CREATE TABLE a (x);",
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;",
        "INSERT INTO a VALUES ('x;y');",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1;")


def test_a_newer_schema_is_refused(db: Path) -> None:
    with Store.open(db) as store:
        store._conn.execute(
            "INSERT INTO schema_migrations VALUES (7, 'from the future', '2030-01-01')"
        )
    for readonly in (False, True):
        with pytest.raises(StoreError) as info:
            Store.open(db, readonly=readonly)
        assert str(info.value) == (
            f"{db} was written by a newer version of analyzer (schema 7 > {NEXT - 1})"
        )
        assert isinstance(info.value, AnalyzerError)


def test_not_a_database(db: Path) -> None:
    db.write_bytes(os.urandom(4096))
    for readonly in (False, True):
        with pytest.raises(StoreError) as info:
            Store.open(db, readonly=readonly)
        assert str(info.value) == f"{db} is not an analyzer database (file is not a database)"
        assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_a_foreign_sqlite_database_is_left_alone(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE dogs (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as info:
        Store.open(db)
    assert str(info.value) == f"{db} is not an analyzer database (it has other tables)"
    conn = sqlite3.connect(db)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    conn.close()
    assert tables == ["dogs"]


def test_missing_folder(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "analyzer.db"
    with pytest.raises(StoreError) as info:
        Store.open(db)
    assert str(info.value) == f"cannot write the database at {db}: read-only or missing folder"
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert not db.parent.exists()


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        Store.open(tmp_path)
    assert str(info.value) == f"{tmp_path} is a folder, not a database file"


def test_a_read_only_file_is_refused(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What SQLite does with a file it may only read, whoever runs the tests (root included)."""
    Store.open(db).close()
    opened_read_only = []

    def connect_read_only(path: Path, readonly: bool) -> sqlite3.Connection:
        opened_read_only.append(path)
        return sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None
        )

    monkeypatch.setattr(store_module, "_connect", connect_read_only)
    with pytest.raises(StoreError) as info:
        Store.open(db)
    assert opened_read_only == [db]
    assert str(info.value) == f"cannot write the database at {db}: read-only or missing folder"
    assert "readonly" in str(info.value.__cause__)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anything")
def test_read_only_file_and_folder_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "analyzer.db"
    Store.open(db).close()
    db.chmod(0o444)
    try:
        with pytest.raises(StoreError) as info:
            Store.open(db)
        assert str(info.value) == (
            f"cannot write the database at {db}: read-only or missing folder"
        )
        folder.chmod(0o555)
        new = folder / "new.db"
        with pytest.raises(StoreError) as info:
            Store.open(new)
        assert str(info.value) == (
            f"cannot write the database at {new}: read-only or missing folder"
        )
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


def test_readonly_store_reads_and_never_writes(db: Path, good) -> None:
    transcript, grade = good
    with pytest.raises(StoreError) as info:
        Store.open(db, readonly=True)
    assert str(info.value) == f"no database at {db}"
    assert not db.exists()
    with Store.open(db) as writer:
        writer.save_call(record("a"), transcript, grade)
    with Store.open(db, readonly=True) as reader:
        assert [c.call_id for c in reader.list_calls()] == ["a"]
        assert reader.grade_json("a")["grade"] == grade.grade
        with pytest.raises(StoreError) as info:
            reader.start_run({})
        assert str(info.value) == f"{db} was opened read-only: it cannot be written"


def test_readonly_open_of_an_older_schema(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db).close()
    later = (NEXT, "later", "CREATE TABLE later (x);")
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, later])
    with pytest.raises(StoreError) as info:
        Store.open(db, readonly=True)
    assert str(info.value) == (
        f"{db} has an older schema ({NEXT - 1} < {NEXT}), "
        "which a command that only reads does not upgrade: run one that writes to it first "
        "(analyzer batch, analyzer serve)"
    )
    empty = db.with_name("empty.db")
    empty.touch()
    with pytest.raises(StoreError) as info:
        Store.open(empty, readonly=True)
    assert str(info.value) == f"{empty} is not an analyzer database (no tables)"


# -- saving calls ---------------------------------------------------------------------------


def test_save_call_stores_everything(store: Store, good, mini_rubric: Rubric) -> None:
    transcript, grade = good
    call = record(
        "c1",
        source_path="/calls/c1.json",
        transcript_path="/calls/c1.json",
        customer="Northwind",
        call_type="prospecting",
        outcome="meeting",
        metadata={"campaign": "Q4", "tags": ["x"]},
    )
    store.save_call(call, transcript, grade)
    row = store._conn.execute(
        "SELECT call_id, content_hash, rep, call_date, started_at, customer, call_type, outcome, "
        "duration, metadata_json, source_path FROM calls"
    ).fetchone()
    assert row[:9] == (
        "c1",
        "hash-c1",
        "Alex",  # from the transcript
        "2026-11-25",  # from started_at
        "2026-11-25T10:00:00",
        "Northwind",
        "prospecting",
        "meeting",
        grade.duration,
    )
    assert json.loads(row[9]) == {"campaign": "Q4", "tags": ["x"]}
    backend, model, stored = store._conn.execute(
        "SELECT backend, model, transcript_json FROM transcripts WHERE call_id = 'c1'"
    ).fetchone()
    assert (backend, model) == ("faster-whisper", "base.en")
    assert json.loads(stored)["call_id"] == "c1"

    g = store._conn.execute(
        "SELECT id, kind, rubric, rubric_version, grade, passed, flags_json, run_id FROM grades"
    ).fetchone()
    assert g[1:] == (
        "suggested",
        "mini",
        "1",
        grade.grade,
        int(grade.passed),
        json.dumps(grade.flags),
        None,
    )
    items = store._conn.execute(
        "SELECT item_id, phase_id, status, points, earned, critical, forbidden "
        "FROM item_results WHERE grade_id = ? ORDER BY rowid",
        (g[0],),
    ).fetchall()
    expected = [
        (i.id, p.id, i.status, i.points, i.earned, int(i.critical), int(i.forbidden))
        for p in grade.phases
        for i in p.items
    ]
    assert sorted(items) == sorted(expected)
    assert len(items) == len(mini_rubric.items)
    ev = store._conn.execute(
        'SELECT item_id, turn, start, "end", speaker, text, phrase, method, in_phase '
        "FROM evidence WHERE grade_id = ? ORDER BY id",
        (g[0],),
    ).fetchall()
    assert ev == [
        (i.id, e.turn, e.start, e.end, e.speaker, e.text, e.phrase, e.method, int(e.in_phase))
        for p in grade.phases
        for i in p.items
        for e in i.evidence
    ]
    assert len(ev) >= 5

    data = store.grade_json("c1")
    expected_json = grade.to_dict()
    expected_json["call_id"] = "c1"
    assert data == json.loads(json.dumps(expected_json))


def test_saving_twice_replaces_without_duplicates(store: Store, good, bad) -> None:
    transcript, grade = good
    store.save_call(record("c1"), transcript, grade)
    grade_id, created = store._conn.execute("SELECT id, created_at FROM grades").fetchone()
    call_created, call_updated = store._conn.execute(
        "SELECT created_at, updated_at FROM calls"
    ).fetchone()
    other_transcript, other_grade = bad
    store.save_call(record("c1", rep="Alex"), other_transcript, other_grade)
    store.save_call(record("c1", rep="Alex"), other_transcript, other_grade)
    assert count(store, "calls") == 1
    assert count(store, "transcripts") == 1
    assert count(store, "grades") == 1
    assert count(store, "item_results") == item_rows(other_grade)
    assert count(store, "evidence") == evidence_rows(other_grade)
    new_id, new_created = store._conn.execute("SELECT id, created_at FROM grades").fetchone()
    assert new_id == grade_id  # the grade row keeps its id: later tables may reference it
    assert new_created > created
    assert store.grade_json("c1")["grade"] == other_grade.grade
    created_after, updated_after = store._conn.execute(
        "SELECT created_at, updated_at FROM calls"
    ).fetchone()
    assert created_after == call_created
    assert updated_after > call_updated
    assert len(store.stored_transcript("hash-c1").turns) == len(BAD_CALL)


def test_a_new_rubric_version_adds_a_grade(store: Store, good, bad) -> None:
    transcript, grade = good
    store.save_call(record("c1"), transcript, grade)
    v2 = with_version(bad[1], 2)
    store.save_call(record("c1"), transcript, v2)
    versions = store._conn.execute(
        "SELECT rubric_version FROM grades WHERE call_id = 'c1' ORDER BY id"
    ).fetchall()
    assert versions == [("1",), ("2",)]
    assert count(store, "item_results") == item_rows(grade) + item_rows(v2)
    assert store.grade_json("c1")["rubric_version"] == 2
    [summary] = store.list_calls()
    assert (summary.rubric_version, summary.grade) == ("2", v2.grade)
    # regrading with version 1 makes that the latest grade again
    store.save_call(record("c1"), transcript, grade)
    assert store.grade_json("c1")["rubric_version"] == 1
    assert store.list_calls()[0].rubric_version == "1"
    assert count(store, "grades") == 2


def test_a_failure_mid_save_leaves_nothing_of_that_call(store: Store, good, bad) -> None:
    transcript, grade = good
    assert evidence_rows(grade) >= 2
    store.save_call(record("first"), transcript, grade)
    before = {
        t: count(store, t) for t in ("calls", "transcripts", "grades", "item_results", "evidence")
    }
    # the second evidence row of any grade fails: half of the evidence is already inserted
    store._conn.execute(
        "CREATE TEMP TRIGGER evidence_fails BEFORE INSERT ON main.evidence "
        "WHEN (SELECT count(*) FROM main.evidence WHERE grade_id = NEW.grade_id) >= 1 "
        "BEGIN SELECT RAISE(ABORT, 'evidence write failed'); END"
    )
    with pytest.raises(StoreError) as info:
        store.save_call(record("second"), transcript, grade)
    assert str(info.value) == (f"{store.path}: evidence write failed (while saving second)")
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert not store._conn.in_transaction
    after = {t: count(store, t) for t in before}
    assert after == before
    assert count(store, "calls", "call_id = 'second'") == 0
    assert store.stored_transcript("hash-second") is None
    assert store.grade_json("second") is None
    # re-saving an existing call that fails keeps the old version whole
    with pytest.raises(StoreError):
        store.save_call(record("first"), bad[0], dataclasses.replace(grade, grade=12.5))
    assert store.grade_json("first")["grade"] == grade.grade
    assert len(store.stored_transcript("hash-first").turns) == len(GOOD_CALL)
    assert {t: count(store, t) for t in before} == before
    store._conn.execute("DROP TRIGGER temp.evidence_fails")
    store.save_call(record("second"), transcript, grade)
    assert count(store, "calls") == 2


def test_disk_full_while_saving(store: Store, good) -> None:
    transcript, grade = good
    store.save_call(record("first"), transcript, grade)
    conn = store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = make_call([("Alex", "word " * 2000)] * 40, call_id="big")
    with pytest.raises(StoreError) as info:
        store.save_call(record("big"), big, grade)
    assert str(info.value) == f"disk full while saving big in {store.path}"
    assert "full" in str(info.value.__cause__)
    assert count(store, "calls") == 1
    assert store.grade_json("big") is None
    conn.execute("PRAGMA max_page_count = 1073741823")
    store.save_call(record("big"), big, grade)
    assert count(store, "calls") == 2


def test_foreign_keys_cascade(store: Store, good) -> None:
    transcript, grade = good
    run_id = store.start_run({})
    store.save_call(record("c1"), transcript, grade, run_id=run_id)
    store.save_call(record("c2"), transcript, grade, run_id=run_id)
    store.record_failure(run_id, "/calls/broken.json", "not a transcript")
    store._conn.execute("DELETE FROM calls WHERE call_id = 'c1'")
    assert count(store, "transcripts") == 1
    assert count(store, "grades") == 1
    assert count(store, "item_results") == item_rows(grade)
    assert count(store, "evidence") == evidence_rows(grade)
    # removing a run keeps its grades (run_id cleared) and drops its failures
    store._conn.execute("DELETE FROM batch_runs WHERE id = ?", (run_id,))
    assert store._conn.execute("SELECT run_id FROM grades").fetchall() == [(None,)]
    assert count(store, "batch_failures") == 0
    with pytest.raises(sqlite3.IntegrityError):
        store._conn.execute(
            "INSERT INTO transcripts (call_id, transcript_json, created_at) "
            "VALUES ('x', '{}', 'now')"
        )


def test_save_call_refuses_mismatched_ids(store: Store, good) -> None:
    transcript, grade = good
    store.save_call(record("c1"), transcript, grade)
    with pytest.raises(StoreError) as info:
        store.save_call(record("c2", content_hash="hash-c1"), transcript, grade)
    assert str(info.value) == (
        f"cannot save c2 in {store.path}: its content is already stored as call c1"
    )
    with pytest.raises(StoreError) as info:
        store.save_call(record("c1", content_hash="other"), transcript, grade)
    assert str(info.value).startswith(f"cannot save c1 in {store.path}: the id is taken")
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.save_call(record("c3"), transcript, grade, run_id=999)
    assert count(store, "calls") == 1


def test_call_id_for(store: Store, good) -> None:
    transcript, grade = good
    assert store.call_id_for("aaaa1111bbbb2222", "call") == "call"
    store.save_call(record("call", content_hash="aaaa1111bbbb2222"), transcript, grade)
    assert store.call_id_for("aaaa1111bbbb2222", "renamed") == "call"
    assert store.call_id_for("cccc3333dddd4444", "call") == "call-cccc3333"
    store.save_call(record("call-cccc3333", content_hash="cccc3333dddd4444"), transcript, grade)
    # the suffixed id is taken too (same first 8 characters): a longer suffix
    assert store.call_id_for("cccc3333eeee5555", "call") == "call-cccc3333eeee5555"


def test_graded_hashes(store: Store, good) -> None:
    transcript, grade = good
    assert store.graded_hashes("mini", "1") == set()
    store.save_call(record("a"), transcript, grade)
    store.save_call(record("b"), transcript, with_version(grade, 2))
    assert store.graded_hashes("mini", "1") == {"hash-a"}
    assert store.graded_hashes("mini", 2) == {"hash-b"}
    assert store.graded_hashes("other", "1") == set()
    store._conn.execute("UPDATE grades SET kind = 'confirmed' WHERE call_id = 'a'")
    assert store.graded_hashes("mini", "1") == set()


def test_stored_transcript_round_trips(store: Store, good) -> None:
    transcript, grade = good
    assert store.stored_transcript("hash-x") is None
    store.save_call(record("x"), transcript, grade)
    stored = store.stored_transcript("hash-x")
    assert stored is not None
    assert stored.turns == transcript.turns
    assert stored.call_id == "x"
    assert (stored.rep, stored.started_at, stored.source) == (
        transcript.rep,
        transcript.started_at,
        transcript.source,
    )
    store._conn.execute("UPDATE transcripts SET transcript_json = 'not json'")
    assert store.stored_transcript("hash-x") is None


def test_list_calls_filters_and_order(store: Store, good, bad) -> None:
    _, grade = good
    low_confidence = dataclasses.replace(grade, flags=["low_confidence"])
    roles_only = dataclasses.replace(grade, flags=["roles_inferred"])
    calls = [
        ("c4", "Ben", "2026-11-24", "2026-11-24T09:00:00", bad[1]),
        ("c1", "alex", "2026-11-23", "2026-11-23T15:00:00", grade),
        ("c2", "ALEX", "2026-11-23", "2026-11-23T09:00:00", low_confidence),
        ("c3", "Zoë", "2026-11-25", None, roles_only),
        ("c5", None, None, None, dataclasses.replace(grade, started_at=None)),
    ]
    for call_id, rep, day, started, g in calls:
        rec = record(call_id, rep=rep, call_date=day, started_at=started, source_path=f"/{call_id}")
        store.save_call(rec, make_call(GOOD_CALL, call_id=call_id), g)

    everything = store.list_calls()
    assert [c.call_id for c in everything] == ["c2", "c1", "c4", "c3", "c5"]
    first = everything[0]
    assert isinstance(first, CallSummary)
    assert first == CallSummary(
        call_id="c2",
        rep="ALEX",
        call_date="2026-11-23",
        duration=low_confidence.duration,
        rubric="mini",
        rubric_version="1",
        grade=grade.grade,
        passed=grade.passed,
        flags=["low_confidence"],
        source_path="/c2",
    )
    assert grade.passed and not bad[1].passed
    assert [c.call_id for c in store.list_calls(flagged=True)] == ["c2", "c4"]
    assert everything[-1].rep == grade.rep == "Alex"  # no rep given: the grade's
    assert [c.call_id for c in store.list_calls(rep="Alex")] == ["c2", "c1", "c5"]
    assert [c.call_id for c in store.list_calls(rep="ZOË")] == ["c3"]
    assert [c.call_id for c in store.list_calls(rep="nobody")] == []
    assert [c.call_id for c in store.list_calls(since="2026-11-24")] == ["c4", "c3"]
    assert [c.call_id for c in store.list_calls(until="2026-11-24")] == ["c2", "c1", "c4"]
    assert [c.call_id for c in store.list_calls(since="2026-11-24", until="2026-11-24")] == ["c4"]
    assert [c.call_id for c in store.list_calls(flagged=True, rep="alex")] == ["c2"]
    assert [c.call_id for c in store.list_calls(limit=2)] == ["c3", "c5"]  # the latest two
    assert [c.call_id for c in store.list_calls(rep="alex", limit=2)] == ["c1", "c5"]
    assert store.list_calls(limit=0) == []
    with pytest.raises(ValueError, match="since must be a date"):
        store.list_calls(since="yesterday")


def test_list_calls_without_a_grade_and_grade_json_of_unknown(store: Store) -> None:
    now = "2026-11-26T00:00:00"
    store._conn.execute(
        "INSERT INTO calls (call_id, content_hash, created_at, updated_at) "
        "VALUES ('bare', 'h', ?, ?)",
        (now, now),
    )
    [bare] = store.list_calls()
    assert (bare.grade, bare.passed, bare.flags, bare.rubric) == (None, None, [], None)
    assert store.list_calls(flagged=True) == []
    assert store.grade_json("bare") is None
    assert store.grade_json("unknown") is None


# -- batch runs ------------------------------------------------------------------------------


def test_batch_runs(store: Store) -> None:
    first = store.start_run({"paths": ["/calls"], "workers": 4})
    store.finish_run(
        first,
        status="finished",
        found=3,
        graded=2,
        skipped=0,
        failed=1,
        seconds=1.5,
        mean_grade=71.25,
    )
    second = store.start_run({"paths": ["/calls"], "since": None})
    store.record_failure(second, "/calls/a.json", "a.json: not a transcript")
    store.record_failure(second, "/calls/b.wav", "b.wav: truncated")
    assert second > first
    runs = store.run_summaries()
    assert [r["id"] for r in runs] == [second, first]
    latest, done = runs
    assert latest["status"] == "running"
    assert latest["pid"] == os.getpid()
    assert latest["finished_at"] is None
    assert latest["options"] == {"paths": ["/calls"], "since": None}
    assert latest["failures"] == 2
    assert done["status"] == "finished"
    assert (done["found"], done["graded"], done["skipped"], done["failed"]) == (3, 2, 0, 1)
    assert (done["seconds"], done["mean_grade"]) == (1.5, 71.25)
    assert done["finished_at"] >= done["started_at"]
    assert done["options"] == {"paths": ["/calls"], "workers": 4}
    assert [r["id"] for r in store.run_summaries(limit=1)] == [second]
    failures = store.run_failures(second)
    assert [(f["path"], f["reason"]) for f in failures] == [
        ("/calls/a.json", "a.json: not a transcript"),
        ("/calls/b.wav", "b.wav: truncated"),
    ]
    with pytest.raises(ValueError, match="status must be"):
        store.finish_run(
            second,
            status="done",
            found=0,
            graded=0,
            skipped=0,
            failed=0,
            seconds=0,
            mean_grade=None,
        )
    with pytest.raises(ValueError, match="no batch run 999"):
        store.finish_run(
            999, status="failed", found=0, graded=0, skipped=0, failed=0, seconds=0, mean_grade=None
        )


def test_mark_stale_runs(store: Store) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = store.start_run({})
    gone = store.start_run({})
    unknown = store.start_run({})
    finished = store.start_run({})
    store.finish_run(
        finished,
        status="finished",
        found=0,
        graded=0,
        skipped=0,
        failed=0,
        seconds=0.1,
        mean_grade=None,
    )
    store._conn.execute("UPDATE batch_runs SET pid = ? WHERE id = ?", (dead.pid, gone))
    store._conn.execute("UPDATE batch_runs SET pid = NULL WHERE id = ?", (unknown,))
    assert store.mark_stale_runs() == 2
    status = dict(store._conn.execute("SELECT id, status FROM batch_runs").fetchall())
    assert status == {
        alive: "running",
        gone: "interrupted",
        unknown: "interrupted",
        finished: "finished",
    }
    assert store._conn.execute(
        "SELECT finished_at FROM batch_runs WHERE id = ?", (gone,)
    ).fetchone()[0]
    assert store.mark_stale_runs() == 0


def test_under_the_batch_lock_every_run_left_running_is_interrupted_with_what_it_did(
    store: Store, good
) -> None:
    """A batch run killed outright: its pid may live on in another process (reused, or the
    workers that outlived it), but the next run holds the lock, so it is not running."""
    transcript, grade = good
    killed = store.start_run({})  # this process's pid: alive
    store.save_call(record("a"), transcript, grade, killed)
    store.record_failure(killed, "/calls/b.json", "not a transcript")
    assert store.mark_stale_runs() == 0
    assert store.mark_stale_runs(every=True) == 1
    [run] = store.run_summaries()
    last_stored = max(
        store._conn.execute("SELECT created_at FROM grades").fetchone()[0],
        store.run_failures(killed)[0]["at"],
    )
    assert (run["status"], run["graded"], run["failed"], run["finished_at"]) == (
        "interrupted",
        1,
        1,
        last_stored,
    )
    nothing = store.start_run({})
    assert store.mark_stale_runs(every=True) == 1
    [run, _] = store.run_summaries()
    assert (run["id"], run["graded"], run["failed"]) == (nothing, 0, 0)
    assert run["finished_at"] == run["started_at"]  # it stored nothing: alive when it began


def test_a_value_sqlite_cannot_take_is_a_store_error_and_saves_nothing(store: Store, good) -> None:
    transcript, grade = good
    with pytest.raises(StoreError) as info:
        store.save_call(record("a", customer="Acme \udc80"), transcript, grade)
    assert str(info.value) == (
        f"text that is not valid Unicode (surrogates not allowed) while saving a in {store.path}"
    )
    assert isinstance(info.value.__cause__, UnicodeEncodeError)
    assert [count(store, t) for t in ("calls", "transcripts", "grades", "reviews")] == [0] * 4
    run = store.start_run({})
    store.record_failure(run, "/calls/\udcff.txt", "bad \ud800 text")  # kept, escaped
    assert [(f["path"], f["reason"]) for f in store.run_failures(run)] == [
        ("/calls/\\udcff.txt", "bad \\ud800 text")
    ]


# -- read-only folders ------------------------------------------------------------------------


CLI_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """(an empty folder, the command prefix that runs a command as its reader): the reader may
    read the folder, and not write it once the test makes it read-only. chmod does not stop
    root, so as root the reader is nobody (by setpriv), in a folder nobody may reach."""
    if os.name != "posix":
        pytest.skip("read-only folders by POSIX permissions")
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        try:
            yield folder, []
        finally:
            folder.chmod(0o755)
        return
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = [*as_nobody, sys.executable, "-c", "import analyzer.cli"]
    if shutil.which("setpriv") is None or subprocess.run(probe, cwd=ROOT, env=CLI_ENV).returncode:
        pytest.skip("running as root, whom chmod does not stop, and Python cannot run as nobody")
    base = Path(tempfile.mkdtemp(prefix="analyzer-ro-"))  # in /tmp: nobody may reach it
    base.chmod(0o755)
    try:
        (base / "ro").mkdir()
        yield base / "ro", as_nobody
    finally:
        (base / "ro").chmod(0o755)
        shutil.rmtree(base)


def run_cli(prefix: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """`analyzer ARGS` in a process of its own, run through `prefix` (as another user)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=CLI_ENV,
    )


def test_read_commands_work_on_a_database_in_a_read_only_folder(
    read_only_folder: tuple[Path, list[str]], good
) -> None:
    """`analyzer calls` and `analyzer export` read a database that its reader may not write
    beside (a copied archive, a share mounted read-only), and leave the folder as it was."""
    folder, reader = read_only_folder
    transcript, grade = good
    db = folder / "calls.db"
    with Store.open(db) as store:
        store.save_call(record("a", rep="Alex"), transcript, grade)
    folder.chmod(0o555)
    before = sorted(p.name for p in folder.iterdir())
    assert before == ["calls.db"]
    listed = run_cli(reader, "calls", "--db", str(db), "--format", "json")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert [json.loads(line)["call_id"] for line in listed.stdout.splitlines()] == ["a"]
    exported = run_cli(reader, "export", "--db", str(db), "--all", "--format", "jsonl")
    assert (exported.returncode, exported.stderr) == (0, "")
    assert [json.loads(line)["call_id"] for line in exported.stdout.splitlines()] == ["a"]
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_read_only_folder_refuses_what_reading_cannot_do_with_one_line(
    read_only_folder: tuple[Path, list[str]], good, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, reader = read_only_folder
    transcript, grade = good
    old = folder / "old.db"  # a schema older than this code's: upgrading it would write
    with pytest.MonkeyPatch.context() as older:
        older.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:-1])
        Store.open(old).close()
    # changes still in the WAL (copied while a writer had it open), and no WAL index
    busy = folder / "busy.db"
    with Store.open(folder / "live.db") as writer:
        writer._conn.execute("PRAGMA wal_autocheckpoint = 0")
        writer.save_call(record("a"), transcript, grade)
        shutil.copy(folder / "live.db", busy)
        shutil.copy(folder / "live.db-wal", folder / "busy.db-wal")
    folder.chmod(0o555)
    listed = run_cli(reader, "calls", "--db", str(old))
    assert (listed.returncode, listed.stdout) == (1, "")
    assert listed.stderr == (
        f"Error: {old} has an older schema ({latest_version() - 1} < {latest_version()}), "
        "which a command that only reads does not upgrade: run one that writes to it first "
        "(analyzer batch, analyzer serve)\n"
    )
    listed = run_cli(reader, "calls", "--db", str(busy))
    assert (listed.returncode, listed.stdout) == (1, "")
    assert listed.stderr == (
        f"Error: cannot read {busy}: its folder is read-only and busy.db-wal holds changes not "
        "yet in the database; open it once where it can be written\n"
    )


# -- user names --------------------------------------------------------------------------------


def test_migration_3_keys_user_names_and_renames_the_later_of_two_that_are_now_one(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Version 2 stored names stripped, unique regardless of ASCII case only."""
    from analyzer.review.users import get_user

    with pytest.MonkeyPatch.context() as v2:
        v2.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:2])
        with Store.open(db) as old:
            old._conn.executemany(
                "INSERT INTO users (name, role, password_hash, created_at) "
                "VALUES (?, 'manager', 'x', '2026-01-01')",
                [("Élodie",), ("maria",), ("élodie",), ("ＭＡＲＩＡ",), ("Ada Lovelace",)],
            )
    with caplog.at_level(logging.WARNING, logger="analyzer.store"), Store.open(db) as store:
        assert store.schema_version() == 3
        users = store._conn.execute("SELECT id, name, name_key FROM users ORDER BY id").fetchall()
        assert users == [
            (1, "Élodie", "élodie"),
            (2, "maria", "maria"),
            (3, "élodie#3", "élodie#3"),
            (4, "ＭＡＲＩＡ#4", "maria#4"),
            (5, "Ada Lovelace", "ada lovelace"),
        ]
        assert [r.getMessage() for r in caplog.records] == [
            "user 'élodie' is renamed 'élodie#3': the older user 'Élodie' has the same name now",
            "user 'ＭＡＲＩＡ' is renamed 'ＭＡＲＩＡ#4': the older user 'maria' has the same "
            "name now",
        ]
        assert get_user(store, "ÉLODIE").id == 1
        assert get_user(store, " ｍａｒｉａ ").id == 2
        assert get_user(store, "élodie#3").id == 3
        assert get_user(store, "ada  lovelace").id == 5
        with pytest.raises(sqlite3.IntegrityError):
            store._conn.execute(
                "INSERT INTO users (name, name_key, role, password_hash, created_at) "
                "VALUES ('Maria!', 'maria', 'rep', 'x', '2026-01-01')"
            )


# -- concurrency -----------------------------------------------------------------------------


def test_two_stores_read_while_the_other_writes(db: Path, good) -> None:
    transcript, grade = good
    with Store.open(db) as writer, Store.open(db) as reader:
        writer.save_call(record("a"), transcript, grade)
        assert [c.call_id for c in reader.list_calls()] == ["a"]
        # the writer holds the write lock mid-transaction: the reader is not blocked
        writer._conn.execute("BEGIN IMMEDIATE")
        writer._conn.execute("DELETE FROM calls")
        started = time.perf_counter()
        assert [c.call_id for c in reader.list_calls()] == ["a"]
        assert reader.grade_json("a") is not None
        assert time.perf_counter() - started < 1.0
        # a second writer waits for the lock, then gives up with a clear error
        reader._conn.execute("PRAGMA busy_timeout = 50")
        with pytest.raises(StoreError) as info:
            reader.save_call(record("b"), transcript, grade)
        assert (
            str(info.value) == f"{db} is busy: another process kept it locked (database is locked)"
        )
        writer._conn.execute("ROLLBACK")
        reader._conn.execute("PRAGMA busy_timeout = 5000")
        reader.save_call(record("b"), transcript, grade)
        assert [c.call_id for c in writer.list_calls()] == ["a", "b"]


def test_a_second_process_writes_while_this_one_reads(db: Path) -> None:
    Store.open(db).close()
    script = (
        "import sys\n"
        "from analyzer.store import Store\n"
        "with Store.open(sys.argv[1]) as store:\n"
        "    run = store.start_run({'child': True})\n"
        "    for i in range(300):\n"
        "        store.record_failure(run, f'/calls/{i}.json', 'bad')\n"
        "    store.finish_run(run, status='finished', found=300, graded=0, skipped=0,\n"
        "                     failed=300, seconds=0.0, mean_grade=None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", script, str(db)], env=env)
    reads = 0
    with Store.open(db, readonly=True) as reader:
        while child.poll() is None:
            runs = reader.run_summaries()
            assert all(r["failures"] <= 300 for r in runs)
            reads += 1
        assert child.wait() == 0
        [run] = reader.run_summaries()
    assert (run["status"], run["failures"], run["options"]) == ("finished", 300, {"child": True})
    assert reads > 0


# -- speed -----------------------------------------------------------------------------------


def test_save_call_is_fast(store: Store, default_rubric: Rubric) -> None:
    transcript = make_call((GOOD_CALL * 10)[:150], call_id="long")
    grade = grade_call(transcript, default_rubric)
    assert item_rows(grade) >= 15
    runs = 200
    started = time.perf_counter()
    for i in range(runs):
        store.save_call(record(f"c{i}"), transcript, grade)
    mean = (time.perf_counter() - started) / runs
    assert mean < 0.005, f"save_call took {mean * 1000:.2f} ms"
    started = time.perf_counter()
    assert len(store.graded_hashes(default_rubric.rubric, default_rubric.version)) == runs
    assert time.perf_counter() - started < 0.05


def test_a_re_save_keeps_what_it_does_not_know(store: Store, good) -> None:
    """An outcome imported later, the customer, the call type and the recording survive a
    re-grade whose metadata leaves them out."""
    transcript, grade = good
    full = record(
        "a", audio_path="a.wav", customer="Northwind", call_type="prospecting", outcome="won"
    )
    store.save_call(full, transcript, grade)
    store.save_call(record("a", rep="Alex"), transcript, grade)
    row = store._conn.execute(
        "SELECT audio_path, customer, call_type, outcome, rep FROM calls WHERE call_id = 'a'"
    ).fetchone()
    assert row == ("a.wav", "Northwind", "prospecting", "won", "Alex")
    store.save_call(dataclasses.replace(full, outcome="lost"), transcript, grade)
    assert store._conn.execute("SELECT outcome FROM calls").fetchone() == ("lost",)
