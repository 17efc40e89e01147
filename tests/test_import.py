"""`flask import` and the upload page: all rows or none, every row checked by the entry form's
rules, a report naming row and column. Every test runs on each configured backend."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import AuditEvent, ImportBatch, RegisterPerson, TestDB, User
from app.models.types import utcnow
from tests.helpers import run_import, write_csv

HEADER = "string_column,integer_column,date_column\n"


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def table_rows(app, model=TestDB) -> list:
    with app.app_context():
        key = model.__table__.primary_key.columns.values()[0]
        return list(db.session.scalars(sa.select(model).order_by(key)))


def count(app, model=TestDB) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def assert_nothing_written(app) -> None:
    assert count(app) == 0
    assert count(app, ImportBatch) == 0


# --- bad input -------------------------------------------------------------------------------


def test_an_empty_file_is_refused(app, runner, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "The file is empty." in result.output
    assert_nothing_written(app)


def test_a_header_only_file_imports_nothing(app, runner, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(HEADER, encoding="utf-8")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "header but no data rows" in result.output
    assert_nothing_written(app)


def test_unknown_columns_are_reported_before_any_row(app, runner, tmp_path):
    path = write_csv(
        tmp_path / "unknown.csv",
        [["A", "not a number", "", "x", "y"]],
        header=["string_column", "integer_column", "date_column", "colour", "Size"],
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "header, colour: Unknown column" in result.output
    assert "header, Size: Unknown column" in result.output
    assert "string_column, integer_column, date_column" in result.output  # what exists
    assert "row 1" not in result.output  # rows are not examined under a wrong header
    assert_nothing_written(app)


def test_a_missing_primary_key_column_is_reported(app, runner, tmp_path):
    path = write_csv(tmp_path / "nokey.csv", [["1", ""]], header=["integer_column", "date_column"])
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "Missing required column string_column" in result.output
    assert_nothing_written(app)


def test_a_bad_integer_on_row_5000_of_10000_writes_nothing(app, runner, tmp_path):
    rows = [[f"K{i:05d}", str(i), "2024-01-01T10:00:00+00:00"] for i in range(1, 10_001)]
    rows[4_999][1] = "12x"
    path = write_csv(tmp_path / "big.csv", rows)
    started = time.perf_counter()
    result = run_import(runner, path)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1
    assert "row 5000, integer_column: Enter a whole number" in result.output
    assert "(value: '12x')" in result.output
    assert "1 problem in big.csv" in result.output
    assert_nothing_written(app)
    assert elapsed < 30  # a few seconds in practice; the limit only catches a pathology


def test_the_same_10000_rows_without_the_error_are_imported(app, runner, tmp_path, users):
    rows = [[f"K{i:05d}", str(i), ""] for i in range(1, 10_001)]
    result = run_import(runner, write_csv(tmp_path / "good.csv", rows), "testDB", "--as", "admin")
    assert result.exit_code == 0, result.output
    assert "Imported 10,000 rows" in result.output
    assert count(app) == 10_000


def test_duplicate_keys_inside_the_file(app, runner, tmp_path):
    path = write_csv(
        tmp_path / "dup.csv", [["A", "1", ""], ["B", "2", ""], ["A", "3", ""], [" B ", "4", ""]]
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 3, string_column: Duplicate key: row 1 has the same key." in result.output
    assert "row 4, string_column: Duplicate key: row 2 has the same key." in result.output
    assert_nothing_written(app)


def test_duplicate_keys_against_the_table(app, runner, tmp_path):
    with app.app_context():
        db.session.add(TestDB(string_column="OLD-1", integer_column=1))
        db.session.commit()
    path = write_csv(tmp_path / "dup.csv", [["NEW-1", "1", ""], ["OLD-1", "2", ""]])
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 2, string_column: A row with this key exists already" in result.output
    assert [r.string_column for r in table_rows(app)] == ["OLD-1"]


def test_keys_differing_only_in_case_are_two_keys(app, runner, tmp_path):
    with app.app_context():
        db.session.add(TestDB(string_column="abc"))
        db.session.commit()
    result = run_import(runner, write_csv(tmp_path / "case.csv", [["ABC", "1", ""]]))
    assert result.exit_code == 0, result.output
    assert sorted(r.string_column for r in table_rows(app)) == ["ABC", "abc"]


def test_a_141_character_string_is_refused(app, runner, tmp_path):
    path = write_csv(tmp_path / "long.csv", [["x" * 140, "1", ""], ["y" * 141, "2", ""]])
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 2, string_column: At most 140 characters (this has 141)." in result.output
    assert "row 1" not in result.output
    assert_nothing_written(app)


def test_every_problem_is_reported_with_row_and_column(app, runner, tmp_path):
    path = write_csv(
        tmp_path / "many.csv",
        [
            ["", "1", ""],
            ["B", "99999999999", ""],
            ["C", "3", "2023-02-30"],
            ["D", "4", "31/01/1989"],
            ["E", "5", ""],
        ],
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "row 1, string_column: This field is required." in lines
    for start in (
        "row 2, integer_column: Enter a whole number from",
        "row 3, date_column: 2023-02-30 is not a day",
        "row 4, date_column: Use the format",
    ):
        assert any(line.startswith(start) for line in lines), start
    assert "4 problems" in result.output
    assert_nothing_written(app)


def test_xlsx_with_formulas_is_refused_cell_by_cell(app, runner, tmp_path):
    path = write_xlsx(
        tmp_path / "formulas.xlsx",
        {
            "Data": [
                ["string_column", "integer_column"],
                ["A", 1],
                ["B", "=SUM(1,2)"],
                ['="C"&"D"', 4],
            ]
        },
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 2, integer_column: This cell holds a formula; formulas are refused" in result.output
    assert "row 3, string_column: This cell holds a formula" in result.output
    assert "2 problems" in result.output  # not also "required" for the formula key
    assert_nothing_written(app)


def test_xlsx_with_several_sheets_reads_the_first_and_says_so(app, runner, tmp_path):
    path = write_xlsx(
        tmp_path / "sheets.xlsx",
        {
            "Entries": [["string_column", "integer_column"], ["A", 1], ["B", 2.0]],
            "Notes": [["anything"], ["else"]],
            "Old": [["string_column"], ["Z"]],
        },
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "The workbook has 3 sheets: only the first, “Entries”, was read" in result.output
    assert "(“Notes”, “Old” not)" in result.output
    assert [(r.string_column, r.integer_column) for r in table_rows(app)] == [("A", 1), ("B", 2)]


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("scan.csv", _png(), "not a CSV or XLSX file"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel 97-2003 (.xls)"),
        ("letter.xlsx", _zip(), "not an Excel workbook"),
        ("broken.xlsx", b"PK\x03\x04garbage", "damaged"),
        ("latin1.csv", HEADER.encode() + "Ärger,1,\n".encode("latin-1"), "not UTF-8"),
        ("data.csv", b'[{"string_column": "A"}]', "looks like a JSON file"),
    ],
)
def test_a_file_that_is_not_csv_or_xlsx_is_refused(app, runner, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert message in result.output
    assert_nothing_written(app)


def test_the_file_type_comes_from_the_content_not_the_name(app, runner, tmp_path):
    xlsx = write_xlsx(tmp_path / "real.xlsx", {"S": [["string_column"], ["A"]]})
    disguised = tmp_path / "looks-like.csv"
    disguised.write_bytes(xlsx.read_bytes())
    result = run_import(runner, disguised)
    assert result.exit_code == 0, result.output
    assert "(XLSX" in result.output


def test_a_50_mb_file_is_imported_by_the_command(app, runner, tmp_path):
    notes = "n" * 999_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["full_name", "notes"])
        for i in range(52):
            writer.writerow([f"Person {i}", notes])
    assert path.stat().st_size > 50_000_000
    result = run_import(runner, path, "register_person")
    assert result.exit_code == 0, result.output[-500:]
    assert "Imported 52 rows" in result.output
    with app.app_context():
        lengths = db.session.scalars(sa.select(sa.func.length(RegisterPerson.notes))).all()
    assert lengths == [999_000] * 52


def test_a_value_over_the_long_text_limit_is_a_row_problem(app, runner, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("full_name,notes\nA," + "n" * 1_000_001 + "\n", encoding="utf-8")
    result = run_import(runner, path, "register_person")
    assert result.exit_code == 1
    assert "row 1, notes: At most 1,000,000 characters (this has 1,000,001)." in result.output


def test_an_upload_over_the_file_size_limit_gets_a_clear_413(app, client, auth, users):
    auth.login("admin")
    limit_mb = app.config["MAX_UPLOAD_MB"]
    content = HEADER.encode() + b"A,1,\n" * (limit_mb * 1_048_576 // 5 + 1)
    assert len(content) > 50_000_000
    # Encoded here, in memory: the test client would spool a body this large to a temporary
    # file that it can leave open.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), "big.csv")})
    response = client.post(
        "/exchange/testDB/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert f"the upload page takes files up to {limit_mb} MB" in text
    assert "flask import testDB FILE" in text
    assert_nothing_written(app)


def test_unknown_table_lists_the_tables(runner, tmp_path):
    path = write_csv(tmp_path / "x.csv", [["A", "1", ""]])
    result = run_import(runner, path, "testdb")
    assert result.exit_code != 0
    assert "No entry table named 'testdb'. Did you mean testDB?" in result.output
    assert "register_person, testDB" in result.output


# --- what a good import does -----------------------------------------------------------------


def test_dry_run_checks_everything_and_writes_nothing(app, runner, tmp_path):
    path = write_csv(tmp_path / "ok.csv", [["A", "1", ""], ["B", "2", ""]])
    result = run_import(runner, path, "testDB", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: 2 rows" in result.output and "nothing was written" in result.output
    assert_nothing_written(app)


def test_an_import_is_one_audited_batch_entered_by_the_importer(app, runner, tmp_path, users):
    path = write_csv(tmp_path / "batch.csv", [["A", "1", "1989-01-31T14:05"], ["B", "2", ""]])
    result = run_import(runner, path, "testDB", "--as", "reviewer")
    assert result.exit_code == 0, result.output
    with app.app_context():
        reviewer = db.session.scalar(sa.select(User).where(User.username == "reviewer"))
        batch = db.session.scalar(sa.select(ImportBatch))
        rows = list(db.session.scalars(sa.select(TestDB).order_by(TestDB.string_column)))
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "import"))
        assert (batch.table_name, batch.file_name, batch.row_count) == ("testDB", "batch.csv", 2)
        assert (batch.first_key, batch.last_key, batch.file_format) == ("A", "B", "csv")
        assert batch.actor_id == reviewer.id and len(batch.file_sha256) == 64
        assert all(r.entered_by_id == reviewer.id and r.status == "entered" for r in rows)
        assert all(r.created_at == batch.created_at for r in rows)
        assert rows[0].date_column == dt.datetime(1989, 1, 31, 14, 5, tzinfo=dt.UTC)
        assert rows[1].date_column is None  # an empty cell is stored empty
        assert event.actor_name == "reviewer" and event.reason == f"import batch {batch.id}"
        assert json.loads(event.after)["rows"] == 2
    assert f"import batch {batch.id}" in result.output


def test_a_second_import_of_the_same_file_is_noted(app, runner, tmp_path):
    first = write_csv(tmp_path / "one.csv", [["A", "1", ""]])
    assert run_import(runner, first).exit_code == 0
    with app.app_context():
        db.session.execute(sa.delete(TestDB))
        db.session.commit()
    again = run_import(runner, first)
    assert again.exit_code == 0
    assert "The same file (same SHA-256) was imported before: batch" in again.output


def test_spreadsheet_conventions_are_understood(app, runner, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffKey;Number;Date and time\r\nA;1;2024-01-01 10:00\r\n\r\nB;;\r\n".encode("utf-8")
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "separated by ';'" in result.output
    assert [(r.string_column, r.integer_column) for r in table_rows(app)] == [("A", 1), ("B", None)]


def test_empty_columns_after_the_header_are_ignored(app, runner, tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("string_column,integer_column,,\nA,1,,\n", encoding="utf-8")
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert count(app) == 1


def test_xlsx_cells_of_every_type(app, runner, tmp_path):
    path = write_xlsx(
        tmp_path / "people.xlsx",
        {
            "People": [
                [
                    "full_name",
                    "sex",
                    "age",
                    "birth_date",
                    "recorded_at",
                    "height_m",
                    "fee_paid",
                    "literate",
                    "parish",
                ],
                [
                    "Doe, Jane",
                    "female",
                    34,
                    dt.datetime(1890, 2, 3),
                    dt.datetime(1902, 5, 6, 7, 8, 9),
                    1.62,
                    12.5,
                    True,
                    "St. Mary",
                ],
                ["John", None, 40.0, dt.date(1880, 1, 1), None, None, None, "no", None],
            ]
        },
    )
    result = run_import(runner, path, "register_person")
    assert result.exit_code == 0, result.output
    jane, john = table_rows(app, RegisterPerson)
    assert (jane.age, jane.birth_date, jane.recorded_at) == (
        34,
        dt.date(1890, 2, 3),
        dt.datetime(1902, 5, 6, 7, 8, 9),
    )
    assert jane.fee_paid == Decimal("12.50") and jane.literate is True
    assert jane.height_m == pytest.approx(1.62)
    assert (john.sex, john.age, john.literate) == (None, 40, False)


def test_a_yes_no_cell_that_is_neither_is_a_problem(app, runner, tmp_path):
    path = write_csv(tmp_path / "bool.csv", [["A", "maybe"]], header=["full_name", "literate"])
    result = run_import(runner, path, "register_person")
    assert result.exit_code == 1
    assert "row 1, literate: Use true or false" in result.output


def test_given_ids_of_a_generated_key_are_kept_and_new_rows_follow(app, runner, tmp_path, users):
    path = write_csv(
        tmp_path / "ids.csv", [["7", "Seven"], ["40", "Forty"]], header=["id", "full_name"]
    )
    assert run_import(runner, path, "register_person").exit_code == 0
    from app.entry_tables.registry import get_entry_table
    from app.services.entries import create_row

    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        row = create_row(get_entry_table("register_person"), {"full_name": "Next"}, actor=admin)
        assert row.id > 40  # PostgreSQL's sequence was moved past the imported ids
    assert [p.id for p in table_rows(app, RegisterPerson)][:2] == [7, 40]


# --- export, then import: the same rows ------------------------------------------------------


def _testdb_values(app) -> list[tuple]:
    return [(r.string_column, r.integer_column, r.date_column) for r in table_rows(app)]


def _seed_testdb(app) -> None:
    with app.app_context():
        db.session.add_all(
            [
                TestDB(
                    string_column="K-1",
                    integer_column=42,
                    date_column=dt.datetime(1989, 1, 31, 14, 5, 6, 123456, tzinfo=dt.UTC),
                ),
                TestDB(
                    string_column='Ünïcödé 😀, "quoted"\nline',
                    integer_column=-2_147_483_648,
                    date_column=utcnow(),
                ),
                TestDB(string_column="=1+1", integer_column=None, date_column=None),
                TestDB(
                    string_column="x" * 140,
                    integer_column=2_147_483_647,
                    date_column=dt.datetime(1000, 1, 1, tzinfo=dt.UTC),
                ),
            ]
        )
        db.session.commit()


def _clear(app, model) -> None:
    with app.app_context():
        db.session.execute(sa.delete(model))
        db.session.commit()


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_export_then_import_round_trips_testdb(app, runner, tmp_path, file_format):
    _seed_testdb(app)
    before = _testdb_values(app)
    path = tmp_path / f"testDB.{file_format}"
    exported = runner.invoke(
        args=["export", "testDB", "--format", file_format, "--output", str(path)]
    )
    assert exported.exit_code == 0, exported.output
    _clear(app, TestDB)
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert _testdb_values(app) == before


def test_export_then_import_round_trips_every_type(app, runner, tmp_path):
    with app.app_context():
        db.session.add_all(
            [
                RegisterPerson(
                    id=3,
                    full_name="Doe, Jane",
                    sex="female",
                    age=34,
                    birth_date=dt.date(1890, 2, 3),
                    recorded_at=dt.datetime(1902, 5, 6, 7, 8, 9),
                    height_m=1.62,
                    fee_paid=Decimal("12.50"),
                    literate=True,
                    parish="St. Mary",
                    notes="two\nlines, 😀",
                ),
                RegisterPerson(id=8, full_name="John", literate=False, parish="", notes=""),
            ]
        )
        db.session.commit()
    columns = [c.key for c in RegisterPerson.__table__.columns if not c.info.get("provenance")]

    def values():
        return [tuple(getattr(p, c) for c in columns) for p in table_rows(app, RegisterPerson)]

    before = values()
    for file_format in ("csv", "xlsx"):
        path = tmp_path / f"people.{file_format}"
        assert (
            runner.invoke(
                args=["export", "register_person", "--format", file_format, "-o", str(path)]
            ).exit_code
            == 0
        )
        _clear(app, RegisterPerson)
        result = run_import(runner, path, "register_person")
        assert result.exit_code == 0, result.output
        assert values() == before


# --- the upload page -------------------------------------------------------------------------


def upload(client, content: bytes, name: str = "rows.csv", **extra):
    return client.post(
        "/exchange/testDB/import", data={"file": (io.BytesIO(content), name), **extra}
    )


def test_admin_upload_imports_and_shows_the_batch(app, client, auth, users):
    auth.login("admin")
    page = client.get("/exchange/testDB/import").get_data(as_text=True)
    assert 'type="file"' in page and 'name="dry_run"' in page
    response = upload(client, (HEADER + "A,1,\nB,2,\n").encode())
    assert response.status_code == 303
    batch_page = client.get(response.headers["Location"])
    text = batch_page.get_data(as_text=True)
    assert "Imported 2 rows of rows.csv" in text and "Import batch" in text
    assert "rows.csv" in client.get("/exchange/imports").get_data(as_text=True)
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert {r.entered_by_id for r in db.session.scalars(sa.select(TestDB))} == {admin.id}


def test_upload_with_problems_shows_the_report_and_writes_nothing(app, client, auth, users):
    auth.login("admin")
    response = upload(client, (HEADER + "A,1,\nB,zwei,\n").encode())
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'id="problems"' in text and "Nothing was imported" in text
    assert "<td>2</td><td>integer_column</td><td>Enter a whole number" in text
    assert_nothing_written(app)


def test_admin_uploads_an_xlsx_workbook(app, client, auth, users, tmp_path):
    auth.login("admin")
    path = write_xlsx(
        tmp_path / "sheet.xlsx",
        {
            "Rows": [
                ["Key", "Number", "Date and time"],
                ["X-1", 5, dt.datetime(2001, 2, 3, 4, 5, 6)],
            ]
        },
    )
    response = upload(client, path.read_bytes(), name="sheet.xlsx")
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    (row,) = table_rows(app)
    assert (row.string_column, row.integer_column) == ("X-1", 5)
    assert row.date_column == dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.UTC)


def test_upload_dry_run(app, client, auth, users):
    auth.login("admin")
    response = upload(client, (HEADER + "A,1,\n").encode(), dry_run="y")
    assert response.status_code == 200
    assert "Dry run: 1 rows" in response.get_data(as_text=True)
    assert_nothing_written(app)


def test_upload_without_a_file_is_a_form_error(app, client, auth, users):
    auth.login("admin")
    response = client.post("/exchange/testDB/import", data={})
    assert response.status_code == 422
    assert "Choose a file to import." in response.get_data(as_text=True)


def test_the_list_page_links_the_import_for_admins_only(app, client, auth, users):
    auth.login("admin")
    assert "/exchange/testDB/import" in client.get("/data/testDB").get_data(as_text=True)
    auth.logout()
    auth.login("reviewer")
    assert "/exchange/testDB/import" not in client.get("/data/testDB").get_data(as_text=True)


def test_an_empty_choice_in_the_web_form_is_stored_as_no_value(app, client, auth, users):
    auth.login("clerk")
    response = client.post("/data/register_person/new", data={"full_name": "X", "sex": ""})
    assert response.status_code == 303
    (person,) = table_rows(app, RegisterPerson)
    assert person.sex is None


# --- all or nothing, even when the database fails midway --------------------------------------


def test_a_failure_after_the_first_chunk_leaves_no_rows_and_no_batch(
    app, runner, tmp_path, monkeypatch
):
    """The first 1,000 rows are already sent to the database when the second chunk fails: the
    one transaction is rolled back, so not one row, no batch and no audit event remain."""
    from app.services import imports

    rows = [
        [f"K{i:05d}", str(i), "2024-01-01T10:00:00+00:00"]
        for i in range(1, 2 * imports.CHUNK_ROWS + 501)
    ]
    path = write_csv(tmp_path / "midway.csv", rows)
    real_spooled = imports._spooled
    written: list[int] = []

    def failing_after_the_first_chunk(spool):
        for number, chunk in enumerate(real_spooled(spool)):
            if number == 1:
                raise sa.exc.OperationalError(
                    "INSERT INTO testDB ...", {}, Exception("disk full (injected)")
                )
            written.append(len(chunk))
            yield chunk

    monkeypatch.setattr(imports, "_spooled", failing_after_the_first_chunk)
    result = run_import(runner, path)
    assert written == [imports.CHUNK_ROWS]  # the first chunk did reach the database
    assert result.exit_code == 1
    assert "The database refused the rows, so nothing was written" in result.output
    assert "disk full (injected)" not in result.output  # the driver's text goes to the log only
    assert_nothing_written(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0
