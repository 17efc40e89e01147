"""A frozen table's CSV is byte for byte `flask export --raw` of the same rows and columns,
whichever writer made it (the database's lines on MySQL / MariaDB, the csv module elsewhere),
for text the csv module quotes and text that merely looks like it should be."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
import sqlalchemy as sa

from app.entry_tables.registry import get_entry_table
from app.extensions import db
from app.models import RegisterPerson, TestDB, User
from app.services import exports, freeze_csv, freezes
from app.storage import get_storage

WHEN = dt.datetime(2024, 2, 29, 23, 59, 58, 7, tzinfo=dt.UTC)
# Keys the csv module quotes (comma, quote, CR, LF) and keys it leaves alone although a
# case- or width-insensitive comparison would take them for those (full-width comma and quote).
AWKWARD_KEYS = [
    "plain",
    "a,b",
    'say "hi"',
    '"',
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\n",
    "full\uff0cwidth comma",
    "full\uff02width quote",
    " spaced ",
    "=1+1",
    "tab\there",
    "«ü» \u2028 \U0001f600",
    "'quoted'",
    "semi;colon",
]


@pytest.fixture
def awkward(app):
    """Approved testDB rows with awkward keys, numbers, dates and clerks; a register row."""
    with app.app_context():
        clerk = User(username='clerk, "the first"', role="clerk")
        wide = User(username="\uff43lerk\uff0c\uff12", role="clerk")  # full-width c, comma, 2
        for user in (clerk, wide):
            user.set_password("a long enough password 1")
            db.session.add(user)
        db.session.flush()
        for n, key in enumerate(AWKWARD_KEYS):
            db.session.add(
                TestDB(
                    string_column=key,
                    integer_column=None if n % 4 == 0 else (-1) ** n * n * 1_000_003,
                    date_column=None if n % 5 == 0 else WHEN - dt.timedelta(days=400 * n),
                    entered_by_id=(clerk.id, wide.id, None)[n % 3],
                    status="approved",
                )
            )
        db.session.add_all(
            [
                RegisterPerson(
                    full_name='Doe, "Jane"\nJr.',
                    age=3,
                    birth_date=dt.date(1650, 3, 1),
                    height_m=0.1,
                    fee_paid=decimal.Decimal("-0.50"),
                    literate=False,
                    status="approved",
                ),
                RegisterPerson(full_name="Roe", sex="male", literate=True, status="approved"),
                RegisterPerson(full_name="", birth_date=dt.date(2000, 12, 31), status="approved"),
            ]
        )
        db.session.commit()


def exported(runner, table: str) -> bytes:
    result = runner.invoke(
        args=["export", table, "--status", "approved", "--with-provenance", "--raw"]
    )
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def frozen(app, name: str, table: str) -> bytes:
    with app.app_context():
        job = freezes.start_job(name, actor_name="tester")
        freeze = freezes.run_job(job.id, read_engine=db.engine, storage=get_storage())
        with freezes.open_archive(freeze, get_storage()) as archive:
            return archive.read(f"tables/{table}.csv")


@pytest.mark.parametrize("table", ["testDB", "register_person"])
def test_the_frozen_csv_is_the_raw_export(app, awkward, runner, table):
    data = frozen(app, f"csv-{table}", table)
    assert data == exported(runner, table)
    if table == "testDB":
        assert b'"a,b",' in data and b'"line\nbreak",' in data and b'"say ""hi""",' in data
        assert "full\uff0cwidth comma,".encode() in data  # not quoted: not a comma


def test_the_database_writes_the_lines_where_it_can_exactly(app):
    """MySQL / MariaDB and SQLite write testDB's lines; a float column (register_person's
    height), whose text the database writes otherwise than Python, and PostgreSQL keep the csv
    module."""
    with app.app_context():
        backend = db.engine.dialect.name
        specs = {
            name: exports.export_spec(
                get_entry_table(name), with_provenance=True, status="approved"
            )
            for name in ("testDB", "register_person")
        }
        made = {
            name: freeze_csv.server_lines_query(spec, backend) is not None
            for name, spec in specs.items()
        }
    assert made == {"testDB": backend in {"mysql", "mariadb", "sqlite"}, "register_person": False}


def test_the_progress_counts_every_row_once(app, awkward):
    seen: list[tuple[int, int]] = []
    with app.app_context():
        job = freezes.start_job("counted", actor_name="tester")
        freezes.run_job(
            job.id,
            read_engine=db.engine,
            storage=get_storage(),
            progress=lambda done, total: seen.append((done, total)),
        )
        total = sum(
            db.session.scalar(
                sa.select(sa.func.count()).select_from(model).where(model.status == "approved")
            )
            for model in (TestDB, RegisterPerson)
        )
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_the_database_writes_yes_no_dates_and_numbers_as_python_does(app, awkward):
    """register_person without its float, decimal and unbounded text columns: every other
    kind the database may write (text, whole numbers, yes/no, dates, datetimes) on the
    database's path."""
    with app.app_context():
        table = get_entry_table("register_person")
        spec = exports.export_spec(table, with_provenance=True, status="approved")
        spec = exports.ExportSpec(
            table,
            [c for c in spec.columns if c.kind not in {"float", "decimal"} and c.name != "notes"],
            "approved",
        )
        kinds = {c.kind for c in spec.columns}
        assert {"text", "int", "bool", "date"} <= kinds
        with freezes.snapshot(db.engine) as conn:
            ours = "".join(freeze_csv.csv_chunks(conn, spec, lambda rows: None))
            python = "".join(
                exports.csv_chunks(exports.read_partitions(conn, spec), spec, raw=True)
            )
        backend = db.engine.dialect.name
        on_server = freeze_csv.server_lines_query(spec, backend) is not None
        notes = next(c for c in exports.export_spec(table).columns if c.name == "notes")
        with_notes = exports.ExportSpec(table, [*spec.columns, notes], "approved")
        # unbounded text: its line might not fit in one value (max_allowed_packet)
        assert freeze_csv.server_lines_query(with_notes, backend) is None
    assert ours == python
    assert ",true," in ours and ",false," in ours and "1650-03-01" in ours
    assert on_server == (backend in {"mysql", "mariadb", "sqlite"})
