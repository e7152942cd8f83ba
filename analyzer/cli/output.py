"""What a person or a script reads: grades (`get_writer("table" | "json")`), the batch summary,
and the stored-calls listing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.transcripts.transcript import format_clock

if TYPE_CHECKING:
    from analyzer.grading.grade import Evidence, Grade, ItemResult, PhaseResult
    from analyzer.runs.batch import BatchReport
    from analyzer.store import CallSummary

STATUS_MARK = {"met": "[met]    ", "partial": "[partial]", "missed": "[missed] ", "na": "[n/a]    "}
BREACHED_MARK = "[BREACH] "  # a forbidden line said
TEXT_WIDTH = 72  # evidence text is cut to this many characters in the table


def grade_json(grade: Grade) -> str:
    """One grade as one line of JSON (the grade contract)."""
    return json.dumps(grade.to_dict(), ensure_ascii=False)


def grade_table(grade: Grade) -> str:
    """A grade as a person reads it: phases, items, evidence with timestamps, the grade."""
    lines = [f"=== {grade.call_id} " + "=" * max(3, 66 - len(grade.call_id))]
    facts = [
        f"Rep: {grade.rep or '?'} ({_rep_source(grade.rep_source)})",
        f"Rubric: {grade.rubric} v{grade.rubric_version}",
    ]
    if grade.duration is not None:
        facts.append(f"Duration: {format_clock(grade.duration)}")
    facts.append(f"Turns: {grade.turns}")
    lines.append("   ".join(facts))
    verdict = "PASS" if grade.passed else "FAIL"
    flags = ", ".join(grade.flags) if grade.flags else "none"
    lines.append(
        f"GRADE {grade.grade:.1f}/100  {verdict} (pass mark {grade.pass_mark:g})   Flags: {flags}"
    )
    for phase in grade.phases:
        lines.append("")
        lines.extend(_phase_lines(phase))
    return "\n".join(lines) + "\n"


def _phase_lines(phase: PhaseResult) -> list[str]:
    if phase.status == "na":
        return [f"{phase.title}  n/a (did not happen: its {phase.weight:g} points are shared out)"]
    head = f"{phase.title}  {phase.earned:g}/{phase.weight:g}"
    if phase.span is not None:
        span = phase.span
        head += f"   turns {span.first_turn}-{span.last_turn}"
        if span.start is not None and span.end is not None:
            head += f" [{format_clock(span.start)}-{format_clock(span.end)}]"
    else:
        head += "   (no turns)"
    lines = [head]
    if phase.trigger is not None:
        t = phase.trigger
        lines.append(f'    happened: {t.speaker} said "{_cut(t.text)}"')
    for item in phase.items:
        lines.extend(_item_lines(item))
    return lines


def _item_lines(item: ItemResult) -> list[str]:
    tags = []
    if item.critical:
        tags.append("critical")
    if item.forbidden:
        tags.append("forbidden")
    if item.confidence < 0.6 and item.status != "na":
        tags.append("low confidence")
    tag = f"  ({', '.join(tags)})" if tags else ""
    # a forbidden item is "missed" when its line was said: shown as the breach it is
    mark = BREACHED_MARK if item.forbidden and item.status == "missed" else STATUS_MARK[item.status]
    lines = [f"  {mark} {item.earned:g}/{item.points:g}  {item.id}: {item.text}{tag}"]
    label = "said" if item.forbidden else "heard"
    for evidence in item.evidence:
        lines.append(f"      {label} {_evidence_line(evidence)}")
    if item.closest is not None:
        lines.append(f"      closest {_evidence_line(item.closest)}")
    return lines


def _evidence_line(e: Evidence) -> str:
    when = f"[{format_clock(e.start)}] " if e.start is not None else f"(turn {e.turn}) "
    where = "" if e.in_phase else "  outside phase"
    return f'{when}{e.speaker}: "{_cut(e.text)}"  {e.score:.2f}{where}'


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 3] + "..."


def _rep_source(source: str) -> str:
    return {
        "option": "--rep",
        "metadata": "from call metadata",
        "transcript": "from transcript roles",
        "inferred": "inferred",
        "none": "nobody spoke",
    }.get(source, source)


WRITERS: dict[str, Callable[[Grade], str]] = {"table": grade_table, "json": grade_json}


def get_writer(name: str) -> Callable[[Grade], str]:
    try:
        return WRITERS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r} (choose from {', '.join(WRITERS)})") from None


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


CALL_COLUMNS = ("call_id", "date", "rep", "grade", "passed", "flags", "rubric")


def format_calls(rows: list[CallSummary], fmt: str) -> str:
    """Stored calls as a table, CSV, or JSON Lines (one object per call)."""
    records = [
        {
            "call_id": r.call_id,
            "date": r.call_date,
            "rep": r.rep,
            "grade": r.grade,
            "passed": r.passed,
            "flags": r.flags,
            "rubric": f"{r.rubric} v{r.rubric_version}" if r.rubric else None,
            "duration": r.duration,
            "source": r.source_path,
        }
        for r in rows
    ]
    if fmt == "json":
        return "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*CALL_COLUMNS, "duration", "source"])
        for rec in records:
            writer.writerow(
                [
                    ";".join(v) if isinstance(v, list) else ("" if v is None else v)
                    for v in rec.values()
                ]
            )
        return out.getvalue()
    if not records:
        return "No calls match.\n"
    cells = [
        [
            rec["call_id"],
            rec["date"] or "",
            rec["rep"] or "",
            "" if rec["grade"] is None else f"{rec['grade']:.1f}",
            {True: "pass", False: "FAIL", None: ""}[rec["passed"]],
            ", ".join(rec["flags"]),
            rec["rubric"] or "",
        ]
        for rec in records
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(CALL_COLUMNS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(CALL_COLUMNS, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.append(f"{len(records)} calls")
    lines.extend(["", "Average per rep:"])
    by_rep: dict[str, list[float]] = {}
    for rec in records:
        if rec["grade"] is not None:
            by_rep.setdefault(rec["rep"] or "?", []).append(rec["grade"])
    for rep, grades in sorted(by_rep.items()):
        passed = sum(1 for r in records if (r["rep"] or "?") == rep and r["passed"])
        lines.append(
            f"  {rep:<12} {sum(grades) / len(grades):5.1f}  ({len(grades)} calls, {passed} passed)"
        )
    return "\n".join(lines) + "\n"
