"""The dashboard's running counts (app/services/tallies.py): after every kind of change the
portal makes, they equal a count of the tables themselves. Every test runs on each backend."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import TestDB
from app.services import tallies
from app.services.accounts import find_user
from tests.helpers import (
    add_document,
    double_entered,
    login,
    run_import,
    save_row,
    submitted_document,
    write_csv,
)

pytestmark = pytest.mark.usefixtures("people")


def kept_and_counted(app) -> tuple[dict, dict]:
    with app.app_context(), db.engine.connect() as conn:
        kept, _ = tallies.read(conn)
        return dict(kept), dict(tallies.computed(conn))


def assert_in_step(app, stage: str) -> None:
    kept, counted = kept_and_counted(app)
    assert kept == counted, f"after {stage}: kept {kept}, counted {counted}"


def edit(client, key: str, **values):
    with client.application.app_context():
        version = db.session.get(TestDB, key).version
    return client.post(
        f"/data/testDB/edit?key={key}",
        data={"string_column": key, "version": str(version), **values},
    )


def test_every_change_moves_the_counts(app, tmp_path: Path):
    with app.app_context():
        tallies.recount()
    assert_in_step(app, "the first recount of an empty database")

    # single entry: rows saved, edited, deleted; submitted, returned, submitted again, approved
    doc_id, clerk = submitted_document(app, rows=(("K1", "1"), ("K2", "2")))
    assert_in_step(app, "a submit")
    reviewer = login(app, "reviewer")
    assert (
        reviewer.post(
            f"/review/documents/{doc_id}/return", data={"comment": "K2 is wrong"}
        ).status_code
        == 303
    )
    assert_in_step(app, "a return")
    assert edit(clerk, "K1", integer_column="10").status_code == 303
    assert clerk.post("/data/testDB/delete?key=K2", data={"reason": "typo"}).status_code == 303
    assert save_row(clerk, doc_id, string_column="K3", integer_column="3").status_code == 303
    assert clerk.post(f"/work/documents/{doc_id}/submit").status_code == 303
    assert_in_step(app, "edits, a delete and a second submit")
    assert (
        reviewer.post(f"/review/documents/{doc_id}/return", data={"comment": "again"}).status_code
        == 303
    )
    assert clerk.post(f"/work/documents/{doc_id}/submit").status_code == 303
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 303
    assert_in_step(app, "a second return and an approval")
    with app.app_context():
        clerk_id = find_user("clerk").id
    kept, _ = kept_and_counted(app)
    # one document, submitted three times and returned twice: 1 submitted, 1 returned
    assert kept[(tallies.CLERK, clerk_id, "submitted")] == 1
    assert kept[(tallies.CLERK, clerk_id, "returned")] == 1
    assert kept[(tallies.rows_subject("testDB"), clerk_id, "approved")] == 2

    # rows without a document, and a correction by the reviewer
    assert (
        clerk.post(
            "/data/testDB/new", data={"string_column": "FREE", "integer_column": "1"}
        ).status_code
        == 303
    )
    assert (
        reviewer.post(
            "/review/correct/testDB?key=K1",
            data={
                "string_column": "K1",
                "integer_column": "11",
                "version": "2",
                "reason": "checked",
            },
        ).status_code
        == 303
    )
    assert_in_step(app, "a free row and a correction")

    # assignments handed over and taken back
    other = add_document(app, ["clerk"])
    admin = login(app, "admin")
    with app.app_context():
        clerk2_id = find_user("clerk2").id
    assert (
        admin.post(
            f"/documents/{other}/reassign",
            data={"from_clerk_id": clerk_id, "to_clerk_id": clerk2_id},
        ).status_code
        == 303
    )
    assert (
        admin.post(f"/documents/{other}/unassign", data={"clerk_id": clerk2_id}).status_code == 303
    )
    assert_in_step(app, "a reassignment and an unassignment")

    # double entry with a difference, resolved into the tables, then approved
    double_id, a, b = double_entered(app)
    a.post(f"/work/documents/{double_id}/submit")
    b.post(f"/work/documents/{double_id}/submit")
    assert_in_step(app, "a double entry compared")
    with app.app_context():
        from app.models import Discrepancy

        d_id = db.session.scalar(sa.select(Discrepancy.id))
    assert (
        reviewer.post(
            f"/review/documents/{double_id}/compare", data={f"choice-{d_id}": "b"}
        ).status_code
        == 303
    )
    assert reviewer.post(f"/review/documents/{double_id}/approve").status_code == 303
    assert_in_step(app, "a resolution and its approval")

    # sampled re-entry: the first entry's rows leave the table for a blind second entry
    assert admin.post("/review/settings", data={"percent": "100"}).status_code == 303
    submitted_document(app, rows=(("S1", "5"),))
    assert_in_step(app, "a document drawn for re-entry")

    # an import (one statement for many rows)
    runner = app.test_cli_runner()
    result = run_import(runner, write_csv(tmp_path / "rows.csv", [["I1", 1, ""], ["I2", 2, ""]]))
    assert result.exit_code == 0, result.output
    assert_in_step(app, "an import")


def test_rows_written_around_the_portal_appear_at_the_next_recount(app):
    with app.app_context():
        tallies.recount()
        with db.engine.begin() as conn:  # the researcher's own SQL
            conn.execute(TestDB.__table__.insert(), [{"string_column": "RAW"}])
        kept, counted = kept_and_counted(app)
        assert kept != counted
        assert tallies.recount() == counted
    assert_in_step(app, "a recount")


def test_the_dashboard_rebuilds_the_counts_when_they_are_due(app, monkeypatch):
    reviewer = login(app, "reviewer")
    assert reviewer.get("/dashboard/").status_code == 200  # none yet: built now
    with app.app_context():
        with db.engine.connect() as conn:
            assert tallies.read(conn)[1] is not None
        with db.engine.begin() as conn:
            conn.execute(TestDB.__table__.insert(), [{"string_column": "RAW"}])
    reviewer.get("/dashboard/fragment")
    assert kept_and_counted(app)[0] == {}  # not due yet: the raw row waits

    later = time.time() + 11 * 60  # past DASHBOARD_RECOUNT_MINUTES (10)
    monkeypatch.setattr(tallies, "_clock", lambda: later)
    page = reviewer.get("/dashboard/fragment").get_data(as_text=True)
    assert_in_step(app, "a due recount")
    assert kept_and_counted(app)[0] == {(tallies.rows_subject("testDB"), 0, "entered"): 1}
    assert "entered" in page


def test_recounts_can_be_left_to_the_command(app, monkeypatch):
    app.config["DASHBOARD_RECOUNT_MINUTES"] = 0
    reviewer = login(app, "reviewer")
    reviewer.get("/dashboard/")  # the very first build still happens
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(TestDB.__table__.insert(), [{"string_column": "RAW"}])
    monkeypatch.setattr(tallies, "_clock", lambda: 10**10)
    reviewer.get("/dashboard/fragment")
    assert kept_and_counted(app)[0] == {}
    result = app.test_cli_runner().invoke(args=["dashboard", "recount"])
    assert result.exit_code == 0, result.output
    assert "testDB: 1 row" in result.output
    assert_in_step(app, "flask dashboard recount")


def test_saves_during_a_recount_are_neither_lost_nor_counted_twice(app, make_user):
    """Clerks keep saving while the counts are rebuilt: the rebuild locks the counts, so a save
    either lands before it (and is counted by it) or adds its row after it."""
    names = [f"busy{i}" for i in range(4)]
    for name in names:
        make_user(name, "clerk")
    with app.app_context():
        tallies.recount()
    clients = [login(app, name) for name in names]
    failures: list[str] = []

    def save_rows(index: int) -> None:
        for n in range(12):
            response = clients[index].post(
                "/data/testDB/new",
                data={"string_column": f"C{index}-{n}", "integer_column": str(n)},
            )
            if response.status_code != 303:
                failures.append(f"{names[index]} #{n}: {response.status_code}")

    threads = [threading.Thread(target=save_rows, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    with app.app_context():
        for _ in range(3):
            tallies.recount()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    kept, counted = kept_and_counted(app)
    assert sum(counted.values()) == 48
    assert kept == counted
