"""Data freezes on every configured backend: one consistent snapshot under concurrent saves,
verify finds a changed byte, diff finds added / removed / changed rows with the right fields,
names are never reused, and a freeze row is never changed."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.entry_tables.registry import get_entry_table
from app.extensions import db
from app.models import Freeze, FreezeJob, RegisterPerson, TestDB, User
from app.models.freeze import FrozenRowChanged
from app.services import entries, freezes
from app.services.freeze_diff import diff
from app.storage import FolderStorage, get_storage

WHEN = dt.datetime(1989, 1, 31, 14, 5, 6, 123456, tzinfo=dt.UTC)


@pytest.fixture
def seeded(app, users):
    """testDB: three approved rows, one entered; register_person: one approved row."""
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
                TestDB(
                    string_column="B-2 «ü»", integer_column=7, date_column=WHEN, status="approved"
                ),
                TestDB(
                    string_column="=1+1", integer_column=None, date_column=WHEN, status="approved"
                ),
                TestDB(string_column="D-4", integer_column=1, date_column=WHEN, status="entered"),
                RegisterPerson(
                    full_name="Doe, Jane",
                    sex="female",
                    age=34,
                    birth_date=dt.date(1650, 3, 1),
                    height_m=1.62,
                    fee_paid=decimal.Decimal("2.50"),
                    literate=True,
                    status="approved",
                ),
            ]
        )
        db.session.commit()


def make(app, name: str, rows: str = "approved", progress=None, note: str | None = None):
    with app.app_context():
        job = freezes.start_job(name, rows=rows, note=note, actor_name="tester")
        freeze = freezes.run_job(
            job.id, read_engine=db.engine, storage=get_storage(), progress=progress
        )
        db.session.expunge(freeze)
        return freeze


def archive_table(app, freeze: Freeze, table: str) -> list[dict[str, str]]:
    with app.app_context(), freezes.open_archive(freeze, get_storage()) as archive:
        text = archive.read(f"tables/{table}.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def stored_path(app, freeze: Freeze) -> Path:
    with app.app_context():
        storage = get_storage()
    assert isinstance(storage, FolderStorage)
    return storage.root / freeze.storage_key


def test_a_freeze_holds_approved_rows_codebook_and_manifest(app, seeded):
    freeze = make(app, "v1", note="for the paper")
    rows = archive_table(app, freeze, "testDB")
    assert [r["string_column"] for r in rows] == sorted(["A-1", "B-2 «ü»", "=1+1"])
    first = next(r for r in rows if r["string_column"] == "A-1")
    assert first == {
        "string_column": "A-1",
        "integer_column": "42",
        "date_column": "1989-01-31T14:05:06.123456+00:00",
        "document_id": "",
        "entered_by": "clerk",
        "status": "approved",
        "created_at": first["created_at"],
        "updated_at": first["updated_at"],
    }
    # Raw: a value a spreadsheet would run as a formula is kept exactly as stored.
    assert any(r["string_column"] == "=1+1" for r in rows)
    person = archive_table(app, freeze, "register_person")[0]
    assert (person["birth_date"], person["fee_paid"], person["literate"]) == (
        "1650-03-01",
        "2.50",
        "true",
    )
    with app.app_context(), freezes.open_archive(freeze, get_storage()) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        codebook = json.loads(archive.read("codebook.json"))
    assert names == {
        "manifest.json",
        "codebook.csv",
        "codebook.md",
        "codebook.json",
        "tables/testDB.csv",
        "tables/register_person.csv",
    }
    assert manifest["name"] == "v1" and manifest["note"] == "for the paper"
    assert manifest["rows"] == "approved" and manifest["created_by"] == "tester"
    assert manifest["schema_revision"] == freeze.schema_revision and freeze.schema_revision
    tables = {t["name"]: t for t in manifest["tables"]}
    assert tables["testDB"]["rows"] == 3 and tables["register_person"]["rows"] == 1
    kinds = {c["name"]: c["kind"] for c in tables["testDB"]["columns"]}
    assert kinds["integer_column"] == "int" and kinds["date_column"] == "datetime"
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert any(t["name"] == "register_person" for t in codebook["tables"])
    assert freeze.row_count == 4 and len(freeze.sha256) == 64
    with app.app_context():
        assert (
            json.loads(db.session.scalar(sa.select(Freeze.manifest).where(Freeze.name == "v1")))
            == manifest
        )


def test_status_all_takes_every_row(app, seeded):
    freeze = make(app, "everything", rows="all")
    assert len(archive_table(app, freeze, "testDB")) == 4


def test_a_freeze_holds_exactly_the_rows_committed_before_it_began(app, seeded):
    """Saves made (and committed) while the freeze reads are not in it, and are not blocked."""
    table = get_entry_table("testDB")
    errors: list[BaseException] = []

    def save_meanwhile() -> None:
        try:
            with app.app_context():
                admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
                entries.create_row(
                    table,
                    {"string_column": "NEW-1", "integer_column": 1, "date_column": WHEN},
                    actor=admin,
                )
                row = db.session.get(TestDB, "A-1")
                # A-1 is approved: it changes only by a reviewer's correction, with a reason.
                entries.update_row(
                    table,
                    "A-1",
                    {"integer_column": 43},
                    actor=admin,
                    expected_version=row.version,
                    action="correct",
                    reason="checked against the scan",
                )
                db.session.execute(
                    sa.update(TestDB).where(TestDB.string_column == "D-4").values(status="approved")
                )
                db.session.execute(sa.delete(TestDB).where(TestDB.string_column == "B-2 «ü»"))
                db.session.commit()
        except BaseException as exc:
            errors.append(exc)

    def on_progress(done: int, total: int) -> None:
        if done == 0:  # the snapshot is taken; save in another thread and wait for it
            saver = threading.Thread(target=save_meanwhile)
            saver.start()
            saver.join(timeout=20)
            assert not saver.is_alive(), "a save was blocked by the freeze"

    freeze = make(app, "consistent", progress=on_progress)
    assert not errors, errors
    rows = {r["string_column"]: r for r in archive_table(app, freeze, "testDB")}
    assert set(rows) == {"A-1", "B-2 «ü»", "=1+1"}
    assert rows["A-1"]["integer_column"] == "42"
    with app.app_context():  # the saves are committed all the same
        keys = set(
            db.session.scalars(sa.select(TestDB.string_column).where(TestDB.status == "approved"))
        )
        assert keys == {"A-1", "=1+1", "D-4"}
        assert db.session.get(TestDB, "NEW-1") is not None
        assert db.session.get(TestDB, "A-1").integer_column == 43
    later = make(app, "after")
    assert {r["string_column"] for r in archive_table(app, later, "testDB")} == {
        "A-1",
        "=1+1",
        "D-4",
    }


def test_verify_finds_a_changed_byte(app, seeded, runner):
    freeze = make(app, "v1")
    result = runner.invoke(args=["freeze", "verify", "v1"])
    assert result.exit_code == 0, result.output
    assert "Freeze v1 is intact: 7 checksums match." in result.output
    path = stored_path(app, freeze)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:  # a byte inside testDB.csv's compressed data
        info = archive.getinfo("tables/testDB.csv")
    # past the local header: 30 bytes, then its own name and extra lengths (at 26 and 28)
    start = info.header_offset
    name_length = int.from_bytes(data[start + 26 : start + 28], "little")
    extra_length = int.from_bytes(data[start + 28 : start + 30], "little")
    offset = start + 30 + name_length + extra_length + 5
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    result = runner.invoke(args=["freeze", "verify", "v1"])
    assert result.exit_code == 1
    assert "the archive's sha256 is" in result.output
    assert "tables/testDB.csv" in result.output.split("the archive's sha256")[1]
    assert "Freeze v1 is NOT intact" in result.output


def test_verify_finds_a_member_rewritten_with_a_valid_zip(app, seeded):
    """A rewritten archive (valid CRCs, one value changed) still fails on the sha256s."""
    freeze = make(app, "v1")
    path = stored_path(app, freeze)
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["tables/testDB.csv"] = members["tables/testDB.csv"].replace(b"42", b"43")
    with zipfile.ZipFile(path, "w") as target:
        for name, content in members.items():
            target.writestr(name, content)
    with app.app_context():
        result = freezes.verify(db.session.get(Freeze, freeze.id), get_storage())
    assert not result.ok
    assert any(p.startswith("tables/testDB.csv: sha256") for p in result.problems)


def test_diff_finds_added_removed_and_changed_rows_with_their_fields(app, seeded, runner):
    a = make(app, "a")
    with app.app_context():
        db.session.execute(
            sa.update(TestDB).where(TestDB.string_column == "A-1").values(integer_column=99)
        )
        db.session.execute(sa.delete(TestDB).where(TestDB.string_column == "B-2 «ü»"))
        db.session.add(
            TestDB(string_column="C-3", integer_column=5, date_column=WHEN, status="approved")
        )
        db.session.commit()
    b = make(app, "b")
    with app.app_context():
        result = diff(db.session.get(Freeze, a.id), db.session.get(Freeze, b.id), get_storage())
    by_key = {(r.table, r.key): r for r in result.rows}
    assert set(by_key) == {("testDB", "A-1"), ("testDB", "B-2 «ü»"), ("testDB", "C-3")}
    changed = by_key[("testDB", "A-1")]
    assert changed.change == "changed"
    fields = {f.column: (f.old, f.new) for f in changed.fields}
    assert fields["integer_column"] == ("42", "99")
    assert "string_column" not in fields and "date_column" not in fields
    assert by_key[("testDB", "B-2 «ü»")].change == "removed"
    added = by_key[("testDB", "C-3")]
    assert added.change == "added"
    assert {f.column: f.new for f in added.fields}["integer_column"] == "5"
    assert result.counts() == {"added": 1, "removed": 1, "changed": 1}

    out = runner.invoke(args=["freeze", "diff", "a", "b", "--table", "testDB", "--format", "csv"])
    assert out.exit_code == 0, out.output
    lines = list(csv.reader(io.StringIO(out.stdout)))
    assert lines[0] == ["table", "key", "change", "column", "old_value", "new_value"]
    assert ["testDB", "A-1", "changed", "integer_column", "42", "99"] in lines
    assert ["testDB", "C-3", "added", "integer_column", "", "5"] in lines
    assert ["testDB", "B-2 «ü»", "removed", "integer_column", "7", ""] in lines
    assert "a -> b: 1 added, 1 removed, 1 changed." in out.stderr
    text = runner.invoke(args=["freeze", "diff", "a", "b", "--table", "register_person"])
    assert text.exit_code == 0 and text.stdout == ""
    bad = runner.invoke(args=["freeze", "diff", "a", "b", "--table", "nope"])
    assert bad.exit_code == 1 and "Neither freeze has a table named 'nope'" in bad.output


def test_a_name_that_exists_is_refused(app, seeded, runner):
    make(app, "v1")
    result = runner.invoke(args=["freeze", "create", "v1"])
    assert result.exit_code == 1
    assert "A freeze named 'v1' exists already" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Freeze)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FreezeJob)) == 1


@pytest.mark.parametrize("name", ["", "has space", "-dash-first", "a/b", "x" * 101, "diff"])
def test_bad_names_are_refused(app, runner, name):
    result = runner.invoke(args=["freeze", "create", "--", name])
    assert result.exit_code == 1, result.output
    assert "A freeze name is 1 to 100" in result.output or "is reserved" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FreezeJob)) == 0


def test_the_cli_creates_and_lists(app, seeded, runner, users):
    result = runner.invoke(
        args=[
            "freeze",
            "create",
            "cli-1",
            "--status",
            "all",
            "--note",
            "first cut",
            "--as",
            "reviewer",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Freeze cli-1: 5 rows" in result.stdout
    assert "5 of 5 rows (100 %)" in result.stderr
    listed = runner.invoke(args=["freeze", "list"]).stdout
    assert listed.startswith("cli-1\t") and "\tall\t5 rows\treviewer\t" in listed
    assert listed.rstrip().endswith("first cut")


def test_a_freeze_row_is_never_changed_or_deleted(app, seeded):
    make(app, "v1")
    with app.app_context():
        freeze = db.session.scalar(sa.select(Freeze))
        freeze.note = "rewritten"
        with pytest.raises(FrozenRowChanged):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.scalar(sa.select(Freeze)))
        with pytest.raises(FrozenRowChanged):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(sa.select(Freeze.note)) is None


def test_a_failed_freeze_keeps_nothing_and_frees_its_name(app, seeded, monkeypatch):
    from app.storage import StorageError

    def refuse(*args, **kwargs):
        raise StorageError("the disk is full")

    monkeypatch.setattr(FolderStorage, "put_file", refuse)
    with pytest.raises(StorageError):
        make(app, "v1")
    with app.app_context():
        job = db.session.scalar(sa.select(FreezeJob))
        assert (job.state, job.message) == ("failed", "the disk is full")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Freeze)) == 0
    monkeypatch.undo()
    assert make(app, "v1").row_count == 4
