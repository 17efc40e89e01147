"""Soft rules from column metadata, the flags they raise, and probable duplicates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.entry_tables import display
from app.entry_tables.registry import EntryTable, entry_tables
from app.extensions import db
from app.models.quality import QualityFlag
from app.models.types import utcnow
from app.models.user import User
from app.services.errors import NotFound


@dataclass(frozen=True)
class SoftWarning:
    field: str
    kind: str
    message: str


def soft_warnings(table: EntryTable, values: dict[str, Any]) -> list[SoftWarning]:
    """What the soft rules (expected_min / expected_max / expected_pattern) question."""
    warnings = []
    for column in table.data_columns:
        info, value = column.info, values.get(column.key)
        if value is None or value == "":
            continue
        label = display.label(column)
        low, high = info.get("expected_min"), info.get("expected_max")
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            if low is not None and value < low:
                warnings.append(
                    SoftWarning(
                        column.key,
                        "expected_range",
                        f"{label} {value} is below the expected minimum {low}.",
                    )
                )
            if high is not None and value > high:
                warnings.append(
                    SoftWarning(
                        column.key,
                        "expected_range",
                        f"{label} {value} is above the expected maximum {high}.",
                    )
                )
        pattern = info.get("expected_pattern")
        if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
            warnings.append(
                SoftWarning(
                    column.key,
                    "pattern",
                    info.get("expected_pattern_message", f"{label} does not look as expected."),
                )
            )
    return warnings


def raise_flags(
    table_name: str,
    row_key: str | None,
    document_id: int | None,
    warnings: list[SoftWarning],
    actor: User,
) -> None:
    """Add open flags for confirmed warnings to the current transaction."""
    for warning in warnings:
        db.session.add(
            QualityFlag(
                table_name=table_name,
                row_key=row_key,
                document_id=document_id,
                field=warning.field,
                kind=warning.kind,
                message=warning.message[:500],
                status="open",
                raised_by_id=actor.id,
                raised_at=utcnow(),
            )
        )


def missing_before_submit(
    document_id: int, clerk: User, values_by_table: dict[str, list[tuple[str, dict[str, Any]]]]
) -> list[tuple[str, str | None, SoftWarning]]:
    """Fields marked required_before_submit left empty in the clerk's rows of a document."""
    missing: list[tuple[str, str | None, SoftWarning]] = []
    for table in entry_tables():
        required = [c for c in table.data_columns if c.info.get("required_before_submit")]
        for key, values in values_by_table.get(table.name, []):
            for column in required:
                if values.get(column.key) in (None, ""):
                    label = display.label(column)
                    missing.append(
                        (
                            table.name,
                            key,
                            SoftWarning(
                                column.key,
                                "missing_before_submit",
                                f"{table.label} row {key}: {label} is empty.",
                            ),
                        )
                    )
    return missing


def clear_flag(flag_id: int, actor: User) -> QualityFlag:
    flag = db.session.get(QualityFlag, flag_id)
    if flag is None:
        raise NotFound("No such flag.")
    if flag.status == "open":
        flag.status, flag.cleared_by_id, flag.cleared_at = "cleared", actor.id, utcnow()
        db.session.commit()
    return flag


def open_flags(limit: int = 200) -> list[QualityFlag]:
    query = (
        sa.select(QualityFlag)
        .where(QualityFlag.status == "open")
        .order_by(QualityFlag.raised_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


@dataclass
class Duplicate:
    table: EntryTable
    values: tuple[Any, ...]
    documents: int
    rows: int


def probable_duplicates(limit: int = 100) -> list[Duplicate]:
    """The same key values (ignoring case) under different documents; one query per table."""
    found = []
    for table in entry_tables():
        columns = [c for c in table.table.columns if c.info.get("duplicate_key")]
        if not columns:
            continue
        keys = [sa.func.lower(c) if isinstance(c.type, sa.String) else c for c in columns]
        query = (
            sa.select(*keys, sa.func.count(sa.distinct(table.model.document_id)), sa.func.count())
            .where(table.model.document_id.is_not(None))
            .group_by(*keys)
            .having(sa.func.count(sa.distinct(table.model.document_id)) > 1)
            .limit(limit)
        )
        for *values, documents, rows in db.session.execute(query):
            found.append(Duplicate(table, tuple(values), documents, rows))
    return found
