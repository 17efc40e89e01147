"""`flask export` and the downloads on a table's page: streamed, ISO 8601, UTF-8, clean stdout.
Every test runs on each configured backend."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.entry_tables.registry import entry_tables, get_entry_table
from app.extensions import db
from app.models import TestDB, User
from app.services import exports

WHEN = dt.datetime(1989, 1, 31, 14, 5, 6, 123456, tzinfo=dt.UTC)


@pytest.fixture
def rows(app, users):
    """Three testDB rows: one approved, entered by the clerk."""
    with app.app_context():
        clerk = db.session.scalar(sa.select(User).where(User.username == "clerk"))
        db.session.add_all(
            [
                TestDB(
                    string_column="A-1",
                    integer_column=42,
                    date_column=WHEN,
                    entered_by_id=clerk.id,
                    status="approved",
                ),
                TestDB(string_column="B-2 «ü» 😀", integer_column=None, date_column=None),
                TestDB(
                    string_column='C,"3"',
                    integer_column=-7,
                    date_column=dt.datetime(2024, 2, 29, tzinfo=dt.UTC),
                ),
            ]
        )
        db.session.commit()
        # The ORM fills the default time in for None; a researcher's own SQL can leave it out.
        db.session.execute(
            sa.update(TestDB).where(TestDB.string_column == "B-2 «ü» 😀").values(date_column=None)
        )
        db.session.commit()


def export(runner, *args: str):
    return runner.invoke(args=["export", *args])


def test_csv_to_stdout_is_clean_data(runner, rows):
    result = export(runner, "testDB")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.decode("utf-8") == (
        "string_column,integer_column,date_column\r\n"
        "A-1,42,1989-01-31T14:05:06.123456+00:00\r\n"
        "B-2 «ü» 😀,,\r\n"
        '"C,""3""",-7,2024-02-29T00:00:00+00:00\r\n'
    )
    assert "Exported 3 rows of testDB to stdout." in result.stderr


def test_csv_with_bom_for_excel(runner, rows):
    result = export(runner, "testDB", "--bom")
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbfstring_column,")


def test_only_approved_rows(runner, rows):
    result = export(runner, "testDB", "--status", "approved")
    assert result.stdout.splitlines()[1:] == ["A-1,42,1989-01-31T14:05:06.123456+00:00"]


def test_with_provenance(runner, rows):
    result = export(runner, "testDB", "--with-provenance", "--status", "approved")
    header, row = list(csv.reader(io.StringIO(result.stdout)))
    assert header == [
        "string_column",
        "integer_column",
        "date_column",
        "document_id",
        "entered_by",
        "status",
        "created_at",
        "updated_at",
    ]
    assert row[4:6] == ["clerk", "approved"]
    assert dt.datetime.fromisoformat(row[6]).tzinfo == dt.UTC


def test_json_is_an_array_of_objects(runner, rows, tmp_path):
    result = export(runner, "testDB", "--format", "json")
    data = json.loads(result.stdout)
    assert data == [
        {
            "string_column": "A-1",
            "integer_column": 42,
            "date_column": "1989-01-31T14:05:06.123456+00:00",
        },
        {"string_column": "B-2 «ü» 😀", "integer_column": None, "date_column": None},
        {
            "string_column": 'C,"3"',
            "integer_column": -7,
            "date_column": "2024-02-29T00:00:00+00:00",
        },
    ]
    path = tmp_path / "out.json"
    assert export(runner, "testDB", "--format", "json", "-o", str(path)).exit_code == 0
    assert json.loads(path.read_text(encoding="utf-8")) == data


def test_json_of_an_empty_table(runner):
    assert json.loads(export(runner, "testDB", "--format", "json").stdout) == []


def test_xlsx_needs_an_output_file(runner, rows):
    result = export(runner, "testDB", "--format", "xlsx")
    assert result.exit_code == 2
    assert "give --output FILE.xlsx" in result.output
    assert result.stdout == ""


def test_xlsx_through_write_only_mode(runner, rows, tmp_path):
    path = tmp_path / "t.xlsx"
    result = export(runner, "testDB", "--format", "xlsx", "--output", str(path))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(path).active
    assert sheet.title == "testDB"
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["string_column", "integer_column", "date_column"]
    assert values[1] == ["A-1", 42, "1989-01-31T14:05:06.123456+00:00"]
    assert not (tmp_path / "t.xlsx.partial").exists()


def test_xlsx_text_that_looks_like_a_formula_stays_text(app, runner, tmp_path):
    with app.app_context():
        db.session.add(TestDB(string_column='=HYPERLINK("x")'))
        db.session.commit()
    path = tmp_path / "t.xlsx"
    assert export(runner, "testDB", "--format", "xlsx", "-o", str(path)).exit_code == 0
    cell = load_workbook(path).active["A2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("x")', "s")


def test_bom_is_for_csv_only(runner):
    result = export(runner, "testDB", "--format", "json", "--bom")
    assert result.exit_code == 2 and "--bom applies to CSV only" in result.output


def test_unknown_table_lists_the_tables(runner):
    result = export(runner, "nope")
    assert result.exit_code == 1
    names = ", ".join(table.name for table in entry_tables())  # every table, a new one too
    assert f"No entry table named 'nope'. The entry tables are: {names}." in result.stderr
    assert result.stdout == ""


def test_rows_are_read_in_partitions_from_one_cursor(app, monkeypatch):
    monkeypatch.setattr(exports, "PARTITION_ROWS", 2)
    with app.app_context():
        db.session.add_all([TestDB(string_column=f"K{i}") for i in range(5)])
        db.session.commit()
        spec = exports.export_spec(get_entry_table("testDB"))
        sizes = [len(p) for p in exports.stream_rows(db.engine, spec)]
    assert sizes == [2, 2, 1]


# --- downloads -------------------------------------------------------------------------------


def test_reviewer_downloads_csv_streamed(client, auth, rows):
    auth.login("reviewer")
    response = client.get("/exchange/testDB/export?format=csv&status=approved&bom=1")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert 'attachment; filename="testDB-approved-' in response.headers["Content-Disposition"]
    assert response.get_data().decode("utf-8-sig").splitlines() == [
        "string_column,integer_column,date_column",
        "A-1,42,1989-01-31T14:05:06.123456+00:00",
    ]


def test_admin_downloads_json_and_xlsx(client, auth, rows):
    auth.login("admin")
    data = client.get("/exchange/testDB/export?format=json&provenance=1").get_json()
    assert len(data) == 3 and data[0]["entered_by"] == "clerk"
    response = client.get("/exchange/testDB/export?format=xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    content = response.get_data()
    response.close()  # a server closes the response, and with it the temporary file
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet.max_row == 4


def test_a_bad_download_request(client, auth, users):
    auth.login("admin")
    assert client.get("/exchange/testDB/export?format=xls").status_code == 400
    assert client.get("/exchange/testDB/export?status=lost").status_code == 400
    assert client.get("/exchange/nope/export").status_code == 404


def test_clerks_do_not_see_the_download_form(client, auth, users):
    auth.login("clerk")
    assert 'id="download"' not in client.get("/data/testDB").get_data(as_text=True)
    auth.logout()
    auth.login("reviewer")
    page = client.get("/data/testDB?status=approved").get_data(as_text=True)
    assert 'id="download"' in page and 'action="/exchange/testDB/export"' in page
    assert '<option value="approved" selected>approved only</option>' in page
