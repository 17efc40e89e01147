"""A data freeze of 1,000,000 rows against `flask export` of the same rows to CSV.

    python -m bench.freeze                  # 1,000,000 approved testDB rows, SQLite + MariaDB
    python -m bench freeze --quick --backend sqlite
    python -m bench.freeze --rows 200000

`flask freeze create NAME` (one snapshot transaction, its rows counted for the progress, then
streamed from a server-side cursor into a ZIP on disk, sha256 of every file, the archive copied
into the document storage, the freezes row written) beside `flask export testDB --status
approved --with-provenance --output FILE` (the same rows and columns, to CSV, the same text as
the freeze's but for the export's formula guard), each in its own process, so the peak
resident memory (ru_maxrss via os.wait4, through the export benchmark's launcher) and the wall
time belong to that run alone. A plain `flask export testDB` runs first (warming the database's
cache; timed for information), then freeze and export take turns for --rounds rounds and the
best time of each counts (the machine's other load varies by tens of percent between runs).
Goals: the freeze's peak under 150 MB, and no slower than the export. On MariaDB an existing
database holding exactly the seeded rows is reused (seeding a million rows takes minutes).

What differs between the two besides the archive: the freeze asks the database for each row's
finished CSV line (app/services/freeze_csv.py) where the export has the driver hand every value
to Python and the csv module format it. On MySQL / MariaDB the freeze then takes about half the
export's time and the database server does more of the work; on SQLite (in the same process)
about 0.85x.

The MariaDB database (default portal_test_bench_freeze, $BENCH_FREEZE_MYSQL_URL) is emptied
and refilled, its freezes too; nothing else is touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from bench.export_import import Run, measured, prepare, scratch, seed

DEFAULT_MYSQL_URL = (
    "mysql+pymysql://portal_test:portal_test_pw@127.0.0.1:3306/portal_test_bench_freeze"
)
MEMORY_GOAL_MB = 150
GOAL_ROWS = 1_000_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.freeze", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="approved testDB rows (default 1,000,000; --quick: 20,000)",
    )
    parser.add_argument("--backend", choices=["sqlite", "mysql", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of each command, alternating; the best counts (default 2)",
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("BENCH_FREEZE_MYSQL_URL") or DEFAULT_MYSQL_URL,
        help="MariaDB database this benchmark may empty",
    )
    args, _unknown = parser.parse_known_args(argv)
    args.rows = args.rows or (20_000 if args.quick else GOAL_ROWS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "mysql"] if args.backend == "all" else [args.backend]
    results: list[tuple[str, Run, Run, Run]] = []
    with scratch() as folder:
        for backend in backends:
            url = f"sqlite:///{folder / 'bench.db'}" if backend == "sqlite" else args.mysql_url
            if backend == "mysql" and seeded_already(url, args.rows):
                print(f"{backend}: {args.rows:,} approved rows there already", flush=True)
                forget_freezes(url)
            else:
                reason = prepare(url, folder)
                if reason:
                    print(f"{backend}: skipped ({reason})", flush=True)
                    continue
                print(f"{backend}: seeding {args.rows:,} approved rows ...", flush=True)
                seed(url, args.rows)
                approve_all(url)
            results.append((backend, *measure(url, folder, args.rows, args.rounds)))
    report(args, results)
    missed = [
        b
        for b, freeze, export, _plain in results
        if freeze.peak_mb >= MEMORY_GOAL_MB
        or (args.rows >= GOAL_ROWS and freeze.seconds > export.seconds)
    ]
    return 1 if missed or not results else 0


def approve_all(url: str) -> None:
    """Approve every row and forget earlier freezes."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE testDB SET status = 'approved'"))
    finally:
        engine.dispose()
    forget_freezes(url)


