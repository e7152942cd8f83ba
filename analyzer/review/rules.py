"""The review rules every reader of grades shares: which grade counts.

A call has a suggested grade (the engine's) and, once a manager has confirmed it, a confirmed
grade for the same rubric version. Everything a person reads after that (the queue, exports,
coaching packets, reports, the API) shows the confirmed one; before, the suggestion.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

# The `grades` row that counts for a call, over `reviews r` joined to its suggested grade
# `sg` and a confirmed grade `cg` of the same rubric version (LEFT JOIN: may be NULL).
COUNTING_GRADE_ID_SQL = "coalesce(cg.id, sg.id)"


def counting(suggested: T, confirmed: T | None) -> T:
    """The confirmed value (grade, verdict, grade JSON) when there is one, else the suggested."""
    return confirmed if confirmed is not None else suggested
