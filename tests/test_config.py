"""Configuration from the environment: clear refusals, driver aliases, paths and secrets."""

from __future__ import annotations

import importlib.util
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import URL, make_url

from app import create_app
from app.database import parse_database_url
from app.extensions import db
from config import (
    DEV_SECRET_KEY,
    PROJECT_ROOT,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    config_from_env,
)

STRONG_KEY = "4f" * 32
SPECIAL_PASSWORD = "p@ss:w/rd%40#?"
ENV_VARIABLES = (
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_PASSWORD",
    "DATABASE_SSL_CA",
    "DOCUMENT_STORAGE",
    "MAX_UPLOAD_MB",
    "DASHBOARD_RECOUNT_MINUTES",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def build(database_url: str, tmp_path: Path) -> Flask:
    return create_app({"DATABASE_URL": database_url, "DOCUMENT_STORAGE": str(tmp_path / "docs")})


def assert_one_clear_sentence(message: str, variable: str) -> None:
    assert variable in message
    assert "\n" not in message
    assert message.endswith(".")
    assert not re.search(r"[.;:]\s+[A-Z][a-z]", message), message  # no second sentence


def engine_url(app: Flask) -> URL:
    with app.app_context():
        return db.engine.url


# --- DATABASE_URL -------------------------------------------------------------------------------

BAD_URLS = {
    "not_a_url": "not a url",
    "empty_scheme": "://user:pw@host/db",
    "unencoded_at": "mysql+pymysql://user:hunter@2secret@db.example.com/portal",
    "unencoded_at_and_colon": "mysql+pymysql://user:hunter@2:secret@db.example.com/portal",
    "port_not_a_number": "mysql+pymysql://user:pw@db.example.com:33o6/portal",
    "unsupported_scheme": "http://db.example.com/portal",
    "unsupported_database": "oracle://user:pw@db.example.com/portal",
    "unknown_driver": "mysql+nosuchdriver://user:pw@db.example.com/portal",
    "missing_relative_folder": "sqlite:///no-such-folder/portal.db",
}


@pytest.mark.parametrize("raw", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_bad_database_url_is_one_clear_sentence(raw, tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        build(raw, tmp_path)
    message = str(excinfo.value)
    assert_one_clear_sentence(message, "DATABASE_URL")
    for secret in ("hunter", "secret"):
        assert secret not in message  # messages end up in logs: never echo the password


def test_driver_that_is_not_installed(tmp_path):
    """mysql+mysqldb:// (from many tutorials) must not end in a ModuleNotFoundError traceback."""
    if importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("mysqlclient happens to be installed")
    with pytest.raises(ConfigError, match="not installed") as excinfo:
        build("mysql+mysqldb://user:pw@db.example.com/portal", tmp_path)
    assert_one_clear_sentence(str(excinfo.value), "DATABASE_URL")


def test_unencoded_at_names_the_cause(tmp_path):
    with pytest.raises(ConfigError, match=r"unencoded @.*%40.*DATABASE_PASSWORD"):
        build(BAD_URLS["unencoded_at"], tmp_path)


def test_missing_absolute_sqlite_folder(tmp_path):
    missing = tmp_path / "missing" / "portal.db"
    with pytest.raises(ConfigError) as excinfo:
        build(f"sqlite:///{missing}", tmp_path)
    assert_one_clear_sentence(str(excinfo.value), "DATABASE_URL")
    assert str(missing.parent) in str(excinfo.value)


def test_bad_database_url_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "not a url")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("mysql://u:pw@db.example.com:3306/portal", "mysql+pymysql"),
        ("mariadb://u:pw@db.example.com:3306/portal", "mariadb+pymysql"),
        ("postgres://u:pw@db.example.com:5432/portal", "postgresql+psycopg"),
        ("postgresql://u:pw@db.example.com:5432/portal", "postgresql+psycopg"),
        ("mysql+pymysql://u:pw@db.example.com:3306/portal", "mysql+pymysql"),
        ("postgresql+psycopg://u:pw@db.example.com/portal", "postgresql+psycopg"),
    ],
)
def test_scheme_aliases_map_to_our_drivers(raw, driver, tmp_path):
    url = engine_url(build(raw, tmp_path))
    assert url.drivername == driver
    assert (url.username, url.password, url.host) == ("u", "pw", "db.example.com")


ALIASES = {
    "mysql": ("mysql+pymysql://", "mysql://"),
    "postgres": ("postgresql+psycopg://", "postgres://"),
}


