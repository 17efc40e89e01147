"""Documents: upload (web and CLI), bad input, serving the files, assignment and statuses,
the admin's list, and `flask demo`. Every test that takes `app` runs on each configured backend.

After every upload the storage folder and the documents table must agree: no file without its
row, no row without its file.
"""

from __future__ import annotations

import html
import io
import random
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from markupsafe import escape
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app import create_app
from app.documents import routes as document_routes
from app.documents.samples import pdf_document, png_image
from app.extensions import db
from app.models import Assignment, AuditEvent, Document, TestDB, User
from app.services import documents as docs
from app.services.errors import Invalid
from app.services.uploads import IncomingFile
from app.storage import KEY_PATTERN, get_storage, page_key
from tests.helpers import login

HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG_IMAGE = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
    b'onload="alert(1)"><rect width="10" height="10"/></svg>'
)


# --- helpers ---------------------------------------------------------------------------------


def pdf(n: int = 1) -> bytes:
    """A small PDF, different for each n (the sha256 refuses duplicates)."""
    return pdf_document(f"Register page {n}", [f"Doe, Jane, aged {n}"])


def png(n: int = 1) -> bytes:
    return png_image(width=8, height=8, seed=n, note=f"scan {n}")


def tiff(pages: int = 1, mode: str = "L", shade: int = 0) -> bytes:
    """A TIFF of `pages` pages, each a different size (so each PNG page can be told apart)."""
    frames = [Image.new(mode, (20 + 10 * n, 30), shade) for n in range(pages)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "TIFF",
        save_all=True,
        append_images=frames[1:],
        compression="tiff_lzw" if mode != "I;16B" else None,
    )
    return buffer.getvalue()


def tiff_with_a_damaged_page(page: int = 2, pages: int = 3) -> bytes:
    """A TIFF whose page `page` has its first compressed strip overwritten: it opens, and
    pages before it decode, but that page cannot."""
    data = bytearray(tiff(pages))
    with Image.open(io.BytesIO(bytes(data))) as image:
        image.seek(page - 1)
        offset, length = image.tag_v2[273][0], image.tag_v2[279][0]  # StripOffsets, -ByteCounts
    data[offset : offset + length] = b"\xff" * length
    return bytes(data)


def zipped(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=compression)
    return buffer.getvalue()


def upload(client, *files: tuple[str, bytes] | tuple[str, bytes, str], double_entry: bool = False):
    """POST files to the upload page (encoded in memory: the test client's own encoder
    spools large bodies to a temporary file it never closes)."""
    data = MultiDict(
        [
            (
                "files",
                FileStorage(
                    io.BytesIO(content),
                    name,
                    content_type=kind[0] if kind else "application/octet-stream",
                ),
            )
            for name, content, *kind in files
        ]
    )
    if double_entry:
        data.add("double_entry", "y")
    boundary, body = encode_multipart(data)
    return client.post(
        "/documents/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def upload_raw(client, *dispositions: tuple[str, bytes]):
    """A multipart body written by hand, for file names the test client cannot quote."""
    boundary = "portal-test-boundary-7f3a"
    body = b""
    for params, content in dispositions:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; {params}\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return client.post(
        "/documents/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


RESULT_ROW = re.compile(
    r'<tr class="table-(success|danger)">\s*<td>(.*?)</td>\s*<td>(.*?)</td>', re.S
)


def results(response) -> list[tuple[bool, str, str]]:
    """The per-file report of the upload page: (stored?, name, message), unescaped."""
    page = response.get_data(as_text=True)
    return [
        (
            kind == "success",
            html.unescape(name),
            html.unescape(re.sub(r"<[^>]+>", "", message)).strip(),
        )
        for kind, name, message in RESULT_ROW.findall(page)
    ]


def documents(app) -> list[Document]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Document).order_by(Document.id)))


def stored_files(app) -> list[str]:
    root = Path(app.config["DOCUMENT_STORAGE"])
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_whole(app) -> list[Document]:
    """Every stored file has its row and every row its files, pages included (and no partial
    files)."""
    rows = documents(app)
    assert stored_files(app) == sorted(
        [d.storage_key for d in rows]
        + [page_key(d.storage_key, n) for d in rows for n in range(1, (d.page_count or 0) + 1)]
    )
    for document in rows:
        assert KEY_PATTERN.fullmatch(document.storage_key)
    return rows


def add(app, name: str, content: bytes, double_entry: bool = False) -> int:
    with app.app_context():
        result = docs.add_file(
            IncomingFile(name, content),
            get_storage(),
            actor=None,
            max_bytes=app.config["MAX_UPLOAD_MB"] * 1_048_576,
            double_entry=double_entry,
        )
        assert result.ok, result.error
        return result.document.id


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.username == username))


def clerks_of(app, document_id: int) -> list[int]:
    with app.app_context():
        return sorted(
            db.session.scalars(
                sa.select(Assignment.clerk_id).where(Assignment.document_id == document_id)
            )
        )


def status_of(app, document_id: int) -> str:
    with app.app_context():
        return db.session.get(Document, document_id).status


@pytest.fixture
def admin(app, users):
    return login(app, "admin")


@pytest.fixture
def clerks(app, make_user, users) -> dict[str, int]:
    """Three clerks (plus the admin, reviewer and clerk of `users`): ids by username."""
    names = ["ann", "bob", "cy"]
    for name in names:
        make_user(name, "clerk")
    return {name: user_id(app, name) for name in names}


# --- web upload ------------------------------------------------------------------------------


def test_upload_page_is_a_multi_file_form(admin):
    page = admin.get("/documents/upload").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    files_input = re.search(r'<input[^>]*name="files"[^>]*>', page).group(0)
    assert "multiple" in files_input and 'type="file"' in files_input
    assert 'name="double_entry"' in page


