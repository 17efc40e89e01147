"""What every entry table shares: provenance columns, drafts and one-time form tokens."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, MappedColumn, declared_attr, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utc_now_default, utcnow

ROW_STATUSES = ("entered", "submitted", "returned", "approved")
# Text that may be long (notes, whole paragraphs): MySQL's plain TEXT stops at 64 KiB.
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def key_string(length: int) -> sa.types.TypeEngine[str]:
    """A String key column compared exactly on every backend: MySQL's default collation would
    call 'Abc', 'abc ' and 'ábc' one key where SQLite and PostgreSQL see three."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def list_page_indexes(cls: type) -> tuple[sa.Index, ...]:
    """Every filter a list page uses, followed by the key it sorts by: the index hands rows
    over in order, so a page at a million rows costs what it costs at ten thousand (SQLite's
    indexes end with the rowid, not the key, so the key is named here)."""
    key = next(
        (
            name
            for name, attr in vars(cls).items()
            if isinstance(attr, MappedColumn) and attr.column.primary_key
        ),
        None,
    )
    if key is None:
        raise TypeError(
            f"entry table {cls.__name__}: declare its primary key in the model's "
            "own body, with mapped_column(..., primary_key=True)"
        )
    name = cls.__tablename__  # type: ignore[attr-defined]
    return (
        sa.Index(f"ix_{name}_status_key", "status", key),
        sa.Index(f"ix_{name}_entered_by_key", "entered_by_id", key),
        sa.Index(f"ix_{name}_document_key", "document_id", key),
        sa.Index(f"ix_{name}_entered_by_updated", "entered_by_id", "updated_at"),
        # The panel beside a document: a clerk's rows of it, newest first, and their count,
        # read from the index alone, however many rows the document has.
        sa.Index(
            f"ix_{name}_document_clerk_created", "document_id", "entered_by_id", "created_at", key
        ),
    )


def merge_table_args(cls: type, own: object) -> tuple[Any, ...]:
    """The list-page indexes followed by a model's own `__table_args__` (a tuple of schema
    items, optionally ending with a dict of table options, or a dict alone; or a declared_attr
    returning one of those)."""
    if isinstance(own, declared_attr):
        own = own.fget(cls)
    if isinstance(own, dict):
        return (*list_page_indexes(cls), own)
    if not isinstance(own, tuple):
        raise TypeError(
            f"entry table {cls.__name__}: __table_args__ must be a tuple (indexes, constraints, "
            f"optionally a dict of table options last) or a dict, not {type(own).__name__}; "
            "EntryMixin adds its list-page indexes to it"
        )
    indexes = list_page_indexes(cls)
    taken = {index.name for index in indexes}
    clash = [item.name for item in own if isinstance(item, sa.Index) and item.name in taken]
    if clash:
        raise TypeError(
            f"entry table {cls.__name__}: index name(s) {', '.join(clash)} are "
            "EntryMixin's own list-page indexes; name yours otherwise"
        )
    return (*indexes, *own)


class EntryMixin:
    """Provenance columns for an entry table. All nullable or defaulted, so rows inserted by
    the researcher's own SQL stay valid. Subclassing this registers the model as an entry table."""

    __entry_label__: str | None = None
    __entry_description__: str | None = None
    __entry_multi_row__: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A model's own __table_args__ would hide the mixin's directive below, and with it the
        # list-page indexes: merge the two instead (the model's items after the mixin's).
        own = cls.__dict__.get("__table_args__")
        if own is not None:
            # Evaluated when the model is mapped, as the mixin's own directive is.
            cls.__table_args__ = declared_attr.directive(  # type: ignore[assignment]
                functools.partial(merge_table_args, own=own)
            )
        super().__init_subclass__(**kwargs)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return list_page_indexes(cls)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:
        # UPDATE ... WHERE version = <loaded version>: a concurrent save is detected, not lost.
        return {"version_id_col": cls.version}

    @declared_attr
    def document_id(cls) -> Mapped[int | None]:
        return mapped_column(sa.ForeignKey("documents.id"), info={"provenance": True})

    # active_history on the clerk and the status: a change knows the value it replaces, so the
    # dashboard's tallies (app/services/tallies.py) move the row's count from old to new.
    @declared_attr
    def entered_by_id(cls) -> Mapped[int | None]:
        return mapped_column(
            sa.ForeignKey("users.id"), info={"provenance": True}, active_history=True
        )

    @declared_attr
    def status(cls) -> Mapped[str]:
        return mapped_column(
            sa.String(16),
            default="entered",
            server_default="entered",
            info={"provenance": True},
            active_history=True,
        )

    @declared_attr
    def version(cls) -> Mapped[int]:
        return mapped_column(sa.Integer, default=1, server_default="1", info={"provenance": True})

    @declared_attr
    def created_at(cls) -> Mapped[datetime | None]:
        return mapped_column(
            UTCDateTime,
            default=utcnow,
            server_default=utc_now_default(),
            index=True,
            info={"provenance": True},
        )

    @declared_attr
    def updated_at(cls) -> Mapped[datetime | None]:
        return mapped_column(
            UTCDateTime,
            default=utcnow,
            onupdate=utcnow,
            server_default=utc_now_default(),
            index=True,
            info={"provenance": True},
        )


class Draft(db.Model):
    """The unsaved state of one form for one user, restored when they come back."""

    __tablename__ = "drafts"
    __table_args__ = (sa.UniqueConstraint("user_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # "<table>|<document id or ->|<row key or new>": one draft per form
    scope: Mapped[str] = mapped_column(sa.String(400))
    table_name: Mapped[str] = mapped_column(sa.String(64))
    document_id: Mapped[int | None] = mapped_column(sa.Integer)
    data: Mapped[str] = mapped_column(LongText)  # JSON object of field -> typed text
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
