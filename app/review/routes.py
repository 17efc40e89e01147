"""The reviewer's pages: the queue, a document beside its rows, approve / return / correct,
double-entry comparison, quality flags, and the re-entry sample setting."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.entry_tables.forms import entry_form_class, form_values
from app.entry_tables.registry import entry_tables, get_entry_table
from app.errors import status_for
from app.extensions import db
from app.models.document import Document
from app.models.quality import Comparison, QualityFlag
from app.models.user import User
from app.review import bp
from app.security import roles_required
from app.services import double_entry, entries, flags, quality, queries, review, settings
from app.services.errors import DomainError, Invalid, NotFound
from app.web import attach_error, bounded_int

STAFF = ("admin", "reviewer")


@bp.get("/")
@roles_required(*STAFF)
def queue():
    page = bounded_int(request.args.get("page"), 1, low=1)
    items, has_next = review.review_queue(page)
    return render_template("review/queue.html", items=items, page=page, has_next=has_next)


@bp.get("/documents/<int:document_id>")
@roles_required(*STAFF)
def document(document_id: int):
    return _document_page(db.get_or_404(Document, document_id), ask=_asked_cell())


def _asked_cell():
    """The cell named by ?table=&key=&field= (the reviewer is about to query it), if any."""
    names = [request.args.get(n) for n in ("table", "key", "field")]
    return tuple(names) if all(names) else None


def _document_page(
    doc: Document,
    *,
    comment_error: str | None = None,
    status: int = 200,
    ask=None,
    errors: dict | None = None,
    unresolved_flags: int = 0,
):
    tables = []
    for table in entry_tables():
        page = entries.list_rows(
            table, current_user, document_id=doc.id, sort="created_at", page_size=500
        )
        tables.append((table, page))
    comparison = db.session.get(Comparison, doc.id)
    document_flags = flags.for_document(doc.id)
    document_queries = queries.for_document(doc.id)
    earlier, later = review.neighbours(doc)
    return render_template(
        "review/document.html",
        document=doc,
        tables=tables,
        comparison=comparison,
        comment_error=comment_error,
        flags=document_flags,
        flags_by_cell=flags.by_cell(f for f in document_flags if f.status == "open"),
        queries=document_queries,
        queries_by_cell=flags.by_cell(document_queries),
        open_queries=sum(q.status == "open" for q in document_queries),
        ask=ask,
        errors=errors or {},
        unresolved_flags=unresolved_flags,
        previous_document=earlier,
        next_document=later,
    ), status


@bp.post("/documents/<int:document_id>/approve")
@roles_required(*STAFF)
def approve(document_id: int):
    doc = db.get_or_404(Document, document_id)
    following = review.neighbours(doc)[1]  # read first: approving moves the document's time
    try:
        review.approve(doc, current_user, accept_flags=request.form.get("accept_flags") == "1")
    except review.UnresolvedFlags as exc:
        db.session.rollback()
        return _document_page(doc, status=409, unresolved_flags=exc.count)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _document_page(doc, status=status_for(exc))
    flash(f"Document #{doc.id} approved; its rows are now read-only for the clerk.", "success")
    if following is not None:
        return redirect(url_for(".document", document_id=following.id), code=303)
    return redirect(url_for(".queue"), code=303)


@bp.post("/documents/<int:document_id>/return")
@roles_required(*STAFF)
def return_document(document_id: int):
    doc = db.get_or_404(Document, document_id)
    try:
        review.return_document(doc, current_user, request.form.get("comment", ""))
    except Invalid as exc:
        db.session.rollback()
        return _document_page(doc, comment_error=exc.message, status=422)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _document_page(doc, status=status_for(exc))
    flash(f"Document #{doc.id} returned to the clerk.", "success")
    return redirect(url_for(".queue"), code=303)


@bp.post("/documents/<int:document_id>/queries")
@roles_required(*STAFF)
def open_query(document_id: int):
    doc = db.get_or_404(Document, document_id)
    cell = tuple(request.form.get(n, "") for n in ("table", "key", "field"))
    try:
        query = queries.open_query(doc, *cell, request.form.get("question", ""), current_user)
    except NotFound:
        abort(404)
    except DomainError as exc:
        db.session.rollback()
        return _document_page(
            doc, ask=cell, errors={exc.field or "question": exc.message}, status=status_for(exc)
        )
    flash(f"Query #{query.id} opened; the clerk sees it beside the field.", "success")
    return redirect(url_for(".document", document_id=doc.id, _anchor=f"query-{query.id}"), code=303)


@bp.post("/queries/<int:query_id>/close")
@roles_required(*STAFF)
def close_query(query_id: int):
    return _query_step(query_id, "close")


@bp.post("/queries/<int:query_id>/reopen")
@roles_required(*STAFF)
def reopen_query(query_id: int):
    return _query_step(query_id, "reopen")


def _query_step(query_id: int, step: str):
    try:
        query = queries.get_query(query_id, current_user)
    except NotFound:
        abort(404)
    doc = db.session.get(Document, query.document_id)
    try:
        if step == "close":
            queries.close(query_id, current_user)
        else:
            queries.reopen(query_id, current_user, request.form.get("question", ""))
    except DomainError as exc:
        db.session.rollback()
        return _document_page(
            doc, errors={f"query-{query_id}": exc.message}, status=status_for(exc)
        )
    flash(f"Query #{query_id} {'closed' if step == 'close' else 're-opened'}.", "success")
    return redirect(url_for(".document", document_id=doc.id, _anchor=f"query-{query_id}"), code=303)


@bp.post("/flags/<int:flag_id>/resolve")
@roles_required(*STAFF)
def resolve_flag(flag_id: int):
    flag = db.get_or_404(QualityFlag, flag_id)
    try:
        outcome = flags.resolve(
            flag_id,
            current_user,
            reason=request.form.get("reason", ""),
            new_value=request.form.get("value"),
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        db.session.rollback()
        if flag.document_id is None:
            flash(exc.message, "error")
            return redirect(url_for(".quality"), code=303)
        return _document_page(
            db.get_or_404(Document, flag.document_id),
            errors={f"flag-{flag_id}": exc.message},
            status=status_for(exc),
        )
    flash(f"Flag {outcome}.", "success")
    if flag.document_id is None:
        return redirect(url_for(".quality"), code=303)
    return redirect(url_for(".document", document_id=flag.document_id, _anchor="flags"), code=303)


@bp.route("/correct/<table_name>", methods=["GET", "POST"])
@roles_required(*STAFF)
def correct(table_name: str):
    table = get_entry_table(table_name) or abort(404)
    key = request.args.get("key")
    row = entries.get_row(table, key, current_user)  # NotFound answers 404 (app/errors)
    if request.method == "GET":
        form = entry_form_class(table)(formdata=None, obj=row, version=row.version)
        return _correct_page(table, row, form)
    form = entry_form_class(table)()
    reason = request.form.get("reason", "")
    if not form.validate():
        return _correct_page(table, row, form, reason=reason, status=422)
    try:
        entries.update_row(
            table,
            key,
            form_values(table, form, creating=False),
            actor=current_user,
            expected_version=_int(form.version.data),
            action="correct",
            reason=reason,
        )
    except entries.StaleVersion as exc:
        form.version.data = str(exc.version)
        return _correct_page(table, row, form, reason=reason, error=exc.message, status=409)
    except DomainError as exc:
        db.session.rollback()
        if exc.field == "reason":
            return _correct_page(
                table, row, form, reason=reason, reason_error=exc.message, status=422
            )
        attach_error(form, exc)
        return _correct_page(table, row, form, reason=reason, status=422)
    flash(f"Corrected {table.label} row {key}.", "success")
    if row.document_id:
        return redirect(url_for(".document", document_id=row.document_id), code=303)
    return redirect(url_for("entries.history", table_name=table.name, key=key), code=303)


def _correct_page(table, row, form, *, reason="", reason_error=None, error=None, status=200):
    """The correction form beside the row's document (when it has one), like the review page."""
    document = db.session.get(Document, row.document_id) if row.document_id else None
    return render_template(
        "review/correct.html",
        table=table,
        row=row,
        form=form,
        key=table.key_of(row),
        reason=reason,
        reason_error=reason_error,
        error=error,
        document=document,
    ), status


