"""Import batches: every file brought in by `flask import` or the upload page, findable later."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utc_now_default, utcnow


class ImportBatch(db.Model):
    """One committed import: which file, into which table, by whom, how many rows.

    The imported rows carry `created_at` equal to the batch's `created_at` and `entered_by_id`
    equal to its `actor_id`, so the rows of a batch can be selected again later.
    """

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.String(64), index=True)
    file_name: Mapped[str] = mapped_column(sa.String(255))
    file_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    file_format: Mapped[str] = mapped_column(sa.String(8))
    sheet_name: Mapped[str | None] = mapped_column(sa.String(64))
    row_count: Mapped[int] = mapped_column(sa.Integer)
    first_key: Mapped[str | None] = mapped_column(sa.String(255))
    last_key: Mapped[str | None] = mapped_column(sa.String(255))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    actor_name: Mapped[str | None] = mapped_column(sa.String(64))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default(), index=True
    )

    def __repr__(self) -> str:
        return f"<ImportBatch {self.id} {self.table_name} {self.row_count} rows>"
