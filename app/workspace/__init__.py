from flask import Blueprint

bp = Blueprint("workspace", __name__, url_prefix="/work")

from app.workspace import routes  # noqa: E402,F401  (routes attach themselves to bp)
