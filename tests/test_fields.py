"""Exact values: numbers and dates typed as text, parsed in the column's written format,
refused at the field with a message (and nothing stored) when they do not parse; values read
back in that format, with labels, wherever a page shows them."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict
from wtforms import Form

from app.entry_tables import display
from app.entry_tables.fields import written_format
from app.entry_tables.forms import field_for_column
from app.entry_tables.registry import get_entry_table
from app.extensions import db
from app.models import AuditEvent, QualityFlag, RegisterPerson, TestDB
from app.services import audit


def parse(info: dict, column_type: sa.types.TypeEngine, text: str):
    """(value, errors) of one field made by the converter for a column with this info."""
    column = sa.Column("value", column_type, info=info)
    form_class = type("OneField", (Form,), {"value": field_for_column(column)})
    form = form_class(formdata=MultiDict({"value": text}))
    form.validate()
    return form.value.data, form.value.errors


# --- parsing, without a request ------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "column_type", "text", "expected"),
    [
        ({}, sa.Date, "1902-03-05", dt.date(1902, 3, 5)),
        ({}, sa.Date, " 1902-03-05 ", dt.date(1902, 3, 5)),  # outer spaces are not a value
        ({"format": "DD/MM/YYYY"}, sa.Date, "05/03/1902", dt.date(1902, 3, 5)),
        ({"format": "DD/MM/YYYY"}, sa.Date, "1902-03-05", dt.date(1902, 3, 5)),  # ISO always
        ({"format": "DD.MM.YYYY"}, sa.Date, "05.03.1902", dt.date(1902, 3, 5)),
        ({}, sa.DateTime, "1902-03-05 09:00", dt.datetime(1902, 3, 5, 9, 0)),
        ({}, sa.DateTime, "1902-03-05T09:00:30", dt.datetime(1902, 3, 5, 9, 0, 30)),
        ({}, sa.DateTime, "1902-03-05", dt.datetime(1902, 3, 5)),  # a day alone is midnight
        (
            {"format": "DD/MM/YYYY HH:MM"},
            sa.DateTime,
            "05/03/1902 09:00",
            dt.datetime(1902, 3, 5, 9, 0),
        ),
        (
            {"format": "DD/MM/YYYY HH:MM"},
            sa.DateTime,
            "1902-03-05T09:00",
            dt.datetime(1902, 3, 5, 9, 0),
        ),
        (
            {"format": "YYYY-MM-DD HH:MM"},
            sa.DateTime,
            "1902-03-05 23:59:59.5",
            dt.datetime(1902, 3, 5, 23, 59, 59, 500000),
        ),
        ({}, sa.Float, "1.5", 1.5),
        ({}, sa.Numeric(8, 2), "12.50", Decimal("12.50")),
        ({}, sa.Integer, " -7 ", -7),
    ],
)
def test_values_in_the_written_format_parse_exactly(info, column_type, text, expected):
    value, errors = parse(info, column_type, text)
    assert errors == [] and value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("info", "column_type", "text", "message"),
    [
        ({}, sa.Date, "1911-02", "Use the format YYYY-MM-DD, for example 1989-01-31."),
        ({}, sa.Date, "02/30/1911", "Use the format YYYY-MM-DD, for example 1989-01-31."),
        ({}, sa.Date, "1911-02-30", "1911-02-30 is not a day of the calendar."),
        (
            {"format": "DD/MM/YYYY"},
            sa.Date,
            "30/02/1911",
            "30/02/1911 is not a day of the calendar.",
        ),
        (
            {"format": "DD/MM/YYYY"},
            sa.Date,
            "02/30/1911",
            "02/30/1911 is not a day of the calendar.",
        ),
        (
            {"format": "DD/MM/YYYY"},
            sa.Date,
            "30/02/19",
            "Use the format DD/MM/YYYY, for example 31/01/1989.",
        ),
        (
            {"format": "DD/MM/YYYY"},
            sa.Date,
            "5/3/1902",
            "Use the format DD/MM/YYYY, for example 31/01/1989.",
        ),
        (
            {"format": "DD/MM/YYYY"},
            sa.Date,
            "05.03.1902",
            "Use the format DD/MM/YYYY, for example 31/01/1989.",
        ),
        (
            {"format": "DD.MM.YYYY"},
            sa.Date,
            "31.04.1902",
            "31.04.1902 is not a day of the calendar.",
        ),
        ({}, sa.DateTime, "1902-03-05 9", "Use the format YYYY-MM-DD HH:MM (24-hour)"),
        ({}, sa.DateTime, "1902-03-05 24:00", "24:00 is not a time of day."),
        (
            {"format": "DD/MM/YYYY HH:MM"},
            sa.DateTime,
            "05/03/1902 09",
            "Use the format DD/MM/YYYY HH:MM (24-hour), for example 31/01/1989 14:05.",
        ),
        ({}, sa.Integer, "12e", "whole number"),
        ({}, sa.Integer, "4O", "whole number"),
        ({}, sa.Integer, "１２", "digits 0-9"),
        ({}, sa.Integer, "1,5", "whole number"),
        ({}, sa.Float, "1,5", "Use a dot for decimals: 1.5, not 1,5."),
        ({}, sa.Float, "12e", "digits 0-9 and a dot"),
        ({}, sa.Numeric(8, 2), "1,5", "Use a dot for decimals: 1.5, not 1,5."),
        ({}, sa.Numeric(8, 2), "４O", "digits 0-9 and a dot"),
        ({}, sa.String(5), "abcdef", "At most 5 characters (this has 6)."),
    ],
)
def test_unreadable_values_are_refused_with_a_message(info, column_type, text, message):
    value, errors = parse(info, column_type, text)
    assert len(errors) == 1 and message in errors[0], errors
    assert value in (None, text)  # never 0, 4, "now" or a cut text


def test_a_format_without_a_day_is_a_programming_error():
    with pytest.raises(ValueError, match="must name YYYY, MM and DD"):
        written_format({"format": "MM/YYYY"})


# --- through the web form --------------------------------------------------------------------


@pytest.fixture
def clerk(client, auth, users):
    auth.login("clerk")
    return client


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def field_state(page: str, name: str) -> tuple[str, str | None]:
    """The input's tag and the message of the element its aria-describedby names as -error."""
    tag = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', page).group(0)
    error = re.search(rf'id="{name}-error">([^<]*)<', page)
    return tag, None if error is None else html.unescape(error.group(1))


