"""Checking uploaded files: their real type (by content), size, name, zip archives, and the
PNG pages made from a TIFF (browsers cannot show TIFF)."""

from __future__ import annotations

import io
import logging
import re
import struct
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

ACCEPTED = {  # content type -> (magic prefixes, stored extension)
    "application/pdf": ((b"%PDF-",), "pdf"),
    "image/png": ((b"\x89PNG\r\n\x1a\n",), "png"),
    "image/jpeg": ((b"\xff\xd8\xff",), "jpg"),
    "image/tiff": ((b"II*\x00", b"MM\x00*"), "tif"),
}
ZIP_MAGIC = b"PK\x03\x04"
NAME_MAX = 255
ZIP_MAX_RATIO = 100
ZIP_MAX_ENTRIES = 2000
TIFF_MAX_PAGES = 1000
TIFF_TYPE_SIZES = {3: 2, 4: 4, 5: 8, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}  # others: 1 byte
# Modes a PNG keeps as they are; any other (CMYK, YCbCr, 32-bit...) becomes RGB(A).
PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}


class UploadRefused(ValueError):
    """The file cannot be accepted; the message says why."""


@dataclass(frozen=True)
class IncomingFile:
    name: str
    data: bytes


def sniff(data: bytes) -> str | None:
    """The content type by magic bytes, or None when it is not an accepted type."""
    for content_type, (prefixes, _ext) in ACCEPTED.items():
        if data.startswith(prefixes):
            return content_type
    return None


def extension_for(content_type: str) -> str:
    return ACCEPTED[content_type][1]


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def clean_name(raw: str | None) -> str:
    """A display name: no folders, no control characters, at most 255 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in name)
    name = re.sub(r"\s+", " ", name).strip().strip(".") or "unnamed"
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        name = name[: NAME_MAX - len(keep) - 2] + "…" + ("." + keep if keep else "")
    return name


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse an empty file or one over the limit."""
    if not data:
        raise UploadRefused("The file is empty (0 bytes).")
    # Callers read at most max_bytes + 1, so the true size is unknown: only say it is over.
    if len(data) > max_bytes:
        raise UploadRefused(f"The file is larger than the upload limit of "
                            f"{max_bytes // 1_048_576} MB.")


def check_file(name: str, data: bytes, max_bytes: int) -> str:
    """Return the real content type or raise UploadRefused with a clear reason."""
    check_size(data, max_bytes)
    content_type = sniff(data)
    if content_type is None:
        raise UploadRefused("This is not a PDF, PNG, JPEG or TIFF file (checked by its "
                            "content, not its name).")
    return content_type


def unpack_zip(name: str, data: bytes, max_bytes: int) -> list[IncomingFile]:
    """The files inside a zip, after refusing the whole archive if any entry is unsafe."""
    try:
        check_size(data, max_bytes)  # a truncated read would look like a broken archive
    except UploadRefused as exc:
        raise UploadRefused(f"{name}: {exc}") from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UploadRefused(f"{name}: not a readable zip archive ({exc}).") from None
    if len(entries) > ZIP_MAX_ENTRIES:
        raise UploadRefused(f"{name}: more than {ZIP_MAX_ENTRIES} files in one archive.")
    for info in entries:
        _check_zip_entry(name, info, max_bytes)
    total = sum(i.file_size for i in entries)
    packed = max(1, sum(i.compress_size for i in entries))
    if total / packed > ZIP_MAX_RATIO:
        raise UploadRefused(f"{name}: compression ratio over {ZIP_MAX_RATIO} (a zip bomb?); "
                            "nothing was extracted.")
    files = []
    for info in entries:
        if info.filename.startswith("__MACOSX/"):
            continue
        with archive.open(info) as member:
            content = member.read(max_bytes + 1)
        files.append(IncomingFile(info.filename, content))
    return files


def _check_zip_entry(name: str, info: zipfile.ZipInfo, max_bytes: int) -> None:
    path = info.filename.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or ".." in path.split("/"):
        raise UploadRefused(f"{name}: the entry {info.filename!r} points outside the archive; "
                            "nothing was extracted.")
    if info.file_size > max_bytes:
        raise UploadRefused(f"{name}: the entry {info.filename!r} is larger than the upload "
                            "limit; nothing was extracted.")
    if info.compress_size and info.file_size / info.compress_size > ZIP_MAX_RATIO:
        raise UploadRefused(f"{name}: the entry {info.filename!r} has a compression ratio over "
                            f"{ZIP_MAX_RATIO} (a zip bomb?); nothing was extracted.")


