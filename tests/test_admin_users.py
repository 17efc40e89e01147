"""Admin pages for users, and the `flask users` commands."""

from __future__ import annotations

import re

import pytest

from app.services import accounts
from tests.helpers import PASSWORD


def _user(app, name):
    with app.app_context():
        return accounts.find_user(name)


def test_admin_lists_and_creates_users(app, client, auth, users):
    auth.login("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert all(name in page for name in ("admin", "reviewer", "clerk"))
    response = client.post(
        "/admin/users",
        data={
            "username": "Clerk2",
            "role": "clerk",
            "password": "a-long-password",
            "confirm": "a-long-password",
        },
    )
    assert response.status_code == 303
    assert "Clerk2".lower() in client.get("/admin/users").get_data(as_text=True)
    assert _user(app, "clerk2").role == "clerk"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "clerk", "password": "a-long-password"}, "is taken"),
        ({"username": "x" * 10_000, "password": "a-long-password"}, "between 3 and 64"),
        ({"username": "<b>bold</b>", "password": "a-long-password"}, "letters, digits"),
        ({"username": "ok-name", "password": "short"}, "10 to 256"),
        (
            {"username": "ok-name", "password": "a-long-password", "role": "superuser"},
            "Not a valid choice",
        ),
    ],
)
def test_create_user_rejects_bad_input(app, client, auth, users, data, message):
    auth.login("admin")
    form = {"role": "clerk", "confirm": data.get("password"), **data}
    response = client.post("/admin/users", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "is-invalid" in page
    assert "<b>bold</b>" not in page
    with app.app_context():
        assert len(accounts.list_users()) == 3


def test_change_role_reset_password_deactivate_reactivate(app, client, auth, users):
    auth.login("admin")
    clerk_id = _user(app, "clerk").id
    assert (
        client.post(f"/admin/users/{clerk_id}/role", data={"role": "reviewer"}).status_code == 303
    )
    assert _user(app, "clerk").role == "reviewer"
    assert (
        client.post(
            f"/admin/users/{clerk_id}/password", data={"password": "brand-new-password"}
        ).status_code
        == 303
    )
    assert client.post(f"/admin/users/{clerk_id}/active", data={"active": "0"}).status_code == 303
    assert _user(app, "clerk").active is False
    assert client.post(f"/admin/users/{clerk_id}/active", data={"active": "1"}).status_code == 303
    other = app.test_client()
    assert other.post("/login", data={"username": "clerk", "password": PASSWORD}).status_code == 401
    assert (
        other.post(
            "/login", data={"username": "clerk", "password": "brand-new-password"}
        ).status_code
        == 303
    )


def test_last_admin_cannot_be_deactivated(app, client, auth, users):
    auth.login("admin")
    admin_id = _user(app, "admin").id
    response = client.post(f"/admin/users/{admin_id}/active", data={"active": "0"})
    assert response.status_code == 409
    assert "last active admin" in response.get_data(as_text=True)
    assert _user(app, "admin").active is True


def test_the_last_admin_cannot_be_demoted_by_themselves_or_anyone(
    app, client, auth, users, make_user
):
    auth.login("admin")
    admin_id = _user(app, "admin").id
    for role in ("reviewer", "clerk"):
        response = client.post(f"/admin/users/{admin_id}/role", data={"role": role})
        assert response.status_code == 422  # refused at the form's field
        page = response.get_data(as_text=True)
        assert "The last active admin cannot stop being an admin" in page
        assert "is-invalid" in page
        assert _user(app, "admin").role == "admin"
    assert client.get("/admin/users").status_code == 200  # still an admin, still in charge
    make_user("boss", "admin")
    assert (
        client.post(f"/admin/users/{admin_id}/role", data={"role": "reviewer"}).status_code == 303
    )  # another active admin remains
    assert _user(app, "admin").role == "reviewer"


def test_a_deactivated_admin_does_not_count_as_the_other_admin(app, client, auth, users, make_user):
    make_user("boss", "admin")
    with app.app_context():
        accounts.set_active(accounts.find_user("boss"), False)
    auth.login("admin")
    admin_id = _user(app, "admin").id
    assert client.post(f"/admin/users/{admin_id}/role", data={"role": "clerk"}).status_code == 422
    assert _user(app, "admin").role == "admin"


def test_unknown_user_is_404(client, auth, users):
    auth.login("admin")
    assert client.get("/admin/users/999999").status_code == 404
    assert client.post("/admin/users/999999/role", data={"role": "clerk"}).status_code == 404


def test_cli_create_list_set_password_deactivate(app, runner):
    result = runner.invoke(
        args=["users", "create", "boss", "--role", "admin", "--password", "a-long-password"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["users", "create", "typist", "--role", "clerk"],
        input="prompted-password\nprompted-password\n",
    )
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["users", "list"]).output
    assert "boss" in listing and "typist" in listing and "clerk" in listing
    assert (
        runner.invoke(
            args=["users", "set-password", "typist", "--password", "another-password"]
        ).exit_code
        == 0
    )
    assert runner.invoke(args=["users", "deactivate", "typist"]).exit_code == 0
    assert "deactivated" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "activate", "typist"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "dup", "--role", "clerk", "--password", "a-long-password"], "taken"),
        (["users", "create", "x", "--role", "clerk", "--password", "a-long-password"], "Usernames"),
        (
            ["users", "create", "ok-name", "--role", "boss", "--password", "a-long-password"],
            "Invalid value",
        ),
        (["users", "create", "ok-name", "--role", "clerk", "--password", "short"], "at least"),
        (["users", "set-password", "ghost", "--password", "a-long-password"], "No user named"),
        (["users", "deactivate", "ghost"], "No user named"),
    ],
)
def test_cli_errors_are_clear(app, runner, make_user, args, message):
    make_user("dup")
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_prompt_confirmation_mismatch(runner):
    result = runner.invoke(
        args=["users", "create", "typist", "--role", "clerk"],
        input="first-password-1\nsecond-password\nfirst-password-1\nfirst-password-1\n",
    )
    assert result.exit_code == 0
    assert "do not match" in result.output


def test_setup_link_creates_first_admin_once(app, runner):
    result = runner.invoke(args=["users", "setup-link"])
    assert result.exit_code == 0
    path = re.search(r"(/setup/[\w-]+)", result.output).group(1)
    client = app.test_client()
    assert "Create the first admin" in client.get(path).get_data(as_text=True)
    bad = client.post(path, data={"username": "root", "password": "short", "confirm": "short"})
    assert bad.status_code == 422
    response = client.post(
        path, data={"username": "root", "password": "a-long-password", "confirm": "a-long-password"}
    )
    assert response.status_code == 303
    assert client.get("/admin/users").status_code == 200  # logged in as the new admin
    again = app.test_client().post(
        path, data={"username": "evil", "password": "a-long-password", "confirm": "a-long-password"}
    )
    assert again.status_code == 302
    with app.app_context():
        assert [u.username for u in accounts.list_users()] == ["root"]
    result = runner.invoke(args=["users", "setup-link"])
    assert "/setup/" not in result.output


def test_setup_link_with_a_made_up_token(app, client):
    response = client.get("/setup/made-up-token")
    assert response.status_code == 302
