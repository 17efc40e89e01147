"""The codebook: every entry table and field, with the rules the forms enforce."""

from __future__ import annotations

import csv
import io

from app.entry_tables.registry import entry_tables


def test_markdown_lists_every_table_and_field(app, runner):
    result = runner.invoke(args=["codebook"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    with app.app_context():
        for table in entry_tables():
            assert f"(`{table.name}`)" in text
            for column in table.table.columns:
                assert f"| `{column.key}`" in text
    line = next(line for line in text.splitlines() if line.startswith("| `string_column`"))
    assert line.startswith("| `string_column` (key) | Key | text — VARCHAR(140)")  # + collation
    assert line.endswith(
        " | yes | unique; at most 140 characters | A unique text key, up to 140 characters. |"
    )


def test_csv_has_types_constraints_choices_and_required(runner):
    result = runner.invoke(args=["codebook", "--format", "csv"])
    assert result.exit_code == 0, result.output
    fields = {(r["table"], r["column"]): r for r in csv.DictReader(io.StringIO(result.stdout))}
    key = fields["testDB", "string_column"]
    assert (key["required"], key["max_length"], key["role"]) == ("yes", "140", "key")
    number = fields["testDB", "integer_column"]
    assert (number["type"], number["min"], number["max"]) == (
        "whole number",
        "-2147483648",
        "2147483647",
    )
    assert fields["testDB", "date_column"]["type"] == "date and time, UTC (ISO 8601)"
    age = fields["register_person", "age"]
    assert (age["min"], age["max"], age["help"]) == (
        "0",
        "130",
        "Ages over 100 are possible but are flagged for review.",
    )
    assert fields["register_person", "sex"]["choices"] == (
        "female=Female; male=Male; unknown=Unknown"
    )
    assert fields["register_person", "parish"]["pattern"] == "[A-Za-zÀ-ÿ' .-]+"
    assert fields["register_person", "full_name"]["required"] == "yes"
    assert fields["register_person", "id"]["role"] == "generated key"
    assert fields["register_person", "status"]["role"] == "provenance"


def test_every_logged_in_user_sees_the_codebook_page(client, auth, users):
    auth.login("clerk")
    home = client.get("/data/").get_data(as_text=True)
    assert 'href="/exchange/codebook"' in home  # in the navigation
    page = client.get("/exchange/codebook").get_data(as_text=True)
    assert "Register: people" in page and "<code>string_column</code>" in page
    assert "at most 140 characters" in page
    download = client.get("/exchange/codebook?format=csv")
    assert download.mimetype == "text/csv"
    assert download.get_data(as_text=True).startswith("table,column,label,")
    assert (
        client.get("/exchange/codebook?format=md").get_data(as_text=True).startswith("# Codebook")
    )