def test_several_files_at_once(app, admin):
    response = upload(
        admin,
        ("page-1.pdf", pdf(1)),
        ("page-2.pdf", pdf(2)),
        ("scan.png", png()),
        double_entry=True,
    )
    assert response.status_code == 200
    assert [(ok, name) for ok, name, _ in results(response)] == [
        (True, "page-1.pdf"),
        (True, "page-2.pdf"),
        (True, "scan.png"),
    ]
    assert "3 of 3 file(s) stored." in response.get_data(as_text=True)
    rows = assert_whole(app)
    assert [(d.original_name, d.content_type, d.status, d.double_entry) for d in rows] == [
        ("page-1.pdf", "application/pdf", "new", True),
        ("page-2.pdf", "application/pdf", "new", True),
        ("scan.png", "image/png", "new", True),
    ]
    assert rows[0].size_bytes == len(pdf(1)) and len(rows[0].sha256) == 64
    assert rows[0].uploaded_by_id == user_id(app, "admin")


def test_no_file_chosen_is_a_field_error(app, admin):
    response = admin.post("/documents/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose at least one file." in response.get_data(as_text=True)
    assert assert_whole(app) == []


def test_only_the_admin_uploads(app, users):
    for role in ("reviewer", "clerk"):
        client = login(app, role)
        assert upload(client, ("a.pdf", pdf())).status_code == 403
    assert assert_whole(app) == []


def test_a_zip_of_scans_is_unpacked(app, admin):
    archive = zipped(
        {
            "scans/page-1.pdf": pdf(1),
            "scans/page-2.png": png(2),
            "scans/": b"",
            "__MACOSX/scans/._page-1.pdf": b"\x00\x05\x16\x07junk",
        }
    )
    response = upload(admin, ("scans.zip", archive), ("loose.pdf", pdf(3)))
    assert response.status_code == 200, results(response)
    assert [(ok, name) for ok, name, _ in results(response)] == [
        (True, "page-1.pdf"),
        (True, "page-2.png"),
        (True, "loose.pdf"),
    ]
    assert [d.content_type for d in assert_whole(app)] == [
        "application/pdf",
        "image/png",
        "application/pdf",
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("report.pdf", HTML_PAGE),
        ("drawing.pdf", SVG_IMAGE),
        ("drawing.svg", SVG_IMAGE),
        ("notes.pdf", b"just some text"),
    ],
)
def test_html_or_svg_renamed_pdf_is_refused(app, admin, name, content):
    # The browser's claim (application/pdf) counts for nothing either.
    response = upload(admin, (name, content, "application/pdf"), ("ok.pdf", pdf()))
    assert response.status_code == 422
    (bad_ok, bad_name, message), (good_ok, _, _) = results(response)
    assert (bad_ok, bad_name, good_ok) == (False, name, True)
    assert "not a PDF, PNG, JPEG or TIFF" in message and "content" in message
    assert [d.original_name for d in assert_whole(app)] == ["ok.pdf"]


def test_a_pdf_renamed_png_is_stored_as_pdf(app, admin):
    response = upload(admin, ("photo.png", pdf()))
    assert response.status_code == 200
    (document,) = assert_whole(app)
    assert document.content_type == "application/pdf"
    assert document.original_name == "photo.png" and document.storage_key.endswith(".pdf")
    served = admin.get(f"/documents/{document.id}/file")
    assert served.mimetype == "application/pdf"


def test_other_accepted_types_by_their_magic_bytes(app, admin):
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
    tiff_le, tiff_be = tiff(1), tiff(1, "I;16B")
    assert (tiff_le[:4], tiff_be[:4]) == (b"II*\x00", b"MM\x00*")
    response = upload(admin, ("a.bin", jpeg), ("b", tiff_le), ("c.tiff", tiff_be))
    assert response.status_code == 200, results(response)
    assert [(d.content_type, d.storage_key[-3:]) for d in assert_whole(app)] == [
        ("image/jpeg", "jpg"),
        ("image/tiff", "tif"),
        ("image/tiff", "tif"),
    ]


def test_an_empty_file_is_refused(app, admin):
    response = upload(admin, ("empty.pdf", b""), ("ok.pdf", pdf()))
    assert response.status_code == 422
    assert results(response)[0] == (False, "empty.pdf", "The file is empty (0 bytes).")
    assert [d.original_name for d in assert_whole(app)] == ["ok.pdf"]


def test_a_file_over_the_limit_is_reported_and_the_others_stored(app, admin):
    app.config["MAX_UPLOAD_MB"] = 1
    big = pdf() + b"%" + b"0" * 1_100_000
    response = upload(admin, ("first.pdf", pdf(1)), ("huge.pdf", big), ("last.pdf", pdf(2)))
    assert response.status_code == 422
    report = results(response)
    assert [(ok, name) for ok, name, _ in report] == [
        (True, "first.pdf"),
        (False, "huge.pdf"),
        (True, "last.pdf"),
    ]
    assert "larger than the upload limit of 1 MB" in report[1][2]
    assert "document #" in report[0][2] and "document #" in report[2][2]
    assert "2 of 3 file(s) stored." in response.get_data(as_text=True)
    assert [d.original_name for d in assert_whole(app)] == ["first.pdf", "last.pdf"]


def test_a_request_over_the_limit_gets_a_friendly_413_and_stores_nothing(app, admin):
    app.config["MAX_UPLOAD_MB"] = 1
    app.config["MAX_CONTENT_LENGTH"] = 1_048_576
    half = b"0" * 700_000
    response = upload(admin, ("a.pdf", pdf(1) + half), ("b.pdf", pdf(2) + half))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "navbar" in page and "</html>" in page  # the site's layout, not a bare error
    assert "larger than 1 MB, so nothing was stored" in page
    assert "each may be up to 1 MB" in page
    assert assert_whole(app) == []
    assert admin.get("/documents/upload").status_code == 200  # the session still works


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../app.py", "app.py"),
        ("..\\..\\config.py", "config.py"),
        ("/etc/passwd", "passwd"),
        ("CON.pdf", "CON.pdf"),
        ("NUL", "NUL"),
        ("..", "unnamed"),
        (".hidden.pdf", "hidden.pdf"),
        ("📄 Taufregister 1902 😀.pdf", "📄 Taufregister 1902 😀.pdf"),
        ("<img src=x onerror=alert(1)>.pdf", "<img src=x onerror=alert(1)>.pdf"),
    ],
)
def test_odd_file_names_are_kept_as_metadata_only(app, admin, name, kept):
    response = upload(admin, (name, pdf()))
    assert response.status_code == 200, results(response)
    (document,) = assert_whole(app)
    assert document.original_name == kept
    assert kept not in stored_files(app)  # the file lives under its generated key only
    root = Path(app.config["DOCUMENT_STORAGE"])
    assert not (root.parent / "app.py").exists() and not (root.parent / "config.py").exists()
    for page in (response, admin.get("/documents/"), admin.get(f"/documents/{document.id}")):
        text = page.get_data(as_text=True)
        assert str(escape(kept)) in text
        if "<" in kept:
            assert kept not in text  # shown escaped, never as markup


