"""Rendering the workspace, shared by its own view and by entry saves made from it."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request, url_for
from flask_login import current_user

from app.entry_tables.forms import blank_form, restore_draft
from app.entry_tables.registry import EntryTable, entry_tables
from app.models.document import Document
from app.services import documents as docs
from app.services import double_entry, entries


def render_workspace(document: Document, *, failed: dict[str, Any] | None = None,
                     status: int = 200, warnings: list[Any] | None = None,
                     missing: list[Any] | None = None):
    """The document beside one form per entry table and the rows already entered."""
    failed = failed or {}
    blind = document.double_entry and current_user.role == "clerk"
    panels = []
    for table in entry_tables():
        form = failed.get(table.name)
        draft = None
        if form is None:
            form = blank_form(table)
            draft = restore_draft(table, form, current_user.id, document.id, None)
        rows = _blind_rows(document, table) if blind else _table_rows(document, table)
        action = (url_for("workspace.double_create", document_id=document.id,
                          table_name=table.name) if blind else
                  url_for("entries.create", table_name=table.name, document=document.id))
        panels.append({"table": table, "form": form, "draft": draft, "rows": rows,
                       "action": action,
                       "draft_url": url_for("entries.save_draft", table_name=table.name,
                                            document=document.id)})
    editable = current_user.role == "clerk" and docs.can_enter(document, current_user)
    return render_template("workspace/document.html", document=document, panels=panels,
                           editable=editable, assignment=docs.assignment_for(document,
                                                                             current_user),
                           warnings=warnings, missing=missing,
                           active=next(iter(failed), None) or request.args.get("panel")), status


def _table_rows(document: Document, table: EntryTable) -> list[dict[str, Any]]:
    page = entries.list_rows(table, current_user, document_id=document.id, sort="created_at",
                             page_size=500)
    return [{"key": table.key_of(row),
             "values": [getattr(row, c.key) for c in table.data_columns if not c.primary_key],
             "edit_url": url_for("entries.edit", table_name=table.name, key=table.key_of(row))}
            for row in page.rows]


def _blind_rows(document: Document, table: EntryTable) -> list[dict[str, Any]]:
    """The clerk's own rows of a double-entry document (never the other clerk's)."""
    rows = []
    for row in double_entry.own_rows(document.id, current_user.id, table.name):
        data = json.loads(row.data)
        key = f"#{row.position}" if table.key_is_generated else data.get(table.key_column.key)
        rows.append({"key": key,
                     "values": [data.get(c.key) for c in table.data_columns if not c.primary_key],
                     "edit_url": url_for("workspace.double_edit", document_id=document.id,
                                         table_name=table.name, row_id=row.id)})
    return rows
