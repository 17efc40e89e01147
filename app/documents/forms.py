from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, SubmitField
from wtforms.validators import DataRequired


class UploadForm(FlaskForm):
    files = MultipleFileField(
        "Files (PDF, PNG, JPEG, TIFF, or a .zip of them)",
        validators=[DataRequired("Choose at least one file.")],
        render_kw={"accept": ".pdf,.png,.jpg,.jpeg,.tif,.tiff,.zip", "multiple": True},
    )
    double_entry = BooleanField("Double entry: two clerks key each document independently")
    submit = SubmitField("Upload")
