"""How Flask-Login finds the user behind a session cookie."""

from __future__ import annotations

import sqlalchemy as sa
from flask_login import LoginManager

from app.database import reads_before_writes
from app.extensions import db
from app.models.user import User


def load_user(session_token: str) -> User | None:
    """The active user whose current session id this is; a rotated or deactivated one is None."""
    if not session_token or len(session_token) > 64:
        return None
    with reads_before_writes(db.session()):
        user = db.session.scalar(sa.select(User).where(User.session_token == session_token))
    return user if user is not None and user.active else None


def configure_login(manager: LoginManager) -> None:
    manager.user_loader(load_user)
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to continue."
    manager.login_message_category = "warning"
    manager.session_protection = "basic"