def forget_freezes(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM freezes"))
            conn.execute(sa.text("DELETE FROM freeze_jobs"))
    finally:
        engine.dispose()


def seeded_already(url: str, rows: int) -> bool:
    """The MariaDB database holds exactly the rows a previous run seeded (seeding a million
    rows there takes minutes), at the head revision."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            counts = conn.execute(
                sa.text("SELECT COUNT(*), SUM(status = 'approved') FROM testDB")
            ).one()
            conn.execute(sa.text("SELECT 1 FROM freezes LIMIT 1")).all()
            return tuple(int(c or 0) for c in counts) == (rows, rows)
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def measure(url: str, folder: Path, rows: int, rounds: int) -> tuple[Run, Run, Run]:
    """The best of `rounds` runs of each command, run in turn (freeze, export, freeze, ...),
    after one plain export that warms the database's cache for both."""
    documents = folder / "documents"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DOCUMENT_STORAGE": str(documents),
        "FLASK_APP": "flask_backend_with_aws",
        "FLASK_SKIP_DOTENV": "1",
        "LOG_LEVEL": "WARNING",
        "APP_ENV": "development",
    }
    env.pop("DATABASE_READ_URL", None)
    flask = [sys.executable, "-m", "flask"]
    csv_file = folder / "export.csv"
    print("  flask export (own columns, for information; warms the cache) ...", flush=True)
    plain = measured([*flask, "export", "testDB", "--output", str(csv_file)], csv_file, env)
    freezes: list[Run] = []
    exports: list[Run] = []
    for round_number in range(1, rounds + 1):
        name = f"bench-{int(time.time())}-{round_number}"
        print(f"  round {round_number}: flask freeze create of {rows:,} rows ...", flush=True)
        freeze = measured([*flask, "freeze", "create", name], folder, env)
        archives = list((documents / "freezes").glob("*.zip"))
        freeze.output_mb = archives[-1].stat().st_size / 1_048_576
        verify(flask, name, env)
        for archive in archives:
            archive.unlink()
        freezes.append(freeze)
        print(
            f"  round {round_number}: flask export --status approved --with-provenance ...",
            flush=True,
        )
        export = measured(
            [
                *flask,
                "export",
                "testDB",
                "--status",
                "approved",
                "--with-provenance",
                "--output",
                str(csv_file),
            ],
            csv_file,
            env,
        )
        lines = sum(1 for _ in csv_file.open("rb"))
        if lines != rows + 1:
            raise RuntimeError(f"expected {rows + 1} lines in the export, got {lines}")
        exports.append(export)
        print(
            f"    freeze {freeze.seconds:.1f} s / {freeze.peak_mb:.0f} MB, export "
            f"{export.seconds:.1f} s / {export.peak_mb:.0f} MB",
            flush=True,
        )
    csv_file.unlink()
    best = min(freezes, key=lambda r: r.seconds), min(exports, key=lambda r: r.seconds)
    best[0].peak_mb = max(r.peak_mb for r in freezes)  # memory: the worst round
    return best[0], best[1], plain


def verify(flask: list[str], name: str, env: dict[str, str]) -> None:
    """The archive the benchmark made must verify (untimed)."""
    result = subprocess.run(
        [*flask, "freeze", "verify", name], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise RuntimeError(f"the benchmark's freeze does not verify:\n{result.stdout[-2000:]}")


def report(args: argparse.Namespace, results: list[tuple[str, Run, Run, Run]]) -> None:
    print(
        f"\nFreeze of {args.rows:,} approved testDB rows against flask export of the same "
        f"rows (each in its own process, start-up included; best of {args.rounds} rounds, "
        "peak memory the worst)"
    )
    print(
        f"{'backend':<8} {'method':<48} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12} "
        f"{'file MB':>8}"
    )
    for backend, freeze, export, plain in results:
        for label, run in (
            ("flask freeze create (zip, sha256, stored)", freeze),
            ("flask export --status approved --with-provenance", export),
            ("(flask export, own columns: for information)", plain),
        ):
            print(
                f"{backend:<8} {label:<48} {run.seconds:>8.1f} "
                f"{args.rows / run.seconds:>10,.0f} {run.peak_mb:>12.0f} "
                f"{run.output_mb:>8.1f}"
            )
        memory = "ok" if freeze.peak_mb < MEMORY_GOAL_MB else "MISSED"
        speed = "ok" if freeze.seconds <= export.seconds else "MISSED"
        if args.rows < GOAL_ROWS:
            speed += f" (judged at {GOAL_ROWS:,} rows)"
        print(
            f"{'':<8} {'freeze / export (same rows and columns)':<48} "
            f"{freeze.seconds / export.seconds:>7.2f}x {'':>10} "
            f"{freeze.peak_mb / export.peak_mb:>11.2f}x   "
            f"memory < {MEMORY_GOAL_MB} MB: {memory}; no slower than export: {speed}"
        )


if __name__ == "__main__":
    sys.exit(main())
