from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.services.freezes import NAME_PATTERN


class FreezeForm(FlaskForm):
    """A new freeze: its name, which rows, and why."""

    name = StringField(
        "Name",
        validators=[
            DataRequired("Give the freeze a name."),
            Regexp(
                f"^{NAME_PATTERN.pattern}$",
                message=(
                    "1 to 100 letters, digits, dots, dashes or underscores, starting with a "
                    "letter or digit."
                ),
            ),
        ],
        description="Cite it by this name, e.g. 2026-12-paper-v1. It can never be reused.",
    )
    rows = SelectField(
        "Rows",
        choices=[
            SelectChoice("approved", "Approved rows only"),
            SelectChoice("all", "All rows, whatever their status"),
        ],
        default="approved",
    )
    note = TextAreaField(
        "Note",
        validators=[Optional(), Length(max=2000)],
        description="Why this freeze exists; kept in its manifest.",
    )
    submit = SubmitField("Create freeze")
