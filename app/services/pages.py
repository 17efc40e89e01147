"""Page images stored beside a document's original, for files a browser cannot show (TIFF).

The pages live in the same storage as the original under `page_key(original, n)`; the
document's `page_count` says how many there are.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from app.extensions import db
from app.models.document import Document
from app.services.tiff import tiff_pages
from app.services.uploads import UploadRefused
from app.storage import DocumentStorage, StorageError, page_key

log = logging.getLogger(__name__)

PAGED_TYPES = {"image/tiff"}


def needs_pages(content_type: str) -> bool:
    return content_type in PAGED_TYPES


def store_pages(key: str, data: bytes, storage: DocumentStorage) -> int:
    """Store every page of the TIFF under `key` as PNG; all or none (UploadRefused or
    StorageError after removing the pages already stored). Returns the page count."""
    stored = 0
    try:
        for number, png in enumerate(tiff_pages(data), start=1):
            storage.put(page_key(key, number), png, "image/png")
            stored = number
    except (UploadRefused, StorageError):
        delete_pages(key, stored, storage)
        raise
    return stored


def delete_pages(key: str, count: int, storage: DocumentStorage) -> None:
    """Remove pages 1..count of `key` (best effort: a leftover page is only wasted space)."""
    for number in range(1, count + 1):
        try:
            storage.delete(page_key(key, number))
        except StorageError:
            log.error("page %s of %s could not be deleted", number, key)


def missing_pages() -> list[Document]:
    """Documents that need pages but have none (stored before pages were made at upload)."""
    return list(
        db.session.scalars(
            sa.select(Document)
            .where(Document.content_type.in_(PAGED_TYPES), Document.page_count.is_(None))
            .order_by(Document.id)
        )
    )


def make_pages(document: Document, storage: DocumentStorage) -> int:
    """Make and record the pages of a stored document (commits); raises UploadRefused or
    StorageError, changing nothing, when the file cannot be read or the pages stored."""
    count = store_pages(document.storage_key, storage.get(document.storage_key), storage)
    document.page_count = count
    db.session.commit()
    return count
