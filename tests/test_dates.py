"""Dates: one rule for every command and page."""

from datetime import date

import pytest

from analyzer.dates import check_day, check_range, day_of, is_day, parse_day
from analyzer.errors import ExportError


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-11-23", True),
        ("2026-02-29", False),  # not a leap year
        ("2026-11-5", False),
        ("23/11/2026", False),
        (" 2026-11-23", False),
        ("2026-11-23T10:00", False),
    ],
)
def test_a_day_is_written_yyyy_mm_dd(text, ok):
    assert is_day(text) is ok


def test_a_bad_day_names_the_option_in_the_callers_error():
    with pytest.raises(ExportError) as e:
        check_day("since", "yesterday", ExportError)
    assert str(e.value) == "since must be a date as YYYY-MM-DD, not 'yesterday'"
    assert check_day("since", "2026-11-23") == "2026-11-23"


def test_a_range_is_checked_in_order():
    assert check_range("2026-11-01", date(2026, 11, 30)) == ("2026-11-01", "2026-11-30")
    assert check_range(None, None) == (None, None)
    with pytest.raises(ValueError) as e:
        check_range("2026-12-01", "2026-11-01")
    assert str(e.value) == "since 2026-12-01 is after until 2026-11-01: no day is in that range"
    with pytest.raises(ValueError, match="until must be a date"):
        check_range("2026-12-01", "soon")


def test_metadata_days_may_lead_a_timestamp():
    assert parse_day("2026-11-23T09:30:00+01:00") == date(2026, 11, 23)
    assert parse_day(" 2026-11-23 ") == date(2026, 11, 23)
    with pytest.raises(ValueError):
        parse_day("Monday")
    assert day_of("2026-11-23 09:30:00") == "2026-11-23"
    assert day_of("") is None and day_of("soon") is None
