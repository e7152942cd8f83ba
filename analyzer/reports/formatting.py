"""Numbers and words as the reports write them: one place for the agreement reports' figures.

`evaluate` and `calibrate` print rates and kappas with two decimals, grade differences signed
with one, and say which way the tool leans; their JSON rounds the same figures. A missing
figure (None: nothing to count) is written "-" in text and stays null in JSON.
"""

from __future__ import annotations


def plural(count: int) -> str:
    """The "s" of a count's noun: "" for one, "s" for any other count.

    >>> f"3 call{plural(3)}, 1 rep{plural(1)}"
    '3 calls, 1 rep'
    """
    return "" if count == 1 else "s"


def fixed(value: float | None, digits: int = 2) -> str:
    """A rate or kappa with `digits` decimals; "-" for None.

    >>> fixed(0.5), fixed(None), fixed(3.14159, 1)
    ('0.50', '-', '3.1')
    """
    return "-" if value is None else f"{value:.{digits}f}"


def signed(value: float | None) -> str:
    """A difference in points, signed, one decimal; "-" for None.

    >>> signed(2.0), signed(-0.25), signed(None)
    ('+2.0', '-0.2', '-')
    """
    return "-" if value is None else f"{value:+.1f}"


def leaning(bias: float | None) -> str:
    """Which way the tool's grades lean from the person's, in words."""
    if not bias:
        return "no lean either way" if bias is not None else "no calls"
    return f"the tool grades {'higher' if bias > 0 else 'lower'} on average"


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A figure as the JSON carries it: rounded, None kept."""
    return None if value is None else round(value, digits)
