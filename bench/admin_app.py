"""The Flask-Admin baseline of bench/clerk_cycle.py: a stock ModelView create form on testDB.

The same three columns as bench/bare_app.py (its model and engine settings), with CSRF on: the
view's form is Flask-Admin's SecureForm (a session-bound token, as the portal's CSRF). No login.
A clerk entering rows one after another presses "Save and Add Another", so the create POST
redirects to a fresh create form: a browser's cycle per row is POST + GET of the next form.

    DATABASE_URL=sqlite:////tmp/x.db SECRET_KEY=... gunicorn 'bench.admin_app:create_app()'
"""

from __future__ import annotations

import os

from flask import Flask
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_admin.form import SecureForm

from bench.bare_app import BareRow, db, init_database

CREATE_PATH = "/admin/testdb/new/"


class TestDBView(ModelView):
    form_base_class = SecureForm
    form_columns = ("string_column", "integer_column", "date_column")
    column_list = form_columns


def create_app() -> Flask:
    """Flask-Admin on $DATABASE_URL (migrated by the portal beforehand)."""
    app = Flask(__name__)
    # From the environment: each gunicorn worker builds its own app, and all must share it.
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    init_database(app)
    admin = Admin(app, name="bench")
    admin.add_view(TestDBView(BareRow, db.session, name="testDB", endpoint="testdb"))

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app
