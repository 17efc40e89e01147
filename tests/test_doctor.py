"""`flask doctor`: a usable database exits 0; each failure stops at its step with the fix."""

from __future__ import annotations

import socket
import sqlite3
import ssl
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask_migrate import upgrade
from sqlalchemy.engine import URL, make_url

from app import create_app, doctor
from app.extensions import db
from tests.helpers import server_url

WRONG_PASSWORD = "wrong-Passw0rd-for-doctor"
on_mysql = pytest.mark.parametrize("backend", ["mysql"], indirect=True)
on_servers = pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ENV", "DATABASE_URL", "DATABASE_PASSWORD", "DATABASE_SSL_CA"):
        monkeypatch.delenv(name, raising=False)


def run_doctor(config: dict[str, str]) -> Result:
    """Run `flask doctor` on an app built from config; check no password leaks into output."""
    app = create_app(config)
    result = app.test_cli_runner().invoke(args=["doctor"])
    for password in (
        make_url(app.config["SQLALCHEMY_DATABASE_URI"]).password,
        config.get("DATABASE_PASSWORD"),
    ):
        if password:
            assert password not in result.output
    return result


def assert_failed_at(result: Result, step: str, *fixes: str) -> None:
    """The run exited 1 with [FAIL] on step, showing every fix text, and stopped there."""
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[-2].startswith(f"[FAIL] {step}: "), result.stdout
    for fix in fixes:
        assert fix in lines[-2]
    assert "NOT usable" in lines[-1]
    assert sum(line.startswith("[FAIL]") for line in lines) == 1


