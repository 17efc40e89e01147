"""Data freezes: every entry table's rows, the codebook and a manifest, read in one consistent
snapshot and kept as one checksummed ZIP archive in the document storage.

The archive holds `tables/<table>.csv` (the export's columns with provenance, values exactly as
stored: no spreadsheet-formula neutralising), `codebook.csv`, `codebook.md`, `codebook.json` and
`manifest.json` (tables, row counts, column types, schema revision, who, when, and the sha256 of
every other file). The database keeps one `freezes` row per archive, written once, when the
archive is stored; a `freeze_jobs` row carries the progress meanwhile, so any process can show it.

Rows are streamed from a server-side cursor into the ZIP on disk, so memory stays flat however
many rows there are: as CSV lines the database writes on MySQL / MariaDB, else through the
export's own writer (`app.services.freeze_csv`; the text is the same either way).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import getpass
import hashlib
import io
import json
import logging
import queue
import re
import tempfile
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.entry_tables.registry import EntryTable, entry_tables
from app.extensions import db
from app.models.freeze import FREEZE_ROWS, Freeze, FreezeJob
from app.models.types import utcnow
from app.models.user import User
from app.services import codebook as codebook_service
from app.services import exports, freeze_csv
from app.services.errors import Invalid, NotFound
from app.storage import DocumentStorage, StorageError

log = logging.getLogger(__name__)

FORMAT = "portal-freeze/1"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MEDIA_TYPE = "application/zip"
RESERVED_NAMES = {"diff", "jobs"}  # paths of the freeze pages
MANIFEST = "manifest.json"
# How often a running job writes its progress (a small UPDATE on the primary).
PROGRESS_SECONDS = 1.0
# A running job that has written no progress for this long died with its process.
STALE_SECONDS = 300
HASH_CHUNK = 1024 * 1024
# zlib level 1: a third of level 6's time for CSV, and the archive is still ~4x smaller.
COMPRESS_LEVEL = 1
WRITE_QUEUE = 4  # formatted partitions waiting to be hashed and compressed

Progress = Callable[[int, int], None]  # (rows written so far, rows in the freeze)


class FreezeRefused(Invalid):
    """The freeze cannot be made (bad name, taken name, unknown rows)."""


# --- starting a freeze -----------------------------------------------------------------------


def check_name(name: str) -> str:
    """The name, or FreezeRefused saying what a name may hold."""
    name = (name or "").strip()
    if name.lower() in RESERVED_NAMES:
        raise FreezeRefused(
            f"{name!r} is reserved for a page of the portal; choose another name.", field="name"
        )
    if not NAME_PATTERN.fullmatch(name):
        raise FreezeRefused(
            "A freeze name is 1 to 100 letters, digits, dots, dashes or underscores, starting "
            f"with a letter or digit (e.g. 2026-12-paper-v1); got {name!r}.",
            field="name",
        )
    return name


def start_job(
    name: str,
    *,
    rows: str = "approved",
    note: str | None = None,
    actor: User | None = None,
    actor_name: str | None = None,
) -> FreezeJob:
    """Reserve NAME for a new freeze (committed); FreezeRefused when the name is taken."""
    name = check_name(name)
    if rows not in FREEZE_ROWS:
        raise FreezeRefused(
            f"Rows must be one of {', '.join(FREEZE_ROWS)}; got {rows!r}.", field="rows"
        )
    if db.session.scalar(sa.select(Freeze.id).where(Freeze.name == name)) is not None:
        raise FreezeRefused(
            f"A freeze named {name!r} exists already; freezes are never "
            "replaced: choose another name.",
            field="name",
        )
    old = db.session.scalar(sa.select(FreezeJob).where(FreezeJob.name == name))
    if old is not None:
        if old.state == "running" and not is_stale(old):
            raise FreezeRefused(f"A freeze named {name!r} is being made now.", field="name")
        db.session.delete(old)  # a failed (or dead) attempt left no freeze: the name is free
        db.session.flush()
    job = FreezeJob(
        name=name,
        rows=rows,
        note=(note or "").strip() or None,
        state="running",
        rows_done=0,
        creator_id=actor.id if actor else None,
        creator_name=actor.username if actor else (actor_name or "unknown"),
    )
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FreezeRefused(f"A freeze named {name!r} is being made now.", field="name") from None
    return job


def is_stale(job: FreezeJob) -> bool:
    """A running job whose process stopped writing progress (killed worker, lost host)."""
    age = utcnow() - job.updated_at
    return job.state == "running" and age.total_seconds() > STALE_SECONDS


# --- making it ---------------------------------------------------------------------------------


def run_job(
    job_id: int,
    *,
    read_engine: sa.Engine,
    storage: DocumentStorage,
    progress: Progress | None = None,
) -> Freeze:
    """Make the freeze of a started job: read, archive, store, record. The job ends done or
    failed (with the reason); a failure leaves no freeze row and no stored archive."""
    job = db.session.get(FreezeJob, job_id)
    if job is None:
        raise NotFound(f"No freeze job {job_id}.")
    # End the session's transaction before the long read: on SQLite it holds the write lock
    # (BEGIN IMMEDIATE) that the progress updates need.
    db.session.commit()
    reporter = _JobProgress(job.id, progress)
    try:
        freeze = _make(job, read_engine, storage, reporter)
    except Exception as exc:
        db.session.rollback()
        message = (
            str(exc)
            if isinstance(exc, (Invalid, StorageError))
            else (f"{type(exc).__name__}: {exc}")
        )
        _finish_job(job.id, "failed", message)
        log.exception("freeze %s failed", job.name)
        raise
    _finish_job(job.id, "done", None, rows=freeze.row_count)
    log.info(
        "freeze %s: %d rows, %d bytes, sha256 %s",
        freeze.name,
        freeze.row_count,
        freeze.size_bytes,
        freeze.sha256,
    )
    return freeze


def _make(
    job: FreezeJob, read_engine: sa.Engine, storage: DocumentStorage, progress: Progress
) -> Freeze:
    key = f"freezes/{uuid.uuid4().hex}.zip"
    with tempfile.TemporaryDirectory(prefix="portal-freeze-") as folder:
        path = Path(folder) / "freeze.zip"
        manifest = write_archive(
            path,
            read_engine,
            name=job.name,
            rows=job.rows,
            note=job.note,
            creator=job.creator_name,
            progress=progress,
        )
        manifest_text = manifest_json(manifest)
        archive_sha256, size = file_sha256(path)
        storage.put_file(key, path, MEDIA_TYPE)
    freeze = Freeze(
        name=job.name,
        rows=job.rows,
        note=job.note,
        storage_key=key,
        size_bytes=size,
        sha256=archive_sha256,
        manifest=manifest_text,
        manifest_sha256=hashlib.sha256(manifest_text.encode("utf-8")).hexdigest(),
        row_count=sum(t["rows"] for t in manifest["tables"]),
        schema_revision=manifest["schema_revision"],
        creator_id=job.creator_id,
        creator_name=job.creator_name,
        created_at=dt.datetime.fromisoformat(manifest["created_at"]),
    )
    db.session.add(freeze)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FreezeRefused(f"A freeze named {job.name!r} exists already.") from None
    return freeze


class _JobProgress:
    """Writes a job's progress on the primary at most once a second, in its own transaction."""

    def __init__(self, job_id: int, forward: Progress | None) -> None:
        self.job_id, self.forward, self.last = job_id, forward, 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0 or done >= total or now - self.last >= PROGRESS_SECONDS:
            self.last = now
            with db.engine.begin() as conn:
                conn.execute(
                    sa.update(FreezeJob)
                    .where(FreezeJob.id == self.job_id)
                    .values(rows_done=done, rows_total=total, updated_at=utcnow())
                )
        if self.forward is not None:
            self.forward(done, total)


