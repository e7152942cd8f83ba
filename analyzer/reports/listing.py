"""The stored-calls listing (`analyzer calls`): a table with the average per rep, CSV, or JSON
Lines, each a writer in the `LISTINGS` registry, looked up by `get_listing(name)`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from analyzer.registry import Registry

if TYPE_CHECKING:
    from analyzer.store import CallSummary

CALL_COLUMNS = ("call_id", "date", "rep", "grade", "passed", "flags", "rubric")

Record = dict[str, Any]


def format_calls(rows: list[CallSummary], fmt: str) -> str:
    """Stored calls as a table, CSV, or JSON Lines (one object per call)."""
    return get_listing(fmt)([_record(r) for r in rows])


def _record(r: CallSummary) -> Record:
    return {
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


def calls_jsonl(records: list[Record]) -> str:
    """One JSON object per call per line."""
    return "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)


def calls_csv(records: list[Record]) -> str:
    """A header row, then one row per call; lists joined by `;`, None as an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CALL_COLUMNS, "duration", "source"])
    for rec in records:
        writer.writerow(
            [";".join(v) if isinstance(v, list) else ("" if v is None else v) for v in rec.values()]
        )
    return out.getvalue()


def calls_table(records: list[Record]) -> str:
    """Aligned columns, the count, then the average grade per rep with their passes."""
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


LISTINGS: Registry[Callable[[list[Record]], str]] = Registry(
    "format", {"table": calls_table, "csv": calls_csv, "json": calls_jsonl}
)


def get_listing(name: str) -> Callable[[list[Record]], str]:
    """The listing writer registered as `name`; ValueError naming the formats when there is
    none."""
    return LISTINGS.get(name)
