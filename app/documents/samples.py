"""Small sample documents made on the spot for `flask demo` (no files shipped, no downloads)."""

from __future__ import annotations

import secrets
import struct
import zlib

from app.services.uploads import IncomingFile

REGISTER_LINES = [
    ("Doe, Jane", "female", 34),
    ("Roe, Richard", "male", 52),
    ("Poe, Edgar", "male", 7),
]


def pdf_document(title: str, lines: list[str]) -> bytes:
    """A one-page PDF with text, written by hand (valid enough for every browser viewer)."""
    text = ["BT", "/F1 16 Tf", "72 760 Td", f"({_escape(title)}) Tj", "/F1 12 Tf"]
    for line in lines:
        text += ["0 -24 Td", f"({_escape(line)}) Tj"]
    text.append("ET")
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_file(objects)


def pdf_file(objects: list[bytes], version: str = "1.4") -> bytes:
    """A PDF made of these numbered objects (object 1 is the catalog), with its xref table."""
    out = bytearray(b"%%PDF-%s\n" % version.encode())
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def png_image(width: int = 240, height: int = 160, seed: int = 0, note: str = "") -> bytes:
    """A striped PNG (pure zlib, no imaging library)."""
    rows = []
    for y in range(height):
        shade = (y * 3 + seed * 40) % 256
        rows.append(b"\x00" + bytes((shade, 255 - shade, (shade + seed * 60) % 256)) * width)
    raw = zlib.compress(b"".join(rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    comment = chunk(b"tEXt", b"Comment\x00" + note.encode("latin-1", "replace"))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + comment
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def sample_files(count: int = 4) -> list[IncomingFile]:
    """A few register pages as PDFs and one scan-like PNG, unique on every call."""
    batch = secrets.token_hex(3)
    files = []
    for page in range(1, count + 1):
        lines = [f"{name}, {sex}, aged {age + page}" for name, sex, age in REGISTER_LINES]
        files.append(
            IncomingFile(
                f"register-page-{page}-{batch}.pdf",
                pdf_document(f"Parish register, page {page} ({batch})", lines),
            )
        )
    files.append(IncomingFile(f"scan-{batch}.png", png_image(seed=int(batch, 16) % 7, note=batch)))
    return files


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
