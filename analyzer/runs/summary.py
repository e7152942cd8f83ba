"""Closing summaries of runs, as a manager or an ops admin reads them: a batch run
(`format_report`) and a `score` of several calls (`format_scored`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analyzer.grading.grade import Grade
    from analyzer.runs.batch import BatchReport


def format_report(report: BatchReport, db: Path) -> str:
    """The batch's closing summary, as a manager or an ops admin reads it."""
    lines = [
        f"Batch run {report.run_id} on {db}: {report.found} calls found, "
        f"{len(report.graded)} graded, {report.skipped} already graded, "
        f"{len(report.failed)} failed ({report.seconds:.1f} s)."
    ]
    if report.mean_grade is not None:
        lines.append(f"Mean grade of the calls graded now: {report.mean_grade:.1f}")
    if report.flagged:
        lines.append(f"Flagged for review ({len(report.flagged)}):")
        lines.extend(f"  {g:5.1f}  {c}  [{', '.join(f)}]" for c, g, f in report.flagged)
    if report.failed:
        lines.append(f"Failed ({len(report.failed)}):")
        lines.extend(f"  {path}: {reason}" for path, reason in report.failed)
    return "\n".join(lines)


def format_scored(grades: list[Grade], failures: list[str]) -> str:
    """The closing summary of `analyzer score` over several calls: how many were scored, the
    mean grade, each call's grade and flags, and the calls that failed."""
    lines = [f"Scored {len(grades)} of {len(grades) + len(failures)} calls."]
    if grades:
        mean = sum(g.grade for g in grades) / len(grades)
        flagged = [g for g in grades if not g.passed]
        lines.append(
            f"Mean grade {mean:.1f}; {len(flagged)} below pass or missing a critical item."
        )
        for g in grades:
            lines.append(
                f"  {g.grade:5.1f}  {'pass' if g.passed else 'FAIL'}  {g.call_id}"
                + (f"  [{', '.join(g.flags)}]" if g.flags else "")
            )
    if failures:
        lines.append(f"{len(failures)} failed:")
        lines.extend(f"  {f}" for f in failures)
    return "\n".join(lines)
