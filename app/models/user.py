"""Accounts, login throttling and the one-time setup link."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.types import UTCDateTime, utc_now_default, utcnow

ROLES = ("admin", "reviewer", "clerk")
USERNAME_MAX = 64
PASSWORD_HASH_METHOD = "scrypt"


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    """A person who logs in: an admin, a reviewer or a clerk."""

    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("role IN ('admin', 'reviewer', 'clerk')", name="role"),)
    __allow_unmapped__ = True  # current_session_token below is per request, not a column

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="clerk")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    # No longer read: each device's login is a UserSession row (revision 0009). Kept so that
    # the schema change stays one added table.
    session_token: Mapped[str] = mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=utc_now_default()
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The session this request runs under (set by the loader and at login), not a column.
    current_session_token: str | None = None

    def get_id(self) -> str:
        """Flask-Login's id: the token of this device's session, never the user's id."""
        if not self.current_session_token:
            raise RuntimeError("a user is logged in only through app.auth.session.start_session")
        return self.current_session_token

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", PASSWORD_HASH_METHOD)
        self.password_hash = generate_password_hash(password, method=method)
        self.rotate_session()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def rotate_session(self) -> None:
        self.session_token = new_session_token()

    def __repr__(self) -> str:
        return f"<User {self.username!r} {self.role}>"


class LoginFailure(db.Model):
    """One failed login, kept in the database so throttling holds across processes."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username_key: Mapped[str] = mapped_column(sa.String(USERNAME_MAX), index=True)
    client_address: Mapped[str] = mapped_column(sa.String(64), index=True)
    # The "known device" a failure came from: such a device may try only so often.
    device_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class UserSession(db.Model):
    """One device's login: a user may have several at once, each ended on its own."""

    __tablename__ = "user_sessions"

    # The SHA-256 of the token in the device's cookie: a copy of this table opens no session.
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_address: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    # "Keep me logged in": held to the remember-me lifetime instead of the idle timeout.
    remember: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))


class SetupToken(db.Model):
    """A single-use link that lets the first admin be created in the browser."""

    __tablename__ = "setup_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
