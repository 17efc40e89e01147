"""Two clerks double-enter a document with one deliberate difference; a reviewer resolves it
on the comparison page while the dashboard, open in another page, updates by itself."""

from __future__ import annotations

import sqlalchemy as sa

from app.documents.samples import pdf_document
from app.extensions import db
from app.models import Document, TestDB
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.helpers import log_in


def _double_document(live_server) -> int:
    with live_server.app.app_context():
        (result,) = docs.add_files(
            [IncomingFile("register.pdf", pdf_document("Register", ["Doe, Jane, 34"]))],
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
            double_entry=True,
        )
        docs.assign([result.document], [find_user("clerk1"), find_user("clerk2")], actor=None)
        return result.document.id


def _enter_and_submit(page, username, number):
    log_in(page, username)
    page.click("#next-document")
    page.wait_for_selector("#document-viewer")
    assert "double" not in page.content().lower()  # blind: nothing says it is doubled
    page.click("#tab-testDB")  # one entry table at a time: the clerk picks it by its tab
    field = page.locator("#panel-testDB [name=string_column]")
    field.focus()
    page.keyboard.type("D-1")
    page.keyboard.press("Tab")
    page.keyboard.type(number)
    page.keyboard.press("Enter")
    page.wait_for_selector(".alert-success")
    page.click("text=Submit document")
    page.wait_for_selector(".alert-success:has-text('submitted for review')")


def _count(page, selector):
    return page.locator(selector).first.inner_text().strip()


def test_double_entry_resolved_while_the_dashboard_updates(new_page, live_server, live_user):
    for name in ("clerk1", "clerk2"):
        live_user(name)
    live_user("boss", "reviewer")
    doc_id = _double_document(live_server)

    dashboard = new_page()
    log_in(dashboard, "boss")
    dashboard.goto("/dashboard/?refresh=1")
    dashboard.evaluate("() => { window.__stillTheSamePage = true; }")
    submitted = "[data-document-status=submitted] .count"
    approved = "[data-document-status=approved] .count"
    assert _count(dashboard, submitted) == "0"

    _enter_and_submit(new_page(), "clerk1", "10")
    _enter_and_submit(new_page(), "clerk2", "11")  # the deliberate difference

    dashboard.wait_for_function(
        "(sel) => document.querySelector(sel)?.textContent.trim() === '1'", arg=submitted
    )
    discrepancy = "[data-clerk=clerk1] [data-metric=discrepancy_rate]"
    dashboard.wait_for_function(
        "(sel) => document.querySelector(sel)?.textContent.trim().startsWith('1/')", arg=discrepancy
    )

    # Same browser, another tab: a second login would end the first session (ids rotate).
    reviewer = dashboard.context.new_page()
    reviewer.goto("/review/")
    reviewer.click("#review-queue tr:has-text('register.pdf') >> text=Review")
    reviewer.wait_for_selector("#compare-form")
    differences = reviewer.locator("tr.difference")
    assert differences.count() == 1
    row = differences.first
    assert row.get_attribute("data-field") == "integer_column"
    assert "10" in row.inner_text() and "11" in row.inner_text()
    row.locator("input[value=b]").check()
    reviewer.click("#resolve")
    reviewer.wait_for_selector(".alert-success:has-text('resolved')")
    reviewer.click("button:has-text('Approve')")
    reviewer.wait_for_selector(".alert-success:has-text('approved')")

    dashboard.wait_for_function(
        "(sel) => document.querySelector(sel)?.textContent.trim() === '1'", arg=approved
    )
    assert dashboard.evaluate("() => window.__stillTheSamePage") is True  # no reload
    with live_server.app.app_context():
        rows = db.session.scalars(sa.select(TestDB)).all()
        assert [(r.string_column, r.integer_column) for r in rows] == [("D-1", 11)]
        assert db.session.get(Document, doc_id).status == "approved"