def tiff_page_count(data: bytes) -> int:
    """How many pages a TIFF holds; UploadRefused when it cannot be opened, ends before its
    last page, or holds too many."""
    count = _directory_count(data)
    try:
        with _quiet_about_size(), Image.open(io.BytesIO(data)) as image:
            opened = getattr(image, "n_frames", 1)
    except Exception as exc:  # Pillow raises many kinds on damaged input; all mean "unreadable"
        raise UploadRefused(_unreadable(None, exc)) from None
    if opened != count:
        raise UploadRefused(_unreadable(None, ValueError(f"{count} pages listed, {opened} "
                                                         "readable")))
    return count


def _directory_count(data: bytes) -> int:
    """Walk the chain of page directories (IFDs) of a classic TIFF. Pillow stops quietly at a
    link that points past the end, so a cut-off file would otherwise lose its last pages."""
    order = "<" if data.startswith(b"II") else ">"
    offset, count, seen = _unpack(order + "I", data, 4), 0, set()
    while offset:
        if offset in seen:
            raise UploadRefused(_unreadable(None, ValueError("its pages loop back")))
        seen.add(offset)
        count += 1
        if count > TIFF_MAX_PAGES:
            raise UploadRefused(f"This TIFF has more than {TIFF_MAX_PAGES} pages; at most "
                                f"{TIFF_MAX_PAGES} are accepted in one file. Split it and "
                                "upload the parts.")
        entries = _unpack(order + "H", data, offset)
        for entry in range(offset + 2, offset + 2 + 12 * entries, 12):
            _check_value(order, data, entry)
        offset = _unpack(order + "I", data, offset + 2 + 12 * entries)
    return count


def _check_value(order: str, data: bytes, entry: int) -> None:
    """A directory entry's value, when stored apart from it, lies inside the file."""
    kind, length = _unpack(order + "H", data, entry + 2), _unpack(order + "I", data, entry + 4)
    size = TIFF_TYPE_SIZES.get(kind, 1) * length
    if size > 4:
        _unpack(f"{order}{size}s", data, _unpack(order + "I", data, entry + 8))


def _unpack(fmt: str, data: bytes, at: int) -> int:
    try:
        return struct.unpack_from(fmt, data, at)[0]
    except struct.error:
        raise UploadRefused("This TIFF file is damaged or incomplete: it ends before its last "
                            "page. Nothing was stored.") from None


def tiff_pages(data: bytes) -> Iterator[bytes]:
    """Each page of a TIFF as PNG bytes, in order, decoded one at a time (a long scan need not
    fit in memory at once). Raises UploadRefused, naming the page, when one cannot be read."""
    count = tiff_page_count(data)
    with Image.open(io.BytesIO(data)) as image:
        for number in range(1, count + 1):
            try:
                with _quiet_about_size():
                    image.seek(number - 1)
                    page = _png(image)
            except Exception as exc:  # a damaged strip shows only when the page is decoded
                raise UploadRefused(_unreadable(number, exc)) from None
            yield page


@contextmanager
def _quiet_about_size() -> Iterator[None]:
    # Big scans are normal: Pillow's size warning is noise, while its hard decompression-bomb
    # limit (an error) still refuses the file. Its other warnings (odd metadata) are logged the
    # same way in tests and in production; damage that matters raises an error of its own.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if not issubclass(warning.category, Image.DecompressionBombWarning):
            log.info("TIFF: %s", warning.message)


def _png(frame: Image.Image) -> bytes:
    page = ImageOps.exif_transpose(frame)  # the TIFF's orientation tag, as a viewer would
    if page.mode not in PNG_MODES:
        page = page.convert("RGBA" if "A" in page.mode else "RGB")
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    return buffer.getvalue()


def _unreadable(page: int | None, exc: Exception) -> str:
    log.info("TIFF refused: %s: %s", type(exc).__name__, exc)
    where = f"page {page} cannot be read" if page else "it cannot be read"
    if isinstance(exc, UnidentifiedImageError):
        reason = "not an image format Pillow knows"
    elif isinstance(exc, Image.DecompressionBombError):
        reason = "too many pixels for one page"
    else:
        reason = str(exc).split(" <")[0] or type(exc).__name__  # no object reprs
    return (f"This TIFF file is damaged or incomplete: {where} ({reason}). "
            "Nothing was stored.")
