"""The researcher's data: downloads (CSV, XLSX, JSON), validated imports, the codebook."""

from flask import Blueprint

bp = Blueprint("data", __name__, url_prefix="/exchange")

from app.data import routes  # noqa: E402,F401  (routes attach themselves to bp)
