"""Is the database answering?"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.services.outage import discard_session

log = logging.getLogger(__name__)


def database_status() -> tuple[bool, str]:
    """Run one round trip to the database; return (ok, short reason)."""
    try:
        db.session.execute(sa.text("SELECT 1")).scalar_one()
    except SQLAlchemyError as exc:
        discard_session()
        reason = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("health check failed: %s", reason)
        return False, f"database unreachable ({reason})"
    return True, "ok"
