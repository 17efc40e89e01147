"""Field queries: a reviewer's question on one field of one row, answered by its clerk."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

QUERY_STATUSES = ("open", "answered", "closed")


class FieldQuery(db.Model):
    """open (the clerk has to answer) -> answered (the reviewer reads) -> closed, or open again.

    Each step is also an audit event (table "field_queries", row key the query's id), so the
    whole thread, with who and when, stays in the audit trail; this row holds the latest state.
    """

    __tablename__ = "field_queries"
    __table_args__ = (
        # the review page and the clerk's document: one document's queries
        sa.Index("ix_field_queries_document_status", "document_id", "status"),
        # the clerk's queue: their open queries
        sa.Index("ix_field_queries_clerk_status", "clerk_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("documents.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(sa.String(64))
    row_key: Mapped[str] = mapped_column(sa.String(255))
    field: Mapped[str] = mapped_column(sa.String(64))
    # the clerk who entered the row: who answers, and whose figures it counts in
    clerk_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    question: Mapped[str] = mapped_column(sa.Text)
    value_asked: Mapped[str | None] = mapped_column(sa.Text)  # the value as it stood, as text
    answer: Mapped[str | None] = mapped_column(sa.Text)
    corrected_to: Mapped[str | None] = mapped_column(sa.Text)  # the clerk's new value, if any
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
