"""Soak under faults: N clerks save rows for a fixed time while the database road breaks.

The portal runs under gunicorn as shipped (`gunicorn -c gunicorn.conf.py`, APP_ENV=production,
default workers and threads and DATABASE_*_TIMEOUT settings), connected to MariaDB through the
TCP proxy of bench/_faults.py. Each clerk is a thread with its own keep-alive connection: it
logs in, opens its document, and saves rows in place (the htmx POST a browser sends, with the
form's one-time token). An answer that is not "Saved" is handled as a clerk would: after
"nothing was saved" or "may have been saved" (or no answer at all) the same form is sent again
a second later, until it is saved. Faults run on a schedule, repeated every 75 s:

    every 5 s        the proxy kills every open connection
    at 10 s          the next 3 COMMITs reach the server and their answers are lost
    15-25 s          the proxy is down (connections refused)
    30-45 s          the proxy is frozen (connections held, nothing forwarded)
    47 s             a COMMIT's answer is lost and the proxy goes down for 3 s at once
    52 s             kill -9 of one gunicorn worker
    55-67 s          testDB is locked (LOCK TABLES ... WRITE, on its own connection)

The kills go on during the freeze, so no frozen connection lasts more than 5 s here; the read
timeout itself is tested in tests/test_db_faults.py.

At the end every acknowledged row is looked for by SELECT. Printed: saves acknowledged, rows
found, lost (acknowledged, not found), phantoms (a save answered "nothing was saved" that was
stored all the same), answers by status, bare gunicorn error pages (no request id), and the
p50/p99 of a save request and of a save until acknowledged.

    python -m bench soak [--clerks 8] [--seconds 150] [--no-faults] [--mysql-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench._faults import TcpProxy
from bench._http import BenchClient, Response, scan
from bench._support import (
    BENCH_PASSWORD,
    PROJECT_ROOT,
    add_common_arguments,
    free_port,
    percentile,
    portal_app,
    prepare_database,
    print_table,
    scratch_dir,
    server_unreachable,
    stop_cleanly_on_sigterm,
)

HX = {"HX-Request": "true"}
SCHEDULE_PERIOD = 75.0
RETRY_PAUSE = 1.0
SETTLE_SECONDS = 40.0  # after the timed part: faults off, every clerk finishes its last row


@dataclass
class Ledger:
    """What the clerks were told, per row key."""

    acknowledged: dict[str, float] = field(default_factory=dict)  # key -> seconds to ack
    answers: dict[str, list[str]] = field(default_factory=dict)  # key -> outcomes in order
    statuses: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)  # the document page, loaded again
    bare: int = 0
    request_seconds: list[float] = field(default_factory=list)
    phantoms: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Clerk:
    """One person saving rows into their document's testDB panel."""

    def __init__(
        self,
        port: int,
        name: str,
        document_id: int,
        ledger: Ledger,
        stop: threading.Event,
        deadline: Callable[[], float],
    ) -> None:
        self.port, self.name, self.document_id = port, name, document_id
        self.ledger, self.stop, self.deadline = ledger, stop, deadline
        self.client = BenchClient(port)
        self.fields: dict[str, str] = {}
        self.action = ""

    def run(self) -> None:
        self._until_ok(self._log_in)
        self._until_ok(self._open_document)
        number = 0
        while not self.stop.is_set():
            number += 1
            self._save_row(f"soak-{self.name}-{number}")

    def _until_ok(self, step: Callable[[], bool]) -> None:
        while not step() and time.monotonic() < self.deadline():
            time.sleep(RETRY_PAUSE)

    def _log_in(self) -> bool:
        try:
            page = self.client.request("GET", "/login")
            form = next((f for f in scan(page.text()).forms if f.method == "post"), None)
            if form is None:
                return False
            answer = self.client.request(
                "POST", "/login", form.fields | {"username": self.name, "password": BENCH_PASSWORD}
            )
        except OSError:
            self.client.conn.close()
            return False
        return answer.status in {302, 303}

    def _open_document(self) -> bool:
        try:
            page = self.client.request("GET", f"/work/documents/{self.document_id}")
        except OSError as exc:
            self.client.conn.close()
            with self.ledger.lock:
                self.ledger.pages[f"no answer ({type(exc).__name__})"] += 1
            return False
        with self.ledger.lock:
            self.ledger.pages[_label(page.status, page.text())] += 1
            if page.status >= 500 and "Request id" not in page.text():
                self.ledger.bare += 1
        return page.status == 200 and self._take_form(page)

    def _take_form(self, page: Response) -> bool:
        form = next((f for f in scan(page.text()).forms if "/data/testDB/new" in f.action), None)
        if form is None or "form_token" not in form.fields:
            return False
        self.fields, self.action = dict(form.fields), form.action
        return True

    def _save_row(self, key: str) -> None:
        fields = self.fields | {"string_column": key, "integer_column": "1"}
        started = time.perf_counter()
        while True:
            outcome, answer = self._send(fields)
            with self.ledger.lock:
                told = self.ledger.answers.setdefault(key, [])
                if outcome == "again" and told and all(t == "not saved" for t in told):
                    self.ledger.phantoms.append(key)  # told "nothing was saved", yet stored
                told.append(outcome)
                if outcome in {"saved", "again"}:
                    self.ledger.acknowledged[key] = time.perf_counter() - started
            if outcome in {"saved", "again"}:
                if answer is None or not self._take_form(answer):
                    self._until_ok(self._open_document)
                return
            if time.monotonic() > self.deadline():
                return  # the run is over: this row stays unacknowledged
            time.sleep(RETRY_PAUSE)

    def _send(self, fields: dict[str, str]) -> tuple[str, Response | None]:
        started = time.perf_counter()
        reconnects = self.client.reconnects
        try:
            answer = self.client.request("POST", self.action, fields, HX)
        except OSError as exc:
            self.client.conn.close()
            self._count(f"no answer ({type(exc).__name__})", started)
            return "unknown", None
        text = answer.text()
        if self.client.reconnects > reconnects:
            # BenchClient sent the POST again on a new connection: the first send (a worker
            # killed, say) may have been stored with no answer, like a browser's lost reply.
            self._count("no answer (sent again)", started)
            return "unknown", None
        self._count(_label(answer.status, text), started)
        if answer.status == 200 and "stored once" in text:
            return "again", answer
        if answer.status == 200 and "Saved Test values row" in text:
            return "saved", answer
        if answer.status >= 500 and "Request id" not in text:
            with self.ledger.lock:
                self.ledger.bare += 1
        if answer.status == 503 and "nothing was saved" in text:
            return "not saved", answer
        if answer.status == 503 and "Your change was saved" in text:
            return "saved", None
        return "unknown", answer  # "may have been saved", 5xx, a lost reply: send it again

    def _count(self, status: str, started: float) -> None:
        with self.ledger.lock:
            self.ledger.statuses[status] += 1
            self.ledger.request_seconds.append(time.perf_counter() - started)


