"""Data freezes: the page for admins and reviewers (list, create with progress, download, diff)
and `flask freeze`."""

from flask import Blueprint

bp = Blueprint("freezes", __name__, url_prefix="/freezes")

from app.freezes import routes  # noqa: E402,F401  (routes attach themselves to bp)
