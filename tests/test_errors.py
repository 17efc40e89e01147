"""One place maps the services' domain errors to HTTP statuses (app/errors), for every blueprint:
a domain error a view lets through is rolled back and answered with its status and message."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.errors import status_for
from app.extensions import db
from app.models import TestDB
from app.security import public
from app.services.documents import MissingBeforeSubmit, UnsavedInput
from app.services.entries import AlreadySaved, StaleVersion
from app.services.errors import (
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    PermissionDenied,
    Throttled,
)


@pytest.mark.parametrize(
    ("error", "status", "form_status"),
    [
        (NotFound("No such row."), 404, 404),
        (PermissionDenied("Approved."), 403, 403),
        (Conflict("Changed meanwhile."), 409, 409),
        (StaleVersion({}, 3), 409, 409),
        (AlreadySaved("K-1"), 409, 409),
        (UnsavedInput([("testDB", None, "Test values")]), 409, 409),
        (Invalid("Bad."), 422, 422),
        (MissingBeforeSubmit([]), 422, 422),
        (Throttled("Wait.", retry_after=30), 429, 429),
        (DomainError("The database refused this change."), 400, 422),
        (Conflict("The username 'ann' is taken.", field="username"), 422, 422),
    ],
)
def test_each_domain_error_has_one_status(error, status, form_status):
    assert status_for(error) == status
    assert status_for(error, form=True) == form_status


@pytest.fixture
def raising(app, client):
    """GET /_raise/<kind>: writes a row, then raises that domain error."""
    errors = {
        "missing": NotFound("No such document."),
        "forbidden": PermissionDenied("Document #3 is approved; its rows can no longer change."),
        "conflict": Conflict("Someone changed this row meanwhile."),
        "throttled": Throttled("Too many attempts; wait a minute.", retry_after=60),
        "refused": DomainError("The database refused this change."),
    }

    @app.get("/_raise/<kind>")
    @public
    def raise_it(kind: str):
        db.session.add(TestDB(string_column="NOT-KEPT", integer_column=1))
        db.session.flush()
        raise errors[kind]

    return client


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("missing", 404, "No such document."),
        ("forbidden", 403, "Document #3 is approved; its rows can no longer change."),
        ("conflict", 409, "Someone changed this row meanwhile."),
        ("throttled", 429, "Too many attempts; wait a minute."),
        ("refused", 400, "The database refused this change."),
    ],
)
def test_an_unanswered_domain_error_is_its_status_with_its_message(
    app, raising, kind, status, message
):
    response = raising.get(f"/_raise/{kind}")
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert message in page and "navbar" in page  # the site's error page, not a bare one
    assert (response.headers.get("Retry-After") == "60") is (kind == "throttled")
    with app.app_context():  # rolled back: the row the view wrote is gone
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TestDB)) == 0
    assert raising.get("/healthz").status_code == 200


def test_a_json_client_gets_the_domain_error_as_json(raising):
    response = raising.get("/_raise/conflict", headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert response.get_json() == {
        "error": "Conflict",
        "message": "Someone changed this row meanwhile.",
    }


def test_blueprints_answer_through_the_map(client, auth, users):
    auth.login("clerk")
    # entries: an unknown row (NotFound from the service) is the 404 page with its message
    missing = client.get("/data/testDB/edit?key=nope")
    assert missing.status_code == 404 and "No such row." in missing.get_data(as_text=True)
    assert client.get("/data/testDB/history?key=nope").status_code == 404
    # a draft the service refuses answers JSON with the mapped status (Invalid: 422)
    refused = client.post("/data/testDB/draft", json={"data": [1, 2]})
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.get_json()["error"] == "Invalid"
