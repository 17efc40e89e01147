"""How Flask-Login finds the user behind a session cookie.

Every request that is logged in starts here, so the user is read with one plain SELECT and
placed in the session as if the ORM had loaded it (no query object, no result processing).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_login import LoginManager
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from app.extensions import db
from app.models.user import User

USERS = User.__table__
BY_SESSION_TOKEN = sa.select(USERS).where(USERS.c.session_token == sa.bindparam("token"))
USER_ATTRIBUTES = [(prop.key, prop.columns[0]) for prop in sa.inspect(User).column_attrs]


def load_user(session_token: str) -> User | None:
    """The active user whose current session id this is; a rotated or deactivated one is None."""
    if not session_token or len(session_token) > 64:
        return None
    row = _find(session_token)
    if row is None or not row.active:
        return None
    return _as_loaded(row)


def _find(session_token: str) -> Any:
    session = db.session()
    if db.engine.dialect.name != "sqlite" or session.in_transaction():
        return session.connection().execute(BY_SESSION_TOKEN, {"token": session_token}).first()
    # SQLite: a POST's transaction begins with BEGIN IMMEDIATE, which takes the database's one
    # write lock. Read on a connection of its own instead (a plain BEGIN), so a save holds the
    # lock from its first write to its commit, not for the whole request.
    with db.engine.connect() as conn:
        return (conn.execution_options(read_only=True)
                .execute(BY_SESSION_TOKEN, {"token": session_token}).first())


def _as_loaded(row: Any) -> User:
    """The user of a users row, persistent in this request's session as if queried."""
    session = db.session()
    existing = session.identity_map.get(identity_key(User, row.id))
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    user = User(**{key: row._mapping[column] for key, column in USER_ATTRIBUTES})
    make_transient_to_detached(user)  # its values are what the database holds
    session.add(user)
    return user


def configure_login(manager: LoginManager) -> None:
    manager.user_loader(load_user)
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to continue."
    manager.login_message_category = "warning"
    manager.session_protection = "basic"
