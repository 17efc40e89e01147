"""Helpers shared by the entry views: looking up tables, reading forms, restoring drafts."""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.entries.forms import EntryFormBase, entry_form_class
from app.entries.registry import EntryTable, get_entry_table
from app.services import drafts


def table_or_404(name: str) -> EntryTable:
    table = get_entry_table(name)
    if table is None:
        abort(404)
    return table


def form_values(table: EntryTable, form: EntryFormBase, *, creating: bool) -> dict[str, Any]:
    """Typed values by column; an empty field of a column with a default gets the default."""
    values = {}
    for column in table.data_columns:
        value = form[column.key].data
        if creating and value is None and column.default is not None:
            continue
        values[column.key] = value
    return values


def blank_form(table: EntryTable) -> EntryFormBase:
    form = entry_form_class(table)(formdata=None)
    form.form_token.data = secrets.token_urlsafe(24)
    return form


def restore_draft(table: EntryTable, form: EntryFormBase, document_id: int | None,
                  row_key: str | None) -> Any:
    """Fill the form from the user's draft, if any; returns the draft (for the notice)."""
    scope = drafts.draft_scope(table.name, document_id, row_key)
    draft = drafts.load_draft(current_user.id, scope)
    if draft is None:
        return None
    values = drafts.draft_values(draft)
    form.draft_kept.data = "1"
    for column in table.data_columns:
        if column.key in values and not (row_key is not None and column.primary_key):
            # Processed exactly like a submission, so every field type shows the typed text.
            form[column.key].process(MultiDict({column.key: values[column.key]}))
    return draft


def had_draft(form: EntryFormBase) -> bool:
    """Whether a draft of this form may be on the server, to be deleted when it is saved."""
    return form.draft_kept.data == "1"


def draft_fields(table: EntryTable) -> set[str]:
    return {c.key for c in table.data_columns}
