"""Writing and reading the audit trail. Events are written in the caller's transaction, so a
change and its record are committed (or rolled back) together."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.entry_tables import display
from app.entry_tables.registry import EntryTable
from app.extensions import db
from app.models.audit import AuditEvent
from app.models.types import utcnow

AUDIT_INSERT = sa.insert(AuditEvent.__table__)


def to_jsonable(value: Any) -> Any:
    """A column value as JSON: ISO 8601 times, decimals as text."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(row: Any, columns: list[sa.Column[Any]]) -> dict[str, Any]:
    return {c.key: to_jsonable(getattr(row, c.key)) for c in columns}


def record(action: str, table_name: str, row_key: str | None, *, actor: Any,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           reason: str | None = None, document_id: int | None = None,
           form_token: str | None = None, at: dt.datetime | None = None) -> None:
    """Write an audit event in the current transaction, at once (the caller commits).

    One plain INSERT rather than an object for the next flush: every save writes one, so it
    takes the shortest path. A replayed form_token raises IntegrityError here."""
    db.session.connection().execute(AUDIT_INSERT, {
        "at": at or utcnow(), "actor_id": getattr(actor, "id", None),
        "actor_name": getattr(actor, "username", None), "action": action,
        "table_name": table_name, "row_key": None if row_key is None else str(row_key)[:255],
        "document_id": document_id,
        "before": None if before is None else json.dumps(before, ensure_ascii=False),
        "after": None if after is None else json.dumps(after, ensure_ascii=False),
        "reason": reason, "form_token": form_token})


def saved_by_form(form_token: str) -> str | None:
    """The key of the row a create form with this one-time token made, if it was saved."""
    return db.session.scalar(sa.select(AuditEvent.row_key)
                             .where(AuditEvent.form_token == form_token))


def history(table_name: str, row_key: str) -> list[AuditEvent]:
    query = (sa.select(AuditEvent)
             .where(AuditEvent.table_name == table_name, AuditEvent.row_key == str(row_key))
             .order_by(AuditEvent.at, AuditEvent.id))
    return list(db.session.scalars(query))


def changes(event: AuditEvent, table: EntryTable | None = None) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every field an event changed.

    Given the entry table, values are compared (and returned) parsed by the column's type, so
    one instant written as "09:00:00" in one snapshot and "09:00:00+00:00" in the next is not
    reported as a change."""
    before = json.loads(event.before) if event.before else {}
    after = json.loads(event.after) if event.after else {}
    columns = table.table.columns if table is not None else None
    result = []
    for key in dict.fromkeys([*before, *after]):
        column = columns.get(key) if columns is not None else None
        old, new = (display.from_snapshot(side.get(key), column) for side in (before, after))
        if old != new:
            result.append((key, old, new))
    return result
