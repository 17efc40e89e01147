"""What a clerk typed into an entry form after their session ended: kept, and given back as
their draft once they log in again.

An entry form (or its draft) posted without a live session is not saved, but its values are
kept in the signed session cookie, tied to the user whose session it was. When that same user
logs in again on this browser, the values become the form's draft, which the form restores by
itself. A cross-site post arrives without the cookie (SameSite=Lax), so it names no user and
nothing of it is kept; a different user logging in gets nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import flash, g, jsonify, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from app.entry_tables.registry import get_entry_table
from app.models.user import User
from app.services import drafts, entries
from app.services.errors import DomainError
from app.web import bounded_int

F = TypeVar("F", bound=Callable[..., Any])
KEY = "kept_input"
MAX_KEPT_CHARS = 2500  # the session cookie must stay under the browsers' 4 KB
NOT_TYPED = {"csrf_token", "form_token", "version", "confirm_warnings", "draft_kept", "submit"}
ENDED = {
    "idle": "Your session ended after a while without activity.",
    "expired": "Your session reached its maximum length and ended.",
}


def keeps_input(view: F) -> F:
    """Mark an entry form's POST view: typed values posted after the session ended are kept."""
    view._keeps_input = True  # type: ignore[attr-defined]
    return view


def ended_message() -> str:
    """Why the person is asked to log in: their session ended (and how), or they never were."""
    reason = g.get("session_ended")
    if reason is None:
        return "Please log in to continue."
    return f"{ENDED.get(reason, 'Your session was ended.')} Please log in again."


def answer_logged_out(view: Any) -> ResponseReturnValue | None:
    """For a POST to a marked view without a live session: keep what was typed and say so
    (None for every other request, which the caller answers as before)."""
    if (
        request.method != "POST"
        or not getattr(view, "_keeps_input", False)
        or g.get("session_ended") is None
    ):
        return None
    kept = _keep()
    message = ended_message()
    if kept:
        message += " What you typed is kept: it comes back in the form after you log in."
    target = url_for("auth.login", next=_page_to_return_to())
    if request.is_json or (request.endpoint and request.endpoint.endswith("save_draft")):
        return jsonify(error="Unauthorized", message=message, login=target), 401
    flash(message, "warning")
    if request.headers.get("HX-Request") == "true":  # htmx: the whole page goes to the login
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def _keep() -> bool:
    owner = g.get("ended_session_user")
    table_name = (request.view_args or {}).get("table_name")
    values = _typed_values()
    if owner is None or not table_name or values is None:
        return False
    kept = {
        "user": owner,
        "table": str(table_name)[:64],
        "values": values,
        "doc": (request.view_args or {}).get("document_id")
        or bounded_int(request.args.get("document")),
        "key": request.args.get("key"),
    }
    if len(json.dumps(kept)) > MAX_KEPT_CHARS:
        return False
    session[KEY] = kept
    return True


def _typed_values() -> dict[str, str] | None:
    if request.endpoint and request.endpoint.endswith("save_draft"):
        try:
            payload = (
                json.loads(request.form.get("draft", ""))
                if request.form
                else request.get_json(silent=True)
            )
        except ValueError:
            return None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            return None
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    return {k: v for k, v in request.form.items() if k not in NOT_TYPED}


def _page_to_return_to() -> str:
    """The page the form was on (its Referer, when on this site), else the form's own URL."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    if request.endpoint and request.endpoint.endswith("save_draft"):
        return "/"
    return request.full_path.rstrip("?")


def take() -> dict[str, Any] | None:
    """Remove the kept input from the session (before a login clears it) and return it."""
    kept = session.pop(KEY, None)
    return kept if isinstance(kept, dict) else None


def restore(kept: dict[str, Any] | None, user: User) -> bool:
    """Make the kept input the user's draft, if it was theirs and they may still enter it."""
    if not kept or kept.get("user") != user.id or not isinstance(kept.get("values"), dict):
        return False
    table = get_entry_table(str(kept.get("table")))
    if table is None:
        return False
    row_key = kept.get("key") if isinstance(kept.get("key"), str) else None
    document_id = kept.get("doc") if isinstance(kept.get("doc"), int) else None
    try:
        if row_key is not None:
            document_id = entries.get_row(table, row_key, user).document_id
        else:
            entries.check_document_entry(document_id, user)
    except DomainError:
        return False
    fields = {c.key for c in table.data_columns}
    return drafts.keep_refused(user.id, table.name, document_id, row_key, kept["values"], fields)
