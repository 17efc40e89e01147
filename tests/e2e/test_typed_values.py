"""What a clerk types with the keyboard in real Chromium is either stored exactly, or refused
at its field with a visible message while the database stays unchanged."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.helpers import VIEWPORT, log_in

SCREENSHOTS = "/tmp/values-{}.png"


def select(live_server, sql: str) -> list[tuple]:
    with live_server.app.app_context():
        return [tuple(r) for r in db.session.execute(sa.text(sql))]


def row_count(live_server, table: str) -> int:
    return select(live_server, f'SELECT count(*) FROM "{table}"')[0][0]


def type_into(page, name: str, text: str) -> None:
    page.locator(f"[name={name}]").press_sequentially(text)


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return (
        box is not None
        and box["y"] >= 0
        and box["x"] >= 0
        and box["y"] + box["height"] <= VIEWPORT["height"]
        and box["x"] + box["width"] <= VIEWPORT["width"]
    )


@pytest.fixture
def clerk_page(page, live_server, live_user):
    live_user("clerk1")
    log_in(page, "clerk1")
    return page


REFUSED = [
    ("testDB", "string_column", "K-1", "integer_column", "12e", "whole number"),
    ("testDB", "string_column", "K-1", "integer_column", "4O", "whole number"),
    ("testDB", "string_column", "K-1", "date_column", "02/30/1911", "YYYY-MM-DD HH:MM"),
    ("testDB", "string_column", "K-1", "date_column", "1911-02", "YYYY-MM-DD HH:MM"),
    (
        "register_person",
        "full_name",
        "Doe, Jane",
        "height_m",
        "1,5",
        "Use a dot for decimals: 1.5, not 1,5.",
    ),
    ("register_person", "full_name", "Doe, Jane", "fee_paid", "1,5", "Use a dot for decimals"),
    (
        "register_person",
        "full_name",
        "Doe, Jane",
        "birth_date",
        "02/30/1911",
        "02/30/1911 is not a day of the calendar.",
    ),
    (
        "register_person",
        "full_name",
        "Doe, Jane",
        "birth_date",
        "30/02/19",
        "Use the format DD/MM/YYYY, for example 31/01/1989.",
    ),
]


@pytest.mark.parametrize(("table", "first", "first_text", "field", "typed", "message"), REFUSED)
def test_unreadable_input_is_refused_at_its_field(
    clerk_page, live_server, table, first, first_text, field, typed, message
):
    page = clerk_page
    page.goto(f"/data/{table}/new")
    type_into(page, first, first_text)
    type_into(page, field, typed)
    page.locator(f"[name={field}]").press("Enter")
    error = page.locator(f"#{field}-error")
    error.wait_for()
    # The refused field takes the focus, scrolled so that its message is in view.
    page.wait_for_function(f"() => document.activeElement.name === '{field}'")
    assert message in error.inner_text()
    assert error.is_visible() and in_viewport(page, f"#{field}-error")
    field_input = page.locator(f"[name={field}]")
    assert field_input.get_attribute("aria-invalid") == "true"
    assert f"{field}-error" in field_input.get_attribute("aria-describedby").split()
    assert field_input.input_value() == typed  # exactly what was typed comes back
    page.screenshot(path=SCREENSHOTS.format(f"{table}-{field}"))
    assert row_count(live_server, table) == 0
    assert row_count(live_server, "audit_events") == 0


def test_a_date_in_the_written_format_is_stored_exactly(clerk_page, live_server):
    page = clerk_page
    page.goto("/data/register_person/new")
    type_into(page, "full_name", "Doe, Jane")
    assert page.locator("[name=birth_date]").get_attribute("placeholder") == "DD/MM/YYYY"
    type_into(page, "birth_date", "05/03/1902")
    type_into(page, "height_m", "1.5")
    page.locator("[name=height_m]").press("Enter")
    page.wait_for_selector(".alert-success")
    assert select(live_server, "SELECT full_name, birth_date, height_m FROM register_person") == [
        ("Doe, Jane", "1902-03-05", 1.5)
    ]
    page.goto("/data/register_person")
    assert "05/03/1902" in page.locator(".entry-rows").inner_text()


def test_a_date_and_time_typed_as_on_the_scan_is_stored_exactly(clerk_page, live_server):
    page = clerk_page
    page.goto("/data/testDB/new")
    type_into(page, "string_column", "SCAN-1")
    type_into(page, "date_column", "1902-03-05 09:00")  # the space no longer opens a picker
    assert page.locator("[name=date_column]").input_value() == "1902-03-05 09:00"
    page.locator("[name=date_column]").press("Enter")
    page.wait_for_selector(".alert-success")
    ((stored,),) = select(live_server, 'SELECT date_column FROM "testDB"')
    assert stored.startswith("1902-03-05 09:00:00")
    # Edited later, the date comes back as typed; only the changed number enters the history.
    page.goto("/data/testDB/edit?key=SCAN-1")
    assert page.locator("[name=date_column]").input_value() == "1902-03-05 09:00"
    type_into(page, "integer_column", "5")
    page.locator("[name=integer_column]").press("Enter")
    page.wait_for_selector(".alert-success")
    page.goto("/data/testDB/history?key=SCAN-1")
    created, update = page.locator("#history tbody tr").all()
    changed = update.locator("[data-field]").all_inner_texts()
    assert "Number: ∅ → 5" in changed
    assert not [text for text in changed if text.startswith("Date and time")]
    assert "Date and time: 1902-03-05 09:00" in created.inner_text()
    page.screenshot(path=SCREENSHOTS.format("history"))


def test_a_pasted_141_character_key_is_counted_and_refused(clerk_page, live_server):
    page = clerk_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto("/data/testDB/new")
    # The limit is in view before anything is typed.
    assert page.locator("#string_column-counter").inner_text() == "0 / 140 characters"
    key = "P" * 141
    page.evaluate("text => navigator.clipboard.writeText(text)", key)
    page.locator("[name=string_column]").focus()
    page.keyboard.press("Control+V")
    assert page.locator("[name=string_column]").input_value() == key  # nothing cut
    counter = page.locator("#string_column-counter")
    assert counter.inner_text() == "141 / 140 characters — 1 too many"
    assert (
        "string_column-counter"
        in page.locator("[name=string_column]").get_attribute("aria-describedby").split()
    )
    page.screenshot(path=SCREENSHOTS.format("counter"))
    page.keyboard.press("Enter")
    error = page.locator("#string_column-error")
    error.wait_for()
    assert error.inner_text() == "At most 140 characters (this has 141)."
    assert error.is_visible() and in_viewport(page, "#string_column-error")
    assert counter.is_visible() and counter.inner_text().endswith("1 too many")
    assert page.locator("[name=string_column]").input_value() == key
    page.screenshot(path=SCREENSHOTS.format("pasted-key"))
    assert row_count(live_server, "testDB") == 0
    # Deleting one character brings the count under the limit, and the save goes through.
    page.locator("[name=string_column]").press("End")
    page.keyboard.press("Backspace")
    assert counter.inner_text() == "140 / 140 characters"
    page.keyboard.press("Enter")
    page.wait_for_selector(".alert-success")
    assert select(live_server, 'SELECT string_column FROM "testDB"') == [("P" * 140,)]
    # The long key wraps inside its panel instead of pushing the table sideways.
    page.goto("/data/testDB")
    assert page.evaluate("""() => { const box = document.querySelector('.table-responsive');
                                    return box.scrollWidth <= box.clientWidth; }""")
    page.screenshot(path=SCREENSHOTS.format("long-key-list"))
