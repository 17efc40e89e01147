"""Saving, changing and deleting rows of entry tables: validated, audited, never lost."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import g
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from app.database import as_loaded
from app.entry_tables.registry import EntryTable
from app.extensions import db
from app.models.document import Assignment, Document
from app.models.user import User
from app.request_log import current_request_id
from app.services import audit, documents, outage, quality, tallies
from app.services.drafts import discard_draft, draft_scope
from app.services.errors import (
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    PermissionDenied,
    database_refused_message,
)
from app.web import MAX_KEY, bounded_int

log = logging.getLogger(__name__)
READ_ONLY_FOR_CLERKS = {"approved"}
# A save's check of its document reads these with plain SELECTs (see _load_for_entry).
DOCUMENTS = Document.__table__
ASSIGNMENTS = Assignment.__table__
DOCUMENT_ATTRIBUTES = [(p.key, p.columns[0]) for p in sa.inspect(Document).column_attrs]
ASSIGNMENT_ATTRIBUTES = [
    (p.key, p.columns[0].label(f"a_{p.key}")) for p in sa.inspect(Assignment).column_attrs
]
# The same document columns beside the user's (with_document), labelled apart.
LOGIN_DOCUMENT_ATTRIBUTES = [(key, c.label(f"d_{key}")) for key, c in DOCUMENT_ATTRIBUTES]
SEES_ALL_ROLES = frozenset({"admin", "reviewer"})
APPROVED_MESSAGE = (
    "This row has been approved, so it is not changed by the plain edit or "
    "delete: use the reviewer's correction, which asks for a reason."
)


class StaleVersion(Conflict):
    """Someone saved the row since this form was opened."""

    def __init__(self, current: dict[str, Any], version: int) -> None:
        super().__init__(
            "Someone else saved this row after you opened it. Nothing was "
            "overwritten: compare the values below, then save again to replace "
            "theirs with yours."
        )
        self.current, self.version = current, version


class AlreadySaved(Conflict):
    """The same form was submitted twice (double click, back button, or Save pressed again
    after "may have been saved"). same_values: the second send carried the values stored by
    the first, so it is the same save, answered as saved."""

    def __init__(self, row_key: str, same_values: bool = False) -> None:
        super().__init__("This form was already saved; it was not saved a second time.")
        self.row_key, self.same_values = row_key, same_values


def sees_all_rows(actor: User) -> bool:
    return actor.role in SEES_ALL_ROLES


def parse_key(table: EntryTable, raw: str | None) -> Any:
    """The primary key value from a URL parameter, or NotFound."""
    if raw is None or raw == "":
        raise NotFound("No row was named.")
    if table.key_is_generated or table.key_column.type.python_type is int:
        key = bounded_int(raw, high=MAX_KEY)
        if key is None:
            raise NotFound("No such row.")
        return key
    return raw


def get_row(table: EntryTable, raw_key: str | None, actor: User) -> Any:
    """The row, if this actor may see it (a clerk sees only rows they entered)."""
    row = db.session.get(table.model, parse_key(table, raw_key))
    if row is None or not (sees_all_rows(actor) or row.entered_by_id == actor.id):
        raise NotFound("No such row.")
    return row


def row_history(table: EntryTable, raw_key: str | None, actor: User) -> list[Any]:
    """The audit events under a row's key that this actor may read.

    Reviewers and admins read them all. A clerk is authorised on the row's current owner (a
    row that exists and is another clerk's is not found) and reads only the events of the
    rows they owned: when a key is deleted and used again by someone else, neither clerk
    reads the other's values."""
    key = parse_key(table, raw_key)
    events = audit.history(table.name, str(key))
    row = db.session.get(table.model, key)
    if sees_all_rows(actor):
        if not events and row is None:
            raise NotFound("No such row.")
        return events
    if row is not None and row.entered_by_id != actor.id:
        raise NotFound("No such row.")
    own = [
        event
        for event, owner in zip(events, audit.row_owners(events), strict=True)
        if owner == actor.id
    ]
    if not own and row is None:
        raise NotFound("No such row.")
    return own


