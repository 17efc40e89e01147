"""Write two rows into testDB with Python's own sqlite3 module, then read them back.

The table comes from the app's migrations, so create it first; this script never creates tables.
Run from the project root:

    .venv/bin/flask db upgrade
    .venv/bin/python examples/sqlite_example.py                    # instance/portal.db
    .venv/bin/python examples/sqlite_example.py path/to/other.db

Dates are real datetime objects. They are stored the way the app stores them (UTC, as
"YYYY-MM-DD HH:MM:SS.ffffff"), so rows written here sort and compare with rows written by clerks.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_DATABASE = Path(__file__).resolve().parents[1] / "instance" / "portal.db"
BUSY_TIMEOUT_SECONDS = 30  # wait for the app's writers instead of failing with "locked"
EXAMPLE_ROWS = [
    (1, datetime(1989, 1, 1, 10, 0, tzinfo=UTC)),
    (2, datetime(2024, 2, 29, 23, 59, 30, 123456, tzinfo=UTC)),
]


def adapt_datetime(value: datetime) -> str:
    """Store a datetime as naive UTC text, the format SQLAlchemy uses; naive means UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def convert_datetime(raw: bytes) -> datetime:
    """Read a DATETIME column back as a timezone-aware UTC datetime."""
    return datetime.fromisoformat(raw.decode()).replace(tzinfo=UTC)


def connect(path: Path) -> sqlite3.Connection:
    """Open an existing database file (never create one) with datetime conversion on."""
    if not path.is_file():
        sys.exit(f"{path} does not exist: run `flask db upgrade` first, or pass the file's path.")
    sqlite3.register_adapter(datetime, adapt_datetime)
    sqlite3.register_converter("DATETIME", convert_datetime)
    uri = f"{path.resolve().as_uri()}?mode=rw"
    conn = sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, detect_types=sqlite3.PARSE_DECLTYPES
    )
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[str, int, datetime]]) -> None:
    """Insert rows in one transaction, with ? placeholders (never string formatting)."""
    with conn:  # commits, or rolls back on an error
        conn.executemany(
            "INSERT INTO testDB (string_column, integer_column, date_column) VALUES (?, ?, ?)",
            rows,
        )


def read_rows(conn: sqlite3.Connection, keys: list[str]) -> list[tuple[str, int, datetime]]:
    """Read the given keys back, oldest date first."""
    marks = ", ".join("?" for _ in keys)
    return conn.execute(
        "SELECT string_column, integer_column, date_column FROM testDB "
        f"WHERE string_column IN ({marks}) ORDER BY date_column",
        keys,
    ).fetchall()


def main() -> None:
    """Insert the example rows under fresh keys and print them as read back."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATABASE
    run = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    rows = [(f"example-sqlite-{run}-{n}", n, when) for n, when in EXAMPLE_ROWS]
    with closing(connect(path)) as conn:
        try:
            insert_rows(conn, rows)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                sys.exit(f"{path} has no testDB table: run `flask db upgrade` first.")
            raise
        found = read_rows(conn, [key for key, _, _ in rows])
    print(f"Inserted {len(rows)} rows into testDB in {path}; read back:")
    for key, number, when in found:
        print(f"  {key}  {number}  {when.isoformat()}")


if __name__ == "__main__":
    main()
