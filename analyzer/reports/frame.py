"""The calls frame: one row per graded call, with its grade, outcome, phases and items.

`calls_frame(store, since, until)` reads, in one snapshot, every call with a suggested grade:
its grade (the grade that counts: the confirmed one when a manager confirmed the current rubric
version, else the suggested one; `review.rules`), its outcome (won / lost / None), one
`phase:<id>` column per phase (percent of the phase's weight, NaN where the phase did not apply)
and one `item:<id>` column per item (credit: met 1, partial 0.5, missed 0, n/a NaN; a forbidden
item is met when it was avoided). The figures are pivoted in SQLite from `item_results`; a grade
stored without them is read from its JSON. `reports.analysis` works on the frame.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analyzer.dates import check_range
from analyzer.errors import AnalyzerError
from analyzer.reports.outcomes import is_given, outcome_or_none
from analyzer.review.rules import COUNTING_GRADE_ID_SQL
from analyzer.store import Store, json_object
from analyzer.store.connection import named_cursor

ITEM_CREDIT = {"met": 1.0, "partial": 0.5, "missed": 0.0, "na": np.nan}
PHASE_PREFIX, ITEM_PREFIX = "phase:", "item:"
BASE_COLUMNS = (
    "call_id",
    "rep",
    "call_date",
    "grade",
    "passed",
    "confirmed",
    "outcome",
    "rubric",
    "rubric_version",
)


# The calls with a suggested grade and the grade that counts for each (`review.rules`).
_CHOSEN = f"""
WITH chosen AS (
    SELECT c.call_id, c.rep, c.call_date, c.started_at, c.outcome,
           {COUNTING_GRADE_ID_SQL} AS grade_id, cg.id IS NOT NULL AS confirmed
    FROM reviews r
    JOIN calls c ON c.call_id = r.call_id
    JOIN grades sg ON sg.id = r.suggested_id AND sg.kind = 'suggested'
    LEFT JOIN grades cg ON cg.id = r.confirmed_id AND cg.kind = 'confirmed'
        AND cg.rubric = sg.rubric AND cg.rubric_version = sg.rubric_version
    {{where}}
)
"""
# One column per phase (its id bound twice) and per item (bound once), over a grade's items.
_PHASE_SQL = (
    "100.0 * sum(CASE WHEN ir.phase_id = ? AND ir.status != 'na' THEN ir.earned END) "
    "/ sum(CASE WHEN ir.phase_id = ? AND ir.status != 'na' THEN ir.points END)"
)
_ITEM_SQL = (
    "max(CASE WHEN ir.item_id = ? THEN CASE ir.status WHEN 'met' THEN 1.0 "
    "WHEN 'partial' THEN 0.5 WHEN 'missed' THEN 0.0 END END)"
)


@dataclass
class _Labels:
    """Phase and item ids in rubric order, with their titles, from the grades' JSON."""

    phase_titles: dict[str, str] = field(default_factory=dict)
    item_texts: dict[str, str] = field(default_factory=dict)
    item_phases: dict[str, str] = field(default_factory=dict)

    def read(self, grade: dict[str, Any]) -> None:
        for phase in grade.get("phases") or []:
            phase_id = str(phase.get("id"))
            self.phase_titles.setdefault(phase_id, str(phase.get("title") or phase_id))
            for item in phase.get("items") or []:
                item_id = str(item.get("id"))
                self.item_texts.setdefault(item_id, str(item.get("text") or item_id))
                self.item_phases.setdefault(item_id, phase_id)


