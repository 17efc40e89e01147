"""`flask dashboard recount`: rebuild the dashboard's running counts from the tables."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from app.entry_tables.registry import entry_tables
from app.services import tallies


@click.group("dashboard")
def dashboard_cli() -> None:
    """The live dashboard's running counts."""


@dashboard_cli.command("recount")
@with_appcontext
def recount() -> None:
    """Count every figure again from the tables (after writing rows with your own SQL).

    The dashboard also does this by itself every DASHBOARD_RECOUNT_MINUTES (default 10)."""
    started = time.perf_counter()
    counts = tallies.recount()
    seconds = time.perf_counter() - started
    documents = sum(tallies.by_key(counts, tallies.DOCUMENTS).values())
    parts = [f"{documents:,} document(s)"]
    for table in entry_tables():
        rows = sum(tallies.by_key(counts, tallies.rows_subject(table.name)).values())
        parts.append(f"{table.name}: {rows:,} row{'' if rows == 1 else 's'}")
    click.echo(f"Recounted in {seconds:.2f} s: {', '.join(parts)}.")
