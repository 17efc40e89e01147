"""`flask doctor`: walk the database connection step by step, printing "ok" or the fix.

The order is the one a person debugging AWS RDS follows: the URL, DNS, the TCP port (security
group), the login, the database, TLS, charset and sql_mode, then the migrations. The first hard
failure stops the walk with exit status 1; warnings do not change the exit status.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.database import URL_EXAMPLE, describe_url, install_sqlite_pragmas

TIMEOUT_SECONDS = 5
QUERY_TIMEOUT_SECONDS = 15
DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432}
MYSQL_BACKENDS = {"mysql", "mariadb"}
STRICT_MODES = {"STRICT_ALL_TABLES", "STRICT_TRANS_TABLES"}
RDS_CA_BUNDLE = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"


class StepFailed(Exception):
    """A hard failure: the database is not usable until the fix is applied."""

    def __init__(self, step: str, fix: str) -> None:
        super().__init__(f"{step}: {fix}")
        self.step = step
        self.fix = fix


@dataclass
class Report:
    """Prints one marked line per step to stdout and counts the outcomes."""

    password: str | None = None
    oks: int = 0
    warnings: int = 0
    prefix: str = ""  # "read replica: " for the steps of DATABASE_READ_URL

    def line(self, marker: str, step: str, detail: str) -> None:
        """Print one step's outcome, with the password masked should a driver echo it."""
        text = f"{'[' + marker + ']':<7}{self.prefix}{step}: {detail}"
        if self.password and len(self.password) >= 4:
            text = text.replace(self.password, "***")
        click.echo(text)

    def ok(self, step: str, detail: str) -> None:
        """Report a step that passed."""
        self.oks += 1
        self.line("ok", step, detail)

    def warn(self, step: str, detail: str) -> None:
        """Report a problem that leaves the database usable."""
        self.warnings += 1
        self.line("warn", step, detail)

    def skip(self, step: str, detail: str) -> None:
        """Report a step that does not apply to this backend."""
        self.line("skip", step, detail)


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Diagnose the database connection step by step and print the fix for what fails."""
    report = Report()
    try:
        diagnose(current_app._get_current_object(), report)  # type: ignore[attr-defined]
    except (StepFailed, SQLAlchemyError) as failure:
        if isinstance(failure, StepFailed):
            report.line("FAIL", failure.step, failure.fix)
        else:  # a query after the connection failed: say what the driver said, no traceback
            report.line("FAIL", "database query", str(getattr(failure, "orig", None) or failure))
        click.echo(
            "Summary: the database is NOT usable; apply the fix above, then run "
            "`flask doctor` again."
        )
        sys.exit(1)
    click.echo(
        f"Summary: the database is usable ({report.oks} ok, "
        f"{report.warnings} warning{'s' if report.warnings != 1 else ''})."
    )


def diagnose(app: Flask, report: Report) -> None:
    """Run every step in order; raise StepFailed at the first hard failure."""
    url = check_url(app, report)
    backend = url.get_backend_name()
    if backend == "sqlite":
        check_sqlite_file(url, report)
        report.skip("host and port", "not used by SQLite (a local file)")
    else:
        check_network(url, report)
    walk_connection(app, url, report, app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if app.config.get("SQLALCHEMY_READ_URI"):
        diagnose_read(app, report)


def walk_connection(app: Flask, url: URL, report: Report, options: dict[str, Any]) -> None:
    """Steps from the login on: database, TLS, backend settings, migrations."""
    engine = doctor_engine(app, url, options)
    try:
        with open_connection(engine, url, report) as conn:
            BACKEND_CHECKS[url.get_backend_name()](app, url, conn, report)
            check_migrations(app, conn, report)
    finally:
        engine.dispose()


def diagnose_read(app: Flask, report: Report) -> None:
    """The same walk for DATABASE_READ_URL (a read replica for exports and freezes)."""
    url = make_url(app.config["SQLALCHEMY_READ_URI"])
    read = Report(password=url.password, prefix="read replica: ")
    try:
        read.ok(
            "URL parses",
            f"{describe_url(url)} (from DATABASE_READ_URL: exports, "
            "downloads and freezes read here)",
        )
        if url.get_backend_name() == "sqlite":
            check_sqlite_file(url, read)
        else:
            check_network(url, read)
        walk_connection(app, url, read, app.config["SQLALCHEMY_READ_ENGINE_OPTIONS"])
    except StepFailed as failure:
        raise StepFailed(f"read replica: {failure.step}", failure.fix) from None
    finally:
        report.oks += read.oks
        report.warnings += read.warnings


def check_url(app: Flask, report: Report) -> URL:
    """Step: the URL the app resolved from DATABASE_URL parses and names a database."""
    step = "URL parses"
    try:
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    except (ArgumentError, ValueError, KeyError):
        raise StepFailed(
            step,
            f"expected something like {URL_EXAMPLE}; percent-encode @ : / in "
            "the password or set DATABASE_PASSWORD instead.",
        ) from None
    report.password = url.password
    if url.get_backend_name() != "sqlite" and not url.database:
        raise StepFailed(
            step,
            f"{describe_url(url)} names no database: end the URL with "
            "/DBNAME, as in " + URL_EXAMPLE,
        )
    source = "DATABASE_URL" if app.config.get("DATABASE_URL") else "the default: DATABASE_URL unset"
    report.ok(step, f"{describe_url(url)} (from {source})")
    return url


def check_sqlite_file(url: URL, report: Report) -> None:
    """Steps: the SQLite file exists and it and its folder are writable."""
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file:"):
        report.warn(
            "SQLite file",
            f"{database or 'in-memory'} is not a plain file path; "
            "file checks skipped (an in-memory database keeps nothing)",
        )
        return
    path = Path(database)
    folder = path.parent
    if not folder.is_dir():
        raise StepFailed(
            "SQLite file",
            f"the folder {folder} does not exist: create it "
            f"(mkdir -p {folder}) or leave DATABASE_URL unset.",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StepFailed(
            "folder writable",
            f"{folder} is not writable by this user; SQLite "
            "writes its -wal and -shm files beside the database: chown or chmod it.",
        )
    if not path.is_file():
        raise StepFailed(
            "SQLite file",
            f"{path} does not exist yet: run `flask db upgrade` "
            "(it creates the file and every table).",
        )
    if not os.access(path, os.R_OK | os.W_OK):
        raise StepFailed(
            "SQLite file", f"{path} is not readable and writable by this user: chown or chmod it."
        )
    report.ok("SQLite file", f"{path} ({path.stat().st_size} bytes)")
    report.ok("folder writable", str(folder))


def check_network(url: URL, report: Report) -> None:
    """Steps: the host resolves and its port accepts a TCP connection."""
    if not url.host:
        report.skip("host and port", "no host in DATABASE_URL: the driver's local default applies")
        return
    port = url.port or DEFAULT_PORTS[url.get_backend_name()]
    check_host(url.host, port, report)
    check_tcp(url.host, port, report)


def resolve(host: str, port: int, timeout: float) -> list[str]:
    """The host's addresses; getaddrinfo has no timeout of its own, so run it with a deadline."""
    outcome: dict[str, Any] = {}

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=lookup, daemon=True)  # a stuck lookup must not block exit
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no DNS answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return sorted({str(info[4][0]) for info in outcome["infos"]})


