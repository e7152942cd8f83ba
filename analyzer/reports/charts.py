"""The report's charts, drawn with matplotlib on an Agg canvas (no pyplot: no global state,
safe in a server) and returned as base64 PNG for the HTML page to embed.

`progress_chart` (a line per rep, phase or item, and the whole team when by rep),
`top_chart` (top 20% against the rest, per phase) and `outcome_chart` (close rate with and
without each item), each bar labelled with its number of calls.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
import pandas as pd

from analyzer.reports.analysis import VALUE_COLUMNS, OutcomeRelation, Report, TopVsRest
from analyzer.reports.frame import day_text
from analyzer.reports.tables import (
    PERIOD_HEADINGS,
    VALUE_HEADINGS,
    key_label,
    progress_keys,
    progress_title,
)


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


def progress_chart(r: Report) -> str:
    value = VALUE_COLUMNS[r.by]
    periods = sorted(r.progress["period"].unique())
    labels = [day_text(p) for p in periods]
    x = np.arange(len(periods))
    keys = progress_keys(r)
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
            x,
            y,
            style,
            marker="o",
            linewidth=1.6,
            markersize=4,
            color=colour,
            label=key_label(r, key),
        )
    if r.by == "rep" and len(r.team):
        team = r.team.set_index("period")["mean_grade"]
        y = [float(team.get(p, np.nan)) for p in periods]
        ax.plot(x, y, linestyle="--", color="black", linewidth=2, label="All reps")
    _x_labels(ax, x, labels)
    ax.set_ylim(0, 105)
    ax.set_ylabel(VALUE_HEADINGS[r.by])
    ax.set_xlabel(PERIOD_HEADINGS[r.period])
    ax.set_title(progress_title(r))
    ax.grid(axis="y", alpha=0.3)
    if keys:
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, ncols=columns
        )
    return _png(fig)


def top_chart(r: Report, tvr: TopVsRest) -> str:
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


def outcome_chart(o: OutcomeRelation) -> str:
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
