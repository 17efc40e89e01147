"""Review, quality rules, double entry and sampled re-entry."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from app.documents.samples import pdf_document
from app.extensions import db
from app.models import (
    AuditEvent,
    Comparison,
    Discrepancy,
    Document,
    DoubleEntryRow,
    FieldQuery,
    QualityFlag,
    RegisterPerson,
    TestDB,
)
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.helpers import (
    add_document,
    double_entered,
    login,
    save_row,
    submitted_document,
)

_names = iter(range(10_000))


def document(app, document_id) -> Document:
    with app.app_context():
        doc = db.session.get(Document, document_id)
        db.session.expunge(doc)
        return doc


# --- approve / return / correct ----------------------------------------------------------------


def test_submit_then_approve_makes_rows_read_only(app, people):
    doc_id, clerk = submitted_document(app)
    assert document(app, doc_id).status == "submitted"
    reviewer = login(app, "reviewer")
    page = reviewer.get(f"/review/documents/{doc_id}").get_data(as_text=True)
    assert "Approve" in page and "Return" in page and "K1" in page
    assert f"/documents/{doc_id}/file" in page
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 303
    assert document(app, doc_id).status == "approved"
    with app.app_context():
        assert db.session.scalars(sa.select(TestDB.status)).all() == ["approved"]
    response = clerk.post(
        "/data/testDB/edit?key=K1",
        data={"string_column": "K1", "integer_column": "5", "version": "1"},
    )
    assert response.status_code == 403
    assert save_row(clerk, doc_id, string_column="K2", integer_column="2").status_code in {403, 404}
    with app.app_context():
        assert db.session.scalars(sa.select(TestDB.integer_column)).all() == [1]
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.table_name == "documents")
        ).all()
        assert {"submit", "approve"} <= set(actions)


def test_return_needs_a_comment_which_the_clerk_sees(app, people):
    doc_id, clerk = submitted_document(app)
    reviewer = login(app, "reviewer")
    response = reviewer.post(f"/review/documents/{doc_id}/return", data={"comment": "  "})
    assert response.status_code == 422
    assert "is-invalid" in response.get_data(as_text=True)
    assert document(app, doc_id).status == "submitted"
    assert (
        reviewer.post(
            f"/review/documents/{doc_id}/return", data={"comment": "Row K1: check the number"}
        ).status_code
        == 303
    )
    assert document(app, doc_id).status == "returned"
    queue = clerk.get("/work/").get_data(as_text=True)
    assert "Row K1: check the number" in queue
    response = clerk.post(
        "/data/testDB/edit?key=K1",
        data={"string_column": "K1", "integer_column": "7", "version": "1"},
    )
    assert response.status_code == 303  # the clerk can edit again
    assert clerk.post(f"/work/documents/{doc_id}/submit").status_code == 303
    assert document(app, doc_id).status == "submitted"


@pytest.mark.parametrize("status", ["new", "assigned", "approved"])
def test_only_submitted_documents_can_be_approved_or_returned(app, people, status):
    doc_id = add_document(app, ["clerk"])
    with app.app_context():
        db.session.execute(sa.update(Document).values(status=status))
        db.session.commit()
    reviewer = login(app, "reviewer")
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 409
    assert (
        reviewer.post(f"/review/documents/{doc_id}/return", data={"comment": "x"}).status_code
        == 409
    )
    assert document(app, doc_id).status == status


def test_clerks_cannot_reach_review_routes(app, people):
    doc_id, clerk = submitted_document(app)
    for method, url in (
        ("get", "/review/"),
        ("get", f"/review/documents/{doc_id}"),
        ("post", f"/review/documents/{doc_id}/approve"),
        ("post", f"/review/documents/{doc_id}/return"),
        ("get", f"/review/documents/{doc_id}/compare"),
        ("get", "/review/quality"),
    ):
        assert getattr(clerk, method)(url).status_code == 403
    assert document(app, doc_id).status == "submitted"


def test_reviewer_corrects_a_value_with_a_reason(app, people):
    _doc_id, _ = submitted_document(app)
    reviewer = login(app, "reviewer")
    url = "/review/correct/testDB?key=K1"
    assert (
        reviewer.post(
            url, data={"string_column": "K1", "integer_column": "9", "version": "1", "reason": ""}
        ).status_code
        == 422
    )
    bad = reviewer.post(
        url, data={"string_column": "K1", "integer_column": "9x", "version": "1", "reason": "typo"}
    )
    assert bad.status_code == 422
    assert (
        reviewer.post(
            url,
            data={
                "string_column": "K1",
                "integer_column": "9",
                "version": "1",
                "reason": "typo on page",
            },
        ).status_code
        == 303
    )
    with app.app_context():
        assert db.session.scalar(sa.select(TestDB.integer_column)) == 9
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "correct")
        ).one()
        assert event.reason == "typo on page" and event.actor_name == "reviewer"


def test_review_queue_lists_submitted_documents(app, people):
    doc_id, _ = submitted_document(app)
    other = add_document(app, ["clerk"])
    page = login(app, "reviewer").get("/review/").get_data(as_text=True)
    assert f"<td>{doc_id}</td>" in page and f"<td>{other}</td>" not in page


def queue_cells(page: str, doc_id: int) -> list[str]:
    """The text of each cell of a document's row in the review queue, after its id."""
    row = re.search(rf"<tr>\s*<td>{doc_id}</td>(.*?)</tr>", page, re.S)
    assert row, page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def test_review_queue_shows_each_documents_figures(app, people):
    """Rows over every entry table, blind rows of a double entry, the clerks by name, the
    comparison, and the open / answered (not closed) queries: each document's own."""
    single = add_document(app, ["clerk"])
    clerk = login(app, "clerk")
    for key in ("K1", "K2", "K3"):
        assert save_row(clerk, single, string_column=key, integer_column="1").status_code == 303
    person = {"full_name": "Doe, Jane", "sex": "female"}
    assert save_row(clerk, single, table="register_person", **person).status_code == 303
    assert clerk.post(f"/work/documents/{single}/submit").status_code == 303
    differing, a, b = double_entered(app)
    agreeing, c, d = double_entered(app, difference=False)
    for doc_id, client in ((differing, a), (differing, b), (agreeing, c), (agreeing, d)):
        assert client.post(f"/work/documents/{doc_id}/submit").status_code == 303
    reviewer = login(app, "reviewer")
    asked = []
    for key in ("K1", "K2", "K3"):
        form = {"table": "testDB", "key": key, "field": "integer_column", "question": "17?"}
        assert reviewer.post(f"/review/documents/{single}/queries", data=form).status_code == 303
        with app.app_context():
            asked.append(db.session.scalar(sa.select(sa.func.max(FieldQuery.id))))
    for query_id in asked[1:]:
        answer = {"answer": "Checked", "value": ""}
        assert clerk.post(f"/work/queries/{query_id}/answer", data=answer).status_code == 303
    assert reviewer.post(f"/review/queries/{asked[2]}/close").status_code == 303
    assert reviewer.post(f"/review/documents/{agreeing}/compare", data={}).status_code == 303
    page = reviewer.get("/review/").get_data(as_text=True)
    assert queue_cells(page, single)[1:] == ["clerk", "4", "", "1 answered 1 open", "Review"]
    assert queue_cells(page, differing)[1:] == [
        "clerk, clerk2",
        "2 (keyed blind: 2 / 2)",
        "1 difference(s)",
        "",
        "Review",
    ]
    # reconciled: the rows are in the entry tables now (each clerk's blind rows still shown)
    assert queue_cells(page, agreeing)[1:] == [
        "clerk, clerk2",
        "2 (keyed blind: 2 / 2)",
        "resolved",
        "",
        "Review",
    ]
    assert f'href="/review/documents/{differing}/compare"' in page
    assert f'href="/review/documents/{agreeing}"' in page


