"""The `reviews` table: one derived row per call, what the review queue reads.

A call's row holds its status, priority, latest suggested grade and the confirmed grade for that
rubric version. `refresh_review` rebuilds it from the tables it summarises (grades, disputes,
the call), and every write that changes them calls it in the same transaction, bumping the row's
`version` (the review page's concurrency check).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from analyzer.store.connection import dumps, loads, query
from analyzer.store.keys import casefold

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


def review_priority(flags: list[str], open_disputes: int) -> int:
    """How much a call needs a human: PRIORITY_WEIGHTS summed over its flags and disputes."""
    score = sum(PRIORITY_WEIGHTS.get(flag, 0) for flag in flags)
    return score + (PRIORITY_WEIGHTS["disputed"] if open_disputes else 0)


def refresh_review(conn: sqlite3.Connection, call_id: str) -> None:
    """Rebuild the `reviews` row of a call from its latest suggested grade, the confirmed grade
    for that rubric version, and its open disputes; bump its version. Call inside the write
    transaction that changed any of them."""
    call = query(conn, "SELECT rep, call_date FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    if call is None:
        return
    suggested = query(
        conn,
        "SELECT id, rubric, rubric_version, grade, passed, flags_json FROM grades "
        "WHERE call_id = ? AND kind = 'suggested' ORDER BY created_at DESC, id DESC LIMIT 1",
        (call_id,),
    ).fetchone()
    confirmed = None
    if suggested is not None:
        confirmed = query(
            conn,
            "SELECT id, grade, passed, json_extract(grade_json, '$.review.by') AS reviewed_by, "
            "json_extract(grade_json, '$.review.at') AS reviewed_at FROM grades "
            "WHERE call_id = ? AND kind = 'confirmed' AND rubric = ? AND rubric_version = ?",
            (call_id, suggested["rubric"], suggested["rubric_version"]),
        ).fetchone()
    open_disputes = query(
        conn,
        "SELECT count(*) AS n FROM disputes WHERE call_id = ? AND status = 'open'",
        (call_id,),
    ).fetchone()["n"]
    flags_json = _column(suggested, "flags_json")
    flags = loads(flags_json, []) if flags_json else []
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
            call["rep"],
            casefold(call["rep"]),
            call["call_date"],
            _column(suggested, "rubric"),
            _column(suggested, "rubric_version"),
            _column(suggested, "id"),
            _column(suggested, "grade"),
            _column(suggested, "passed"),
            dumps(flags),
            _column(confirmed, "id"),
            _column(confirmed, "grade"),
            _column(confirmed, "passed"),
            _column(confirmed, "reviewed_by"),
            _column(confirmed, "reviewed_at"),
            open_disputes,
            status,
            0 if status != "confirmed" else 1,
            review_priority(flags, open_disputes),
        ),
    )


def review_row(conn: sqlite3.Connection, call_id: str) -> dict[str, Any]:
    """What the review page needs of a call's `reviews` row (status, version, the grades' ids
    and values, who reviewed it, open disputes, priority); for a call stored without a grade,
    unreviewed at version 0."""
    row = query(
        conn,
        "SELECT status, version, rubric, rubric_version, suggested_id, suggested_grade, "
        "suggested_passed, confirmed_id, confirmed_grade, confirmed_passed, reviewed_by, "
        "reviewed_at, open_disputes, priority FROM reviews WHERE call_id = ?",
        (call_id,),
    ).fetchone()
    if row is None:  # a call stored without a grade: nothing to review yet
        return {"status": "unreviewed", "version": 0, "open_disputes": 0}
    return dict(row)


def review_version(conn: sqlite3.Connection, call_id: str) -> int:
    """The version of a call's `reviews` row (send it with the next change)."""
    row = query(conn, "SELECT version FROM reviews WHERE call_id = ?", (call_id,)).fetchone()
    return int(row["version"])


def _column(row: sqlite3.Row | None, name: str) -> Any:
    return None if row is None else row[name]