def test_a_300_character_name_is_shortened_keeping_its_extension(app, admin):
    response = upload(admin, ("x" * 300 + ".pdf", pdf(1)), ("😀" * 300 + ".png", png(1)))
    assert response.status_code == 200, results(response)
    first, second = assert_whole(app)
    assert len(first.original_name) == 255 and first.original_name.endswith("….pdf")
    assert len(second.original_name) == 255 and second.original_name.startswith("😀😀")
    assert second.original_name.endswith(".png")


def test_names_with_quotes_and_newlines_are_cleaned_and_escaped(app, admin):
    response = upload_raw(
        admin,
        ('filename="say \\"hi\\" & \'bye\'.pdf"', pdf(1)),  # curl-style escaped quotes
        ("filename*=UTF-8''line%0Abreak%0D%0Aend%09tab%22q%22.pdf", pdf(2)),  # RFC 5987
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    first, second = assert_whole(app)
    assert first.original_name == "say \"hi\" & 'bye'.pdf"
    assert second.original_name == 'line break end tab"q".pdf'  # control characters: spaces
    page = response.get_data(as_text=True)
    assert str(escape(first.original_name)) in page
    for document in (first, second):
        disposition = admin.get(f"/documents/{document.id}/file").headers["Content-Disposition"]
        assert "\n" not in disposition and "\r" not in disposition
        ascii_name = re.search(r'filename="([^"]*)"', disposition).group(1)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", ascii_name)


def test_a_second_upload_of_the_same_file_names_the_existing_document(app, admin):
    assert upload(admin, ("original.pdf", pdf())).status_code == 200
    (original,) = documents(app)
    response = upload(admin, ("copy.pdf", pdf()), ("other.pdf", pdf(2)))
    assert response.status_code == 422
    ok, name, message = results(response)[0]
    assert (ok, name) == (False, "copy.pdf")
    assert message == f"Already uploaded as document #{original.id} (original.pdf)."
    assert [d.original_name for d in assert_whole(app)] == ["original.pdf", "other.pdf"]


def test_the_same_file_twice_in_one_batch_is_stored_once(app, admin):
    response = upload(admin, ("a.pdf", pdf()), ("b.pdf", pdf()))
    assert [ok for ok, _, _ in results(response)] == [True, False]
    assert "Already uploaded as document #" in results(response)[1][2]
    assert len(assert_whole(app)) == 1


# --- zip archives ----------------------------------------------------------------------------


def _bomb() -> bytes:
    return zipped({"ok.pdf": pdf(9), "bomb.pdf": b"%PDF-" + b"\0" * 2_000_000})


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        (zipped({"ok.pdf": pdf(9), "../evil.pdf": pdf(8)}), "points outside the archive"),
        (zipped({"ok.pdf": pdf(9), "scans/../../evil.pdf": pdf(8)}), "points outside the archive"),
        (zipped({"ok.pdf": pdf(9), "/etc/evil.pdf": pdf(8)}), "points outside the archive"),
        (zipped({"ok.pdf": pdf(9), "C:\\evil.pdf": pdf(8)}), "points outside the archive"),
        (zipped({"ok.pdf": pdf(9), "..\\evil.pdf": pdf(8)}), "points outside the archive"),
        (_bomb(), "compression ratio over 100"),
        (b"PK\x03\x04 this is not really a zip", "not a readable zip archive"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "drive", "backslash", "bomb", "broken"],
)
def test_unsafe_zips_are_refused_before_anything_is_extracted(
    app, admin, monkeypatch, archive, reason
):
    def no_extraction(*args, **kwargs):
        raise AssertionError("an entry was extracted from an unsafe archive")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_extraction)
    response = upload(admin, ("scans.zip", archive))
    assert response.status_code == 422
    ((ok, name, message),) = results(response)
    assert (ok, name) == (False, "scans.zip")
    assert reason in message
    if "readable" not in reason:
        assert "nothing was extracted" in message
    assert assert_whole(app) == []  # not even the safe entry


def test_a_zip_entry_over_the_limit_refuses_the_archive(app, admin):
    app.config["MAX_UPLOAD_MB"] = 1
    noise = random.Random(5).randbytes(700_000).hex().encode()  # 1.4 MB, packs about 2:1
    archive = zipped({"ok.pdf": pdf(1), "big.pdf": pdf(2) + noise})
    assert len(archive) < 1_048_576
    response = upload(admin, ("big.zip", archive))
    assert response.status_code == 422
    message = results(response)[0][2]
    assert "the entry 'big.pdf' is larger than the upload limit" in message
    assert assert_whole(app) == []


def test_a_zip_over_the_limit_is_reported_as_too_large(app, admin):
    app.config["MAX_UPLOAD_MB"] = 1
    noise = random.Random(6).randbytes(1_200_000)  # does not compress
    archive = zipped({"ok.pdf": pdf(1), "noise.pdf": pdf(2) + noise}, zipfile.ZIP_STORED)
    response = upload(admin, ("huge.zip", archive), ("ok.pdf", pdf(3)))
    assert response.status_code == 422
    assert results(response)[0] == (
        False,
        "huge.zip",
        "huge.zip: The file is larger than the upload limit of 1 MB.",
    )
    assert [d.original_name for d in assert_whole(app)] == ["ok.pdf"]


def test_bad_files_inside_a_zip_are_reported_one_by_one(app, admin):
    archive = zipped(
        {
            "good.pdf": pdf(1),
            "page.html": HTML_PAGE,
            "empty.pdf": b"",
            "inner.zip": zipped({"deep.png": png(4)}),
        }
    )
    response = upload(admin, ("batch.zip", archive))
    assert [(ok, name) for ok, name, _ in results(response)] == [
        (True, "good.pdf"),
        (False, "page.html"),
        (False, "empty.pdf"),
        (True, "deep.png"),
    ]
    assert [d.original_name for d in assert_whole(app)] == ["good.pdf", "deep.png"]


