"""Pages of every entry table: list, create, edit, delete, history, and draft saving."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.auth.session import reads_document
from app.entries import bp
from app.entries.views import (
    draft_fields,
    had_draft,
    keep_refused_draft,
    table_or_404,
)
from app.entry_tables import display
from app.entry_tables.forms import blank_form, entry_form_class, form_values, restore_draft
from app.entry_tables.registry import EntryTable, entry_tables, get_entry_table
from app.errors import status_for
from app.extensions import db
from app.form_input import checks_text_at_field, invalid_utf8_fields
from app.kept_input import keeps_input
from app.models.document import Document
from app.models.entry import ROW_STATUSES
from app.security import handle_csrf_error, login_required, may_resend
from app.services import accounts, audit, drafts, entries, flags, quality
from app.services.errors import DomainError, NotFound
from app.web import attach_error, bounded_int
from app.workspace.render import (
    is_htmx,
    render_panel,
    render_saved,
    render_workspace,
    shows_latest_rows,
)


@bp.get("/")
@login_required
def tables():
    return render_template("entries/tables.html", tables=entry_tables())


@bp.get("/<table_name>")
@login_required
def list_rows(table_name: str):
    table = table_or_404(table_name)
    args = request.args
    page = entries.list_rows(
        table,
        current_user,
        status=args.get("status") or None,
        clerk_id=bounded_int(args.get("clerk")),
        document_id=bounded_int(args.get("document")),
        search=args.get("q") or None,
        sort=args.get("sort"),
        descending=args.get("dir") == "desc",
        page=bounded_int(args.get("page"), 1, low=1),
    )
    clerks = accounts.clerk_names() if entries.sees_all_rows(current_user) else {}
    # the page's open quality flags, marked on their cells (one statement)
    row_flags = flags.by_cell(flags.open_for_rows(table.name, [table.key_of(r) for r in page.rows]))
    return render_template(
        "entries/list.html",
        table=table,
        page=page,
        statuses=ROW_STATUSES,
        sortable=entries.sortable_columns(table),
        args=args,
        clerks=clerks,
        row_flags=row_flags,
    )


def _saved_document() -> tuple[int, EntryTable | None] | None:
    """The document a save names (?document=), and on a POST its table, whose rows the answer
    counts: read with the login check (reads_document)."""
    document_id = bounded_int(request.args.get("document"))
    if document_id is None:
        return None
    table = get_entry_table((request.view_args or {}).get("table_name", ""))
    return document_id, (table if request.method == "POST" else None)


@bp.route("/<table_name>/new", methods=["GET", "POST"])
@reads_document(_saved_document)
@login_required
@checks_text_at_field
@keeps_input
def create(table_name: str):
    table = table_or_404(table_name)
    # A save from a panel that lists the latest rows is answered with the new row and the
    # count: counted with the document's check, in the save's own transaction (the same
    # statement, not a transaction of its own after the commit).
    short = request.method == "POST" and is_htmx() and shows_latest_rows()
    if short:
        document, rows_before = _document_and_count_or_404(table)
    else:
        document, rows_before = _document_or_404(), None
    if request.method == "GET":
        if document is not None:
            return redirect(url_for("workspace.document", document_id=document.id))
        form = blank_form(table)
        draft = restore_draft(table, form, current_user.id, None, None)
        return _create_page(table, form, draft=draft)
    form = entry_form_class(table)()
    if not form.validate():
        return _invalid_create(table, form, document, 422)
    values = form_values(table, form, creating=True)
    warnings = quality.soft_warnings(table, values)
    if warnings and not form.confirm_warnings.data:
        return _invalid_create(table, form, document, 200, warnings=warnings)
    try:
        row = entries.create_row(
            table,
            values,
            actor=_user(),
            form_token=form.form_token.data or None,
            document_id=document.id if document else None,
            checked_document=document,
            warnings=warnings,
            had_draft=had_draft(form),
        )
    except entries.AlreadySaved as exc:
        if exc.same_values:  # Save pressed again after a lost answer: the same save
            return _saved_before(table, exc.row_key, document)
        if document is not None and is_htmx():
            return render_panel(document, table, message=exc.message, message_kind="warning")
        flash(exc.message, "warning")
        return redirect(url_for(".edit", table_name=table.name, key=exc.row_key), code=303)
    except DomainError as exc:
        db.session.rollback()
        if status_for(exc, form=True) in {403, 404}:
            raise  # the error page (app/errors), not the form
        attach_error(form, exc)
        return _invalid_create(table, form, document, status_for(exc, form=True))
    return _created(table, row, document, warnings, rows_before)


def _created(table, row, document, warnings, rows_before=None):
    """After a save: the fresh form and the new row (htmx, from a panel that lists the latest
    rows: rows_before is their count), the fresh panel (htmx), or a redirect with the message
    flashed."""
    message = f"Saved {table.label} row {table.key_of(row)}: {_summary(table, row)}."
    if warnings:
        message += f" {len(warnings)} value(s) flagged for the reviewer to check."
    if document is not None and is_htmx():
        # No flash: it would stay in the session and pop up on some later page.
        if rows_before is not None:  # the panel has its latest rows: add this one to them
            return render_saved(document, table, row, message, count=rows_before + 1)
        return render_panel(document, table, message=message, restore=False)
    flash(message, "success")
    if document is not None:
        # No #fragment: browsers skip autofocus when the URL names a target element.
        return redirect(
            url_for("workspace.document", document_id=document.id, panel=table.name), code=303
        )
    return redirect(url_for(".create", table_name=table.name), code=303)


def _saved_before(table, key, document):
    """Save pressed again with the values an earlier press stored (its answer was lost): the
    same save, answered as saved, with a fresh form."""
    row = entries.get_row(table, key, current_user)
    message = (
        f"Saved {table.label} row {key}: {_summary(table, row)}. It was already saved "
        "by your earlier press of Save, and is stored once."
    )
    if document is not None and is_htmx():
        return render_panel(document, table, message=message, restore=False)
    flash(message, "success")
    if document is not None:
        return redirect(
            url_for("workspace.document", document_id=document.id, panel=table.name), code=303
        )
    return redirect(url_for(".create", table_name=table.name), code=303)


def _document_or_404():
    """The document named by ?document=, if the current user may enter rows for it."""
    document_id = _document_id_or_404()
    return entries.check_document_entry(document_id, current_user)  # errors: app/errors


def _document_and_count_or_404(table):
    """_document_or_404, and the count of its rows of table (entries.count_rows) that the
    current user sees, read by the same statement."""
    return entries.document_for_entry(_document_id_or_404(), _user(), table)


def _user():
    """The logged-in user itself: a service reads its attributes many times, each through
    the current_user proxy otherwise."""
    return current_user._get_current_object()


def _document_id_or_404():
    raw = request.args.get("document")
    if raw is None:
        return None
    document_id = bounded_int(raw)
    if document_id is None:
        abort(404)
    return document_id


def _invalid_create(table, form, document, status, warnings=None):
    """A refused save: the typed values become the draft, and the form shows why."""
    keep_refused_draft(table, form, document.id if document else None, None)
    if document is not None and is_htmx():
        return render_panel(document, table, form=form, warnings=warnings, status=status)
    if document is not None:
        return render_workspace(
            document, failed={table.name: form}, status=status, warnings=warnings
        )
    return _create_page(table, form, warnings=warnings), status


def _create_page(table, form, draft=None, warnings=None):
    recent = entries.list_rows(
        table, current_user, sort="updated_at", descending=True, page_size=10
    )
    return render_template(
        "entries/form.html",
        table=table,
        form=form,
        draft=draft,
        mode="create",
        recent=recent,
        warnings=warnings,
        draft_url=url_for(".save_draft", table_name=table.name),
    )


@bp.route("/<table_name>/edit", methods=["GET", "POST"])
@login_required
@checks_text_at_field
@keeps_input
def edit(table_name: str):
    table = table_or_404(table_name)
    key = request.args.get("key")
    row = _row_or_404(table, key)
    if request.method == "GET":
        form = entry_form_class(table)(formdata=None, obj=row, version=row.version)
        draft = restore_draft(table, form, current_user.id, row.document_id, table.key_of(row))
        return _edit_page(table, row, form, draft=draft)
    form = entry_form_class(table)()
    if not form.validate():
        return _refused_edit(table, row, form, 422)
    values = form_values(table, form, creating=False)
    warnings = quality.soft_warnings(table, values)
    if warnings and not form.confirm_warnings.data:
        return _refused_edit(table, row, form, 200, warnings=warnings)
    try:
        entries.update_row(
            table,
            key,
            values,
            actor=current_user,
            expected_version=_int(form.version.data),
            warnings=warnings,
            had_draft=had_draft(form),
        )
    except entries.StaleVersion as exc:
        form.version.data = str(exc.version)  # a second save replaces theirs, knowingly
        return _refused_edit(table, row, form, 409, conflict=exc)
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return _refused_edit(table, row, form, status_for(exc, form=True))
    message = f"Saved changes to {table.label} row {key}."
    document = _panel_document(row)
    if document is not None:
        return render_panel(document, table, message=message)
    flash(message, "success")
    return redirect(url_for(".edit", table_name=table.name, key=key), code=303)


def _panel_document(row) -> Document | None:
    """The document whose workspace panel this htmx request came from, if it did."""
    if not is_htmx() or row.document_id is None:
        return None
    return db.session.get(Document, row.document_id)


def _refused_edit(table, row, form, status, conflict=None, warnings=None):
    if status != 409:  # a stale edit keeps its draft as it was
        keep_refused_draft(table, form, row.document_id, table.key_of(row))
    document = _panel_document(row)
    if document is not None:
        return render_panel(
            document,
            table,
            form=form,
            mode="edit",
            row=row,
            conflict=conflict,
            warnings=warnings,
            status=status,
        )
    return _edit_page(table, row, form, conflict=conflict, warnings=warnings), status


def _edit_page(table, row, form, draft=None, conflict=None, warnings=None):
    document = _panel_document(row)
    if document is not None:  # Edit pressed in the workspace: the form comes into the panel
        return render_panel(document, table, form=form, mode="edit", row=row)
    return render_template(
        "entries/form.html",
        table=table,
        form=form,
        row=row,
        draft=draft,
        mode="edit",
        conflict=conflict,
        key=table.key_of(row),
        warnings=warnings,
        document_id=row.document_id,
        draft_url=url_for(".save_draft", table_name=table.name, key=table.key_of(row)),
    )


@bp.route("/<table_name>/delete", methods=["GET", "POST"])
@login_required
def delete(table_name: str):
    table = table_or_404(table_name)
    key = request.args.get("key")
    row = _row_or_404(table, key)
    document = _panel_document(row)
    if request.method == "GET":
        if document is not None:
            return render_panel(document, table, mode="delete", row=row)
        return render_template("entries/delete.html", table=table, row=row, key=key)
    try:
        entries.delete_row(table, key, actor=current_user, reason=request.form.get("reason", ""))
    except DomainError as exc:
        db.session.rollback()
        status = status_for(exc, form=True)
        if document is not None:
            return render_panel(
                document, table, mode="delete", row=row, error=exc.message, status=status
            )
        return render_template(
            "entries/delete.html", table=table, row=row, key=key, error=exc.message
        ), status
    message = f"Deleted {table.label} row {key}."
    if document is not None:
        return render_panel(document, table, message=message)
    flash(message, "success")
    return redirect(url_for(".list_rows", table_name=table.name), code=303)


@bp.get("/<table_name>/history")
@login_required
def history(table_name: str):
    table = table_or_404(table_name)
    key = request.args.get("key")
    try:
        events = entries.row_history(table, key, current_user)
    except NotFound:
        abort(404)
    return render_template(
        "entries/history.html", table=table, key=key, events=events, changes=audit.changes
    )


@bp.post("/<table_name>/draft")
@login_required
@keeps_input
def save_draft(table_name: str):
    table = table_or_404(table_name)
    payload = _draft_payload()
    if not isinstance(payload, dict):
        return jsonify(error="Invalid", message="Send the draft as a JSON object."), 422
    key = request.args.get("key")
    document = _document_or_404()
    document_id = document.id if document is not None else None
    if key is not None:
        document_id = _row_or_404(table, key).document_id
    token = payload.get("form_token") if key is None else None
    try:
        draft = drafts.save_form_draft(
            current_user.id,
            table.name,
            document_id,
            key,
            payload.get("data"),
            draft_fields(table),
            token if isinstance(token, str) else None,
        )
    except DomainError as exc:
        return jsonify(error=type(exc).__name__, message=exc.message), status_for(exc)
    if draft is None:
        return jsonify(saved=False, already_saved=True)
    return jsonify(saved=True, at=draft.updated_at.isoformat())


def _draft_payload():
    """The draft as JSON, or (navigator.sendBeacon, which cannot set headers) a form body
    carrying csrf_token and the same JSON in its `draft` field."""
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        try:
            return current_app.json.loads(request.form.get("draft", ""))
        except ValueError:
            return None
    return request.get_json(silent=True)


@bp.post("/<table_name>/draft/discard")
@login_required
def discard_draft(table_name: str):
    table = table_or_404(table_name)
    key = request.args.get("key")
    document = _document_or_404()
    document_id = (
        _row_or_404(table, key).document_id
        if key is not None
        else (document.id if document is not None else None)
    )
    drafts.discard_draft(current_user.id, drafts.draft_scope(table.name, document_id, key))
    db.session.commit()
    if document is not None and is_htmx():
        return render_panel(document, table, message="Draft discarded.", message_kind="info")
    flash("Draft discarded.", "info")
    if key:
        target = url_for(".edit", table_name=table.name, key=key)
    elif document_id:
        target = url_for("workspace.document", document_id=document_id)
    else:
        target = url_for(".create", table_name=table.name)
    return redirect(target, code=303)


@bp.errorhandler(CSRFError)
def csrf_failure(error: CSRFError):
    """An entry form refused for an out-of-date token: besides "Send again", what was typed
    becomes the form's draft, so it is there when the clerk opens the form again. Only for a
    post from the portal's own pages by a logged-in user (see security.may_resend)."""
    if (
        request.endpoint in {"entries.create", "entries.edit"}
        and request.form
        and current_user.is_authenticated
        and may_resend()
    ):
        try:
            _keep_posted_as_draft()
        except (HTTPException, DomainError):
            db.session.rollback()  # no form to keep it for: the refusal says enough
    return handle_csrf_error(error)


def _keep_posted_as_draft() -> None:
    table = table_or_404((request.view_args or {}).get("table_name", ""))
    key = request.args.get("key") if request.endpoint == "entries.edit" else None
    if key is not None:
        document_id = entries.get_row(table, key, current_user).document_id
    else:
        document = _document_or_404()
        document_id = document.id if document is not None else None
    invalid = invalid_utf8_fields()
    posted = {k: v for k, v in request.form.items() if k not in invalid}
    drafts.keep_refused(current_user.id, table.name, document_id, key, posted, draft_fields(table))


def _row_or_404(table, key):
    return entries.get_row(table, key, current_user)  # NotFound answers 404 (app/errors)


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _summary(table, row) -> str:
    parts = []
    for column in table.data_columns[:4]:
        value = getattr(row, column.key)
        if value is not None and not column.primary_key:
            parts.append(f"{display.label(column)} = {display.show(value, column)}")
    return ", ".join(parts) or "no values"
