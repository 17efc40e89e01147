"""Turning DATABASE_URL into an engine that behaves the same on SQLite, MySQL and PostgreSQL."""

from __future__ import annotations

import sqlite3
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from config import PROJECT_ROOT, ConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# RDS and most proxies drop idle connections; recycle well before any common wait_timeout.
MYSQL_POOL_RECYCLE_SECONDS = 280
MYSQL_SQL_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)
CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_SQLITE_NAME = "portal.db"

# Driver names people type (or copy from AWS docs) mapped to the drivers we ship.
_DRIVER_ALIASES = {
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
}
URL_EXAMPLE = "mysql+pymysql://USER:PASSWORD@HOST:3306/DBNAME"
M = TypeVar("M")


def parse_database_url(raw: str | None, instance_path: str, password: str | None = None) -> URL:
    """Parse DATABASE_URL (None means the SQLite file in the instance folder) into a URL."""
    if not raw:
        # URL.create, not a string: a folder name with % or ? must not be read as URL syntax.
        return URL.create("sqlite", database=str(Path(instance_path) / DEFAULT_SQLITE_NAME))
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        # The parser's own message can quote part of the password (a bad "port"), so none here.
        raise ConfigError(
            f"DATABASE_URL could not be parsed; expected something like {URL_EXAMPLE}, with "
            "@ : / in the password percent-encoded (or the password in DATABASE_PASSWORD)."
        ) from None
    if url.host and "@" in url.host:
        # make_url splits `user:p@ss@host` at the first @, leaving "ss@host" as the host name.
        raise ConfigError(
            "DATABASE_URL has more than one @, so its password probably contains an unencoded @: "
            "write it as %40, or leave the password out of the URL and set DATABASE_PASSWORD."
        )
    driver = _DRIVER_ALIASES.get(url.drivername, url.drivername)
    if driver.split("+")[0] not in {"sqlite", "mysql", "mariadb", "postgresql"}:
        raise ConfigError(
            f"DATABASE_URL uses {url.drivername!r}; supported are sqlite:///, "
            "mysql+pymysql:// and postgresql+psycopg://."
        )
    url = url.set(drivername=driver)
    _check_driver_installed(url)
    if password and not url.password and url.get_backend_name() != "sqlite":
        url = url.set(password=password)
    if url.get_backend_name() == "sqlite":
        url = _resolve_sqlite_path(url)
    return url


def _check_driver_installed(url: URL) -> None:
    """Refuse a driver SQLAlchemy does not know or that is not installed (mysql+mysqldb, ...)."""
    try:
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise ConfigError(
            f"DATABASE_URL uses the driver {url.drivername!r}, which is not installed; "
            "use sqlite:///, mysql+pymysql:// or postgresql+psycopg://."
        ) from None


def _resolve_sqlite_path(url: URL) -> URL:
    """Anchor a relative SQLite path at the project root and check its folder exists."""
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file:"):
        return url
    path = Path(database).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    if not path.parent.is_dir():
        raise ConfigError(
            f"DATABASE_URL points at the SQLite file {path}, but the folder {path.parent} "
            "does not exist: create it, or leave DATABASE_URL unset to use the instance folder."
        )
    return url.set(database=str(path))


@dataclass(frozen=True)
class Timeouts:
    """Seconds the app waits on the database (0: no limit).

    read/write bound every round trip, so a frozen network ends a request with a clear
    answer instead of hanging a worker thread; lock bounds waiting for another session's lock.
    """

    read: int = 30
    write: int = 30
    lock: int = 10
    connect: int = CONNECT_TIMEOUT_SECONDS


def engine_options(
    url: URL, ssl_ca: str | None, timeouts: Timeouts | None = None
) -> dict[str, Any]:
    """Engine keyword arguments for the backend named by url."""
    timeouts = timeouts or Timeouts()
    backend = url.get_backend_name()
    # Typed values never reach the logs through SQL error messages.
    if backend == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, "hide_parameters": True}
    if ssl_ca:
        _check_ca_file(ssl_ca)  # PostgreSQL too, not only MySQL's SSLContext below
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if backend in {"mysql", "mariadb"}:
        connect_args: dict[str, Any] = {
            "charset": "utf8mb4",
            "connect_timeout": timeouts.connect or None,
            "read_timeout": timeouts.read or None,
            "write_timeout": timeouts.write or None,
            "init_command": _mysql_init_command(timeouts.lock),
        }
        if ssl_ca:
            connect_args["ssl"] = mysql_ssl_context(ssl_ca)
        options.update(pool_recycle=MYSQL_POOL_RECYCLE_SECONDS, connect_args=connect_args)
    elif backend == "postgresql":
        options_text = "-c timezone=UTC"
        if timeouts.lock:
            options_text += f" -c lock_timeout={timeouts.lock * 1000}"
        connect_args = {"connect_timeout": timeouts.connect, "options": options_text}
        if ssl_ca:
            connect_args.update(sslmode="verify-full", sslrootcert=ssl_ca)
        options.update(pool_recycle=MYSQL_POOL_RECYCLE_SECONDS, connect_args=connect_args)
    return options