def with_document(
    from_: Any, user_id: Any, user_role: Any, table: EntryTable | None
) -> tuple[list[Any], Any]:
    """The columns and FROM that add, to a SELECT of the logged-in user's one row (from_,
    with columns user_id and user_role), the document bound as :document with one row per
    assignment, and with a table the count_rows of that table for that user: the login check
    and a page's or a save's read of its document in one statement (see adopt_document)."""
    columns: list[Any] = [c for _key, c in LOGIN_DOCUMENT_ATTRIBUTES]
    columns += [c for _key, c in ASSIGNMENT_ATTRIBUTES]
    if table is not None:
        count = sa.select(sa.func.count()).select_from(table.table)
        count = count.where(
            table.table.c.document_id == DOCUMENTS.c.id,
            # = OR =, not IN: an IN list is expanded into the SQL on every execution
            sa.or_(
                *(user_role == role for role in sorted(SEES_ALL_ROLES)),
                table.table.c.entered_by_id == user_id,
            ),
        )
        columns.append(count.scalar_subquery().label("counted_rows"))
    joined = from_.outerjoin(DOCUMENTS, DOCUMENTS.c.id == sa.bindparam("document")).outerjoin(
        ASSIGNMENTS, ASSIGNMENTS.c.document_id == DOCUMENTS.c.id
    )
    return columns, joined


def adopt_document(rows: Sequence[Any], table: EntryTable | None, actor: User) -> None:
    """The document of with_document's rows, placed in the session as if queried (with its
    assignments); with a table, its count kept for document_for_entry."""
    if not rows or rows[0]._mapping["d_id"] is None:
        return
    first = rows[0]._mapping
    document = _document_from_rows(rows, LOGIN_DOCUMENT_ATTRIBUTES)
    if table is not None:
        counts = g.setdefault("entry_counts", {})
        counts[(document.id, table.name, actor.id)] = first["counted_rows"] or 0


def check_document_entry(document_id: int | None, actor: User) -> Document | None:
    """The document rows are entered against, if this actor may enter rows for it now."""
    return document_for_entry(document_id, actor)[0]


def document_for_entry(
    document_id: int | None, actor: User, table: EntryTable | None = None
) -> tuple[Document | None, int | None]:
    """check_document_entry, and with a table the count_rows of that table on the document
    (as this save starts): one SELECT for both, which every save from the workspace makes."""
    if document_id is None:
        return None, None
    session = db.session()
    document: Document | None = session.identity_map.get(identity_key(Document, document_id))
    count = None
    if document is None:
        document, count = _load_for_entry(document_id, actor, table)
    elif table is not None:  # read with the login check (with_document)?
        count = g.get("entry_counts", {}).get((document_id, table.name, actor.id))
    if document is None or not documents.can_view(document, actor):
        raise NotFound("No such document.")
    if actor.role == "clerk" and not documents.can_enter(document, actor):
        raise PermissionDenied(
            f"Document #{document.id} is "
            f"{document.status.replace('_', ' ')}; its rows can no longer "
            "be changed."
        )
    if table is not None and count is None:
        count = count_rows(table, actor, document.id)
    return document, count


def load_document(document_id: int) -> Document | None:
    """The document with its assignments (as a query with joinedload would load them) by the
    plain SELECT a save makes, unless this request has it already (with_document)."""
    document = db.session().identity_map.get(identity_key(Document, document_id))
    if document is not None:
        return document
    return _load_for_entry(document_id, None, None)[0]


def _load_for_entry(
    document_id: int, actor: User | None, table: EntryTable | None
) -> tuple[Document | None, int | None]:
    """The document with its assignments (and, with a table, the count): a plain SELECT, one
    row per assignment, turned into the objects a query with joinedload would have made."""
    sees_all = actor is None or sees_all_rows(actor)
    statement = _entry_statement(table.table if table else None, sees_all)
    params = {"document": document_id, "actor": actor.id if actor else None}
    rows = db.session.connection().execute(statement, params).all()
    if not rows:
        return None, None
    document = _document_from_rows(rows, DOCUMENT_ATTRIBUTES)
    return document, (rows[0]._mapping["counted_rows"] if table is not None else None)


