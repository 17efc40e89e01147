"""The document viewer in real Chromium: PDF.js pages, zoom and rotation kept across saves and
reloads, TIFF pages shown as images, and keys typed in a form field never taken by the viewer."""

from __future__ import annotations

import io
import os

import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont

from app.documents.samples import pdf_document, pdf_file
from app.extensions import db
from app.models import Document, TestDB
from app.services import documents as docs
from app.services.accounts import find_user
from app.services.uploads import IncomingFile
from app.storage import get_storage
from tests.helpers import log_in

PAGE_SIZE = (612, 792)  # pixels; Pillow writes the PDF at 72 dpi, so also points
SCREENSHOTS = os.environ.get("VIEWER_SCREENSHOTS", "/tmp")


def _numbered_pages(count: int, mode: str = "RGB") -> list[Image.Image]:
    """White pages, each with its number drawn large enough to read in a screenshot."""
    font = ImageFont.load_default(size=300)
    pages = []
    for number in range(1, count + 1):
        page = Image.new("RGB", PAGE_SIZE, "white")
        draw = ImageDraw.Draw(page)
        draw.rectangle((20, 20, PAGE_SIZE[0] - 20, PAGE_SIZE[1] - 20), outline="black", width=6)
        draw.text(
            (PAGE_SIZE[0] // 2, PAGE_SIZE[1] // 2),
            str(number),
            fill="black",
            font=font,
            anchor="mm",
        )
        draw.text(
            (40, 40), f"TOP OF PAGE {number}", fill="black", font=ImageFont.load_default(size=28)
        )
        pages.append(page.convert(mode))
    return pages


def _multi_page(kind: str, count: int) -> bytes:
    first, *rest = _numbered_pages(count, "L" if kind == "TIFF" else "RGB")
    buffer = io.BytesIO()
    first.save(buffer, kind, save_all=True, append_images=rest)
    return buffer.getvalue()


def _assigned(live_server, clerk: str, name: str, data: bytes) -> int:
    with live_server.app.app_context():
        [result] = docs.add_files(
            [IncomingFile(name, data)], get_storage(), actor=None, max_bytes=20_000_000
        )
        assert result.ok, result.error
        docs.assign([result.document], [find_user(clerk)], actor=None)
        return result.document.id


def _wait_drawn(page, number: int, zoom: str, rotation: int = 0) -> None:
    page.wait_for_selector(
        f"#document-viewer[data-rendered-page='{number}']"
        f"[data-rendered-zoom='{zoom}'][data-rendered-rotation='{rotation}']"
    )


def _shown(page) -> dict:
    """What the toolbar says and what the canvas holds."""
    return page.evaluate("""() => {
        const canvas = document.getElementById('viewer-canvas');
        return {page: document.getElementById('viewer-page').value,
                count: document.getElementById('viewer-page-count').textContent.trim(),
                zoom: document.getElementById('viewer-zoom').textContent.trim(),
                canvasPage: canvas.dataset.renderedPage, canvasZoom: canvas.dataset.renderedZoom,
                cssWidth: parseFloat(canvas.style.width)};
    }""")


def _open_pdf_at_page_4_and_150(page) -> None:
    page.wait_for_selector("#document-viewer.is-ready")
    page.locator("#viewer-page").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("4")
    page.keyboard.press("Enter")
    page.wait_for_selector("#document-viewer[data-rendered-page='4']")
    page.locator("#viewer-stage").focus()
    page.keyboard.press("1")  # actual size, then the zoom steps 110 %, 125 %, 150 %
    for _ in range(3):
        page.keyboard.press("+")
    _wait_drawn(page, 4, "1.5")


def _assert_page_4_at_150(page) -> None:
    _wait_drawn(page, 4, "1.5")
    shown = _shown(page)
    assert (shown["page"], shown["count"], shown["zoom"]) == ("4", "/ 5", "150 %")
    assert (shown["canvasPage"], shown["canvasZoom"]) == ("4", "1.5")
    # 612 pt wide at 150 %, with PDF.js's 96/72 CSS pixels per point
    assert abs(shown["cssWidth"] - 612 * 1.5 * 96 / 72) <= 1


def _scroll(page) -> dict:
    return page.evaluate(
        "() => { const s = document.getElementById('viewer-stage');"
        " return {top: s.scrollTop, left: s.scrollLeft}; }"
    )


def _open_five_pages(page, live_server, live_user) -> int:
    """clerk1 opens an assigned 5-page PDF and waits for its first page to be drawn."""
    live_user("clerk1")
    document_id = _assigned(live_server, "clerk1", "five-pages.pdf", _multi_page("PDF", 5))
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}")
    page.wait_for_selector("#document-viewer[data-rendered-page='1']")
    return document_id


