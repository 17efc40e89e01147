"""Field queries: a reviewer asks about one field of one row; the clerk who entered it answers
(and may correct the value in the same step); the reviewer closes the query or opens it again.

Every step is an audit event on table "field_queries" (row key: the query's id) with who, when
and the words, written in the same transaction as the change. Pages read a document's queries
in one statement, and a clerk's open queries per document in one more.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from app.entry_tables.registry import EntryTable
from app.extensions import db
from app.models.document import Document
from app.models.queries import FieldQuery
from app.models.types import utcnow
from app.models.user import User
from app.services import audit, cells
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.progress import id_list

EVENTS = "field_queries"
EXPORT_NAMES = ("queries", "field_queries")  # `flask export queries`
STAFF = ("admin", "reviewer")
UNSETTLED = ("open", "answered")  # a document is not approved while any query is in these


def _record(action: str, query: FieldQuery, actor: User, **extra: Any) -> None:
    audit.record(
        action,
        EVENTS,
        str(query.id),
        actor=actor,
        document_id=query.document_id,
        after={
            "status": query.status,
            "table": query.table_name,
            "row": query.row_key,
            "field": query.field,
            **extra,
        },
    )


def _require_staff(actor: User) -> None:
    if actor.role not in STAFF:
        raise PermissionDenied("Only a reviewer opens, closes or re-opens a query.")


def open_query(
    document: Document, table_name: str, row_key: str, field: str, question: str, actor: User
) -> FieldQuery:
    """Ask about one field of one row of a document; commit."""
    _require_staff(actor)
    cell = cells.find_cell(table_name, row_key, field, document.id)
    question = cells.required_text(question, "Write the question for the clerk.", "question")
    if document.status == "approved":
        raise Conflict("This document is approved; its values can no longer be queried.")
    query = FieldQuery(
        document_id=document.id,
        table_name=cell.table.name,
        row_key=cell.key,
        field=cell.column.key,
        clerk_id=cell.row.entered_by_id,
        status="open",
        question=question,
        value_asked=cell.text,
        opened_by_id=actor.id,
        opened_at=utcnow(),
    )
    db.session.add(query)
    db.session.flush()
    _record("query_open", query, actor, question=question, value=cell.text)
    db.session.commit()
    return query


def get_query(query_id: int, actor: User) -> FieldQuery:
    """A query the actor may see: staff see every one, a clerk only those on their rows."""
    query = db.session.get(FieldQuery, query_id)
    if query is None or (actor.role not in STAFF and query.clerk_id != actor.id):
        raise NotFound("No such query.")
    return query


def answer(query_id: int, clerk: User, text: str, new_value: str | None = None) -> FieldQuery:
    """The clerk's answer, and when new_value is given (not blank) the field corrected to it,
    both in one transaction; commit."""
    query = get_query(query_id, clerk)
    if clerk.role in STAFF or query.clerk_id != clerk.id:
        raise PermissionDenied("Only the clerk who entered the row answers its query.")
    if query.status != "open":
        raise Conflict(f"This query is {query.status}; only an open query is answered.")
    text = cells.required_text(text, "Write your answer for the reviewer.", "answer")
    corrected = None
    if new_value is not None and new_value.strip():
        cell = cells.find_cell(query.table_name, query.row_key, query.field, query.document_id)
        if cells.correct(cell, new_value, actor=clerk, reason=f"query #{query.id}: {text}"):
            corrected = cell.text
    query.status, query.answer, query.corrected_to = "answered", text, corrected
    query.answered_by_id, query.answered_at = clerk.id, utcnow()
    _record("query_answer", query, clerk, answer=text, corrected_to=corrected)
    db.session.commit()
    return query


def close(query_id: int, actor: User) -> FieldQuery:
    """The reviewer is satisfied; commit."""
    _require_staff(actor)
    query = get_query(query_id, actor)
    if query.status == "closed":
        raise Conflict("This query is closed already.")
    query.status, query.closed_by_id, query.closed_at = "closed", actor.id, utcnow()
    _record("query_close", query, actor)
    db.session.commit()
    return query


def reopen(query_id: int, actor: User, question: str) -> FieldQuery:
    """Ask again (the answer did not settle it); the new words become the question; commit."""
    _require_staff(actor)
    query = get_query(query_id, actor)
    if query.status == "open":
        raise Conflict("This query is open already.")
    question = cells.required_text(question, "Say what is still to be checked.", "question")
    document = db.session.get(Document, query.document_id)
    if document is not None and document.status == "approved":
        raise Conflict("This document is approved; its values can no longer be queried.")
    query.status, query.question = "open", question
    query.closed_by_id = query.closed_at = None
    _record("query_reopen", query, actor, question=question)
    db.session.commit()
    return query


# --- reading ---------------------------------------------------------------------------------


def for_document(
    document_id: int, clerk_id: int | None = None, statuses: Iterable[str] | None = None
) -> list[FieldQuery]:
    """A document's queries (of one clerk's rows, when given), oldest first: one statement."""
    query = sa.select(FieldQuery).where(FieldQuery.document_id == document_id)
    if clerk_id is not None:
        query = query.where(FieldQuery.clerk_id == clerk_id)
    if statuses is not None:
        query = query.where(FieldQuery.status.in_(list(statuses)))
    # sorted here, not by ORDER BY id: that would tempt SQLite to walk the whole table in id
    # order rather than read the document's few queries along its index
    return sorted(db.session.scalars(query), key=lambda q: q.id)


def open_per_document(clerk_id: int, document_ids: list[int]) -> dict[int, int]:
    """The clerk's open queries per document of a page: one statement."""
    if not document_ids:
        return {}
    rows = db.session.execute(
        sa.select(FieldQuery.document_id, sa.func.count())
        .where(
            FieldQuery.clerk_id == clerk_id,
            FieldQuery.status == "open",
            FieldQuery.document_id.in_(id_list(document_ids)),
        )
        .group_by(FieldQuery.document_id)
    )
    return {document_id: int(n) for document_id, n in rows}


def unsettled_per_document(document_ids: list[int]) -> dict[int, dict[str, int]]:
    """Open and answered queries per document of a page (the review queue): one statement."""
    result: dict[int, dict[str, int]] = {}
    if not document_ids:
        return result
    rows = db.session.execute(
        sa.select(FieldQuery.document_id, FieldQuery.status, sa.func.count())
        .where(FieldQuery.document_id.in_(id_list(document_ids)), FieldQuery.status.in_(UNSETTLED))
        .group_by(FieldQuery.document_id, FieldQuery.status)
    )
    for document_id, status, n in rows:
        result.setdefault(document_id, {})[status] = int(n)
    return result


def unsettled_count(document_id: int) -> dict[str, int]:
    return unsettled_per_document([document_id]).get(document_id, {})


def export_table() -> EntryTable:
    """The queries table as `flask export` reads a table: every column, sorted by id."""
    return EntryTable(
        model=FieldQuery,
        name=FieldQuery.__tablename__,
        label="Field queries",
        description="The reviewers' queries on fields and the clerks' answers.",
        multi_row=True,
    )
