"""Rendering the workspace, shared by its own view and by entry saves made from it."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_login import current_user

from app.entries.registry import entry_tables
from app.entries.views import blank_form, restore_draft
from app.models.document import Document
from app.services import documents as docs
from app.services import entries


def render_workspace(document: Document, *, failed: dict[str, Any] | None = None,
                     status: int = 200):
    """The document beside one form per entry table and the rows already entered."""
    failed = failed or {}
    panels = []
    for table in entry_tables():
        form = failed.get(table.name)
        draft = None
        if form is None:
            form = blank_form(table)
            draft = restore_draft(table, form, document.id, None)
        rows = entries.list_rows(table, current_user, document_id=document.id,
                                 sort="created_at", page_size=200)
        panels.append({"table": table, "form": form, "draft": draft, "rows": rows,
                       "action": url_for("entries.create", table_name=table.name,
                                         document=document.id),
                       "draft_url": url_for("entries.save_draft", table_name=table.name,
                                            document=document.id)})
    editable = current_user.role == "clerk" and docs.can_enter(document, current_user)
    assignment = docs.assignment_for(document, current_user)
    return render_template("workspace/document.html", document=document, panels=panels,
                           editable=editable, assignment=assignment,
                           active=next(iter(failed), None) or request.args.get("panel")), status
