"""Call outcomes (won or lost): the words read as each, and `analyzer outcomes import FILE`.

`normalise_outcome` reads a word as 'won' or 'lost' (casefolded, runs of spaces, '-', '_' and
'/' taken as one space: "Closed-Won" is "closed won"). `import_outcomes(store, path)` reads a
`call_id,outcome` CSV and checks it whole: its valid rows are written in one transaction, the
rest skipped and listed (`ImportResult`); a file with nothing to import is an
`OutcomesFileError` listing its rows, one per line.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from analyzer.errors import InputError
from analyzer.reports.formatting import plural
from analyzer.store import Store
from analyzer.store.connection import named_cursor

# Outcome words, compared after casefolding and turning runs of spaces, '-', '_' and '/' into
# one space: "Closed-Won", "closed_won" and "CLOSED WON" are the same word.
WON_WORDS = frozenset({"won", "win", "closed", "closed won", "sale", "sold", "yes", "y"})
LOST_WORDS = frozenset({"lost", "loss", "closed lost", "no sale", "not sold", "no", "n"})


def normalise_outcome(value: object) -> str | None:
    """'won', 'lost', or None for an empty value; ValueError for a word that is neither."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = re.sub(r"[\s\-_/]+", " ", str(value).casefold()).strip()
    if not key:
        return None
    if key in WON_WORDS:
        return "won"
    if key in LOST_WORDS:
        return "lost"
    raise ValueError(f"unrecognised outcome {str(value).strip()!r} (use won or lost)")


def is_given(value: object) -> bool:
    """A stored outcome that says something (a word, maybe not a won or lost one)."""
    return isinstance(value, str) and bool(value.strip())


def outcome_or_none(value: object) -> str | None:
    """'won', 'lost', or None for an empty value or a word that is neither."""
    try:
        return normalise_outcome(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class SkippedRow:
    """A row of an outcomes file that was not imported, and why."""

    line: int
    call_id: str
    outcome: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class ImportResult:
    """What `import_outcomes` did: the outcomes written and the rows it skipped."""

    path: str
    rows: int  # data rows read
    written: list[tuple[str, str]]  # (call_id, won | lost), in file order
    skipped: list[SkippedRow]
    changed: int  # calls whose stored outcome was different before

    def summary(self) -> str:
        lines = [
            f"{self.path}: {len(self.written)} outcome{plural(len(self.written))} written "
            f"({self.changed} changed), {len(self.skipped)} row{plural(len(self.skipped))} skipped"
        ]
        lines.extend(f"  skipped {row}" for row in self.skipped)
        return "\n".join(lines)


class OutcomesFileError(InputError):
    """An outcomes file with nothing to import; `skipped` lists every row and why."""

    def __init__(self, path: str | Path, problem: str, skipped: Sequence[SkippedRow] = ()) -> None:
        self.skipped = list(skipped)
        super().__init__(path, problem)


MAX_LISTED = 50  # skipped rows named in an error message; ImportResult lists them all


def import_outcomes(store: Store, path: str | Path) -> ImportResult:
    """Set `calls.outcome` from a CSV with the columns `call_id` and `outcome`.

    The whole file is read and checked first. A row naming an unknown call, with an outcome that
    is not a won or lost word (see `normalise_outcome`; an empty one is not an outcome), or
    giving a call a different outcome than another row does, is skipped and listed with its
    line. The rest are written as 'won' or 'lost' in one transaction. Raises OutcomesFileError
    (nothing written) for an unreadable file, a missing column, or no valid row.
    """
    path = Path(path)
    rows = _read_outcome_rows(path)
    skipped: list[SkippedRow] = []
    given: dict[str, list[tuple[int, str, str]]] = {}  # call_id -> [(line, raw, outcome)]
    for line, call_id, raw in rows:
        if not call_id:
            skipped.append(SkippedRow(line, call_id, raw, "no call id"))
            continue
        try:
            outcome = normalise_outcome(raw)
        except ValueError as e:
            skipped.append(SkippedRow(line, call_id, raw, f"call {call_id}: {e}"))
            continue
        if outcome is None:
            skipped.append(SkippedRow(line, call_id, raw, f"call {call_id}: no outcome"))
            continue
        given.setdefault(call_id, []).append((line, raw, outcome))
    wanted: dict[str, str] = {}
    for call_id, found in given.items():
        if len({outcome for _, _, outcome in found}) > 1:
            where = ", ".join(str(line) for line, _, _ in found)
            reason = f"call {call_id} is given different outcomes (lines {where})"
            skipped.extend(SkippedRow(line, call_id, raw, reason) for line, raw, _ in found)
        else:
            wanted[call_id] = found[0][2]

    with store.writing(f"importing outcomes from {path}") as conn:
        known: dict[str, str | None] = {}
        ids = list(wanted)
        cursor = named_cursor(conn)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            cursor.execute(f"SELECT call_id, outcome FROM calls WHERE call_id IN ({marks})", chunk)
            known.update((row["call_id"], row["outcome"]) for row in cursor.fetchall())
        for call_id in wanted:
            if call_id not in known:
                reason = f"unknown call id {call_id!r}"
                skipped.extend(
                    SkippedRow(line, call_id, raw, reason) for line, raw, _ in given[call_id]
                )
        written = [(c, o) for c, o in wanted.items() if c in known]
        skipped.sort(key=lambda s: s.line)
        if not written:
            listed = "".join(f"\n  {s}" for s in skipped[:MAX_LISTED])
            more = len(skipped) - MAX_LISTED
            if more > 0:
                listed += f"\n  ... and {more} more"
            problem = (
                "no data rows; nothing written"
                if not rows
                else f"no valid row; nothing written ({len(skipped)} skipped){listed}"
            )
            raise OutcomesFileError(path, problem, skipped)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        conn.executemany(
            "UPDATE calls SET outcome = ?, updated_at = ? WHERE call_id = ?",
            [(outcome, now, call_id) for call_id, outcome in written],
        )
    changed = sum(1 for call_id, outcome in written if known[call_id] != outcome)
    return ImportResult(str(path), len(rows), written, skipped, changed)


def _read_outcome_rows(path: Path) -> list[tuple[int, str, str]]:
    """(line, call_id, outcome) of every data row; OutcomesFileError for a file that cannot be
    read as a call_id,outcome CSV."""
    if path.is_dir():
        raise OutcomesFileError(path, "is a folder, not a CSV file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise OutcomesFileError(path, "empty file (expected a header: call_id,outcome)")
            names = [h.strip().casefold() for h in header]
            missing = [c for c in ("call_id", "outcome") if c not in names]
            if missing:
                raise OutcomesFileError(
                    path,
                    f"missing column{plural(len(missing))} {', '.join(missing)} "
                    f"(the header must name call_id and outcome; found: {', '.join(header)})",
                )
            id_at, outcome_at = names.index("call_id"), names.index("outcome")
            rows = []
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                cells = values + [""] * (len(names) - len(values))
                rows.append((reader.line_num, cells[id_at].strip(), cells[outcome_at].strip()))
    except FileNotFoundError:
        raise OutcomesFileError(path, "no such file") from None
    except UnicodeDecodeError:
        raise OutcomesFileError(path, "not a UTF-8 text file") from None
    except csv.Error as e:
        raise OutcomesFileError(path, f"not a valid CSV file ({e})") from None
    except OSError as e:
        raise OutcomesFileError(path, f"cannot read the file ({e.strerror or e})") from None
    return rows
