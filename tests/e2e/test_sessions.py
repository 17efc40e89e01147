"""Sessions and logins as a person sees them, in real Chromium (issue 13, findings 3, 9, 11, 12):
two devices logged in at once, "Log out other sessions", a clerk whose session ends mid-row,
the throttle's message and the password policy's."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Draft, TestDB, UserSession
from app.models.types import utcnow
from app.services.accounts import find_user
from tests.e2e.conftest import E2E_PASSWORD, log_in
from tests.e2e.test_workspace_inplace import _document

SHOTS = "/tmp"


def _sessions(live_server, username: str) -> list[UserSession]:
    with live_server.app.app_context():
        user_id = find_user(username).id
        return list(
            db.session.scalars(
                sa.select(UserSession)
                .where(UserSession.user_id == user_id)
                .order_by(UserSession.created_at)
            )
        )


def _idle(live_server, username: str, minutes: int = 31) -> None:
    """The user's sessions were last used `minutes` ago."""
    with live_server.app.app_context():
        user_id = find_user(username).id
        db.session.execute(
            sa.update(UserSession)
            .where(UserSession.user_id == user_id)
            .values(last_seen_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()


def _type_login(page, username: str, password: str = E2E_PASSWORD) -> None:
    page.locator("[name=username]").click()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def test_two_devices_stay_logged_in_until_one_logs_out_the_other(new_page, live_server, live_user):
    live_user("rev1", "reviewer")
    laptop, tablet = new_page(), new_page()
    log_in(laptop, "rev1")
    laptop.goto("/dashboard/")
    log_in(tablet, "rev1")  # before: this login logged the laptop out
    laptop.reload()
    assert "/dashboard/" in laptop.url and laptop.inner_text("#nav-user") == "rev1 · reviewer"
    laptop.click("#nav-account")
    rows = laptop.locator("#sessions tbody tr")
    assert rows.count() == 2
    assert "this device" in laptop.locator("#sessions tr.table-active").inner_text()
    laptop.screenshot(path=f"{SHOTS}/sec2-account-sessions.png", full_page=True)
    laptop.get_by_role("button", name="Log out other sessions").focus()
    laptop.keyboard.press("Enter")
    laptop.wait_for_selector("text=Logged out 1 other session.")
    assert laptop.locator("#no-other-sessions").is_visible()
    tablet.goto("/dashboard/")
    assert "/login" in tablet.url
    ended = [s.end_reason for s in _sessions(live_server, "rev1")]
    assert ended == [None, "logged out by the user"]  # the laptop's session goes on


def test_a_clerk_whose_session_ends_mid_row_keeps_what_was_typed(page, live_server, live_user):
    live_user("clerk1")
    document_id = _document(live_server, "clerk1")
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}?panel=testDB")
    page.wait_for_function("() => document.activeElement?.name === 'string_column'")
    _idle(live_server, "clerk1")  # the clerk went for lunch mid-row
    page.keyboard.type("REG-1902-017")
    page.keyboard.press("Tab")  # leaving the field sends the draft: refused, and said so
    status = page.locator("#panel-testDB .draft-status")
    status.filter(has_text="Your session ended").wait_for()
    assert "What you typed is kept" in status.inner_text()
    page.keyboard.type("41")
    page.keyboard.press("Enter")  # the save: the browser goes to the login page
    page.wait_for_url(lambda url: "/login?next=" in url)
    assert "What you typed is kept" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/sec2-session-ended-login.png", full_page=True)
    with live_server.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 0
    _type_login(page, "clerk1")
    page.wait_for_url(f"**/work/documents/{document_id}*")
    form = page.locator("#panel-testDB form[data-draft-url]")
    assert form.locator("[name=string_column]").input_value() == "REG-1902-017"
    assert form.locator("[name=integer_column]").input_value() == "41"
    page.screenshot(path=f"{SHOTS}/sec2-session-ended-restored.png", full_page=True)
    with live_server.app.app_context():
        (draft,) = db.session.scalars(sa.select(Draft)).all()
        assert '"string_column": "REG-1902-017"' in draft.data
    form.locator("[name=integer_column]").click()
    page.keyboard.press("Enter")  # saved now, as typed
    page.locator("#status-testDB .alert-success").wait_for()
    with live_server.app.app_context():
        (row,) = db.session.scalars(sa.select(TestDB)).all()
        assert (row.string_column, row.integer_column, row.document_id) == (
            "REG-1902-017",
            41,
            document_id,
        )


def test_the_login_throttle_says_what_happened(page, live_server, live_user):
    live_user("clerk1")
    limit = live_server.app.config["LOGIN_MAX_FAILURES"]
    for i in range(limit):
        page.goto("/login")
        _type_login(page, "clerk1", f"wrong-password-{i}")
        page.wait_for_selector("#login-error")
    page.goto("/login")
    _type_login(page, "clerk1")
    error = page.locator("#login-error")
    error.filter(has_text="Too many failed logins").wait_for()
    text = error.inner_text()
    assert "for this username from your network address" in text and "Try again in" in text
    page.screenshot(path=f"{SHOTS}/sec2-throttled.png", full_page=True)


def test_a_common_password_is_refused_at_its_field(page, live_server, live_user):
    live_user("clerk1")
    log_in(page, "clerk1")
    page.goto("/account/password")
    page.keyboard.type(E2E_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type("password123")
    page.keyboard.press("Tab")
    page.keyboard.type("password123")
    page.keyboard.press("Enter")
    form = page.locator("form", has=page.locator("[name=confirm]"))
    form.locator(".invalid-feedback").first.wait_for()
    assert "is-invalid" in form.locator("[name=password]").get_attribute("class")
    assert "list of common passwords" in form.inner_text()
    page.screenshot(path=f"{SHOTS}/sec2-common-password.png", full_page=True)
    with live_server.app.app_context():
        assert find_user("clerk1").check_password(E2E_PASSWORD)
