"""Writers for grades: a table for a person, JSON Lines for scripts. `get_writer(name)`."""

from __future__ import annotations

import json
from collections.abc import Callable

from .grade import Evidence, Grade, ItemResult, PhaseResult

STATUS_MARK = {"met": "[met]    ", "partial": "[partial]", "missed": "[missed] ", "na": "[n/a]    "}
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
        facts.append(f"Duration: {clock(grade.duration)}")
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
            head += f" [{clock(span.start)}-{clock(span.end)}]"
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
    lines = [
        f"  {STATUS_MARK[item.status]} {item.earned:g}/{item.points:g}  {item.id}: {item.text}{tag}"
    ]
    label = "said" if item.forbidden else "heard"
    for evidence in item.evidence:
        lines.append(f"      {label} {_evidence_line(evidence)}")
    if item.closest is not None:
        lines.append(f"      closest {_evidence_line(item.closest)}")
    return lines


def _evidence_line(e: Evidence) -> str:
    when = f"[{clock(e.start)}] " if e.start is not None else f"(turn {e.turn}) "
    where = "" if e.in_phase else "  outside phase"
    return f'{when}{e.speaker}: "{_cut(e.text)}"  {e.score:.2f}{where}'


def clock(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss past an hour."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


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
