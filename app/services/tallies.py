"""Running counts for the dashboard, kept in step with every change the portal makes.

Counting a million rows by status on every refresh costs what the million rows cost; reading
these counts costs the same at any size. They are kept in the same transaction as each change:

- ORM changes of documents, assignments, comparisons and entry rows move counts through mapper
  events (`install`): an insert adds, a delete subtracts, a change of status (or clerk) moves.
- The statements that bypass the ORM add their own: a saved row (entries.create_row), rows
  moved to a status together (review.set_row_status), an import, and the per-clerk
  submitted / returned documents (documents.submit, review.return_document).

Rows written around the portal (the researcher's own SQL) are not seen until the next recount,
which rebuilds every count from the tables themselves: when the table is empty, when the last
recount is older than DASHBOARD_RECOUNT_MINUTES (config.py; 0: only on demand), and on
`flask dashboard recount`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Mapper, aliased
from sqlalchemy.orm.attributes import get_history

from app.entry_tables.registry import entry_tables
from app.extensions import db
from app.models.audit import AuditEvent
from app.models.document import Assignment, Document
from app.models.entry import EntryMixin
from app.models.quality import Comparison, DoubleEntryRow
from app.models.tally import Tally

DOCUMENTS = "documents"
ASSIGNMENTS = "assignments"  # by clerk and status
CLERK = "clerk"  # submitted, returned, fields_compared, differences
KEYED_PREFIX = "keyed:"  # rows keyed blind into a double entry, by table and clerk
RECOUNT = "recount"  # key "at": when the counts were last rebuilt (Unix seconds)
NO_CLERK = 0
# documents.submit and the review actions record their events against this table name.
DOCUMENT_EVENTS = "documents"
TALLIES = Tally.__table__

Key = tuple[str, int, str]  # (subject, clerk id or 0, status or measure)


def rows_subject(table_name: str) -> str:
    return f"rows:{table_name}"


def keyed_subject(table_name: str) -> str:
    return f"{KEYED_PREFIX}{table_name}"


# --- keeping the counts -----------------------------------------------------------------------


def add(deltas: Mapping[Key, int], conn: sa.Connection | None = None) -> None:
    """Add the deltas to the counts in the current transaction: one statement.

    Keys are written in a fixed order, so two transactions never lock the same counts in
    opposite orders."""
    rows = [
        {"subject": s, "clerk_id": c, "key": k, "n": n}
        for (s, c, k), n in sorted(deltas.items())
        if n
    ]
    if rows:
        conn = conn if conn is not None else db.session.connection()
        conn.execute(_upsert(conn.dialect.name), rows)


def by_key(counts: Mapping[Key, int], subject: str) -> dict[str, int]:
    """One subject's counts by status (or measure), every clerk's added together."""
    totals: dict[str, int] = {}
    for (of, _clerk, key), n in counts.items():
        if of == subject:
            totals[key] = totals.get(key, 0) + n
    return totals


def moved(subject: str, counts: Mapping[tuple[int, str], int], to_status: str) -> Counter[Key]:
    """The deltas that move counted rows, by (clerk, old status), to to_status."""
    deltas: Counter[Key] = Counter()
    for (clerk_id, status), n in counts.items():
        deltas[(subject, clerk_id, status)] -= n
        deltas[(subject, clerk_id, to_status)] += n
    return deltas


@lru_cache(maxsize=8)
def _upsert(dialect: str) -> Any:
    """INSERT a count, or add to it when it exists, in the backend's own words."""
    n = TALLIES.c.n
    if dialect in {"mysql", "mariadb"}:
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        mysql_stmt = mysql_insert(TALLIES)
        return mysql_stmt.on_duplicate_key_update(n=n + mysql_stmt.inserted.n)
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(TALLIES)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(TALLIES)
    else:
        raise NotImplementedError(f"no upsert for {dialect}")
    return stmt.on_conflict_do_update(
        index_elements=list(TALLIES.primary_key.columns), set_={"n": n + stmt.excluded.n}
    )


def _clerk(value: Any) -> int:
    return value if isinstance(value, int) else NO_CLERK


def _of_document(get: Any) -> Iterable[tuple[Key, int]]:
    yield (DOCUMENTS, NO_CLERK, get("status")), 1


def _of_assignment(get: Any) -> Iterable[tuple[Key, int]]:
    yield (ASSIGNMENTS, _clerk(get("clerk_id")), get("status")), 1


def _of_comparison(get: Any) -> Iterable[tuple[Key, int]]:
    for clerk in ("clerk_a_id", "clerk_b_id"):
        yield (CLERK, _clerk(get(clerk)), "fields_compared"), get("fields_compared") or 0
        yield (CLERK, _clerk(get(clerk)), "differences"), get("differences") or 0


def _of_keyed_row(get: Any) -> Iterable[tuple[Key, int]]:
    yield (keyed_subject(get("table_name")), _clerk(get("clerk_id")), "keyed"), 1


