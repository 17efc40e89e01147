"""The answer when the database cannot be reached: 503, the truth about the save, no database.

The page is rendered without the navigation (which would look up current_user, and with it the
dead database), shows the request id, keeps what the clerk typed in a form that sends it again,
and carries Retry-After. Whether anything was stored is known from the save itself
(DatabaseUnavailable.saved) or else from whether this request got as far as a COMMIT.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import (
    Flask,
    Response,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    session,
)
from sqlalchemy.orm import Session

from app.entry_tables import display
from app.entry_tables.registry import get_entry_table
from app.extensions import db, login_manager
from app.request_log import request_id
from app.security import NEVER_ECHOED
from app.services.outage import (
    RETRY_AFTER_SECONDS,
    DatabaseUnavailable,
    discard_session,
    is_busy,
)

log = logging.getLogger(__name__)

# The one-time form token and the row's version go back with the values: pressing Save again
# is then recognised as the same save.
ECHOED_HIDDEN = ("form_token", "version", "confirm_warnings", "draft_kept")
NOT_ECHOED = NEVER_ECHOED - {"form_token"}

NOTHING_SAVED = "The database could not be reached, so nothing was saved."
BUSY = "The database is busy (a lock held elsewhere did not end in time), so nothing was saved."
MAYBE_SAVED = (
    "The connection to the database was lost while saving, and it could not be "
    "checked whether the save went through: it may have been saved. Pressing Save "
    "again is safe; it will not be saved twice."
)
UNKNOWN = (
    "The connection to the database was lost while your change was being stored, so "
    "it is unknown whether it was saved. Check before sending it again."
)
SAVED = (
    "Your change was saved, but the connection to the database was lost before this page "
    "could be shown."
)
NOT_LOADED = (
    "This page could not be loaded because the database cannot be reached right now. "
    "Nothing was changed."
)
KEPT = " What you typed is kept below: press Save again in a moment."


def outcome(error: BaseException) -> bool | None:
    """True: stored; False: nothing stored; None: unknown."""
    if isinstance(error, DatabaseUnavailable):
        return error.saved
    state = g.get("database_commit")
    return {"done": True, "started": None}.get(state, False) if state else False


def message_for(error: BaseException, saved: bool | None) -> str:
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return NOT_LOADED
    if saved is True:
        return SAVED
    if saved is None:
        return MAYBE_SAVED if isinstance(error, DatabaseUnavailable) else UNKNOWN
    return BUSY if is_busy(error) else NOTHING_SAVED


def answer(error: BaseException) -> Response:
    """The 503 answer to a request the database failed."""
    discard_session()
    g.database_down = True
    # Flask-Login's template context and the after_request hooks would load the user (or
    # refresh the one the rollback expired), reading the database that just failed.
    g._login_user = _offline_user(g.get("_login_user"))
    saved = outcome(error)
    rid = request_id()
    log.warning(
        "database unavailable on %s %s (%s) saved=%s request_id=%s",
        request.method,
        request.path,
        type(getattr(error, "orig", None) or error).__name__,
        saved,
        rid,
    )
    message = message_for(error, saved)
    as_json = _wants_json()
    kept = _kept_values() if saved is not True and request.method == "POST" else []
    # The page below keeps them; in place (htmx) and for JSON clients the form itself stays.
    if kept and not as_json and not request.headers.get("HX-Request"):
        message += KEPT
    if as_json:
        response = jsonify(
            error="Service Unavailable", message=message, request_id=rid, saved=saved
        )
    else:
        earlier = [(c, m) for c, m in session.pop("_flashes", [])]
        response = Response(
            render_template(
                "errors/unavailable.html",
                message=message,
                request_id=rid,
                kept=kept,
                hidden=ECHOED_HIDDEN,
                earlier=earlier,
                action=request.full_path.rstrip("?"),
                labels=_field_labels(),
            )
        )
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


class OfflineUser:
    """The logged-in user, known by id only, while the database cannot be read."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user_id: int) -> None:
        self.id = user_id

    def get_id(self) -> str:
        return str(self.id)


def _offline_user(user: Any) -> Any:
    identity = None
    if user is not None:
        state = sa.inspect(user, raiseerr=False)
        identity = getattr(state, "identity", None)
    if identity:
        return OfflineUser(identity[0])
    return login_manager.anonymous_user()


def _kept_values() -> list[tuple[str, str]]:
    try:
        form = request.form
    except Exception:
        return []
    return [(key, value) for key, value in form.items(multi=True) if key not in NOT_ECHOED]


def _field_labels() -> dict[str, str]:
    """The entry table's field labels, from the model (not the database), when a save of one
    failed; else none (the page shows field names)."""
    table = get_entry_table(str((request.view_args or {}).get("table_name", "")))
    if table is None:
        return {}
    return {column.key: display.label(column) for column in table.table.columns}


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json"


def handle_unavailable(error: DatabaseUnavailable) -> Response:
    return answer(error)


def close_session(_error: BaseException | None) -> None:
    """Teardown: end the request's session; a dead connection is invalidated, never raised.

    Runs before Flask-SQLAlchemy's own teardown (registered earlier, so run later), whose
    rollback would raise on a lost connection and turn a good response into a bare 500."""
    if not db.session.registry.has():
        return
    session_ = db.session()
    try:
        session_.close()
    except Exception:
        log.warning("closing the session failed on a lost connection; invalidating it")
        try:
            session_.invalidate()
        except Exception:
            log.warning("invalidating the lost connection failed too", exc_info=True)
    db.session.registry.clear()


def _commit_started(_conn: Any) -> None:
    if has_request_context():
        g.database_commit = "started"


def _commit_done(_session: Session) -> None:
    if has_request_context():
        g.database_commit = "done"


def register(app: Flask) -> None:
    app.register_error_handler(DatabaseUnavailable, handle_unavailable)
    app.teardown_appcontext(close_session)
    with app.app_context():
        sa.event.listen(db.engine, "commit", _commit_started)
    if not sa.event.contains(Session, "after_commit", _commit_done):
        sa.event.listen(Session, "after_commit", _commit_done)
