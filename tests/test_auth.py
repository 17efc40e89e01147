"""Login, logout, sessions, throttling and redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models.user import LoginFailure, User
from app.services import accounts
from tests.helpers import PASSWORD


def test_login_page_has_the_contract_fields(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page
    assert 'name="remember"' in page
    assert "checked" not in page.split('name="remember"')[1].split(">")[0]


def test_login_and_logout(client, auth, users):
    response = auth.login("clerk")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = client.get("/", follow_redirects=True)  # a clerk's home is their queue
    assert "clerk · clerk" in home.get_data(as_text=True)
    assert "My documents" in home.get_data(as_text=True)
    response = auth.logout()
    assert response.status_code == 303
    assert client.get("/admin/users").status_code == 302


def test_login_records_last_login(app, auth, users):
    auth.login("clerk")
    with app.app_context():
        user = accounts.find_user("clerk")
        assert user.last_login_at is not None


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("clerk", "wrong-password-1"),
        ("nobody", PASSWORD),
        ("' OR 1=1 --", PASSWORD),
        ("<script>alert(1)</script>", "x"),
        ("cl\x00erk", "wrong-password-1"),
    ],
)
def test_bad_credentials_get_one_message(client, auth, users, username, password):
    response = auth.login(username, password)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "Invalid username or password." in page
    assert "<script>alert(1)</script>" not in page


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "clerk", "password": ""}, "password"),
        ({"username": "x" * 10_000, "password": PASSWORD}, "username"),
    ],
)
def test_invalid_login_form_is_422_with_field_error(client, users, data, field):
    response = client.post("/login", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'name="{field}"' in page and "is-invalid" in page and "invalid-feedback" in page


def test_get_logout_is_not_allowed(client, auth, users):
    auth.login("clerk")
    assert client.get("/logout").status_code == 405
    assert "clerk · clerk" in client.get("/", follow_redirects=True).get_data(as_text=True)


def _session_cookie(client):
    return client.get_cookie("session").value


def test_replayed_cookie_after_logout_is_anonymous(app, client, auth, users):
    auth.login("admin")
    old_cookie = _session_cookie(client)
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", old_cookie)
    response = thief.get("/admin/users")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions(app, client, auth, users):
    auth.login("admin")
    other = app.test_client()
    other.set_cookie("session", _session_cookie(client))
    assert other.get("/admin/users").status_code == 200
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "another-long-password",
            "confirm": "another-long-password",
        },
    )
    assert response.status_code == 303
    assert client.get("/admin/users").status_code == 200  # this session continues
    assert other.get("/admin/users").status_code == 302  # the copy does not


def test_password_change_with_wrong_current_password(client, auth, users):
    auth.login("clerk")
    response = client.post(
        "/account/password",
        data={
            "current_password": "not-it-at-all",
            "password": "another-long-password",
            "confirm": "another-long-password",
        },
    )
    assert response.status_code == 422
    assert "That is not your current password." in response.get_data(as_text=True)
    auth.logout()
    assert auth.login("clerk").status_code == 303


def test_deactivated_user_is_logged_out_on_next_request(app, client, auth, users):
    auth.login("clerk")
    assert client.get("/work/").status_code == 200
    with app.app_context():
        accounts.set_active(accounts.find_user("clerk"), False)
    response = client.get("/account/password")
    assert response.status_code == 302
    assert auth.login("clerk").status_code == 401


def test_session_is_cleared_before_login(client, auth, users):
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    auth.login("clerk")
    with client.session_transaction() as sess:
        assert "planted" not in sess


def test_remember_me_is_off_by_default(client, auth, users):
    auth.login("clerk")
    assert client.get_cookie("remember_token") is None
    auth.logout()
    auth.login("clerk", remember="y")
    assert client.get_cookie("remember_token") is not None


def test_throttling_after_repeated_failures(app, client, auth, users):
    limit = app.config["LOGIN_MAX_FAILURES"]
    statuses = [auth.login("clerk", f"wrong-{i}").status_code for i in range(20)]
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    response = auth.login("clerk")  # even the right password waits
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Try again in" in response.get_data(as_text=True)
    with app.app_context():
        failures = db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure))
        assert failures == limit  # throttled attempts are not even checked
        window = timedelta(seconds=app.config["LOGIN_WINDOW_SECONDS"] + 1)
        db.session.execute(sa.update(LoginFailure).values(failed_at=accounts.utcnow() - window))
        db.session.commit()
    assert auth.login("clerk").status_code == 303


def test_throttling_per_client_address(app, client, auth, users):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    for i in range(limit):
        assert auth.login(f"user{i}", "wrong-password").status_code == 401
    assert auth.login("someone-else", "wrong-password").status_code == 429
    other_address = app.test_client()
    response = other_address.post(
        "/login",
        data={"username": "clerk", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "///evil.com",
        "\\\\evil.com",
        "/\\evil.com",
        "http:\\\\evil.com",
        "javascript:alert(1)",
        "http://evil.com/",
        "https://evil.com",
        " //evil.com",
        "\x08//evil.com",
        "//evil.com/%2F..",
        "http:///evil.com",
    ],
)
def test_next_never_leaves_the_site(client, users, target):
    response = client.post(
        "/login", query_string={"next": target}, data={"username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_next_inside_the_site_is_followed(client, users):
    response = client.post(
        "/login?next=/admin/users", data={"username": "admin", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/admin/users"


def test_protected_page_redirects_to_login_with_next(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/users")


def test_logged_in_user_visiting_login_goes_home(client, auth, users):
    auth.login("clerk")
    assert client.get("/login").status_code == 302


def test_password_hash_is_scrypt(app, users):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "clerk"))
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash


def test_a_page_part_fetched_without_a_session_is_refused_without_a_new_cookie(
    app, client, auth, users
):
    """An image or the document's file the browser fetches for a page (Sec-Fetch-Mode other
    than navigate) after the session ended: 401, and the session cookie is left alone, so it
    cannot overwrite the cookie of an entry form's POST that kept what was typed."""
    auth.login("clerk")
    with app.app_context():
        accounts.set_active(accounts.find_user("clerk"), False)
    part = client.get("/work/", headers={"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"})
    assert part.status_code == 401
    assert "Set-Cookie" not in part.headers
    page = client.get("/work/", headers={"Sec-Fetch-Mode": "navigate"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert "Set-Cookie" in page.headers  # the message for the login page is flashed
