"""The database foundation: per-connection settings, the testDB table, time and text round trips.

Tests that take `app` run on SQLite, MariaDB and PostgreSQL; the backend-specific ones narrow the
session-scoped `backend` fixture with an indirect parametrisation.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.pool import NullPool

from app import create_app
from app.extensions import db
from app.models import TestDB

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
on_mysql = pytest.mark.parametrize("backend", ["mysql"], indirect=True)
on_servers = pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)

EMOJI = "😀𠜎"  # U+1F600 and U+2070E: both 4 bytes in UTF-8, so utf8mb4 or bust
LONG_VALUE = "x" * 141


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def table_sql() -> str:
    """testDB as a researcher's script writes it: bare on SQLite/MySQL, quoted on PostgreSQL."""
    return '"testDB"' if db.engine.dialect.name == "postgresql" else "testDB"


def save(**values: object) -> None:
    db.session.add(TestDB(**values))
    db.session.commit()
    db.session.remove()


def reload(key: str) -> TestDB:
    """The row as stored, read in a fresh session (nothing cached from the write)."""
    db.session.remove()
    row = db.session.get(TestDB, key)
    assert row is not None
    return row


def assert_recent_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - value) < timedelta(minutes=1)


def count_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(TestDB))


# --- SQLite -------------------------------------------------------------------------------------


def assert_sqlite_pragmas(conn: sa.Connection) -> None:
    journal_mode, foreign_keys, busy_timeout = (
        conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
        for name in ("journal_mode", "foreign_keys", "busy_timeout")
    )
    conn.rollback()  # every transaction is BEGIN IMMEDIATE: release the lock for the next one
    assert journal_mode == "wal"
    assert foreign_keys == 1
    assert busy_timeout > 0


@on_sqlite
def test_sqlite_pragmas_on_every_pooled_connection(ctx):
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(db.engine.connect()) for _ in range(3)]
        assert len({id(conn.connection.dbapi_connection) for conn in conns}) == 3
        for conn in conns:
            assert_sqlite_pragmas(conn)
    db.engine.dispose()  # and again on connections made after the pool was emptied
    with db.engine.connect() as conn:
        assert_sqlite_pragmas(conn)