def _testdb_tab(page) -> None:
    """The workspace shows one entry table at a time: pick testDB's tab by keyboard."""
    page.locator("#tab-testDB").focus()
    page.keyboard.press("Enter")
    page.locator("#panel-testDB [name=string_column]").wait_for()


def _type_row(page, key: str, number: str) -> None:
    field = page.locator("#panel-testDB [name=string_column]")
    field.click()
    page.keyboard.type(key)
    page.keyboard.press("Tab")
    page.keyboard.type(number)
    page.keyboard.press("Enter")
    page.wait_for_selector(f".alert-success:has-text('{key}')")


def _canvas_is_drawn(page) -> bool:
    """Some dark pixels in the middle of the canvas: PDF.js really drew the page."""
    return page.evaluate("""() => {
        const c = document.getElementById('viewer-canvas');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let dark = 0;
        for (let i = 0; i < data.length; i += 4 * 97) if (data[i] < 100) dark++;
        return dark > 50;
    }""")


def test_pdf_keeps_page_and_zoom_across_saves_and_reloads(page, live_server, live_user):
    live_user("clerk1")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    document_id = _assigned(live_server, "clerk1", "five-pages.pdf", _multi_page("PDF", 5))
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}")
    viewer = page.locator("#document-viewer")
    assert viewer.get_attribute("data-src") == f"/documents/{document_id}/file"
    _open_pdf_at_page_4_and_150(page)
    _assert_page_4_at_150(page)
    assert _canvas_is_drawn(page)
    page.screenshot(path=f"{SCREENSHOTS}/viewer-page4-150.png")

    page.locator("#viewer-stage").focus()
    page.keyboard.press("ArrowDown")  # the stage scrolls like any box, and that place is kept
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(400)  # the scroll position is stored once scrolling settles
    place = _scroll(page)
    assert place["top"] > 0

    _testdb_tab(page)
    _assert_page_4_at_150(page)
    page.evaluate("() => { window.__notReloaded = true; }")
    _type_row(page, "ROW-1", "11")
    _assert_page_4_at_150(page)
    _type_row(page, "ROW-2", "22")
    _assert_page_4_at_150(page)
    _type_row(page, "ROW-3", "33")
    _assert_page_4_at_150(page)
    # Edit one row beside the document: the number of ROW-2 becomes 222.
    page.get_by_role("link", name="Edit row ROW-2").click()
    number = page.locator("#panel-testDB [name=integer_column]")
    number.wait_for()
    number.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("222")
    page.keyboard.press("Enter")
    page.locator("#status-testDB .alert-success", has_text="Saved changes").wait_for()
    _assert_page_4_at_150(page)
    assert page.evaluate("() => window.__notReloaded === true")  # saved in place
    page.reload()
    _assert_page_4_at_150(page)
    assert abs(_scroll(page)["top"] - place["top"]) <= 2
    assert abs(_scroll(page)["left"] - place["left"]) <= 2
    with live_server.app.app_context():
        rows = db.session.execute(
            sa.select(TestDB.string_column, TestDB.integer_column, TestDB.document_id).order_by(
                TestDB.string_column
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("ROW-1", 11, document_id),
        ("ROW-2", 222, document_id),
        ("ROW-3", 33, document_id),
    ]
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_a_text_pdf_opens_at_the_top_of_its_first_page(page, live_server, live_user):
    live_user("clerk1")
    document_id = _assigned(
        live_server, "clerk1", "register.pdf", pdf_document("Parish register", ["Doe, Jane, 34"])
    )
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}")
    page.wait_for_selector("#document-viewer[data-rendered-page='1']")
    assert _scroll(page) == {"top": 0, "left": 0}
    # The title sits near the top of the page: the first 120 CSS pixels hold dark ink.
    assert (
        page.evaluate("""() => {
        const c = document.getElementById('viewer-canvas');
        const scale = c.width / parseFloat(c.style.width);
        const data = c.getContext('2d').getImageData(0, 0, c.width, 120 * scale).data;
        let dark = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] < 100) dark++;
        return dark;
    }""")
        > 100
    )
    page.locator("#viewer-original").focus()
    page.keyboard.press("Tab")  # the page area is the next tab stop, and shows its focus ring
    assert page.evaluate("() => document.activeElement.id") == "viewer-stage"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth")
    assert outline == "3px"