def _of_entry_row(table_name: str) -> Any:
    def contributions(get: Any) -> Iterable[tuple[Key, int]]:
        yield (rows_subject(table_name), _clerk(get("entered_by_id")), get("status")), 1

    return contributions


def _current(target: Any) -> Any:
    return lambda name: getattr(target, name)


def _before_change(target: Any) -> Any:
    """The value each attribute had when loaded (active_history keeps it when changed)."""

    def get(name: str) -> Any:
        history = get_history(target, name)
        if history.deleted:
            return history.deleted[0]
        if history.unchanged:
            return history.unchanged[0]
        return getattr(target, name)

    return get


def _apply(
    contributions: Any, sign: int, get: Any, deltas: Counter[Key] | None = None
) -> Counter[Key]:
    deltas = deltas if deltas is not None else Counter()
    for key, n in contributions(get):
        if key[2] is not None:
            deltas[key] += sign * n
    return deltas


def _listen(target: Any, contributions: Any, propagate: bool = False) -> None:
    """Mapper events that keep the counts of one model (or, propagated, every entry table);
    contributions(mapper) gives the function that lists what one row counts for."""

    def after_insert(mapper: Mapper[Any], conn: sa.Connection, row: Any) -> None:
        add(_apply(contributions(mapper), 1, _current(row)), conn)

    def before_update(mapper: Mapper[Any], conn: sa.Connection, row: Any) -> None:
        deltas = _apply(contributions(mapper), -1, _before_change(row))
        add(_apply(contributions(mapper), 1, _current(row), deltas), conn)

    def before_delete(mapper: Mapper[Any], conn: sa.Connection, row: Any) -> None:
        add(_apply(contributions(mapper), -1, _before_change(row)), conn)

    for name, fn in (
        ("after_insert", after_insert),
        ("before_update", before_update),
        ("before_delete", before_delete),
    ):
        event.listen(target, name, fn, propagate=propagate)


_installed = False


def install() -> None:
    """Attach the mapper events (once per process)."""
    global _installed
    if _installed:
        return
    _listen(Document, lambda _mapper: _of_document)
    _listen(Assignment, lambda _mapper: _of_assignment)
    _listen(Comparison, lambda _mapper: _of_comparison)
    _listen(DoubleEntryRow, lambda _mapper: _of_keyed_row)
    _listen(EntryMixin, lambda mapper: _of_entry_row(mapper.local_table.name), propagate=True)
    _installed = True


# --- per-clerk review outcomes (documents, not events: a second submit is not a second one) ---


def count_submit(document_id: int, clerk_id: int) -> None:
    """Before recording a clerk's submit: the first one of this document counts for them."""
    earlier = db.session.scalar(
        sa.select(AuditEvent.id)
        .where(*_document_events(document_id, "submit"), AuditEvent.actor_id == clerk_id)
        .limit(1)
    )
    if earlier is None:
        add({(CLERK, clerk_id, "submitted"): 1})


def count_return(document_id: int) -> None:
    """Before recording a return: it counts against each clerk who had submitted the document,
    unless an earlier return after their first submit counted already."""
    last_return = db.session.scalar(
        sa.select(sa.func.max(AuditEvent.at)).where(*_document_events(document_id, "return"))
    )
    first_submits = db.session.execute(
        sa.select(AuditEvent.actor_id, sa.func.min(AuditEvent.at))
        .where(*_document_events(document_id, "submit"), AuditEvent.actor_id.is_not(None))
        .group_by(AuditEvent.actor_id)
    ).all()
    add(
        {
            (CLERK, _clerk(clerk_id), "returned"): 1
            for clerk_id, first in first_submits
            if last_return is None or last_return < first
        }
    )


def _document_events(document_id: int, action: str) -> list[sa.ColumnElement[bool]]:
    return [
        AuditEvent.table_name == DOCUMENT_EVENTS,
        AuditEvent.row_key == str(document_id),
        AuditEvent.action == action,
        AuditEvent.document_id == document_id,
    ]


# --- reading and rebuilding -------------------------------------------------------------------


def read(conn: sa.Connection) -> tuple[Counter[Key], int | None]:
    """The counts, and when they were last rebuilt (Unix seconds; None: never)."""
    counts: Counter[Key] = Counter()
    recounted = None
    for subject, clerk_id, key, n in conn.execute(sa.select(TALLIES)):
        if subject == RECOUNT:
            recounted = int(n)
        elif n:
            counts[(subject, clerk_id, key)] = int(n)
    return counts, recounted


def _clock() -> float:
    return time.time()


def recount_due(recounted: int | None) -> bool:
    """Never counted, or last counted DASHBOARD_RECOUNT_MINUTES ago (0: never due)."""
    if recounted is None:
        return True
    minutes = current_app.config["DASHBOARD_RECOUNT_MINUTES"]
    return bool(minutes) and _clock() - recounted >= minutes * 60


_ANY = object()


