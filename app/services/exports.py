"""Exporting an entry table as CSV, JSON or XLSX, streamed from a server-side cursor.

Rows are read in partitions from one connection (`yield_per`: a server-side cursor on MySQL and
PostgreSQL, SQLite's lazy cursor), formatted and handed on, so memory stays flat however large
the table. Values are written so that `flask import` reads them back unchanged: ISO 8601 times
(UTC columns with their +00:00 offset), booleans as true/false, decimals exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from app.entry_tables.registry import EntryTable
from app.models.entry import ROW_STATUSES
from app.models.types import UTCDateTime
from app.models.user import User
from app.services.errors import Invalid
from app.services.formulas import QUOTE_STARTS, needs_quote, neutralise

log = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx", "json")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM = "\ufeff"
PARTITION_ROWS = 2_000
XLSX_MAX_ROWS = 1_048_576 - 1  # a worksheet's rows, less the header
# Provenance added by --with-provenance, in this order; `entered_by` is the clerk's username.
PROVENANCE_NAMES = ("document_id", "entered_by", "status", "created_at", "updated_at")


@dataclass(frozen=True)
class ExportColumn:
    """One column of an export: its header, what is selected, and how values are written."""

    name: str
    expression: sa.ColumnElement[Any]
    kind: str  # text | int | float | decimal | bool | date | time (datetimes come as text)


@dataclass(frozen=True)
class ExportSpec:
    """What to export: a table, its columns, and the rows wanted."""

    table: EntryTable
    columns: list[ExportColumn]
    status: str | None = None

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    def query(self) -> sa.Select[Any]:
        query = sa.select(*[c.expression for c in self.columns])
        if any(c.name == "entered_by" for c in self.columns):
            query = query.select_from(
                self.table.table.outerjoin(
                    User.__table__, User.__table__.c.id == self.table.table.c.entered_by_id
                )
            )
        if self.status:
            query = query.where(self.table.table.c.status == self.status)
        return query.order_by(sort_key(self.table.key_column))


def export_spec(
    table: EntryTable, *, with_provenance: bool = False, status: str | None = None
) -> ExportSpec:
    """The table's own columns (key included), plus provenance when asked."""
    if status is not None and status not in ROW_STATUSES:
        raise Invalid(
            f"Unknown status {status!r}; use one of {', '.join(ROW_STATUSES)}.", field="status"
        )
    own = [_export_column(c) for c in table.table.columns if not c.info.get("provenance")]
    if with_provenance:
        columns = table.table.c
        own += [
            ExportColumn("document_id", columns.document_id, "int"),
            ExportColumn("entered_by", User.__table__.c.username.label("entered_by"), "text"),
            ExportColumn("status", columns.status, "text"),
            _export_column(columns.created_at),
            _export_column(columns.updated_at),
        ]
    return ExportSpec(table, own, status)


def _export_column(column: sa.Column[Any]) -> ExportColumn:
    kind = kind_of(column)
    if kind != "datetime":
        return ExportColumn(column.key, column, kind)
    # The database writes the ISO 8601 text: parsing every value into a datetime and
    # formatting it again was most of an export's time (pymysql parses in pure Python).
    text: sa.ColumnElement[str] = iso_datetime_text(column)
    if isinstance(column.type, UTCDateTime):
        text = text + sa.literal("+00:00", sa.String())  # stored as naive UTC
    return ExportColumn(column.key, text.label(column.key), "text")


class sort_key(FunctionElement[Any]):
    """ORDER BY a key column. On SQLite written `+column`: the planner then sorts the rows it
    scans in order (sequential reads, spilled to a temporary file when large) instead of
    walking the key's index and fetching every row from a random place, 2.5x slower."""

    inherit_cache = True


