"""The reviewer's decisions on submitted documents: approve or return, every one audited."""

from __future__ import annotations

import functools
import operator
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from app.entry_tables.registry import entry_tables
from app.extensions import db
from app.models.document import Assignment, Document
from app.models.quality import Comparison, DoubleEntryRow
from app.models.queries import FieldQuery
from app.models.user import User
from app.services import audit, flags, queries, tallies
from app.services.errors import Conflict, Invalid
from app.services.progress import id_list

NEIGHBOUR_PROBE = 8  # documents read on each side: ties on the exact time are settled by id
QUEUE_PAGE_SIZE = 50


@dataclass
class QueueItem:
    document: Any  # a row of queue_page(): id, original_name, double_entry and its figures
    clerks: list[str]
    rows: int
    comparison: QueueComparison | None
    keyed: list[int] = field(default_factory=list)  # a double entry's rows, per clerk
    queries: dict[str, int] = field(default_factory=dict)  # open / answered queries


class QueueComparison(NamedTuple):
    """What the queue shows of a double entry's comparison."""

    differences: int
    resolved_at: datetime | None


class UnresolvedFlags(Conflict):
    """Approving would leave flags open: the reviewer confirms, accepting them."""

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} quality flag{'' if count == 1 else 's'} on this document "
            f"{'is' if count == 1 else 'are'} not resolved. Resolve them, or "
            "approve anyway: the flagged values are then accepted by you."
        )
        self.count = count


