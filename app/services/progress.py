"""Counts for pages that show progress: a fixed number of aggregate queries per page."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from app.entry_tables.registry import entry_tables
from app.extensions import db
from app.models.document import Assignment, Document
from app.models.quality import DoubleEntryRow
from app.models.user import User


@dataclass
class DocumentRow:
    document: Document
    clerks: list[str]
    rows: int


@dataclass
class DocumentPage:
    items: list[DocumentRow]
    page: int
    has_next: bool
    status_counts: dict[str, int]


def id_list(ids: list[int]) -> sa.BindParameter[list[int]]:
    """A page's ids as one expanding parameter: `column.in_(ids)` would build and check one
    bound value per id, a real part of a 50-row page's time."""
    return sa.bindparam("ids", list(ids), expanding=True)


def rows_per_document(document_ids: list[int], clerk_id: int | None = None) -> dict[int, int]:
    """Entry rows per document over every entry table (one query per table)."""
    totals: dict[int, int] = defaultdict(int)
    if not document_ids:
        return totals
    for table in entry_tables():
        model = table.model
        query = (
            sa.select(model.document_id, sa.func.count())
            .where(model.document_id.in_(id_list(document_ids)))
            .group_by(model.document_id)
        )
        if clerk_id is not None:
            query = query.where(model.entered_by_id == clerk_id)
        for document_id, count in db.session.execute(query):
            totals[document_id] += count
    return totals


def keyed_rows_per_document(document_ids: list[int], clerk_id: int) -> dict[int, int]:
    """A clerk's own rows of double-entry documents (kept apart from the entry tables until
    reconciled) per document: one statement."""
    if not document_ids:
        return {}
    return {
        document_id: int(n)
        for document_id, n in db.session.execute(
            sa.select(DoubleEntryRow.document_id, sa.func.count())
            .where(
                DoubleEntryRow.document_id.in_(id_list(document_ids)),
                DoubleEntryRow.clerk_id == clerk_id,
            )
            .group_by(DoubleEntryRow.document_id)
        )
    }


def rows_for_document(document_id: int) -> dict[str, int]:
    """Rows of one document per entry table label."""
    counts: dict[str, int] = {}
    for table in entry_tables():
        model = table.model
        counts[table.label] = (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(model)
                .where(model.document_id == document_id)
            )
            or 0
        )
    return counts


def document_page(
    *, status: str | None, clerk_id: int | None, page: int, page_size: int
) -> DocumentPage:
    query = sa.select(Document).order_by(Document.id)
    if status:
        query = query.where(Document.status == status)
    if clerk_id:
        query = query.where(
            Document.id.in_(
                sa.select(Assignment.document_id).where(Assignment.clerk_id == clerk_id)
            )
        )
    documents = list(db.session.scalars(query.offset((page - 1) * page_size).limit(page_size + 1)))
    has_next = len(documents) > page_size
    documents = documents[:page_size]
    ids = [d.id for d in documents]
    clerks: dict[int, list[str]] = defaultdict(list)
    if ids:
        names = db.session.execute(
            sa.select(Assignment.document_id, User.username)
            .join(User, User.id == Assignment.clerk_id)
            .where(Assignment.document_id.in_(id_list(ids)))
            .order_by(User.username)
        )
        for document_id, username in names:
            clerks[document_id].append(username)
    rows = rows_per_document(ids)
    counts = dict(
        db.session.execute(
            sa.select(Document.status, sa.func.count()).group_by(Document.status)
        ).all()
    )
    items = [DocumentRow(d, clerks[d.id], rows[d.id]) for d in documents]
    return DocumentPage(items, page, has_next, counts)
