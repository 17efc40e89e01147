"""List page: the pages a reviewer opens on testDB, at 10,000 and at 1,000,000 rows.

Each page is timed through the Flask test client (the whole request: login check, query,
template) as the median of N requests after two warm-up requests, with its SQL statements counted
and timed. Target: every page at the large size within 3x its time at the small size. Pages that
miss get their query plans printed (or all pages with --explain).

    python -m bench list_page [--backend sqlite|mysql|all] [--quick] [--sizes 10000,1000000]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from bench._support import (
    BENCH_PASSWORD,
    ENTRY_TABLE,
    add_common_arguments,
    database_url,
    empty_entry_table,
    portal_app,
    prepare_database,
    print_table,
    run_on_backends,
    stop_cleanly_on_sigterm,
)

TARGET_RATIO = 3.0
REVIEWER = "bench_reviewer"
CLERKS = tuple(f"bench_lister{i}" for i in range(4))
BASE_TIME = datetime(2020, 1, 1)
CHUNK = 50_000
KEY_DIGITS = 8  # keys K00000000, K00000001, ...: room for 100 million rows
WARMUP_REQUESTS = 2
EDIT_LINK = re.compile(r"/data/[^\"]+/edit\?key=")


def status_of(i: int) -> str:
    """70 % entered, 20 % submitted, 5 % returned, 5 % approved (as SQL in mysql_fill)."""
    slot = i % 20
    return (
        "entered"
        if slot < 14
        else "submitted"
        if slot < 18
        else ("returned" if slot == 18 else "approved")
    )


def generated_rows(start: int, stop: int, clerk_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
    for i in range(start, stop):
        at = BASE_TIME + timedelta(seconds=i)
        yield {
            "string_column": f"K{i:0{KEY_DIGITS}d}",
            "integer_column": i % 1000,
            "date_column": at,
            "entered_by_id": clerk_ids[i % len(clerk_ids)],
            "status": status_of(i),
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }


def fill(
    engine: sa.Engine, table: sa.Table, start: int, stop: int, clerk_ids: Sequence[int]
) -> None:
    """Add rows start..stop-1 of the generated data set."""
    if engine.dialect.name in {"mysql", "mariadb"} and has_sequence_engine(engine):
        mysql_fill(engine, start, stop, clerk_ids)
        return
    rows = generated_rows(start, stop, clerk_ids)
    with engine.begin() as conn:  # SQLite: one transaction, executemany in chunks
        while chunk := [row for _, row in zip(range(CHUNK), rows, strict=False)]:
            conn.execute(table.insert(), chunk)


def has_sequence_engine(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT seq FROM seq_1_to_1")
    except sa.exc.DBAPIError:
        return False
    return True


def mysql_fill(engine: sa.Engine, start: int, stop: int, clerk_ids: Sequence[int]) -> None:
    """The same rows as generated_rows, made by MariaDB itself from its SEQUENCE engine."""
    clerks = ", ".join(str(int(i)) for i in clerk_ids)
    for low in range(start, stop, 100_000):  # seq_A_to_B counts from A to B inclusive
        high = min(stop, low + 100_000) - 1
        with engine.begin() as conn:
            conn.exec_driver_sql(f"""
                INSERT INTO `{ENTRY_TABLE}` (string_column, integer_column, date_column,
                    entered_by_id, status, version, created_at, updated_at)
                SELECT CONCAT('K', LPAD(seq, {KEY_DIGITS}, '0')), MOD(seq, 1000), at,
                    ELT(MOD(seq, {len(clerk_ids)}) + 1, {clerks}),
                    CASE WHEN MOD(seq, 20) < 14 THEN 'entered'
                         WHEN MOD(seq, 20) < 18 THEN 'submitted'
                         WHEN MOD(seq, 20) = 18 THEN 'returned' ELSE 'approved' END,
                    1, at, at
                FROM (SELECT seq, TIMESTAMP'{BASE_TIME:%Y-%m-%d %H:%M:%S}' + INTERVAL seq SECOND
                      AS at FROM seq_{low}_to_{high}) AS numbers""")


class StatementLog:
    """Every SQL statement the app's engine runs, with its parameters and duration."""

    def __init__(self, engine: sa.Engine) -> None:
        self.entries: list[tuple[str, Any, float]] = []
        self._started: list[float] = []
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any
    ) -> None:
        elapsed = time.perf_counter() - self._started.pop()
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's explicit BEGIN
            self.entries.append((statement, parameters, elapsed))

    def clear(self) -> None:
        self.entries.clear()


