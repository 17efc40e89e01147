"""What the live dashboard shows, read with a fixed number of small queries.

Whole-table figures (documents and rows by status, each clerk's assignments, submissions,
returns and discrepancies) come from the running counts of app/services/tallies.py, one small
table. The rest reads bounded ranges of indexes: today's rows per entry table, the latest
events, the open flags, the last hours' activity. Never one query per clerk or per document, and
never a count over a whole table, so the page costs the same whatever the data size. Times are
UTC; "today" starts at 00:00 UTC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.entry_tables.registry import EntryTable, entry_tables
from app.extensions import db
from app.models.audit import AuditEvent
from app.models.document import DOCUMENT_STATUSES
from app.models.entry import ROW_STATUSES
from app.models.quality import Comparison, DoubleEntryRow, QualityFlag
from app.models.queries import FieldQuery
from app.models.types import utcnow
from app.models.user import User
from app.services import tallies

RECENT_EVENTS = 15
LATEST_FLAGS = 5
CHART_HOURS = 12
AGREEMENT_WEEKS = 8
# The per-clerk running counts, by the ClerkStats field they fill.
MEASURES = ("submitted", "returned", "fields_compared", "differences")


@dataclass(frozen=True)
class StatusShare:
    status: str
    count: int
    percent: float  # of the total, 0-100


@dataclass
class WeekStats:
    """One clerk's agreement figures for one week (Monday 00:00 UTC on)."""

    start: datetime
    fields_compared: int = 0
    differences: int = 0
    queries_open: int = 0  # queries opened that week not closed (yet)
    queries_closed: int = 0  # queries opened that week and closed
    submitted: int = 0  # documents the clerk submitted that week
    returned: int = 0  # documents of theirs returned that week

    @property
    def difference_rate(self) -> float | None:
        return self.differences / self.fields_compared if self.fields_compared else None

    @property
    def returned_share(self) -> float | None:
        return min(1.0, self.returned / self.submitted) if self.submitted else None


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
    rows_keyed: int = 0  # rows keyed blind into double entries (kept apart until reconciled)
    weeks: list[WeekStats] = field(default_factory=list)  # oldest first, AGREEMENT_WEEKS

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
    keyed: int = 0  # rows keyed blind into double entries, not yet in the table itself

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
    def agreement_weeks(self) -> int:
        return AGREEMENT_WEEKS

    @property
    def peak_difference_rate(self) -> float:
        """The highest weekly difference rate of any clerk (at least 5 %): the charts' scale."""
        rates = [w.difference_rate or 0.0 for c in self.clerks for w in c.weeks]
        return max([0.05, *rates])

    @property
    def busiest_hour(self) -> int:
        return max((b.events for b in self.activity), default=0)


def shares(counts: dict[str, int], known: Sequence[str]) -> list[StatusShare]:
    """Counts in the usual status order (unknown statuses last), each with its percentage."""
    total = sum(counts.values())
    order = [*known, *sorted(s for s in counts if s not in known)]
    return [
        StatusShare(s, counts.get(s, 0), 100 * counts.get(s, 0) / total if total else 0.0)
        for s in order
        if s in known or counts.get(s)
    ]


