"""`flask export`, `flask import` and `flask codebook`: the researcher's data on the command line.

Data goes to stdout (or --output); messages go to stderr, so `flask export T > t.csv` is clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import click
from flask.cli import with_appcontext

from app.entry_tables.registry import EntryTable, entry_tables, get_entry_table
from app.extensions import db
from app.models.entry import ROW_STATUSES
from app.read_database import read_engine
from app.services import accounts, queries
from app.services.codebook import RENDERERS, codebook
from app.services.exports import (
    FORMATS,
    ExportError,
    csv_chunks,
    export_spec,
    json_chunks,
    stream_rows,
    write_xlsx,
)
from app.services.imports import import_file


def unknown_table_message(name: str) -> str:
    names = [t.name for t in entry_tables()]
    close = next((n for n in names if n.casefold() == name.casefold()), None)
    hint = f" Did you mean {close}?" if close else ""
    return f"No entry table named {name!r}.{hint} The entry tables are: {', '.join(names)}."


def _table(name: str) -> EntryTable:
    table = get_entry_table(name)
    if table is None:
        raise click.ClickException(unknown_table_message(name))
    return table


@click.command("export")
@click.argument("table_name", metavar="TABLE")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="csv, xlsx (needs --output) or json (an array).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write; default: stdout (csv and json only).",
)
@click.option("--status", type=click.Choice(ROW_STATUSES), help="Only rows with this status.")
@click.option(
    "--with-provenance",
    is_flag=True,
    help="Add document_id, entered_by (username), status, created_at, updated_at.",
)
@click.option("--bom", is_flag=True, help="Start the CSV with the byte-order mark Excel wants.")
@click.option(
    "--raw",
    is_flag=True,
    help="CSV: write values exactly as stored, even those a spreadsheet would run as "
    "a formula (by default these get a leading ').",
)
@with_appcontext
def export_command(
    table_name: str,
    file_format: str,
    output: Path | None,
    status: str | None,
    with_provenance: bool,
    bom: bool,
    raw: bool,
) -> None:
    """Export an entry table (its own columns by default), or `queries` (the reviewers' field
    queries, every column), streamed."""
    if table_name in queries.EXPORT_NAMES:
        if with_provenance or status:
            raise click.UsageError(
                "--with-provenance and --status apply to entry tables; the "
                "queries export has every column already."
            )
        table = queries.export_table()
    else:
        table = _table(table_name)
    if file_format == "xlsx" and output is None:
        raise click.UsageError(
            "XLSX is a binary file and is not written to the terminal: give --output FILE.xlsx."
        )
    if bom and file_format != "csv":
        raise click.UsageError("--bom applies to CSV only.")
    if raw and file_format != "csv":
        raise click.UsageError(
            "--raw applies to CSV only (XLSX writes such values as text cells, JSON as strings)."
        )
    spec = export_spec(table, with_provenance=with_provenance, status=status)
    counter = _Counter(stream_rows(read_engine(), spec))
    if file_format == "xlsx":
        _write_file(output, lambda f: write_xlsx(counter, spec, f))
    else:
        chunks = (
            csv_chunks(counter, spec, bom=bom, raw=raw)
            if file_format == "csv"
            else json_chunks(counter, spec)
        )
        if output is None:
            _write_stdout(chunks)
        else:
            _write_file(output, lambda f: f.writelines(c.encode("utf-8") for c in chunks))
    where = "stdout" if output is None else str(output)
    click.echo(f"Exported {counter.rows:,} rows of {table.name} to {where}.", err=True)


class _Counter:
    """Partitions passed through, rows counted."""

    def __init__(self, partitions: Iterator[Sequence[Any]]) -> None:
        self.partitions, self.rows = partitions, 0

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for partition in self.partitions:
            self.rows += len(partition)
            yield partition


def _write_stdout(chunks: Iterator[str]) -> None:
    sys.stdout.flush()
    stream = sys.stdout.buffer
    try:
        for chunk in chunks:
            stream.write(chunk.encode("utf-8"))
        stream.flush()
    except BrokenPipeError:  # `flask export T | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        raise SystemExit(1) from None


def _write_file(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write to PATH.partial, then rename: a failed export never leaves a half file."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as target:
            write(target)
        partial.replace(path)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        partial.unlink(missing_ok=True)


@click.command("import")
@click.argument("table_name", metavar="TABLE")
@click.argument(
    "path",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
)
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option(
    "--as",
    "as_user",
    metavar="USERNAME",
    help="Record the rows as entered by this user (default: nobody).",
)
@with_appcontext
def import_command(table_name: str, path: Path, dry_run: bool, as_user: str | None) -> None:
    """Import a CSV or XLSX file into TABLE: all rows or none, with a per-row report."""
    table = _table(table_name)
    actor = None
    if as_user:
        actor = accounts.find_user(as_user)
        if actor is None:
            raise click.ClickException(f"No user named {as_user!r}.")
    with path.open("rb") as source:
        report = import_file(table, source, file_name=path.name, actor=actor, dry_run=dry_run)
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)


@click.command("codebook")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(sorted(RENDERERS)),
    default="md",
    show_default=True,
    help="Markdown or CSV.",
)
@with_appcontext
def codebook_command(file_format: str) -> None:
    """Every entry table and field: type, label, help, constraints, choices, required."""
    click.echo(RENDERERS[file_format](codebook(db.engine.dialect)), nl=False)
