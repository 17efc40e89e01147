"""How Flask-Login finds the user behind a session cookie, and how a device's session starts.

The cookie carries the token of one device's session (a `user_sessions` row). Every request that
is logged in starts here, so the session and its user are read with one plain SELECT (a join)
and the user is placed in the ORM session as if it had loaded it. "Last seen" is written at most
once a minute per session, on a short connection of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g, request
from flask_login import LoginManager, login_user

from app.database import as_loaded, safe_request
from app.entry_tables.registry import EntryTable
from app.extensions import db
from app.models.types import utcnow
from app.models.user import User, UserSession
from app.services import entries, sessions

F = TypeVar("F", bound=Callable[..., Any])
USERS = User.__table__
SESSIONS = UserSession.__table__
# What a request reads of its user; the other columns (the password hash...) load when read.
USER_ATTRIBUTES = [
    (prop.key, prop.columns[0])
    for prop in sa.inspect(User).column_attrs
    if prop.key in {"id", "username", "role", "active"}
]
BY_SESSION = (
    sa.select(
        *(column for _key, column in USER_ATTRIBUTES),
        SESSIONS.c.created_at.label("s_created_at"),
        SESSIONS.c.last_seen_at.label("s_last_seen_at"),
        SESSIONS.c.remember.label("s_remember"),
        SESSIONS.c.ended_at.label("s_ended_at"),
        SESSIONS.c.end_reason.label("s_end_reason"),
    )
    .select_from(SESSIONS.join(USERS, USERS.c.id == SESSIONS.c.user_id))
    .where(SESSIONS.c.id == sa.bindparam("sid"))
)


# What a view reads with the login check (reads_document): a document id, and an entry table
# whose count_rows on it is wanted too (or None).
Wanted = tuple[int, "EntryTable | None"]


def reads_document(locate: Callable[[], Wanted | None]) -> Callable[[F], F]:
    """For a view that reads one document (and a table's count of rows on it) whatever else it
    does: locate() names them from the request (None: none), and the login check reads them
    in its own statement (one round trip less on every page or save of the view). Put it
    right under the route decorator."""

    def decorate(view: F) -> F:
        view.login_reads_document = locate  # type: ignore[attr-defined]
        return view

    return decorate


def load_user(token: str) -> User | None:
    """The active user of this live session; an ended, expired or deactivated one is None."""
    if not token or len(token) > 64:
        return None
    sid = sessions.session_id(token)
    row, document_rows = _find(sid)
    if row is None:
        return None
    now = utcnow()
    lifetimes = sessions.Lifetimes.from_config(current_app.config)
    reason = (
        row.s_end_reason
        if row.s_ended_at is not None
        else lifetimes.end_reason(row.s_created_at, row.s_last_seen_at, row.s_remember, now)
    )
    if reason is not None or not row.active:
        if row.s_ended_at is None and reason is not None:
            _write(
                sa.update(SESSIONS)
                .where(SESSIONS.c.id == sid, SESSIONS.c.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
            )
        # Said on the login page; what an entry form posted now is kept for this user.
        g.session_ended = reason or "deactivated"
        g.ended_session_user = row.id
        return None
    if now - row.s_last_seen_at >= sessions.TOUCH_EVERY:
        _write(sa.update(SESSIONS).where(SESSIONS.c.id == sid).values(last_seen_at=now))
    user = _as_loaded(row)
    user.current_session_token = token
    if document_rows is not None:
        entries.adopt_document(*document_rows, user)
    return user


def _find(sid: str) -> tuple[Any, tuple[Any, EntryTable | None] | None]:
    """The session's row (user and session columns), and, when the view reads a document
    (reads_document), the rows with it and the table counted."""
    session = db.session()
    if db.engine.dialect.name != "sqlite" or session.in_transaction() or safe_request():
        # A GET's transaction on SQLite is a plain BEGIN (a snapshot, no lock): one connection
        # serves the login check and the page.
        wanted = _wanted()
        if wanted is None:
            return session.connection().execute(BY_SESSION, {"sid": sid}).first(), None
        document_id, table = wanted
        rows = (
            session.connection()
            .execute(_by_session_with_document(table), {"sid": sid, "document": document_id})
            .all()
        )
        return (rows[0] if rows else None), (rows, table)
    # SQLite: a POST's transaction begins with BEGIN IMMEDIATE, which takes the database's one
    # write lock. Read on a connection of its own instead (a plain BEGIN), so a save holds the
    # lock from its first write to its commit, not for the whole request (the view reads its
    # document in its own transaction).
    with db.engine.connect() as conn:
        read = conn.execution_options(read_only=True)
        return read.execute(BY_SESSION, {"sid": sid}).first(), None


def _wanted() -> Wanted | None:
    endpoint = request.endpoint
    view = current_app.view_functions.get(endpoint) if endpoint else None
    locate = getattr(view, "login_reads_document", None)
    return locate() if locate is not None else None


@lru_cache(maxsize=64)
def _by_session_with_document(table: EntryTable | None) -> sa.Select[Any]:
    """BY_SESSION with the document (entries.with_document), built once per table."""
    # The session's row as a derived table (merged by every database's planner): joined as
    # one FROM, MySQL's SQLAlchemy compiler sees it linked to the document's (no "cartesian
    # product" warning).
    login = BY_SESSION.subquery("login")
    columns, from_ = entries.with_document(login, login.c.id, login.c.role, table)
    return sa.select(*login.c, *columns).select_from(from_)


def _write(statement: Any) -> None:
    """A small write of its own, committed at once (never part of the request's work)."""
    with db.engine.begin() as conn:
        conn.execute(statement)


def _as_loaded(row: Any) -> User:
    """The user of a users row, persistent in this request's session as if queried."""
    values = row._mapping  # BY_SESSION's columns, by name (also from the derived table)
    return as_loaded(
        db.session(), User, {key: values[column.name] for key, column in USER_ATTRIBUTES}
    )


def start_session(user: User, *, remember: bool = False, now: datetime | None = None) -> None:
    """Log this device in: a new session row, and the cookie naming it."""
    sessions.start(
        user,
        address=request.remote_addr or "",
        remember=remember,
        now=now,
        user_agent=request.headers.get("User-Agent", ""),
    )
    login_user(user, remember=remember)


def current_token(user: Any) -> str | None:
    """The token of the session this request runs under, if logged in."""
    return getattr(user, "current_session_token", None)


def configure_login(manager: LoginManager) -> None:
    manager.user_loader(load_user)
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to continue."
    manager.login_message_category = "warning"
    manager.session_protection = "basic"