@on_sqlite
def test_sqlite_concurrent_saves_do_not_lock(app):
    threads, rows = 8, 25
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def clerk(number: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                for i in range(rows):
                    count_rows()  # a request reads (validation, duplicate check) before it writes
                    db.session.add(TestDB(string_column=f"clerk{number}-row{i}", integer_column=i))
                    db.session.commit()
        except BaseException as exc:  # collected: an exception in a thread must fail the test
            errors.append(exc)

    workers = [threading.Thread(target=clerk, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    with app.app_context():
        assert count_rows() == threads * rows


@on_sqlite
def test_sqlite_a_write_lock_held_past_the_busy_timeout_is_a_locked_database(app, monkeypatch):
    """BEGIN IMMEDIATE is sent on the driver's connection; when it cannot get the lock, the
    error still comes as SQLAlchemy's OperationalError (which the outage handling reads)."""
    from app import database
    from app.services import outage

    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    with app.app_context():
        db.engine.dispose()  # new connections, with the short busy_timeout
        with db.engine.connect() as holder:
            holder.execute(sa.select(1))  # BEGIN IMMEDIATE: this connection has the lock
            with pytest.raises(sa.exc.OperationalError) as refused, db.engine.connect() as other:
                other.execute(sa.select(1))
            assert outage.is_unavailable(refused.value) and outage.is_busy(refused.value)
            with db.engine.connect() as reader:  # a read-only BEGIN is not held up
                assert reader.execution_options(read_only=True).execute(sa.select(1)).scalar()
        db.engine.dispose()


# --- MySQL / MariaDB ----------------------------------------------------------------------------


@on_mysql
def test_mysql_session_settings_on_every_pooled_connection(ctx):
    query = "SELECT @@SESSION.sql_mode, @@character_set_connection, @@SESSION.time_zone"
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(db.engine.connect()) for _ in range(2)]
        for conn in conns:
            sql_mode, charset, time_zone = conn.exec_driver_sql(query).one()
            modes = set(sql_mode.split(","))
            assert modes & {"STRICT_ALL_TABLES", "STRICT_TRANS_TABLES"}
            assert {"NO_ZERO_DATE", "NO_ZERO_IN_DATE"} <= modes  # not in the server's default
            assert charset == "utf8mb4"
            assert time_zone == "+00:00"


# On MySQL the app's strict sql_mode makes these errors; PostgreSQL refuses them by nature.
REFUSALS = {
    "too_long": (
        {"string_column": LONG_VALUE, "integer_column": 1},
        r"Data too long|value too long",
    ),
    "not_a_number": (
        {"string_column": "abc-row", "integer_column": "abc"},
        r"Incorrect integer value|invalid input syntax for type integer",
    ),
}


@on_servers
@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_values_are_refused_not_mangled(ctx, case):
    values, message = REFUSALS[case]
    insert = sa.text(
        f"INSERT INTO {table_sql()} (string_column, integer_column) VALUES (:string_column, "
        ":integer_column)"
    )

    def insert_and_commit():
        db.session.execute(insert, values)
        db.session.commit()

    with pytest.raises(sa.exc.DBAPIError) as excinfo:
        insert_and_commit()
    assert re.search(message, str(excinfo.value.orig))
    db.session.rollback()
    assert count_rows() == 0


@on_mysql
def test_orm_refuses_a_141_character_key(ctx):
    db.session.add(TestDB(string_column=LONG_VALUE))
    with pytest.raises(sa.exc.DataError):
        db.session.commit()
    db.session.rollback()
    assert count_rows() == 0


def pooled_connection_id(app: Flask) -> int:
    """The MariaDB thread id of the app's (single) pooled connection, left checked in."""
    with app.app_context():
        connection_id = db.session.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()
        db.session.remove()
        assert db.engine.pool.checkedin() == 1
    return connection_id


def kill_connection(url: str, connection_id: int) -> None:
    """KILL the connection from another one, and wait until the server has dropped it."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"KILL {int(connection_id)}")
            alive = sa.text("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = :id")
            deadline = time.monotonic() + 5
            while conn.execute(alive, {"id": connection_id}).scalar_one():
                assert time.monotonic() < deadline, "the killed connection did not go away"
                time.sleep(0.05)
    finally:
        engine.dispose()


@on_mysql
def test_pool_pre_ping_replaces_a_killed_connection(app, client):
    killed = pooled_connection_id(app)
    kill_connection(app.config["SQLALCHEMY_DATABASE_URI"], killed)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"
    assert pooled_connection_id(app) != killed
    with app.app_context():  # the replacement connection got the session settings too
        sql_mode = db.session.execute(sa.text("SELECT @@SESSION.sql_mode")).scalar_one()
        assert "NO_ZERO_DATE" in sql_mode.split(",")


@on_mysql
def test_killed_connection_fails_without_pre_ping(app, migrated, tmp_path):
    """The control for the test above: the KILL really breaks the pooled connection."""
    options = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    bare = create_app(
        {
            "DATABASE_URL": migrated,
            "DOCUMENT_STORAGE": str(tmp_path / "docs"),
            "SQLALCHEMY_ENGINE_OPTIONS": options,
        }
    )
    try:
        kill_connection(bare.config["SQLALCHEMY_DATABASE_URI"], pooled_connection_id(bare))
        assert bare.test_client().get("/healthz").status_code == 503
    finally:
        with bare.app_context():
            db.engine.dispose()


# --- Every backend ------------------------------------------------------------------------------


def test_testdb_keeps_its_exact_name_and_columns(ctx):
    inspector = sa.inspect(db.engine)
    assert "testDB" in inspector.get_table_names()
    columns = [column["name"] for column in inspector.get_columns("testDB")]
    # Its own three first, in order (positional `SELECT *` readers); provenance columns follow.
    assert columns[:3] == ["string_column", "integer_column", "date_column"]


def test_select_star_from_testdb(ctx):
    save(string_column="k1", integer_column=7)
    if db.engine.dialect.name == "postgresql":
        # PostgreSQL folds unquoted names to lower case: scripts must write "testDB".
        with pytest.raises(sa.exc.ProgrammingError, match="testdb"):
            db.session.execute(sa.text("SELECT * FROM testDB")).all()
        db.session.rollback()
        rows = db.session.execute(sa.text('SELECT * FROM "testDB"')).all()
    else:
        rows = db.session.execute(sa.text("SELECT * FROM testDB")).all()
    assert [(row[0], row[1]) for row in rows] == [("k1", 7)]
    assert rows[0][2] is not None  # date_column, third


def test_emoji_round_trip(ctx):
    save(string_column=EMOJI, integer_column=1)
    assert reload(EMOJI).string_column == EMOJI
    stored = db.session.execute(sa.text(f"SELECT string_column FROM {table_sql()}")).scalar_one()
    assert stored == EMOJI
    assert len(stored) == 2


def test_microseconds_survive(ctx):
    moment = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    save(string_column="micro", date_column=moment)
    stored = reload("micro").date_column
    assert stored == moment
    assert stored.microsecond == 123456


@pytest.mark.parametrize(
    "given",
    [
        datetime(2024, 6, 1, 14, 30, 0, 500, tzinfo=timezone(timedelta(hours=2))),
        datetime(2024, 6, 1, 7, 30, 0, 500, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2024, 6, 1, 12, 30, 0, 500),  # naive values are taken as UTC
    ],
    ids=["plus2", "minus5", "naive"],
)
def test_datetimes_come_back_as_the_same_instant_in_utc(ctx, given):
    save(string_column="tz", date_column=given)
    stored = reload("tz").date_column
    assert stored.utcoffset() == timedelta(0)
    assert stored.replace(tzinfo=None) == datetime(2024, 6, 1, 12, 30, 0, 500)


def test_raw_insert_gets_a_server_side_date(ctx):
    db.session.execute(
        sa.text(f"INSERT INTO {table_sql()} (string_column, integer_column) VALUES ('raw', 1)")
    )
    db.session.commit()
    assert_recent_utc(reload("raw").date_column)


def test_orm_default_gives_a_date(ctx):
    save(string_column="orm", integer_column=2)
    assert_recent_utc(reload("orm").date_column)
