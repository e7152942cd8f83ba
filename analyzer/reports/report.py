"""`analyzer report`: the report as a terminal table, one tidy CSV or one HTML page.

The library behind `analyzer report [--period day|week|month] [--by rep|phase|item]
[--format table|csv|html] [--out PATH]`: `reports.analysis.build_report` gathers the figures;
`render_table`, `render_csv` and `render_html` turn the `Report` into text (the HTML page is
self-contained: inline CSS, the charts of `reports.charts` as base64 PNG), chosen by
`get_renderer(name)` or `render(report, fmt)`; `write_report` writes a file whole or not at all.
"""

from __future__ import annotations

import csv
import html
import io
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analyzer.errors import AnalyzerError, InputError
from analyzer.registry import Registry
from analyzer.reports.analysis import VALUE_COLUMNS, Report, check_choice
from analyzer.reports.charts import outcome_chart, progress_chart, top_chart
from analyzer.reports.frame import day_text
from analyzer.reports.tables import (
    VALUE_HEADINGS,
    band_rows,
    grade_won_line,
    item_outcome_rows,
    outcome_line,
    progress_pivot,
    progress_rows,
    progress_title,
    range_text,
    rep_rank_rows,
    scope_line,
    team_rows,
    top_line,
    top_rows,
    top_title,
)

NO_OUTCOMES = (
    "No outcomes known: give calls.csv an outcome column (won / lost) or run "
    "`analyzer outcomes import FILE`."
)


def render_table(report: Report) -> str:
    """The report as plain text for a terminal: one aligned table per section."""
    r = report
    out: list[str] = [f"Script adherence report: {r.database}", scope_line(r), ""]
    out += [f"Team, by {r.period}", _text_table(*team_rows(r)), ""]
    out += [progress_title(r), _text_table(*progress_rows(r)), ""]
    tvr = r.top_vs_rest
    out += [top_title(r), top_line(r, tvr, "top"), top_line(r, tvr, "rest")]
    out += [_text_table(*top_rows(r, tvr)), ""]
    out.append("Adherence and closing")
    if r.outcomes is None:
        out.append(NO_OUTCOMES)
    else:
        out += [outcome_line(r.outcomes), grade_won_line(r.outcomes)]
        out += ["", "Close rate with and without each item"]
        out += [_text_table(*item_outcome_rows(r, r.outcomes, ids=True)), ""]
        out += ["Close rate by grade band", _text_table(*band_rows(r.outcomes))]
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
        p = day_text(t.period)
        row("team", p, "", "", "mean_grade", t.calls, "", t.mean_grade)
        row("team", p, "", "", "pass_rate", t.calls, "", t.pass_rate)
        row("team", p, "", "", "confirmed", t.calls, "", t.confirmed)
    value = VALUE_COLUMNS[r.by]
    for p in r.progress.itertuples(index=False):
        key = getattr(p, r.by)
        row(
            f"progress_by_{r.by}",
            day_text(p.period),
            key,
            "",
            value,
            p.calls,
            "",
            getattr(p, value),
        )
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
    body: list[str] = [f"<h1>{_e(title)}</h1>", f"<p class='scope'>{_e(scope_line(r))}</p>"]
    body += [f"<h2>Team, by {_e(r.period)}</h2>", _html_table(*team_rows(r))]
    body += [f"<h2>{_e(progress_title(r))}</h2>"]
    body.append(_img(progress_chart(r), f"{progress_title(r)}: line chart"))
    body.append(_html_table(*progress_pivot(r)))
    body.append(f"<p class='note'>Each cell: {_e(VALUE_HEADINGS[r.by])} (calls).</p>")
    body += [f"<h2>{_e(top_title(r))}</h2>"]
    body += [f"<p>{_e(top_line(r, tvr, 'top'))}<br>{_e(top_line(r, tvr, 'rest'))}</p>"]
    if len(tvr.phases):
        body.append(_img(top_chart(r, tvr), "Top 20% against the rest, by phase: bar chart"))
    body.append(_html_table(*top_rows(r, tvr)))
    body += ["<h3>Reps by mean grade</h3>", _html_table(*rep_rank_rows(tvr))]
    body.append("<h2>Adherence and closing</h2>")
    if r.outcomes is None:
        body.append(f"<p>{_e(NO_OUTCOMES)}</p>")
    else:
        o = r.outcomes
        body.append(f"<p>{_e(outcome_line(o))}<br>{_e(grade_won_line(o))}</p>")
        body.append(_img(outcome_chart(o), "Close rate with and without each item: bar chart"))
        body += ["<h3>Close rate with and without each item</h3>"]
        body.append(_html_table(*item_outcome_rows(r, o, ids=False)))
        body += ["<h3>Close rate by grade band</h3>", _html_table(*band_rows(o))]
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{_e(title)}: {_e(range_text(r))}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


RENDERERS: Registry[Callable[[Report], str]] = Registry(
    "format", {"table": render_table, "csv": render_csv, "html": render_html}, error=AnalyzerError
)


def get_renderer(name: str) -> Callable[[Report], str]:
    """The renderer for `--format NAME`; AnalyzerError "format must be one of table, csv, html,
    not 'NAME'" for an unknown one (the report's own words for a bad choice)."""
    check_choice("format", name, RENDERERS.names())
    return RENDERERS.get(name)


def render(report: Report, fmt: str) -> str:
    """The report in the format `fmt` (table, csv or html)."""
    return get_renderer(fmt)(report)


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


# -- tables as text and HTML -----------------------------------------------------------------------


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