# --- quality rules -----------------------------------------------------------------------------


def test_soft_rule_warns_then_confirmed_value_is_flagged(app, people):
    doc_id = add_document(app, ["clerk"])
    clerk = login(app, "clerk")
    data = {"full_name": "Old, Olga", "sex": "female", "age": "120"}
    response = save_row(clerk, doc_id, table="register_person", **data)
    assert response.status_code == 200
    assert "above the expected maximum 100" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RegisterPerson)) == 0
    response = save_row(clerk, doc_id, table="register_person", confirm_warnings="y", **data)
    assert response.status_code == 303
    with app.app_context():
        flag = db.session.scalars(sa.select(QualityFlag)).one()
        assert flag.field == "age" and flag.status == "open" and flag.document_id == doc_id
        flag_id = flag.id
    reviewer = login(app, "reviewer")
    assert "above the expected maximum" in reviewer.get("/review/quality").get_data(as_text=True)
    assert reviewer.post(f"/review/flags/{flag_id}/clear").status_code == 303
    with app.app_context():
        assert db.session.get(QualityFlag, flag_id).status == "cleared"
    assert clerk.post(f"/review/flags/{flag_id}/clear").status_code == 403


def test_required_before_submit_warns_and_can_be_confirmed(app, people):
    doc_id = add_document(app, ["clerk"])
    clerk = login(app, "clerk")
    assert save_row(clerk, doc_id, table="register_person", full_name="No, Sex").status_code == 303
    response = clerk.post(f"/work/documents/{doc_id}/submit")
    assert response.status_code == 200
    assert "Sex is empty" in response.get_data(as_text=True)
    assert document(app, doc_id).status == "in_progress"
    assert (
        clerk.post(f"/work/documents/{doc_id}/submit", data={"confirm_missing": "1"}).status_code
        == 303
    )
    assert document(app, doc_id).status == "submitted"
    with app.app_context():
        assert db.session.scalars(sa.select(QualityFlag.kind)).all() == ["missing_before_submit"]


