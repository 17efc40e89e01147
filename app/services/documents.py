"""Documents: storing uploads, assigning clerks, moving through the review statuses."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.entry_tables.registry import entry_tables, get_entry_table
from app.extensions import db
from app.models.document import Assignment, Document
from app.models.quality import DoubleEntryRow
from app.models.types import utcnow
from app.models.user import User
from app.services import audit, double_entry, drafts, pages, quality, review, settings, tallies
from app.services.errors import Conflict, Invalid, NotFound
from app.services.uploads import (
    HEAD_BYTES,
    ExtractedFile,
    IncomingFile,
    UploadRefused,
    check_content,
    clean_name,
    extension_for,
    is_zip,
    unpack_zip,
)
from app.storage import DocumentStorage, StorageError

log = logging.getLogger(__name__)

TRANSITIONS = {
    "new": {"assigned"},
    "assigned": {"new", "in_progress", "submitted"},
    "in_progress": {"new", "assigned", "submitted"},
    "submitted": {"approved", "returned"},
    "returned": {"in_progress", "submitted"},
    "approved": set(),
}
UNFINISHED = ("assigned", "in_progress", "returned")


@dataclass
class UploadResult:
    name: str
    document: Document | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def add_files(
    files: Iterable[IncomingFile],
    storage: DocumentStorage,
    *,
    actor: User | None,
    max_bytes: int,
    double_entry: bool = False,
) -> list[UploadResult]:
    """Store each file (zips are unpacked); one result per file, each committed on its own."""
    results: list[UploadResult] = []
    for incoming in files:
        if not is_zip(incoming.data):
            results.append(
                add_file(
                    incoming, storage, actor=actor, max_bytes=max_bytes, double_entry=double_entry
                )
            )
            continue
        # Entries are streamed to a temporary folder (never held in memory), then stored one
        # by one; the folder goes when the archive is done.
        with tempfile.TemporaryDirectory(prefix="portal-zip-") as folder:
            try:
                inner = unpack_zip(
                    clean_name(incoming.name), incoming.data, max_bytes, Path(folder)
                )
            except UploadRefused as exc:
                results.append(UploadResult(clean_name(incoming.name), error=str(exc)))
                continue
            for entry in inner:
                results.append(
                    add_file(
                        entry, storage, actor=actor, max_bytes=max_bytes, double_entry=double_entry
                    )
                )
                entry.path.unlink()
    return results


def add_file(
    incoming: IncomingFile | ExtractedFile,
    storage: DocumentStorage,
    *,
    actor: User | None,
    max_bytes: int,
    double_entry: bool = False,
) -> UploadResult:
    """Store one file and its row together: never a file without its row or the reverse."""
    name = clean_name(incoming.name)
    if isinstance(incoming, ExtractedFile):
        size, digest, head = incoming.size, incoming.sha256, incoming.head
    else:
        size, head = len(incoming.data), incoming.data[:HEAD_BYTES]
        digest = hashlib.sha256(incoming.data).hexdigest()
    try:
        content_type = check_content(size, head, max_bytes)
    except UploadRefused as exc:
        return UploadResult(name, error=str(exc))
    existing = db.session.scalar(sa.select(Document).where(Document.sha256 == digest))
    if existing is not None:
        return UploadResult(
            name, error=f"Already uploaded as document #{existing.id} ({existing.original_name})."
        )
    key = f"{uuid.uuid4().hex}.{extension_for(content_type)}"
    try:
        page_count = _store(key, incoming, content_type, storage)
    except (UploadRefused, StorageError) as exc:
        return UploadResult(name, error=str(exc))
    document = Document(
        storage_key=key,
        original_name=name,
        content_type=content_type,
        size_bytes=size,
        sha256=digest,
        status="new",
        double_entry=double_entry,
        uploaded_by_id=getattr(actor, "id", None),
        page_count=page_count,
    )
    db.session.add(document)
    try:
        db.session.commit()
    except (IntegrityError, SQLAlchemyError) as exc:
        db.session.rollback()
        pages.delete_pages(key, page_count or 0, storage)
        try:
            storage.delete(key)  # the row did not make it, so neither does the file
        except StorageError:
            log.error("document %s has no row and could not be deleted", key)
        log.warning("document row refused: %s", type(exc).__name__)
        return UploadResult(
            name,
            error="The database refused this document (uploaded twice "
            "at the same moment?); nothing was kept.",
        )
    return UploadResult(name, document=document)


def _store(
    key: str, incoming: IncomingFile | ExtractedFile, content_type: str, storage: DocumentStorage
) -> int | None:
    """Store the original and, for a TIFF, its PNG pages (pages first: a damaged TIFF is refused
    with nothing left behind). Returns the page count, None when there are none."""
    if not pages.needs_pages(content_type):
        if isinstance(incoming, ExtractedFile):
            storage.put_file(key, incoming.path, content_type)  # streamed, not read whole
        else:
            storage.put(key, incoming.data, content_type)
        return None
    # A TIFF is decoded page by page from memory (at most the upload limit, one at a time).
    data = incoming.path.read_bytes() if isinstance(incoming, ExtractedFile) else incoming.data
    count = pages.store_pages(key, data, storage)
    try:
        storage.put(key, data, content_type)
    except StorageError:
        pages.delete_pages(key, count, storage)
        raise
    return count


def move(document: Document, target: str) -> None:
    """Change the status if the move is allowed (the caller commits)."""
    if target not in TRANSITIONS.get(document.status, set()):
        raise Invalid(
            f"A document that is {document.status.replace('_', ' ')} cannot become "
            f"{target.replace('_', ' ')}."
        )
    document.status = target


def clerks_by_name(usernames: Iterable[str]) -> list[User]:
    names = [n.strip().lower() for n in usernames if n and n.strip()]
    found = {
        u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(names)))
    }
    missing = [n for n in names if n not in found]
    if missing:
        raise NotFound(f"No user named {', '.join(repr(m) for m in missing)}.")
    not_clerks = [n for n in names if found[n].role != "clerk" or not found[n].active]
    if not_clerks:
        raise Invalid(f"Only active clerks can be assigned: {', '.join(not_clerks)}.")
    return [found[n] for n in names]


def assign(documents: list[Document], clerks: list[User], *, actor: User | None) -> int:
    """Spread documents evenly over clerks (double-entry ones get two different clerks);
    documents already assigned keep their clerks. Commits; returns assignments made."""
    if not clerks:
        raise Invalid("Choose at least one clerk.")
    if any(d.double_entry for d in documents) and len({c.id for c in clerks}) < 2:
        raise Invalid("A double-entry document needs two different clerks: choose two or more.")
    load = _open_load([c.id for c in clerks])
    made = 0
    for document in documents:
        if document.status not in {"new", "assigned"}:
            raise Conflict(
                f"Document #{document.id} is {document.status.replace('_', ' ')}; "
                "unassign it or finish its review first."
            )
        wanted = 2 if document.double_entry else 1
        current = {a.clerk_id for a in document.assignments}
        for clerk in sorted(clerks, key=lambda c: (load[c.id], c.id)):
            if len(current) >= wanted:
                break
            if clerk.id in current:
                continue
            document.assignments.append(Assignment(clerk_id=clerk.id, status="assigned"))
            current.add(clerk.id)
            load[clerk.id] += 1
            made += 1
        if document.status == "new":
            move(document, "assigned")
        audit.record(
            "assign",
            "documents",
            str(document.id),
            actor=actor,
            document_id=document.id,
            after={"clerks": sorted(current)},
        )
    db.session.commit()
    return made


def _open_load(clerk_ids: list[int]) -> dict[int, int]:
    query = (
        sa.select(Assignment.clerk_id, sa.func.count())
        .where(Assignment.clerk_id.in_(clerk_ids), Assignment.status != "submitted")
        .group_by(Assignment.clerk_id)
    )
    counts = dict(db.session.execute(query).all())
    return {cid: counts.get(cid, 0) for cid in clerk_ids}


def unassign(document: Document, clerk_id: int, *, actor: User | None) -> None:
    assignment = next((a for a in document.assignments if a.clerk_id == clerk_id), None)
    if assignment is None:
        raise NotFound("That clerk is not assigned to this document.")
    if document.status in {"submitted", "approved"}:
        raise Conflict(f"Document #{document.id} is {document.status}; it cannot be unassigned.")
    document.assignments.remove(assignment)
    if not document.assignments:
        document.status = "new"
    audit.record(
        "assign",
        "documents",
        str(document.id),
        actor=actor,
        document_id=document.id,
        before={"clerk_id": clerk_id},
        reason="unassigned",
    )
    db.session.commit()


def reassign(document: Document, from_clerk_id: int, to_clerk: User, *, actor: User | None) -> None:
    """Hand a clerk's task on a document to another clerk (their rows stay theirs)."""
    assignment = next((a for a in document.assignments if a.clerk_id == from_clerk_id), None)
    if assignment is None:
        raise NotFound("That clerk is not assigned to this document.")
    if to_clerk.role != "clerk" or not to_clerk.active:
        raise Invalid("Documents can only go to an active clerk.")
    if any(a.clerk_id == to_clerk.id for a in document.assignments):
        raise Invalid(f"{to_clerk.username} already has this document.")
    if document.status in {"submitted", "approved"} or assignment.status == "submitted":
        raise Conflict("A submitted document cannot change hands.")
    assignment.clerk_id = to_clerk.id
    audit.record(
        "assign",
        "documents",
        str(document.id),
        actor=actor,
        document_id=document.id,
        before={"clerk_id": from_clerk_id},
        after={"clerk_id": to_clerk.id},
        reason="reassigned",
    )
    db.session.commit()


