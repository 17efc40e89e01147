"""Importing a CSV or XLSX file into an entry table: all rows or none, each one validated by the
same form converter as the web form, with a report naming row, column and message per problem.

Two passes over one read of the file. The first checks the header, validates every row, finds
duplicate keys (inside the file and against the table) and spools the typed rows to a temporary
file; no write lock is held meanwhile. Only when nothing is wrong does the second pass insert
the spooled rows, the ImportBatch and its audit event in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import pickle
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from app.entry_tables.forms import column_required, entry_form_class, field_for_column
from app.entry_tables.registry import EntryTable
from app.extensions import db
from app.models.audit import AuditEvent
from app.models.imports import ImportBatch
from app.models.types import UTCDateTime, utcnow
from app.request_log import current_request_id
from app.services import audit, tallies
from app.services.exports import PROVENANCE_NAMES, kind_of
from app.services.tabular import Formula, TableFile, UnreadableFile, open_table_file

log = logging.getLogger(__name__)

CHUNK_ROWS = 1_000
MAX_LISTED_PROBLEMS = 1_000
SHOWN_VALUE_CHARS = 60
TRUE_WORDS = {"true", "1", "yes", "y", "on", "x"}
FALSE_WORDS = {"false", "0", "no", "n", "off"}
UTC_OFFSET = re.compile(r".*[0-9](Z|[+-][0-9]{2}:?[0-9]{2})", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: data row (1 = first row under the header) and column."""

    row: int | None
    column: str | None
    message: str
    value: str | None = None

    @property
    def where(self) -> str:
        place = f"row {self.row}" if self.row else ("header" if self.column else "file")
        return f"{place}, {self.column}" if self.column else place

    def __str__(self) -> str:
        shown = f" (value: {self.value!r})" if self.value not in (None, "") else ""
        return f"{self.where}: {self.message}{shown}"


@dataclass
class ImportReport:
    """What an import found and did."""

    table: str
    file_name: str
    dry_run: bool = False
    file_format: str | None = None
    sheet: str | None = None
    rows_read: int = 0
    rows_imported: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    notes: list[str] = field(default_factory=list)
    batch_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def unlisted(self) -> int:
        return self.problem_count - len(self.problems)

    def add(self, row: int | None, column: str | None, message: str, value: Any = None) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(Problem(row, column, message, _shown(value)))

    def summary(self) -> str:
        source = f"{self.file_name} ({(self.file_format or '?').upper()}" + (
            f", sheet “{self.sheet}”)" if self.sheet else ")"
        )
        if not self.ok:
            return (
                f"Nothing was imported into {self.table}: {self.problem_count:,} "
                f"problem{'s' if self.problem_count != 1 else ''} in {source}."
            )
        if self.dry_run:
            return (
                f"Dry run: {self.rows_read:,} rows of {source} would be imported into "
                f"{self.table}; nothing was written."
            )
        return (
            f"Imported {self.rows_imported:,} rows of {source} into {self.table} "
            f"as import batch {self.batch_id}."
        )

    def lines(self) -> list[str]:
        """The report as text: problems first, then notes, then the summary."""
        lines = [str(p) for p in self.problems]
        if self.unlisted:
            lines.append(f"... and {self.unlisted:,} more problems not listed.")
        return [*lines, *self.notes, self.summary()]


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    text = value.text if isinstance(value, Formula) else str(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS] + "…"


@dataclass(frozen=True)
class Target:
    """A table column filled from one position of the file."""

    column: sa.Column[Any]
    position: int
    kind: str
    utc: bool  # a UTCDateTime column: an offset in the text is turned into UTC

    @property
    def name(self) -> str:
        return self.column.key


def import_file(
    table: EntryTable,
    source: IO[bytes],
    *,
    file_name: str,
    actor: Any = None,
    dry_run: bool = False,
) -> ImportReport:
    """Validate a CSV/XLSX file and, when nothing is wrong and not dry_run, import every row.

    `actor` (a User, or None for the command line) becomes the rows' entered_by; rows get the
    status "entered". The caller's transaction is ended first (no lock held while validating).
    """
    report = ImportReport(table=table.name, file_name=file_name[:255], dry_run=dry_run)
    actor_id = getattr(actor, "id", None)
    actor_name = getattr(actor, "username", None) or "command line"
    db.session.rollback()
    sha256 = _sha256(source)
    try:
        opened = open_table_file(source)
    except UnreadableFile as exc:
        report.add(exc.row, None, exc.message)
        return report
    try:
        report.file_format, report.sheet = opened.file_format, opened.sheet
        report.notes.extend(opened.notes)
        targets = map_header(table, opened.header, report)
        if not report.ok:
            return report  # header problems come before anything else
        with tempfile.TemporaryFile() as spool:
            _validate_rows(table, targets, opened, report, spool)
            if report.ok and report.rows_read == 0:
                report.add(None, None, "The file has a header but no data rows: nothing to import.")
            if report.ok:
                _note_earlier_imports(report, table, sha256)
            if report.ok and not dry_run:
                spool.seek(0)
                _write(table, targets, _spooled(spool), report, sha256, actor_id, actor_name)
    finally:
        opened.close()
    return report


