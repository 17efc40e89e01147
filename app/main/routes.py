from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user

from app.main import bp
from app.security import public
from app.services.health import database_status


@bp.get("/")
@public
def index():
    if current_user.is_authenticated and current_user.role == "clerk":
        return redirect(url_for("workspace.queue"))
    return render_template("main/index.html")


@bp.get("/healthz")
@public
def healthz():
    ok, reason = database_status()
    body = {"status": "ok" if ok else "error", "database": reason}
    return jsonify(body), 200 if ok else 503