def _label(status: int, text: str) -> str:
    """The status, and for a 503 what it said about the save."""
    if status != 503:
        return str(status)
    for phrase in (
        "may have been saved",
        "is busy",
        "nothing was saved",
        "Your change was saved",
        "could not be loaded",
    ):
        if phrase in text:
            return f"503 {phrase}"
    return "503 (other)"


class Faults:
    """The fault schedule, run in a thread until stopped; then everything is healed."""

    def __init__(
        self,
        proxy: TcpProxy,
        server: subprocess.Popen[bytes],
        direct_url: str,
        stop: threading.Event,
    ) -> None:
        self.proxy, self.server, self.stop = proxy, server, stop
        self.engine = sa.create_engine(direct_url)
        self.log: Counter[str] = Counter()
        self.timeline: list[tuple[float, str]] = []
        self.started = time.monotonic()

    def run(self) -> None:
        started = self.started = time.monotonic()
        done: set[tuple[int, int]] = set()
        events = [
            (10, "drop"),
            (15, "down"),
            (25, "up"),
            (30, "freeze"),
            (45, "thaw"),
            (47, "drop-down"),
            (50, "up"),
            (52, "kill -9"),
            (55, "lock"),
            (67, "unlock"),
        ]
        locker = None
        last_kill = 0.0
        while not self.stop.wait(0.2):
            elapsed = time.monotonic() - started
            period, offset = divmod(elapsed, SCHEDULE_PERIOD)
            for index, (at, name) in enumerate(events):
                if offset >= at and (int(period), index) not in done:
                    done.add((int(period), index))
                    locker = self._do(name, locker)
            if elapsed - last_kill >= 5:
                last_kill = elapsed
                if self.proxy.kill():
                    self.log["kill connections"] += 1
        self.proxy.thaw()
        self.proxy.up()
        self.proxy.commits_to_drop = 0
        self._do("unlock", locker)
        self.engine.dispose()

    def _do(self, name: str, locker: sa.Connection | None) -> sa.Connection | None:
        self.log[name] += 1
        self.timeline.append((time.monotonic() - self.started, name))
        try:
            return self._inject(name, locker)
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            self.log[f"{name} failed ({type(exc).__name__})"] += 1
            return locker

    def _inject(self, name: str, locker: sa.Connection | None) -> sa.Connection | None:
        if name == "drop":
            self.proxy.drop_after_commit(3)
        elif name == "drop-down":
            self.proxy.drop_after_commit(1, then=self.proxy.down)
        elif name in {"down", "up", "freeze", "thaw"}:
            getattr(self.proxy, name)()
        elif name == "kill -9":
            workers = gunicorn_workers(self.server.pid)
            if workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(workers[0], signal.SIGKILL)
        elif name == "lock":
            locker = self.engine.connect()
            locker.exec_driver_sql("LOCK TABLES testDB WRITE")
            self.timeline.append((time.monotonic() - self.started, "locked"))
        elif name == "unlock" and locker is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                locker.exec_driver_sql("UNLOCK TABLES")
            locker.close()
            locker = None
        return locker


