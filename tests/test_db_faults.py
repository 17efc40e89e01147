"""Fault injection: a TCP proxy between the app and MariaDB / PostgreSQL breaks the connection.

Cases: a killed connection, the proxy down, a COMMIT whose answer is lost (found saved; and,
with the look-up failing too, "may have been saved" then a retry that is the same save, for a
new row and an edit), a frozen proxy, a locked table. Each checks the status, the message, the
request id, and by SELECT (straight to the server, not through the proxy) that every
acknowledged save is stored and nothing unacknowledged is claimed. Timeouts are 1-2 s here.
"""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.security import public
from bench._faults import TcpProxy

PASSWORD = "correct-horse-battery"
HX = {"HX-Request": "true"}
JSON = {"Accept": "application/json"}
DEFAULT_PORTS = {"mysql": 3306, "postgresql": 5432}
# The lock timeout below the read timeout, so a lock wait ends with the server's own answer.
TIMEOUTS = {
    "DATABASE_READ_TIMEOUT": 2,
    "DATABASE_WRITE_TIMEOUT": 2,
    "DATABASE_LOCK_TIMEOUT": 1,
    "DATABASE_CONNECT_TIMEOUT": 1,
}


# Only the servers: the proxy sits on the network road that SQLite does not have.
pytestmark = pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)


@pytest.fixture
def proxy(migrated):
    url = make_url(migrated)
    with TcpProxy(
        url.host or "127.0.0.1", url.port or DEFAULT_PORTS[url.get_backend_name()]
    ) as running:
        yield running
        running.thaw()
        running.up()


@pytest.fixture
def through(app, migrated, proxy):
    """The portal connected to the database through the proxy."""
    url = make_url(migrated).set(host="127.0.0.1", port=proxy.port)
    proxied = create_app(
        {
            "DATABASE_URL": url.render_as_string(hide_password=False),
            "DOCUMENT_STORAGE": app.config["DOCUMENT_STORAGE"],
            **TIMEOUTS,
        }
    )
    yield proxied
    proxy.thaw()
    proxy.up()
    with proxied.app_context():
        db.engine.dispose()


@pytest.fixture
def document_id(app, make_user):
    from app.documents.samples import pdf_document
    from app.models import User
    from app.services import documents as docs
    from app.services.uploads import IncomingFile
    from app.storage import get_storage

    make_user("ann", "clerk")
    with app.app_context():
        result = docs.add_file(
            IncomingFile("page.pdf", pdf_document("Register", ["Roe"])),
            get_storage(),
            actor=None,
            max_bytes=1_048_576,
        )
        ann = db.session.scalar(sa.select(User).where(User.username == "ann"))
        docs.assign([result.document], [ann], actor=None)
        return result.document.id


def log_in(app, username: str = "ann"):
    client = app.test_client()
    assert (
        client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 303
    )
    return client


@pytest.fixture
def ann(through, document_id):
    return log_in(through)


def stored(app) -> dict[str, tuple[int, int]]:
    """testDB as the server holds it: key -> (integer_column, version)."""
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                'SELECT string_column, integer_column, version FROM "testDB"'
                if db.engine.dialect.name == "postgresql"
                else "SELECT string_column, integer_column, version FROM testDB"
            )
        ).all()
        db.session.rollback()
    return {r[0]: (r[1], r[2]) for r in rows}


def form_token(client, document_id: int) -> str:
    page = client.get(f"/work/documents/{document_id}").get_data(as_text=True)
    return re.search(r'name="form_token"[^>]*value="([^"]*)"', page).group(1)


def save(client, document_id: int, key: str, number: str = "1", headers=None, **extra):
    return client.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": key, "integer_column": number, **extra},
        headers=headers,
    )


def assert_unavailable(response, *phrases: str) -> str:
    """A 503 that needs no database: the message, the request id, Retry-After, no bare page."""
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    rid = response.headers["X-Request-ID"]
    if response.is_json:
        body = response.get_json()
        assert body["request_id"] == rid
        text = body["message"]
    else:
        text = response.get_data(as_text=True)
        assert f"<code data-request-id>{rid}</code>" in text
        assert "Internal Server Error" not in text
        assert 'aria-label="Main"' in text and "My documents" not in text  # no navigation
    for phrase in phrases:
        assert phrase in text
    return text


