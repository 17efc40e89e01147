"""What the clerk's document page reads: the document, one statement of facts about it for the
person looking (rows per entry table, drafts, queries), and a panel's latest rows.

The page opens on every visit and after every plain save, so its statements are built once per
process, with bound parameters: SQLAlchemy then reuses their cache key and compiled SQL instead
of building and hashing a new statement on every request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from app.entry_tables.registry import EntryTable
from app.extensions import db
from app.models.document import Document
from app.models.entry import Draft
from app.models.queries import FieldQuery
from app.models.user import User
from app.services.drafts import draft_scope
from app.services.entries import LATEST_ROWS, load_document, sees_all_rows
from app.services.queries import UNSETTLED


def document_with_assignments(document_id: int) -> Document | None:
    """The document with its assignments (every workspace page checks and shows them), if the
    login check has not read it already (reads_document)."""
    return load_document(document_id)


@dataclass(frozen=True)
class DocumentFacts:
    """Counted for one person on one document."""

    counts: dict[str, int]  # rows per entry table that the person sees
    drafts: frozenset[str]  # entry tables with the person's draft of a new row
    queries: int  # the person's open or answered field queries (0 unless asked for)


def document_facts(
    tables: Sequence[EntryTable], actor: User, document_id: int, *, with_queries: bool
) -> DocumentFacts:
    """Every table's row count, the drafts and the queries: one statement of scalar subqueries
    (each an indexed lookup), where one statement each would cost a round trip apiece."""
    tables = tuple(tables)
    statement = _facts_statement(tables, sees_all_rows(actor), with_queries)
    params: dict[str, Any] = {"document_id": document_id, "user_id": actor.id}
    for i, table in enumerate(tables):
        params[f"scope_{i}"] = draft_scope(table.name, document_id, None)
    row = db.session.execute(statement, params).one()
    n = len(tables)
    return DocumentFacts(
        counts={table.name: row[i] or 0 for i, table in enumerate(tables)},
        drafts=frozenset(table.name for i, table in enumerate(tables) if row[n + i] is not None),
        queries=(row[2 * n] or 0) if with_queries else 0,
    )


def latest_rows(
    table: EntryTable, actor: User, document_id: int, *, page: int = 1
) -> tuple[list[Any], bool]:
    """A page of the document's rows that the actor sees, newest first (as
    entries.latest_rows), and whether older ones exist. The rows are read-only: Core rows with
    an attribute per column key (ORM objects cost more to load, and nothing here changes)."""
    statement = _latest_statement(table, sees_all_rows(actor))
    params = {
        "document_id": document_id,
        "user_id": actor.id,
        "limit": LATEST_ROWS + 1,
        "offset": (max(1, page) - 1) * LATEST_ROWS,
    }
    rows = list(db.session.execute(statement, params))
    return rows[:LATEST_ROWS], len(rows) > LATEST_ROWS


# --- the statements, built once per process --------------------------------------------------


@lru_cache(maxsize=32)
def _facts_statement(
    tables: tuple[EntryTable, ...], sees_all: bool, with_queries: bool
) -> sa.Select[Any]:
    document_id = sa.bindparam("document_id", type_=sa.Integer)
    user_id = sa.bindparam("user_id", type_=sa.Integer)
    # Core tables, not the models: a statement without ORM entities skips the ORM's
    # compile and loading steps (these are plain numbers).
    counts = []
    for table in tables:
        rows = table.table.c
        count = sa.select(sa.func.count()).select_from(table.table)
        count = count.where(rows.document_id == document_id)
        if not sees_all:
            count = count.where(rows.entered_by_id == user_id)
        counts.append(count.scalar_subquery())
    drafts = Draft.__table__.c
    draft_ids = [
        sa.select(drafts.id)
        .where(drafts.user_id == user_id, drafts.scope == sa.bindparam(f"scope_{i}"))
        .scalar_subquery()
        for i in range(len(tables))
    ]
    asked = FieldQuery.__table__.c
    queries = (
        [
            sa.select(sa.func.count())
            .select_from(FieldQuery.__table__)
            .where(
                asked.document_id == document_id,
                asked.clerk_id == user_id,
                # = OR =, not IN: an IN list is expanded into the SQL on every execution
                sa.or_(*(asked.status == status for status in UNSETTLED)),
            )
            .scalar_subquery()
        ]
        if with_queries
        else []
    )
    return sa.select(*counts, *draft_ids, *queries)


@lru_cache(maxsize=32)
def _latest_statement(table: EntryTable, sees_all: bool) -> sa.Select[Any]:
    columns = table.table.c
    statement = sa.select(*[column.label(column.key) for column in columns])
    statement = statement.where(columns.document_id == sa.bindparam("document_id"))
    if not sees_all:
        statement = statement.where(columns.entered_by_id == sa.bindparam("user_id"))
    # the order of entries.latest_rows: created_at, then the key, both descending, read from
    # the (document, clerk, created, key) index
    return (
        statement.order_by(columns.created_at.desc(), table.key_column.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )
