"""CSV exports neutralise cells a spreadsheet would run as a formula (issue 13, finding 5).

OWASP's rule: a text cell starting with = + - @, a tab or a carriage return (also after leading
spaces) gets a leading apostrophe. `flask export --raw` writes values as stored; XLSX keeps
such values as text cells; JSON is unchanged; `flask import` reads a neutralised CSV back to
the stored values. Every test runs on each configured backend.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import RegisterPerson, TestDB
from app.services.formulas import neutralise, restore
from tests.conftest import PASSWORD

RISKY = ['=HYPERLINK("http://x","click")', "=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(1,1)"]
RISKY_NOTES = ["\t=1+1", "  =1+1", "\r@SUM(1,1)", "\n-3"]  # whitespace first
TRICKY = ["'=already quoted", "'plain quote", "ordinary", "a=b", "e-mail@example.org"]


@pytest.fixture
def formula_rows(app):
    with app.app_context():
        db.session.add_all(
            [
                TestDB(string_column=v, integer_column=-7 if v == "-2+3" else 1)
                for v in RISKY + TRICKY
            ]
        )
        db.session.add_all(
            [
                RegisterPerson(id=n, full_name=f"Person {n}", notes=note)
                for n, note in enumerate(RISKY_NOTES + RISKY, start=1)
            ]
        )
        db.session.commit()


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _testdb_keys(app) -> list[str]:
    with app.app_context():
        return sorted(
            db.session.scalars(
                sa.text(
                    "SELECT string_column FROM testDB"
                    if db.engine.dialect.name == "mysql"
                    else 'SELECT string_column FROM "testDB"'
                )
            )
        )


def _notes(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(RegisterPerson.notes).order_by(RegisterPerson.id)))


def test_the_rule_quotes_what_a_spreadsheet_would_run_and_undoes_exactly():
    for value in RISKY + RISKY_NOTES:
        assert neutralise(value) == "'" + value
    assert neutralise("'=already quoted") == "''=already quoted"
    for value in ("ordinary", "a=b", "'plain quote", "", "12", "e-mail@example.org"):
        assert neutralise(value) == value
    for value in RISKY + RISKY_NOTES + TRICKY + ["", "'", "''", "' =x"]:
        assert restore(neutralise(value)) == value


def test_flask_export_neutralises_csv_by_default(app, runner, formula_rows):
    result = runner.invoke(args=["export", "testDB"])
    assert result.exit_code == 0, result.output
    keys = {row[0]: row for row in _cells(result.stdout)[1:]}
    for value in RISKY:
        assert "'" + value in keys and value not in keys
    assert keys["'-2+3"][1] == "-7"  # numbers are numbers, never quoted
    assert "''=already quoted" in keys and "'plain quote" in keys and "ordinary" in keys
    notes = runner.invoke(args=["export", "register_person"]).stdout
    header, *rows = _cells(notes)
    written = [row[header.index("notes")] for row in rows]
    assert written == ["'" + v for v in RISKY_NOTES + RISKY]
    for cell in (c for row in _cells(result.stdout + notes)[1:] for c in row):
        assert not cell.lstrip().startswith(("=", "+", "@")) and cell[:1] not in {"\t", "\r"}
        assert not cell.lstrip().startswith("-") or cell.lstrip()[1:].isdigit()


def test_flask_export_raw_writes_values_as_stored(app, runner, formula_rows):
    result = runner.invoke(args=["export", "testDB", "--raw"])
    assert result.exit_code == 0, result.output
    keys = [row[0] for row in _cells(result.stdout)[1:]]
    assert sorted(keys) == sorted(RISKY + TRICKY)
    refused = runner.invoke(args=["export", "testDB", "--format", "json", "--raw"])
    assert refused.exit_code == 2 and "--raw applies to CSV only" in refused.output


def test_csv_download_is_neutralised_and_json_unchanged(app, client, users, formula_rows):
    assert (
        client.post("/login", data={"username": "reviewer", "password": PASSWORD}).status_code
        == 303
    )
    response = client.get("/exchange/testDB/export?format=csv")
    keys = [row[0] for row in _cells(response.get_data(as_text=True))[1:]]
    assert sorted(keys) == sorted(["'" + v for v in RISKY] + [neutralise(v) for v in TRICKY])
    response = client.get("/exchange/register_person/export?format=csv")
    assert "'\t=1+1" in response.get_data(as_text=True)
    response = client.get("/exchange/testDB/export?format=json")
    assert sorted(r["string_column"] for r in json.loads(response.get_data())) == sorted(
        RISKY + TRICKY
    )


def test_xlsx_writes_every_such_value_as_a_text_cell(app, runner, formula_rows, tmp_path):
    for table, column in (("testDB", 0), ("register_person", None)):
        path = tmp_path / f"{table}.xlsx"
        result = runner.invoke(args=["export", table, "--format", "xlsx", "-o", str(path)])
        assert result.exit_code == 0, result.output
        sheet = load_workbook(path).active
        header = [c.value for c in sheet[1]]
        index = column if column is not None else header.index("notes")
        cells = [row[index] for row in sheet.iter_rows(min_row=2)]
        values = sorted(c.value for c in cells)
        expected = RISKY + TRICKY if table == "testDB" else RISKY_NOTES + RISKY
        # As stored, no apostrophe (XML itself reads a lone carriage return as a line feed).
        assert values == sorted(v.replace("\r", "\n") for v in expected)
        assert {c.data_type for c in cells} == {"s"}  # text, never a formula


def test_a_neutralised_csv_imports_back_to_the_stored_values(app, runner, formula_rows, tmp_path):
    before_keys, before_notes = _testdb_keys(app), _notes(app)
    for table, model in (("testDB", TestDB), ("register_person", RegisterPerson)):
        path = tmp_path / f"{table}.csv"
        assert runner.invoke(args=["export", table, "-o", str(path)]).exit_code == 0
        assert "'=" in path.read_text(encoding="utf-8")
        with app.app_context():
            db.session.execute(sa.delete(model))
            db.session.commit()
        result = runner.invoke(args=["import", table, str(path)])
        assert result.exit_code == 0, result.output
    assert _testdb_keys(app) == before_keys
    assert _notes(app) == before_notes


def test_the_first_character_check_knows_every_whitespace_character():
    import sys

    from app.services.formulas import WHITESPACE

    assert {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()} == WHITESPACE
    assert neutralise("\u3000=1") == "'\u3000=1"
