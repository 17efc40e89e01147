"""Fixtures: an app per backend, a clean database per test, a client and a CLI runner.

Every test that uses `app` runs on SQLite and, when TEST_MYSQL_URL / TEST_POSTGRES_URL are set,
on those servers too. With REQUIRE_DB_SERVERS=1 a missing server fails instead of skipping.

Under pytest-xdist (`make test` runs `-n auto`) each worker process has databases of its own:
`<database>_gw0`, `<database>_gw1`, ... beside the one the URL names (created when missing; the
setup script's grant covers `portal_test_%`), and its own SQLite file. Each backend is migrated
once per worker, however often the worker switches between backends.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.database import drop_all_tables
from app.extensions import db

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
                found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                     {"name": name}).first()
                if not found:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}" ENCODING \'UTF8\'')
                # A test database need not wait for the disk at every commit (3.8 -> 0.4 ms).
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            else:
                conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}` "
                                     "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.getbasetemp() / 'portal-test.db'}"
    return server_url(backend)


# Databases already at head in this process: a worker handed tests of several backends in turn
# sets `backend` up again at each switch, and must not migrate again (the tests leave the schema
# at head and empty it of rows).
_MIGRATED: set[str] = set()


@pytest.fixture(scope="session")
def migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Bring the backend's database to the head revision once per process, from empty."""
    if database_url in _MIGRATED:
        return database_url
    app = create_app({"DATABASE_URL": database_url, "DOCUMENT_STORAGE": str(
        tmp_path_factory.mktemp("documents"))})
    with app.app_context():
        drop_all_tables(db.engine)
        upgrade()
        db.engine.dispose()
    _MIGRATED.add(database_url)
    return database_url


@pytest.fixture
def app(migrated: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": migrated, "DOCUMENT_STORAGE": str(tmp_path / "documents")})
    yield app
    with app.app_context():
        db.session.remove()
        clear_tables()
        db.engine.dispose()


def clear_tables() -> None:
    """Delete every row the test wrote, children first."""
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_user(app: Flask):
    """Create a user (committed) and return its username."""

    def make(username: str, role: str = "clerk", password: str = PASSWORD) -> str:
        from app.services.accounts import create_user

        with app.app_context():
            return create_user(username, password, role).username

    return make


@pytest.fixture
def users(make_user) -> dict[str, str]:
    """One user per role: usernames keyed by role."""
    return {role: make_user(role, role) for role in ("admin", "reviewer", "clerk")}


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, username: str = "clerk", password: str = PASSWORD, **extra):
        return self._client.post("/login", data={"username": username, "password": password,
                                                 **extra})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


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
