"""A session per device (issue 13, finding 11) and sessions that expire, keeping what a clerk
typed (finding 12). Every test runs on each configured backend."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Draft, TestDB, User, UserSession
from app.models.types import utcnow
from app.services import accounts
from config import Config, ConfigError
from tests.conftest import PASSWORD
from tests.test_workspace import add, pdf

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"


def device(app, username: str, *, agent: str = FIREFOX, address: str = "10.0.0.1", **extra):
    """A browser of its own (own cookies), logged in as username."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent})
    response = client.post("/login", data={"username": username, "password": PASSWORD, **extra})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def logged_in(client, url: str = "/account") -> bool:
    response = client.get(url)
    assert response.status_code in {200, 302}, response.status_code
    return response.status_code == 200


def session_rows(app, username: str) -> list[UserSession]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(UserSession)
                .join(User, User.id == UserSession.user_id)
                .where(User.username == username)
                .order_by(UserSession.created_at)
            )
        )


def age_sessions(app, username: str, **moved: timedelta) -> None:
    """Move the user's sessions back in time: created_at=..., last_seen_at=..."""
    with app.app_context():
        user_id = accounts.find_user(username).id
        now = utcnow()
        db.session.execute(
            sa.update(UserSession)
            .where(UserSession.user_id == user_id)
            .values({name: now - delta for name, delta in moved.items()})
        )
        db.session.commit()


# --- finding 11: a session per device ---------------------------------------------------------


def test_a_login_on_a_second_device_keeps_the_first_logged_in(app, users):
    laptop = device(app, "reviewer")
    assert laptop.get("/dashboard/").status_code == 200
    tablet = device(app, "reviewer", agent=SAFARI, address="10.0.0.2")
    assert laptop.get("/dashboard/").status_code == 200  # still logged in, mid-work
    assert tablet.get("/dashboard/").status_code == 200
    rows = session_rows(app, "reviewer")
    assert [(r.user_agent, r.client_address, r.ended_at) for r in rows] == [
        (FIREFOX, "10.0.0.1", None),
        (SAFARI, "10.0.0.2", None),
    ]
    assert all(r.created_at and r.last_seen_at and len(r.id) == 64 for r in rows)


def test_the_cookie_holds_a_token_the_table_does_not(app, users):
    laptop = device(app, "clerk")
    with laptop.session_transaction() as sess:
        token = sess["_user_id"]
    (row,) = session_rows(app, "clerk")
    assert token != row.id and len(token) >= 40  # only its SHA-256 is stored


def test_logging_out_ends_only_this_device(app, users):
    laptop, tablet = device(app, "clerk"), device(app, "clerk", agent=SAFARI)
    assert laptop.post("/logout").status_code == 303
    assert not logged_in(laptop)
    assert logged_in(tablet)
    ended = [r.end_reason for r in session_rows(app, "clerk")]
    assert ended == ["logged out", None]


def test_the_account_page_lists_sessions_and_logs_out_the_others(app, users):
    laptop = device(app, "clerk")
    tablet = device(app, "clerk", agent=SAFARI, address="10.0.0.2")
    page = laptop.get("/account").get_data(as_text=True)
    table = re.search(r'<table[^>]*id="sessions".*?</table>', page, re.S).group(0)
    assert FIREFOX in table and "10.0.0.2" in table and table.count("<tr") == 3
    assert "Firefox on Linux" in table and "Safari on iPad" in table
    assert "this device" in table and "Log out other sessions" in page
    response = laptop.post("/account/sessions/end-others")
    assert response.status_code == 303
    assert "Logged out 1 other session." in laptop.get("/account").get_data(as_text=True)
    assert not logged_in(tablet)
    assert logged_in(laptop)
    assert [r.end_reason for r in session_rows(app, "clerk")] == [None, "logged out by the user"]
    assert "You are logged in on this device only." in laptop.get("/account").get_data(as_text=True)


