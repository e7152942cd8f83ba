"""The contract every reader of outside input keeps, checked on generated inputs.

A reader (transcripts, sidecars, manifests, rubrics, audio headers) given anything returns a
result or raises one of the project's own errors (`AnalyzerError`), with a message on one line
(a rubric's or a golden set's: one line per problem), within `TIME_BOUND` seconds: never a
traceback, never a hang.

The suite runs each property test on `EXAMPLES` inputs (a fixed seed, fast); `make fuzz` sets
`ANALYZER_FUZZ=1` for 10,000 random ones per target. Every input tried is tallied per target and
printed at the end of the run (`conftest.pytest_terminal_summary`).
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from analyzer.errors import AnalyzerError, GoldenSetError, RubricError

FUZZING = os.environ.get("ANALYZER_FUZZ") == "1"
EXAMPLES = 10_000 if FUZZING else 120  # inputs per target
TIME_BOUND = 5.0  # seconds one input may take

# For `@fuzz_settings` on each property test: no deadline per example (the time bound below is
# the contract), a fixed seed in the suite so that it is repeatable, random ones in `make fuzz`.
fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not FUZZING,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OUTCOMES = ("result", "own error", "traceback", "hang")
TALLY: dict[str, Counter[str]] = {}


class Hang(Exception):
    """An input ran past twice the time bound and was stopped."""


def _stop(signum: int, frame: Any) -> None:
    raise Hang


def keeps_contract(target: str, call: Callable[[], object]) -> object:
    """Run `call` (one input through `target`) and fail unless it keeps the contract."""
    tally = TALLY.setdefault(target, Counter())
    previous = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, TIME_BOUND * 2)
    started = time.perf_counter()
    try:
        result = call()
    except Hang:
        tally["hang"] += 1
        raise AssertionError(f"{target}: stopped after {TIME_BOUND * 2:.0f} s") from None
    except AnalyzerError as error:
        multi_line = isinstance(error, RubricError | GoldenSetError)
        if not multi_line and "\n" in str(error):
            tally["traceback"] += 1
            raise AssertionError(f"{target}: a message over several lines: {error!r}") from None
        outcome, result = "own error", error
    except Exception:
        tally["traceback"] += 1
        raise
    else:
        outcome = "result"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    took = time.perf_counter() - started
    if took > TIME_BOUND:
        tally["hang"] += 1
        raise AssertionError(f"{target}: took {took:.1f} s (bound {TIME_BOUND:.0f} s)")
    tally[outcome] += 1
    return result


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, max_edits: int = 8) -> bytes:
    """`seed` with a few random edits: bytes replaced, inserted, deleted, a span repeated or
    moved, or the end cut off; what real files suffer (and attackers try) on the way in."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, max_edits))):
        where = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "repeat", "move", "cut"]))
        if kind == "replace" and where < len(data):
            data[where] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 32))]
        elif kind == "repeat":
            span = bytes(data[where : where + draw(st.integers(1, 64))])
            data[where:where] = span * draw(st.integers(1, 200))
        elif kind == "move" and data:
            span = bytes(data[where : where + draw(st.integers(1, 64))])
            del data[where : where + len(span)]
            to = draw(st.integers(0, len(data)))
            data[to:to] = span
        elif kind == "cut":
            del data[where:]
    return bytes(data)


def summary_lines() -> list[str]:
    """The tally as a table: inputs tried per target and how each ended (failures' goal: 0)."""
    if not TALLY:
        return []
    width = max(len(target) for target in TALLY)
    head = f"{'target':<{width}}  {'inputs':>7}  " + "  ".join(f"{o:>9}" for o in OUTCOMES)
    lines = [head]
    for target in sorted(TALLY):
        tally = TALLY[target]
        cells = "  ".join(f"{tally[o]:>9}" for o in OUTCOMES)
        lines.append(f"{target:<{width}}  {sum(tally.values()):>7}  {cells}")
    failures = sum(t["traceback"] + t["hang"] for t in TALLY.values())
    lines.append(f"failures (tracebacks + hangs): {failures}")
    return lines
