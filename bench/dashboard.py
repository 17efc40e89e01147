"""Dashboard (and review queue): page time and SQL statements at 1,000 entry rows against
100,000 documents with 1,000,000 entry rows.

The data is what a long project leaves behind: documents with their assignments (one in ten
double-entered, with a comparison), entry rows split 70/30 over testDB and register_person, an
audit event for every assignment, row, submission and review in time order, and a quality flag
on one document in twenty. Clerks keep a steady pace of about 5,000 rows a day, so the small
data set is a few hours old and the large one 200 days. Each page is timed through the Flask
test client (login check, queries, template) as the median of N requests after warm-up, with
its statements counted and their execute time summed ("SQL exec ms": SQLite hands back grouped
rows as it finds them, so part of its work shows in the page time only). Target: the large size
within 3x the small, with the same number of statements.

    python -m bench dashboard [--backend sqlite|mysql|all] [--mysql-url URL] [--quick]
                              [--requests N] [--explain]

SQLite by default; --backend mysql (or all) also runs on --mysql-url, a database it empties.

Whole-table figures come from the running counts (app/services/tallies.py); the full recount
that rebuilds them (at the first view, every DASHBOARD_RECOUNT_MINUTES, and on `flask dashboard
recount`) is timed on its own at each size and reported beside the pages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from bench._support import (
    BENCH_PASSWORD,
    add_common_arguments,
    database_url,
    portal_app,
    prepare_database,
    print_table,
    run_on_backends,
)

TARGET_RATIO = 3.0
WARMUP_REQUESTS = 3
CHUNK = 20_000  # audit events per flush; the other tables' rows go with them
ROWS_PER_DAY = 5_000
REVIEWER = "bench_dash_reviewer"
ADMIN = "bench_dash_admin"
CLERKS = tuple(f"bench_dash_clerk{i:02}" for i in range(20))
# Everything the generator writes, children first (the order rows are deleted in).
DATA_TABLES = (
    "tallies",
    "quality_flags",
    "discrepancies",
    "comparisons",
    "audit_events",
    "testDB",
    "register_person",
    "assignments",
    "documents",
)


@dataclass(frozen=True)
class Size:
    documents: int
    rows: int

    @property
    def label(self) -> str:
        return f"{self.documents:,} docs / {self.rows:,} rows"


SMALL = Size(documents=100, rows=1_000)
LARGE = Size(documents=100_000, rows=1_000_000)
QUICK_LARGE = Size(documents=10_000, rows=100_000)


# --- the data --------------------------------------------------------------------------------


def document_status(i: int) -> str:
    """2 % new, 4 % assigned, 6 % in progress, 6 % submitted, 2 % returned, 80 % approved."""
    slot = i % 100
    for limit, status in (
        (2, "new"),
        (6, "assigned"),
        (12, "in_progress"),
        (18, "submitted"),
        (20, "returned"),
    ):
        if slot < limit:
            return status
    return "approved"


ROW_STATUS = {"submitted": "submitted", "returned": "returned", "approved": "approved"}
ASSIGNMENT_STATUS = {
    "assigned": "assigned",
    "in_progress": "in_progress",
    "returned": "in_progress",
    "submitted": "submitted",
    "approved": "submitted",
}


@dataclass
class Batch:
    """Rows waiting to be inserted, per table."""

    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in reversed(DATA_TABLES)}
    )

    def add(self, table: str, **row: Any) -> None:
        self.tables[table].append(row)

    def __len__(self) -> int:
        return len(self.tables["audit_events"])


class Generator:
    """The documents of a Size, each with its assignments, rows and events, in time order."""

    def __init__(self, size: Size, users: dict[str, int], now: datetime) -> None:
        self.size, self.users = size, users
        self.clerks = [users[name] for name in CLERKS]
        span = timedelta(days=size.rows / ROWS_PER_DAY)
        self.start, self.slot = now - span, span / size.documents
        self.rows_per_document = size.rows // size.documents
        self.row_number = 0

    def batches(self) -> Iterator[Batch]:
        batch = Batch()
        for i in range(1, self.size.documents + 1):
            self.document(batch, i)
            if len(batch) >= CHUNK:
                yield batch
                batch = Batch()
        if len(batch):
            yield batch

    def event(
        self,
        batch: Batch,
        at: datetime,
        action: str,
        table: str,
        key: str,
        actor: str,
        document_id: int,
        after: str | None = None,
    ) -> None:
        batch.add(
            "audit_events",
            at=at,
            actor_id=self.users[actor],
            actor_name=actor,
            action=action,
            table_name=table,
            row_key=key,
            document_id=document_id,
            before=None,
            after=after,
            reason=None,
        )

    def document(self, batch: Batch, i: int) -> None:
        status, t0 = document_status(i), self.start + self.slot * (i - 1)
        step = self.slot / (self.rows_per_document + 6)
        double = i % 10 == 0
        digest = hashlib.sha256(f"bench-dashboard-{i}".encode()).hexdigest()
        batch.add(
            "documents",
            id=i,
            storage_key=f"{digest[:40]}.pdf",
            original_name=f"register-{i:06}.pdf",
            content_type="application/pdf",
            size_bytes=120_000,
            sha256=digest,
            status=status,
            double_entry=double,
            review_comment="Check row 3." if status == "returned" else None,
            uploaded_by_id=self.users[ADMIN],
            created_at=t0,
            updated_at=t0,
        )
        if status == "new":
            return
        clerks = [CLERKS[i % len(CLERKS)]] + ([CLERKS[(i + 1) % len(CLERKS)]] if double else [])
        for name in clerks:
            done = ASSIGNMENT_STATUS[status] == "submitted"
            batch.add(
                "assignments",
                document_id=i,
                clerk_id=self.users[name],
                status=ASSIGNMENT_STATUS[status],
                created_at=t0,
                submitted_at=t0 + self.slot * 0.9 if done else None,
            )
        self.event(batch, t0, "assign", "documents", str(i), ADMIN, i)
        if status != "assigned":
            self.rows(batch, i, clerks[0], ROW_STATUS.get(status, "entered"), t0, step)
        self.review(batch, i, status, clerks, t0, step)

    def rows(
        self, batch: Batch, i: int, clerk: str, status: str, t0: datetime, step: timedelta
    ) -> None:
        for k in range(self.rows_per_document):
            self.row_number += 1
            n, at = self.row_number, t0 + step * (k + 1)
            common = {
                "document_id": i,
                "entered_by_id": self.users[clerk],
                "status": status,
                "version": 1,
                "created_at": at,
                "updated_at": at,
            }
            if k % 10 < 7:
                key = f"K{n:07d}"
                batch.add(
                    "testDB", string_column=key, integer_column=n % 1000, date_column=at, **common
                )
                table = "testDB"
            else:
                key = str(n)
                batch.add(
                    "register_person",
                    id=n,
                    full_name=f"Person {n}",
                    age=n % 90,
                    parish="Saint Mary",
                    **common,
                )
                table = "register_person"
            self.event(
                batch,
                at,
                "create",
                table,
                key,
                clerk,
                i,
                json.dumps({"key": key, "value": n % 1000}),
            )

    def review(
        self, batch: Batch, i: int, status: str, clerks: list[str], t0: datetime, step: timedelta
    ) -> None:
        if status not in {"submitted", "returned", "approved"}:
            return
        at = t0 + step * (self.rows_per_document + 1)
        for name in clerks:
            self.event(batch, at, "submit", "documents", str(i), name, i)
        if status == "returned" or (status == "approved" and i % 25 == 1):
            self.event(batch, at + step, "return", "documents", str(i), REVIEWER, i)
            if status == "approved":  # sent back once, fixed, submitted again
                for name in clerks:
                    self.event(batch, at + step * 2, "submit", "documents", str(i), name, i)
        if status == "approved":
            self.event(batch, at + step * 3, "approve", "documents", str(i), REVIEWER, i)
        if len(clerks) == 2:
            batch.add(
                "comparisons",
                document_id=i,
                clerk_a_id=self.users[clerks[0]],
                clerk_b_id=self.users[clerks[1]],
                fields_compared=30,
                differences=i % 4,
                created_at=at,
                resolved_at=None,
                resolved_by_id=None,
            )
        if i % 20 == 0:
            batch.add(
                "quality_flags",
                table_name="register_person",
                row_key=None,
                document_id=i,
                field="age",
                kind="expected_range",
                message="Age 104 is above the expected 100.",
                status="cleared" if status == "approved" else "open",
                raised_by_id=self.users[clerks[0]],
                raised_at=at,
                cleared_by_id=None,
                cleared_at=None,
            )


def fill(engine: sa.Engine, size: Size, users: dict[str, int], now: datetime) -> None:
    """Insert a Size's data with Core executemany, a chunk per transaction."""
    from app.extensions import db  # the models' tables: their types convert the datetimes

    tables = {name: db.metadata.tables[name] for name in DATA_TABLES}
    for batch in Generator(size, users, now).batches():
        with engine.begin() as conn:
            for name, rows in batch.tables.items():
                if rows:
                    conn.execute(tables[name].insert(), rows)
    if engine.dialect.name in {"mysql", "mariadb"}:
        # What InnoDB's automatic statistics recalculation does soon after a bulk load anyway.
        with engine.connect() as conn:
            for name in DATA_TABLES:
                conn.exec_driver_sql(f"ANALYZE TABLE `{name}`").fetchall()


def empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        mysql = engine.dialect.name in {"mysql", "mariadb"}
        if mysql:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        for name in DATA_TABLES:
            quoted = conn.dialect.identifier_preparer.quote(name)
            conn.exec_driver_sql(f"{'TRUNCATE TABLE' if mysql else 'DELETE FROM'} {quoted}")
        if mysql:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


# --- timing ----------------------------------------------------------------------------------


class StatementLog:
    """Every SQL statement the engine runs, with its parameters and duration."""

    def __init__(self, engine: sa.Engine) -> None:
        self.entries: list[tuple[str, Any, float]] = []
        self._started: list[float] = []
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any
    ) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        if not statement.lstrip().upper().startswith(("BEGIN", "SET")):
            self.entries.append((statement, parameters, elapsed))


@dataclass
class Page:
    label: str
    path: str
    marker: str  # text the answer must contain, so an error page is not timed
    ms: dict[str, float] = field(default_factory=dict)  # run label -> median ms
    sql_ms: dict[str, float] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    slowest: dict[str, list[tuple[float, str, Any]]] = field(default_factory=dict)


def pages_to_time(app: Flask) -> list[Page]:
    pages = [
        Page("dashboard", "/dashboard/", CLERKS[0]),
        Page("dashboard fragment", "/dashboard/fragment", CLERKS[0]),
    ]
    if "review.queue" in app.view_functions:
        pages.append(Page("review queue", "/review/", "</table>"))
    return pages