@pytest.mark.parametrize("backend", list(ALIASES), indirect=True)
def test_scheme_alias_connects(backend, database_url, tmp_path):
    ours, alias = ALIASES[backend]
    app = build(database_url.replace(ours, alias, 1), tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        db.engine.dispose()


def test_relative_sqlite_path_anchors_at_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    url = parse_database_url("sqlite:///migrations/portal-test.db", str(tmp_path / "instance"))
    assert url.database == str(PROJECT_ROOT / "migrations" / "portal-test.db")


def test_data_folder_is_taken_from_the_project_root(monkeypatch, tmp_path):
    """The example in .env.example: sqlite:///data/portal.db means <project>/data/portal.db."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()  # a data/ folder in the working directory must not be used
    expected = PROJECT_ROOT / "data" / "x.db"
    if expected.parent.is_dir():
        assert engine_url(build("sqlite:///data/x.db", tmp_path)).database == str(expected)
    else:
        with pytest.raises(ConfigError, match=re.escape(str(expected))):
            build("sqlite:///data/x.db", tmp_path)


def test_relative_sqlite_path_reaches_the_engine_unchanged(monkeypatch, tmp_path):
    """Flask-SQLAlchemy would re-anchor a relative path in instance/; ours arrives absolute."""
    monkeypatch.chdir(tmp_path)
    app = build("sqlite:///portal-config-test-never-created.db", tmp_path)
    database = engine_url(app).database
    assert database == str(PROJECT_ROOT / "portal-config-test-never-created.db")
    assert not database.startswith(app.instance_path)
    assert not Path(database).exists()  # building the app opens no connection


def test_missing_relative_folder_is_reported_under_project_root(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(str(PROJECT_ROOT / "no-such-folder"))):
        build(BAD_URLS["missing_relative_folder"], tmp_path)


def test_unset_database_url_uses_the_instance_folder(tmp_path):
    app = create_app({"DOCUMENT_STORAGE": str(tmp_path / "docs")})
    assert engine_url(app).database == os.path.join(app.instance_path, "portal.db")


def test_default_sqlite_path_survives_odd_folder_names(tmp_path):
    """A clone under "Jane's 100% data?" must still find instance/portal.db, not a mangled path."""
    instance = tmp_path / "Jane Doe's 100% data?#" / "instance"
    instance.mkdir(parents=True)
    url = parse_database_url(None, str(instance))
    rendered = url.render_as_string(hide_password=False)  # what configure_app hands on
    assert make_url(rendered).database == str(instance / "portal.db")
    engine = sa.create_engine(rendered)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()
    assert (instance / "portal.db").is_file()


# --- DATABASE_SSL_CA ----------------------------------------------------------------------------

SERVER_URLS = ["mysql+pymysql://u:pw@db.example.com/portal", "postgresql+psycopg://u:pw@h/portal"]


@pytest.mark.parametrize("raw", SERVER_URLS, ids=["mysql", "postgres"])
def test_missing_ca_bundle_is_refused(raw, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_SSL_CA", str(tmp_path / "global-bundle.pem"))
    with pytest.raises(ConfigError) as excinfo:
        build(raw, tmp_path)
    assert_one_clear_sentence(str(excinfo.value), "DATABASE_SSL_CA")


def test_ca_bundle_that_is_not_pem_is_refused(monkeypatch, tmp_path):
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_text("<html>AccessDenied</html>\n")  # what a failed download often saves
    monkeypatch.setenv("DATABASE_SSL_CA", str(bundle))
    with pytest.raises(ConfigError, match="DATABASE_SSL_CA"):
        build(SERVER_URLS[0], tmp_path)


def test_ca_bundle_enables_verified_tls(monkeypatch, tmp_path):
    bundle = ssl.get_default_verify_paths().cafile
    if not bundle or not Path(bundle).is_file():
        pytest.skip("no system CA bundle to stand in for the RDS one")
    monkeypatch.setenv("DATABASE_SSL_CA", bundle)
    mysql_args = build(SERVER_URLS[0], tmp_path).config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert mysql_args["ssl"].verify_mode == ssl.CERT_REQUIRED
    assert mysql_args["ssl"].check_hostname is True
    pg_args = build(SERVER_URLS[1], tmp_path).config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert (pg_args["sslmode"], pg_args["sslrootcert"]) == ("verify-full", bundle)


# --- DATABASE_PASSWORD --------------------------------------------------------------------------


def test_database_password_is_injected_verbatim(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_PASSWORD", SPECIAL_PASSWORD)
    url = engine_url(build("mysql://portal@db.example.com:3306/portal", tmp_path))
    assert url.password == SPECIAL_PASSWORD
    assert (url.username, url.host, url.port, url.database) == (
        "portal",
        "db.example.com",
        3306,
        "portal",
    )


def test_password_in_the_url_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_PASSWORD", SPECIAL_PASSWORD)
    url = engine_url(build("mysql://portal:inurl@db.example.com/portal", tmp_path))
    assert url.password == "inurl"


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_database_password_logs_in(backend, database_url, monkeypatch, tmp_path):
    url = parse_database_url(database_url, str(tmp_path))
    if not url.password:
        pytest.skip("TEST_MYSQL_URL carries no password")
    monkeypatch.setenv("DATABASE_PASSWORD", url.password)
    app = build(url.set(password=None).render_as_string(hide_password=False), tmp_path)
    assert app.test_client().get("/healthz").status_code == 200
    with app.app_context():
        db.engine.dispose()


# --- SECRET_KEY, APP_ENV ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret_key",
    [None, "", " " * 40, "too-short", DEV_SECRET_KEY, f"  {DEV_SECRET_KEY}  "],
    ids=["unset", "empty", "blank", "short", "dev_key", "dev_key_padded"],
)
def test_production_refuses_a_weak_secret_key(secret_key, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'portal.db'}")
    if secret_key is not None:
        monkeypatch.setenv("SECRET_KEY", secret_key)
    with pytest.raises(ConfigError) as excinfo:
        create_app()
    assert "SECRET_KEY" in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("minutes", ["-1", "ten", "1.5"])
def test_a_bad_recount_interval_is_one_clear_sentence(minutes, monkeypatch, tmp_path):
    monkeypatch.setenv("DASHBOARD_RECOUNT_MINUTES", minutes)
    with pytest.raises(ConfigError) as excinfo:
        build(f"sqlite:///{tmp_path / 'portal.db'}", tmp_path)
    assert_one_clear_sentence(str(excinfo.value), "DASHBOARD_RECOUNT_MINUTES")


def test_the_recount_interval_defaults_to_ten_minutes(tmp_path):
    app = build(f"sqlite:///{tmp_path / 'portal.db'}", tmp_path)
    assert app.config["DASHBOARD_RECOUNT_MINUTES"] == 10


def test_production_refuses_a_missing_database_url(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()


def test_production_starts_when_configured(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'portal.db'}")
    app = create_app()
    assert app.config["ENV_NAME"] == "production"
    assert app.secret_key == STRONG_KEY
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not app.debug and not app.testing


def test_production_check_reads_the_environment_not_the_class(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://u:p@h/db")
    ProductionConfig().check()
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ConfigError):
        ProductionConfig().check()


@pytest.mark.parametrize("app_env", ["staging", "prod", "test", "dev"])
def test_invalid_app_env(app_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", app_env)
    with pytest.raises(ConfigError, match="APP_ENV") as excinfo:
        config_from_env()
    assert app_env in str(excinfo.value)
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app()


@pytest.mark.parametrize(
    ("app_env", "config_class"),
    [
        (None, DevelopmentConfig),
        ("", DevelopmentConfig),
        (" Testing ", TestingConfig),
        ("PRODUCTION", ProductionConfig),
    ],
)
def test_app_env_chooses_the_class(app_env, config_class, monkeypatch):
    if app_env is not None:
        monkeypatch.setenv("APP_ENV", app_env)
    assert type(config_from_env()) is config_class


def test_development_uses_the_dev_key_only_without_secret_key(monkeypatch):
    assert DevelopmentConfig().SECRET_KEY == DEV_SECRET_KEY
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    assert DevelopmentConfig().SECRET_KEY == STRONG_KEY


def test_max_upload_mb_must_be_a_number(monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "lots")
    with pytest.raises(ConfigError, match="MAX_UPLOAD_MB"):
        create_app({})


# --- Processes: the WSGI entry point and the flask command --------------------------------------


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the project's Python from the project root with only `env` (plus PATH) set."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"APP_ENV": "production"}, ""),
        ({"APP_ENV": "production", "SECRET_KEY": ""}, "SECRET_KEY"),
        ({"APP_ENV": "production", "SECRET_KEY": STRONG_KEY, "DATABASE_URL": ""}, "DATABASE_URL"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"DATABASE_URL": BAD_URLS["unencoded_at"]}, "DATABASE_URL"),
    ],
    ids=[
        "production_no_secret_key",
        "production_empty_secret_key",
        "production_no_database",
        "bad_app_env",
        "bad_database_url",
    ],
)
def test_wsgi_entry_point_exits_with_one_line(env, variable):
    result = run_python(env, "-c", "import flask_backend_with_aws")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_flask_help_works_from_a_clean_environment():
    """No FLASK_APP exported: .flaskenv names the app, so its commands (db, ...) are listed."""
    result = run_python({}, "-m", "flask", "--help")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+db\s", result.stdout, re.MULTILINE), result.stdout
    assert "Could not locate a Flask application" not in result.stdout + result.stderr
    assert "error" not in result.stderr.lower()


def test_a_bad_read_url_names_its_variable():
    from app import create_app

    with pytest.raises(ConfigError, match="DATABASE_READ_URL"):
        create_app(
            {"DATABASE_URL": "sqlite://", "DATABASE_READ_URL": "mysql+pymysql://u:p@h:notaport/db"}
        )
