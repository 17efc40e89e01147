"""Adding an entry table is safe: the mixin keeps its indexes beside the model's own table
arguments, the converter refuses a column type it cannot hold (naming model, column and type)
and takes Time as a time of day, and `flask db migrate` writes a numbered revision whose tables
get the MySQL table options."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import migrate, upgrade
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.datastructures import MultiDict

from app import create_app
from app.entry_tables.display import from_snapshot, show
from app.entry_tables.forms import (
    EntryFormBase,
    UnsupportedColumnType,
    entry_form_class,
    field_for_column,
)
from app.entry_tables.registry import EntryTable
from app.extensions import db
from app.models.entry import EntryMixin
from app.revisions import MYSQL_TABLE_OPTIONS, next_revision_id
from app.services.codebook import table_fields
from config import PROJECT_ROOT

MIXIN_INDEXES = {
    "ix_{}_status_key",
    "ix_{}_entered_by_key",
    "ix_{}_document_key",
    "ix_{}_entered_by_updated",
}


@pytest.fixture
def Scratch() -> type[DeclarativeBase]:
    """A registry of its own per test: these models never join the portal's entry tables."""

    class Scratch(DeclarativeBase):
        pass

    return Scratch


def index_names(model: type) -> set[str]:
    return {index.name for index in model.__table__.indexes}


def entry_table(model: type) -> EntryTable:
    return EntryTable(
        model=model, name=model.__tablename__, label=model.__name__, description="", multi_row=True
    )


# --- the mixin's table arguments ---------------------------------------------------------------


def test_a_model_with_its_own_table_args_keeps_the_mixin_indexes(Scratch):
    class Ledger(EntryMixin, Scratch):
        __tablename__ = "ledger"
        __table_args__ = (
            sa.Index("ix_ledger_folio", "folio"),
            sa.UniqueConstraint("folio"),
            {"comment": "A ledger page per row"},
        )
        id: Mapped[int] = mapped_column(primary_key=True)
        folio: Mapped[str] = mapped_column(sa.String(20))

    names = index_names(Ledger)
    assert {name.format("ledger") for name in MIXIN_INDEXES} | {"ix_ledger_folio"} <= names
    assert Ledger.__table__.comment == "A ledger page per row"
    assert any(isinstance(c, sa.UniqueConstraint) for c in Ledger.__table__.constraints)


def test_table_options_alone_are_merged_too(Scratch):
    class Census(EntryMixin, Scratch):
        __tablename__ = "census"
        __table_args__ = {"comment": "options only"}  # noqa: RUF012
        id: Mapped[int] = mapped_column(primary_key=True)

    assert {name.format("census") for name in MIXIN_INDEXES} <= index_names(Census)
    assert Census.__table__.comment == "options only"


def test_a_model_without_table_args_gets_the_mixin_indexes(Scratch):
    class Plain(EntryMixin, Scratch):
        __tablename__ = "plain"
        id: Mapped[int] = mapped_column(primary_key=True)

    assert {name.format("plain") for name in MIXIN_INDEXES} <= index_names(Plain)


def test_table_args_the_mixin_cannot_merge_are_refused_loudly(Scratch):
    with pytest.raises(TypeError, match=r"must be a tuple .* or a dict, not list"):

        class Listed(EntryMixin, Scratch):
            __tablename__ = "listed"
            __table_args__ = [sa.Index("ix_listed_x", "id")]  # noqa: RUF012
            id: Mapped[int] = mapped_column(primary_key=True)

    with pytest.raises(TypeError, match="ix_clash_status_key are EntryMixin's own"):

        class Clash(EntryMixin, Scratch):
            __tablename__ = "clash"
            __table_args__ = (sa.Index("ix_clash_status_key", "id"),)
            id: Mapped[int] = mapped_column(primary_key=True)


# --- the converter ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column_type", "held"),
    [
        (sa.Interval(), "Interval() (timedelta)"),
        (sa.JSON(), "JSON()"),
        (sa.LargeBinary(), "LargeBinary() (bytes)"),
        (sa.Uuid(), "Uuid() (UUID)"),
    ],
)
def test_a_column_type_no_form_can_hold_is_refused_by_name(Scratch, column_type, held):
    class Odd(EntryMixin, Scratch):
        __tablename__ = f"odd_{type(column_type).__name__.lower()}"
        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str | None] = mapped_column(sa.String(20))
        strange = mapped_column(column_type)

    with pytest.raises(UnsupportedColumnType) as refused:
        entry_form_class(entry_table(Odd))
    message = str(refused.value)
    assert f"model Odd, table {Odd.__tablename__}" in message
    assert "column 'strange'" in message and held in message
    assert "Supported: String" in message