def check_host(host: str, port: int, report: Report) -> None:
    """Step: DNS knows the host name."""
    try:
        addresses = resolve(host, port, TIMEOUT_SECONDS)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StepFailed(
            "host resolves",
            (
                f"cannot resolve {host!r} ({reason}). Check the host in DATABASE_URL: for RDS copy "
                "the endpoint from the console, the database's 'Connectivity & security' tab "
                "(like mydb.abc123xyz.eu-west-1.rds.amazonaws.com), not the DB identifier."
            ),
        ) from None
    private = all(_is_private(address) for address in addresses)
    note = " (private: reachable only from inside its VPC)" if private else ""
    report.ok("host resolves", f"{host} -> {', '.join(addresses)}{note}")


def _is_private(address: str) -> bool:
    """True for a private-network address other than loopback."""
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_private and not ip.is_loopback


def is_loopback(host: str | None) -> bool:
    """True when host names this machine, so traffic never leaves it."""
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tcp(host: str, port: int, report: Report) -> None:
    """Step: something accepts TCP connections on host:port within TIMEOUT_SECONDS."""
    step = "TCP port answers"
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS):
            pass
    except ConnectionRefusedError:
        raise StepFailed(
            step,
            (
                f"{host}:{port} refused the connection: nothing listens on that port. Check the "
                "port in DATABASE_URL (RDS: 3306 for MySQL, 5432 for PostgreSQL) and that the "
                "server is running (RDS status 'Available')."
            ),
        ) from None
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise StepFailed(
            step,
            (
                f"{host}:{port}: {reason} within {TIMEOUT_SECONDS} s; the packets are dropped, "
                "which is what a security group does. Add an inbound rule to the RDS security "
                f"group for TCP {port} from your IP (or from the app's security group), and set "
                "'Publicly accessible' = Yes or run from inside the VPC."
            ),
        ) from None
    report.ok(step, f"{host}:{port} accepted a TCP connection")


