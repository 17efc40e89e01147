"""The freeze page in Chromium: a reviewer reaches it from the navigation, types a name and a
note, watches it being made, downloads the archive, compares two freezes; a bad name is refused
at its field. Every step is checked in the database by SELECT."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import TestDB
from tests.e2e.conftest import log_in

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def seed(live_server) -> None:
    with live_server.app.app_context():
        db.session.add_all(
            [TestDB(string_column=f"K-{n}", integer_column=n, status="approved") for n in range(3)]
        )
        db.session.commit()


def freeze_rows(live_server) -> list[tuple]:
    with live_server.app.app_context():
        rows = db.session.execute(
            sa.text("SELECT name, row_count, creator_name, note, sha256 FROM freezes ORDER BY id")
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def create_freeze(page, name: str, note: str) -> None:
    page.locator("#name").click()
    page.keyboard.type(name)
    page.keyboard.press("Tab")  # the rows select keeps "Approved rows only"
    page.keyboard.press("Tab")
    page.keyboard.type(note)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # on "Create freeze"


def test_reviewer_creates_downloads_and_compares(live_server, live_user, page, axe_check, tmp_path):
    seed(live_server)
    live_user("rita", "reviewer")
    log_in(page, "rita")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Freezes").click()
    expect(page.get_by_role("heading", name="Data freezes")).to_be_visible()
    axe_check(page, "freezes: empty list")

    create_freeze(page, "paper-v1", "Submitted with the paper")
    page.wait_for_url(re.compile(r"/freezes/paper-v1$"))
    expect(page.get_by_role("status").first).to_contain_text("paper-v1 is made and stored")
    expect(page.locator("#freeze-tables")).to_contain_text("testDB")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "freeze-detail.png"), full_page=True)
    axe_check(page, "freezes: a freeze")
    ((name, count, creator, note, sha256),) = freeze_rows(live_server)
    assert (name, count, creator, note) == ("paper-v1", 3, "rita", "Submitted with the paper")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download freeze-paper-v1.zip").click()
    saved = tmp_path / "freeze.zip"
    info.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == sha256

    page.get_by_role("button", name="Verify checksums").click()
    expect(page.locator("#verification")).to_contain_text("Intact")

    with live_server.app.app_context():
        db.session.execute(
            sa.update(TestDB).where(TestDB.string_column == "K-1").values(integer_column=100)
        )
        db.session.commit()
    page.get_by_role("link", name="All freezes").click()
    create_freeze(page, "paper-v2", "After the correction")
    page.wait_for_url(re.compile(r"/freezes/paper-v2$"))
    assert [r[0] for r in freeze_rows(live_server)] == ["paper-v1", "paper-v2"]

    page.get_by_role("link", name="Compare with another freeze").click()
    page.locator("#a").select_option("paper-v1")
    page.locator("#b").select_option("paper-v2")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#diff-summary")).to_contain_text("0 added, 0 removed, 1 changed.")
    changed = page.locator("tr.diff-changed").first  # then updated_at, changed too
    expect(changed).to_contain_text("K-1")
    expect(changed).to_contain_text("integer_column")
    expect(changed.locator("td").nth(4)).to_have_text("1")
    expect(changed.locator("td").nth(5)).to_have_text("100")
    page.screenshot(path=str(SHOTS / "freeze-diff.png"), full_page=True)
    axe_check(page, "freezes: a diff")
    with page.expect_download() as csv_info:
        page.get_by_role("link", name="Download the differences as CSV").click()
    csv_path = tmp_path / "diff.csv"
    csv_info.value.save_as(csv_path)
    assert "testDB,K-1,changed,integer_column,1,100" in csv_path.read_text()


def test_a_bad_or_taken_name_is_refused_at_its_field(live_server, live_user, page):
    seed(live_server)
    live_user("rita", "reviewer")
    log_in(page, "rita")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Freezes").click()
    create_freeze(page, "not a name", "")
    field = page.locator("#name")
    expect(field).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator(".invalid-feedback").first).to_contain_text("letters, digits")
    page.screenshot(path=str(SHOTS / "freeze-bad-name.png"), full_page=True)
    assert freeze_rows(live_server) == []

    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("v1")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/freezes/v1$"))
    page.get_by_role("link", name="All freezes").click()
    create_freeze(page, "v1", "")
    expect(page.locator(".invalid-feedback").first).to_contain_text("exists already")
    assert [r[0] for r in freeze_rows(live_server)] == ["v1"]