def _count_per_document(model: Any, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
    """COUNT(*) of model's rows of the enclosing statement's document (an index range each)."""
    return (
        sa.select(sa.func.count())
        .select_from(model)
        .where(model.document_id == Document.id, *where)
        .scalar_subquery()
    )


def queue_page() -> sa.Select[*tuple[Any, ...]]:
    """The queue's documents, oldest first, each with its figures read beside it: entry rows
    over every table, open and answered queries, the comparison (when double-entered).

    One statement for what took five (documents, comparisons, rows per table, queries): on
    MariaDB each round trip, and each row PyMySQL reads in Python, cost more than the index
    ranges the counts read; the counts are correlated, so they run for the page's rows only."""
    rows = functools.reduce(operator.add, (_count_per_document(t.model) for t in entry_tables()))
    unsettled = [
        _count_per_document(FieldQuery, FieldQuery.status == status).label(status)
        for status in queries.UNSETTLED
    ]
    return (
        sa.select(
            Document.id,
            Document.original_name,
            Document.double_entry,
            rows.label("rows"),
            *unsettled,
            Comparison.document_id.label("compared"),
            Comparison.differences,
            Comparison.resolved_at,
        )
        .outerjoin(Comparison, Comparison.document_id == Document.id)
        .where(Document.status == "submitted")
        .order_by(Document.updated_at, Document.id)
    )


def review_queue(page: int = 1, page_size: int = QUEUE_PAGE_SIZE) -> tuple[list[QueueItem], bool]:
    """Submitted documents, oldest first; a fixed number of queries."""
    query = queue_page().offset((page - 1) * page_size).limit(page_size + 1)
    documents = list(db.session.execute(query))
    has_next = len(documents) > page_size
    documents = documents[:page_size]
    ids = [d.id for d in documents]
    names: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for document_id, username in db.session.execute(
            sa.select(Assignment.document_id, User.username)
            .join(User, User.id == Assignment.clerk_id)
            .where(Assignment.document_id.in_(id_list(ids)))
            .order_by(User.username)
        ):
            names[document_id].append(username)
    keyed = keyed_rows_per_document(ids)
    # A double entry not yet reconciled has its rows in each clerk's own entry: the rows a
    # clerk keyed count (the larger entry), shown beside each clerk's own count.
    items = [
        QueueItem(
            d,
            names[d.id],
            d.rows or max(keyed.get(d.id, []), default=0),
            None if d.compared is None else QueueComparison(d.differences, d.resolved_at),
            keyed.get(d.id, []),
            {status: n for status in queries.UNSETTLED if (n := getattr(d, status))},
        )
        for d in documents
    ]
    return items, has_next


def keyed_rows_per_document(document_ids: list[int]) -> dict[int, list[int]]:
    """Each clerk's own rows of double-entry documents (kept apart from the entry tables until
    reconciled), per document in clerk order: one statement."""
    found: dict[int, list[int]] = {}
    if not document_ids:
        return found
    rows = db.session.execute(
        sa.select(DoubleEntryRow.document_id, DoubleEntryRow.clerk_id, sa.func.count())
        .where(DoubleEntryRow.document_id.in_(id_list(document_ids)))
        .group_by(DoubleEntryRow.document_id, DoubleEntryRow.clerk_id)
        .order_by(DoubleEntryRow.document_id, DoubleEntryRow.clerk_id)
    )
    for document_id, _clerk, n in rows:
        found.setdefault(document_id, []).append(int(n))
    return found


def neighbours(document: Document) -> tuple[Document | None, Document | None]:
    """The submitted documents just before and just after this one in the queue's order (the
    reviewer's previous / next): two short range reads along the (status, updated_at) index.

    A plain range on updated_at (not a row-value comparison, which MariaDB does not read as a
    range), a few rows taken, and ties on the time settled by id here."""
    at = (document.updated_at, document.id)
    submitted = sa.select(Document).where(
        Document.status == "submitted", Document.id != document.id
    )
    earlier = db.session.scalars(
        submitted.where(Document.updated_at <= at[0])
        .order_by(Document.updated_at.desc(), Document.id.desc())
        .limit(NEIGHBOUR_PROBE)
    )
    later = db.session.scalars(
        submitted.where(Document.updated_at >= at[0])
        .order_by(Document.updated_at, Document.id)
        .limit(NEIGHBOUR_PROBE)
    )
    return (
        next((d for d in earlier if (d.updated_at, d.id) < at), None),
        next((d for d in later if (d.updated_at, d.id) > at), None),
    )


def _require_submitted(document: Document) -> None:
    if document.status != "submitted":
        raise Conflict(
            f"Document #{document.id} is {document.status.replace('_', ' ')}, not "
            "submitted: only submitted documents can be approved or returned."
        )


def set_row_status(document_id: int, status: str, clerk_id: int | None = None) -> None:
    """Move every entry row of a document (or of one clerk on it) to a status, and the
    dashboard's counts with them (the rows are read locked, so the counts match the update)."""
    for table in entry_tables():
        model = table.model
        where = [model.document_id == document_id]
        if clerk_id is not None:
            where.append(model.entered_by_id == clerk_id)
        moving = Counter(
            (by or tallies.NO_CLERK, old)
            for by, old in db.session.execute(
                sa.select(model.entered_by_id, model.status).where(*where).with_for_update()
            )
        )
        if not moving:
            continue
        db.session.execute(
            sa.update(model)
            .where(*where)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
        tallies.add(tallies.moved(tallies.rows_subject(table.name), moving, status))


def approve(document: Document, actor: User, *, accept_flags: bool = False) -> None:
    """Approve a submitted document: its rows become read-only for the clerks.

    Refused while a query is open or answered (not yet closed); with open quality flags, only
    when the reviewer confirms (accept_flags), and the flags are then accepted by them."""
    _require_submitted(document)
    comparison = db.session.get(Comparison, document.id)
    if document.double_entry and (comparison is None or comparison.resolved_at is None):
        raise Conflict("Resolve the double-entry differences before approving.")
    unsettled = queries.unsettled_count(document.id)
    if unsettled:
        waiting = ", ".join(f"{n} {status}" for status, n in sorted(unsettled.items()))
        raise Conflict(
            f"This document has queries not yet closed ({waiting}): close them before approving."
        )
    open_flags = flags.open_count(document.id)
    if open_flags and not accept_flags:
        raise UnresolvedFlags(open_flags)
    if open_flags:
        flags.accept_open(document.id, actor, "accepted at approval")
    set_row_status(document.id, "approved")
    document.status = "approved"
    audit.record("approve", "documents", str(document.id), actor=actor, document_id=document.id)
    db.session.commit()


def return_document(document: Document, actor: User, comment: str) -> None:
    """Send a submitted document back with a comment the clerk sees in their queue; its open
    queries can stand in for the comment (the clerk sees them in the queue and beside each
    field)."""
    comment = (comment or "").strip()
    open_queries = queries.unsettled_count(document.id).get("open", 0)
    if not comment and not open_queries:
        raise Invalid(
            "Say what the clerk should look at again, or open a query on a field.", field="comment"
        )
    _require_submitted(document)
    if document.double_entry and db.session.get(Comparison, document.id) is not None:
        raise Conflict(
            "Both entries of this double-entry document are in; resolve the "
            "differences instead of returning it."
        )
    document.status, document.review_comment = "returned", comment[:5000] or None
    for assignment in document.assignments:
        assignment.status, assignment.submitted_at = "in_progress", None
    set_row_status(document.id, "returned")
    tallies.count_return(document.id)
    audit.record(
        "return",
        "documents",
        str(document.id),
        actor=actor,
        document_id=document.id,
        reason=comment[:5000] or f"{open_queries} open quer{'y' if open_queries == 1 else 'ies'}",
    )
    db.session.commit()
