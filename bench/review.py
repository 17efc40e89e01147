"""The review page (a document beside its rows, flags and queries) and the review queue: page
time and SQL statements at 100 documents / 1,000 entry rows against 100,000 documents /
1,000,000 entry rows.

The data is bench.dashboard's (documents with assignments, one in ten double-entered, rows
70/30 over testDB and register_person, the audit trail, flags), plus a field query on one
document in twenty (open, answered or closed) and a flag on one submitted document in five, so
that the reviewed document carries a query and a flag at both sizes. Each page is requested
through the Flask test client (login check, queries, template) N times after warm-up, its
statements counted. Measured per request (medians): wall time; the process's CPU time (SQLite
runs in the process, so this is all its work); the statements' execute time. The page's cost
is the CPU time, plus for MariaDB the statements' time on the server: wall time on a shared
machine moves with whatever else runs (the load average is printed); 200 requests per page and
size, as a request takes milliseconds (loading the data takes the run's time). Target: the
large size's cost within 1.5x of the small's, with the same number of statements.

    python -m bench review [--backend sqlite|mysql|all] [--mysql-url URL] [--quick]
                           [--requests N] [--explain]

SQLite by default; --backend mysql (or all) also runs on --mysql-url (default
$BENCH_REVIEW_MYSQL_URL or the portal_test_bench_review database), which it empties.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._support import (
    DEFAULT_MYSQL_URL,
    add_common_arguments,
    database_url,
    portal_app,
    prepare_database,
    print_table,
    run_on_backends,
)
from bench.dashboard import (
    ADMIN,
    CLERKS,
    LARGE,
    QUICK_LARGE,
    REVIEWER,
    SMALL,
    WARMUP_REQUESTS,
    Page,
    StatementLog,
    empty,
    fill,
    logged_in,
    show_slowest,
)

TARGET_RATIO = 1.5
SERVER_SQL = False  # set per backend: does the statements' time run outside this process?
QUERY_STATUSES = ("open", "answered", "closed")


def fill_the_queues_first_page(engine: sa.Engine) -> None:
    """Send approved documents (single-entry, the oldest first) back to submitted, with their
    rows, until the review queue has more than one page, as the large size's has.

    At the small size only 6 of the 100 documents are submitted: the queue listed 6 documents
    there against a full page of 50 at the large size, so its ratio measured the page's length
    (8 times the rows to count, fetch and render), not the data's size. With the same page at
    both sizes, the ratio shows what the target is about."""
    from app.extensions import db
    from app.services.review import QUEUE_PAGE_SIZE

    documents = db.metadata.tables["documents"]
    with engine.begin() as conn:
        submitted = conn.scalar(sa.select(sa.func.count()).where(documents.c.status == "submitted"))
        missing = QUEUE_PAGE_SIZE + 1 - (submitted or 0)
        if missing <= 0:
            return
        ids = list(
            conn.scalars(
                sa.select(documents.c.id)
                .where(documents.c.status == "approved", documents.c.double_entry.is_(False))
                .order_by(documents.c.id)
                .limit(missing)
            )
        )
        conn.execute(documents.update().where(documents.c.id.in_(ids)).values(status="submitted"))
        for name in ("testDB", "register_person"):
            table = db.metadata.tables[name]
            conn.execute(
                table.update().where(table.c.document_id.in_(ids)).values(status="submitted")
            )


def add_queries_and_flags(engine: sa.Engine) -> None:
    """A query on one document in twenty, a flag on one submitted document in five."""
    from app.extensions import db

    queries, flags = db.metadata.tables["field_queries"], db.metadata.tables["quality_flags"]
    now = datetime.now(UTC)
    query_rows, flag_rows = [], []
    with engine.connect() as conn:
        users = dict(conn.execute(sa.text("SELECT username, id FROM users")).all())
        statuses = conn.execute(sa.text("SELECT id, status FROM documents ORDER BY id")).all()
        for i, status in statuses:
            if status in {"new", "assigned"}:
                continue
            clerk = users[CLERKS[i % len(CLERKS)]]
            if i % 20 == 12:
                query_rows.append(
                    {
                        "document_id": i,
                        "table_name": "testDB",
                        "row_key": "K0000001",
                        "field": "integer_column",
                        "clerk_id": clerk,
                        "status": "open" if status == "submitted" else QUERY_STATUSES[i % 3],
                        "question": "Is this 17?",
                        "value_asked": "1",
                        "answer": None,
                        "corrected_to": None,
                        "opened_by_id": users[REVIEWER],
                        "opened_at": now,
                        "answered_by_id": None,
                        "answered_at": None,
                        "closed_by_id": None,
                        "closed_at": None,
                    }
                )
            if status == "submitted" and i % 5 == 2:
                flag_rows.append(
                    {
                        "table_name": "register_person",
                        "row_key": None,
                        "document_id": i,
                        "field": "age",
                        "kind": "expected_range",
                        "message": "Age (years) 104 is above the expected maximum 100.",
                        "status": "open",
                        "raised_by_id": clerk,
                        "raised_at": now,
                        "cleared_by_id": None,
                        "cleared_at": None,
                        "resolution": None,
                        "resolution_reason": None,
                    }
                )
    with engine.begin() as conn:
        for table, rows in ((queries, query_rows), (flags, flag_rows)):
            for start in range(0, len(rows), 5_000):
                conn.execute(table.insert(), rows[start : start + 5_000])


def empty_all(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM field_queries")
    empty(engine)


def reviewed_document(engine: sa.Engine) -> int:
    """A submitted document in the middle of the queue that has a query and a flag."""
    with engine.connect() as conn:
        ids = conn.execute(
            sa.text(
                "SELECT d.id FROM documents d WHERE d.status = 'submitted' AND EXISTS "
                "(SELECT 1 FROM field_queries q WHERE q.document_id = d.id) AND EXISTS "
                "(SELECT 1 FROM quality_flags f WHERE f.document_id = d.id) ORDER BY d.id"
            )
        ).all()
    if not ids:
        raise RuntimeError("no submitted document with a query and a flag")
    return ids[len(ids) // 2][0]


def time_page(
    page: Page,
    client: Any,
    log: StatementLog,
    run: str,
    requests: int,
    cpu: dict[tuple[str, str], float],
) -> None:
    """Median wall ms, CPU ms and SQL execute ms of `requests` GETs, after warm-up."""
    walls, cpus, sql = [], [], []
    for attempt in range(WARMUP_REQUESTS + requests):
        log.entries.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(page.path)
        wall, used = time.perf_counter() - started, time.process_time() - cpu_started
        if response.status_code != 200 or page.marker not in response.get_data(as_text=True):
            raise RuntimeError(f"GET {page.path} answered {response.status_code}")
        if attempt >= WARMUP_REQUESTS:
            walls.append(wall)
            cpus.append(used)
            sql.append(sum(d for *_, d in log.entries))
    page.ms[run] = statistics.median(walls) * 1000
    page.sql_ms[run] = statistics.median(sql) * 1000
    cpu[(page.label, run)] = statistics.median(cpus) * 1000
    # the fastest request too: on a loaded machine the median carries the waits for a CPU
    cpu[(page.label, f"{run} fastest")] = (
        min(c + (q if SERVER_SQL else 0.0) for c, q in zip(cpus, sql, strict=True)) * 1000
    )
    page.queries[run] = len(log.entries)
    page.slowest[run] = sorted(
        ((d * 1000, s, p) for s, p, d in log.entries), reverse=True, key=lambda item: item[0]
    )[:3]


def bench_backend(
    backend: str, args: argparse.Namespace, scratch: Path
) -> tuple[list[Page], list[str], dict[tuple[str, str], float]]:
    from app.extensions import db

    global SERVER_SQL
    SERVER_SQL = backend != "sqlite"
    url = database_url(backend, args, scratch)
    users = prepare_database(
        url, scratch, {REVIEWER: "reviewer", ADMIN: "admin"} | dict.fromkeys(CLERKS, "clerk")
    )
    app = portal_app(url, scratch)
    with app.app_context():
        engine = db.engine
    log, runs = StatementLog(engine), []
    pages: dict[str, Page] = {}
    cpu: dict[tuple[str, str], float] = {}
    try:
        client = logged_in(app, REVIEWER)
        for size in args.sizes:
            empty_all(engine)
            started = time.perf_counter()
            fill(engine, size, users, datetime.now(UTC))
            fill_the_queues_first_page(engine)
            add_queries_and_flags(engine)
            print(
                f"  {backend}: {size.label} loaded in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            runs.append(size.label)  # (the running counts are not read by these pages)
            document_id = reviewed_document(engine)
            # the same page objects at both sizes (the document differs: its path is updated)
            timed = [
                ("review queue", "/review/", "</table>"),
                ("review page", f"/review/documents/{document_id}", "Queries"),
            ]
            for label, path, marker in timed:
                page = pages.setdefault(label, Page(label, path, marker))
                page.path = path
                time_page(page, client, log, size.label, args.requests, cpu)
        show_slowest(engine, list(pages.values()), runs[1:], args.explain)
    finally:
        empty_all(engine)
        engine.dispose()
    return list(pages.values()), runs, cpu


def report(
    backend: str, pages: list[Page], runs: list[str], cpu: dict[tuple[str, str], float]
) -> bool:
    small, rows, all_met = runs[0], [], True

    def cost(page: Page, run: str) -> float:
        return cpu[(page.label, run)] + (page.sql_ms[run] if backend != "sqlite" else 0.0)

    for run in runs[1:]:
        for page in pages:
            ratio = cost(page, run) / cost(page, small)
            met = ratio <= TARGET_RATIO and page.queries[run] == page.queries[small]
            all_met &= met
            fastest = cpu[(page.label, f"{run} fastest")] / cpu[(page.label, f"{small} fastest")]
            rows.append(
                [
                    backend,
                    page.label,
                    run,
                    page.ms[small],
                    page.ms[run],
                    f"{page.ms[run] / page.ms[small]:.2f}x",
                    cost(page, small),
                    cost(page, run),
                    f"{ratio:.2f}x",
                    f"{fastest:.2f}x",
                    page.sql_ms[small],
                    page.sql_ms[run],
                    f"{page.queries[small]} / {page.queries[run]}",
                    "met" if met else "MISSED",
                ]
            )
    print(f"\nsmall = {small}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print_table(
        [
            "backend",
            "page",
            "large",
            "wall ms small",
            "wall ms large",
            "wall ratio",
            "cost ms small",
            "cost ms large",
            "cost ratio",
            "fastest ratio",
            "SQL exec ms small",
            "SQL exec ms large",
            "queries",
            f"cost <= {TARGET_RATIO:g}x, same count",
        ],
        rows,
    )
    print(
        f"{backend}: {'every page within' if all_met else 'NOT every page within'} "
        f"{TARGET_RATIO:g}x with a fixed number of queries\n"
    )
    return all_met


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench review", description=__doc__.split("\n\n")[0]
    )
    add_common_arguments(parser)
    parser.set_defaults(
        backend="sqlite",
        mysql_url=os.environ.get("BENCH_REVIEW_MYSQL_URL") or f"{DEFAULT_MYSQL_URL}_review",
    )
    parser.add_argument(
        "--requests", type=int, help="timed requests per page and size (default 200; --quick 20)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the query plans of the slowest statements"
    )
    args = parser.parse_args(argv)
    args.sizes = [SMALL, QUICK_LARGE if args.quick else LARGE]
    args.requests = args.requests or (20 if args.quick else 200)
    return args


def ensure_mysql_database(url: str) -> None:
    """Create the bench's own MariaDB database when missing (the test user may create
    portal_test_* databases); a server that does not answer is left to run_on_backends."""
    target = sa.engine.make_url(url)
    engine = sa.create_engine(target.set(database=""))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE IF NOT EXISTS `{target.database}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    except sa.exc.SQLAlchemyError:
        pass
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.backend in {"mysql", "all"}:
        ensure_mysql_database(args.mysql_url)
    print(
        f"Review page and review queue at {args.sizes[0].label} and {args.sizes[1].label}: "
        f"median of {args.requests} requests (after {WARMUP_REQUESTS} warm-up) through the "
        "Flask test client, in ms.\n"
    )
    results, failed = run_on_backends(args, "review", bench_backend)
    for backend, (pages, runs, cpu) in results:
        failed |= not report(backend, pages, runs, cpu)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