def gunicorn_workers(master: int) -> list[int]:
    """The worker processes of the gunicorn master we started (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master:
            found.append(int(stat.parent.name))
    return sorted(found)


def serve_as_shipped(proxied_url: str, scratch: Path, port: int) -> subprocess.Popen[bytes]:
    """gunicorn -c gunicorn.conf.py, APP_ENV=production, as `make serve` and the image run it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "GUNICORN_THREADS"}
        and not k.startswith("DATABASE_")
    }
    env |= {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": proxied_url,
        "DOCUMENT_STORAGE": str(scratch / "documents"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "warning",
    }
    log = open(scratch / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "flask_backend_with_aws:application",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: see {scratch / 'gunicorn.log'}")
        with contextlib.suppress(OSError):
            conn = HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        time.sleep(0.3)
    stop_server(process)
    raise RuntimeError("gunicorn did not become healthy within 60 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # the group we started: master and workers
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def prepare(url: str, scratch: Path, clerks: int) -> list[tuple[str, int]]:
    """Clerks soak1..N, each with one document assigned; testDB emptied of soak rows."""
    from app.documents.samples import pdf_document
    from app.extensions import db
    from app.models import User
    from app.services import documents as docs
    from app.services.uploads import IncomingFile
    from app.storage import get_storage

    names = [f"soak{i + 1}" for i in range(clerks)]
    prepare_database(url, scratch, dict.fromkeys(names, "clerk"))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM testDB WHERE string_column LIKE 'soak-%%'")
        conn.exec_driver_sql("DELETE FROM drafts WHERE table_name = 'testDB'")
    engine.dispose()
    app = portal_app(url, scratch)
    pairs = []
    with app.app_context():
        for name in names:
            user = db.session.scalar(sa.select(User).where(User.username == name))
            content = pdf_document(f"Soak {name} {secrets.token_hex(4)}", ["Roe, Richard"])
            result = docs.add_file(
                IncomingFile(f"{name}.pdf", content), get_storage(), actor=None, max_bytes=1_048_576
            )
            assert result.ok, result.error
            docs.assign([result.document], [user], actor=None)
            pairs.append((name, result.document.id))
        db.engine.dispose()
    return pairs


def stored_keys(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(
                conn.exec_driver_sql(
                    "SELECT string_column FROM testDB WHERE string_column LIKE 'soak-%%'"
                ).scalars()
            )
    finally:
        engine.dispose()


def soak(args: argparse.Namespace, scratch: Path) -> int:
    url = args.mysql_url
    clerks = prepare(url, scratch, args.clerks)
    direct = make_url(url)
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 3306).start()
    proxied = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    port = free_port()
    server = serve_as_shipped(proxied, scratch, port)
    ledger, stop, stop_faults = Ledger(), threading.Event(), threading.Event()
    ends = [time.monotonic() + args.seconds + SETTLE_SECONDS]
    threads = [
        threading.Thread(
            target=Clerk(port, name, doc, ledger, stop, lambda: ends[0]).run, daemon=True
        )
        for name, doc in clerks
    ]
    faults = Faults(proxy, server, url, stop_faults)
    fault_thread = threading.Thread(target=faults.run, daemon=True)
    try:
        for thread in threads:
            thread.start()
        if not args.no_faults:
            fault_thread.start()
        print(
            f"{args.clerks} clerks for {args.seconds} s against gunicorn as shipped "
            f"(port {port}), faults {'off' if args.no_faults else 'on'}",
            flush=True,
        )
        time.sleep(args.seconds)
        stop_faults.set()
        if fault_thread.is_alive():
            fault_thread.join(timeout=30)
        stop.set()  # each clerk finishes the row it is on (faults healed) and stops
        for thread in threads:
            thread.join(timeout=SETTLE_SECONDS + 10)
    finally:
        stop.set()
        stop_faults.set()
        stop_server(server)
        proxy.stop()
    if faults.timeline:
        print(
            "fault timeline (s): " + ", ".join(f"{at:.0f} {name}" for at, name in faults.timeline)
        )
    return report(ledger, stored_keys(url), faults.log, args)


def report(ledger: Ledger, found: set[str], faults: Counter[str], args: argparse.Namespace) -> int:
    acknowledged = set(ledger.acknowledged)
    lost = sorted(acknowledged - found)
    told_not_saved = {
        k for k, told in ledger.answers.items() if told and all(t == "not saved" for t in told)
    }
    phantoms = sorted(set(ledger.phantoms) | (told_not_saved & found))
    unresolved = {k for k in ledger.answers if k not in acknowledged} - told_not_saved
    until_ack = sorted(ledger.acknowledged.values())
    requests = sorted(ledger.request_seconds)
    print()
    print_table(
        ["figure", "value"],
        [
            ("saves acknowledged", len(acknowledged)),
            ("rows found (SELECT)", len(found)),
            ("lost (acknowledged, not found)", len(lost)),
            ("phantoms (told not saved, stored)", len(phantoms)),
            (
                "unresolved at the end (found / not found)",
                f"{len(unresolved & found)} / {len(unresolved - found)}",
            ),
            ("bare gunicorn error pages", ledger.bare),
            (
                "save request p50 / p99 ms",
                f"{percentile(requests, 0.5) * 1000:.0f} / {percentile(requests, 0.99) * 1000:.0f}",
            ),
            (
                "save until acknowledged p50 / p99 ms",
                (
                    f"{percentile(until_ack, 0.5) * 1000:.0f} / "
                    f"{percentile(until_ack, 0.99) * 1000:.0f}"
                ),
            ),
        ],
    )
    print("\nanswers to saves by status:")
    print_table(["status", "count"], sorted(ledger.statuses.items()))
    print(
        "\nthe document page (loaded at the start and again after an answer without a fresh form):"
    )
    print_table(["status", "count"], sorted(ledger.pages.items()))
    if faults:
        print("\nfaults injected:")
        print_table(["fault", "times"], sorted(faults.items()))
    if lost:
        print(f"LOST: {lost[:20]}")
    for key in phantoms[:20]:
        print(f"PHANTOM {key}: answers {ledger.answers.get(key)}")
    ok = not lost and not phantoms and ledger.bare == 0 and bool(acknowledged)
    print(f"\n{'ok' if ok else 'FAILED'}: 0 lost, 0 phantoms and no bare error page required")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("--clerks", type=int, default=8, help="simulated clerks (default 8)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="timed part (default 150; 40 with --quick)"
    )
    parser.add_argument("--no-faults", action="store_true", help="the same load, no faults")
    args = parser.parse_args(argv)
    if args.backend == "sqlite":
        print("soak: the faults are on the network road to a server; nothing to do on sqlite")
        return 0
    args.seconds = args.seconds or (40.0 if args.quick else 150.0)
    problem = server_unreachable(args.mysql_url)
    if problem:
        print(f"soak: skipped, MariaDB/MySQL is not reachable ({problem})")
        return 1 if args.backend == "mysql" else 0
    stop_cleanly_on_sigterm()
    with scratch_dir("soak") as scratch:
        return soak(args, scratch)