@compiles(sort_key)
def _sort_key(element: sort_key, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(sort_key, "sqlite")
def _sort_key_sqlite(element: sort_key, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


class iso_datetime_text(FunctionElement[str]):
    """A DATETIME column as the text datetime.isoformat() gives: 2024-01-31T14:05:06[.123456].

    Microseconds appear only when not zero, as Python writes them; NULL stays NULL.
    """

    type = sa.String()
    inherit_cache = True


@compiles(iso_datetime_text)
def _iso_sqlite(element: iso_datetime_text, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite
    return f"replace(replace({compiler.process(element.clauses, **kw)}, ' ', 'T'), '.000000', '')"


@compiles(iso_datetime_text, "mysql")
@compiles(iso_datetime_text, "mariadb")
def _iso_mysql(element: iso_datetime_text, compiler: Any, **kw: Any) -> str:
    return (
        f"replace(replace(CAST({compiler.process(element.clauses, **kw)} AS CHAR), ' ', "
        "'T'), '.000000', '')"
    )


@compiles(iso_datetime_text, "postgresql")
def _iso_postgresql(element: iso_datetime_text, compiler: Any, **kw: Any) -> str:
    # to_char, not ::text, whose layout follows the server's DateStyle
    return (
        f"replace(to_char({compiler.process(element.clauses, **kw)}, "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '')"
    )


def kind_of(column: sa.Column[Any]) -> str:
    """How a column's values are written (and read back by the import)."""
    column_type = column.type
    if isinstance(column_type, sa.TypeDecorator):
        column_type = column_type.impl_instance
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return "text"
    kinds = {
        bool: "bool",
        int: "int",
        float: "float",
        Decimal: "decimal",
        dt.datetime: "datetime",
        dt.date: "date",
        dt.time: "time",
    }
    return kinds.get(python_type, "text")


def stream_rows(engine: sa.Engine, spec: ExportSpec) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows of spec in partitions, from a server-side cursor on one connection."""
    with engine.connect() as conn:
        # read_only: on SQLite a plain BEGIN (a WAL snapshot) that blocks no clerk's save.
        yield from read_partitions(conn.execution_options(read_only=True), spec)


def read_partitions(conn: sa.Connection, spec: ExportSpec) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows of spec in partitions, on conn and within its transaction (a freeze reads
    every table so, in one snapshot)."""
    result = conn.execution_options(yield_per=PARTITION_ROWS).execute(spec.query())
    yield from result.partitions()


# --- text formats ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _float_text(value: float) -> str:
    return repr(value) if math.isfinite(value) else ""


TEXT_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "bool": _bool_text,
    "float": _float_text,
    "decimal": str,
    "date": _text,
    "time": _text,
}


def _converters(
    spec: ExportSpec, formatters: dict[str, Callable[[Any], Any]]
) -> list[tuple[int, Callable[[Any], Any]]]:
    return [(i, formatters[c.kind]) for i, c in enumerate(spec.columns) if c.kind in formatters]


def csv_chunks(
    partitions: Iterator[Sequence[Sequence[Any]]],
    spec: ExportSpec,
    *,
    bom: bool = False,
    raw: bool = False,
) -> Iterator[str]:
    """CSV text (RFC 4180, header first) in chunks of a partition each.

    Text that a spreadsheet would run as a formula is neutralised (app.services.formulas)
    unless `raw`, which writes every value exactly as stored."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(spec.header)
    converters = _converters(spec, TEXT_FORMATTERS)
    inert = [] if raw else [i for i, c in enumerate(spec.columns) if c.kind == "text"]
    for rows in partitions:
        if inert:
            rows = _inert_rows(rows, inert)
        if not converters:
            writer.writerows(rows)  # text and numbers only: the csv module does it all
        for row in rows if converters else ():
            values = list(row)
            for i, convert in converters:
                if values[i] is not None:
                    values[i] = convert(values[i])
            writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _inert_rows(rows: Sequence[Sequence[Any]], columns: list[int]) -> Sequence[Sequence[Any]]:
    """The partition with every text cell a spreadsheet would run as a formula neutralised.

    Column by column, on the first character only: most partitions hold no such cell and are
    passed on as they are (the csv module's fast path stays open)."""
    changed: list[Any] | None = None
    for i in columns:
        for j, row in enumerate(rows):
            value = row[i]
            if type(value) is str and value[:1] in QUOTE_STARTS and needs_quote(value):
                if changed is None:
                    changed = list(rows)
                fixed = list(changed[j])
                fixed[i] = neutralise(value)
                changed[j] = fixed
    return rows if changed is None else changed


def _json_value(kind: str) -> Callable[[Any], str]:
    if kind == "bool":
        return lambda v: "true" if v else "false"
    if kind == "int":
        return str
    if kind == "float":
        return lambda v: repr(v) if math.isfinite(v) else "null"
    if kind == "decimal":  # a JSON number, exactly as stored
        return lambda v: str(v) if v.is_finite() else "null"
    if kind in {"date", "time"}:
        return lambda v: f'"{v.isoformat()}"'
    return lambda v: json.dumps(v if isinstance(v, str) else str(v), ensure_ascii=False)


def json_chunks(partitions: Iterator[Sequence[Sequence[Any]]], spec: ExportSpec) -> Iterator[str]:
    """A JSON array of objects, one object a line, streamed."""
    names = [json.dumps(c.name, ensure_ascii=False) + ": " for c in spec.columns]
    writers = [_json_value(c.kind) for c in spec.columns]
    yield "["
    separator = "\n"
    for rows in partitions:
        lines = []
        for row in rows:
            fields = [
                name + ("null" if value is None else write(value))
                for name, write, value in zip(names, writers, row, strict=True)
            ]
            lines.append(separator + "{" + ", ".join(fields) + "}")
            separator = ",\n"
        yield "".join(lines)
    yield "\n]\n"


# --- XLSX ------------------------------------------------------------------------------------


class ExportError(Exception):
    """The export could not be written; the message says why and what to do instead."""


# Datetimes arrive as ISO text and are written so: Excel keeps milliseconds at most, text
# keeps every stored digit (and reads back).
XLSX_FORMATTERS: dict[str, Callable[[Any], Any]] = {
    "time": _text,
    "float": lambda v: v if math.isfinite(v) else None,
}


def write_xlsx(
    partitions: Iterator[Sequence[Sequence[Any]]], spec: ExportSpec, target: str | IO[bytes]
) -> int:
    """An XLSX workbook (openpyxl write-only mode: rows go to disk as they come); row count."""
    # Imported here: openpyxl pulls in numpy, ~20 MB that a CSV export has no use for.
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=spec.table.name[:31])
    sheet.append(spec.header)
    converters = _converters(spec, XLSX_FORMATTERS)
    text_columns = [i for i, c in enumerate(spec.columns) if c.kind == "text"]
    count = 0
    for rows in partitions:
        for row in rows:
            count += 1
            if count > XLSX_MAX_ROWS:
                raise ExportError(
                    f"{spec.table.name} has more than {XLSX_MAX_ROWS:,} rows, "
                    "more than one XLSX sheet holds; export it as CSV instead."
                )
            values: list[Any] = list(row)
            for i, convert in converters:
                if values[i] is not None:
                    values[i] = convert(values[i])
            for i in text_columns:
                if isinstance(values[i], str) and values[i].startswith("="):
                    values[i] = _text_cell(sheet, values[i])  # text, never a formula
            try:
                sheet.append(values)
            except IllegalCharacterError:
                raise ExportError(
                    f"Row {count} holds a control character that XLSX cannot store; "
                    "export as CSV or JSON instead."
                ) from None
    workbook.save(target)
    return count


def _text_cell(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def export_file_name(table: EntryTable, file_format: str, status: str | None) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    suffix = f"-{status}" if status else ""
    return f"{table.name}{suffix}-{stamp}.{file_format}"
