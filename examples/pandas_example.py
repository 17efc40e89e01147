"""Read testDB into a pandas DataFrame, the same lines for the SQLite file and for AWS RDS.

The engine comes from DATABASE_READ_URL (a read replica, as exports use) or else DATABASE_URL,
the variables the app reads (unset: the app's SQLite file, instance/portal.db).
DATABASE_PASSWORD and DATABASE_SSL_CA are honoured as in the app. The table comes from the
app's migrations; this script only reads. Run from the project root:

    .venv/bin/python examples/pandas_example.py                       # instance/portal.db
    DATABASE_URL='mysql+pymysql://USER:PASSWORD@HOST:3306/DBNAME' \\
        .venv/bin/python examples/pandas_example.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = f"sqlite:///{PROJECT_ROOT / 'instance' / 'portal.db'}"
# Short names people type, mapped to the drivers the project installs (as the app does).
DRIVERS = {
    "mysql": "mysql+pymysql",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
}
# Typed, so every backend hands pandas real datetimes (SQLite stores them as text).
TEST_DB = sa.table(
    "testDB",
    sa.column("string_column", sa.String),
    sa.column("integer_column", sa.Integer),
    sa.column("date_column", sa.DateTime),
)


def database_url() -> URL:
    """DATABASE_READ_URL (a read replica), else DATABASE_URL, resolved as the app does."""
    raw = (
        os.environ.get("DATABASE_READ_URL", "").strip()
        or os.environ.get("DATABASE_URL", "").strip()
    )
    url = make_url(raw or DEFAULT_URL)
    url = url.set(drivername=DRIVERS.get(url.drivername, url.drivername))
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        path = path if path.is_absolute() else PROJECT_ROOT / path  # relative to the project
        if not path.is_file():
            sys.exit(f"{path} does not exist: run `flask db upgrade` first.")
        return url.set(database=str(path))
    if not url.password and os.environ.get("DATABASE_PASSWORD"):
        url = url.set(password=os.environ["DATABASE_PASSWORD"])
    return url


def make_engine(url: URL) -> sa.Engine:
    """An engine for url, with utf8mb4 on MySQL and TLS when DATABASE_SSL_CA is set."""
    ssl_ca = os.environ.get("DATABASE_SSL_CA", "").strip()
    connect_args: dict[str, object] = {}
    if url.get_backend_name() in {"mysql", "mariadb"}:
        connect_args["charset"] = "utf8mb4"
        if ssl_ca:
            connect_args["ssl"] = {"ca": ssl_ca}  # PyMySQL then checks certificate and host
    elif url.get_backend_name() == "postgresql" and ssl_ca:
        connect_args.update(sslmode="verify-full", sslrootcert=ssl_ca)
    return sa.create_engine(url, connect_args=connect_args)


def read_testdb(engine: sa.Engine) -> pd.DataFrame:
    """The whole table, with date_column as timezone-aware UTC datetimes."""
    if not sa.inspect(engine).has_table("testDB"):
        sys.exit(f"{engine.url.database} has no testDB table: run `flask db upgrade` first.")
    query = sa.select(TEST_DB).order_by(TEST_DB.c.string_column)
    # The app stores naive UTC, so say so: pandas then shows and compares the right instants.
    return pd.read_sql(query, engine, parse_dates={"date_column": {"utc": True}})


def main() -> None:
    """Print testDB and its column types."""
    engine = make_engine(database_url())
    try:
        frame = read_testdb(engine)
    finally:
        engine.dispose()
    print(f"testDB: {len(frame)} rows")
    print(frame.to_string(index=False))
    print(frame.dtypes.to_string())


if __name__ == "__main__":
    main()
