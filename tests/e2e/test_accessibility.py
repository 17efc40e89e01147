"""Accessibility in real Chromium: axe-core (WCAG 2.0/2.1/2.2 A and AA) on every page state a
clerk, a reviewer and an admin sees, one h1 and the landmarks on each page, no horizontal
scrolling at 390 px, a skip link, and a focus ring that shows on every background.

Each page state is its own test, so that a known violation in one state (marked xfail with the
rule ids, for the owner of that template to fix) hides nothing in the others. The number of
violations per state is printed in the "axe-core violations per page state" summary.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.documents.samples import pdf_document, png_image
from app.entry_tables.registry import get_entry_table
from app.extensions import db
from app.models import Document, RegisterPerson, TestDB
from app.services import documents as docs
from app.services import double_entry, entries, quality, review
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.e2e.conftest import AXE_JS, axe_violations
from tests.helpers import VIEWPORT, log_in

PHONE = {"width": 390, "height": 844}
LONG_KEY = "REG-" + "0123456789" * 13  # 134 characters without a space: must wrap, not scroll


@dataclass(frozen=True)
class Portal:
    """The ids of what `_seed` made (fresh database per test, so they are known only here)."""

    open_doc: int  # assigned to clerk1, nothing entered
    submitted_doc: int  # clerk1's rows, submitted, waiting for the reviewer
    double_doc: int  # double-entered by clerk1 and clerk2, one difference
    image_doc: int  # a PNG scan, assigned to clerk1
    returned_doc: int  # clerk1's, returned by the reviewer with a comment
    clerk_id: int


def _add(name: str, content: bytes, clerks: list[str], *, double: bool = False) -> Document:
    (result,) = docs.add_files(
        [IncomingFile(name, content)],
        get_storage(),
        actor=None,
        max_bytes=10_000_000,
        double_entry=double,
    )
    docs.assign([result.document], [find_user(c) for c in clerks], actor=None)
    return result.document


def _seed(live_server, live_user) -> Portal:
    """Users of every role, and documents in each state a page shows."""
    for name, role in (
        ("clerk1", "clerk"),
        ("clerk2", "clerk"),
        ("boss", "reviewer"),
        ("root", "admin"),
    ):
        live_user(name, role)
    with live_server.app.app_context():
        clerk = find_user("clerk1")
        open_doc = _add(
            "register-1902.pdf", pdf_document("Register 1902", ["Doe, Jane, 34"]), ["clerk1"]
        )
        image_doc = _add("scan-17.png", png_image(note="17"), ["clerk1"])
        submitted = _add(
            "register-1903.pdf", pdf_document("Register 1903", ["Roe, 105"]), ["clerk1"]
        )
        _enter_submitted_rows(submitted, clerk)
        double = _add(
            "register-1904.pdf",
            pdf_document("Register 1904", ["Poe, 7"]),
            ["clerk1", "clerk2"],
            double=True,
        )
        _enter_double(double)
        returned = _add("register-1905.pdf", pdf_document("Register 1905", ["Loe, 40"]), ["clerk1"])
        entries.create_row(
            get_entry_table("testDB"),
            {"string_column": "REG-1905-001"},
            actor=clerk,
            document_id=returned.id,
        )
        docs.submit(returned, clerk)
        review.return_document(returned, find_user("boss"), "Row 1 has no number: check it.")
        return Portal(open_doc.id, submitted.id, double.id, image_doc.id, returned.id, clerk.id)


def _enter_submitted_rows(document: Document, clerk) -> None:
    testdb, people = get_entry_table("testDB"), get_entry_table("register_person")
    entries.create_row(
        testdb,
        {"string_column": "REG-1903-001", "integer_column": 12},
        actor=clerk,
        document_id=document.id,
    )
    entries.create_row(
        testdb,
        {"string_column": LONG_KEY, "integer_column": 7},
        actor=clerk,
        document_id=document.id,
    )
    entries.update_row(
        testdb,
        "REG-1903-001",
        {"string_column": "REG-1903-001", "integer_column": 13},
        actor=clerk,
        expected_version=1,
    )
    person = {
        "full_name": "Roe, Richard",
        "sex": "male",
        "age": 105,
        "height_m": 1.71,
        "fee_paid": Decimal("2.50"),
        "literate": True,
        "parish": "St. Mary",
    }
    entries.create_row(
        people,
        person,
        actor=clerk,
        document_id=document.id,
        warnings=quality.soft_warnings(people, person),
    )  # an open quality flag
    docs.submit(document, clerk)


def _enter_double(document: Document) -> None:
    testdb = get_entry_table("testDB")
    for name, number in (("clerk1", 34), ("clerk2", 43)):
        clerk = find_user(name)
        double_entry.save_row(
            testdb, document, clerk, {"string_column": "D-1", "integer_column": number}
        )
        docs.submit(document, clerk)


@pytest.fixture
def portal(live_server, live_user) -> Portal:
    return _seed(live_server, live_user)


# --- checks shared by every page state ------------------------------------------------------

_STRUCTURE = """() => {
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
    .filter((h) => h.getClientRects().length > 0 || h.closest("[hidden]") === null);
  const levels = headings.map((h) => Number(h.tagName[1]));
  const skips = [];
  levels.forEach((level, i) => {
    if (i > 0 && level > levels[i - 1] + 1) skips.push(`h${levels[i - 1]} -> h${level}`);
  });
  return {
    h1: document.querySelectorAll("h1").length,
    first: levels[0] || 0,
    skips,
    main: document.querySelectorAll("main#main").length,
    nav: document.querySelectorAll("nav").length,
    lang: document.documentElement.lang,
    title: document.title,
  };
}"""

_OVERFLOW = """() => {
  const limit = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > limit + 1
                    && !el.closest(".table-responsive, .visually-hidden, .collapse:not(.show)"))
    .slice(0, 5).map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                             + (el.className && typeof el.className === "string"
                                ? "." + el.className.trim().split(/\\s+/).join(".") : ""));
  return {scrollWidth: document.documentElement.scrollWidth, wide};
}"""


def check_structure(page, state: str) -> None:
    """One h1, first heading is the h1, no skipped levels, a nav and <main id="main">."""
    found = page.evaluate(_STRUCTURE)
    assert found["h1"] == 1, f"{state}: {found['h1']} h1 elements"
    assert found["first"] == 1, f"{state}: the first heading is h{found['first']}"
    assert not found["skips"], f"{state}: heading levels skipped: {found['skips']}"
    assert found["main"] == 1 and found["nav"] >= 1, f"{state}: landmarks missing: {found}"
    assert found["lang"] == "en" and found["title"], f"{state}: no lang or title: {found}"


def check_no_horizontal_scroll(page, state: str) -> None:
    """At a 390 px wide viewport the page itself never scrolls sideways."""
    found = page.evaluate(_OVERFLOW)
    assert found["scrollWidth"] <= PHONE["width"], (
        f"{state}: scrollWidth {found['scrollWidth']} > {PHONE['width']}; widest: {found['wide']}"
    )


def _screenshot(page, state: str) -> None:
    """With A11Y_SHOTS=<folder>, keep a full-page picture of each state to look at."""
    folder = os.environ.get("A11Y_SHOTS")
    if folder:
        name = re.sub(r"[^A-Za-z0-9]+", "-", state).strip("-")
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def check_state(page, state: str, axe_check) -> None:
    """axe, headings and landmarks at the laptop size, then axe and no sideways scroll at 390.

    A sideways scroll known to come from a template owned by someone else (KNOWN_OVERFLOW)
    makes the test xfail, but only after every axe check of the state has passed."""
    check_structure(page, state)
    axe_check(page, state)
    _screenshot(page, state)
    page.set_viewport_size(PHONE)
    page.reload()
    axe_check(page, f"{state} @390px")
    _screenshot(page, f"{state} @390px")
    try:
        check_no_horizontal_scroll(page, f"{state} @390px")
    except AssertionError as exc:
        if state in KNOWN_OVERFLOW:
            pytest.xfail(f"{KNOWN_OVERFLOW[state]} -- {exc}")
        raise
    page.set_viewport_size(VIEWPORT)


def rows_where(live_server, model, condition) -> int:
    """How many rows of an entry table match (a refused save stored nothing)."""
    with live_server.app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(condition))


def check_here(page, state: str, axe_check) -> None:
    """A state reached by typing: headings and axe as it stands, without reloading it."""
    check_structure(page, state)
    axe_check(page, state)
    _screenshot(page, state)


def test_axe_is_vendored_locally():
    """The test harness uses the committed axe-core, not a download."""
    head = AXE_JS.read_text(encoding="utf-8")[:200]
    assert head.startswith("/*! axe v4."), head


def test_the_harness_sees_a_violation(page, live_server):
    """A page with an unlabelled input and a grey-on-grey text fails: the check can fail."""
    page.goto("/login")
    assert axe_violations(page) == []
    page.evaluate("""() => {
      const main = document.querySelector("main");
      main.insertAdjacentHTML("beforeend",
        '<input type="text" id="unlabelled"><p style="color:#999;background:#aaa">faint</p>');
    }""")
    ids = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= ids, ids


# --- pages reached by a plain GET, per role ---------------------------------------------------

PAGES = [
    # (state, user, path; {name} is filled from the Portal ids)
    ("home, logged out", None, "/"),
    ("home, clerk", "clerk1", "/"),
    ("clerk queue", "clerk1", "/work/"),
    ("workspace: PDF document", "clerk1", "/work/documents/{open_doc}"),
    ("workspace: image document", "clerk1", "/work/documents/{image_doc}"),
    ("workspace: returned document", "clerk1", "/work/documents/{returned_doc}"),
    ("entry form, empty", "clerk1", "/data/testDB/new"),
    ("entry tables", "clerk1", "/data/"),
    ("change password", "clerk1", "/account/password"),
    ("account, sessions", "clerk1", "/account"),
    ("entry list, reviewer", "boss", "/data/testDB"),
    ("entry list, people", "boss", "/data/register_person"),
    ("entry edit form", "boss", "/data/testDB/edit?key=REG-1903-001"),
    ("row history", "boss", "/data/testDB/history?key=REG-1903-001"),
    ("review queue", "boss", "/review/"),
    ("review document", "boss", "/review/documents/{submitted_doc}"),
    ("review correction", "boss", "/review/correct/testDB?key=REG-1903-001"),
    ("double-entry compare", "boss", "/review/documents/{double_doc}/compare"),
    ("quality", "boss", "/review/quality"),
    ("sampling settings", "root", "/review/settings"),
    ("forbidden page", "clerk1", "/admin/users"),
    ("dashboard", "boss", "/dashboard/"),
    ("admin users", "root", "/admin/users"),
    ("admin user detail", "root", "/admin/users/{clerk_id}"),
    ("documents list", "root", "/documents/"),
    ("document detail", "root", "/documents/{open_doc}"),
    ("document upload", "root", "/documents/upload"),
    ("codebook", "root", "/exchange/codebook"),
    ("imports list", "root", "/exchange/imports"),
    ("import form", "root", "/exchange/testDB/import"),
    ("not found page", "root", "/data/no-such-table"),
]


# Sideways scrolling at 390 px caused by templates owned by others (fix there, then drop the
# entry): state -> what to fix. Their axe checks still run and must pass.
KNOWN_OVERFLOW: dict[str, str] = {}


@pytest.mark.parametrize(("state", "user", "path"), [pytest.param(*p, id=p[0]) for p in PAGES])
def test_page_state(page, portal, axe_check, state, user, path):
    if user:
        log_in(page, user)
    response = page.goto(path.format(**portal.__dict__))
    expected = {"not found page": 404, "forbidden page": 403}.get(state, 200)
    assert response.status == expected, f"{state}: HTTP {response.status}"
    check_state(page, state, axe_check)


# --- states reached by typing -------------------------------------------------------------------


def test_login_page_empty_and_with_an_error(page, axe_check, live_server, live_user):
    live_user("clerk1")
    page.goto("/login")
    check_state(page, "login", axe_check)
    page.locator("[name=username]").press_sequentially("clerk1")
    page.locator("[name=password]").press_sequentially("not-the-password")
    page.press("[name=password]", "Enter")
    page.wait_for_selector("#login-error")
    check_here(page, "login with an error", axe_check)


def test_entry_form_refused_with_field_errors(page, axe_check, portal, live_server):
    log_in(page, "clerk1")
    page.goto("/data/testDB/new")
    page.locator("[name=integer_column]").press_sequentially("5")
    page.press("[name=integer_column]", "Enter")  # the key is left empty: refused
    page.wait_for_selector(".is-invalid")
    check_here(page, "entry form with errors", axe_check)
    assert rows_where(live_server, TestDB, TestDB.integer_column == 5) == 0


def test_workspace_refused_save_with_field_errors(page, axe_check, portal, live_server):
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{portal.open_doc}?panel=testDB")
    number = page.locator("#panel-testDB [name=integer_column]")
    number.press_sequentially("5")
    number.press("Enter")  # no key typed: refused at the field
    page.wait_for_selector("#panel-testDB .is-invalid")
    check_here(page, "workspace with field errors", axe_check)
    assert rows_where(live_server, TestDB, TestDB.document_id == portal.open_doc) == 0


def test_workspace_soft_warning(page, axe_check, portal, live_server):
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{portal.open_doc}")
    page.locator("#panel-register_person [name=full_name]").press_sequentially("Doe, Jane")
    age = page.locator("#panel-register_person [name=age]")
    age.press_sequentially("105")
    age.press("Enter")  # above the expected maximum: asks for a confirmation
    page.wait_for_selector(".soft-warnings")
    check_here(page, "workspace with a soft warning", axe_check)
    assert (
        rows_where(live_server, RegisterPerson, RegisterPerson.document_id == portal.open_doc) == 0
    )


def test_entry_form_soft_warning(page, axe_check, portal, live_server):
    log_in(page, "clerk1")
    page.goto("/data/register_person/new")
    page.locator("[name=full_name]").press_sequentially("Poe, Edgar")
    age = page.locator("[name=age]")
    age.press_sequentially("105")
    age.press("Enter")
    page.wait_for_selector(".soft-warnings")
    check_here(page, "entry form with a soft warning", axe_check)
    assert rows_where(live_server, RegisterPerson, RegisterPerson.full_name == "Poe, Edgar") == 0


def test_review_return_refused_without_a_comment(page, axe_check, portal, live_server):
    log_in(page, "boss")
    page.goto(f"/review/documents/{portal.submitted_doc}")
    page.get_by_role("button", name="Return").click()  # no comment typed: refused
    page.wait_for_selector("#comment.is-invalid")
    check_here(page, "review document, return refused", axe_check)
    with live_server.app.app_context():
        assert db.session.get(Document, portal.submitted_doc).status == "submitted"


def test_compare_refused_with_a_bad_value(page, axe_check, portal, live_server):
    log_in(page, "boss")
    page.goto(f"/review/documents/{portal.double_doc}/compare")
    row = page.locator("tr.difference[data-field=integer_column]")
    row.locator("input[type=radio][value=other]").check()
    other = row.locator("input[name^=other-]")
    other.press_sequentially("12a")  # not a whole number: refused at the field
    other.press("Enter")
    page.wait_for_selector("tr.difference .is-invalid")
    check_here(page, "double-entry compare with an error", axe_check)
    assert rows_where(live_server, TestDB, TestDB.document_id == portal.double_doc) == 0


def test_workspace_submit_with_empty_expected_values(page, axe_check, portal):
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{portal.open_doc}")
    _enter_person_without_sex(page)
    page.locator("#submit-document").click()
    page.wait_for_selector("#missing-before-submit")
    check_here(page, "workspace, submit asks about empty values", axe_check)


def test_upload_results(page, axe_check, portal, live_server):
    log_in(page, "root")
    page.goto("/documents/upload")
    page.set_input_files(
        "input[type=file]",
        files=[
            {"name": "new-scan.png", "mimeType": "image/png", "buffer": png_image(seed=3)},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a document"},
        ],
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_selector("#upload-results")
    check_here(page, "document upload with results", axe_check)
    with live_server.app.app_context():
        names = set(db.session.scalars(sa.select(Document.original_name)))
        assert "new-scan.png" in names and "notes.txt" not in names


def test_admin_create_user_refused(page, axe_check, portal, live_server):
    log_in(page, "root")
    page.goto("/admin/users")
    field = page.locator("form [name=username]").first
    field.press_sequentially("x")  # too short a name, no password: refused
    field.press("Enter")
    page.wait_for_selector(".is-invalid, .alert-danger")
    check_here(page, "admin users with errors", axe_check)
    assert find_user_in(live_server, "x") is None


def find_user_in(live_server, username: str):
    with live_server.app.app_context():
        return find_user(username)


# --- keyboard: skip link and focus ring ----------------------------------------------------------


def test_skip_link_is_the_first_stop_and_moves_to_main(page, portal):
    log_in(page, "clerk1")
    page.goto("/data/")  # a page without autofocus: the first Tab starts at the top
    assert page.locator(".skip-link").bounding_box()["width"] <= 1  # hidden until reached
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent.trim(),"
        " document.activeElement.getAttribute('href')]"
    )
    assert focused == ["Skip to main content", "#main"]
    box = page.locator(".skip-link").bounding_box()
    assert box["width"] > 100 and box["height"] > 20 and box["y"] >= 0  # shown on focus
    page.screenshot(path="/tmp/a11y-skip-link.png")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside main, not back in the navigation
    assert page.evaluate("() => document.activeElement.closest('main') !== null")


def test_every_page_starts_with_the_skip_link(page, portal):
    """On pages with autofocus too, the skip link is first in the tab order (Shift+Tab)."""
    log_in(page, "clerk1")
    for path in ("/work/", "/data/testDB/new", f"/work/documents/{portal.open_doc}"):
        page.goto(path)
        first = page.evaluate("""() => [...document.querySelectorAll(
            "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]")]
            .find((el) => el.tabIndex >= 0)?.className""")
        assert "skip-link" in first, (path, first)


_RING = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const spread = /(-?[\\d.]+)px\\)?$/.exec(style.boxShadow.replace(/ inset$/, ""));
  return {tag: el.tagName, text: (el.textContent || el.name || "").trim().slice(0, 40),
          width: parseFloat(style.outlineWidth), style: style.outlineStyle,
          color: style.outlineColor, offset: parseFloat(style.outlineOffset),
          shadow: style.boxShadow, shadowSpread: spread ? parseFloat(spread[1]) : 0};
}"""


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio of two sRGB colours."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(css: str) -> tuple[int, int, int]:
    numbers = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    return tuple(int(float(n)) for n in numbers[:3])  # type: ignore[return-value]


