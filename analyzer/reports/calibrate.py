"""How far the suggested grades agree with the grades managers confirmed: `analyzer calibrate`.

Every call a manager confirmed on the review page holds two grades for the same rubric version:
the suggestion (kind 'suggested') and the confirmed grade (kind 'confirmed'). The calls counted
are those whose `reviews` row has both: the latest suggestion and the confirmation for its rubric
version (a call confirmed under an older rubric version and graded again since counts once it is
confirmed again, as on the review page). Each item gives a pair (suggested status, confirmed
status); from those pairs and the two grades:

- per item: the number of pairs, the share that agree, Cohen's kappa, and the overrides (pairs
  that differ), two directions named: "missed by the tool" (suggested missed, confirmed met or
  partial) and "credited wrongly" (suggested met or partial, confirmed missed);
- overall: agreement and kappa over every pair; the grade's mean absolute error and bias
  (suggested minus confirmed: positive means the tool grades higher); pass/fail agreement;
- items ranked by overrides, most first;
- suggestions: a threshold to move (an item the tool keeps missing that managers credit, or one
  it keeps crediting that managers mark missed, naming the phrase that matched), and phrasings
  managers keep confirming that the rubric lacks, each with the YAML line to add.

The metrics are `learning.metrics`' (`cohen_kappa`, `exact_agreement`, `mean_absolute_error`,
`mean_bias`) and the report's shape and text `reports.calibration`'s. `calibrate` builds the
report from confirmed calls already read (pure); `calibration_report` reads them from the store.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from analyzer.dates import check_day
from analyzer.errors import CalibrationError
from analyzer.grading.rubric import ITEM_STATUSES, Item, Rubric
from analyzer.learning.metrics import POSITIVE
from analyzer.reports.calibration import (
    CalibrationReport,
    CallCalibration,
    ItemCalibration,
    Suggestion,
    scope_text,
)
from analyzer.store import Store, json_object
from analyzer.store.connection import named_cursor

MIN_OVERRIDES = 3  # overrides in one direction before a threshold suggestion
MIN_PHRASING_CALLS = 2  # calls confirming the same sentence before a phrasing suggestion
WORD_OVERLAP = 0.6  # two sentences are "the same" when each shares this share of its words
PHRASE_INDENT = " " * 6  # a phrase's list entry under `phrases:` in the rubric files

EMPTY_MESSAGE = "no confirmed grades in DB yet: confirm some calls on the review page first"


# -- what is read from the store -----------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmedCall:
    """A confirmed call: its suggested grade and the confirmed grade for the same rubric version
    (both in the grade JSON shape)."""

    call_id: str
    call_date: str | None
    rep: str | None
    suggested: dict[str, Any]
    confirmed: dict[str, Any]

    @property
    def rubric(self) -> str:
        return str(self.suggested.get("rubric", ""))

    @property
    def rubric_version(self) -> str:
        return str(self.suggested.get("rubric_version", ""))


# -- building it ---------------------------------------------------------------------------------


def calibration_report(
    store: Store,
    *,
    since: str | None = None,
    until: str | None = None,
    rubric: Rubric | str | None = None,
) -> CalibrationReport:
    """The calibration report over the calls confirmed in the store.

    since/until: YYYY-MM-DD, inclusive, on the call's date (calls with no date are left out when
    either is given). rubric: only calls graded with this rubric (its id, or a Rubric, which
    also gives the items' order, phases and texts). Raises CalibrationError when nothing was
    confirmed yet, or nothing in the range asked for.
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None:
            check_day(f"--{name}", value, CalibrationError)
    if since is not None and until is not None and since > until:
        raise CalibrationError(f"--since {since} is after --until {until}: no calls can match")
    rubric_id = rubric.rubric if isinstance(rubric, Rubric) else rubric
    where = ["r.confirmed_id IS NOT NULL"]
    params: list[Any] = []
    if since is not None:
        where.append("r.call_date >= ?")
        params.append(since)
    if until is not None:
        where.append("r.call_date <= ?")
        params.append(until)
    if rubric_id is not None:
        where.append("r.rubric = ?")
        params.append(rubric_id)
    with store.reading("reading confirmed grades") as conn:
        cursor = named_cursor(conn)
        confirmed_calls = cursor.execute(
            "SELECT count(*) AS confirmed FROM reviews WHERE confirmed_id IS NOT NULL"
        ).fetchone()["confirmed"]
        rows = cursor.execute(
            "SELECT r.call_id, r.call_date, r.rep, s.grade_json AS suggested_json, "
            "c.grade_json AS confirmed_json FROM reviews r "
            "JOIN grades s ON s.id = r.suggested_id JOIN grades c ON c.id = r.confirmed_id "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY r.call_date IS NULL, r.call_date, r.call_id",
            params,
        ).fetchall()
    if not confirmed_calls:
        raise CalibrationError(EMPTY_MESSAGE)
    calls = []
    for row in rows:
        suggested = json_object(row["suggested_json"])
        confirmed = json_object(row["confirmed_json"])
        if suggested is not None and confirmed is not None:
            calls.append(
                ConfirmedCall(row["call_id"], row["call_date"], row["rep"], suggested, confirmed)
            )
    if not calls:
        raise CalibrationError(f"no confirmed calls {scope_text(since, until, rubric_id)}".rstrip())
    report = calibrate(calls, rubric=rubric if isinstance(rubric, Rubric) else None)
    report.since, report.until, report.rubric = since, until, rubric_id
    return report


def calibrate(calls: Sequence[ConfirmedCall], *, rubric: Rubric | None = None) -> CalibrationReport:
    """The report over confirmed calls already read (pure: no database)."""
    items: dict[tuple[str, str], ItemCalibration] = {}
    if rubric is not None:
        for phase in rubric.phases:
            for item in phase.items:
                items[(rubric.rubric, item.id)] = ItemCalibration(
                    item.id, rubric.rubric, phase.id, item.text, item.forbidden
                )
    per_call: list[CallCalibration] = []
    # (rubric, item id) -> [(call id, suggested item dict, confirmed status)], for suggestions
    details: dict[tuple[str, str], list[tuple[str, dict[str, Any], str]]] = {}
    for call in calls:
        suggested_items = _items(call.suggested)
        confirmed_items = _items(call.confirmed)
        overrides = 0
        for item_id, (phase_id, s_item) in suggested_items.items():
            if item_id not in confirmed_items:
                continue
            pair = (str(s_item.get("status")), str(confirmed_items[item_id][1].get("status")))
            if pair[0] not in ITEM_STATUSES or pair[1] not in ITEM_STATUSES:
                continue
            key = (call.rubric, item_id)
            if key not in items:
                if rubric is not None and call.rubric == rubric.rubric:
                    continue  # an item the rubric no longer has
                items[key] = ItemCalibration(
                    item_id,
                    call.rubric,
                    phase_id,
                    str(s_item.get("text", "")),
                    bool(s_item.get("forbidden")),
                )
            entry = items[key]
            entry.pairs.append(pair)
            details.setdefault(key, []).append((call.call_id, s_item, pair[1]))
            if pair[0] != pair[1]:
                overrides += 1
            if pair[0] == "missed" and pair[1] in POSITIVE:
                entry.missed_by_tool.append(call.call_id)
            elif pair[0] in POSITIVE and pair[1] == "missed":
                entry.credited_wrongly.append(call.call_id)
        per_call.append(
            CallCalibration(
                call_id=call.call_id,
                call_date=call.call_date,
                rep=call.rep,
                rubric=call.rubric,
                rubric_version=call.rubric_version,
                suggested_grade=float(call.suggested.get("grade", 0.0)),
                confirmed_grade=float(call.confirmed.get("grade", 0.0)),
                suggested_passed=bool(call.suggested.get("passed")),
                confirmed_passed=bool(call.confirmed.get("passed")),
                overrides=overrides,
            )
        )
    order = {key: n for n, key in enumerate(items)}
    ranked = sorted(
        (item for item in items.values() if item.n),
        key=lambda i: (-i.overrides, order[(i.rubric, i.item_id)]),
    )
    rubric_items = {item.id: item for item in rubric.items} if rubric is not None else {}
    suggestions: list[Suggestion] = []
    for item in ranked:
        known = rubric_items.get(item.item_id) if rubric and item.rubric == rubric.rubric else None
        found = details.get((item.rubric, item.item_id), [])
        threshold = threshold_suggestion(item, found, known)
        if threshold is not None:
            suggestions.append(threshold)
        if not item.forbidden:
            suggestions.extend(phrasing_suggestions(item, found, known))
    return CalibrationReport(calls=per_call, items=ranked, suggestions=suggestions)


def threshold_suggestion(
    item: ItemCalibration,
    found: Sequence[tuple[str, dict[str, Any], str]],
    known: Item | None = None,
) -> Suggestion | None:
    """Move the item's bar when managers override it the same way on MIN_OVERRIDES calls or
    more, and more often than the other way. For a forbidden item the statuses mean the reverse
    (met: the rep did not say it), so the tool missing it means its phrases matched too easily.

    found: (call id, suggested item dict, confirmed status) for every pair of the item.
    """
    missed, credited = len(item.missed_by_tool), len(item.credited_wrongly)
    if missed >= MIN_OVERRIDES and missed > credited:
        lower, calls = not item.forbidden, item.missed_by_tool
        counts = (
            f"missed by the tool on {missed} of {item.n} confirmed calls "
            f"(credited wrongly on {credited})"
        )
    elif credited >= MIN_OVERRIDES and credited > missed:
        lower, calls = item.forbidden, item.credited_wrongly
        counts = (
            f"credited wrongly on {credited} of {item.n} confirmed calls "
            f"(missed by the tool on {missed})"
        )
    else:
        return None
    if lower:
        if known is not None and known.match in ("auto", "semantic"):
            action = f"lower the bar: add phrasings (it already uses `match: {known.match}`)"
        else:
            action = "lower the bar: add phrasings or use `match: auto`"
        return Suggestion(
            "threshold", item.item_id, item.rubric, action, counts, calls=tuple(calls)
        )
    involved = set(calls)
    phrases: Counter[str] = Counter()
    for call_id, s_item, _ in found:
        if call_id in involved:
            matched = (str(e["phrase"]) for e in s_item.get("evidence", []) if e.get("phrase"))
            phrases.update(list(dict.fromkeys(matched)))  # each phrase once per call
    if not phrases:
        action = "tighten: its phrases match sentences managers do not accept"
        return Suggestion(
            "threshold", item.item_id, item.rubric, action, counts, calls=tuple(calls)
        )
    phrase, times = phrases.most_common(1)[0]  # ties: the phrase met first
    return Suggestion(
        "threshold",
        item.item_id,
        item.rubric,
        f'tighten: remove the phrase "{phrase}" that matched',
        f'{counts}; "{phrase}" matched on {times} of those {len(calls)}',
        phrase=phrase,
        calls=tuple(calls),
    )


def phrasing_suggestions(
    item: ItemCalibration,
    found: Sequence[tuple[str, dict[str, Any], str]],
    known: Item | None = None,
) -> list[Suggestion]:
    """Sentences managers keep confirming as the item that the rubric lacks.

    Over the calls where the tool said missed and the manager met, the tool's nearest sentence
    (the suggested item's `closest`) is gathered; sentences that are the same once normalised
    (lowercase, punctuation stripped) or share WORD_OVERLAP of their words (of each sentence's
    words: the shared words over the longer one's) are grouped. A group seen on
    MIN_PHRASING_CALLS calls or more gives a suggestion: its most frequent sentence, as the YAML
    line to add under the item's `phrases:`. Phrases the rubric already has are left out.
    """
    groups: list[_Group] = []
    for call_id, s_item, confirmed_status in found:
        if s_item.get("status") != "missed" or confirmed_status != "met":
            continue
        closest = s_item.get("closest")
        text = str(closest.get("text", "")).strip() if isinstance(closest, dict) else ""
        words = normalise(text)
        if not words:
            continue
        for group in groups:
            if words == group.words or word_overlap(words, group.words) >= WORD_OVERLAP:
                group.add(call_id, words, text)
                break
        else:
            group = _Group(words)
            group.add(call_id, words, text)
            groups.append(group)
    existing = {normalise(p) for p in known.phrases} if known is not None else set()
    suggestions = []
    for group in groups:
        calls = tuple(dict.fromkeys(call_id for call_id, _, _ in group.members))
        if len(calls) < MIN_PHRASING_CALLS:
            continue
        words, text = group.chosen()
        if words in existing:
            continue
        suggestions.append(
            Suggestion(
                "phrasing",
                item.item_id,
                item.rubric,
                f"add a phrasing managers keep confirming under {item.item_id}'s `phrases:` "
                f"in the {item.rubric} rubric",
                f"managers confirmed {item.item_id} met on {len(calls)} calls where the tool's "
                f'nearest sentence was "{text}" or alike (the tool said missed)',
                phrase=text,
                yaml_line=yaml_phrase_line(text),
                calls=calls,
            )
        )
    return suggestions


def normalise(sentence: str) -> str:
    """Lowercase, punctuation stripped, spaces collapsed.

    >>> normalise("  Can we pencil in a walk-through, on Thursday?")
    'can we pencil in a walkthrough on thursday'
    """
    return " ".join(re.sub(r"[^\w\s]", "", sentence.lower()).split())


def word_overlap(a: str, b: str) -> float:
    """The words two normalised sentences share, over the words of the longer one (so each
    sentence shares at least that share of its own words).

    >>> word_overlap("can we book time", "can we book a demo")
    0.6
    """
    first, second = set(a.split()), set(b.split())
    longest = max(len(first), len(second))
    return len(first & second) / longest if longest else 0.0


def yaml_phrase_line(sentence: str) -> str:
    """The line to add under an item's `phrases:` (a double-quoted YAML string).

    >>> yaml_phrase_line('Say "yes"')
    '      - "Say \\\\"yes\\\\""'
    """
    escaped = sentence.replace("\\", "\\\\").replace('"', '\\"')
    return f'{PHRASE_INDENT}- "{escaped}"'


# -- helpers -------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Sentences taken for one: the first one's words, and every (call, words, text) in it."""

    words: str
    members: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, call_id: str, words: str, text: str) -> None:
        self.members.append((call_id, words, text))

    def chosen(self) -> tuple[str, str]:
        """The sentence said on most calls (the first met on a tie): (words, text as said)."""
        calls: dict[str, set[str]] = {}
        text: dict[str, str] = {}
        for call_id, words, said in self.members:
            calls.setdefault(words, set()).add(call_id)
            text.setdefault(words, said)
        best = max(calls, key=lambda w: len(calls[w]))  # max keeps the first of equals
        return best, text[best]


def _items(grade: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Item id -> (phase id, item dict), in the grade's order."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for phase in grade.get("phases", []) or []:
        for item in phase.get("items", []) or []:
            if isinstance(item, dict) and "id" in item:
                found[str(item["id"])] = (str(phase.get("id", "")), item)
    return found