def doctor_engine(app: Flask, url: URL, engine_options: dict[str, Any] | None = None) -> sa.Engine:
    """An engine built like the app's (TLS, init_command, pragmas) with short timeouts."""
    if engine_options is None:
        engine_options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    options = {
        key: value
        for key, value in engine_options.items()
        if not key.startswith("pool_") or key == "pool_pre_ping"
    }
    options.pop("max_overflow", None)
    connect_args = dict(options.pop("connect_args", {}))
    backend = url.get_backend_name()
    if backend in MYSQL_BACKENDS:
        connect_args.update(
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=QUERY_TIMEOUT_SECONDS,
            write_timeout=QUERY_TIMEOUT_SECONDS,
        )
    elif backend == "postgresql":
        pg_options = connect_args.get("options", "")
        connect_args.update(
            connect_timeout=TIMEOUT_SECONDS,
            options=(f"{pg_options} -c statement_timeout={QUERY_TIMEOUT_SECONDS * 1000}").strip(),
        )
    engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args, **options)
    if backend == "sqlite":
        install_sqlite_pragmas(engine)
    return engine


@contextmanager
def open_connection(engine: sa.Engine, url: URL, report: Report) -> Iterator[sa.Connection]:
    """Steps: login accepted and database exists (one connection attempt answers both)."""
    try:
        conn = engine.connect()
    except DBAPIError as exc:
        step, fix = connect_failure(exc.orig, url)
        if step == "database exists":
            login_step_ok(url, report)
        raise StepFailed(step, fix) from None
    except SQLAlchemyError as exc:
        raise StepFailed("connection", str(exc)) from None
    with conn:
        if url.get_backend_name() == "sqlite":
            report.ok("SQLite opens", "connected with the app's settings")
        else:
            login_step_ok(url, report)
            report.ok("database exists", repr(url.database))
        yield conn


def check_sqlite(app: Flask, url: URL, conn: sa.Connection, report: Report) -> None:
    """Step: the app's pragmas are in force (WAL, foreign keys, busy timeout)."""
    journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    found = f"journal_mode={journal}, foreign_keys={foreign_keys}, busy_timeout={busy}"
    if journal == "wal" and foreign_keys == 1 and busy:
        report.ok("pragmas", found)
    else:
        report.warn(
            "pragmas",
            f"{found}; expected wal, 1 and a timeout. WAL needs a local "
            "disk (not a network share) and a writable folder; without it "
            "clerks saving at once see 'database is locked'.",
        )
    report.skip("TLS", "not used by SQLite (a local file)")


def check_mysql(app: Flask, url: URL, conn: sa.Connection, report: Report) -> None:
    """Steps: TLS, then charset and sql_mode on a MySQL / MariaDB connection."""
    status = dict(
        conn.exec_driver_sql(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')"
        ).all()
    )
    tls = f"{status['Ssl_version']}, {status['Ssl_cipher']}" if status.get("Ssl_cipher") else None
    check_tls(report, tls, app.config.get("DATABASE_SSL_CA"), _production(app), url.host)
    check_mysql_charset(url, conn, report)


def check_mysql_charset(url: URL, conn: sa.Connection, report: Report) -> None:
    """Step: utf8mb4 and a strict sql_mode on the app's connection; the database's default."""
    charset, sql_mode, db_charset = conn.exec_driver_sql(
        "SELECT @@character_set_connection, @@sql_mode, (SELECT DEFAULT_CHARACTER_SET_NAME "
        "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE())"
    ).one()
    strict = STRICT_MODES & set(str(sql_mode).split(","))
    if charset != "utf8mb4":
        raise StepFailed(
            "charset and sql_mode",
            f"character_set_connection is {charset}, not "
            "utf8mb4: the server is too old or forces a charset; use MySQL 8 / "
            "MariaDB 10.6+ with the default parameter group.",
        )
    if not strict:
        raise StepFailed(
            "charset and sql_mode",
            f"sql_mode is {sql_mode!r}, without "
            "STRICT_ALL_TABLES or STRICT_TRANS_TABLES, so bad values would be "
            "truncated silently: set sql_mode in the RDS parameter group.",
        )
    report.ok(
        "charset and sql_mode",
        f"character_set_connection=utf8mb4, sql_mode has {', '.join(sorted(strict))}",
    )
    if db_charset != "utf8mb4":
        report.warn(
            "database charset",
            (
                f"{url.database!r} defaults to {db_charset}, and tables created by `flask db "
                f"upgrade` inherit it: ALTER DATABASE `{url.database}` CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_unicode_ci; before upgrading."
            ),
        )