# --- nothing half-stored when storage or the database fails ----------------------------------


def test_a_storage_failure_leaves_no_row(app, admin, monkeypatch):
    from app.storage import FolderStorage, StorageError

    def refuse(self, key, data, content_type):
        raise StorageError("could not write the document: No space left on device")

    monkeypatch.setattr(FolderStorage, "put", refuse)
    response = upload(admin, ("a.pdf", pdf()))
    assert response.status_code == 422
    assert "No space left on device" in results(response)[0][2]
    assert assert_whole(app) == []


def test_a_database_failure_leaves_no_file(app, admin, monkeypatch):
    from sqlalchemy.exc import OperationalError

    with app.app_context():
        session_class = type(db.session())  # the Session class, not the scoped proxy
    real_commit = session_class.commit
    failed = []

    def commit(session):
        if not failed and any(isinstance(o, Document) for o in session.new):
            failed.append(True)  # the first document row only
            raise OperationalError("INSERT", {}, Exception("server has gone away"))
        return real_commit(session)

    monkeypatch.setattr(session_class, "commit", commit)
    response = upload(admin, ("a.pdf", pdf(1)), ("b.pdf", pdf(2)))
    assert [ok for ok, _, _ in results(response)] == [False, True]
    assert "nothing was kept" in results(response)[0][2]
    assert [d.original_name for d in assert_whole(app)] == ["b.pdf"]


