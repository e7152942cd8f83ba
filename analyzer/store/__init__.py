"""The store stage: the SQLite database every other stage reads and writes through `Store`.

Calls with their transcripts and suggested grades, batch runs, and the review side (users,
confirmed grades, disputes, the audit log, the queue's `reviews` rows), in one database file in
WAL mode with numbered migrations. store.py holds the `Store` that opens it and runs each read
or write transaction; schema.py the tables and migrations; calls.py, runs.py and reviews.py the
work on their tables; connection.py the connection, its errors and shared row helpers; keys.py
how names are compared.
"""

from analyzer.store.calls import ATTENTION_FLAGS, CallRecord, CallSummary, upsert_grade
from analyzer.store.connection import (
    BUSY_TIMEOUT_MS,
    json_object,
    storable_text,
    store_error,
    unstorable_error,
)
from analyzer.store.reviews import (
    PRIORITY_WEIGHTS,
    REVIEW_STATUSES,
    refresh_review,
    review_priority,
)
from analyzer.store.runs import RUN_STATUSES, pid_alive
from analyzer.store.schema import MIGRATIONS, REVIEW_TABLES, latest_version, split_statements
from analyzer.store.store import Store

__all__ = [
    "ATTENTION_FLAGS",
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "PRIORITY_WEIGHTS",
    "REVIEW_STATUSES",
    "REVIEW_TABLES",
    "RUN_STATUSES",
    "CallRecord",
    "CallSummary",
    "Store",
    "json_object",
    "latest_version",
    "pid_alive",
    "refresh_review",
    "review_priority",
    "split_statements",
    "storable_text",
    "store_error",
    "unstorable_error",
    "upsert_grade",
]
