"""The clerk's save cycle as a browser makes it, beside a bare Flask app and Flask-Admin.

Per saved row each client sends every request a browser sends: the save POST to the workspace
form's action (/data/testDB/new?document=<id>, header `HX-Request: true`), the GET of the
redirect if the answer is one, every `hx-get ... hx-trigger="load"` fetch in the HTML the cycle
ends with, and every file that HTML embeds (img/iframe/embed/object outside /static/: a browser
fetches the document again on each full page load, as the portal does not let it cache
documents); the next one-time form_token is read from that HTML. Before the timed part each
client logs in as its own clerk and loads its own document's workspace page once (url_for
"workspace.document": /work/documents/<id> today). Static assets (cached by a browser) and
fetches made by scripts (a PDF.js viewer's) are not sent.

Beside it, in the same run, under gunicorn with the portal's own worker/thread counts:
- bare insert: POST /insert of bench/bare_app.py, the save alone (the reference of the retired
  entry_save benchmark, whose POST-only 0.6x target this one replaces);
- bare GET+POST: POST /form + GET of the next form (bench/bare_app.py);
- Flask-Admin: POST of /admin/testdb/new/ ("Save and Add Another", SecureForm CSRF) + GET of
  the next create form (bench/admin_app.py);
- the portal's cycle with 500 rows already on each clerk's document;
- page loads: the document page's first load (empty document, and with 500 rows) against the
  bare form page.
It also counts the keys a clerk presses per testDB row in the workspace form.

Targets: cycle rows/s >= 0.5x bare GET+POST and >= 2x Flask-Admin; the 500-row cycle within
1.2x of the empty one; the first load within 3x the bare form page (median ms). A missed
target prints what each part of the cycles involved costs. Every saved row the harness counts
is checked against SELECT COUNT(*) after each scenario.

    python -m bench clerk_cycle [--backend sqlite|mysql|all] [--quick] [--seconds S | --cycles N]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import url_for

from bench._http import REDIRECTS, BenchClient, Form, PageScan, Response, scan
from bench._load import (
    Budget,
    CycleFailed,
    LoadResult,
    Recorder,
    Workload,
    run_load,
    snippet,
)
from bench._profile import InProcessClient, profile_cycles
from bench._support import (
    BENCH_PASSWORD,
    ENTRY_TABLE,
    GunicornServer,
    add_common_arguments,
    count_rows,
    database_url,
    empty_entry_table,
    portal_app,
    prepare_database,
    print_table,
    run_on_backends,
    shipped_gunicorn_settings,
    stop_cleanly_on_sigterm,
)

TARGET_VS_BARE = 0.5
TARGET_VS_ADMIN = 2.0
TARGET_FULL_VS_EMPTY = 1.2
TARGET_FIRST_LOAD = 3.0
# A representative row as printed on a scan (keystrokes are counted from it).
SAMPLE_ROW = {
    "string_column": "REG-1902-017",
    "integer_column": "42",
    "date_column": "1902-03-05 09:00",
}
SAVE_PATH = f"/data/{ENTRY_TABLE}/new"
ADMIN_CREATE_PATH = "/admin/testdb/new/"
ADMIN_DATE = "1902-03-05 09:00:00"  # Flask-Admin's DateTimeField format
NATIVE_DATE_TYPES = {"date", "datetime-local", "time", "month", "week"}


@dataclass(frozen=True)
class Clerk:
    username: str
    user_id: int
    document_id: int
    page_path: str  # the workspace page of the document (url_for: the prefix may move)


# ---------------------------------------------------------------- the simulated people


class PortalClerk:
    """A clerk in the workspace: log in, open the document, then save rows as the browser."""

    saves_rows = True

    def __init__(self, port: int, clerk: Clerk) -> None:
        self.clerk = clerk
        self.page_path = clerk.page_path
        origin = f"https://127.0.0.1:{port}"
        # PROXY_FIX_COUNT=1 + X-Forwarded-Proto: the app sees HTTPS, so its Secure cookies and
        # its strict same-origin Referer check for CSRF are in play, as behind a load balancer.
        self.recorder = Recorder(
            BenchClient(port, {"X-Forwarded-Proto": "https", "Referer": origin + self.page_path})
        )
        # What htmx sends with a save, and workspace.js's header for a panel that lists the
        # latest rows (the answer is then the fresh form plus the new row, not the whole panel).
        self.htmx = {
            "HX-Request": "true",
            "HX-Current-URL": origin + self.page_path,
            "X-Panel-Rows": "latest",
        }
        self.form: Form | None = None

    def start(self) -> None:
        log_in(self.recorder, self.clerk.username)
        page = scan(
            expect_page(
                self.recorder.send("first load GET", "GET", self.page_path), "the document page"
            ).text()
        )
        lazy = page.on_view.get(f"panel-body-{ENTRY_TABLE}")
        if page.form_posting_to(SAVE_PATH) is None and lazy:
            # The page opens on another table: the clerk picks testDB's tab, and the browser
            # fetches that panel (it comes when its tab is first shown).
            answer = self.recorder.send("tab panel GET", "GET", lazy, None, self.htmx)
            page = scan(expect_page(answer, "the testDB panel").text())
        self.form = entry_form(page, None)

    def cycle(self, key: str) -> None:
        assert self.form is not None
        fields = self.form.fields | row_values(key)
        answer = self.recorder.send("save POST", "POST", self.form.action, fields, self.htmx)
        if answer.status in REDIRECTS and answer.location:
            answer = self.recorder.send("redirect GET", "GET", answer.location)
        page = scan(expect_page(answer, "the save").text())
        fetch_what_loads(self.recorder, page, self.htmx)
        self.form = entry_form(page, self.form)


class BareForm:
    """The bare app's form: POST it, follow the redirect to the next (empty) form."""

    saves_rows = True

    def __init__(self, port: int, _clerk: Clerk) -> None:
        self.recorder = Recorder(BenchClient(port))

    def start(self) -> None:
        self.recorder.send("form GET", "GET", "/form")

    def cycle(self, key: str) -> None:
        answer = self.recorder.send("save POST", "POST", "/form", row_values(key))
        follow_to_form(self.recorder, answer, "/form")