def test_a_failed_cleanup_is_logged_not_a_crash(app, admin, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    from app.storage import FolderStorage, StorageError

    with app.app_context():
        session_class = type(db.session())
    real_commit = session_class.commit

    def commit(session):
        if any(isinstance(o, Document) for o in session.new):  # the upload's, not the login's
            raise OperationalError("INSERT", {}, Exception("server has gone away"))
        return real_commit(session)

    def undeletable(self, key):
        raise StorageError("could not delete the document: Permission denied")

    monkeypatch.setattr(session_class, "commit", commit)
    monkeypatch.setattr(FolderStorage, "delete", undeletable)
    response = upload(admin, ("a.pdf", pdf()))
    assert response.status_code == 422 and "nothing was kept" in results(response)[0][2]
    assert "has no row and could not be deleted" in caplog.text  # for the operator to clear


# --- serving the files -----------------------------------------------------------------------


def add_for_ann(app, clerks, name: str, data: bytes) -> int:
    """Store a document and assign it to the clerk ann."""
    document_id = add(app, name, data)
    with app.app_context():
        docs.assign(
            [db.session.get(Document, document_id)],
            [db.session.get(User, clerks["ann"])],
            actor=None,
        )
    return document_id


@pytest.fixture
def assigned_pdf(app, users, clerks):
    """A PDF with a non-ASCII name, assigned to ann."""
    return add_for_ann(app, clerks, "Kirchenbuch Straße 😀.pdf", pdf())


@pytest.mark.parametrize(
    ("username", "status"),
    [("admin", 200), ("reviewer", 200), ("ann", 200), ("bob", 404), ("clerk", 404)],
)
def test_only_staff_and_the_assigned_clerks_get_the_file(app, assigned_pdf, username, status):
    response = login(app, username).get(f"/documents/{assigned_pdf}/file")
    assert response.status_code == status
    if status == 200:
        assert response.data == pdf()
    else:
        assert response.data != pdf() and b"%PDF" not in response.data


def test_anonymous_and_unknown_ids_get_no_file(app, assigned_pdf, client):
    response = client.get(f"/documents/{assigned_pdf}/file")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(app, "admin").get("/documents/99999/file").status_code == 404


def test_the_file_is_served_safely(app, assigned_pdf):
    response = login(app, "ann").get(f"/documents/{assigned_pdf}/file")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'self'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline; ")
    assert 'filename="Kirchenbuch_Strae_.pdf"' in disposition
    assert "filename*=UTF-8''Kirchenbuch%20Stra%C3%9Fe%20%F0%9F%98%80.pdf" in disposition
    disposition.encode("latin-1")  # a header must be plain bytes


def test_an_image_keeps_its_stored_type(app, users):
    document_id = add(app, "scan.PNG", png())
    response = login(app, "reviewer").get(f"/documents/{document_id}/file")
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith('inline; filename="scan.PNG"')


def test_a_name_without_ascii_letters_still_gets_a_file_name(app, users):
    document_id = add(app, "документ.pdf", pdf())
    disposition = (
        login(app, "admin").get(f"/documents/{document_id}/file").headers["Content-Disposition"]
    )
    assert f'filename="document-{document_id}.pdf"' in disposition
    assert "filename*=UTF-8''%D0%B4%D0%BE%D0%BA" in disposition


def test_a_file_missing_from_storage_is_a_404_not_a_crash(app, users):
    document_id = add(app, "gone.pdf", pdf())
    for path in Path(app.config["DOCUMENT_STORAGE"]).rglob("*.pdf"):
        path.unlink()
    assert login(app, "admin").get(f"/documents/{document_id}/file").status_code == 404


# --- TIFF pages ------------------------------------------------------------------------------


def page_sizes(client, document_id: int, count: int) -> list[tuple[int, int]]:
    sizes = []
    for number in range(1, count + 1):
        response = client.get(f"/documents/{document_id}/pages/{number}.png")
        assert response.status_code == 200 and response.mimetype == "image/png"
        with Image.open(io.BytesIO(response.data)) as image:
            assert image.format == "PNG"
            sizes.append(image.size)
    return sizes


def test_a_multi_page_tiff_is_stored_with_a_png_per_page(app, admin):
    response = upload(admin, ("register.tif", tiff(3)), ("scan.tiff", tiff(1, "RGB", 90)))
    assert response.status_code == 200, results(response)
    multi, single = assert_whole(app)
    assert (multi.page_count, single.page_count) == (3, 1)
    assert page_sizes(admin, multi.id, 3) == [(20, 30), (30, 30), (40, 30)]
    assert page_sizes(admin, single.id, 1) == [(20, 30)]
    assert admin.get(f"/documents/{multi.id}/file").data == tiff(3)  # the original is kept


def test_every_way_in_makes_the_pages(app, admin, runner, tmp_path):
    upload(admin, ("batch.zip", zipped({"inside.tif": tiff(2)})))
    (tmp_path / "cli.tif").write_bytes(tiff(4, "RGB", 200))
    result = runner.invoke(args=["documents", "add", str(tmp_path / "cli.tif")])
    assert result.exit_code == 0, result.output
    assert [(d.original_name, d.page_count) for d in assert_whole(app)] == [
        ("inside.tif", 2),
        ("cli.tif", 4),
    ]


def test_pdf_and_png_documents_have_no_pages(app, admin):
    upload(admin, ("a.pdf", pdf()), ("b.png", png()))
    rows = assert_whole(app)
    assert [d.page_count for d in rows] == [None, None]
    for document in rows:
        assert admin.get(f"/documents/{document.id}/pages/1.png").status_code == 404


@pytest.fixture
def assigned_tiff(app, users, clerks):
    return add_for_ann(app, clerks, "Kirchenbuch Straße.tif", tiff(3))


@pytest.mark.parametrize(
    ("username", "status"),
    [("admin", 200), ("reviewer", 200), ("ann", 200), ("bob", 404), ("clerk", 404)],
)
def test_pages_have_the_same_access_as_the_file(app, assigned_tiff, username, status):
    client = login(app, username)
    for number in (1, 3):
        response = client.get(f"/documents/{assigned_tiff}/pages/{number}.png")
        assert response.status_code == status
        assert (response.data.startswith(b"\x89PNG")) == (status == 200)


def test_pages_outside_the_document_and_strangers_get_nothing(app, assigned_tiff, client):
    response = client.get(f"/documents/{assigned_tiff}/pages/1.png")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    admin = login(app, "admin")
    for number in (0, 4, 99999999999):
        assert admin.get(f"/documents/{assigned_tiff}/pages/{number}.png").status_code == 404
    assert admin.get(f"/documents/{assigned_tiff}/pages/-1.png").status_code == 404
    assert admin.get("/documents/99999/pages/1.png").status_code == 404


def test_a_page_is_served_as_safely_as_the_file(app, assigned_tiff):
    response = login(app, "ann").get(f"/documents/{assigned_tiff}/pages/2.png")
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('inline; filename="Kirchenbuch_Strae_page_2.png"')
    assert "filename*=UTF-8''Kirchenbuch%20Stra%C3%9Fe%20%28page%202%29.png" in disposition


def test_a_damaged_tiff_is_refused_and_nothing_is_stored(app, admin):
    truncated = tiff(3)[:300]
    response = upload(
        admin,
        ("damaged.tif", tiff_with_a_damaged_page(2)),
        ("truncated.tif", truncated),
        ("ok.pdf", pdf()),
    )
    assert response.status_code == 422
    assert results(response)[:2] == [
        (
            False,
            "damaged.tif",
            (
                "This TIFF file is damaged or incomplete: page 2 cannot be read "
                "(decoder error -2). Nothing was stored."
            ),
        ),
        (False, "truncated.tif", results(response)[1][2]),
    ]
    assert results(response)[1][2] == (
        "This TIFF file is damaged or incomplete: it ends before its last page. Nothing was stored."
    )
    assert [d.original_name for d in assert_whole(app)] == ["ok.pdf"]
    assert not any(name.endswith(".png") for name in stored_files(app))  # page 1 removed


def test_a_storage_failure_on_a_page_leaves_nothing(app, admin, monkeypatch):
    from app.storage import FolderStorage, StorageError

    real_put = FolderStorage.put

    def full_after_two(self, key, data, content_type):
        if key.endswith("-p3.png"):
            raise StorageError("could not write the document: No space left on device")
        real_put(self, key, data, content_type)

    monkeypatch.setattr(FolderStorage, "put", full_after_two)
    response = upload(admin, ("long.tif", tiff(4)))
    assert response.status_code == 422
    assert "No space left on device" in results(response)[0][2]
    assert assert_whole(app) == [] and stored_files(app) == []


def test_a_tiff_with_too_many_pages_is_refused(app, admin, monkeypatch):
    from app.services import tiff as tiff_module

    monkeypatch.setattr(tiff_module, "TIFF_MAX_PAGES", 2)
    response = upload(admin, ("long.tif", tiff(3)))
    assert results(response) == [
        (
            False,
            "long.tif",
            (
                "This TIFF has more than 2 pages; at most "
                "2 are accepted in one file. Split it and upload the parts."
            ),
        )
    ]
    assert assert_whole(app) == []


def _as_before_pages(app, document_id: int, original: bytes | None = None) -> None:
    """Make a stored TIFF look as one stored before this feature: no pages, no page count."""
    with app.app_context():
        document = db.session.get(Document, document_id)
        storage = get_storage()
        for number in range(1, document.page_count + 1):
            storage.delete(page_key(document.storage_key, number))
        if original is not None:
            storage.put(document.storage_key, original, "image/tiff")
        document.page_count = None
        db.session.commit()


def test_cli_pages_makes_the_pages_of_older_tiffs(app, runner, users):
    old = add(app, "old.tif", tiff(2))
    broken = add(app, "broken.tif", tiff(3, shade=50))
    add(app, "a.pdf", pdf())
    _as_before_pages(app, old)
    _as_before_pages(app, broken, original=tiff_with_a_damaged_page(3))
    viewer = login(app, "admin").get(f"/documents/{old}").get_data(as_text=True)
    assert "flask documents pages" in viewer and 'data-kind="unpaged"' in viewer
    result = runner.invoke(args=["documents", "pages"])
    assert result.exit_code == 1, result.output
    assert f"pages    #{old} old.tif: 2 page(s)" in result.output
    assert f"failed   #{broken} broken.tif: This TIFF file is damaged" in result.output
    assert "1 of 2 TIFF document(s) without pages now have them." in result.output
    with app.app_context():
        assert db.session.get(Document, old).page_count == 2
        assert db.session.get(Document, broken).page_count is None
    assert page_sizes(login(app, "admin"), old, 2) == [(20, 30), (30, 30)]
    assert not any(
        "-p" in name and name.startswith(documents(app)[1].storage_key[:32])
        for name in stored_files(app)
    )  # no page of the broken one left behind


def test_the_viewer_names_the_document_and_its_pages(app, admin):
    upload(admin, ("a.pdf", pdf()), ("b.png", png()), ("c.tif", tiff(2)))
    a, b, c = (d.id for d in assert_whole(app))
    shown = {}
    for document_id in (a, b, c):
        page = admin.get(f"/documents/{document_id}").get_data(as_text=True)
        shown[document_id] = re.search(
            r'<section[^>]*id="document-viewer"[^>]*>', page, re.S
        ).group(0)
        assert f'data-src="/documents/{document_id}/file"' in shown[document_id]
        assert f'href="/documents/{document_id}/file"' in page  # "Original" link
        assert 'src="/static/js/viewer.js"' in page
    assert 'data-kind="pdf"' in shown[a] and 'data-kind="image"' in shown[b]
    assert 'data-kind="pages"' in shown[c] and 'data-pages="2"' in shown[c]
    assert f'data-page-url="/documents/{c}/pages/{{n}}.png"' in shown[c]
    assert f'data-user-id="{user_id(app, "admin")}"' in shown[c]
    page = admin.get(f"/documents/{c}").get_data(as_text=True)
    assert f'<img id="viewer-image" alt="c.tif, page 1" src="/documents/{c}/pages/1.png">' in page


# --- assignment ------------------------------------------------------------------------------


def assign(client, document_ids, clerk_ids, follow=True):
    return client.post(
        "/documents/assign",
        data={"document_id": list(document_ids), "clerk_id": list(clerk_ids)},
        follow_redirects=follow,
    )


def test_assign_to_one_clerk(app, admin, clerks):
    document_id = add(app, "a.pdf", pdf())
    response = assign(admin, [document_id], [clerks["ann"]], follow=False)
    assert response.status_code == 303
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 assignment(s) made over 1 clerk(s)." in page
    assert clerks_of(app, document_id) == [clerks["ann"]]
    assert status_of(app, document_id) == "assigned"
    assert "a.pdf" in login(app, "ann").get("/work/").get_data(as_text=True)
    admin_id = user_id(app, "admin")
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "assign")).one()
    assert event.actor_id == admin_id and event.document_id == document_id


