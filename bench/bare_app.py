"""The baseline of bench/entry_save.py: a bare Flask-SQLAlchemy endpoint inserting testDB rows.

No login, CSRF, validation, audit, draft or one-time token: read three form fields, INSERT,
COMMIT, answer 303 like the portal does. It talks to the database through the portal's own
engine settings (app.database), so the comparison measures what the portal does per save, not a
difference in connection setup (SQLite: WAL, busy_timeout, BEGIN IMMEDIATE; MySQL: utf8mb4,
strict sql_mode, pool_pre_ping).

    DATABASE_URL=sqlite:////tmp/x.db gunicorn 'bench.bare_app:create_app()'
"""

from __future__ import annotations

import os
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, redirect, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.database import engine_options, install_sqlite_pragmas, parse_database_url


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BareRow(db.Model):
    """testDB's own three columns; the provenance columns take their server defaults."""

    __tablename__ = "testDB"

    string_column: Mapped[str] = mapped_column(sa.String(140), primary_key=True)
    integer_column: Mapped[int | None] = mapped_column(sa.Integer)
    date_column: Mapped[datetime | None] = mapped_column(sa.DateTime)


def create_app() -> Flask:
    """The baseline app on $DATABASE_URL (migrated by the portal beforehand)."""
    app = Flask(__name__)
    url = parse_database_url(os.environ["DATABASE_URL"], app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url, None)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            install_sqlite_pragmas(db.engine)

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.post("/insert")
    def insert():
        form = request.form
        date_text = form.get("date_column")
        db.session.add(BareRow(
            string_column=form["string_column"],
            integer_column=int(form["integer_column"]) if form.get("integer_column") else None,
            date_column=datetime.fromisoformat(date_text) if date_text else None))
        db.session.commit()
        return redirect("/insert", code=303)

    return app