@bp.route("/documents/<int:document_id>/compare", methods=["GET", "POST"])
@roles_required(*STAFF)
def compare(document_id: int):
    doc = db.get_or_404(Document, document_id)
    if request.method == "GET":
        return _compare_page(doc)
    choices = {}
    for name, value in request.form.items():
        if name.startswith("choice-") and name[7:].isdigit():
            choices[int(name[7:])] = (value, request.form.get(f"other-{name[7:]}", ""))
    try:
        made = double_entry.resolve(doc, current_user, choices)
    except double_entry.InvalidChoices as exc:
        db.session.rollback()
        return _compare_page(doc, errors=exc.errors, message=exc.message, status=422)
    except DomainError as exc:
        db.session.rollback()
        return _compare_page(doc, message=exc.message, status=status_for(exc))
    flash(
        f"Differences resolved: {made} reconciled row(s) written to the entry tables. "
        "Approve the document when it looks right.",
        "success",
    )
    return redirect(url_for(".document", document_id=doc.id), code=303)


def _compare_page(doc, *, errors=None, message=None, status=200):
    comparison, tables, found = double_entry.comparison_view(doc)
    if comparison is None:
        flash("Both clerks have to submit before their entries can be compared.", "warning")
    names = {
        u.id: u.username
        for u in db.session.scalars(
            sa.select(User).where(User.id.in_([a.clerk_id for a in doc.assignments]))
        )
    }
    return render_template(
        "review/compare.html",
        document=doc,
        comparison=comparison,
        tables=tables,
        found=found,
        errors=errors or {},
        message=message,
        names=names,
        whole_row=double_entry.WHOLE_ROW,
        form=request.form,
    ), status


@bp.get("/quality", endpoint="quality")
@roles_required(*STAFF)
def quality_page():
    return render_template(
        "review/quality.html", flags=quality.open_flags(), duplicates=quality.probable_duplicates()
    )


@bp.post("/flags/<int:flag_id>/clear")
@roles_required(*STAFF)
def clear_flag(flag_id: int):
    quality.clear_flag(flag_id, current_user)  # NotFound answers 404 (app/errors)
    flash("Flag cleared.", "success")
    return redirect(url_for(".quality"), code=303)


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def sampling():
    error = None
    if request.method == "POST":
        try:
            percent = settings.set_sample_percent(request.form.get("percent", ""))
        except DomainError as exc:
            error = exc.message
        else:
            flash(
                f"{percent} % of each clerk's submitted documents will be re-entered blind.",
                "success",
            )
            return redirect(url_for(".sampling"), code=303)
    current = settings.get_int(settings.SAMPLE_PERCENT, 0)
    return render_template(
        "review/settings.html", current=current, error=error, typed=request.form.get("percent")
    ), 422 if error else 200


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
