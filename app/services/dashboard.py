"""What the live dashboard shows, read with a fixed number of aggregate queries.

Every figure comes from a GROUP BY (or a bounded ORDER BY ... LIMIT) on indexed columns: one
query per entry table and a handful of others, never one per clerk or per document, so the page
costs the same number of round trips with ten rows or a million. Times are UTC; "today" starts
at 00:00 UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.entries.registry import EntryTable, entry_tables
from app.extensions import db
from app.models.audit import AuditEvent
from app.models.document import DOCUMENT_STATUSES, Assignment, Document
from app.models.entry import ROW_STATUSES
from app.models.quality import Comparison, QualityFlag
from app.models.types import utcnow
from app.models.user import User

RECENT_EVENTS = 15
LATEST_FLAGS = 5
CHART_HOURS = 12
# documents.submit and the review actions record their events against this table name; the
# (table_name, row_key) index then finds them without reading every row's create event.
DOCUMENT_EVENTS = "documents"


@dataclass(frozen=True)
class StatusShare:
    status: str
    count: int
    percent: float  # of the total, 0-100


@dataclass
class ClerkStats:
    """One clerk's figures; the rates are None until there is something to divide by."""

    id: int
    username: str
    documents_done: int = 0
    documents_assigned: int = 0  # every assignment, done or not
    rows_today: int = 0
    rows_last_hour: int = 0
    last_activity: datetime | None = None
    submitted: int = 0
    returned: int = 0
    fields_compared: int = 0
    differences: int = 0

    @property
    def done_percent(self) -> float:
        if not self.documents_assigned:
            return 0.0
        return 100 * self.documents_done / self.documents_assigned

    @property
    def returned_rate(self) -> float | None:
        return self.returned / self.submitted if self.submitted else None

    @property
    def discrepancy_rate(self) -> float | None:
        return self.differences / self.fields_compared if self.fields_compared else None


@dataclass
class TableStats:
    name: str
    label: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def shares(self) -> list[StatusShare]:
        return shares(self.counts, ROW_STATUSES)


@dataclass(frozen=True)
class HourBucket:
    start: datetime
    events: int


@dataclass
class Dashboard:
    generated_at: datetime
    documents: dict[str, int]
    clerks: list[ClerkStats]
    tables: list[TableStats]
    recent_events: list[Any]  # rows: id, at, actor_name, action, table_name, row_key, ...
    open_flags: int
    latest_flags: list[Any]  # rows of quality_flags
    activity: list[HourBucket]

    @property
    def documents_total(self) -> int:
        return sum(self.documents.values())

    @property
    def document_shares(self) -> list[StatusShare]:
        return shares(self.documents, DOCUMENT_STATUSES)

    @property
    def busiest_hour(self) -> int:
        return max((b.events for b in self.activity), default=0)


def shares(counts: dict[str, int], known: Sequence[str]) -> list[StatusShare]:
    """Counts in the usual status order (unknown statuses last), each with its percentage."""
    total = sum(counts.values())
    order = [*known, *sorted(s for s in counts if s not in known)]
    return [StatusShare(s, counts.get(s, 0), 100 * counts.get(s, 0) / total if total else 0.0)
            for s in order if s in known or counts.get(s)]


