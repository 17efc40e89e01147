"""Error pages in the site's layout; a 500 rolls the session back so the next request works."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from app.errors import unavailable
from app.request_log import request_id
from app.services.outage import discard_session, is_unavailable

log = logging.getLogger(__name__)

HANDLED_CODES = (400, 403, 404, 405, 409, 413, 422, 429, 500, 503)


def _wants_json() -> bool:
    """JSON for fetch calls and clients that ask for it; the HTML page for anyone else."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json"


def render_error(error: HTTPException):
    code = error.code or 500
    if code == 413:
        error = _too_large()
    if code >= 500:
        discard_session()
    # A 5xx shows the request id, so a clerk's report leads to the logged error.
    rid = request_id() if code >= 500 else None
    if _wants_json():
        body = {"error": error.name, "message": error.description}
        if rid:
            body["request_id"] = rid
        return jsonify(body), code
    return render_template("errors/error.html", error=error, code=code, request_id=rid), code


def _too_large() -> HTTPException:
    config = current_app.config
    return RequestEntityTooLarge(
        f"This request is larger than {config['MAX_CONTENT_LENGTH'] // 1_048_576} MB, so "
        f"nothing was stored. Send fewer files at once (each may be up to "
        f"{config['MAX_UPLOAD_MB']} MB).")


def handle_unexpected(error: Exception):
    if is_unavailable(error):
        return unavailable.answer(error)
    discard_session()
    log.exception("unhandled error on %s %s request_id=%s", request.method, request.path,
                  request_id())
    return render_error(InternalServerError())


def register(app: Flask) -> None:
    for code in HANDLED_CODES:
        app.register_error_handler(code, render_error)
    app.register_error_handler(Exception, handle_unexpected)
    unavailable.register(app)