def test_probable_duplicates_across_documents(app, people):
    first = add_document(app, ["clerk"])
    second = add_document(app, ["clerk"])
    clerk = login(app, "clerk")
    save_row(clerk, first, string_column="SAME-1", integer_column="1")
    save_row(clerk, second, string_column="same-1", integer_column="2")
    page = login(app, "reviewer").get("/review/quality").get_data(as_text=True)
    assert "same-1" in page


# --- double entry --------------------------------------------------------------------------------


def test_double_entry_keeps_clerks_apart_and_compares(app, people):
    doc_id, a, b = double_entered(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 0
        other_row = (
            db.session.scalars(
                sa.select(DoubleEntryRow).where(DoubleEntryRow.clerk_id == find_user("clerk").id)
            )
            .first()
            .id
        )
    page = b.get(f"/work/documents/{doc_id}").get_data(as_text=True)
    assert "double entry" not in page.lower() and ">10<" not in page
    assert b.get(f"/work/documents/{doc_id}/entry/testDB/{other_row}").status_code == 404
    assert (
        b.post(
            f"/work/documents/{doc_id}/entry/testDB/{other_row}/delete", data={"reason": "x"}
        ).status_code
        == 404
    )
    assert a.post(f"/work/documents/{doc_id}/submit").status_code == 303
    assert document(app, doc_id).status == "in_progress"
    assert b.post(f"/work/documents/{doc_id}/submit").status_code == 303
    assert document(app, doc_id).status == "submitted"
    with app.app_context():
        comparison = db.session.get(Comparison, doc_id)
        assert comparison.differences == 1 and comparison.fields_compared > 1
        (d,) = db.session.scalars(sa.select(Discrepancy)).all()
        assert (d.field, d.value_a, d.value_b) == ("integer_column", "10", "11")


def test_reviewer_resolves_differences_into_the_entry_tables(app, people):
    doc_id, a, b = double_entered(app)
    a.post(f"/work/documents/{doc_id}/submit")
    b.post(f"/work/documents/{doc_id}/submit")
    reviewer = login(app, "reviewer")
    page = reviewer.get(f"/review/documents/{doc_id}/compare").get_data(as_text=True)
    assert 'class="table-warning difference" data-field="integer_column"' in page
    with app.app_context():
        d_id = db.session.scalar(sa.select(Discrepancy.id))
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 409
    missing = reviewer.post(f"/review/documents/{doc_id}/compare", data={})
    assert missing.status_code == 422 and "Choose a value." in missing.get_data(as_text=True)
    invalid = reviewer.post(
        f"/review/documents/{doc_id}/compare",
        data={f"choice-{d_id}": "other", f"other-{d_id}": "12a"},
    )
    assert invalid.status_code == 422 and "whole number" in invalid.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 0
    done = reviewer.post(
        f"/review/documents/{doc_id}/compare",
        data={f"choice-{d_id}": "other", f"other-{d_id}": "12"},
    )
    assert done.status_code == 303
    with app.app_context():
        row = db.session.scalars(sa.select(TestDB)).one()
        assert (row.string_column, row.integer_column, row.document_id) == ("D1", 12, doc_id)
        person = db.session.scalars(sa.select(RegisterPerson)).one()
        assert person.full_name == "Doe, Jane"
        resolved = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "resolve")
        ).one()
        assert json.loads(resolved.after) == {"integer_column": "12"}
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 303


