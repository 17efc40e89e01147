"""A clerk's keyboard-only entry, a draft surviving a reload, and a version conflict."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Draft, TestDB
from tests.helpers import log_in


def _rows(live_server):
    with live_server.app.app_context():
        return {r.string_column: r for r in db.session.scalars(sa.select(TestDB))}


def test_keyboard_only_entry_saves_and_opens_a_fresh_form(page, live_server, live_user):
    live_user("clerk1")
    log_in(page, "clerk1")
    page.goto("/data/testDB/new")
    # Autofocus may land after the load event: wait for it rather than read it at once.
    page.wait_for_function(
        "document.activeElement && document.activeElement.name === 'string_column'"
    )
    page.keyboard.type("KB-1")
    page.keyboard.press("Tab")
    page.keyboard.type("42")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "date_column"
    page.keyboard.press("Enter")  # Enter in the last field saves
    page.wait_for_selector(".alert-success")
    assert "Saved Test values row KB-1" in page.inner_text(".alert-success")
    assert page.input_value("[name=string_column]") == ""  # a fresh form for the next row
    page.wait_for_function(
        "document.activeElement && document.activeElement.name === 'string_column'"
    )
    assert _rows(live_server)["KB-1"].integer_column == 42


def test_half_typed_form_is_restored_after_a_reload(page, live_server, live_user):
    live_user("clerk1")
    log_in(page, "clerk1")
    page.goto("/data/testDB/new")
    page.fill("[name=string_column]", "HALF-DONE")
    page.fill("[name=integer_column]", "7")
    page.locator("[name=integer_column]").blur()  # leaving a field saves the draft
    page.wait_for_function(  # a function, not a bare expression: the CSP forbids eval
        "() => document.getElementById('draft-status').textContent.includes('Draft saved')"
    )
    page.reload()
    assert page.is_visible("#draft-notice")
    assert page.input_value("[name=string_column]") == "HALF-DONE"
    assert page.input_value("[name=integer_column]") == "7"
    page.press("[name=integer_column]", "Enter")
    page.wait_for_selector(".alert-success")
    assert "HALF-DONE" in _rows(live_server)
    with live_server.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0


def test_the_page_that_sent_a_draft_deletes_it_when_it_saves(page, live_server, live_user):
    live_user("clerk1")
    log_in(page, "clerk1")
    page.goto("/data/testDB/new")
    page.fill("[name=string_column]", "SENT-DRAFT")
    page.fill("[name=integer_column]", "8")
    page.locator("[name=integer_column]").blur()
    page.wait_for_function(
        "() => document.getElementById('draft-status').textContent.includes('Draft saved')"
    )
    with live_server.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 1
    page.press("[name=integer_column]", "Enter")  # no reload in between
    page.wait_for_selector(".alert-success")
    with live_server.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0
    assert not page.is_visible("#draft-notice")


def test_version_conflict_keeps_my_values_beside_theirs(new_page, live_server, live_user):
    live_user("clerk1")
    live_user("boss", "reviewer")
    mine, theirs = new_page(), new_page()
    log_in(mine, "clerk1")
    mine.goto("/data/testDB/new")
    mine.fill("[name=string_column]", "SHARED")
    mine.fill("[name=integer_column]", "1")
    mine.press("[name=integer_column]", "Enter")
    mine.wait_for_selector(".alert-success")
    mine.goto("/data/testDB/edit?key=SHARED")
    log_in(theirs, "boss")
    theirs.goto("/data/testDB/edit?key=SHARED")
    theirs.fill("[name=integer_column]", "2")
    theirs.press("[name=integer_column]", "Enter")
    theirs.wait_for_selector(".alert-success")
    mine.fill("[name=integer_column]", "3")
    mine.press("[name=integer_column]", "Enter")
    mine.wait_for_selector("#conflict")
    assert "Nothing was overwritten" in mine.inner_text("#conflict")
    number_row = mine.locator("#conflict tr", has_text="Number")
    assert number_row.locator(".conflict-current").inner_text() == "2"
    assert mine.input_value("[name=integer_column]") == "3"
    assert _rows(live_server)["SHARED"].integer_column == 2
