"""Export and import of testDB, measured against what a researcher would do without the portal.

    python -m bench.export_import                 # 1,000,000 rows out, 100,000 in; SQLite + MariaDB
    python -m bench.export_import --rows 50000 --import-rows 10000 --backend sqlite
    python -m bench export_import --quick

Export: `flask export testDB --output FILE` (streamed from a server-side cursor) beside
`pandas.read_sql(...)` + `DataFrame.to_csv(...)` of the same query, each in its own process, so
the peak resident memory (getrusage's ru_maxrss of that process, via os.wait4) and the wall time
belong to that run alone. Goals: peak under 100 MB, and no slower than pandas.

Import: `import_file` (every row validated by the entry form, duplicates checked, one
transaction, audited batch) beside a bare SQLAlchemy Core executemany of the same typed rows.

The MariaDB database (default portal_test_bench_exim, which the portal_test user may create) is
emptied and refilled; nothing else is touched. Self-contained: it shares no code with the other
benchmarks.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MYSQL_URL = (
    "mysql+pymysql://portal_test:portal_test_pw@127.0.0.1:3306/portal_test_bench_exim"
)
SEED_CHUNK = 10_000
MEMORY_GOAL_MB = 100
GOAL_ROWS = 1_000_000  # the size the speed goal is stated for
# What both sides read: the export's columns in the export's order (sorted by key).
QUERY = "SELECT string_column, integer_column, date_column FROM testDB ORDER BY string_column"
# For information only: what `pd.read_sql("SELECT ... FROM testDB")` costs without the sort.
UNSORTED_QUERY = QUERY.removesuffix(" ORDER BY string_column")
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_pid, status, usage = os.wait4(process.pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"seconds": seconds, "maxrss_kb": usage.ru_maxrss}))
sys.exit(code)
"""
PANDAS_SCRIPT = """
import sys
import pandas as pd
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
frame = pd.read_sql(sa.text(sys.argv[3]), engine)
frame.to_csv(sys.argv[2], index=False)
"""


