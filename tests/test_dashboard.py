"""The live dashboard: who may see it, that its figures are right for a small hand-made dataset,
that it costs the same number of SQL statements whatever the data size, and the fragment its
script fetches. Every test that takes `app` runs on each configured backend."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Assignment,
    Comparison,
    Document,
    QualityFlag,
    RegisterPerson,
    TestDB,
    User,
)
from app.models.types import utcnow
from app.services import audit
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.dashboard import RECENT_EVENTS, build_dashboard, hour_starts
from tests.helpers import count_statements

# Noon and a half, today (UTC): "today" and "the last hour" are then the same whatever the time
# the suite runs.
NOW = utcnow().replace(hour=12, minute=30, second=0, microsecond=0)
ENDPOINTS = ("/dashboard/", "/dashboard/fragment")


# --- helpers ---------------------------------------------------------------------------------


def add_document(number: int, status: str, *, double_entry: bool = False) -> Document:
    digest = hashlib.sha256(f"dashboard-{number}".encode()).hexdigest()
    document = Document(
        storage_key=f"{digest[:32]}.pdf",
        original_name=f"page-{number}.pdf",
        content_type="application/pdf",
        size_bytes=100,
        sha256=digest,
        status=status,
        double_entry=double_entry,
    )
    db.session.add(document)
    db.session.flush()
    return document


def assign(document: Document, clerk: User, status: str) -> None:
    db.session.add(Assignment(document_id=document.id, clerk_id=clerk.id, status=status))


def event(
    action: str, table: str, key: str, actor: User, at: datetime, document: Document | None = None
) -> None:
    """An audit event at a chosen time (added in time order, as the app writes them)."""
    audit.record(
        action, table, key, actor=actor, at=at, document_id=document.id if document else None
    )


def user(name: str) -> User:
    found = find_user(name)
    assert found is not None
    return found


def clerk_row(page: str, username: str) -> str:
    """The HTML of one clerk's row in the clerks table."""
    match = re.search(rf'<tr data-clerk="{username}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {username}"
    return match.group(1)


def metric(row_html: str, name: str) -> str:
    match = re.search(rf'data-metric="{name}"[^>]*>(.*?)</td>', row_html, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", " ", match.group(1)).split()[0] if match.group(1).strip() else ""


@pytest.fixture
def people(make_user):
    for name in ("alice", "bob", "carol"):
        make_user(name, "clerk")
    make_user("dave", "clerk")
    make_user("rita", "reviewer")
    make_user("adam", "admin")


@pytest.fixture
def dataset(app, people):
    """Seven documents, three active clerks (dave is deactivated), rows, events, comparisons
    and flags, at known times relative to NOW."""
    with app.app_context():
        alice, bob, carol, dave, rita = map(user, ("alice", "bob", "carol", "dave", "rita"))
        dave.active = False
        d = {
            n: add_document(n, s, double_entry=n in (5, 6))
            for n, s in enumerate(
                [
                    "approved",
                    "returned",
                    "submitted",
                    "in_progress",
                    "submitted",
                    "submitted",
                    "new",
                ],
                start=1,
            )
        }
        for number, clerk, status in [
            (1, alice, "submitted"),
            (2, alice, "in_progress"),
            (4, alice, "in_progress"),
            (5, alice, "submitted"),
            (3, bob, "submitted"),
            (5, bob, "submitted"),
            (6, bob, "submitted"),
            (6, carol, "submitted"),
        ]:
            assign(d[number], clerk, status)
        db.session.add_all(
            [
                TestDB(
                    string_column="A-old",
                    entered_by_id=alice.id,
                    created_at=NOW - timedelta(hours=13),
                ),  # yesterday 23:30
                TestDB(
                    string_column="A-1",
                    entered_by_id=alice.id,
                    status="submitted",
                    created_at=NOW - timedelta(hours=3),
                ),
                TestDB(
                    string_column="A-2",
                    entered_by_id=alice.id,
                    created_at=NOW - timedelta(minutes=10),
                    document_id=d[4].id,
                ),
                RegisterPerson(
                    full_name="Alice's person",
                    entered_by_id=alice.id,
                    created_at=NOW - timedelta(minutes=30),
                ),
                TestDB(
                    string_column="B-1",
                    entered_by_id=bob.id,
                    status="approved",
                    created_at=NOW - timedelta(hours=2),
                ),
                TestDB(string_column="script", created_at=NOW - timedelta(minutes=5)),  # no clerk
                TestDB(string_column="D-1", entered_by_id=dave.id, created_at=NOW),
                RegisterPerson(full_name="Imported", status="imported", created_at=NOW),
            ]
        )
        for n in range(10):  # old history: pushes the recent list past its limit
            event("create", "testDB", f"old-{n}", alice, NOW - timedelta(days=2, minutes=n))
        event("create", "testDB", "A-old", alice, NOW - timedelta(hours=13))
        event("return", "documents", "3", rita, NOW - timedelta(hours=5), d[3])  # before bob
        event("submit", "documents", "3", bob, NOW - timedelta(hours=4), d[3])
        event("submit", "documents", "1", alice, NOW - timedelta(hours=2), d[1])
        event("submit", "documents", "2", alice, NOW - timedelta(minutes=90), d[2])
        event("submit", "documents", "1", alice, NOW - timedelta(minutes=85), d[1])  # again
        event("return", "documents", "2", rita, NOW - timedelta(minutes=80), d[2])
        event("approve", "documents", "1", rita, NOW - timedelta(minutes=70), d[1])
        event("create", "testDB", "A-2", alice, NOW - timedelta(minutes=10), d[4])
        db.session.add_all(
            [
                Comparison(
                    document_id=d[5].id,
                    clerk_a_id=alice.id,
                    clerk_b_id=bob.id,
                    fields_compared=20,
                    differences=2,
                ),
                Comparison(
                    document_id=d[6].id,
                    clerk_a_id=bob.id,
                    clerk_b_id=carol.id,
                    fields_compared=10,
                    differences=4,
                ),
            ]
        )
        db.session.add_all(
            QualityFlag(
                table_name="register_person",
                row_key=str(n),
                field="age",
                kind="expected_range",
                message=f"age {101 + n} is over 100",
                status="cleared" if n == 0 else "open",
                document_id=d[4].id,
            )
            for n in range(4)
        )
        db.session.commit()


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_clerk_is_refused_both_endpoints(app, client, auth, users, url):
    auth.login("clerk")
    response = client.get(url)
    assert response.status_code == 403
    assert "dashboard-live" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["reviewer", "admin"])
@pytest.mark.parametrize("url", ENDPOINTS)
def test_reviewers_and_admins_see_both(app, client, auth, users, role, url):
    auth.login(role)
    assert client.get(url).status_code == 200


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/dashboard/fragment")
    assert response.status_code in {302, 401}
    assert "/login" in response.headers.get("Location", "/login")


# --- the figures -----------------------------------------------------------------------------


def test_the_figures_for_a_small_dataset(app, dataset):
    with app.app_context():
        data = build_dashboard(NOW)
    assert data.documents == {
        "approved": 1,
        "returned": 1,
        "submitted": 3,
        "in_progress": 1,
        "new": 1,
    }
    assert data.documents_total == 7
    assert [s.status for s in data.document_shares] == [
        "new",
        "assigned",
        "in_progress",
        "submitted",
        "returned",
        "approved",
    ]
    assert [round(s.percent, 1) for s in data.document_shares][3] == round(300 / 7, 1)

    clerks = {c.username: c for c in data.clerks}
    assert list(clerks) == ["alice", "bob", "carol"]  # every active clerk, by name; not dave
    alice, bob, carol = clerks["alice"], clerks["bob"], clerks["carol"]
    assert (alice.documents_done, alice.documents_assigned) == (2, 4)
    assert (bob.documents_done, bob.documents_assigned) == (3, 3)
    assert (carol.documents_done, carol.documents_assigned) == (1, 1)
    assert (alice.rows_today, alice.rows_last_hour) == (3, 2)  # testDB 2 + register_person 1
    assert (bob.rows_today, bob.rows_last_hour) == (1, 0)
    assert (carol.rows_today, carol.rows_last_hour) == (0, 0)
    assert alice.last_activity == NOW - timedelta(minutes=10)
    assert bob.last_activity == NOW - timedelta(hours=4)
    assert carol.last_activity is None
    # alice submitted documents 1 and 2 (1 twice); 2 came back. Document 3 was returned
    # before bob submitted it, which does not count against him.
    assert (alice.returned, alice.submitted, alice.returned_rate) == (1, 2, 0.5)
    assert (bob.returned, bob.submitted, bob.returned_rate) == (0, 1, 0.0)
    assert carol.returned_rate is None
    assert (alice.differences, alice.fields_compared) == (2, 20)
    assert (bob.differences, bob.fields_compared) == (6, 30)
    assert (carol.differences, carol.fields_compared, carol.discrepancy_rate) == (4, 10, 0.4)

    tables = {t.name: t for t in data.tables}
    assert tables["testDB"].counts == {"entered": 4, "submitted": 1, "approved": 1}
    assert tables["register_person"].counts == {"entered": 1, "imported": 1}
    assert [s.status for s in tables["register_person"].shares] == [
        "entered",
        "submitted",
        "returned",
        "approved",
        "imported",
    ]

    assert len(data.recent_events) == RECENT_EVENTS
    assert [(e.action, e.row_key) for e in data.recent_events[:3]] == [
        ("create", "A-2"),
        ("approve", "1"),
        ("return", "2"),
    ]
    assert data.recent_events[0].at == NOW - timedelta(minutes=10)

    assert data.open_flags == 3
    assert [f.row_key for f in data.latest_flags] == ["3", "2", "1"]


def test_the_activity_chart_counts_events_per_clock_hour(app, dataset):
    with app.app_context():
        data = build_dashboard(NOW)
    starts = hour_starts(NOW)
    assert [b.start for b in data.activity] == starts
    assert starts[-1] == NOW.replace(minute=0) and starts[0] == starts[-1] - timedelta(hours=11)
    per_hour = {b.start.hour: b.events for b in data.activity if b.events}
    # 12:20 create; 11:00, 11:05 submits, 11:10 return, 11:20 approve; 10:30 submit;
    # 08:30 submit; 07:30 return. Yesterday's 23:30 is outside the window.
    assert per_hour == {12: 1, 11: 4, 10: 1, 8: 1, 7: 1}
    assert data.busiest_hour == 4


def test_review_outcomes_come_from_the_real_submit_and_return(app, people):
    from app.services import review

    with app.app_context():
        alice, rita = user("alice"), user("rita")
        first, second = add_document(1, "new"), add_document(2, "new")
        docs.assign([first, second], [alice], actor=None)
        docs.submit(first, alice)
        docs.submit(second, alice)
        review.return_document(second, rita, "Row 3 is missing.")
        stats = {c.username: c for c in build_dashboard().clerks}["alice"]
    assert (stats.returned, stats.submitted) == (1, 2)
    assert (stats.documents_done, stats.documents_assigned) == (1, 2)  # the returned one reopens
    assert stats.last_activity is not None


# --- a fixed number of queries ---------------------------------------------------------------


def _grow(app, start: int, documents: int, rows: int, clerks: int) -> None:
    """More of everything the dashboard aggregates: clerks, documents, rows, events, flags."""
    with app.app_context():
        from app.services.accounts import create_user

        new = [
            create_user(f"grow{start}x{n}", "correct-horse-battery", "clerk") for n in range(clerks)
        ]
        everyone = list(db.session.scalars(sa.select(User).where(User.role == "clerk")))
        for n in range(documents):
            document = add_document(start + n, "submitted", double_entry=True)
            first, second = everyone[n % len(everyone)], everyone[(n + 1) % len(everyone)]
            assign(document, first, "submitted")
            assign(document, second, "in_progress")
            event("submit", "documents", str(document.id), first, utcnow(), document)
            db.session.add(
                Comparison(
                    document_id=document.id,
                    clerk_a_id=first.id,
                    clerk_b_id=second.id,
                    fields_compared=5,
                    differences=1,
                )
            )
            db.session.add(
                QualityFlag(
                    table_name="testDB",
                    field="integer_column",
                    kind="expected_range",
                    message="odd",
                    document_id=document.id,
                )
            )
        for n in range(rows):
            clerk = everyone[n % len(everyone)]
            db.session.add(TestDB(string_column=f"G{start}-{n}", entered_by_id=clerk.id))
            db.session.add(RegisterPerson(full_name=f"P{n}", entered_by_id=clerk.id))
            event("create", "testDB", f"G{start}-{n}", clerk, utcnow())
        db.session.commit()
        assert new


def test_the_query_count_does_not_grow_with_the_data(app, client, auth, users):
    auth.login("reviewer")
    _grow(app, 1_000, documents=2, rows=3, clerks=1)
    client.get("/dashboard/")  # the first view builds the running counts (once)
    few = {url: count_statements(app, client, url) for url in ENDPOINTS}
    _grow(app, 2_000, documents=40, rows=150, clerks=6)
    many = {url: count_statements(app, client, url) for url in ENDPOINTS}
    for url in ENDPOINTS:
        assert len(many[url]) == len(few[url]), (url, many[url])
        # the login's user, the counts, the clerks, flags (2), events, activity, one per
        # entry table (2 here), rows keyed blind today, and the agreement per week (4:
        # comparisons, queries, submits, returns); none of them counts a whole table
        assert len(few[url]) <= 14, few[url]
        assert not any("GROUP BY documents.status" in s for s in few[url] + many[url])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 153


def test_while_the_dashboard_reads_a_clerk_can_still_save_on_sqlite(
    app, client, auth, users, backend
):
    """SQLite has one writer at a time: a refreshing dashboard must not hold the write lock."""
    if backend != "sqlite":
        pytest.skip("about SQLite's single write lock")
    auth.login("reviewer")
    with app.app_context():
        engine = db.engine
    outcomes: list[str] = []

    def try_to_write(conn, cursor, statement, *args):
        if "FROM quality_flags" not in statement:
            return
        other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # what a clerk's save starts with
            other.execute("ROLLBACK")
            outcomes.append("could write")
        except sqlite3.OperationalError as exc:
            outcomes.append(str(exc))
        finally:
            other.close()

    assert client.get("/dashboard/fragment").status_code == 200  # counts built (a write)
    sa.event.listen(engine, "before_cursor_execute", try_to_write)
    try:
        assert client.get("/dashboard/fragment").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", try_to_write)
    assert outcomes and set(outcomes) == {"could write"}


# --- the pages -------------------------------------------------------------------------------


def test_the_fragment_lists_each_clerk_by_name_with_their_counts(app, client, auth, dataset):
    auth.login("rita")
    with app.app_context():  # today's rows, now: add one for carol so the page has a count
        db.session.add(TestDB(string_column="C-now", entered_by_id=user("carol").id))
        db.session.commit()
    response = client.get("/dashboard/fragment")
    assert response.status_code == 200
    assert response.headers["X-Dashboard-Fragment"] == "1"
    page = response.get_data(as_text=True)
    assert "<html" not in page and "<nav" not in page and "<script" not in page
    for name in ("alice", "bob", "carol"):
        assert f'<th scope="row" class="clerk-name">{name}</th>' in page
    assert 'data-clerk="dave"' not in page
    carol = clerk_row(page, "carol")
    assert metric(carol, "documents_done") == "1"
    assert metric(carol, "rows_today") == "1"
    assert metric(carol, "rows_last_hour") == "1"
    assert "4/10" in carol and "(40.0%)" in carol
    alice = clerk_row(page, "alice")
    assert metric(alice, "documents_done") == "2"
    assert "1/2" in alice and "(50%)" in alice
    bob = clerk_row(page, "bob")
    assert "0/1" in bob and "6/30" in bob
    assert re.search(r"updated <time datetime=\"[^\"]+\">\d\d:\d\d:\d\d</time> UTC", page)
    assert '<svg id="activity-chart"' in page
    assert 'id="open-flag-count">3<' in page
    assert re.search(r'data-table="testDB">.*?data-status="total">7<', page, re.S)


def test_the_page_is_complete_without_javascript(app, client, auth, dataset):
    auth.login("rita")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'id="dashboard-live"' in page and 'data-refresh-seconds="5"' in page
    assert 'data-fragment-url="/dashboard/fragment"' in page
    assert '<th scope="row" class="clerk-name">alice</th>' in page
    assert 'class="progress-bar' in page and 'style="width: ' in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    assert any("js/dashboard.js" in attrs for attrs, _ in scripts)
    assert "cdn" not in " ".join(attrs for attrs, _ in scripts).lower()
    assert '<a class="nav-link active" aria-current="page" href="/dashboard/">Dashboard</a>' in page


@pytest.mark.parametrize(
    ("asked", "used"), [("1", 1), ("0", 1), ("-5", 1), ("2", 2), ("99999", 300), ("soon", 5)]
)
def test_the_refresh_interval_can_be_shortened_but_not_below_a_second(
    client, auth, users, asked, used
):
    auth.login("reviewer")
    page = client.get(f"/dashboard/?refresh={asked}").get_data(as_text=True)
    assert f'data-refresh-seconds="{used}"' in page


def test_an_empty_portal_shows_an_empty_dashboard(client, auth, users):
    auth.login("admin")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "Nothing has happened yet." in page
    assert '<th scope="row" class="clerk-name">clerk</th>' in page
    assert "No open flags." in page