@dataclass
class Page:
    label: str
    path: str
    role: str = "reviewer"
    required: bool = True  # one of the pages the target is about (the others are extra)
    expect_rows: bool = True
    timings: dict[int, float] = field(default_factory=dict)  # size -> median ms
    sql_ms: dict[int, float] = field(default_factory=dict)
    queries: dict[int, int] = field(default_factory=dict)
    statements: list[tuple[str, Any]] = field(default_factory=list)  # at the largest size

    def ratio(self, small: int, large: int) -> float:
        return self.timings[large] / self.timings[small]


def pages_to_time(clerk_ids: Sequence[int]) -> list[Page]:
    base = f"/data/{ENTRY_TABLE}"
    return [
        Page("first page", base),
        Page("page 2", f"{base}?page=2"),
        Page("status=submitted", f"{base}?status=submitted"),
        Page("status=approved, page 2", f"{base}?status=approved&page=2", required=False),
        Page("clerk filter", f"{base}?clerk={clerk_ids[1]}", required=False),
        Page("newest first (updated_at)", f"{base}?sort=updated_at&dir=desc", required=False),
        Page("key search", f"{base}?q=K00001", required=False),
        Page("key search, no match", f"{base}?q=Z", required=False, expect_rows=False),
        Page("clerk: own rows", base, role="clerk", required=False),
        Page("clerk: new-row form", f"{base}/new", role="clerk", required=False),
    ]


def logged_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": BENCH_PASSWORD})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login as {username} answered {response.status_code}")
    return client


def time_pages(
    log: StatementLog, clients: dict[str, FlaskClient], pages: list[Page], size: int, requests: int
) -> None:
    """Request the pages in turn, round after round, so a burst of load elsewhere on the
    machine hits every page alike rather than one page's whole series."""
    durations: dict[str, list[float]] = {page.label: [] for page in pages}
    sql_times: dict[str, list[float]] = {page.label: [] for page in pages}
    for attempt in range(WARMUP_REQUESTS + requests):
        for page in pages:
            log.clear()
            started = time.perf_counter()
            response = clients[page.role].get(page.path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"GET {page.path} answered {response.status_code}")
            if (
                attempt == 0
                and page.expect_rows
                and not EDIT_LINK.search(response.get_data(as_text=True))
            ):
                raise RuntimeError(f"GET {page.path} listed no rows")
            if attempt >= WARMUP_REQUESTS:
                durations[page.label].append(elapsed)
                sql_times[page.label].append(sum(d for _, _, d in log.entries))
            page.queries[size] = len(log.entries)
            page.statements = [(s, p) for s, p, _ in log.entries]
    for page in pages:
        page.timings[size] = statistics.median(durations[page.label]) * 1000
        page.sql_ms[size] = statistics.median(sql_times[page.label]) * 1000


