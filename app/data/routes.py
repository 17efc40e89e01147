"""Downloads of an entry table, the admin's import page, import batches and the codebook."""

from __future__ import annotations

import logging
import os
import tempfile

from flask import (
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

from app.data import bp
from app.data.forms import ImportForm
from app.entries.views import table_or_404
from app.entry_tables.registry import get_entry_table
from app.extensions import db
from app.models.entry import ROW_STATUSES
from app.models.imports import ImportBatch
from app.read_database import read_engine
from app.security import login_required, roles_required
from app.services import codebook as codebook_service
from app.services import exports, imports

log = logging.getLogger(__name__)
TRUE_ARGS = {"1", "y", "yes", "on", "true"}


@bp.get("/codebook")
@login_required
def codebook():
    tables = codebook_service.codebook(db.engine.dialect)
    file_format = request.args.get("format")
    if file_format in codebook_service.RENDERERS:
        body = codebook_service.RENDERERS[file_format](tables)
        mimetype = "text/csv" if file_format == "csv" else "text/markdown"
        return Response(
            body,
            mimetype=f"{mimetype}; charset=utf-8",
            headers={"Content-Disposition": f"attachment; filename=codebook.{file_format}"},
        )
    return render_template("data/codebook.html", tables=tables)


@bp.get("/<table_name>/export")
@roles_required("admin", "reviewer")
def export(table_name: str):
    table = table_or_404(table_name)
    args = request.args
    file_format, status = args.get("format", "csv"), args.get("status") or None
    if file_format not in exports.FORMATS or (status and status not in ROW_STATUSES):
        abort(400)
    spec = exports.export_spec(
        table, with_provenance=args.get("provenance") in TRUE_ARGS, status=status
    )
    name = exports.export_file_name(table, file_format, status)
    log.info("%s downloads %s as %s", current_user.username, table.name, file_format)
    partitions = exports.stream_rows(read_engine(), spec)
    if file_format == "xlsx":
        return _xlsx_download(table, spec, partitions, name)
    if file_format == "csv":
        chunks = exports.csv_chunks(partitions, spec, bom=args.get("bom") in TRUE_ARGS)
    else:
        chunks = exports.json_chunks(partitions, spec)
    return Response(
        (c.encode("utf-8") for c in chunks),
        mimetype=exports.MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _xlsx_download(table, spec, partitions, name):
    # A workbook is a ZIP written at the end: build it in a temporary file, then send that.
    target = tempfile.TemporaryFile()  # noqa: SIM115 (sent, then closed by the response)
    try:
        exports.write_xlsx(partitions, spec, target)
    except exports.ExportError as exc:
        target.close()
        flash(str(exc), "danger")
        return redirect(url_for("entries.list_rows", table_name=table.name), code=303)
    target.seek(0)
    return send_file(
        target, mimetype=exports.MEDIA_TYPES["xlsx"], as_attachment=True, download_name=name
    )


@bp.get("/<table_name>/import")
@roles_required("admin")
def import_form(table_name: str):
    table = table_or_404(table_name)
    return _import_page(table, ImportForm())


@bp.post("/<table_name>/import")
@roles_required("admin")
def import_upload(table_name: str):
    table = table_or_404(table_name)
    form = ImportForm()
    if not form.validate():
        return _import_page(table, form, status=422)
    upload = form.file.data
    limit_mb = current_app.config["MAX_UPLOAD_MB"]
    size = upload.stream.seek(0, os.SEEK_END)
    upload.stream.seek(0)
    if size > limit_mb * 1_048_576:
        form.file.errors = [
            *form.file.errors,
            (
                f"This file has {size / 1_048_576:,.0f} MB; the upload page takes files up to "
                f"{limit_mb} MB, so nothing was imported. Import it on the server with "
                f"`flask import {table.name} FILE`, which takes files of any size."
            ),
        ]
        return _import_page(table, form, status=413)
    report = imports.import_file(
        table,
        upload.stream,
        file_name=upload.filename or "upload",
        actor=current_user,
        dry_run=form.dry_run.data,
    )
    if report.ok and not report.dry_run:
        flash(report.summary(), "success")
        return redirect(url_for(".import_batch", batch_id=report.batch_id), code=303)
    return _import_page(table, form, report, status=200 if report.ok else 422)


def _import_page(table, form, report=None, status=200):
    return render_template(
        "data/import.html",
        table=table,
        form=form,
        report=report,
        columns=imports.importable_columns(table),
    ), status


@bp.get("/imports")
@roles_required("admin", "reviewer")
def imports_list():
    return render_template("data/imports.html", batches=imports.recent_batches())


@bp.get("/imports/<int:batch_id>")
@roles_required("admin", "reviewer")
def import_batch(batch_id: int):
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    table = get_entry_table(batch.table_name)
    remaining = imports.batch_rows(batch, table) if table is not None else None
    event = imports.batch_event(batch)
    return render_template(
        "data/batch.html", batch=batch, table=table, remaining=remaining, event=event
    )
