"""Quality assurance: flags raised by soft rules, blind double entry and its reconciliation."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.entry import LongText
from app.models.types import UTCDateTime, utcnow

FLAG_KINDS = ("expected_range", "pattern", "missing_before_submit")


class QualityFlag(db.Model):
    """A value a soft rule questioned and the clerk confirmed; open until a reviewer clears it."""

    __tablename__ = "quality_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.String(64))
    row_key: Mapped[str | None] = mapped_column(sa.String(255))
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"), index=True)
    field: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(32))
    message: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    raised_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How a reviewer settled it: "accepted" (the value stands; also every flag accepted at an
    # approval) or "corrected" (with the new value), and why.
    resolution: Mapped[str | None] = mapped_column(sa.String(16))
    resolution_reason: Mapped[str | None] = mapped_column(sa.Text)


class DoubleEntryRow(db.Model):
    """One clerk's row for a double-entry document, kept apart from the entry tables so the
    two clerks can neither collide on keys nor learn of each other."""

    __tablename__ = "double_entry_rows"
    __table_args__ = (sa.UniqueConstraint("document_id", "clerk_id", "table_name", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        sa.ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    clerk_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    table_name: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(sa.Integer)  # 1, 2, ... in the clerk's order of entry
    data: Mapped[str] = mapped_column(LongText)  # JSON: column -> value as the form parsed it
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # indexed: the dashboard's rows today per clerk read today's range only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Comparison(db.Model):
    """The field-by-field comparison of a double-entered document's two entries."""

    __tablename__ = "comparisons"

    document_id: Mapped[int] = mapped_column(
        sa.ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    # active_history: a change knows the value it replaces (the dashboard's tallies move it)
    clerk_a_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id"), index=True, active_history=True
    )
    clerk_b_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id"), index=True, active_history=True
    )
    fields_compared: Mapped[int] = mapped_column(sa.Integer, default=0, active_history=True)
    differences: Mapped[int] = mapped_column(sa.Integer, default=0, active_history=True)
    # indexed: the dashboard's agreement per week reads the last weeks' range only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class Discrepancy(db.Model):
    """One field on which the two entries differ, and the reviewer's decision."""

    __tablename__ = "discrepancies"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        sa.ForeignKey("comparisons.document_id", ondelete="CASCADE"), index=True
    )
    table_name: Mapped[str] = mapped_column(sa.String(64))
    match_key: Mapped[str] = mapped_column(sa.String(255))  # "key:<value>" or "row:<position>"
    field: Mapped[str] = mapped_column(sa.String(64))
    value_a: Mapped[str | None] = mapped_column(LongText)
    value_b: Mapped[str | None] = mapped_column(LongText)
    resolved_value: Mapped[str | None] = mapped_column(LongText)
    resolved: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Setting(db.Model):
    """A portal-wide setting an admin changes from the web (e.g. the re-entry sample share)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255))