def test_the_portal_refuses_to_start_with_such_a_table(Scratch, monkeypatch, tmp_path):
    class Spans(EntryMixin, Scratch):
        __tablename__ = "spans"
        id: Mapped[int] = mapped_column(primary_key=True)
        span = mapped_column(sa.Interval())

    monkeypatch.setattr("app.entry_tables.forms.entry_tables", lambda: [entry_table(Spans)])
    with pytest.raises(UnsupportedColumnType, match="model Spans, table spans"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


BARE = Flask(__name__)  # a request context for the forms; no database needed


def time_column(**info) -> sa.Column:
    column = sa.Column("opened_at", sa.Time, info=info)
    sa.Table("shop_hours", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), column)
    return column


def time_field(column: sa.Column, text: str):
    form_class = type("TimeForm", (EntryFormBase,), {"opened_at": field_for_column(column)})
    form = form_class(formdata=MultiDict({"opened_at": text}), meta={"csrf": False})
    form.validate()
    return form.opened_at


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("14:05", dt.time(14, 5)),
        (" 07:30 ", dt.time(7, 30)),
        ("23:59:58", dt.time(23, 59, 58)),
        ("00:00:01.25", dt.time(0, 0, 1, 250000)),
        ("", None),
    ],
)
def test_a_time_column_is_a_time_of_day_field(text, value):
    with BARE.test_request_context():
        field = time_field(time_column(label="Opens"), text)
        assert field.errors == []
        assert field.data == value
        html = str(field)
    assert 'type="text"' in html and 'placeholder="HH:MM"' in html and "<textarea" not in html
    assert "Type it as HH:MM (24-hour)" in field.description


@pytest.mark.parametrize("text", ["25:00", "14:60", "2pm", "14h05", "1405", "2024-01-01 14:05"])
def test_a_time_that_is_no_time_of_day_gets_a_message(text):
    with BARE.test_request_context():
        field = time_field(time_column(), text)
    assert field.data is None
    assert any("HH:MM" in error or "not a time of day" in error for error in field.errors)


def test_a_time_is_shown_read_back_and_described_as_one(Scratch):
    column = time_column()
    assert show(dt.time(14, 5), column) == "14:05"
    assert show(dt.time(14, 5, 6), column) == "14:05:06"
    assert from_snapshot("14:05:06", column) == dt.time(14, 5, 6)  # the audit trail's JSON

    class Hours(EntryMixin, Scratch):
        __tablename__ = "hours"
        id: Mapped[int] = mapped_column(primary_key=True)
        opens: Mapped[dt.time | None] = mapped_column(sa.Time)

    (field,) = [f for f in table_fields(entry_table(Hours)) if f.column == "opens"]
    assert field.type.startswith("time of day (HH:MM, 24-hour)")


# --- generated revisions ---------------------------------------------------------------------


def test_revision_ids_follow_the_committed_numbering():
    assert next_revision_id(["0001", "0008", "0003"]) == "0009"
    assert next_revision_id(["0099", "ab12cd34ef56"]) == "0100"
    assert next_revision_id([]) == "0001"


def test_flask_db_migrate_writes_a_numbered_revision_with_the_mysql_options(tmp_path):
    """The whole path a developer takes: a new table in the metadata, `flask db migrate`."""
    folder = tmp_path / "migrations"
    shutil.copytree(PROJECT_ROOT / "migrations", folder)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
            "DOCUMENT_STORAGE": str(tmp_path / "documents"),
        }
    )
    table = sa.Table(
        "parish_events",
        db.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("what", sa.String(80)),
    )
    try:
        with app.app_context():
            upgrade(directory=str(folder))
            migrate(directory=str(folder), message="parish events")
            db.engine.dispose()
    finally:
        db.metadata.remove(table)
    heads = sorted(Path(folder / "versions").glob("*.py"))
    newest = heads[-1]
    committed = sorted(p.name for p in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"))
    number = f"{int(committed[-1][:4]) + 1:04d}"
    assert newest.name == f"{number}_parish_events.py"
    text = newest.read_text()
    assert f"revision = '{number}'" in text
    assert f"down_revision = '{committed[-1][:4]}'" in text
    assert "op.create_table('parish_events'" in text
    for key, value in MYSQL_TABLE_OPTIONS.items():
        assert f"{key}='{value}'" in text
