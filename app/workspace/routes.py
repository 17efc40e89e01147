"""The clerk's side: the queue of documents and the workspace (document beside its forms)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.extensions import db
from app.models.document import Document
from app.security import login_required, roles_required
from app.services import documents as docs
from app.services import progress
from app.services.errors import DomainError
from app.workspace import bp
from app.workspace.render import render_workspace


@bp.get("/")
@roles_required("clerk")
def queue():
    items = docs.queue(current_user)
    rows = progress.rows_per_document([d.id for d, _ in items], clerk_id=current_user.id)
    return render_template("workspace/queue.html", items=items, rows=rows,
                           unfinished=docs.UNFINISHED)


@bp.get("/next")
@roles_required("clerk")
def next_document():
    document = docs.next_document(current_user)
    if document is None:
        flash("You have no unfinished documents. Well done!", "success")
        return redirect(url_for(".queue"))
    return redirect(url_for(".document", document_id=document.id))


@bp.get("/documents/<int:document_id>")
@login_required
def document(document_id: int):
    doc = _visible_document(document_id)
    return render_workspace(doc)


@bp.post("/documents/<int:document_id>/submit")
@roles_required("clerk")
def submit(document_id: int):
    doc = _visible_document(document_id)
    try:
        docs.submit(doc, current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".document", document_id=doc.id), code=303)
    flash(f"Document #{doc.id} submitted for review.", "success")
    following = docs.next_document(current_user)
    if following is None:
        return redirect(url_for(".queue"), code=303)
    return redirect(url_for(".document", document_id=following.id), code=303)


def _visible_document(document_id: int) -> Document:
    doc = db.session.get(Document, document_id)
    if doc is None or not docs.can_view(doc, current_user):
        abort(404)
    return doc
