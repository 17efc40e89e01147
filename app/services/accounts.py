"""Accounts: creating users, checking passwords, throttling failures, the first-admin link."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models.types import utcnow
from app.models.user import ROLES, USERNAME_MAX, LoginFailure, SetupToken, User
from app.services.errors import Conflict, Invalid, NotFound, Throttled

log = logging.getLogger(__name__)
audit_log = logging.getLogger("app.audit")

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
USERNAME_RULE = "3 to 64 characters: letters, digits, dot, dash or underscore"
PASSWORD_MIN = 10
PASSWORD_MAX = 256
SETUP_TOKEN_LIFETIME = timedelta(hours=24)
# Per client address the limit is wider: several clerks may share one office address.
ADDRESS_LIMIT_FACTOR = 4


def normalize_username(raw: str) -> str:
    # Control characters (NUL above all, which PostgreSQL refuses) never belong in a name.
    return "".join(c for c in (raw or "") if c.isprintable()).strip().lower()


def validate_username(username: str) -> str:
    """Return the normalized username or raise Invalid."""
    name = normalize_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise Invalid(f"Usernames are {USERNAME_RULE}.", field="username")
    return name


def validate_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise Invalid(f"Passwords need at least {PASSWORD_MIN} characters.", field="password")
    if len(password) > PASSWORD_MAX:
        raise Invalid(f"Passwords can be at most {PASSWORD_MAX} characters.", field="password")


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}.", field="role")
    return role


def find_user(username: str) -> User | None:
    name = normalize_username(username)
    if not name or len(name) > USERNAME_MAX:
        return None
    return db.session.scalar(sa.select(User).where(User.username == name))


def create_user(username: str, password: str, role: str) -> User:
    """Create and commit a user; raise Invalid or Conflict."""
    name = validate_username(username)
    validate_password(password)
    validate_role(role)
    if find_user(name) is not None:
        raise Conflict(f"The username {name!r} is taken.", field="username")
    user = User(username=name, role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    audit_log.info("user created: %s (%s)", name, role)
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.username)))


def clerk_names() -> dict[int, str]:
    """Every clerk's id and username, for filters (one query)."""
    query = sa.select(User.id, User.username).where(User.role == "clerk").order_by(User.username)
    return dict(db.session.execute(query).all())


def count_users() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)) or 0


def set_password(user: User, password: str) -> None:
    """Change a password; every existing session of that user ends."""
    validate_password(password)
    user.set_password(password)
    db.session.commit()
    audit_log.info("password changed: %s", user.username)


def set_role(user: User, role: str) -> None:
    user.role = validate_role(role)
    db.session.commit()
    audit_log.info("role changed: %s -> %s", user.username, role)


def set_active(user: User, active: bool) -> None:
    """Deactivate (their live sessions end on the next request) or reactivate a user."""
    if not active and user.role == "admin" and _active_admins(excluding=user.id) == 0:
        raise Conflict("The last active admin cannot be deactivated.")
    user.active = active
    user.rotate_session()
    db.session.commit()
    audit_log.info("user %s: %s", "reactivated" if active else "deactivated", user.username)


def _active_admins(excluding: int) -> int:
    query = sa.select(sa.func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True), User.id != excluding
    )
    return db.session.scalar(query) or 0


def authenticate(username: str, password: str, client_address: str, *, limit: int,
                 window_seconds: int) -> User:
    """Return the user for these credentials; raise Invalid (one message for every cause)
    or Throttled after too many failures for this username or address."""
    key = normalize_username(username)[:USERNAME_MAX]
    address = (client_address or "unknown")[:64]
    now = utcnow()
    check_throttle(key, address, now, limit=limit, window_seconds=window_seconds)
    user = find_user(key)
    if user is None or not user.active or not user.check_password(password):
        db.session.add(LoginFailure(username_key=key, client_address=address, failed_at=now))
        db.session.commit()
        log.info("failed login for %r from %s", key, address)
        raise Invalid("Invalid username or password.")
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.username_key == key))
    user.rotate_session()
    user.last_login_at = now
    db.session.commit()
    return user


def check_throttle(key: str, address: str, now: datetime, *, limit: int,
                   window_seconds: int) -> None:
    since = now - timedelta(seconds=window_seconds)
    for column, value, allowed in (
        (LoginFailure.username_key, key, limit),
        (LoginFailure.client_address, address, limit * ADDRESS_LIMIT_FACTOR),
    ):
        recent = sa.select(LoginFailure.failed_at).where(column == value,
                                                        LoginFailure.failed_at > since)
        times = sorted(db.session.scalars(recent.order_by(LoginFailure.failed_at.desc())
                                          .limit(allowed)))
        if len(times) >= allowed:
            retry_after = max(1, int((times[0] - since).total_seconds()) + 1)
            raise Throttled(
                f"Too many failed logins. Try again in {_as_wait(retry_after)}.",
                retry_after=retry_after,
            )


def _as_wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = (seconds + 59) // 60
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def logout(user: User) -> None:
    """End every copy of the user's session cookie."""
    user.rotate_session()
    db.session.commit()


def issue_setup_token() -> str | None:
    """A fresh single-use token for creating the first admin, or None once any user exists."""
    if count_users() > 0:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(SetupToken(token_hash=_hash(token), created_at=now,
                              expires_at=now + SETUP_TOKEN_LIFETIME))
    db.session.commit()
    return token


def setup_token_valid(token: str) -> bool:
    return _live_setup_token(token) is not None and count_users() == 0


def redeem_setup_token(token: str, username: str, password: str) -> User:
    """Create the first admin with a valid token and burn the token."""
    record = _live_setup_token(token)
    if record is None or count_users() > 0:
        raise NotFound("This setup link is invalid, used or expired.")
    validate_username(username)
    validate_password(password)
    record.used_at = utcnow()  # committed together with the new admin
    return create_user(username, password, "admin")


def _live_setup_token(token: str) -> SetupToken | None:
    if not token or len(token) > 128:
        return None
    record: SetupToken | None = db.session.scalar(
        sa.select(SetupToken).where(SetupToken.token_hash == _hash(token)))
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        return None
    return record


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
