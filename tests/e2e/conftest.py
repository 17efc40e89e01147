"""Browser tests: headless Chromium (Playwright, sync API) against a live server on SQLite.

Fixtures
- `browser` (session): one headless Chromium for the whole run. Skipped when Chromium is missing
  (CHROMIUM_PATH, default /usr/bin/chromium); with REQUIRE_BROWSER=1 that is a failure instead.
- `live_server` (function): the app built by `create_app` (TestingConfig, CSRF *enabled*) on a
  fresh, migrated SQLite file in the test's tmp_path (a copy of one file migrated once per
  process), served by werkzeug on 127.0.0.1:<free port> in a daemon thread. Per-test scope:
  every test starts from an empty database, so no cleanup is needed. `.url` is
  "http://127.0.0.1:PORT", `.app` the Flask app (use `with live_server.app.app_context():` to
  seed rows, or `live_server.app.test_cli_runner()`).
- `page` (function): a page in its own browser context (laptop viewport 1366x800, 10 s default
  timeout, base_url = live_server.url, so `page.goto("/login")` works).
- `new_page` (function): a factory for more isolated pages (each its own context, so its own
  cookies), e.g. two clerks and a reviewer in one test.
On a failed test, every page the test opened is saved to test-artifacts/<test id>.png (+ .html).

Browser tests run on SQLite only: they must not use `app`, `client`, `runner` or `backend` from
tests/conftest.py (those are parametrised by database backend); this conftest overrides
`backend` so that doing so fails with an explanation instead of multiplying the test.
The Playwright sync API refuses to run inside a running asyncio loop: do not mark these tests
async nor use them with an asyncio plugin.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.helpers import E2E_PASSWORD, VIEWPORT, log_in  # noqa: F401  (log_in: re-exported)

E2E_DIR = Path(__file__).resolve().parent
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000
ARTIFACTS_DIR = "test-artifacts"

_PAGES = pytest.StashKey[list[Any]]()


def chromium_path() -> str:
    """The Chromium binary to drive: $CHROMIUM_PATH, else Debian's /usr/bin/chromium."""
    return os.environ.get("CHROMIUM_PATH", "").strip() or DEFAULT_CHROMIUM


def _require_browser() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes"}


def _skip_or_fail(reason: str) -> None:
    if _require_browser():
        pytest.fail(f"{reason}; REQUIRE_BROWSER=1 forbids skipping browser tests", pytrace=False)
    pytest.skip(f"{reason}: browser tests skipped")


# --- collection -------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before the mark plugin applies -m "browser" / "not browser"
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as a browser test (this hook sees the whole session)."""
    for item in items:
        if item.path.resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.browser)


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (skipped, or failed under REQUIRE_BROWSER=1)."""
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _skip_or_fail(
            f"Chromium not found at {path} (apt-get install chromium, or set CHROMIUM_PATH)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is not installed (pip install -r requirements.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


# --- the live server ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    url: str  # "http://127.0.0.1:PORT", no trailing slash
    app: Flask


@pytest.fixture(scope="session")
def backend() -> str:
    """Guard: browser tests run on the live server's SQLite, never per database backend."""
    pytest.fail(
        "browser tests must not use the `app`, `client`, `runner` or `backend` fixtures of "
        "tests/conftest.py; use `live_server` (its `.app` for setup) instead",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file at the head revision, migrated once per process for every live server."""
    folder = tmp_path_factory.mktemp("e2e-template")
    path = folder / "portal-e2e.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "DOCUMENT_STORAGE": str(folder)})
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    return path


def copy_sqlite_file(source: Path, target: Path) -> None:
    """Copy a database through SQLite's backup API (safe whatever is left in its WAL)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture
def live_server(migrated_sqlite_file: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """The portal on a fresh migrated SQLite file, served over real HTTP with CSRF enabled."""
    database = tmp_path / "portal-e2e.db"
    copy_sqlite_file(migrated_sqlite_file, database)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "DOCUMENT_STORAGE": str(tmp_path / "documents"),
            "WTF_CSRF_ENABLED": True,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="live-server",
        daemon=True,
    )
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()  # waits for the request threads still running
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def new_page(
    browser: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Any]]:
    """A factory of pages, each in its own browser context (own cookies: one user each)."""
    contexts: list[Any] = []
    pages = request.node.stash.setdefault(_PAGES, [])

    def factory() -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    """A page in a fresh browser context on the live server (relative URLs work)."""
    return new_page()


# --- artifacts on failure -----------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """When a browser test fails, save a screenshot and the HTML of each of its pages."""
    report = yield
    pages = item.stash.get(_PAGES, [])
    if report.failed and report.when in {"setup", "call"} and pages:
        saved = _save_artifacts(item, pages)
        report.sections.append(("browser artifacts", "\n".join(saved)))
    return report


def _save_artifacts(item: pytest.Item, pages: list[Any]) -> list[str]:
    folder = item.config.rootpath / ARTIFACTS_DIR
    folder.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")
    saved = []
    for number, page in enumerate(pages):
        name = stem if number == 0 else f"{stem}-{number}"
        try:
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True, timeout=5_000)
            (folder / f"{name}.html").write_text(page.content(), encoding="utf-8")
            saved.append(f"{folder / name}.png (+ .html), url {page.url}")
        except Exception as exc:  # a closed or crashed page must not hide the real failure
            saved.append(f"could not save {name}: {exc}")
    return saved


