"""Entry forms: generated from the models, validated like the database, saved at once,
audited, never silently overwritten. Every test runs on each configured backend."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from markupsafe import escape

from app.entry_tables.forms import entry_form_class
from app.entry_tables.registry import get_entry_table
from app.extensions import db
from app.models import AuditEvent, Draft, RegisterPerson, TestDB, User
from tests.helpers import count_statements


def feedback(response) -> list[str]:
    return re.findall(
        r'class="invalid-feedback[^"]*"[^>]*>\s*([^<]*?)\s*<', response.get_data(as_text=True)
    )


def rows(app, model=TestDB):
    with app.app_context():
        return list(db.session.scalars(sa.select(model)))


def audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def save(client, table="testDB", **data):
    return client.post(f"/data/{table}/new", data=data)


@pytest.fixture
def clerk(client, auth, users):
    auth.login("clerk")
    return client


# --- the converter ---------------------------------------------------------------------------


def test_testdb_form_mirrors_the_columns(app):
    with app.test_request_context():
        form = entry_form_class(get_entry_table("testDB"))(meta={"csrf": False})
        html = {f.name: str(f) for f in form}
    # Typed as text: no native number/date input turns unreadable input into "no value",
    # no maxlength cuts a pasted key (the server refuses what is longer).
    assert 'data-maxchars="140"' in html["string_column"] and "autofocus" in html["string_column"]
    assert "maxlength" not in html["string_column"]
    assert 'type="text"' in html["integer_column"]
    assert 'inputmode="numeric"' in html["integer_column"]
    assert 'type="text"' in html["date_column"]
    assert 'placeholder="YYYY-MM-DD HH:MM"' in html["date_column"]


def test_example_table_uses_every_type(app):
    with app.test_request_context():
        form = entry_form_class(get_entry_table("register_person"))(meta={"csrf": False})
        kinds = {f.name: type(f).__name__ for f in form}
    assert kinds == {
        "version": "HiddenField",
        "form_token": "HiddenField",
        "draft_kept": "HiddenField",
        "confirm_warnings": "BooleanField",
        "full_name": "TrimmedStringField",
        "sex": "SelectField",
        "age": "StrictIntegerField",
        "birth_date": "WrittenDateField",
        "recorded_at": "WrittenDateTimeField",
        "height_m": "StrictFloatField",
        "fee_paid": "StrictDecimalField",
        "literate": "SelectField",
        "parish": "TrimmedStringField",
        "notes": "TextAreaField",
    }


def test_html_field_names_are_the_column_names(clerk):
    page = clerk.get("/data/testDB/new").get_data(as_text=True)
    for name in ("string_column", "integer_column", "date_column"):
        assert f'name="{name}"' in page


# --- saving ----------------------------------------------------------------------------------


def test_save_redirects_flashes_and_commits_at_once(app, clerk):
    response = save(
        clerk, string_column="REG-1", integer_column="42", date_column="1989-01-01T10:00"
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/data/testDB/new"
    page = clerk.get("/data/testDB/new").get_data(as_text=True)
    assert "Saved Test values row REG-1" in page
    (row,) = rows(app)
    assert (row.string_column, row.integer_column) == ("REG-1", 42)
    assert row.date_column.isoformat() == "1989-01-01T10:00:00+00:00"
    assert row.status == "entered" and row.version == 1 and row.entered_by_id is not None


def test_empty_date_gets_the_time_of_saving(app, clerk):
    assert save(clerk, string_column="K", integer_column="").status_code == 303
    (row,) = rows(app)
    assert row.date_column is not None and row.integer_column is None


BAD_VALUES = [
    ({"integer_column": "abc"}, "integer_column", "whole number"),
    ({"integer_column": "12a"}, "integer_column", "whole number"),
    ({"integer_column": "1e309"}, "integer_column", "whole number"),
    ({"integer_column": "99999999999"}, "integer_column", "from -2147483648 to 2147483647"),
    ({"integer_column": "１２"}, "integer_column", "digits 0-9"),
    ({"string_column": "x" * 141}, "string_column", "At most 140 characters (this has 141)."),
    ({"string_column": ""}, "string_column", "required"),
    ({"string_column": "   "}, "string_column", "required"),
    ({"date_column": "2023-02-30"}, "date_column", "not a day of the calendar"),
    ({"date_column": "0000-00-00"}, "date_column", "Years from 1000 to 9999"),
    ({"date_column": "not-a-date"}, "date_column", "YYYY-MM-DD"),
    ({"date_column": "01-02-1989"}, "date_column", "YYYY-MM-DD"),
    ({"string_column": "a\x00b"}, "string_column", "control characters"),
]


@pytest.mark.parametrize(("bad", "field", "message"), BAD_VALUES)
def test_bad_values_get_a_message_at_the_field_and_change_nothing(app, clerk, bad, field, message):
    data = {"string_column": "GOOD-1", "integer_column": "1", "date_column": "", **bad}
    response = save(clerk, **data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert any(message in text for text in feedback(response)), feedback(response)
    field_html = re.search(rf'<[^>]*name="{field}"[^>]*>', page).group(0)
    assert "is-invalid" in field_html
    if bad[field].strip():
        assert f'value="{bad[field]}"' in page or bad[field] in page  # typed value kept
    assert rows(app) == [] and audit_count(app) == 0


@pytest.mark.parametrize(
    "value",
    [
        "<script>alert(1)</script>",
        "'; DROP TABLE testDB;--",
        "😀𠜎",
        "Ünïcödé — “quotes”",
    ],
)
def test_odd_text_is_stored_literally_and_shown_escaped(app, clerk, value):
    assert save(clerk, string_column=value, integer_column="1").status_code == 303
    (row,) = rows(app)
    assert row.string_column == value
    listing = clerk.get("/data/testDB").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in listing
    # Listed, escaped, in the table's own cell (not merely absent, nor only in the flash)
    assert f'<td class="text-break">{escape(value)}</td>' in listing
    with app.app_context():
        raw = db.session.execute(
            sa.text(
                'SELECT string_column FROM "testDB"'.replace('"', "`")
                if db.engine.dialect.name == "mysql"
                else 'SELECT string_column FROM "testDB"'
            )
        ).scalar_one()
    assert raw == value


def test_duplicate_key_is_a_field_error(app, clerk):
    assert save(clerk, string_column="DUP", integer_column="1").status_code == 303
    response = save(clerk, string_column="DUP ", integer_column="2")  # trailing space stripped
    assert response.status_code == 422
    assert "A row with this key exists already." in feedback(response)
    assert [r.integer_column for r in rows(app)] == [1]


def test_keys_differing_by_case_are_distinct_on_every_backend(app, clerk):
    assert save(clerk, string_column="abc", integer_column="1").status_code == 303
    assert save(clerk, string_column="ABC", integer_column="2").status_code == 303
    assert sorted(r.string_column for r in rows(app)) == ["ABC", "abc"]


def test_replayed_form_token_creates_one_row(app, clerk):
    data = {"string_column": "ONCE", "integer_column": "1", "form_token": "token-123"}
    assert save(clerk, **data).status_code == 303
    replay = save(clerk, **{**data, "string_column": "TWICE"})
    assert replay.status_code == 303
    assert "key=ONCE" in replay.headers["Location"]
    assert [r.string_column for r in rows(app)] == ["ONCE"]
    assert "already saved" in clerk.get(replay.headers["Location"]).get_data(as_text=True)


def test_every_type_of_the_example_table_round_trips(app, clerk):
    response = save(
        clerk,
        table="register_person",
        full_name="  Doe, Jane ",
        sex="female",
        age="34",
        birth_date="03/02/1901",
        recorded_at="1935-05-06T07:08:09",
        height_m="1.65",
        fee_paid="12.50",
        literate="1",
        parish="St. Mary",
        notes="😀 " * 10,
    )
    assert response.status_code == 303, feedback(response)
    (person,) = rows(app, RegisterPerson)
    assert person.full_name == "Doe, Jane" and person.sex == "female" and person.age == 34
    assert person.birth_date.isoformat() == "1901-02-03"
    assert person.recorded_at.isoformat() == "1935-05-06T07:08:09"
    assert person.height_m == pytest.approx(1.65) and str(person.fee_paid) == "12.50"
    assert person.literate is True and person.notes == "😀 " * 10


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"sex": "other"}, "sex", "Not a valid choice"),
        ({"age": "131"}, "age", "from 0 to 130"),
        ({"fee_paid": "12.345"}, "fee_paid", "2 decimal places"),
        ({"fee_paid": "1234567.00"}, "fee_paid", "6 digits before"),
        ({"height_m": "inf"}, "height_m", "Enter a number"),
        ({"parish": "St. <Mary>"}, "parish", "Letters, spaces"),
        ({"full_name": ""}, "full_name", "required"),
        ({"birth_date": "1901-02-03T10:00"}, "birth_date", "Use the format DD/MM/YYYY"),
    ],
)
def test_example_table_bad_values(app, clerk, bad, field, message):
    data = {"full_name": "Doe, Jane", **bad}
    response = save(clerk, table="register_person", **data)
    assert response.status_code == 422
    assert any(message in text for text in feedback(response)), feedback(response)
    assert rows(app, RegisterPerson) == []


def test_a_600_kb_text_is_saved_and_a_larger_one_gets_a_limit(app, clerk):
    big = "á" * 600_000
    assert (
        save(clerk, table="register_person", full_name="Long notes", notes=big).status_code == 303
    )
    (person,) = rows(app, RegisterPerson)
    assert person.notes == big
    response = save(clerk, table="register_person", full_name="Too long", notes="x" * 1_000_001)
    assert response.status_code == 422
    assert "At most 1,000,000 characters (this has 1,000,001)." in feedback(response)


def test_database_error_rolls_back_and_the_next_request_works(app, clerk, backend):
    if backend != "sqlite":
        pytest.skip("the refusing trigger is written in SQLite's dialect")
    with app.app_context():
        db.session.execute(
            sa.text(
                "CREATE TRIGGER refuse_666 BEFORE INSERT ON testDB WHEN NEW.integer_column = 666 "
                "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
            )
        )
        db.session.commit()
    try:
        response = save(clerk, string_column="T", integer_column="666")
        assert response.status_code in {409, 422}
        assert "refused" in response.get_data(as_text=True)
        assert rows(app) == [] and audit_count(app) == 0
        assert save(clerk, string_column="T", integer_column="7").status_code == 303
    finally:
        with app.app_context():
            db.session.execute(sa.text("DROP TRIGGER refuse_666"))
            db.session.commit()


# --- editing, versions, deleting, history ----------------------------------------------------


def test_edit_bumps_version_and_audits_before_and_after(app, clerk):
    save(clerk, string_column="E1", integer_column="1")
    response = clerk.post(
        "/data/testDB/edit?key=E1",
        data={"string_column": "E1", "integer_column": "2", "version": "1"},
    )
    assert response.status_code == 303
    (row,) = rows(app)
    assert row.integer_column == 2 and row.version == 2
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["create", "update"]
        assert json.loads(events[1].before)["integer_column"] == 1
        assert json.loads(events[1].after)["integer_column"] == 2
    history = clerk.get("/data/testDB/history?key=E1").get_data(as_text=True)
    assert "update" in history and "integer_column" in history


def test_stale_version_is_refused_with_both_values_shown(app, clerk):
    save(clerk, string_column="V1", integer_column="1")
    clerk.post(
        "/data/testDB/edit?key=V1",
        data={"string_column": "V1", "integer_column": "2", "version": "1"},
    )
    response = clerk.post(
        "/data/testDB/edit?key=V1",
        data={"string_column": "V1", "integer_column": "99", "version": "1"},
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Nothing was overwritten" in page
    assert 'class="conflict-current text-break">2<' in page and 'value="99"' in page
    assert rows(app)[0].integer_column == 2
    assert 'name="version" type="hidden" value="2"' in page  # saving again is a choice


def test_edit_with_bad_value_changes_nothing(app, clerk):
    save(clerk, string_column="B1", integer_column="1")
    response = clerk.post(
        "/data/testDB/edit?key=B1",
        data={"string_column": "B1", "integer_column": "12a", "version": "1"},
    )
    assert response.status_code == 422
    assert rows(app)[0].integer_column == 1 and audit_count(app) == 1


def test_delete_needs_a_reason_and_is_audited(app, clerk):
    save(clerk, string_column="D1", integer_column="1")
    assert clerk.post("/data/testDB/delete?key=D1", data={"reason": " "}).status_code == 422
    assert len(rows(app)) == 1
    assert clerk.post("/data/testDB/delete?key=D1", data={"reason": "typo"}).status_code == 303
    assert rows(app) == []
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "delete")).one()
        assert event.reason == "typo" and json.loads(event.before)["string_column"] == "D1"
    history = clerk.get("/data/testDB/history?key=D1")
    assert history.status_code == 200 and "typo" in history.get_data(as_text=True)


def test_no_route_edits_audit_events(app):
    assert not [r for r in app.url_map.iter_rules() if "audit" in r.rule]


# --- who sees what ---------------------------------------------------------------------------


def test_clerks_see_only_their_rows_reviewers_see_all(app, client, auth, users, make_user):
    make_user("clerk2")
    auth.login("clerk")
    save(client, string_column="MINE", integer_column="1")
    auth.logout()
    auth.login("clerk2")
    assert "MINE" not in client.get("/data/testDB").get_data(as_text=True)
    assert client.get("/data/testDB/edit?key=MINE").status_code == 404
    assert (
        client.post(
            "/data/testDB/edit?key=MINE",
            data={"string_column": "MINE", "integer_column": "5", "version": "1"},
        ).status_code
        == 404
    )
    assert client.post("/data/testDB/delete?key=MINE", data={"reason": "x"}).status_code == 404
    assert client.get("/data/testDB/history?key=MINE").status_code == 404
    auth.logout()
    auth.login("reviewer")
    assert "MINE" in client.get("/data/testDB").get_data(as_text=True)
    assert rows(app)[0].integer_column == 1


def test_approved_rows_are_read_only_for_clerks(app, clerk):
    save(clerk, string_column="AP", integer_column="1")
    with app.app_context():
        db.session.execute(sa.update(TestDB).values(status="approved"))
        db.session.commit()
    response = clerk.post(
        "/data/testDB/edit?key=AP",
        data={"string_column": "AP", "integer_column": "2", "version": "1"},
    )
    assert response.status_code == 403
    assert clerk.post("/data/testDB/delete?key=AP", data={"reason": "x"}).status_code == 403
    assert rows(app)[0].integer_column == 1


def test_unknown_table_and_row_are_404(clerk):
    assert clerk.get("/data/no_such_table").status_code == 404
    assert clerk.get("/data/testDB/edit?key=nothing").status_code == 404
    assert clerk.get("/data/register_person/edit?key=abc").status_code == 404


# --- drafts ----------------------------------------------------------------------------------


def test_draft_is_restored_then_deleted_on_save(app, clerk):
    response = clerk.post(
        "/data/testDB/draft",
        json={"data": {"string_column": "HALF", "integer_column": "12", "not_a_column": "x"}},
    )
    assert response.status_code == 200 and response.get_json()["saved"]
    page = clerk.get("/data/testDB/new").get_data(as_text=True)
    assert "unsaved draft" in page and 'value="HALF"' in page and 'value="12"' in page
    assert re.search(r'name="draft_kept"[^>]*value="1"', page)  # saving it drops the draft
    assert save(clerk, string_column="HALF", integer_column="12", draft_kept="1").status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0
    assert "unsaved draft" not in clerk.get("/data/testDB/new").get_data(as_text=True)


def test_saving_another_form_keeps_an_unsaved_draft(app, clerk):
    """A form that never had a draft (another tab, JavaScript off) leaves the draft alone."""
    clerk.post("/data/testDB/draft", json={"data": {"string_column": "OTHER-TAB"}})
    assert save(clerk, string_column="SAVED", integer_column="1").status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 1
    page = clerk.get("/data/testDB/new").get_data(as_text=True)
    assert "unsaved draft" in page and 'value="OTHER-TAB"' in page


@pytest.mark.parametrize("payload", [None, [], {"data": "text"}, {"data": [1, 2]}])
def test_bad_drafts_are_refused(app, clerk, payload):
    response = clerk.post("/data/testDB/draft", json=payload)
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0


def test_drafts_are_per_user(app, client, auth, users, make_user):
    make_user("clerk2")
    auth.login("clerk")
    saved = client.post("/data/testDB/draft", json={"data": {"string_column": "SECRET"}})
    assert saved.status_code == 200 and saved.get_json()["saved"] is True
    with app.app_context():  # the draft exists, and is clerk's
        (draft,) = db.session.scalars(sa.select(Draft)).all()
        assert db.session.get(User, draft.user_id).username == "clerk"
        assert "SECRET" in draft.data
    assert 'value="SECRET"' in client.get("/data/testDB/new").get_data(as_text=True)
    auth.logout()
    auth.login("clerk2")
    assert "SECRET" not in client.get("/data/testDB/new").get_data(as_text=True)


# --- list pages ------------------------------------------------------------------------------


def test_list_page_query_count_does_not_grow_with_rows(app, client, auth, users, make_user):
    auth.login("reviewer")
    second = make_user("clerk2")
    with app.app_context():
        from app.services.accounts import find_user

        clerk_ids = [find_user("clerk").id, find_user(second).id]
        db.session.add_all(
            TestDB(string_column=f"R{i:03}", integer_column=i, entered_by_id=clerk_ids[i % 2])
            for i in range(5)
        )
        db.session.commit()
    few = count_statements(app, client, "/data/testDB")
    with app.app_context():
        db.session.add_all(
            TestDB(string_column=f"S{i:03}", integer_column=i, entered_by_id=clerk_ids[i % 2])
            for i in range(120)
        )
        db.session.commit()
    many = count_statements(app, client, "/data/testDB")
    # the login's user, the rows, the clerks' names (2), and the page's open quality flags
    assert len(many) == len(few) <= 5, many


def test_list_filters_sorting_search_and_pages(app, client, auth, users):
    auth.login("reviewer")
    with app.app_context():
        db.session.add_all(TestDB(string_column=f"P{i:03}", integer_column=i) for i in range(60))
        db.session.add(TestDB(string_column="Q1", integer_column=1, status="approved"))
        db.session.commit()
    page1 = client.get("/data/testDB").get_data(as_text=True)
    assert "P000" in page1 and "P055" not in page1
    page2 = client.get("/data/testDB?page=2").get_data(as_text=True)
    assert "P055" in page2
    assert "Q1" in client.get("/data/testDB?status=approved").get_data(as_text=True)
    assert "P001" not in client.get("/data/testDB?status=approved").get_data(as_text=True)
    searched = client.get("/data/testDB?q=P05").get_data(as_text=True)
    assert "P050" in searched and "P000" not in searched
    desc = client.get("/data/testDB?sort=string_column&dir=desc").get_data(as_text=True)
    assert desc.index("Q1") < desc.index("P059")
    for odd in ("?page=-3", "?page=abc", "?sort=nope", "?clerk=x", "?q=%25_%5C", "?status=zzz"):
        assert client.get("/data/testDB" + odd).status_code == 200


def test_reviewers_filter_the_list_by_clerk_name(app, client, auth, users, make_user):
    make_user("clerk2")
    for name, key in (("clerk", "BY-ONE"), ("clerk2", "BY-TWO")):
        auth.login(name)
        save(client, string_column=key, integer_column="1")
        auth.logout()
    auth.login("reviewer")
    page = client.get("/data/testDB").get_data(as_text=True)
    assert ">clerk2</option>" in page
    with app.app_context():
        from app.services.accounts import find_user

        second = find_user("clerk2").id
    filtered = client.get(f"/data/testDB?clerk={second}").get_data(as_text=True)
    assert "BY-TWO" in filtered and "BY-ONE" not in filtered


# --- the version race ------------------------------------------------------------------------


def test_an_edit_that_loses_the_race_to_a_concurrent_save_is_refused(app, clerk, backend):
    """Both saves passed the version check; the other one committed first. The UPDATE ...
    WHERE version = 1 then finds no row: the edit is refused with their values, nothing lost."""
    assert save(clerk, string_column="RACE", integer_column="1").status_code == 303
    with app.app_context():
        engine = db.engine
        table = engine.dialect.identifier_preparer.quote("testDB")
    theirs = (
        f"UPDATE {table} SET integer_column = 99, version = version + 1 "
        "WHERE string_column = 'RACE'"
    )
    other = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    raced: list[str] = []

    def concurrent_save(conn, cursor, statement, parameters, context, executemany):
        if (
            raced
            or not statement.lstrip().upper().startswith("UPDATE")
            or "testDB" not in statement
        ):
            return
        raced.append(statement)
        if backend == "sqlite":
            # The edit's transaction holds SQLite's write lock from its first read, so no
            # other connection can get in: the other save goes through the same connection.
            cursor.execute(theirs)
        else:
            with other.begin() as conn2:
                conn2.exec_driver_sql(theirs)

    sa.event.listen(engine, "before_cursor_execute", concurrent_save)
    try:
        response = clerk.post(
            "/data/testDB/edit?key=RACE",
            data={"string_column": "RACE", "integer_column": "5", "version": "1"},
        )
    finally:
        sa.event.remove(engine, "before_cursor_execute", concurrent_save)
        other.dispose()
    assert raced, "the edit never reached its UPDATE"
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else saved this row after you opened it" in page
    (row,) = rows(app)
    assert row.integer_column != 5  # the refused edit wrote nothing...
    if backend != "sqlite":
        assert (row.integer_column, row.version) == (99, 2)  # ...and theirs is kept
        assert 'value="2"' in page  # a second save knowingly replaces theirs
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions == ["create"]
