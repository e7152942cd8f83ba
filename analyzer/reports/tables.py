"""The report's sections as rows of text, and the words around them: what the table, the HTML
page and the charts of `reports.report` show.

Each `*_rows` function gives (headers, rows of cells, the right-aligned columns) for one
section; `scope_line`, `progress_title`, `top_line` and the others are the sentences; numbers
are written with one decimal ("-" when there is nothing to count) and percents with a "%".
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analyzer.reports.analysis import (
    TOP_SHARE,
    VALUE_COLUMNS,
    OutcomeRelation,
    Report,
    TopVsRest,
)
from analyzer.reports.formatting import plural
from analyzer.reports.frame import day_text

PERIOD_HEADINGS = {"day": "day", "week": "week of", "month": "month of"}
BY_HEADINGS = {"rep": "Mean grade by rep", "phase": "Phase score", "item": "Item credit"}
VALUE_HEADINGS = {"rep": "mean grade", "phase": "mean %", "item": "credit %"}


Cell = str
Rows = tuple[list[str], list[list[Cell]], set[int]]  # headers, rows, right-aligned columns


def scope_line(r: Report) -> str:
    parts = [
        f"{range_text(r)}: {r.calls} graded call{plural(r.calls)}",
        f"{r.confirmed} confirmed by a manager",
        f"{r.reps} rep{plural(r.reps)}",
        f"{r.with_outcome} with a known outcome",
    ]
    if r.undated:
        parts.append(f"{r.undated} without a date (left out of the progress over time)")
    if r.unrecognised_outcomes:
        n = r.unrecognised_outcomes
        parts.append(f"{n} with an outcome that is neither won nor lost (left out of closing)")
    text = ", ".join(parts) + "."
    return text[:1].upper() + text[1:]


def range_text(r: Report) -> str:
    if r.first_date is None:
        return "calls with no date"
    text = f"calls {r.first_date} to {r.last_date}"
    if r.since or r.until:
        text += f" (asked: {r.since or 'start'} to {r.until or 'end'})"
    return text


def progress_title(r: Report) -> str:
    return f"{BY_HEADINGS[r.by]}, by {r.period}"


def top_title(r: Report) -> str:
    return f"Top {TOP_SHARE:.0%} of reps against the rest, by phase"


def top_line(r: Report, tvr: TopVsRest, group: str) -> str:
    reps = tvr.reps[tvr.reps["group"] == group]
    names = ", ".join(
        f"{x.rep} ({number_text(x.mean_grade)})" for x in reps.itertuples(index=False)
    )
    if group == "top":
        return (
            f"Top {TOP_SHARE:.0%}: {len(reps)} of {len(tvr.reps)} rep{plural(len(tvr.reps))}, "
            f"mean grade {number_text(tvr.top_grade)} over {tvr.top_calls} "
            f"call{plural(tvr.top_calls)}: {names}"
        )
    if not len(reps):
        return "Rest: no other rep to compare with."
    return (
        f"Rest: {len(reps)} rep{plural(len(reps))}, mean grade {number_text(tvr.rest_grade)} over "
        f"{tvr.rest_calls} call{plural(tvr.rest_calls)}: {names}"
    )


def outcome_line(o: OutcomeRelation) -> str:
    return (
        f"{o.calls} call{plural(o.calls)} with a known outcome: {o.won} won, "
        f"close rate {percent_text(o.close_pct)}."
    )


def grade_won_line(o: OutcomeRelation) -> str:
    return (
        f"Mean grade of won calls {number_text(o.mean_grade_won)}, of lost calls "
        f"{number_text(o.mean_grade_lost)}."
    )


def team_rows(r: Report) -> Rows:
    headers = [PERIOD_HEADINGS[r.period], "calls", "reps", "mean grade", "pass rate", "confirmed"]
    rows = [
        [
            day_text(t.period),
            str(t.calls),
            str(t.reps),
            number_text(t.mean_grade),
            percent_text(t.pass_rate),
            str(t.confirmed),
        ]
        for t in r.team.itertuples(index=False)
    ]
    return headers, rows, {1, 2, 3, 4, 5}


def key_label(r: Report, key: str) -> str:
    if r.by == "phase":
        return r.phase_titles.get(key, key)
    return key


def progress_rows(r: Report) -> Rows:
    value = VALUE_COLUMNS[r.by]
    headers = [PERIOD_HEADINGS[r.period], r.by, "calls", VALUE_HEADINGS[r.by]]
    rows = [
        [
            day_text(p.period),
            key_label(r, getattr(p, r.by)),
            str(p.calls),
            number_text(getattr(p, value)),
        ]
        for p in r.progress.itertuples(index=False)
    ]
    return headers, rows, {2, 3}


def progress_pivot(r: Report) -> Rows:
    """Each cell 'value (calls)': periods down and keys across, or the other way round when
    there are more keys than periods (forty reps over four weeks)."""
    value = VALUE_COLUMNS[r.by]
    keys = progress_keys(r)
    periods = sorted(r.progress["period"].unique())
    cells = {
        (p.period, getattr(p, r.by)): f"{number_text(getattr(p, value))} ({p.calls})"
        for p in r.progress.itertuples(index=False)
    }
    if len(keys) > len(periods):
        headers = [r.by, *(day_text(p) for p in periods)]
        rows = [[key_label(r, k), *(cells.get((p, k), "") for p in periods)] for k in keys]
    else:
        headers = [PERIOD_HEADINGS[r.period], *(key_label(r, k) for k in keys)]
        rows = [[day_text(p), *(cells.get((p, k), "") for k in keys)] for p in periods]
    return headers, rows, set(range(1, len(headers)))


def progress_keys(r: Report) -> list[str]:
    keys = list(dict.fromkeys(r.progress[r.by]))
    if r.by == "rep":
        return sorted(keys, key=str.casefold)
    order = list(r.phase_titles if r.by == "phase" else r.item_texts)
    return sorted(keys, key=lambda k: order.index(k) if k in order else len(order))


def top_rows(r: Report, tvr: TopVsRest) -> Rows:
    headers = ["phase", "top 20%", "calls", "rest", "calls", "gap"]
    rows = [
        [
            r.phase_titles.get(p.phase, p.phase),
            number_text(p.top_percent),
            str(p.top_calls),
            number_text(p.rest_percent),
            str(p.rest_calls),
            number_text(p.gap, signed=True),
        ]
        for p in tvr.phases.itertuples(index=False)
    ]
    return headers, rows, {1, 2, 3, 4, 5}


def rep_rank_rows(tvr: TopVsRest) -> Rows:
    headers = ["rank", "rep", "group", "calls", "mean grade"]
    rows = [
        [
            str(x.rank),
            x.rep,
            "top 20%" if x.group == "top" else "rest",
            str(x.calls),
            number_text(x.mean_grade),
        ]
        for x in tvr.reps.itertuples(index=False)
    ]
    return headers, rows, {0, 3, 4}


def item_outcome_rows(r: Report, o: OutcomeRelation, *, ids: bool) -> Rows:
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
            percent_text(it.with_close_pct),
            str(it.without_calls),
            str(it.without_won),
            percent_text(it.without_close_pct),
            number_text(it.difference, signed=True),
        ]
        if not ids:
            row.insert(1, r.item_texts.get(it.item, ""))
        rows.append(row)
    first = 1 if ids else 2
    return headers, rows, set(range(first, len(headers)))


def band_rows(o: OutcomeRelation) -> Rows:
    headers = ["grade", "calls", "won", "close rate"]
    rows = [
        [b.band, str(b.calls), str(b.won), percent_text(b.close_pct)]
        for b in o.bands.itertuples(index=False)
    ]
    return headers, rows, {1, 2, 3}


def number_text(value: Any, *, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{float(value):+.1f}" if signed else f"{float(value):.1f}"


def percent_text(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.1f}%"
