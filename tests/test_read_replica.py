"""DATABASE_READ_URL: exports, downloads, freezes and the examples read a replica; `flask doctor`
walks it too. Tested with a second database on the MariaDB server holding a copy of the first,
a few rows behind (as a lagging replica is)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.database import drop_all_tables
from app.extensions import db
from app.models import Freeze, TestDB
from app.read_database import read_engine
from app.services import freezes
from app.storage import get_storage
from config import PROJECT_ROOT
from tests.conftest import PASSWORD

pytestmark = pytest.mark.parametrize("backend", ["mysql"], indirect=True)


@pytest.fixture(scope="session")
def replica_url(migrated: str) -> Iterator[str]:
    """A migrated copy of the test database's schema, `<name>_replica` on the same server."""
    primary = make_url(migrated)
    url = primary.set(database=f"{primary.database}_replica")
    server = sa.create_engine(primary.set(database=""))
    with server.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET "
            "utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    server.dispose()
    text = url.render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": text})
    with app.app_context():
        drop_all_tables(db.engine)
        upgrade()
        db.engine.dispose()
    return text


@pytest.fixture
def app_with_replica(app: Flask, replica_url: str, tmp_path) -> Iterator[Flask]:
    """The portal on the primary with DATABASE_READ_URL = the replica, which holds a copy of
    the primary's users and testDB rows; then one more row reaches the primary only."""
    from app.services.accounts import create_user

    portal = create_app(
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "DATABASE_READ_URL": replica_url,
            "DOCUMENT_STORAGE": str(tmp_path / "documents"),
        }
    )
    primary = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    replica = make_url(replica_url).database
    with portal.app_context():
        create_user("reviewer", PASSWORD, "reviewer")
        db.session.add_all(
            [TestDB(string_column=f"R-{n}", integer_column=n, status="approved") for n in range(3)]
        )
        db.session.commit()
        with db.engine.begin() as conn:  # the replica catches up ...
            for table in ("users", "testDB"):
                conn.exec_driver_sql(
                    f"INSERT INTO `{replica}`.`{table}` SELECT * FROM `{primary}`.`{table}`"
                )
        db.session.add(TestDB(string_column="LAG-1", integer_column=9, status="approved"))
        db.session.commit()  # ... and this row has not reached it yet
    yield portal
    with portal.app_context():
        db.session.remove()
        read_engine().dispose()
        with db.engine.begin() as conn:
            for table in ("freeze_jobs", "freezes", "testDB", "users"):
                conn.exec_driver_sql(f"DELETE FROM `{replica}`.`{table}`")
        db.engine.dispose()


def test_export_reads_the_replica(app_with_replica):
    result = app_with_replica.test_cli_runner().invoke(args=["export", "testDB"])
    assert result.exit_code == 0, result.output
    keys = [row[0] for row in csv.reader(io.StringIO(result.stdout))][1:]
    assert keys == ["R-0", "R-1", "R-2"]  # not LAG-1: that is only on the primary


def test_the_download_reads_the_replica(app_with_replica):
    client = app_with_replica.test_client()
    client.post("/login", data={"username": "reviewer", "password": PASSWORD})
    response = client.get("/exchange/testDB/export?format=csv")
    assert response.status_code == 200
    assert b"R-2" in response.data and b"LAG-1" not in response.data


def test_a_freeze_reads_the_replica_and_is_recorded_on_the_primary(app_with_replica):
    with app_with_replica.app_context():
        assert read_engine() is not db.engine
        job = freezes.start_job("from-replica", actor_name="tester")
        freeze = freezes.run_job(job.id, read_engine=read_engine(), storage=get_storage())
        assert freeze.row_count == 3
        with freezes.open_archive(freeze, get_storage()) as archive:
            assert b"LAG-1" not in archive.read("tables/testDB.csv")
        assert db.session.scalar(sa.select(Freeze.name)) == "from-replica"
        with read_engine().connect() as conn:  # the replica is only read
            assert conn.execute(sa.select(sa.func.count()).select_from(Freeze)).scalar() == 0


def test_doctor_walks_the_replica_too(app_with_replica, replica_url):
    result = app_with_replica.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "read replica: URL parses:" in result.output
    assert "read replica: migrations at head:" in result.output
    password = make_url(replica_url).password
    assert password not in result.output


def test_doctor_fails_on_a_missing_replica_database(app, tmp_path):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(database="portal_test_no_such_db")
    portal = create_app(
        {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "DATABASE_READ_URL": url.render_as_string(hide_password=False),
        }
    )
    result = portal.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "read replica: database exists" in result.output
    assert "NOT usable" in result.output


def test_the_example_loader_reads_the_replica(app_with_replica, replica_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(
        DATABASE_URL=app_with_replica.config["SQLALCHEMY_DATABASE_URI"],
        DATABASE_READ_URL=replica_url,
        APP_ENV="development",
        LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "examples/freeze_loader.py", "--live"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "== testDB: 3 rows" in result.stdout and "LAG-1" not in result.stdout


def test_the_pandas_example_reads_the_replica(app_with_replica, replica_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(
        DATABASE_URL=app_with_replica.config["SQLALCHEMY_DATABASE_URI"],
        DATABASE_READ_URL=replica_url,
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "examples/pandas_example.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "testDB: 3 rows" in result.stdout and "LAG-1" not in result.stdout
