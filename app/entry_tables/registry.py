"""The registry of entry tables: every model that subclasses EntryMixin."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import sqlalchemy as sa

from app.extensions import Base
from app.models.entry import EntryMixin


@dataclass(frozen=True)
class EntryTable:
    """One entry table as the portal sees it: its model and the columns a clerk types."""

    model: type[Any]
    name: str
    label: str
    description: str
    multi_row: bool

    @cached_property
    def table(self) -> sa.Table:
        table: sa.Table = self.model.__table__
        return table

    @cached_property
    def key_column(self) -> sa.Column[Any]:
        (column,) = self.table.primary_key.columns
        return column

    @cached_property
    def key_is_generated(self) -> bool:
        """An integer surrogate key the database assigns (not typed by the clerk)."""
        column = self.key_column
        return isinstance(column.type, sa.Integer) and column.autoincrement in (True, "auto")

    @cached_property
    def data_columns(self) -> list[sa.Column[Any]]:
        """The columns a clerk types, in table order (the key first when typed)."""
        return [
            c
            for c in self.table.columns
            if not c.info.get("provenance") and not (c.primary_key and self.key_is_generated)
        ]

    @cached_property
    def provenance_columns(self) -> list[sa.Column[Any]]:
        return [c for c in self.table.columns if c.info.get("provenance")]

    def key_of(self, row: object) -> str:
        return str(getattr(row, self.key_column.key))


def entry_tables() -> list[EntryTable]:
    """Every registered entry table, by table name."""
    return list(_entry_tables(len(Base.registry.mappers)))


@lru_cache(maxsize=4)
def _entry_tables(_mapper_count: int) -> tuple[EntryTable, ...]:
    tables = []
    for mapper in Base.registry.mappers:
        model: Any = mapper.class_
        if not issubclass(model, EntryMixin):
            continue
        if len(model.__table__.primary_key.columns) != 1:
            raise TypeError(f"entry table {model.__tablename__} needs a one-column primary key")
        tables.append(
            EntryTable(
                model=model,
                name=model.__tablename__,
                label=model.__entry_label__ or model.__tablename__,
                description=model.__entry_description__ or "",
                multi_row=model.__entry_multi_row__,
            )
        )
    return tuple(sorted(tables, key=lambda t: t.name.lower()))


def get_entry_table(name: str) -> EntryTable | None:
    return next((t for t in entry_tables() if t.name == name), None)
