"""The clerk's document page: what it reads (a fixed, small number of statements) and that the
counts, drafts and rows it shows are the ones of the person looking. Every test runs on each
configured backend."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import TestDB, User
from app.services import drafts
from tests.helpers import add_document, count_statements, login, save_row

HX = {"HX-Request": "true"}


@pytest.fixture
def ann(app, make_user, users):
    """Clerk ann, logged in (besides the admin, reviewer and clerk of `users`, and clerk bob)."""
    make_user("ann", "clerk")
    make_user("bob", "clerk")
    return login(app, "ann")


def save(client, document_id: int, key: str):
    response = save_row(client, document_id, string_column=key, integer_column="1")
    assert response.status_code == 303, response.get_data(as_text=True)[:300]


def test_the_page_reads_the_login_and_document_one_row_of_counts_and_the_rows_it_shows(app, ann):
    document_id = add_document(app, ["ann"])
    for n in range(3):
        save(ann, document_id, f"S-{n}")
    # the session, its user, the document and its assignments (one statement); every tab's
    # count, the drafts and the queries; the latest rows of the table shown
    url = f"/work/documents/{document_id}"
    shown = count_statements(app, ann, f"{url}?panel=testDB")
    assert len(shown) == 3, shown
    assert "user_sessions" in shown[0] and "assignments" in shown[0]
    # a table without rows on the document: its rows are not read
    empty = count_statements(app, ann, f"{url}?panel=register_person")
    assert len(empty) == 2, empty
    page = ann.get(f"{url}?panel=testDB").get_data(as_text=True)
    assert all(f"S-{n}" in page for n in range(3))


def test_the_tabs_count_the_rows_each_person_sees(app, ann):
    document_id = add_document(app, ["ann"])
    for n in range(3):
        save(ann, document_id, f"A-{n}")
    with app.app_context():  # rows another clerk entered before the document came to ann
        bob = db.session.scalar(sa.select(User).where(User.username == "bob"))
        for n in range(2):
            db.session.add(
                TestDB(string_column=f"B-{n}", document_id=document_id, entered_by_id=bob.id)
            )
        db.session.commit()
    counts = {
        who: re.findall(
            r'id="count-(\w+)">(\d+)<',
            client.get(f"/work/documents/{document_id}?panel=register_person").get_data(
                as_text=True
            ),
        )
        for who, client in (("ann", ann), ("reviewer", login(app, "reviewer")))
    }
    assert counts == {
        "ann": [("register_person", "0"), ("testDB", "3")],
        "reviewer": [("register_person", "0"), ("testDB", "5")],  # staff see every clerk's
    }


def test_the_page_restores_a_draft_only_where_one_is_kept(app, ann):
    document_id = add_document(app, ["ann"])
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == "ann"))
        drafts.save_draft(
            user_id, "testDB", document_id, None, {"string_column": "HALF-1"}, {"string_column"}
        )
    page = ann.get(f"/work/documents/{document_id}?panel=testDB").get_data(as_text=True)
    panel = re.search(r'id="panel-testDB".*?</section>', page, re.S).group(0)
    assert "Your unsaved draft from" in panel and 'value="HALF-1"' in panel
    other = ann.get(f"/work/documents/{document_id}?panel=register_person").get_data(as_text=True)
    assert "Your unsaved draft from" not in other
    fragment = ann.get(f"/work/documents/{document_id}/panel/testDB", headers=HX)
    assert 'value="HALF-1"' in fragment.get_data(as_text=True)
    blank = ann.get(f"/work/documents/{document_id}/panel/register_person", headers=HX)
    assert "Your unsaved draft from" not in blank.get_data(as_text=True)


def test_cached_urls_follow_the_mount_point(app, ann):
    document_id = add_document(app, ["ann"])
    url = f"/work/documents/{document_id}"
    # the same process serves the app at / and, through a proxy, under a prefix
    for prefix in ("", "/portal", ""):
        page = ann.get(url, base_url=f"http://localhost{prefix}").get_data(as_text=True)
        assert f'href="{prefix}/static/portal.css"' in page
        assert f'src="{prefix}/static/js/workspace.js"' in page
        assert f'href="{prefix}/work/">My documents</a>' in page
        # the document's own URLs too (per mount point and arguments)
        assert f'action="{prefix}/work/documents/{document_id}/submit"' in page
        assert f'data-src="{prefix}/documents/{document_id}/file"' in page
        assert f'/new?document={document_id}"' in page and f'action="{prefix}/data/' in page
