"""`analyzer export`: one row per call for coaching, as CSV, JSON Lines or an Excel sheet.

`export_rows` reads the `reviews` table (one row per call, kept by `store.refresh_review`) and the
grade JSONs it points to. The confirmed grade, when there is one, is the grade that counts: it
decides pass/fail, the items missed, the weak moments and the comments; otherwise the suggested
grade does. Each row carries the export flags that fired under the rules of `[export]` in
analyzer.toml (`config.ExportConfig`); `flagged_only` keeps the rows with at least one.
`forbidden_said` fires when the grade that counts has a forbidden item missed (its line was
said), and the row's `forbidden_said` column quotes what was said for each.

Writers are a registry (`get_exporter("csv" | "jsonl" | "xlsx")`), each writing whole rows
to a binary stream. `write_atomic` writes to a temporary file in the target's folder and moves it
into place with `os.replace`, so a failure leaves no partial file and an existing one untouched.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from analyzer.config import ExportConfig
from analyzer.dates import check_day
from analyzer.errors import ExportError
from analyzer.registry import Registry
from analyzer.review.rules import counting
from analyzer.store import Store, json_object
from analyzer.store.connection import named_cursor
from analyzer.transcripts.transcript import format_clock

LIST_SEPARATOR = "; "  # lists in a CSV cell or a sheet's cell
XLSX_SHEET = "calls"
XLSX_MAX_WIDTH = 60  # characters: wider columns wrap nothing, they are cut on screen


@dataclass(frozen=True)
class ExportRow:
    """One call as a coach reads it. Lists stay lists here; CSV and the sheet join them."""

    call_id: str
    rep: str | None
    call_date: str | None  # YYYY-MM-DD
    rubric: str | None
    rubric_version: str | None
    suggested_grade: float | None
    confirmed_grade: float | None
    grade: float | None  # the one that counts: confirmed when confirmed, else suggested
    passed: bool | None  # the verdict of the grade that counts
    status: str  # unreviewed | disputed | confirmed
    flags: list[str] = field(default_factory=list)  # the export flags that fired
    missed_items: list[str] = field(default_factory=list)  # phase/item_id
    # the forbidden items among them, whose line was said: phase/item_id: "the sentence said"
    forbidden_said: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)  # the manager's, then open disputes
    weak_moments: list[str] = field(default_factory=list)  # mm:ss where missed items show, in order

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = tuple(f.name for f in fields(ExportRow))


# -- reading -------------------------------------------------------------------------------------


def _check_dates(since: str | None, until: str | None) -> None:
    """Both dates valid (`analyzer.dates`) and `since` not after `until`; else ExportError."""
    if since is not None:
        check_day("since", since, ExportError)
    if until is not None:
        check_day("until", until, ExportError)
    if since is not None and until is not None and since > until:
        raise ExportError(f"since {since} is after until {until}")


def export_rows(
    store: Store,
    rules: ExportConfig,
    *,
    flagged_only: bool = True,
    since: str | None = None,
    until: str | None = None,
    rep: str | None = None,
) -> list[ExportRow]:
    """The calls matching rep (case ignored) and since/until (YYYY-MM-DD, inclusive, on the
    call's date), oldest first, with the export flags that `rules` fire; only the flagged ones
    when `flagged_only`.

    Raises ExportError when the database has no calls, or when no call matches the filters
    (a flagged export with nothing flagged is an empty list, not an error).
    """
    _check_dates(since, until)
    where: list[str] = []
    params: list[Any] = []
    if rep is not None:
        where.append("r.rep_key = ?")
        params.append(rep.casefold())
    if since is not None:
        where.append("r.call_date >= ?")
        params.append(since)
    if until is not None:
        where.append("r.call_date <= ?")
        params.append(until)
    sql = (
        "SELECT r.call_id, r.rep, r.call_date, r.rubric, r.rubric_version, r.suggested_grade, "
        "r.confirmed_grade, r.status, s.grade_json AS suggested_json, "
        "c.grade_json AS confirmed_json FROM reviews r "
        "LEFT JOIN grades s ON s.id = r.suggested_id LEFT JOIN grades c ON c.id = r.confirmed_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY r.call_date IS NULL, r.call_date, r.call_id"
    rows: list[ExportRow] = []
    matched = 0
    with store.reading("reading calls to export") as conn, _snapshot(conn):
        cursor = named_cursor(conn)
        if cursor.execute("SELECT 1 FROM calls LIMIT 1").fetchone() is None:
            raise ExportError(
                f"{store.path}: no calls in the database (run `analyzer batch` first)"
            )
        disputes: dict[str, list[str]] = {}
        for d in cursor.execute(
            "SELECT call_id, item_id, raised_by, comment FROM disputes WHERE status = 'open' "
            "ORDER BY id"
        ).fetchall():
            disputes.setdefault(d["call_id"], []).append(
                f"{d['raised_by']} disputes {d['item_id']}: {d['comment']}"
            )
        for record in cursor.execute(sql, params):  # row by row: grade JSONs are not all held
            matched += 1
            row = _row(record, disputes.get(record["call_id"], []), rules)
            if row.flagged or not flagged_only:
                rows.append(row)
    if not matched:
        raise ExportError(f"no calls match: {describe_filters(rep, since, until)}")
    return rows


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so the disputes and the calls read are of the same moment."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def describe_filters(rep: str | None, since: str | None, until: str | None) -> str:
    """The filters as a person wrote them: `rep Alex, 2026-11-01..2026-11-30`."""
    parts = []
    if rep is not None:
        parts.append(f"rep {rep}")
    if since is not None or until is not None:
        parts.append(f"{since or ''}..{until or ''}")
    return ", ".join(parts) or "no filters"


def _row(record: sqlite3.Row, disputes: list[str], rules: ExportConfig) -> ExportRow:
    """One call's ExportRow from its `reviews` row (with both grade JSONs), read by name."""
    suggested_grade, confirmed_grade = record["suggested_grade"], record["confirmed_grade"]
    status, version = record["status"], record["rubric_version"]
    suggested = json_object(record["suggested_json"])
    confirmed = json_object(record["confirmed_json"])
    # The grade that counts (`review.rules`); an empty confirmed JSON counts as none, as before.
    counts = counting(suggested, confirmed or None) or {}
    grade = counting(suggested_grade, confirmed_grade)
    passed = counts.get("passed")
    missed: list[str] = []
    said: list[str] = []
    moments: set[float] = set()
    critical_missed = False
    for phase in counts.get("phases", []):
        span = phase.get("span") or {}
        for item in phase.get("items", []):
            if item.get("status") != "missed":
                continue
            missed.append(f"{phase['id']}/{item['id']}")
            critical_missed = critical_missed or bool(item.get("critical"))
            if item.get("forbidden"):
                said.append(_forbidden_said(phase["id"], item))
            moment = weak_moment(item, span)
            if moment is not None:
                moments.add(moment)
    comments = [*_manager_comments(confirmed), *disputes]
    flags: list[str] = []
    pass_mark = counts.get("pass_mark")
    if rules.below_pass_mark and None not in (grade, pass_mark) and grade < float(pass_mark):
        flags.append("below_pass_mark")
    if rules.critical_missed and critical_missed:
        flags.append("critical_missed")
    if rules.forbidden_said and said:
        flags.append("forbidden_said")
    if rules.phase_below_percent is not None:
        for phase in counts.get("phases", []):
            weight = float(phase.get("weight") or 0)
            if phase.get("status") != "scored" or weight <= 0:
                continue
            if 100.0 * float(phase.get("earned") or 0) / weight < rules.phase_below_percent:
                flags.append(f"phase_below:{phase['id']}")
    if rules.low_confidence and "low_confidence" in counts.get("flags", []):
        flags.append("low_confidence")  # a confirmed grade never carries it: a human looked
    if rules.disputed and status == "disputed":
        flags.append("disputed")
    if (
        rules.override_points is not None
        and confirmed_grade is not None
        and suggested_grade is not None
    ):
        change = round(confirmed_grade - suggested_grade, 1)
        if abs(change) >= rules.override_points:
            flags.append(f"overridden:{change:+g}")
    return ExportRow(
        call_id=record["call_id"],
        rep=record["rep"],
        call_date=record["call_date"],
        rubric=record["rubric"],
        rubric_version=None if version is None else str(version),
        suggested_grade=suggested_grade,
        confirmed_grade=confirmed_grade,
        grade=grade,
        passed=None if passed is None else bool(passed),
        status=status,
        flags=flags,
        missed_items=missed,
        forbidden_said=said,
        comments=comments,
        weak_moments=_clocks(moments),
    )


def _forbidden_said(phase_id: str, item: dict[str, Any]) -> str:
    """`phase/item: "what the rep said"` for a forbidden item whose line was said (the first
    sentence of its evidence; the id alone when a manager marked it said without one)."""
    name = f"{phase_id}/{item['id']}"
    for evidence in item.get("evidence") or []:
        if isinstance(evidence, dict) and evidence.get("text"):
            return f'{name}: "{" ".join(str(evidence["text"]).split())}"'
    return name


def weak_moment(item: dict[str, Any], span: dict[str, Any]) -> float | None:
    """Where to listen for a missed item (seconds): what was said for a forbidden one, else the
    closest thing said, else the start of its phase; None when none of them has a time."""
    candidates: list[dict[str, Any]] = []
    if item.get("forbidden"):
        candidates.extend(item.get("evidence") or [])
    if item.get("closest"):
        candidates.append(item["closest"])
    candidates.append(span)
    for candidate in candidates:
        start = candidate.get("start")
        if start is not None:
            return float(start)
    return None


def _clocks(seconds: set[float]) -> list[str]:
    """Each moment once, in the order they come in the call, as mm:ss (h:mm:ss past an hour)."""
    clocks: list[str] = []
    for value in sorted(seconds):
        clock = format_clock(value)
        if clock not in clocks:
            clocks.append(clock)
    return clocks


def _manager_comments(confirmed: dict[str, Any] | None) -> list[str]:
    if not confirmed:
        return []
    comments = []
    for phase in confirmed.get("phases", []):
        for item in phase.get("items", []):
            if item.get("comment"):
                comments.append(f"{item['id']}: {item['comment']}")
    review = confirmed.get("review") or {}
    if review.get("comment"):
        comments.append(f"{review.get('by') or 'manager'}: {review['comment']}")
    return comments


# -- writers -------------------------------------------------------------------------------------

Exporter = Callable[[list[ExportRow], BinaryIO], None]


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    return "" if value is None else value


def write_csv(rows: list[ExportRow], out: BinaryIO) -> None:
    """A header and one line per call; lists joined with "; "."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_cell(getattr(row, name)) for name in COLUMNS])
        text.flush()
    finally:
        text.detach()  # the caller owns `out`


def write_jsonl(rows: list[ExportRow], out: BinaryIO) -> None:
    """One JSON object per call per line; lists as arrays."""
    for row in rows:
        out.write((json.dumps(row.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))


def write_xlsx(rows: list[ExportRow], out: BinaryIO) -> None:
    """One sheet, "calls": a bold header row kept in view, filters, columns sized to fit."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = XLSX_SHEET
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(name) for name in COLUMNS]
    for r, row in enumerate(rows, start=2):
        for c, name in enumerate(COLUMNS, start=1):
            value = _cell(getattr(row, name))
            if name == "call_date" and value:
                value = date.fromisoformat(value)
            elif isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters Excel refuses
            cell = sheet.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, always: "=..." from a comment is not a formula
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, float):
                cell.number_format = "0.0"
            shown = value.isoformat() if isinstance(value, date) else str(value)
            widths[c - 1] = max(widths[c - 1], len(shown))
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = min(width + 2, XLSX_MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.save(out)


# The exporters by `--format` name. A plain dict that tests swap entries of (monkeypatch's
# setitem); `get_exporter` looks a name up through a Registry over it as it stands.
EXPORTERS: Registry[Exporter] = Registry(
    "format", {"csv": write_csv, "jsonl": write_jsonl, "xlsx": write_xlsx}
)
BINARY_FORMATS = ("xlsx",)  # not for a terminal: these need --out


def get_exporter(name: str) -> Exporter:
    """The exporter for `--format NAME`; ValueError "unknown format 'NAME' (choose from csv,
    jsonl, xlsx)" for an unknown one."""
    return EXPORTERS.get(name)


def render(rows: list[ExportRow], fmt: str) -> bytes:
    """The whole export in memory (for stdout: nothing is printed unless all of it was made)."""
    buffer = io.BytesIO()
    get_exporter(fmt)(rows, buffer)
    return buffer.getvalue()


def write_atomic(path: Path, rows: Iterable[ExportRow], fmt: str) -> None:
    """Write the export to `path` whole or not at all: a temporary file in the same folder,
    synced, then moved over `path`. On any failure the temporary file is removed and an
    existing `path` is left as it was. OSError becomes an ExportError naming the file."""
    exporter = get_exporter(fmt)
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder: give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"{path}: no such folder {folder}")
    temp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # O_EXCL: never someone else's file; mode 0o666 less the umask, like any new file.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as out:
            exporter(list(rows), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise ExportError(f"{path}: cannot write: {e.strerror or e}; nothing was written") from e
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