def closed_port() -> int:
    """A local TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def without_password(url: str) -> str:
    """url with its password left out."""
    parts = make_url(url)
    return URL.create(
        parts.drivername, parts.username, None, parts.host, parts.port, parts.database, parts.query
    ).render_as_string()


def mysql_url(**changes: str | int) -> str:
    """The MariaDB test URL with some parts changed (skips without TEST_MYSQL_URL)."""
    url = make_url(server_url("mysql")).set(**changes)
    return url.render_as_string(hide_password=False)


# --- usable databases -------------------------------------------------------------------------


def test_usable_database_exits_zero(runner, app, backend):
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "[FAIL]" not in result.stdout
    assert "[ok]   migrations at head: " in result.stdout
    assert result.stdout.splitlines()[-1].startswith("Summary: the database is usable")
    password = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).password
    if password:
        assert password not in result.output
    if backend == "sqlite":
        assert "journal_mode=wal, foreign_keys=1, busy_timeout=30000" in result.stdout
        assert "[skip] host and port" in result.stdout
    else:
        assert "[ok]   TCP port answers" in result.stdout
        assert "[ok]   login accepted" in result.stdout
        assert "[warn] TLS not in use: DATABASE_SSL_CA is unset" in result.stdout


@on_mysql
def test_password_from_database_password_is_used_and_hidden(migrated):
    result = run_doctor(
        {
            "DATABASE_URL": without_password(migrated),
            "DATABASE_PASSWORD": make_url(migrated).password or "",
        }
    )
    assert result.exit_code == 0, result.output
    assert ":***@" in result.stdout


# --- the network steps (no server needed: nothing answers there) -------------------------------


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "postgresql+psycopg"])
def test_unresolvable_host(scheme):
    result = run_doctor(
        {"DATABASE_URL": f"{scheme}://admin:{WRONG_PASSWORD}@nonexistent-host.invalid:3306/db"}
    )
    assert_failed_at(
        result,
        "host resolves",
        "cannot resolve 'nonexistent-host.invalid'",
        "'Connectivity & security'",
        "endpoint",
    )


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "postgresql+psycopg"])
def test_closed_port(scheme):
    port = closed_port()
    result = run_doctor({"DATABASE_URL": f"{scheme}://admin:{WRONG_PASSWORD}@127.0.0.1:{port}/db"})
    assert "[ok]   host resolves: 127.0.0.1" in result.stdout
    assert_failed_at(
        result,
        "TCP port answers",
        f"127.0.0.1:{port} refused the connection",
        "nothing listens on that port",
        "Check the port in DATABASE_URL",
    )


def test_port_that_never_answers_points_at_the_security_group(monkeypatch):
    def dropped(address, timeout=None):
        assert timeout == doctor.TIMEOUT_SECONDS  # bounded, never the OS's minutes-long default
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", dropped)
    result = run_doctor({"DATABASE_URL": "mysql+pymysql://admin:pw-1234@127.0.0.1:3306/db"})
    assert_failed_at(
        result,
        "TCP port answers",
        "no answer within 5 s",
        "inbound rule to the RDS security group for TCP 3306",
        "'Publicly accessible' = Yes or run from inside the VPC",
    )


def test_url_without_database_name():
    result = run_doctor({"DATABASE_URL": "mysql+pymysql://admin:pw-1234@127.0.0.1:3306"})
    assert_failed_at(result, "URL parses", "names no database", "/DBNAME")


# --- login, database, TLS and charset, against the real MariaDB / PostgreSQL ----------------------


def test_wrong_password():
    result = run_doctor({"DATABASE_URL": mysql_url(password=WRONG_PASSWORD)})
    assert "[ok]   TCP port answers" in result.stdout
    assert_failed_at(
        result,
        "login accepted",
        "Access denied for user",
        "master username and password",
        "percent-encode @ : / %",
        "set DATABASE_PASSWORD",
    )


def test_missing_password_says_none_was_sent():
    result = run_doctor({"DATABASE_URL": without_password(mysql_url())})
    assert_failed_at(result, "login accepted", "No password was sent")


def test_missing_database():
    result = run_doctor({"DATABASE_URL": mysql_url(database="portal_test_no_such_db")})
    assert "[ok]   login accepted: user 'portal_test'" in result.stdout
    assert_failed_at(
        result,
        "database exists",
        "no database 'portal_test_no_such_db'",
        "'Initial database name'",
        "not the DB instance identifier",
        "CREATE DATABASE `portal_test_no_such_db` CHARACTER SET utf8mb4",
    )


def test_database_without_privileges():
    result = run_doctor({"DATABASE_URL": mysql_url(database="doctor_not_granted")})
    assert "[ok]   login accepted" in result.stdout
    assert_failed_at(
        result,
        "database exists",
        "no privileges on it",
        "GRANT ALL PRIVILEGES ON `doctor_not_granted`.* TO 'portal_test'@'%'",
    )


def test_missing_database_on_postgresql():
    url = make_url(server_url("postgres")).set(database="doctor_no_such_db")
    result = run_doctor({"DATABASE_URL": url.render_as_string(hide_password=False)})
    assert "[ok]   login accepted" in result.stdout
    assert_failed_at(
        result,
        "database exists",
        "no database 'doctor_no_such_db'",
        "CREATE DATABASE \"doctor_no_such_db\" ENCODING 'UTF8'",
    )


@on_servers
def test_ssl_ca_against_a_server_without_tls(migrated):
    bundle = ssl.get_default_verify_paths().cafile
    if not bundle or not Path(bundle).is_file():
        pytest.skip("no system CA bundle to point DATABASE_SSL_CA at")
    result = run_doctor({"DATABASE_URL": migrated, "DATABASE_SSL_CA": bundle})
    assert_failed_at(
        result,
        "TLS handshake",
        "DATABASE_SSL_CA is set, so TLS is required",
        "unset DATABASE_SSL_CA for a local server",
    )


@pytest.fixture
def latin1_database() -> Iterator[str]:
    """A MariaDB database whose default charset is latin1, dropped afterwards."""
    url = make_url(mysql_url(database="portal_test_doctor_latin1"))
    engine = sa.create_engine(url.set(database="portal_test"))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{url.database}`")
        conn.exec_driver_sql(f"CREATE DATABASE `{url.database}` CHARACTER SET latin1")
    yield url.render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{url.database}`")
    engine.dispose()


def test_latin1_database_is_a_warning_then_empty_database_fails(latin1_database):
    result = run_doctor({"DATABASE_URL": latin1_database})
    assert "[ok]   charset and sql_mode: character_set_connection=utf8mb4" in result.stdout
    assert "[warn] database charset: 'portal_test_doctor_latin1' defaults to latin1" in (
        result.stdout
    )
    assert "ALTER DATABASE `portal_test_doctor_latin1` CHARACTER SET utf8mb4" in result.stdout
    assert_failed_at(result, "migrations at head", "no tables yet", "run `flask db upgrade`")


# --- SQLite files and migrations ---------------------------------------------------------------


def test_empty_sqlite_file_is_not_at_head(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    result = run_doctor({"DATABASE_URL": f"sqlite:///{path}"})
    assert "[ok]   pragmas: journal_mode=wal, foreign_keys=1" in result.stdout
    assert_failed_at(result, "migrations at head", "no tables yet", "run `flask db upgrade`")


def test_missing_sqlite_file_is_reported_not_created(tmp_path):
    path = tmp_path / "missing.db"
    result = run_doctor({"DATABASE_URL": f"sqlite:///{path}"})
    assert_failed_at(result, "SQLite file", "does not exist yet", "run `flask db upgrade`")
    assert not path.exists()


def test_sqlite_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not a database, just some notes\n" * 100)
    result = run_doctor({"DATABASE_URL": f"sqlite:///{path}"})
    assert_failed_at(result, "SQLite opens", "file is not a database", "restore it")


def migrate_sqlite(path: Path, revision: str = "head") -> None:
    """Upgrade the SQLite file at path to revision."""
    app = create_app({"DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(revision=revision)
        db.engine.dispose()


def test_database_behind_head(tmp_path):
    migrate_sqlite(tmp_path / "old.db", revision="0001")
    result = run_doctor({"DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}"})
    assert_failed_at(
        result,
        "migrations at head",
        "the database is at 0001, the code's head is",
        "run `flask db upgrade`",
    )


def test_database_ahead_of_the_code(tmp_path):
    path = tmp_path / "new.db"
    migrate_sqlite(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = 'fffffffffff0'")
    result = run_doctor({"DATABASE_URL": f"sqlite:///{path}"})
    assert_failed_at(
        result, "migrations at head", "at fffffffffff0, a revision missing from migrations/"
    )


def test_tables_made_outside_migrations(tmp_path):
    path = tmp_path / "handmade.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TABLE testDB (string_column TEXT PRIMARY KEY, integer_column INT, "
            "date_column DATETIME)"
        )
    result = run_doctor({"DATABASE_URL": f"sqlite:///{path}"})
    assert_failed_at(result, "migrations at head", "tables exist (testDB)", "`flask db stamp head`")


# --- the TLS verdict on its own (the local servers offer no TLS) --------------------------------


@pytest.mark.parametrize(
    ("tls", "ssl_ca", "production", "host", "marker", "text"),
    [
        ("TLSv1.3, TLS_AES_256", "/ca.pem", True, "db.example.com", "ok", "verified against"),
        ("TLSv1.3, TLS_AES_256", None, False, "db.example.com", "warn", "not verified"),
        (None, None, False, "db.example.com", "warn", "TLS not in use"),
        (None, None, True, "127.0.0.1", "warn", "TLS not in use"),
        (None, None, True, "db.example.com", "FAIL", "must be encrypted"),
        (None, "/ca.pem", False, "db.example.com", "FAIL", "DATABASE_SSL_CA is set"),
    ],
)
def test_tls_verdict(capsys, tls, ssl_ca, production, host, marker, text):
    report = doctor.Report()
    if marker == "FAIL":
        with pytest.raises(doctor.StepFailed) as failure:
            doctor.check_tls(report, tls, ssl_ca, production, host)
        assert text in failure.value.fix
        return
    doctor.check_tls(report, tls, ssl_ca, production, host)
    output = capsys.readouterr().out
    assert output.startswith(f"[{marker}]")
    assert text in output