def build_dashboard(now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows, as of `now` (default: this moment, UTC).

    Read in one read-only transaction on a connection of its own: a consistent snapshot, and
    on SQLite a plain BEGIN (a WAL snapshot) that never holds up a clerk's save. Whole-table
    figures come from the running counts (app/services/tallies.py), rebuilt first when due.
    """
    now = now or utcnow()
    with db.engine.connect() as conn:
        conn = conn.execution_options(read_only=True)
        counts, recounted = tallies.read(conn)
        if tallies.recount_due(recounted):
            counts = tallies.recount(seen=recounted)
        return _read(conn, now, counts)


def _read(conn: sa.Connection, now: datetime, counts: Counter[tallies.Key]) -> Dashboard:
    clerks = _clerks(conn, counts)
    by_id = {c.id: c for c in clerks}
    tables = [_table_stats(conn, table, by_id, now, counts) for table in entry_tables()]
    _keyed_today(conn, by_id, now)
    _agreement(conn, by_id, now)
    is_open = QualityFlag.status == "open"
    return Dashboard(
        generated_at=now,
        documents=tallies.by_key(counts, tallies.DOCUMENTS),
        clerks=clerks,
        tables=tables,
        recent_events=_recent_events(conn),
        open_flags=conn.scalar(sa.select(sa.func.count()).select_from(QualityFlag).where(is_open))
        or 0,
        latest_flags=list(
            conn.execute(
                sa.select(QualityFlag.__table__)
                .where(is_open)
                .order_by(QualityFlag.id.desc())
                .limit(LATEST_FLAGS)
            )
        ),
        activity=_activity(conn, now),
    )


def _clerks(conn: sa.Connection, counts: Counter[tallies.Key]) -> list[ClerkStats]:
    """Every active clerk with their counts and the time of their latest audit event.

    The latest event is the clerk's highest id, found along the actor_id index (which carries
    the primary key) and read by primary key: one probe per clerk inside one statement, never
    max(at) over all of a clerk's events.
    """
    last_at = (
        sa.select(AuditEvent.at)
        .where(AuditEvent.actor_id == User.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    query = (
        sa.select(User.id, User.username, last_at.label("last_at"))
        .where(User.role == "clerk", User.active.is_(True))
        .order_by(User.username)
    )
    clerks = [
        ClerkStats(id=uid, username=name, last_activity=last)
        for uid, name, last in conn.execute(query)
    ]
    by_id = {c.id: c for c in clerks}
    for (subject, clerk_id, key), n in counts.items():
        stats = by_id.get(clerk_id)
        if stats is None:
            continue
        if subject == tallies.ASSIGNMENTS:
            stats.documents_assigned += n
            if key == "submitted":
                stats.documents_done += n
        elif subject == tallies.CLERK and key in MEASURES:
            setattr(stats, key, getattr(stats, key) + n)
        elif subject.startswith(tallies.KEYED_PREFIX):
            stats.rows_keyed += n
    return clerks


def _keyed_today(conn: sa.Connection, clerks: dict[int, ClerkStats], now: datetime) -> None:
    """Rows keyed blind into double entries today and in the last hour, per clerk: one
    statement on the created_at index range (they count in the clerk's rows as any row)."""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hour_ago = now - timedelta(hours=1)
    row = DoubleEntryRow
    clerk = sa.func.coalesce(row.clerk_id, 0)
    today = (
        sa.select(clerk, sa.func.count(), sa.func.count(sa.case((row.created_at >= hour_ago, 1))))
        .where(row.created_at >= day_start)
        .group_by(clerk)
    )
    for clerk_id, count, last_hour in conn.execute(today):
        if clerk_id in clerks:
            clerks[clerk_id].rows_today += count
            clerks[clerk_id].rows_last_hour += last_hour


def week_starts(now: datetime, weeks: int = AGREEMENT_WEEKS) -> list[datetime]:
    """The Mondays (00:00 UTC) of the last `weeks` weeks, oldest first; the last is this one."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    current = day - timedelta(days=day.weekday())
    return [current - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]


def _per_week(at: Any, starts: list[datetime], value: Any = 1, when: Any = None) -> list[Any]:
    """One SUM per week of `value` over the rows whose `at` falls in that week."""
    ends = [*starts[1:], starts[-1] + timedelta(weeks=1)]
    sums = []
    for start, end in zip(starts, ends, strict=True):
        test = sa.and_(at >= start, at < end, *([when] if when is not None else []))
        sums.append(sa.func.sum(sa.case((test, value), else_=0)))
    return sums


def _agreement(conn: sa.Connection, clerks: dict[int, ClerkStats], now: datetime) -> None:
    """Per clerk and week (the last AGREEMENT_WEEKS): fields compared and differences, queries
    opened (still open / closed), documents submitted and returned. Four statements, each on
    an index range of those weeks only, never a whole table."""
    starts = week_starts(now)
    for stats in clerks.values():
        stats.weeks = [WeekStats(start) for start in starts]
    n = len(starts)

    def fill(rows: Any, *measures: str) -> None:
        for clerk_id, *sums in rows:
            stats = clerks.get(clerk_id)
            if stats is None:
                continue
            for m, measure in enumerate(measures):
                for w in range(n):
                    week = stats.weeks[w]
                    setattr(week, measure, getattr(week, measure) + int(sums[m * n + w] or 0))

    both = sa.union_all(
        *[
            sa.select(
                clerk.label("clerk_id"),
                Comparison.created_at,
                Comparison.fields_compared,
                Comparison.differences,
            ).where(Comparison.created_at >= starts[0])
            for clerk in (Comparison.clerk_a_id, Comparison.clerk_b_id)
        ]
    ).subquery()
    fill(
        conn.execute(
            sa.select(
                both.c.clerk_id,
                *_per_week(both.c.created_at, starts, both.c.fields_compared),
                *_per_week(both.c.created_at, starts, both.c.differences),
            ).group_by(both.c.clerk_id)
        ),
        "fields_compared",
        "differences",
    )
    closed = FieldQuery.status == "closed"
    fill(
        conn.execute(
            sa.select(
                FieldQuery.clerk_id,
                *_per_week(FieldQuery.opened_at, starts, when=~closed),
                *_per_week(FieldQuery.opened_at, starts, when=closed),
            )
            .where(FieldQuery.opened_at >= starts[0])
            .group_by(FieldQuery.clerk_id)
        ),
        "queries_open",
        "queries_closed",
    )
    submit = aliased(AuditEvent)
    ret = aliased(AuditEvent)
    fill(
        conn.execute(
            sa.select(submit.actor_id, *_per_week(submit.at, starts))
            .where(
                submit.table_name == tallies.DOCUMENT_EVENTS,
                submit.action == "submit",
                submit.at >= starts[0],
            )
            .group_by(submit.actor_id)
        ),
        "submitted",
    )
    # a return counts against each clerk who had submitted the document before it
    returned = [
        sa.func.count(
            sa.distinct(sa.case((sa.and_(ret.at >= start, ret.at < end), ret.document_id)))
        )
        for start, end in zip(starts, [*starts[1:], starts[-1] + timedelta(weeks=1)], strict=True)
    ]
    fill(
        conn.execute(
            sa.select(submit.actor_id, *returned)
            .select_from(ret)
            .join(
                submit,
                sa.and_(
                    submit.table_name == tallies.DOCUMENT_EVENTS,
                    submit.action == "submit",
                    submit.document_id == ret.document_id,
                    submit.at <= ret.at,
                ),
            )
            .where(
                ret.table_name == tallies.DOCUMENT_EVENTS,
                ret.action == "return",
                ret.at >= starts[0],
            )
            .group_by(submit.actor_id)
        ),
        "returned",
    )


def _table_stats(
    conn: sa.Connection,
    table: EntryTable,
    clerks: dict[int, ClerkStats],
    now: datetime,
    counts: Counter[tallies.Key],
) -> TableStats:
    """An entry table's rows by status (running counts), and today's rows per clerk: one
    statement on the created_at index range, so only today's rows are read."""
    stats = TableStats(
        table.name,
        table.label,
        tallies.by_key(counts, tallies.rows_subject(table.name)),
        tallies.by_key(counts, tallies.keyed_subject(table.name)).get("keyed", 0),
    )
    model = table.model
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hour_ago = now - timedelta(hours=1)
    # Grouped by an expression, not the bare column: given the entered_by_id index, SQLite
    # would walk the whole table along it to skip a sort, instead of today's rows only.
    clerk = sa.func.coalesce(model.entered_by_id, 0)
    today = (
        sa.select(clerk, sa.func.count(), sa.func.count(sa.case((model.created_at >= hour_ago, 1))))
        .where(model.created_at >= day_start)
        .group_by(clerk)
    )
    for clerk_id, count, last_hour in conn.execute(today):
        if clerk_id in clerks:
            clerks[clerk_id].rows_today += count
            clerks[clerk_id].rows_last_hour += last_hour
    return stats


def _recent_events(conn: sa.Connection) -> list[Any]:
    """The latest audit events, without their (possibly long) before/after values."""
    query = (
        sa.select(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.actor_name,
            AuditEvent.action,
            AuditEvent.table_name,
            AuditEvent.row_key,
            AuditEvent.document_id,
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(RECENT_EVENTS)
    )
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
    counts = [
        sa.func.count(sa.case((sa.and_(at >= start, at < end), 1)))
        for start, end in zip(starts, ends, strict=True)
    ]
    row = conn.execute(sa.select(*counts).where(AuditEvent.at >= starts[0])).one()
    return [HourBucket(start, int(n)) for start, n in zip(starts, row, strict=True)]
