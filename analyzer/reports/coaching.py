"""What a coaching packet shows of a flagged call, read from the store.

For a flagged call (`reports.export.ExportRow`), `call_packet` reads the grade that counts
(`review.rules.counting`: the confirmed grade when there is one, else the suggested one), its
weak phases (scored phases under 50% of their weight) and per missed item: the item text, what
the rubric expected instead (its phrases, when `rubrics/<rubric>.yaml` can be found beside the
database or in the working folder), the sentences said for a forbidden item, the transcript
turns around the moment (±2 turns) and the stretch of the recording to clip ([start-2 s,
end+3 s]). `reports.packets` cuts the clips and writes the pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import AnalyzerError
from analyzer.grading.rubric import Rubric, load_rubric
from analyzer.reports.export import ExportRow, weak_moment
from analyzer.review.rules import counting
from analyzer.store import Store, json_object
from analyzer.store.connection import named_cursor
from analyzer.transcripts.transcript import format_clock

WEAK_PHASE_PERCENT = 50.0  # a scored phase under this share of its weight is weak
CONTEXT_TURNS = 2  # turns shown either side of the moment
CLIP_BEFORE = 2.0  # seconds of audio before the moment
CLIP_AFTER = 3.0  # seconds after it


@dataclass
class ExcerptTurn:
    speaker: str
    clock: str  # mm:ss, or "" when the turn has no time
    text: str
    focus: bool  # the turn the moment is in


@dataclass
class MissedItem:
    phase: str  # the phase's title (or id)
    item_id: str
    text: str
    expected: list[str]  # the rubric's phrases; empty when the rubric was not found
    forbidden: bool
    critical: bool
    moment: str | None  # mm:ss
    said: list[str] = field(default_factory=list)  # a forbidden item: the sentences said
    excerpt: list[ExcerptTurn] = field(default_factory=list)
    clip: str | None = None  # relative to the packet folder: clips/<call>-<item>.wav
    clip_range: tuple[float, float] | None = None  # seconds in the recording


@dataclass
class CallPacket:
    row: ExportRow
    weak_phases: list[str]  # "Close (0 of 20)"
    missed: list[MissedItem]
    audio_note: str | None  # "no recording", or why there is no clip; None when clips exist


@dataclass
class RepPacket:
    rep: str
    slug: str
    calls: list[CallPacket]


# -- reading -------------------------------------------------------------------------------------


def slug_of(text: str) -> str:
    """`text` as a file name: lowercase letters, digits and dashes ("x" when none is left)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")
    return slug or "x"


def _grade_that_counts(conn: Any, call_id: str) -> dict[str, Any]:
    record = (
        named_cursor(conn)
        .execute(
            "SELECT s.grade_json AS suggested_json, c.grade_json AS confirmed_json FROM reviews r "
            "LEFT JOIN grades s ON s.id = r.suggested_id "
            "LEFT JOIN grades c ON c.id = r.confirmed_id WHERE r.call_id = ?",
            (call_id,),
        )
        .fetchone()
    )
    if record is None:
        return {}
    suggested = json_object(record["suggested_json"])
    confirmed = json_object(record["confirmed_json"]) or None  # an empty one counts as none
    return counting(suggested, confirmed) or {}


def _turns(conn: Any, call_id: str) -> list[dict[str, Any]]:
    record = (
        named_cursor(conn)
        .execute("SELECT transcript_json FROM transcripts WHERE call_id = ?", (call_id,))
        .fetchone()
    )
    data = json_object(record["transcript_json"]) if record else None
    turns = (data or {}).get("turns")
    return [t for t in turns if isinstance(t, dict)] if isinstance(turns, list) else []