def assignment_for(document: Document, clerk: User) -> Assignment | None:
    return next((a for a in document.assignments if a.clerk_id == clerk.id), None)


def can_view(document: Document, user: User) -> bool:
    return user.role in {"admin", "reviewer"} or assignment_for(document, user) is not None


def can_enter(document: Document, clerk: User) -> bool:
    """May this clerk add or change rows of this document now?"""
    assignment = assignment_for(document, clerk)
    return (
        assignment is not None
        and assignment.status != "submitted"
        and document.status in UNFINISHED
    )


def note_entry(document: Document, clerk: User) -> None:
    """The first row a clerk saves moves the document to in progress (caller commits)."""
    assignment = assignment_for(document, clerk)
    if assignment is not None and assignment.status == "assigned":
        assignment.status = "in_progress"
    if document.status in {"assigned", "returned"}:
        document.status = "in_progress"


class MissingBeforeSubmit(Invalid):
    """Soft rule: fields that should be filled before submitting are empty."""

    def __init__(self, missing: list[Any]) -> None:
        super().__init__("Some values that are expected before submitting are empty.")
        self.missing = missing


class UnsavedInput(Conflict):
    """A form of this document holds typed input that is not saved (a draft on the server)."""

    def __init__(self, forms: list[tuple[str, str | None, str]]) -> None:
        # (table name, row key or None for a new row, the table's label), one per form
        labels = ", ".join(dict.fromkeys(label for _name, _key, label in forms))
        plural = "forms have" if len(forms) > 1 else "form has"
        super().__init__(
            f"Your {labels} {plural} unsaved input: save or discard it first. "
            "The document was not submitted."
        )
        self.forms = forms


