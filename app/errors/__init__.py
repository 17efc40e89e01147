"""Error pages in the site's layout; a 500 rolls the session back so the next request works.

Also the one place that maps the services' domain errors to HTTP statuses, for every blueprint:
`status_for` for a view that answers a refusal itself (a form shown again with the message), and
a handler for the domain errors a view lets through (rolled back, the message on the error page).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    RequestEntityTooLarge,
    default_exceptions,
)

from app.errors import unavailable
from app.extensions import db
from app.request_log import request_id
from app.services.errors import (
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    PermissionDenied,
    Throttled,
)
from app.services.outage import discard_session, is_unavailable

log = logging.getLogger(__name__)

HANDLED_CODES = (400, 403, 404, 405, 409, 413, 422, 429, 500, 503)

# Checked in order, so a subclass (StaleVersion is a Conflict) answers as its family does.
DOMAIN_STATUSES: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (PermissionDenied, 403),
    (Conflict, 409),
    (Invalid, 422),
    (Throttled, 429),
)


def status_for(error: DomainError, *, form: bool = False) -> int:
    """The HTTP status that answers a domain error. An error about one input (`field`) is
    422, and so is any other refusal of a form shown again (`form=True`): "an invalid form
    answers 422"; what is missing, forbidden, conflicting or throttled keeps its own status."""
    if error.field is not None:
        return 422
    status = next((code for kind, code in DOMAIN_STATUSES if isinstance(error, kind)), 400)
    return 422 if form and status == 400 else status


def headers_for(error: DomainError) -> dict[str, str]:
    """Headers that go with the status: when to try again after a throttle."""
    if isinstance(error, Throttled):
        return {"Retry-After": str(error.retry_after)}
    return {}


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
        f"{config['MAX_UPLOAD_MB']} MB)."
    )


def handle_domain_error(error: DomainError):
    """A domain error no view answered itself: rolled back, its message on the error page."""
    db.session.rollback()
    response, code = render_error(default_exceptions[status_for(error)](error.message))
    return response, code, headers_for(error)


def handle_unexpected(error: Exception):
    if is_unavailable(error):
        return unavailable.answer(error)
    discard_session()
    log.error(
        "unhandled error on %s %s request_id=%s",
        request.method,
        request.path,
        request_id(),
        exc_info=error,
    )
    return render_error(InternalServerError())


def register(app: Flask) -> None:
    for code in HANDLED_CODES:
        app.register_error_handler(code, render_error)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
    unavailable.register(app)
