"""The researcher's seed table, kept under its historic name `testDB`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utc_now_default, utcnow


class TestDB(db.Model):
    """One transcribed value: a key, a number and a date."""

    __tablename__ = "testDB"  # existing `SELECT * FROM testDB` scripts rely on this exact name
    __test__ = False  # not a pytest test class, despite the name

    string_column: Mapped[str] = mapped_column(sa.String(140), primary_key=True)
    integer_column: Mapped[int | None] = mapped_column(sa.Integer)
    date_column: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default()
    )

    def __repr__(self) -> str:
        return f"<TestDB {self.string_column!r}>"