class BareInsert:
    """The save alone: POST /insert, the redirect not followed."""

    saves_rows = True

    def __init__(self, port: int, _clerk: Clerk) -> None:
        self.recorder = Recorder(BenchClient(port))

    def start(self) -> None:
        pass

    def cycle(self, key: str) -> None:
        answer = self.recorder.send("insert POST", "POST", "/insert", row_values(key))
        if answer.status != 303:
            raise CycleFailed(f"insert answered {answer.status}: {snippet(answer.body)}")


class AdminCreate:
    """Flask-Admin's create form with "Save and Add Another", as a clerk would enter rows."""

    saves_rows = True

    def __init__(self, port: int, _clerk: Clerk) -> None:
        self.recorder = Recorder(BenchClient(port))
        self.form: Form | None = None

    def start(self) -> None:
        page = expect_page(self.recorder.send("form GET", "GET", ADMIN_CREATE_PATH), "the form")
        self.form = first_form(scan(page.text()), ADMIN_CREATE_PATH)

    def cycle(self, key: str) -> None:
        assert self.form is not None
        fields = (
            self.form.fields
            | row_values(key)
            | {"date_column": ADMIN_DATE, "_add_another": "Save and Add Another"}
        )
        answer = self.recorder.send("save POST", "POST", self.form.action, fields)
        self.form = follow_to_form(self.recorder, answer, ADMIN_CREATE_PATH)


class PortalPageLoad:
    """The document page's first load, again and again (a GET changes nothing)."""

    saves_rows = False

    def __init__(self, port: int, clerk: Clerk) -> None:
        self.clerk = PortalClerk(port, clerk)
        self.recorder = self.clerk.recorder

    def start(self) -> None:
        log_in(self.recorder, self.clerk.clerk.username)

    def cycle(self, _key: str) -> None:
        expect_page(
            self.recorder.send("document page GET", "GET", self.clerk.page_path),
            "the document page",
        )


