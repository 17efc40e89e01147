"""examples/freeze_loader.py: a freeze (or the live database) into pandas with the codebook's
dtypes, on real archives made by the portal from each backend."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import RegisterPerson, TestDB
from app.services import freezes
from app.storage import get_storage
from config import PROJECT_ROOT
from examples.freeze_loader import load_freeze

WHEN = dt.datetime(1989, 1, 31, 14, 5, 6, 123456, tzinfo=dt.UTC)


@pytest.fixture
def archive(app, users, tmp_path):
    """A freeze of approved rows, copied out of the storage as a researcher downloads it."""
    with app.app_context():
        db.session.add_all(
            [
                TestDB(string_column="A-1", integer_column=42, date_column=WHEN, status="approved"),
                TestDB(
                    string_column="B-2", integer_column=None, date_column=None, status="approved"
                ),
                RegisterPerson(
                    full_name="Doe, Jane",
                    sex="female",
                    age=34,
                    birth_date=dt.date(1650, 3, 1),
                    recorded_at=dt.datetime(1702, 5, 6, 7, 8),
                    height_m=1.62,
                    fee_paid=decimal.Decimal("2.50"),
                    literate=True,
                    status="approved",
                ),
                RegisterPerson(
                    full_name="Roe, Richard", sex=None, age=None, literate=False, status="approved"
                ),
            ]
        )
        db.session.commit()
        db.session.execute(
            sa.update(TestDB).where(TestDB.string_column == "B-2").values(date_column=None)
        )  # the ORM fills a default time in
        db.session.commit()
        job = freezes.start_job("paper-v1", actor_name="tester")
        freeze = freezes.run_job(job.id, read_engine=db.engine, storage=get_storage())
        path = tmp_path / "freeze-paper-v1.zip"
        with get_storage().open_file(freeze.storage_key) as source:
            path.write_bytes(source.read())
    return path


def test_a_freeze_loads_with_the_codebook_dtypes(archive):
    frames = load_freeze(archive)
    values = frames["testDB"].set_index("string_column")
    assert str(values["integer_column"].dtype) == "Int64"
    assert values.loc["A-1", "integer_column"] == 42
    assert values.loc["B-2", "integer_column"] is pd.NA
    assert str(values["date_column"].dtype) == "datetime64[us, UTC]"
    assert values.loc["A-1", "date_column"] == pd.Timestamp(WHEN)
    assert pd.isna(values.loc["B-2", "date_column"])
    assert isinstance(values["status"].dtype, pd.CategoricalDtype)
    assert list(values["status"].cat.categories) == ["entered", "submitted", "returned", "approved"]

    people = frames["register_person"].set_index("full_name")
    assert isinstance(people["sex"].dtype, pd.CategoricalDtype)
    assert list(people["sex"].cat.categories) == ["Female", "Male", "Unknown"]
    assert people.loc["Doe, Jane", "sex"] == "Female"
    assert pd.isna(people.loc["Roe, Richard", "sex"])
    assert str(people["age"].dtype) == "Int64" and people.loc["Roe, Richard", "age"] is pd.NA
    assert people.loc["Doe, Jane", "birth_date"] == pd.Timestamp("1650-03-01", tz="UTC")
    assert str(people["birth_date"].dtype) == "datetime64[us, UTC]"
    assert people.loc["Doe, Jane", "recorded_at"] == pd.Timestamp("1702-05-06 07:08", tz="UTC")
    assert people["height_m"].dtype == "float64" and people.loc["Doe, Jane", "height_m"] == 1.62
    assert people.loc["Doe, Jane", "fee_paid"] == decimal.Decimal("2.50")
    assert str(people["literate"].dtype) == "boolean"
    assert people["literate"].tolist() == [True, False]
    assert frames["register_person"].attrs["choices"]["sex"]["female"] == "Female"
    assert frames["testDB"].attrs["freeze"] == "paper-v1"

    stored = load_freeze(archive, labels=False)["register_person"]
    assert list(stored["sex"].cat.categories) == ["female", "male", "unknown"]


def run_loader(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(APP_ENV="development", LOG_LEVEL="WARNING")
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-W", "error", "examples/freeze_loader.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_script_prints_a_freeze(archive):
    result = run_loader(str(archive))
    assert result.returncode == 0, result.stderr
    assert "== testDB: 2 rows" in result.stdout and "== register_person: 2 rows" in result.stdout
    assert re.search(r"^integer_column +Int64$", result.stdout, re.M)
    assert re.search(r"^sex +category$", result.stdout, re.M)


def test_the_live_database_loads_like_a_freeze(app, archive):
    """--live reads the database (every backend) into the same dtypes as the archive."""
    result = run_loader("--live", database_url=app.config["SQLALCHEMY_DATABASE_URI"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_loader(str(archive)).stdout  # same tables, rows and dtypes
