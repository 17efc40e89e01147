"""Logging in through the form, the role's navigation, logging out."""

from __future__ import annotations

import pytest

from tests.helpers import log_in

NAV_BY_ROLE = {
    "clerk": {"Home"},
    "reviewer": {"Home"},
    "admin": {"Home", "Users"},
}


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_login_navigation_logout(page, live_user, role):
    live_user(f"{role}1", role)
    log_in(page, f"{role}1")
    assert page.inner_text("#nav-user") == f"{role}1 · {role}"
    labels = set(page.locator("#main-nav .nav-link").all_inner_texts())
    assert NAV_BY_ROLE[role] <= labels
    assert ("Users" in labels) == (role == "admin")
    page.click("text=Log out")
    page.wait_for_url("**/login")
    assert "You are logged out." in page.content()
    page.goto("/admin/users")
    assert "/login" in page.url


def test_wrong_password_shows_one_message(page, live_user):
    live_user("clerk1")
    page.goto("/login")
    page.fill("[name=username]", "clerk1")
    page.fill("[name=password]", "not-the-password")
    page.click("[type=submit]")
    assert page.inner_text("#login-error") == "Invalid username or password."
    assert page.input_value("[name=username]") == "clerk1"
