"""Helpers shared by the entry views: looking up tables, reading forms, restoring drafts."""

from __future__ import annotations

from flask import abort

from app.entry_tables.forms import EntryFormBase
from app.entry_tables.registry import EntryTable, get_entry_table


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