class BarePageLoad:
    saves_rows = False

    def __init__(self, port: int, _clerk: Clerk) -> None:
        self.recorder = Recorder(BenchClient(port))

    def start(self) -> None:
        pass

    def cycle(self, _key: str) -> None:
        expect_page(self.recorder.send("form page GET", "GET", "/form"), "the form page")


# ---------------------------------------------------------------- what a browser does


def row_values(key: str) -> dict[str, str]:
    return SAMPLE_ROW | {"string_column": f"REG-{key}"}


def log_in(recorder: Recorder, username: str) -> None:
    page = scan(recorder.send("login GET", "GET", "/login").text())
    form = first_form(page, "/login")
    answer = recorder.send(
        "login POST",
        "POST",
        "/login",
        form.fields | {"username": username, "password": BENCH_PASSWORD},
    )
    if answer.status not in REDIRECTS:
        raise RuntimeError(f"login as {username} answered {answer.status}")


def expect_page(answer: Response, what: str) -> Response:
    if answer.status != 200:
        raise CycleFailed(f"{what} answered HTTP {answer.status}: {snippet(answer.body)}")
    return answer


def fetch_what_loads(recorder: Recorder, page: PageScan, htmx: dict[str, str]) -> None:
    """What the browser fetches by itself once the HTML is in: htmx loads and embedded files."""
    for url in page.loads:
        expect_page(recorder.send("hx-get on load", "GET", url, htmx), f"hx-get {url}")
    for url in page.embedded:
        expect_page(recorder.send("embedded file GET", "GET", url), f"embedded file {url}")


def entry_form(page: PageScan, previous: Form | None) -> Form:
    """The testDB entry form of a page or fragment, with a fresh one-time token."""
    form = next((f for f in page.forms if f.action.split("?")[0] == SAVE_PATH), None)
    if form is None or not form.fields.get("form_token"):
        raise CycleFailed("the answer has no testDB entry form with a form_token")
    if previous is not None:
        if form.fields["form_token"] == previous.fields.get("form_token"):
            raise CycleFailed("the answer's form_token is the one just used (row not saved?)")
        # A fragment may leave the CSRF token out: the page's one stays valid for the session.
        form.fields = {"csrf_token": previous.fields.get("csrf_token", "")} | form.fields
    if not form.fields.get("csrf_token") and page.csrf_meta:
        form.fields["csrf_token"] = page.csrf_meta
    return form


def first_form(page: PageScan, page_path: str) -> Form:
    forms = [f for f in page.forms if f.method == "post"]
    if not forms:
        raise CycleFailed(f"no form to post on {page_path}")
    forms[0].action = forms[0].action or page_path  # action="" posts to the page itself
    return forms[0]


def follow_to_form(recorder: Recorder, answer: Response, page_path: str) -> Form:
    """A save answered by a redirect to the next form, fetched as the browser does."""
    if answer.status not in REDIRECTS or not answer.location:
        raise CycleFailed(f"the save answered HTTP {answer.status}: {snippet(answer.body)}")
    page = expect_page(recorder.send("redirect GET", "GET", answer.location), "the redirect")
    return first_form(scan(page.text()), page_path)


# ---------------------------------------------------------------- setting up


def tiny_png() -> bytes:
    """A small page image, different each time (the portal refuses a document uploaded twice)."""
    from PIL import Image

    out = io.BytesIO()
    color = tuple(random.randrange(256) for _ in range(3))
    Image.new("RGB", (600, 800), color).save(out, "PNG")
    return out.getvalue()


