"""A manager confirms or overrides a suggested grade; a rep disputes an item.

The suggested grade is never changed. Confirming stores a second grade (kind 'confirmed') for the
same call and rubric version, recomputed from the manager's item statuses with the rubric's rules
(`recompute_grade`), and writes who changed what, when, from what to what, into the audit log.
Every write checks the call's review `version` (from the `reviews` row the page was built from)
inside its transaction: a second manager saving over the first gets a ConflictError, not a silent
overwrite.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyzer.errors import ConflictError, ForbiddenError, NotFoundError, ReviewError
from analyzer.grading.rubric import ITEM_STATUSES, PARTIAL_CREDIT
from analyzer.review.users import User
from analyzer.store import Store, json_object, refresh_review

# Facts about the call that stay true after a human review; low_confidence does not.
KEPT_FLAGS = ("roles_inferred", "too_short", "no_speech", "single_speaker")
MAX_COMMENT = 2000  # characters
# The statuses a sentence can earn: only these take the manager's choice of evidence.
EVIDENCE_STATUSES = ("met", "partial")
MANAGER_METHOD = "manager"  # the `method` of evidence a manager chose


@dataclass(frozen=True)
class ItemDecision:
    """A manager's verdict on one item: its status, an optional comment, and optionally the
    sentence that earned it (`evidence_turn`: an index into the stored transcript's `turns`;
    only for met or partial). Without `evidence_turn` the item keeps the evidence it had."""

    item_id: str
    status: str  # met | partial | missed | na
    comment: str = ""
    evidence_turn: int | None = None


@dataclass(frozen=True)
class ConfirmedCall:
    """A call as a manager confirmed it, for learning from: the stored transcript (project JSON),
    every item's confirmed status (overrides included), and for each item whose sentence the
    manager chose, that sentence's turn indexes (items without one are not in it)."""

    call_id: str
    rep: str | None
    transcript: dict[str, Any]
    statuses: dict[str, str]
    evidence_turns: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class Saved:
    """What a review or dispute stored: the confirmed grade or dispute id, and the call's new
    review version (send it with the next change)."""

    version: int
    confirmed: dict[str, Any] | None = None
    dispute_id: int | None = None


@dataclass
class CallView:
    """Everything the call page and `GET /api/calls/{id}` show."""

    call: dict[str, Any]
    transcript: dict[str, Any] | None
    suggested: dict[str, Any] | None
    confirmed: dict[str, Any] | None  # for the suggested grade's rubric version
    review: dict[str, Any]  # status, version, reviewed_by, reviewed_at, open_disputes
    disputes: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    has_audio: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "review": self.review,
            "suggested": self.suggested,
            "confirmed": self.confirmed,
            "disputes": self.disputes,
            "audit": self.audit,
            "has_audio": self.has_audio,
            "transcript": self.transcript,
        }


# -- the rules -----------------------------------------------------------------------------------


