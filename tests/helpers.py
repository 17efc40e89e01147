"""What tests share besides fixtures: logging in, users, documents, imports, SQL counts and the
database servers. Import from here (`from tests.helpers import login`), never from another test
module; fixtures live in the conftest files."""

from __future__ import annotations

import csv
import functools
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.engine import make_url

from app.documents.samples import pdf_document
from app.extensions import db
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage

PASSWORD = "correct-horse-battery"  # every user made by the `make_user` / `users` fixtures
E2E_PASSWORD = "browser-test-password"  # every user made by the `live_user` fixture
VIEWPORT = {"width": 1366, "height": 800}  # the browser tests' laptop window

# --- database servers ---------------------------------------------------------------------------

BACKENDS = {"sqlite": None, "mysql": "TEST_MYSQL_URL", "postgres": "TEST_POSTGRES_URL"}


def _require_servers() -> bool:
    return os.environ.get("REQUIRE_DB_SERVERS", "") in {"1", "true", "yes"}


def server_url(backend: str) -> str:
    """The URL of a server backend, or skip (fail under REQUIRE_DB_SERVERS=1) without one."""
    variable = BACKENDS[backend]
    url = os.environ.get(variable or "", "").strip()
    if not url:
        message = f"{variable} is not set: {backend} tests skipped"
        if _require_servers():
            pytest.fail(f"{message}, but REQUIRE_DB_SERVERS=1")
        pytest.skip(message)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return worker_database(url, worker) if worker else url


@functools.cache
def worker_database(url: str, worker: str) -> str:
    """The URL of `<database>_<worker>` on the same server, created when missing."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    server = sa.create_engine(base, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            if base.get_backend_name() == "postgresql":
                found = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if not found:
                    conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8'")
                # A test database need not wait for the disk at every commit (3.8 -> 0.4 ms).
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            else:
                conn.exec_driver_sql(
                    f"CREATE DATABASE IF NOT EXISTS `{name}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
    finally:
        server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


# --- SQL -----------------------------------------------------------------------------------------


def clear_tables() -> None:
    """Delete every row the test wrote, children first."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def count_statements(app: Flask, client: FlaskClient, url: str) -> list[str]:
    """The SQL statements one GET of url runs (transaction control left out)."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SET"))]


# --- users and logging in -------------------------------------------------------------------------


def login(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    """A client of its own, logged in as `username` (cookies apart from the `client` fixture)."""
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def log_in(page: Any, username: str, password: str = E2E_PASSWORD) -> None:
    """Log in through the real form, typing like a person (key presses, not `fill`)."""
    page.goto("/login")
    page.locator("[name=username]").press_sequentially(username)
    page.locator("[name=password]").press_sequentially(password)
    page.press("[name=password]", "Enter")
    page.wait_for_selector("#nav-user")


# --- documents and rows ---------------------------------------------------------------------------

_counter = iter(range(1_000_000))


def add_document(app: Flask, clerks: list[str], double: bool = False) -> int:
    """A new one-page PDF assigned to the named clerks (two for double entry); its id."""
    with app.app_context():
        n = next(_counter)
        (result,) = docs.add_files(
            [IncomingFile(f"doc-{n}.pdf", pdf_document(f"Page {n}", [f"line {n}"]))],
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
            double_entry=double,
        )
        docs.assign([result.document], [find_user(c) for c in clerks], actor=None)
        return result.document.id


def save_row(client: FlaskClient, document_id: int, table: str = "testDB", **values: str) -> Any:
    """POST a row of `table` for a document, as the entry form does."""
    return client.post(f"/data/{table}/new?document={document_id}", data=values)


def submitted_document(
    app: Flask, clerk: str = "clerk", rows: tuple[tuple[str, str], ...] = (("K1", "1"),)
) -> tuple[int, FlaskClient]:
    """A document the clerk filled with testDB rows (key, number) and submitted."""
    doc_id = add_document(app, [clerk])
    client = login(app, clerk)
    for key, number in rows:
        assert save_row(client, doc_id, string_column=key, integer_column=number).status_code == 303
    assert client.post(f"/work/documents/{doc_id}/submit").status_code == 303
    return doc_id, client


def double_entered(app: Flask, difference: bool = True) -> tuple[int, FlaskClient, FlaskClient]:
    """A double-entry document typed by clerk and clerk2 (one testDB row each, differing in
    its number when `difference`, and one register_person row each); not yet submitted."""
    doc_id = add_document(app, ["clerk", "clerk2"], double=True)
    a, b = login(app, "clerk"), login(app, "clerk2")
    assert save_row(a, doc_id, string_column="D1", integer_column="10").status_code == 404
    for client, number in ((a, "10"), (b, "11" if difference else "10")):
        response = client.post(
            f"/work/documents/{doc_id}/entry/testDB",
            data={"string_column": "D1", "integer_column": number},
        )
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        client.post(
            f"/work/documents/{doc_id}/entry/register_person",
            data={"full_name": "Doe, Jane", "sex": "female"},
        )
    return doc_id, a, b


# --- import files ---------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[object]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header or ["string_column", "integer_column", "date_column"])
        writer.writerows(rows)
    return path


def run_import(runner: FlaskCliRunner, path: Path, table: str = "testDB", *args: str) -> Any:
    return runner.invoke(args=["import", table, str(path), *args])
