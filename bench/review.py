"""The review page (a document beside its rows, flags and queries) and the review queue: page
time and SQL statements at 100 documents / 1,000 entry rows against 100,000 documents /
1,000,000 entry rows.

The data is bench.dashboard's (documents with assignments, one in ten double-entered, rows
70/30 over testDB and register_person, the audit trail, flags), plus a field query on one
document in twenty (open, answered or closed) and a flag on one submitted document in five, so
that the reviewed document carries a query and a flag at both sizes. At the small size some
approved documents are submitted again, so that the queue lists a full page there as at the
large size (else 6 documents against 50: the ratio would measure the page's length, not the
data's size).

Each size has its own database; both are loaded first, then each page is requested through the
Flask test client (login check, queries, template) at one size and the other in turn, N times
after warm-up, its statements counted: the two sizes are measured under the same load (other
processes, and the database server's own work after a million-row load), not minutes apart.
Measured per request (medians): wall time; the process's CPU time (SQLite runs in the process,
so this is all its work); the statements' execute time. The page's cost is the CPU time, plus
for MariaDB the statements' time on the server: wall time on a shared machine moves with
whatever else runs (the load average is printed). Target: the large size's cost within 1.5x of
the small's, with the same number of statements.

    python -m bench review [--backend sqlite|mysql|all] [--mysql-url URL] [--quick]
                           [--requests N] [--explain]

SQLite by default; --backend mysql (or all) also runs on --mysql-url (default
$BENCH_REVIEW_MYSQL_URL or the portal_test_bench_review database) for the large size and on
the same name with the small size's document count appended (`..._100`) for the small; it
empties both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._support import (
    DEFAULT_MYSQL_URL,
    add_common_arguments,
    create_missing_database,
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
    Size,
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


PAGES = (("review queue", "</table>"), ("review page", "Queries"))  # label, text answered


@dataclass
class Site:
    """One size's data in its own database, the portal on it, a reviewer logged in."""

    label: str
    engine: sa.Engine
    client: Any
    log: StatementLog
    paths: dict[str, str]  # page label -> path


@dataclass
class Samples:
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)


def size_url(backend: str, args: argparse.Namespace, scratch: Path, size: Size) -> str:
    """Each size in its own database: the largest in the one named, the smaller ones beside it."""
    if backend == "sqlite":
        return f"sqlite:///{scratch / f'bench-{size.documents}.db'}"
    if size == args.sizes[-1]:
        return str(args.mysql_url)
    url = sa.engine.make_url(args.mysql_url)
    return url.set(database=f"{url.database}_{size.documents}").render_as_string(
        hide_password=False
    )


def load_site(backend: str, args: argparse.Namespace, scratch: Path, size: Size) -> Site:
    """Migrate and fill one size's database; the portal on it with the reviewer logged in."""
    from app.extensions import db

    url = size_url(backend, args, scratch, size)
    users = prepare_database(
        url, scratch, {REVIEWER: "reviewer", ADMIN: "admin"} | dict.fromkeys(CLERKS, "clerk")
    )
    app = portal_app(url, scratch)
    with app.app_context():
        engine = db.engine
    empty_all(engine)
    started = time.perf_counter()
    fill(engine, size, users, datetime.now(UTC))
    fill_the_queues_first_page(engine)
    add_queries_and_flags(engine)
    print(f"  {backend}: {size.label} loaded in {time.perf_counter() - started:.0f} s", flush=True)
    paths = {
        "review queue": "/review/",
        "review page": f"/review/documents/{reviewed_document(engine)}",
    }
    return Site(size.label, engine, logged_in(app, REVIEWER), StatementLog(engine), paths)


def time_pages(
    sites: list[Site], pages: dict[str, Page], requests: int, cpu: dict[tuple[str, str], float]
) -> None:
    """Each page at each size in turn, request by request, after warm-up: the sizes are timed
    under the same load (the machine's, and the database server's own background work after
    the large load), not one after the other. Medians of wall ms, CPU ms and SQL execute ms."""
    samples = {(label, site.label): Samples() for label in pages for site in sites}
    for attempt in range(WARMUP_REQUESTS + requests):
        for label, page in pages.items():
            for site in sites:
                site.log.entries.clear()
                started, cpu_started = time.perf_counter(), time.process_time()
                response = site.client.get(site.paths[label])
                wall, used = time.perf_counter() - started, time.process_time() - cpu_started
                if response.status_code != 200 or page.marker not in response.get_data(
                    as_text=True
                ):
                    raise RuntimeError(f"GET {site.paths[label]} answered {response.status_code}")
                if attempt >= WARMUP_REQUESTS:
                    taken = samples[(label, site.label)]
                    taken.walls.append(wall)
                    taken.cpus.append(used)
                    taken.sql.append(sum(d for *_, d in site.log.entries))
                page.queries[site.label] = len(site.log.entries)
                page.slowest[site.label] = sorted(
                    ((d * 1000, s, p) for s, p, d in site.log.entries),
                    reverse=True,
                    key=lambda item: item[0],
                )[:3]
    for (label, run), taken in samples.items():
        page = pages[label]
        page.ms[run] = statistics.median(taken.walls) * 1000
        page.sql_ms[run] = statistics.median(taken.sql) * 1000
        cpu[(label, run)] = statistics.median(taken.cpus) * 1000
        # the fastest request too: on a loaded machine the median carries the waits for a CPU
        cpu[(label, f"{run} fastest")] = (
            min(c + (q if SERVER_SQL else 0.0) for c, q in zip(taken.cpus, taken.sql, strict=True))
            * 1000
        )


def bench_backend(
    backend: str, args: argparse.Namespace, scratch: Path
) -> tuple[list[Page], list[str], dict[tuple[str, str], float]]:
    global SERVER_SQL
    SERVER_SQL = backend != "sqlite"
    sites: list[Site] = []
    pages = {label: Page(label, "", marker) for label, marker in PAGES}
    cpu: dict[tuple[str, str], float] = {}
    try:
        sites.extend(load_site(backend, args, scratch, size) for size in args.sizes)
        # (the running counts are not read by these pages: no recount)
        time_pages(sites, pages, args.requests, cpu)
        show_slowest(
            sites[-1].engine, list(pages.values()), [s.label for s in sites[1:]], args.explain
        )
    finally:
        for site in sites:
            empty_all(site.engine)
            site.engine.dispose()
    return list(pages.values()), [s.label for s in sites], cpu


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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.backend in {"mysql", "all"}:
        for size in args.sizes:
            create_missing_database(size_url("mysql", args, Path(), size))
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
