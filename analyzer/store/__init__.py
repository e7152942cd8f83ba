"""The SQLite store: calls, their transcripts, suggested grades with items and evidence, batch runs.

One database file in WAL mode (readers never wait for the nightly writer), foreign keys on, and
numbered migrations recorded in the `schema_migrations` table. Each write is one explicit
transaction (`BEGIN IMMEDIATE` ... `COMMIT` on a connection in autocommit mode), so `save_call`
stores a call, its transcript and its grade whole or not at all.

Every `sqlite3` error that reaches the caller is a `StoreError` whose one-line message names the
database and the problem, with the SQLite error chained as its cause.

Migration 2 adds the review side: users, login sessions, API tokens, confirmed grades (rows of
`grades` with kind 'confirmed'), disputes, the audit log, and `reviews`, one row per call that
the review queue reads. `reviews` is derived data (status, priority, the latest suggested and
confirmed grade): `refresh_review` rebuilds a call's row from the tables it summarises, and every
write that changes them calls it in the same transaction, bumping the row's `version` (the
review page's concurrency check). `calls(call_id)`, `grades(id)` and `item_results(grade_id,
item_id)` stay stable: re-grading a call updates its suggested grade row in place (same id) and
replaces only that grade's item results and evidence.

Migration 3 gives each user the key their name is known by (`users.name_key`), unique.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import StoreError
from analyzer.transcripts.transcript import Transcript, transcript_from_dict

if TYPE_CHECKING:  # importing the engine (spaCy, numpy) is not needed to read the database
    from analyzer.grading.grade import Grade

log = logging.getLogger("analyzer.store")

BUSY_TIMEOUT_MS = 5000
# Flags that put a call on the "needs a look" list (`list_calls(flagged=True)`), besides failing.
ATTENTION_FLAGS = ("below_pass_mark", "critical_missed", "forbidden_said", "low_confidence")
RUN_STATUSES = ("running", "finished", "interrupted", "failed")
REVIEW_STATUSES = ("unreviewed", "disputed", "confirmed")
# How much a call needs a human, highest first: the review queue's order within a status.
# A forbidden line said weighs as much as a critical item missed: both need a manager's ear.
PRIORITY_WEIGHTS = {
    "critical_missed": 8,
    "forbidden_said": 8,
    "below_pass_mark": 4,
    "low_confidence": 2,
    "disputed": 1,
}

# (version, name, SQL script or a function of the connection). Append only: never edit a migration
# that has shipped. Each runs in its own transaction with foreign key enforcement off (so a
# migration may rebuild a table the SQLite way: create new, copy, drop, rename) and
# `PRAGMA foreign_key_check` before it commits.
Migration = tuple[int, str, "str | Callable[[sqlite3.Connection], None]"]
MIGRATIONS: list[Migration] = [
    (
        1,
        "calls, transcripts, grades, batch runs",
        """
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

