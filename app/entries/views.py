"""Helpers shared by the entry views: looking up tables, reading forms, restoring drafts."""

from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from app.entry_tables.forms import EntryFormBase
from app.entry_tables.registry import EntryTable, get_entry_table
from app.form_input import invalid_utf8_fields
from app.services import drafts


def table_or_404(name: str) -> EntryTable:
    table = get_entry_table(name)
    if table is None:
        abort(404)
    return table


def had_draft(form: EntryFormBase) -> bool:
    """Whether a draft of this form may be on the server, to be deleted when it is saved."""
    return form.draft_kept.data == "1"


def draft_fields(table: EntryTable) -> set[str]:
    return {c.key for c in table.data_columns}


def keep_refused_draft(
    table: EntryTable, form: EntryFormBase, document_id: int | None, row_key: str | None
) -> None:
    """A refused save: what was posted becomes the form's draft (see drafts.keep_refused)."""
    invalid = invalid_utf8_fields()  # never kept: they are refused, not stored anywhere
    posted = {k: v for k, v in request.form.items() if k not in invalid}
    if drafts.keep_refused(
        current_user.id, table.name, document_id, row_key, posted, draft_fields(table)
    ):
        form.draft_kept.data = "1"