def test_a_batch_is_spread_evenly(app, admin, clerks):
    ids = [add(app, f"p{n}.pdf", pdf(n)) for n in range(7)]
    assign(admin, ids, clerks.values())
    load = dict.fromkeys(clerks.values(), 0)
    for document_id in ids:
        (clerk_id,) = clerks_of(app, document_id)
        load[clerk_id] += 1
    assert sorted(load.values()) == [2, 2, 3]
    more = [add(app, f"q{n}.pdf", pdf(100 + n)) for n in range(2)]  # the lighter two get them
    assign(admin, more, clerks.values())
    with app.app_context():
        counts = dict(
            db.session.execute(
                sa.select(Assignment.clerk_id, sa.func.count()).group_by(Assignment.clerk_id)
            ).all()
        )
    assert sorted(counts.values()) == [3, 3, 3]


def test_assigning_again_keeps_the_clerk(app, admin, clerks):
    document_id = add(app, "a.pdf", pdf())
    assign(admin, [document_id], [clerks["ann"]])
    page = assign(admin, [document_id], [clerks["bob"]]).get_data(as_text=True)
    assert "0 assignment(s)" in page
    assert clerks_of(app, document_id) == [clerks["ann"]]


def test_assign_needs_documents_and_clerks(app, admin, clerks, users):
    document_id = add(app, "a.pdf", pdf())
    assert "Select at least one document." in assign(admin, [], [clerks["ann"]]).get_data(
        as_text=True
    )
    page = assign(admin, [document_id], [user_id(app, "reviewer")]).get_data(as_text=True)
    assert "Choose at least one clerk." in page
    assert clerks_of(app, document_id) == [] and status_of(app, document_id) == "new"


def test_reassign(app, admin, clerks):
    document_id = add(app, "a.pdf", pdf())
    assign(admin, [document_id], [clerks["ann"]])
    response = admin.post(
        f"/documents/{document_id}/reassign",
        follow_redirects=True,
        data={"from_clerk_id": clerks["ann"], "to_clerk_id": clerks["bob"]},
    )
    assert "Reassigned to bob." in response.get_data(as_text=True)
    assert clerks_of(app, document_id) == [clerks["bob"]]
    assert login(app, "ann").get(f"/documents/{document_id}/file").status_code == 404
    assert login(app, "bob").get(f"/documents/{document_id}/file").status_code == 200


def test_reassign_refusals(app, admin, clerks, users):
    document_id = add(app, "a.pdf", pdf())
    assign(admin, [document_id], [clerks["ann"]])
    for data, message in [
        ({"from_clerk_id": clerks["bob"], "to_clerk_id": clerks["cy"]}, "not assigned"),
        (
            {"from_clerk_id": clerks["ann"], "to_clerk_id": user_id(app, "reviewer")},
            "only go to an active clerk",
        ),
        ({"from_clerk_id": clerks["ann"], "to_clerk_id": clerks["ann"]}, "already has"),
        ({"from_clerk_id": clerks["ann"]}, "Choose the clerk"),
    ]:
        page = admin.post(
            f"/documents/{document_id}/reassign", data=data, follow_redirects=True
        ).get_data(as_text=True)
        assert message in page
    assert clerks_of(app, document_id) == [clerks["ann"]]


