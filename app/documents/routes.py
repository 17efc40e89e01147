"""Admin and reviewer pages for documents: upload, list, assign, and serving the files."""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.utils import secure_filename

from app.documents import bp
from app.documents.forms import UploadForm
from app.extensions import db
from app.models.document import DOCUMENT_STATUSES, Document
from app.models.user import User
from app.security import login_required, roles_required
from app.services import documents as docs
from app.services import progress
from app.services.errors import DomainError
from app.services.uploads import IncomingFile, name_for_type
from app.storage import StorageError, get_storage, page_key
from app.web import bounded_int

PAGE_SIZE = 50


@bp.get("/")
@roles_required("admin", "reviewer")
def index():
    status = request.args.get("status") or None
    clerk_id = bounded_int(request.args.get("clerk"))
    page = bounded_int(request.args.get("page"), 1, low=1)
    listing = progress.document_page(
        status=status, clerk_id=clerk_id, page=page, page_size=PAGE_SIZE
    )
    clerks = db.session.scalars(
        sa.select(User).where(User.role == "clerk", User.active).order_by(User.username)
    ).all()
    return render_template(
        "documents/index.html",
        listing=listing,
        clerks=clerks,
        statuses=DOCUMENT_STATUSES,
        args=request.args,
    )


@bp.route("/upload", methods=["GET", "POST"])
@roles_required("admin")
def upload():
    form = UploadForm()
    if request.method == "GET":
        return render_template("documents/upload.html", form=form)
    if not form.validate():
        return render_template("documents/upload.html", form=form), 422
    max_bytes = current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    incoming = [
        IncomingFile(f.filename or "unnamed", f.read(max_bytes + 1)) for f in form.files.data if f
    ]
    results = docs.add_files(
        incoming,
        get_storage(),
        actor=current_user,
        max_bytes=max_bytes,
        double_entry=form.double_entry.data,
    )
    stored = sum(r.ok for r in results)
    flash(f"{stored} of {len(results)} file(s) stored.", "success" if stored else "warning")
    status = 200 if stored == len(results) else 422
    return render_template(
        "documents/upload.html", form=UploadForm(formdata=None), results=results
    ), status


@bp.get("/<int:document_id>")
@roles_required("admin", "reviewer")
def detail(document_id: int):
    document = db.get_or_404(Document, document_id)
    clerks = db.session.scalars(
        sa.select(User).where(User.role == "clerk", User.active).order_by(User.username)
    ).all()
    names = {
        u.id: u.username
        for u in db.session.scalars(
            sa.select(User).where(User.id.in_([a.clerk_id for a in document.assignments]))
        )
    }
    counts = progress.rows_for_document(document.id)
    return render_template(
        "documents/detail.html", document=document, clerks=clerks, names=names, counts=counts
    )


@bp.post("/assign")
@roles_required("admin")
def assign():
    ids = [i for i in map(bounded_int, request.form.getlist("document_id")) if i is not None]
    clerk_ids = [i for i in map(bounded_int, request.form.getlist("clerk_id")) if i is not None]
    documents = db.session.scalars(sa.select(Document).where(Document.id.in_(ids))).all()
    clerks = db.session.scalars(
        sa.select(User).where(User.id.in_(clerk_ids), User.role == "clerk", User.active)
    ).all()
    if not documents:
        flash("Select at least one document.", "error")
        return redirect(url_for(".index"), code=303)
    try:
        made = docs.assign(list(documents), list(clerks), actor=current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".index"), code=303)
    flash(f"{made} assignment(s) made over {len(clerks)} clerk(s).", "success")
    return redirect(url_for(".index"), code=303)


@bp.post("/<int:document_id>/unassign")
@roles_required("admin")
def unassign(document_id: int):
    document = db.get_or_404(Document, document_id)
    try:
        docs.unassign(document, bounded_int(request.form.get("clerk_id"), 0), actor=current_user)
        flash("Unassigned.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for(".detail", document_id=document.id), code=303)


@bp.post("/<int:document_id>/reassign")
@roles_required("admin")
def reassign(document_id: int):
    document = db.get_or_404(Document, document_id)
    target = db.session.get(User, bounded_int(request.form.get("to_clerk_id"), 0))
    try:
        if target is None:
            raise DomainError("Choose the clerk who takes the document over.")
        docs.reassign(
            document, bounded_int(request.form.get("from_clerk_id"), 0), target, actor=current_user
        )
        flash(f"Reassigned to {target.username}.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for(".detail", document_id=document.id), code=303)


@bp.get("/<int:document_id>/file")
@login_required
def file(document_id: int):
    document = _viewable(document_id)
    return _file_response(
        document, document.storage_key, document.original_name, document.content_type
    )


@bp.get("/<int:document_id>/pages/<int:number>.png")
@login_required
def page(document_id: int, number: int):
    """Page `number` (from 1) of a TIFF, as the PNG made at upload."""
    document = _viewable(document_id)
    if not document.page_count or not 1 <= number <= document.page_count:
        abort(404)
    stem = document.original_name.rpartition(".")[0] or document.original_name
    return _file_response(
        document, page_key(document.storage_key, number), f"{stem} (page {number}).png", "image/png"
    )


def _viewable(document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None or not docs.can_view(document, current_user):
        abort(404)  # another clerk's document does not exist, as far as a clerk can tell
    return document


def _file_response(document: Document, key: str, name: str, content_type: str) -> Response:
    """The stored file under `key`, shown inline under `name`, with the strict headers."""
    try:
        data = get_storage().get(key)
    except StorageError:
        current_app.logger.exception("document %s: %s missing from storage", document.id, key)
        abort(404)
    name = name_for_type(name, content_type)
    ascii_name = secure_filename(name)
    if not ascii_name.rpartition(".")[0]:  # nothing ASCII left of the name ("документ.pdf")
        ascii_name = f"document-{document.id}.{key.rpartition('.')[2]}"
    disposition = f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    response = Response(data, mimetype=content_type)
    response.headers["Content-Disposition"] = disposition
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Only the browser's own viewer may show it: no scripts, framed only by the portal.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; "
        "frame-ancestors 'self'"
    )
    return response
