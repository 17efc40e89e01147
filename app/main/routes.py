from flask import jsonify, render_template

from app.main import bp
from app.security import public
from app.services.health import database_status


@bp.get("/")
@public
def index():
    return render_template("main/index.html")


@bp.get("/healthz")
@public
def healthz():
    ok, reason = database_status()
    body = {"status": "ok" if ok else "error", "database": reason}
    return jsonify(body), 200 if ok else 503
