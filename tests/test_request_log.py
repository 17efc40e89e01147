"""One log line per request (no form values); a request id in the header, the log, the 500 page."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.security import public
from tests.helpers import PASSWORD

HEX_ID = re.compile(r"[0-9a-f]{32}")


class Collect(logging.Handler):
    """Keeps what a logger emits (the app's loggers do not propagate to caplog)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.messages.append(record.getMessage())


@contextmanager
def attached(logger_name: str) -> Iterator[Collect]:
    handler = Collect()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def request_lines() -> Iterator[list[str]]:
    """The request lines logged while the test runs."""
    with attached("app.request_log") as handler:
        yield handler.messages


@pytest.fixture
def error_records() -> Iterator[list[logging.LogRecord]]:
    """What app.errors logs, tracebacks included."""
    with attached("app.errors") as handler:
        yield handler.records


def test_every_response_gets_an_id_and_one_line(client, request_lines):
    response = client.get("/login?next=/secret-search")
    rid = response.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(rid)
    [line] = request_lines
    assert re.fullmatch(rf"GET /login 200 \d+\.\dms user=- request_id={rid}", line), line
    assert "secret-search" not in line  # the query string is never logged


def test_a_new_id_for_each_request(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    assert client.get("/healthz").headers["X-Request-ID"] != first


@pytest.mark.parametrize(
    ("offered", "kept"),
    [
        ("Root-1.abc_DEF-0123456789", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("id;user=1", False),
        ("two words", False),
        ("-leading-dash", False),
        ("", False),
    ],
)
def test_a_safe_incoming_request_id_is_kept(client, request_lines, offered, kept):
    response = client.get("/healthz", headers={"X-Request-ID": offered})
    rid = response.headers["X-Request-ID"]
    assert (rid == offered) is kept
    if not kept:
        assert HEX_ID.fullmatch(rid)
    assert request_lines[-1].endswith(f"request_id={rid}")


def test_lines_name_the_user_by_id_and_never_log_what_was_typed(app, client, users, request_lines):
    response = client.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert response.status_code in (302, 303)
    client.get("/")
    with app.app_context():
        from app.services.accounts import find_user

        user_id = find_user("clerk").id
    with client.session_transaction() as sess:
        token = sess["_user_id"]  # Flask-Login's id: this device's session token
    # From the login itself on, lines carry the user's numeric id, never the session token.
    assert request_lines[0].startswith("POST /login 30") and f" user={user_id} " in request_lines[0]
    assert request_lines[1].startswith("GET / ") and f" user={user_id} " in request_lines[1]
    everything = "\n".join(request_lines)
    assert PASSWORD not in everything and "clerk" not in everything
    assert token not in everything


def test_redirects_and_denials_are_logged_too(client, request_lines):
    response = client.get("/data/")
    assert response.status_code in (302, 303)
    assert re.fullmatch(r"GET /data/ 30[23] .*", request_lines[-1])
    assert client.post("/logout").status_code in (302, 303)
    assert request_lines[-1].startswith("POST /logout 30")


@pytest.fixture
def broken_app(app):
    @app.get("/_boom")
    @public
    def boom():
        raise RuntimeError("kaboom with a secret detail")

    return app


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_the_500_page_shows_the_id_that_the_error_log_carries(
    broken_app, request_lines, error_records, accept
):
    response = broken_app.test_client().get("/_boom", headers={"Accept": accept})
    assert response.status_code == 500
    rid = response.headers["X-Request-ID"]
    if accept == "application/json":
        assert response.get_json()["request_id"] == rid
    else:
        assert f"<code>{rid}</code>" in response.get_data(as_text=True)
    assert "kaboom" not in response.get_data(as_text=True)
    [record] = [r for r in error_records if r.levelno == logging.ERROR]
    assert f"request_id={rid}" in record.getMessage()
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert request_lines[-1].startswith("GET /_boom 500 ")
    assert request_lines[-1].endswith(f"request_id={rid}")


def test_a_404_page_has_an_id_header_but_no_id_on_the_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    assert "Request id" not in response.get_data(as_text=True)
