"""Save throughput: the portal's real save against a bare Flask-SQLAlchemy insert.

Both apps run under gunicorn with the same settings, against the same database, in the same run.
Each client is a process with one keep-alive connection and its own cookie session: for the
portal it logs in (CSRF on, production configuration behind a pretend HTTPS proxy) and then
POSTs /data/testDB/new with a fresh one-time form token each time; for the baseline
(bench/bare_app.py) it POSTs the same three fields to /insert. A save counts when the answer is
303; anything else is reported as an error. Target: portal rows/s >= 0.6x bare.

    python -m bench entry_save [--backend sqlite|mysql|all] [--quick] [--requests N]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import runpy
import secrets
import signal
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.client import HTTPConnection, RemoteDisconnected
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench._support import (
    BENCH_PASSWORD,
    ENTRY_TABLE,
    PROJECT_ROOT,
    GunicornServer,
    add_common_arguments,
    count_rows,
    database_url,
    empty_entry_table,
    percentile,
    prepare_database,
    print_table,
    run_on_backends,
    stop_cleanly_on_sigterm,
)

TARGET_RATIO = 0.6
DATE_TEXT = "2024-05-17T10:30"  # accepted by the portal's form and by datetime.fromisoformat
SAVE_PATH = f"/data/{ENTRY_TABLE}/new"
CSRF_INPUT = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
RESULT_TIMEOUT_SECONDS = 900


class BenchClient:
    """One keep-alive connection to a loopback server, with a minimal cookie jar."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.conn = HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = headers or {}
        self.cookies: dict[str, str] = {}
        self.keep_cookies = True
        self.reconnects = 0

    def request(self, method: str, path: str,
                fields: dict[str, Any] | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body, headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the server closed an idle keep-alive connection
                self.reconnects += 1
                if attempt == 2:
                    raise
        if self.keep_cookies:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
        return response.status, data

    def close(self) -> None:
        self.conn.close()


def csrf_token(page: bytes) -> str:
    match = CSRF_INPUT.search(page.decode("utf-8", "replace"))
    if not match:
        raise RuntimeError("no csrf_token input on the page")
    return match.group(1) or match.group(2)


def portal_saver(port: int, username: str) -> tuple[BenchClient, Callable[[str, int], Any]]:
    """Log in as username; return the client and a function that saves one row."""
    referer = f"https://127.0.0.1:{port}{SAVE_PATH}"
    # PROXY_FIX_COUNT=1 + X-Forwarded-Proto: the app sees HTTPS, so its Secure cookies and its
    # strict same-origin Referer check for CSRF are both in play, as behind a load balancer.
    client = BenchClient(port, {"X-Forwarded-Proto": "https", "Referer": referer})
    _, page = client.request("GET", "/login")
    status, _ = client.request("POST", "/login", {
        "username": username, "password": BENCH_PASSWORD, "csrf_token": csrf_token(page)})
    if status not in (302, 303):
        raise RuntimeError(f"login as {username} answered {status}")
    status, page = client.request("GET", SAVE_PATH)  # a login starts a session: new CSRF token
    if status != 200:
        raise RuntimeError(f"GET {SAVE_PATH} answered {status}")
    token = csrf_token(page)
    # Each save flashes a message into the session cookie, which the browser's GET of the next
    # form would consume. We skip that GET, so we keep the logged-in cookie rather than let
    # the flashes pile up in it (it stays valid: signed, same user, same CSRF secret).
    client.keep_cookies = False

    def save(key: str, number: int) -> tuple[int, bytes]:
        return client.request("POST", SAVE_PATH, {
            "string_column": key, "integer_column": number, "date_column": DATE_TEXT,
            "csrf_token": token, "form_token": secrets.token_urlsafe(24)})

    return client, save


def bare_saver(port: int, _username: str) -> tuple[BenchClient, Callable[[str, int], Any]]:
    client = BenchClient(port)

    def save(key: str, number: int) -> tuple[int, bytes]:
        return client.request("POST", "/insert", {
            "string_column": key, "integer_column": number, "date_column": DATE_TEXT})

    return client, save


SAVERS = {"bare": bare_saver, "portal": portal_saver}


def client_process(kind: str, port: int, username: str, index: int, warmup: int, count: int,
                   barrier: Any, results: Any) -> None:
    """One client: set up, warm up, wait for the others, then save `count` rows, timed."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's clean-up handler
    try:
        client, save = SAVERS[kind](port, username)
        for i in range(warmup):
            status, body = save(f"{kind}-w{index}-{i}", i)
            if status != 303:
                raise RuntimeError(f"warm-up save answered {status}: {snippet(body)}")
        barrier.wait(timeout=300)
        latencies, statuses, first_error = [], Counter(), None
        started = time.perf_counter()
        for i in range(count):
            sent = time.perf_counter()
            status, body = save(f"{kind}-c{index}-{i}", i)
            latencies.append(time.perf_counter() - sent)
            statuses[status] += 1
            if status != 303 and first_error is None:
                first_error = f"HTTP {status}: {snippet(body)}"
        finished = time.perf_counter()
        client.close()
        results.put({"index": index, "started": started, "finished": finished,
                     "latencies": latencies, "statuses": dict(statuses),
                     "first_error": first_error, "reconnects": client.reconnects})
    except BaseException as exc:  # report, and release the others from the barrier
        barrier.abort()
        results.put({"index": index, "crash": f"{type(exc).__name__}: {exc}"})


def snippet(body: bytes) -> str:
    text = re.sub(r"<[^>]+>", " ", body.decode("utf-8", "replace"))
    return " ".join(text.split())[:160]


@dataclass
class LoadResult:
    app: str
    saves: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reconnects: int = 0  # idle keep-alive connections the server closed (not errors)
    server_cpu_seconds: float = 0.0  # gunicorn master + workers, during the timed saves

    @property
    def cpu_ms_per_save(self) -> float:
        return self.server_cpu_seconds * 1000 / self.saves if self.saves else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.saves / self.seconds if self.seconds else 0.0

    def latency_ms(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) * 1000


def run_load(kind: str, server: GunicornServer, usernames: Sequence[str], requests: int,
             warmup: int) -> LoadResult:
    """Drive one server with one process per username; `requests` timed saves in all."""
    context = multiprocessing.get_context("fork")
    # The clients and this process: the server's CPU time is read when the timed part starts.
    barrier, results = context.Barrier(len(usernames) + 1), context.Queue()
    shares = [requests // len(usernames) + (i < requests % len(usernames))
              for i in range(len(usernames))]
    processes = [context.Process(target=client_process, daemon=True, args=(
        kind, server.port, name, i, warmup, shares[i], barrier, results))
        for i, name in enumerate(usernames)]
    for process in processes:
        process.start()
    cpu_before = cpu_after = 0.0
    try:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=300)
            cpu_before = server.cpu_seconds()
        reports = [results.get(timeout=RESULT_TIMEOUT_SECONDS) for _ in processes]
        cpu_after = server.cpu_seconds()
    except BaseException:  # interrupted: the clients stop now, not when their work is done
        for process in processes:
            process.kill()
        raise
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    result = summarize(kind, reports)
    result.server_cpu_seconds = cpu_after - cpu_before
    return result


def summarize(kind: str, reports: list[dict[str, Any]]) -> LoadResult:
    result = LoadResult(kind)
    crashed = [r["crash"] for r in reports if "crash" in r]
    result.problems += [f"client crashed: {c}" for c in crashed if "BrokenBarrier" not in c]
    finished = [r for r in reports if "crash" not in r]
    if not finished:
        return result
    statuses: Counter[int] = Counter()
    for report in finished:
        statuses.update(report["statuses"])
        result.latencies += report["latencies"]
        if report["first_error"]:
            result.problems.append(report["first_error"])
        result.reconnects += report["reconnects"]
    result.latencies.sort()
    result.saves = statuses.pop(303, 0)
    result.errors = sum(statuses.values())
    if statuses:
        result.problems.insert(0, "non-303 answers: " + ", ".join(
            f"{count} x HTTP {status}" for status, count in sorted(statuses.items())))
    result.seconds = (max(r["finished"] for r in finished)
                      - min(r["started"] for r in finished))
    return result


def portal_env(url: str, scratch: Path) -> dict[str, str]:
    """Production settings, as deployed behind one proxy; no .env value leaks in."""
    return {"APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": url,
            "DATABASE_PASSWORD": "", "DATABASE_SSL_CA": "", "PROXY_FIX_COUNT": "1",
            "DOCUMENT_STORAGE": str(scratch / "documents"), "LOG_LEVEL": "INFO"}


def bench_backend(backend: str, args: argparse.Namespace, scratch: Path) -> list[LoadResult]:
    url = database_url(backend, args, scratch)
    usernames = [f"bench_saver{i}" for i in range(args.clients)]
    prepare_database(url, scratch, dict.fromkeys(usernames, "clerk"))
    settings = {"workers": args.workers, "threads": args.threads, "scratch": scratch}
    results = []
    with GunicornServer("flask_backend_with_aws:application", portal_env(url, scratch),
                        name="portal", **settings) as portal, \
         GunicornServer("bench.bare_app:create_app()", {"DATABASE_URL": url},
                        name="bare", **settings) as bare:
        try:
            for _round in range(args.rounds):
                for kind, server in (("bare", bare), ("portal", portal)):
                    empty_entry_table(url)
                    result = run_load(kind, server, usernames, args.requests, args.warmup)
                    expected = result.saves + args.warmup * len(usernames)
                    stored = count_rows(url)
                    if stored != expected and not result.problems:
                        result.problems.append(f"{stored} rows stored, {expected} expected")
                    for problem in result.problems:
                        print(f"  [{backend} {kind}] {problem}")
                    if result.reconnects:
                        print(f"  [{backend} {kind}] {result.reconnects} reconnect(s)")
                    results.append(result)
        finally:
            empty_entry_table(url)
    return results


def report(backend: str, results: list[LoadResult]) -> tuple[float, list[object]]:
    rows = [[backend, r.app, r.saves, r.errors, r.rows_per_second, r.latency_ms(0.5),
             r.latency_ms(0.99), r.cpu_ms_per_save] for r in results]
    print_table(["backend", "app", "saves", "errors", "rows/s", "p50 ms", "p99 ms",
                 "app CPU ms/save"], rows)
    rate = {app: statistics.median(r.rows_per_second for r in results if r.app == app)
            for app in ("bare", "portal")}
    ratio = rate["portal"] / rate["bare"] if rate["bare"] else 0.0
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"{backend}: portal / bare = {rate['portal']:,.0f} / {rate['bare']:,.0f} rows/s "
          f"= {ratio:.2f}x  (target >= {TARGET_RATIO}x: {verdict})\n")
    return ratio, [backend, rate["bare"], rate["portal"], f"{ratio:.2f}x", verdict]


def shipped_gunicorn_settings() -> dict[str, Any]:
    """The worker and thread counts the portal is deployed with (gunicorn.conf.py, which reads
    WEB_CONCURRENCY / GUNICORN_THREADS), used for both apps unless --workers/--threads say."""
    return runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench entry_save",
                                     description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--requests", type=int, help="timed saves per app and round "
                        "(default 2000; --quick 300)")
    parser.add_argument("--clients", type=int, default=8, help="client processes (default 8)")
    parser.add_argument("--warmup", type=int, help="untimed saves per client first "
                        "(default 10; --quick 3)")
    shipped = shipped_gunicorn_settings()
    parser.add_argument("--workers", type=int, default=shipped["workers"],
                        help="gunicorn workers (default: gunicorn.conf.py's, "
                             f"{shipped['workers']} here)")
    parser.add_argument("--threads", type=int, default=shipped["threads"],
                        help="threads per worker (default: gunicorn.conf.py's, "
                             f"{shipped['threads']} here)")
    parser.add_argument("--rounds", type=int, help="bare/portal runs alternated; rows/s is "
                        "their median (default 3; --quick 1)")
    args = parser.parse_args(argv)
    args.requests = args.requests or (300 if args.quick else 2000)
    args.warmup = args.warmup if args.warmup is not None else (3 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_cleanly_on_sigterm()
    print(f"Save throughput: {args.requests:,} timed saves per app and round "
          f"({args.rounds} round(s), bare and portal alternately), {args.clients} "
          f"client processes (keep-alive, loopback), gunicorn --workers {args.workers} "
          f"--threads {args.threads} (gthread) for both apps, {os.cpu_count()} CPUs.\n"
          "portal = login + CSRF + validation + audit + one-time token; "
          "bare = bench/bare_app.py, one INSERT.\n")
    summary = []
    per_backend, failed = run_on_backends(args, "save", bench_backend)
    for backend, results in per_backend:
        failed |= any(r.problems for r in results)
        summary.append(report(backend, results)[1])
    if len(summary) > 1:
        print_table(["backend", "bare rows/s", "portal rows/s", "portal/bare", "target 0.6x"],
                    summary)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
