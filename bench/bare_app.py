"""The baseline of bench/clerk_cycle.py: a bare Flask-SQLAlchemy app inserting testDB rows.

No login, CSRF, validation, audit, draft or one-time token. Two ways in:
- `POST /insert` reads three form fields, INSERTs, COMMITs and answers 303 (the save alone);
- `GET /form` renders a minimal page with a form of the same three fields (Jinja, as the portal
  renders), and `POST /form` inserts and redirects back to it (303): a browser's cycle per row
  is POST + GET of the next form.

It talks to the database through the portal's own engine settings (app.database), so the
comparison measures what the portal does per save, not a difference in connection setup
(SQLite: WAL, busy_timeout, BEGIN IMMEDIATE; MySQL: utf8mb4, strict sql_mode, pool_pre_ping).

    DATABASE_URL=sqlite:////tmp/x.db gunicorn 'bench.bare_app:create_app()'
"""

from __future__ import annotations

import os
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, redirect, render_template_string, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.database import engine_options, install_sqlite_pragmas, parse_database_url

FORM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>New row</title></head>
<body><h1>New row</h1>
<form method="post" action="/form">
  <label>Key <input name="string_column" maxlength="140" autofocus></label>
  <label>Number <input name="integer_column" inputmode="numeric"></label>
  <label>Date and time <input name="date_column" placeholder="YYYY-MM-DD HH:MM"></label>
  <button type="submit">Save row</button>
</form></body></html>"""


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BareRow(db.Model):
    """testDB's own three columns; the provenance columns take their server defaults."""

    __tablename__ = "testDB"

    string_column: Mapped[str] = mapped_column(sa.String(140), primary_key=True)
    integer_column: Mapped[int | None] = mapped_column(sa.Integer)
    date_column: Mapped[datetime | None] = mapped_column(sa.DateTime)


def init_database(app: Flask) -> None:
    """Bind db to $DATABASE_URL with the portal's engine settings (migrated beforehand)."""
    url = parse_database_url(os.environ["DATABASE_URL"], app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url, None)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            install_sqlite_pragmas(db.engine)


def insert_posted_row() -> None:
    form = request.form
    date_text = form.get("date_column")
    db.session.add(
        BareRow(
            string_column=form["string_column"],
            integer_column=int(form["integer_column"]) if form.get("integer_column") else None,
            date_column=datetime.fromisoformat(date_text) if date_text else None,
        )
    )
    db.session.commit()


def create_app() -> Flask:
    """The baseline app on $DATABASE_URL."""
    app = Flask(__name__)
    init_database(app)

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.post("/insert")
    def insert():
        insert_posted_row()
        return redirect("/insert", code=303)

    @app.get("/form")
    def form_page():
        return render_template_string(FORM_PAGE)

    @app.post("/form")
    def form_save():
        insert_posted_row()
        return redirect("/form", code=303)

    return app