def _sha256(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: source.read(1024 * 1024), b""):
        digest.update(block)
    source.seek(0)
    return digest.hexdigest()


# --- the header ------------------------------------------------------------------------------


def importable_columns(table: EntryTable) -> list[sa.Column[Any]]:
    """Columns a file may fill: what the form has, plus a generated key (kept when given)."""
    return ([table.key_column] if table.key_is_generated else []) + list(table.data_columns)


def map_header(table: EntryTable, header: list[str], report: ImportReport) -> list[Target]:
    """Header cells to columns (by name; else by name or label ignoring case); problems added."""
    columns = importable_columns(table)
    exact = {c.key: c for c in columns}
    loose = {
        **{str(c.info.get("label", "")).casefold(): c for c in columns if c.info.get("label")},
        **{c.key.casefold(): c for c in columns},
    }
    ignorable = {n.casefold() for n in PROVENANCE_NAMES} | {
        c.key.casefold() for c in table.provenance_columns
    }
    targets: dict[str, Target] = {}
    unknown: list[str] = []
    ignored: list[str] = []
    for position, raw in enumerate(header):
        name = str(raw).strip()
        column = exact.get(name)
        if column is None:
            column = loose.get(name.casefold())
        if not name:
            report.add(None, f"column {position + 1}", "This column has no name in the header.")
        elif column is None:
            (ignored if name.casefold() in ignorable else unknown).append(name)
        elif column.key in targets:
            report.add(None, name, f"The column {column.key} appears twice in the header.")
        else:
            targets[column.key] = Target(
                column, position, kind_of(column), isinstance(column.type, UTCDateTime)
            )
    for name in unknown:
        report.add(
            None,
            name,
            f"Unknown column: {table.name} has no such column. Its columns "
            f"are {', '.join(c.key for c in columns)}.",
        )
    for column in columns:
        if (
            column.key not in targets
            and column_required(column)
            and not (column is table.key_column and table.key_is_generated)
        ):
            report.add(
                None,
                column.key,
                f"Missing required column {column.key} "
                f"({column.info.get('label', column.key)}): every row needs a value.",
            )
    _header_notes(table, targets, ignored, report)
    return sorted(targets.values(), key=lambda t: t.position)


def _header_notes(
    table: EntryTable, targets: dict[str, Target], ignored: list[str], report: ImportReport
) -> None:
    if ignored:
        report.notes.append(
            f"Ignored provenance columns {', '.join(ignored)}: imported rows "
            "are entered by the importing user with the status “entered”."
        )
    absent = [c.key for c in table.data_columns if c.key not in targets]
    if absent:
        report.notes.append(
            f"Not in the file, so left empty or to their defaults: {', '.join(absent)}."
        )


# --- the rows --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def import_form_class(table: EntryTable, with_key: bool) -> type:
    """The web form's class; with a generated key's field too when the file gives keys."""
    form_class = entry_form_class(table)
    if not with_key:
        return form_class
    return type(
        f"{form_class.__name__}Import",
        (form_class,),
        {table.key_column.key: field_for_column(table.key_column)},
    )


def _validate_rows(
    table: EntryTable,
    targets: list[Target],
    opened: TableFile,
    report: ImportReport,
    spool: IO[bytes],
) -> None:
    key_target = next((t for t in targets if t.column is table.key_column), None)
    form = import_form_class(table, key_target is not None and table.key_is_generated)(
        formdata=None, meta={"csrf": False}
    )
    width = len(opened.header)
    seen: dict[Any, int] = {}
    chunk: list[tuple[int, tuple[Any, ...]]] = []
    try:
        for number, cells in opened.rows:
            if all(_blank(c) for c in cells):
                continue  # blank lines between or after the rows
            report.rows_read += 1
            values = _validate_row(form, targets, number, cells, width, report)
            if values is None:
                continue
            if key_target is not None and _duplicate(
                values, targets, key_target, number, seen, report
            ):
                continue
            chunk.append((number, values))
            if len(chunk) >= CHUNK_ROWS:
                _flush(table, targets, key_target, chunk, report, spool)
                chunk = []
    except UnreadableFile as exc:
        report.add(exc.row, None, exc.message)
        return
    _flush(table, targets, key_target, chunk, report, spool)


