"""Calls, their transcripts and grades in the database: saving a graded call, reading calls back.

Saving is in two steps so that only the writing holds the database: `prepare_call` turns a
call, its transcript and its suggested grade into the rows to store, `write_call` stores them
inside the Store's transaction. `calls(call_id)` and `grades(id)` stay stable: re-grading a call
updates its suggested grade row in place (`upsert_grade`, same id) and replaces only that
grade's item results and evidence. A confirmed grade (review/decisions.py) is stored by the same
`upsert_grade` and `replace_item_results`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.dates import check_day, day_of
from analyzer.errors import StoreError
from analyzer.store.connection import dumps, json_object, loads, query
from analyzer.store.connection import now as _now  # by this name: bench_web pins the clock
from analyzer.store.keys import casefold
from analyzer.transcripts.transcript import Transcript, transcript_from_dict

if TYPE_CHECKING:  # importing the engine (spaCy, numpy) is not needed to read the database
    from analyzer.grading.grade import Grade

# Flags that put a call on the "needs a look" list (`list_calls(flagged=True)`), besides failing.
ATTENTION_FLAGS = ("below_pass_mark", "critical_missed", "forbidden_said", "low_confidence")


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


@dataclass(frozen=True)
class PreparedCall:
    """A call, its transcript and its suggested grade as the rows `write_call` stores."""

    call_id: str
    content_hash: str
    now: str
    call_row: tuple[Any, ...]  # the calls columns from call_id to metadata_json
    transcript_json: str
    backend: Any
    model: Any
    rubric: str
    rubric_version: str
    grade: float
    passed: bool
    flags_json: str
    grade_json: str
    items: list[tuple[Any, ...]]  # item_results columns after grade_id
    evidence: list[tuple[Any, ...]]  # evidence columns after grade_id


# -- saving --------------------------------------------------------------------------------------


def prepare_call(call: CallRecord, transcript: Transcript, grade: Grade) -> PreparedCall:
    """The rows that store a call: call fields left None are filled from the transcript and
    grade where they say (rep, started_at, call_date from started_at, duration); the transcript
    and grade JSON carry `call.call_id`."""
    now = _now()
    transcript_data = transcript.to_dict()
    transcript_data["call_id"] = call.call_id
    grade_data = grade.to_dict()
    grade_data["call_id"] = call.call_id
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
    transcript_json = dumps(transcript_data)
    grade_json = dumps(grade_data)
    flags_json = dumps(list(grade.flags))
    source = transcript.source or {}
    return PreparedCall(
        call_id=call.call_id,
        content_hash=call.content_hash,
        now=now,
        call_row=_calls_columns(call, transcript, grade),
        transcript_json=transcript_json,
        backend=source.get("backend"),
        model=source.get("model"),
        rubric=grade.rubric,
        rubric_version=str(grade.rubric_version),
        grade=grade.grade,
        passed=grade.passed,
        flags_json=flags_json,
        grade_json=grade_json,
        items=items,
        evidence=evidence,
    )


def write_call(
    conn: sqlite3.Connection, path: Path, saved: PreparedCall, run_id: int | None = None
) -> int:
    """Store a prepared call inside the caller's transaction: the call row upserted (its
    created_at kept), the transcript replaced, the suggested grade for (call, rubric, version)
    updated in place with its item results and evidence replaced. Returns the grade's id.
    StoreError when the content is stored under another id, or the id holds other content."""
    call_id = saved.call_id
    row = query(
        conn, "SELECT call_id FROM calls WHERE content_hash = ?", (saved.content_hash,)
    ).fetchone()
    if row is not None and row["call_id"] != call_id:
        raise StoreError(
            f"cannot save {call_id} in {path}: "
            f"its content is already stored as call {row['call_id']}"
        )
    row = query(conn, "SELECT content_hash FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    if row is not None and row["content_hash"] != saved.content_hash:
        raise StoreError(
            f"cannot save {call_id} in {path}: the id is taken by another "
            f"call (content {row['content_hash'][:12]}); use call_id_for()"
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
        (*saved.call_row, saved.now, saved.now),
    )
    conn.execute(
        "INSERT INTO transcripts (call_id, transcript_json, backend, model, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET "
        "transcript_json = excluded.transcript_json, backend = excluded.backend, "
        "model = excluded.model, created_at = excluded.created_at",
        (call_id, saved.transcript_json, saved.backend, saved.model, saved.now),
    )
    grade_id = upsert_grade(
        conn,
        call_id,
        "suggested",
        saved.rubric,
        saved.rubric_version,
        grade=saved.grade,
        passed=saved.passed,
        flags_json=saved.flags_json,
        grade_json=saved.grade_json,
        created_at=saved.now,
        run_id=run_id,
    )
    replace_item_results(conn, grade_id, saved.items)
    conn.execute("DELETE FROM evidence WHERE grade_id = ?", (grade_id,))
    conn.executemany(
        'INSERT INTO evidence (grade_id, item_id, turn, start, "end", speaker, text, '
        "phrase, score, method, in_phase) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(grade_id, *r) for r in saved.evidence],
    )
    return grade_id


def upsert_grade(
    conn: sqlite3.Connection,
    call_id: str,
    kind: str,
    rubric: str,
    rubric_version: str,
    *,
    grade: float,
    passed: bool,
    flags_json: str,
    grade_json: str,
    created_at: str,
    run_id: int | None = None,
) -> int:
    """Store the grade of (call, kind, rubric, version): a new row, or the one there updated in
    place (its id kept, so its item results' and evidence's keys stay). Returns its id.
    `run_id`: the batch run that graded it (a confirmed grade has none)."""
    key = (call_id, kind, rubric, rubric_version)
    conn.execute(
        "INSERT INTO grades (call_id, kind, rubric, rubric_version, grade, passed, "
        "flags_json, grade_json, run_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (call_id, kind, rubric, rubric_version) DO UPDATE SET "
        "grade = excluded.grade, passed = excluded.passed, "
        "flags_json = excluded.flags_json, grade_json = excluded.grade_json, "
        "run_id = excluded.run_id, created_at = excluded.created_at",
        (*key, grade, int(passed), flags_json, grade_json, run_id, created_at),
    )
    row = query(
        conn,
        "SELECT id FROM grades WHERE call_id = ? AND kind = ? AND rubric = ? "
        "AND rubric_version = ?",
        key,
    ).fetchone()
    return int(row["id"])


def replace_item_results(
    conn: sqlite3.Connection, grade_id: int, items: list[tuple[Any, ...]]
) -> None:
    """Replace a grade's item results with `items`: (item_id, phase_id, status, points, earned,
    confidence, critical, forbidden) each."""
    conn.execute("DELETE FROM item_results WHERE grade_id = ?", (grade_id,))
    conn.executemany(
        "INSERT INTO item_results (grade_id, item_id, phase_id, status, points, earned, "
        "confidence, critical, forbidden) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(grade_id, *r) for r in items],
    )


def _calls_columns(call: CallRecord, transcript: Transcript, grade: Grade) -> tuple[Any, ...]:
    started_at = call.started_at or transcript.started_at or grade.started_at
    call_date = call.call_date or day_of(started_at)
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
        dumps(call.metadata or {}),
    )


# -- reading -------------------------------------------------------------------------------------


def call_id_for(conn: sqlite3.Connection, path: Path, content_hash: str, wanted: str) -> str:
    """The id to store a call under: the existing call's for this content, else `wanted`,
    else (when another call already has `wanted`) `wanted` plus the start of the hash."""
    row = query(
        conn, "SELECT call_id FROM calls WHERE content_hash = ?", (content_hash,)
    ).fetchone()
    if row:
        return str(row["call_id"])
    candidates = [wanted, *(f"{wanted}-{content_hash[:n]}" for n in (8, 16))]
    candidates.append(f"{wanted}-{content_hash}")
    candidates.extend(f"{wanted}-{content_hash[:8]}-{n}" for n in range(2, 1000))
    for candidate in candidates:
        taken = conn.execute("SELECT 1 FROM calls WHERE call_id = ?", (candidate,)).fetchone()
        if not taken:
            return candidate
    raise StoreError(f"{path}: no free call id for {wanted}")


def graded_hashes(conn: sqlite3.Connection, rubric: str, version: str | int) -> set[str]:
    """Content hashes of the calls that have a suggested grade for this rubric version."""
    rows = query(
        conn,
        "SELECT c.content_hash AS content_hash FROM grades g "
        "JOIN calls c ON c.call_id = g.call_id "
        "WHERE g.rubric = ? AND g.rubric_version = ? AND g.kind = 'suggested'",
        (rubric, str(version)),
    ).fetchall()
    return {row["content_hash"] for row in rows}


def stored_transcript(conn: sqlite3.Connection, content_hash: str) -> Transcript | None:
    """The transcript stored for the call with this content, or None (also when unreadable)."""
    row = query(
        conn,
        "SELECT t.call_id AS call_id, t.transcript_json AS transcript_json FROM transcripts t "
        "JOIN calls c ON c.call_id = t.call_id WHERE c.content_hash = ?",
        (content_hash,),
    ).fetchone()
    if row is None:
        return None
    try:
        return transcript_from_dict(
            json.loads(row["transcript_json"]), default_call_id=row["call_id"]
        )
    except (ValueError, TypeError, KeyError):
        return None


def list_calls(
    conn: sqlite3.Connection,
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
            check_day(name, value)
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
        params.append(casefold(rep))
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
        "SELECT c.call_id AS call_id, c.rep AS rep, c.call_date AS call_date, "
        "c.duration AS duration, l.rubric AS rubric, l.rubric_version AS rubric_version, "
        "l.grade AS grade, l.passed AS passed, l.flags_json AS flags_json, "
        "c.source_path AS source_path, c.started_at AS started_at "
        "FROM calls c LEFT JOIN latest l ON l.call_id = c.call_id AND l.n = 1"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    if limit is not None:
        backwards = ", ".join(f"{o} DESC" for o in order)
        sql = f"SELECT * FROM ({sql} ORDER BY {backwards} LIMIT ?)"
        params.append(max(0, int(limit)))
    sql += " ORDER BY " + ", ".join(order)
    return [
        CallSummary(
            call_id=r["call_id"],
            rep=r["rep"],
            call_date=r["call_date"],
            duration=r["duration"],
            rubric=r["rubric"],
            rubric_version=r["rubric_version"],
            grade=r["grade"],
            passed=None if r["passed"] is None else bool(r["passed"]),
            flags=loads(r["flags_json"], []) if r["flags_json"] else [],
            source_path=r["source_path"],
        )
        for r in query(conn, sql, params).fetchall()
    ]


def latest_grade_json(conn: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    """The latest suggested grade of a call, in the grade JSON shape; None if it has none."""
    row = query(
        conn,
        "SELECT grade_json FROM grades WHERE call_id = ? AND kind = 'suggested' "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        (call_id,),
    ).fetchone()
    return None if row is None else loads(row["grade_json"], None)


def call_row(conn: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    """The stored fields of a call (its metadata as stored JSON, `metadata_json`); None when
    there is no such call."""
    row = query(
        conn,
        "SELECT call_id, content_hash, source_path, audio_path, transcript_path, rep, call_date, "
        "started_at, customer, call_type, outcome, duration, metadata_json FROM calls "
        "WHERE call_id = ?",
        (call_id,),
    ).fetchone()
    return None if row is None else dict(row)


def grade_by_id(conn: sqlite3.Connection, grade_id: int | None) -> dict[str, Any] | None:
    """The grade JSON of the `grades` row with this id; None for no id, no row, or unreadable."""
    if grade_id is None:
        return None
    row = query(conn, "SELECT grade_json FROM grades WHERE id = ?", (grade_id,)).fetchone()
    return json_object(row["grade_json"]) if row else None


def call_transcript(conn: sqlite3.Connection, call_id: str) -> dict[str, Any] | None:
    """The stored transcript of a call as project JSON; None when it has none (or unreadable)."""
    row = query(
        conn, "SELECT transcript_json FROM transcripts WHERE call_id = ?", (call_id,)
    ).fetchone()
    return json_object(row["transcript_json"]) if row else None
