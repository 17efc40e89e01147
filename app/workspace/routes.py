"""The clerk's side: the queue of documents and the workspace (document beside its forms)."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.auth.session import reads_document
from app.entry_tables.forms import entry_form_class, form_values
from app.entry_tables.registry import get_entry_table
from app.errors import status_for
from app.extensions import db
from app.form_input import checks_text_at_field, invalid_utf8_fields
from app.kept_input import keeps_input
from app.models.document import Document
from app.security import login_required, roles_required
from app.services import documents as docs
from app.services import double_entry, drafts, progress, quality, queries, workspace
from app.services.errors import DomainError
from app.web import attach_error, bounded_int
from app.workspace import bp
from app.workspace.render import is_htmx, render_panel, render_workspace


@bp.get("/")
@roles_required("clerk")
def queue():
    items = docs.queue(current_user)
    ids = [d.id for d, _ in items]
    rows = progress.rows_per_document(ids, clerk_id=current_user.id)
    for document_id, n in progress.keyed_rows_per_document(ids, current_user.id).items():
        rows[document_id] += n  # rows keyed blind into a double entry count too
    return render_template(
        "workspace/queue.html",
        items=items,
        rows=rows,
        unfinished=docs.UNFINISHED,
        open_queries=queries.open_per_document(current_user.id, ids),
    )


@bp.get("/next")
@roles_required("clerk")
def next_document():
    document = docs.next_document(current_user)
    if document is None:
        flash("You have no unfinished documents. Well done!", "success")
        return redirect(url_for(".queue"))
    return redirect(url_for(".document", document_id=document.id))


@bp.get("/documents/<int:document_id>")
@reads_document(lambda: (request.view_args["document_id"], None))  # type: ignore[index]
@login_required
def document(document_id: int):
    doc = _visible_document(document_id)
    return render_workspace(doc)


@bp.post("/documents/<int:document_id>/submit")
@roles_required("clerk")
def submit(document_id: int):
    doc = _visible_document(document_id)
    try:
        docs.submit(doc, current_user, confirm_missing=request.form.get("confirm_missing") == "1")
    except docs.UnsavedInput as exc:
        db.session.rollback()
        # The first form with unsaved input is shown, its restored text in view.
        return render_workspace(doc, unsaved=exc.forms, status=409, panel=exc.forms[0][0])
    except docs.MissingBeforeSubmit as exc:
        db.session.rollback()
        return render_workspace(doc, missing=exc.missing)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".document", document_id=doc.id), code=303)
    flash(f"Document #{doc.id} submitted for review.", "success")
    following = docs.next_document(current_user)
    if following is None:
        return redirect(url_for(".queue"), code=303)
    return redirect(url_for(".document", document_id=following.id), code=303)


@bp.post("/queries/<int:query_id>/answer")
@roles_required("clerk")
def answer_query(query_id: int):
    """The clerk answers a reviewer's query, correcting the value in the same step if asked."""
    try:
        query = queries.get_query(query_id, current_user)
    except DomainError:
        abort(404)
    doc = _visible_document(query.document_id)
    try:
        queries.answer(
            query_id, current_user, request.form.get("answer", ""), request.form.get("value")
        )
    except DomainError as exc:
        db.session.rollback()
        return render_workspace(doc, query_errors={query_id: exc}, status=status_for(exc))
    flash(
        f"Your answer to query #{query_id} was sent to the reviewer"
        + (" and the value corrected." if query.corrected_to is not None else "."),
        "success",
    )
    return redirect(url_for(".document", document_id=doc.id, _anchor="field-queries"), code=303)


@bp.get("/documents/<int:document_id>/panel/<table_name>")
@login_required
def panel(document_id: int, table_name: str):
    """One entry table's panel (its blank form and a page of its latest rows) as a fragment;
    without htmx, the workspace showing that panel."""
    doc = _visible_document(document_id)
    table = get_entry_table(table_name) or abort(404)
    page = bounded_int(request.args.get("page"), 1, low=1)
    if not is_htmx():
        return redirect(
            url_for(
                ".document",
                document_id=doc.id,
                panel=table.name,
                **({"page": page} if page > 1 else {}),
            )
        )
    return render_panel(doc, table, page=page)