def _finish_job(job_id: int, state: str, message: str | None, rows: int | None = None) -> None:
    values: dict[str, Any] = {"state": state, "message": message, "updated_at": utcnow()}
    if rows is not None:
        values["rows_done"] = rows
    with db.engine.begin() as conn:
        conn.execute(sa.update(FreezeJob).where(FreezeJob.id == job_id).values(**values))


# --- the archive -------------------------------------------------------------------------------


def write_archive(
    path: Path,
    engine: sa.Engine,
    *,
    name: str,
    rows: str,
    note: str | None,
    creator: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the freeze ZIP at path from one consistent snapshot of engine; the manifest."""
    status = None if rows == "all" else "approved"
    tables = entry_tables()
    files: dict[str, str] = {}
    table_entries = []
    with (
        snapshot(engine) as conn,
        zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
        ) as archive,
    ):
        revision = schema_revision(conn)
        specs = [exports.export_spec(t, with_provenance=True, status=status) for t in tables]
        total = sum(_count(conn, spec) for spec in specs)
        done = 0
        created_at = utcnow().isoformat()  # the instant the snapshot shows
        if progress:
            progress(0, total)  # the snapshot is taken: saves from here on are not in it

        def step(count: int) -> None:
            nonlocal done
            done += count
            if progress:
                progress(done, total)

        for table, spec in zip(tables, specs, strict=True):
            member, before = f"tables/{table.name}.csv", done
            digest = write_member(archive, member, freeze_csv.csv_chunks(conn, spec, step))
            count = done - before
            files[member] = digest
            table_entries.append(_table_entry(table, spec, member, count, digest))
    with zipfile.ZipFile(
        path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as archive:
        book = codebook_service.codebook(engine.dialect)
        for member, text in (
            ("codebook.csv", codebook_service.as_csv(book)),
            ("codebook.md", codebook_service.as_markdown(book)),
            ("codebook.json", codebook_json(book)),
        ):
            files[member] = write_member(archive, member, iter([text]))
        manifest = {
            "format": FORMAT,
            "name": name,
            "note": note,
            "rows": rows,
            "created_at": created_at,
            "created_by": creator,
            "schema_revision": revision,
            "database": engine.dialect.name,
            "tables": table_entries,
            "files": files,
        }
        archive.writestr(MANIFEST, manifest_json(manifest))
    return manifest


@contextlib.contextmanager
def snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in one read-only transaction whose reads all see the same instant:
    REPEATABLE READ with a consistent snapshot on MySQL/MariaDB and PostgreSQL (no locks, so
    clerks keep saving), SQLite's deferred read transaction (a WAL snapshot)."""
    backend = engine.dialect.name
    with engine.connect() as conn:
        if backend == "sqlite":
            conn = conn.execution_options(read_only=True)
        elif backend in {"mysql", "mariadb"}:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        else:
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        try:
            yield conn
        finally:
            conn.rollback()


def schema_revision(conn: sa.Connection) -> str | None:
    try:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        return None


def _count(conn: sa.Connection, spec: exports.ExportSpec) -> int:
    table = spec.table.table
    query = sa.select(sa.func.count()).select_from(table)
    if spec.status:
        query = query.where(table.c.status == spec.status)
    return int(conn.execute(query).scalar_one())


def _table_entry(
    table: EntryTable, spec: exports.ExportSpec, member: str, count: int, digest: str
) -> dict[str, Any]:
    sql_types = {f.column: f for f in codebook_service.table_fields(table)}
    columns = []
    for column in spec.columns:
        own = table.table.c.get(column.name)
        kind = exports.kind_of(own) if own is not None else column.kind
        field = sql_types.get(column.name)
        columns.append(
            {"name": column.name, "kind": kind, "sql_type": field.sql_type if field else "username"}
        )
    return {
        "name": table.name,
        "file": member,
        "key": table.key_column.key,
        "rows": count,
        "columns": columns,
        "sha256": digest,
    }


def write_member(archive: zipfile.ZipFile, member: str, chunks: Iterator[str]) -> str:
    """Write text chunks as one UTF-8 member of archive; the sha256 of its bytes.

    Hashing and compressing run in a second thread (both release the GIL) while this one
    reads and formats the next partition; at most WRITE_QUEUE chunks wait, so memory stays flat.
    """
    digest = hashlib.sha256()
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=WRITE_QUEUE)
    failures: list[BaseException] = []
    with archive.open(member, "w", force_zip64=True) as target:

        def drain() -> None:
            try:
                while (data := pending.get()) is not None:
                    digest.update(data)
                    target.write(data)
            except BaseException as exc:  # handed to the caller below
                failures.append(exc)
                while pending.get() is not None:  # never leave the producer blocked
                    pass

        writer = threading.Thread(target=drain, name=f"freeze-write-{member}")
        writer.start()
        try:
            for chunk in chunks:
                if failures:
                    break
                pending.put(chunk.encode("utf-8"))
        finally:
            pending.put(None)
            writer.join()
    if failures:
        raise failures[0]
    return digest.hexdigest()


