"""`analyzer report`: adherence over time, the top reps against the rest, grades and outcomes.

The library behind `analyzer report [--period day|week|month] [--by rep|phase|item]
[--format table|csv|html] [--out PATH]` and `analyzer outcomes import FILE`:

- `calls_frame(store, since, until)`: one row per graded call, with its grade (the confirmed one
  when a manager confirmed the current rubric version, else the suggested one), its outcome
  (won / lost / None), one `phase:<id>` column per phase (percent of the phase's weight, NaN
  where the phase did not apply) and one `item:<id>` column per item (credit: met 1, partial
  0.5, missed 0, n/a NaN; a forbidden item is met when it was avoided).
- pure functions over that frame: `progress` (by rep, phase or item per day, week or month),
  `team_progress`, `top_vs_rest`, `outcome_relation`;
- `build_report` puts them in a `Report`; `render_table`, `render_csv` and `render_html` turn it
  into text (the HTML page is self-contained: inline CSS, charts as base64 PNG drawn with
  matplotlib's Agg canvas); `write_report` writes a file whole or not at all;
- `import_outcomes(store, path)`: a `call_id,outcome` CSV checked whole, its valid rows written
  in one transaction, the rest skipped and listed.

Every problem a user can fix is an `AnalyzerError` with a one-line message (an outcomes file
with no valid row lists the rows it skipped, one per line).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analyzer.errors import AnalyzerError, InputError
from analyzer.store import Store, json_object

PERIODS = ("day", "week", "month")
GROUPINGS = ("rep", "phase", "item")
# The tidy progress frame's value column for each grouping.
VALUE_COLUMNS = {"rep": "mean_grade", "phase": "mean_percent", "item": "credit_percent"}
ITEM_CREDIT = {"met": 1.0, "partial": 0.5, "missed": 0.0, "na": np.nan}
CREDITED = 0.5  # an item counts as done (for close rates) at this credit or more
TOP_SHARE = 0.2  # the top 20% of reps by mean grade
GRADE_BANDS = ("<50", "50-70", "70-85", ">=85")
GRADE_BAND_EDGES = (-math.inf, 50.0, 70.0, 85.0, math.inf)  # each band includes its lower edge
NO_REP = "(no rep)"
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

# Outcome words, compared after casefolding and turning runs of spaces, '-', '_' and '/' into
# one space: "Closed-Won", "closed_won" and "CLOSED WON" are the same word.
WON_WORDS = frozenset({"won", "win", "closed", "closed won", "sale", "sold", "yes", "y"})
LOST_WORDS = frozenset({"lost", "loss", "closed lost", "no sale", "not sold", "no", "n"})


# -- outcomes ------------------------------------------------------------------------------------


def normalise_outcome(value: object) -> str | None:
    """'won', 'lost', or None for an empty value; ValueError for a word that is neither."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = re.sub(r"[\s\-_/]+", " ", str(value).casefold()).strip()
    if not key:
        return None
    if key in WON_WORDS:
        return "won"
    if key in LOST_WORDS:
        return "lost"
    raise ValueError(f"unrecognised outcome {str(value).strip()!r} (use won or lost)")


