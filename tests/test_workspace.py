"""The clerk's side: the queue of documents, "Next document", the workspace (the document beside
the entry forms), rows saved against a document, and "Submit document". Every test runs on each
configured backend."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.documents.samples import pdf_document, png_image
from app.entry_tables.registry import entry_tables
from app.extensions import db
from app.models import Assignment, AuditEvent, Document, Draft, RegisterPerson, TestDB, User
from app.services import documents as docs
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.helpers import login


def add(app, name: str, content: bytes, *, to: list[str] = ()) -> int:
    """Store a document and assign it (in this order) to the named clerks."""
    with app.app_context():
        result = docs.add_file(
            IncomingFile(name, content), get_storage(), actor=None, max_bytes=1_048_576
        )
        assert result.ok, result.error
        if to:
            clerks = list(db.session.scalars(sa.select(User).where(User.username.in_(to))))
            docs.assign([result.document], clerks, actor=None)
        return result.document.id


def pdf(n: int) -> bytes:
    return pdf_document(f"Register page {n}", [f"Roe, Richard, aged {n}"])


def document(app, document_id: int) -> Document:
    with app.app_context():
        return db.session.get(Document, document_id)


def assignment_status(app, document_id: int, username: str) -> str:
    with app.app_context():
        return db.session.scalar(
            sa.select(Assignment.status)
            .join(User, User.id == Assignment.clerk_id)
            .where(Assignment.document_id == document_id, User.username == username)
        )


def saved_rows(app) -> list[TestDB]:
    with app.app_context():
        return list(db.session.scalars(sa.select(TestDB).order_by(TestDB.string_column)))


def audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def feedback(response) -> list[str]:
    return re.findall(
        r'class="invalid-feedback[^"]*"[^>]*>\s*([^<]*?)\s*<', response.get_data(as_text=True)
    )


def save_row(client, document_id: int, key: str, number: str = "1", headers=None, **extra):
    return client.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": key, "integer_column": number, **extra},
        headers=headers,
    )


def queue_rows(page: str) -> dict[int, list[str]]:
    """The queue table: cells (tags stripped) keyed by document id."""
    body = re.search(r'<table[^>]*id="queue".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        rows[int(cells[0])] = cells[1:]
    return rows


@pytest.fixture
def team(app, make_user, users) -> None:
    """Clerks ann and bob, besides the admin, reviewer and clerk of `users`."""
    make_user("ann", "clerk")
    make_user("bob", "clerk")


@pytest.fixture
def ann(app, team):
    return login(app, "ann")


# --- the queue -------------------------------------------------------------------------------


def test_a_clerk_lands_on_the_queue(app, ann):
    response = ann.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/work/"
    page = ann.get("/work/").get_data(as_text=True)
    assert "My documents" in page and "No documents are assigned to you yet." in page
    assert 'id="next-document"' in page and "Next document" in page


def test_the_queue_lists_status_rows_and_the_reviewers_comment(app, ann):
    started = add(app, "started.pdf", pdf(1), to=["ann"])
    returned = add(app, "returned.pdf", pdf(2), to=["ann"])
    fresh = add(app, "fresh.png", png_image(8, 8, seed=3), to=["ann"])
    others = add(app, "not-yours.pdf", pdf(4), to=["bob"])
    for key in ("A-1", "A-2"):
        assert save_row(ann, started, key).status_code == 303
    bob = login(app, "bob")
    assert save_row(bob, others, "B-1").status_code == 303  # bob's rows are not ann's
    with app.app_context():
        doc = db.session.get(Document, returned)
        doc.status, doc.review_comment = "returned", "Row 3: the <b>age</b> is 43, not 34."
        db.session.commit()

    rows = queue_rows(ann.get("/work/").get_data(as_text=True))
    assert set(rows) == {started, returned, fresh}
    assert rows[started][:3] == ["started.pdf", "in progress", "2"]
    assert rows[fresh][:4] == ["fresh.png", "assigned", "0", ""]
    assert rows[returned][1] == "returned"
    page = ann.get("/work/").get_data(as_text=True)
    assert "Row 3: the &lt;b&gt;age&lt;/b&gt; is 43, not 34." in page  # shown, escaped
    workspace = ann.get(f"/work/documents/{returned}").get_data(as_text=True)
    assert 'id="review-comment"' in workspace and "&lt;b&gt;age&lt;/b&gt;" in workspace


def test_only_clerks_have_a_queue(app, users):
    for role in ("admin", "reviewer"):
        client = login(app, role)
        assert client.get("/work/").status_code == 403
        assert client.get("/work/next").status_code == 403


# --- next document ---------------------------------------------------------------------------


def test_next_document_opens_the_oldest_unfinished_one(app, ann):
    first = add(app, "first.pdf", pdf(1), to=["ann"])
    second = add(app, "second.pdf", pdf(2), to=["ann"])
    add(app, "bobs.pdf", pdf(3), to=["bob"])
    response = ann.get("/work/next")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/work/documents/{first}"
    assert save_row(ann, first, "K-1").status_code == 303  # started is still unfinished
    assert ann.get("/work/next").headers["Location"] == f"/work/documents/{first}"
    assert ann.post(f"/work/documents/{first}/submit").status_code == 303
    assert ann.get("/work/next").headers["Location"] == f"/work/documents/{second}"


def test_a_returned_document_is_unfinished_again(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    assert save_row(ann, document_id, "R-1").status_code == 303
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303
    assert ann.get("/work/next").headers["Location"] == "/work/"
    with app.app_context():  # what the reviewer's "Return" does
        doc = db.session.get(Document, document_id)
        doc.status, doc.review_comment = "returned", "Check R-1."
        for assignment in doc.assignments:
            assignment.status, assignment.submitted_at = "in_progress", None
        db.session.commit()
    assert ann.get("/work/next").headers["Location"] == f"/work/documents/{document_id}"
    assert save_row(ann, document_id, "R-2").status_code == 303
    assert document(app, document_id).status == "in_progress"
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303
    assert document(app, document_id).status == "submitted"


def test_next_document_with_nothing_left(app, ann):
    response = ann.get("/work/next", follow_redirects=True)
    assert response.request.path == "/work/"
    assert "You have no unfinished documents." in response.get_data(as_text=True)


# --- the workspace ---------------------------------------------------------------------------


def test_workspace_shows_the_pdf_beside_every_entry_form(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    page = ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    viewer = re.search(r'<section[^>]*id="document-viewer"[^>]*>', page).group(0)
    assert 'data-kind="pdf"' in viewer  # drawn by PDF.js (static/js/viewer.js)
    src = re.search(r'data-src="([^"]+)"', viewer).group(1)
    assert src == f"/documents/{document_id}/file"
    served = ann.get(src)
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    # The first table's form is in the page; each other one comes when its tab is first shown
    # (htmx), and is in the page itself when its tab is asked for (?panel=, no JavaScript).
    first, *others = entry_tables()
    assert f'action="/data/{first.name}/new?document={document_id}"' in page
    for table in others:
        assert f'action="/data/{table.name}/new?document={document_id}"' not in page
        lazy = re.search(
            rf'<div id="panel-body-{table.name}"[^>]*data-mode="lazy"[^>]*'
            rf'hx-get="([^"]+)" hx-trigger="intersect once"',
            page,
        ).group(1)
        panel = ann.get(lazy.replace("&amp;", "&"), headers=HX).get_data(as_text=True)
        assert f'action="/data/{table.name}/new?document={document_id}"' in panel
        assert "autofocus" not in panel  # fetched behind its tab: the focus stays on the tab
        alone = ann.get(f"/work/documents/{document_id}?panel={table.name}")
        assert f'action="/data/{table.name}/new?document={document_id}"' in alone.get_data(
            as_text=True
        )
    everything = page + "".join(
        ann.get(f"/work/documents/{document_id}?panel={t.name}").get_data(as_text=True)
        for t in others
    )
    for field in ("string_column", "integer_column", "date_column", "full_name"):
        assert f'name="{field}"' in everything
    assert "Submit document" in page


def test_the_page_opens_on_the_table_this_browser_last_picked_for_the_document(app, ann):
    """workspace.js keeps the last picked table in a cookie on the document's own path: the
    server opens the page on it (its form built, the others behind their tabs)."""
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    ann.set_cookie("portal_panel", "testDB", path=f"/work/documents/{document_id}")
    page = ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    assert f'action="/data/testDB/new?document={document_id}"' in page
    assert f'action="/data/register_person/new?document={document_id}"' not in page
    assert re.search(r'id="tab-testDB"[^>]*aria-selected="true"', page)
    ann.set_cookie("portal_panel", "users", path=f"/work/documents/{document_id}")  # no table
    page = ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    assert f'action="/data/register_person/new?document={document_id}"' in page
    assert ann.get(f"/work/documents/{document_id}?panel=testDB").status_code == 200


def test_workspace_shows_an_image_as_img(app, ann):
    document_id = add(app, "scan.png", png_image(8, 8), to=["ann"])
    page = ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    viewer = re.search(r'<img[^>]*id="viewer-image"[^>]*>', page).group(0)
    assert f'src="/documents/{document_id}/file"' in viewer
    assert ann.get(f"/documents/{document_id}/file").mimetype == "image/png"


def test_staff_see_the_workspace_read_only(app, team):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    for role in ("admin", "reviewer"):
        page = login(app, role).get(f"/work/documents/{document_id}").get_data(as_text=True)
        assert 'id="document-viewer"' in page
        assert "Submit document" not in page and "Save row" not in page


def test_a_row_saved_in_the_workspace_carries_the_document_and_the_clerk(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    response = save_row(ann, document_id, "REG-7", "42", date_column="1902-03-04T05:06")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(f"/work/documents/{document_id}") and "testDB" in location
    (row,) = saved_rows(app)
    with app.app_context():
        ann_id = db.session.scalar(sa.select(User.id).where(User.username == "ann"))
    assert (row.document_id, row.entered_by_id, row.integer_column) == (document_id, ann_id, 42)
    assert document(app, document_id).status == "in_progress"
    assert assignment_status(app, document_id, "ann") == "in_progress"
    page = ann.get(location).get_data(as_text=True)
    assert "Saved Test values row REG-7" in page
    assert "REG-7" in re.search(r'id="panel-testDB".*?</section>', page, re.S).group(0)
    assert "/data/testDB/edit?key=REG-7" in page  # listed and editable

    person = ann.post(
        f"/data/register_person/new?document={document_id}",
        data={"full_name": "Doe, Jane", "age": "34"},
    )
    assert person.status_code == 303
    with app.app_context():
        (saved,) = db.session.scalars(sa.select(RegisterPerson))
        assert (saved.document_id, saved.entered_by_id) == (document_id, ann_id)


def test_an_invalid_row_re_renders_the_workspace_with_the_field_error(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    before = audit_count(app)
    response = save_row(ann, document_id, "REG-1", "twelve")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="document-viewer"' in page and "Submit document" in page
    assert any("whole number" in text for text in feedback(response)), feedback(response)
    field = re.search(r'<input[^>]*name="integer_column"[^>]*>', page).group(0)
    assert "is-invalid" in field and 'value="twelve"' in field
    assert saved_rows(app) == [] and audit_count(app) == before
    assert document(app, document_id).status == "assigned"  # nothing saved, nothing moved


def test_submit_moves_the_document_and_opens_the_next(app, ann):
    first = add(app, "first.pdf", pdf(1), to=["ann"])
    second = add(app, "second.pdf", pdf(2), to=["ann"])
    assert save_row(ann, first, "R-1").status_code == 303
    response = ann.post(f"/work/documents/{first}/submit")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/work/documents/{second}"
    assert document(app, first).status == "submitted"
    assert assignment_status(app, first, "ann") == "submitted"
    page = ann.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Document #{first} submitted for review." in page
    last = ann.post(f"/work/documents/{second}/submit")  # nothing left: back to the queue
    assert last.status_code == 303 and last.headers["Location"] == "/work/"
    assert document(app, second).status == "submitted"
    rows = queue_rows(ann.get("/work/").get_data(as_text=True))
    assert rows[first][1] == "submitted" and rows[first][2] == "1"


def test_a_double_entry_document_is_submitted_when_both_clerks_have(app, team):
    with app.app_context():
        result = docs.add_file(
            IncomingFile("twice.pdf", pdf(1)),
            get_storage(),
            actor=None,
            max_bytes=1_048_576,
            double_entry=True,
        )
        clerks = list(db.session.scalars(sa.select(User).where(User.username.in_(["ann", "bob"]))))
        docs.assign([result.document], clerks, actor=None)
        document_id = result.document.id
    ann, bob = login(app, "ann"), login(app, "bob")
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303
    assert document(app, document_id).status == "assigned"
    assert "Submit document" not in ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    assert bob.post(f"/work/documents/{document_id}/submit").status_code == 303
    assert document(app, document_id).status == "submitted"


def test_after_submit_the_clerk_cannot_add_rows(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    assert save_row(ann, document_id, "R-1").status_code == 303
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303
    before = audit_count(app)
    response = save_row(ann, document_id, "R-2")
    assert response.status_code in {403, 404}
    assert [r.string_column for r in saved_rows(app)] == ["R-1"]
    assert audit_count(app) == before
    page = ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    assert "Save row" not in page and "Submit document" not in page
    assert "/data/testDB/edit?key=R-1" not in page  # no edit links either
    edit = ann.post(
        "/data/testDB/edit?key=R-1",
        data={"string_column": "R-1", "integer_column": "99", "version": "1"},
    )
    assert edit.status_code in {403, 404}
    assert saved_rows(app)[0].integer_column == 1


# --- another clerk's document ----------------------------------------------------------------


def test_another_clerks_document_does_not_exist_for_a_clerk(app, team):
    document_id = add(app, "bobs.pdf", pdf(1), to=["bob"])
    ann = login(app, "ann")
    before = audit_count(app)
    assert ann.get(f"/work/documents/{document_id}").status_code == 404
    assert ann.get(f"/documents/{document_id}/file").status_code == 404
    assert save_row(ann, document_id, "STOLEN").status_code == 404
    assert ann.get(f"/data/testDB/new?document={document_id}").status_code == 404
    assert (
        ann.post(
            f"/data/register_person/new?document={document_id}", data={"full_name": "Doe, Jane"}
        ).status_code
        == 404
    )
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 404
    assert (
        ann.post(
            f"/data/testDB/draft?document={document_id}", json={"data": {"string_column": "x"}}
        ).status_code
        == 404
    )
    assert ann.get("/work/documents/99999").status_code == 404
    assert save_row(ann, 99999, "NOWHERE").status_code == 404
    assert saved_rows(app) == [] and audit_count(app) == before
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RegisterPerson)) == 0
    assert document(app, document_id).status == "assigned"
    assert assignment_status(app, document_id, "bob") == "assigned"


@pytest.mark.parametrize("value", ["abc", "1.5", "-1", ""])
def test_a_malformed_document_parameter_is_a_404(app, ann, value):
    add(app, "page.pdf", pdf(1), to=["ann"])
    assert save_row(ann, value, "ODD").status_code == 404  # type: ignore[arg-type]
    assert saved_rows(app) == []


# --- in-place saves (htmx): the panel comes back, the page around it stays ------------------

HX = {"HX-Request": "true"}
LATEST = HX | {"X-Panel-Rows": "latest"}


def form_token(body: str) -> str:
    return re.search(r'name="form_token"[^>]*value="([^"]*)"', body).group(1)


def drafts_of(app) -> list[Draft]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Draft).order_by(Draft.id)))


def test_an_htmx_save_answers_with_the_panel_not_a_redirect(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    first = ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    response = save_row(ann, document_id, "A-1", "7", headers=HX, form_token=form_token(first))
    assert response.status_code == 200 and "Location" not in response.headers
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="panel-body-testDB"') and "<html" not in body
    assert 'id="document-viewer"' not in body  # the viewer is never sent again
    assert "Saved Test values row A-1: Number = 7, Date and time = " in body
    assert re.search(
        r'id="status-testDB" hx-swap-oob="innerHTML"><div class="alert alert-success', body
    )
    assert form_token(body) and form_token(body) != form_token(first)  # a fresh blank form
    assert re.search(r'<input(?=[^>]*name="string_column")[^>]*autofocus', body)
    assert "A-1" in re.search(
        r'class="table table-sm mb-1 workspace-rows".*?</table>', body, re.S
    ).group(0)
    assert [(r.string_column, r.integer_column) for r in saved_rows(app)] == [("A-1", 7)]
    with ann.session_transaction() as session:
        assert not session.get("_flashes")  # nothing left to pop up on a later page


def test_a_save_beside_the_latest_rows_answers_with_the_form_and_the_new_row_only(app, ann):
    """workspace.js says the panel lists the latest rows: the answer is a fresh form for the box
    above the rows and, out of band, the new row, the count, the page links and the message;
    the rows already on the page are not read or sent again. Without the header: the panel."""
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    first = ann.get(f"/work/documents/{document_id}").get_data(as_text=True)
    token = form_token(first)
    for n in range(10):
        answer = save_row(
            ann,
            document_id,
            f"OLD-{n}",
            str(n),
            form_token=token,
            headers=HX | {"X-Panel-Rows": "latest"},
        )
        assert answer.status_code == 200
        token = form_token(answer.get_data(as_text=True))
    response = save_row(
        ann, document_id, "NEW-1", "7", form_token=token, headers=HX | {"X-Panel-Rows": "latest"}
    )
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.headers["HX-Retarget"] == "#panel-form-testDB"
    assert response.headers["HX-Reswap"] == "outerHTML"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="panel-form-testDB" class="panel-form"')
    assert "OLD-" not in body  # only the new row
    row = re.search(
        r'<tbody id="rows-body-testDB" hx-swap-oob="afterbegin">(.*?)</tbody>', body, re.S
    ).group(1)
    assert "<td>NEW-1</td>" in row and "Edit row NEW-1" in row and "Delete row NEW-1" in row
    assert re.search(
        r'id="rows-count-testDB" hx-swap-oob="outerHTML">11 rows on this document; '
        r"the latest 10 shown<",
        body,
    )
    assert re.search(
        r'id="rows-nav-testDB" hx-swap-oob="outerHTML">.*class="rows-older"', body, re.S
    )
    assert '<span id="count-testDB" hx-swap-oob="innerHTML">11</span>' in body
    assert "Saved Test values row NEW-1: Number = 7" in body
    form = re.search(r'<form[^>]*class="entry-form".*?</form>', body, re.S).group(0)
    assert form_token(form) not in {token, ""} and 'value="NEW-1"' not in form
    assert re.search(r'<input(?=[^>]*name="string_column")[^>]*autofocus', form)
    assert len(saved_rows(app)) == 11
    # The same save without the header (no JavaScript's knowledge of the page): the panel.
    whole = save_row(ann, document_id, "NEW-2", "8", form_token=form_token(form), headers=HX)
    assert whole.get_data(as_text=True).lstrip().startswith('<div id="panel-body-testDB"')
    assert "HX-Retarget" not in whole.headers


def test_a_save_beside_the_latest_rows_reads_the_database_once(app, ann):
    """The save every row costs: one SELECT for the session, its user, the document, its
    assignments and the count of its rows; then the row, its audit event and the tally. On
    SQLite the login check reads on a connection of its own (a save's transaction takes the
    write lock at its first statement), so the document is a SELECT of its own there."""
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    token = form_token(ann.get(f"/work/documents/{document_id}").get_data(as_text=True))
    answer = save_row(ann, document_id, "A-1", "1", form_token=token, headers=LATEST)
    token = form_token(answer.get_data(as_text=True))  # the document is in progress now
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def listener(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()).upper())

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        answer = save_row(ann, document_id, "A-2", "2", form_token=token, headers=LATEST)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert answer.status_code == 200
    assert "2 rows on this document" in answer.get_data(as_text=True)
    work = [s for s in statements if not s.startswith(("BEGIN", "SET", "SAVEPOINT", "RELEASE"))]
    reads = 2 if engine.dialect.name == "sqlite" else 1
    assert [s.split()[0] for s in work] == ["SELECT"] * reads + ["INSERT", "INSERT", "INSERT"]
    assert "USER_SESSIONS" in work[0]
    assert "ASSIGNMENTS" in work[reads - 1] and "COUNT(" in work[reads - 1]
    assert "AUDIT_EVENTS" in work[reads + 1] and "TALLIES" in work[reads + 2]


def test_a_page_or_a_save_of_a_document_not_assigned_is_still_refused(app, ann):
    """The document read with the login check is only read: the view still decides."""
    other = add(app, "other.pdf", pdf(2), to=["bob"])
    assert ann.get(f"/work/documents/{other}").status_code == 404
    refused = save_row(ann, other, "X-1", headers=LATEST)
    assert refused.status_code in {403, 404}
    assert saved_rows(app) == []


def test_a_save_counts_only_the_clerks_own_rows_and_checks_the_document_each_time(app, ann):
    """The count read with the document is this clerk's rows of this document; a document
    submitted between two saves refuses the second (nothing is remembered across requests)."""
    mine = add(app, "mine.pdf", pdf(1), to=["ann"])
    other = add(app, "other.pdf", pdf(2), to=["bob"])
    bob = login(app, "bob")
    for key in ("B-1", "B-2"):
        token = form_token(bob.get(f"/work/documents/{other}").get_data(as_text=True))
        assert save_row(bob, other, key, form_token=token, headers=LATEST).status_code == 200
    token = form_token(ann.get(f"/work/documents/{mine}").get_data(as_text=True))
    answer = save_row(ann, mine, "M-1", form_token=token, headers=LATEST)
    assert "1 row on this document" in answer.get_data(as_text=True)
    with app.app_context():
        db.session.execute(
            sa.update(Assignment).where(Assignment.document_id == mine).values(status="submitted")
        )
        db.session.commit()
    token = form_token(answer.get_data(as_text=True))
    refused = save_row(ann, mine, "M-2", form_token=token, headers=LATEST)
    assert refused.status_code == 403
    assert sorted(r.string_column for r in saved_rows(app)) == ["B-1", "B-2", "M-1"]


def test_the_blank_form_after_a_refused_save_then_a_save_is_blank_again(app, ann):
    """The blank form's fields are rendered once per table and reused: a refusal's typed values
    and marks never leak into the blank form that follows, nor into another clerk's."""
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    refused = save_row(ann, document_id, "R-1", "twelve", headers=HX)
    assert refused.status_code == 422 and 'value="twelve"' in refused.get_data(as_text=True)
    saved = save_row(
        ann,
        document_id,
        "R-1",
        "12",
        headers=HX,
        form_token=form_token(refused.get_data(as_text=True)),
    )
    body = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "Saved Test values row R-1" in body
    form = re.search(r'<form[^>]*class="entry-form".*?</form>', body, re.S).group(0)
    assert "is-invalid" not in form and 'value="twelve"' not in form
    assert 'value="R-1"' not in form and 'value="12"' not in form
    again = save_row(ann, document_id, "R-2", "13", headers=HX, form_token=form_token(body))
    assert form_token(again.get_data(as_text=True)) != form_token(body)  # one token per form
    assert [r.string_column for r in saved_rows(app)] == ["R-1", "R-2"]


