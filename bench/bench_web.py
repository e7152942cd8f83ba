"""The review pages with 100,000 graded calls: server time of the queue and call pages.

Seeds a database once (cached in bench/.cache/, keyed by SEED_VERSION, the schema version and
the number of calls): 20 generated ten-minute calls are graded against the default rubric and
driven through the real store and review code (saved, confirmed, overridden, disputed,
resolved), and their rows are copied for 100,000 calls with their own ids, ~40 reps, dates over
a year, content hashes, grade ids and timestamps, in one transaction. About 10% of the calls
are confirmed and 0.5% disputed. Then the real app (`create_app`) is driven through FastAPI's
TestClient, signed in as a manager (and as a rep, and with an API token), and every request's
server time is taken by an ASGI wrapper around the app: from the request reaching the app to
the last byte of the response body leaving it (the TestClient's own overhead left out).
Goal (issue 5): p95 server time under 150 ms for every page. Exits 1 when one is at or over.

    python bench/bench_web.py [--calls N] [--requests N] [--reseed] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench_score import ROOT, make_call, sample_lines
from fastapi.testclient import TestClient

from analyzer.grading.grade import Grader
from analyzer.grading.rubric import load_rubric
from analyzer.review import decisions as review_module
from analyzer.review.decisions import ItemDecision, confirm_call, dispute_item
from analyzer.review.users import add_user, make_token
from analyzer.store import CallRecord, Store, latest_version, refresh_review
from analyzer.store import calls as store_module
from analyzer.web import create_app

SEED_VERSION = 2  # bump when the seeded data changes shape
GOAL_MS = 150.0
CACHE = Path(__file__).resolve().parent / ".cache"  # *.db files are gitignored
TEMPLATES = 20  # distinct graded calls, cycled over all the calls
PASSWORD = "bench-password-1"
MANAGER = "maria"
REPS = [
    "Alice", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kira", "Liam", "Mona", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tess",
    "Umar", "Vera", "Wes", "Xena", "Yusuf", "Zoe", "Anton", "Bea", "Carl", "Dana",
    "Emil", "Fay", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Marco", "Nora",
]  # fmt: skip
REP_USER = "alice"  # a rep who signs in (rep name Alice) for the rep's own queue
# What happens to a call after the night's grading, and for what share of the calls.
STATES = {
    "unreviewed": 0.895,
    "confirmed": 0.06,  # confirmed as suggested
    "overridden": 0.035,  # confirmed with two items changed
    "resolved": 0.005,  # disputed by the rep, then confirmed (dispute resolved)
    "disputed": 0.003,  # open dispute, not reviewed
    "confirmed_disputed": 0.002,  # confirmed, then disputed: open dispute
}
COMPANIES = ("Acme", "Borealis", "Cobalt", "Delta", "Evergreen", "Fjord", "Granite", "Harbor")
LAST_DAY = date(2026, 11, 30)
DAYS = 365
PLACEHOLDER = re.compile(r"@@[A-Za-z0-9]+@@")
# Tables a call's rows live in, parents first; the columns left out are numbered by SQLite.
TABLES = ("calls", "transcripts", "grades", "item_results", "evidence", "disputes", "audit_log")


# -- seeding -------------------------------------------------------------------------------------


@dataclass
class Variant:
    """One template call in one review state: its rows, with @@PLACEHOLDERS@@ to fill."""

    template: int
    state: str
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    review: tuple[Any, ...] = ()
    grade_ids: list[int] = field(default_factory=list)  # template grade ids, in row order


@contextmanager
def placeholder_clocks() -> Iterator[Callable[[], None]]:
    """Make the store and review code write @@SAVED@@, @@R1@@, @@R2@@ ... for "now"."""
    saved_now, review_now = store_module._now, review_module._now
    counter = {"n": 0}

    def next_review_time() -> str:
        counter["n"] += 1
        return f"@@R{counter['n']}@@"

    def reset() -> None:
        counter["n"] = 0

    store_module._now = lambda: "@@SAVED@@"
    review_module._now = next_review_time
    try:
        yield reset
    finally:
        store_module._now, review_module._now = saved_now, review_now


def build_variants() -> tuple[list[Variant], dict[str, list[str]], list[str]]:
    """Grade TEMPLATES calls and store each in every review state with the real code; return
    their rows, the table columns, and the reviews columns."""
    rng = random.Random(5)
    rubric = load_rubric(ROOT / "rubrics" / "inside-sales.yaml")
    grader = Grader(rubric)
    rep_lines, customer_lines = sample_lines()
    variants: list[Variant] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "templates.db")
        manager = add_user(store, MANAGER, "manager", PASSWORD)
        rep = add_user(store, "@@REPUSER@@", "rep", PASSWORD, rep_name="@@REP@@")
        with placeholder_clocks() as reset_clock:
            for k in range(TEMPLATES):
                transcript, _ = make_call(k, rep_lines, customer_lines, rng)
                transcript.started_at = "@@STARTED@@"
                grade = grader.grade(transcript)
                for s, state in enumerate(STATES):
                    reset_clock()
                    call_id = f"tpl{k:02d}s{s}"
                    record = CallRecord(
                        call_id=call_id,
                        content_hash=f"hash-{call_id}",
                        source_path="/srv/calls/@@DATE@@/@@CALLID@@.wav",
                        audio_path="/srv/calls/@@DATE@@/@@CALLID@@.wav",
                        rep="@@REP@@",
                        call_date="@@DATE@@",
                        started_at="@@STARTED@@",
                        customer="@@CUSTOMER@@",
                        call_type="outbound" if k % 3 else "inbound",
                        outcome=("meeting booked", "follow-up", "no interest")[k % 3],
                        duration=transcript.span_seconds,
                        metadata={"campaign": f"Q{1 + k % 4} renewals"},
                    )
                    store.save_call(record, transcript, grade, run_id=None)
                    apply_state(store, call_id, state, manager, rep)
                    variants.append(extract(store, k, state, call_id))
        columns = {t: table_columns(store, t) for t in TABLES}
        review_columns = table_columns(store, "reviews")
        store.close()
    return variants, columns, review_columns


def apply_state(store: Store, call_id: str, state: str, manager: Any, rep: Any) -> None:
    """Drive a stored call into `state` with the review code a manager and a rep use."""
    items = sorted(
        (
            (item.earned / item.points if item.points else 1.0, n, item.id)
            for n, item in enumerate(_items(store, call_id))
        ),
    )
    weakest, strongest = items[0][2], items[-1][2]

    def version() -> int:
        with store.reading("bench") as conn:
            row = conn.execute("SELECT version FROM reviews WHERE call_id = ?", (call_id,))
            return int(row.fetchone()[0])

    def dispute() -> None:
        dispute_item(
            store,
            call_id,
            rep,
            weakest,
            "I did cover this at 04:12; the transcript misheard the customer's answer.",
            version(),
        )

    if state in ("resolved", "disputed"):
        dispute()
    if state in ("confirmed", "confirmed_disputed"):
        confirm_call(store, call_id, manager, [], version())
    elif state in ("overridden", "resolved"):
        decisions = [
            ItemDecision(weakest, "met", "Said in other words at 04:12: counts."),
            ItemDecision(strongest, "partial", "Only half of it was done."),
        ]
        confirm_call(store, call_id, manager, decisions, version(), "Adjusted after listening.")
    if state == "confirmed_disputed":
        dispute()


@dataclass
class _Item:
    id: str
    points: float
    earned: float


def _items(store: Store, call_id: str) -> list[_Item]:
    with store.reading("bench") as conn:
        rows = conn.execute(
            "SELECT i.item_id, i.points, i.earned FROM item_results i "
            "JOIN grades g ON g.id = i.grade_id WHERE g.call_id = ? AND g.kind = 'suggested' "
            "ORDER BY i.rowid",
            (call_id,),
        ).fetchall()
    return [_Item(*row) for row in rows]


def table_columns(store: Store, table: str) -> list[str]:
    with store.reading("bench") as conn:
        names = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    return [n for n in names if not (n == "id" and table in ("evidence", "disputes", "audit_log"))]


def extract(store: Store, template: int, state: str, call_id: str) -> Variant:
    """The rows a call has in every table, with its id replaced by @@CALLID@@."""
    variant = Variant(template, state)

    def fix(value: Any) -> Any:
        return value.replace(call_id, "@@CALLID@@") if isinstance(value, str) else value

    with store.reading("bench") as conn:
        grade_ids = [
            r[0]
            for r in conn.execute("SELECT id FROM grades WHERE call_id = ? ORDER BY id", (call_id,))
        ]
        marks = ", ".join("?" for _ in grade_ids)
        for table in TABLES:
            names = ", ".join(f'"{c}"' for c in table_columns(store, table))
            if table in ("item_results", "evidence"):
                where, params = f"grade_id IN ({marks})", grade_ids
            else:
                where, params = "call_id = ?", [call_id]
            rows = conn.execute(
                f"SELECT {names} FROM {table} WHERE {where} ORDER BY rowid", params
            ).fetchall()
            variant.rows[table] = [tuple(fix(v) for v in row) for row in rows]
        names = ", ".join(table_columns(store, "reviews"))
        row = conn.execute(f"SELECT {names} FROM reviews WHERE call_id = ?", (call_id,))
        variant.review = tuple(fix(v) for v in row.fetchone())
    variant.grade_ids = grade_ids
    return variant


def insert_sql(table: str, columns: list[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks})"


def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str) and "@@" in value:
        return PLACEHOLDER.sub(lambda m: values[m.group()], value)
    return value


def seed(path: Path, calls: int) -> dict[str, Any]:
    """Write a database of `calls` graded calls at `path`; what it took."""
    started = time.perf_counter()
    variants, columns, review_columns = build_variants()
    by_state: dict[str, list[Variant]] = {s: [] for s in STATES}
    for v in variants:
        by_state[v.state].append(v)
    graded = time.perf_counter() - started

    partial = path.with_name(path.stem + ".partial.db")
    for leftover in CACHE.glob(partial.name + "*"):
        leftover.unlink()
    store = Store.open(partial)  # the real schema and migrations
    add_user(store, MANAGER, "manager", PASSWORD)
    add_user(store, REP_USER, "rep", PASSWORD, rep_name="Alice")
    store.close()

    conn = sqlite3.connect(partial, isolation_level=None)
    conn.create_function("casefold", 1, lambda v: v.casefold() if isinstance(v, str) else v)
    conn.execute("PRAGMA journal_mode = OFF")  # a bulk load: the file is thrown away on failure
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    inserts = {t: insert_sql(t, columns[t]) for t in TABLES}
    inserts["reviews"] = insert_sql("reviews", review_columns)
    col = {t: {c: n for n, c in enumerate(columns[t])} for t in TABLES}
    rcol = {c: n for n, c in enumerate(review_columns)}
    rng = random.Random(42)
    states, weights = list(STATES), list(STATES.values())
    customers = [f"{a} {b}" for a in COMPANIES for b in ("GmbH", "Ltd", "Inc", "AG", "BV")]
    first_day = LAST_DAY - timedelta(days=DAYS - 1)
    conn.execute("BEGIN")
    runs = []
    for d in range(DAYS):
        night = (first_day + timedelta(days=d)).isoformat()
        runs.append((d + 1, f"{night}T23:00:00+00:00", f"{night}T23:40:00+00:00", "finished"))
    conn.executemany(
        "INSERT INTO batch_runs (id, started_at, finished_at, status, options_json) "
        "VALUES (?, ?, ?, ?, '{}')",
        runs,
    )
    next_grade = 1
    batch: dict[str, list[tuple[Any, ...]]] = {t: [] for t in (*TABLES, "reviews")}

    def flush() -> None:
        for table, rows in batch.items():
            conn.executemany(inserts[table], rows)
            rows.clear()

    for n in range(calls):
        day_index = n * DAYS // calls
        day = first_day + timedelta(days=day_index)
        rep = rng.choice(REPS)
        variant = rng.choice(by_state[rng.choices(states, weights)[0]])
        call_id = f"{day.isoformat()}_{rep.lower()}_{n:06d}"
        hh, mm, ss = rng.randrange(8, 18), rng.randrange(60), rng.randrange(60)
        values = {
            "@@CALLID@@": call_id,
            "@@DATE@@": day.isoformat(),
            "@@STARTED@@": f"{day.isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}",
            "@@SAVED@@": f"{day.isoformat()}T23:{n % 40:02d}:{ss:02d}.{n % 999983:06d}+00:00",
            "@@REP@@": rep,
            "@@rep@@": rep.casefold(),
            "@@REPUSER@@": rep.lower(),
            "@@CUSTOMER@@": customers[n % len(customers)],
        }
        for r in range(1, 4):
            when = day + timedelta(days=1 + r + rng.randrange(3))
            values[f"@@R{r}@@"] = f"{when.isoformat()}T{9 + r}:{mm:02d}:{ss:02d}+00:00"
        new_ids = {}
        for old in variant.grade_ids:
            new_ids[old] = next_grade
            next_grade += 1
        for table in TABLES:
            c = col[table]
            for row in variant.rows[table]:
                out = [fill(v, values) for v in row]
                if table == "calls":
                    out[c["content_hash"]] = hashlib.sha256(call_id.encode()).hexdigest()
                    if n % 2:  # half the calls came as transcripts, without a recording
                        out[c["audio_path"]] = None
                        out[c["source_path"]] = out[c["source_path"]].replace(".wav", ".json")
                        out[c["transcript_path"]] = out[c["source_path"]]
                elif table == "grades":
                    out[c["id"]] = new_ids[out[c["id"]]]
                    if out[c["kind"]] == "suggested":
                        out[c["run_id"]] = day_index + 1
                elif table in ("item_results", "evidence"):
                    out[c["grade_id"]] = new_ids[out[c["grade_id"]]]
                batch[table].append(tuple(out))
        out = [fill(v, values) for v in variant.review]
        for name in ("suggested_id", "confirmed_id"):
            if out[rcol[name]] is not None:
                out[rcol[name]] = new_ids[out[rcol[name]]]
        batch["reviews"].append(tuple(out))
        if n % 2000 == 1999:
            flush()
    flush()
    conn.execute("COMMIT")
    broken = conn.execute("PRAGMA foreign_key_check").fetchone()
    if broken is not None:
        raise SystemExit(f"seeding broke a foreign key: {broken}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()

    store = Store.open(partial)
    mismatches = check_reviews(store, rng, 300)
    store.close()  # PRAGMA optimize, as after a night's batch
    if mismatches:
        raise SystemExit(f"seeded reviews rows differ from refresh_review: {mismatches[:3]}")
    partial.replace(path)
    return {"seed_seconds": round(time.perf_counter() - started, 1), "grading_seconds": graded}


def check_reviews(store: Store, rng: random.Random, sample: int) -> list[str]:
    """Rebuild `sample` seeded reviews rows with the real refresh_review (rolled back): every
    column must come out the same, the version one higher."""
    mismatches = []
    with store.reading("bench") as conn:
        ids = [r[0] for r in conn.execute("SELECT call_id FROM reviews")]
        conn.execute("BEGIN")
        try:
            for call_id in rng.sample(ids, min(sample, len(ids))):
                before = conn.execute("SELECT * FROM reviews WHERE call_id = ?", (call_id,))
                names = [d[0] for d in before.description]
                old = dict(zip(names, before.fetchone(), strict=True))
                refresh_review(conn, call_id)
                row = conn.execute("SELECT * FROM reviews WHERE call_id = ?", (call_id,))
                new = dict(zip(names, row.fetchone(), strict=True))
                new["version"] -= 1
                if new != old:
                    diff = {k: (old[k], new[k]) for k in names if old[k] != new[k]}
                    mismatches.append(f"{call_id}: {diff}")
        finally:
            conn.execute("ROLLBACK")
    return mismatches


def seeded_db(calls: int, reseed: bool) -> tuple[Path, dict[str, Any] | None]:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"web-v{SEED_VERSION}-schema{latest_version()}-{calls}.db"
    if path.exists() and not reseed:
        return path, None
    for old in CACHE.glob(path.name + "*"):
        old.unlink()
    return path, seed(path, calls)


# -- measuring -----------------------------------------------------------------------------------


class ServerTimer:
    """ASGI wrapper: the time from a request reaching the app to its last body byte leaving."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last: float | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - started
            await send(message)

        await self.app(scope, receive, timed_send)


