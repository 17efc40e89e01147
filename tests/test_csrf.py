"""CSRF stays switched on in this module: every POST route refuses a request without a token."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from app import create_app
from tests.helpers import PASSWORD


@pytest.fixture
def csrf_app(migrated: str, tmp_path) -> Flask:
    from app.extensions import db
    from tests.helpers import clear_tables

    app = create_app(
        {
            "DATABASE_URL": migrated,
            "WTF_CSRF_ENABLED": True,
            "DOCUMENT_STORAGE": str(tmp_path / "documents"),
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        clear_tables()
        db.engine.dispose()


def _token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _logged_in_admin(csrf_app):
    from app.services.accounts import create_user

    with csrf_app.app_context():
        create_user("admin", PASSWORD, "admin")
    client = csrf_app.test_client()
    response = client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": _token(client)}
    )
    assert response.status_code == 303
    return client


def test_every_post_route_rejects_a_missing_token(csrf_app):
    client = _logged_in_admin(csrf_app)
    adapter = csrf_app.url_map.bind("localhost")
    checked = 0
    for rule in csrf_app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        values = {
            arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x"
            for arg in rule.arguments
        }
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


SAME_ORIGIN = {
    "Sec-Fetch-Site": "same-origin",
    "Origin": "http://localhost",
    "Referer": "http://localhost/data/testDB/new",
}


def _logged_in(csrf_app, username: str, role: str):
    from app.services.accounts import create_user

    with csrf_app.app_context():
        create_user(username, PASSWORD, role)
    client = csrf_app.test_client()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": _token(client)}
    )
    assert response.status_code == 303
    return client


def test_expired_token_on_a_clerks_form_from_the_portal_offers_to_send_again(csrf_app):
    client = _logged_in(csrf_app, "clerk", "clerk")
    response = client.post(
        "/data/testDB/new",
        data={
            "string_column": "typed before the break",
            "integer_column": "12",
            "csrf_token": "stale-token",
        },
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "nothing was saved" in page
    assert 'value="typed before the break"' in page and "Send again" in page
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert fresh != "stale-token"


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:8081"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/attack.html"},
        {"Referer": "http://localhost.evil.example/"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example"},
        {},  # no sign at all of where it came from: not provably the portal's own page
    ],
    ids=[
        "cross-site",
        "same-site",
        "origin",
        "null-origin",
        "referer",
        "referer-prefix",
        "contradicting",
        "no-headers",
    ],
)
def test_a_post_not_from_the_portal_gets_a_plain_refusal(csrf_app, headers):
    client = _logged_in(csrf_app, "clerk", "clerk")
    response = client.post(
        "/data/testDB/new",
        data={"string_column": "attacker value", "csrf_token": "stale-token"},
        headers=headers,
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "nothing was saved" in page
    assert "Send again" not in page and 'action="/data/testDB/new' not in page
    assert "attacker value" not in page


def test_admin_and_reviewer_actions_are_never_rearmed(csrf_app):
    from app.services.accounts import create_user, find_user

    with csrf_app.app_context():
        target = create_user("target", PASSWORD, "clerk").id
    admin = _logged_in(csrf_app, "admin", "admin")
    for url, data in (
        (f"/admin/users/{target}/role", {"role": "admin"}),
        ("/admin/users", {"username": "new-admin", "role": "admin"}),
    ):
        response = admin.post(url, data={**data, "csrf_token": "stale-token"}, headers=SAME_ORIGIN)
        assert response.status_code == 400
        assert "Send again" not in response.get_data(as_text=True)
    reviewer = _logged_in(csrf_app, "reviewer", "reviewer")
    response = reviewer.post(
        "/review/documents/1/return",
        data={"comment": "please redo", "csrf_token": "stale-token"},
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400
    assert "Send again" not in response.get_data(as_text=True)
    with csrf_app.app_context():
        assert find_user("target").role == "clerk"
        assert find_user("new-admin") is None


def test_json_post_without_token_gets_json_400(csrf_app):
    client = _logged_in_admin(csrf_app)
    response = client.post("/admin/users", json={"username": "x"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "CSRF"


def test_cross_site_post_without_token_changes_nothing(csrf_app):
    from app.services.accounts import find_user

    client = _logged_in_admin(csrf_app)
    response = client.post(
        "/admin/users",
        data={"username": "intruder", "role": "admin", "password": "x" * 12, "confirm": "x" * 12},
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"},
    )
    assert response.status_code == 400
    with csrf_app.app_context():
        assert find_user("intruder") is None


def test_header_token_is_accepted_for_fetch_calls(csrf_app):
    client = _logged_in_admin(csrf_app)
    token = _token(client, "/admin/users")
    response = client.post("/logout", headers={"X-CSRFToken": token})
    assert response.status_code == 303


def test_invalid_utf8_is_found_before_the_token_check_reads_the_form(csrf_app):
    client = _logged_in(csrf_app, "clerk", "clerk")
    token = _token(client, "/data/testDB/new")
    body = f"csrf_token={token}&string_column=CS%FF&integer_column=1".encode()
    response = client.post(
        "/data/testDB/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422
    assert "not UTF-8" in response.get_data(as_text=True)
    response = client.post(
        "/data/testDB/new",
        data={"csrf_token": token, "string_column": "CS-OK", "integer_column": "1"},
    )
    assert response.status_code == 303  # the token was read from the same parsed body


def _draft_rows(csrf_app) -> list[str]:
    import sqlalchemy as sa

    from app.extensions import db

    with csrf_app.app_context():
        return list(db.session.scalars(sa.text("SELECT data FROM drafts")))


def test_an_expired_entry_form_from_the_portal_becomes_the_clerks_draft(csrf_app):
    client = _logged_in(csrf_app, "clerk", "clerk")
    response = client.post(
        "/data/testDB/new",
        data={
            "string_column": "kept as a draft",
            "integer_column": "77",
            "csrf_token": "stale-token",
        },
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 400 and "Send again" in response.get_data(as_text=True)
    (draft,) = _draft_rows(csrf_app)
    assert "kept as a draft" in draft and "77" in draft
    page = client.get("/data/testDB/new").get_data(as_text=True)
    assert 'value="kept as a draft"' in page  # the form opens with what was typed


def test_a_cross_site_entry_post_keeps_no_draft(csrf_app):
    client = _logged_in(csrf_app, "clerk", "clerk")
    response = client.post(
        "/data/testDB/new",
        data={"string_column": "planted by another site", "csrf_token": "stale-token"},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
    )
    assert response.status_code == 400
    assert _draft_rows(csrf_app) == []


def test_saves_in_place_go_on_with_the_fresh_tokens_each_answer_carries(csrf_app):
    """The blank form a save answers with is kept between saves of a panel with new tokens put
    in: each answer's CSRF token is accepted by the next save, its one-time token is new, and
    a save with the previous answer's one-time token is not stored twice."""
    import sqlalchemy as sa

    from app.documents.samples import png_image
    from app.extensions import db
    from app.models import TestDB, User
    from app.services import documents as docs
    from app.services.uploads import IncomingFile
    from app.storage import get_storage

    client = _logged_in(csrf_app, "clerk", "clerk")
    with csrf_app.app_context():
        added = docs.add_file(
            IncomingFile("scan.png", png_image()), get_storage(), actor=None, max_bytes=1 << 20
        )
        clerk = db.session.scalar(sa.select(User).where(User.username == "clerk"))
        docs.assign([added.document], [clerk], actor=None)
        document_id = added.document.id
    page = client.get(f"/work/documents/{document_id}").get_data(as_text=True)
    headers = SAME_ORIGIN | {"HX-Request": "true", "X-Panel-Rows": "latest"}
    seen = set()
    for n in range(3):
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', page).group(1)
        assert "slot" not in csrf + token and (csrf, token) not in seen
        seen.add((csrf, token))
        answer = client.post(
            f"/data/testDB/new?document={document_id}",
            data={"string_column": f"K-{n}", "csrf_token": csrf, "form_token": token},
            headers=headers,
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        page = answer.get_data(as_text=True)
        assert f"{n + 1} row{'s' if n else ''} on this document" in page
    again = client.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": "K-2", "csrf_token": csrf, "form_token": token},
        headers=headers,
    )
    assert again.status_code == 200 and "already saved" in again.get_data(as_text=True)
    with csrf_app.app_context():
        keys = db.session.scalars(sa.select(TestDB.string_column).order_by(TestDB.string_column))
        assert list(keys) == ["K-0", "K-1", "K-2"]


def test_a_session_signs_its_csrf_token_once_and_every_later_page_carries_it(csrf_app):
    """Tokens never expire here (WTF_CSRF_TIME_LIMIT = None): the token signed for a session
    is kept by the process and put in that session's later pages by csrf_token() (no signing
    per page; a FlaskForm signs its own); it is accepted, another session gets its own, and a
    logout starts over."""
    client = _logged_in(csrf_app, "clerk", "clerk")
    first = _token(client, "/work/")
    time.sleep(1.1)  # a token signed anew would carry a later timestamp
    assert _token(client, "/work/") == first
    other = _logged_in(csrf_app, "clerk2", "clerk")
    assert _token(other, "/work/") != first
    assert client.post("/logout", data={"csrf_token": first}).status_code == 303
    assert _token(client, "/login") != first
    # a token signed for one session is refused in another
    stolen = other.post("/logout", data={"csrf_token": first})
    assert stolen.status_code == 400
