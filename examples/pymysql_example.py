"""Write two rows into testDB with PyMySQL, then read them back: local MariaDB or AWS RDS.

The connection comes from DATABASE_URL, the same variable the app reads, so this works against
RDS unchanged. DATABASE_PASSWORD (when the URL has none) and DATABASE_SSL_CA (TLS, e.g. the RDS
global-bundle.pem) are honoured as in the app. The table comes from the app's migrations; this
script never creates tables. Run from the project root:

    export DATABASE_URL='mysql+pymysql://USER:PASSWORD@HOST:3306/DBNAME'
    .venv/bin/flask db upgrade
    .venv/bin/python examples/pymysql_example.py
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

import pymysql
from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_SECONDS = 10
NO_SUCH_TABLE = 1146  # MySQL's ER_NO_SUCH_TABLE
EXAMPLE_ROWS = [
    (1, datetime(1989, 1, 1, 10, 0, tzinfo=UTC)),
    (2, datetime(2024, 2, 29, 23, 59, 30, 123456, tzinfo=UTC)),
]


def connection_settings() -> dict[str, Any]:
    """Keyword arguments for pymysql.connect, taken from DATABASE_URL."""
    raw = os.environ.get("DATABASE_URL", "").strip()
    url = make_url(raw) if raw else None
    if url is None or url.get_backend_name() not in {"mysql", "mariadb"}:
        sys.exit("Set DATABASE_URL to mysql+pymysql://USER:PASSWORD@HOST:3306/DBNAME first.")
    settings: dict[str, Any] = {
        "host": url.host or "localhost",
        "user": url.username,
        "password": url.password or os.environ.get("DATABASE_PASSWORD") or "",
        "database": url.database,
        "port": url.port or 3306,
        "charset": "utf8mb4",
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        # The app stores naive UTC; make NOW() and friends agree for this session too.
        "init_command": "SET time_zone = '+00:00'",
    }
    ssl_ca = os.environ.get("DATABASE_SSL_CA", "").strip()
    if ssl_ca:
        settings.update(ssl_ca=ssl_ca, ssl_verify_identity=True)
    return settings


def to_utc_naive(value: datetime) -> datetime:
    """DATETIME columns hold naive UTC: convert aware values, take naive ones as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def insert_rows(conn: pymysql.connections.Connection, rows: list[tuple]) -> None:
    """Insert rows in one transaction, with %s placeholders (never string formatting)."""
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO testDB (string_column, integer_column, date_column) VALUES (%s, %s, %s)",
            [(key, number, to_utc_naive(when)) for key, number, when in rows],
        )
    conn.commit()


def read_rows(conn: pymysql.connections.Connection, keys: list[str]) -> list[tuple]:
    """Read the given keys back, oldest date first, with dates as aware UTC datetimes."""
    marks = ", ".join(["%s"] * len(keys))
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT string_column, integer_column, date_column FROM testDB "
            f"WHERE string_column IN ({marks}) ORDER BY date_column",
            keys,
        )
        return [(key, number, when.replace(tzinfo=UTC)) for key, number, when in cursor]


def main() -> None:
    """Insert the example rows under fresh keys and print them as read back."""
    settings = connection_settings()
    run = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    rows = [(f"example-pymysql-{run}-{n}", n, when) for n, when in EXAMPLE_ROWS]
    conn = pymysql.connect(**settings)
    try:
        insert_rows(conn, rows)
        found = read_rows(conn, [key for key, _, _ in rows])
    except pymysql.err.ProgrammingError as exc:
        if exc.args and exc.args[0] == NO_SUCH_TABLE:
            sys.exit(f"{settings['database']} has no testDB table: run `flask db upgrade` first.")
        raise
    finally:
        conn.close()
    print(f"Inserted {len(rows)} rows into testDB on {settings['host']}; read back:")
    for key, number, when in found:
        print(f"  {key}  {number}  {when.isoformat()}")


if __name__ == "__main__":
    main()
