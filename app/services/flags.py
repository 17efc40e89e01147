"""Quality flags where the value is: a document's or a page's flags by cell, and the
reviewer's resolution of one (accept the value, or correct it with a reason), audited."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa

from app.extensions import db
from app.models.quality import QualityFlag
from app.models.types import utcnow
from app.models.user import User
from app.services import audit, cells
from app.services.errors import Conflict, NotFound

ACTIONS = {"accepted": "flag_accept", "corrected": "flag_correct"}
CellKey = tuple[str, str, str]  # (table name, row key, field)


def by_cell(flags: Iterable[QualityFlag]) -> dict[CellKey, list[QualityFlag]]:
    found: dict[CellKey, list[QualityFlag]] = defaultdict(list)
    for flag in flags:
        found[(flag.table_name, flag.row_key or "", flag.field)].append(flag)
    return dict(found)


def for_document(document_id: int) -> list[QualityFlag]:
    """Every flag of a document, open ones first: one statement."""
    return list(
        db.session.scalars(
            sa.select(QualityFlag)
            .where(QualityFlag.document_id == document_id)
            .order_by(sa.case((QualityFlag.status == "open", 0), else_=1), QualityFlag.id)
        )
    )


def open_for_rows(table_name: str, row_keys: list[str]) -> list[QualityFlag]:
    """The open flags of a page of rows (the row list): one statement."""
    if not row_keys:
        return []
    return list(
        db.session.scalars(
            sa.select(QualityFlag).where(
                QualityFlag.table_name == table_name,
                QualityFlag.row_key.in_(row_keys),
                QualityFlag.status == "open",
            )
        )
    )


def _settle(flag: QualityFlag, actor: User, resolution: str, reason: str) -> None:
    flag.status, flag.cleared_by_id, flag.cleared_at = "cleared", actor.id, utcnow()
    flag.resolution, flag.resolution_reason = resolution, reason
    audit.record(
        ACTIONS[resolution],
        "quality_flags",
        str(flag.id),
        actor=actor,
        document_id=flag.document_id,
        after={
            "table": flag.table_name,
            "row": flag.row_key,
            "field": flag.field,
            "rule": flag.message,
            "resolution": resolution,
        },
        reason=reason,
    )


def resolve(flag_id: int, actor: User, *, reason: str, new_value: str | None = None) -> str:
    """Accept the flagged value, or (new_value given) correct it; the reason is required and
    kept with the flag and in the audit trail. Returns "accepted" or "corrected"; commit."""
    flag = db.session.get(QualityFlag, flag_id)
    if flag is None:
        raise NotFound("No such flag.")
    if flag.status != "open":
        raise Conflict("This flag was resolved already.")
    reason = cells.required_text(reason, "Say why the value stands or is corrected.", "reason")
    resolution = "accepted"
    if new_value is not None and new_value.strip():
        if not flag.row_key:
            raise Conflict("This flag names no row; accept it, or correct the row itself.")
        cell = cells.find_cell(flag.table_name, flag.row_key, flag.field, flag.document_id)
        if cells.correct(cell, new_value, actor=actor, reason=reason):
            resolution = "corrected"
    _settle(flag, actor, resolution, reason)
    db.session.commit()
    return resolution


def accept_open(document_id: int, actor: User, reason: str) -> int:
    """At an approval the reviewer confirmed: every open flag of the document is accepted by
    them (in the caller's transaction). Returns how many."""
    flags = db.session.scalars(
        sa.select(QualityFlag).where(
            QualityFlag.document_id == document_id, QualityFlag.status == "open"
        )
    ).all()
    for flag in flags:
        _settle(flag, actor, "accepted", reason)
    return len(flags)


def open_count(document_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(QualityFlag)
            .where(QualityFlag.document_id == document_id, QualityFlag.status == "open")
        )
        or 0
    )