def _validate_row(
    form: Any,
    targets: list[Target],
    number: int,
    cells: list[Any],
    width: int,
    report: ImportReport,
) -> tuple[Any, ...] | None:
    """The row's typed values, or None after adding its problems to the report."""
    before = report.problem_count
    if len(cells) > width and not all(_blank(c) for c in cells[width:]):
        report.add(
            number, None, f"This row has {len(cells)} values but the header names {width} columns."
        )
    formdata: MultiDict[str, str] = MultiDict()
    raw: dict[str, Any] = {}
    reported = set()  # columns with a problem already: the form's message would repeat it
    for target in targets:
        cell = cells[target.position] if target.position < len(cells) else None
        raw[target.name] = cell
        if isinstance(cell, Formula):
            report.add(
                number,
                target.name,
                "This cell holds a formula; formulas are refused "
                "(the import reads values only): copy the cells and paste them as "
                "values, then import again.",
                cell,
            )
            reported.add(target.name)
            continue
        text, problem = cell_text(cell, target)
        if problem:
            report.add(number, target.name, problem, cell)
            reported.add(target.name)
        formdata[target.name] = text
    form.process(formdata)
    if not form.validate():
        for name, messages in form.errors.items():
            if name not in reported:
                report.add(number, name, " ".join(str(m) for m in messages), raw.get(name))
    if report.problem_count > before:
        return None
    return tuple(form[t.name].data for t in targets)


def cell_text(value: Any, target: Target) -> tuple[str, str | None]:
    """A cell as the text a browser would send for it, and a problem the form cannot see."""
    if value is None:
        return "", None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        text = str(int(value))  # Excel keeps every number as a float
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, dt.datetime):
        midnight = value.time() == dt.time(0)
        text = value.date().isoformat() if target.kind == "date" and midnight else value.isoformat()
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    if target.kind == "bool":
        return _bool_text(text)
    if target.utc and UTC_OFFSET.fullmatch(text.strip()):
        text = _as_utc(text.strip())
    return text, None


def _bool_text(text: str) -> tuple[str, str | None]:
    # A checkbox field takes any text as "ticked": an import must not read "0" as true.
    word = text.strip().casefold()
    if word in TRUE_WORDS:
        return "true", None
    if word in FALSE_WORDS or not word:
        return ("false" if word else ""), None
    return "", "Use true or false (1 or 0, yes or no)."


def _as_utc(text: str) -> str:
    """An ISO 8601 time with an offset as naive UTC text (what the form reads); else as is."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return text  # the form's message explains the accepted format
    if value.tzinfo is None:
        return text
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _duplicate(
    values: tuple[Any, ...],
    targets: list[Target],
    key_target: Target,
    number: int,
    seen: dict[Any, int],
    report: ImportReport,
) -> bool:
    key = values[targets.index(key_target)]
    first = seen.setdefault(key, number)
    if first != number:
        report.add(number, key_target.name, f"Duplicate key: row {first} has the same key.", key)
        return True
    return False


def _flush(
    table: EntryTable,
    targets: list[Target],
    key_target: Target | None,
    chunk: list[tuple[int, tuple[Any, ...]]],
    report: ImportReport,
    spool: IO[bytes],
) -> None:
    """Check a chunk's keys against the table; spool its rows while the file is still clean."""
    if not chunk:
        return
    if key_target is not None:
        index = targets.index(key_target)
        rows_by_key = {values[index]: number for number, values in chunk}
        for key in sorted(_existing_keys(table, list(rows_by_key)), key=lambda k: rows_by_key[k]):
            report.add(
                rows_by_key[key],
                key_target.name,
                "A row with this key exists already in the table.",
                key,
            )
    if report.ok and not report.dry_run:
        pickle.dump([values for _, values in chunk], spool, protocol=pickle.HIGHEST_PROTOCOL)


def _existing_keys(table: EntryTable, keys: list[Any]) -> set[Any]:
    column = table.key_column
    # A read-only connection of its own: on SQLite a plain BEGIN that blocks no clerk's save.
    with db.engine.connect() as conn:
        conn = conn.execution_options(read_only=True)
        return set(conn.scalars(sa.select(column).where(column.in_(keys))))


def _spooled(spool: IO[bytes]) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


def _note_earlier_imports(report: ImportReport, table: EntryTable, sha256: str) -> None:
    earlier = db.session.scalars(
        sa.select(ImportBatch)
        .where(ImportBatch.table_name == table.name, ImportBatch.file_sha256 == sha256)
        .order_by(ImportBatch.id)
    ).all()
    db.session.rollback()  # a read: release SQLite's lock at once
    for batch in earlier:
        report.notes.append(
            f"The same file (same SHA-256) was imported before: batch "
            f"{batch.id}, {batch.created_at:%Y-%m-%d %H:%M} UTC, "
            f"{batch.row_count:,} rows."
        )


