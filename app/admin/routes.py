from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.forms import (
    ActiveForm,
    CreateUserForm,
    EndSessionsForm,
    ResetPasswordForm,
    RoleForm,
)
from app.errors import status_for
from app.extensions import db
from app.models.user import User
from app.security import roles_required
from app.services import accounts, sessions
from app.services.errors import DomainError
from app.web import attach_error


def _users_page(form: CreateUserForm, status: int = 200):
    return render_template("admin/users.html", users=accounts.list_users(), form=form), status


@bp.get("/users")
@roles_required("admin")
def users():
    return _users_page(CreateUserForm())


@bp.post("/users")
@roles_required("admin")
def create_user():
    form = CreateUserForm()
    if not form.validate():
        return _users_page(form, 422)
    try:
        user = accounts.create_user(form.username.data, form.password.data, form.role.data)
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return _users_page(form, status_for(exc, form=True))
    flash(f"User {user.username} ({user.role}) created.", "success")
    return redirect(url_for("admin.users"), code=303)


@bp.get("/users/<int:user_id>")
@roles_required("admin")
def user_detail(user_id: int):
    user = _get_or_404(user_id)
    return _detail_page(user)


def _detail_page(user, role_form=None, password_form=None, status: int = 200):
    role_form = role_form or RoleForm(role=user.role)
    live = sessions.live_sessions(user.id, sessions.Lifetimes.from_config(current_app.config))
    return render_template(
        "admin/user.html",
        user=user,
        role_form=role_form,
        password_form=password_form or ResetPasswordForm(),
        active_form=ActiveForm(),
        sessions=live,
        device_label=sessions.device_label,
        sessions_form=EndSessionsForm(),
    ), status


@bp.post("/users/<int:user_id>/role")
@roles_required("admin")
def change_role(user_id: int):
    user = _get_or_404(user_id)
    form = RoleForm()
    if not form.validate():
        return _detail_page(user, role_form=form, status=422)
    try:
        accounts.set_role(user, form.role.data)
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return _detail_page(user, role_form=form, status=status_for(exc, form=True))
    flash(f"{user.username} is now {user.role}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id), code=303)


@bp.post("/users/<int:user_id>/password")
@roles_required("admin")
def reset_password(user_id: int):
    user = _get_or_404(user_id)
    form = ResetPasswordForm()
    if not form.validate():
        return _detail_page(user, password_form=form, status=422)
    try:
        accounts.set_password(user, form.password.data)
    except DomainError as exc:
        db.session.rollback()
        attach_error(form, exc)
        return _detail_page(user, password_form=form, status=status_for(exc, form=True))
    flash(f"Password of {user.username} reset; their sessions were logged out.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id), code=303)


@bp.post("/users/<int:user_id>/active")
@roles_required("admin")
def set_active(user_id: int):
    user = _get_or_404(user_id)
    if not ActiveForm().validate():
        flash("The form was incomplete; nothing changed.", "error")
        return _detail_page(user, status=400)
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(user, active)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _detail_page(user, status=status_for(exc))
    flash(f"{user.username} {'reactivated' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id), code=303)


@bp.post("/users/<int:user_id>/sessions/end")
@roles_required("admin")
def end_sessions(user_id: int):
    user = _get_or_404(user_id)
    if not EndSessionsForm().validate():
        flash("The form was incomplete; nothing changed.", "error")
        return _detail_page(user, status=400)
    actor = current_user._get_current_object()
    ended = sessions.end_by_admin(user, actor, actor_token=actor.current_session_token)
    flash(f"Ended {ended} session{'' if ended == 1 else 's'} of {user.username}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id), code=303)


def _get_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)
