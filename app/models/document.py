"""Documents (scans, PDFs) and who is assigned to transcribe them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utc_now_default, utcnow

DOCUMENT_STATUSES = ("new", "assigned", "in_progress", "submitted", "returned", "approved")


class Document(db.Model):
    """An uploaded file, stored under a generated key (never the uploader's file name)."""

    __tablename__ = "documents"
    __table_args__ = (sa.Index("ix_documents_status_updated", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    storage_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # active_history: a change knows the status it replaces (the dashboard's tallies move it)
    status: Mapped[str] = mapped_column(
        sa.String(16), default="new", server_default="new", index=True, active_history=True
    )
    double_entry: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    # PNG pages stored beside the original, for files a browser cannot show (TIFF); None: the
    # original is shown as it is (or, for a TIFF stored before pages existed, not yet made).
    page_count: Mapped[int | None] = mapped_column(sa.Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default(), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, server_default=utc_now_default()
    )

    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="document", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.original_name!r} {self.status}>"


class Assignment(db.Model):
    """A clerk's task on one document (a double-entry document has two)."""

    __tablename__ = "assignments"
    __table_args__ = (
        sa.UniqueConstraint("document_id", "clerk_id"),
        sa.Index("ix_assignments_clerk_status", "clerk_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        sa.ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    clerk_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id"), index=True, active_history=True
    )
    status: Mapped[str] = mapped_column(
        sa.String(16), default="assigned", server_default="assigned", active_history=True
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default()
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    document: Mapped[Document] = relationship(back_populates="assignments")
