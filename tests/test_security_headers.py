"""Response headers, cookies and error pages."""

from __future__ import annotations

import pytest

from app import create_app
from app.security import public


def _csp(response) -> dict[str, str]:
    parts = [p.strip() for p in response.headers["Content-Security-Policy"].split(";")]
    return {p.split(" ", 1)[0]: p.split(" ", 1)[1] if " " in p else "" for p in parts}


@pytest.mark.parametrize("path", ["/", "/login", "/healthz", "/no-such-page"])
def test_headers_on_every_response(client, path):
    response = client.get(path)
    csp = _csp(response)
    assert "'unsafe-inline'" not in csp["script-src"]
    assert csp["frame-ancestors"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_authenticated_pages_are_not_cached(client, auth, users):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    auth.login("clerk")
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_static_files_are_revalidated_not_fetched_again(client, auth, users):
    auth.login("clerk")
    with client.get("/static/vendor/pdfjs/pdf.min.mjs") as first:
        assert first.status_code == 200
        assert "no-store" not in first.headers.get("Cache-Control", "")
        assert first.mimetype == "text/javascript"  # a module script needs a JavaScript type
        etag = first.headers["ETag"]
    with client.get("/static/vendor/pdfjs/pdf.min.mjs", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_session_cookie_flags(client, auth, users):
    response = auth.login("clerk")
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_production_sets_secure_cookies_and_hsts(monkeypatch, migrated):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 64)
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("PROXY_FIX_COUNT", "1")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    seen = {}

    @app.get("/_whoami")
    @public
    def whoami():
        from flask import request

        seen.update(addr=request.remote_addr, scheme=request.scheme)
        return "ok"

    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    # Behind one proxy the client address and scheme come from X-Forwarded-*.

    app.test_client().get(
        "/_whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


def test_error_pages_use_the_layout(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Data-entry portal" in page and "404" in page and "navbar" in page
    assert client.post("/healthz").status_code == 405


def test_413_page_is_friendly(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/login", data={"username": "x" * 5000, "password": "y"})
    assert response.status_code == 413
    assert "navbar" in response.get_data(as_text=True)


def test_500_rolls_back_and_the_next_request_works(app, client):
    @app.get("/_boom")
    @public
    def boom():
        import sqlalchemy as sa

        from app.extensions import db

        db.session.execute(sa.text("SELECT * FROM no_such_table"))
        return "unreachable"

    response = client.get("/_boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Internal Server Error" in page and "navbar" in page
    assert "no_such_table" not in page  # no internals leak
    assert client.get("/healthz").status_code == 200


def test_forwarded_for_may_count_more_proxies_than_the_scheme(monkeypatch, migrated):
    """Elastic Beanstalk: the load balancer sets the scheme, nginx appends one more address."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "p" * 64)
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("PROXY_FIX_COUNT", "1")
    monkeypatch.setenv("PROXY_FIX_FOR", "2")
    app = create_app()
    seen = {}

    @app.get("/_whoami")
    @public
    def whoami():
        from flask import request

        seen.update(addr=request.remote_addr, scheme=request.scheme)
        return "ok"

    app.test_client().get(
        "/_whoami",
        headers={"X-Forwarded-For": "198.51.100.7, 10.0.0.5", "X-Forwarded-Proto": "https"},
    )
    assert seen == {"addr": "198.51.100.7", "scheme": "https"}


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        ("*/*", "text/html"),
        ("text/html,*/*;q=0.8", "text/html"),
        ("application/json", "application/json"),
    ],
)
def test_error_pages_are_html_unless_json_is_asked_for(client, accept, kind):
    response = client.get("/no-such-page", headers={"Accept": accept})
    assert response.status_code == 404
    assert response.mimetype == kind