def _jpeg2000_pdf() -> bytes:
    """A one-page PDF whose page is a JPEG 2000 image (JPXDecode), as many scanned PDFs are."""
    buffer = io.BytesIO()
    _numbered_pages(1)[0].save(buffer, "JPEG2000")
    image = buffer.getvalue()
    width, height = PAGE_SIZE
    content = f"q {width} 0 0 {height} 0 0 cm /Im1 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Contents 4 0 R "
        "/Resources << /XObject << /Im1 5 0 R >> >> >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /Filter /JPXDecode "
        f"/Length {len(image)} >>\nstream\n".encode()
        + image
        + b"\nendstream",
    ]
    return pdf_file(objects, version="1.5")


def test_a_jpeg2000_scan_is_drawn_without_webassembly(page, live_server, live_user):
    live_user("clerk1")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    document_id = _assigned(live_server, "clerk1", "scan-jpx.pdf", _jpeg2000_pdf())
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}")
    page.wait_for_selector("#document-viewer[data-rendered-page='1']")
    assert _canvas_is_drawn(page)  # the big "1" and the frame: PDF.js decoded the JPEG 2000
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_viewer_state_is_per_user_and_document(new_page, live_server, live_user):
    live_user("clerk1")
    live_user("boss", "reviewer")
    document_id = _assigned(live_server, "clerk1", "five-pages.pdf", _multi_page("PDF", 5))
    clerk = new_page()
    log_in(clerk, "clerk1")
    clerk.goto(f"/work/documents/{document_id}")
    _open_pdf_at_page_4_and_150(clerk)
    clerk.locator("#viewer-stage").focus()
    clerk.keyboard.press("r")
    _wait_drawn(clerk, 4, "1.5", 90)
    width, height = clerk.evaluate(
        "() => { const c = document.getElementById('viewer-canvas');"
        " return [parseFloat(c.style.width),"
        " parseFloat(c.style.height)]; }"
    )
    assert width > height  # a portrait page turned on its side
    keys = clerk.evaluate("() => Object.keys(localStorage)")
    user_id = clerk.locator("#document-viewer").get_attribute("data-user-id")
    assert keys == [f"portal.viewer.u{user_id}.d{document_id}"]

    reviewer = new_page()  # another person starts at page 1, fit width
    log_in(reviewer, "boss")
    reviewer.goto(f"/documents/{document_id}")
    reviewer.wait_for_selector("#document-viewer[data-rendered-page='1']")
    assert reviewer.input_value("#viewer-page") == "1"
    assert reviewer.locator("#document-viewer").get_attribute("data-rendered-rotation") == "0"