# --- a killed connection ---------------------------------------------------------------------


def test_a_killed_connection_heals_at_the_next_save(app, proxy, ann, document_id):
    token = form_token(ann, document_id)
    assert proxy.kill() >= 1
    response = save(ann, document_id, "K-1", headers=HX, form_token=token)
    assert response.status_code == 200 and "Saved Test values row K-1" in response.text
    assert stored(app) == {"K-1": (1, 1)}


def test_a_connection_lost_after_the_last_query_keeps_the_good_page(through, proxy, document_id):
    def page_then_lost():
        from flask import jsonify

        count = db.session.execute(sa.text("SELECT 1")).scalar_one()
        proxy.kill()  # the connection dies with the transaction still open
        return jsonify(count=count)

    through.add_url_rule("/test-lost-after-query", view_func=public(page_then_lost))
    ann = log_in(through)
    response = ann.get("/test-lost-after-query")
    assert response.status_code == 200 and response.get_json() == {"count": 1}
    assert ann.get("/test-lost-after-query").status_code == 200  # the pool healed


# --- the proxy down --------------------------------------------------------------------------


def test_with_the_database_down_a_save_is_a_503_that_keeps_the_values(app, proxy, ann, document_id):
    token = form_token(ann, document_id)
    ann.get(f"/work/documents/{document_id}")
    proxy.down()
    started = time.monotonic()
    response = save(ann, document_id, "D-1", "7", form_token=token)
    assert time.monotonic() - started < 5
    page = assert_unavailable(response, "nothing was saved")
    assert 'name="string_column" value="D-1"' in page and 'value="7"' in page
    assert f'name="form_token" value="{token}"' in page  # Save again is the same save
    assert 'name="password"' not in page
    as_json = save(ann, document_id, "D-1", "7", headers=JSON, form_token=token)
    assert_unavailable(as_json, "nothing was saved")
    assert as_json.get_json()["saved"] is False
    assert ann.get("/healthz").status_code == 503
    proxy.up()
    assert stored(app) == {}  # nothing unacknowledged is claimed, and nothing was stored
    again = save(ann, document_id, "D-1", "7", form_token=token)
    assert again.status_code == 303
    assert stored(app) == {"D-1": (7, 1)}


def test_with_the_database_down_a_page_is_a_503_without_it(proxy, ann, document_id):
    proxy.down()
    response = ann.get(f"/work/documents/{document_id}")
    assert_unavailable(response, "could not be loaded", "Nothing was changed")


# --- a COMMIT whose answer is lost -----------------------------------------------------------


def test_a_lost_commit_answer_is_looked_up_and_reported_saved(app, proxy, ann, document_id):
    token = form_token(ann, document_id)
    proxy.drop_after_commit()
    response = save(ann, document_id, "C-1", headers=HX, form_token=token)
    assert proxy.dropped == 1
    assert response.status_code == 200 and "Saved Test values row C-1" in response.text
    assert stored(app) == {"C-1": (1, 1)}


def test_an_unresolved_commit_may_have_saved_and_saving_again_is_the_same_save(
    app, proxy, ann, document_id
):
    token = form_token(ann, document_id)
    proxy.drop_after_commit(then=proxy.down)
    response = save(ann, document_id, "M-1", "5", form_token=token)
    assert proxy.dropped == 1
    page = assert_unavailable(response, "may have been saved", "Pressing Save again is safe")
    assert f'name="form_token" value="{token}"' in page
    proxy.up()
    assert stored(app) == {"M-1": (5, 1)}  # it was: the COMMIT went through
    again = save(ann, document_id, "M-1", "5", headers=HX, form_token=token)
    assert again.status_code == 200
    assert "Saved Test values row M-1" in again.text and "stored once" in again.text
    assert "exists already" not in again.text
    assert stored(app) == {"M-1": (5, 1)}


