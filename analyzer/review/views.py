"""What a person reads of a call: the call page's view, a recording, and the confirmed calls
the grader learns from.

A rep sees only their own calls (`may_see`); where files are on the server (the recording, the
transcript's source) is never shown, only served by the path stored with the call.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.errors import ForbiddenError, NotFoundError
from analyzer.review.rules import item_statuses, manager_turns, may_see
from analyzer.review.users import User
from analyzer.store import Store, json_object
from analyzer.store.calls import call_row, call_transcript, grade_by_id
from analyzer.store.connection import dict_rows
from analyzer.store.reviews import review_row


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


def call_view(store: Store, call_id: str, user: User) -> CallView:
    """The call with its grades, disputes and audit trail, if `user` may see it."""
    with store.reading(f"reading call {call_id}") as conn:
        call = read_call(conn, call_id)
        check_access(call, user)
        review = review_row(conn, call_id)
        suggested = grade_by_id(conn, review.get("suggested_id"))
        confirmed = grade_by_id(conn, review.get("confirmed_id"))
        transcript = call_transcript(conn, call_id)
        disputes = dict_rows(
            conn,
            "SELECT id, item_id, raised_by, comment, raised_at, status, resolved_by, "
            "resolved_at, resolution FROM disputes WHERE call_id = ? ORDER BY id",
            (call_id,),
        )
        audit = dict_rows(
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
        found = dict_rows(
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
        call = read_call(conn, call_id)
    check_access(call, user)
    stored = call.get("audio_path")
    if not stored:
        raise NotFoundError(f"call {call_id} has no recording")
    path = Path(stored)
    candidates = [path] if path.is_absolute() else [store.path.parent / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"the recording of call {call_id} is missing: {stored}")


def read_call(conn: sqlite3.Connection, call_id: str) -> dict[str, Any]:
    """The stored fields of a call; NotFoundError when there is no such call."""
    call = call_row(conn, call_id)
    if call is None:
        raise NotFoundError(f"no call {call_id!r}")
    return call


def check_access(call: dict[str, Any], user: User) -> None:
    """ForbiddenError unless `user` may see the call (`may_see`)."""
    if not may_see(call.get("rep"), user):
        raise ForbiddenError(f"call {call['call_id']} belongs to another rep")
