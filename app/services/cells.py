"""One field of one entry row, as a reviewer or a query names it: its row, its value as text,
and changing it to a typed text through the entry form's own rules (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from app.entry_tables import display
from app.entry_tables.forms import entry_form_class, form_values
from app.entry_tables.registry import EntryTable, get_entry_table
from app.extensions import db
from app.models.user import User
from app.services import audit, quality
from app.services.errors import Conflict, Invalid, NotFound

MAX_TEXT = 5000


@dataclass(frozen=True)
class Cell:
    table: EntryTable
    column: sa.Column[Any]
    row: Any

    @property
    def key(self) -> str:
        return self.table.key_of(self.row)

    @property
    def label(self) -> str:
        return display.label(self.column)

    @property
    def text(self) -> str:
        """The value as a person reads it on the page."""
        return display.show(getattr(self.row, self.column.key), self.column)


def find_cell(table_name: str, row_key: str, field: str, document_id: int | None) -> Cell:
    """The named field of a row of the document; NotFound for anything that does not exist."""
    table = get_entry_table(table_name)
    if table is None:
        raise NotFound("No such table.")
    column = next((c for c in table.data_columns if c.key == field), None)
    if column is None:
        raise NotFound("No such field.")
    try:
        key: Any = int(row_key) if table.key_is_generated else row_key
    except (TypeError, ValueError):
        raise NotFound("No such row.") from None
    row = db.session.get(table.model, key) if row_key else None
    if row is None or (document_id is not None and row.document_id != document_id):
        raise NotFound("No such row on this document.")
    return Cell(table, column, row)


def _form_texts(cell: Cell) -> dict[str, str]:
    """Every typed field of the row as the edit form would show it."""
    form = entry_form_class(cell.table)(formdata=None, obj=cell.row, meta={"csrf": False})
    texts = {}
    for column in cell.table.data_columns:
        field = form[column.key]
        if hasattr(field, "_value"):
            texts[column.key] = str(field._value())
        else:
            texts[column.key] = "" if field.data is None else str(field.data)
    return texts


def correct(cell: Cell, text: str, *, actor: User, reason: str, action: str = "correct") -> bool:
    """Set the cell to the typed text (validated as the entry form would), audited with the
    reason, in the caller's transaction. False when the text leaves the value as it was."""
    if cell.row.status == "approved":
        raise Conflict("This row has been approved and can no longer be changed.")
    texts = _form_texts(cell)
    texts[cell.column.key] = text.strip()
    form = entry_form_class(cell.table)(formdata=MultiDict(texts), meta={"csrf": False})
    if not form.validate():
        messages = form.errors.get(cell.column.key) or next(iter(form.errors.values()))
        raise Invalid(f"{cell.label}: {'; '.join(messages)}", field="value")
    value = form_values(cell.table, form, creating=False)[cell.column.key]
    if value == getattr(cell.row, cell.column.key):
        return False
    before = audit.snapshot(cell.row, list(cell.table.table.columns))
    setattr(cell.row, cell.column.key, value)
    db.session.flush()  # the row's version moves: a clerk's open edit form is then stale
    audit.record(
        action,
        cell.table.name,
        cell.key,
        actor=actor,
        document_id=cell.row.document_id,
        before=before,
        after=audit.snapshot(cell.row, list(cell.table.table.columns)),
        reason=reason[:MAX_TEXT],
    )
    if actor.role == "clerk":  # a clerk's new value meets the soft rules as a save's does
        warnings = quality.soft_warnings(cell.table, {cell.column.key: value})
        quality.raise_flags(cell.table.name, cell.key, cell.row.document_id, warnings, actor)
    return True


def required_text(text: str | None, message: str, field: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(message, field=field)
    return text[:MAX_TEXT]