def test_keys_typed_in_a_field_stay_in_the_field(page, live_server, live_user):
    _open_five_pages(page, live_server, live_user)
    before = page.locator("#document-viewer").get_attribute("data-rendered-zoom")
    _testdb_tab(page)
    field = page.locator("#panel-testDB [name=string_column]")
    field.click()
    page.keyboard.type("a+b-r0 1=R")
    page.keyboard.press("PageDown")
    assert field.input_value() == "a+b-r0 1=R"
    page.wait_for_timeout(300)  # a zoom, if one had been started, would have drawn by now
    viewer = page.locator("#document-viewer")
    assert viewer.get_attribute("data-rendered-zoom") == before
    assert viewer.get_attribute("data-rendered-page") == "1"
    assert viewer.get_attribute("data-rendered-rotation") == "0"
    assert page.locator("#viewer-zoom").inner_text() == f"{round(float(before) * 100)} %"

    page.keyboard.press("Alt+PageDown")  # the one shortcut that works from a field
    page.wait_for_selector("#document-viewer[data-rendered-page='2']")
    assert field.input_value() == "a+b-r0 1=R"
    page.keyboard.press("Tab")
    page.keyboard.type("5")
    page.keyboard.press("Enter")  # nothing typed went to the viewer: the row is saved as typed
    page.wait_for_selector(".alert-success")
    with live_server.app.app_context():
        saved = db.session.execute(sa.select(TestDB.string_column, TestDB.integer_column)).all()
    assert [tuple(r) for r in saved] == [("a+b-r0 1=R", 5)]


def test_toolbar_buttons_turn_zoom_fit_and_rotate(page, live_server, live_user):
    document_id = _open_five_pages(page, live_server, live_user)
    fit_zoom = page.locator("#document-viewer").get_attribute("data-rendered-zoom")
    stage_width = page.evaluate("() => document.getElementById('viewer-stage').clientWidth")
    assert abs(612 * 96 / 72 * float(fit_zoom) - (stage_width - 16)) < 10  # fits the width
    page.get_by_role("button", name="Next page").click()
    page.wait_for_selector("#document-viewer[data-rendered-page='2']")
    page.get_by_role("button", name="Zoom out").click()
    page.wait_for_function(
        "() => document.getElementById('viewer-zoom').textContent"
        f" !== '{round(float(fit_zoom) * 100)} %'"
    )
    page.get_by_role("button", name="Fit width").click()
    _wait_drawn(page, 2, fit_zoom)
    page.get_by_role("button", name="Rotate clockwise").click()
    page.wait_for_selector("#document-viewer[data-rendered-rotation='90']")
    page.get_by_role("button", name="Previous page").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#document-viewer[data-rendered-page='1'][data-rendered-rotation='90']")
    link = page.locator("#viewer-original")
    assert link.get_attribute("href") == f"/documents/{document_id}/file"
    page.locator("#viewer-page").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("9")
    page.keyboard.press("Enter")  # no page 9: said so, and the viewer stays where it was
    assert page.locator("#viewer-message").inner_text() == (
        "There is no page “9”: type a number from 1 to 5."
    )
    assert page.input_value("#viewer-page") == "1"
    assert page.locator("#document-viewer").get_attribute("data-rendered-page") == "1"


def test_a_pdf_that_cannot_be_opened_says_so_and_links_the_original(page, live_server, live_user):
    live_user("clerk1")
    document_id = _assigned(
        live_server,
        "clerk1",
        "broken.pdf",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
    )
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}")
    message = page.locator("#viewer-message")
    message.locator("a").wait_for()
    assert message.inner_text().startswith("The document could not be opened here (")
    assert message.locator("a").get_attribute("href") == f"/documents/{document_id}/file"
    assert page.locator(".doc-viewer-toolbar").is_hidden()


