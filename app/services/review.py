"""The reviewer's decisions on submitted documents: approve or return, every one audited."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from app.entry_tables.registry import entry_tables
from app.extensions import db
from app.models.document import Assignment, Document
from app.models.quality import Comparison
from app.models.user import User
from app.services import audit, tallies
from app.services.errors import Conflict, Invalid
from app.services.progress import rows_per_document


@dataclass
class QueueItem:
    document: Document
    clerks: list[str]
    rows: int
    comparison: Comparison | None


def review_queue(page: int = 1, page_size: int = 50) -> tuple[list[QueueItem], bool]:
    """Submitted documents, oldest first; a fixed number of queries."""
    query = (sa.select(Document).where(Document.status == "submitted")
             .order_by(Document.updated_at, Document.id)
             .offset((page - 1) * page_size).limit(page_size + 1))
    documents = list(db.session.scalars(query))
    has_next = len(documents) > page_size
    documents = documents[:page_size]
    ids = [d.id for d in documents]
    names: dict[int, list[str]] = {i: [] for i in ids}
    comparisons: dict[int, Comparison] = {}
    if ids:
        for document_id, username in db.session.execute(
                sa.select(Assignment.document_id, User.username)
                .join(User, User.id == Assignment.clerk_id)
                .where(Assignment.document_id.in_(ids)).order_by(User.username)):
            names[document_id].append(username)
        comparisons = {c.document_id: c for c in db.session.scalars(
            sa.select(Comparison).where(Comparison.document_id.in_(ids)))}
    rows = rows_per_document(ids)
    items = [QueueItem(d, names[d.id], rows.get(d.id, 0), comparisons.get(d.id))
             for d in documents]
    return items, has_next


def _require_submitted(document: Document) -> None:
    if document.status != "submitted":
        raise Conflict(f"Document #{document.id} is {document.status.replace('_', ' ')}, not "
                       "submitted: only submitted documents can be approved or returned.")


def set_row_status(document_id: int, status: str, clerk_id: int | None = None) -> None:
    """Move every entry row of a document (or of one clerk on it) to a status, and the
    dashboard's counts with them (the rows are read locked, so the counts match the update)."""
    for table in entry_tables():
        model = table.model
        where = [model.document_id == document_id]
        if clerk_id is not None:
            where.append(model.entered_by_id == clerk_id)
        moving = Counter(
            (by or tallies.NO_CLERK, old) for by, old in db.session.execute(
                sa.select(model.entered_by_id, model.status).where(*where).with_for_update()))
        if not moving:
            continue
        db.session.execute(sa.update(model).where(*where).values(status=status)
                           .execution_options(synchronize_session=False))
        tallies.add(tallies.moved(tallies.rows_subject(table.name), moving, status))


def approve(document: Document, actor: User) -> None:
    """Approve a submitted document: its rows become read-only for the clerks."""
    _require_submitted(document)
    comparison = db.session.get(Comparison, document.id)
    if document.double_entry and (comparison is None or comparison.resolved_at is None):
        raise Conflict("Resolve the double-entry differences before approving.")
    set_row_status(document.id, "approved")
    document.status = "approved"
    audit.record("approve", "documents", str(document.id), actor=actor, document_id=document.id)
    db.session.commit()


def return_document(document: Document, actor: User, comment: str) -> None:
    """Send a submitted document back with a comment the clerk sees in their queue."""
    comment = (comment or "").strip()
    if not comment:
        raise Invalid("Say what the clerk should look at again.", field="comment")
    _require_submitted(document)
    if document.double_entry and db.session.get(Comparison, document.id) is not None:
        raise Conflict("Both entries of this double-entry document are in; resolve the "
                       "differences instead of returning it.")
    document.status, document.review_comment = "returned", comment[:5000]
    for assignment in document.assignments:
        assignment.status, assignment.submitted_at = "in_progress", None
    set_row_status(document.id, "returned")
    tallies.count_return(document.id)
    audit.record("return", "documents", str(document.id), actor=actor, document_id=document.id,
                 reason=comment[:5000])
    db.session.commit()