def build_dashboard(now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows, as of `now` (default: this moment, UTC).

    Read in one read-only transaction on a connection of its own: a consistent snapshot, and
    on SQLite a plain BEGIN (a WAL snapshot) that never holds up a clerk's save.
    """
    now = now or utcnow()
    with db.engine.connect() as conn:
        return _read(conn.execution_options(read_only=True), now)


def _read(conn: sa.Connection, now: datetime) -> Dashboard:
    clerks = _clerks(conn)
    by_id = {c.id: c for c in clerks}
    _add_documents_done(conn, by_id)
    _add_review_outcomes(conn, by_id)
    _add_discrepancies(conn, by_id)
    tables = [_table_stats(conn, table, by_id, now) for table in entry_tables()]
    is_open = QualityFlag.status == "open"
    return Dashboard(
        generated_at=now,
        documents=_document_counts(conn),
        clerks=clerks,
        tables=tables,
        recent_events=_recent_events(conn),
        open_flags=conn.scalar(sa.select(sa.func.count()).select_from(QualityFlag)
                               .where(is_open)) or 0,
        latest_flags=list(conn.execute(sa.select(QualityFlag.__table__).where(is_open)
                                       .order_by(QualityFlag.id.desc()).limit(LATEST_FLAGS))),
        activity=_activity(conn, now),
    )


def _tag(text: str) -> sa.ColumnElement[str]:
    """A constant marking which branch of a UNION a row came from (inlined, never a parameter:
    PostgreSQL cannot type a bare parameter in a UNION)."""
    return sa.literal_column(f"'{text}'", sa.String())


def _document_counts(conn: sa.Connection) -> dict[str, int]:
    query = sa.select(Document.status, sa.func.count()).group_by(Document.status)
    return {status: count for status, count in conn.execute(query)}


def _clerks(conn: sa.Connection) -> list[ClerkStats]:
    """Every active clerk with the time of their latest audit event.

    The latest event is the clerk's highest id, found along the actor_id index (which carries
    the primary key) and read by primary key: one probe per clerk inside one statement, never
    max(at) over all of a clerk's events.
    """
    last_at = (sa.select(AuditEvent.at).where(AuditEvent.actor_id == User.id)
               .order_by(AuditEvent.id.desc()).limit(1).correlate(User).scalar_subquery())
    query = (sa.select(User.id, User.username, last_at.label("last_at"))
             .where(User.role == "clerk", User.active.is_(True)).order_by(User.username))
    return [ClerkStats(id=uid, username=name, last_activity=last)
            for uid, name, last in conn.execute(query)]


def _add_documents_done(conn: sa.Connection, clerks: dict[int, ClerkStats]) -> None:
    """Assignments per clerk, and how many of them the clerk has submitted (one pass over the
    table; grouped by an expression so SQLite does not walk it along the clerk_id index)."""
    clerk = sa.func.coalesce(Assignment.clerk_id, 0)
    query = sa.select(clerk, Assignment.status, sa.func.count()).group_by(clerk, Assignment.status)
    for clerk_id, status, count in conn.execute(query):
        stats = clerks.get(clerk_id)
        if stats is not None:
            stats.documents_assigned += count
            if status == "submitted":
                stats.documents_done += count


def _add_review_outcomes(conn: sa.Connection, clerks: dict[int, ClerkStats]) -> None:
    """Documents each clerk submitted, and how many of those were later returned (audit).

    The submit and return events are found through the (table_name, row_key) index. The groups
    are keyed by coalesce(actor_id, 0) rather than the bare column, which would tempt MariaDB
    and SQLite to walk the whole actor_id index, row by row, to skip a sort.
    """
    submit, ret = aliased(AuditEvent), aliased(AuditEvent)
    clerk = sa.func.coalesce(submit.actor_id, 0)
    submitted = (
        sa.select(clerk.label("clerk_id"), _tag("submit").label("kind"),
                  sa.func.count(sa.distinct(submit.document_id)).label("n"))
        .where(submit.table_name == DOCUMENT_EVENTS, submit.action == "submit",
               submit.document_id.is_not(None))
        .group_by(clerk))
    # A return counts against the clerks who had submitted that document before it.
    returned = (
        sa.select(clerk, _tag("return"), sa.func.count(sa.distinct(ret.document_id)))
        .select_from(ret)
        .join(submit, sa.and_(submit.document_id == ret.document_id,
                              submit.table_name == DOCUMENT_EVENTS, submit.action == "submit",
                              submit.at <= ret.at))
        .where(ret.table_name == DOCUMENT_EVENTS, ret.action == "return")
        .group_by(clerk))
    for clerk_id, kind, count in conn.execute(sa.union_all(submitted, returned)):
        stats = clerks.get(clerk_id)
        if stats is not None:
            setattr(stats, "submitted" if kind == "submit" else "returned", int(count))


def _add_discrepancies(conn: sa.Connection, clerks: dict[int, ClerkStats]) -> None:
    """Fields compared and differences found on the double-entered documents of each clerk."""
    def per(column: Any) -> sa.Select[Any]:
        return (sa.select(column, sa.func.sum(Comparison.fields_compared),
                          sa.func.sum(Comparison.differences)).group_by(column))

    query = sa.union_all(per(Comparison.clerk_a_id), per(Comparison.clerk_b_id))
    for clerk_id, compared, differences in conn.execute(query):
        stats = clerks.get(clerk_id)
        if stats is not None:
            stats.fields_compared += int(compared or 0)
            stats.differences += int(differences or 0)


def _table_stats(conn: sa.Connection, table: EntryTable, clerks: dict[int, ClerkStats],
                 now: datetime) -> TableStats:
    """One statement per entry table: its rows by status (status index) and today's rows per
    clerk (created_at index range, so only today's rows are read)."""
    model = table.model
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hour_ago = now - timedelta(hours=1)
    # Grouped by an expression, not the bare column: given the entered_by_id index, SQLite
    # would walk the whole table along it to skip a sort, instead of today's rows only.
    clerk = sa.func.coalesce(model.entered_by_id, 0)
    today = (
        sa.select(_tag("clerk").label("kind"), sa.null(), clerk, sa.func.count(),
                  sa.func.count(sa.case((model.created_at >= hour_ago, 1))))
        .where(model.created_at >= day_start)
        .group_by(clerk))
    by_status = (
        sa.select(_tag("status"), model.status, sa.null(), sa.func.count(), sa.null())
        .group_by(model.status))
    stats = TableStats(table.name, table.label)
    for kind, status, clerk_id, count, last_hour in conn.execute(
            sa.union_all(today, by_status)):
        if kind == "status":
            stats.counts[status] = count
        elif clerk_id in clerks:
            clerks[clerk_id].rows_today += count
            clerks[clerk_id].rows_last_hour += last_hour
    return stats


def _recent_events(conn: sa.Connection) -> list[Any]:
    """The latest audit events, without their (possibly long) before/after values."""
    query = (sa.select(AuditEvent.id, AuditEvent.at, AuditEvent.actor_name, AuditEvent.action,
                       AuditEvent.table_name, AuditEvent.row_key, AuditEvent.document_id)
             .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(RECENT_EVENTS))
    return list(conn.execute(query))


def hour_starts(now: datetime, hours: int = CHART_HOURS) -> list[datetime]:
    """The starts of the last `hours` clock hours, oldest first; the last is the current one."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


def _activity(conn: sa.Connection, now: datetime) -> list[HourBucket]:
    """Audit events per clock hour over the last CHART_HOURS hours, in one indexed range."""
    starts = hour_starts(now)
    ends = [*starts[1:], starts[-1] + timedelta(hours=1)]
    at = AuditEvent.at
    counts = [sa.func.count(sa.case((sa.and_(at >= start, at < end), 1)))
              for start, end in zip(starts, ends, strict=True)]
    row = conn.execute(sa.select(*counts).where(AuditEvent.at >= starts[0])).one()
    return [HourBucket(start, int(n)) for start, n in zip(starts, row, strict=True)]
