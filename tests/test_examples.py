"""The researcher's scripts in examples/, run as they would be: a subprocess per script."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import TestDB
from config import PROJECT_ROOT
from tests.helpers import server_url

EXAMPLES = PROJECT_ROOT / "examples"
# The datetimes each writing script inserts, by integer_column.
EXPECTED = {
    1: datetime(1989, 1, 1, 10, 0, tzinfo=UTC),
    2: datetime(2024, 2, 29, 23, 59, 30, 123456, tzinfo=UTC),
}


def run_example(script: str, database_url: str | None, *args: str) -> subprocess.CompletedProcess:
    """Run examples/<script> with DATABASE_URL set (or unset) and warnings as errors."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / script), *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rows_by_number(app: Flask, prefix: str) -> dict[int | None, datetime | None]:
    """date_column through the app's ORM for the rows whose key starts with prefix."""
    with app.app_context():
        rows = db.session.scalars(
            sa.select(TestDB).where(TestDB.string_column.startswith(prefix))
        ).all()
        return {row.integer_column: row.date_column for row in rows}


def database_uri(app: Flask) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_example_writes_datetimes_the_orm_reads(app):
    path = make_url(database_uri(app)).database
    result = run_example("sqlite_example.py", None, path)
    assert result.returncode == 0, result.stderr
    assert rows_by_number(app, "example-sqlite-") == EXPECTED
    assert "1989-01-01T10:00:00+00:00" in result.stdout
    assert "2024-02-29T23:59:30.123456+00:00" in result.stdout
    with app.app_context():
        keys = db.session.scalars(sa.select(TestDB.string_column)).all()
    assert len(keys) == 2 and all(key in result.stdout for key in keys)


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_pymysql_example_writes_datetimes_the_orm_reads(app):
    result = run_example("pymysql_example.py", database_uri(app))
    assert result.returncode == 0, result.stderr
    assert rows_by_number(app, "example-pymysql-") == EXPECTED
    assert "2024-02-29T23:59:30.123456+00:00" in result.stdout
    password = make_url(database_uri(app)).password
    assert not password or password not in result.stdout + result.stderr


def test_pandas_example_reads_rows_the_app_wrote(app):
    with app.app_context():
        db.session.add_all(
            TestDB(string_column=f"pandas-{n}", integer_column=n, date_column=when)
            for n, when in EXPECTED.items()
        )
        db.session.commit()
    result = run_example("pandas_example.py", database_uri(app))
    assert result.returncode == 0, result.stderr
    assert "testDB: 2 rows" in result.stdout
    assert "pandas-1" in result.stdout and "pandas-2" in result.stdout
    assert "1989-01-01 10:00:00" in result.stdout
    assert "2024-02-29 23:59:30.123456+00:00" in result.stdout
    assert "datetime64[" in result.stdout and ", UTC]" in result.stdout


# --- no table, no file, no URL: a clear sentence and nothing created ---------------------------


@pytest.fixture
def empty_sqlite(tmp_path) -> str:
    path = tmp_path / "empty.db"
    with closing(sqlite3.connect(path)):
        pass
    return str(path)


def test_sqlite_example_without_testdb(empty_sqlite):
    result = run_example("sqlite_example.py", None, empty_sqlite)
    assert result.returncode == 1
    assert "has no testDB table: run `flask db upgrade` first" in result.stderr
    with closing(sqlite3.connect(empty_sqlite)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_sqlite_example_does_not_create_a_missing_file(tmp_path):
    path = tmp_path / "missing.db"
    result = run_example("sqlite_example.py", None, str(path))
    assert result.returncode == 1
    assert "does not exist: run `flask db upgrade` first" in result.stderr
    assert not path.exists()


def test_pandas_example_without_testdb(empty_sqlite):
    result = run_example("pandas_example.py", f"sqlite:///{empty_sqlite}")
    assert result.returncode == 1
    assert "has no testDB table: run `flask db upgrade` first" in result.stderr


def test_pymysql_example_needs_a_mysql_url():
    result = run_example("pymysql_example.py", None)
    assert result.returncode == 1
    assert "Set DATABASE_URL to mysql+pymysql://" in result.stderr


@pytest.fixture
def empty_mysql_database() -> Iterator[str]:
    """A MariaDB database with no tables, dropped afterwards."""
    url = make_url(server_url("mysql"))
    name = "portal_test_examples_empty"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    yield url.set(database=name).render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    engine.dispose()


def test_pymysql_example_without_testdb(empty_mysql_database):
    result = run_example("pymysql_example.py", empty_mysql_database)
    assert result.returncode == 1
    assert "has no testDB table: run `flask db upgrade` first" in result.stderr
