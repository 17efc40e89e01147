"""Accounts: creating users, checking passwords, throttling failures, the first-admin link."""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.types import utcnow
from app.models.user import ROLES, USERNAME_MAX, LoginFailure, SetupToken, User
from app.services import sessions
from app.services.errors import Conflict, Invalid, NotFound, Throttled

log = logging.getLogger(__name__)
audit_log = logging.getLogger("app.audit")

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
USERNAME_RULE = "3 to 64 characters: letters, digits, dot, dash or underscore"
PASSWORD_MIN = 10
PASSWORD_MAX = 256
SETUP_TOKEN_LIFETIME = timedelta(hours=24)
# Common passwords (Django's list of 20,000, from Royce Williams; see common-passwords.NOTICE).
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")


def normalize_username(raw: str) -> str:
    # Control characters (NUL above all, which PostgreSQL refuses) never belong in a name.
    return "".join(c for c in (raw or "") if c.isprintable()).strip().lower()


def validate_username(username: str) -> str:
    """Return the normalized username or raise Invalid."""
    name = normalize_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise Invalid(f"Usernames are {USERNAME_RULE}.", field="username")
    return name


def validate_password(password: str, username: str = "") -> None:
    """Refuse a password that is too short or long, contains the username, or is common
    (NIST SP 800-63B: length and a blocklist, no composition rules)."""
    if len(password or "") < PASSWORD_MIN:
        raise Invalid(f"Passwords need at least {PASSWORD_MIN} characters.", field="password")
    if len(password) > PASSWORD_MAX:
        raise Invalid(f"Passwords can be at most {PASSWORD_MAX} characters.", field="password")
    name = normalize_username(username)
    if name and name in password.lower():
        raise Invalid("The password must not contain the username.", field="password")
    if password.lower() in common_passwords() or password.strip().lower() in common_passwords():
        raise Invalid(
            "This password is on a list of common passwords that attackers try "
            "first: choose another.",
            field="password",
        )


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case) long enough to matter here."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(p for p in (line.strip() for line in lines) if len(p) >= PASSWORD_MIN)


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
    validate_password(password, name)
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


def set_password(user: User, password: str, *, keep_token: str | None = None) -> None:
    """Change a password; every session of that user ends, but the one of keep_token (the
    person changing their own password goes on working)."""
    validate_password(password, user.username)
    user.set_password(password)
    sessions.end_all(user, "password changed", keep_token=keep_token)
    db.session.commit()
    audit_log.info("password changed: %s", user.username)


def set_role(user: User, role: str) -> None:
    """Change a role; the last active admin keeps theirs (else nobody could manage users)."""
    role = validate_role(role)
    if (
        user.role == "admin"
        and role != "admin"
        and user.active
        and _active_admins(excluding=user.id) == 0
    ):
        raise Conflict(
            "The last active admin cannot stop being an admin: make another user admin first.",
            field="role",
        )
    user.role = role
    db.session.commit()
    audit_log.info("role changed: %s -> %s", user.username, role)


def set_active(user: User, active: bool) -> None:
    """Deactivate (every session of theirs ends) or reactivate a user."""
    if not active and user.role == "admin" and _active_admins(excluding=user.id) == 0:
        raise Conflict("The last active admin cannot be deactivated.")
    user.active = active
    if not active:
        sessions.end_all(user, "deactivated")
    db.session.commit()
    audit_log.info("user %s: %s", "reactivated" if active else "deactivated", user.username)


def _active_admins(excluding: int) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != excluding)
    )
    return db.session.scalar(query) or 0


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins are allowed in a window (settings LOGIN_*)."""

    per_pair: int  # one username from one address
    per_address: int  # any usernames from one address
    window_seconds: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoginLimits:
        return cls(
            per_pair=int(config["LOGIN_MAX_FAILURES"]),
            per_address=int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
            window_seconds=int(config["LOGIN_WINDOW_SECONDS"]),
        )


def authenticate(
    username: str,
    password: str,
    client_address: str,
    *,
    limits: LoginLimits,
    device: str | None = None,
) -> User:
    """Return the user for these credentials; raise Invalid (one message for every cause)
    or Throttled.

    Failures are throttled per address and per (username, address), and a username with
    many failures from anywhere makes unknown devices back off. A known device (one this
    username logged in from before; `device` is its id) is subject to none of it, so an
    attacker cannot lock the real user out: it only has its own budget of failures."""
    key = normalize_username(username)[:USERNAME_MAX]
    address = (client_address or "unknown")[:64]
    now = utcnow()
    since = now - timedelta(seconds=limits.window_seconds)
    if device is None or _device_failures(device, since) >= limits.per_pair:
        check_throttle(key, address, now, limits)
    user = find_user(key)
    if not _password_matches(user, password) or user is None:
        db.session.add(
            LoginFailure(username_key=key, client_address=address, device_key=device, failed_at=now)
        )
        db.session.commit()
        log.info("failed login for %r from %s", key, address)
        raise Invalid("Invalid username or password.")
    cleared = sa.and_(LoginFailure.username_key == key, LoginFailure.client_address == address)
    if device is not None:
        cleared = sa.or_(cleared, LoginFailure.device_key == device)
    db.session.execute(sa.delete(LoginFailure).where(cleared))
    user.last_login_at = now
    db.session.commit()
    return user


def _password_matches(user: User | None, password: str) -> bool:
    """Check the password, spending the same hashing work when there is no active user, so
    the answer's timing does not tell which usernames exist."""
    if user is None or not user.active:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return check_password_hash(user.password_hash, password)


