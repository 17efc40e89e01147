"""The append-only audit trail: who changed what, when, from what, to what, and why."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.entry import LongText
from app.models.types import UTCDateTime, utcnow

AUDIT_ACTIONS = (
    "create",
    "update",
    "delete",
    "import",
    "submit",
    "approve",
    "return",
    "correct",
    "resolve",
    "assign",
    "query_open",
    "query_answer",
    "query_close",
    "query_reopen",
    "flag_accept",
    "flag_correct",
)


class AuditEvent(db.Model):
    """One recorded change, written in the same transaction as the change itself."""

    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_table_key", "table_name", "row_key"),
        # the dashboard's per-clerk submit / return counts and "last activity"
        sa.Index(
            "ix_audit_events_table_action", "table_name", "action", "document_id", "actor_id", "at"
        ),
        sa.Index("ix_audit_events_actor_latest", "actor_id", "id"),
        # the dashboard's submits and returns per week: the last weeks' range of one action
        sa.Index("ix_audit_events_action_at", "table_name", "action", "at", "actor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # indexed by ix_audit_events_actor_latest, which leads with it
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_name: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(16))
    table_name: Mapped[str] = mapped_column(sa.String(64))
    row_key: Mapped[str | None] = mapped_column(sa.String(255))
    document_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    before: Mapped[str | None] = mapped_column(LongText)  # JSON
    after: Mapped[str | None] = mapped_column(LongText)  # JSON
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # The one-time token of the create form that made the row: unique, so a replayed form (a
    # double click, the back button) fails to insert a second event, and with it a second row.
    form_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
