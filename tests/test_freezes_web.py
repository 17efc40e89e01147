"""The freeze page: create (in the background, with progress), download, verify, diff as a page
and as CSV; for admins and reviewers only."""

from __future__ import annotations

import csv
import hashlib
import io
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Freeze, FreezeJob, TestDB


@pytest.fixture
def approved(app):
    with app.app_context():
        db.session.add_all(
            [TestDB(string_column=f"K-{n}", integer_column=n, status="approved") for n in range(5)]
        )
        db.session.commit()


def wait_for_job(app, name: str, timeout: float = 20.0) -> FreezeJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            job = db.session.scalar(sa.select(FreezeJob).where(FreezeJob.name == name))
            db.session.remove()
        if job is not None and job.state != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"freeze {name} still running after {timeout} s")


def create(client, name: str, rows: str = "approved", note: str = ""):
    return client.post("/freezes/", data={"name": name, "rows": rows, "note": note})


def test_reviewer_creates_downloads_and_verifies(app, client, auth, users, approved):
    auth.login("reviewer")
    page = client.get("/freezes/")
    assert page.status_code == 200 and b"No freezes yet." in page.data
    response = create(client, "web-1", note="first")
    assert response.status_code == 303 and "/freezes/jobs/" in response.location
    job = wait_for_job(app, "web-1")
    assert job.state == "done", job.message
    done = client.get(response.location)
    assert done.status_code == 303 and done.location.endswith("/freezes/web-1")
    detail = client.get("/freezes/web-1")
    assert b"Freeze web-1" in detail.data and b"by reviewer" in detail.data
    with client.get("/freezes/web-1/download") as download:
        assert download.status_code == 200 and download.mimetype == "application/zip"
        data = download.data
    with app.app_context():
        freeze = db.session.scalar(sa.select(Freeze).where(Freeze.name == "web-1"))
    assert hashlib.sha256(data).hexdigest() == freeze.sha256
    assert freeze.creator_name == "reviewer" and freeze.row_count == 5
    verified = client.post("/freezes/web-1/verify")
    assert b"Intact: 7 checksums match." in verified.data
    listed = client.get("/freezes/").data.decode()
    assert 'href="/freezes/web-1"' in listed and "Download web-1" in listed


def test_diff_page_and_csv(app, client, auth, users, approved):
    auth.login("admin")
    create(client, "a")
    wait_for_job(app, "a")
    with app.app_context():
        db.session.execute(
            sa.update(TestDB).where(TestDB.string_column == "K-1").values(integer_column=100)
        )
        db.session.execute(sa.delete(TestDB).where(TestDB.string_column == "K-2"))
        db.session.add(TestDB(string_column="K-9", integer_column=9, status="approved"))
        db.session.commit()
    create(client, "b")
    wait_for_job(app, "b")
    page = client.get("/freezes/diff?a=a&b=b&table=testDB")
    text = page.data.decode()
    assert page.status_code == 200
    assert "1 added, 1 removed, 1 changed." in text
    assert '<tr class="diff-changed">' in text and "<code>integer_column</code>" in text
    csv_response = client.get("/freezes/diff?a=a&b=b&table=testDB&format=csv")
    assert csv_response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(csv_response.data.decode())))
    assert ["testDB", "K-1", "changed", "integer_column", "1", "100"] in lines
    assert ["testDB", "K-9", "added", "integer_column", "", "9"] in lines
    assert ["testDB", "K-2", "removed", "integer_column", "2", ""] in lines
    missing = client.get("/freezes/diff?a=a&b=nope")
    assert missing.status_code == 422 and b"No freeze named &#39;nope&#39;." in missing.data


def test_bad_and_taken_names_are_refused_at_the_field(app, client, auth, users, approved):
    auth.login("reviewer")
    bad = create(client, "no spaces please")
    assert bad.status_code == 422 and b"is-invalid" in bad.data
    create(client, "taken")
    wait_for_job(app, "taken")
    again = create(client, "taken")
    assert again.status_code == 422
    assert b"A freeze named &#39;taken&#39; exists already" in again.data
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Freeze)) == 1


def test_clerks_cannot_reach_freezes(client, auth, users):
    auth.login("clerk")
    assert client.get("/freezes/").status_code == 403
    assert create(client, "x").status_code == 403
    assert b'href="/freezes/"' not in client.get("/").data


def test_the_page_is_linked_from_the_navigation(client, auth, users):
    auth.login("reviewer")
    assert b'href="/freezes/"' in client.get("/").data


def test_a_running_freeze_shows_its_progress_and_a_dead_one_says_so(app, client, auth, users):
    import datetime as dt

    with app.app_context():
        job = FreezeJob(
            name="big",
            rows="approved",
            state="running",
            rows_done=250_000,
            rows_total=1_000_000,
            creator_name="admin",
        )
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    auth.login("admin")
    page = client.get(f"/freezes/jobs/{job_id}").data.decode()
    assert "Being made: 250,000 of 1,000,000 rows (25 %)" in page
    assert '<meta http-equiv="refresh" content="1">' in page
    listed = " ".join(client.get("/freezes/").data.decode().split())
    assert "big</a>: being made, 250,000 of 1,000,000 rows" in listed
    assert create(client, "big").status_code == 422  # its name is taken while it runs
    with app.app_context():
        db.session.execute(
            sa.update(FreezeJob).values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
        db.session.commit()
    page = client.get(f"/freezes/jobs/{job_id}").data.decode()
    assert "This freeze failed: its process stopped" in page and "refresh" not in page
