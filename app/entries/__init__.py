from flask import Blueprint

bp = Blueprint("entries", __name__, url_prefix="/data")

from app.entries import routes  # noqa: E402,F401  (routes attach themselves to bp)
