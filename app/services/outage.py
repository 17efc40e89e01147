"""When the database cannot be reached: what counts as that, and what a save then says.

A save whose connection was lost during COMMIT may have been stored or not; it is looked up
again (by its one-time form token, or the row's version) on a fresh connection before the
clerk is told anything, and only when that lookup fails too is the answer "unknown".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from app.extensions import db

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
# PyMySQL / MariaDB error codes: cannot connect, server gone or lost, connection killed, server
# shutting down, too many connections, lock wait timeout (row, table or metadata lock), and the
# statement time limits of MySQL and MariaDB.
MYSQL_UNAVAILABLE = {2002, 2003, 2006, 2013, 2014, 2055, 1040, 1053, 1205, 1927, 3024, 1969}
MYSQL_BUSY = {1205, 3024, 1969}
SQLITE_UNAVAILABLE = (
    "database is locked",
    "disk i/o error",
    "unable to open database",
    "database or disk is full",
)


class DatabaseUnavailable(Exception):
    """The database could not be reached (or was too busy) while handling a request.

    saved: False when nothing was stored, True when the change was stored but what follows
    failed, None when it is unknown whether it was stored.
    """

    def __init__(self, saved: bool | None, *, busy: bool = False) -> None:
        super().__init__("database unavailable")
        self.saved, self.busy = saved, busy


def is_unavailable(error: BaseException) -> bool:
    """Whether error means the database is unreachable, lost, timed out or locked."""
    if isinstance(error, DatabaseUnavailable | sa_exc.TimeoutError):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    if orig is None:
        return False
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return True  # connection failures, lock_timeout and statement_timeout alike
    driver, name = type(orig).__module__.split(".")[0], type(orig).__name__
    if driver == "pymysql" and name in {"OperationalError", "InterfaceError"}:
        return name == "InterfaceError" or (_mysql_code(orig) or 0) in MYSQL_UNAVAILABLE
    if driver == "sqlite3" and name == "OperationalError":
        return str(orig).lower().startswith(SQLITE_UNAVAILABLE)
    return False


def _mysql_code(orig: BaseException) -> int | None:
    code = orig.args[0] if orig.args else None
    return code if isinstance(code, int) else None


def is_busy(error: BaseException) -> bool:
    """Whether the database answered, but a lock held elsewhere outlasted the lock timeout."""
    if isinstance(error, DatabaseUnavailable):
        return error.busy
    orig = getattr(error, "orig", None)
    if orig is None:
        return False
    if type(orig).__module__.startswith("pymysql"):
        return (_mysql_code(orig) or 0) in MYSQL_BUSY
    if isinstance(orig, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
        return True
    return "database is locked" in str(orig).lower()


def discard_session() -> None:
    """Roll the session back; on a dead connection, invalidate it instead of raising."""
    session = db.session()
    try:
        session.rollback()
    except Exception:
        log.warning("rollback failed on a lost connection; invalidating it")
        try:
            session.invalidate()
        except Exception:
            log.warning("invalidating the lost connection failed too", exc_info=True)


def lost_before_commit(error: BaseException) -> DatabaseUnavailable:
    """The connection failed before COMMIT was sent: nothing was stored."""
    discard_session()
    return DatabaseUnavailable(saved=False, busy=is_busy(error))


def commit_or_resolve(was_saved: Callable[[], bool | None]) -> None:
    """Commit the session; if the connection is lost during COMMIT, find out what happened.

    Returns when the change is stored (committed now, or found stored by was_saved on a fresh
    connection); raises DatabaseUnavailable(saved=False) when it is found not stored and
    DatabaseUnavailable(saved=None) when that cannot be checked either. Errors that are not
    about the connection propagate unchanged.
    """
    server_session = _server_session()
    try:
        db.session.commit()
    except sa_exc.SQLAlchemyError as error:
        if not is_unavailable(error):
            raise
        if is_busy(error):
            discard_session()
            raise DatabaseUnavailable(saved=False, busy=True) from error
        log.warning(
            "connection lost during COMMIT (%s); looking the save up again",
            type(getattr(error, "orig", None) or error).__name__,
        )
        discard_session()
        # The server may still be finishing that COMMIT: look only once its session is gone.
        saved = _look_up(was_saved) if _ended(server_session) else None
        if saved:
            return
        raise DatabaseUnavailable(saved=saved) from error


SESSION_ALIVE = {
    "mysql": "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = :id",
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE pid = :id",
}
SESSION_END_WAIT_SECONDS = 5.0


def _server_session() -> tuple[str, int] | None:
    """(dialect, the server's id of this transaction's connection), known without a query."""
    try:
        dialect = db.session.get_bind().dialect.name
        dbapi = db.session.connection().connection.dbapi_connection
        if dialect in {"mysql", "mariadb"}:
            return "mysql", int(dbapi.thread_id())  # type: ignore[union-attr]
        if dialect == "postgresql":
            return "postgresql", int(dbapi.info.backend_pid)  # type: ignore[union-attr]
    except Exception:
        return None
    return None


def _ended(server_session: tuple[str, int] | None) -> bool:
    """Wait (a few seconds at most) until the server has ended the lost connection's session,
    so its COMMIT is either done or never will be; False if it cannot be told."""
    if server_session is None:
        return True
    dialect, session_id = server_session
    deadline = time.monotonic() + SESSION_END_WAIT_SECONDS
    while True:
        try:
            alive = db.session.execute(sa.text(SESSION_ALIVE[dialect]), {"id": session_id}).scalar()
        except sa_exc.SQLAlchemyError:
            discard_session()
            return False
        discard_session()
        if not alive:
            return True
        if time.monotonic() > deadline:
            log.warning("the lost connection's server session %s did not end", session_id)
            return False
        time.sleep(0.05)


def _look_up(was_saved: Callable[[], bool | None]) -> bool | None:
    """was_saved() in a fresh transaction: True or False, or None when it fails too."""
    try:
        found = was_saved()
    except sa_exc.SQLAlchemyError as error:
        log.warning("the save could not be looked up (%s)", type(error).__name__)
        discard_session()
        return None
    discard_session()  # end the look-up's own transaction
    log.info(
        "the save was %s", "not checked" if found is None else "found" if found else "not found"
    )
    return found
