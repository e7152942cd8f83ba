"""The review queue: which calls a manager should look at first, filtered and paginated.

Reads only the `reviews` table (one row per call, kept by `store.refresh_review`), whose indexes
match the queue's order: calls that need a human (unreviewed or disputed) first, then by
priority (critical item missed or forbidden line said, below the pass mark, low confidence,
disputed), newest first. A row flagged `forbidden_said` also names the forbidden items said
(read from its suggested grade, for the page's rows only).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from analyzer.dates import day_problem, is_day
from analyzer.errors import ReviewError
from analyzer.review.rules import counting
from analyzer.review.users import User
from analyzer.store import REVIEW_STATUSES, Store
from analyzer.store.connection import query

PER_PAGE = 50  # calls on a queue page unless asked otherwise
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000  # far past any real queue; keeps OFFSET within SQLite's integers


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows. Every field is optional; `status` "open" means not yet confirmed."""

    rep: str | None = None  # matched without regard to case
    since: str | None = None  # YYYY-MM-DD, inclusive, on the call's date
    until: str | None = None  # YYYY-MM-DD, inclusive
    rubric: str | None = None  # rubric id
    status: str | None = None  # unreviewed | disputed | confirmed | open; None: all
    page: int = 1
    per_page: int = PER_PAGE

    def problems(self) -> list[tuple[str, str]]:
        """(field, problem) for every invalid field, all at once."""
        found = []
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not is_day(value):  # listed under its field: unnamed
                found.append((name, day_problem(name, value).removeprefix(f"{name} ")))
        if self.status is not None and self.status not in (*REVIEW_STATUSES, "open"):
            allowed = ", ".join((*REVIEW_STATUSES, "open"))
            found.append(("status", f"must be one of {allowed}, not {self.status!r}"))
        if self.page < 1:
            found.append(("page", "must be 1 or more"))
        elif self.page > MAX_PAGE:
            found.append(("page", f"must be at most {MAX_PAGE}"))
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            found.append(("per_page", f"must be between 1 and {MAX_PER_PAGE}"))
        return found


@dataclass(frozen=True)
class QueueRow:
    call_id: str
    rep: str | None
    call_date: str | None
    duration: float | None
    rubric: str | None
    rubric_version: str | None
    status: str
    priority: int
    suggested_grade: float | None
    confirmed_grade: float | None
    passed: bool | None  # the confirmed verdict when there is one, else the suggested
    flags: list[str]
    open_disputes: int
    reviewed_by: str | None
    # the text of each forbidden item whose line was said (flag forbidden_said), rubric order
    forbidden_said: list[str] = field(default_factory=list)

    @property
    def grade(self) -> float | None:
        """The grade that counts: confirmed when confirmed, else suggested."""
        return counting(self.suggested_grade, self.confirmed_grade)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "rep": self.rep,
            "call_date": self.call_date,
            "duration": self.duration,
            "rubric": self.rubric,
            "rubric_version": self.rubric_version,
            "status": self.status,
            "priority": self.priority,
            "suggested_grade": self.suggested_grade,
            "confirmed_grade": self.confirmed_grade,
            "grade": self.grade,
            "passed": self.passed,
            "flags": self.flags,
            "open_disputes": self.open_disputes,
            "reviewed_by": self.reviewed_by,
            "forbidden_said": self.forbidden_said,
        }


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int  # calls matching the filters, over all pages
    counts: dict[str, int]  # per review status, under the filters other than status
    page: int
    per_page: int
    reps: list[str] = field(default_factory=list)  # for the filter's choices
    rubrics: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "counts": self.counts,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "calls": [r.to_dict() for r in self.rows],
        }


