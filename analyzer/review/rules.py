"""The review rules every reader of grades shares: which grade counts, how a manager's item
statuses make a grade, and who may see a call.

A call has a suggested grade (the engine's) and, once a manager has confirmed it, a confirmed
grade for the same rubric version. Everything a person reads after that (the queue, exports,
coaching packets, reports, the API) shows the confirmed one; before, the suggestion. The
confirmed grade is the suggestion with the manager's statuses, recomputed by the rubric's rules
(`recompute_grade`). These are rules only: nothing here reads or writes the database.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, TypeVar

from analyzer.grading.rubric import PARTIAL_CREDIT

if TYPE_CHECKING:
    from analyzer.review.users import User

T = TypeVar("T")

# The `grades` row that counts for a call, over `reviews r` joined to its suggested grade
# `sg` and a confirmed grade `cg` of the same rubric version (LEFT JOIN: may be NULL).
COUNTING_GRADE_ID_SQL = "coalesce(cg.id, sg.id)"
# Facts about the call that stay true after a human review; low_confidence does not.
KEPT_FLAGS = ("roles_inferred", "too_short", "no_speech", "single_speaker")
# The statuses a sentence can earn: only these take the manager's choice of evidence.
EVIDENCE_STATUSES = ("met", "partial")
MANAGER_METHOD = "manager"  # the `method` of evidence a manager chose


def counting(suggested: T, confirmed: T | None) -> T:
    """The confirmed value (grade, verdict, grade JSON) when there is one, else the suggested."""
    return confirmed if confirmed is not None else suggested


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


def may_see(call_rep: str | None, user: User) -> bool:
    """Managers and admins see every call; a rep only calls stored under their rep name."""
    if user.reviews:
        return True
    return bool(call_rep and user.rep_name and call_rep.casefold() == user.rep_name.casefold())