def manifest_json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def codebook_json(book: list[codebook_service.CodebookTable]) -> str:
    """The codebook for programs (the pandas loader): every field with its kind and choices."""
    tables = []
    for table in book:
        fields = []
        for f in table.fields:
            entry = dataclasses.asdict(f)
            entry["choices"] = [{"value": v, "label": label} for v, label in f.choices]
            for name in ("min", "max"):
                if entry[name] is not None and not isinstance(entry[name], (int, float)):
                    entry[name] = str(entry[name])
            fields.append(entry)
        tables.append(
            {
                "name": table.name,
                "label": table.label,
                "description": table.description,
                "fields": fields,
            }
        )
    return json.dumps({"tables": tables}, indent=2, ensure_ascii=False, default=str) + "\n"


def file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- reading freezes back ----------------------------------------------------------------------


def list_freezes() -> list[Freeze]:
    return list(
        db.session.scalars(sa.select(Freeze).order_by(Freeze.created_at.desc(), Freeze.id.desc()))
    )


def recent_jobs() -> list[FreezeJob]:
    """Jobs not yet ended well: running, failed, or dead (stale)."""
    return list(
        db.session.scalars(
            sa.select(FreezeJob)
            .where(FreezeJob.state != "done")
            .order_by(FreezeJob.started_at.desc())
        )
    )


