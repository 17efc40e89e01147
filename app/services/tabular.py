"""Reading a CSV or XLSX file, told apart by its content (never its name), as header and rows."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from app.services.errors import Invalid
from app.services.formulas import restore

SNIFF_BYTES = 64 * 1024
# csv's default (131,072 characters) is below what a LongText column accepts; a longer value
# then gets the form's "At most ... characters" message instead of a parser error.
CSV_FIELD_LIMIT = 16 * 1024 * 1024
DELIMITERS = (",", ";", "\t")


class UnreadableFile(Invalid):
    """The file is not a CSV or XLSX file this import can read; `row` when it broke midway."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


@dataclass(frozen=True)
class Formula:
    """An XLSX cell holding a formula (the import takes values only)."""

    text: str


@dataclass
class TableFile:
    """An opened file: its header cells and an iterator of (data row number, cells)."""

    file_format: str  # csv | xlsx
    header: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)
    close: Callable[[], None] = lambda: None


def open_table_file(source: IO[bytes]) -> TableFile:
    """Read the header of a CSV (UTF-8) or XLSX file; UnreadableFile for anything else."""
    head = source.read(SNIFF_BYTES)
    source.seek(0)
    if not head.strip() or head.strip() == codecs.BOM_UTF8:
        raise UnreadableFile("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(source)
    _refuse_other_binaries(head)
    text = _decode_head(head)
    if text.lstrip().startswith(("[", "{")):
        raise UnreadableFile(
            "This looks like a JSON file; import reads CSV or XLSX (export the "
            "table as CSV or XLSX for a file that imports back)."
        )
    return _open_csv(source, text)


def _refuse_other_binaries(head: bytes) -> None:
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            "This is an old Excel 97-2003 (.xls) workbook; save it as Excel "
            "Workbook (.xlsx) or as CSV UTF-8 and import that."
        )
    if b"\x00" in head:
        raise UnreadableFile(
            "This is not a CSV or XLSX file (it holds binary data); import "
            "reads CSV (UTF-8 text) or XLSX workbooks."
        )


def _decode_head(head: bytes) -> str:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        return decoder.decode(head, final=False)
    except UnicodeDecodeError:
        raise UnreadableFile(
            "This file is not UTF-8 text, so it is neither CSV UTF-8 nor "
            "XLSX; in Excel use Save As → “CSV UTF-8”, or save as "
            ".xlsx."
        ) from None


# --- CSV -------------------------------------------------------------------------------------


def _open_csv(source: IO[bytes], head: str) -> TableFile:
    first_line = head.splitlines()[0] if head.splitlines() else ""
    delimiter = max(DELIMITERS, key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        text.detach()
        raise UnreadableFile(f"The header row could not be read as CSV ({exc}).") from None
    while header and not header[-1].strip():
        header.pop()  # spreadsheet programs leave empty columns at the end
    if not header:
        text.detach()
        raise UnreadableFile("The first line must be the header (the column names); it is empty.")
    notes = (
        []
        if delimiter == ","
        else [f"Columns are separated by {'tabs' if delimiter == chr(9) else repr(delimiter)}."]
    )
    return TableFile("csv", header, _csv_rows(reader), notes=notes, close=lambda: _detach(text))


def _detach(text: io.TextIOWrapper) -> None:
    """Let go of the caller's file without closing it."""
    with contextlib.suppress(ValueError):  # detached already
        text.detach()


def _csv_rows(reader: Any) -> Iterator[tuple[int, list[Any]]]:
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            # A cell an export neutralised (a leading ' before a formula) is read as stored.
            yield number, [restore(c) if c[:1] == "'" else c for c in cells]
    except UnicodeDecodeError:
        raise UnreadableFile(
            "From here on the file is not UTF-8 text; save it as “CSV UTF-8” and import again.",
            row=number + 1,
        ) from None
    except csv.Error as exc:
        raise UnreadableFile(f"This row is not valid CSV ({exc}).", row=number + 1) from None


# --- XLSX ------------------------------------------------------------------------------------


def _open_xlsx(source: IO[bytes]) -> TableFile:
    try:
        with zipfile.ZipFile(source) as archive:
            is_workbook = "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        raise UnreadableFile(
            "This file starts like a ZIP archive but is damaged; it is "
            "neither CSV nor a readable XLSX workbook."
        ) from None
    source.seek(0)
    if not is_workbook:
        raise UnreadableFile(
            "This is a ZIP archive but not an Excel workbook (.xlsx); import reads CSV or XLSX."
        )
    from openpyxl import load_workbook  # here: it pulls in numpy, which CSV does not need

    try:
        workbook = load_workbook(source, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds on damaged workbooks
        raise UnreadableFile(
            f"The workbook could not be read ({type(exc).__name__}); save it "
            "again from Excel, or as CSV UTF-8."
        ) from None
    if not workbook.worksheets:
        workbook.close()
        raise UnreadableFile("The workbook has no worksheet.")
    sheet = workbook.worksheets[0]
    notes = []
    if len(workbook.sheetnames) > 1:
        others = ", ".join(f"“{n}”" for n in workbook.sheetnames if n != sheet.title)
        notes.append(
            f"The workbook has {len(workbook.sheetnames)} sheets: only the first, "
            f"“{sheet.title}”, was read ({others} not)."
        )
    rows = _xlsx_rows(sheet)
    header_row = next(rows, None)
    header = (
        []
        if header_row is None
        else [
            "" if v is None else (v.text if isinstance(v, Formula) else str(v))
            for v in header_row[1]
        ]
    )
    while header and not header[-1].strip():
        header.pop()
    if not header:
        workbook.close()
        if header_row is None:
            raise UnreadableFile(f"The sheet “{sheet.title}” is empty.")
        raise UnreadableFile(
            f"The first row of sheet “{sheet.title}” must be the header (the "
            "column names); it is empty."
        )
    data = ((number - 1, cells) for number, cells in rows)
    return TableFile("xlsx", header, data, sheet=sheet.title, notes=notes, close=workbook.close)


def _xlsx_rows(sheet: Any) -> Iterator[tuple[int, list[Any]]]:
    for number, cells in enumerate(sheet.iter_rows(), start=1):
        yield number, [Formula(str(c.value)) if c.data_type == "f" else c.value for c in cells]