def _document_from_rows(rows: Sequence[Any], attributes: list[tuple[str, Any]]) -> Document:
    """The document of rows holding its columns (attributes) and one assignment each (or
    none: NULLs), in the session as if loaded with its assignments."""
    session = db.session()
    first = rows[0]._mapping
    document = as_loaded(session, Document, {key: first[c] for key, c in attributes})
    assignments = []
    for row in rows:
        values = row._mapping
        if values["a_id"] is not None:
            assignment = as_loaded(
                session, Assignment, {key: values[c] for key, c in ASSIGNMENT_ATTRIBUTES}
            )
            set_committed_value(assignment, "document", document)
            assignments.append(assignment)
    set_committed_value(document, "assignments", assignments)
    return document


@lru_cache(maxsize=64)
def _entry_statement(table: sa.Table | None, sees_all: bool) -> sa.Select[Any]:
    """SELECT the document, its assignments, and the count_rows of table (built once)."""
    columns: list[Any] = [DOCUMENTS, *(c for _key, c in ASSIGNMENT_ATTRIBUTES)]
    if table is not None:
        count = sa.select(sa.func.count()).select_from(table)
        count = count.where(table.c.document_id == DOCUMENTS.c.id)
        if not sees_all:
            count = count.where(table.c.entered_by_id == sa.bindparam("actor"))
        columns.append(count.scalar_subquery().label("counted_rows"))
    return (
        sa.select(*columns)
        .select_from(DOCUMENTS.outerjoin(ASSIGNMENTS, ASSIGNMENTS.c.document_id == DOCUMENTS.c.id))
        .where(DOCUMENTS.c.id == sa.bindparam("document"))
    )


def create_row(
    table: EntryTable,
    values: dict[str, Any],
    *,
    actor: User,
    document_id: int | None = None,
    form_token: str | None = None,
    warnings: list[quality.SoftWarning] | None = None,
    had_draft: bool = True,
    checked_document: Document | None = None,
) -> Any:
    """Insert a row with its audit event, consume the form token, drop the draft; commit.

    had_draft=False (the form says no draft of it was ever kept) skips deleting one.
    checked_document: the document, as check_document_entry returned it in this request."""
    if checked_document is not None and checked_document.id == document_id:
        document: Document | None = checked_document
    else:
        document = check_document_entry(document_id, actor)
    if document is not None and actor.role == "clerk":
        if document.double_entry:  # blind entries live apart until the reviewer reconciles
            raise NotFound("No such document.")
        documents.note_entry(document, actor)  # committed with the row, or not at all
    # Replayed tokens and taken keys are found by the database's unique constraints (below),
    # not by reading first: one round trip less on every save.
    row = table.model(**values, entered_by_id=actor.id, document_id=document_id, status="entered")
    try:
        db.session.flush()  # the document's change, if any, before the row that names it
        _insert(table, row)
        key = table.key_of(row)
        audit.record(
            "create",
            table.name,
            key,
            actor=actor,
            document_id=document_id,
            after=audit.snapshot(row, list(table.table.columns)),
            form_token=form_token[:64] if form_token else None,
        )
        quality.raise_flags(table.name, key, document_id, warnings or [], actor)
        if had_draft:
            discard_draft(actor.id, draft_scope(table.name, document_id, None))
        # Last before the commit: the count is held locked for the shortest time.
        tallies.add({(tallies.rows_subject(table.name), actor.id, row.status): 1})
        outage.commit_or_resolve(lambda: _created_by_form(form_token))
    except IntegrityError:
        db.session.rollback()
        if form_token:
            _refuse_replayed_token(form_token, values)
        _refuse_duplicate_key(table, values)
        raise Invalid(
            "The database refused this row (a value conflicts with another row)."
        ) from None
    except SQLAlchemyError as exc:
        _database_refused(exc)
    return row


