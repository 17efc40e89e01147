"""Column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


def utcnow() -> datetime:
    """The current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A DATETIME stored as naive UTC and read back as timezone-aware UTC.

    MySQL gets DATETIME(6) so microseconds survive. Naive values handed in are taken as UTC.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class utc_now_default(FunctionElement[datetime]):
    """Server-side "now, in UTC", so a raw INSERT that omits the column still gets a time."""

    type = sa.DateTime()
    inherit_cache = True


@compiles(utc_now_default)
def _utc_now_default(element: utc_now_default, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(utc_now_default, "mysql")
@compiles(utc_now_default, "mariadb")
def _utc_now_default_mysql(element: utc_now_default, compiler: Any, **kw: Any) -> str:
    # The app sets time_zone='+00:00' per connection; RDS defaults to UTC for other clients.
    return "CURRENT_TIMESTAMP(6)"


@compiles(utc_now_default, "postgresql")
def _utc_now_default_pg(element: utc_now_default, compiler: Any, **kw: Any) -> str:
    return "(now() AT TIME ZONE 'utc')"