def test_multi_page_tiff_shows_its_pages(page, live_server, live_user):
    live_user("clerk1")
    document_id = _assigned(live_server, "clerk1", "scan.tif", _multi_page("TIFF", 3))
    with live_server.app.app_context():
        assert db.session.get(Document, document_id).page_count == 3
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}")
    page.wait_for_selector("#document-viewer[data-rendered-page='1']")
    assert page.locator("#viewer-page-count").inner_text() == "/ 3"
    page.locator("#viewer-stage").focus()
    page.keyboard.press("PageDown")
    page.wait_for_selector("#document-viewer[data-rendered-page='2']")
    image = page.locator("#viewer-image")
    assert image.get_attribute("src").endswith(f"/documents/{document_id}/pages/2.png")
    assert page.evaluate("() => document.getElementById('viewer-image').naturalWidth") == 612
    page.keyboard.press("+")
    page.wait_for_function("() => document.getElementById('viewer-zoom').textContent !== ''")
    page.keyboard.press("r")
    page.wait_for_selector("#document-viewer[data-rendered-rotation='90']")
    box = page.locator("#viewer-image").bounding_box()
    assert box["width"] > box["height"]  # turned on its side
    page.screenshot(path=f"{SCREENSHOTS}/viewer-tiff-page2.png")
    page.reload()
    page.wait_for_selector("#document-viewer[data-rendered-page='2'][data-rendered-rotation='90']")
    assert page.evaluate("() => document.getElementById('viewer-image').naturalWidth") == 612


def test_an_image_pans_by_dragging(page, live_server, live_user):
    live_user("clerk1")
    document_id = _assigned(live_server, "clerk1", "scan.png", _png_scan())
    log_in(page, "clerk1")
    page.goto(f"/work/documents/{document_id}")
    page.wait_for_selector("#document-viewer[data-rendered-page='1']")
    assert page.locator("#viewer-page-count").inner_text() == "/ 1"
    page.locator("#viewer-stage").focus()
    for _ in range(4):
        page.keyboard.press("+")
    page.wait_for_function(
        "() => { const s = document.getElementById('viewer-stage');"
        " return s.scrollWidth > s.clientWidth + 100; }"
    )
    stage = page.locator("#viewer-stage").bounding_box()
    before = page.evaluate("() => document.getElementById('viewer-stage').scrollLeft")
    page.mouse.move(stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.down()
    page.mouse.move(
        stage["x"] + stage["width"] / 2 - 120, stage["y"] + stage["height"] / 2, steps=5
    )
    page.mouse.up()
    after = page.evaluate("() => document.getElementById('viewer-stage').scrollLeft")
    assert after - before >= 100


def _png_scan() -> bytes:
    buffer = io.BytesIO()
    _numbered_pages(1)[0].save(buffer, "PNG")
    return buffer.getvalue()


def test_the_reviewer_gets_the_same_viewer(page, live_server, live_user):
    live_user("clerk1")
    live_user("boss", "reviewer")
    document_id = _assigned(live_server, "clerk1", "scan.tif", _multi_page("TIFF", 3))
    with live_server.app.app_context():
        db.session.get(Document, document_id).status = "submitted"  # as if the clerk had
        db.session.commit()
    log_in(page, "boss")
    page.goto(f"/review/documents/{document_id}")
    page.wait_for_selector("#document-viewer[data-rendered-page='1']")
    comment = page.locator("#comment")
    comment.click()
    page.keyboard.type("page 2 r+0")
    page.keyboard.press("Alt+PageDown")  # turns the page without leaving the comment
    page.wait_for_selector("#document-viewer[data-rendered-page='2']")
    assert comment.input_value() == "page 2 r+0"
    assert page.evaluate("() => document.activeElement.id") == "comment"
    assert page.locator("#document-viewer").get_attribute("data-rendered-rotation") == "0"
    assert page.evaluate("() => document.getElementById('viewer-image').naturalWidth") == 612
