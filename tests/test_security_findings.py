"""Findings of the outside security review (issue 13), each kept closed by a test.

Every test runs on each configured backend (SQLite always; MariaDB and PostgreSQL when their
URLs are set). CSRF is off here (TestingConfig); tests/test_csrf.py keeps it on.
"""

from __future__ import annotations

import html
import logging

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.documents.samples import pdf_document
from app.extensions import db
from app.models import AuditEvent, TestDB
from app.services import documents as docs
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.conftest import PASSWORD


def login(app, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    return client


def select_row(app, key: str) -> tuple | None:
    with app.app_context():
        return db.session.execute(
            sa.text(
                'SELECT integer_column, status, version, entered_by_id FROM "testDB" '
                "WHERE string_column = :k"
                if db.engine.dialect.name != "mysql"
                else "SELECT integer_column, status, version, entered_by_id FROM testDB "
                "WHERE string_column = :k"
            ),
            {"k": key},
        ).first()


def audit_actions(app, key: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.table_name == "testDB", AuditEvent.row_key == key)
                .order_by(AuditEvent.id)
            )
        )


# --- 2. history of a reused key ---------------------------------------------------------------


def test_history_shows_a_clerk_only_the_events_of_their_own_rows(app, users, make_user):
    make_user("clerk2")
    first, second = login(app, "clerk"), login(app, "clerk2")
    key = "REG-1902-017"
    assert (
        first.post(
            "/data/testDB/new", data={"string_column": key, "integer_column": "11"}
        ).status_code
        == 303
    )
    assert (
        first.post(f"/data/testDB/delete?key={key}", data={"reason": "typed in error"}).status_code
        == 303
    )
    assert (
        second.post(
            "/data/testDB/new", data={"string_column": key, "integer_column": "777001"}
        ).status_code
        == 303
    )
    assert (
        second.post(
            f"/data/testDB/edit?key={key}",
            data={"string_column": key, "integer_column": "777002", "version": "1"},
        ).status_code
        == 303
    )
    assert select_row(app, key)[0] == 777002

    # The key is now the second clerk's row: the first clerk is not authorised on it.
    assert first.get(f"/data/testDB/history?key={key}").status_code == 404
    page = second.get(f"/data/testDB/history?key={key}").get_data(as_text=True)
    assert "777001" in page and "777002" in page and "typed in error" not in page

    # Deleted by its owner, the key's history splits by owner: each clerk reads only theirs.
    assert (
        second.post(f"/data/testDB/delete?key={key}", data={"reason": "duplicate"}).status_code
        == 303
    )
    response = first.get(f"/data/testDB/history?key={key}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "typed in error" in page and "777001" not in page and "777002" not in page
    page = second.get(f"/data/testDB/history?key={key}").get_data(as_text=True)
    assert "777002" in page and "typed in error" not in page
    staff = login(app, "reviewer").get(f"/data/testDB/history?key={key}").get_data(as_text=True)
    assert "typed in error" in staff and "777002" in staff
    assert login(app, "clerk").get("/data/testDB/history?key=NEVER").status_code == 404


# --- 8. approved rows change only by a correction with a reason ------------------------------


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_approved_rows_change_only_through_a_correction_with_a_reason(app, users, role):
    clerk = login(app, "clerk")
    assert (
        clerk.post(
            "/data/testDB/new", data={"string_column": "AP-1", "integer_column": "5"}
        ).status_code
        == 303
    )
    with app.app_context():
        db.session.execute(
            sa.update(TestDB).where(TestDB.string_column == "AP-1").values(status="approved")
        )
        db.session.commit()
    staff = login(app, role)

    response = staff.post(
        "/data/testDB/edit?key=AP-1",
        data={"string_column": "AP-1", "integer_column": "6", "version": "1"},
    )
    assert response.status_code == 403
    assert "approved" in response.get_data(as_text=True)
    assert "correction" in response.get_data(as_text=True)
    response = staff.post("/data/testDB/delete?key=AP-1", data={"reason": "tidy up"})
    assert response.status_code == 403 and "approved" in response.get_data(as_text=True)
    assert select_row(app, "AP-1")[:3] == (5, "approved", 1)
    assert audit_actions(app, "AP-1") == ["create"]

    response = staff.post(
        "/review/correct/testDB?key=AP-1",
        data={"string_column": "AP-1", "integer_column": "6", "version": "1", "reason": ""},
    )
    assert response.status_code == 422 and select_row(app, "AP-1")[0] == 5
    response = staff.post(
        "/review/correct/testDB?key=AP-1",
        data={
            "string_column": "AP-1",
            "integer_column": "6",
            "version": "1",
            "reason": "the register says 6",
        },
    )
    assert response.status_code == 303
    assert select_row(app, "AP-1")[:2] == (6, "approved")
    assert audit_actions(app, "AP-1") == ["create", "correct"]


# --- 10. the served file name follows the detected type --------------------------------------


@pytest.mark.parametrize(
    ("name", "served"), [("x.html", "x.pdf"), ("report.PDF", "report.PDF"), ("scan", "scan.pdf")]
)
def test_a_download_is_named_by_its_detected_type(app, users, name, served):
    with app.app_context():
        result = docs.add_file(
            IncomingFile(name, pdf_document(f"Page {name}", ["line"])),
            get_storage(),
            actor=None,
            max_bytes=10_000_000,
        )
        assert result.ok, result.error
        document_id = result.document.id
    response = login(app, "admin").get(f"/documents/{document_id}/file")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert f'filename="{served}"' in disposition and f"filename*=UTF-8''{served}" in disposition
    assert ".html" not in disposition


# --- 13. deeply nested JSON is a 400, never a 500 ----------------------------------------------

DEEP = "[" * 100_000


@pytest.mark.parametrize(
    ("url", "who"),
    [
        ("/login", None),
        ("/data/testDB/new", "clerk"),
        ("/data/testDB/draft", "clerk"),
        ("/account/password", "clerk"),
        ("/admin/users", "admin"),
    ],
)
def test_deeply_nested_json_is_a_400(app, users, url, who):
    client = login(app, who) if who else app.test_client()
    response = client.post(url, data=DEEP, content_type="application/json")
    assert response.status_code in {400, 422}, response.status_code
    assert response.status_code != 500
    assert select_row(app, "[") is None


def test_a_deeply_nested_draft_beacon_is_refused(app, users):
    client = login(app, "clerk")
    response = client.post("/data/testDB/draft", data={"draft": DEEP})
    assert response.status_code == 422
    assert response.get_json()["message"] == "Send the draft as a JSON object."


# --- 15. database error text never reaches the person ----------------------------------------

SECRET = "secret driver text 4711"


def _refusing_trigger(app, event: str) -> tuple[list[str], list[str]]:
    """Statements that make the database refuse every `event` on testDB with SECRET, and the
    statements that remove them again."""
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "sqlite":
        return (
            [
                (
                    f'CREATE TRIGGER sec_refuse BEFORE {event} ON "testDB" BEGIN '
                    f"SELECT RAISE(ABORT, '{SECRET}'); END"
                )
            ],
            ["DROP TRIGGER IF EXISTS sec_refuse"],
        )
    if dialect == "mysql":
        return (
            [
                (
                    f"CREATE TRIGGER sec_refuse BEFORE {event} ON testDB FOR EACH ROW "
                    f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{SECRET}'"
                )
            ],
            ["DROP TRIGGER IF EXISTS sec_refuse"],
        )
    return (
        [
            (
                f"CREATE OR REPLACE FUNCTION sec_refuse() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION '{SECRET}'; END $$ LANGUAGE plpgsql"
            ),
            (
                f'CREATE TRIGGER sec_refuse BEFORE {event} ON "testDB" FOR EACH ROW '
                "EXECUTE FUNCTION sec_refuse()"
            ),
        ],
        ['DROP TRIGGER IF EXISTS sec_refuse ON "testDB"', "DROP FUNCTION IF EXISTS sec_refuse()"],
    )


@pytest.fixture
def refusing_database(app):
    """Install a trigger (UPDATE or INSERT) that refuses with SECRET; removed afterwards."""
    installed: list[list[str]] = []

    def install(event: str) -> None:
        create, drop = _refusing_trigger(app, event)
        with app.app_context(), db.engine.begin() as conn:
            for statement in create:
                conn.exec_driver_sql(statement)
        installed.append(drop)

    yield install
    with app.app_context(), db.engine.begin() as conn:
        for drop in installed:
            for statement in drop:
                conn.exec_driver_sql(statement)


def test_a_refused_save_shows_a_plain_sentence_and_logs_the_detail(
    app, users, refusing_database, caplog
):
    clerk = login(app, "clerk")
    assert (
        clerk.post(
            "/data/testDB/new", data={"string_column": "DB-1", "integer_column": "1"}
        ).status_code
        == 303
    )
    refusing_database("UPDATE")
    with caplog.at_level(logging.WARNING, logger="app"):
        response = clerk.post(
            "/data/testDB/edit?key=DB-1",
            data={"string_column": "DB-1", "integer_column": "2", "version": "1"},
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert SECRET not in page and "45000" not in page
    rid = response.headers["X-Request-ID"]
    assert "The database refused this change, so nothing was saved" in page and rid in page
    assert select_row(app, "DB-1")[:3] == (1, "entered", 1)
    logged = [r.getMessage() for r in caplog.records if SECRET in r.getMessage()]
    assert logged and rid in logged[0]


def test_a_refused_import_shows_a_plain_sentence_and_logs_the_detail(
    app, users, refusing_database, caplog
):
    refusing_database("INSERT")
    admin = login(app, "admin")
    body = b"string_column,integer_column,date_column\nIMP-1,1,\nIMP-2,2,\n"
    from io import BytesIO

    with caplog.at_level(logging.WARNING, logger="app"):
        response = admin.post(
            "/exchange/testDB/import",
            data={"file": (BytesIO(body), "rows.csv")},
            content_type="multipart/form-data",
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert SECRET not in page and "refused the rows" in page
    rid = response.headers["X-Request-ID"]
    assert rid in page
    assert select_row(app, "IMP-1") is None
    assert any(SECRET in r.getMessage() and rid in r.getMessage() for r in caplog.records)


# --- 14. a field that is not UTF-8 text is refused, nothing stored -------------------------


def _drafts(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.text("SELECT data FROM drafts")))


def test_invalid_utf8_in_an_entry_field_is_refused_at_the_field(app, users):
    clerk = login(app, "clerk")
    response = clerk.post(
        "/data/testDB/new",
        data=b"string_column=OK%FF%FE&integer_column=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "not UTF-8" in page
    assert 'id="string_column"' in page and "is-invalid" in page
    feedback = page[page.index('id="string_column"') :]
    assert "not UTF-8" in feedback[:2000]
    assert select_row(app, "OK%FF%FE") is None and select_row(app, "OK\ufffd\ufffd") is None
    assert all("%FF" not in d and "\ufffd" not in d for d in _drafts(app))


def test_invalid_utf8_in_a_multipart_entry_field_is_refused_too(app, users):
    clerk = login(app, "clerk")
    boundary = "sec-boundary-1"
    body = (
        (f'--{boundary}\r\nContent-Disposition: form-data; name="string_column"\r\n\r\n').encode()
        + b"MP\xff\xfe"
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="integer_column"'
            f"\r\n\r\n3\r\n--{boundary}--\r\n"
        ).encode()
    )
    response = clerk.post(
        "/data/testDB/new", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 422 and "not UTF-8" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 0


def test_a_typed_percent_sign_is_ordinary_text(app, users):
    clerk = login(app, "clerk")
    response = clerk.post(
        "/data/testDB/new", data={"string_column": "50%FF off", "integer_column": "1"}
    )
    assert response.status_code == 303
    assert select_row(app, "50%FF off") is not None


def test_invalid_utf8_in_another_form_is_refused_whole(app, users):
    admin = login(app, "admin")
    response = admin.post(
        "/admin/users",
        data=b"username=bob%C3%28&role=clerk"
        b"&password=long-enough-password-1&confirm=long-enough-password-1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert "'username' holds bytes that are not UTF-8" in html.unescape(
        response.get_data(as_text=True)
    )
    with app.app_context():
        assert (
            db.session.scalar(sa.text("SELECT count(*) FROM users WHERE username LIKE 'bob%'")) == 0
        )
