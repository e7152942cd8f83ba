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
import sqlite3
from dataclasses import dataclass
from typing import Any

from analyzer.errors import ConflictError, ForbiddenError, ReviewError
from analyzer.grading.rubric import ITEM_STATUSES
from analyzer.review.rules import (
    EVIDENCE_STATUSES,
    MANAGER_METHOD,
    counting,
    item_statuses,
    manager_turns,
    recompute_grade,
)
from analyzer.review.users import User
from analyzer.review.views import check_access, read_call
from analyzer.store import Store, refresh_review
from analyzer.store.calls import call_transcript, grade_by_id, replace_item_results, upsert_grade
from analyzer.store.connection import dumps, query
from analyzer.store.connection import now_seconds as _now  # by this name: bench_web pins it
from analyzer.store.reviews import review_row, review_version

MAX_COMMENT = 2000  # characters


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
class Saved:
    """What a review or dispute stored: the confirmed grade or dispute id, and the call's new
    review version (send it with the next change)."""

    version: int
    confirmed: dict[str, Any] | None = None
    dispute_id: int | None = None


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
        read_call(conn, call_id)
        review = review_row(conn, call_id)
        _check_version(conn, call_id, review, version)
        suggested = grade_by_id(conn, review.get("suggested_id"))
        if suggested is None:
            raise ReviewError("call_id", f"call {call_id} has no suggested grade to confirm")
        previous = grade_by_id(conn, review.get("confirmed_id"))
        baseline = item_statuses(counting(suggested, previous))
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
        old_grade = counting(suggested, previous)["grade"]
        log.append(("confirm", None, old_grade, confirmed["grade"], comment.strip() or None))
        open_disputes = query(
            conn,
            "SELECT id, item_id FROM disputes WHERE call_id = ? AND status = 'open' ORDER BY id",
            (call_id,),
        ).fetchall()
        for dispute in open_disputes:
            item_id = dispute["item_id"]
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
                (user.name, now, resolution, dispute["id"]),
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
        call = read_call(conn, call_id)
        check_access(call, user)
        review = review_row(conn, call_id)
        _check_version(conn, call_id, review, version)
        grade = grade_by_id(conn, counting(review.get("suggested_id"), review.get("confirmed_id")))
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


def _check_version(
    conn: sqlite3.Connection, call_id: str, review: dict[str, Any], version: int
) -> None:
    if review["version"] == version:
        return
    last = query(
        conn,
        "SELECT user_name, at FROM audit_log WHERE call_id = ? ORDER BY id DESC LIMIT 1",
        (call_id,),
    ).fetchone()
    who = f" by {last['user_name']} at {last['at'][:16].replace('T', ' ')}" if last else ""
    raise ConflictError(
        f"call {call_id} was changed{who} after you opened it (version {version}, now "
        f"{review['version']}): reload the page and review it again; nothing was saved"
    )


def _refresh(conn: sqlite3.Connection, call_id: str) -> int:
    """Rebuild the call's queue row; its new version."""
    refresh_review(conn, call_id)
    return review_version(conn, call_id)


def _check_comment(where: str, comment: str) -> None:
    if len(comment) > MAX_COMMENT:
        raise ReviewError(where, f"longer than {MAX_COMMENT} characters")


def _stored_turns(conn: sqlite3.Connection, call_id: str) -> list[Any] | None:
    """The turns of the call's stored transcript; None when it has none stored (or readable)."""
    transcript = call_transcript(conn, call_id)
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


def _save_confirmed(
    conn: sqlite3.Connection, call_id: str, grade: dict[str, Any], now: str
) -> None:
    grade_id = upsert_grade(
        conn,
        call_id,
        "confirmed",
        grade["rubric"],
        str(grade["rubric_version"]),
        grade=grade["grade"],
        passed=grade["passed"],
        flags_json=dumps(grade["flags"]),
        grade_json=dumps(grade),
        created_at=now,
    )
    replace_item_results(
        conn,
        grade_id,
        [
            (
                item["id"],
                item["phase"],
                item["status"],
                item["points"],
                item["earned"],
                None,  # a manager's status has no confidence
                int(bool(item.get("critical"))),
                int(bool(item.get("forbidden"))),
            )
            for item in item_statuses(grade).values()
        ],
    )


def _text_values(entry: tuple[str, str | None, Any, Any, str | None]) -> tuple[Any, ...]:
    action, item_id, old, new, note = entry
    return (
        action,
        item_id,
        None if old is None else str(old),
        None if new is None else str(new),
        note,
    )