def test_an_admin_ends_a_users_sessions(app, users):
    clerk_laptop, clerk_tablet = device(app, "clerk"), device(app, "clerk", agent=SAFARI)
    admin = device(app, "admin", address="10.0.0.9")
    with app.app_context():
        clerk_id = accounts.find_user("clerk").id
    page = admin.get(f"/admin/users/{clerk_id}").get_data(as_text=True)
    assert SAFARI in page and "End all sessions of clerk" in page
    response = admin.post(f"/admin/users/{clerk_id}/sessions/end")
    assert response.status_code == 303
    assert "Ended 2 sessions of clerk." in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert not logged_in(clerk_laptop) and not logged_in(clerk_tablet)
    assert {r.end_reason for r in session_rows(app, "clerk")} == {"ended by admin"}
    assert logged_in(admin)


def test_an_admin_ending_their_own_sessions_keeps_the_one_in_use(app, users):
    admin, other = device(app, "admin"), device(app, "admin", agent=SAFARI)
    with app.app_context():
        admin_id = accounts.find_user("admin").id
    assert admin.post(f"/admin/users/{admin_id}/sessions/end").status_code == 303
    assert logged_in(admin) and not logged_in(other)


def test_a_password_change_ends_every_other_session(app, users):
    laptop, tablet = device(app, "clerk"), device(app, "clerk", agent=SAFARI)
    with laptop.session_transaction() as sess:
        old_token = sess["_user_id"]
    copy = app.test_client()
    copy.set_cookie("session", laptop.get_cookie("session").value)
    response = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "a-new-long-passphrase",
            "confirm": "a-new-long-passphrase",
        },
    )
    assert response.status_code == 303
    assert logged_in(laptop)  # this device goes on, under a new session id
    with laptop.session_transaction() as sess:
        assert sess["_user_id"] != old_token
    assert not logged_in(tablet) and not logged_in(copy)
    reasons = [r.end_reason for r in session_rows(app, "clerk")]
    assert reasons == ["password changed", "password changed", None]


def test_an_admin_reset_and_a_deactivation_end_every_session(app, users):
    laptop = device(app, "clerk")
    admin = device(app, "admin")
    with app.app_context():
        clerk_id = accounts.find_user("clerk").id
    assert (
        admin.post(
            f"/admin/users/{clerk_id}/password", data={"password": "reset-by-the-admin"}
        ).status_code
        == 303
    )
    assert not logged_in(laptop)
    laptop = app.test_client()
    assert (
        laptop.post(
            "/login", data={"username": "clerk", "password": "reset-by-the-admin"}
        ).status_code
        == 303
    )
    assert admin.post(f"/admin/users/{clerk_id}/active", data={"active": "0"}).status_code == 303
    assert not logged_in(laptop)
    assert [r.end_reason for r in session_rows(app, "clerk")] == ["password changed", "deactivated"]


def test_the_user_loader_is_one_select_and_last_seen_is_written_once_a_minute(
    app, users, count_writes
):
    laptop = device(app, "clerk")
    with count_writes() as statements:
        assert laptop.get("/account").status_code == 200
    session_reads = [s for s in statements if "user_sessions" in s]
    assert len([s for s in session_reads if "JOIN users" in s]) == 1  # the session and its user
    assert not any(s.lstrip().upper().startswith("UPDATE") for s in session_reads)
    before = session_rows(app, "clerk")[0].last_seen_at
    age_sessions(app, "clerk", last_seen_at=timedelta(minutes=2))
    with count_writes() as statements:
        assert laptop.get("/account").status_code == 200
        assert laptop.get("/account").status_code == 200
    updates = [s for s in statements if s.startswith("UPDATE user_sessions")]
    # The second request within the minute writes nothing.
    assert len(updates) == 1, [s[:60] for s in statements]
    assert session_rows(app, "clerk")[0].last_seen_at >= before


@pytest.fixture
def count_writes(app):
    """A context manager collecting every SQL statement run meanwhile."""
    from contextlib import contextmanager

    with app.app_context():
        engine = db.engine

    @contextmanager
    def collect():
        statements: list[str] = []

        def listener(conn, cursor, statement, *args):
            statements.append(" ".join(statement.split()))

        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)

    return collect


