"""Every registered entry table goes through save -> list -> history -> export -> import ->
codebook, with values made from its own columns: a table is covered the moment it is registered
(app/models/__init__.py), with no test to write. Runs on each configured backend."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from app.entry_tables.display import show
from app.entry_tables.forms import column_choices, column_required, python_type
from app.entry_tables.registry import EntryTable, entry_tables, get_entry_table
from app.extensions import db
from app.models import AuditEvent

TABLE_NAMES = [table.name for table in entry_tables()]


def test_the_example_tables_are_registered():
    assert {"testDB", "register_person"} <= set(TABLE_NAMES)


def _range(info: dict[str, Any]) -> tuple[float | None, float | None]:
    """The narrowest of the hard limits and the soft (expected) ones: no warning to confirm."""
    lows = [info[k] for k in ("min", "expected_min") if info.get(k) is not None]
    highs = [info[k] for k in ("max", "expected_max") if info.get(k) is not None]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def sample(column: sa.Column) -> tuple[str, Any]:
    """What a clerk types into the column's field, and the value the database must then hold."""
    choices = column_choices(column)
    kind = python_type(column)
    if choices and kind is not bool:
        return choices[-1][0], choices[-1][0]
    low, high = _range(column.info)
    if kind is bool:
        return ("y", True) if column_required(column) else ("1", True)
    if kind is int:
        number = int((low + high) // 2) if low is not None and high is not None else 42
        number = max(int(low), number) if low is not None else number
        return str(number), number
    if kind is float:
        number = (low + high) / 2 if low is not None and high is not None else 2.5
        return repr(number), number
    if kind is Decimal:
        scale = getattr(column.type, "scale", None) or 0
        number = Decimal(7).scaleb(-scale) + 1 if scale else Decimal(8)
        return str(number), number
    if kind is dt.datetime:
        return "1935-05-06 07:08", dt.datetime(1935, 5, 6, 7, 8)
    if kind is dt.date:
        return "1901-02-03", dt.date(1901, 2, 3)
    if kind is dt.time:
        return "14:05", dt.time(14, 5)
    length = getattr(column.type, "length", None) or 40
    text = f"Sample {column.key.replace('_', ' ')}"[:length].strip()
    return text, text


def comparable(value: Any) -> Any:
    """Datetimes as naive UTC (UTCDateTime columns read back aware)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, float):
        return round(value, 9)
    return value


def stored(app, table: EntryTable) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.execute(sa.select(table.table)).mappings().all()
        return [{c.key: comparable(row[c.name]) for c in table.data_columns} for row in rows]


@pytest.mark.parametrize("table_name", TABLE_NAMES)
def test_save_list_history_export_import_codebook(
    app, client, auth, users, runner, tmp_path, table_name
):
    table = get_entry_table(table_name)
    typed = {column.key: sample(column) for column in table.data_columns}
    expected = {key: comparable(value) for key, (_, value) in typed.items()}

    # save: the form the converter made takes the typed values and commits them at once
    auth.login("clerk")
    saved = client.post(
        f"/data/{table_name}/new", data={key: text for key, (text, _) in typed.items()}
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    assert stored(app, table) == [expected]
    with app.app_context():
        row = db.session.execute(sa.select(table.model)).scalar_one()
        key = table.key_of(row)
        shown = {c.key: show(getattr(row, c.key), c) for c in table.data_columns}
    auth.logout()

    # list: the reviewer sees the row, every value as the pages show it
    auth.login("reviewer")
    listing = client.get(f"/data/{table_name}")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    for column_key, text in shown.items():
        assert html.escape(text, quote=False) in page or html.escape(text) in page, column_key

    # history: the creation is audited with the values
    history = client.get(f"/data/{table_name}/history", query_string={"key": key})
    assert history.status_code == 200
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.table_name == table_name, AuditEvent.row_key == key
            )
        ).all()
    assert [e.action for e in events] == ["create"]
    assert "create" in history.get_data(as_text=True).lower()

    # export, then import into the emptied table: the same values come back
    path = tmp_path / f"{table_name}.csv"
    exported = runner.invoke(args=["export", table_name, "--output", str(path)])
    assert exported.exit_code == 0, exported.output
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert header == [c.key for c in table.table.columns if not c.info.get("provenance")]
    with app.app_context():
        db.session.execute(sa.delete(table.table))
        db.session.commit()
    assert stored(app, table) == []
    imported = runner.invoke(args=["import", table_name, str(path)])
    assert imported.exit_code == 0, imported.output
    assert stored(app, table) == [expected]

    # codebook: every column of the table, in both formats
    book = runner.invoke(args=["codebook", "--format", "csv"])
    assert book.exit_code == 0, book.output
    columns = [
        r["column"] for r in csv.DictReader(io.StringIO(book.stdout)) if r["table"] == table_name
    ]
    assert columns == [c.key for c in table.table.columns]
    markdown = runner.invoke(args=["codebook"]).stdout
    assert f"(`{table_name}`)" in markdown