def get_freeze(name: str) -> Freeze:
    freeze: Freeze | None = db.session.scalar(sa.select(Freeze).where(Freeze.name == name))
    if freeze is None:
        raise NotFound(f"No freeze named {name!r}.")
    return freeze


def manifest_of(freeze: Freeze) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(freeze.manifest)
    return result


@contextlib.contextmanager
def open_archive(freeze: Freeze, storage: DocumentStorage) -> Iterator[zipfile.ZipFile]:
    source = storage.open_file(freeze.storage_key)
    try:
        with zipfile.ZipFile(source) as archive:
            yield archive
    finally:
        source.close()


@dataclass
class Verification:
    """What `verify` found: every check made, and the problems (none: intact)."""

    freeze: str
    checked: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(freeze: Freeze, storage: DocumentStorage) -> Verification:
    """Re-compute every checksum: the archive's, the manifest's, and each file's."""
    result = Verification(freeze.name, [], [])
    try:
        source = storage.open_file(freeze.storage_key)
    except StorageError as exc:
        result.problems.append(f"the archive could not be read: {exc}")
        return result
    with source:
        digest, size = _stream_sha256(source)
        result.checked.append(f"archive sha256 {digest}")
        if digest != freeze.sha256 or size != freeze.size_bytes:
            result.problems.append(
                f"the archive's sha256 is {digest} ({size:,} bytes); the "
                f"freeze recorded {freeze.sha256} ({freeze.size_bytes:,})"
            )
        source.seek(0)
        _verify_members(source, freeze, result)
    return result


def _stream_sha256(source: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _verify_members(source: IO[bytes], freeze: Freeze, result: Verification) -> None:
    try:
        with zipfile.ZipFile(source) as archive:
            manifest_bytes = archive.read(MANIFEST)
            manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
            result.checked.append(f"{MANIFEST} sha256 {manifest_digest}")
            if manifest_digest != freeze.manifest_sha256:
                result.problems.append(
                    f"{MANIFEST} differs from the manifest the database recorded for this freeze"
                )
            files: dict[str, str] = manifest_of(freeze)["files"]
            present = set(archive.namelist()) - {MANIFEST}
            for member in sorted(present - set(files)):
                result.problems.append(f"{member} is in the archive but not in the manifest")
            for member, expected in sorted(files.items()):
                _verify_member(archive, member, expected, result)
    except (zipfile.BadZipFile, zlib.error, KeyError, OSError, EOFError) as exc:
        result.problems.append(f"the archive is damaged: {exc}")


def _verify_member(
    archive: zipfile.ZipFile, member: str, expected: str, result: Verification
) -> None:
    try:
        with archive.open(member) as data:
            digest, _size = _stream_sha256(data)
    except KeyError:
        result.problems.append(f"{member} is missing from the archive")
        return
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:  # a changed byte
        result.problems.append(f"{member} is damaged: {exc}")
        return
    result.checked.append(f"{member} sha256 {digest}")
    if digest != expected:
        result.problems.append(f"{member}: sha256 {digest}, the manifest says {expected}")


def table_rows(archive: zipfile.ZipFile, member: str) -> Iterator[tuple[list[str], list[str]]]:
    """(header, cells) for each data row of a frozen table's CSV, streamed."""
    with archive.open(member) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        header = next(reader, [])
        for cells in reader:
            yield header, cells


def creator_label() -> str:
    """Who runs a command-line freeze: the operating-system user."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return f"{user} (command line)"
