"""The researcher's seed table, kept under its historic name `testDB`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.entry import EntryMixin, key_string
from app.models.types import UTCDateTime, utc_now_default, utcnow


class TestDB(EntryMixin, db.Model):
    """One transcribed value: a key, a number and a date."""

    __tablename__ = "testDB"  # existing `SELECT * FROM testDB` scripts rely on this exact name
    __test__ = False  # not a pytest test class, despite the name
    __entry_label__ = "Test values"
    __entry_description__ = "The seed table: one key, a whole number and a date per row."
    __entry_multi_row__ = True

    string_column: Mapped[str] = mapped_column(
        key_string(140),
        primary_key=True,
        info={
            "label": "Key",
            "help": "A unique text key, up to 140 characters.",
            "placeholder": "e.g. REG-1902-017",
            "duplicate_key": True,
        },
    )
    integer_column: Mapped[int | None] = mapped_column(
        sa.Integer, info={"label": "Number", "help": "A whole number."}
    )
    date_column: Mapped[datetime | None] = mapped_column(
        UTCDateTime,
        default=utcnow,
        server_default=utc_now_default(),
        info={
            "label": "Date and time",
            "help": "As written on the document; left empty, the time of saving is used.",
        },
    )

    def __repr__(self) -> str:
        return f"<TestDB {self.string_column!r}>"
