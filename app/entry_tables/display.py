"""Stored values as a person reads them: dates in the column's written format, Yes/No,
the label of a choice. Used wherever a page shows an entry value or a field's name."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from app.entry_tables.fields import write_time, written_format
from app.entry_tables.forms import column_choices, python_type
from app.entry_tables.registry import get_entry_table

BLIND_PREFIX = "double:"
# Tables people read about in the audit trail that are not entry tables.
OTHER_TABLES = {
    "documents": "Documents",
    "field_queries": "Queries",
    "quality_flags": "Quality flags",
    "users": "Users",
}


def show(value: Any, column: sa.Column[Any]) -> str:
    """One stored value of `column` as text for a page ("" for no value)."""
    if value is None:
        return ""
    value = from_snapshot(value, column)  # an audit snapshot's ISO text reads like the rest
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, enum.Enum):
        value = value.value
    labels = _choice_labels(column)
    if labels:
        return labels.get(str(value), str(value))
    if isinstance(value, dt.datetime):
        return written_format(column.info).write(_naive_utc(value), exact=False)
    if isinstance(value, dt.date):
        return written_format(column.info).write(value)
    if isinstance(value, dt.time):
        return write_time(value, exact=False)
    return str(value)


def label(subject: sa.Column[Any] | str, field: str | None = None) -> str:
    """The name a person reads: a column's `info` label (else a tidied column name); given a
    table name, the entry table's label, and with a field, "Table label · Field label"."""
    if isinstance(subject, sa.Column):
        name = subject.key.removesuffix("_id") if subject.foreign_keys else subject.key
        return subject.info.get("label") or name.replace("_", " ").capitalize()
    if subject.startswith(BLIND_PREFIX):  # a clerk's own rows of a double entry
        return f"{label(subject[len(BLIND_PREFIX) :], field)} (blind entry)"
    table = get_entry_table(subject)
    if table is None:
        name = OTHER_TABLES.get(subject, subject.replace("_", " ").capitalize())
        return name if field is None else f"{name} · {field.replace('_', ' ')}"
    if field is None:
        return table.label
    column = table.table.columns.get(field)
    return f"{table.label} · {label(column) if column is not None else field}"


def row_label(row_key: str | None, table_name: str) -> str:
    """A row key as a person reads it: a blind entry's "document/clerk/position" becomes
    "row 3 of document #8"."""
    if row_key is None:
        return ""
    if table_name.startswith(BLIND_PREFIX) and row_key.count("/") == 2:
        document_id, _clerk, position = row_key.split("/")
        return f"row {position} of document #{document_id}"
    if table_name in OTHER_TABLES and row_key.isdigit():
        return f"#{row_key}"
    return row_key


def from_snapshot(value: Any, column: sa.Column[Any] | None) -> Any:
    """A value as the audit trail keeps it (JSON: ISO text for times, text for decimals)
    back as the column's Python value; datetimes as naive UTC, so that one instant spelt
    with or without "+00:00" compares equal."""
    if column is None or not isinstance(value, str):
        return value
    kind = python_type(column)
    try:
        if kind is dt.datetime:
            return _naive_utc(dt.datetime.fromisoformat(value))
        if kind is dt.date:
            return dt.date.fromisoformat(value)
        if kind is dt.time:
            return dt.time.fromisoformat(value)
        if kind is Decimal:
            return Decimal(value)
    except (ValueError, InvalidOperation):
        return value  # written by an older version or by hand: shown as it is
    return value


@lru_cache(maxsize=256)
def _choice_labels(column: sa.Column[Any]) -> dict[str, str]:
    """The labels the form offers for a column's choices (the same words in every page)."""
    return dict(column_choices(column) or ())


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
