"""The committed Alembic revisions build exactly the models' schema, down and up, on every backend.

Each test leaves the database at head (the session-scoped `migrated` fixture promises that to every
other test), whether it passes or fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app import create_app
from app.extensions import db
from app.models import TestDB

ALEMBIC_TABLE = "alembic_version"


@pytest.fixture
def migrations(app: Flask) -> Iterator[Flask]:
    """An app context for migrating; the schema is back at head afterwards, even on failure."""
    with app.app_context():
        db.session.remove()  # no open transaction may hold a lock the DDL would wait for
        try:
            yield app
        finally:
            db.session.remove()
            restore_head()


def restore_head() -> None:
    """Upgrade to head; should a failed step have left a half-built schema, rebuild it."""
    try:
        upgrade()
        if app_tables() == model_tables():
            return
    except Exception:
        pass
    meta = sa.MetaData()
    meta.reflect(bind=db.engine)
    with db.engine.begin() as conn:
        if db.engine.dialect.name in {"mysql", "mariadb"}:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        meta.drop_all(bind=conn)
    upgrade()


def app_tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {ALEMBIC_TABLE}


def model_tables() -> set[str]:
    return set(db.metadata.tables)


def head_revisions() -> set[str]:
    config = current_app.extensions["migrate"].migrate.get_config()
    return set(ScriptDirectory.from_config(config).get_heads())


def current_revisions() -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def schema_differences(metadata: sa.MetaData | None = None) -> list:
    """What `flask db migrate` would write, compared the way Flask-Migrate configures Alembic."""
    target = db.metadata if metadata is None else metadata
    opts = {**current_app.extensions["migrate"].configure_args, "target_metadata": target}
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts=opts), target)


def test_flask_migrate_compares_types_in_batch_mode(migrations):
    args = current_app.extensions["migrate"].configure_args
    assert args["compare_type"] is True
    assert args["render_as_batch"] is True


def test_downgrade_to_base_leaves_no_app_tables(migrations):
    downgrade(revision="base")
    assert app_tables() == set()
    assert current_revisions() == set()


def test_upgrade_from_empty_reaches_head(migrations):
    downgrade(revision="base")
    upgrade()
    assert current_revisions() == head_revisions()
    assert app_tables() == model_tables()
    assert "testDB" in app_tables()


def test_autogenerate_finds_nothing_to_migrate(migrations):
    downgrade(revision="base")
    upgrade()
    assert schema_differences() == []


def test_comparison_sees_the_database(migrations):
    """Guards the test above: against empty metadata, every table shows up as a difference."""
    removed = {
        diff[1].name for diff in schema_differences(sa.MetaData()) if diff[0] == "remove_table"
    }
    assert removed == app_tables()


def test_downgrade_and_upgrade_again(migrations):
    for _ in range(2):
        downgrade(revision="base")
        assert app_tables() == set()
        upgrade()
        assert current_revisions() == head_revisions()
    assert schema_differences() == []


def test_upgrade_at_head_is_a_no_op(migrations):
    upgrade()
    assert current_revisions() == head_revisions()


def test_flask_db_upgrade_command(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_offline_sql_with_a_password_needing_escapes(tmp_path, monkeypatch, capsys):
    """env.py hands the URL to Alembic's ini parser: % and @ : / in a password must survive."""
    monkeypatch.setenv("DATABASE_PASSWORD", "p@ss:w/rd%20%%x")
    app = create_app(
        {
            "DATABASE_URL": "mysql://portal@db.invalid:3306/portal",
            "DOCUMENT_STORAGE": str(tmp_path / "documents"),
        }
    )
    with app.app_context():
        assert db.engine.url.password == "p@ss:w/rd%20%%x"
        upgrade(sql=True)  # offline: renders the SQL, never connects
    sql = capsys.readouterr().out
    assert "CREATE TABLE `testDB`" in sql
    assert "DATETIME(6)" in sql


def non_utf8mb4() -> list[tuple[str, ...]]:
    """Tables and text columns of the current MySQL database stored in another character set."""
    tables = db.session.execute(
        sa.text(
            "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_COLLATION NOT LIKE 'utf8mb4%' "
            f"AND TABLE_NAME <> '{ALEMBIC_TABLE}'"
        )
    ).all()
    columns = db.session.execute(
        sa.text(
            "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME <> 'utf8mb4' "
            f"AND TABLE_NAME <> '{ALEMBIC_TABLE}'"
        )
    ).all()
    return [tuple(row) for row in [*tables, *columns]]


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_tables_are_utf8mb4_in_a_latin1_database(database_url: str, tmp_path: Path):
    """A database created without a charset is latin1 on MariaDB before 11.6 and on many RDS
    parameter groups: the migrations must still store 4-byte characters."""
    name = f"portal_test_latin1_{os.getpid()}"  # the test user may create portal_test_* databases
    server = sa.create_engine(database_url, poolclass=NullPool)
    with server.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET latin1")
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": url, "DOCUMENT_STORAGE": str(tmp_path / "documents")})
    try:
        with app.app_context():
            upgrade()
            assert non_utf8mb4() == []
            db.session.add(TestDB(string_column="😀𠜎"))
            db.session.commit()
            db.session.remove()
            assert db.session.get(TestDB, "😀𠜎") is not None
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with server.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        server.dispose()