def _said(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _outcome_or_none(value: object) -> str | None:
    try:
        return normalise_outcome(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class SkippedRow:
    """A row of an outcomes file that was not imported, and why."""

    line: int
    call_id: str
    outcome: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class ImportResult:
    """What `import_outcomes` did: the outcomes written and the rows it skipped."""

    path: str
    rows: int  # data rows read
    written: list[tuple[str, str]]  # (call_id, won | lost), in file order
    skipped: list[SkippedRow]
    changed: int  # calls whose stored outcome was different before

    def summary(self) -> str:
        lines = [
            f"{self.path}: {len(self.written)} outcome{_s(len(self.written))} written "
            f"({self.changed} changed), {len(self.skipped)} row{_s(len(self.skipped))} skipped"
        ]
        lines.extend(f"  skipped {row}" for row in self.skipped)
        return "\n".join(lines)


class OutcomesFileError(InputError):
    """An outcomes file with nothing to import; `skipped` lists every row and why."""

    def __init__(self, path: str | Path, problem: str, skipped: Sequence[SkippedRow] = ()) -> None:
        self.skipped = list(skipped)
        super().__init__(path, problem)


MAX_LISTED = 50  # skipped rows named in an error message; ImportResult lists them all


def import_outcomes(store: Store, path: str | Path) -> ImportResult:
    """Set `calls.outcome` from a CSV with the columns `call_id` and `outcome`.

    The whole file is read and checked first. A row naming an unknown call, with an outcome that
    is not a won or lost word (see `normalise_outcome`; an empty one is not an outcome), or
    giving a call a different outcome than another row does, is skipped and listed with its
    line. The rest are written as 'won' or 'lost' in one transaction. Raises OutcomesFileError
    (nothing written) for an unreadable file, a missing column, or no valid row.
    """
    path = Path(path)
    rows = _read_outcome_rows(path)
    skipped: list[SkippedRow] = []
    given: dict[str, list[tuple[int, str, str]]] = {}  # call_id -> [(line, raw, outcome)]
    for line, call_id, raw in rows:
        if not call_id:
            skipped.append(SkippedRow(line, call_id, raw, "no call id"))
            continue
        try:
            outcome = normalise_outcome(raw)
        except ValueError as e:
            skipped.append(SkippedRow(line, call_id, raw, f"call {call_id}: {e}"))
            continue
        if outcome is None:
            skipped.append(SkippedRow(line, call_id, raw, f"call {call_id}: no outcome"))
            continue
        given.setdefault(call_id, []).append((line, raw, outcome))
    wanted: dict[str, str] = {}
    for call_id, found in given.items():
        if len({outcome for _, _, outcome in found}) > 1:
            where = ", ".join(str(line) for line, _, _ in found)
            reason = f"call {call_id} is given different outcomes (lines {where})"
            skipped.extend(SkippedRow(line, call_id, raw, reason) for line, raw, _ in found)
        else:
            wanted[call_id] = found[0][2]

    with store.writing(f"importing outcomes from {path}") as conn:
        known: dict[str, str | None] = {}
        ids = list(wanted)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            known.update(
                conn.execute(
                    f"SELECT call_id, outcome FROM calls WHERE call_id IN ({marks})", chunk
                ).fetchall()
            )
        for call_id in wanted:
            if call_id not in known:
                reason = f"unknown call id {call_id!r}"
                skipped.extend(
                    SkippedRow(line, call_id, raw, reason) for line, raw, _ in given[call_id]
                )
        written = [(c, o) for c, o in wanted.items() if c in known]
        skipped.sort(key=lambda s: s.line)
        if not written:
            listed = "".join(f"\n  {s}" for s in skipped[:MAX_LISTED])
            more = len(skipped) - MAX_LISTED
            if more > 0:
                listed += f"\n  ... and {more} more"
            problem = (
                "no data rows; nothing written"
                if not rows
                else f"no valid row; nothing written ({len(skipped)} skipped){listed}"
            )
            raise OutcomesFileError(path, problem, skipped)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.executemany(
            "UPDATE calls SET outcome = ?, updated_at = ? WHERE call_id = ?",
            [(outcome, now, call_id) for call_id, outcome in written],
        )
    changed = sum(1 for call_id, outcome in written if known[call_id] != outcome)
    return ImportResult(str(path), len(rows), written, skipped, changed)


def _read_outcome_rows(path: Path) -> list[tuple[int, str, str]]:
    """(line, call_id, outcome) of every data row; OutcomesFileError for a file that cannot be
    read as a call_id,outcome CSV."""
    if path.is_dir():
        raise OutcomesFileError(path, "is a folder, not a CSV file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise OutcomesFileError(path, "empty file (expected a header: call_id,outcome)")
            names = [h.strip().casefold() for h in header]
            missing = [c for c in ("call_id", "outcome") if c not in names]
            if missing:
                raise OutcomesFileError(
                    path,
                    f"missing column{_s(len(missing))} {', '.join(missing)} "
                    f"(the header must name call_id and outcome; found: {', '.join(header)})",
                )
            id_at, outcome_at = names.index("call_id"), names.index("outcome")
            rows = []
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                cells = values + [""] * (len(names) - len(values))
                rows.append((reader.line_num, cells[id_at].strip(), cells[outcome_at].strip()))
    except FileNotFoundError:
        raise OutcomesFileError(path, "no such file") from None
    except UnicodeDecodeError:
        raise OutcomesFileError(path, "not a UTF-8 text file") from None
    except csv.Error as e:
        raise OutcomesFileError(path, f"not a valid CSV file ({e})") from None
    except OSError as e:
        raise OutcomesFileError(path, f"cannot read the file ({e.strerror or e})") from None
    return rows


# -- the calls -----------------------------------------------------------------------------------

_CHOSEN = """
WITH chosen AS (
    SELECT c.call_id, c.rep, c.call_date, c.started_at, c.outcome,
           coalesce(cg.id, sg.id) AS grade_id, cg.id IS NOT NULL AS confirmed
    FROM reviews r
    JOIN calls c ON c.call_id = r.call_id
    JOIN grades sg ON sg.id = r.suggested_id AND sg.kind = 'suggested'
    LEFT JOIN grades cg ON cg.id = r.confirmed_id AND cg.kind = 'confirmed'
        AND cg.rubric = sg.rubric AND cg.rubric_version = sg.rubric_version
    {where}
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
    since_s, until_s = _check_range(since, until)
    where, params = _date_filter(since_s, until_s)
    head = _CHOSEN.format(where=where)
    labels = _Labels()
    with store.reading("reading graded calls for the report") as conn:
        conn.execute("BEGIN")  # one snapshot for every read below
        try:
            calls = conn.execute(
                head + "SELECT ch.call_id, ch.rep, ch.call_date, g.grade, g.passed, "
                "ch.confirmed, ch.outcome, g.rubric, g.rubric_version FROM chosen ch "
                "JOIN grades g ON g.id = ch.grade_id "
                "ORDER BY ch.call_date IS NULL, ch.call_date, ch.started_at, ch.call_id",
                params,
            ).fetchall()
            samples = conn.execute(  # the newest grade of each rubric version, newest first
                head + "SELECT grade_json FROM grades WHERE id IN (SELECT max(g.id) "
                "FROM chosen ch JOIN grades g ON g.id = ch.grade_id "
                "GROUP BY g.rubric, g.rubric_version) ORDER BY id DESC",
                params,
            ).fetchall()
            for (text,) in samples:
                labels.read(json_object(text) or {})
            phases, items = list(labels.phase_titles), list(labels.item_texts)
            selects = [_PHASE_SQL] * len(phases) + [_ITEM_SQL] * len(items)
            figures = conn.execute(
                head
                + "SELECT ch.call_id, count(ir.grade_id)"
                + "".join(f", {sql}" for sql in selects)
                + " FROM chosen ch LEFT JOIN item_results ir ON ir.grade_id = ch.grade_id "
                "GROUP BY ch.grade_id",
                [*params, *(p for p in phases for _ in (1, 2)), *items],
            ).fetchall()
            missing = [row[0] for row in figures if row[1] == 0]
            from_json = _figures_from_json(conn, head, params, missing, labels)
        finally:
            conn.execute("ROLLBACK")

    df = pd.DataFrame(calls, columns=list(BASE_COLUMNS))
    df["call_id"] = df["call_id"].astype(str)
    df["rep"] = df["rep"].astype(object).where(df["rep"].notna(), None)
    df["call_date"] = pd.to_datetime(df["call_date"], format="%Y-%m-%d", errors="coerce")
    df["grade"] = df["grade"].astype(float)
    df["passed"] = df["passed"].astype(bool)
    df["confirmed"] = df["confirmed"].astype(bool)
    raw_outcomes = df["outcome"].tolist()
    read = {raw: _outcome_or_none(raw) for raw in set(raw_outcomes)}
    outcomes = [read[raw] for raw in raw_outcomes]
    df["outcome"] = pd.Series(outcomes, index=df.index, dtype=object)
    unrecognised = sum(
        1 for raw, got in zip(raw_outcomes, outcomes, strict=True) if got is None and _said(raw)
    )
    df["rubric_version"] = df["rubric_version"].astype(str)

    columns = [PHASE_PREFIX + p for p in phases] + [ITEM_PREFIX + i for i in items]
    table = pd.DataFrame(
        [(row[0], *row[2:]) for row in figures if row[1]] + from_json,
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
    conn: Any, head: str, params: list[str], call_ids: list[str], labels: _Labels
) -> list[tuple[Any, ...]]:
    """(call_id, phase percents..., item credits...) read from the grade JSON, for grades stored
    without item_results rows; ids not among `labels` (read from the newest grades) are left
    out."""
    found = []
    for start in range(0, len(call_ids), 500):
        chunk = call_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        found += conn.execute(
            head + "SELECT ch.call_id, g.grade_json FROM chosen ch "
            f"JOIN grades g ON g.id = ch.grade_id WHERE ch.call_id IN ({marks})",
            [*params, *chunk],
        ).fetchall()
    rows = []
    for call_id, text in found:
        grade = json_object(text) or {}
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
                call_id,
                *(percent.get(p, np.nan) for p in labels.phase_titles),
                *(credit.get(i, np.nan) for i in labels.item_texts),
            )
        )
    return rows


def phase_ids(df: pd.DataFrame) -> list[str]:
    return [c.removeprefix(PHASE_PREFIX) for c in df.columns if c.startswith(PHASE_PREFIX)]


def item_ids(df: pd.DataFrame) -> list[str]:
    return [c.removeprefix(ITEM_PREFIX) for c in df.columns if c.startswith(ITEM_PREFIX)]


# -- progress over time ------------------------------------------------------------------------


def period_start(dates: pd.Series, period: str) -> pd.Series:
    """Each date's period, labelled by its first day (weeks start on Monday)."""
    _check_choice("period", period, PERIODS)
    days = pd.to_datetime(dates).dt.normalize()
    if period == "day":
        return days
    offset = days.dt.day_of_week if period == "week" else days.dt.day - 1
    return days - pd.to_timedelta(offset, unit="D")


def progress(df: pd.DataFrame, period: str, by: str) -> pd.DataFrame:
    """Adherence per period (calls with no date are left out), one row per period and key:

    - by rep: period, rep, calls, mean_grade;
    - by phase: period, phase, calls (where the phase applied), mean_percent;
    - by item: period, item, calls (where the item applied), credit_percent (mean credit x 100).

    Ordered by period, then rep name or rubric order; keys with no applicable call in a period
    are left out of it.
    """
    _check_choice("by", by, GROUPINGS)
    dated = df[df["call_date"].notna()]
    periods = period_start(dated["call_date"], period)
    value = VALUE_COLUMNS[by]
    if by == "rep":
        frame = pd.DataFrame(
            {"period": periods, "rep": _reps(dated), "grade": dated["grade"].astype(float)}
        )
        out = (
            frame.groupby(["period", "rep"], sort=False)
            .agg(calls=("grade", "size"), **{value: ("grade", "mean")})
            .reset_index()
        )
        out["_order"] = out["rep"].str.casefold()
    else:
        prefix = PHASE_PREFIX if by == "phase" else ITEM_PREFIX
        keys = phase_ids(df) if by == "phase" else item_ids(df)
        frame = dated[[prefix + k for k in keys]].set_axis(keys, axis=1).assign(period=periods)
        long = frame.melt(id_vars="period", var_name=by, value_name="value").dropna(
            subset=["value"]
        )
        out = (
            long.groupby(["period", by], sort=False)
            .agg(calls=("value", "size"), **{value: ("value", "mean")})
            .reset_index()
        )
        if by == "item":
            out[value] = out[value] * 100.0
        out["_order"] = out[by].map({k: n for n, k in enumerate(keys)})
    out = out.sort_values(["period", "_order"], kind="stable").drop(columns="_order")
    out["calls"] = out["calls"].astype(int)
    out[value] = out[value].astype(float)
    return out.reset_index(drop=True)[["period", by, "calls", value]]


def team_progress(df: pd.DataFrame, period: str) -> pd.DataFrame:
    """The whole team per period: period, calls, reps, mean_grade, pass_rate (percent of calls
    passed), confirmed (calls with a manager-confirmed grade). Calls with no date left out."""
    dated = df[df["call_date"].notna()]
    frame = pd.DataFrame(
        {
            "period": period_start(dated["call_date"], period),
            "rep": _reps(dated),
            "grade": dated["grade"].astype(float),
            "passed": dated["passed"].astype(float),
            "confirmed": dated["confirmed"].astype(int),
        }
    )
    out = (
        frame.groupby("period", sort=True)
        .agg(
            calls=("grade", "size"),
            reps=("rep", "nunique"),
            mean_grade=("grade", "mean"),
            pass_rate=("passed", "mean"),
            confirmed=("confirmed", "sum"),
        )
        .reset_index()
    )
    out["pass_rate"] = out["pass_rate"] * 100.0
    return out.astype({"calls": int, "reps": int, "confirmed": int})


# -- the top 20% against the rest ----------------------------------------------------------------


@dataclass
class TopVsRest:
    """The top 20% of reps by mean grade (at least one) against the other reps.

    `reps`: rep, calls, mean_grade, rank, group (top | rest), best first (ties by name).
    `phases`: phase, top_calls, top_percent, rest_calls, rest_percent, gap (top - rest), the
    phase's mean percent over each group's calls where it applied, in rubric order.
    """

    top_reps: list[str]
    rest_reps: list[str]
    reps: pd.DataFrame
    phases: pd.DataFrame
    top_calls: int
    rest_calls: int
    top_grade: float  # mean grade over the group's calls
    rest_grade: float


def top_vs_rest(df: pd.DataFrame) -> TopVsRest:
    """Reps ranked by mean grade; the top ceil(20%) of them against the rest, phase by phase."""
    frame = df.assign(rep=_reps(df))
    reps = frame.groupby("rep", sort=False).agg(
        calls=("grade", "size"), mean_grade=("grade", "mean")
    )
    reps = reps.reset_index()
    reps["_name"] = reps["rep"].str.casefold()
    reps = reps.sort_values(["mean_grade", "_name"], ascending=[False, True], kind="stable")
    reps = reps.drop(columns="_name").reset_index(drop=True)
    count = max(1, math.ceil(TOP_SHARE * len(reps))) if len(reps) else 0
    reps["rank"] = np.arange(1, len(reps) + 1)
    reps["group"] = np.where(reps["rank"] <= count, "top", "rest")
    reps["calls"] = reps["calls"].astype(int)
    top = reps.loc[reps["group"] == "top", "rep"].tolist()
    rest = reps.loc[reps["group"] == "rest", "rep"].tolist()
    in_top = frame["rep"].isin(top)
    rows = []
    for phase in phase_ids(df):
        column = frame[PHASE_PREFIX + phase]
        t, r = column[in_top].dropna(), column[~in_top].dropna()
        t_mean = float(t.mean()) if len(t) else np.nan
        r_mean = float(r.mean()) if len(r) else np.nan
        rows.append((phase, len(t), t_mean, len(r), r_mean, t_mean - r_mean))
    phases = pd.DataFrame(
        rows, columns=["phase", "top_calls", "top_percent", "rest_calls", "rest_percent", "gap"]
    ).astype({"top_calls": int, "rest_calls": int})
    grades = frame["grade"].astype(float)
    return TopVsRest(
        top_reps=top,
        rest_reps=rest,
        reps=reps,
        phases=phases,
        top_calls=int(in_top.sum()),
        rest_calls=int((~in_top).sum()),
        top_grade=float(grades[in_top].mean()) if in_top.any() else np.nan,
        rest_grade=float(grades[~in_top].mean()) if (~in_top).any() else np.nan,
    )


# -- grades against outcomes ---------------------------------------------------------------------


@dataclass
class OutcomeRelation:
    """How the items and the grade relate to closing, over the calls with a known outcome.

    `items`: item, phase, with_calls, with_won, with_close_pct, without_calls, without_won,
    without_close_pct, difference (with - without, percentage points); over the calls where the
    item applied, "with" meaning credited (met or partial; a forbidden item: avoided).
    `bands`: band (<50, 50-70, 70-85, >=85; each includes its lower edge), calls, won, close_pct.
    Close rates are percents, NaN where there is no call to count.
    """

    calls: int
    won: int
    close_pct: float
    mean_grade_won: float
    mean_grade_lost: float
    items: pd.DataFrame
    bands: pd.DataFrame


def outcome_relation(df: pd.DataFrame) -> OutcomeRelation | None:
    """Close rates with and without each item, and by grade band; None when no call has a
    known outcome."""
    known = df[df["outcome"].isin(["won", "lost"])]
    if known.empty:
        return None
    won = known["outcome"] == "won"
    phases = df.attrs.get("item_phases", {})
    rows = []
    for item in item_ids(df):
        credit = known[ITEM_PREFIX + item]
        applies = credit.notna()
        credited = applies & (credit >= CREDITED)
        missing = applies & ~credited
        w_calls, w_won = int(credited.sum()), int((credited & won).sum())
        o_calls, o_won = int(missing.sum()), int((missing & won).sum())
        w_pct, o_pct = _pct(w_won, w_calls), _pct(o_won, o_calls)
        rows.append(
            (item, phases.get(item), w_calls, w_won, w_pct, o_calls, o_won, o_pct, w_pct - o_pct)
        )
    items = pd.DataFrame(
        rows,
        columns=[
            "item",
            "phase",
            "with_calls",
            "with_won",
            "with_close_pct",
            "without_calls",
            "without_won",
            "without_close_pct",
            "difference",
        ],
    )
    band = pd.cut(
        known["grade"].astype(float),
        bins=list(GRADE_BAND_EDGES),
        right=False,
        labels=list(GRADE_BANDS),
    )
    counted = pd.DataFrame({"band": band, "won": won.astype(int)})
    bands = (
        counted.groupby("band", observed=False)
        .agg(calls=("won", "size"), won=("won", "sum"))
        .reindex(list(GRADE_BANDS))
        .fillna(0)
        .astype(int)
        .reset_index()
    )
    bands["band"] = bands["band"].astype(str)
    bands["close_pct"] = [_pct(w, n) for w, n in zip(bands["won"], bands["calls"], strict=True)]
    grades = known["grade"].astype(float)
    return OutcomeRelation(
        calls=len(known),
        won=int(won.sum()),
        close_pct=_pct(int(won.sum()), len(known)),
        mean_grade_won=float(grades[won].mean()) if won.any() else np.nan,
        mean_grade_lost=float(grades[~won].mean()) if (~won).any() else np.nan,
        items=items,
        bands=bands,
    )


# -- the report ----------------------------------------------------------------------------------


@dataclass
class Report:
    """Everything `analyzer report` shows, built by `build_report`."""

    database: str
    period: str
    by: str
    since: str | None  # the range asked for (inclusive), None: open
    until: str | None
    first_date: str | None  # the first and last call dates in the report
    last_date: str | None
    calls: int  # graded calls in the report
    confirmed: int  # of which a manager confirmed the grade
    undated: int  # calls with no date: in the comparisons, not in the progress over time
    reps: int
    with_outcome: int
    unrecognised_outcomes: int  # stored outcomes that are neither won nor lost words
    progress: pd.DataFrame
    team: pd.DataFrame
    top_vs_rest: TopVsRest
    outcomes: OutcomeRelation | None
    phase_titles: dict[str, str] = field(default_factory=dict)
    item_texts: dict[str, str] = field(default_factory=dict)


def build_report(
    store: Store,
    period: str = "week",
    by: str = "rep",
    since: str | date | None = None,
    until: str | date | None = None,
) -> Report:
    """The report over the graded calls from `since` to `until` (inclusive, YYYY-MM-DD).

    Raises AnalyzerError for an unknown period or grouping, a bad date or range, a database
    with no graded call ("no graded calls in DB") and a range with none ("no graded calls from
    X to Y", with what the database holds).
    """
    _check_choice("period", period, PERIODS)
    _check_choice("by", by, GROUPINGS)
    since_s, until_s = _check_range(since, until)
    df = calls_frame(store, since_s, until_s)
    if df.empty:
        raise AnalyzerError(_nothing_message(store, since_s, until_s))
    dates = df["call_date"].dropna()
    return Report(
        database=str(store.path),
        period=period,
        by=by,
        since=since_s,
        until=until_s,
        first_date=_day(dates.min()) if len(dates) else None,
        last_date=_day(dates.max()) if len(dates) else None,
        calls=len(df),
        confirmed=int(df["confirmed"].sum()),
        undated=int(df["call_date"].isna().sum()),
        reps=int(_reps(df).nunique()),
        with_outcome=int(df["outcome"].notna().sum()),
        unrecognised_outcomes=int(df.attrs.get("unrecognised_outcomes", 0)),
        progress=progress(df, period, by),
        team=team_progress(df, period),
        top_vs_rest=top_vs_rest(df),
        outcomes=outcome_relation(df),
        phase_titles=dict(df.attrs.get("phase_titles", {})),
        item_texts=dict(df.attrs.get("item_texts", {})),
    )


def _nothing_message(store: Store, since: str | None, until: str | None) -> str:
    with store.reading("counting graded calls") as conn:
        count, first, last = conn.execute(
            "SELECT count(*), min(c.call_date), max(c.call_date) FROM reviews r "
            "JOIN calls c ON c.call_id = r.call_id WHERE r.suggested_id IS NOT NULL"
        ).fetchone()
    if not count:
        return f"no graded calls in {store.path}"
    if since and until:
        asked = f"from {since} to {until}"
    elif since:
        asked = f"from {since} on"
    else:
        asked = f"up to {until}"
    held = f"{count} graded call{_s(count)}"
    if first:
        held += f", from {first} to {last}" if first != last else f", on {first}"
    return f"no graded calls {asked} in {store.path} (it has {held})"


# -- rendering -----------------------------------------------------------------------------------

PERIOD_HEADINGS = {"day": "day", "week": "week of", "month": "month of"}
BY_HEADINGS = {"rep": "Mean grade by rep", "phase": "Phase score", "item": "Item credit"}
VALUE_HEADINGS = {"rep": "mean grade", "phase": "mean %", "item": "credit %"}
NO_OUTCOMES = (
    "No outcomes known: give calls.csv an outcome column (won / lost) or run "
    "`analyzer outcomes import FILE`."
)


def render_table(report: Report) -> str:
    """The report as plain text for a terminal: one aligned table per section."""
    r = report
    out: list[str] = [f"Script adherence report: {r.database}", _scope_line(r), ""]
    out += [f"Team, by {r.period}", _text_table(*_team_rows(r)), ""]
    out += [_progress_title(r), _text_table(*_progress_rows(r)), ""]
    tvr = r.top_vs_rest
    out += [_top_title(r), _top_line(r, tvr, "top"), _top_line(r, tvr, "rest")]
    out += [_text_table(*_top_rows(r, tvr)), ""]
    out.append("Adherence and closing")
    if r.outcomes is None:
        out.append(NO_OUTCOMES)
    else:
        out += [_outcome_line(r.outcomes), _grade_won_line(r.outcomes)]
        out += ["", "Close rate with and without each item"]
        out += [_text_table(*_item_outcome_rows(r, r.outcomes, ids=True)), ""]
        out += ["Close rate by grade band", _text_table(*_band_rows(r.outcomes))]
    return "\n".join(out).rstrip() + "\n"


CSV_COLUMNS = ("section", "period", "key", "group", "measure", "calls", "won", "value")


def render_csv(report: Report) -> str:
    """The report as one tidy CSV: columns section, period, key, group, measure, calls, won,
    value. Sections: team, progress_by_<rep|phase|item>, reps (group top | rest),
    top_vs_rest (key phase, group top | rest, and the gap), close_rate_by_item (group with |
    without, and the difference), close_rate_by_grade (key the grade band). Percents are 0-100;
    an empty value is a rate with no call to count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def row(section, period, key, group, measure, calls, won, value) -> None:
        writer.writerow([section, period, key, group, measure, calls, won, _csv_number(value)])

    r = report
    for t in r.team.itertuples(index=False):
        p = _day(t.period)
        row("team", p, "", "", "mean_grade", t.calls, "", t.mean_grade)
        row("team", p, "", "", "pass_rate", t.calls, "", t.pass_rate)
        row("team", p, "", "", "confirmed", t.calls, "", t.confirmed)
    value = VALUE_COLUMNS[r.by]
    for p in r.progress.itertuples(index=False):
        key = getattr(p, r.by)
        row(f"progress_by_{r.by}", _day(p.period), key, "", value, p.calls, "", getattr(p, value))
    tvr = r.top_vs_rest
    for rep in tvr.reps.itertuples(index=False):
        row("reps", "", rep.rep, rep.group, "mean_grade", rep.calls, "", rep.mean_grade)
    for ph in tvr.phases.itertuples(index=False):
        row("top_vs_rest", "", ph.phase, "top", "mean_percent", ph.top_calls, "", ph.top_percent)
        row("top_vs_rest", "", ph.phase, "rest", "mean_percent", ph.rest_calls, "", ph.rest_percent)
        row("top_vs_rest", "", ph.phase, "", "gap", "", "", ph.gap)
    if r.outcomes is not None:
        for it in r.outcomes.items.itertuples(index=False):
            section = "close_rate_by_item"
            row(
                section,
                "",
                it.item,
                "with",
                "close_rate",
                it.with_calls,
                it.with_won,
                it.with_close_pct,
            )
            row(
                section,
                "",
                it.item,
                "without",
                "close_rate",
                it.without_calls,
                it.without_won,
                it.without_close_pct,
            )
            row(section, "", it.item, "", "difference", "", "", it.difference)
        for b in r.outcomes.bands.itertuples(index=False):
            row("close_rate_by_grade", "", b.band, "", "close_rate", b.calls, b.won, b.close_pct)
    return out.getvalue()


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page: inline CSS, tables, and charts embedded as
    base64 PNG images (the progress view, top 20% against the rest per phase, and the close rate
    with and without each item when outcomes are known)."""
    r = report
    tvr = r.top_vs_rest
    title = "Script adherence report"
    body: list[str] = [f"<h1>{_e(title)}</h1>", f"<p class='scope'>{_e(_scope_line(r))}</p>"]
    body += [f"<h2>Team, by {_e(r.period)}</h2>", _html_table(*_team_rows(r))]
    body += [f"<h2>{_e(_progress_title(r))}</h2>"]
    body.append(_img(_progress_chart(r), f"{_progress_title(r)}: line chart"))
    body.append(_html_table(*_progress_pivot(r)))
    body.append(f"<p class='note'>Each cell: {_e(VALUE_HEADINGS[r.by])} (calls).</p>")
    body += [f"<h2>{_e(_top_title(r))}</h2>"]
    body += [f"<p>{_e(_top_line(r, tvr, 'top'))}<br>{_e(_top_line(r, tvr, 'rest'))}</p>"]
    if len(tvr.phases):
        body.append(_img(_top_chart(r, tvr), "Top 20% against the rest, by phase: bar chart"))
    body.append(_html_table(*_top_rows(r, tvr)))
    body += ["<h3>Reps by mean grade</h3>", _html_table(*_rep_rank_rows(tvr))]
    body.append("<h2>Adherence and closing</h2>")
    if r.outcomes is None:
        body.append(f"<p>{_e(NO_OUTCOMES)}</p>")
    else:
        o = r.outcomes
        body.append(f"<p>{_e(_outcome_line(o))}<br>{_e(_grade_won_line(o))}</p>")
        body.append(_img(_outcome_chart(o), "Close rate with and without each item: bar chart"))
        body += ["<h3>Close rate with and without each item</h3>"]
        body.append(_html_table(*_item_outcome_rows(r, o, ids=False)))
        body += ["<h3>Close rate by grade band</h3>", _html_table(*_band_rows(o))]
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{_e(title)}: {_e(_range_text(r))}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


RENDERERS = {"table": render_table, "csv": render_csv, "html": render_html}


def render(report: Report, fmt: str) -> str:
    _check_choice("format", fmt, tuple(RENDERERS))
    return RENDERERS[fmt](report)


def write_report(text: str, path: str | Path) -> None:
    """Write a rendered report to `path` whole or not at all: a temporary file in the same
    folder, then moved over `path` (an existing file is untouched on failure). InputError
    naming the file when it cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a folder: give a file name")
    if not path.parent.is_dir():
        raise InputError(path, f"no such folder {path.parent}")
    temp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        with temp.open("w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise InputError(path, f"cannot write the report ({e.strerror or e})") from None


# -- pieces shared by the renderers --------------------------------------------------------------

Cell = str
Rows = tuple[list[str], list[list[Cell]], set[int]]  # headers, rows, right-aligned columns


def _scope_line(r: Report) -> str:
    parts = [
        f"{_range_text(r)}: {r.calls} graded call{_s(r.calls)}",
        f"{r.confirmed} confirmed by a manager",
        f"{r.reps} rep{_s(r.reps)}",
        f"{r.with_outcome} with a known outcome",
    ]
    if r.undated:
        parts.append(f"{r.undated} without a date (left out of the progress over time)")
    if r.unrecognised_outcomes:
        n = r.unrecognised_outcomes
        parts.append(f"{n} with an outcome that is neither won nor lost (left out of closing)")
    text = ", ".join(parts) + "."
    return text[:1].upper() + text[1:]


def _range_text(r: Report) -> str:
    if r.first_date is None:
        return "calls with no date"
    text = f"calls {r.first_date} to {r.last_date}"
    if r.since or r.until:
        text += f" (asked: {r.since or 'start'} to {r.until or 'end'})"
    return text


def _progress_title(r: Report) -> str:
    return f"{BY_HEADINGS[r.by]}, by {r.period}"


def _top_title(r: Report) -> str:
    return f"Top {TOP_SHARE:.0%} of reps against the rest, by phase"


def _top_line(r: Report, tvr: TopVsRest, group: str) -> str:
    reps = tvr.reps[tvr.reps["group"] == group]
    names = ", ".join(f"{x.rep} ({_num(x.mean_grade)})" for x in reps.itertuples(index=False))
    if group == "top":
        return (
            f"Top {TOP_SHARE:.0%}: {len(reps)} of {len(tvr.reps)} rep{_s(len(tvr.reps))}, "
            f"mean grade {_num(tvr.top_grade)} over {tvr.top_calls} call{_s(tvr.top_calls)}: "
            f"{names}"
        )
    if not len(reps):
        return "Rest: no other rep to compare with."
    return (
        f"Rest: {len(reps)} rep{_s(len(reps))}, mean grade {_num(tvr.rest_grade)} over "
        f"{tvr.rest_calls} call{_s(tvr.rest_calls)}: {names}"
    )


def _outcome_line(o: OutcomeRelation) -> str:
    return (
        f"{o.calls} call{_s(o.calls)} with a known outcome: {o.won} won, "
        f"close rate {_pct_text(o.close_pct)}."
    )


def _grade_won_line(o: OutcomeRelation) -> str:
    return (
        f"Mean grade of won calls {_num(o.mean_grade_won)}, of lost calls "
        f"{_num(o.mean_grade_lost)}."
    )


def _team_rows(r: Report) -> Rows:
    headers = [PERIOD_HEADINGS[r.period], "calls", "reps", "mean grade", "pass rate", "confirmed"]
    rows = [
        [
            _day(t.period),
            str(t.calls),
            str(t.reps),
            _num(t.mean_grade),
            _pct_text(t.pass_rate),
            str(t.confirmed),
        ]
        for t in r.team.itertuples(index=False)
    ]
    return headers, rows, {1, 2, 3, 4, 5}


def _label(r: Report, key: str) -> str:
    if r.by == "phase":
        return r.phase_titles.get(key, key)
    return key


def _progress_rows(r: Report) -> Rows:
    value = VALUE_COLUMNS[r.by]
    headers = [PERIOD_HEADINGS[r.period], r.by, "calls", VALUE_HEADINGS[r.by]]
    rows = [
        [_day(p.period), _label(r, getattr(p, r.by)), str(p.calls), _num(getattr(p, value))]
        for p in r.progress.itertuples(index=False)
    ]
    return headers, rows, {2, 3}


def _progress_pivot(r: Report) -> Rows:
    """Each cell 'value (calls)': periods down and keys across, or the other way round when
    there are more keys than periods (forty reps over four weeks)."""
    value = VALUE_COLUMNS[r.by]
    keys = _progress_keys(r)
    periods = sorted(r.progress["period"].unique())
    cells = {
        (p.period, getattr(p, r.by)): f"{_num(getattr(p, value))} ({p.calls})"
        for p in r.progress.itertuples(index=False)
    }
    if len(keys) > len(periods):
        headers = [r.by, *(_day(p) for p in periods)]
        rows = [[_label(r, k), *(cells.get((p, k), "") for p in periods)] for k in keys]
    else:
        headers = [PERIOD_HEADINGS[r.period], *(_label(r, k) for k in keys)]
        rows = [[_day(p), *(cells.get((p, k), "") for k in keys)] for p in periods]
    return headers, rows, set(range(1, len(headers)))


def _progress_keys(r: Report) -> list[str]:
    keys = list(dict.fromkeys(r.progress[r.by]))
    if r.by == "rep":
        return sorted(keys, key=str.casefold)
    order = list(r.phase_titles if r.by == "phase" else r.item_texts)
    return sorted(keys, key=lambda k: order.index(k) if k in order else len(order))


def _top_rows(r: Report, tvr: TopVsRest) -> Rows:
    headers = ["phase", "top 20%", "calls", "rest", "calls", "gap"]
    rows = [
        [
            r.phase_titles.get(p.phase, p.phase),
            _num(p.top_percent),
            str(p.top_calls),
            _num(p.rest_percent),
            str(p.rest_calls),
            _num(p.gap, signed=True),
        ]
        for p in tvr.phases.itertuples(index=False)
    ]
    return headers, rows, {1, 2, 3, 4, 5}


def _rep_rank_rows(tvr: TopVsRest) -> Rows:
    headers = ["rank", "rep", "group", "calls", "mean grade"]
    rows = [
        [
            str(x.rank),
            x.rep,
            "top 20%" if x.group == "top" else "rest",
            str(x.calls),
            _num(x.mean_grade),
        ]
        for x in tvr.reps.itertuples(index=False)
    ]
    return headers, rows, {0, 3, 4}


def _item_outcome_rows(r: Report, o: OutcomeRelation, *, ids: bool) -> Rows:
    headers = [
        "item",
        "with: calls",
        "won",
        "close rate",
        "without: calls",
        "won",
        "close rate",
        "difference",
    ]
    if not ids:
        headers.insert(1, "what")
    rows = []
    for it in o.items.itertuples(index=False):
        row = [
            it.item,
            str(it.with_calls),
            str(it.with_won),
            _pct_text(it.with_close_pct),
            str(it.without_calls),
            str(it.without_won),
            _pct_text(it.without_close_pct),
            _num(it.difference, signed=True),
        ]
        if not ids:
            row.insert(1, r.item_texts.get(it.item, ""))
        rows.append(row)
    first = 1 if ids else 2
    return headers, rows, set(range(first, len(headers)))


def _band_rows(o: OutcomeRelation) -> Rows:
    headers = ["grade", "calls", "won", "close rate"]
    rows = [
        [b.band, str(b.calls), str(b.won), _pct_text(b.close_pct)]
        for b in o.bands.itertuples(index=False)
    ]
    return headers, rows, {1, 2, 3}


def _text_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    if not rows:
        return "  (nothing to show)"
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return (
            "  "
            + "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )

    return "\n".join([line(headers), *(line(row) for row in rows)])


def _html_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    if not rows:
        return "<p class='empty'>Nothing to show.</p>"

    def cls(i: int) -> str:
        return " class='num'" if i in right else ""

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(i)}>{_e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return (
        f"<div class='scroll'><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n"
        "</tbody>\n</table></div>"
    )


def _img(png_base64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{png_base64}" alt="{_e(alt)}">'


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;
background:#fff;margin:0;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:0 0 .3rem}
h2{font-size:1.25rem;margin:2rem 0 .6rem;padding-bottom:.2rem;border-bottom:2px solid #dfe4ec}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
p.scope{color:#4a5566;margin-top:0}
.scroll{overflow-x:auto;margin:.5rem 0 1rem}
table{border-collapse:collapse;font-size:.9rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e3e7ee;text-align:left;white-space:nowrap}
th{background:#f3f5f9;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#f8fafc}
img{max-width:100%;height:auto;display:block;margin:.5rem 0}
p.empty{color:#6b7587;font-style:italic}
p.note{color:#6b7587;font-size:.85rem;margin-top:-.6rem}
"""


# -- charts ---------------------------------------------------------------------------------------


def _figure(width: float = 9.0, height: float = 4.2) -> Any:
    """A matplotlib Figure on an Agg canvas (no pyplot: no global state, safe in a server)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


LEGEND_ROWS = 22  # legend entries per column beside the progress chart


def _progress_chart(r: Report) -> str:
    value = VALUE_COLUMNS[r.by]
    periods = sorted(r.progress["period"].unique())
    labels = [_day(p) for p in periods]
    x = np.arange(len(periods))
    keys = _progress_keys(r)
    entries = len(keys) + (r.by == "rep")
    columns = max(1, math.ceil(entries / LEGEND_ROWS))
    fig = _figure(height=max(4.2, 0.19 * math.ceil(entries / columns) + 1.2))
    ax = fig.add_subplot()
    colours = _colours(len(keys))
    styles = ("-", ":", "-.")  # the colours repeat after 20 keys: the line style does not
    for n, (key, colour) in enumerate(zip(keys, colours, strict=True)):
        part = r.progress[r.progress[r.by] == key].set_index("period")[value]
        y = [float(part.get(p, np.nan)) for p in periods]
        style = styles[(n // 20) % len(styles)]
        ax.plot(
            x, y, style, marker="o", linewidth=1.6, markersize=4, color=colour, label=_label(r, key)
        )
    if r.by == "rep" and len(r.team):
        team = r.team.set_index("period")["mean_grade"]
        y = [float(team.get(p, np.nan)) for p in periods]
        ax.plot(x, y, linestyle="--", color="black", linewidth=2, label="All reps")
    _x_labels(ax, x, labels)
    ax.set_ylim(0, 105)
    ax.set_ylabel(VALUE_HEADINGS[r.by])
    ax.set_xlabel(PERIOD_HEADINGS[r.period])
    ax.set_title(_progress_title(r))
    ax.grid(axis="y", alpha=0.3)
    if keys:
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, ncols=columns
        )
    return _png(fig)


def _top_chart(r: Report, tvr: TopVsRest) -> str:
    phases = tvr.phases
    fig = _figure()
    ax = fig.add_subplot()
    _paired_bars(
        ax,
        (phases["top_percent"], phases["top_calls"], "Top 20%", "#2f6fba"),
        (phases["rest_percent"], phases["rest_calls"], "Rest", "#b8c4d6"),
    )
    _x_labels(ax, np.arange(len(phases)), [r.phase_titles.get(p, p) for p in phases["phase"]])
    ax.set_ylabel("mean phase score (%)")
    ax.set_title("Top 20% of reps against the rest, by phase (n = calls)")
    return _png(fig)


def _outcome_chart(o: OutcomeRelation) -> str:
    items = o.items
    fig = _figure(width=max(9.0, 0.7 * len(items) + 2))
    ax = fig.add_subplot()
    _paired_bars(
        ax,
        (items["with_close_pct"], items["with_calls"], "Item credited", "#2e8b57"),
        (items["without_close_pct"], items["without_calls"], "Item not credited", "#d2694b"),
    )
    _x_labels(ax, np.arange(len(items)), list(items["item"]), always_rotate=True)
    ax.set_ylabel("close rate (%)")
    ax.set_title("Close rate with and without each item (n = calls)")
    return _png(fig)


def _paired_bars(ax: Any, *groups: tuple[pd.Series, pd.Series, str, str]) -> None:
    """Side-by-side bars per position, each labelled with its count (no bar where no call)."""
    width = 0.8 / len(groups)
    for n, (values, counts, label, colour) in enumerate(groups):
        x = np.arange(len(values)) + (n - (len(groups) - 1) / 2) * width
        heights = values.astype(float).fillna(0.0).to_numpy()
        ax.bar(x, heights, width, label=label, color=colour)
        for xi, height, count in zip(x, heights, counts, strict=True):
            ax.annotate(
                f"n={int(count)}",
                (xi, height),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                color="#4a5566",
            )
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _x_labels(ax: Any, x: np.ndarray, labels: list[str], *, always_rotate: bool = False) -> None:
    step = max(1, math.ceil(len(labels) / 16))  # at most 16 labels: a month of days stays legible
    ax.set_xticks(x[::step])
    rotate = always_rotate or len(labels) > 6 or any(len(lab) > 12 for lab in labels)
    ax.set_xticklabels(
        labels[::step], rotation=40 if rotate else 0, ha="right" if rotate else "center"
    )
    if len(x):
        ax.set_xlim(-0.6, len(x) - 0.4)


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


# -- helpers -------------------------------------------------------------------------------------


def _reps(df: pd.DataFrame) -> pd.Series:
    return pd.Series(
        [rep if isinstance(rep, str) and rep.strip() else NO_REP for rep in df["rep"]],
        index=df.index,
        dtype=object,
    )


def _check_choice(name: str, value: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise AnalyzerError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _check_range(
    since: str | date | None, until: str | date | None
) -> tuple[str | None, str | None]:
    checked = []
    for name, value in (("since", since), ("until", until)):
        if value is None:
            checked.append(None)
            continue
        if isinstance(value, date):
            checked.append(value.isoformat()[:10])
            continue
        text = str(value).strip()
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError
            date.fromisoformat(text)
        except ValueError:
            raise AnalyzerError(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None
        checked.append(text)
    since_s, until_s = checked
    if since_s and until_s and since_s > until_s:
        raise AnalyzerError(f"since {since_s} is after until {until_s}: no day is in that range")
    return since_s, until_s


def _date_filter(since: str | None, until: str | None) -> tuple[str, list[str]]:
    where, params = [], []
    if since is not None:
        where.append("c.call_date >= ?")
        params.append(since)
    if until is not None:
        where.append("c.call_date <= ?")
        params.append(until)
    return ("WHERE " + " AND ".join(where)) if where else "", params


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else np.nan


def _day(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _num(value: Any, *, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value):+.1f}" if signed else f"{float(value):.1f}"


def _pct_text(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.1f}%"


def _csv_number(value: Any) -> Any:
    if value is None or value == "":
        return ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if pd.isna(value):
        return ""
    return round(float(value), 2)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _s(count: int) -> str:
    return "" if count == 1 else "s"
