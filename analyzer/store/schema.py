"""The database's tables and how they came to be: numbered migrations, applied in order.

Migration 1 makes calls, transcripts, suggested grades with item results and evidence, and
batch runs. Migration 2 adds the review side: users, login sessions, API tokens, confirmed
grades (rows of `grades` with kind 'confirmed'), disputes, the audit log, and `reviews`, one
row per call that the review queue reads (derived: see reviews.py). Migration 3 gives each user
the key their name is known by (`users.name_key`), unique.

The Store applies what a database lacks (store.py); the version a database has is the highest
in its `schema_migrations` table.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence

from analyzer.store.connection import query
from analyzer.store.keys import name_key
from analyzer.store.reviews import refresh_review

log = logging.getLogger("analyzer.store")

# (version, name, SQL script or a function of the connection). Append only: never edit a migration
# that has shipped. Each runs in its own transaction with foreign key enforcement off (so a
# migration may rebuild a table the SQLite way: create new, copy, drop, rename) and
# `PRAGMA foreign_key_check` before it commits.
Migration = tuple[int, str, "str | Callable[[sqlite3.Connection], None]"]
MIGRATIONS: list[Migration] = [
    (
        1,
        "calls, transcripts, grades, batch runs",
        """
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

CREATE TABLE calls (
    call_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,
    source_path TEXT,
    audio_path TEXT,
    transcript_path TEXT,
    rep TEXT,
    call_date TEXT,
    started_at TEXT,
    customer TEXT,
    call_type TEXT,
    outcome TEXT,
    duration REAL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX calls_rep ON calls(rep);
CREATE INDEX calls_call_date ON calls(call_date);

CREATE TABLE transcripts (
    call_id TEXT PRIMARY KEY REFERENCES calls(call_id) ON DELETE CASCADE,
    transcript_json TEXT NOT NULL,
    backend TEXT,
    model TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE batch_runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
    pid INTEGER,
    options_json TEXT NOT NULL DEFAULT '{}',
    found INTEGER DEFAULT 0,
    graded INTEGER DEFAULT 0,
    skipped INTEGER DEFAULT 0,
    failed INTEGER DEFAULT 0,
    seconds REAL,
    mean_grade REAL
);

CREATE TABLE batch_failures (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES batch_runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX batch_failures_run ON batch_failures(run_id);

CREATE TABLE grades (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'suggested' CHECK (kind IN ('suggested', 'confirmed')),
    rubric TEXT NOT NULL,
    rubric_version TEXT NOT NULL,
    grade REAL NOT NULL,
    passed INTEGER NOT NULL,
    flags_json TEXT NOT NULL,
    grade_json TEXT NOT NULL,
    run_id INTEGER REFERENCES batch_runs(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    UNIQUE (call_id, kind, rubric, rubric_version)
);
CREATE INDEX grades_rubric ON grades(rubric, rubric_version);
CREATE INDEX grades_run ON grades(run_id);

CREATE TABLE item_results (
    grade_id INTEGER NOT NULL REFERENCES grades(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    status TEXT NOT NULL,
    points REAL NOT NULL,
    earned REAL NOT NULL,
    confidence REAL,
    critical INTEGER NOT NULL,
    forbidden INTEGER NOT NULL,
    PRIMARY KEY (grade_id, item_id)
);

CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    grade_id INTEGER NOT NULL REFERENCES grades(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    turn INTEGER,
    start REAL,
    "end" REAL,
    speaker TEXT,
    text TEXT,
    phrase TEXT,
    score REAL,
    method TEXT,
    in_phase INTEGER
);
CREATE INDEX evidence_grade ON evidence(grade_id);
""",
    ),
    (2, "users, sessions, tokens, reviews, disputes, audit log", lambda c: _migration_2(c)),
    (3, "user name keys", lambda c: _migration_3(c)),
]

REVIEW_TABLES = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'rep')),
    rep_name TEXT,                      -- for a rep: the name their calls are stored under
    password_hash TEXT NOT NULL,        -- scrypt, salted: see users.py
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,        -- sha256 of the cookie value; the value is never stored
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,        -- sha256 of the token
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE disputes (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    raised_by TEXT NOT NULL,            -- user names, not ids: the record outlives the account
    comment TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_by TEXT,
    resolved_at TEXT,
    resolution TEXT
);
CREATE INDEX disputes_call ON disputes(call_id, status);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,               -- override | confirm | dispute | resolve
    item_id TEXT,
    old_value TEXT,
    new_value TEXT,
    comment TEXT
);
CREATE INDEX audit_log_call ON audit_log(call_id, id);

CREATE TABLE reviews (
    call_id TEXT PRIMARY KEY REFERENCES calls(call_id) ON DELETE CASCADE,
    rep TEXT,
    rep_key TEXT,                       -- casefold(rep), for the rep filter and reps' own view
    call_date TEXT,
    rubric TEXT,
    rubric_version TEXT,
    suggested_id INTEGER REFERENCES grades(id) ON DELETE SET NULL,
    suggested_grade REAL,
    suggested_passed INTEGER,
    flags_json TEXT NOT NULL DEFAULT '[]',
    confirmed_id INTEGER REFERENCES grades(id) ON DELETE SET NULL,
    confirmed_grade REAL,
    confirmed_passed INTEGER,
    reviewed_by TEXT,
    reviewed_at TEXT,
    open_disputes INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('unreviewed', 'disputed', 'confirmed')),
    queue_rank INTEGER NOT NULL,        -- 0: needs a human (unreviewed or disputed), 1: confirmed
    priority INTEGER NOT NULL,          -- PRIORITY_WEIGHTS summed over the call's flags
    version INTEGER NOT NULL DEFAULT 1  -- bumped by every change: the review form's check
);
-- The queue's order, alone and after an equality filter (rep, status), so a page is an index
-- walk; (rep_key, rep) lists the reps by seeking from one to the next; (rubric, status) counts.
CREATE INDEX reviews_queue ON reviews(queue_rank, priority DESC, call_date DESC, call_id);
CREATE INDEX reviews_rep ON reviews(rep_key, queue_rank, priority DESC, call_date DESC, call_id);
CREATE INDEX reviews_status ON reviews(status, queue_rank, priority DESC, call_date DESC, call_id);
CREATE INDEX reviews_rep_name ON reviews(rep_key, rep);
CREATE INDEX reviews_date ON reviews(call_date);
CREATE INDEX reviews_rubric ON reviews(rubric, status);
CREATE INDEX grades_call_kind ON grades(call_id, kind);
"""


def _migration_2(conn: sqlite3.Connection) -> None:
    for statement in split_statements(REVIEW_TABLES):
        conn.execute(statement)
    call_ids = query(conn, "SELECT call_id FROM calls").fetchall()
    for row in call_ids:
        refresh_review(conn, row["call_id"])
    if call_ids:  # statistics for the planner on a database that already has calls
        conn.execute("ANALYZE reviews")


def _migration_3(conn: sqlite3.Connection) -> None:
    """Users are known by `users.name_key` of their name, unique. Names were stored stripped and
    unique regardless of ASCII case only, so two may share a key (`Élodie` and `élodie`, `ａｄａ`
    and `ada`): the older account keeps its name, each later one is renamed `NAME#ID` (which
    signs in with its own password, and can be removed by that name), with a warning."""
    conn.execute("ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT ''")
    users = query(conn, "SELECT id, name FROM users ORDER BY id").fetchall()
    every_key = {name_key(user["name"]) for user in users}
    taken: dict[str, str] = {}  # key -> the name that has it
    for user in users:
        user_id, name = user["id"], user["name"]
        new_name, key = name, name_key(name)
        while key in taken or (new_name != name and key in every_key):
            new_name = f"{new_name}#{user_id}"
            key = name_key(new_name)
        if new_name != name:
            log.warning(
                "user %r is renamed %r: the older user %r has the same name now",
                name,
                new_name,
                taken[name_key(name)],
            )
        taken[key] = new_name
        conn.execute(
            "UPDATE users SET name = ?, name_key = ? WHERE id = ?", (new_name, key, user_id)
        )
    conn.execute("CREATE UNIQUE INDEX users_name_key ON users(name_key)")


# -- versions and scripts ------------------------------------------------------------------------


def latest_version(migrations: Sequence[Migration] | None = None) -> int:
    """The schema version this code writes (the last migration's, of `migrations` when given)."""
    return max((m[0] for m in (MIGRATIONS if migrations is None else migrations)), default=0)


def read_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied to the database (0: none, no `schema_migrations` table)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = query(conn, "SELECT max(version) AS version FROM schema_migrations").fetchone()
    return int(row["version"] or 0)


def has_foreign_tables(conn: sqlite3.Connection) -> bool:
    """Whether the database has tables of its own (an empty file has none)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' LIMIT 1"
    ).fetchone()
    return row is not None


def split_statements(script: str) -> list[str]:
    """A SQL script as single statements (triggers' BEGIN ... END kept whole)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if _has_sql(buffer):
                statements.append(buffer.strip())
            buffer = ""
    if _has_sql(buffer):
        raise ValueError(f"incomplete SQL statement: {buffer.strip()[:60]}")
    return statements


def _has_sql(text: str) -> bool:
    lines = (line.split("--", 1)[0] for line in text.splitlines())
    return bool("".join(lines).strip(" \t\r\n;"))