def _mysql_init_command(lock_seconds: int) -> str:
    command = f"SET SESSION sql_mode='{MYSQL_SQL_MODE}', time_zone='+00:00'"
    if lock_seconds:
        # Row locks (InnoDB) and table / metadata locks (LOCK TABLES, FLUSH TABLES WITH READ
        # LOCK, ALTER), whose wait is a year by default.
        command += f", innodb_lock_wait_timeout={lock_seconds}, lock_wait_timeout={lock_seconds}"
    return command


class TimedPgConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends after read_timeout seconds.

    libpq has no read timeout: behind a frozen network (a proxy or NAT that holds the TCP
    connection but forwards nothing) a query would wait for ever. The connection is closed on
    expiry, so SQLAlchemy sees a disconnect and the pool replaces it.
    """

    read_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        try:
            return super().wait(gen, interval=interval, timeout=timeout or self.read_timeout)
        except psycopg.errors._WaitTimeout:
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"no answer from the database within {self.read_timeout:g} s "
                "(DATABASE_READ_TIMEOUT); the connection was closed"
            ) from None


def install_postgres_read_timeout(engine: Engine, seconds: int) -> None:
    """Open PostgreSQL connections as TimedPgConnection with this read timeout (0: none)."""
    if not seconds:
        return

    @sa.event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        connection = TimedPgConnection.connect(*cargs, **cparams)
        connection.read_timeout = float(seconds)
        return connection


def mysql_ssl_context(ca_path: str) -> ssl.SSLContext:
    """A TLS context that verifies the server against the CA bundle at ca_path."""
    _check_ca_file(ca_path)
    try:
        context = ssl.create_default_context(cafile=ca_path)
    except ssl.SSLError as exc:
        raise ConfigError(f"DATABASE_SSL_CA file {ca_path} is not a PEM CA bundle: {exc}") from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _check_ca_file(ca_path: str) -> None:
    if not Path(ca_path).is_file():
        raise ConfigError(f"DATABASE_SSL_CA names {ca_path}, which is not a readable file.")


def install_sqlite_pragmas(engine: Engine) -> None:
    """Apply WAL, busy_timeout and foreign keys on every SQLite connection.

    Transactions start with BEGIN IMMEDIATE: a deferred transaction that reads and then writes
    fails at once with "database is locked" when another writer got in between; an immediate
    one waits (up to busy_timeout) for its turn instead. Long reads (exports) that never write
    set the execution option read_only=True and get a plain BEGIN, so they block nobody.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the begin hook below emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Long reads (exports) ask for read_only=True, so they never hold up clerks' saves.
        # An explicit read_only=False (a rebuild of the dashboard's counts during a GET) wins.
        read_only = connection.get_execution_options().get("read_only", None)
        if read_only is None:
            read_only = safe_request()
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        # On the driver's connection itself: two of these start every save, and the way
        # through SQLAlchemy's statement machinery costs more than BEGIN does.
        try:
            connection.connection.dbapi_connection.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as exc:  # as SQLAlchemy would raise it ("database is locked"...)
            raise sa.exc.DBAPIError.instance(
                statement,
                None,
                exc,
                sqlite3.Error,
                hide_parameters=True,
                dialect=connection.dialect,
            ) from exc


def read_after_write(session: Any) -> None:
    """What a request does after its commit only reads (a page shown after a save): on SQLite
    its next transaction is a plain BEGIN, so it does not take the one write lock again and
    hold up the other clerks' saves. Does nothing while a transaction is open."""
    if not session.in_transaction():
        session.connection(execution_options={"read_only": True})


def as_loaded(session: Session, model: type[M], values: Mapping[str, Any]) -> M:
    """An object of model holding these column values, just read by a plain SELECT, placed in
    the session as if a query had loaded it (the object already there, if any, wins).

    For the few objects every request reads (its user, the document a save names): the ORM's
    loading machinery costs more than the SELECT itself. Attributes left out of values
    (relationships, columns not selected) load when first read, as after a query."""
    mapper: Any = sa.inspect(model)
    ident = tuple(values[mapper.get_property_by_column(c).key] for c in mapper.primary_key)
    existing = session.identity_map.get(identity_key(model, ident))
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    instance = mapper.class_manager.new_instance()  # no __init__: nothing here is new
    instance.__dict__.update(values)
    make_transient_to_detached(instance)  # its values are what the database holds
    session.add(instance)
    return instance  # type: ignore[no-any-return]


def safe_request() -> bool:
    """GET and HEAD never change state, so their transactions need not wait for writers."""
    return has_request_context() and request.method in {"GET", "HEAD", "OPTIONS"}


def describe_url(url: URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    return url.render_as_string(hide_password=True)


def drop_all_tables(engine: Engine) -> None:
    """Drop every table in the database, whatever created it (tests and benchmarks only)."""
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    mysql = engine.dialect.name in {"mysql", "mariadb"}
    with engine.begin() as conn:
        if mysql:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        meta.drop_all(bind=conn)
        if mysql:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


def database_timeouts(config: Mapping[str, Any]) -> Timeouts:
    """The Timeouts named by the app's DATABASE_*_TIMEOUT settings."""
    return Timeouts(
        read=int(config.get("DATABASE_READ_TIMEOUT", 30)),
        write=int(config.get("DATABASE_WRITE_TIMEOUT", 30)),
        lock=int(config.get("DATABASE_LOCK_TIMEOUT", 10)),
        connect=int(config.get("DATABASE_CONNECT_TIMEOUT", CONNECT_TIMEOUT_SECONDS)),
    )
