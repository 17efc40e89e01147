"""Review at the field: queries on one field of one row (open, answer with a correction, close,
re-open), flags marked on their cells and resolved, approval with open queries or flags, blind
rows in every count, the agreement per week, `flask export queries`, and a query count that
does not grow with the data. Every test that takes `app` runs on each configured backend."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Document, FieldQuery, QualityFlag, RegisterPerson, TestDB
from app.services import tallies
from app.services.accounts import find_user
from app.services.dashboard import build_dashboard
from tests.conftest import count_statements
from tests.helpers import add_document, double_entered, save_row, submitted_document
from tests.helpers import login as as_user

pytestmark = pytest.mark.usefixtures("people")


def scalar(app, statement):
    with app.app_context():
        return db.session.scalar(statement)


def status_of(app, query_id: int) -> str:
    return scalar(app, sa.select(FieldQuery.status).where(FieldQuery.id == query_id))


def value_of(app, key: str):
    return scalar(app, sa.select(TestDB.integer_column).where(TestDB.string_column == key))


def doc_status(app, doc_id: int) -> str:
    return scalar(app, sa.select(Document.status).where(Document.id == doc_id))


def ask(
    reviewer,
    doc_id: int,
    key: str = "K1",
    field: str = "integer_column",
    question: str = "The page says 17, not 1?",
    table: str = "testDB",
):
    return reviewer.post(
        f"/review/documents/{doc_id}/queries",
        data={"table": table, "key": key, "field": field, "question": question},
    )


def only_query_id(app) -> int:
    with app.app_context():
        return db.session.scalars(sa.select(FieldQuery.id)).one()


def query_events(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (e.action, e.actor_name)
            for e in db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.table_name == "field_queries")
                .order_by(AuditEvent.id)
            )
        ]


# --- the lifecycle ---------------------------------------------------------------------------


def test_a_query_is_opened_answered_with_a_correction_closed_and_reopened(app):
    doc_id, clerk = submitted_document(app, rows=(("K1", "1"), ("K2", "2")))
    reviewer = as_user(app, "reviewer")
    page = reviewer.get(f"/review/documents/{doc_id}?table=testDB&key=K1&field=integer_column")
    assert 'id="question"' in page.get_data(as_text=True)
    assert "Open a query: Test values · Number, row K1" in page.get_data(as_text=True)
    assert ask(reviewer, doc_id).status_code == 303
    query_id = only_query_id(app)
    with app.app_context():
        query = db.session.get(FieldQuery, query_id)
        assert (query.status, query.field, query.row_key, query.value_asked) == (
            "open",
            "integer_column",
            "K1",
            "1",
        )
        assert query.clerk_id == find_user("clerk").id
    # the review page marks the cell; the clerk sees it in the queue and beside the field
    review_page = reviewer.get(f"/review/documents/{doc_id}").get_data(as_text=True)
    assert "cell-queried" in review_page and f'id="query-{query_id}"' in review_page
    queue = clerk.get("/work/").get_data(as_text=True)
    assert "1 open query" in queue
    workspace = clerk.get(f"/work/documents/{doc_id}").get_data(as_text=True)
    assert "The page says 17, not 1?" in workspace
    assert "Number (now “1”; type a new value to correct it)" in workspace
    # approval is refused while the query is open
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 409
    assert doc_status(app, doc_id) == "submitted"
    # the clerk answers and corrects in one step
    answered = clerk.post(
        f"/work/queries/{query_id}/answer", data={"answer": "Misread the 7", "value": "17"}
    )
    assert answered.status_code == 303
    assert value_of(app, "K1") == 17 and status_of(app, query_id) == "answered"
    with app.app_context():
        correction = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "correct")
        ).one()
        assert correction.actor_name == "clerk" and correction.row_key == "K1"
        assert json.loads(correction.before)["integer_column"] == 1
        assert json.loads(correction.after)["integer_column"] == 17
        assert correction.reason == f"query #{query_id}: Misread the 7"
        assert db.session.get(FieldQuery, query_id).corrected_to == "17"
    # answered is not closed: still no approval
    refused = reviewer.post(f"/review/documents/{doc_id}/approve")
    assert refused.status_code == 409 and "1 answered" in refused.get_data(as_text=True)
    # re-open needs words; then the clerk answers without a correction; then closed
    assert (
        reviewer.post(f"/review/queries/{query_id}/reopen", data={"question": " "}).status_code
        == 422
    )
    assert status_of(app, query_id) == "answered"
    assert (
        reviewer.post(
            f"/review/queries/{query_id}/reopen", data={"question": "And the date?"}
        ).status_code
        == 303
    )
    assert status_of(app, query_id) == "open"
    assert (
        clerk.post(
            f"/work/queries/{query_id}/answer", data={"answer": "The date is right", "value": ""}
        ).status_code
        == 303
    )
    assert value_of(app, "K1") == 17
    assert reviewer.post(f"/review/queries/{query_id}/close").status_code == 303
    assert status_of(app, query_id) == "closed"
    assert reviewer.post(f"/review/queries/{query_id}/close").status_code == 409
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 303
    assert doc_status(app, doc_id) == "approved"
    assert query_events(app) == [
        ("query_open", "reviewer"),
        ("query_answer", "clerk"),
        ("query_reopen", "reviewer"),
        ("query_answer", "clerk"),
        ("query_close", "reviewer"),
    ]
    with app.app_context():
        first_answer = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "query_answer").order_by(AuditEvent.id)
        ).first()
        assert json.loads(first_answer.after)["corrected_to"] == "17"
    # an approved document takes no new query
    assert ask(reviewer, doc_id, key="K2").status_code == 409


def test_bad_input_is_refused_with_a_message_and_changes_nothing(app):
    doc_id, clerk = submitted_document(app)
    reviewer = as_user(app, "reviewer")
    empty = ask(reviewer, doc_id, question="  ")
    assert empty.status_code == 422 and "Write the question" in empty.get_data(as_text=True)
    assert ask(reviewer, doc_id, field="entered_by_id").status_code == 404
    assert ask(reviewer, doc_id, key="NOPE").status_code == 404
    submitted_document(app, clerk="clerk2", rows=(("OTHER", "3"),))
    assert ask(reviewer, doc_id, key="OTHER").status_code == 404  # not on this document
    assert scalar(app, sa.select(sa.func.count()).select_from(FieldQuery)) == 0
    assert ask(reviewer, doc_id).status_code == 303
    query_id = only_query_id(app)
    wrong = clerk.post(f"/work/queries/{query_id}/answer", data={"answer": "x", "value": "12e"})
    assert wrong.status_code == 422
    assert "Number:" in wrong.get_data(as_text=True) and 'role="alert"' in wrong.get_data(
        as_text=True
    )
    no_words = clerk.post(f"/work/queries/{query_id}/answer", data={"answer": " ", "value": "5"})
    assert no_words.status_code == 422 and "Write your answer" in no_words.get_data(as_text=True)
    assert value_of(app, "K1") == 1 and status_of(app, query_id) == "open"
    assert query_events(app) == [("query_open", "reviewer")]


def test_a_clerk_cannot_close_a_query_nor_see_another_clerks(app):
    doc_id, clerk = submitted_document(app)
    _other_doc, other = submitted_document(app, clerk="clerk2", rows=(("Q2", "2"),))
    reviewer = as_user(app, "reviewer")
    assert ask(reviewer, doc_id).status_code == 303
    query_id = only_query_id(app)
    assert clerk.post(f"/review/queries/{query_id}/close").status_code == 403
    assert (
        clerk.post(f"/review/queries/{query_id}/reopen", data={"question": "x"}).status_code == 403
    )
    assert (
        clerk.post(
            f"/review/documents/{doc_id}/queries",
            data={"table": "testDB", "key": "K1", "field": "integer_column", "question": "mine?"},
        ).status_code
        == 403
    )
    assert (
        other.post(
            f"/work/queries/{query_id}/answer", data={"answer": "not mine", "value": "9"}
        ).status_code
        == 404
    )
    assert "The page says 17" not in other.get("/work/").get_data(as_text=True)
    assert other.get(f"/work/documents/{doc_id}").status_code == 404
    assert (
        reviewer.post(
            f"/work/queries/{query_id}/answer", data={"answer": "as the reviewer"}
        ).status_code
        == 403
    )
    assert status_of(app, query_id) == "open" and value_of(app, "K1") == 1


def test_returning_can_carry_the_open_queries_instead_of_a_comment(app):
    doc_id, clerk = submitted_document(app)
    reviewer = as_user(app, "reviewer")
    assert (
        reviewer.post(f"/review/documents/{doc_id}/return", data={"comment": ""}).status_code == 422
    )
    assert ask(reviewer, doc_id).status_code == 303
    page = reviewer.get(f"/review/documents/{doc_id}").get_data(as_text=True)
    assert "optional: the 1 open query goes with the document" in page
    assert (
        reviewer.post(f"/review/documents/{doc_id}/return", data={"comment": ""}).status_code == 303
    )
    assert doc_status(app, doc_id) == "returned"
    queue = clerk.get("/work/").get_data(as_text=True)
    assert "1 open query" in queue
    with app.app_context():
        returned = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "return")
        ).one()
        assert returned.reason == "1 open query"
    # the clerk answers and corrects on the returned document, then submits again
    query_id = only_query_id(app)
    assert (
        clerk.post(
            f"/work/queries/{query_id}/answer", data={"answer": "fixed", "value": "4"}
        ).status_code
        == 303
    )
    assert value_of(app, "K1") == 4
    assert clerk.post(f"/work/documents/{doc_id}/submit").status_code == 303
    assert doc_status(app, doc_id) == "submitted"


# --- flags on cells --------------------------------------------------------------------------


def flagged_document(app, age: str = "105"):
    doc_id = add_document(app, ["clerk"])
    clerk = as_user(app, "clerk")
    assert (
        save_row(
            clerk,
            doc_id,
            table="register_person",
            full_name="Old, Olga",
            sex="female",
            age=age,
            confirm_warnings="y",
        ).status_code
        == 303
    )
    assert clerk.post(f"/work/documents/{doc_id}/submit").status_code == 303
    with app.app_context():
        flag = db.session.scalars(sa.select(QualityFlag)).one()
        person = db.session.scalars(sa.select(RegisterPerson)).one()
        return doc_id, flag.id, person.id


def test_flags_are_marked_on_their_cells_in_the_review_page_and_the_row_list(app):
    doc_id, _flag_id, _person_id = flagged_document(app)
    reviewer = as_user(app, "reviewer")
    page = reviewer.get(f"/review/documents/{doc_id}").get_data(as_text=True)
    cell = re.search(r'<td class="[^"]*cell-flagged[^"]*"[^>]*>(.*?)</td>', page, re.S)
    assert cell, "no flagged cell"
    assert "105" in cell.group(1)
    assert "Age (years) 105 is above the expected maximum 100." in cell.group(1)
    rows = reviewer.get(f"/data/register_person?document={doc_id}").get_data(as_text=True)
    cell = re.search(r'<td class="[^"]*cell-flagged[^"]*">(.*?)</td>', rows, re.S)
    assert cell and "above the expected maximum 100" in cell.group(1)
    assert "age" not in re.sub(r"<[^>]+>", " ", cell.group(1)).split()


def test_approving_with_open_flags_asks_and_records_who_accepted(app):
    doc_id, flag_id, _ = flagged_document(app)
    reviewer = as_user(app, "reviewer")
    asked = reviewer.post(f"/review/documents/{doc_id}/approve")
    assert asked.status_code == 409
    assert 'id="confirm-flags"' in asked.get_data(as_text=True)
    assert "1 quality flag on this document is not resolved" in asked.get_data(as_text=True)
    assert doc_status(app, doc_id) == "submitted"
    assert (
        reviewer.post(f"/review/documents/{doc_id}/approve", data={"accept_flags": "1"}).status_code
        == 303
    )
    assert doc_status(app, doc_id) == "approved"
    with app.app_context():
        flag = db.session.get(QualityFlag, flag_id)
        assert (flag.status, flag.resolution) == ("cleared", "accepted")
        assert flag.cleared_by_id == find_user("reviewer").id
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "flag_accept")
        ).one()
        assert event.actor_name == "reviewer" and event.reason == "accepted at approval"


def test_a_flag_is_resolved_by_accepting_or_correcting_with_a_reason(app):
    doc_id, flag_id, person_id = flagged_document(app)
    reviewer = as_user(app, "reviewer")
    no_reason = reviewer.post(f"/review/flags/{flag_id}/resolve", data={"value": "15"})
    assert no_reason.status_code == 422
    assert "Say why" in no_reason.get_data(as_text=True)
    bad = reviewer.post(
        f"/review/flags/{flag_id}/resolve",
        data={"value": "fifteen", "reason": "the register says 15"},
    )
    assert bad.status_code == 422
    with app.app_context():
        assert db.session.get(RegisterPerson, person_id).age == 105
        assert db.session.get(QualityFlag, flag_id).status == "open"
    assert (
        reviewer.post(
            f"/review/flags/{flag_id}/resolve",
            data={"value": "15", "reason": "the register says 15"},
        ).status_code
        == 303
    )
    with app.app_context():
        assert db.session.get(RegisterPerson, person_id).age == 15
        flag = db.session.get(QualityFlag, flag_id)
        assert (flag.resolution, flag.resolution_reason) == ("corrected", "the register says 15")
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.actor_name == "reviewer")
        ).all()
        assert actions == ["correct", "flag_correct"]
    assert (
        reviewer.post(f"/review/flags/{flag_id}/resolve", data={"reason": "again"}).status_code
        == 409
    )
    # approving now needs no confirmation
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 303


def test_accepting_a_flag_keeps_the_value(app):
    _doc_id, flag_id, person_id = flagged_document(app)
    reviewer = as_user(app, "reviewer")
    assert (
        reviewer.post(
            f"/review/flags/{flag_id}/resolve",
            data={"reason": "the register really says 105", "value": ""},
        ).status_code
        == 303
    )
    with app.app_context():
        assert db.session.get(RegisterPerson, person_id).age == 105
        assert db.session.get(QualityFlag, flag_id).resolution == "accepted"


# --- every row counted -----------------------------------------------------------------------


def test_blind_rows_count_in_the_queues_the_dashboard_and_the_tallies(app):
    with app.app_context():
        tallies.recount()
    doc_id, a, b = double_entered(app)
    for n in (2, 3):
        assert (
            a.post(
                f"/work/documents/{doc_id}/entry/testDB",
                data={"string_column": f"D{n}", "integer_column": str(n)},
            ).status_code
            == 303
        )
    # clerk: 3 testDB + 1 register row keyed blind; clerk2: 1 + 1
    queue = a.get("/work/").get_data(as_text=True)
    assert re.search(rf"<td>{doc_id}</td>.*?<td>4</td>", queue, re.S), queue
    with app.app_context():
        board = build_dashboard()
        by_name = {c.username: c for c in board.clerks}
        assert (by_name["clerk"].rows_today, by_name["clerk2"].rows_today) == (4, 2)
        assert (by_name["clerk"].rows_keyed, by_name["clerk2"].rows_keyed) == (4, 2)
        assert {t.name: t.keyed for t in board.tables} == {"register_person": 2, "testDB": 4}
        kept, _ = tallies.read(db.session.connection())
        computed = tallies.computed(db.session.connection())
        assert dict(kept) == dict(computed)
    a.post(f"/work/documents/{doc_id}/submit")
    b.post(f"/work/documents/{doc_id}/submit")
    reviewer = as_user(app, "reviewer")
    page = reviewer.get("/review/").get_data(as_text=True)
    row = re.search(rf"<td>{doc_id}</td>(.*?)</tr>", page, re.S).group(1)
    assert 'data-rows="4"' in row and "keyed blind: 4 / 2" in row
    dashboard = reviewer.get("/dashboard/").get_data(as_text=True)
    assert "double:testDB" not in dashboard
    assert "Test values (blind entry)" in dashboard
    assert re.search(rf"row \d of document #{doc_id}", dashboard)


# --- agreement per week, export --------------------------------------------------------------


def test_the_dashboard_charts_agreement_per_clerk_and_week(app):
    doc_id, a, b = double_entered(app)
    a.post(f"/work/documents/{doc_id}/submit")
    b.post(f"/work/documents/{doc_id}/submit")
    single, _ = submitted_document(app)
    reviewer = as_user(app, "reviewer")
    assert (
        reviewer.post(
            f"/review/documents/{single}/return", data={"comment": "look again"}
        ).status_code
        == 303
    )
    assert ask(reviewer, doc_id, key="x").status_code == 404  # not reconciled: no row yet
    with app.app_context():
        weeks = {c.username: c.weeks for c in build_dashboard().clerks}
    this_week = weeks["clerk"][-1]
    assert this_week.fields_compared > 0 and this_week.differences == 1
    assert (this_week.submitted, this_week.returned) == (2, 1)
    assert weeks["clerk2"][-1].submitted == 1 and weeks["clerk2"][-1].returned == 0
    page = reviewer.get("/dashboard/fragment").get_data(as_text=True)
    chart = re.search(r'<svg class="agreement-chart"[^>]*data-clerk="clerk"(.*?)</svg>', page, re.S)
    assert chart and chart.group(1).count("<g data-week=") == 8
    assert 'data-submitted="2" data-returned="1"' in chart.group(1)
    assert "https://" not in chart.group(0)


def test_flask_export_queries(app, runner):
    doc_id, _ = submitted_document(app)
    assert ask(as_user(app, "reviewer"), doc_id, question="Seventeen?").status_code == 303
    result = runner.invoke(args=["export", "queries"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        (r["table_name"], r["row_key"], r["field"], r["status"], r["question"]) for r in rows
    ] == [("testDB", "K1", "integer_column", "open", "Seventeen?")]
    assert (
        json.loads(runner.invoke(args=["export", "queries", "--format", "json"]).stdout)[0][
            "question"
        ]
        == "Seventeen?"
    )
    assert runner.invoke(args=["export", "queries", "--with-provenance"]).exit_code != 0


# --- a fixed number of statements per page ---------------------------------------------------

REVIEW_PAGES = ("/review/", "/review/documents/{doc}")
CLERK_PAGES = ("/work/", "/work/documents/{doc}")


def _grow(app, n: int) -> None:
    """n more submitted documents for clerk, each with rows, a query and a flag."""
    with app.app_context():
        clerk = find_user("clerk")
        reviewer = find_user("reviewer")
        for i in range(n):
            document = Document(
                storage_key=f"grow-{i}.pdf",
                original_name=f"g{i}.pdf",
                content_type="application/pdf",
                size_bytes=1,
                sha256=f"{i:064d}",
                status="submitted",
            )
            db.session.add(document)
            db.session.flush()
            from app.models import Assignment

            db.session.add(
                Assignment(document_id=document.id, clerk_id=clerk.id, status="submitted")
            )
            for k in range(3):
                db.session.add(
                    TestDB(
                        string_column=f"G{i}-{k}",
                        integer_column=k,
                        document_id=document.id,
                        entered_by_id=clerk.id,
                        status="submitted",
                    )
                )
            db.session.add(
                FieldQuery(
                    document_id=document.id,
                    table_name="testDB",
                    row_key=f"G{i}-0",
                    field="integer_column",
                    clerk_id=clerk.id,
                    status="open",
                    question="?",
                    opened_by_id=reviewer.id,
                )
            )
            db.session.add(
                QualityFlag(
                    table_name="testDB",
                    row_key=f"G{i}-1",
                    document_id=document.id,
                    field="integer_column",
                    kind="expected_range",
                    message="odd",
                )
            )
        db.session.commit()


def test_the_query_count_of_the_review_and_clerk_pages_does_not_grow(app):
    doc_id, clerk = submitted_document(app)
    reviewer = as_user(app, "reviewer")
    assert ask(reviewer, doc_id).status_code == 303
    pages = {
        "reviewer": [p.format(doc=doc_id) for p in REVIEW_PAGES],
        "clerk": [p.format(doc=doc_id) for p in CLERK_PAGES],
    }
    clients = {"reviewer": reviewer, "clerk": clerk}
    few = {
        url: count_statements(app, clients[who], url) for who, urls in pages.items() for url in urls
    }
    _grow(app, 60)
    many = {
        url: count_statements(app, clients[who], url) for who, urls in pages.items() for url in urls
    }
    for url in few:
        assert len(many[url]) == len(few[url]), (url, many[url])
        assert not any("count(*)" in s.lower() and "WHERE" not in s for s in many[url]), url


def test_a_sampled_reentry_keeps_counting_the_first_clerks_rows(app):
    admin = as_user(app, "admin")
    assert admin.post("/review/settings", data={"percent": "100"}).status_code == 303
    with app.app_context():
        tallies.recount()
    doc_id, clerk = submitted_document(app, rows=(("S1", "5"), ("S2", "6")))
    with app.app_context():  # drawn for re-entry: the rows moved into the clerk's own entry
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 0
        kept, _ = tallies.read(db.session.connection())
        assert dict(kept) == dict(tallies.computed(db.session.connection()))
        mine = {c.username: c for c in build_dashboard().clerks}["clerk"]
        assert (mine.rows_today, mine.rows_keyed) == (2, 2)
    queue = clerk.get("/work/").get_data(as_text=True)
    assert re.search(rf"<td>{doc_id}</td>.*?<td>2</td>", queue, re.S)
