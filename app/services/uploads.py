"""Checking uploaded files: their real type (by content), size, name, and zip archives."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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
ZIP_MAX_DEPTH = 1  # a zip inside the uploaded zip is unpacked; one inside that is refused
# All entries of one archive together unpack to at most this many times the upload limit.
ZIP_MAX_TOTAL_UPLOADS = 10
ZIP_CHUNK = 256 * 1024
HEAD_BYTES = 64


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
        _stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        name = name[: NAME_MAX - len(keep) - 2] + "…" + ("." + keep if keep else "")
    return name


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse an empty file or one over the limit."""
    if not data:
        raise UploadRefused("The file is empty (0 bytes).")
    # Callers read at most max_bytes + 1, so the true size is unknown: only say it is over.
    if len(data) > max_bytes:
        raise UploadRefused(
            f"The file is larger than the upload limit of {max_bytes // 1_048_576} MB."
        )


def check_file(name: str, data: bytes, max_bytes: int) -> str:
    """Return the real content type or raise UploadRefused with a clear reason."""
    check_size(data, max_bytes)
    content_type = sniff(data)
    if content_type is None:
        raise UploadRefused(
            "This is not a PDF, PNG, JPEG or TIFF file (checked by its content, not its name)."
        )
    return content_type


@dataclass(frozen=True)
class ExtractedFile:
    """A zip entry written to a temporary file, in chunks: its size, digest and first bytes
    are known without holding it in memory."""

    name: str
    path: Path
    size: int
    sha256: str
    head: bytes


def check_content(size: int, head: bytes, max_bytes: int) -> str:
    """check_file for a file known by its size and first bytes."""
    if size == 0:
        raise UploadRefused("The file is empty (0 bytes).")
    if size > max_bytes:
        raise UploadRefused(
            f"The file is larger than the upload limit of {max_bytes // 1_048_576} MB."
        )
    content_type = sniff(head)
    if content_type is None:
        raise UploadRefused(
            "This is not a PDF, PNG, JPEG or TIFF file (checked by its content, not its name)."
        )
    return content_type


def unpack_zip(name: str, data: bytes, max_bytes: int, folder: Path) -> list[ExtractedFile]:
    """The files inside a zip, each streamed into `folder` under a running byte budget; the
    whole archive is refused (UploadRefused naming the entry) if any entry is unsafe, damaged
    or encrypted. A zip inside the zip is unpacked too, one level deep and no deeper."""
    try:
        check_size(data, max_bytes)  # a truncated read would look like a broken archive
    except UploadRefused as exc:
        raise UploadRefused(f"{name}: {exc}") from None
    budget = _Budget(name, min(ZIP_MAX_RATIO * len(data), ZIP_MAX_TOTAL_UPLOADS * max_bytes))
    return _unpack(name, io.BytesIO(data), max_bytes, folder, budget, depth=0)


class _Budget:
    """The bytes an archive may still unpack to, counted as they are written."""

    def __init__(self, name: str, limit: int) -> None:
        self.name, self.limit, self.left = name, limit, limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise UploadRefused(
                f"{self.name}: the archive unpacks to more than "
                f"{self.limit / 1_048_576:,.0f} MB (a zip bomb?); nothing was extracted."
            )


def _unpack(
    name: str, source: IO[bytes], max_bytes: int, folder: Path, budget: _Budget, depth: int
) -> list[ExtractedFile]:
    archive = _open_archive(name, source)
    entries = [i for i in archive.infolist() if not i.is_dir()]
    if len(entries) > ZIP_MAX_ENTRIES:
        raise UploadRefused(f"{name}: more than {ZIP_MAX_ENTRIES} files in one archive.")
    for info in entries:
        _check_zip_entry(name, info, max_bytes)
    total = sum(i.file_size for i in entries)
    packed = max(1, sum(i.compress_size for i in entries))
    if total / packed > ZIP_MAX_RATIO:
        raise UploadRefused(
            f"{name}: compression ratio over {ZIP_MAX_RATIO} (a zip bomb?); nothing was extracted."
        )
    files: list[ExtractedFile] = []
    for info in entries:
        if info.filename.startswith("__MACOSX/"):
            continue
        extracted = _extract(name, archive, info, max_bytes, folder, budget)
        if not is_zip(extracted.head):
            files.append(extracted)
        elif depth >= ZIP_MAX_DEPTH:
            raise UploadRefused(
                f"{name}: the entry {info.filename!r} is a zip archive inside a "
                "zip inside a zip; unpack it first. Nothing was extracted."
            )
        else:
            with extracted.path.open("rb") as inner:
                files.extend(
                    _unpack(clean_name(info.filename), inner, max_bytes, folder, budget, depth + 1)
                )
            extracted.path.unlink()
    return files


def _open_archive(name: str, source: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise UploadRefused(f"{name}: not a readable zip archive ({exc}).") from None


def _extract(
    name: str,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    max_bytes: int,
    folder: Path,
    budget: _Budget,
) -> ExtractedFile:
    """Copy one entry to a file in chunks, refusing it as soon as it is over a limit."""
    handle, name_on_disk = tempfile.mkstemp(dir=folder, prefix="entry-")
    path = Path(name_on_disk)
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with os.fdopen(handle, "wb") as target, archive.open(info) as member:
            while chunk := member.read(ZIP_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(
                        f"{name}: the entry {info.filename!r} is larger than "
                        "the upload limit; nothing was extracted."
                    )
                budget.spend(len(chunk))
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                digest.update(chunk)
                target.write(chunk)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
        OSError,
    ) as exc:
        reason = "is encrypted" if info.flag_bits & 0x1 else f"is damaged ({_reason(exc)})"
        raise UploadRefused(
            f"{name}: the entry {info.filename!r} {reason}; nothing was extracted."
        ) from None
    return ExtractedFile(info.filename, path, size, digest.hexdigest(), head)


def _reason(exc: BaseException) -> str:
    text = str(exc).split(" for file ")[0]  # "Bad CRC-32 for file 'x'": the entry is named
    return text[:120] or type(exc).__name__


def _check_zip_entry(name: str, info: zipfile.ZipInfo, max_bytes: int) -> None:
    path = info.filename.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or ".." in path.split("/"):
        raise UploadRefused(
            f"{name}: the entry {info.filename!r} points outside the archive; "
            "nothing was extracted."
        )
    if info.file_size > max_bytes:
        raise UploadRefused(
            f"{name}: the entry {info.filename!r} is larger than the upload "
            "limit; nothing was extracted."
        )
    if info.flag_bits & 0x1:
        raise UploadRefused(
            f"{name}: the entry {info.filename!r} is encrypted (password "
            "protected); nothing was extracted. Zip the files without a "
            "password."
        )
    if info.compress_size and info.file_size / info.compress_size > ZIP_MAX_RATIO:
        raise UploadRefused(
            f"{name}: the entry {info.filename!r} has a compression ratio over "
            f"{ZIP_MAX_RATIO} (a zip bomb?); nothing was extracted."
        )