def _audio_path(store: Store, stored: str | None) -> Path | None:
    """As `review.audio_file`: absolute, else from the database's folder, then the working one."""
    if not stored:
        return None
    path = Path(stored)
    candidates = [path] if path.is_absolute() else [store.path.parent / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _rubric(store: Store, rubric_id: str | None, cache: dict[str, Rubric | None]) -> Rubric | None:
    """`rubrics/<id>.yaml` beside the database, else in the working folder; None if neither
    exists or it does not load (the page then shows the item text only)."""
    if not rubric_id or not re.fullmatch(r"[\w.-]+", rubric_id):
        return None
    if rubric_id not in cache:
        cache[rubric_id] = None
        for folder in (store.path.parent / "rubrics", Path.cwd() / "rubrics"):
            path = folder / f"{rubric_id}.yaml"
            if path.is_file():
                try:
                    cache[rubric_id] = load_rubric(path)
                except AnalyzerError:
                    continue
                break
    return cache[rubric_id]


def _anchor_turn(item: dict[str, Any], span: dict[str, Any]) -> int | None:
    """The turn to show: what was said for a forbidden item, else the closest thing said,
    else the first turn of the phase; None when there is none."""
    candidates: list[Any] = []
    if item.get("forbidden"):
        candidates.extend(item.get("evidence") or [])
    if item.get("closest"):
        candidates.append(item["closest"])
    for candidate in candidates:
        if isinstance(candidate, dict) and isinstance(candidate.get("turn"), int):
            return candidate["turn"]
    first = span.get("first_turn")
    return first if isinstance(first, int) else None


def _said(item: dict[str, Any]) -> list[str]:
    """For a forbidden item missed (its line was said): each sentence of its evidence."""
    if not item.get("forbidden"):
        return []
    return [
        " ".join(str(e["text"]).split())
        for e in item.get("evidence") or []
        if isinstance(e, dict) and e.get("text")
    ]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def call_packet(
    store: Store, conn: Any, row: ExportRow, rubrics: dict[str, Rubric | None]
) -> tuple[CallPacket, Path | None]:
    """What the packet shows of the flagged call `row`, and its recording (None when it has
    none or the file is gone). `rubrics` caches the rubric files read, by id."""
    grade = _grade_that_counts(conn, row.call_id)
    turns = _turns(conn, row.call_id)
    rubric = _rubric(store, row.rubric, rubrics)
    phrases = {item.id: list(item.phrases) for item in rubric.items} if rubric else {}
    weak: list[str] = []
    missed: list[MissedItem] = []
    for phase in grade.get("phases") or []:
        title = phase.get("title") or phase.get("id") or "?"
        weight = float(phase.get("weight") or 0)
        earned = float(phase.get("earned") or 0)
        scored = phase.get("status") == "scored" and weight > 0
        if scored and 100.0 * earned / weight < WEAK_PHASE_PERCENT:
            weak.append(f"{title} ({earned:g} of {weight:g})")
        span = phase.get("span") or {}
        for item in phase.get("items") or []:
            if item.get("status") != "missed":
                continue
            moment = weak_moment(item, span)
            entry = MissedItem(
                phase=title,
                item_id=str(item.get("id")),
                text=str(item.get("text") or item.get("id")),
                expected=phrases.get(str(item.get("id")), []),
                forbidden=bool(item.get("forbidden")),
                critical=bool(item.get("critical")),
                moment=None if moment is None else format_clock(moment),
                said=_said(item),
            )
            anchor = _anchor_turn(item, span)
            if anchor is not None and 0 <= anchor < len(turns):
                lo, hi = max(0, anchor - CONTEXT_TURNS), min(len(turns), anchor + CONTEXT_TURNS + 1)
                for n in range(lo, hi):
                    turn = turns[n]
                    start = _number(turn.get("start"))
                    entry.excerpt.append(
                        ExcerptTurn(
                            speaker=str(turn.get("speaker") or "?"),
                            clock="" if start is None else format_clock(start),
                            text=str(turn.get("text") or ""),
                            focus=n == anchor,
                        )
                    )
                start = _number(turns[anchor].get("start"))
                end = _number(turns[anchor].get("end"))
                if start is not None:
                    end = start if end is None or end < start else end
                    entry.clip_range = (max(0.0, start - CLIP_BEFORE), end + CLIP_AFTER)
            missed.append(entry)
    stored = (
        named_cursor(conn)
        .execute("SELECT audio_path FROM calls WHERE call_id = ?", (row.call_id,))
        .fetchone()
    )
    stored_path = stored["audio_path"] if stored else None
    audio = _audio_path(store, stored_path)
    note: str | None = None
    if not stored_path:
        note = "no recording"
    elif audio is None:
        note = f"recording missing: {stored_path}"
    return CallPacket(row=row, weak_phases=weak, missed=missed, audio_note=note), audio