def check_postgresql(app: Flask, url: URL, conn: sa.Connection, report: Report) -> None:
    """Steps: TLS, then the server encoding on a PostgreSQL connection."""
    row = conn.exec_driver_sql(
        "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    ).first()
    tls = f"{row.version}, {row.cipher}" if row is not None and row.ssl else None
    check_tls(report, tls, app.config.get("DATABASE_SSL_CA"), _production(app), url.host)
    encoding = conn.exec_driver_sql("SHOW server_encoding").scalar()
    if encoding != "UTF8":
        raise StepFailed(
            "charset",
            f"server_encoding is {encoding}, not UTF8: create the "
            f"database with CREATE DATABASE \"{url.database}\" ENCODING 'UTF8' "
            "TEMPLATE template0; then run `flask db upgrade`.",
        )
    report.ok("charset", "server_encoding=UTF8")


def _production(app: Flask) -> bool:
    """True under ProductionConfig."""
    return app.config.get("ENV_NAME") == "production"


def check_tls(
    report: Report, tls: str | None, ssl_ca: str | None, production: bool, host: str | None
) -> None:
    """Step: is the connection encrypted, and is the server's certificate verified?"""
    if tls and ssl_ca:
        report.ok("TLS in use", f"{tls}; server certificate verified against {ssl_ca}")
    elif tls:
        report.warn(
            "TLS in use but not verified",
            f"{tls}; set DATABASE_SSL_CA to the CA "
            f"bundle (RDS: {RDS_CA_BUNDLE}) so the server's certificate is checked.",
        )
    elif ssl_ca:
        raise StepFailed(
            "TLS not in use",
            "DATABASE_SSL_CA is set but the connection is not encrypted: enable TLS on the server.",
        )
    elif production and not is_loopback(host):
        raise StepFailed(
            "TLS not in use",
            "production traffic to another machine must be "
            f"encrypted: download {RDS_CA_BUNDLE} and set DATABASE_SSL_CA to it.",
        )
    else:
        report.warn(
            "TLS not in use",
            "DATABASE_SSL_CA is unset; fine for a local server. For "
            f"RDS download {RDS_CA_BUNDLE} and set DATABASE_SSL_CA to its path.",
        )


def check_migrations(app: Flask, conn: sa.Connection, report: Report) -> None:
    """Step: the database's alembic_version is the head of migrations/."""
    step = "migrations at head"
    script = ScriptDirectory(app.extensions["migrate"].directory)
    heads = set(script.get_heads())
    current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        report.ok(step, f"database at {', '.join(sorted(heads))}, the head of migrations/")
        return
    if not current:
        raise StepFailed(step, unversioned_fix(sa.inspect(conn).get_table_names()))
    known = {revision.revision for revision in script.walk_revisions()}
    at = ", ".join(sorted(current))
    if not current <= known:
        raise StepFailed(
            step,
            f"the database is at {at}, a revision missing from migrations/ "
            "(newer code upgraded it): deploy that code here too.",
        )
    raise StepFailed(
        step,
        f"the database is at {at}, the code's head is "
        f"{', '.join(sorted(heads))}: run `flask db upgrade`.",
    )


BACKEND_CHECKS: dict[str, Callable[[Flask, URL, sa.Connection, Report], None]] = {
    "sqlite": check_sqlite,
    "mysql": check_mysql,
    "mariadb": check_mysql,
    "postgresql": check_postgresql,
}


def login_step_ok(url: URL, report: Report) -> None:
    """Report the login step as passed."""
    report.ok("login accepted", f"user {url.username!r}")


def connect_failure(orig: BaseException, url: URL) -> tuple[str, str]:
    """The step a driver's connect error belongs to, and its fix."""
    backend = url.get_backend_name()
    if backend in MYSQL_BACKENDS:
        return mysql_failure(orig, url)
    if backend == "postgresql":
        return postgresql_failure(orig, url)
    return "SQLite opens", sqlite_open_fix(url, orig)


def mysql_failure(orig: BaseException, url: URL) -> tuple[str, str]:
    """Sort a PyMySQL connect error by its error code."""
    code = orig.args[0] if orig.args and isinstance(orig.args[0], int) else None
    message = str(orig.args[-1]) if orig.args else str(orig)
    if code == 1045:  # ER_ACCESS_DENIED_ERROR
        return "login accepted", login_fix(url, message)
    if code == 1049:  # ER_BAD_DB_ERROR
        return "database exists", missing_database_fix(url)
    if code == 1044:  # ER_DBACCESS_DENIED_ERROR: the database is missing or not granted
        return "database exists", (
            f"{message}: the database does not exist or the user has no privileges on it. As "
            f"the master user: CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET "
            f"utf8mb4 COLLATE utf8mb4_unicode_ci; GRANT ALL PRIVILEGES ON `{url.database}`.* "
            f"TO '{url.username}'@'%';"
        )
    if code in {2026, 3159} or "SSL" in message or "CERTIFICATE" in message:
        return "TLS handshake", tls_fix(message)
    return "login accepted", f"the port answered but the connection failed: {message}"


def postgresql_failure(orig: BaseException, url: URL) -> tuple[str, str]:
    """Sort a psycopg connect error; libpq has no SQLSTATE before login, so read the message."""
    state = getattr(orig, "sqlstate", None)
    message = str(orig).rsplit("FATAL:", 1)[-1].strip()
    if state == "3D000" or re.search(r'database ".*" does not exist', message):
        return "database exists", missing_database_fix(url)
    if state == "42501" or "permission denied for database" in message:
        return "database exists", (
            f"{message}: as the master user, GRANT CONNECT, CREATE ON "
            f'DATABASE "{url.database}" TO "{url.username}";'
        )
    if "no encryption" in message or "SSL" in message or "certificate" in message:
        return "TLS handshake", tls_fix(message)
    if state in {"28P01", "28000"} or re.search(
        r'password authentication failed|role ".*" does not exist|no password|pg_hba', message
    ):
        return "login accepted", login_fix(url, message)
    return "login accepted", f"the port answered but the connection failed: {message}"


def login_fix(url: URL, message: str) -> str:
    """What to do when the server refuses the username or password."""
    unsent = "" if url.password else "No password was sent: put it in DATABASE_PASSWORD. "
    return (
        f"{message}. {unsent}Use the instance's master username and password (RDS console: "
        "'Configuration' shows the master username; 'Modify' sets a new master password). In "
        "DATABASE_URL percent-encode @ : / % in the password (%40 %3A %2F %25), or leave it "
        "out of the URL and set DATABASE_PASSWORD."
    )


def missing_database_fix(url: URL) -> str:
    """What to do when the login works but the named database does not exist."""
    if url.get_backend_name() == "postgresql":
        create = f"CREATE DATABASE \"{url.database}\" ENCODING 'UTF8';"
    else:
        create = (
            f"CREATE DATABASE `{url.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
        )
    return (
        f"the server has no database {url.database!r}. RDS's 'Initial database name' "
        "(Configuration tab) is not the DB instance identifier, and none is made when it was "
        f"left empty. Create it as the master user: {create} then run `flask db upgrade`."
    )


def tls_fix(message: str) -> str:
    """What to do when the TLS handshake fails, or one side insists on TLS the other lacks."""
    if re.search(r"does(n't| not) support", message):
        return (
            f"{message}: DATABASE_SSL_CA is set, so TLS is required, but this server offers "
            "none. Enable TLS on the server, or unset DATABASE_SSL_CA for a local server."
        )
    if re.search(r"(Hostname|IP address) mismatch", message):
        return (
            f"{message}: the server's certificate is for another name. Put the name it was "
            "issued for in DATABASE_URL: for RDS the endpoint from the console, not an IP "
            "address or a CNAME of it."
        )
    if "certificate verify failed" in message:
        return (
            f"{message}: no CA in the DATABASE_SSL_CA file signed the server's certificate. "
            f"For RDS download {RDS_CA_BUNDLE} (it covers every region) and point "
            "DATABASE_SSL_CA at it; for another server use the CA that issued its "
            "certificate."
        )
    return (
        f"{message}. Set DATABASE_SSL_CA to the CA bundle ({RDS_CA_BUNDLE}) and use the RDS "
        "endpoint name as the host: the certificate names it, not an IP address or a CNAME."
    )


def sqlite_open_fix(url: URL, orig: BaseException) -> str:
    """What to do when SQLite cannot open the file."""
    return (
        f"{url.database} could not be opened ({orig}): if it is not a SQLite database or "
        "is damaged, restore it from a backup or point DATABASE_URL at the right file."
    )


def unversioned_fix(tables: list[str]) -> str:
    """What to do when the database has no alembic_version."""
    if not tables:
        return "the database has no tables yet: run `flask db upgrade`."
    return (
        f"tables exist ({', '.join(sorted(tables)[:5])}) but no alembic_version, so they were "
        "made outside the migrations. If they match the models exactly, run `flask db stamp "
        "head` once; otherwise move them aside and run `flask db upgrade`."
    )
