"""One log line per request, and a request id that ties that line, the error and the 500 page.

The line holds the method, the path (without the query string), the status, the duration, the
user's numeric id and the request id: never form values, query values, cookies or passwords.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# An id from a load balancer or a client is kept only when it cannot forge or split a log line.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def request_id() -> str:
    """This request's id: the caller's X-Request-ID when it is a safe short token, else new."""
    if "request_id" not in g:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if SAFE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    return g.request_id


def current_request_id() -> str | None:
    """The request id when called while serving a request (None from the command line), so
    that services can tie a logged detail to what the person was shown."""
    return request_id() if has_request_context() else None


def start_request() -> None:
    """before_request: note the start time and fix the request id."""
    g.request_started = time.perf_counter()
    request_id()


def finish_request(response: Response) -> Response:
    """after_request: return the id to the caller and log the request's one line."""
    rid = request_id()
    response.headers[REQUEST_ID_HEADER] = rid
    started = g.get("request_started")
    duration = f"{(time.perf_counter() - started) * 1000:.1f}" if started is not None else "-"
    log.info(
        "%s %s %s %sms user=%s request_id=%s",
        request.method,
        request.path,
        response.status_code,
        duration,
        _user_id(),
        rid,
    )
    return response


def _user_id() -> str:
    """The logged-in user's numeric id, or "-"; never loads the user just to log it.

    Flask-Login's get_id() is the session token (a credential), so it must not be logged.
    """
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.id)
    return "-"


def register(app: Flask) -> None:
    # First in line whatever the factory's order: the clock starts before any other hook (which
    # may answer early with a redirect or a CSRF error), and since after_request functions run
    # in reverse, the line is written last, with the final status.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request_funcs.setdefault(None, []).insert(0, finish_request)
