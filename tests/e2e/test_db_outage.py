"""The database goes away while a clerk types, in real Chromium: the save says "nothing was
saved" with a request id, the typed values stay in the form, and once the database is back
Enter saves them (once). The live server reaches MariaDB through the fault proxy, so this
module needs TEST_MYSQL_URL (skipped without it; failed under REQUIRE_DB_SERVERS=1)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from app import create_app
from app.database import drop_all_tables
from app.documents.samples import pdf_document
from app.extensions import db
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage
from bench._faults import TcpProxy
from tests.e2e.conftest import E2E_PASSWORD, LiveServer, log_in
from tests.helpers import worker_database

SHOTS = "/tmp"


@pytest.fixture
def mysql_url() -> str:
    url = os.environ.get("TEST_MYSQL_URL", "").strip()
    if not url:
        if os.environ.get("REQUIRE_DB_SERVERS", "") in {"1", "true", "yes"}:
            pytest.fail("TEST_MYSQL_URL is not set, but REQUIRE_DB_SERVERS=1")
        pytest.skip("TEST_MYSQL_URL is not set: the outage test needs MariaDB behind a proxy")
    # A database of its own per test process, built from empty below.
    return worker_database(url, "outage_" + os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.fixture
def proxy(mysql_url: str) -> Iterator[TcpProxy]:
    url = make_url(mysql_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 3306) as running:
        yield running


def _clear(app) -> None:
    with app.app_context(), db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def live_server(tmp_path: Path, mysql_url: str, proxy: TcpProxy) -> Iterator[LiveServer]:
    """The portal (CSRF on) served over HTTP, its database MariaDB through the proxy."""
    storage = str(tmp_path / "documents")
    direct = create_app({"DATABASE_URL": mysql_url, "DOCUMENT_STORAGE": storage})
    with direct.app_context():
        drop_all_tables(db.engine)
        upgrade()
    _clear(direct)
    proxied_url = make_url(mysql_url).set(host="127.0.0.1", port=proxy.port)
    app = create_app(
        {
            "DATABASE_URL": proxied_url.render_as_string(hide_password=False),
            "DOCUMENT_STORAGE": storage,
            "WTF_CSRF_ENABLED": True,
            "DATABASE_READ_TIMEOUT": 2,
            "DATABASE_CONNECT_TIMEOUT": 1,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=direct)
    finally:
        proxy.up()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()
        _clear(direct)
        with direct.app_context():
            db.engine.dispose()


def _rows(live_server: LiveServer) -> list[tuple[str, int]]:
    with live_server.app.app_context():
        rows = db.session.execute(sa.text("SELECT string_column, integer_column FROM testDB")).all()
        db.session.rollback()
    return [(r[0], r[1]) for r in rows]


def test_a_save_while_the_database_is_down_keeps_the_values_and_saves_once_later(
    page, live_server, live_user, proxy
):
    live_user("clerk1")
    with live_server.app.app_context():
        result = docs.add_file(
            IncomingFile(
                "register.pdf", pdf_document("Register page 1", ["Roe, Richard, aged 41"])
            ),
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
        )
        docs.assign([result.document], [find_user("clerk1")], actor=None)
        document_id = result.document.id
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}?panel=testDB")
    page.wait_for_function("() => document.activeElement?.name === 'string_column'")
    page.keyboard.type("OUT-1")
    page.keyboard.press("Tab")
    page.keyboard.type("42")

    proxy.down()
    page.keyboard.press("Enter")
    alert = page.locator("#status-testDB .alert-danger")
    alert.filter(has_text="nothing was saved").wait_for()
    text = alert.inner_text()
    assert "What you typed is still in the form" in text and "Request id" in text
    page.screenshot(path=f"{SHOTS}/outage-nothing-saved.png")
    form = page.locator("#panel-testDB form.entry-form")
    assert form.locator("[name=string_column]").input_value() == "OUT-1"
    assert form.locator("[name=integer_column]").input_value() == "42"
    assert _rows(live_server) == []  # the proxy is down for the app, not for this SELECT

    proxy.up()
    form.locator("[name=integer_column]").click()
    page.keyboard.press("Enter")
    page.locator("#status-testDB .alert-success").filter(
        has_text="Saved Test values row OUT-1"
    ).wait_for()
    page.screenshot(path=f"{SHOTS}/outage-saved-after.png")
    assert _rows(live_server) == [("OUT-1", 42)]


def test_without_javascript_the_503_page_sends_the_values_again(
    browser, live_server, live_user, proxy
):
    live_user("clerk2")
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/login")
        page.locator("[name=username]").press_sequentially("clerk2")
        page.locator("[name=password]").press_sequentially(E2E_PASSWORD)
        page.press("[name=password]", "Enter")
        page.wait_for_selector("#nav-user")
        page.goto("/data/testDB/new")
        page.locator("[name=string_column]").press_sequentially("NOJS-1")
        page.locator("[name=integer_column]").press_sequentially("7")
        proxy.down()
        page.press("[name=integer_column]", "Enter")
        page.locator("[data-outage-message]").wait_for()
        assert "nothing was saved" in page.inner_text("[data-outage-message]")
        assert page.locator("[data-request-id]").inner_text().strip()
        page.screenshot(path=f"{SHOTS}/outage-nojs.png")
        kept = page.locator("input[name=string_column]")
        assert kept.input_value() == "NOJS-1"
        assert _rows(live_server) == []
        proxy.up()
        page.get_by_role("button", name="Save again").press("Enter")
        page.wait_for_selector(".alert-success")
        assert "Saved Test values row NOJS-1" in page.inner_text("main")
        assert _rows(live_server) == [("NOJS-1", 7)]
    finally:
        context.close()
