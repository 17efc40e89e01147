"""The clerk's keyboard loop beside the document, in real Chromium: saves, edits and deletes
update one panel in place (the page and its viewer are never reloaded), the focus comes back to
the first field, messages are in view, and nothing typed is lost at "Submit document"."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.documents.samples import pdf_document
from app.extensions import db
from app.models import Document, Draft, RegisterPerson, TestDB
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.helpers import E2E_PASSWORD, log_in

SHOTS = "/tmp"


def _document(live_server, clerk: str, title: str = "Register page 1") -> int:
    with live_server.app.app_context():
        result = docs.add_file(
            IncomingFile("register.pdf", pdf_document(title, ["Roe, Richard, aged 41"])),
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
        )
        docs.assign([result.document], [find_user(clerk)], actor=None)
        return result.document.id


def _open(page, live_server, live_user) -> int:
    live_user("clerk1")
    document_id = _document(live_server, "clerk1")
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}?panel=testDB")
    page.wait_for_function("() => document.activeElement?.name === 'string_column'")
    # Both gone if the page reloads or the viewer is swapped.
    page.evaluate(
        "() => { window.__marker = 1; document.getElementById('document-viewer').__kept = 1; }"
    )
    return document_id


def _not_reloaded(page) -> None:
    assert page.evaluate("() => window.__marker") == 1
    assert page.evaluate("() => document.getElementById('document-viewer').__kept") == 1


def _focused(page) -> str:
    return page.evaluate("() => document.activeElement?.name || document.activeElement?.id")


def _rows(live_server, model=TestDB):
    with live_server.app.app_context():
        return db.session.scalars(sa.select(model).order_by(model.created_at)).all()


def test_three_rows_saved_with_enter_keep_the_page_and_the_focus(page, live_server, live_user):
    # A CSP refusal (inline script, eval) shows up as a console error, as does a missing file
    # (the page names its icon, so the browser does not ask for /favicon.ico and get a 404).
    errors = []

    def console(message) -> None:
        if message.type == "error":
            errors.append((message.text, message.location.get("url")))

    page.on("console", console)
    document_id = _open(page, live_server, live_user)
    for number, key in enumerate(("IP-1", "IP-2", "IP-3"), start=1):
        page.keyboard.type(key)
        page.keyboard.press("Tab")
        page.keyboard.type(str(number * 11))
        page.keyboard.press("Enter")
        message = page.locator("#status-testDB .alert-success")
        message.filter(has_text=f"Saved Test values row {key}").wait_for()
        assert message.is_visible()
        page.wait_for_function(
            "() => document.activeElement?.name === 'string_column'"
            " && document.activeElement.value === ''"
        )
        _not_reloaded(page)
        saved = [(r.string_column, r.integer_column, r.document_id) for r in _rows(live_server)]
        assert saved[-1] == (key, number * 11, document_id) and len(saved) == number
    assert page.locator("#status-testDB").get_attribute("role") == "status"
    assert page.locator("#panel-testDB .workspace-rows tr").count() == 3
    assert page.inner_text("#count-testDB").strip() == "3"
    page.screenshot(path=f"{SHOTS}/inplace-three-rows.png")
    assert errors == []


def test_a_row_is_edited_and_deleted_beside_the_document(page, live_server, live_user):
    _open(page, live_server, live_user)
    page.keyboard.type("ED-1")
    page.keyboard.press("Tab")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    page.locator("#status-testDB .alert-success").wait_for()
    page.get_by_role("link", name="Edit row ED-1").click()
    page.locator("#panel-testDB h3", has_text="Editing row ED-1").wait_for()
    page.screenshot(path=f"{SHOTS}/inplace-edit.png")
    number = page.locator("#panel-testDB [name=integer_column]")
    number.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("55")
    page.keyboard.press("Enter")
    page.locator(
        "#status-testDB .alert-success", has_text="Saved changes to Test values row ED-1"
    ).wait_for()
    page.wait_for_function("() => document.activeElement?.name === 'string_column'")
    _not_reloaded(page)
    assert [(r.string_column, r.integer_column) for r in _rows(live_server)] == [("ED-1", 55)]
    assert page.locator("#panel-testDB [name=string_column]").get_attribute("readonly") is None

    page.get_by_role("link", name="Delete row ED-1").click()
    reason = page.locator("#reason-testDB")
    reason.wait_for()
    page.wait_for_function("() => document.activeElement?.id === 'reason-testDB'")
    page.keyboard.type("typed twice")
    page.screenshot(path=f"{SHOTS}/inplace-delete.png")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Delete the row"
    page.locator(
        "#status-testDB .alert-success", has_text="Deleted Test values row ED-1"
    ).wait_for()
    _not_reloaded(page)
    assert _rows(live_server) == []


def test_a_refused_save_shows_the_summary_and_focuses_the_field(page, live_server, live_user):
    _open(page, live_server, live_user)
    page.keyboard.type("BAD-1")
    page.keyboard.press("Tab")
    page.keyboard.type("99999999999")  # beyond a 32-bit whole number
    page.keyboard.press("Enter")
    summary = page.locator("#error-summary-testDB")
    summary.wait_for()
    assert summary.get_attribute("role") == "alert" and summary.is_visible()
    assert "Number" in summary.inner_text()
    page.wait_for_function("() => document.activeElement?.name === 'integer_column'")
    _not_reloaded(page)
    page.screenshot(path=f"{SHOTS}/inplace-refused.png")
    assert _rows(live_server) == []
    with live_server.app.app_context():  # the refused values are kept as the draft
        (draft,) = db.session.scalars(sa.select(Draft)).all()
        assert '"99999999999"' in draft.data
    page.keyboard.press("Control+A")
    page.keyboard.type("12")
    page.keyboard.press("Enter")
    page.locator("#status-testDB .alert-success", has_text="BAD-1").wait_for()
    assert [(r.string_column, r.integer_column) for r in _rows(live_server)] == [("BAD-1", 12)]
    with live_server.app.app_context():
        assert db.session.scalars(sa.select(Draft)).all() == []


def test_a_soft_warning_is_confirmed_by_a_second_enter(page, live_server, live_user):
    live_user("clerk1")
    document_id = _document(live_server, "clerk1")
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}?panel=register_person")
    page.wait_for_function("() => document.activeElement?.name === 'full_name'")
    page.evaluate(
        "() => { window.__marker = 1; document.getElementById('document-viewer').__kept = 1; }"
    )
    page.keyboard.type("Old, Very")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # sex: Female
    page.keyboard.press("Tab")
    page.keyboard.type("120")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement?.name === 'confirm_warnings'")
    box = page.locator("#panel-register_person [name=confirm_warnings]")
    assert box.is_visible() and _rows(live_server, RegisterPerson) == []
    warning = page.locator("#panel-register_person #age-warning")
    assert warning.is_visible() and "120" in warning.inner_text()  # beside the age it questions
    age_box = page.locator("#panel-register_person [name=age]").bounding_box()
    warning_box = warning.bounding_box()
    assert 0 <= warning_box["y"] - (age_box["y"] + age_box["height"]) < 40
    page.screenshot(path=f"{SHOTS}/inplace-warning.png")
    page.keyboard.press("Enter")
    page.locator("#status-register_person .alert-success", has_text="Old, Very").wait_for()
    _not_reloaded(page)
    assert [(r.full_name, r.age) for r in _rows(live_server, RegisterPerson)] == [
        ("Old, Very", 120)
    ]


def test_a_half_typed_row_stops_submit_and_is_not_lost(page, live_server, live_user):
    document_id = _open(page, live_server, live_user)
    page.keyboard.type("HALF-")
    page.click("#submit-document")  # at once: no draft was sent by the timers yet
    page.locator("#unsaved-before-submit").wait_for()
    assert "Your Test values form has unsaved input: save or discard it first" in (
        page.inner_text("#unsaved-before-submit")
    )
    assert page.locator("#panel-testDB [name=string_column]").input_value() == "HALF-"
    page.screenshot(path=f"{SHOTS}/inplace-submit-refused.png")
    with live_server.app.app_context():
        assert db.session.get(Document, document_id).status == "assigned"
        (draft,) = db.session.scalars(sa.select(Draft)).all()
        assert '"HALF-"' in draft.data
    assert _rows(live_server) == []

    page.keyboard.type("1")  # finish the key, save it with the "Save" beside the message
    page.locator("#unsaved-before-submit").get_by_role("link", name="Save").click()
    page.locator("#status-testDB .alert-success", has_text="HALF-1").wait_for()
    assert [r.string_column for r in _rows(live_server)] == ["HALF-1"]
    page.click("#submit-document")
    page.wait_for_url("**/work/")  # nothing left to do: back to the queue
    with live_server.app.app_context():
        assert db.session.get(Document, document_id).status == "submitted"
        assert db.session.scalars(sa.select(Draft)).all() == []


def test_the_standalone_form_puts_its_errors_in_view(page, live_server, live_user):
    live_user("clerk1")
    log_in(page, "clerk1")
    page.goto("/data/testDB/new")
    page.wait_for_function("() => document.activeElement?.name === 'string_column'")
    page.keyboard.type("SOLO-1")
    page.keyboard.press("Tab")
    page.keyboard.type("99999999999")
    page.keyboard.press("Enter")
    summary = page.locator("#error-summary")
    summary.wait_for()  # the page came back (422) with the summary on top
    page.wait_for_function("() => document.activeElement?.name === 'integer_column'")
    assert summary.is_visible() and summary.get_attribute("role") == "alert"
    page.screenshot(path=f"{SHOTS}/inplace-standalone-refused.png")
    assert _rows(live_server) == []


def test_the_last_keys_before_the_tab_closes_are_sent_by_beacon(page, live_server, live_user):
    document_id = _open(page, live_server, live_user)
    page.keyboard.type("BEACON-7")
    page.close(run_before_unload=True)
    with live_server.app.app_context():
        for _ in range(50):
            drafts = db.session.scalars(sa.select(Draft)).all()
            if drafts:
                break
            db.session.remove()
            time.sleep(0.1)
        (draft,) = drafts
        assert draft.document_id == document_id and '"BEACON-7"' in draft.data


def test_the_table_is_picked_by_tab_and_remembered_per_document(browser, live_server, live_user):
    live_user("clerk1")
    document_id = _document(live_server, "clerk1")
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
    try:
        page = context.new_page()
        log_in(page, "clerk1", E2E_PASSWORD)
        page.goto(f"/work/documents/{document_id}")
        page.wait_for_function("() => document.activeElement?.name === 'full_name'")
        tabs = page.locator("[role=tablist] [role=tab]")
        assert tabs.count() == 2
        assert page.get_attribute("#tab-register_person", "aria-selected") == "true"
        page.focus("#tab-register_person")
        page.keyboard.press("ArrowRight")  # Bootstrap's tabs follow the arrow keys
        page.wait_for_function("() => document.activeElement?.id === 'tab-testDB'")
        assert page.get_attribute("#tab-testDB", "aria-selected") == "true"
        assert not page.locator("#panel-register_person [name=full_name]").is_visible()
        # The panel comes when its tab is first shown (one request), the focus stays on the tab.
        page.locator("#panel-testDB [name=string_column]").wait_for()
        assert _focused(page) == "tab-testDB"
        page.keyboard.press("Tab")  # from the tab straight into its form's first field
        assert _focused(page) == "string_column"
        field = page.locator("#panel-testDB [name=string_column]")
        box = field.bounding_box()
        assert box["y"] + box["height"] < 900 and page.evaluate("() => window.scrollY") == 0
        assert page.locator("#panel-testDB h2").inner_text() == "Test values"
        page.screenshot(path=f"{SHOTS}/inplace-tabs-1366x900.png")

        with page.expect_response(f"**/work/documents/{document_id}") as opened:
            page.goto(f"/work/documents/{document_id}")  # the choice is remembered
        page.wait_for_function("() => document.activeElement?.name === 'string_column'")
        assert page.get_attribute("#tab-testDB", "aria-selected") == "true"
        # ... by the server too (a cookie on this document's path): the page opens on it.
        assert 'action="/data/testDB/new' in opened.value.text()
        assert 'action="/data/register_person/new' not in opened.value.text()
        other = _document(live_server, "clerk1", "Register page 2")  # starts on the first table
        page.goto(f"/work/documents/{other}")
        page.wait_for_function("() => document.activeElement?.name === 'full_name'")
        page.goto(f"/work/documents/{document_id}")
        page.goto(f"/work/documents/{document_id}?panel=register_person")  # the server's wins
        page.wait_for_function("() => document.activeElement?.name === 'full_name'")
    finally:
        context.close()


def test_a_restored_draft_puts_the_caret_at_its_end_and_can_be_discarded(
    page, live_server, live_user
):
    document_id = _open(page, live_server, live_user)
    page.keyboard.type("DRAFT-9")
    page.keyboard.press("Tab")  # leaving the field sends the draft
    page.locator("#panel-testDB .draft-status", has_text="Draft saved").wait_for()
    page.goto(f"/work/documents/{document_id}?panel=testDB")
    page.wait_for_function("() => document.activeElement?.name === 'string_column'")
    assert page.locator("#panel-testDB [name=string_column]").input_value() == "DRAFT-9"
    assert page.evaluate("() => document.activeElement.selectionStart") == len("DRAFT-9")
    page.keyboard.type("1")  # typing goes on at the end
    assert page.locator("#panel-testDB [name=string_column]").input_value() == "DRAFT-91"
    page.evaluate(
        "() => { window.__marker = 1; document.getElementById('document-viewer').__kept = 1; }"
    )
    page.get_by_role("button", name="Discard draft").click()
    page.locator("#status-testDB", has_text="Draft discarded.").wait_for()
    _not_reloaded(page)
    assert page.locator("#panel-testDB [name=string_column]").input_value() == ""
    with live_server.app.app_context():
        assert db.session.scalars(sa.select(Draft)).all() == []


def test_older_rows_are_paged_in_the_panel(page, live_server, live_user):
    document_id = _open(page, live_server, live_user)
    with live_server.app.app_context():
        clerk = find_user("clerk1")
        from app.entry_tables.registry import get_entry_table
        from app.services import entries

        for n in range(12):
            entries.create_row(
                get_entry_table("testDB"),
                {"string_column": f"OLD-{n:02}", "integer_column": n},
                actor=clerk,
                document_id=document_id,
            )
    page.goto(f"/work/documents/{document_id}?panel=testDB")
    page.evaluate(
        "() => { window.__marker = 1; document.getElementById('document-viewer').__kept = 1; }"
    )
    assert page.locator("#panel-testDB .workspace-rows tr").count() == 10
    assert "12 rows on this document" in page.inner_text("#panel-testDB .rows-count")
    page.click("#panel-testDB .rows-older")
    page.locator("#panel-testDB .rows-count", has_text="page 2").wait_for()
    cells = page.locator("#panel-testDB .workspace-rows tr td:first-child").all_inner_texts()
    assert cells == ["OLD-01", "OLD-00"]
    _not_reloaded(page)


def test_a_save_beside_the_latest_rows_adds_its_row_without_the_others(
    page, live_server, live_user
):
    """The save's answer is the fresh form and the new row (not the whole list again): the row
    goes on top, the list keeps its latest 10, the count and the "Older rows" link follow."""
    document_id = _open(page, live_server, live_user)
    with live_server.app.app_context():
        clerk = find_user("clerk1")
        from app.entry_tables.registry import get_entry_table
        from app.services import entries

        for n in range(10):
            entries.create_row(
                get_entry_table("testDB"),
                {"string_column": f"OLD-{n:02}", "integer_column": n},
                actor=clerk,
                document_id=document_id,
            )
    page.goto(f"/work/documents/{document_id}?panel=testDB")
    page.wait_for_function("() => document.activeElement?.name === 'string_column'")
    page.evaluate(
        "() => { window.__marker = 1; document.getElementById('document-viewer').__kept = 1; }"
    )
    assert page.locator("#panel-testDB .rows-older").count() == 0
    page.keyboard.type("NEW-1")
    page.keyboard.press("Tab")
    page.keyboard.type("77")
    with page.expect_response(lambda r: "/data/testDB/new" in r.url) as answer:
        page.keyboard.press("Enter")
    response = answer.value
    assert response.request.headers.get("x-panel-rows") == "latest"
    assert response.headers.get("hx-retarget") == "#panel-form-testDB"
    body = response.text()
    assert "NEW-1" in body and "OLD-09" not in body  # the rows already shown are not sent
    page.locator("#status-testDB", has_text="Saved Test values row NEW-1").wait_for()
    cells = page.locator("#panel-testDB .workspace-rows tr td:first-child").all_inner_texts()
    assert cells == ["NEW-1"] + [f"OLD-{n:02}" for n in range(9, 0, -1)]
    assert "11 rows on this document; the latest 10 shown" in page.inner_text(
        "#panel-testDB .rows-count"
    )
    assert page.locator("#panel-testDB .rows-older").is_visible()
    assert page.inner_text("#count-testDB") == "11"
    assert _focused(page) == "string_column"
    assert page.locator("#panel-testDB [name=string_column]").input_value() == ""
    _not_reloaded(page)
    page.screenshot(path=f"{SHOTS}/workspace-short-save.png")
    # The next row goes through the fresh form's new one-time token.
    page.keyboard.type("NEW-2")
    page.keyboard.press("Enter")
    page.locator("#status-testDB", has_text="Saved Test values row NEW-2").wait_for()
    assert page.locator("#panel-testDB .workspace-rows tr").count() == 10
    assert {r.string_column for r in _rows(live_server)} >= {"NEW-1", "NEW-2", "OLD-00"}
    assert len(_rows(live_server)) == 12
    # "Older rows" still pages the rest, and a save from page 2 brings the whole panel back.
    page.click("#panel-testDB .rows-older")
    page.locator("#panel-testDB .rows-count", has_text="page 2").wait_for()
    page.locator("#panel-testDB [name=string_column]").focus()
    page.keyboard.type("NEW-3")
    with page.expect_response(lambda r: "/data/testDB/new" in r.url) as answer:
        page.keyboard.press("Enter")
    assert answer.value.request.headers.get("x-panel-rows") is None
    page.locator("#status-testDB", has_text="Saved Test values row NEW-3").wait_for()
    cells = page.locator("#panel-testDB .workspace-rows tr td:first-child").all_inner_texts()
    assert cells[:3] == ["NEW-3", "NEW-2", "NEW-1"]
    _not_reloaded(page)
