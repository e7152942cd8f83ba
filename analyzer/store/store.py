"""The Store: one open database, what every other stage reads and writes it through.

Opening a store checks the file and applies the migrations it lacks (schema.py). Each write is
one explicit transaction (`BEGIN IMMEDIATE` ... `COMMIT` on a connection in autocommit mode),
so `save_call` stores a call, its transcript and its grade whole or not at all, and refreshes the
call's `reviews` row (reviews.py) in the same transaction. One connection serves several
threads, one at a time. The work on each table lives with it: calls.py and runs.py; the Store
gives it the connection, the lock and the transaction, and turns every `sqlite3` error into a
one-line StoreError naming the database and what it was doing (connection.py).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import StoreError
from analyzer.store import calls, runs
from analyzer.store.calls import CallRecord, CallSummary
from analyzer.store.connection import BUSY_TIMEOUT_MS, now, query, store_error, unstorable_error
from analyzer.store.connection import connect as _connect
from analyzer.store.keys import casefold
from analyzer.store.reviews import refresh_review
from analyzer.store.schema import (
    MIGRATIONS,
    has_foreign_tables,
    latest_version,
    read_version,
    split_statements,
)
from analyzer.transcripts.transcript import Transcript

if TYPE_CHECKING:  # importing the engine (spaCy, numpy) is not needed to read the database
    from analyzer.grading.grade import Grade

# `_connect`, `MIGRATIONS` and `refresh_review` are looked up in this module when used, so that a
# test can stand in for them (a file opened read-only, an older schema, saving before migration 2).


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
        conn.create_function("casefold", 1, casefold, deterministic=True)
        if not self.readonly:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = NORMAL")
            # BEGIN IMMEDIATE alone succeeds on a read-only file: make a write that is undone.
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = query(conn, "PRAGMA user_version").fetchone()["user_version"]
                conn.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        current = read_version(conn)
        latest = latest_version(MIGRATIONS)
        if current == 0 and has_foreign_tables(conn):
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

    def _migrate(self) -> None:
        """Apply the migrations the database lacks, each in its own transaction with foreign
        key enforcement off and `PRAGMA foreign_key_check` before it commits."""
        conn = self._conn
        conn.execute("PRAGMA foreign_keys = OFF")  # no-op inside a transaction: set it before
        for version, name, script in sorted(MIGRATIONS, key=lambda m: m[0]):
            with self._transaction():
                if version <= read_version(conn):  # another process got here first
                    continue
                if callable(script):
                    script(conn)
                else:
                    for statement in split_statements(script):
                        conn.execute(statement)
                broken = query(conn, "PRAGMA foreign_key_check").fetchone()
                if broken is not None:
                    raise StoreError(
                        f"{self.path}: migration {version} ({name}) breaks a foreign key "
                        f"in table {broken['table']}"
                    )
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, now()),
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

    # -- calls and grades (calls.py) -----------------------------------------------------------

    def schema_version(self) -> int:
        """The newest migration applied to this database."""
        with self.reading("reading the schema version") as conn:
            return read_version(conn)

    def call_id_for(self, content_hash: str, wanted: str) -> str:
        """The id to store a call under: the existing call's for this content, else `wanted`,
        else (when another call already has `wanted`) `wanted` plus the start of the hash."""
        with self.reading("looking up a call") as conn:
            return calls.call_id_for(conn, self.path, content_hash, wanted)

    def graded_hashes(self, rubric: str, version: str | int) -> set[str]:
        """Content hashes of the calls that have a suggested grade for this rubric version."""
        with self.reading("reading graded calls") as conn:
            return calls.graded_hashes(conn, rubric, version)

    def stored_transcript(self, content_hash: str) -> Transcript | None:
        """The transcript stored for the call with this content, or None (also when unreadable)."""
        with self.reading("reading a transcript") as conn:
            return calls.stored_transcript(conn, content_hash)

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
        prepared = calls.prepare_call(call, transcript, grade)
        with self.writing(f"saving {call.call_id}") as conn:
            calls.write_call(conn, self.path, prepared, run_id)
            refresh_review(conn, call.call_id)

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
        with self.reading("listing calls") as conn:
            return calls.list_calls(
                conn, flagged=flagged, rep=rep, since=since, until=until, limit=limit
            )

    def grade_json(self, call_id: str) -> dict[str, Any] | None:
        """The latest suggested grade of a call, in the grade JSON shape; None if it has none."""
        with self.reading(f"reading the grade of {call_id}") as conn:
            return calls.latest_grade_json(conn, call_id)

    # -- batch runs (runs.py) ------------------------------------------------------------------

    def start_run(self, options: dict[str, Any]) -> int:
        """Record a batch run as running in this process; returns its id."""
        with self.writing("starting a batch run") as conn:
            return runs.start_run(conn, options)

    def record_failure(self, run_id: int, path: str, reason: str) -> None:
        """Record a file a batch run could not grade, and why (text that is not valid Unicode,
        such as a file name's undecodable bytes, kept as backslash escapes)."""
        with self.writing("recording a batch failure") as conn:
            runs.record_failure(conn, run_id, path, reason)

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
        runs.check_end_status(status)
        with self.writing("finishing a batch run") as conn:
            runs.finish_run(
                conn,
                self.path,
                run_id,
                status=status,
                found=found,
                graded=graded,
                skipped=skipped,
                failed=failed,
                seconds=seconds,
                mean_grade=mean_grade,
            )

    def mark_stale_runs(self, every: bool = False) -> int:
        """Mark runs left 'running' by a process that is gone (or unknown) as 'interrupted';
        with `every` (the caller holds the batch lock, so none can be running, whatever has
        become of its pid), every run left 'running'.

        What such a run did is recorded as the database shows it: the calls it graded and the
        files it failed, and as its end the last thing it stored (when it was killed is not
        known; it was alive then).
        """
        with self.writing("marking interrupted batch runs") as conn:
            return runs.mark_stale_runs(conn, every)

    def run_summaries(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest batch runs, newest first, with their options and counts."""
        with self.reading("reading batch runs") as conn:
            return runs.run_summaries(conn, limit)

    def run_failures(self, run_id: int) -> list[dict[str, Any]]:
        """The files a batch run could not grade: path, reason, at; in the order they failed."""
        with self.reading("reading batch failures") as conn:
            return runs.run_failures(conn, run_id)
