"""TIFF scans made into PNG pages (browsers cannot show TIFF), checking the file on the way:
a damaged or cut-off TIFF is refused, naming the page, rather than shown short."""

from __future__ import annotations

import io
import logging
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from app.services.uploads import UploadRefused

log = logging.getLogger(__name__)

TIFF_MAX_PAGES = 1000
TIFF_TYPE_SIZES = {3: 2, 4: 4, 5: 8, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}  # others: 1 byte
# Modes a PNG keeps as they are; any other (CMYK, YCbCr, 32-bit...) becomes RGB(A).
PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}


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
        raise UploadRefused(
            _unreadable(None, ValueError(f"{count} pages listed, {opened} readable"))
        )
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
            raise UploadRefused(
                f"This TIFF has more than {TIFF_MAX_PAGES} pages; at most "
                f"{TIFF_MAX_PAGES} are accepted in one file. Split it and "
                "upload the parts."
            )
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


def _unpack(fmt: str, data: bytes, at: int) -> Any:
    """The first value at `at` (a number, or bytes for an "s" format)."""
    try:
        return struct.unpack_from(fmt, data, at)[0]
    except struct.error:
        raise UploadRefused(
            "This TIFF file is damaged or incomplete: it ends before its last "
            "page. Nothing was stored."
        ) from None


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
    return f"This TIFF file is damaged or incomplete: {where} ({reason}). Nothing was stored."