def update_row(
    table: EntryTable,
    raw_key: str | None,
    values: dict[str, Any],
    *,
    actor: User,
    expected_version: int | None,
    warnings: list[quality.SoftWarning] | None = None,
    action: str = "update",
    reason: str | None = None,
    had_draft: bool = True,
) -> Any:
    """Change a row if nobody saved it since `expected_version`; audited; commit.

    A reviewer's correction is action="correct" and needs a reason."""
    if action == "correct" and not (reason or "").strip():
        raise Invalid("Say why the value is corrected.", field="reason")
    row = get_row(table, raw_key, actor)
    _refuse_if_read_only(row, actor, correcting=action == "correct")
    if expected_version is None or row.version != expected_version:
        if expected_version is not None and _edit_stored(
            table, table.key_of(row), actor, expected_version, values, action
        ):
            # Save pressed again after a lost answer: the first press was stored.
            _discard_after_retry(actor, table.name, row.document_id, table.key_of(row))
            return row
        raise StaleVersion(audit.snapshot(row, table.data_columns), row.version)
    key = table.key_of(row)
    before = audit.snapshot(row, list(table.table.columns))
    for name, value in values.items():
        if name != table.key_column.key:
            setattr(row, name, value)
    try:
        db.session.flush()
        audit.record(
            action,
            table.name,
            key,
            actor=actor,
            document_id=row.document_id,
            before=before,
            after=audit.snapshot(row, list(table.table.columns)),
            reason=reason,
        )
        quality.raise_flags(table.name, key, row.document_id, warnings or [], actor)
        if had_draft:
            discard_draft(actor.id, draft_scope(table.name, row.document_id, key))
        outage.commit_or_resolve(
            lambda: _edit_stored(table, key, actor, expected_version, values, action)
        )
    except StaleDataError:
        db.session.rollback()
        current = get_row(table, raw_key, actor)
        raise StaleVersion(audit.snapshot(current, table.data_columns), current.version) from None
    except SQLAlchemyError as exc:
        _database_refused(exc)
    return row


def delete_row(table: EntryTable, raw_key: str | None, *, actor: User, reason: str) -> str:
    """Delete a row, keeping its last values and the reason in the audit trail; commit."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Say why this row is deleted.", field="reason")
    row = get_row(table, raw_key, actor)
    _refuse_if_read_only(row, actor)
    key = table.key_of(row)
    key_value = getattr(row, table.key_column.key)
    audit.record(
        "delete",
        table.name,
        key,
        actor=actor,
        document_id=row.document_id,
        before=audit.snapshot(row, list(table.table.columns)),
        reason=reason[:2000],
    )
    db.session.delete(row)
    # An unsaved edit of a row that no longer exists would only stand in the way of "Submit".
    discard_draft(actor.id, draft_scope(table.name, row.document_id, key))
    try:
        outage.commit_or_resolve(lambda: _row_gone(table, key_value))
    except StaleDataError:
        db.session.rollback()
        raise Conflict("Someone changed this row meanwhile; look at it again first.") from None
    except SQLAlchemyError as exc:
        _database_refused(exc)
    return key


def _insert(table: EntryTable, row: Any) -> None:
    """INSERT a new (transient) row as one statement, with its defaults filled in first.

    The statement a session flush would write (None values left out, so defaults apply),
    without the unit of work around it: this is what every save makes. Python-side defaults
    (status, version, times) are computed here and set on the object, so the caller and the
    audit event see exactly what was stored."""
    values = {}
    for column in table.table.columns:
        value = getattr(row, column.key)
        default = column.default
        if value is None and default is not None and (default.is_scalar or default.is_callable):
            arg = getattr(default, "arg", None)
            value = arg(None) if default.is_callable and callable(arg) else arg
            setattr(row, column.key, value)
        if value is not None:
            values[column.key] = value
    result = db.session.connection().execute(_insert_statement(table.table), values)
    if table.key_is_generated and getattr(row, table.key_column.key) is None:
        setattr(row, table.key_column.key, (result.inserted_primary_key or [None])[0])


@lru_cache(maxsize=64)
def _insert_statement(table: sa.Table) -> sa.Insert:
    """The table's INSERT, built once: SQLAlchemy caches its compiled forms by this object."""
    return table.insert()


