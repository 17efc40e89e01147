"""The application factory."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from flask import Flask

from app import read_database, storage
from app.database import (
    database_timeouts,
    engine_options,
    install_postgres_read_timeout,
    install_sqlite_pragmas,
    parse_database_url,
)
from app.extensions import bootstrap, csrf, db, login_manager, migrate
from app.web import IdConverter
from config import PROJECT_ROOT, TestingConfig, config_from_env


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the portal from APP_ENV, or from TestingConfig plus `test_config` overrides."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = IdConverter  # before any route is added
    configure_app(app, test_config)
    configure_logging(app)
    register_request_log(app)
    register_extensions(app)
    register_security(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure_app(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Load the configuration class and resolve the database URL."""
    config_obj = TestingConfig() if test_config is not None else config_from_env()
    config_obj.check()
    app.config.from_object(config_obj)
    app.config.update(test_config or {})
    url = parse_database_url(
        app.config.get("DATABASE_URL"), app.instance_path, app.config.get("DATABASE_PASSWORD")
    )
    if not app.config.get("DATABASE_URL"):
        # The embedded default lives in the instance folder, which a fresh clone lacks.
        os.makedirs(app.instance_path, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(url, app.config.get("DATABASE_SSL_CA"), database_timeouts(app.config)),
    )
    read_database.configure(app)


def configure_logging(app: Flask) -> None:
    """Send the app's logs to stderr, so stdout stays clean for `flask export`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("app")
    if not any(getattr(h, "_portal", False) for h in root.handlers):
        handler._portal = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    root.propagate = False


def register_request_log(app: Flask) -> None:
    from app import request_log

    request_log.register(app)


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (every table must be known to Alembic)
    from app.entry_tables.forms import check_entry_tables
    from app.services import tallies

    check_entry_tables()  # a column type no form can hold stops the app here, named
    tallies.install()  # the dashboard's running counts follow every ORM change

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            install_sqlite_pragmas(db.engine)
        elif db.engine.dialect.name == "postgresql":
            install_postgres_read_timeout(db.engine, app.config["DATABASE_READ_TIMEOUT"])
    migrate.init_app(
        app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    bootstrap.init_app(app)
    storage.register(app)


def register_security(app: Flask) -> None:
    from app import cookie_sessions, form_input, navigation, security, web
    from app.auth.session import configure_login

    configure_login(login_manager)
    cookie_sessions.register(app)
    security.register(app)
    form_input.register(app)
    navigation.register(app)
    web.register(app)


def register_blueprints(app: Flask) -> None:
    from app.admin import bp as admin_bp
    from app.auth import bp as auth_bp
    from app.dashboard import bp as dashboard_bp
    from app.data import bp as data_bp
    from app.documents import bp as documents_bp
    from app.entries import bp as entries_bp
    from app.freezes import bp as freezes_bp
    from app.main import bp as main_bp
    from app.review import bp as review_bp
    from app.workspace import bp as workspace_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(entries_bp)
    app.register_blueprint(data_bp)
    app.register_blueprint(documents_bp)
    app.register_blueprint(workspace_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(freezes_bp)


def register_errorhandlers(app: Flask) -> None:
    from app.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
