"""Grade writers: a grade as a person reads it (`table`) or as one line of JSON (`json`), looked
up by `get_writer(name)` in the `WRITERS` registry (`analyzer score --format`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from analyzer.registry import Registry
from analyzer.transcripts.transcript import format_clock

if TYPE_CHECKING:
    from analyzer.grading.grade import Evidence, Grade, ItemResult, PhaseResult

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


WRITERS: Registry[Callable[[Grade], str]] = Registry(
    "format", {"table": grade_table, "json": grade_json}
)


def get_writer(name: str) -> Callable[[Grade], str]:
    """The writer registered as `name`; ValueError naming the formats when there is none."""
    return WRITERS.get(name)