def recount(*, seen: Any = _ANY) -> Counter[Key]:
    """Rebuild every count from the tables, on a connection of its own; returns the counts.

    The counts are locked first, so no save adds to them meanwhile: a save still in flight
    adds its row after the rebuild, which did not see it. `seen` is the rebuild time the caller
    read (None: none): when another process has rebuilt since, its counts are used instead
    (two dashboards refreshing at once rebuild once)."""
    with db.engine.connect() as conn:
        conn = conn.execution_options(read_only=False)  # SQLite: BEGIN IMMEDIATE, even in a GET
        with conn.begin():
            _lock(conn)
            if seen is not _ANY:
                counts, recounted = read(conn)
                if recounted is not None and (seen is None or recounted > seen):
                    return counts
            counts = computed(conn)
            conn.execute(TALLIES.delete())
            rows = [
                {"subject": s, "clerk_id": c, "key": k, "n": n}
                for (s, c, k), n in sorted(counts.items())
                if n
            ]
            rows.append({"subject": RECOUNT, "clerk_id": NO_CLERK, "key": "at", "n": int(_clock())})
            conn.execute(TALLIES.insert(), rows)
    return counts


def _lock(conn: sa.Connection) -> None:
    """Hold off every change of the counts until this transaction ends."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql("LOCK TABLE tallies IN SHARE ROW EXCLUSIVE MODE")
    elif dialect in {"mysql", "mariadb"}:
        # Every row and every gap between them: an insert of a new count waits too.
        conn.execute(sa.select(TALLIES.c.subject).with_for_update())
    # SQLite: the transaction began with BEGIN IMMEDIATE, so no other writer runs.


def computed(conn: sa.Connection) -> Counter[Key]:
    """Every count, counted from the tables themselves (what the tallies must equal)."""
    counts: Counter[Key] = Counter()
    for status, n in conn.execute(
        sa.select(Document.status, sa.func.count()).group_by(Document.status)
    ):
        counts[(DOCUMENTS, NO_CLERK, status)] += n
    clerk = sa.func.coalesce(Assignment.clerk_id, NO_CLERK)
    for clerk_id, status, n in conn.execute(
        sa.select(clerk, Assignment.status, sa.func.count()).group_by(clerk, Assignment.status)
    ):
        counts[(ASSIGNMENTS, clerk_id, status)] += n
    for table in entry_tables():
        model = table.model
        clerk = sa.func.coalesce(model.entered_by_id, NO_CLERK)
        for clerk_id, status, n in conn.execute(
            sa.select(clerk, model.status, sa.func.count()).group_by(clerk, model.status)
        ):
            if status is not None:
                counts[(rows_subject(table.name), clerk_id, status)] += n
    for table_name, clerk_id, n in conn.execute(
        sa.select(DoubleEntryRow.table_name, DoubleEntryRow.clerk_id, sa.func.count()).group_by(
            DoubleEntryRow.table_name, DoubleEntryRow.clerk_id
        )
    ):
        counts[(keyed_subject(table_name), _clerk(clerk_id), "keyed")] += n
    _count_review_outcomes(conn, counts)
    for column in (Comparison.clerk_a_id, Comparison.clerk_b_id):
        for clerk_id, compared, differences in conn.execute(
            sa.select(
                column, sa.func.sum(Comparison.fields_compared), sa.func.sum(Comparison.differences)
            ).group_by(column)
        ):
            counts[(CLERK, _clerk(clerk_id), "fields_compared")] += int(compared or 0)
            counts[(CLERK, _clerk(clerk_id), "differences")] += int(differences or 0)
    return +counts  # zeros dropped


def _count_review_outcomes(conn: sa.Connection, counts: Counter[Key]) -> None:
    """Documents each clerk submitted, and how many of those were returned after a submit of
    theirs, from the audit trail."""
    submit, ret = aliased(AuditEvent), aliased(AuditEvent)
    clerk = sa.func.coalesce(submit.actor_id, NO_CLERK)
    submitted = (
        sa.select(clerk, sa.func.count(sa.distinct(submit.document_id)))
        .where(
            submit.table_name == DOCUMENT_EVENTS,
            submit.action == "submit",
            submit.document_id.is_not(None),
        )
        .group_by(clerk)
    )
    for clerk_id, n in conn.execute(submitted):
        counts[(CLERK, clerk_id, "submitted")] += int(n)
    returned = (
        sa.select(clerk, sa.func.count(sa.distinct(ret.document_id)))
        .select_from(ret)
        .join(
            submit,
            sa.and_(
                submit.document_id == ret.document_id,
                submit.table_name == DOCUMENT_EVENTS,
                submit.action == "submit",
                submit.at <= ret.at,
            ),
        )
        .where(ret.table_name == DOCUMENT_EVENTS, ret.action == "return")
        .group_by(clerk)
    )
    for clerk_id, n in conn.execute(returned):
        counts[(CLERK, clerk_id, "returned")] += int(n)