# --- users ----------------------------------------------------------------------------------------


@pytest.fixture
def live_user(live_server: LiveServer) -> Callable[..., str]:
    """Create a user on the live server's database; returns the username."""

    def make(username: str, role: str = "clerk", password: str = E2E_PASSWORD) -> str:
        from app.services.accounts import create_user

        with live_server.app.app_context():
            return create_user(username, password, role).username

    return make


# --- accessibility (axe-core) ---------------------------------------------------------------------

AXE_JS = E2E_DIR.parents[1] / "app" / "static" / "vendor" / "axe-core" / "axe.min.js"
AXE_URL = "/static/vendor/axe-core/axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe has no "wcag22a" tag: 2.2 added only AA rules
# to axe's set). Best-practice rules are left out: the bar is the standard.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
_RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG A/AA violations on the page as it is now (axe injected once per page)."""
    assert AXE_JS.is_file(), f"axe-core is missing: {AXE_JS}"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # By URL, not by inlined content: the portal's CSP (script-src 'self') refuses inline
        # scripts, and a test must not switch the CSP off to see the page a person sees.
        page.add_script_tag(url=AXE_URL)
    return page.evaluate(_RUN_AXE, WCAG_TAGS)


def format_violations(violations: list[dict[str, Any]]) -> str:
    """One paragraph per violated rule, with each offending element and axe's explanation."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:10]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary[:400]}")
    return "\n".join(lines)


@pytest.fixture
def axe_check(request: pytest.FixtureRequest) -> Callable[[Any, str], None]:
    """`axe_check(page, state)`: fail unless axe-core finds no WCAG 2.0/2.1/2.2 A or AA
    violation in this page state; the count is kept for the run's summary either way."""

    def check(page: Any, state: str) -> None:
        violations = axe_violations(page)
        # On the test item, not in a module global: this conftest is imported twice (as
        # `e2e.conftest` by pytest and `tests.e2e.conftest` by the tests).
        request.node.user_properties.append(("axe", (state, len(violations))))
        print(f"axe: {len(violations)} violation(s) in state {state!r}")
        if violations:
            ids = ", ".join(v["id"] for v in violations)
            pytest.fail(
                f"axe: {len(violations)} violation(s) in {state!r} ({ids}):\n"
                f"{format_violations(violations)}",
                pytrace=False,
            )

    return check


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the number of axe violations found in each page state the run checked."""
    counts = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "axe"
    ]
    if counts:
        terminalreporter.section("axe-core violations per page state")
        for state, count in counts:
            terminalreporter.write_line(f"{count:3d}  {state}")
