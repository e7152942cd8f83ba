"""Batch runs in the database: a run started, the files it failed, how it ended, and the runs
left 'running' by a process that is gone.

Each function works on a connection the Store gives it, inside its transaction for a write.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from analyzer.store.connection import dumps, loads, now, query, storable_text

RUN_STATUSES = ("running", "finished", "interrupted", "failed")


def start_run(conn: sqlite3.Connection, options: dict[str, Any]) -> int:
    """Record a batch run as running in this process; returns its id."""
    cursor = conn.execute(
        "INSERT INTO batch_runs (started_at, status, pid, options_json) "
        "VALUES (?, 'running', ?, ?)",
        (now(), os.getpid(), dumps(options)),
    )
    return int(cursor.lastrowid or 0)


def record_failure(conn: sqlite3.Connection, run_id: int, path: str, reason: str) -> None:
    """Record a file a batch run could not grade, and why (text that is not valid Unicode,
    such as a file name's undecodable bytes, kept as backslash escapes)."""
    conn.execute(
        "INSERT INTO batch_failures (run_id, path, reason, at) VALUES (?, ?, ?, ?)",
        (run_id, storable_text(str(path)), storable_text(reason), now()),
    )


def check_end_status(status: str) -> None:
    """ValueError unless `status` is one a run ends with: finished, interrupted or failed."""
    if status not in RUN_STATUSES or status == "running":
        raise ValueError(f"status must be finished, interrupted or failed, not {status!r}")


def finish_run(
    conn: sqlite3.Connection,
    path: Path,
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
    """Record how a batch run ended (`status` checked by `check_end_status` first)."""
    cursor = conn.execute(
        "UPDATE batch_runs SET finished_at = ?, status = ?, found = ?, graded = ?, "
        "skipped = ?, failed = ?, seconds = ?, mean_grade = ? WHERE id = ?",
        (now(), status, found, graded, skipped, failed, seconds, mean_grade, run_id),
    )
    if cursor.rowcount == 0:
        raise ValueError(f"no batch run {run_id} in {path}")


def mark_stale_runs(conn: sqlite3.Connection, every: bool = False) -> int:
    """Mark runs left 'running' by a process that is gone (or unknown) as 'interrupted';
    with `every`, every run left 'running'. Returns how many.

    What such a run did is recorded as the database shows it: the calls it graded and the
    files it failed, and as its end the last thing it stored (when it was killed is not
    known; it was alive then).
    """
    rows = query(conn, "SELECT id, pid FROM batch_runs WHERE status = 'running'").fetchall()
    stale = [
        (row["id"],)
        for row in rows
        if every or row["pid"] is None or not pid_alive(int(row["pid"]))
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


def run_summaries(conn: sqlite3.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The latest batch runs, newest first, with their options and counts."""
    rows = query(
        conn,
        "SELECT id, started_at, finished_at, status, pid, options_json, found, graded, "
        "skipped, failed, seconds, mean_grade, "
        "(SELECT count(*) FROM batch_failures f WHERE f.run_id = r.id) AS failures "
        "FROM batch_runs r ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    runs = []
    for row in rows:
        run = dict(row)
        run["options"] = loads(run.pop("options_json"), {})
        runs.append(run)
    return runs


def run_failures(conn: sqlite3.Connection, run_id: int) -> list[dict[str, Any]]:
    """The files a batch run could not grade: path, reason, at; in the order they failed."""
    return [
        dict(row)
        for row in query(
            conn,
            "SELECT path, reason, at FROM batch_failures WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
    ]


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
