"""The codebook: every entry table and column with its type, label, help and constraints.

The constraints are read from the fields the form converter builds, so the codebook states the
rules the entry forms and `flask import` enforce, not a copy of them that could drift.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from wtforms.validators import Length, NumberRange, Regexp

from app.entry_tables.forms import column_required, field_for_column
from app.entry_tables.registry import EntryTable, entry_tables
from app.models.entry import ROW_STATUSES
from app.models.types import UTCDateTime
from app.services.exports import kind_of

KIND_NAMES = {
    "text": "text",
    "int": "whole number",
    "float": "number",
    "decimal": "decimal number",
    "bool": "yes/no (true or false)",
    "date": "date (YYYY-MM-DD)",
    "datetime": "date and time (ISO 8601)",
    "time": "time of day (HH:MM, 24-hour)",
}
PROVENANCE_HELP = {
    "document_id": "The document the row was typed from (documents.id).",
    "entered_by_id": "The user who entered the row (users.id).",
    "status": f"Review status: {', '.join(ROW_STATUSES)}.",
    "version": "Counts saves; guards against two people overwriting each other.",
    "created_at": "When the row was first saved (UTC).",
    "updated_at": "When the row was last saved (UTC).",
}
FIELDS = (
    "table",
    "column",
    "label",
    "role",
    "type",
    "sql_type",
    "required",
    "max_length",
    "min",
    "max",
    "pattern",
    "choices",
    "default",
    "help",
)


@dataclass(frozen=True)
class CodebookField:
    """One column as a researcher needs to know it."""

    table: str
    column: str
    label: str
    role: str  # data | key | generated key | provenance
    type: str
    sql_type: str
    required: bool
    max_length: int | None = None
    min: Any = None
    max: Any = None
    pattern: str | None = None
    choices: tuple[tuple[str, str], ...] = ()
    default: str | None = None
    help: str = ""
    unique: bool = False

    @property
    def constraints(self) -> list[str]:
        """The rules in words, for the page and the Markdown."""
        rules = ["unique"] if self.unique else []
        if self.max_length is not None:
            rules.append(f"at most {self.max_length:,} characters")
        if self.min is not None and self.max is not None:
            rules.append(f"from {self.min} to {self.max}")
        elif self.min is not None:
            rules.append(f"at least {self.min}")
        elif self.max is not None:
            rules.append(f"at most {self.max}")
        if self.pattern:
            rules.append(f"pattern {self.pattern}")
        if self.choices:
            rules.append(
                "one of "
                + ", ".join(v if v == label else f"{v} ({label})" for v, label in self.choices)
            )
        if self.default:
            rules.append(f"default: {self.default}")
        return rules


@dataclass(frozen=True)
class CodebookTable:
    name: str
    label: str
    description: str
    fields: list[CodebookField]


def codebook(dialect: sa.Dialect | None = None) -> list[CodebookTable]:
    """Every entry table, every column; SQL types as `dialect` (the database's) names them."""
    return [
        CodebookTable(t.name, t.label, t.description, table_fields(t, dialect))
        for t in entry_tables()
    ]


def table_fields(table: EntryTable, dialect: sa.Dialect | None = None) -> list[CodebookField]:
    fields = []
    for column in table.table.columns:
        if column.info.get("provenance"):
            fields.append(_provenance_field(table, column, dialect))
        elif column.primary_key and table.key_is_generated:
            fields.append(
                CodebookField(
                    table.name,
                    column.key,
                    column.info.get("label", "Row number"),
                    "generated key",
                    KIND_NAMES["int"],
                    _sql_type(column, dialect),
                    False,
                    help="Assigned by the database when a row is saved.",
                    unique=True,
                )
            )
        else:
            fields.append(_data_field(table, column, dialect))
    return fields


def _data_field(
    table: EntryTable, column: sa.Column[Any], dialect: sa.Dialect | None
) -> CodebookField:
    unbound = field_for_column(column)
    kwargs = unbound.kwargs  # type: ignore[attr-defined]  # outside a form: an UnboundField
    length = next((v for v in kwargs["validators"] if isinstance(v, Length)), None)
    number = next((v for v in kwargs["validators"] if isinstance(v, NumberRange)), None)
    pattern = next((v for v in kwargs["validators"] if isinstance(v, Regexp)), None)
    choices = tuple((c.value, c.label) for c in kwargs.get("choices", []) if c.value != "")
    kind = kind_of(column)
    if choices and kind != "bool":
        kind = "choice"
    return CodebookField(
        table=table.name,
        column=column.key,
        label=str(kwargs["label"]),
        role="key" if column.primary_key else "data",
        type=_type_name(column, kind),
        sql_type=_sql_type(column, dialect),
        required=column_required(column),
        max_length=None if length is None or length.max < 0 else length.max,
        min=None if number is None else number.min,
        max=None if number is None else number.max,
        pattern=column.info.get("pattern") if pattern is not None else None,
        choices=() if kind == "bool" else choices,
        default=_default(column),
        help=str(kwargs.get("description") or ""),
        unique=bool(column.primary_key or column.unique),
    )


def _provenance_field(
    table: EntryTable, column: sa.Column[Any], dialect: sa.Dialect | None
) -> CodebookField:
    return CodebookField(
        table.name,
        column.key,
        column.key.replace("_", " ").capitalize(),
        "provenance",
        _type_name(column, kind_of(column)),
        _sql_type(column, dialect),
        False,
        choices=tuple((s, s) for s in ROW_STATUSES) if column.key == "status" else (),
        default=_default(column),
        help=PROVENANCE_HELP.get(column.key, "Set by the portal."),
    )


def _type_name(column: sa.Column[Any], kind: str) -> str:
    if kind == "choice":
        return "choice"
    name = KIND_NAMES.get(kind, kind)
    if kind == "datetime" and isinstance(column.type, UTCDateTime):
        return "date and time, UTC (ISO 8601)"
    scale = getattr(column.type, "scale", None)
    if kind == "decimal" and scale is not None:
        return f"{name}, {scale} decimal places"
    if kind == "text" and getattr(column.type, "length", None) is None:
        return "long text"
    return name


def _sql_type(column: sa.Column[Any], dialect: sa.Dialect | None) -> str:
    if dialect is None:
        return str(column.type)
    try:
        return str(column.type.compile(dialect=dialect))
    except sa.exc.CompileError:
        return str(column.type)


def _default(column: sa.Column[Any]) -> str | None:
    default = column.default
    if default is None:
        return None
    if default.is_callable:
        name = getattr(getattr(default, "arg", None), "__name__", "")
        return "the time of saving" if "utcnow" in name or name == "<lambda>" else name
    return str(getattr(default, "arg", ""))


# --- output ----------------------------------------------------------------------------------


def _md_cell(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def as_markdown(tables: list[CodebookTable]) -> str:
    lines = [
        "# Codebook",
        "",
        (
            "Every entry table and column, with the rules the entry forms and `flask import` "
            "enforce. Times are stored in UTC."
        ),
        "",
    ]
    for table in tables:
        lines += [f"## {table.label} (`{table.name}`)", ""]
        if table.description:
            lines += [table.description, ""]
        lines += [
            "| Column | Label | Type | Required | Constraints | Help |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for f in table.fields:
            role = "" if f.role == "data" else f" ({f.role})"
            lines.append(
                "| "
                + " | ".join(
                    _md_cell(c)
                    for c in (
                        f"`{f.column}`{role}",
                        f.label,
                        f"{f.type} — {f.sql_type}",
                        "yes" if f.required else "no",
                        "; ".join(f.constraints),
                        f.help,
                    )
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def as_csv(tables: list[CodebookTable]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for table in tables:
        for f in table.fields:
            writer.writerow(
                [
                    f.table,
                    f.column,
                    f.label,
                    f.role,
                    f.type,
                    f.sql_type,
                    "yes" if f.required else "no",
                    _blank(f.max_length),
                    _blank(f.min),
                    _blank(f.max),
                    f.pattern or "",
                    "; ".join(f"{v}={label}" for v, label in f.choices),
                    f.default or "",
                    f.help,
                ]
            )
    return buffer.getvalue()


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


RENDERERS: dict[str, Callable[[list[CodebookTable]], str]] = {"md": as_markdown, "csv": as_csv}