def test_an_htmx_double_send_gives_one_row(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    token = form_token(ann.get(f"/work/documents/{document_id}").get_data(as_text=True))
    assert save_row(ann, document_id, "ONCE", headers=HX, form_token=token).status_code == 200
    again = save_row(ann, document_id, "ONCE", headers=HX, form_token=token)
    assert again.status_code == 200
    assert "already saved" in again.get_data(as_text=True)
    assert [r.string_column for r in saved_rows(app)] == ["ONCE"]


def test_an_invalid_htmx_save_is_a_422_panel_with_a_summary_and_keeps_a_draft(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    response = save_row(ann, document_id, "BAD-1", "twelve", headers=HX)
    assert response.status_code == 422 and "Location" not in response.headers
    body = response.get_data(as_text=True)
    summary = re.search(
        r'<div class="alert alert-danger error-summary" role="alert" '
        r'tabindex="-1"[^>]*>.*?</div>',
        body,
        re.S,
    ).group(0)
    assert 'href="#integer_column"' in summary and "whole number" in summary
    assert "is-invalid" in re.search(r'<input[^>]*name="integer_column"[^>]*>', body).group(0)
    assert saved_rows(app) == []
    (draft,) = drafts_of(app)  # the refused values are the draft now
    assert draft.document_id == document_id and '"twelve"' in draft.data
    assert 'name="draft_kept" type="hidden" value="1"' in body


def test_soft_warnings_come_back_in_the_panel_and_a_confirmed_save_clears_the_draft(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    url = f"/data/register_person/new?document={document_id}"
    data = {"full_name": "Old, Very", "age": "120", "sex": "female"}
    warned = ann.post(url, data=data, headers=HX)
    assert warned.status_code == 200 and "I checked these values" in warned.get_data(as_text=True)
    body = warned.get_data(as_text=True)
    # The question stands right under the age it is about, tied to the input.
    age = re.search(
        r'<input[^>]*name="age"[^>]*>\s*<div class="form-text soft-warning[^"]*" '
        r'id="age-warning">Check this value: ([^<]*)</div>',
        body,
    )
    assert age and "Age (years)" in age.group(1) and "120" in age.group(1)
    assert "age-warning" in re.search(r'<input[^>]*name="age"[^>]*>', body).group(0)
    assert 'id="full_name-warning"' not in body  # only the questioned field
    assert len(drafts_of(app)) == 1
    saved = ann.post(url, data={**data, "confirm_warnings": "y", "draft_kept": "1"}, headers=HX)
    assert saved.status_code == 200 and "Saved Register: people row" in saved.get_data(as_text=True)
    assert drafts_of(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(RegisterPerson.age)) == 120


def test_edit_and_delete_happen_in_the_panel(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    assert save_row(ann, document_id, "E-1", "1").status_code == 303
    form = ann.get("/data/testDB/edit?key=E-1", headers=HX)
    body = form.get_data(as_text=True)
    assert form.status_code == 200 and body.lstrip().startswith('<div id="panel-body-testDB"')
    assert "Editing row E-1" in body and 'hx-post="/data/testDB/edit?key=E-1"' in body
    assert f'hx-get="/work/documents/{document_id}/panel/testDB"' in body  # Cancel
    saved = ann.post(
        "/data/testDB/edit?key=E-1",
        headers=HX,
        data={"string_column": "E-1", "integer_column": "2", "version": "1"},
    )
    text = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "Saved changes to Test values row E-1." in text
    assert 'action="/data/testDB/new?document=' in text  # back to the create form
    assert saved_rows(app)[0].integer_column == 2

    stale = ann.post(
        "/data/testDB/edit?key=E-1",
        headers=HX,
        data={"string_column": "E-1", "integer_column": "3", "version": "1"},
    )
    assert stale.status_code == 409 and 'id="conflict"' in stale.get_data(as_text=True)
    assert saved_rows(app)[0].integer_column == 2

    asked = ann.get("/data/testDB/delete?key=E-1", headers=HX).get_data(as_text=True)
    assert "Why is it deleted?" in asked and 'id="document-viewer"' not in asked
    refused = ann.post("/data/testDB/delete?key=E-1", headers=HX, data={"reason": " "})
    assert refused.status_code == 422 and "is-invalid" in refused.get_data(as_text=True)
    deleted = ann.post("/data/testDB/delete?key=E-1", headers=HX, data={"reason": "typo"})
    assert deleted.status_code == 200 and "Deleted Test values row E-1." in deleted.get_data(
        as_text=True
    )
    assert saved_rows(app) == []


def test_the_edit_page_links_back_to_its_document(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    assert save_row(ann, document_id, "L-1").status_code == 303
    page = ann.get("/data/testDB/edit?key=L-1").get_data(as_text=True)
    assert f'href="/work/documents/{document_id}?panel=testDB" id="back-to-document"' in page


def test_the_panel_lists_the_latest_rows_and_pages_the_rest(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    for n in range(23):
        assert save_row(ann, document_id, f"P-{n:02}", str(n)).status_code == 303
    page = ann.get(f"/work/documents/{document_id}?panel=testDB").get_data(as_text=True)
    panel = re.search(r'id="panel-testDB".*?</section>', page, re.S).group(0)
    keys = re.findall(r"<tr><td>(P-\d\d)</td>", panel)
    assert keys == [f"P-{n:02}" for n in range(22, 12, -1)]  # the latest ten, newest first
    assert "23 rows on this document; the latest 10 shown" in panel
    assert f'href="/work/documents/{document_id}?panel=testDB&amp;page=2"' in panel
    older = ann.get(f"/work/documents/{document_id}/panel/testDB?page=3", headers=HX)
    assert re.findall(r"<tr><td>(P-\d\d)</td>", older.get_data(as_text=True)) == [
        "P-02",
        "P-01",
        "P-00",
    ]
    plain = ann.get(f"/work/documents/{document_id}/panel/testDB?page=3")
    assert plain.status_code == 302 and plain.headers["Location"].endswith("panel=testDB&page=3")
    second = ann.get(f"/work/documents/{document_id}?panel=testDB&page=2").get_data(as_text=True)
    assert (
        re.findall(
            r"<tr><td>(P-\d\d)</td>",
            re.search(r'id="panel-testDB".*?</section>', second, re.S).group(0),
        )[0]
        == "P-12"
    )


def test_submit_is_refused_while_a_draft_holds_typed_input(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    draft = f"/data/register_person/draft?document={document_id}"
    assert ann.post(draft, json={"data": {"full_name": "Half, Ty"}}).status_code == 200
    refused = ann.post(f"/work/documents/{document_id}/submit")
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "Your Register: people form has unsaved input: save or discard it first" in page
    assert 'value="Half, Ty"' in page  # the typed text is back in its field
    assert f'action="/data/register_person/draft/discard?document={document_id}"' in page
    assert document(app, document_id).status == "assigned"
    assert assignment_status(app, document_id, "ann") == "assigned"
    assert len(drafts_of(app)) == 1

    discarded = ann.post(f"/data/register_person/draft/discard?document={document_id}")
    assert discarded.status_code == 303 and drafts_of(app) == []
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303
    assert document(app, document_id).status == "submitted"


def test_a_draft_of_empty_fields_does_not_stop_submit(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    ann.post(
        f"/data/testDB/draft?document={document_id}",
        json={"data": {"string_column": " ", "integer_column": ""}},
    )
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303


def test_a_beacon_draft_arrives_as_a_form_body(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    url = f"/data/testDB/draft?document={document_id}"
    sent = ann.post(url, data={"draft": '{"data": {"string_column": "BEAC"}}'})
    assert sent.status_code == 200
    (draft,) = drafts_of(app)
    assert draft.document_id == document_id and '"BEAC"' in draft.data
    assert ann.post(url, data={"draft": "{not json"}).status_code == 422


def test_an_htmx_discard_answers_with_a_blank_panel(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    ann.post(f"/data/testDB/draft?document={document_id}", json={"data": {"string_column": "GONE"}})
    response = ann.post(f"/data/testDB/draft/discard?document={document_id}", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Draft discarded." in body and "GONE" not in body
    assert drafts_of(app) == []


def test_a_reviewers_correction_is_beside_the_document(app, ann, users):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    assert save_row(ann, document_id, "C-1", "1").status_code == 303
    reviewer = login(app, "reviewer")
    page = reviewer.get("/review/correct/testDB?key=C-1").get_data(as_text=True)
    assert f'src="/documents/{document_id}/file"' in page and 'id="correct-form"' in page
    assert f'href="/review/documents/{document_id}"' in page  # and back to the review
    refused = reviewer.post(
        "/review/correct/testDB?key=C-1",
        data={"string_column": "C-1", "integer_column": "2", "version": "1", "reason": ""},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'class="alert alert-danger error-summary"' in text and 'href="#reason"' in text
    assert 'id="document-viewer"' in text and saved_rows(app)[0].integer_column == 1


def test_a_draft_that_crosses_its_forms_save_is_not_kept(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    token = form_token(ann.get(f"/work/documents/{document_id}").get_data(as_text=True))
    assert save_row(ann, document_id, "X-1", headers=HX, form_token=token).status_code == 200
    late = ann.post(
        f"/data/testDB/draft?document={document_id}",
        json={"data": {"string_column": "X-1"}, "form_token": token},
    )
    assert late.status_code == 200 and late.get_json() == {"saved": False, "already_saved": True}
    assert drafts_of(app) == []
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303


def test_each_table_is_a_tab_with_a_heading_and_one_is_shown(app, ann):
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    page = ann.get(f"/work/documents/{document_id}?panel=testDB").get_data(as_text=True)
    assert 'role="tablist"' in page
    for table in entry_tables():
        tab = re.search(rf'<a class="nav-link[^"]*" id="tab-{table.name}"[^>]*>', page).group(0)
        assert 'role="tab"' in tab and f'aria-controls="panel-{table.name}"' in tab
        # without JavaScript the tab is a link that opens its table
        assert f'href="/work/documents/{document_id}?panel={table.name}"' in tab
        assert f'<h2 class="h6 mb-2" id="heading-{table.name}">{table.label}' in page
        selected = 'aria-selected="true"' in tab
        assert selected == (table.name == "testDB")
    assert re.search(r'id="panel-testDB" class="workspace-panel tab-pane show active"', page)
    assert re.search(r'id="panel-register_person" class="workspace-panel tab-pane"\s', page)
    assert 'role="status" aria-live="polite"' in page
