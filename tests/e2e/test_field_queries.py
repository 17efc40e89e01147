"""A reviewer's query on one value, in real Chromium and by keyboard: the reviewer opens it on
the cell, the clerk sees it beside the field, corrects the value and answers, the reviewer
closes it and approves; the database is checked by SELECT at each step."""

from __future__ import annotations

import sqlalchemy as sa

from app.documents.samples import pdf_document
from app.extensions import db
from app.models import Assignment, AuditEvent, Document, FieldQuery, TestDB
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.e2e.conftest import log_in

SHOTS = "/tmp"


def _submitted_document(live_server, clerk: str, name: str, key: str, number: int) -> int:
    """A document the clerk has keyed one testDB row into and submitted."""
    with live_server.app.app_context():
        result = docs.add_file(
            IncomingFile(name, pdf_document(name, [f"{key}: 17"])),
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
        )
        user = find_user(clerk)
        docs.assign([result.document], [user], actor=None)
        document = result.document
        db.session.add(
            TestDB(
                string_column=key,
                integer_column=number,
                document_id=document.id,
                entered_by_id=user.id,
                status="submitted",
            )
        )
        document.status = "submitted"
        for assignment in db.session.scalars(
            sa.select(Assignment).where(Assignment.document_id == document.id)
        ):
            assignment.status = "submitted"
        db.session.commit()
        return document.id


def _select(live_server, statement):
    with live_server.app.app_context():
        return db.session.execute(statement).all()


def test_a_query_from_the_cell_to_the_clerk_and_back_to_approval(
    new_page, live_server, live_user, axe_check
):
    live_user("clerk1")
    live_user("reviewer1", "reviewer")
    first = _submitted_document(live_server, "clerk1", "first.pdf", "K1", 1)
    second = _submitted_document(live_server, "clerk1", "second.pdf", "K2", 2)

    # the reviewer: the queue's first Review button has the focus; Enter opens the document
    reviewer = new_page()
    log_in(reviewer, "reviewer1")
    reviewer.goto("/review/")
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_url(f"**/review/documents/{first}")
    # N opens the next document to review, P comes back
    reviewer.keyboard.press("n")
    reviewer.wait_for_url(f"**/review/documents/{second}")
    reviewer.keyboard.press("p")
    reviewer.wait_for_url(f"**/review/documents/{first}")
    # Enter on the value opens the query form with the focus in the question
    cell = reviewer.locator("td a.cell-value").nth(1)  # Key, Number, Date: the number
    assert cell.inner_text() == "1"
    cell.focus()
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_selector("#ask")
    assert "Test values · Number, row K1" in reviewer.inner_text("#ask-heading")
    reviewer.wait_for_function("() => document.activeElement?.id === 'question'")
    reviewer.keyboard.type("The register says 17 here?")
    reviewer.keyboard.press("Tab")
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_selector(".alert-success")
    reviewer.wait_for_load_state()
    assert _select(
        live_server,
        sa.select(FieldQuery.status, FieldQuery.row_key, FieldQuery.field, FieldQuery.question),
    ) == [("open", "K1", "integer_column", "The register says 17 here?")]
    # the cell is marked; ] moves the focus to it
    reviewer.locator("body").focus()
    reviewer.keyboard.press("]")
    assert (
        reviewer.evaluate("document.activeElement.closest('td').className").count("cell-queried")
        == 1
    )
    reviewer.screenshot(path=f"{SHOTS}/review-query-opened.png", full_page=True)
    axe_check(reviewer, "review document with an open query")
    # approval is refused while the query is open
    reviewer.locator("#approve").focus()
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_selector(".alert-danger, .alert-error, .alert-warning")
    reviewer.wait_for_load_state()
    assert "queries not yet closed" in reviewer.content()
    assert _select(live_server, sa.select(Document.status).where(Document.id == first)) == [
        ("submitted",)
    ]

    # the clerk: the queue says so; the document shows the query beside the field
    clerk = new_page()
    log_in(clerk, "clerk1")
    clerk.goto("/work/")
    assert "1 open query" in clerk.inner_text("#queue")
    clerk.goto(f"/work/documents/{first}")
    box = clerk.locator("#field-queries")
    assert "The register says 17 here?" in box.inner_text()
    axe_check(clerk, "clerk's document with an open query")
    assert "Number (now “1”; type a new value to correct it)" in box.inner_text()
    box.locator("input[name=value]").focus()
    clerk.keyboard.type("17")
    clerk.keyboard.press("Tab")
    clerk.keyboard.type("Misread the 7 as a 1")
    clerk.keyboard.press("Tab")
    clerk.keyboard.press("Enter")
    clerk.wait_for_selector(".alert-success")
    clerk.wait_for_load_state()
    assert "and the value corrected" in clerk.inner_text(".alert-success")
    assert "You answered: Misread the 7 as a 1 (corrected to “17”)" in clerk.inner_text(
        "#field-queries"
    )
    clerk.screenshot(path=f"{SHOTS}/review-query-answered.png", full_page=True)
    axe_check(clerk, "clerk's document with an answered query")
    assert _select(
        live_server, sa.select(TestDB.integer_column).where(TestDB.string_column == "K1")
    ) == [(17,)]
    assert _select(
        live_server, sa.select(FieldQuery.status, FieldQuery.answer, FieldQuery.corrected_to)
    ) == [("answered", "Misread the 7 as a 1", "17")]

    # the reviewer reads the answer, closes the query and approves
    reviewer.goto(f"/review/documents/{first}")
    thread = reviewer.locator(".border[id^=query-]").first
    assert "corrected to “17”" in thread.inner_text()
    thread.locator("button", has_text="Close query").focus()
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_selector(".alert-success")
    reviewer.locator("#approve").focus()
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_url(f"**/review/documents/{second}")  # on to the next document
    reviewer.screenshot(path=f"{SHOTS}/review-query-approved.png", full_page=True)
    assert _select(live_server, sa.select(Document.status).where(Document.id == first)) == [
        ("approved",)
    ]
    assert _select(live_server, sa.select(FieldQuery.status)) == [("closed",)]
    assert [
        a
        for (a,) in _select(
            live_server,
            sa.select(AuditEvent.action)
            .where(
                AuditEvent.table_name.in_(["field_queries", "documents", "testDB"]),
                AuditEvent.action != "assign",
            )
            .order_by(AuditEvent.id),
        )
    ] == ["query_open", "correct", "query_answer", "query_close", "approve"]


