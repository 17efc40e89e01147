"""Fixtures: an app per backend, a clean database per test, a client and a CLI runner.

Every test that uses `app` runs on SQLite and, when TEST_MYSQL_URL / TEST_POSTGRES_URL are set,
on those servers too. With REQUIRE_DB_SERVERS=1 a missing server fails instead of skipping.

Under pytest-xdist (`make test` runs `-n auto`) each worker process has databases of its own:
`<database>_gw0`, `<database>_gw1`, ... beside the one the URL names (created when missing; the
setup script's grant covers `portal_test_%`), and its own SQLite file. Each backend is migrated
once per worker, however often the worker switches between backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade

from app import create_app
from app.database import drop_all_tables
from app.extensions import db
from tests.helpers import (  # noqa: F401  (re-exported for older imports)
    BACKENDS,
    PASSWORD,
    clear_tables,
    count_statements,
    server_url,
    worker_database,
)


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
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "DOCUMENT_STORAGE": str(tmp_path_factory.mktemp("documents")),
        }
    )
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


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask):
    """Create a user (committed) and return its username."""

    def make(username: str, role: str = "clerk", password: str = PASSWORD) -> str:
        from app.services.accounts import create_user

        with app.app_context():
            return create_user(username, password, role).username

    return make


@pytest.fixture
def people(make_user) -> None:
    """clerk, clerk2, reviewer and admin (the review and double-entry tests' cast)."""
    for name, role in (
        ("clerk", "clerk"),
        ("clerk2", "clerk"),
        ("reviewer", "reviewer"),
        ("admin", "admin"),
    ):
        make_user(name, role)


@pytest.fixture
def users(make_user) -> dict[str, str]:
    """One user per role: usernames keyed by role."""
    return {role: make_user(role, role) for role in ("admin", "reviewer", "clerk")}


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, username: str = "clerk", password: str = PASSWORD, **extra):
        return self._client.post(
            "/login", data={"username": username, "password": password, **extra}
        )

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