def test_an_edit_whose_commit_answer_is_lost_is_found_saved(app, proxy, ann, document_id):
    assert (
        save(
            ann, document_id, "E-1", "1", headers=HX, form_token=form_token(ann, document_id)
        ).status_code
        == 200
    )
    proxy.drop_after_commit()
    response = ann.post(
        "/data/testDB/edit?key=E-1",
        data={"string_column": "E-1", "integer_column": "2", "version": "1"},
    )
    assert response.status_code == 303
    assert stored(app) == {"E-1": (2, 2)}


def test_saving_an_edit_again_after_may_have_been_saved_is_not_a_conflict(
    app, proxy, ann, document_id
):
    assert (
        save(
            ann, document_id, "E-2", "1", headers=HX, form_token=form_token(ann, document_id)
        ).status_code
        == 200
    )
    edit = {"string_column": "E-2", "integer_column": "3", "version": "1"}
    proxy.drop_after_commit(then=proxy.down)
    response = ann.post("/data/testDB/edit?key=E-2", data=edit)
    page = assert_unavailable(response, "may have been saved")
    assert 'name="version" value="1"' in page
    proxy.up()
    assert stored(app) == {"E-2": (3, 2)}
    again = ann.post("/data/testDB/edit?key=E-2", data=edit)
    assert again.status_code == 303  # not "someone else saved this row"
    assert stored(app) == {"E-2": (3, 2)}  # once
    other = ann.post("/data/testDB/edit?key=E-2", data={**edit, "integer_column": "4"})
    assert other.status_code == 409  # different values from the old version: a real conflict


# --- a frozen proxy --------------------------------------------------------------------------


def test_a_frozen_network_ends_within_the_read_timeout(app, proxy, ann, document_id):
    token = form_token(ann, document_id)
    proxy.freeze()
    started = time.monotonic()
    response = save(ann, document_id, "F-1", headers=JSON, form_token=token)
    elapsed = time.monotonic() - started
    assert_unavailable(response, "nothing was saved")
    assert elapsed < 6, elapsed
    proxy.thaw()
    assert stored(app) == {}
    assert save(ann, document_id, "F-1", headers=HX, form_token=token).status_code == 200
    assert stored(app) == {"F-1": (1, 1)}


# --- a locked table --------------------------------------------------------------------------


def test_a_locked_table_ends_with_busy_and_nothing_saved(app, proxy, ann, document_id):
    token = form_token(ann, document_id)
    with app.app_context():
        engine = db.engine
    locker = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            locker.exec_driver_sql('LOCK TABLE "testDB" IN ACCESS EXCLUSIVE MODE')
        else:
            locker.exec_driver_sql("LOCK TABLES testDB WRITE")
        started = time.monotonic()
        response = save(ann, document_id, "L-1", headers=JSON, form_token=token)
        assert time.monotonic() - started < 6
        assert_unavailable(response, "busy", "nothing was saved")
        assert response.get_json()["saved"] is False
    finally:
        if engine.dialect.name != "postgresql":
            locker.exec_driver_sql("UNLOCK TABLES")
        locker.rollback()
        locker.close()
    assert stored(app) == {}
    assert save(ann, document_id, "L-1", headers=HX, form_token=token).status_code == 200
    assert stored(app) == {"L-1": (1, 1)}


def test_a_saved_flash_from_a_page_that_failed_is_shown_then_and_not_later(
    app, proxy, ann, document_id
):
    token = form_token(ann, document_id)
    saved = save(ann, document_id, "S-1", form_token=token)
    assert saved.status_code == 303  # "Saved ... row S-1" waits in the session for the page
    proxy.down()
    page = assert_unavailable(ann.get(saved.headers["Location"]), "could not be loaded")
    assert "Before this: Saved Test values row S-1" in page
    proxy.up()
    assert "Saved Test values row S-1" not in ann.get(saved.headers["Location"]).text
    assert stored(app) == {"S-1": (1, 1)}
