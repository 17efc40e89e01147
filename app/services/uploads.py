"""Checking uploaded files: their real type (by content), size, name, and zip archives."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

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


def name_for_type(name: str, content_type: str) -> str:
    """The file name a download is served under: its extension follows the type found by
    content, so a PDF uploaded as "x.html" is saved as "x.pdf", never as a web page."""
    if content_type not in ACCEPTED:
        return name
    extension = ACCEPTED[content_type][1]
    stem, dot, current = name.rpartition(".")
    if dot and stem and current.lower() in EXTENSION_ALIASES.get(extension, {extension}):
        return name
    return f"{stem if dot and stem else name}.{extension}"


EXTENSION_ALIASES = {"jpg": {"jpg", "jpeg", "jpe"}, "tif": {"tif", "tiff"}}


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