def test_flags_on_their_cells_resolved_by_keyboard_and_approval_confirmed(
    new_page, live_server, live_user, axe_check
):
    live_user("clerk1")
    live_user("reviewer1", "reviewer")
    from app.models import QualityFlag, RegisterPerson

    with live_server.app.app_context():
        result = docs.add_file(
            IncomingFile(
                "register.pdf",
                pdf_document("Register", ["Old, Olga, aged 105", "Young, Yann, aged 150?"]),
            ),
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
        )
        clerk = find_user("clerk1")
        docs.assign([result.document], [clerk], actor=None)
        document = result.document
        for name, age in (("Old, Olga", 105), ("Young, Yann", 101)):
            person = RegisterPerson(
                full_name=name,
                sex="female",
                age=age,
                document_id=document.id,
                entered_by_id=clerk.id,
                status="submitted",
            )
            db.session.add(person)
            db.session.flush()
            db.session.add(
                QualityFlag(
                    table_name="register_person",
                    row_key=str(person.id),
                    document_id=document.id,
                    field="age",
                    kind="expected_range",
                    status="open",
                    raised_by_id=clerk.id,
                    message=f"Age (years) {age} is above the expected maximum 100.",
                )
            )
        document.status = "submitted"
        for assignment in document.assignments:
            assignment.status = "submitted"
        db.session.commit()
        document_id = document.id

    reviewer = new_page()
    log_in(reviewer, "reviewer1")
    reviewer.goto(f"/review/documents/{document_id}")
    flagged = reviewer.locator("td.cell-flagged")
    assert flagged.count() == 2
    assert "Age (years) 105 is above the expected maximum 100." in flagged.first.inner_text()
    # ] and [ move between the flagged values
    reviewer.keyboard.press("]")
    assert reviewer.evaluate("document.activeElement.textContent") == "105"
    reviewer.keyboard.press("]")
    assert reviewer.evaluate("document.activeElement.textContent") == "101"
    reviewer.keyboard.press("[")
    assert reviewer.evaluate("document.activeElement.textContent") == "105"
    reviewer.screenshot(path=f"{SHOTS}/review-flags.png", full_page=True)
    axe_check(reviewer, "review document with flagged cells")
    # the second flag: corrected with a reason, typed
    second = reviewer.locator("#flags li").nth(1)
    second.locator("input[name=reason]").focus()
    reviewer.keyboard.type("The register says 10")
    reviewer.keyboard.press("Tab")
    reviewer.keyboard.type("10")
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_selector(".alert-success")
    reviewer.wait_for_load_state()
    assert "Flag corrected." in reviewer.inner_text(".alert-success")
    assert reviewer.locator("td.cell-flagged").count() == 1
    # approving with the first flag open asks first; confirming records the reviewer
    reviewer.locator("#approve").focus()
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_selector("#confirm-flags")
    reviewer.wait_for_load_state()
    assert "1 quality flag on this document is not resolved" in reviewer.inner_text(
        "#confirm-flags"
    )
    reviewer.screenshot(path=f"{SHOTS}/review-approve-confirm.png", full_page=True)
    axe_check(reviewer, "review document, approval with open flags asked")
    assert _select(live_server, sa.select(Document.status).where(Document.id == document_id)) == [
        ("submitted",)
    ]
    reviewer.locator("#confirm-flags button").focus()
    reviewer.keyboard.press("Enter")
    reviewer.wait_for_url("**/review/")
    assert _select(live_server, sa.select(Document.status).where(Document.id == document_id)) == [
        ("approved",)
    ]
    assert sorted(_select(live_server, sa.select(RegisterPerson.age))) == [(10,), (105,)]
    with live_server.app.app_context():
        reviewer_id = find_user("reviewer1").id
    assert sorted(
        _select(
            live_server,
            sa.select(
                QualityFlag.resolution, QualityFlag.cleared_by_id, QualityFlag.resolution_reason
            ),
        )
    ) == [
        ("accepted", reviewer_id, "accepted at approval"),
        ("corrected", reviewer_id, "The register says 10"),
    ]
    # the dashboard shows the clerk's agreement chart, drawn by the server
    reviewer.goto("/dashboard/")
    chart = reviewer.locator('svg.agreement-chart[data-clerk="clerk1"]')
    assert chart.locator("g[data-week]").count() == 8
    reviewer.locator("#dashboard-clerks").screenshot(path=f"{SHOTS}/review-agreement.png")