def explain(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        result = conn.exec_driver_sql(prefix + statement, parameters)
        columns = list(result.keys())
        rows = result.fetchall()
    if engine.dialect.name == "sqlite":
        return [f"    {row[-1]}" for row in rows]
    keep = [c for c in ("table", "type", "key", "rows", "Extra") if c in columns]
    return ["    " + "  ".join(f"{c}={row[columns.index(c)]}" for c in keep) for row in rows]


def print_plans(
    engine: sa.Engine, pages: list[Page], small: int, large: int, every_page: bool
) -> None:
    for page in pages:
        if not every_page and page.ratio(small, large) <= TARGET_RATIO:
            continue
        print(f"  plan of {page.label!r} ({page.path}, {page.role}) at {large:,} rows:")
        for statement, parameters in page.statements:
            if ENTRY_TABLE.lower() not in statement.lower():
                continue
            print("    " + " ".join(statement.split())[:300])
            print("\n".join(explain(engine, statement, parameters)))


def bench_backend(backend: str, args: argparse.Namespace, scratch: Path) -> list[Page]:
    from app.extensions import db
    from app.models import TestDB

    url = database_url(backend, args, scratch)
    ids = prepare_database(url, scratch, {REVIEWER: "reviewer"} | dict.fromkeys(CLERKS, "clerk"))
    clerk_ids = [ids[name] for name in CLERKS]
    empty_entry_table(url)
    app = portal_app(url, scratch)
    with app.app_context():
        engine = db.engine
    # Requests run outside any app context of ours, so each gets (and ends) its own session.
    log = StatementLog(engine)
    pages = pages_to_time(clerk_ids)
    try:
        clients = {"reviewer": logged_in(app, REVIEWER), "clerk": logged_in(app, CLERKS[0])}
        filled = 0
        for size in args.sizes:
            started = time.perf_counter()
            fill(engine, TestDB.__table__, filled, size, clerk_ids)
            if engine.dialect.name in {"mysql", "mariadb"}:
                # What InnoDB's automatic statistics recalculation does soon after anyway.
                with engine.connect() as conn:
                    conn.exec_driver_sql(f"ANALYZE TABLE `{ENTRY_TABLE}`").fetchall()
            print(
                f"  {backend}: {size:,} rows ({size - filled:,} added in "
                f"{time.perf_counter() - started:.1f} s)",
                flush=True,
            )
            filled = size
            time_pages(log, clients, pages, size, args.requests)
        print_plans(engine, pages, args.sizes[0], args.sizes[-1], args.explain)
    finally:
        engine.dispose()
        empty_entry_table(url)
    return pages


def report(backend: str, pages: list[Page], sizes: Sequence[int]) -> bool:
    small, large = sizes[0], sizes[-1]
    rows, all_met = [], True
    for page in pages:
        ratio = page.ratio(small, large)
        met = ratio <= TARGET_RATIO
        all_met &= met or not page.required
        rows.append(
            [
                backend,
                page.label + ("" if page.required else " (extra)"),
                page.role,
                page.timings[small],
                page.timings[large],
                f"{ratio:.2f}x",
                page.sql_ms[large],
                page.queries[large],
                "met" if met else "MISSED",
            ]
        )
    print_table(
        [
            "backend",
            "page",
            "as",
            f"ms @ {small:,}",
            f"ms @ {large:,}",
            "ratio",
            f"SQL ms @ {large:,}",
            "queries",
            f"<= {TARGET_RATIO:g}x",
        ],
        rows,
    )
    print(
        f"{backend}: required pages {'all within' if all_met else 'NOT all within'} "
        f"{TARGET_RATIO:g}x\n"
    )
    return all_met


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench list_page", description=__doc__.split("\n\n")[0]
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--sizes",
        help="row counts, ascending, comma-separated (default 10000,1000000; --quick 2000,100000)",
    )
    parser.add_argument(
        "--requests", type=int, help="timed requests per page and size (default 20; --quick 5)"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the query plans of every page, not only of the slow ones",
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or ("2000,100000" if args.quick else "10000,1000000")
    args.sizes = sorted(int(s.replace("_", "")) for s in sizes.split(","))
    if len(args.sizes) < 2 or args.sizes[-1] >= 10**KEY_DIGITS:
        parser.error(f"--sizes needs two or more row counts below {10**KEY_DIGITS:,}")
    args.requests = args.requests or (5 if args.quick else 20)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_cleanly_on_sigterm()
    print(
        f"List page of {ENTRY_TABLE} at {' and '.join(f'{s:,}' for s in args.sizes)} rows: "
        f"median of {args.requests} requests (after {WARMUP_REQUESTS} warm-up) through the "
        "Flask test client, in ms.\n"
    )
    results, failed = run_on_backends(args, "list", bench_backend)
    for backend, pages in results:
        report(backend, pages, args.sizes)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
