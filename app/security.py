"""Who may reach what (deny by default), response headers, CSRF failures and proxies."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.exceptions import Forbidden
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import ValidationError

from app import kept_input
from app.models.user import ROLES

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"
NEVER_ECHOED = {
    "csrf_token",
    "password",
    "password2",
    "new_password",
    "confirm",
    "current_password",
    "form_token",
}

CSP = "; ".join(  # noqa: FLY002 (one directive per line reads better)
    (
        "default-src 'self'",
        "script-src 'self'",
        "worker-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "object-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)


def public(view: F) -> F:
    """Anyone may reach this view, logged in or not."""
    view._access = PUBLIC  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable[[F], F]:
    """Only logged-in users with one of these roles may reach the view."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles: {unknown or 'none given'}")

    def decorate(view: F) -> F:
        view._access = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return decorate


login_required = roles_required(*ROLES)


def access_of(app: Flask, endpoint: str) -> Any:
    """The access rule of an endpoint: PUBLIC, a set of roles, or None (denied)."""
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, "_access", None)


def enforce_access() -> Any:
    """before_request: deny by default; every view must declare who may reach it."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404 / 405 follow
    rule = access_of(current_app, endpoint)
    if rule == PUBLIC:
        return None
    if rule is None:
        log.error("endpoint %s declares no access rule; denied", endpoint)
        raise Forbidden()
    if not current_user.is_authenticated:
        # An entry form posted after the session ended keeps what was typed.
        answer = kept_input.answer_logged_out(current_app.view_functions.get(endpoint))
        if answer is not None:
            return answer
        if request.is_json or request.accept_mimetypes.best == "application/json":
            return jsonify(error="Unauthorized", message=kept_input.ended_message()), 401
        if _subresource():
            # The document's file, an image, a worker: no page to show a message on, and a
            # session cookie written now could land after (and erase) the one of an entry
            # form's POST that kept what was typed.
            return "Log in to see this.", 401, {"Content-Type": "text/plain; charset=utf-8"}
        flash(kept_input.ended_message(), "warning")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if current_user.role not in rule:
        raise Forbidden("Your role does not give access to this page.")
    return None


def _subresource() -> bool:
    """A request the browser makes for part of a page (Fetch Metadata), not a navigation and
    not htmx's (which follows a redirect to the login page)."""
    mode = request.headers.get("Sec-Fetch-Mode")
    return mode is not None and mode != "navigate" and "HX-Request" not in request.headers


def set_security_headers(response: Any) -> Any:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Pages hold personal data: never kept. Static files are the same for everyone and are
    # revalidated (ETag), so the viewer's PDF.js (1.8 MB) is not fetched again on every page.
    if _logged_in() and request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response


def _logged_in() -> bool:
    """Whether a user is logged in, without loading one: the user loader reads the database,
    which may be what just failed (or not be needed by a public page at all)."""
    user = g.get("_login_user")
    if g.get("database_down"):
        return True
    if user is not None:
        return bool(user.is_authenticated)
    return "_user_id" in session


def handle_csrf_error(error: CSRFError) -> Any:
    """An expired or missing token: keep what was typed and let the person send it again,
    but only for a clerk's form posted from the portal's own pages (see may_resend)."""
    log.info("CSRF failure on %s %s: %s", request.method, request.path, error.description)
    if request.is_json or not request.form:
        message = (
            "Your session expired or the form was out of date, so nothing was saved. "
            "Reload the page and try again."
        )
        return jsonify(error="CSRF", message=message), 400
    if not may_resend():
        log.warning(
            "CSRF failure on %s not re-armed (Sec-Fetch-Site=%s, Origin=%s)",
            request.path,
            request.headers.get("Sec-Fetch-Site"),
            request.headers.get("Origin"),
        )
        message = (
            "This form was out of date or did not come from the portal's own pages, "
            "so nothing was saved. Go back, reload the page and try again."
        )
        return render_template("errors/csrf.html", message=message, kept=[], action=None), 400
    message = (
        "Your session expired or the form was out of date, so nothing was saved. "
        "Your values are kept below: press the button to send them again."
    )
    kept = [
        (key, value) for key, value in request.form.items(multi=True) if key not in NEVER_ECHOED
    ]
    return render_template(
        "errors/csrf.html", message=message, kept=kept, action=request.full_path.rstrip("?")
    ), 400


