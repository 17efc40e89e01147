from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from app.models.user import USERNAME_MAX
from app.services.accounts import PASSWORD_MAX, PASSWORD_MIN

PASSWORD_RULE = Length(
    min=PASSWORD_MIN, max=PASSWORD_MAX, message=f"Use {PASSWORD_MIN} to {PASSWORD_MAX} characters."
)


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired("Enter your username."),
            Length(max=USERNAME_MAX, message=f"Usernames are at most {USERNAME_MAX} characters."),
        ],
        render_kw={"autofocus": True, "autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me logged in on this computer", default=False)
    submit = SubmitField("Log in")


class NewPasswordMixin:
    password = PasswordField(
        "New password",
        validators=[DataRequired(), PASSWORD_RULE],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class SetupForm(NewPasswordMixin, FlaskForm):
    username = StringField(
        "Admin username",
        validators=[DataRequired(), Length(min=3, max=USERNAME_MAX)],
        render_kw={"autofocus": True},
    )
    submit = SubmitField("Create the admin account")


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired()],
        render_kw={"autofocus": True, "autocomplete": "current-password"},
    )
    submit = SubmitField("Change password")


class EndSessionsForm(FlaskForm):
    submit = SubmitField("Log out other sessions")