def _refuse_if_read_only(row: Any, actor: User, *, correcting: bool = False) -> None:
    """Clerks change only rows of documents they may still enter; an approved row changes
    only through a correction with a reason (a reviewer's or admin's), never silently."""
    if actor.role == "clerk" and row.status in READ_ONLY_FOR_CLERKS:
        raise PermissionDenied("This row has been approved and can no longer be changed.")
    if row.status in READ_ONLY_FOR_CLERKS and not correcting:
        raise PermissionDenied(APPROVED_MESSAGE)
    if actor.role == "clerk":
        check_document_entry(row.document_id, actor)


def _refuse_replayed_token(token: str, values: dict[str, Any]) -> None:
    saved = audit.saved_by_form_with_values(token[:64])
    if saved is not None:
        row_key, after = saved
        raise AlreadySaved(row_key, same_values=_same_values(values, after))


def _same_values(values: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether the values sent match a stored snapshot (fields sent empty are not compared:
    a default such as the time of saving may have filled them)."""
    return all(
        audit.to_jsonable(value) == stored.get(name)
        for name, value in values.items()
        if value is not None
    )


def _created_by_form(form_token: str | None) -> bool | None:
    """After a lost COMMIT: whether the row of this create form is stored (None: no token to
    tell by)."""
    if not form_token:
        return None
    return audit.saved_by_form(form_token[:64]) is not None


def _edit_stored(
    table: EntryTable,
    key: str,
    actor: User,
    from_version: int | None,
    values: dict[str, Any],
    action: str,
) -> bool:
    """Whether this actor's change of the row from from_version to these values is stored.

    Optimistic locking lets one change only start from a given version, and its audit event
    (same transaction) records that version before the change."""
    for before, after in audit.changes_by(actor.id, table.name, key, action):
        if before.get("version") == from_version:
            data = {name: value for name, value in values.items() if name != table.key_column.key}
            return _same_values(data, after)
    return False


def _row_gone(table: EntryTable, key_value: Any) -> bool:
    """After a lost COMMIT of a delete: whether the row is gone."""
    found = db.session.execute(
        sa.select(table.key_column).where(table.key_column == key_value)
    ).first()
    return found is None


def _discard_after_retry(actor: User, table_name: str, document_id: int | None, key: str) -> None:
    """A draft written back while the first save's answer was lost is no longer wanted."""
    discard_draft(actor.id, draft_scope(table_name, document_id, key))
    try:
        db.session.commit()
    except SQLAlchemyError as exc:
        _database_refused(exc)


def _refuse_duplicate_key(table: EntryTable, values: dict[str, Any]) -> None:
    """Keys are compared exactly (after the form strips surrounding spaces) on every backend:
    'abc' and 'ABC' are two keys on SQLite, PostgreSQL and MySQL alike (key columns use the
    utf8mb4_bin collation there, where the default collation would call them one)."""
    if table.key_is_generated:
        return
    value = values.get(table.key_column.key)
    if value is not None and db.session.get(table.model, value) is not None:
        raise Invalid("A row with this key exists already.", field=table.key_column.key)


def _database_refused(exc: SQLAlchemyError) -> None:
    """The driver's text names tables, columns and values: it goes to the log with the request
    id, and the person sees a plain sentence with that id."""
    if outage.is_unavailable(exc):
        raise outage.lost_before_commit(exc) from exc
    db.session.rollback()
    rid = current_request_id()
    detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    log.warning(
        "database refused a write (request_id=%s): %s: %s",
        rid or "-",
        type(exc).__name__,
        str(detail)[:500],
    )
    raise DomainError(database_refused_message(rid)) from None


@dataclass
class Page:
    rows: list[Any]
    usernames: dict[int, str]
    page: int
    page_size: int
    has_next: bool


def list_rows(
    table: EntryTable,
    actor: User,
    *,
    status: str | None = None,
    clerk_id: int | None = None,
    document_id: int | None = None,
    search: str | None = None,
    sort: str | None = None,
    descending: bool = False,
    page: int = 1,
    page_size: int = 50,
    with_usernames: bool = True,
) -> Page:
    """One page of rows, filtered and sorted on indexed columns; one query, no COUNT
    (and one more for the names of the clerks who entered them, unless not wanted)."""
    model = table.model
    query = sa.select(model)
    if not sees_all_rows(actor):
        query = query.where(model.entered_by_id == actor.id)
    if status:
        query = query.where(model.status == status)
    if clerk_id:
        query = query.where(model.entered_by_id == clerk_id)
    if document_id:
        query = query.where(model.document_id == document_id)
    if search:
        query = query.where(_search_clause(table, search))
    column = sortable_columns(table).get(sort or "", table.key_column)
    # The key breaks ties in the same direction as the sort, so the sort column's index (which
    # InnoDB and PostgreSQL extend with the key) yields the order, read backwards for "desc".
    query = query.order_by(
        *[c.desc() if descending else c.asc() for c in dict.fromkeys([column, table.key_column])]
    )
    page = max(1, page)
    rows = list(db.session.scalars(query.offset((page - 1) * page_size).limit(page_size + 1)))
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    ids = {r.entered_by_id for r in rows if r.entered_by_id} if with_usernames else set()
    usernames = (
        dict(db.session.execute(sa.select(User.id, User.username).where(User.id.in_(ids))).all())
        if ids
        else {}
    )
    return Page(rows, usernames, page, page_size, has_next)


def sortable_columns(table: EntryTable) -> dict[str, sa.Column[Any]]:
    """Columns a list may be sorted by: the key and those leading an index (fast at any size)."""
    columns = {table.key_column.key: table.key_column}
    for column in table.table.columns:
        if column.index or column.unique:
            columns[column.key] = column
    for index in table.table.indexes:
        first = next(iter(index.columns))
        columns[first.key] = first
    return columns


def _search_clause(table: EntryTable, text: str) -> sa.ColumnElement[bool]:
    """Keys starting with the text (an index range scan)."""
    text = text.strip()[:200]
    column = table.key_column
    if table.key_is_generated:
        key = bounded_int(text, high=MAX_KEY)
        return column == key if key is not None else sa.false()
    if db.engine.dialect.name == "sqlite":
        # GLOB is case-sensitive like the key itself, and SQLite can use the key's index for it.
        escaped = "".join(f"[{c}]" if c in "*?[" else c for c in text)
        return column.op("GLOB")(f"{escaped}*")
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"{escaped}%", escape="\\")


LATEST_ROWS = 10


def latest_rows(
    table: EntryTable, actor: User, document_id: int, *, page: int = 1, page_size: int = LATEST_ROWS
) -> Page:
    """The document's rows this actor sees, newest first, one short page at a time.

    A page beside the document costs the same with 5 rows on it or 5,000."""
    return list_rows(
        table,
        actor,
        document_id=document_id,
        sort="created_at",
        descending=True,
        page=page,
        page_size=page_size,
        with_usernames=False,
    )


def count_rows(table: EntryTable, actor: User, document_id: int) -> int:
    """How many rows of the document this actor sees (one indexed COUNT)."""
    statement = _count_statement(table.table, sees_all_rows(actor))
    params = {"document": document_id, "actor": actor.id}
    return db.session.connection().execute(statement, params).scalar() or 0


@lru_cache(maxsize=64)
def _count_statement(table: sa.Table, sees_all: bool) -> sa.Select[Any]:
    query = sa.select(sa.func.count()).select_from(table)
    query = query.where(table.c.document_id == sa.bindparam("document"))
    if not sees_all:
        query = query.where(table.c.entered_by_id == sa.bindparam("actor"))
    return query
