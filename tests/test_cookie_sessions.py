"""A session cookie this process verified before is remembered (app/cookie_sessions.py): it
must behave exactly as one verified on every request."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from app.cookie_sessions import RememberingCookieSessions
from tests.helpers import login

pytestmark = pytest.mark.sqlite_only  # the cookie is the same whatever the database


@pytest.fixture
def clerk(app, make_user):
    make_user("clerk")
    client = login(app, "clerk")
    assert client.get("/work/").status_code == 200  # shows (and drops) the login flash
    return client


def cookie(client) -> str:
    return client.get_cookie("session").value


def test_the_portal_remembers_verified_cookies(app):
    assert isinstance(app.session_interface, RememberingCookieSessions)


def test_a_remembered_cookie_keeps_the_person_logged_in(app, clerk):
    before = cookie(clerk)
    for _ in range(3):
        assert clerk.get("/work/").status_code == 200
    assert cookie(clerk) == before  # nothing changed, nothing re-signed


def test_a_cookie_changed_by_one_character_is_refused_after_the_real_one_was_remembered(app, clerk):
    real = cookie(clerk)
    assert clerk.get("/work/").status_code == 200
    position = len(real) - 5
    forged = real[:position] + ("A" if real[position] != "A" else "B") + real[position + 1 :]
    other = app.test_client()
    other.set_cookie("session", forged)
    response = other.get("/work/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_remembered_cookie_older_than_the_session_lifetime_is_refused(app, clerk):
    app.permanent_session_lifetime = timedelta(seconds=1)
    # a cookie signed now (the login flash was taken, so the next page re-signs nothing)
    stale = app.test_client()
    stale.set_cookie("session", cookie(clerk))
    assert stale.get("/work/").status_code == 200  # verified, and remembered
    time.sleep(2.2)  # itsdangerous counts whole seconds
    response = stale.get("/work/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_what_one_request_changes_never_shows_in_another_with_the_same_cookie(app, clerk):
    # a cookie holding one message still to show (no documents to go to)
    assert clerk.get("/work/next").status_code == 302
    pending = cookie(clerk)
    for _ in range(3):  # verified, then remembered: each adds its message to its own copy
        other = app.test_client()
        other.set_cookie("session", pending)
        assert other.get("/work/next").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", pending)
    page = replay.get("/work/").get_data(as_text=True)
    assert page.count("You have no unfinished documents") == 1