def may_resend() -> bool:
    """A refused form may be offered again only when a clerk may post it (never an admin's or
    reviewer's action) and the browser says it came from the portal itself: a page on another
    site must not get a re-armed form that one click by a logged-in admin would send."""
    endpoint = request.endpoint
    rule = access_of(current_app, endpoint) if endpoint else None
    if rule is None or rule == PUBLIC or "clerk" not in rule:
        return False
    return is_same_origin()


def is_same_origin() -> bool:
    """Whether the request provably came from a page of this portal: every one of
    Sec-Fetch-Site, Origin and Referer the browser sent agrees, and at least one was sent."""
    own = request.host_url.rstrip("/")
    headers = request.headers
    signals = [headers.get("Sec-Fetch-Site"), headers.get("Origin"), headers.get("Referer")]
    if all(value is None for value in signals):
        return False
    site, origin, referer = signals
    return (
        (site is None or site == "same-origin")
        and (origin is None or origin == own)
        and (referer is None or referer == own or referer.startswith(own + "/"))
    )


# CSRF tokens signed in this process, by their session's raw token (the latest few thousand).
SIGNED_CSRF_KEPT = 4096


def csrf_token() -> str:
    """generate_csrf, reusing the token this process signed for the session before, if any.

    With no time limit (WTF_CSRF_TIME_LIMIT = None) a signed token stays valid for as long as
    its session keeps the raw token, so every form of a session may carry the same one: no
    serializing and signing on every page. Templates' csrf_token() is this function."""
    if current_app.config["WTF_CSRF_FIELD_NAME"] not in g:  # the first call of the request
        field = _csrf_field()
        raw = session.get(field) if field is not None else None
        signed = current_app.extensions.get("signed_csrf", {}).get(raw) if raw else None
        if field is not None and signed is not None:
            setattr(g, field, signed)
    return str(generate_csrf())


def keep_signed_csrf_token(response: Any) -> Any:
    """after_request: remember the token generate_csrf signed during this request, once it is
    checked against the session as it ends (once per session and process)."""
    field = _csrf_field()
    if field is None or field not in g:
        return response
    raw = session.get(field)
    kept: dict[str, str] = current_app.extensions.setdefault("signed_csrf", {})
    if raw and raw not in kept:
        try:
            validate_csrf(g.get(field))
        except ValidationError:  # the session's token changed after it was signed
            return response
        if len(kept) >= SIGNED_CSRF_KEPT:
            kept.clear()
        kept[raw] = g.get(field)
    return response


def _csrf_field() -> str | None:
    """The session key (and g attribute) of the CSRF token, when tokens never expire and the
    request carries a session (static files never touch it)."""
    config = current_app.config
    if config.get("WTF_CSRF_TIME_LIMIT") is not None or not config.get("WTF_CSRF_ENABLED", True):
        return None
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return None
    if current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return None
    return str(config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))


def register(app: Flask) -> None:
    # Module scripts (the viewer's PDF.js) are refused unless served as JavaScript, and nosniff
    # forbids guessing: do not depend on the host's /etc/mime.types knowing ".mjs".
    mimetypes.add_type("text/javascript", ".mjs")
    proxies = app.config.get("PROXY_FIX_COUNT", 0)
    forwarded_for = app.config.get("PROXY_FIX_FOR", proxies)
    if proxies or forwarded_for:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=forwarded_for,  # type: ignore[method-assign]
            x_proto=proxies,
            x_host=proxies,
            x_port=proxies,
        )
    app.before_request(enforce_access)
    app.after_request(set_security_headers)
    app.after_request(keep_signed_csrf_token)
    # After Flask-WTF's own (csrf.init_app): a later context processor's value wins.
    app.add_template_global(csrf_token, "csrf_token")
    app.context_processor(lambda: {"csrf_token": csrf_token})
    app.register_error_handler(CSRFError, handle_csrf_error)