@functools.cache
def _dummy_hash(method: str) -> str:
    """A hash of a random password, made once per process and hash method."""
    return generate_password_hash(secrets.token_urlsafe(24), method=method)


def _device_failures(device: str, since: datetime) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.device_key == device, LoginFailure.failed_at > since)
    )
    return db.session.scalar(query) or 0


def check_throttle(key: str, address: str, now: datetime, limits: LoginLimits) -> None:
    """Raise Throttled when this username and address must wait, saying why and how long."""
    since = now - timedelta(seconds=limits.window_seconds)
    recent = sa.select(LoginFailure.failed_at).where(LoginFailure.failed_at > since)
    for where, allowed, why in (
        (
            LoginFailure.client_address == address,
            limits.per_address,
            "Too many failed logins from your network address.",
        ),
        (
            sa.and_(LoginFailure.username_key == key, LoginFailure.client_address == address),
            limits.per_pair,
            "Too many failed logins for this username from your network address.",
        ),
    ):
        times = sorted(
            db.session.scalars(
                recent.where(where).order_by(LoginFailure.failed_at.desc()).limit(allowed)
            )
        )
        if len(times) >= allowed:
            _throttle(why, int((times[0] - since).total_seconds()) + 1)
    _check_backoff(key, now, since, limits)


def _check_backoff(key: str, now: datetime, since: datetime, limits: LoginLimits) -> None:
    """Past per_pair failures for a username from anywhere, each further try from an unknown
    device waits twice as long as the one before (at most the window) after the last failure."""
    query = sa.select(sa.func.count(), sa.func.max(LoginFailure.failed_at)).where(
        LoginFailure.username_key == key, LoginFailure.failed_at > since
    )
    count, last = db.session.execute(query).one()
    if not count or count < limits.per_pair or last is None:
        return
    delay = min(limits.window_seconds, 2 ** min(count - limits.per_pair, 20))
    wait = delay - (now - last).total_seconds()
    if wait > 0:
        _throttle(
            "This username has had many failed logins lately, so a login from a device "
            "not used for it before must wait.",
            int(wait) + 1,
            " Or log in from a computer you have logged in from before.",
        )


def _throttle(why: str, retry_after: int, after: str = "") -> None:
    retry_after = max(1, retry_after)
    raise Throttled(f"{why} Try again in {_as_wait(retry_after)}.{after}", retry_after=retry_after)


def _as_wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = (seconds + 59) // 60
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def logout(token: str | None) -> None:
    """End this device's session (every copy of its cookie); other devices stay logged in."""
    if token:
        sessions.end(token, "logged out")


def issue_setup_token() -> str | None:
    """A fresh single-use token for creating the first admin, or None once any user exists."""
    if count_users() > 0:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        SetupToken(token_hash=_hash(token), created_at=now, expires_at=now + SETUP_TOKEN_LIFETIME)
    )
    db.session.commit()
    return token


def setup_token_valid(token: str) -> bool:
    return _live_setup_token(token) is not None and count_users() == 0


def redeem_setup_token(token: str, username: str, password: str) -> User:
    """Create the first admin with a valid token and burn the token."""
    record = _live_setup_token(token)
    if record is None or count_users() > 0:
        raise NotFound("This setup link is invalid, used or expired.")
    validate_password(password, validate_username(username))
    record.used_at = utcnow()  # committed together with the new admin
    return create_user(username, password, "admin")


def _live_setup_token(token: str) -> SetupToken | None:
    if not token or len(token) > 128:
        return None
    record: SetupToken | None = db.session.scalar(
        sa.select(SetupToken).where(SetupToken.token_hash == _hash(token))
    )
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        return None
    return record


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
