"""Passwords as NIST SP 800-63B asks (issue 13, finding 9): long enough, not containing the
username, not on a list of common passwords; on every path that sets one."""

from __future__ import annotations

import re

import pytest

from app.services import accounts
from tests.conftest import PASSWORD

COMMON = "common passwords"
HAS_NAME = "must not contain the username"
REFUSED = [
    ("aaaaaaaaaa", COMMON),
    ("1234567890", COMMON),
    ("Password123", COMMON),  # the list is compared without case
    ("qwertyuiop", COMMON),
    ("iloveyou123", COMMON),
    ("{name}a{name}a", HAS_NAME),
    ("My{NAME}Passphrase", HAS_NAME),  # the username in any case
]


def typed(password: str, name: str) -> str:
    return password.format(name=name, NAME=name.upper())


def test_the_shipped_list_is_loaded_once_and_holds_long_common_passwords():
    common = accounts.common_passwords()
    assert accounts.common_passwords() is common
    assert {"aaaaaaaaaa", "1234567890", "password123", "qwertyuiop"} <= common
    assert len(common) > 1500 and all(len(p) >= accounts.PASSWORD_MIN for p in common)
    notice = accounts.COMMON_PASSWORDS_FILE.with_name("common-passwords.NOTICE").read_text()
    assert "Royce Williams" in notice and "Redistribution and use" in notice


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_the_admin_form_refuses(app, client, auth, users, password, message):
    auth.login("admin")
    pw = typed(password, "newclerk")
    response = client.post(
        "/admin/users",
        data={"username": "newclerk", "role": "clerk", "password": pw, "confirm": pw},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "is-invalid" in page
    with app.app_context():
        assert accounts.find_user("newclerk") is None


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_flask_users_create_and_set_password_refuse(app, runner, make_user, password, message):
    pw = typed(password, "typist")
    result = runner.invoke(args=["users", "create", "typist", "--role", "clerk", "--password", pw])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output
    make_user("typist")
    result = runner.invoke(args=["users", "set-password", "typist", "--password", pw])
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert accounts.find_user("typist").check_password(PASSWORD)  # unchanged


@pytest.mark.parametrize(("password", "message"), REFUSED)
def test_changing_your_own_password_refuses(app, client, auth, users, password, message):
    auth.login("clerk")
    pw = typed(password, "clerk")
    response = client.post(
        "/account/password", data={"current_password": PASSWORD, "password": pw, "confirm": pw}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "is-invalid" in page
    assert client.get("/account").status_code == 200  # still logged in, nothing changed
    with app.app_context():
        assert accounts.find_user("clerk").check_password(PASSWORD)


def test_an_admin_reset_refuses(app, client, auth, users):
    auth.login("admin")
    with app.app_context():
        clerk_id = accounts.find_user("clerk").id
    response = client.post(f"/admin/users/{clerk_id}/password", data={"password": "clerk-2024-x"})
    assert response.status_code == 422
    assert HAS_NAME in response.get_data(as_text=True)
    with app.app_context():
        assert accounts.find_user("clerk").check_password(PASSWORD)


@pytest.mark.parametrize(("password", "message"), REFUSED[:2] + REFUSED[-1:])
def test_the_setup_link_refuses(app, runner, password, message):
    path = re.search(r"(/setup/[\w-]+)", runner.invoke(args=["users", "setup-link"]).output).group(
        1
    )
    client = app.test_client()
    pw = typed(password, "root")
    response = client.post(path, data={"username": "root", "password": pw, "confirm": pw})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert accounts.count_users() == 0
    good = client.post(
        path,
        data={"username": "root", "password": "a-long-passphrase", "confirm": "a-long-passphrase"},
    )
    assert good.status_code == 303


def test_a_long_uncommon_passphrase_is_accepted(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "typist",
            "--role",
            "clerk",
            "--password",
            "violet staple under the bridge",
        ]
    )
    assert result.exit_code == 0, result.output