def logged_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": BENCH_PASSWORD})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login as {username} answered {response.status_code}")
    return client


def time_page(page: Page, client: FlaskClient, log: StatementLog, run: str, requests: int) -> None:
    durations, sql = [], []
    for attempt in range(WARMUP_REQUESTS + requests):
        log.entries.clear()
        started = time.perf_counter()
        response = client.get(page.path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or page.marker not in response.get_data(as_text=True):
            raise RuntimeError(f"GET {page.path} answered {response.status_code}")
        if attempt >= WARMUP_REQUESTS:
            durations.append(elapsed)
            sql.append(sum(d for *_, d in log.entries))
    page.ms[run] = statistics.median(durations) * 1000
    page.sql_ms[run] = statistics.median(sql) * 1000
    page.queries[run] = len(log.entries)
    page.slowest[run] = sorted(
        ((d * 1000, s, p) for s, p, d in log.entries), reverse=True, key=lambda item: item[0]
    )[:3]


def explain(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        result = conn.exec_driver_sql(prefix + statement, parameters)
        columns, rows = list(result.keys()), result.fetchall()
    if engine.dialect.name == "sqlite":
        return [f"      {row[-1]}" for row in rows]
    keep = [c for c in ("table", "type", "key", "rows", "Extra") if c in columns]
    return ["      " + "  ".join(f"{c}={row[columns.index(c)]}" for c in keep) for row in rows]


def bench_backend(
    backend: str, args: argparse.Namespace, scratch: Path
) -> tuple[list[Page], list[str]]:
    """Time every page and the full recount at each size; returns the run labels."""
    from app.extensions import db
    from app.services import tallies

    url = database_url(backend, args, scratch)
    users = prepare_database(
        url, scratch, {REVIEWER: "reviewer", ADMIN: "admin"} | dict.fromkeys(CLERKS, "clerk")
    )
    app = portal_app(url, scratch)
    with app.app_context():
        engine = db.engine
    log, pages, runs, recount_ms = StatementLog(engine), pages_to_time(app), [], {}
    try:
        client = logged_in(app, REVIEWER)
        for size in args.sizes:
            empty(engine)
            started = time.perf_counter()
            fill(engine, size, users, datetime.now(UTC))
            print(
                f"  {backend}: {size.label} loaded in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            runs.append(size.label)
            with app.app_context():  # what the first view would do; timed on its own
                started = time.perf_counter()
                tallies.recount()
                recount_ms[size.label] = (time.perf_counter() - started) * 1000
            for page in pages:
                time_page(page, client, log, size.label, args.requests)
        show_slowest(engine, pages, runs[1:], args.explain)
    finally:
        empty(engine)
        engine.dispose()
    return pages, runs, recount_ms


def show_slowest(engine: sa.Engine, pages: list[Page], runs: list[str], plans: bool) -> None:
    for run in runs:
        for page in pages:
            print(f"  slowest statements of {page.label} at {run}:")
            for ms, statement, parameters in page.slowest[run]:
                print(f"    {ms:7.1f} ms  {' '.join(statement.split())[:150]}")
                if plans:
                    print("\n".join(explain(engine, statement, parameters)))


def report(backend: str, pages: list[Page], runs: list[str], recount_ms: dict[str, float]) -> bool:
    """One line per page and large run, and the recount's time at each size."""
    small, rows, all_met = runs[0], [], True
    for run in runs[1:]:
        for page in pages:
            ratio = page.ms[run] / page.ms[small]
            met = ratio <= TARGET_RATIO and page.queries[run] == page.queries[small]
            all_met &= met
            rows.append(
                [
                    backend,
                    page.label,
                    run,
                    page.ms[small],
                    page.ms[run],
                    f"{ratio:.2f}x",
                    page.sql_ms[small],
                    page.sql_ms[run],
                    f"{page.queries[small]} / {page.queries[run]}",
                    "met" if met else "MISSED",
                ]
            )
    print(f"\nsmall = {small}")
    print_table(
        [
            "backend",
            "page",
            "large",
            "ms small",
            "ms large",
            "ratio",
            "SQL exec ms small",
            "SQL exec ms large",
            "queries",
            f"<= {TARGET_RATIO:g}x, same count",
        ],
        rows,
    )
    print(
        f"{backend}: full recount of the running counts (first view, every "
        "DASHBOARD_RECOUNT_MINUTES, `flask dashboard recount`): "
        + ", ".join(f"{ms:,.0f} ms at {run}" for run, ms in recount_ms.items())
    )
    print(
        f"{backend}: {'every page within' if all_met else 'NOT every page within'} "
        f"{TARGET_RATIO:g}x with a fixed number of queries\n"
    )
    return all_met


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench dashboard", description=__doc__.split("\n\n")[0]
    )
    add_common_arguments(parser)
    parser.set_defaults(backend="sqlite")
    parser.add_argument(
        "--requests", type=int, help="timed requests per page and size (default 20; --quick 5)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the query plans of the slowest statements"
    )
    args = parser.parse_args(argv)
    args.sizes = [SMALL, QUICK_LARGE if args.quick else LARGE]
    args.requests = args.requests or (5 if args.quick else 20)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"Dashboard and review queue at {args.sizes[0].label} and {args.sizes[1].label}: "
        f"median of {args.requests} requests (after {WARMUP_REQUESTS} warm-up) through the "
        "Flask test client, in ms.\n"
    )
    results, failed = run_on_backends(args, "dashboard", bench_backend)
    for backend, (pages, runs, recount_ms) in results:
        failed |= not report(backend, pages, runs, recount_ms)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