def list_queue(store: Store, user: User, filters: QueueFilters, choices: bool = False) -> QueuePage:
    """One page of the queue as `user` may see it (a rep: only their own calls).

    choices: also list the reps and rubrics present, for the page's filter menus.
    """
    problems = filters.problems()
    if problems:
        field_name, problem = problems[0]
        raise ReviewError(field_name, problem, location="query")
    where: list[str] = []
    params: list[Any] = []
    if not user.reviews:
        where.append("r.rep_key = ?")
        params.append((user.rep_name or "").casefold())
    if filters.rep:
        where.append("r.rep_key = ?")
        params.append(filters.rep.casefold())
    if filters.since:
        where.append("r.call_date >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("r.call_date <= ?")
        params.append(filters.until)
    base = " AND ".join(where) or "1"
    page_where, page_params = base, list(params)
    if filters.rubric:
        where.append("r.rubric = ?")
        params.append(filters.rubric)
        base = " AND ".join(where)
        # A team has few rubrics: walking the queue's order and skipping other rubrics beats
        # sorting every call of one rubric, which the planner may pick without statistics
        # (a unary + keeps it off the rubric index).
        page_where += " AND +r.rubric = ?"
        page_params.append(filters.rubric)
    if filters.status == "open":  # queue_rank is 0 exactly when the status is not confirmed
        page_where += " AND r.queue_rank = 0"
    elif filters.status:
        page_where += " AND r.status = ?"
        page_params.append(filters.status)
    with store.reading("reading the review queue") as conn:
        counts = dict.fromkeys(REVIEW_STATUSES, 0)
        for row in query(
            conn,
            f"SELECT r.status AS status, count(*) AS n FROM reviews r WHERE {base} "
            "GROUP BY r.status",
            params,
        ):
            counts[row["status"]] = row["n"]
        total = sum(counts[s] for s in _statuses(filters.status))
        # The page's ids from the index alone, then only those rows read and joined: a deep
        # page does not read every row it skips.
        rows = query(
            conn,
            f"SELECT {_COLUMNS} FROM (SELECT r.call_id FROM reviews r WHERE {page_where} "
            f"{_ORDER} LIMIT ? OFFSET ?) AS page JOIN reviews r ON r.call_id = page.call_id "
            f"JOIN calls c ON c.call_id = r.call_id {_ORDER}",
            [*page_params, filters.per_page, (filters.page - 1) * filters.per_page],
        ).fetchall()
        reps: list[str] = []
        rubrics: list[str] = []
        if choices:
            if user.reviews:
                reps = [r["rep"] for r in query(conn, _REP_MENU)]
            else:
                reps = [
                    r["rep"]
                    for r in query(
                        conn,
                        "SELECT min(rep) AS rep FROM reviews WHERE rep_key = ? GROUP BY rep_key",
                        [(user.rep_name or "").casefold()],
                    )
                ]
            rubrics = [
                r["rubric"]
                for r in query(
                    conn,
                    "SELECT DISTINCT rubric FROM reviews WHERE rubric IS NOT NULL ORDER BY rubric",
                )
            ]
    return QueuePage(
        rows=[_row(r) for r in rows],
        total=total,
        counts=counts,
        page=filters.page,
        per_page=filters.per_page,
        reps=reps,
        rubrics=rubrics,
    )


_ORDER = "ORDER BY r.queue_rank, r.priority DESC, r.call_date DESC, r.call_id"
_COLUMNS = (
    "r.call_id, r.rep, r.call_date, c.duration, r.rubric, r.rubric_version, r.status, "
    "r.priority, r.suggested_grade, r.confirmed_grade, r.suggested_passed, r.confirmed_passed, "
    "r.flags_json, r.open_disputes, r.reviewed_by, "
    # The forbidden items said, from the suggested grade's JSON: only for a row with the flag.
    """CASE WHEN r.flags_json LIKE '%"forbidden_said"%' THEN (
        SELECT json_group_array(json_extract(i.value, '$.text'))
        FROM grades g, json_each(g.grade_json, '$.phases') p, json_each(p.value, '$.items') i
        WHERE g.id = r.suggested_id AND json_extract(p.value, '$.status') = 'scored'
        AND json_extract(i.value, '$.forbidden') AND json_extract(i.value, '$.status') = 'missed'
    ) END AS forbidden_said"""
)
# The reps present, one index seek each (reviews_rep_name), not a read of every row.
_REP_MENU = (
    "WITH RECURSIVE k(key) AS (SELECT (SELECT min(rep_key) FROM reviews) UNION ALL "
    "SELECT (SELECT min(rep_key) FROM reviews WHERE rep_key > k.key) FROM k "
    "WHERE k.key IS NOT NULL) "
    "SELECT (SELECT min(rep) FROM reviews WHERE rep_key = k.key) AS rep FROM k "
    "WHERE k.key IS NOT NULL"
)


def _row(r: sqlite3.Row) -> QueueRow:
    forbidden = json.loads(r["forbidden_said"]) if r["forbidden_said"] else []
    return QueueRow(
        call_id=r["call_id"],
        rep=r["rep"],
        call_date=r["call_date"],
        duration=r["duration"],
        rubric=r["rubric"],
        rubric_version=r["rubric_version"],
        status=r["status"],
        priority=r["priority"],
        suggested_grade=r["suggested_grade"],
        confirmed_grade=r["confirmed_grade"],
        passed=_verdict(counting(r["suggested_passed"], r["confirmed_passed"])),
        flags=json.loads(r["flags_json"]) if r["flags_json"] else [],
        open_disputes=r["open_disputes"],
        reviewed_by=r["reviewed_by"],
        forbidden_said=[t for t in forbidden if isinstance(t, str)],
    )


def _verdict(passed: int | None) -> bool | None:
    return None if passed is None else bool(passed)


def _statuses(status: str | None) -> tuple[str, ...]:
    if status is None:
        return REVIEW_STATUSES
    if status == "open":
        return ("unreviewed", "disputed")
    return (status,)
