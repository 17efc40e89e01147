"""Sessions: one per device's login, each with its own lifetime, listed and ended one by one."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models.types import utcnow
from app.models.user import User, UserSession

audit_log = logging.getLogger("app.audit")

# "Last seen" is written at most this often per session: a save is a hot path.
TOUCH_EVERY = timedelta(minutes=1)
# Ended and expired rows are kept this long (the account page says what ended), then pruned.
KEEP_ENDED = timedelta(days=30)
IDLE = "idle"
EXPIRED = "expired"


@dataclass(frozen=True)
class Lifetimes:
    """How long a session lives: idle and absolute limits, or the remember-me lifetime."""

    idle: timedelta
    absolute: timedelta
    remembered: timedelta

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Lifetimes:
        return cls(
            idle=timedelta(minutes=int(config["SESSION_IDLE_MINUTES"])),
            absolute=timedelta(hours=int(config["SESSION_MAX_HOURS"])),
            remembered=timedelta(days=int(config["REMEMBER_COOKIE_DAYS"])),
        )

    def end_reason(
        self, created_at: datetime, last_seen_at: datetime, remember: bool, now: datetime
    ) -> str | None:
        """Why a session still marked live is over by now ("idle", "expired"), or None."""
        if remember:
            return EXPIRED if now - created_at >= self.remembered else None
        if now - created_at >= self.absolute:
            return EXPIRED
        if now - last_seen_at >= self.idle:
            return IDLE
        return None


def session_id(token: str) -> str:
    """The stored id of the session whose cookie carries this token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    user: User, *, address: str, user_agent: str, remember: bool, now: datetime | None = None
) -> str:
    """Open a session for this device (committed) and return the token for its cookie.

    Other sessions of the user are left alone: a user may be logged in on several devices."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            id=session_id(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            client_address=(address or "")[:64],
            user_agent=(user_agent or "")[:255],
            remember=remember,
        )
    )
    _prune(user.id, now)
    db.session.commit()
    user.current_session_token = token
    return token


def _prune(user_id: int, now: datetime) -> None:
    old = now - KEEP_ENDED
    db.session.execute(
        sa.delete(UserSession).where(
            UserSession.user_id == user_id,
            sa.or_(UserSession.ended_at < old, UserSession.last_seen_at < old),
        )
    )


def end(token: str, reason: str) -> None:
    """End the session of this token (logging out), committed."""
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id == session_id(token), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    db.session.commit()


def end_all(user: User, reason: str, *, keep_token: str | None = None) -> int:
    """End every live session of the user but the one of keep_token; not committed (it goes
    with the change that ends them). Returns how many ended."""
    query = sa.update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)
    )
    if keep_token:
        query = query.where(UserSession.id != session_id(keep_token))
    result = db.session.execute(query.values(ended_at=utcnow(), end_reason=reason))
    ended = int(getattr(result, "rowcount", 0) or 0)
    if ended:
        audit_log.info("sessions ended (%s): %s, %d", reason, user.username, ended)
    return ended


def end_others(user: User, current_token: str) -> int:
    """ "Log out other sessions": every session of the user but this one ends (committed)."""
    ended = end_all(user, "logged out by the user", keep_token=current_token)
    db.session.commit()
    return ended


def end_by_admin(user: User, actor: User, *, actor_token: str | None = None) -> int:
    """An admin ends every session of a user (committed); their own, if it is theirs, goes on."""
    keep = actor_token if user.id == actor.id else None
    ended = end_all(user, f"ended by {actor.username}"[:32], keep_token=keep)
    db.session.commit()
    return ended


def live_sessions(
    user_id: int, lifetimes: Lifetimes, now: datetime | None = None
) -> list[UserSession]:
    """The user's sessions that are still open, most recently used first."""
    now = now or utcnow()
    rows = db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc())
    )
    return [
        row
        for row in rows
        if lifetimes.end_reason(row.created_at, row.last_seen_at, row.remember, now) is None
    ]


def expires_at(row: UserSession, lifetimes: Lifetimes) -> datetime:
    """When this session ends if nothing else ends it first."""
    if row.remember:
        return row.created_at + lifetimes.remembered
    return min(row.created_at + lifetimes.absolute, row.last_seen_at + lifetimes.idle)


BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A person's name for a browser: "Firefox on Windows" (the full string is kept too)."""
    browser = next((name for mark, name in BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"


def owner_of(token: str) -> int | None:
    """The user id of the session of this token, ended or not (None when unknown)."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(
        sa.select(UserSession.user_id).where(UserSession.id == session_id(token))
    )
