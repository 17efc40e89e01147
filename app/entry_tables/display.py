"""Stored values as a person reads them: dates in the column's written format, Yes/No,
the label of a choice. Used wherever a page shows an entry value."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa


def show(value: Any, column: sa.Column) -> str:
    """One stored value of `column` as text for a page ("" for no value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, enum.Enum):
        value = value.value
    choices = column.info.get("choices")
    if choices:
        labels = {str(c[0]) if isinstance(c, tuple | list) else str(c):
                  str(c[1]) if isinstance(c, tuple | list) else str(c) for c in choices}
        return labels.get(str(value), str(value))
    if isinstance(value, dt.datetime):
        text = value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
        return text[:-3] if text.endswith(":00") else text
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def label(column: sa.Column) -> str:
    """The name a person reads for a column: its `info` label, else a tidied column name."""
    return column.info.get("label") or column.key.replace("_", " ").capitalize()