CREATE TABLE calls (
    call_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,
    source_path TEXT,
    audio_path TEXT,
    transcript_path TEXT,
    rep TEXT,
    call_date TEXT,
    started_at TEXT,
    customer TEXT,
    call_type TEXT,
    outcome TEXT,
    duration REAL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX calls_rep ON calls(rep);
CREATE INDEX calls_call_date ON calls(call_date);

CREATE TABLE transcripts (
    call_id TEXT PRIMARY KEY REFERENCES calls(call_id) ON DELETE CASCADE,
    transcript_json TEXT NOT NULL,
    backend TEXT,
    model TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE batch_runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
    pid INTEGER,
    options_json TEXT NOT NULL DEFAULT '{}',
    found INTEGER DEFAULT 0,
    graded INTEGER DEFAULT 0,
    skipped INTEGER DEFAULT 0,
    failed INTEGER DEFAULT 0,
    seconds REAL,
    mean_grade REAL
);

CREATE TABLE batch_failures (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES batch_runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX batch_failures_run ON batch_failures(run_id);

CREATE TABLE grades (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'suggested' CHECK (kind IN ('suggested', 'confirmed')),
    rubric TEXT NOT NULL,
    rubric_version TEXT NOT NULL,
    grade REAL NOT NULL,
    passed INTEGER NOT NULL,
    flags_json TEXT NOT NULL,
    grade_json TEXT NOT NULL,
    run_id INTEGER REFERENCES batch_runs(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    UNIQUE (call_id, kind, rubric, rubric_version)
);
CREATE INDEX grades_rubric ON grades(rubric, rubric_version);
CREATE INDEX grades_run ON grades(run_id);

CREATE TABLE item_results (
    grade_id INTEGER NOT NULL REFERENCES grades(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    status TEXT NOT NULL,
    points REAL NOT NULL,
    earned REAL NOT NULL,
    confidence REAL,
    critical INTEGER NOT NULL,
    forbidden INTEGER NOT NULL,
    PRIMARY KEY (grade_id, item_id)
);

CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    grade_id INTEGER NOT NULL REFERENCES grades(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    turn INTEGER,
    start REAL,
    "end" REAL,
    speaker TEXT,
    text TEXT,
    phrase TEXT,
    score REAL,
    method TEXT,
    in_phase INTEGER
);
CREATE INDEX evidence_grade ON evidence(grade_id);
""",
    ),
    (2, "users, sessions, tokens, reviews, disputes, audit log", lambda c: _migration_2(c)),
    (3, "user name keys", lambda c: _migration_3(c)),
]

REVIEW_TABLES = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'rep')),
    rep_name TEXT,                      -- for a rep: the name their calls are stored under
    password_hash TEXT NOT NULL,        -- scrypt, salted: see users.py
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,        -- sha256 of the cookie value; the value is never stored
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,        -- sha256 of the token
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE disputes (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    raised_by TEXT NOT NULL,            -- user names, not ids: the record outlives the account
    comment TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_by TEXT,
    resolved_at TEXT,
    resolution TEXT
);
CREATE INDEX disputes_call ON disputes(call_id, status);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,               -- override | confirm | dispute | resolve
    item_id TEXT,
    old_value TEXT,
    new_value TEXT,
    comment TEXT
);
CREATE INDEX audit_log_call ON audit_log(call_id, id);

CREATE TABLE reviews (
    call_id TEXT PRIMARY KEY REFERENCES calls(call_id) ON DELETE CASCADE,
    rep TEXT,
    rep_key TEXT,                       -- casefold(rep), for the rep filter and reps' own view
    call_date TEXT,
    rubric TEXT,
    rubric_version TEXT,
    suggested_id INTEGER REFERENCES grades(id) ON DELETE SET NULL,
    suggested_grade REAL,
    suggested_passed INTEGER,
    flags_json TEXT NOT NULL DEFAULT '[]',
    confirmed_id INTEGER REFERENCES grades(id) ON DELETE SET NULL,
    confirmed_grade REAL,
    confirmed_passed INTEGER,
    reviewed_by TEXT,
    reviewed_at TEXT,
    open_disputes INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('unreviewed', 'disputed', 'confirmed')),
    queue_rank INTEGER NOT NULL,        -- 0: needs a human (unreviewed or disputed), 1: confirmed
    priority INTEGER NOT NULL,          -- PRIORITY_WEIGHTS summed over the call's flags
    version INTEGER NOT NULL DEFAULT 1  -- bumped by every change: the review form's check
);
-- The queue's order, alone and after an equality filter (rep, status), so a page is an index
-- walk; (rep_key, rep) lists the reps by seeking from one to the next; (rubric, status) counts.
CREATE INDEX reviews_queue ON reviews(queue_rank, priority DESC, call_date DESC, call_id);
CREATE INDEX reviews_rep ON reviews(rep_key, queue_rank, priority DESC, call_date DESC, call_id);
CREATE INDEX reviews_status ON reviews(status, queue_rank, priority DESC, call_date DESC, call_id);
CREATE INDEX reviews_rep_name ON reviews(rep_key, rep);
CREATE INDEX reviews_date ON reviews(call_date);
CREATE INDEX reviews_rubric ON reviews(rubric, status);
CREATE INDEX grades_call_kind ON grades(call_id, kind);
"""


def _migration_2(conn: sqlite3.Connection) -> None:
    for statement in split_statements(REVIEW_TABLES):
        conn.execute(statement)
    call_ids = conn.execute("SELECT call_id FROM calls").fetchall()
    for (call_id,) in call_ids:
        refresh_review(conn, call_id)
    if call_ids:  # statistics for the planner on a database that already has calls
        conn.execute("ANALYZE reviews")


def _migration_3(conn: sqlite3.Connection) -> None:
    """Users are known by `users.name_key` of their name, unique. Names were stored stripped and
    unique regardless of ASCII case only, so two may share a key (`Élodie` and `élodie`, `ａｄａ`
    and `ada`): the older account keeps its name, each later one is renamed `NAME#ID` (which
    signs in with its own password, and can be removed by that name), with a warning."""
    from analyzer.review.users import (
        name_key,  # the one rule for names; users.py is built on this module
    )

    conn.execute("ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT ''")
    users = conn.execute("SELECT id, name FROM users ORDER BY id").fetchall()
    every_key = {name_key(name) for _, name in users}
    taken: dict[str, str] = {}  # key -> the name that has it
    for user_id, name in users:
        new_name, key = name, name_key(name)
        while key in taken or (new_name != name and key in every_key):
            new_name = f"{new_name}#{user_id}"
            key = name_key(new_name)
        if new_name != name:
            log.warning(
                "user %r is renamed %r: the older user %r has the same name now",
                name,
                new_name,
                taken[name_key(name)],
            )
        taken[key] = new_name
        conn.execute(
            "UPDATE users SET name = ?, name_key = ? WHERE id = ?", (new_name, key, user_id)
        )
    conn.execute("CREATE UNIQUE INDEX users_name_key ON users(name_key)")


@dataclass(frozen=True)
class CallRecord:
    """What is known about a call besides its transcript: where it came from, who, when."""

    call_id: str
    content_hash: str  # of the recording or transcript file: the call's identity across runs
    source_path: str | None = None
    audio_path: str | None = None
    transcript_path: str | None = None
    rep: str | None = None
    call_date: str | None = None  # YYYY-MM-DD
    started_at: str | None = None
    customer: str | None = None
    call_type: str | None = None
    outcome: str | None = None
    duration: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallSummary:
    """One row of `analyzer calls`: a call and its latest suggested grade."""

    call_id: str
    rep: str | None
    call_date: str | None
    duration: float | None
    rubric: str | None
    rubric_version: str | None
    grade: float | None
    passed: bool | None
    flags: list[str]
    source_path: str | None


class Store:
    """An open analyzer database. Build with `Store.open(path)`; close it (or use `with`)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()  # one connection, used from several threads: one at a time

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, readonly: bool = False) -> Store:
        """Open (creating it unless `readonly`) and migrate the database at `path`.

        The parent folder must exist. Raises StoreError when the file cannot be written (unless
        `readonly`), is not an analyzer database, or has a newer schema than this code.
        """
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path} is a folder, not a database file")
        if readonly and not path.exists():
            raise StoreError(f"no database at {path}")
        store: Store | None = None
        try:
            conn = _connect(path, readonly)
            store = cls(conn, path, readonly)
            store._setup()
        except sqlite3.Error as exc:
            if store is not None:
                store._close_quietly()
            raise store_error(path, exc, "opening the database", readonly=readonly) from exc
        except BaseException:
            if store is not None:
                store._close_quietly()
            raise
        return store

    def _setup(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # "file is not a database"
        conn.create_function("casefold", 1, _casefold, deterministic=True)
        if not self.readonly:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = NORMAL")
            # BEGIN IMMEDIATE alone succeeds on a read-only file: make a write that is undone.
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                conn.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        current = self._read_version()
        latest = latest_version()
        if current == 0 and self._has_foreign_tables():
            raise StoreError(f"{self.path} is not an analyzer database (it has other tables)")
        if current > latest:
            raise StoreError(
                f"{self.path} was written by a newer version of analyzer "
                f"(schema {current} > {latest})"
            )
        if current < latest:
            if self.readonly:
                raise StoreError(
                    f"{self.path} is not an analyzer database (no tables)"
                    if current == 0
                    else f"{self.path} has an older schema ({current} < {latest}), which a "
                    "command that only reads does not upgrade: run one that writes to it first "
                    "(analyzer batch, analyzer serve)"
                )
            self._migrate()
        conn.execute("PRAGMA foreign_keys = ON")

    def _read_version(self) -> int:
        conn = self._conn
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if not exists:
            return 0
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def _has_foreign_tables(self) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\' LIMIT 1"
        ).fetchone()
        return row is not None

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA foreign_keys = OFF")  # no-op inside a transaction: set it before
        for version, name, script in sorted(MIGRATIONS, key=lambda m: m[0]):
            with self._transaction():
                if version <= self._read_version():  # another process got here first
                    continue
                if callable(script):
                    script(conn)
                else:
                    for statement in split_statements(script):
                        conn.execute(statement)
                broken = conn.execute("PRAGMA foreign_key_check").fetchone()
                if broken is not None:
                    raise StoreError(
                        f"{self.path}: migration {version} ({name}) breaks a foreign key "
                        f"in table {broken[0]}"
                    )
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, _now()),
                )

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if not self.readonly:
                with suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA optimize")
            self._conn.close()

    def _close_quietly(self) -> None:
        with suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, readonly={self.readonly})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back on any exception.

        BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a
        transaction never fails half-way because another writer got in between its read and write.
        """
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only: it cannot be written")
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Serialise access and turn sqlite3 errors, and values SQLite cannot take, into
        StoreError (a write is rolled back whole by `_transaction` first)."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise store_error(self.path, exc, doing, readonly=self.readonly) from exc
            except (UnicodeEncodeError, OverflowError) as exc:
                raise unstorable_error(self.path, exc, doing) from exc

    @contextmanager
    def reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, for reads by the modules built on the store (users, review, queue).

        Access is serialised and sqlite3 errors become StoreError naming `doing`.
        """
        with self._errors(doing):
            yield self._conn

    @contextmanager
    def writing(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction: all of the block is stored or none."""
        with self._errors(doing), self._transaction() as conn:
            yield conn

    # -- queries -------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The newest migration applied to this database."""
        with self._errors("reading the schema version"):
            return self._read_version()

    def call_id_for(self, content_hash: str, wanted: str) -> str:
        """The id to store a call under: the existing call's for this content, else `wanted`,
        else (when another call already has `wanted`) `wanted` plus the start of the hash."""
        with self._errors("looking up a call"):
            row = self._conn.execute(
                "SELECT call_id FROM calls WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            if row:
                return str(row[0])
            candidates = [wanted, *(f"{wanted}-{content_hash[:n]}" for n in (8, 16))]
            candidates.append(f"{wanted}-{content_hash}")
            candidates.extend(f"{wanted}-{content_hash[:8]}-{n}" for n in range(2, 1000))
            for candidate in candidates:
                taken = self._conn.execute(
                    "SELECT 1 FROM calls WHERE call_id = ?", (candidate,)
                ).fetchone()
                if not taken:
                    return candidate
            raise StoreError(f"{self.path}: no free call id for {wanted}")

    def graded_hashes(self, rubric: str, version: str | int) -> set[str]:
        """Content hashes of the calls that have a suggested grade for this rubric version."""
        with self._errors("reading graded calls"):
            rows = self._conn.execute(
                "SELECT c.content_hash FROM grades g JOIN calls c ON c.call_id = g.call_id "
                "WHERE g.rubric = ? AND g.rubric_version = ? AND g.kind = 'suggested'",
                (rubric, str(version)),
            ).fetchall()
        return {row[0] for row in rows}

    def stored_transcript(self, content_hash: str) -> Transcript | None:
        """The transcript stored for the call with this content, or None (also when unreadable)."""
        with self._errors("reading a transcript"):
            row = self._conn.execute(
                "SELECT t.call_id, t.transcript_json FROM transcripts t "
                "JOIN calls c ON c.call_id = t.call_id WHERE c.content_hash = ?",
                (content_hash,),
            ).fetchone()
        if row is None:
            return None
        try:
            return transcript_from_dict(json.loads(row[1]), default_call_id=row[0])
        except (ValueError, TypeError, KeyError):
            return None

    def save_call(
        self,
        call: CallRecord,
        transcript: Transcript,
        grade: Grade,
        run_id: int | None = None,
    ) -> None:
        """Store a call, its transcript and its suggested grade in one transaction.

        The call row is upserted (its created_at kept); the transcript replaced; the suggested
        grade for (call, rubric, version) updated in place with its item results and evidence
        replaced. Call fields left None are filled from the transcript and grade where they
        say (rep, started_at, call_date from started_at, duration). The stored transcript and
        grade JSON carry `call.call_id`. Either all of it is stored or nothing.
        """
        now = _now()
        call_row = _call_row(call, transcript, grade)
        transcript_data = transcript.to_dict()
        transcript_data["call_id"] = call.call_id
        grade_data = grade.to_dict()
        grade_data["call_id"] = call.call_id
        version = str(grade.rubric_version)
        items: list[tuple[Any, ...]] = []
        evidence: list[tuple[Any, ...]] = []
        for phase in grade.phases:
            for item in phase.items:
                items.append(
                    (
                        item.id,
                        phase.id,
                        item.status,
                        item.points,
                        item.earned,
                        item.confidence,
                        int(item.critical),
                        int(item.forbidden),
                    )
                )
                for ev in item.evidence:
                    evidence.append(
                        (
                            item.id,
                            ev.turn,
                            ev.start,
                            ev.end,
                            ev.speaker,
                            ev.text,
                            ev.phrase,
                            ev.score,
                            ev.method,
                            int(ev.in_phase),
                        )
                    )
        transcript_json = _dumps(transcript_data)
        grade_json = _dumps(grade_data)
        flags_json = _dumps(list(grade.flags))
        source = transcript.source or {}

        with self._errors(f"saving {call.call_id}"), self._transaction() as conn:
            row = conn.execute(
                "SELECT call_id FROM calls WHERE content_hash = ?", (call.content_hash,)
            ).fetchone()
            if row is not None and row[0] != call.call_id:
                raise StoreError(
                    f"cannot save {call.call_id} in {self.path}: "
                    f"its content is already stored as call {row[0]}"
                )
            row = conn.execute(
                "SELECT content_hash FROM calls WHERE call_id = ?", (call.call_id,)
            ).fetchone()
            if row is not None and row[0] != call.content_hash:
                raise StoreError(
                    f"cannot save {call.call_id} in {self.path}: the id is taken by another "
                    f"call (content {row[0][:12]}); use call_id_for()"
                )
            conn.execute(
                "INSERT INTO calls (call_id, content_hash, source_path, audio_path, "
                "transcript_path, rep, call_date, started_at, customer, call_type, outcome, "
                "duration, metadata_json, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (call_id) DO UPDATE SET source_path = excluded.source_path, "
                "audio_path = coalesce(excluded.audio_path, calls.audio_path), "
                "transcript_path = excluded.transcript_path, "
                "rep = excluded.rep, call_date = excluded.call_date, "
                "started_at = excluded.started_at, "
                "customer = coalesce(excluded.customer, calls.customer), "
                "call_type = coalesce(excluded.call_type, calls.call_type), "
                "outcome = coalesce(excluded.outcome, calls.outcome), "
                "duration = excluded.duration, metadata_json = excluded.metadata_json, "
                "updated_at = excluded.updated_at",
                (*call_row, now, now),
            )
            conn.execute(
                "INSERT INTO transcripts (call_id, transcript_json, backend, model, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET "
                "transcript_json = excluded.transcript_json, backend = excluded.backend, "
                "model = excluded.model, created_at = excluded.created_at",
                (call.call_id, transcript_json, source.get("backend"), source.get("model"), now),
            )
            key = (call.call_id, "suggested", grade.rubric, version)
            conn.execute(
                "INSERT INTO grades (call_id, kind, rubric, rubric_version, grade, passed, "
                "flags_json, grade_json, run_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (call_id, kind, rubric, rubric_version) DO UPDATE SET "
                "grade = excluded.grade, passed = excluded.passed, "
                "flags_json = excluded.flags_json, grade_json = excluded.grade_json, "
                "run_id = excluded.run_id, created_at = excluded.created_at",
                (*key, grade.grade, int(grade.passed), flags_json, grade_json, run_id, now),
            )
            grade_id = conn.execute(
                "SELECT id FROM grades WHERE call_id = ? AND kind = ? AND rubric = ? "
                "AND rubric_version = ?",
                key,
            ).fetchone()[0]
            conn.execute("DELETE FROM item_results WHERE grade_id = ?", (grade_id,))
            conn.execute("DELETE FROM evidence WHERE grade_id = ?", (grade_id,))
            conn.executemany(
                "INSERT INTO item_results (grade_id, item_id, phase_id, status, points, earned, "
                "confidence, critical, forbidden) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(grade_id, *r) for r in items],
            )
            conn.executemany(
                'INSERT INTO evidence (grade_id, item_id, turn, start, "end", speaker, text, '
                "phrase, score, method, in_phase) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(grade_id, *r) for r in evidence],
            )
            refresh_review(conn, call.call_id)

    # -- batch runs ----------------------------------------------------------------------------

    def start_run(self, options: dict[str, Any]) -> int:
        """Record a batch run as running in this process; returns its id."""
        with self._errors("starting a batch run"), self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO batch_runs (started_at, status, pid, options_json) "
                "VALUES (?, 'running', ?, ?)",
                (_now(), os.getpid(), _dumps(options)),
            )
            return int(cursor.lastrowid or 0)

    def record_failure(self, run_id: int, path: str, reason: str) -> None:
        """Record a file a batch run could not grade, and why (text that is not valid Unicode,
        such as a file name's undecodable bytes, kept as backslash escapes)."""
        with self._errors("recording a batch failure"), self._transaction() as conn:
            conn.execute(
                "INSERT INTO batch_failures (run_id, path, reason, at) VALUES (?, ?, ?, ?)",
                (run_id, storable_text(str(path)), storable_text(reason), _now()),
            )

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        found: int,
        graded: int,
        skipped: int,
        failed: int,
        seconds: float,
        mean_grade: float | None,
    ) -> None:
        """Record how a batch run ended (status: finished | interrupted | failed)."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"status must be finished, interrupted or failed, not {status!r}")
        with self._errors("finishing a batch run"), self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE batch_runs SET finished_at = ?, status = ?, found = ?, graded = ?, "
                "skipped = ?, failed = ?, seconds = ?, mean_grade = ? WHERE id = ?",
                (_now(), status, found, graded, skipped, failed, seconds, mean_grade, run_id),
            )
            if cursor.rowcount == 0:
                raise ValueError(f"no batch run {run_id} in {self.path}")

    def mark_stale_runs(self, every: bool = False) -> int:
        """Mark runs left 'running' by a process that is gone (or unknown) as 'interrupted';
        with `every` (the caller holds the batch lock, so none can be running, whatever has
        become of its pid), every run left 'running'.

        What such a run did is recorded as the database shows it: the calls it graded and the
        files it failed, and as its end the last thing it stored (when it was killed is not
        known; it was alive then).
        """
        with self._errors("marking interrupted batch runs"), self._transaction() as conn:
            rows = conn.execute("SELECT id, pid FROM batch_runs WHERE status = 'running'")
            stale = [
                (run_id,)
                for run_id, pid in rows.fetchall()
                if every or pid is None or not pid_alive(int(pid))
            ]
            conn.executemany(
                "UPDATE batch_runs SET status = 'interrupted', "
                "graded = (SELECT count(*) FROM grades g WHERE g.run_id = batch_runs.id "
                "AND g.kind = 'suggested'), "
                "failed = (SELECT count(*) FROM batch_failures f WHERE f.run_id = batch_runs.id), "
                "finished_at = coalesce(finished_at, max(started_at, "
                "coalesce((SELECT max(created_at) FROM grades g "
                "WHERE g.run_id = batch_runs.id), ''), "
                "coalesce((SELECT max(at) FROM batch_failures f "
                "WHERE f.run_id = batch_runs.id), ''))) "
                "WHERE id = ?",
                stale,
            )
            return len(stale)

    def run_summaries(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest batch runs, newest first, with their options and counts."""
        with self._errors("reading batch runs"):
            cursor = self._conn.execute(
                "SELECT id, started_at, finished_at, status, pid, options_json, found, graded, "
                "skipped, failed, seconds, mean_grade, "
                "(SELECT count(*) FROM batch_failures f WHERE f.run_id = r.id) AS failures "
                "FROM batch_runs r ORDER BY id DESC LIMIT ?",
                (limit,),
            )
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        runs = []
        for row in rows:
            run = dict(zip(names, row, strict=True))
            run["options"] = _loads(run.pop("options_json"), {})
            runs.append(run)
        return runs

    def run_failures(self, run_id: int) -> list[dict[str, Any]]:
        """The files a batch run could not grade: path, reason, at; in the order they failed."""
        with self._errors("reading batch failures"):
            rows = self._conn.execute(
                "SELECT path, reason, at FROM batch_failures WHERE run_id = ? ORDER BY id",
                (run_id,),
            ).fetchall()
        return [{"path": p, "reason": r, "at": a} for p, r, a in rows]

    # -- calls and grades ----------------------------------------------------------------------

    def list_calls(
        self,
        *,
        flagged: bool = False,
        rep: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> list[CallSummary]:
        """Calls with their latest suggested grade, ordered by call_date, started_at, call_id.

        flagged: only calls that failed or carry a flag in ATTENTION_FLAGS. rep: matched without
        regard to case. since/until: YYYY-MM-DD, inclusive, on call_date (calls with no date are
        left out when either is given). limit: the latest `limit` calls, still oldest first.
        """
        for name, value in (("since", since), ("until", until)):
            if value is not None:
                _check_date(name, value)
        where: list[str] = []
        params: list[Any] = []
        if flagged:
            marks = ", ".join("?" for _ in ATTENTION_FLAGS)
            where.append(
                "(l.passed = 0 OR EXISTS (SELECT 1 FROM json_each(l.flags_json) "
                f"WHERE json_each.value IN ({marks})))"
            )
            params.extend(ATTENTION_FLAGS)
        if rep is not None:
            where.append("casefold(c.rep) = ?")
            params.append(_casefold(rep))
        if since is not None:
            where.append("c.call_date >= ?")
            params.append(since)
        if until is not None:
            where.append("c.call_date <= ?")
            params.append(until)
        order = ("call_date IS NULL", "call_date", "started_at", "call_id")
        sql = (
            "WITH latest AS (SELECT call_id, rubric, rubric_version, grade, passed, flags_json, "
            "row_number() OVER (PARTITION BY call_id ORDER BY created_at DESC, id DESC) AS n "
            "FROM grades WHERE kind = 'suggested') "
            "SELECT c.call_id AS call_id, c.rep, c.call_date AS call_date, c.duration, "
            "l.rubric, l.rubric_version, l.grade, l.passed, l.flags_json, c.source_path, "
            "c.started_at AS started_at "
            "FROM calls c LEFT JOIN latest l ON l.call_id = c.call_id AND l.n = 1"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit is not None:
            backwards = ", ".join(f"{o} DESC" for o in order)
            sql = f"SELECT * FROM ({sql} ORDER BY {backwards} LIMIT ?)"
            params.append(max(0, int(limit)))
        sql += " ORDER BY " + ", ".join(order)
        with self._errors("listing calls"):
            rows = self._conn.execute(sql, params).fetchall()
        return [
            CallSummary(
                call_id=r[0],
                rep=r[1],
                call_date=r[2],
                duration=r[3],
                rubric=r[4],
                rubric_version=r[5],
                grade=r[6],
                passed=None if r[7] is None else bool(r[7]),
                flags=_loads(r[8], []) if r[8] else [],
                source_path=r[9],
            )
            for r in rows
        ]

    def grade_json(self, call_id: str) -> dict[str, Any] | None:
        """The latest suggested grade of a call, in the grade JSON shape; None if it has none."""
        with self._errors(f"reading the grade of {call_id}"):
            row = self._conn.execute(
                "SELECT grade_json FROM grades WHERE call_id = ? AND kind = 'suggested' "
                "ORDER BY created_at DESC, id DESC LIMIT 1",
                (call_id,),
            ).fetchone()
        return None if row is None else _loads(row[0], None)


# -- the review queue's row -----------------------------------------------------------------------


def review_priority(flags: list[str], open_disputes: int) -> int:
    """How much a call needs a human: PRIORITY_WEIGHTS summed over its flags and disputes."""
    score = sum(PRIORITY_WEIGHTS.get(flag, 0) for flag in flags)
    return score + (PRIORITY_WEIGHTS["disputed"] if open_disputes else 0)


def refresh_review(conn: sqlite3.Connection, call_id: str) -> None:
    """Rebuild the `reviews` row of a call from its latest suggested grade, the confirmed grade
    for that rubric version, and its open disputes; bump its version. Call inside the write
    transaction that changed any of them."""
    call = conn.execute("SELECT rep, call_date FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    if call is None:
        return
    rep, call_date = call
    suggested = conn.execute(
        "SELECT id, rubric, rubric_version, grade, passed, flags_json FROM grades "
        "WHERE call_id = ? AND kind = 'suggested' ORDER BY created_at DESC, id DESC LIMIT 1",
        (call_id,),
    ).fetchone()
    sid, rubric, version, grade, passed, flags_json = suggested or (None,) * 6
    confirmed = None
    if suggested is not None:
        confirmed = conn.execute(
            "SELECT id, grade, passed, json_extract(grade_json, '$.review.by'), "
            "json_extract(grade_json, '$.review.at') FROM grades "
            "WHERE call_id = ? AND kind = 'confirmed' AND rubric = ? AND rubric_version = ?",
            (call_id, rubric, version),
        ).fetchone()
    cid, cgrade, cpassed, reviewed_by, reviewed_at = confirmed or (None,) * 5
    open_disputes = conn.execute(
        "SELECT count(*) FROM disputes WHERE call_id = ? AND status = 'open'", (call_id,)
    ).fetchone()[0]
    flags = _loads(flags_json, []) if flags_json else []
    status = "disputed" if open_disputes else "confirmed" if confirmed else "unreviewed"
    conn.execute(
        "INSERT INTO reviews (call_id, rep, rep_key, call_date, rubric, rubric_version, "
        "suggested_id, suggested_grade, suggested_passed, flags_json, confirmed_id, "
        "confirmed_grade, confirmed_passed, reviewed_by, reviewed_at, open_disputes, status, "
        "queue_rank, priority, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (call_id) DO UPDATE SET rep = excluded.rep, rep_key = excluded.rep_key, "
        "call_date = excluded.call_date, rubric = excluded.rubric, "
        "rubric_version = excluded.rubric_version, suggested_id = excluded.suggested_id, "
        "suggested_grade = excluded.suggested_grade, "
        "suggested_passed = excluded.suggested_passed, flags_json = excluded.flags_json, "
        "confirmed_id = excluded.confirmed_id, confirmed_grade = excluded.confirmed_grade, "
        "confirmed_passed = excluded.confirmed_passed, reviewed_by = excluded.reviewed_by, "
        "reviewed_at = excluded.reviewed_at, open_disputes = excluded.open_disputes, "
        "status = excluded.status, queue_rank = excluded.queue_rank, "
        "priority = excluded.priority, version = reviews.version + 1",
        (
            call_id,
            rep,
            _casefold(rep),
            call_date,
            rubric,
            version,
            sid,
            grade,
            passed,
            _dumps(flags),
            cid,
            cgrade,
            cpassed,
            reviewed_by,
            reviewed_at,
            open_disputes,
            status,
            0 if status != "confirmed" else 1,
            review_priority(flags, open_disputes),
        ),
    )


# -- helpers -------------------------------------------------------------------------------------


def latest_version() -> int:
    """The schema version this code writes (the last migration's)."""
    return max((m[0] for m in MIGRATIONS), default=0)


def split_statements(script: str) -> list[str]:
    """A SQL script as single statements (triggers' BEGIN ... END kept whole)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if _has_sql(buffer):
                statements.append(buffer.strip())
            buffer = ""
    if _has_sql(buffer):
        raise ValueError(f"incomplete SQL statement: {buffer.strip()[:60]}")
    return statements


def _has_sql(text: str) -> bool:
    lines = (line.split("--", 1)[0] for line in text.splitlines())
    return bool("".join(lines).strip(" \t\r\n;"))


def store_error(
    path: Path, exc: sqlite3.Error, doing: str, *, readonly: bool = False
) -> StoreError:
    """The one-line StoreError for a sqlite3 error met while `doing` something."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = str(exc)
    if primary == sqlite3.SQLITE_FULL or "database or disk is full" in message:
        return StoreError(f"disk full while {doing} in {path}")
    if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or "not a database" in message:
        return StoreError(f"{path} is not an analyzer database ({message})")
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in message:
        return StoreError(f"{path} is busy: another process kept it locked ({message})")
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or "readonly" in message:
        if readonly:
            return StoreError(f"cannot read the database at {path} ({message})")
        return StoreError(f"cannot write the database at {path}: read-only or missing folder")
    return StoreError(f"{path}: {message} (while {doing})")


def unstorable_error(path: Path, exc: UnicodeEncodeError | OverflowError, doing: str) -> StoreError:
    """The one-line StoreError for a value SQLite cannot take (a lone surrogate, a huge int)."""
    if isinstance(exc, UnicodeEncodeError):
        problem = f"text that is not valid Unicode ({exc.reason})"
    else:
        problem = f"a number too large ({exc})"
    return StoreError(storable_text(f"{problem} while {doing} in {path}"))


def storable_text(text: str) -> str:
    """`text` as SQLite can store it: what is not valid Unicode (lone surrogates, e.g. a file
    name's undecodable bytes) as backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (unknown on Windows: True)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        target, uri = _read_only_uri(path), True
    else:
        target, uri = str(path), False
    return sqlite3.connect(
        target,
        uri=uri,
        isolation_level=None,  # autocommit: transactions are explicit BEGIN IMMEDIATE / COMMIT
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=False,  # the Store serialises use with its own lock
    )


def _read_only_uri(path: Path) -> str:
    """The URI to read `path` without writing anything, its folder included.

    A reader of a WAL database needs its WAL index (`-shm`), which SQLite creates beside it: in
    a folder it may not write, with no `-shm` there yet, the database is opened immutable
    instead. That is safe only then: no `-shm` means no process has it open, and the `-wal`
    must be empty (immutable ignores it), else it is refused with what to do.
    """
    uri = path.absolute().as_uri() + "?mode=ro"
    if os.access(path.absolute().parent, os.W_OK) or Path(f"{path}-shm").exists():
        return uri
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"cannot read {path}: its folder is read-only and {wal.name} holds changes not yet "
            "in the database; open it once where it can be written"
        )
    return uri + "&immutable=1"


def _call_row(call: CallRecord, transcript: Transcript, grade: Grade) -> tuple[Any, ...]:
    started_at = call.started_at or transcript.started_at or grade.started_at
    call_date = call.call_date or _date_part(started_at)
    duration = call.duration if call.duration is not None else grade.duration
    return (
        call.call_id,
        call.content_hash,
        call.source_path,
        call.audio_path,
        call.transcript_path,
        call.rep or transcript.rep or grade.rep,
        call_date,
        started_at,
        call.customer,
        call.call_type,
        call.outcome,
        duration,
        _dumps(call.metadata or {}),
    )


def _date_part(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _check_date(name: str, value: str) -> None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, not {value!r}")
    date.fromisoformat(value)


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def json_object(text: str | None) -> dict[str, Any] | None:
    """A stored JSON object (a grade, a transcript, metadata); None when it is missing,
    unreadable or not an object."""
    value = _loads(text, None)
    return value if isinstance(value, dict) else None


def _loads(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
