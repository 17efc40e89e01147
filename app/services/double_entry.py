"""Blind double entry: each clerk's rows kept apart, compared field by field, reconciled.

Matching rows between the two entries: a table whose key the clerks type (testDB's
string_column) matches rows by that key; a table with a generated key (register_person)
matches them by position, the first row of one clerk with the first of the other, and so on.
A row only one clerk entered is a difference of its own ("whole row"), kept or dropped by the
reviewer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from app.entry_tables import display
from app.entry_tables.forms import entry_form_class, form_values
from app.entry_tables.registry import EntryTable, entry_tables
from app.extensions import db
from app.models.document import Document
from app.models.quality import Comparison, Discrepancy, DoubleEntryRow
from app.models.types import utcnow
from app.models.user import User
from app.services import audit
from app.services.drafts import discard_draft, draft_scope
from app.services.errors import Conflict, Invalid, NotFound

WHOLE_ROW = "__row__"


def as_text(value: Any) -> str:
    """A stored JSON value as the text a form field would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# --- one clerk's entry ------------------------------------------------------------------------


def own_rows(document_id: int, clerk_id: int, table_name: str) -> list[DoubleEntryRow]:
    query = (
        sa.select(DoubleEntryRow)
        .where(
            DoubleEntryRow.document_id == document_id,
            DoubleEntryRow.clerk_id == clerk_id,
            DoubleEntryRow.table_name == table_name,
        )
        .order_by(DoubleEntryRow.position)
    )
    return list(db.session.scalars(query))


def get_own_row(row_id: int, document_id: int, clerk: User) -> DoubleEntryRow:
    row = db.session.get(DoubleEntryRow, row_id)
    if row is None or row.document_id != document_id or row.clerk_id != clerk.id:
        raise NotFound("No such row.")  # the other clerk's rows do not exist for this one
    return row


def save_row(
    table: EntryTable,
    document: Document,
    clerk: User,
    values: dict[str, Any],
    row: DoubleEntryRow | None = None,
) -> DoubleEntryRow:
    """Create or change one of the clerk's own rows; keys unique within their own entry."""
    data = {c.key: audit.to_jsonable(values.get(c.key)) for c in table.data_columns}
    if not table.key_is_generated:
        key = data.get(table.key_column.key)
        clash = [
            r
            for r in own_rows(document.id, clerk.id, table.name)
            if json.loads(r.data).get(table.key_column.key) == key and r is not row
        ]
        if clash:
            raise Invalid("You entered a row with this key already.", field=table.key_column.key)
    if row is None:
        position = 1 + max(
            (r.position for r in own_rows(document.id, clerk.id, table.name)), default=0
        )
        row = DoubleEntryRow(
            document_id=document.id, clerk_id=clerk.id, table_name=table.name, position=position
        )
        db.session.add(row)
    else:
        row.version += 1
    row.data = json.dumps(data, ensure_ascii=False)
    discard_draft(clerk.id, draft_scope(table.name, document.id, None))
    audit.record(
        "create" if row.id is None else "update",
        f"double:{table.name}",
        f"{document.id}/{clerk.id}/{row.position}",
        actor=clerk,
        document_id=document.id,
        after=data,
    )
    db.session.commit()
    return row


def delete_row(row: DoubleEntryRow, clerk: User, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Say why this row is deleted.", field="reason")
    audit.record(
        "delete",
        f"double:{row.table_name}",
        f"{row.document_id}/{clerk.id}/{row.position}",
        actor=clerk,
        document_id=row.document_id,
        before=json.loads(row.data),
        reason=reason,
    )
    db.session.delete(row)
    db.session.commit()


# --- comparing --------------------------------------------------------------------------------


@dataclass
class RowPair:
    match_key: str
    a: dict[str, Any] | None
    b: dict[str, Any] | None


@dataclass
class TableComparison:
    table: EntryTable
    pairs: list[RowPair] = field(default_factory=list)


def pair_rows(
    table: EntryTable, rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]
) -> list[RowPair]:
    """Match two clerks' rows: by typed key, or by position when the key is generated."""
    if table.key_is_generated:
        count = max(len(rows_a), len(rows_b))
        return [
            RowPair(
                f"row:{i + 1}",
                rows_a[i] if i < len(rows_a) else None,
                rows_b[i] if i < len(rows_b) else None,
            )
            for i in range(count)
        ]
    name = table.key_column.key
    by_a = {r.get(name): r for r in rows_a}
    by_b = {r.get(name): r for r in rows_b}
    keys = list(dict.fromkeys([*by_a, *by_b]))
    return [RowPair(f"key:{k}", by_a.get(k), by_b.get(k)) for k in keys]


