"""Connecting to the database file, the one-line errors it can raise, and the helpers every
table's code shares: rows read by column name, JSON in and out, the time stored with a row.

A connection is in autocommit mode (`isolation_level=None`): the Store opens every write
transaction itself with `BEGIN IMMEDIATE`. A read-only store opens the file by a read-only URI
that never writes anything, the folder included (`read_only_uri`).
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyzer.errors import StoreError

BUSY_TIMEOUT_MS = 5000


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection to the database file at `path` (read-only: by `read_only_uri`)."""
    if readonly:
        target, uri = read_only_uri(path), True
    else:
        target, uri = str(path), False
    return sqlite3.connect(
        target,
        uri=uri,
        isolation_level=None,  # autocommit: transactions are explicit BEGIN IMMEDIATE / COMMIT
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=False,  # the Store serialises use with its own lock
    )


def read_only_uri(path: Path) -> str:
    """The URI to read `path` without writing anything, its folder included.

    A reader of a WAL database needs its WAL index (`-shm`), which SQLite creates beside it: in
    a folder it may not write, with no `-shm` there yet, the database is opened immutable
    instead. That is safe only then: no `-shm` means no process has it open, and the `-wal`
    must be empty (immutable ignores it), else it is refused with what to do.
    """
    uri = path.absolute().as_uri() + "?mode=ro"
    if os.access(path.absolute().parent, os.W_OK) or Path(f"{path}-shm").exists():
        return uri
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"cannot read {path}: its folder is read-only and {wal.name} holds changes not yet "
            "in the database; open it once where it can be written"
        )
    return uri + "&immutable=1"


# -- errors --------------------------------------------------------------------------------------


def store_error(
    path: Path, exc: sqlite3.Error, doing: str, *, readonly: bool = False
) -> StoreError:
    """The one-line StoreError for a sqlite3 error met while `doing` something."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = str(exc)
    if primary == sqlite3.SQLITE_FULL or "database or disk is full" in message:
        return StoreError(f"disk full while {doing} in {path}")
    if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or "not a database" in message:
        return StoreError(f"{path} is not an analyzer database ({message})")
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in message:
        return StoreError(f"{path} is busy: another process kept it locked ({message})")
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or "readonly" in message:
        if readonly:
            return StoreError(f"cannot read the database at {path} ({message})")
        return StoreError(f"cannot write the database at {path}: read-only or missing folder")
    return StoreError(f"{path}: {message} (while {doing})")


def unstorable_error(path: Path, exc: UnicodeEncodeError | OverflowError, doing: str) -> StoreError:
    """The one-line StoreError for a value SQLite cannot take (a lone surrogate, a huge int)."""
    if isinstance(exc, UnicodeEncodeError):
        problem = f"text that is not valid Unicode ({exc.reason})"
    else:
        problem = f"a number too large ({exc})"
    return StoreError(storable_text(f"{problem} while {doing} in {path}"))


def storable_text(text: str) -> str:
    """`text` as SQLite can store it: what is not valid Unicode (lone surrogates, e.g. a file
    name's undecodable bytes) as backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# -- rows ----------------------------------------------------------------------------------------


def named_cursor(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor of its own on `conn` whose rows are `sqlite3.Row`, read by column name (the
    connection's own rows stay plain tuples for every other reader)."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor


def query(conn: sqlite3.Connection, sql: str, params: Any = ()) -> sqlite3.Cursor:
    """`sql` run on a `named_cursor`."""
    return named_cursor(conn).execute(sql, params)


def dict_rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Every row of `sql` as a dict of column name to value, in column order."""
    return [dict(row) for row in query(conn, sql, params)]


# -- values --------------------------------------------------------------------------------------


def now(timespec: str = "microseconds") -> str:
    """The time now in UTC, ISO 8601: to the microsecond when a row was stored (calls, grades,
    runs, migrations), to the second for what a person did (`now_seconds`)."""
    return datetime.now(UTC).isoformat(timespec=timespec)


def now_seconds() -> str:
    """The time now in UTC to the second: when a person confirmed, disputed, signed in."""
    return now("seconds")


def dumps(value: Any) -> str:
    """`value` as the compact JSON stored in a `*_json` column (what JSON cannot hold: as text)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | None, default: Any) -> Any:
    """A stored JSON value; `default` when it is missing or unreadable."""
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def json_object(text: str | None) -> dict[str, Any] | None:
    """A stored JSON object (a grade, a transcript, metadata); None when it is missing,
    unreadable or not an object."""
    value = loads(text, None)
    return value if isinstance(value, dict) else None
