"""What the benchmarks share: options, scratch folders, a migrated database with users, a
gunicorn server that is always stopped, and plain-text tables."""

from __future__ import annotations

import argparse
import contextlib
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from http.client import HTTPConnection
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MYSQL_URL = "mysql+pymysql://portal_test:portal_test_pw@127.0.0.1:3306/portal_test_bench"
BENCH_PASSWORD = "bench-password-not-secret"
ENTRY_TABLE = "testDB"
BACKENDS = ("sqlite", "mysql")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=[*BACKENDS, "all"],
        default="all",
        help="database to run against (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("BENCH_MYSQL_URL") or DEFAULT_MYSQL_URL,
        help="MariaDB/MySQL database the benchmark may empty "
        "(default: $BENCH_MYSQL_URL or the portal_test_bench database)",
    )


def shipped_gunicorn_settings() -> dict[str, Any]:
    """The worker and thread counts the portal is deployed with (gunicorn.conf.py, which reads
    WEB_CONCURRENCY / GUNICORN_THREADS), used for every app a benchmark serves."""
    return runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))


def stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so servers are stopped and scratch folders removed."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def chosen_backends(args: argparse.Namespace) -> list[str]:
    return list(BACKENDS) if args.backend == "all" else [args.backend]


def database_url(backend: str, args: argparse.Namespace, scratch: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{scratch / 'bench.db'}"
    return args.mysql_url


def server_unreachable(url: str) -> str | None:
    """Why the database at url cannot be used, or None when it answers. A missing database is
    created first (scripts/setup-test-databases.sh's user may create `portal_test_*`)."""
    create_missing_database(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as exc:
        return str(exc.orig or exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


def create_missing_database(url: str) -> None:
    """CREATE DATABASE IF NOT EXISTS for a MariaDB/MySQL URL (utf8mb4, as the app expects);
    any failure is left for the connection check to report."""
    target = sa.make_url(url)
    if not target.get_backend_name().startswith("mysql") or not target.database:
        return
    server = sa.create_engine(target.set(database=""), poolclass=sa.pool.NullPool)
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE IF NOT EXISTS `{target.database}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    except sa.exc.SQLAlchemyError:
        pass
    finally:
        server.dispose()


@contextlib.contextmanager
def scratch_dir(name: str) -> Iterator[Path]:
    """A temporary folder, removed afterwards whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=f"portal-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_on_backends(
    args: argparse.Namespace, label: str, bench: Callable[[str, argparse.Namespace, Path], T]
) -> tuple[list[tuple[str, T]], bool]:
    """Run bench(backend, args, scratch) on each chosen backend whose database answers.

    Returns the (backend, result) pairs and whether a backend asked for by name was skipped."""
    results: list[tuple[str, T]] = []
    failed = False
    for backend in chosen_backends(args):
        with scratch_dir(f"{label}-{backend}") as scratch:
            url = database_url(backend, args, scratch)
            problem = server_unreachable(url) if backend != "sqlite" else None
            if problem:
                print(f"{backend}: skipped, the database is not reachable ({problem})\n")
                failed |= args.backend == backend
                continue
            results.append((backend, bench(backend, args, scratch)))
    return results, failed


def portal_app(url: str, scratch: Path, **config: object) -> Flask:
    """The portal in its testing configuration, on url (for setup and in-process timing)."""
    from app import create_app

    return create_app(
        {
            "DATABASE_URL": url,
            "DOCUMENT_STORAGE": str(scratch / "documents"),
            "LOG_LEVEL": "WARNING",
            **config,
        }
    )


def prepare_database(url: str, scratch: Path, users: dict[str, str]) -> dict[str, int]:
    """Migrate url to head and make sure each user (name -> role) exists; returns their ids."""
    from flask_migrate import upgrade

    from app.database import drop_all_tables
    from app.extensions import db
    from app.services import accounts

    app = portal_app(url, scratch)
    with app.app_context():
        try:
            upgrade()
        except SystemExit:  # Flask-Migrate exits on errors, e.g. a revision this checkout lacks
            print("  the bench database's schema is not this checkout's: recreating it")
            drop_all_tables(db.engine)
            upgrade()
        ids = {}
        for name, role in users.items():
            user = accounts.find_user(name) or accounts.create_user(name, BENCH_PASSWORD, role)
            ids[name] = user.id
        db.engine.dispose()
    return ids


def empty_entry_table(url: str) -> None:
    """Remove testDB's rows and what saving them left behind (audit events, drafts)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name in {"mysql", "mariadb"}:
                conn.exec_driver_sql(f"TRUNCATE TABLE `{ENTRY_TABLE}`")  # 1M rows: instant
            else:
                conn.exec_driver_sql(f'DELETE FROM "{ENTRY_TABLE}"')
            conn.execute(
                sa.text("DELETE FROM audit_events WHERE table_name = :t"), {"t": ENTRY_TABLE}
            )
            conn.execute(sa.text("DELETE FROM drafts WHERE table_name = :t"), {"t": ENTRY_TABLE})
    finally:
        engine.dispose()


def count_rows(url: str, table: str = ENTRY_TABLE) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(table)
            return conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quoted}").scalar_one()
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    """A gunicorn process group on a loopback port, stopped (the whole group) on exit."""

    def __init__(
        self,
        target: str,
        env: dict[str, str],
        *,
        workers: int,
        threads: int,
        scratch: Path,
        name: str,
        health_path: str = "/healthz",
    ) -> None:
        self.target, self.workers, self.threads = target, workers, threads
        self.env = {k: v for k, v in os.environ.items() if k != "GUNICORN_CMD_ARGS"} | env
        self.scratch, self.name, self.health_path = scratch, name, health_path
        self.port = 0
        self.log_path = scratch / f"gunicorn-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        empty_config = self.scratch / "gunicorn-empty.conf.py"
        empty_config.touch()  # not ./gunicorn.conf.py: both apps get exactly these settings
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(empty_config),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--worker-class",
            "gthread",
            "--keep-alive",
            "30",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            self.target,
        ]

    def __enter__(self) -> GunicornServer:
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.name}) exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                conn = HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.health_path)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(
            f"gunicorn ({self.name}) not healthy in {timeout:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the group we started: master + workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes (Linux /proc)."""
        if self.process is None:
            return 0.0
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # a process that just ended
            if int(fields[2]) == self.process.pid:  # process group id: master and workers
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (fraction 0.5 = median)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table: text left-aligned, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