def test_unassign(app, admin, clerks):
    document_id = add(app, "a.pdf", pdf())
    assign(admin, [document_id], [clerks["ann"]])
    page = admin.post(
        f"/documents/{document_id}/unassign",
        data={"clerk_id": clerks["ann"]},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Unassigned." in page
    assert clerks_of(app, document_id) == [] and status_of(app, document_id) == "new"
    assert login(app, "ann").get(f"/work/documents/{document_id}").status_code == 404
    page = admin.post(
        f"/documents/{document_id}/unassign",
        data={"clerk_id": clerks["ann"]},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "That clerk is not assigned to this document." in page


def test_double_entry_gets_two_different_clerks(app, admin, clerks):
    ids = [add(app, f"d{n}.pdf", pdf(n), double_entry=True) for n in range(3)]
    assign(admin, ids, clerks.values())
    for document_id in ids:
        assigned = clerks_of(app, document_id)
        assert len(assigned) == 2 and len(set(assigned)) == 2
    with app.app_context():
        counts = dict(
            db.session.execute(
                sa.select(Assignment.clerk_id, sa.func.count()).group_by(Assignment.clerk_id)
            ).all()
        )
    assert sorted(counts.values()) == [2, 2, 2]


def test_double_entry_refuses_a_single_clerk(app, admin, clerks):
    single = add(app, "single.pdf", pdf(1))
    double = add(app, "double.pdf", pdf(2), double_entry=True)
    page = assign(admin, [single, double], [clerks["ann"]]).get_data(as_text=True)
    assert "A double-entry document needs two different clerks" in page
    assert clerks_of(app, single) == [] and clerks_of(app, double) == []  # all or nothing
    assert status_of(app, double) == "new"


def test_status_moves_and_invalid_moves_are_refused(app, admin, clerks):
    document_id = add(app, "a.pdf", pdf())
    assert status_of(app, document_id) == "new"
    assign(admin, [document_id], [clerks["ann"]])
    assert status_of(app, document_id) == "assigned"
    ann = login(app, "ann")
    saved = ann.post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": "R-1", "integer_column": "1"},
    )
    assert saved.status_code == 303
    assert status_of(app, document_id) == "in_progress"
    assert ann.post(f"/work/documents/{document_id}/submit").status_code == 303
    assert status_of(app, document_id) == "submitted"

    page = assign(admin, [document_id], [clerks["bob"]]).get_data(as_text=True)
    assert f"Document #{document_id} is submitted" in page

    page = admin.post(
        f"/documents/{document_id}/unassign",
        data={"clerk_id": clerks["ann"]},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "it cannot be unassigned" in page
    page = admin.post(
        f"/documents/{document_id}/reassign",
        follow_redirects=True,
        data={"from_clerk_id": clerks["ann"], "to_clerk_id": clerks["bob"]},
    ).get_data(as_text=True)
    assert "A submitted document cannot change hands." in page
    page = ann.post(f"/work/documents/{document_id}/submit", follow_redirects=True).get_data(
        as_text=True
    )
    assert "nothing to submit" in page
    assert status_of(app, document_id) == "submitted"
    assert clerks_of(app, document_id) == [clerks["ann"]]


def test_assigning_a_started_document_names_its_status(app, admin, clerks):
    document_id = add(app, "a.pdf", pdf())
    assign(admin, [document_id], [clerks["ann"]])
    saved = login(app, "ann").post(
        f"/data/testDB/new?document={document_id}",
        data={"string_column": "R-1", "integer_column": "1"},
    )
    assert saved.status_code == 303
    page = assign(admin, [document_id], [clerks["bob"]]).get_data(as_text=True)
    assert f"Document #{document_id} is in progress; unassign it" in page
    assert clerks_of(app, document_id) == [clerks["ann"]]


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("new", "submitted"),
        ("new", "approved"),
        ("assigned", "approved"),
        ("submitted", "new"),
        ("approved", "returned"),
        ("approved", "in_progress"),
    ],
)
def test_move_refuses_invalid_transitions(app, start, target):
    document = Document(status=start)
    with pytest.raises(Invalid) as refused:
        docs.move(document, target)
    assert "cannot become" in refused.value.message and document.status == start


def test_move_allows_the_documented_flow():
    document = Document(status="new")
    for target in (
        "assigned",
        "in_progress",
        "submitted",
        "returned",
        "in_progress",
        "submitted",
        "approved",
    ):
        docs.move(document, target)
        assert document.status == target


# --- the admin's document list ---------------------------------------------------------------


def test_document_list_filters_and_counts(app, admin, clerks, monkeypatch):
    ids = [add(app, f"p{n}.pdf", pdf(n)) for n in range(5)]
    with app.app_context():
        docs.assign(
            [db.session.get(Document, i) for i in ids[:2]],
            [db.session.get(User, clerks["ann"])],
            actor=None,
        )
        db.session.add(
            TestDB(string_column="ROW-1", document_id=ids[0], entered_by_id=clerks["ann"])
        )
        db.session.commit()
    page = admin.get("/documents/").get_data(as_text=True)
    assert "new: 3" in page and "assigned: 2" in page
    by_status = admin.get("/documents/?status=assigned").get_data(as_text=True)
    assert "p0.pdf" in by_status and "p1.pdf" in by_status and "p2.pdf" not in by_status
    by_clerk = admin.get(f"/documents/?clerk={clerks['ann']}").get_data(as_text=True)
    assert "p0.pdf" in by_clerk and "p4.pdf" not in by_clerk
    row = re.search(r"p0\.pdf.*?</tr>", page, re.S).group(0)
    assert "ann" in row and "<td>1</td>" in row

    monkeypatch.setattr(document_routes, "PAGE_SIZE", 2)
    first = admin.get("/documents/").get_data(as_text=True)
    third = admin.get("/documents/?page=3").get_data(as_text=True)
    assert "p0.pdf" in first and "p2.pdf" not in first
    assert "p4.pdf" in third and "p0.pdf" not in third


def test_document_detail_shows_clerks_and_rows(app, admin, clerks):
    document_id = add(app, "a.pdf", pdf())
    assign(admin, [document_id], [clerks["ann"]])
    page = admin.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "ann · assigned" in page
    assert f'src="/documents/{document_id}/file"' in page
    assert login(app, "reviewer").get(f"/documents/{document_id}").status_code == 200
    assert login(app, "ann").get(f"/documents/{document_id}").status_code == 403


# --- flask documents add / list --------------------------------------------------------------


