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


def record(
    action: str,
    table_name: str,
    row_key: str | None,
    *,
    actor: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    document_id: int | None = None,
    form_token: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Write an audit event in the current transaction, at once (the caller commits).

    One plain INSERT rather than an object for the next flush: every save writes one, so it
    takes the shortest path. A replayed form_token raises IntegrityError here."""
    db.session.connection().execute(
        AUDIT_INSERT,
        {
            "at": at or utcnow(),
            "actor_id": getattr(actor, "id", None),
            "actor_name": getattr(actor, "username", None),
            "action": action,
            "table_name": table_name,
            "row_key": None if row_key is None else str(row_key)[:255],
            "document_id": document_id,
            "before": None if before is None else json.dumps(before, ensure_ascii=False),
            "after": None if after is None else json.dumps(after, ensure_ascii=False),
            "reason": reason,
            "form_token": form_token,
        },
    )


def saved_by_form(form_token: str) -> str | None:
    """The key of the row a create form with this one-time token made, if it was saved."""
    return db.session.scalar(
        sa.select(AuditEvent.row_key).where(AuditEvent.form_token == form_token)
    )


def saved_by_form_with_values(form_token: str) -> tuple[str, dict[str, Any]] | None:
    """The key and stored values of the row a create form with this token made, if saved."""
    found = db.session.execute(
        sa.select(AuditEvent.row_key, AuditEvent.after).where(AuditEvent.form_token == form_token)
    ).first()
    if found is None or found.row_key is None:
        return None
    return found.row_key, json.loads(found.after) if found.after else {}


def changes_by(
    actor_id: int, table_name: str, row_key: str, action: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(before, after) of every `action` event of this actor on this row, latest first."""
    query = (
        sa.select(AuditEvent.before, AuditEvent.after)
        .where(
            AuditEvent.table_name == table_name,
            AuditEvent.row_key == str(row_key),
            AuditEvent.actor_id == actor_id,
            AuditEvent.action == action,
        )
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
    return [
        (json.loads(r.before or "{}"), json.loads(r.after or "{}"))
        for r in db.session.execute(query)
    ]


def history(table_name: str, row_key: str) -> list[AuditEvent]:
    query = (
        sa.select(AuditEvent)
        .where(AuditEvent.table_name == table_name, AuditEvent.row_key == str(row_key))
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(db.session.scalars(query))


def row_owners(events: list[AuditEvent]) -> list[int | None]:
    """Whose row each event (of one key, oldest first) was about: the `entered_by_id` in its
    snapshot, else that of the row's life it falls in (a key deleted and created again by
    another clerk starts a new life with a new owner)."""
    owners: list[int | None] = []
    current: int | None = None
    for event in events:
        snapshot = json.loads(event.after or event.before or "{}")
        owner = snapshot.get("entered_by_id") if isinstance(snapshot, dict) else None
        if event.action == "create":
            current = owner if owner is not None else event.actor_id
        elif owner is not None:
            current = owner
        owners.append(current)
        if event.action == "delete":
            current = None
    return owners


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