@dataclass
class Run:
    """One measured process."""

    seconds: float
    peak_mb: float
    output_mb: float = 0.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.export_import", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="testDB rows to export (default 1,000,000; --quick: 20,000)",
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=None,
        help="rows to import (default 100,000; --quick: 5,000)",
    )
    parser.add_argument("--backend", choices=["sqlite", "mysql", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("BENCH_EXIM_MYSQL_URL") or DEFAULT_MYSQL_URL,
        help="MariaDB database this benchmark may empty",
    )
    args, _unknown = parser.parse_known_args(argv)  # `python -m bench` passes shared options
    args.rows = args.rows or (20_000 if args.quick else 1_000_000)
    args.import_rows = args.import_rows or (5_000 if args.quick else 100_000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "mysql"] if args.backend == "all" else [args.backend]
    exports: list[tuple[str, Run, Run, Run]] = []
    imports: list[tuple[str, float, float]] = []
    with scratch() as folder:
        for backend in backends:
            url = f"sqlite:///{folder / 'bench.db'}" if backend == "sqlite" else args.mysql_url
            reason = prepare(url, folder)
            if reason:
                print(f"{backend}: skipped ({reason})", flush=True)
                continue
            print(f"{backend}: seeding {args.rows:,} rows ...", flush=True)
            seed(url, args.rows)
            exports.append((backend, *measure_export(url, folder, args.rows)))
            imports.append((backend, *measure_import(url, folder, args.import_rows)))
    print_report(args, exports, imports)
    missed = [
        b
        for b, ours, pandas, _unsorted in exports
        if ours.peak_mb >= MEMORY_GOAL_MB
        or (args.rows >= GOAL_ROWS and ours.seconds > pandas.seconds)
    ]
    return 1 if missed or not exports else 0


# --- the database ----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="portal-bench-exim-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def portal_app(url: str, folder: Path):
    from app import create_app

    return create_app(
        {"DATABASE_URL": url, "DOCUMENT_STORAGE": str(folder / "documents"), "LOG_LEVEL": "WARNING"}
    )


def prepare(url: str, folder: Path) -> str | None:
    """Create (MariaDB) and migrate the database, empty testDB; why not, when it fails."""
    if make_url(url).get_backend_name() != "sqlite":
        try:
            create_database(url)
        except sa.exc.SQLAlchemyError as exc:
            return str(exc.orig or exc).splitlines()[0]
    from flask_migrate import upgrade

    from app.extensions import db

    app = portal_app(url, folder)
    with app.app_context():
        upgrade()
        empty(db.engine)
        db.engine.dispose()
    return None


def create_database(url: str) -> None:
    target = make_url(url)
    engine = sa.create_engine(target.set(database=""))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE IF NOT EXISTS `{target.database}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        engine.dispose()


def empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name in {"mysql", "mariadb"}:
            conn.exec_driver_sql("TRUNCATE TABLE `testDB`")
        else:
            conn.exec_driver_sql('DELETE FROM "testDB"')
        conn.exec_driver_sql("DELETE FROM audit_events WHERE table_name = 'testDB'")
        conn.exec_driver_sql("DELETE FROM import_batches WHERE table_name = 'testDB'")


def shuffled(count: int) -> list[int]:
    """Row numbers in a fixed random order: clerks do not type keys sorted."""
    numbers = list(range(count))
    random.Random(7).shuffle(numbers)
    return numbers


def row(n: int, prefix: str) -> dict[str, object]:
    """Typed testDB values of row n: a key, a 32-bit number, a time with microseconds."""
    return {
        "string_column": f"{prefix}{n:08d}",
        "integer_column": (n * 7_919) % 2**31 - 2**30,
        "date_column": dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
        + dt.timedelta(seconds=n * 97, microseconds=n % 1_000_000),
    }


def seed(url: str, count: int) -> None:
    from app.models import TestDB

    engine = sa.create_engine(url)
    now = dt.datetime.now(dt.UTC)
    provenance = {"status": "entered", "version": 1, "created_at": now, "updated_at": now}
    numbers = shuffled(count)
    try:
        with engine.begin() as conn:
            for start in range(0, count, SEED_CHUNK):
                conn.execute(
                    sa.insert(TestDB.__table__),
                    [{**row(n, "K"), **provenance} for n in numbers[start : start + SEED_CHUNK]],
                )
    finally:
        engine.dispose()


# --- export ----------------------------------------------------------------------------------


def measured(command: list[str], output: Path, env: dict[str, str] | None = None) -> Run:
    """Run command in its own process; its wall time and its own peak RSS.

    Through a small launcher: Linux hands a process the peak RSS of the one it was forked
    from, so a child of this (large) benchmark process would report our memory, not its own.
    """
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"{command[:4]} failed:\n{result.stderr[-2000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return Run(figures["seconds"], figures["maxrss_kb"] / 1024, output.stat().st_size / 1_048_576)


def measure_export(url: str, folder: Path, rows: int) -> tuple[Run, Run, Run]:
    ours_file, pandas_file = folder / "flask-export.csv", folder / "pandas.csv"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FLASK_APP": "flask_backend_with_aws",
        "FLASK_SKIP_DOTENV": "1",
        "LOG_LEVEL": "WARNING",
        "APP_ENV": "development",
    }
    print(f"  flask export of {rows:,} rows ...", flush=True)
    ours = measured(
        [sys.executable, "-m", "flask", "export", "testDB", "--output", str(ours_file)],
        ours_file,
        env,
    )
    print("  pandas.read_sql + to_csv ...", flush=True)
    pandas = measured(
        [sys.executable, "-c", PANDAS_SCRIPT, url, str(pandas_file), QUERY], pandas_file
    )
    lines = [sum(1 for _ in path.open("rb")) for path in (ours_file, pandas_file)]
    if lines[0] != rows + 1 or lines[1] != rows + 1:
        raise RuntimeError(f"expected {rows + 1} lines, got {lines}")
    print("  pandas.read_sql + to_csv, unsorted ...", flush=True)
    unsorted = measured(
        [sys.executable, "-c", PANDAS_SCRIPT, url, str(pandas_file), UNSORTED_QUERY], pandas_file
    )
    for path in (ours_file, pandas_file):
        path.unlink()
    return ours, pandas, unsorted


# --- import ----------------------------------------------------------------------------------


def write_import_file(path: Path, count: int) -> list[dict[str, object]]:
    rows = [row(n, "I") for n in shuffled(count)]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["string_column", "integer_column", "date_column"])
        for r in rows:
            writer.writerow([r["string_column"], r["integer_column"], r["date_column"].isoformat()])
    return rows


def measure_import(url: str, folder: Path, count: int) -> tuple[float, float]:
    """Seconds of import_file and of a bare Core executemany, each into an empty testDB."""
    from app.entry_tables.registry import get_entry_table
    from app.extensions import db
    from app.models import TestDB
    from app.services.imports import import_file

    path = folder / "import.csv"
    rows = write_import_file(path, count)
    app = portal_app(url, folder)
    with app.app_context():
        empty(db.engine)
        print(f"  flask import of {count:,} rows ...", flush=True)
        started = time.perf_counter()
        with path.open("rb") as source:
            report = import_file(get_entry_table("testDB"), source, file_name=path.name)
        ours = time.perf_counter() - started
        if not report.ok or report.rows_imported != count:
            raise RuntimeError("\n".join(report.lines()[:20]))
        empty(db.engine)
        print(f"  Core executemany of {count:,} rows ...", flush=True)
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(sa.insert(TestDB.__table__), rows)
        bare = time.perf_counter() - started
        empty(db.engine)
        db.engine.dispose()
    return ours, bare


# --- the report ------------------------------------------------------------------------------


def print_report(
    args: argparse.Namespace,
    exports: list[tuple[str, Run, Run, Run]],
    imports: list[tuple[str, float, float]],
) -> None:
    print(
        f"\nExport of {args.rows:,} testDB rows to CSV (each in its own process, start-up "
        "included; both sorted by key)"
    )
    print(
        f"{'backend':<8} {'method':<40} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12} "
        f"{'file MB':>8}"
    )
    for backend, ours, pandas, unsorted in exports:
        for name, run in (
            ("flask export (streamed)", ours),
            ("pandas read_sql + to_csv", pandas),
            ("(pandas, no ORDER BY: for information)", unsorted),
        ):
            print(
                f"{backend:<8} {name:<40} {run.seconds:>8.1f} "
                f"{args.rows / run.seconds:>10,.0f} {run.peak_mb:>12.0f} "
                f"{run.output_mb:>8.1f}"
            )
        memory = "ok" if ours.peak_mb < MEMORY_GOAL_MB else "MISSED"
        speed = "ok" if ours.seconds <= pandas.seconds else "MISSED"
        if args.rows < GOAL_ROWS:
            speed += f" (judged at {GOAL_ROWS:,} rows: start-up weighs more below)"
        print(
            f"{'':<8} {'flask / pandas (same rows and order)':<40} "
            f"{ours.seconds / pandas.seconds:>7.2f}x {'':>10} "
            f"{ours.peak_mb / pandas.peak_mb:>11.2f}x   "
            f"memory < {MEMORY_GOAL_MB} MB: {memory}; no slower than pandas: {speed}"
        )
    print(f"\nImport of {args.import_rows:,} rows (a CSV file) into an empty testDB, in process")
    print(f"{'backend':<8} {'method':<44} {'seconds':>8} {'rows/s':>10}")
    for backend, ours, bare in imports:
        print(
            f"{backend:<8} {'flask import (validated, checked, audited)':<44} {ours:>8.1f} "
            f"{args.import_rows / ours:>10,.0f}"
        )
        print(
            f"{backend:<8} {'bare Core executemany, same rows':<44} {bare:>8.1f} "
            f"{args.import_rows / bare:>10,.0f}"
        )
        print(f"{'':<8} {'flask import / executemany (time)':<44} {ours / bare:>7.2f}x")


if __name__ == "__main__":
    sys.exit(main())