TESTDB_GOOD = {"string_column": "K-1", "integer_column": "1", "date_column": ""}
PERSON_GOOD = {"full_name": "Doe, Jane"}


@pytest.mark.parametrize(
    ("table", "model", "good", "field", "typed", "message"),
    [
        ("testDB", TestDB, TESTDB_GOOD, "integer_column", "12e", "whole number"),
        ("testDB", TestDB, TESTDB_GOOD, "integer_column", "4O", "whole number"),
        ("testDB", TestDB, TESTDB_GOOD, "integer_column", "１２", "digits 0-9"),
        ("testDB", TestDB, TESTDB_GOOD, "date_column", "02/30/1911", "YYYY-MM-DD HH:MM"),
        ("testDB", TestDB, TESTDB_GOOD, "date_column", "1911-02", "YYYY-MM-DD HH:MM"),
        (
            "testDB",
            TestDB,
            TESTDB_GOOD,
            "date_column",
            "1911-02-30 10:00",
            "1911-02-30 is not a day of the calendar.",
        ),
        (
            "testDB",
            TestDB,
            TESTDB_GOOD,
            "string_column",
            "K" * 141,
            "At most 140 characters (this has 141).",
        ),
        (
            "register_person",
            RegisterPerson,
            PERSON_GOOD,
            "height_m",
            "1,5",
            "Use a dot for decimals: 1.5, not 1,5.",
        ),
        (
            "register_person",
            RegisterPerson,
            PERSON_GOOD,
            "fee_paid",
            "1,5",
            "Use a dot for decimals",
        ),
        (
            "register_person",
            RegisterPerson,
            PERSON_GOOD,
            "birth_date",
            "02/30/1911",
            "02/30/1911 is not a day of the calendar.",
        ),
        (
            "register_person",
            RegisterPerson,
            PERSON_GOOD,
            "birth_date",
            "30/02/19",
            "Use the format DD/MM/YYYY, for example 31/01/1989.",
        ),
        (
            "register_person",
            RegisterPerson,
            PERSON_GOOD,
            "birth_date",
            "1911-02",
            "Use the format DD/MM/YYYY",
        ),
    ],
)
def test_refused_value_is_marked_at_its_field_and_nothing_is_stored(
    app, clerk, table, model, good, field, typed, message
):
    response = clerk.post(f"/data/{table}/new", data={**good, field: typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    tag, error = field_state(page, field)
    assert error is not None and message in error
    assert "is-invalid" in tag and 'aria-invalid="true"' in tag
    assert f"{field}-error" in re.search(r'aria-describedby="([^"]*)"', tag).group(1)
    assert html.escape(typed, quote=True) in tag  # the typed text comes back, uncut
    assert count(app, model) == 0 and count(app, AuditEvent) == 0


def test_a_date_in_the_written_format_is_stored_exactly_and_shown_back_in_it(app, clerk):
    response = clerk.post(
        "/data/register_person/new", data={**PERSON_GOOD, "birth_date": "05/03/1902"}
    )
    assert response.status_code == 303
    with app.app_context():
        person = db.session.scalars(sa.select(RegisterPerson)).one()
        assert person.birth_date == dt.date(1902, 3, 5)
        key = person.id
    edit = clerk.get(f"/data/register_person/edit?key={key}").get_data(as_text=True)
    tag, _ = field_state(edit, "birth_date")
    assert 'value="05/03/1902"' in tag
    listing = clerk.get("/data/register_person").get_data(as_text=True)
    assert "05/03/1902" in listing and "1902-03-05" not in listing
    history = clerk.get(f"/data/register_person/history?key={key}").get_data(as_text=True)
    assert "05/03/1902" in history and "Date of birth" in history


def test_a_typed_date_and_time_is_stored_exactly(app, clerk):
    data = {**TESTDB_GOOD, "date_column": "1902-03-05 09:00"}
    assert clerk.post("/data/testDB/new", data=data).status_code == 303
    with app.app_context():
        stored = db.session.execute(
            sa.text(
                "SELECT date_column FROM " + db.engine.dialect.identifier_preparer.quote("testDB")
            )
        ).scalar_one()
    assert str(stored).startswith("1902-03-05 09:00:00")


def test_an_empty_date_still_means_the_time_of_saving(app, clerk):
    assert clerk.post("/data/testDB/new", data=TESTDB_GOOD).status_code == 303
    with app.app_context():
        row = db.session.scalars(sa.select(TestDB)).one()
    assert abs(row.date_column - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_rendered_inputs_are_text_with_hints_and_tied_descriptions(clerk):
    page = clerk.get("/data/register_person/new").get_data(as_text=True)
    tags = dict(re.findall(r'(<(?:input|select|textarea)[^>]*name="(\w+)"[^>]*>)', page))
    tags = {name: tag for tag, name in tags.items()}
    assert "maxlength" not in page and 'type="number"' not in page and 'type="date' not in page
    for name, mode in (("age", "numeric"), ("height_m", "decimal"), ("fee_paid", "decimal")):
        assert 'type="text"' in tags[name] and f'inputmode="{mode}"' in tags[name]
    assert 'placeholder="DD/MM/YYYY"' in tags["birth_date"]
    assert 'placeholder="YYYY-MM-DD HH:MM"' in tags["recorded_at"]
    assert 'data-maxchars="200"' in tags["full_name"]
    assert "Type it as DD/MM/YYYY, for example 31/01/1989." in page
    ids = set(re.findall(r'\sid="([^"]+)"', page))
    described = 0
    for tag in tags.values():
        for ref in (re.search(r'aria-describedby="([^"]*)"', tag) or [None, ""])[1].split():
            assert ref in ids, ref
            described += 1
    assert described >= 8
    assert "full_name-counter" in tags["full_name"] and "birth_date-help" in tags["birth_date"]


def test_ids_and_names_stay_the_column_keys(clerk):
    page = clerk.get("/data/testDB/new").get_data(as_text=True)
    for name in ("string_column", "integer_column", "date_column"):
        assert re.search(rf'<input[^>]*id="{name}"[^>]*name="{name}"', page)


# --- reading values --------------------------------------------------------------------------


def test_show_prints_the_written_format_yes_no_and_choice_labels(app):
    with app.app_context():
        person = get_entry_table("register_person").table.columns
        testdb = get_entry_table("testDB").table.columns
        aware = dt.datetime(1902, 3, 5, 9, 0, tzinfo=dt.UTC)
        assert display.show(dt.date(1902, 3, 5), person["birth_date"]) == "05/03/1902"
        assert display.show("1902-03-05", person["birth_date"]) == "05/03/1902"  # a snapshot
        assert display.show(aware, testdb["date_column"]) == "1902-03-05 09:00"
        assert (
            display.show("1902-03-05T09:00:00+00:00", testdb["date_column"]) == "1902-03-05 09:00"
        )
        assert display.show(True, person["literate"]) == "Yes"
        assert display.show(False, person["literate"]) == "No"
        assert display.show(None, person["literate"]) == ""
        assert display.show("female", person["sex"]) == "Female"  # the form's own words
        assert display.label(person["age"]) == "Age (years)"
        assert display.label("register_person", "age") == "Register: people · Age (years)"
        assert display.label("testDB") == "Test values"
        assert display.label("gone_table", "x") == "Gone table · x"  # readable, never raw


def test_history_compares_values_not_time_zone_spellings(app, clerk):
    data = {**TESTDB_GOOD, "date_column": "1902-03-05 09:00"}
    assert clerk.post("/data/testDB/new", data=data).status_code == 303
    edit = {**data, "integer_column": "2", "version": "1"}
    assert clerk.post("/data/testDB/edit?key=K-1", data=edit).status_code == 303
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "update")).one()
        # The snapshots spell one instant two ways; only the number changed.
        assert '"1902-03-05T09:00:00+00:00"' in event.before
        assert '"1902-03-05T09:00:00"' in event.after
        changed = [field for field, _, _ in audit.changes(event, get_entry_table("testDB"))]
    assert "integer_column" in changed and "date_column" not in changed
    page = clerk.get("/data/testDB/history?key=K-1").get_data(as_text=True)
    update_row = page[page.index(">update<") :]
    update_row = update_row[: update_row.index("</tr>")]
    assert 'data-field="integer_column"' in update_row and "Number" in update_row
    assert 'data-field="date_column"' not in update_row


def test_list_sort_options_read_labels(clerk):
    page = clerk.get("/data/testDB").get_data(as_text=True)
    assert '<option value="string_column">Key</option>' in page
    assert ">string_column</option>" not in page


def test_quality_flags_name_table_and_field_by_their_labels(app, client, auth, users):
    auth.login("clerk")
    data = {**PERSON_GOOD, "age": "120", "confirm_warnings": "y"}
    assert client.post("/data/register_person/new", data=data).status_code == 303
    assert count(app, QualityFlag) == 1
    auth.logout()
    auth.login("reviewer")
    quality = client.get("/review/quality").get_data(as_text=True)
    dashboard = client.get("/dashboard/fragment").get_data(as_text=True)
    for page in (quality, dashboard):
        assert "Register: people · Age (years)" in page
        assert "register_person.age" not in page