# --- writing ---------------------------------------------------------------------------------


def _write(
    table: EntryTable,
    targets: list[Target],
    chunks: Iterator[list[tuple[Any, ...]]],
    report: ImportReport,
    sha256: str,
    actor_id: int | None,
    actor_name: str,
) -> None:
    """Insert every spooled row, the batch and its audit event; one transaction."""
    now = utcnow()
    provenance = {
        "entered_by_id": actor_id,
        "status": "entered",
        "document_id": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    names = [t.name for t in targets]
    insert = sa.insert(table.table)
    try:
        for chunk in chunks:
            db.session.execute(
                insert,
                [{**dict(zip(names, values, strict=True)), **provenance} for values in chunk],
            )
            report.rows_imported += len(chunk)
        tallies.add(
            {
                (
                    tallies.rows_subject(table.name),
                    actor_id or tallies.NO_CLERK,
                    "entered",
                ): report.rows_imported
            }
        )
        if table.key_is_generated and table.key_column.key in names:
            _advance_sequence(table)
        batch_id = _record_batch(table, report, sha256, now, actor_id, actor_name).id
        db.session.commit()  # after it, no attribute is read: that would begin a transaction
    except SQLAlchemyError as exc:
        db.session.rollback()
        report.rows_imported = 0
        rid = current_request_id()
        detail = getattr(exc, "orig", None) or exc
        log.warning(
            "import into %s refused by the database (request_id=%s): %s: %s",
            table.name,
            rid or "-",
            type(exc).__name__,
            str(detail)[:500],
        )
        where = f"request id {rid}" if rid else "the server log has the details"
        report.add(
            None,
            None,
            f"The database refused the rows, so nothing was written "
            f"({where}). Was a row with the same key added meanwhile? Import again to "
            "see which.",
        )
        return
    report.batch_id = batch_id
    log.info(
        "import batch %s: %s rows into %s by %s",
        batch_id,
        report.rows_imported,
        table.name,
        actor_name,
    )


def _advance_sequence(table: EntryTable) -> None:
    """Keys given by the file leave PostgreSQL's sequence behind: move it past them."""
    if db.session.get_bind().dialect.name != "postgresql":
        return  # SQLite and MySQL move on by themselves
    key = table.key_column
    name = db.session.get_bind().dialect.identifier_preparer.format_table(table.table)
    db.session.execute(
        sa.select(
            sa.func.setval(
                sa.func.pg_get_serial_sequence(name, key.name),
                sa.select(sa.func.coalesce(sa.func.max(key), 1)).scalar_subquery(),
            )
        )
    )


def _record_batch(
    table: EntryTable,
    report: ImportReport,
    sha256: str,
    now: dt.datetime,
    actor_id: int | None,
    actor_name: str,
) -> ImportBatch:
    key = table.key_column
    low, high = db.session.execute(
        sa.select(sa.func.min(key), sa.func.max(key)).where(table.table.c.created_at == now)
    ).one()
    batch = ImportBatch(
        table_name=table.name,
        file_name=report.file_name,
        file_sha256=sha256,
        file_format=report.file_format or "",
        sheet_name=report.sheet[:64] if report.sheet else None,
        row_count=report.rows_imported,
        first_key=None if low is None else str(low)[:255],
        last_key=None if high is None else str(high)[:255],
        actor_id=actor_id,
        actor_name=actor_name[:64],
        notes="\n".join(report.notes) or None,
        created_at=now,
    )
    db.session.add(batch)
    db.session.flush()
    audit.record(
        "import",
        table.name,
        None,
        actor=SimpleNamespace(id=actor_id, username=actor_name),
        after={
            "batch": batch.id,
            "rows": report.rows_imported,
            "file": report.file_name,
            "sha256": sha256,
            "format": report.file_format,
            "sheet": report.sheet,
        },
        reason=f"import batch {batch.id}",
    )
    return batch


def batch_rows(batch: ImportBatch, table: EntryTable) -> int:
    """How many rows of the batch are still in the table (rows share the batch's time)."""
    column = table.table.c
    query = (
        sa.select(sa.func.count())
        .select_from(table.table)
        .where(column.created_at == batch.created_at)
    )
    if batch.actor_id is None:
        query = query.where(column.entered_by_id.is_(None))
    else:
        query = query.where(column.entered_by_id == batch.actor_id)
    return db.session.scalar(query) or 0


def batch_event(batch: ImportBatch) -> AuditEvent | None:
    """The audit event recorded with the batch."""
    return db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "import",
            AuditEvent.table_name == batch.table_name,
            AuditEvent.reason == f"import batch {batch.id}",
        )
    )


def recent_batches(limit: int = 100) -> list[ImportBatch]:
    return list(
        db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit))
    )
