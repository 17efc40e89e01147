"""Zip archives in uploads (issue 13, finding 6): entries are streamed to storage under a
running byte budget, a zip in a zip in a zip is refused, and damaged or encrypted entries get
a message naming the entry, never a 500. Every test runs on each configured backend."""

from __future__ import annotations

import html
import io
import random
import re
import struct
import tracemalloc
import zipfile

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage, MultiDict

from app.documents.samples import pdf_document
from app.extensions import db
from tests.conftest import PASSWORD

RESULT = re.compile(
    r'<li class="list-group-item[^"]*text-(success|danger)[^"]*"[^>]*>'
    r"(.*?)</li>",
    re.S,
)


@pytest.fixture
def admin(app, users):
    client = app.test_client()
    assert (
        client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
    )
    return client


def compressible(size: int, seed: int, every: int = 300) -> bytes:
    """A PDF-looking file of `size` bytes that deflates about 78:1 (under the ratio limit)."""
    pad = bytes(every - 1)
    body = b"".join(bytes([b]) + pad for b in random.Random(seed).randbytes(size // every))
    return b"%PDF-1.4\n" + body


def zipped(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=compression)
    return buffer.getvalue()


def upload(client, name: str, content: bytes):
    data = MultiDict([("files", FileStorage(io.BytesIO(content), name))])
    return client.post("/documents/upload", data=data, content_type="multipart/form-data")


def messages(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def stored_names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.text("SELECT original_name FROM documents ORDER BY id")))


def test_a_large_entry_is_streamed_not_read_into_memory(app, admin):
    entry = compressible(30_000_000, seed=1)
    archive = zipped({"register.pdf": entry})
    assert len(archive) < 1_000_000  # 30 MB from a zip of well under 1 MB
    del entry
    tracemalloc.start()
    try:
        response = upload(admin, "scans.zip", archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, messages(response)
    assert stored_names(app) == ["register.pdf"]
    assert peak < 8_000_000, f"unpacking took {peak / 1e6:.1f} MB of memory"


def test_the_running_budget_refuses_an_archive_that_unpacks_too_far(app, admin):
    app.config["MAX_UPLOAD_MB"] = 1  # the archive may unpack to 10 MB in all
    entries = {f"page-{n}.pdf": compressible(950_000, seed=n) for n in range(12)}
    archive = zipped(entries)
    response = upload(admin, "many.zip", archive)
    assert response.status_code == 422
    assert "many.zip: the archive unpacks to more than 10 MB" in messages(response)
    assert "nothing was extracted" in messages(response)
    assert stored_names(app) == []


def test_a_zip_inside_a_zip_is_unpacked_but_no_deeper(app, admin):
    one_level = zipped({"inner.zip": zipped({"deep.pdf": pdf_document("Deep", ["1"])})})
    response = upload(admin, "outer.zip", one_level)
    assert response.status_code == 200 and stored_names(app) == ["deep.pdf"]
    two_levels = zipped(
        {
            "a.pdf": pdf_document("A", ["2"]),
            "inner.zip": zipped(
                {"innermost.zip": zipped({"deeper.pdf": pdf_document("Deeper", ["3"])})}
            ),
        }
    )
    response = upload(admin, "nested.zip", two_levels)
    assert response.status_code == 422
    text = messages(response)
    assert "the entry 'innermost.zip' is a zip archive inside a zip inside a zip" in text
    assert stored_names(app) == ["deep.pdf"]


def _encrypted(entries: dict[str, bytes]) -> bytes:
    """A zip whose entries are marked encrypted (Python writes no encrypted zips; the flag is
    what a reader goes by)."""
    data = bytearray(zipped(entries, zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        for match in re.finditer(re.escape(signature), bytes(data)):
            flags = struct.unpack_from("<H", data, match.start() + offset)[0]
            struct.pack_into("<H", data, match.start() + offset, flags | 0x1)
    return bytes(data)


def _bad_crc(name: str, content: bytes) -> bytes:
    data = bytearray(
        zipped({"fine.pdf": pdf_document("Fine", ["4"]), name: content}, zipfile.ZIP_STORED)
    )
    position = bytes(data).rindex(content[-20:])
    data[position] ^= 0xFF  # the stored bytes change, the recorded CRC does not
    return bytes(data)


def _broken_stream(name: str, content: bytes) -> bytes:
    data = bytearray(zipped({name: content}))
    start = 30 + len(name)  # the first local header, then the deflate stream
    for i in range(start, start + 40):
        data[i] = 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    ("archive", "expected"),
    [
        (
            _encrypted({"secret.pdf": pdf_document("Secret", ["5"])}),
            "the entry 'secret.pdf' is encrypted",
        ),
        (
            _bad_crc("checked.pdf", pdf_document("Checked", ["6"])),
            "the entry 'checked.pdf' is damaged (Bad CRC-32)",
        ),
        (
            _broken_stream("broken.pdf", compressible(200_000, seed=7)),
            "the entry 'broken.pdf' is damaged",
        ),
    ],
    ids=["encrypted", "bad-crc", "broken-stream"],
)
def test_damaged_or_encrypted_entries_are_named_not_a_500(app, admin, archive, expected):
    response = upload(admin, "batch.zip", archive)
    assert response.status_code == 422
    text = messages(response)
    assert "batch.zip: " + expected in text and "nothing was extracted" in text
    assert stored_names(app) == []
