"""`flask documents ...` and `flask demo`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.documents.samples import sample_files
from app.extensions import db
from app.models.document import Document
from app.services import accounts, pages
from app.services import documents as docs
from app.services.errors import DomainError
from app.services.uploads import IncomingFile, UploadRefused
from app.storage import StorageError, get_storage


@click.group("documents")
def documents_cli() -> None:
    """Add documents from files, folders or zips, and list them."""


def _incoming(paths: tuple[str, ...], max_bytes: int) -> Iterator[IncomingFile]:
    """The files to add, read one at a time (a whole trove need not fit in memory)."""
    for raw in paths:  # every path is checked before anything is stored
        if not (Path(raw).is_dir() or Path(raw).is_file()):
            raise click.ClickException(f"{raw}: no such file or folder.")
    return _read_files(paths, max_bytes)


def _read_files(paths: tuple[str, ...], max_bytes: int) -> Iterator[IncomingFile]:
    for raw in paths:
        path = Path(raw)
        children = (
            [path]
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        )
        for child in children:
            with child.open("rb") as handle:  # no more than the limit, however large
                yield IncomingFile(child.name, handle.read(max_bytes + 1))


@documents_cli.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--assign",
    "assignees",
    multiple=True,
    metavar="USERNAME",
    help="Clerk to assign to (repeat to spread the documents over several clerks).",
)
@click.option("--double-entry", is_flag=True, help="Two clerks key each document blind.")
@with_appcontext
def add(paths: tuple[str, ...], assignees: tuple[str, ...], double_entry: bool) -> None:
    """Store PDF, PNG, JPEG or TIFF files (folders and .zip archives are unpacked)."""
    try:
        clerks = docs.clerks_by_name(assignees) if assignees else []
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if clerks and double_entry and len({c.id for c in clerks}) < 2:
        # Refused before storing: a rerun would otherwise find every file a duplicate.
        raise click.ClickException(
            "A double-entry document needs two different clerks: give --assign twice."
        )
    max_bytes = current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    results = docs.add_files(
        _incoming(paths, max_bytes),
        get_storage(),
        actor=None,
        max_bytes=max_bytes,
        double_entry=double_entry,
    )
    for result in results:
        if result.ok:
            click.echo(f"stored   {result.name} as document #{result.document.id}")
        else:
            click.echo(f"refused  {result.name}: {result.error}")
    stored = [r.document for r in results if r.ok]
    if stored and clerks:
        try:
            made = docs.assign(stored, clerks, actor=None)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(f"stored, but not assigned: {exc.message}") from None
        click.echo(f"assigned: {made} assignment(s) over {len(clerks)} clerk(s)")
    click.echo(f"{len(stored)} of {len(results)} file(s) stored.")
    if len(stored) < len(results):
        raise SystemExit(1)


@documents_cli.command("list")
@with_appcontext
def list_() -> None:
    """List documents with their status."""
    for document in db.session.scalars(sa.select(Document).order_by(Document.id)):
        click.echo(f"#{document.id:<6} {document.status:<12} {document.original_name}")


@documents_cli.command("pages")
@with_appcontext
def pages_() -> None:
    """Make the PNG pages of TIFF documents stored before pages were made at upload."""
    todo = pages.missing_pages()
    failed = 0
    for document in todo:
        try:
            count = pages.make_pages(document, get_storage())
        except (UploadRefused, StorageError) as exc:
            db.session.rollback()
            failed += 1
            click.echo(f"failed   #{document.id} {document.original_name}: {exc}")
            continue
        click.echo(f"pages    #{document.id} {document.original_name}: {count} page(s)")
    click.echo(f"{len(todo) - failed} of {len(todo)} TIFF document(s) without pages now have them.")
    if failed:
        raise SystemExit(1)


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Development only: sample documents, a clerk and a reviewer, ready to try the flow."""
    if current_app.config["ENV_NAME"] != "development":
        raise click.ClickException("`flask demo` only runs with APP_ENV=development.")
    users = {}
    for role in ("clerk", "reviewer"):
        name = f"demo-{role}-{secrets.token_hex(2)}"
        password = secrets.token_urlsafe(12)
        accounts.create_user(name, password, role)
        users[role] = (name, password)
    clerk = accounts.find_user(users["clerk"][0])
    max_bytes = current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    results = docs.add_files(sample_files(), get_storage(), actor=None, max_bytes=max_bytes)
    stored = [r.document for r in results if r.ok]
    if stored:
        docs.assign(stored, [clerk], actor=None)
    click.echo(f"{len(stored)} sample documents stored and assigned to {clerk.username}.")
    click.echo("Log in with these (shown once, write them down):")
    for role, (name, password) in users.items():
        click.echo(f"  {role:<9} {name}  password: {password}")
