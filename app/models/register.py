"""An example entry table: the people named in a scanned register, several rows per document.

It uses every column type the form converter supports; copy it as the pattern for a new table
(write the model, import it in app/models/__init__.py, `flask db migrate`, `flask db upgrade`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.entry import EntryMixin, LongText

SEXES = ("female", "male", "unknown")


class RegisterPerson(EntryMixin, db.Model):
    """A person listed on a page of a parish or civil register."""

    __tablename__ = "register_person"
    __entry_label__ = "Register: people"
    __entry_description__ = "Every person named on a register page, one row each."

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(
        sa.String(200),
        info={
            "label": "Full name",
            "help": "As spelled on the page.",
            "placeholder": "Surname, given names",
            "duplicate_key": True,
        },
    )
    sex: Mapped[str | None] = mapped_column(
        sa.Enum(
            *SEXES,
            name="register_person_sex",
            native_enum=False,
            create_constraint=True,
            validate_strings=True,
        ),
        info={"label": "Sex", "required_before_submit": True},
    )
    age: Mapped[int | None] = mapped_column(
        sa.Integer,
        info={
            "label": "Age (years)",
            "min": 0,
            "max": 130,
            "expected_min": 0,
            "expected_max": 100,
            "help": "Ages over 100 are possible but are flagged for review.",
        },
    )
    birth_date: Mapped[dt.date | None] = mapped_column(
        sa.Date, info={"label": "Date of birth", "duplicate_key": True, "format": "DD/MM/YYYY"}
    )  # as the registers write it
    recorded_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime, info={"label": "Recorded at", "help": "Date and time of the entry."}
    )
    height_m: Mapped[float | None] = mapped_column(
        sa.Float,
        info={
            "label": "Height (m)",
            "min": 0.3,
            "max": 2.6,
            "expected_min": 1.2,
            "expected_max": 2.1,
        },
    )
    fee_paid: Mapped[Decimal | None] = mapped_column(
        sa.Numeric(8, 2),
        info={"label": "Fee paid", "min": 0, "help": "In the register's currency, two decimals."},
    )
    literate: Mapped[bool | None] = mapped_column(sa.Boolean, info={"label": "Signed own name"})
    parish: Mapped[str | None] = mapped_column(
        sa.String(80),
        info={
            "label": "Parish",
            "pattern": r"[A-Za-zÀ-ÿ' .-]+",
            "pattern_message": "Letters, spaces, apostrophes, dots and dashes.",
        },
    )
    notes: Mapped[str | None] = mapped_column(LongText, info={"label": "Notes"})
