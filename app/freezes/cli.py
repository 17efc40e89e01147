"""`flask freeze create | verify | list | diff`: citable, checksummed versions of the data."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask.cli import AppGroup

from app.models.freeze import FREEZE_ROWS
from app.read_database import read_engine
from app.services import accounts, freezes
from app.services.errors import DomainError
from app.services.freeze_diff import csv_lines, diff
from app.storage import StorageError, get_storage

freeze_cli = AppGroup("freeze", help="Data freezes: immutable, checksummed versions of the data.")


class _Printer:
    """Progress on stderr, at most every second (stdout stays clean)."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0 or done >= total or now - self.last >= 1.0:
            self.last = now
            share = f" ({100 * done / total:.0f} %)" if total else ""
            click.echo(f"  {done:,} of {total:,} rows{share}", err=True)


@freeze_cli.command("create")
@click.argument("name")
@click.option(
    "--status",
    "rows",
    type=click.Choice(FREEZE_ROWS),
    default="approved",
    show_default=True,
    help="approved rows only, or all rows whatever their status.",
)
@click.option("--note", help="Why this freeze exists (shown with it, kept in the manifest).")
@click.option("--as", "as_user", metavar="USERNAME", help="Record this user as its creator.")
def create_command(name: str, rows: str, note: str | None, as_user: str | None) -> None:
    """Freeze every entry table's rows, the codebook and a manifest as one archive."""
    actor = None
    if as_user:
        actor = accounts.find_user(as_user)
        if actor is None:
            raise click.ClickException(f"No user named {as_user!r}.")
    try:
        job = freezes.start_job(
            name, rows=rows, note=note, actor=actor, actor_name=freezes.creator_label()
        )
        click.echo(f"Freezing {rows} rows as {job.name} ...", err=True)
        freeze = freezes.run_job(
            job.id, read_engine=read_engine(), storage=get_storage(), progress=_Printer()
        )
    except (DomainError, StorageError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Freeze {freeze.name}: {freeze.row_count:,} rows, {freeze.size_bytes:,} bytes, "
        f"sha256 {freeze.sha256}"
    )


@freeze_cli.command("verify")
@click.argument("name")
def verify_command(name: str) -> None:
    """Re-compute every checksum of a freeze; exit 1 when anything differs."""
    freeze = _freeze(name)
    result = freezes.verify(freeze, get_storage())
    for line in result.checked:
        click.echo(f"checked {line}")
    for problem in result.problems:
        click.echo(f"PROBLEM {problem}")
    if not result.ok:
        click.echo(f"Freeze {name} is NOT intact ({len(result.problems)} problems).")
        sys.exit(1)
    click.echo(f"Freeze {name} is intact: {len(result.checked)} checksums match.")


@freeze_cli.command("list")
def list_command() -> None:
    """Every freeze, newest first, and any being made or failed."""
    for freeze in freezes.list_freezes():
        click.echo(
            f"{freeze.name}\t{freeze.created_at:%Y-%m-%d %H:%M:%S} UTC\t{freeze.rows}\t"
            f"{freeze.row_count:,} rows\t{freeze.creator_name}\t{freeze.sha256}"
            + (f"\t{freeze.note}" if freeze.note else "")
        )
    for job in freezes.recent_jobs():
        state = "dead" if freezes.is_stale(job) else job.state
        click.echo(
            f"{job.name}\t{state}\t{job.rows_done:,} of {job.rows_total or 0:,} rows"
            + (f"\t{job.message}" if job.message else "")
        )


@freeze_cli.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--table", help="Only this entry table.")
@click.option(
    "--format", "file_format", type=click.Choice(["text", "csv"]), default="text", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write; default: stdout.",
)
def diff_command(a: str, b: str, table: str | None, file_format: str, output: Path | None) -> None:
    """Rows added, removed and changed from freeze A to freeze B, by key."""
    try:
        result = diff(_freeze(a), _freeze(b), get_storage(), table)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    lines = csv_lines(result) if file_format == "csv" else _text_lines(result)
    if output is None:
        for line in lines:
            click.echo(line, nl=False)
    else:
        with output.open("w", encoding="utf-8", newline="") as target:
            target.writelines(lines)
    counts = result.counts()
    click.echo(
        f"{a} -> {b}: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['changed']} changed.",
        err=True,
    )


def _text_lines(result):  # type: ignore[no-untyped-def]
    for row in result.rows:
        if row.change == "changed":
            changes = "; ".join(f"{f.column}: {f.old!r} -> {f.new!r}" for f in row.fields)
            yield f"{row.table}\t{row.key}\tchanged\t{changes}\n"
        else:
            values = "; ".join(
                f"{f.column}={(f.new if row.change == 'added' else f.old)!r}" for f in row.fields
            )
            yield f"{row.table}\t{row.key}\t{row.change}\t{values}\n"


def _freeze(name: str):  # type: ignore[no-untyped-def]
    try:
        return freezes.get_freeze(name)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
