from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth.forms import PASSWORD_RULE
from app.models.user import ROLES, USERNAME_MAX

ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in ROLES]


class CreateUserForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(min=3, max=USERNAME_MAX)],
        render_kw={"autofocus": True},
    )
    role = SelectField("Role", choices=ROLE_CHOICES, default="clerk")
    password = PasswordField(
        "Initial password",
        validators=[DataRequired(), PASSWORD_RULE],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create user")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Change role")


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired(), PASSWORD_RULE],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Reset password")


class ActiveForm(FlaskForm):
    submit = SubmitField("Apply")


class EndSessionsForm(FlaskForm):
    submit = SubmitField("End all sessions")