@dataclass
class Scenario:
    name: str
    request: Callable[[int], tuple[str, dict[str, str], str]]  # i -> (path, headers, expect)
    server: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)


def sign_in(client: TestClient, name: str) -> str:
    client.cookies.clear()
    client.get("/login")
    token = client.cookies["analyzer_login_csrf"]
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf_token": token, "next": "/calls"},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise SystemExit(f"signing in as {name} failed: {response.status_code}")
    value = client.cookies["analyzer_session"]
    client.cookies.clear()
    return value


def scenarios(db: Path, manager: str, rep: str, token: str, seed: int) -> list[Scenario]:
    with Store.open(db, readonly=True) as store, store.reading("bench") as conn:
        ids = [r[0] for r in conn.execute("SELECT call_id FROM calls")]
    rng = random.Random(seed)
    picks = [rng.choice(ids) for _ in range(5000)]
    as_manager = {"Cookie": f"analyzer_session={manager}"}
    as_rep = {"Cookie": f"analyzer_session={rep}"}
    api = {"Authorization": f"Bearer {token}"}
    first_month = LAST_DAY - timedelta(days=DAYS - 1)

    def month(i: int) -> str:
        m = first_month.month - 1 + i % 12
        start = date(first_month.year + m // 12, m % 12 + 1, 1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return f"since={start.isoformat()}&until={end.isoformat()}"

    def page(path: str, headers: dict[str, str], expect: str) -> Callable[[int], Any]:
        return lambda i: (path, headers, expect)

    return [
        Scenario("queue, first page", page("/calls", as_manager, "Page 1 of")),
        Scenario(
            "queue, one rep",
            lambda i: (f"/calls?rep={REPS[i % len(REPS)].lower()}", as_manager, "Page 1 of"),
        ),
        Scenario("queue, one month", lambda i: (f"/calls?{month(i)}", as_manager, "Page 1 of")),
        Scenario("queue, to review", page("/calls?status=open", as_manager, "Page 1 of")),
        Scenario("queue, confirmed", page("/calls?status=confirmed", as_manager, "Page 1 of")),
        Scenario("queue, disputed", page("/calls?status=disputed", as_manager, "Page 1 of")),
        Scenario("queue, page 500", page("/calls?page=500", as_manager, "Page 500 of")),
        Scenario(
            "queue, rubric, p. 100",
            page("/calls?rubric=inside-sales&page=100", as_manager, "Page 100 of"),
        ),
        Scenario("queue, as a rep", page("/calls", as_rep, "Page 1 of")),
        Scenario("call page", lambda i: (f"/calls/{picks[i]}", as_manager, picks[i])),
        Scenario("GET /api/calls", page("/api/calls", api, '"total":')),
        Scenario(
            "GET /api/calls/{id}",
            lambda i: (f"/api/calls/{picks[-1 - i]}", api, picks[-1 - i]),
        ),
    ]


def measure(db: Path, requests: int, warmup: int) -> list[Scenario]:
    timer = ServerTimer(create_app(db))
    with TestClient(timer) as client:
        manager = sign_in(client, MANAGER)
        rep = sign_in(client, REP_USER)
        token = make_token(timer.app.state.store, MANAGER)
        plan = scenarios(db, manager, rep, token, seed=9)
        for i in range(-warmup, requests):  # interleaved: the host's noise falls on all alike
            for scenario in plan:
                path, headers, expect = scenario.request(i % 5000)
                timer.last = None
                started = time.perf_counter()
                response = client.get(path, headers=headers, follow_redirects=False)
                elapsed = time.perf_counter() - started
                if response.status_code != 200 or expect not in response.text:
                    raise SystemExit(
                        f"{scenario.name}: GET {path} answered {response.status_code}, "
                        f"without {expect!r}: {response.text[:200]}"
                    )
                if i >= 0:
                    assert timer.last is not None
                    scenario.server.append(timer.last)
                    scenario.client.append(elapsed)
    return plan


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def db_stats(db: Path) -> dict[str, Any]:
    with Store.open(db, readonly=True) as store, store.reading("bench") as conn:
        counts = dict(conn.execute("SELECT status, count(*) FROM reviews GROUP BY status"))
        rows = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("calls", "grades", "item_results", "evidence", "audit_log")
        }
        stat1 = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone()[0]
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    return {"statuses": counts, "rows": rows, "analyzed": bool(stat1), "db_mb": size / 1024**2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--reseed", action="store_true", help="seed again, ignoring the cache")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    db, seeding = seeded_db(args.calls, args.reseed)
    stats = db_stats(db)
    plan = measure(db, args.requests, args.warmup)
    results = [
        {
            "scenario": s.name,
            "requests": len(s.server),
            "p50_ms": round(1000 * statistics.median(s.server), 1),
            "p95_ms": round(1000 * percentile(s.server, 0.95), 1),
            "max_ms": round(1000 * max(s.server), 1),
            "client_p95_ms": round(1000 * percentile(s.client, 0.95), 1),
        }
        for s in plan
    ]
    slow = [r["scenario"] for r in results if r["p95_ms"] >= GOAL_MS]
    figures = {
        "calls": args.calls,
        "database": str(db),
        "database_mb": round(stats["db_mb"]),
        "statuses": stats["statuses"],
        "rows": stats["rows"],
        "analyzed": stats["analyzed"],
        "seed_seconds": seeding["seed_seconds"] if seeding else None,
        "results": results,
        "over_goal": slow,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        if seeding:
            print(
                f"Seeded {args.calls:,} calls in {seeding['seed_seconds']} s "
                f"(grading the {TEMPLATES} templates: {seeding['grading_seconds']:.1f} s)"
            )
        else:
            print(f"Seeded database from the cache ({db.name}; --reseed to rebuild)")
        statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(stats["statuses"].items()))
        print(f"  database  {figures['database_mb']:,} MB: {statuses}")
        print("  rows      " + ", ".join(f"{n:,} {t}" for t, n in stats["rows"].items()))
        print(f"  sqlite_stat1 present: {'yes' if stats['analyzed'] else 'no'}")
        print(
            f"Server time per request, {args.requests} requests each after {args.warmup} "
            f"warm-up, interleaved (goal: p95 < {GOAL_MS:.0f} ms)"
        )
        print(f"  {'scenario':<22}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'client p95':>12}")
        for r in results:
            mark = "  over" if r["scenario"] in slow else ""
            print(
                f"  {r['scenario']:<22}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['max_ms']:>9}"
                f"{r['client_p95_ms']:>12}{mark}"
            )
        print("  all under the goal" if not slow else f"  OVER THE GOAL: {', '.join(slow)}")
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