# --- finding 12: sessions expire ------------------------------------------------------------


def test_a_session_ends_after_the_idle_timeout(app, users):
    laptop = device(app, "clerk")
    age_sessions(app, "clerk", last_seen_at=timedelta(minutes=29))
    assert logged_in(laptop)  # 29 minutes idle: still there (and seen again now)
    age_sessions(app, "clerk", last_seen_at=timedelta(minutes=31))
    response = laptop.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = laptop.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session ended after a while without activity." in page
    assert [r.end_reason for r in session_rows(app, "clerk")] == ["idle"]
    assert not logged_in(laptop)


def test_a_session_ends_after_its_absolute_lifetime_even_in_use(app, users):
    laptop = device(app, "clerk")
    age_sessions(
        app, "clerk", created_at=timedelta(hours=12, minutes=1), last_seen_at=timedelta(seconds=5)
    )
    assert not logged_in(laptop)
    assert [r.end_reason for r in session_rows(app, "clerk")] == ["expired"]


def test_keep_me_logged_in_lasts_the_remember_me_lifetime(app, users):
    laptop = device(app, "clerk", remember="y")
    cookie = laptop.get_cookie("remember_token")
    assert cookie is not None
    assert timedelta(days=13, hours=23) < cookie.expires - utcnow() <= timedelta(days=14)
    age_sessions(app, "clerk", created_at=timedelta(days=3), last_seen_at=timedelta(hours=5))
    assert logged_in(laptop)  # no idle timeout for a device the user asked to keep
    age_sessions(app, "clerk", created_at=timedelta(days=14, minutes=1))
    assert not logged_in(laptop)
    laptop.delete_cookie("session")  # the browser restarted: only the remember-me cookie
    assert not logged_in(laptop)


def test_the_remember_me_cookie_brings_back_a_live_session_after_a_restart(app, users):
    laptop = device(app, "clerk", remember="y")
    laptop.delete_cookie("session")
    assert logged_in(laptop)
    assert len(session_rows(app, "clerk")) == 1  # the same session, not a new one


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("SESSION_IDLE_MINUTES", "5", "SESSION_IDLE_MINUTES", 5),
        ("SESSION_MAX_HOURS", "8", "SESSION_MAX_HOURS", 8),
        ("REMEMBER_COOKIE_DAYS", "30", "REMEMBER_COOKIE_DURATION", timedelta(days=30)),
    ],
)
def test_session_lifetimes_are_settings(monkeypatch, name, value, attribute, expected):
    assert getattr(Config(), attribute) != expected
    monkeypatch.setenv(name, value)
    assert getattr(Config(), attribute) == expected
    monkeypatch.setenv(name, "0")
    with pytest.raises(ConfigError, match=name):
        getattr(Config(), attribute)


# --- finding 12: what a clerk typed after the session ended is kept ----------------------------

ORIGIN = {"Referer": "http://localhost/work/documents/{id}"}


@pytest.fixture
def ann_at_work(app, make_user, users):
    """Clerk ann, logged in, with a document assigned; her session has just gone idle."""
    make_user("ann", "clerk")
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    ann = device(app, "ann")
    assert ann.get(f"/work/documents/{document_id}").status_code == 200
    age_sessions(app, "ann", last_seen_at=timedelta(minutes=45))
    return ann, document_id


def drafts_of(app, username: str) -> list[dict[str, str]]:
    with app.app_context():
        query = (
            sa.select(Draft.data)
            .join(User, User.id == Draft.user_id)
            .where(User.username == username)
        )
        return [json.loads(data) for data in db.session.scalars(query)]


def row_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(TestDB))


def test_a_form_posted_after_the_session_ended_comes_back_as_the_draft(app, ann_at_work):
    ann, document_id = ann_at_work
    page = f"/work/documents/{document_id}"
    response = ann.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": "REG-1902-017", "integer_column": "41"},
        headers={"Referer": f"http://localhost{page}"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/work/documents/")
    login_page = ann.get(response.headers["Location"]).get_data(as_text=True)
    assert "What you typed is kept" in login_page
    assert row_count(app) == 0 and drafts_of(app, "ann") == []  # nothing saved while logged out
    again = ann.post(response.headers["Location"], data={"username": "ann", "password": PASSWORD})
    assert again.status_code == 303 and again.headers["Location"] == page
    assert drafts_of(app, "ann") == [{"string_column": "REG-1902-017", "integer_column": "41"}]
    workspace = ann.get(f"{page}?panel=testDB").get_data(as_text=True)
    assert re.search(r'name="string_column"[^>]*value="REG-1902-017"', workspace)
    assert re.search(r'name="integer_column"[^>]*value="41"', workspace)
    assert row_count(app) == 0  # a draft, not a saved row: the clerk saves it


def test_a_draft_posted_after_the_session_ended_gets_a_clear_answer(app, ann_at_work):
    ann, document_id = ann_at_work
    response = ann.post(
        f"/data/testDB/draft?document={document_id}",
        json={"data": {"string_column": "REG-5", "integer_column": "7"}, "form_token": ""},
    )
    assert response.status_code == 401
    body = response.get_json()
    assert "session ended" in body["message"] and "What you typed is kept" in body["message"]
    assert body["login"].startswith("/login")
    assert ann.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 303
    assert drafts_of(app, "ann") == [{"string_column": "REG-5", "integer_column": "7"}]


def test_an_in_place_save_after_the_session_ended_sends_the_browser_to_log_in(app, ann_at_work):
    ann, document_id = ann_at_work
    response = ann.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": "REG-9", "integer_column": "1"},
        headers={"HX-Request": "true", "Referer": f"http://localhost/work/documents/{document_id}"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == (f"/login?next=/work/documents/{document_id}")
    assert ann.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 303
    assert drafts_of(app, "ann") == [{"string_column": "REG-9", "integer_column": "1"}]


def test_an_edit_posted_after_the_session_ended_comes_back_as_that_rows_draft(
    app, make_user, users
):
    make_user("ann", "clerk")
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    ann = device(app, "ann")
    assert (
        ann.post(
            f"/data/testDB/new?document={document_id}",
            data={"string_column": "REG-3", "integer_column": "3"},
        ).status_code
        == 303
    )
    age_sessions(app, "ann", last_seen_at=timedelta(hours=1))
    response = ann.post(
        "/data/testDB/edit?key=REG-3",
        data={"string_column": "REG-3", "integer_column": "33", "version": "1"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/data/testDB/edit?key%3DREG-3"
    again = ann.post(response.headers["Location"], data={"username": "ann", "password": PASSWORD})
    assert again.headers["Location"] == "/data/testDB/edit?key=REG-3"
    assert drafts_of(app, "ann") == [{"string_column": "REG-3", "integer_column": "33"}]
    with app.app_context():
        assert db.session.scalar(sa.select(TestDB.integer_column)) == 3  # not saved
    page = ann.get(again.headers["Location"]).get_data(as_text=True)
    assert re.search(r'name="integer_column"[^>]*value="33"', page)


def test_kept_input_goes_only_to_the_user_whose_session_it_was(app, ann_at_work, make_user):
    ann, document_id = ann_at_work
    make_user("bob", "clerk")
    ann.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": "REG-1", "integer_column": "1"},
    )
    assert ann.post("/login", data={"username": "bob", "password": PASSWORD}).status_code == 303
    assert drafts_of(app, "bob") == [] and drafts_of(app, "ann") == []


def test_a_post_without_any_session_keeps_nothing(app, make_user, users):
    make_user("ann", "clerk")
    document_id = add(app, "page.pdf", pdf(1), to=["ann"])
    stranger = app.test_client()
    response = stranger.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": "REG-1", "integer_column": "1"},
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert (
        stranger.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 303
    )
    assert drafts_of(app, "ann") == []
