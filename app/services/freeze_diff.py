"""What changed between two freezes: rows added, removed and changed (with the changed fields'
old and new values), matched by each table's key.

The first freeze is read once into a key -> row-digest map (about 100 bytes a row), the second
streamed against it, and the first read again for the old values of the rows that differ; so
memory follows the number of keys and of changes, never the size of the rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.models.freeze import Freeze
from app.services.errors import Invalid
from app.services.freezes import manifest_of, open_archive, table_rows
from app.storage import DocumentStorage

CHANGES = ("added", "removed", "changed")
CSV_HEADER = ("table", "key", "change", "column", "old_value", "new_value")


@dataclass(frozen=True)
class FieldChange:
    column: str
    old: str | None
    new: str | None


@dataclass
class RowChange:
    """One row that differs: added (new values), removed (old values) or changed (fields)."""

    table: str
    key: str
    change: str
    fields: list[FieldChange] = field(default_factory=list)


@dataclass
class FreezeDiff:
    a: str
    b: str
    tables: list[str]
    rows: list[RowChange]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CHANGES, 0)
        for row in self.rows:
            counts[row.change] += 1
        return counts


def diff(a: Freeze, b: Freeze, storage: DocumentStorage, table: str | None = None) -> FreezeDiff:
    """Every row that differs between freeze a (old) and b (new), by table and key."""
    tables_a = {t["name"]: t for t in manifest_of(a)["tables"]}
    tables_b = {t["name"]: t for t in manifest_of(b)["tables"]}
    names = sorted(set(tables_a) | set(tables_b), key=str.lower)
    if table is not None:
        if table not in names:
            raise Invalid(
                f"Neither freeze has a table named {table!r}; they have {', '.join(names)}.",
                field="table",
            )
        names = [table]
    rows: list[RowChange] = []
    with open_archive(a, storage) as archive_a, open_archive(b, storage) as archive_b:
        for name in names:
            old, new = tables_a.get(name), tables_b.get(name)
            rows += _table_diff(
                name, archive_a if old else None, old, archive_b if new else None, new
            )
    return FreezeDiff(a.name, b.name, names, rows)


def _digest(values: dict[str, str]) -> bytes:
    text = "\x1e".join(f"{column}\x1f{value}" for column, value in values.items())
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _rows(archive: Any, entry: dict[str, Any] | None) -> Iterator[tuple[str, dict[str, str]]]:
    if archive is None or entry is None:
        return
    key = entry["key"]
    for header, cells in table_rows(archive, entry["file"]):
        values = dict(zip(header, cells, strict=False))
        yield values.get(key, ""), values


def _table_diff(
    name: str,
    archive_a: Any,
    entry_a: dict[str, Any] | None,
    archive_b: Any,
    entry_b: dict[str, Any] | None,
) -> list[RowChange]:
    digests = {key: _digest(values) for key, values in _rows(archive_a, entry_a)}
    changes: list[RowChange] = []
    new_values: dict[str, dict[str, str]] = {}
    for key, values in _rows(archive_b, entry_b):
        digest = digests.pop(key, None)
        if digest is None:
            changes.append(_whole(name, key, "added", values))
        elif digest != _digest(values):
            new_values[key] = values
    removed = set(digests)
    if removed or new_values:
        for key, values in _rows(archive_a, entry_a):
            if key in removed:
                changes.append(_whole(name, key, "removed", values))
            elif key in new_values:
                changes.append(_changed(name, key, values, new_values[key]))
    return sorted(changes, key=lambda c: (_sort_key(c.key), CHANGES.index(c.change)))


def _sort_key(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.lstrip("-").isdigit() else (1, key)


def _whole(name: str, key: str, change: str, values: dict[str, str]) -> RowChange:
    fields = [
        FieldChange(
            column, None if change == "added" else value, value if change == "added" else None
        )
        for column, value in values.items()
    ]
    return RowChange(name, key, change, fields)


def _changed(name: str, key: str, old: dict[str, str], new: dict[str, str]) -> RowChange:
    columns = list(old) + [c for c in new if c not in old]
    fields = [FieldChange(c, old.get(c), new.get(c)) for c in columns if old.get(c) != new.get(c)]
    return RowChange(name, key, "changed", fields)


def csv_lines(result: FreezeDiff) -> Iterator[str]:
    """The diff as CSV: one line per field (an added or removed row lists all its fields)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for row in result.rows:
        for f in row.fields:
            writer.writerow(
                [
                    row.table,
                    row.key,
                    row.change,
                    f.column,
                    "" if f.old is None else f.old,
                    "" if f.new is None else f.new,
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
