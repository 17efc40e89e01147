"""A frozen table's CSV, the export's own text (raw), with its lines made by the database on
MySQL / MariaDB and SQLite.

PyMySQL parses every value of every row in pure Python: at a million rows that and the csv
module's formatting were most of a freeze's time, on one core. Asked for one ready CSV line per
row, the server does that work in C beside the client (on its own core), the client parses one
value a row, and the freeze takes about half the time of `flask export` of the same rows.

The lines are byte for byte what `exports.csv_chunks(..., raw=True)` writes (RFC 4180 as the csv
module writes it: a field is quoted when it holds a comma, a double quote, CR or LF, quotes
doubled; NULL as an empty field; CRLF line ends), for the column kinds whose text the database
writes exactly as Python does: text of a bounded length, whole numbers, yes/no, dates, and the
datetimes the export already has the database write. A table with any other column (floats,
decimals, times, unbounded text) and PostgreSQL keep the Python writer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from app.services import exports

SERVER_BACKENDS = {"mysql", "mariadb"}
# SQLite runs in the portal's own process, but it builds a line in C far faster than the driver
# hands eight values to Python and the csv module joins them (a million rows: about 0.8x the
# export's time instead of 1.02x). Its text has no length limit to run into.
LINE_BACKENDS = SERVER_BACKENDS | {"sqlite"}
QUOTED = '[,"\r\n]'  # what makes the csv module quote a field (excel dialect, QUOTE_MINIMAL)


def csv_chunks(
    conn: sa.Connection, spec: exports.ExportSpec, step: Callable[[int], None]
) -> Iterator[str]:
    """The CSV of spec's rows read on conn (in its transaction), header first, a partition a
    chunk; calls step(rows) once each partition has been handed on."""
    query = server_lines_query(spec, conn.dialect.name)
    if query is None:
        return _stepped_python_chunks(exports.read_partitions(conn, spec), spec, step)
    return _server_chunks(conn, spec, query, step)


def _server_chunks(
    conn: sa.Connection,
    spec: exports.ExportSpec,
    query: sa.Select[Any],
    step: Callable[[int], None],
) -> Iterator[str]:
    yield header_line(spec)
    result = conn.execution_options(yield_per=exports.PARTITION_ROWS).execute(query)
    for rows in result.partitions():
        try:
            chunk = "".join([row[0] for row in rows])
        except TypeError:
            if all(row[0] is not None for row in rows):
                raise
            # CONCAT gives NULL for a line longer than max_allowed_packet
            raise exports.ExportError(
                f"A row of {spec.table.name} is longer than the database's max_allowed_packet "
                "allows in one value; raise max_allowed_packet and freeze again."
            ) from None
        yield chunk
        step(len(rows))


def _stepped_python_chunks(
    partitions: Iterator[Sequence[Sequence[Any]]],
    spec: exports.ExportSpec,
    step: Callable[[int], None],
) -> Iterator[str]:
    def stepped() -> Iterator[Sequence[Sequence[Any]]]:
        for rows in partitions:
            yield rows
            step(len(rows))

    return exports.csv_chunks(stepped(), spec, raw=True)


def header_line(spec: exports.ExportSpec) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(spec.header)
    return buffer.getvalue()


def server_lines_query(spec: exports.ExportSpec, backend: str) -> sa.Select[Any] | None:
    """spec's query with one column, each row's CSV line; None when the database cannot write
    it exactly (another backend, or a column kind whose text differs from Python's)."""
    if backend not in LINE_BACKENDS or len(spec.columns) < 2:  # csv quotes a lone empty field
        return None
    fields = []
    for column in spec.columns:
        field = _field(spec, column, backend)
        if field is None:
            return None
        fields.append(sa.func.coalesce(field, ""))
    if backend == "sqlite":  # no concat_ws before SQLite 3.44: the || operator
        line: sa.ColumnElement[Any] = sa.literal_column("''")
        for index, field in enumerate(fields):
            line = line.op("||")(field if index == 0 else sa.literal(",").op("||")(field))
        line = line.op("||")(sa.literal("\r\n"))
    else:
        line = sa.func.concat(sa.func.concat_ws(",", *fields), "\r\n")
    # The rows, joins, filter and order of the export's own query, one column instead of many.
    return spec.query().with_only_columns(line, maintain_column_froms=True)


def _field(
    spec: exports.ExportSpec, column: exports.ExportColumn, backend: str
) -> sa.ColumnElement[Any] | None:
    """The column's CSV field as SQL text (NULL stays NULL), or None when not exact."""
    expression = column.expression
    if isinstance(expression, sa.Label):
        expression = expression.element
    column_type = expression.type
    if isinstance(column_type, sa.TypeDecorator) or getattr(column_type, "enum_class", None):
        return None  # values Python converts on reading (an Enum of strings stays text)
    own = spec.table.table.c.get(column.name)
    if column.kind == "text" and own is not None and exports.kind_of(own) == "datetime":
        return expression  # the export's ISO text, written by the database: digits, -, :, T, +
    if column.kind == "text" and isinstance(column_type, sa.String) and column_type.length:
        # Bounded text only: a line longer than max_allowed_packet comes back NULL.
        return _quoted_sqlite(expression) if backend == "sqlite" else _quoted(expression)
    if column.kind == "int" and isinstance(column_type, sa.Integer):
        return sa.cast(expression, sa.CHAR)
    if column.kind == "bool" and isinstance(column_type, sa.Boolean):
        return sa.case((expression.is_(None), None), (expression, "true"), else_="false")
    if column.kind == "date" and type(column_type) is sa.Date:
        return sa.cast(expression, sa.CHAR)  # YYYY-MM-DD, as date.isoformat()
    return None


def _quoted(expression: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """Text as the csv module writes it: quoted, quotes doubled, when it holds , " CR or LF."""
    text = binary_text(expression)
    return sa.case(
        (text.regexp_match(QUOTED), sa.func.concat('"', sa.func.replace(text, '"', '""'), '"')),
        else_=text,
    )


def _quoted_sqlite(text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """_quoted on SQLite: instr() compares bytes exactly; no REGEXP (a Python call a row)."""
    holds = sa.or_(*(sa.func.instr(text, sa.func.char(ord(c))) > 0 for c in ',"\r\n'))
    return sa.case(
        (holds, sa.literal('"').op("||")(sa.func.replace(text, '"', '""')).op("||")('"')),
        else_=text,
    )


class binary_text(FunctionElement[str]):
    """Text as utf8mb4 compared byte for byte, whatever its column's character set and
    collation: the csv module looks for these four characters exactly."""

    type = sa.String()
    inherit_cache = True


@compiles(binary_text)
def _binary_text(element: binary_text, compiler: Any, **kw: Any) -> str:
    return f"CONVERT({compiler.process(element.clauses, **kw)} USING utf8mb4) COLLATE utf8mb4_bin"