def calls_frame(
    store: Store, since: str | date | None = None, until: str | date | None = None
) -> pd.DataFrame:
    """One row per graded call (since/until: inclusive YYYY-MM-DD on the call date; calls with
    no date are left out when either is given), oldest first; see the module docstring for
    the columns. `df.attrs` carries `phase_titles`, `item_texts`, `item_phases` (id -> text)
    and `unrecognised_outcomes` (calls whose stored outcome is neither a won nor a lost word).

    The grade of a call is the row of `grades` that its `reviews` row points at: the confirmed
    one when it is for the suggested grade's rubric version, else the suggested one. Phase and
    item figures come from that grade's `item_results` rows (kept with every grade, confirmed
    ones included), pivoted in SQLite: a phase's percent is its earned points over the points
    of its items that applied, which is the grade JSON's earned / weight (item points sum to
    the phase weight; n/a items leave the phase). The rubric order and the titles come from
    one grade JSON per rubric version; a grade with no item_results rows is read from its JSON.
    """
    since_s, until_s = check_range(since, until, AnalyzerError)
    where, params = _date_filter(since_s, until_s)
    head = _CHOSEN.format(where=where)
    labels = _Labels()
    with store.reading("reading graded calls for the report") as conn:
        conn.execute("BEGIN")  # one snapshot for every read below
        try:
            cursor = named_cursor(conn)
            calls = cursor.execute(
                head + "SELECT ch.call_id, ch.rep, ch.call_date, g.grade, g.passed, "
                "ch.confirmed, ch.outcome, g.rubric, g.rubric_version FROM chosen ch "
                "JOIN grades g ON g.id = ch.grade_id "
                "ORDER BY ch.call_date IS NULL, ch.call_date, ch.started_at, ch.call_id",
                params,
            ).fetchall()
            samples = cursor.execute(  # the newest grade of each rubric version, newest first
                head + "SELECT grade_json FROM grades WHERE id IN (SELECT max(g.id) "
                "FROM chosen ch JOIN grades g ON g.id = ch.grade_id "
                "GROUP BY g.rubric, g.rubric_version) ORDER BY id DESC",
                params,
            ).fetchall()
            for sample in samples:
                labels.read(json_object(sample["grade_json"]) or {})
            phases, items = list(labels.phase_titles), list(labels.item_texts)
            selects = [_PHASE_SQL] * len(phases) + [_ITEM_SQL] * len(items)
            named = [f"figure_{n}" for n in range(len(selects))]  # in phases-then-items order
            figures = cursor.execute(
                head
                + "SELECT ch.call_id, count(ir.grade_id) AS item_rows"
                + "".join(f", {sql} AS {name}" for sql, name in zip(selects, named, strict=True))
                + " FROM chosen ch LEFT JOIN item_results ir ON ir.grade_id = ch.grade_id "
                "GROUP BY ch.grade_id",
                [*params, *(p for p in phases for _ in (1, 2)), *items],
            ).fetchall()
            missing = [row["call_id"] for row in figures if row["item_rows"] == 0]
            from_json = _figures_from_json(cursor, head, params, missing, labels)
        finally:
            conn.execute("ROLLBACK")

    df = pd.DataFrame(
        [tuple(row[name] for name in BASE_COLUMNS) for row in calls], columns=list(BASE_COLUMNS)
    )
    df["call_id"] = df["call_id"].astype(str)
    df["rep"] = df["rep"].astype(object).where(df["rep"].notna(), None)
    df["call_date"] = pd.to_datetime(df["call_date"], format="%Y-%m-%d", errors="coerce")
    df["grade"] = df["grade"].astype(float)
    df["passed"] = df["passed"].astype(bool)
    df["confirmed"] = df["confirmed"].astype(bool)
    raw_outcomes = df["outcome"].tolist()
    read = {raw: outcome_or_none(raw) for raw in set(raw_outcomes)}
    outcomes = [read[raw] for raw in raw_outcomes]
    df["outcome"] = pd.Series(outcomes, index=df.index, dtype=object)
    unrecognised = sum(
        1 for raw, got in zip(raw_outcomes, outcomes, strict=True) if got is None and is_given(raw)
    )
    df["rubric_version"] = df["rubric_version"].astype(str)

    columns = [PHASE_PREFIX + p for p in phases] + [ITEM_PREFIX + i for i in items]
    table = pd.DataFrame(
        [(row["call_id"], *(row[name] for name in named)) for row in figures if row["item_rows"]]
        + from_json,
        columns=["call_id", *columns],
    )
    table = table.set_index("call_id").reindex(df["call_id"].to_numpy())
    table = table.astype(float).reset_index(drop=True)
    df = pd.concat([df.reset_index(drop=True), table], axis=1)
    df.attrs = {
        "phase_titles": labels.phase_titles,
        "item_texts": labels.item_texts,
        "item_phases": labels.item_phases,
        "unrecognised_outcomes": unrecognised,
    }
    return df


def _figures_from_json(
    cursor: sqlite3.Cursor, head: str, params: list[str], call_ids: list[str], labels: _Labels
) -> list[tuple[Any, ...]]:
    """(call_id, phase percents..., item credits...) read from the grade JSON, for grades stored
    without item_results rows; ids not among `labels` (read from the newest grades) are left
    out. `cursor` gives rows by column name."""
    found = []
    for start in range(0, len(call_ids), 500):
        chunk = call_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        found += cursor.execute(
            head + "SELECT ch.call_id, g.grade_json FROM chosen ch "
            f"JOIN grades g ON g.id = ch.grade_id WHERE ch.call_id IN ({marks})",
            [*params, *chunk],
        ).fetchall()
    rows = []
    for row in found:
        grade = json_object(row["grade_json"]) or {}
        percent: dict[str, float] = {}
        credit: dict[str, float] = {}
        for phase in grade.get("phases") or []:
            weight = float(phase.get("weight") or 0)
            earned = phase.get("earned")
            scored = phase.get("status") == "scored" and weight > 0 and earned is not None
            percent[str(phase.get("id"))] = 100.0 * float(earned) / weight if scored else np.nan
            for item in phase.get("items") or []:
                credit[str(item.get("id"))] = ITEM_CREDIT.get(item.get("status"), np.nan)
        rows.append(
            (
                row["call_id"],
                *(percent.get(p, np.nan) for p in labels.phase_titles),
                *(credit.get(i, np.nan) for i in labels.item_texts),
            )
        )
    return rows


def phase_ids(df: pd.DataFrame) -> list[str]:
    """The frame's phase ids, in rubric order."""
    return [c.removeprefix(PHASE_PREFIX) for c in df.columns if c.startswith(PHASE_PREFIX)]


def item_ids(df: pd.DataFrame) -> list[str]:
    """The frame's item ids, in rubric order."""
    return [c.removeprefix(ITEM_PREFIX) for c in df.columns if c.startswith(ITEM_PREFIX)]


def _date_filter(since: str | None, until: str | None) -> tuple[str, list[str]]:
    where, params = [], []
    if since is not None:
        where.append("c.call_date >= ?")
        params.append(since)
    if until is not None:
        where.append("c.call_date <= ?")
        params.append(until)
    return ("WHERE " + " AND ".join(where)) if where else "", params


def day_text(value: Any) -> str:
    """A frame date as YYYY-MM-DD; "" for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")