def compare(document: Document) -> Comparison:
    """Record every difference between the two clerks' entries (both have submitted)."""
    clerks = sorted(a.clerk_id for a in document.assignments)[:2]
    if len(clerks) < 2:
        raise Conflict("A double-entry document needs two clerks' entries to compare.")
    existing = db.session.get(Comparison, document.id)
    if existing is not None:
        return existing
    comparison = Comparison(
        document_id=document.id, clerk_a_id=clerks[0], clerk_b_id=clerks[1], created_at=utcnow()
    )
    db.session.add(comparison)
    compared = differences = 0
    for table in entry_tables():
        rows_a = [json.loads(r.data) for r in own_rows(document.id, clerks[0], table.name)]
        rows_b = [json.loads(r.data) for r in own_rows(document.id, clerks[1], table.name)]
        for pair in pair_rows(table, rows_a, rows_b):
            if pair.a is None or pair.b is None:
                compared += 1
                differences += 1
                db.session.add(
                    _discrepancy(
                        document,
                        table,
                        pair.match_key,
                        WHOLE_ROW,
                        "present" if pair.a else None,
                        "present" if pair.b else None,
                    )
                )
                continue
            for column in table.data_columns:
                compared += 1
                if pair.a.get(column.key) != pair.b.get(column.key):
                    differences += 1
                    db.session.add(
                        _discrepancy(
                            document,
                            table,
                            pair.match_key,
                            column.key,
                            as_text(pair.a.get(column.key)),
                            as_text(pair.b.get(column.key)),
                        )
                    )
    comparison.fields_compared, comparison.differences = compared, differences
    return comparison


def _discrepancy(
    document: Document,
    table: EntryTable,
    match_key: str,
    field_name: str,
    value_a: str | None,
    value_b: str | None,
) -> Discrepancy:
    return Discrepancy(
        document_id=document.id,
        table_name=table.name,
        match_key=match_key[:255],
        field=field_name,
        value_a=value_a,
        value_b=value_b,
        resolved=False,
    )


def comparison_view(
    document: Document,
) -> tuple[Comparison | None, list[TableComparison], dict[tuple[str, str, str], Discrepancy]]:
    """What the comparison page shows: rows side by side and the open differences."""
    comparison = db.session.get(Comparison, document.id)
    if comparison is None:
        return None, [], {}
    tables = []
    for table in entry_tables():
        rows_a = [
            json.loads(r.data) for r in own_rows(document.id, comparison.clerk_a_id, table.name)
        ]
        rows_b = [
            json.loads(r.data) for r in own_rows(document.id, comparison.clerk_b_id, table.name)
        ]
        tables.append(TableComparison(table, pair_rows(table, rows_a, rows_b)))
    found = db.session.scalars(sa.select(Discrepancy).where(Discrepancy.document_id == document.id))
    return comparison, tables, {(d.table_name, d.match_key, d.field): d for d in found}


# --- reconciling ------------------------------------------------------------------------------