def test_double_entry_needs_two_clerks(app, people):
    with app.app_context():
        n = next(_names)
        (result,) = docs.add_files(
            [IncomingFile(f"d{n}.pdf", pdf_document(f"d{n}", []))],
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
            double_entry=True,
        )
        doc_id = result.document.id
    admin = login(app, "admin")
    with app.app_context():
        clerk_id = find_user("clerk").id
    admin.post("/documents/assign", data={"document_id": doc_id, "clerk_id": clerk_id})
    assert document(app, doc_id).status == "new"


# --- sampled re-entry ----------------------------------------------------------------------------


def test_sampled_reentry_assigns_a_second_clerk_blind(app, people):
    admin = login(app, "admin")
    assert admin.post("/review/settings", data={"percent": "abc"}).status_code == 422
    assert admin.post("/review/settings", data={"percent": "101"}).status_code == 422
    assert admin.post("/review/settings", data={"percent": "100"}).status_code == 303
    doc_id, _ = submitted_document(app, rows=(("S1", "5"),))
    with app.app_context():
        doc = db.session.get(Document, doc_id)
        assert doc.double_entry and doc.status == "assigned"
        assert sorted(a.clerk_id for a in doc.assignments) == sorted(
            [find_user("clerk").id, find_user("clerk2").id]
        )
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 0
    second = login(app, "clerk2")
    blind = second.get(f"/work/documents/{doc_id}").get_data(as_text=True)
    assert ">S1<" not in blind and 'value="S1"' not in blind  # (a random token may hold "S1")
    second.post(
        f"/work/documents/{doc_id}/entry/testDB",
        data={"string_column": "S1", "integer_column": "6"},
    )
    assert second.post(f"/work/documents/{doc_id}/submit").status_code == 303
    with app.app_context():
        fields = db.session.scalars(sa.select(Discrepancy.field)).all()
        # integer 5 vs 6; the first entry's date was filled in on saving, the second left empty
        assert "integer_column" in fields and set(fields) <= {"integer_column", "date_column"}
    assert re.search(
        r"differ",
        login(app, "reviewer").get(f"/review/documents/{doc_id}/compare").get_data(as_text=True),
    )


def test_rows_only_one_clerk_typed_are_differences_to_keep_or_drop(app, people):
    """clerk types D1 and D2, clerk2 types D1 and D3 (D1 alike): D2 and D3 are whole-row
    differences; the reviewer keeps D2 and drops D3."""
    doc_id = add_document(app, ["clerk", "clerk2"], double=True)
    a, b = login(app, "clerk"), login(app, "clerk2")
    for client, keys in ((a, ("D1", "D2")), (b, ("D1", "D3"))):
        for key in keys:
            response = client.post(
                f"/work/documents/{doc_id}/entry/testDB",
                data={"string_column": key, "integer_column": "7"},
            )
            assert response.status_code == 303, response.get_data(as_text=True)[:500]
        assert client.post(f"/work/documents/{doc_id}/submit").status_code == 303
    assert document(app, doc_id).status == "submitted"
    with app.app_context():
        comparison = db.session.get(Comparison, doc_id)
        assert comparison.differences == 2
        found = {d.match_key: d for d in db.session.scalars(sa.select(Discrepancy))}
    assert sorted(found) == ["key:D2", "key:D3"]
    assert {(k, d.field, d.value_a, d.value_b) for k, d in found.items()} == {
        ("key:D2", "__row__", "present", None),
        ("key:D3", "__row__", None, "present"),
    }

    reviewer = login(app, "reviewer")
    page = reviewer.get(f"/review/documents/{doc_id}/compare").get_data(as_text=True)
    assert "D2" in page and "D3" in page
    assert reviewer.post(f"/review/documents/{doc_id}/approve").status_code == 409
    keep_d2_drop_d3 = {f"choice-{found['key:D2'].id}": "a", f"choice-{found['key:D3'].id}": "a"}
    assert (
        reviewer.post(f"/review/documents/{doc_id}/compare", data=keep_d2_drop_d3).status_code
        == 303
    )
    with app.app_context():
        written = db.session.execute(
            sa.select(TestDB.string_column, TestDB.integer_column, TestDB.document_id).order_by(
                TestDB.string_column
            )
        ).all()
    assert [tuple(r) for r in written] == [("D1", 7, doc_id), ("D2", 7, doc_id)]