def recompute_grade(
    suggested: dict[str, Any], statuses: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    """The grade JSON with item statuses replaced and the grade recomputed by the rubric's rules.

    `statuses` maps item id to (status, comment); items not in it keep their suggested status.
    Rules: met earns the item's points, partial PARTIAL_CREDIT of them (or what the engine gave
    when the status is unchanged), missed nothing, and na takes the item out of its phase, whose
    earned points are rescaled to its weight; a phase with every item na is na. The grade is the
    earned points over the weights of the phases scored, out of 100. A missed critical item
    fails the call whatever the total; a missed forbidden item (its line was said) keeps the
    call flagged `forbidden_said`, without failing it.
    """
    grade = copy.deepcopy(suggested)
    scored_weight = earned_total = 0.0
    critical_missed = forbidden_said = False
    for phase in grade.get("phases", []):
        applicable_points = earned_points = 0.0
        for item in phase.get("items", []):
            before = item["status"]
            status, comment = statuses.get(item["id"], (before, item.get("comment", "")))
            item["suggested_status"] = item.get("suggested_status", before)
            item["status"] = status
            item["comment"] = comment
            item["overridden"] = status != item["suggested_status"]
            points = float(item["points"])
            if status != before or status == "na":
                item["earned"] = {"met": points, "partial": points * PARTIAL_CREDIT}.get(
                    status, 0.0
                )
            if status != "na":
                applicable_points += points
                earned_points += float(item["earned"])
            if status == "missed" and item.get("critical"):
                critical_missed = True
            if status == "missed" and item.get("forbidden"):
                forbidden_said = True  # the manager agrees the line was said (or found it)
        weight = float(phase["weight"])
        if applicable_points > 0:
            phase["status"] = "scored"
            phase["earned"] = round(weight * earned_points / applicable_points, 2)
            scored_weight += weight
            earned_total += phase["earned"]
        else:
            phase["status"], phase["earned"] = "na", 0.0
    value = round(100.0 * earned_total / scored_weight, 1) if scored_weight else 0.0
    pass_mark = float(grade.get("pass_mark", 70))
    flags = [f for f in grade.get("flags", []) if f in KEPT_FLAGS]
    if value < pass_mark:
        flags.insert(0, "below_pass_mark")
    if critical_missed:
        flags.insert(1 if "below_pass_mark" in flags else 0, "critical_missed")
    if forbidden_said:  # after below_pass_mark and critical_missed, as the engine orders them
        flags.insert(
            sum(f in flags for f in ("below_pass_mark", "critical_missed")), "forbidden_said"
        )
    grade["grade"] = value
    grade["passed"] = value >= pass_mark and not critical_missed and "no_speech" not in flags
    grade["flags"] = flags
    return grade


def item_statuses(grade: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Item id -> the item's dict (with its phase id under `phase`), in rubric order."""
    items: dict[str, dict[str, Any]] = {}
    for phase in grade.get("phases", []):
        for item in phase.get("items", []):
            items[item["id"]] = {**item, "phase": phase["id"]}
    return items


def manager_turns(item: dict[str, Any]) -> tuple[int, ...]:
    """The turns of an item's evidence that a manager chose (method "manager"), in order."""
    return tuple(
        e["turn"]
        for e in item.get("evidence") or []
        if isinstance(e, dict)
        and e.get("method") == MANAGER_METHOD
        and isinstance(e.get("turn"), int)
        and not isinstance(e.get("turn"), bool)
    )


# -- reading -------------------------------------------------------------------------------------


def call_view(store: Store, call_id: str, user: User) -> CallView:
    """The call with its grades, disputes and audit trail, if `user` may see it."""
    with store.reading(f"reading call {call_id}") as conn:
        call = _call_row(conn, call_id)
        _check_access(call, user)
        review = _review_row(conn, call_id)
        suggested = _grade_json(conn, review.get("suggested_id"))
        confirmed = _grade_json(conn, review.get("confirmed_id"))
        row = conn.execute(
            "SELECT transcript_json FROM transcripts WHERE call_id = ?", (call_id,)
        ).fetchone()
        disputes = _rows(
            conn,
            "SELECT id, item_id, raised_by, comment, raised_at, status, resolved_by, "
            "resolved_at, resolution FROM disputes WHERE call_id = ? ORDER BY id",
            (call_id,),
        )
        audit = _rows(
            conn,
            "SELECT at, user_name, action, item_id, old_value, new_value, comment "
            "FROM audit_log WHERE call_id = ? ORDER BY id",
            (call_id,),
        )
    call["metadata"] = json_object(call.pop("metadata_json", None)) or {}
    has_audio = call.get("audio_path") is not None
    for private in ("audio_path", "source_path", "transcript_path", "content_hash"):
        call.pop(private, None)  # file locations stay on the server
    public_review = {k: v for k, v in review.items() if not k.endswith("_id")}
    transcript = json_object(row[0]) if row else None
    if transcript:  # where the files are on the server is nobody's business on the page
        transcript.pop("audio", None)
        source = transcript.get("source")
        if isinstance(source, dict):
            for private in ("path", "content_hash"):
                source.pop(private, None)
    return CallView(
        call=call,
        transcript=transcript,
        suggested=suggested,
        confirmed=confirmed,
        review=public_review,
        disputes=disputes,
        audit=audit,
        has_audio=has_audio,
    )


def confirmed_examples(store: Store, rubric: str, rubric_version: str | int) -> list[ConfirmedCall]:
    """Every call with a confirmed grade for this rubric id and version (whatever version the
    call's latest suggestion has), in call id order: its confirmed statuses and the sentences
    managers chose as evidence. Calls without a stored transcript are left out."""
    version = str(rubric_version)
    with store.reading(f"reading the confirmed calls of {rubric} v{version}") as conn:
        found = _rows(
            conn,
            "SELECT g.call_id AS call_id, c.rep AS rep, g.grade_json AS grade_json, "
            "t.transcript_json AS transcript_json FROM grades AS g "
            "JOIN calls AS c ON c.call_id = g.call_id "
            "JOIN transcripts AS t ON t.call_id = g.call_id "
            "WHERE g.kind = 'confirmed' AND g.rubric = ? AND g.rubric_version = ? "
            "ORDER BY g.call_id",
            (rubric, version),
        )
    examples: list[ConfirmedCall] = []
    for row in found:
        grade = json_object(row["grade_json"])
        transcript = json_object(row["transcript_json"])
        if grade is None or transcript is None:  # unreadable: nothing to learn from
            continue
        items = item_statuses(grade)
        examples.append(
            ConfirmedCall(
                call_id=row["call_id"],
                rep=row["rep"],
                transcript=transcript,
                statuses={item_id: str(item["status"]) for item_id, item in items.items()},
                evidence_turns={
                    item_id: turns
                    for item_id, item in items.items()
                    if (turns := manager_turns(item))
                },
            )
        )
    return examples


def audio_file(store: Store, call_id: str, user: User) -> Path:
    """The recording registered for this call, if `user` may hear it.

    Only the path stored with the call is ever served. A relative path is taken from the
    database's folder, then from the working folder (where `analyzer batch` ran).
    """
    with store.reading(f"reading call {call_id}") as conn:
        call = _call_row(conn, call_id)
    _check_access(call, user)
    stored = call.get("audio_path")
    if not stored:
        raise NotFoundError(f"call {call_id} has no recording")
    path = Path(stored)
    candidates = [path] if path.is_absolute() else [store.path.parent / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"the recording of call {call_id} is missing: {stored}")


# -- writing -------------------------------------------------------------------------------------


def confirm_call(
    store: Store,
    call_id: str,
    user: User,
    decisions: list[ItemDecision],
    version: int,
    comment: str = "",
) -> Saved:
    """Store the confirmed grade from `decisions` (other items keep their last confirmed, else
    suggested, status); resolve the call's open disputes; log every change. Returns the
    confirmed grade JSON and the new version. Raises ForbiddenError, NotFoundError, ReviewError
    or ConflictError.

    A decision's `evidence_turn` replaces the item's evidence with that turn of the stored
    transcript (method "manager", `evidence_by` the user). The sentence a manager chose stays
    with the item through later confirmations while it is met or partial, and is dropped when
    the item is set to missed or na (the suggestion's evidence shows again)."""
    if not user.reviews:
        raise ForbiddenError("only managers and admins may confirm grades")
    _check_comment("comment", comment)
    with store.writing(f"confirming call {call_id}") as conn:
        _call_row(conn, call_id)
        review = _review_row(conn, call_id)
        _check_version(conn, call_id, review, version)
        suggested = _grade_json(conn, review.get("suggested_id"))
        if suggested is None:
            raise ReviewError("call_id", f"call {call_id} has no suggested grade to confirm")
        previous = _grade_json(conn, review.get("confirmed_id"))
        baseline = item_statuses(previous or suggested)
        statuses = {k: (v["status"], v.get("comment", "")) for k, v in baseline.items()}
        seen: set[str] = set()
        chosen: dict[str, int] = {}  # item id -> the turn a manager chose as its evidence
        turns: list[Any] | None = None  # the stored transcript's, read when a decision needs it
        for n, decision in enumerate(decisions):
            where = f"items[{n}]"
            if decision.item_id not in baseline:
                raise ReviewError(
                    f"{where}.item_id", f"no item {decision.item_id!r} in this call's rubric"
                )
            if decision.item_id in seen:
                raise ReviewError(f"{where}.item_id", f"item {decision.item_id!r} given twice")
            seen.add(decision.item_id)
            if decision.status not in ITEM_STATUSES:
                raise ReviewError(
                    f"{where}.status",
                    f"must be one of {', '.join(ITEM_STATUSES)}, not {decision.status!r}",
                )
            _check_comment(f"{where}.comment", decision.comment)
            if decision.evidence_turn is not None:
                if turns is None:
                    turns = _stored_turns(conn, call_id)
                _check_evidence(
                    f"{where}.evidence_turn", decision, baseline[decision.item_id], turns
                )
                chosen[decision.item_id] = decision.evidence_turn
            statuses[decision.item_id] = (decision.status, decision.comment.strip())
        confirmed = recompute_grade(suggested, statuses)
        evidence_changes = _apply_evidence(
            confirmed, item_statuses(previous) if previous else {}, chosen, turns or [], user
        )
        now = _now()
        confirmed["kind"] = "confirmed"
        confirmed["review"] = {
            "by": user.name,
            "at": now,
            "comment": comment.strip(),
            "suggested_grade": suggested["grade"],
        }
        log: list[tuple[str, str | None, Any, Any, str | None]] = []
        for item_id, (status, note) in statuses.items():
            before = baseline[item_id]
            if status != before["status"]:
                log.append(("override", item_id, before["status"], status, note or None))
            elif note != before.get("comment", ""):
                log.append(("comment", item_id, None, None, note or None))
            if item_id in evidence_changes:
                old_turn, new_turn = evidence_changes[item_id]
                log.append(("evidence", item_id, old_turn, new_turn, None))
        old_grade = previous["grade"] if previous else suggested["grade"]
        log.append(("confirm", None, old_grade, confirmed["grade"], comment.strip() or None))
        for dispute_id, item_id in conn.execute(
            "SELECT id, item_id FROM disputes WHERE call_id = ? AND status = 'open' ORDER BY id",
            (call_id,),
        ).fetchall():
            if item_id in statuses:
                status, note = statuses[item_id]
                resolution = f"{status}: {note}" if note else status
            else:  # re-graded since under a rubric version without the item
                version = f"{confirmed['rubric']} v{confirmed['rubric_version']}"
                status, note = None, f"item no longer in {version}"
                resolution = note
            conn.execute(
                "UPDATE disputes SET status = 'resolved', resolved_by = ?, resolved_at = ?, "
                "resolution = ? WHERE id = ?",
                (user.name, now, resolution, dispute_id),
            )
            log.append(("resolve", item_id, None, status, note or None))
        _save_confirmed(conn, call_id, confirmed, now)
        conn.executemany(
            "INSERT INTO audit_log (call_id, at, user_name, action, item_id, old_value, "
            "new_value, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(call_id, now, user.name, *_text_values(entry)) for entry in log],
        )
        return Saved(_refresh(conn, call_id), confirmed=confirmed)


def dispute_item(
    store: Store, call_id: str, user: User, item_id: str, comment: str, version: int
) -> Saved:
    """A rep disputes one item of their own call, with a comment. Returns the dispute's id."""
    if user.role != "rep":
        raise ForbiddenError("only the rep on the call may dispute an item")
    comment = comment.strip()
    if not comment:
        raise ReviewError("comment", "say why the item is wrong")
    _check_comment("comment", comment)
    with store.writing(f"disputing an item of call {call_id}") as conn:
        call = _call_row(conn, call_id)
        _check_access(call, user)
        review = _review_row(conn, call_id)
        _check_version(conn, call_id, review, version)
        grade = _grade_json(conn, review.get("confirmed_id") or review.get("suggested_id"))
        if grade is None or item_id not in item_statuses(grade):
            raise ReviewError("item_id", f"no item {item_id!r} in this call's rubric")
        taken = conn.execute(
            "SELECT 1 FROM disputes WHERE call_id = ? AND item_id = ? AND status = 'open'",
            (call_id, item_id),
        ).fetchone()
        if taken:
            raise ReviewError("item_id", f"item {item_id!r} already has an open dispute")
        now = _now()
        cursor = conn.execute(
            "INSERT INTO disputes (call_id, item_id, raised_by, comment, raised_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (call_id, item_id, user.name, comment, now),
        )
        conn.execute(
            "INSERT INTO audit_log (call_id, at, user_name, action, item_id, comment) "
            "VALUES (?, ?, ?, 'dispute', ?, ?)",
            (call_id, now, user.name, item_id, comment),
        )
        return Saved(_refresh(conn, call_id), dispute_id=int(cursor.lastrowid or 0))


# -- helpers -------------------------------------------------------------------------------------


def may_see(call_rep: str | None, user: User) -> bool:
    """Managers and admins see every call; a rep only calls stored under their rep name."""
    if user.reviews:
        return True
    return bool(call_rep and user.rep_name and call_rep.casefold() == user.rep_name.casefold())


def _check_access(call: dict[str, Any], user: User) -> None:
    if not may_see(call.get("rep"), user):
        raise ForbiddenError(f"call {call['call_id']} belongs to another rep")


def _check_version(
    conn: sqlite3.Connection, call_id: str, review: dict[str, Any], version: int
) -> None:
    if review["version"] == version:
        return
    last = conn.execute(
        "SELECT user_name, at FROM audit_log WHERE call_id = ? ORDER BY id DESC LIMIT 1",
        (call_id,),
    ).fetchone()
    who = f" by {last[0]} at {last[1][:16].replace('T', ' ')}" if last else ""
    raise ConflictError(
        f"call {call_id} was changed{who} after you opened it (version {version}, now "
        f"{review['version']}): reload the page and review it again; nothing was saved"
    )


def _refresh(conn: sqlite3.Connection, call_id: str) -> int:
    """Rebuild the call's queue row; its new version."""
    refresh_review(conn, call_id)
    return int(
        conn.execute("SELECT version FROM reviews WHERE call_id = ?", (call_id,)).fetchone()[0]
    )


def _check_comment(where: str, comment: str) -> None:
    if len(comment) > MAX_COMMENT:
        raise ReviewError(where, f"longer than {MAX_COMMENT} characters")


def _stored_turns(conn: sqlite3.Connection, call_id: str) -> list[Any] | None:
    """The turns of the call's stored transcript; None when it has none stored (or readable)."""
    row = conn.execute(
        "SELECT transcript_json FROM transcripts WHERE call_id = ?", (call_id,)
    ).fetchone()
    transcript = json_object(row[0]) if row else None
    turns = transcript.get("turns") if transcript else None
    return turns if isinstance(turns, list) else None


def _check_evidence(
    where: str, decision: ItemDecision, item: dict[str, Any], turns: list[Any] | None
) -> None:
    turn = decision.evidence_turn
    if isinstance(turn, bool) or not isinstance(turn, int):
        raise ReviewError(where, f"must be the number of a turn of the transcript, not {turn!r}")
    if decision.status not in EVIDENCE_STATUSES:
        raise ReviewError(
            where,
            f"only an item set to met or partial takes a sentence as evidence, "
            f"not one set to {decision.status}",
        )
    if item.get("forbidden"):
        raise ReviewError(
            where, "a forbidden item is met by never saying its line: no sentence earns it"
        )
    if turns is None:
        raise ReviewError(where, "this call has no stored transcript to choose a sentence from")
    if not 0 <= turn < len(turns) or not isinstance(turns[turn], dict):
        span = f"turns 0 to {len(turns) - 1}" if turns else "it has no turns"
        raise ReviewError(where, f"no turn {turn} in this call's transcript ({span})")


def _apply_evidence(
    confirmed: dict[str, Any],
    previous: dict[str, dict[str, Any]],
    chosen: dict[str, int],
    turns: list[Any],
    user: User,
) -> dict[str, tuple[str | None, str | None]]:
    """Put the managers' sentences into the confirmed grade (built from the suggestion): the
    ones chosen now, else the earlier confirmation's while the item is met or partial. Returns
    item id -> (earlier manager turns, new ones) as audit text, for each item where they
    changed."""
    changes: dict[str, tuple[str | None, str | None]] = {}
    for phase in confirmed.get("phases", []):
        for item in phase.get("items", []):
            item_id = item["id"]
            earlier = previous.get(item_id, {})
            earlier_turns = manager_turns(earlier) if earlier.get("evidence_by") else ()
            old = ",".join(map(str, earlier_turns)) or None
            if item_id in chosen:
                turn = chosen[item_id]
                said = turns[turn]
                item["evidence"] = [
                    {
                        "turn": turn,
                        "start": said.get("start"),
                        "end": said.get("end"),
                        "speaker": said.get("speaker"),
                        "text": said.get("text"),
                        "phrase": "",
                        "score": None,
                        "method": MANAGER_METHOD,
                        "in_phase": True,
                    }
                ]
                item["evidence_by"] = user.name
                if earlier_turns != (turn,):
                    changes[item_id] = (old, str(turn))
            elif earlier_turns and item["status"] in EVIDENCE_STATUSES:
                item["evidence"] = copy.deepcopy(earlier["evidence"])
                item["evidence_by"] = earlier["evidence_by"]
            elif earlier_turns:  # set to missed or na: the sentence no longer earns it
                changes[item_id] = (old, None)
    return changes


def _call_row(conn: sqlite3.Connection, call_id: str) -> dict[str, Any]:
    cursor = conn.execute(
        "SELECT call_id, content_hash, source_path, audio_path, transcript_path, rep, call_date, "
        "started_at, customer, call_type, outcome, duration, metadata_json FROM calls "
        "WHERE call_id = ?",
        (call_id,),
    )
    row = cursor.fetchone()
    if row is None:
        raise NotFoundError(f"no call {call_id!r}")
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _review_row(conn: sqlite3.Connection, call_id: str) -> dict[str, Any]:
    cursor = conn.execute(
        "SELECT status, version, rubric, rubric_version, suggested_id, suggested_grade, "
        "suggested_passed, confirmed_id, confirmed_grade, confirmed_passed, reviewed_by, "
        "reviewed_at, open_disputes, priority FROM reviews WHERE call_id = ?",
        (call_id,),
    )
    row = cursor.fetchone()
    if row is None:  # a call stored without a grade: nothing to review yet
        return {"status": "unreviewed", "version": 0, "open_disputes": 0}
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _grade_json(conn: sqlite3.Connection, grade_id: int | None) -> dict[str, Any] | None:
    if grade_id is None:
        return None
    row = conn.execute("SELECT grade_json FROM grades WHERE id = ?", (grade_id,)).fetchone()
    return json_object(row[0]) if row else None


def _save_confirmed(
    conn: sqlite3.Connection, call_id: str, grade: dict[str, Any], now: str
) -> None:
    key = (call_id, "confirmed", grade["rubric"], str(grade["rubric_version"]))
    conn.execute(
        "INSERT INTO grades (call_id, kind, rubric, rubric_version, grade, passed, flags_json, "
        "grade_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (call_id, kind, rubric, rubric_version) DO UPDATE SET "
        "grade = excluded.grade, passed = excluded.passed, flags_json = excluded.flags_json, "
        "grade_json = excluded.grade_json, created_at = excluded.created_at",
        (*key, grade["grade"], int(grade["passed"]), _dumps(grade["flags"]), _dumps(grade), now),
    )
    grade_id = conn.execute(
        "SELECT id FROM grades WHERE call_id = ? AND kind = ? AND rubric = ? "
        "AND rubric_version = ?",
        key,
    ).fetchone()[0]
    conn.execute("DELETE FROM item_results WHERE grade_id = ?", (grade_id,))
    conn.executemany(
        "INSERT INTO item_results (grade_id, item_id, phase_id, status, points, earned, "
        "confidence, critical, forbidden) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        [
            (
                grade_id,
                item["id"],
                item["phase"],
                item["status"],
                item["points"],
                item["earned"],
                int(bool(item.get("critical"))),
                int(bool(item.get("forbidden"))),
            )
            for item in item_statuses(grade).values()
        ],
    )


def _rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _text_values(entry: tuple[str, str | None, Any, Any, str | None]) -> tuple[Any, ...]:
    action, item_id, old, new, note = entry
    return (
        action,
        item_id,
        None if old is None else str(old),
        None if new is None else str(new),
        note,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
