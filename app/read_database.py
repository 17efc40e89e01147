"""The database that long reads use: DATABASE_READ_URL (a read replica) or else DATABASE_URL.

Exports, downloads, freezes and the researcher's examples read through `read_engine()`, so a
million-row export can run on an RDS read replica while clerks save on the primary. Unset, the
read engine is the app's own engine (one pool, nothing more to configure).
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import Flask, current_app

from app.database import (
    database_timeouts,
    engine_options,
    install_postgres_read_timeout,
    install_sqlite_pragmas,
    parse_database_url,
)
from app.extensions import db
from config import ConfigError

_lock = threading.Lock()


def configure(app: Flask) -> None:
    """Resolve DATABASE_READ_URL (when set) the way DATABASE_URL is resolved."""
    raw = app.config.get("DATABASE_READ_URL")
    app.config["SQLALCHEMY_READ_URI"] = None
    if not raw:
        return
    try:
        url = parse_database_url(raw, app.instance_path, app.config.get("DATABASE_PASSWORD"))
    except ConfigError as exc:  # say which variable: the messages name DATABASE_URL
        raise ConfigError(str(exc).replace("DATABASE_URL", "DATABASE_READ_URL")) from None
    app.config["SQLALCHEMY_READ_URI"] = url.render_as_string(hide_password=False)
    app.config["SQLALCHEMY_READ_ENGINE_OPTIONS"] = engine_options(
        url, app.config.get("DATABASE_SSL_CA"), database_timeouts(app.config)
    )


def read_engine() -> sa.Engine:
    """The engine for long reads: the replica's when DATABASE_READ_URL is set, else db.engine."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    uri = app.config.get("SQLALCHEMY_READ_URI")
    if not uri:
        return db.engine
    engine: sa.Engine | None = app.extensions.get("read_engine")
    if engine is None:
        with _lock:
            engine = app.extensions.get("read_engine")
            if engine is None:
                engine = sa.create_engine(uri, **app.config["SQLALCHEMY_READ_ENGINE_OPTIONS"])
                if engine.dialect.name == "sqlite":
                    install_sqlite_pragmas(engine)
                elif engine.dialect.name == "postgresql":
                    install_postgres_read_timeout(engine, app.config["DATABASE_READ_TIMEOUT"])
                app.extensions["read_engine"] = engine
    return engine


def uses_replica() -> bool:
    return bool(current_app.config.get("SQLALCHEMY_READ_URI"))