def check_no_unsaved_input(document: Document, clerk: User) -> None:
    """Refuse to go on while the clerk has a draft with typed input on this document."""
    unsaved = drafts.unsaved_drafts(clerk.id, document.id)
    if not unsaved:
        return
    forms = []
    for draft in unsaved:
        table = get_entry_table(draft.table_name)
        forms.append(
            (
                draft.table_name,
                drafts.row_key_of(draft),
                table.label if table is not None else draft.table_name,
            )
        )
    raise UnsavedInput(forms)


def submit(document: Document, clerk: User, *, confirm_missing: bool = False) -> None:
    """The clerk hands in their work; the document is submitted once every clerk has.

    Empty required-before-submit fields are a warning the clerk may confirm (they become
    flags); a fully double-entered document is compared; a single-entered one may be drawn
    for blind re-entry."""
    assignment = assignment_for(document, clerk)
    if assignment is None:
        raise NotFound("No such document.")
    if assignment.status == "submitted" or document.status not in UNFINISHED:
        raise Conflict(
            f"This document is {document.status.replace('_', ' ')}; there is nothing to submit."
        )
    check_no_unsaved_input(document, clerk)
    entered = (
        double_entry.entry_for_submit(document.id, clerk.id)
        if document.double_entry
        else _entered_rows(document.id, clerk.id)
    )
    missing = quality.missing_before_submit(document.id, clerk, entered)
    if missing and not confirm_missing:
        raise MissingBeforeSubmit(missing)
    for table_name, key, warning in missing:
        quality.raise_flags(table_name, key, document.id, [warning], clerk)
    assignment.status, assignment.submitted_at = "submitted", utcnow()
    review.set_row_status(document.id, "submitted", clerk_id=clerk.id)
    tallies.count_submit(document.id, clerk.id)
    audit.record("submit", "documents", str(document.id), actor=clerk, document_id=document.id)
    if all(a.status == "submitted" for a in document.assignments):
        document.status = "submitted"
        if document.double_entry:
            double_entry.compare(document)
        else:
            _maybe_sample(document, clerk)
    db.session.commit()


