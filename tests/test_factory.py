"""The factory, configuration and the health check."""

from __future__ import annotations

from app import create_app


def test_testing_config(app):
    assert app.testing
    assert app.config["ENV_NAME"] == "testing"


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_unreachable_database(tmp_path):
    app = create_app({"DATABASE_URL": "mysql+pymysql://nobody:x@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert "unreachable" in body["database"]
