"""The report's figures, apart from how they are shown: progress over time, the top reps
against the rest, and how the items and the grade relate to closing.

Pure functions over the calls frame (`reports.frame`): `progress` (by rep, phase or item per
day, week or month), `team_progress`, `top_vs_rest`, `outcome_relation`. `build_report` reads
the frame and puts them in a `Report`, which `reports.report` renders. Every problem a user can
fix is an `AnalyzerError` with a one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from analyzer.dates import check_range
from analyzer.errors import AnalyzerError
from analyzer.reports.formatting import plural
from analyzer.reports.frame import (
    ITEM_PREFIX,
    PHASE_PREFIX,
    calls_frame,
    day_text,
    item_ids,
    phase_ids,
)
from analyzer.store import Store
from analyzer.store.connection import named_cursor

PERIODS = ("day", "week", "month")
GROUPINGS = ("rep", "phase", "item")
# The tidy progress frame's value column for each grouping.
VALUE_COLUMNS = {"rep": "mean_grade", "phase": "mean_percent", "item": "credit_percent"}
CREDITED = 0.5  # an item counts as done (for close rates) at this credit or more
TOP_SHARE = 0.2  # the top 20% of reps by mean grade
GRADE_BANDS = ("<50", "50-70", "70-85", ">=85")
GRADE_BAND_EDGES = (-math.inf, 50.0, 70.0, 85.0, math.inf)  # each band includes its lower edge
NO_REP = "(no rep)"


# -- progress over time ------------------------------------------------------------------------


def period_start(dates: pd.Series, period: str) -> pd.Series:
    """Each date's period, labelled by its first day (weeks start on Monday)."""
    check_choice("period", period, PERIODS)
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
    check_choice("by", by, GROUPINGS)
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
    check_choice("period", period, PERIODS)
    check_choice("by", by, GROUPINGS)
    since_s, until_s = check_range(since, until, AnalyzerError)
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
        first_date=day_text(dates.min()) if len(dates) else None,
        last_date=day_text(dates.max()) if len(dates) else None,
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
        cursor = named_cursor(conn)
        held_calls = cursor.execute(
            "SELECT count(*) AS calls, min(c.call_date) AS first, max(c.call_date) AS last "
            "FROM reviews r JOIN calls c ON c.call_id = r.call_id WHERE r.suggested_id IS NOT NULL"
        ).fetchone()
    count, first, last = held_calls["calls"], held_calls["first"], held_calls["last"]
    if not count:
        return f"no graded calls in {store.path}"
    if since and until:
        asked = f"from {since} to {until}"
    elif since:
        asked = f"from {since} on"
    else:
        asked = f"up to {until}"
    held = f"{count} graded call{plural(count)}"
    if first:
        held += f", from {first} to {last}" if first != last else f", on {first}"
    return f"no graded calls {asked} in {store.path} (it has {held})"


# -- helpers ---------------------------------------------------------------------------------------


def _reps(df: pd.DataFrame) -> pd.Series:
    return pd.Series(
        [rep if isinstance(rep, str) and rep.strip() else NO_REP for rep in df["rep"]],
        index=df.index,
        dtype=object,
    )


def check_choice(name: str, value: str, allowed: Iterable[str]) -> None:
    """AnalyzerError "NAME must be one of a, b, not 'VALUE'" unless `value` is allowed."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise AnalyzerError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else np.nan