_BACKGROUND = """() => {
  let el = document.activeElement.parentElement;
  while (el) {
    const bg = getComputedStyle(el).backgroundColor;
    if (bg && bg !== "rgba(0, 0, 0, 0)" && bg !== "transparent") return bg;
    el = el.parentElement;
  }
  return "rgb(255, 255, 255)";
}"""


def _tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab from the top of the page until the element has the keyboard focus."""
    page.locator(".skip-link").focus()
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


@pytest.mark.parametrize(
    ("where", "selector", "path"),
    [
        ("dark navbar link", "#main-nav a.nav-link", "/"),
        ("light button on the navbar", "#main-nav button[type=submit]", "/"),
        ("link in a table on white", "main td a[href]", "/work/"),
        ("primary button", "#next-document", "/work/"),
        ("text input", "[name=string_column]", "/data/testDB/new"),
        ("button on an alert", "main .alert button", "/work/documents/{open_doc}?missing"),
    ],
)
def test_focus_ring_is_visible_on_every_background(page, portal, where, selector, path):
    """A 2 px or wider solid ring, off the element, with >= 3:1 against both its neighbours."""
    log_in(page, "clerk1")
    page.goto(path.format(**portal.__dict__).removesuffix("?missing"))
    if path.endswith("?missing"):
        # Submitting with an empty "required before submit" value shows a warning alert
        # with a button in it: the ring must show on the alert's yellow as well.
        _enter_person_without_sex(page)
        page.locator("#submit-document").click()
        page.wait_for_selector(selector)
    _tab_to(page, selector)
    # Bootstrap fades a button's box-shadow in (a 0.15 s transition): read it once settled.
    page.wait_for_function("() => document.activeElement.getAnimations().length === 0")
    ring = page.evaluate(_RING)
    page.screenshot(path=f"/tmp/a11y-focus-{where.replace(' ', '-')}.png")
    assert ring["style"] == "solid" and ring["width"] >= 2, ring
    assert ring["offset"] >= 1, ring
    colour = _rgb(ring["color"])
    # The box-shadow fills the gap inside the ring and, when it reaches past the ring, is
    # also what lies outside it; otherwise the background is.
    halo = _rgb(ring["shadow"]) if ring["shadow"] != "none" else None
    inside = halo or _rgb(page.evaluate(_BACKGROUND))
    reach = ring["offset"] + ring["width"]
    outside = halo if halo and ring["shadowSpread"] > reach else _rgb(page.evaluate(_BACKGROUND))
    assert contrast(colour, inside) >= 3 and contrast(colour, outside) >= 3, (where, ring)


def _enter_person_without_sex(page) -> None:
    name = page.locator("#panel-register_person [name=full_name]")
    name.press_sequentially("Doe, Jane")
    name.press("Enter")
    page.wait_for_selector(".alert-success")


def test_dashboard_refresh_keeps_the_keyboard_focus(page, portal):
    """The live dashboard swaps its content every second here; the focused link stays focused."""
    log_in(page, "boss")
    page.goto("/dashboard/?refresh=1")
    _tab_to(page, "#dashboard-live a[href]")
    before = page.evaluate("() => [document.activeElement.textContent, window.dashboardRefreshes]")
    page.wait_for_function("(n) => window.dashboardRefreshes >= n + 2", arg=before[1])
    assert page.evaluate("() => document.activeElement.textContent") == before[0]
    assert page.evaluate("() => document.activeElement.closest('#dashboard-live') !== null")


def test_phone_navigation_menu_opens_by_keyboard(page, axe_check, portal):
    """At 390 px the navbar collapses behind its toggler; Enter opens it, every link shows."""
    log_in(page, "boss")
    page.set_viewport_size(PHONE)
    page.goto("/review/")
    assert not page.locator("#main-nav a.nav-link").first.is_visible()
    _tab_to(page, ".navbar-toggler")
    page.keyboard.press("Enter")
    page.wait_for_selector("#main-nav.show")
    assert page.get_attribute(".navbar-toggler", "aria-expanded") == "true"
    page.wait_for_function("() => !document.querySelector('#main-nav.collapsing')")
    page.screenshot(path="/tmp/a11y-phone-menu.png")
    links = page.locator("#main-nav a.nav-link")
    assert links.count() >= 4 and all(links.nth(i).is_visible() for i in range(links.count()))
    check_no_horizontal_scroll(page, "navigation menu open @390px")
    axe_check(page, "navigation menu open @390px")
    page.keyboard.press("Tab")  # the next stop is the first link of the opened menu
    assert page.evaluate("() => document.activeElement.matches('#main-nav a.nav-link')")