def prepare_clerks(url: str, scratch: Path, count: int) -> list[Clerk]:
    """Clerks bench_clerk0..N-1, each with a new document of their own, assigned to them."""
    from app.extensions import db
    from app.services import documents as docs
    from app.services.uploads import IncomingFile
    from app.storage import get_storage

    names = [f"bench_clerk{i}" for i in range(count)]
    ids = prepare_database(url, scratch, dict.fromkeys(names, "clerk"))
    app = portal_app(url, scratch)
    clerks = []
    with app.app_context():
        for name in names:
            result = docs.add_file(
                IncomingFile(f"{name}.png", tiny_png()),
                get_storage(),
                actor=None,
                max_bytes=10 * 2**20,
            )
            if not result.ok or result.document is None:
                raise RuntimeError(f"could not add {name}'s document: {result.error}")
            docs.assign([result.document], docs.clerks_by_name([name]), actor=None)
            with app.test_request_context():
                page_path = url_for("workspace.document", document_id=result.document.id)
            clerks.append(Clerk(name, ids[name], result.document.id, page_path))
        db.engine.dispose()
    return clerks


def prefill(url: str, clerks: Sequence[Clerk], rows: int) -> None:
    """`rows` entered rows on each clerk's document, as if typed earlier."""
    engine = sa.create_engine(url)
    try:
        table = sa.Table(ENTRY_TABLE, sa.MetaData(), autoload_with=engine)
        now = datetime.now(UTC).replace(tzinfo=None)
        with engine.begin() as conn:
            for clerk in clerks:
                conn.execute(
                    table.insert(),
                    [
                        {
                            "string_column": f"PRE-{clerk.document_id}-{i:04d}",
                            "integer_column": i,
                            "date_column": now,
                            "document_id": clerk.document_id,
                            "entered_by_id": clerk.user_id,
                            "status": "entered",
                            "version": 1,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for i in range(rows)
                    ],
                )
    finally:
        engine.dispose()


def portal_env(url: str, scratch: Path) -> dict[str, str]:
    """Production settings, as deployed behind one proxy; no .env value leaks in."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": url,
        "DATABASE_PASSWORD": "",
        "DATABASE_SSL_CA": "",
        "PROXY_FIX_COUNT": "1",
        "DOCUMENT_STORAGE": str(scratch / "documents"),
        "LOG_LEVEL": "INFO",
    }


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    server: str  # "portal" | "bare" | "admin"
    workload: Callable[[int, Clerk], Workload]
    prefill: int = 0
    page_load: bool = False  # timed cycles are page GETs, not saved rows


def scenarios(prefilled: int) -> list[Scenario]:
    return [
        Scenario("bare_insert", "bare insert endpoint (POST only)", "bare", BareInsert),
        Scenario("bare_form", "bare GET form + POST", "bare", BareForm),
        Scenario("admin", "Flask-Admin create form", "admin", AdminCreate),
        Scenario("portal", "portal cycle, empty document", "portal", PortalClerk),
        Scenario(
            "portal_full",
            f"portal cycle, {prefilled} rows on the document",
            "portal",
            PortalClerk,
            prefill=prefilled,
        ),
        Scenario("bare_page", "bare form page GET", "bare", BarePageLoad, page_load=True),
        Scenario(
            "first_load",
            "document page first load, empty",
            "portal",
            PortalPageLoad,
            page_load=True,
        ),
        Scenario(
            "first_load_full",
            f"document page first load, {prefilled} rows",
            "portal",
            PortalPageLoad,
            prefill=prefilled,
            page_load=True,
        ),
    ]


@dataclass
class Measured:
    scenario: Scenario
    rounds: list[LoadResult]

    @property
    def rate(self) -> float:
        """Rows (or pages) per second: the median over the rounds."""
        return statistics.median(r.per_second for r in self.rounds)

    @property
    def pooled(self) -> LoadResult:
        pooled = LoadResult(self.scenario.key)
        for r in self.rounds:
            pooled.cycles += r.cycles
            pooled.errors += r.errors
            pooled.seconds += r.seconds
            pooled.latencies += r.latencies
            pooled.server_cpu_seconds += r.server_cpu_seconds
            pooled.problems += r.problems
            for label, samples in r.requests.items():
                pooled.requests.setdefault(label, []).extend(samples)
        pooled.latencies.sort()
        return pooled


def check_rows(url: str, scenario: Scenario, result: LoadResult, clients: int) -> None:
    """The rows the harness counted as saved must really be in the table, no more, no less."""
    if scenario.page_load:
        return
    stored = count_rows(url) - scenario.prefill * clients
    expected = result.cycles + result.untimed_rows
    if stored != expected:
        result.problems.append(f"{stored} rows stored, {expected} counted as saved")


def measure(
    url: str, servers: dict[str, GunicornServer], clerks: Sequence[Clerk], args: argparse.Namespace
) -> dict[str, Measured]:
    """Every scenario, `args.rounds` times, alternating, each on a freshly emptied table."""
    measured = {s.key: Measured(s, []) for s in scenarios(args.prefill)}
    for round_number in range(1, args.rounds + 1):
        for entry in measured.values():
            scenario = entry.scenario
            result = run_scenario(url, servers[scenario.server], scenario, clerks, args)
            print(
                f"  round {round_number}: {scenario.label}: {result.per_second:,.1f}/s, "
                f"{result.cycles} in {result.seconds:.1f} s",
                flush=True,
            )
            for problem in result.problems:
                print(f"  [{scenario.key}] {problem}", flush=True)
            entry.rounds.append(result)
    empty_entry_table(url)
    return measured


def run_scenario(
    url: str,
    server: GunicornServer,
    scenario: Scenario,
    clerks: Sequence[Clerk],
    args: argparse.Namespace,
) -> LoadResult:
    empty_entry_table(url)
    if scenario.prefill:
        prefill(url, clerks, scenario.prefill)

    def factory(port: int, index: int) -> Workload:
        return scenario.workload(port, clerks[index])  # client i is clerk i, on their document

    result = run_load(
        scenario.key, factory, server, len(clerks), Budget(args.cycles, args.seconds), args.warmup
    )
    check_rows(url, scenario, result, len(clerks))
    return result


def profile_portal_cycle(url: str, scratch: Path, clerk: Clerk, count: int) -> None:
    """The portal's cycle in-process (CSRF on), under cProfile: where the time goes."""
    from app.extensions import db

    app = portal_app(url, scratch, WTF_CSRF_ENABLED=True)
    person = PortalClerk(0, clerk)
    person.recorder.client = InProcessClient(app)  # type: ignore[assignment]
    empty_entry_table(url)
    person.start()
    person.cycle("profile-warm")
    profile_cycles(lambda i: person.cycle(f"profile-{i}"), count)
    person.recorder.client.close()
    with app.app_context():
        db.engine.dispose()


def bench_backend(backend: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    url = database_url(backend, args, scratch)
    clerks = prepare_clerks(url, scratch, args.clients)
    settings = {"workers": args.workers, "threads": args.threads, "scratch": scratch}
    secret = {"SECRET_KEY": secrets.token_hex(32)}
    with (
        GunicornServer(
            "flask_backend_with_aws:application",
            portal_env(url, scratch),
            name="portal",
            **settings,
        ) as portal,
        GunicornServer(
            "bench.bare_app:create_app()", {"DATABASE_URL": url}, name="bare", **settings
        ) as bare,
        GunicornServer(
            "bench.admin_app:create_app()", {"DATABASE_URL": url} | secret, name="admin", **settings
        ) as admin,
    ):
        try:
            keys = keystrokes(portal.port, clerks[0])
            measured = measure(url, {"portal": portal, "bare": bare, "admin": admin}, clerks, args)
        finally:
            empty_entry_table(url)
    if args.profile:
        print(f"{backend}: where the portal's cycle spends its time")
        profile_portal_cycle(url, scratch, clerks[0], args.profile)
        empty_entry_table(url)
    return {"measured": measured, "keystrokes": keys}


# ---------------------------------------------------------------- keystrokes


@dataclass
class Keystrokes:
    total: int
    spelled: str  # what is pressed, in order
    shifted: int  # characters that also need Shift
    autofocus_after_save: bool
    notes: list[str]


def keystrokes(port: int, clerk: Clerk) -> Keystrokes:
    """Keys pressed per testDB row in the workspace form: each field's text, Tab between the
    fields, Enter at the end; read from the form's own field order (and after one real save,
    whether the answer puts the caret back in the first field by itself)."""
    person = PortalClerk(port, clerk)
    try:
        person.start()
        assert person.form is not None
        order = list(person.form.typed)
        person.cycle("keys-probe")
        after = person.form
    finally:
        person.recorder.client.close()
    total, spelled, shifted, notes = 0, [], 0, []
    for position, (name, kind) in enumerate(order):
        text = SAMPLE_ROW.get(name, "")
        total += len(text) + 1  # + Tab to the next field, or Enter after the last
        shifted += sum(c.isupper() or c in '~!@#$%^&*()_+{}|:"<>?' for c in text)
        spelled.append(f"{text!r}" + (" Tab" if position < len(order) - 1 else " Enter"))
        if kind in NATIVE_DATE_TYPES:
            notes.append(
                f"{name} is a native <input type={kind}>: {text!r} cannot be typed as "
                "printed (the browser wants its own segments), so this count is what "
                "the clerk would press if it could"
            )
    first = order[0][0] if order else None
    return Keystrokes(
        total,
        " ".join(spelled),
        shifted,
        autofocus_after_save=bool(first) and after.autofocus == first,
        notes=notes,
    )


# ---------------------------------------------------------------- reporting


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(backend: str, found: dict[str, Any], args: argparse.Namespace) -> list[list[object]]:
    measured: dict[str, Measured] = found["measured"]
    bare_rate = measured["bare_form"].rate
    bare_cpu = measured["bare_form"].pooled.cpu_ms_per_cycle
    rows = []
    for entry in measured.values():
        if entry.scenario.page_load:
            continue
        pooled = entry.pooled
        rows.append(
            [
                entry.scenario.label,
                round(pooled.requests_per_cycle(), 2),
                entry.rate,
                f"{_ratio(entry.rate, bare_rate):.2f}",
                pooled.latency_ms(0.5),
                pooled.latency_ms(0.99),
                pooled.cpu_ms_per_cycle,
                f"{_ratio(bare_cpu, pooled.cpu_ms_per_cycle):.2f}",
                pooled.errors,
            ]
        )
    print(
        f"--- {backend}: rows saved per second ({args.clients} clients, each its own "
        f"account{' and document' if True else ''}; median of {args.rounds} round(s))"
    )
    # Server CPU per row does not depend on what else the machine runs, rows/s does: the
    # ratio by CPU is the cross-check when the two disagree.
    print_table(
        [
            "cycle per row",
            "requests",
            "rows/s",
            "x bare GET+POST",
            "p50 ms",
            "p99 ms",
            "server CPU ms/row",
            "x bare by CPU",
            "errors",
        ],
        rows,
    )
    print()
    page_rows = []
    for entry in measured.values():
        if not entry.scenario.page_load:
            continue
        pooled = entry.pooled
        size = statistics.median(b for s in pooled.requests.values() for _, _, b in s) / 1024
        page_rows.append(
            [
                entry.scenario.label,
                entry.rate,
                pooled.latency_ms(0.5),
                pooled.latency_ms(0.99),
                size,
                pooled.cpu_ms_per_cycle,
            ]
        )
    print_table(["page load", "pages/s", "p50 ms", "p99 ms", "KB", "server CPU ms/page"], page_rows)
    print()
    summary = targets(backend, measured)
    keys: Keystrokes = found["keystrokes"]
    print(
        f"{backend}: keystrokes per testDB row: {keys.total} ({keys.spelled}; "
        f"{keys.shifted} of the characters also need Shift); after a save the caret is "
        f"back in the first field by itself: {'yes' if keys.autofocus_after_save else 'no'}"
    )
    for note in keys.notes:
        print(f"  note: {note}")
    print()
    return [[backend, *row] for row in summary]


def targets(backend: str, measured: dict[str, Measured]) -> list[list[object]]:
    """Each target's figures and verdict; a missed one prints what the cycle's parts cost."""
    rate = {key: entry.rate for key, entry in measured.items()}
    first, page = (
        measured["first_load"].pooled.latency_ms(0.5),
        measured["bare_page"].pooled.latency_ms(0.5),
    )
    checks = [
        (
            "cycle / bare GET+POST, rows/s",
            _ratio(rate["portal"], rate["bare_form"]),
            ">=",
            TARGET_VS_BARE,
            ("portal", "bare_form"),
        ),
        (
            "cycle / Flask-Admin, rows/s",
            _ratio(rate["portal"], rate["admin"]),
            ">=",
            TARGET_VS_ADMIN,
            ("portal", "admin"),
        ),
        (
            "empty cycle / 500-row cycle, rows/s",
            _ratio(rate["portal"], rate["portal_full"]),
            "<=",
            TARGET_FULL_VS_EMPTY,
            ("portal", "portal_full"),
        ),
        (
            "first load / bare form page, p50 ms",
            _ratio(first, page),
            "<=",
            TARGET_FIRST_LOAD,
            ("first_load", "bare_page"),
        ),
    ]
    summary, explained = [], set()
    for name, ratio, sense, target, parts in checks:
        met = ratio >= target if sense == ">=" else ratio <= target
        print(f"{backend}: {name} = {ratio:.2f}x (target {sense} {target}x): {verdict(met)}")
        summary.append([name, f"{ratio:.2f}x", f"{sense} {target}x", verdict(met)])
        if not met:
            explained.update(parts)
    print()
    for key in [k for k in measured if k in explained]:
        print(f"{backend}: what each request of '{measured[key].scenario.label}' costs")
        print_table(
            ["request", "per cycle", "p50 ms", "p99 ms", "KB", "statuses"],
            measured[key].pooled.breakdown(),
        )
        print()
    return summary


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench clerk_cycle", description=__doc__.split("\n\n")[0]
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--seconds",
        type=float,
        help="timed part of each scenario and "
        "round: each client cycles until it is over (default 4; --quick 1.5)",
    )
    parser.add_argument(
        "--cycles",
        type=int,
        help="instead of --seconds: exactly this many "
        "timed cycles per scenario and round, over all clients",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=8,
        help="client processes, each its own clerk and document (default 8)",
    )
    parser.add_argument("--warmup", type=int, help="untimed cycles per client first (default 1)")
    parser.add_argument(
        "--prefill",
        type=int,
        default=500,
        help="rows already on each document in the 'full' scenarios (500)",
    )
    shipped = shipped_gunicorn_settings()
    parser.add_argument(
        "--workers",
        type=int,
        default=shipped["workers"],
        help=f"gunicorn workers (default: gunicorn.conf.py's, {shipped['workers']} here)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=shipped["threads"],
        help=f"threads per worker (default: gunicorn.conf.py's, {shipped['threads']} here)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also run N portal cycles in-process under cProfile and list "
        "the portal's heaviest functions (default: off)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="scenarios run alternately this many "
        "times; rows/s is their median (default 3; --quick 1)",
    )
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (1.5 if args.quick else 4.0)
    args.warmup = 1 if args.warmup is None else args.warmup
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_cleanly_on_sigterm()
    timed = f"{args.cycles:,} timed cycles" if args.cycles else f"{args.seconds:g} timed seconds"
    print(
        f"The clerk's save cycle: {timed} per scenario and round "
        f"({args.rounds} round(s), scenarios alternated), {args.clients} client processes "
        f"(keep-alive, loopback), each its own clerk and document; gunicorn --workers "
        f"{args.workers} --threads {args.threads} (gthread) for every app; "
        f"{os.cpu_count()} CPUs.\n"
    )
    per_backend, failed = run_on_backends(args, "cycle", bench_backend)
    summary = []
    for backend, found in per_backend:
        failed |= any(r.problems for m in found["measured"].values() for r in m.rounds)
        summary += report(backend, found, args)
    if len(per_backend) > 1:
        print_table(["backend", "target", "measured", "wanted", "verdict"], summary)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
