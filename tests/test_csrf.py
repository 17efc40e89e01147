"""CSRF stays switched on in this module: every POST route refuses a request without a token."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from app import create_app
from tests.helpers import PASSWORD


@pytest.fixture
def csrf_app(migrated: str, tmp_path) -> Flask:
    from app.extensions import db
    from tests.helpers import clear_tables

    app = create_app({"DATABASE_URL": migrated, "WTF_CSRF_ENABLED": True,
                      "DOCUMENT_STORAGE": str(tmp_path / "documents")})
    yield app
    with app.app_context():
        db.session.remove()
        clear_tables()
        db.engine.dispose()


def _token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _logged_in_admin(csrf_app):
    from app.services.accounts import create_user

    with csrf_app.app_context():
        create_user("admin", PASSWORD, "admin")
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                           "csrf_token": _token(client)})
    assert response.status_code == 303
    return client


def test_every_post_route_rejects_a_missing_token(csrf_app):
    client = _logged_in_admin(csrf_app)
    adapter = csrf_app.url_map.bind("localhost")
    checked = 0
    for rule in csrf_app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        values = {arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x"
                  for arg in rule.arguments}
        url = adapter.build(rule.endpoint, values)
        response = client.post(url, data={"anything": "typed value"})
        assert response.status_code == 400, f"{url} -> {response.status_code}"
        checked += 1
    assert checked >= 8
    assert client.get("/admin/users").status_code == 200  # still logged in, nothing changed


def test_login_with_a_token_works_and_without_is_refused(csrf_app):
    from app.services.accounts import create_user

    with csrf_app.app_context():
        create_user("clerk", PASSWORD, "clerk")
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/account/password").status_code == 302  # not logged in


def test_expired_token_keeps_typed_values_and_offers_to_send_again(csrf_app):
    client = _logged_in_admin(csrf_app)
    response = client.post("/admin/users", data={
        "username": "new-clerk", "role": "clerk", "password": "secret-password-1",
        "csrf_token": "stale-token"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "nothing was saved" in page
    assert 'value="new-clerk"' in page and "Send again" in page
    assert "secret-password-1" not in page  # passwords are never echoed
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert fresh != "stale-token"


def test_json_post_without_token_gets_json_400(csrf_app):
    client = _logged_in_admin(csrf_app)
    response = client.post("/admin/users", json={"username": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "CSRF"


def test_cross_site_post_without_token_changes_nothing(csrf_app):
    from app.services.accounts import find_user

    client = _logged_in_admin(csrf_app)
    response = client.post("/admin/users", data={
        "username": "intruder", "role": "admin", "password": "x" * 12, "confirm": "x" * 12},
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"})
    assert response.status_code == 400
    with csrf_app.app_context():
        assert find_user("intruder") is None


def test_header_token_is_accepted_for_fetch_calls(csrf_app):
    client = _logged_in_admin(csrf_app)
    token = _token(client, "/admin/users")
    response = client.post("/logout", headers={"X-CSRFToken": token})
    assert response.status_code == 303
