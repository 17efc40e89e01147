"""Every route against an explicit table of who may reach it.

A route missing from ACCESS fails test_every_route_is_in_the_table: adding a page means
deciding here who may see it.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from app.security import PUBLIC, access_of

ANYONE = "anyone"
LOGGED_IN = frozenset({"admin", "reviewer", "clerk"})
STAFF = frozenset({"admin", "reviewer"})
ADMIN = frozenset({"admin"})
CLERK = frozenset({"clerk"})

ACCESS: dict[str, str | frozenset[str]] = {
    "static": ANYONE,
    "bootstrap.static": ANYONE,
    "main.index": ANYONE,
    "main.healthz": ANYONE,
    "auth.login": ANYONE,
    "auth.logout": ANYONE,
    "auth.setup": ANYONE,
    "auth.change_password": LOGGED_IN,
    "auth.account": LOGGED_IN,
    "auth.end_other_sessions": LOGGED_IN,
    "admin.users": ADMIN,
    "admin.create_user": ADMIN,
    "admin.user_detail": ADMIN,
    "admin.change_role": ADMIN,
    "admin.reset_password": ADMIN,
    "admin.set_active": ADMIN,
    "admin.end_sessions": ADMIN,
    "entries.tables": LOGGED_IN,
    "entries.list_rows": LOGGED_IN,
    "entries.create": LOGGED_IN,
    "entries.edit": LOGGED_IN,
    "entries.delete": LOGGED_IN,
    "entries.history": LOGGED_IN,
    "entries.save_draft": LOGGED_IN,
    "entries.discard_draft": LOGGED_IN,
    "data.codebook": LOGGED_IN,
    "data.export": STAFF,
    "data.import_form": ADMIN,
    "data.import_upload": ADMIN,
    "data.imports_list": STAFF,
    "data.import_batch": STAFF,
    "documents.index": STAFF,
    "documents.upload": ADMIN,
    "documents.detail": STAFF,
    "documents.assign": ADMIN,
    "documents.unassign": ADMIN,
    "documents.reassign": ADMIN,
    "documents.file": LOGGED_IN,
    "documents.page": LOGGED_IN,
    "workspace.queue": CLERK,
    "workspace.next_document": CLERK,
    "workspace.document": LOGGED_IN,
    "workspace.panel": LOGGED_IN,
    "workspace.submit": CLERK,
    "dashboard.index": STAFF,
    "dashboard.fragment": STAFF,
    "workspace.double_create": CLERK,
    "workspace.double_edit": CLERK,
    "workspace.double_delete": CLERK,
    "review.queue": STAFF,
    "review.document": STAFF,
    "review.approve": STAFF,
    "review.return_document": STAFF,
    "review.correct": STAFF,
    "review.compare": STAFF,
    "review.quality": STAFF,
    "review.clear_flag": STAFF,
    "review.open_query": STAFF,
    "review.close_query": STAFF,
    "review.reopen_query": STAFF,
    "review.resolve_flag": STAFF,
    "workspace.answer_query": CLERK,
    "review.sampling": ADMIN,
    "freezes.index": STAFF,
    "freezes.create": STAFF,
    "freezes.job": STAFF,
    "freezes.detail": STAFF,
    "freezes.verify": STAFF,
    "freezes.download": STAFF,
    "freezes.compare": STAFF,
}

ROLES = ("anonymous", "clerk", "reviewer", "admin")


def _url(app, rule) -> str:
    """A URL for rule with sample values: 1 for integer parts, "x" for the others."""
    values = {
        arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x"
        for arg in rule.arguments
    }
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - set(ACCESS)
    assert not missing, f"routes without an access decision in tests/test_access.py: {missing}"
    assert not set(ACCESS) - endpoints, "the table names routes that no longer exist"


def test_the_code_declares_what_the_table_says(app):
    for endpoint, expected in ACCESS.items():
        rule = access_of(app, endpoint)
        assert rule is not None, f"{endpoint} declares no access rule"
        assert (rule == PUBLIC) == (expected == ANYONE), endpoint
        if expected != ANYONE:
            assert rule == expected, endpoint


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_routes(app, users, auth, client, role):
    if role != "anonymous":
        assert auth.login(role).status_code == 303
    for rule, method in _routes(app):
        if rule.endpoint in {"auth.logout", "static", "bootstrap.static"}:
            continue  # logout would end the session under test; static files are files
        url = _url(app, rule)
        response = client.open(url, method=method, data={})
        expected = ACCESS[rule.endpoint]
        allowed = expected == ANYONE or (role != "anonymous" and role in expected)
        where = f"{role} {method} {url} -> {response.status_code}"
        assert response.status_code < 500, where
        if allowed:
            assert response.status_code != 403, where
            assert "/login" not in response.headers.get("Location", "") or (
                rule.endpoint in {"auth.setup"}
            ), where
        elif role == "anonymous":
            assert response.status_code in {302, 401}, where
            assert "/login" in response.headers.get("Location", "/login"), where
        else:
            assert response.status_code == 403, where


def test_a_route_without_a_rule_is_denied(app, users, auth, client):
    @app.get("/undeclared")
    def undeclared():  # no @public / @roles_required
        return "should never be seen"

    auth.login("admin")
    response = client.get("/undeclared")
    assert response.status_code == 403
    assert "should never be seen" not in response.get_data(as_text=True)