def resolve(document: Document, actor: User, choices: dict[int, tuple[str, str]]) -> int:
    """Apply the reviewer's choice for every difference ("a", "b" or "other" + text), validate
    the resulting rows like entry forms do, and write them to the entry tables. Returns rows."""
    comparison, tables, found = comparison_view(document)
    if comparison is None:
        raise Conflict("Both clerks have to submit before the entries can be compared.")
    if comparison.resolved_at is not None:
        raise Conflict("This document's differences were resolved already.")
    decided = _decisions(found, choices)
    final_rows, errors = _final_rows(tables, found, decided)
    if errors:
        raise InvalidChoices(errors)
    made = 0
    for table, values in final_rows:
        row = table.model(
            **values,
            document_id=document.id,
            entered_by_id=comparison.clerk_a_id,
            status="submitted",
        )
        db.session.add(row)
        db.session.flush()
        audit.record(
            "create",
            table.name,
            table.key_of(row),
            actor=actor,
            document_id=document.id,
            after=audit.snapshot(row, list(table.table.columns)),
            reason="reconciled double entry",
        )
        made += 1
    for discrepancy in found.values():
        choice, text = decided[discrepancy.id]
        discrepancy.resolved, discrepancy.resolved_by_id = True, actor.id
        discrepancy.resolved_at = utcnow()
        discrepancy.resolved_value = {"a": discrepancy.value_a, "b": discrepancy.value_b}.get(
            choice, text
        )
        audit.record(
            "resolve",
            discrepancy.table_name,
            discrepancy.match_key,
            actor=actor,
            document_id=document.id,
            before={"a": discrepancy.value_a, "b": discrepancy.value_b},
            after={discrepancy.field: discrepancy.resolved_value},
            reason=choice,
        )
    comparison.resolved_at, comparison.resolved_by_id = utcnow(), actor.id
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            "A reconciled row's key exists already in the table (entered under "
            "another document?); nothing was written."
        ) from None
    return made


class InvalidChoices(Invalid):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Some chosen values are not valid; nothing was written.")
        self.errors = errors  # discrepancy id (as text) or "table|match_key" -> message


def _decisions(
    found: dict[Any, Discrepancy], choices: dict[int, tuple[str, str]]
) -> dict[int, tuple[str, str]]:
    decided, missing = {}, []
    for discrepancy in found.values():
        choice, text = choices.get(discrepancy.id, ("", ""))
        if choice not in {"a", "b", "other"} or (
            choice == "other" and discrepancy.field == WHOLE_ROW
        ):
            missing.append(discrepancy)
            continue
        decided[discrepancy.id] = (choice, text)
    if missing:
        raise InvalidChoices({str(d.id): "Choose a value." for d in missing})
    return decided


def _final_rows(
    tables: list[TableComparison],
    found: dict[Any, Discrepancy],
    decided: dict[int, tuple[str, str]],
) -> tuple[list[tuple[EntryTable, dict[str, Any]]], dict[str, str]]:
    rows: list[tuple[EntryTable, dict[str, Any]]] = []
    errors: dict[str, str] = {}
    for comparison in tables:
        table = comparison.table
        for pair in comparison.pairs:
            whole = found.get((table.name, pair.match_key, WHOLE_ROW))
            if whole is not None:
                side = decided[whole.id][0]
                base = pair.a if side == "a" else pair.b
                if base is None:
                    continue  # the reviewer dropped a row only one clerk saw
            else:
                base = pair.a
            if base is None:
                continue  # never: a pair without a whole-row difference has both rows
            texts = {c.key: as_text(base.get(c.key)) for c in table.data_columns}
            for column in table.data_columns:
                d = found.get((table.name, pair.match_key, column.key))
                if d is not None:
                    choice, text = decided[d.id]
                    texts[column.key] = {"a": d.value_a, "b": d.value_b}.get(choice, text) or ""
            values, problems = validate_texts(table, texts)
            for field_name, message in problems.items():
                d = found.get((table.name, pair.match_key, field_name))
                named = table.table.columns.get(field_name)
                errors[str(d.id) if d else f"{table.name}|{pair.match_key}"] = (
                    f"{display.label(named) if named is not None else field_name}: {message}"
                )
            if not problems:
                rows.append((table, values))
    return rows, errors


def validate_texts(
    table: EntryTable, texts: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse and validate one row's texts with the entry form; (values, field -> message)."""
    form = entry_form_class(table)(formdata=MultiDict(texts), meta={"csrf": False})
    if not form.validate():
        return {}, {name: "; ".join(msgs) for name, msgs in form.errors.items()}
    return form_values(table, form, creating=True), {}


def entry_for_submit(
    document_id: int, clerk_id: int
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """A clerk's double-entry rows by table, for the before-submit checks."""
    result: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for table in entry_tables():
        result[table.name] = [
            (f"#{r.position}", json.loads(r.data))
            for r in own_rows(document_id, clerk_id, table.name)
        ]
    return result
