"""Timeouts below the database: settings with defaults, and what each driver is given."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from app import create_app
from app.database import TimedPgConnection, Timeouts, engine_options
from app.extensions import db
from config import ConfigError
from tests.conftest import server_url

MYSQL = make_url("mysql+pymysql://u:p@db.example:3306/portal")
POSTGRES = make_url("postgresql+psycopg://u:p@db.example:5432/portal")
SETTINGS = (
    "DATABASE_READ_TIMEOUT",
    "DATABASE_WRITE_TIMEOUT",
    "DATABASE_LOCK_TIMEOUT",
    "DATABASE_CONNECT_TIMEOUT",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_stay_below_gunicorns_timeout(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert [app.config[name] for name in SETTINGS] == [30, 30, 10, 10]


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_READ_TIMEOUT", "5")
    monkeypatch.setenv("DATABASE_LOCK_TIMEOUT", "0")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    assert app.config["DATABASE_READ_TIMEOUT"] == 5 and app.config["DATABASE_LOCK_TIMEOUT"] == 0


@pytest.mark.parametrize("value", ["-1", "soon", "2.5"])
def test_a_bad_timeout_is_one_clear_sentence(monkeypatch, tmp_path, value):
    monkeypatch.setenv("DATABASE_READ_TIMEOUT", value)
    with pytest.raises(ConfigError) as excinfo:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    message = str(excinfo.value)
    assert "DATABASE_READ_TIMEOUT" in message and "\n" not in message


def test_mysql_gets_read_write_and_lock_wait_timeouts():
    args = engine_options(MYSQL, None, Timeouts(read=30, write=20, lock=10, connect=5))[
        "connect_args"
    ]
    assert (args["read_timeout"], args["write_timeout"], args["connect_timeout"]) == (30, 20, 5)
    assert "innodb_lock_wait_timeout=10" in args["init_command"]
    assert "lock_wait_timeout=10" in args["init_command"].replace("innodb_lock", "")
    assert "sql_mode=" in args["init_command"]


def test_zero_means_no_limit_on_mysql():
    args = engine_options(MYSQL, None, Timeouts(read=0, write=0, lock=0, connect=0))["connect_args"]
    assert args["read_timeout"] is None and args["write_timeout"] is None
    assert args["connect_timeout"] is None and "lock_wait" not in args["init_command"]


def test_postgresql_gets_a_lock_timeout():
    args = engine_options(POSTGRES, None, Timeouts(lock=7))["connect_args"]
    assert "-c lock_timeout=7000" in args["options"] and "-c timezone=UTC" in args["options"]


def test_postgresql_connections_wait_no_longer_than_the_read_timeout(tmp_path):
    """On PostgreSQL every wait for the server has a deadline (libpq itself has none)."""
    app = create_app(
        {
            "DATABASE_URL": server_url("postgres"),
            "DATABASE_READ_TIMEOUT": 3,
            "DOCUMENT_STORAGE": str(tmp_path),
        }
    )
    with app.app_context():
        with db.engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert isinstance(dbapi, TimedPgConnection) and dbapi.read_timeout == 3
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "10s"
        db.engine.dispose()
