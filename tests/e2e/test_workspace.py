"""A clerk's day: next document, the PDF beside the form, two rows by keyboard, submit."""

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


def _add_documents(live_server, clerk: str, count: int) -> list[int]:
    with live_server.app.app_context():
        files = [
            IncomingFile(f"page-{n}.pdf", pdf_document(f"Register page {n}", [f"line {n}"]))
            for n in range(1, count + 1)
        ]
        results = docs.add_files(files, get_storage(), actor=None, max_bytes=10_000_000)
        stored = [r.document for r in results]
        docs.assign(stored, [find_user(clerk)], actor=None)
        return [d.id for d in stored]


def test_clerk_enters_two_rows_submits_and_lands_on_the_next(page, live_server, live_user):
    live_user("clerk1")
    first, second = _add_documents(live_server, "clerk1", 2)
    log_in(page, "clerk1")
    assert "My documents" in page.content()
    page.click("#next-document")
    page.wait_for_url(f"**/work/documents/{first}")
    viewer = page.locator("#document-viewer")
    src = viewer.get_attribute("data-src")  # the document URL; PDF.js draws it on a canvas
    assert src.endswith(f"/documents/{first}/file")
    response = page.request.get(src)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    box = viewer.bounding_box()
    page.click("#tab-testDB")  # one entry table at a time: the clerk picks it by its tab
    form_box = page.locator("#panel-testDB").bounding_box()
    assert box["width"] > 400 and form_box["x"] > box["x"] + box["width"] - 5  # side by side

    page.locator("#panel-testDB [name=string_column]").focus()  # the testDB panel
    for key, number in (("ROW-A", "11"), ("ROW-B", "22")):
        page.keyboard.type(key)
        page.keyboard.press("Tab")
        page.keyboard.type(number)
        page.keyboard.press("Enter")
        page.wait_for_selector(f".alert-success:has-text('{key}')")
        # after a save the same panel's first field has the focus again: keep typing
        page.wait_for_function(
            "() => document.activeElement.closest('section')?.id === 'panel-testDB'"
        )
    assert page.locator("#panel-testDB .workspace-rows tr").count() == 2

    page.click("text=Submit document")
    page.wait_for_url(f"**/work/documents/{second}")
    assert f"Document #{first} submitted" in page.inner_text(".alert-success")
    with live_server.app.app_context():
        rows = db.session.scalars(sa.select(TestDB).order_by(TestDB.string_column)).all()
        assert [(r.string_column, r.integer_column, r.document_id) for r in rows] == [
            ("ROW-A", 11, first),
            ("ROW-B", 22, first),
        ]
        assert db.session.get(Document, first).status == "submitted"