def _entered_rows(document_id: int, clerk_id: int) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    result: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for table in entry_tables():
        model = table.model
        rows = db.session.scalars(
            sa.select(model).where(
                model.document_id == document_id, model.entered_by_id == clerk_id
            )
        )
        result[table.name] = [
            (table.key_of(r), {c.key: getattr(r, c.key) for c in table.data_columns}) for r in rows
        ]
    return result


def _maybe_sample(document: Document, clerk: User) -> None:
    """Draw this document for blind re-entry when the clerk's share of samples is due."""
    percent = settings.get_int(settings.SAMPLE_PERCENT, 0)
    if percent <= 0:
        return
    done = (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Assignment)
            .join(Document)
            .where(
                Assignment.clerk_id == clerk.id,
                Assignment.status == "submitted",
                Document.double_entry.is_(False),
            )
        )
        or 0
    )
    if (done * percent) // 100 == ((done - 1) * percent) // 100:
        return
    second = _least_loaded_clerk(exclude=clerk.id)
    if second is None:
        return
    for table in entry_tables():
        model = table.model
        rows = db.session.scalars(
            sa.select(model)
            .where(model.document_id == document.id, model.entered_by_id == clerk.id)
            .order_by(model.created_at, table.key_column)
        ).all()
        for position, row in enumerate(rows, start=1):
            data = {c.key: audit.to_jsonable(getattr(row, c.key)) for c in table.data_columns}
            db.session.add(
                DoubleEntryRow(
                    document_id=document.id,
                    clerk_id=clerk.id,
                    table_name=table.name,
                    position=position,
                    data=json.dumps(data, ensure_ascii=False),
                )
            )
            audit.record(
                "delete",
                table.name,
                table.key_of(row),
                actor=None,
                document_id=document.id,
                before=data,
                reason="drawn for blind re-entry; kept as the first entry",
            )
            db.session.delete(row)
    document.double_entry, document.status = True, "assigned"
    document.assignments.append(Assignment(clerk_id=second.id, status="assigned"))
    audit.record(
        "assign",
        "documents",
        str(document.id),
        actor=None,
        document_id=document.id,
        after={"clerk_id": second.id},
        reason=f"sampled re-entry ({percent} %)",
    )


def _least_loaded_clerk(exclude: int) -> User | None:
    open_load = (
        sa.select(sa.func.count())
        .where(Assignment.clerk_id == User.id, Assignment.status != "submitted")
        .correlate(User)
        .scalar_subquery()
    )
    query = (
        sa.select(User)
        .where(User.role == "clerk", User.active.is_(True), User.id != exclude)
        .order_by(open_load, User.id)
        .limit(1)
    )
    return db.session.scalar(query)


def queue(clerk: User) -> list[tuple[Document, Assignment]]:
    """A clerk's documents, unfinished first, oldest first."""
    query = (
        sa.select(Document, Assignment)
        .join(Assignment)
        .where(Assignment.clerk_id == clerk.id)
        .order_by(
            sa.case((Document.status.in_(UNFINISHED), 0), else_=1),
            Assignment.created_at,
            Document.id,
        )
    )
    return [(d, a) for d, a in db.session.execute(query).all()]


def next_document(clerk: User) -> Document | None:
    query = (
        sa.select(Document)
        .join(Assignment)
        .where(
            Assignment.clerk_id == clerk.id,
            Assignment.status != "submitted",
            Document.status.in_(UNFINISHED),
        )
        .order_by(Assignment.created_at, Document.id)
        .limit(1)
    )
    return db.session.scalar(query)