@bp.post("/documents/<int:document_id>/entry/<table_name>")
@roles_required("clerk")
@checks_text_at_field
@keeps_input
def double_create(document_id: int, table_name: str):
    doc, table = _blind_document(document_id, table_name)
    form = entry_form_class(table)()
    if not form.validate():
        return _refused_blind(doc, table, form, 422)
    values = form_values(table, form, creating=True)
    warnings = quality.soft_warnings(table, values)
    if warnings and not form.confirm_warnings.data:
        return _refused_blind(doc, table, form, 200, warnings=warnings)
    try:
        docs.note_entry(doc, current_user)
        double_entry.save_row(table, doc, current_user, values)
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return _refused_blind(doc, table, form, 422)
    message = f"Saved a {table.label} row."
    if is_htmx():
        return render_panel(doc, table, message=message, restore=False)
    flash(message, "success")
    return redirect(url_for(".document", document_id=doc.id, panel=table.name), code=303)


def _refused_blind(doc, table, form, status, warnings=None):
    """A refused blind save: the typed values become the draft; the form says why."""
    invalid = invalid_utf8_fields()  # refused, so kept nowhere
    posted = {k: v for k, v in request.form.items() if k not in invalid}
    if drafts.keep_refused(
        current_user.id, table.name, doc.id, None, posted, {c.key for c in table.data_columns}
    ):
        form.draft_kept.data = "1"
    if is_htmx():
        return render_panel(doc, table, form=form, warnings=warnings, status=status)
    return render_workspace(doc, failed={table.name: form}, warnings=warnings, status=status)


@bp.route("/documents/<int:document_id>/entry/<table_name>/<int:row_id>", methods=["GET", "POST"])
@roles_required("clerk")
@checks_text_at_field
def double_edit(document_id: int, table_name: str, row_id: int):
    doc, table = _blind_document(document_id, table_name)
    row = _own_row(row_id, doc)
    if request.method == "GET":
        texts = {k: double_entry.as_text(v) for k, v in json.loads(row.data).items()}
        form = entry_form_class(table)(formdata=MultiDict(texts))
        return _double_page(doc, table, row, form)
    form = entry_form_class(table)()
    if not form.validate():
        return _double_page(doc, table, row, form, status=422)
    try:
        double_entry.save_row(
            table, doc, current_user, form_values(table, form, creating=True), row=row
        )
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return _double_page(doc, table, row, form, status=422)
    flash(f"Saved changes to your {table.label} row.", "success")
    return redirect(url_for(".document", document_id=doc.id, panel=table.name), code=303)


@bp.post("/documents/<int:document_id>/entry/<table_name>/<int:row_id>/delete")
@roles_required("clerk")
def double_delete(document_id: int, table_name: str, row_id: int):
    doc, table = _blind_document(document_id, table_name)
    row = _own_row(row_id, doc)
    try:
        double_entry.delete_row(row, current_user, request.form.get("reason", ""))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(
            url_for(".double_edit", document_id=doc.id, table_name=table.name, row_id=row.id),
            code=303,
        )
    flash("Row deleted.", "success")
    return redirect(url_for(".document", document_id=doc.id, panel=table.name), code=303)


def _double_page(doc, table, row, form, status=200):
    return render_template(
        "workspace/double_edit.html", document=doc, table=table, row=row, form=form
    ), status


def _blind_document(document_id: int, table_name: str):
    doc = _visible_document(document_id)
    table = get_entry_table(table_name)
    if table is None or not doc.double_entry:
        abort(404)
    if not docs.can_enter(doc, current_user):
        abort(
            403,
            f"Document #{doc.id} is {doc.status.replace('_', ' ')}; its rows can no "
            "longer be changed.",
        )
    return doc, table


def _own_row(row_id: int, doc: Document):
    try:
        return double_entry.get_own_row(row_id, doc.id, current_user)
    except DomainError:
        abort(404)


def _visible_document(document_id: int) -> Document:
    doc = workspace.document_with_assignments(document_id)
    if doc is None or not docs.can_view(doc, current_user):
        abort(404)
    return doc