def test_cli_adds_files_folders_and_zips(app, runner, tmp_path, clerks):
    folder = tmp_path / "trove"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.pdf").write_bytes(pdf(1))
    (folder / "sub" / "two.png").write_bytes(png(2))
    (folder / ".DS_Store").write_bytes(b"junk")
    single = tmp_path / "three.pdf"
    single.write_bytes(pdf(3))
    archive = tmp_path / "scans.zip"
    archive.write_bytes(zipped({"four.pdf": pdf(4), "five.pdf": pdf(5)}))
    result = runner.invoke(
        args=[
            "documents",
            "add",
            str(folder),
            str(single),
            str(archive),
            "--assign",
            "ann",
            "--assign",
            "bob",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "5 of 5 file(s) stored." in result.output
    assert "assigned: 5 assignment(s) over 2 clerk(s)" in result.output
    rows = assert_whole(app)
    assert sorted(d.original_name for d in rows) == [
        "five.pdf",
        "four.pdf",
        "one.pdf",
        "three.pdf",
        "two.png",
    ]
    assert all(d.status == "assigned" for d in rows)
    loads = [
        len([d for d in rows if clerks_of(app, d.id) == [c]])
        for c in (clerks["ann"], clerks["bob"])
    ]
    assert sorted(loads) == [2, 3]
    listing = runner.invoke(args=["documents", "list"])
    assert listing.exit_code == 0 and "assigned" in listing.output
    assert all(d.original_name in listing.output for d in rows)


def test_cli_reports_refused_files_and_exits_non_zero(app, runner, tmp_path):
    (tmp_path / "good.pdf").write_bytes(pdf(1))
    (tmp_path / "page.pdf").write_bytes(HTML_PAGE)
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "bomb.zip").write_bytes(_bomb())
    result = runner.invoke(args=["documents", "add", str(tmp_path)])
    assert result.exit_code == 1
    assert "refused  bomb.zip: " in result.output and "zip bomb" in result.output
    assert "refused  empty.pdf: The file is empty" in result.output
    assert "refused  page.pdf: This is not a PDF" in result.output
    assert "stored   good.pdf as document #" in result.output
    assert "1 of 4 file(s) stored." in result.output
    assert [d.original_name for d in assert_whole(app)] == ["good.pdf"]
    again = runner.invoke(args=["documents", "add", str(tmp_path / "good.pdf")])
    assert again.exit_code == 1 and "Already uploaded as document #" in again.output


def test_cli_file_over_the_limit(app, runner, tmp_path):
    app.config["MAX_UPLOAD_MB"] = 1
    (tmp_path / "big.pdf").write_bytes(pdf() + b"0" * 1_200_000)
    (tmp_path / "small.pdf").write_bytes(pdf(2))
    result = runner.invoke(args=["documents", "add", str(tmp_path)])
    assert result.exit_code == 1 and "larger than the upload limit of 1 MB" in result.output
    assert [d.original_name for d in assert_whole(app)] == ["small.pdf"]


def test_cli_odd_names(app, runner, tmp_path):
    odd = tmp_path / "say \"hi\"\nnext line 😀 'q'.pdf"
    odd.write_bytes(pdf())
    result = runner.invoke(args=["documents", "add", str(odd)])
    assert result.exit_code == 0, result.output
    (document,) = assert_whole(app)
    assert document.original_name == "say \"hi\" next line 😀 'q'.pdf"


def test_cli_double_entry(app, runner, tmp_path, clerks):
    for n in range(2):
        (tmp_path / f"d{n}.pdf").write_bytes(pdf(n))
    result = runner.invoke(
        args=[
            "documents",
            "add",
            str(tmp_path),
            "--double-entry",
            "--assign",
            "ann",
            "--assign",
            "bob",
        ]
    )
    assert result.exit_code == 0, result.output
    for document in assert_whole(app):
        assert document.double_entry
        assert clerks_of(app, document.id) == sorted([clerks["ann"], clerks["bob"]])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--double-entry", "--assign", "ann"], "two different clerks"),
        (["--double-entry", "--assign", "ann", "--assign", "ann"], "two different clerks"),
        (["--assign", "nobody"], "No user named 'nobody'"),
        (["--assign", "reviewer"], "Only active clerks can be assigned: reviewer"),
    ],
)
def test_cli_refuses_bad_assignments_before_storing_anything(
    app, runner, tmp_path, clerks, args, message
):
    (tmp_path / "a.pdf").write_bytes(pdf())
    result = runner.invoke(args=["documents", "add", str(tmp_path / "a.pdf"), *args])
    assert result.exit_code != 0 and message in result.output
    assert assert_whole(app) == []


def test_cli_missing_path(app, runner, tmp_path):
    (tmp_path / "a.pdf").write_bytes(pdf())
    result = runner.invoke(
        args=["documents", "add", str(tmp_path / "a.pdf"), str(tmp_path / "missing.pdf")]
    )
    assert result.exit_code != 0 and "missing.pdf: no such file or folder." in result.output
    assert assert_whole(app) == []


# --- flask demo ------------------------------------------------------------------------------


def test_demo_refuses_outside_development(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0
    assert "only runs with APP_ENV=development" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    assert assert_whole(app) == []


def test_demo_in_development_creates_users_and_assigned_documents(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("DOCUMENT_STORAGE", str(tmp_path / "documents"))
    for name in ("SECRET_KEY", "MAX_UPLOAD_MB", "MAX_REQUEST_MB"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    try:
        with app.app_context():
            upgrade()
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        logins = dict(
            re.findall(r"^\s+(?:clerk|reviewer)\s+(\S+)\s+password: (\S+)$", result.output, re.M)
        )
        assert len(logins) == 2
        with app.app_context():
            people = {u.username: u.role for u in db.session.scalars(sa.select(User))}
            rows = list(db.session.scalars(sa.select(Document)))
            clerk_id = db.session.scalar(sa.select(User.id).where(User.role == "clerk"))
            assigned = {a.clerk_id for a in db.session.scalars(sa.select(Assignment))}
        assert sorted(people.values()) == ["clerk", "reviewer"] and set(people) == set(logins)
        assert len(rows) >= 3 and all(d.status == "assigned" for d in rows)
        assert {d.content_type for d in rows} == {"application/pdf", "image/png"}
        assert assigned == {clerk_id}
        assert stored_files(app) == sorted(d.storage_key for d in rows)
        clerk_name = next(n for n, r in people.items() if r == "clerk")
        client = app.test_client()  # development keeps CSRF on
        form = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        response = client.post(
            "/login",
            data={"username": clerk_name, "csrf_token": token, "password": logins[clerk_name]},
        )
        assert response.status_code == 303
        assert client.get("/work/next").status_code == 302
    finally:
        with app.app_context():
            db.engine.dispose()
