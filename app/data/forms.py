from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SubmitField


class ImportForm(FlaskForm):
    """A CSV or XLSX file to import into one entry table."""

    file = FileField(
        "CSV or XLSX file",
        validators=[FileRequired("Choose a file to import.")],
        description="The first row names the columns; CSV must be UTF-8.",
    )
    dry_run = BooleanField("Dry run: check every row, write nothing")
    submit = SubmitField("Import")
