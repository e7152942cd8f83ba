"""Dates as the project reads and writes them: one rule for every command and page.

A day is written YYYY-MM-DD (ISO 8601, four-digit year, zero-padded). Options and filters
(`--since`, `--until`, the queue's dates) take exactly that; metadata from files (sidecars,
`calls.csv`, file names, transcript headers) may also carry a time, whose day is taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

DAY_FORMAT = "%Y-%m-%d"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_day(text: str) -> bool:
    """True when `text` is a real date written YYYY-MM-DD, nothing around it."""
    if not _DAY.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def day_problem(name: str, value: object) -> str:
    """The one message for a date that is not one."""
    return f"{name} must be a date as YYYY-MM-DD, not {value!r}"


def check_day(name: str, value: str, error: Callable[[str], Exception] = ValueError) -> str:
    """`value` when it is a day as YYYY-MM-DD; else `error` with the message naming `name`."""
    if not is_day(value):
        raise error(day_problem(name, value))
    return value


def check_range(
    since: str | date | None,
    until: str | date | None,
    error: Callable[[str], Exception] = ValueError,
) -> tuple[str | None, str | None]:
    """`since` and `until` as YYYY-MM-DD strings (either may be None), checked as days and in
    order; `error` names the first problem."""
    checked: list[str | None] = []
    for name, value in (("since", since), ("until", until)):
        if value is None:
            checked.append(None)
        elif isinstance(value, date):
            checked.append(value.isoformat()[:10])
        elif is_day(str(value).strip()):
            checked.append(str(value).strip())
        else:
            raise error(day_problem(name, value))
    first, last = checked
    if first and last and first > last:
        raise error(f"since {first} is after until {last}: no day is in that range")
    return first, last


def day_of(value: str | None) -> str | None:
    """The day a stored timestamp or date begins with (YYYY-MM-DD), or None when it has none."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def parse_day(text: str) -> date:
    """A day from metadata: YYYY-MM-DD, alone or leading an ISO timestamp. ValueError otherwise."""
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return datetime.fromisoformat(text).date()
