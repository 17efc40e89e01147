"""Checking uploaded files: their real type (by content), size, name, zip archives, and the
PNG pages made from a TIFF (browsers cannot show TIFF)."""

from __future__ import annotations

import io
import logging
import re
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
    """How many pages a TIFF holds; UploadRefused when it cannot be opened or holds too many."""
    try:
        with _quiet_about_size(), Image.open(io.BytesIO(data)) as image:
            count = getattr(image, "n_frames", 1)
    except Exception as exc:  # Pillow raises many kinds on damaged input; all mean "unreadable"
        raise UploadRefused(_unreadable(None, exc)) from None
    if count > TIFF_MAX_PAGES:
        raise UploadRefused(f"This TIFF has {count} pages; at most {TIFF_MAX_PAGES} are accepted "
                            "in one file. Split it and upload the parts.")
    return count


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
