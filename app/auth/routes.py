from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app import kept_input
from app.auth import bp, devices
from app.auth.forms import ChangePasswordForm, EndSessionsForm, LoginForm, SetupForm
from app.auth.session import current_token, start_session
from app.errors import headers_for, status_for
from app.extensions import db
from app.security import login_required, public
from app.services import accounts, sessions
from app.services.errors import DomainError, Invalid, Throttled
from app.web import attach_error


def safe_next(target: str | None) -> str | None:
    """Return target when it is a path on this site, else None (no open redirects)."""
    if not target or "\\" in target or any(ord(c) < 33 or ord(c) == 127 for c in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if not form.is_submitted():
        return render_template("auth/login.html", form=form)
    if not form.validate():
        return render_template("auth/login.html", form=form), 422
    try:
        user = accounts.authenticate(
            form.username.data,
            form.password.data,
            request.remote_addr or "unknown",
            limits=accounts.LoginLimits.from_config(current_app.config),
            device=devices.device_for(form.username.data),
        )
    except Throttled as exc:
        db.session.rollback()
        page = render_template("auth/login.html", form=form, error=exc.message)
        return page, status_for(exc), headers_for(exc)
    except Invalid as exc:
        db.session.rollback()
        return render_template("auth/login.html", form=form, error=exc.message), 401
    kept = kept_input.take()
    session.clear()  # no session fixation: nothing from before the login survives
    start_session(user, remember=bool(form.remember.data))
    flash(f"Logged in as {user.username}.", "success")
    if kept_input.restore(kept, user):
        flash("What you typed before your session ended is back in its form, as a draft.", "info")
    response = redirect(safe_next(request.args.get("next")) or url_for("main.index"), code=303)
    devices.remember(response, user.username)
    return response


@bp.post("/logout")
@public
def logout():
    if current_user.is_authenticated:
        accounts.logout(current_token(current_user))
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/setup/<token>", methods=["GET", "POST"])
@public
def setup(token: str):
    if not accounts.setup_token_valid(token):
        flash(
            "This setup link is invalid, used or expired. Ask for a new one with "
            "`flask users setup-link`.",
            "error",
        )
        return redirect(url_for("auth.login"))
    form = SetupForm()
    if not form.is_submitted():
        return render_template("auth/setup.html", form=form)
    if not form.validate():
        return render_template("auth/setup.html", form=form), 422
    try:
        user = accounts.redeem_setup_token(token, form.username.data, form.password.data)
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return render_template("auth/setup.html", form=form), status_for(exc, form=True)
    session.clear()
    start_session(user)
    flash(f"Admin account {user.username} created. Welcome!", "success")
    return redirect(url_for("main.index"), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if not form.is_submitted():
        return render_template("auth/password.html", form=form)
    if not form.validate():
        return render_template("auth/password.html", form=form), 422
    user = current_user._get_current_object()
    if not user.check_password(form.current_password.data):
        form.current_password.errors.append("That is not your current password.")
        return render_template("auth/password.html", form=form), 422
    try:
        accounts.set_password(user, form.password.data)  # every session of the user ends
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return render_template("auth/password.html", form=form), 422
    # This device goes on, under a new session id: a copy of its old cookie stops working.
    start_session(user, remember=bool(request.cookies.get("remember_token")))
    flash("Password changed. Other sessions of yours have been logged out.", "success")
    return redirect(url_for("auth.account"), code=303)


@bp.get("/account")
@login_required
def account():
    return _account_page(EndSessionsForm())


def _account_page(form: EndSessionsForm, status: int = 200):
    lifetimes = sessions.Lifetimes.from_config(current_app.config)
    live = sessions.live_sessions(current_user.id, lifetimes)
    current_id = sessions.session_id(current_token(current_user) or "")
    return render_template(
        "auth/account.html",
        sessions=live,
        current_id=current_id,
        form=form,
        expires_at=lambda row: sessions.expires_at(row, lifetimes),
        device_label=sessions.device_label,
        lifetimes=lifetimes,
    ), status


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    form = EndSessionsForm()
    if not form.validate():
        flash("The form was incomplete; nothing changed.", "error")
        return _account_page(form, 400)
    user = current_user._get_current_object()
    ended = sessions.end_others(user, current_token(user) or "")
    flash(
        f"Logged out {ended} other session{'' if ended == 1 else 's'}."
        if ended
        else "There was no other session to log out.",
        "success",
    )
    return redirect(url_for("auth.account"), code=303)
