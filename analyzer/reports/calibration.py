"""What `analyzer calibrate` reports, and the report written as text or JSON.

A `CalibrationReport` holds, over the confirmed calls of a date range: per item an
`ItemCalibration` (its (suggested, confirmed) status pairs and the overrides, two directions
named: "missed by the tool" and "credited wrongly"), per call a `CallCalibration` (the two
grades), and the `Suggestion`s for the rubric. Agreement, kappa and the grade's error and bias
are `learning.metrics`'. `format_calibration` renders the text a person reads;
`calibration_json` the same as one JSON object. `reports.calibrate` builds the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from analyzer.learning.metrics import (
    Agreement,
    Pair,
    cohen_kappa,
    exact_agreement,
)
from analyzer.reports.formatting import fixed, leaning, rounded, signed

# -- the report ----------------------------------------------------------------------------------


@dataclass
class ItemCalibration:
    """One rubric item over the confirmed calls."""

    item_id: str
    rubric: str
    phase: str
    text: str
    forbidden: bool = False
    pairs: list[Pair] = field(default_factory=list)
    missed_by_tool: list[str] = field(default_factory=list)  # call ids: missed -> met/partial
    credited_wrongly: list[str] = field(default_factory=list)  # call ids: met/partial -> missed

    @property
    def n(self) -> int:
        return len(self.pairs)

    @property
    def agreed(self) -> int:
        return sum(s == c for s, c in self.pairs)

    @property
    def agreement(self) -> float | None:
        return exact_agreement(self.pairs)

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.pairs)

    @property
    def overrides(self) -> int:
        return self.n - self.agreed

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "rubric": self.rubric,
            "phase": self.phase,
            "text": self.text,
            "n": self.n,
            "agreed": self.agreed,
            "agreement": rounded(self.agreement),
            "kappa": rounded(self.kappa),
            "overrides": self.overrides,
            "missed_by_tool": len(self.missed_by_tool),
            "credited_wrongly": len(self.credited_wrongly),
        }


@dataclass(frozen=True)
class CallCalibration:
    """One confirmed call: its two grades and how many items the manager changed."""

    call_id: str
    call_date: str | None
    rep: str | None
    rubric: str
    rubric_version: str
    suggested_grade: float
    confirmed_grade: float
    suggested_passed: bool
    confirmed_passed: bool
    overrides: int

    @property
    def difference(self) -> float:
        """Suggested minus confirmed: positive when the tool graded higher."""
        return round(self.suggested_grade - self.confirmed_grade, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "call_date": self.call_date,
            "rep": self.rep,
            "rubric": self.rubric,
            "rubric_version": self.rubric_version,
            "suggested_grade": self.suggested_grade,
            "confirmed_grade": self.confirmed_grade,
            "difference": self.difference,
            "suggested_passed": self.suggested_passed,
            "confirmed_passed": self.confirmed_passed,
            "overrides": self.overrides,
        }


@dataclass(frozen=True)
class Suggestion:
    """A change to the rubric the confirmed grades argue for.

    kind "threshold": `action` says which way to move the item's bar ("lower the bar: ..." or
    "tighten: remove the phrase ... that matched", `phrase` naming it). kind "phrasing": `phrase`
    is a sentence managers keep confirming as the item, `yaml_line` the line to add under the
    item's `phrases:` in the rubric file.
    """

    kind: str  # threshold | phrasing
    item_id: str
    rubric: str
    action: str
    reason: str  # one line, with the counts
    phrase: str | None = None
    yaml_line: str | None = None
    calls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item_id": self.item_id,
            "rubric": self.rubric,
            "action": self.action,
            "reason": self.reason,
            "phrase": self.phrase,
            "yaml_line": self.yaml_line,
            "calls": list(self.calls),
        }


@dataclass
class CalibrationReport(Agreement):
    """Suggested against confirmed grades over the confirmed calls in a date range."""

    calls: list[CallCalibration]
    items: list[ItemCalibration]  # most overridden first
    suggestions: list[Suggestion]
    since: str | None = None
    until: str | None = None
    rubric: str | None = None  # the rubric asked for, if any

    @property
    def pairs(self) -> list[Pair]:
        return [pair for item in self.items for pair in item.pairs]

    @property
    def agreement(self) -> float | None:
        return exact_agreement(self.pairs)

    @property
    def pass_agreed(self) -> int:
        return sum(c.suggested_passed == c.confirmed_passed for c in self.calls)

    @property
    def rubrics(self) -> list[tuple[str, str]]:
        """(rubric, version) of the calls, in the order first met."""
        return list(dict.fromkeys((c.rubric, c.rubric_version) for c in self.calls))

    def to_dict(self) -> dict[str, Any]:
        pairs = self.pairs
        return {
            "since": self.since,
            "until": self.until,
            "rubric": self.rubric,
            "rubrics": [{"rubric": r, "version": v} for r, v in self.rubrics],
            "calls": len(self.calls),
            "pairs": len(pairs),
            "overall": {
                "agreed": sum(s == c for s, c in pairs),
                "agreement": rounded(self.agreement),
                "kappa": rounded(self.kappa),
                "overrides": sum(item.overrides for item in self.items),
                "missed_by_tool": sum(len(item.missed_by_tool) for item in self.items),
                "credited_wrongly": sum(len(item.credited_wrongly) for item in self.items),
            },
            "grade": {
                "mae": rounded(self.mae, 2),
                "bias": rounded(self.bias, 2),
                "pass_agreed": self.pass_agreed,
                "calls": len(self.calls),
            },
            "items": [item.to_dict() for item in self.items],
            "suggestions": [s.to_dict() for s in self.suggestions],
            "per_call": [c.to_dict() for c in self.calls],
        }


# -- output --------------------------------------------------------------------------------------


def format_calibration(report: CalibrationReport) -> str:
    """The report as a person reads it: items most overridden first, the summary lines, then the
    numbered suggestions (a phrasing's YAML line on its own line, ready to paste)."""
    several = len({r for r, _ in report.rubrics}) > 1
    rubrics = ", ".join(f"{r} v{v}" for r, v in report.rubrics)
    pairs = report.pairs
    count = len(report.calls)
    lines = [
        f"Calibration: {count} confirmed call{'s' if count != 1 else ''} "
        f"({_range(report.since, report.until)}), rubric {rubrics}, {len(pairs)} item pairs",
        "",
        "Items, most overridden first (suggested vs confirmed):",
    ]

    def name(item: ItemCalibration) -> str:
        return f"{item.rubric}:{item.item_id}" if several else item.item_id

    width = max([len("item"), *(len(name(i)) for i in report.items)])
    lines.append(
        f"  {'item':<{width}}    n  agree  kappa  overrides  missed by tool  credited wrongly"
    )
    for item in report.items:
        lines.append(
            f"  {name(item):<{width}}  {item.n:>3}  {fixed(item.agreement):>5}  "
            f"{fixed(item.kappa):>5}  {item.overrides:>9}  {len(item.missed_by_tool):>14}  "
            f"{len(item.credited_wrongly):>16}"
        )
    agreed = sum(s == c for s, c in pairs)
    lines += [
        "",
        f"Overall: agreement {fixed(report.agreement)} ({agreed} of {len(pairs)} item pairs), "
        f"Cohen's kappa over met/partial/missed/na {fixed(report.kappa)}",
        f"Grade: mean absolute error {fixed(report.mae, 1)} points, bias {signed(report.bias)} "
        f"(suggested minus confirmed: {leaning(report.bias)})",
        f"Pass/fail: the same on {report.pass_agreed} of {count} calls",
        "",
    ]
    if not report.suggestions:
        lines.append("Suggestions: none (no item is overridden the same way often enough)")
        return "\n".join(lines) + "\n"
    lines.append("Suggestions:")
    for n, s in enumerate(report.suggestions, 1):
        item = f"{s.rubric}:{s.item_id}" if several else s.item_id
        lines.append(f"  {n}. {item}: {s.action}")
        lines.append(f"     {s.reason}")
        if s.yaml_line is not None:
            lines.append(s.yaml_line)
    return "\n".join(lines) + "\n"


def calibration_json(report: CalibrationReport) -> str:
    """The report as one JSON object."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


# -- helpers -------------------------------------------------------------------------------------


def scope_text(since: str | None, until: str | None, rubric: str | None) -> str:
    """'of rubric mini from 2026-11-01 to 2026-11-30', as far as each is given."""
    parts = []
    if rubric is not None:
        parts.append(f"of rubric {rubric}")
    if since is not None:
        parts.append(f"from {since}")
    if until is not None:
        parts.append(f"to {until}" if since is not None else f"up to {until}")
    return " ".join(parts)


def _range(since: str | None, until: str | None) -> str:
    return scope_text(since, until, None) or "all dates"
