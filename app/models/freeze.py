"""Data freezes: immutable, checksummed versions of the entry tables, and the jobs that make them.

A `Freeze` row is written once, when its archive is complete and stored; the portal never
changes or deletes it (the ORM refuses to). The `FreezeJob` beside it is the mutable part: the
progress of a freeze being made, which any worker process can show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.entry import LongText
from app.models.types import UTCDateTime, utc_now_default, utcnow

FREEZE_ROWS = ("approved", "all")
JOB_STATES = ("running", "done", "failed")


class Freeze(db.Model):
    """One frozen version of the data: its archive in the document storage and its manifest."""

    __tablename__ = "freezes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    rows: Mapped[str] = mapped_column(sa.String(16))  # approved | all
    note: Mapped[str | None] = mapped_column(sa.Text)
    storage_key: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))  # of the archive as stored
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))
    manifest: Mapped[str] = mapped_column(LongText)  # manifest.json, as in the archive
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    schema_revision: Mapped[str | None] = mapped_column(sa.String(64))
    creator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    creator_name: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default(), index=True
    )

    def __repr__(self) -> str:
        return f"<Freeze {self.name} {self.row_count} rows>"


class FreezeJob(db.Model):
    """A freeze being made (or that failed): progress, shown by whichever process serves."""

    __tablename__ = "freeze_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    rows: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16), default="running")
    rows_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rows_total: Mapped[int | None] = mapped_column(sa.BigInteger)
    message: Mapped[str | None] = mapped_column(sa.Text)
    creator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    creator_name: Mapped[str] = mapped_column(sa.String(100))
    started_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default()
    )

    def __repr__(self) -> str:
        return f"<FreezeJob {self.name} {self.state}>"


class FrozenRowChanged(RuntimeError):
    """Something tried to change or delete a freeze; freezes are immutable."""


@sa.event.listens_for(Freeze, "before_update")
@sa.event.listens_for(Freeze, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, target: Freeze) -> None:
    raise FrozenRowChanged(f"freeze {target.name!r} is immutable: it is never changed or deleted")
