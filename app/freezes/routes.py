"""The freeze page: list, create (made in a background thread, progress in the database),
download, verify and diff (as a page and as CSV)."""

from __future__ import annotations

import logging
import threading

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from app.extensions import db
from app.freezes import bp
from app.freezes.forms import FreezeForm
from app.models.freeze import FreezeJob
from app.read_database import read_engine
from app.security import roles_required
from app.services import freezes
from app.services.errors import DomainError, NotFound
from app.services.freeze_diff import csv_lines, diff
from app.storage import StorageError, get_storage

log = logging.getLogger(__name__)
DIFF_PAGE_ROWS = 500  # rows shown on the page; the CSV has them all


@bp.get("/")
@roles_required("admin", "reviewer")
def index():
    return _index_page(FreezeForm())


def _index_page(form, status=200):
    return render_template(
        "freezes/index.html",
        form=form,
        freezes=freezes.list_freezes(),
        jobs=freezes.recent_jobs(),
        is_stale=freezes.is_stale,
    ), status


@bp.post("/")
@roles_required("admin", "reviewer")
def create():
    form = FreezeForm()
    if not form.validate():
        return _index_page(form, 422)
    try:
        job = freezes.start_job(
            form.name.data, rows=form.rows.data, note=form.note.data, actor=current_user
        )
    except DomainError as exc:
        form.name.errors = [*form.name.errors, exc.message]
        return _index_page(form, 422)
    start_in_background(current_app._get_current_object(), job.id)
    return redirect(url_for(".job", job_id=job.id), code=303)


def start_in_background(app: Flask, job_id: int) -> threading.Thread:
    """Make the freeze in a thread of this process; its progress goes to the database, so any
    worker shows it. Not a daemon: a gracefully stopping gunicorn worker finishes it first."""
    thread = threading.Thread(target=_run, args=(app, job_id), name=f"freeze-{job_id}")
    thread.start()
    return thread


def _run(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            freezes.run_job(job_id, read_engine=read_engine(), storage=get_storage())
        except Exception:  # recorded on the job (failed, with the reason) by run_job
            pass
        finally:
            db.session.remove()


@bp.get("/jobs/<int:job_id>")
@roles_required("admin", "reviewer")
def job(job_id: int):
    found = db.session.get(FreezeJob, job_id)
    if found is None:
        abort(404)
    if found.state == "done":
        flash(f"Freeze {found.name} is made and stored.", "success")
        return redirect(url_for(".detail", name=found.name), code=303)
    return render_template("freezes/job.html", job=found, stale=freezes.is_stale(found))


@bp.get("/<name>")
@roles_required("admin", "reviewer")
def detail(name: str):
    freeze = _freeze_or_404(name)
    return render_template(
        "freezes/detail.html",
        freeze=freeze,
        manifest=freezes.manifest_of(freeze),
        verification=None,
    )


@bp.post("/<name>/verify")
@roles_required("admin", "reviewer")
def verify(name: str):
    freeze = _freeze_or_404(name)
    result = freezes.verify(freeze, get_storage())
    return render_template(
        "freezes/detail.html",
        freeze=freeze,
        manifest=freezes.manifest_of(freeze),
        verification=result,
    )


@bp.get("/<name>/download")
@roles_required("admin", "reviewer")
def download(name: str):
    freeze = _freeze_or_404(name)
    try:
        source = get_storage().open_file(freeze.storage_key)
    except StorageError as exc:
        log.error("freeze %s: %s", name, exc)
        abort(503)
    log.info("%s downloads freeze %s", current_user.username, name)
    return send_file(
        source,
        mimetype=freezes.MEDIA_TYPE,
        as_attachment=True,
        download_name=f"freeze-{freeze.name}.zip",
        etag=freeze.sha256,
    )


@bp.get("/diff")
@roles_required("admin", "reviewer")
def compare():
    names = [f.name for f in freezes.list_freezes()]
    a, b = request.args.get("a") or "", request.args.get("b") or ""
    table = request.args.get("table") or None
    result, error = None, None
    if a and b:
        try:
            result = diff(freezes.get_freeze(a), freezes.get_freeze(b), get_storage(), table)
        except NotFound as exc:
            error = exc.message
        except DomainError as exc:
            error = exc.message
    if result is not None and request.args.get("format") == "csv":
        name = f"diff-{a}-{b}{'-' + table if table else ''}.csv"
        return Response(
            (line.encode("utf-8") for line in csv_lines(result)),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    status = 422 if error else 200
    return render_template(
        "freezes/diff.html",
        names=names,
        a=a,
        b=b,
        table=table,
        result=result,
        error=error,
        limit=DIFF_PAGE_ROWS,
    ), status


def _freeze_or_404(name: str):
    try:
        return freezes.get_freeze(name)
    except NotFound:
        abort(404)
