"""Configuration classes, chosen by the APP_ENV environment variable.

Values are read from the environment (and `.env`, loaded by the `flask` command and by
`flask_backend_with_aws.py`) when an instance is created, never at import time, so tests and
scripts can set variables before building an app.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
MIN_SECRET_KEY_LENGTH = 32
# A development-only key: production refuses to start with it (see ProductionConfig.check).
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0000"


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None


def _env_seconds(name: str, default: int) -> int:
    seconds = _env_int(name, default)
    if seconds < 0:
        raise ConfigError(f"{name} must be 0 or more seconds, got {seconds}.")
    return seconds


def _env_positive(name: str, default: int) -> int:
    value = _env_int(name, default)
    if value < 1:
        raise ConfigError(f"{name} must be 1 or more, got {value}.")
    return value


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_RECORD_QUERIES = False
    WTF_CSRF_TIME_LIMIT = None  # a form left open all day must still save
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    BOOTSTRAP_SERVE_LOCAL = True
    PAGE_SIZE = 50
    PASSWORD_HASH_METHOD = "scrypt"

    @property
    def LOGIN_MAX_FAILURES(self) -> int:
        """Failed logins for one username from one address, per window, before that pair waits
        (and, counted over every address, before unknown devices back off for that username)."""
        return _env_positive("LOGIN_MAX_FAILURES", 10)

    @property
    def LOGIN_MAX_FAILURES_PER_ADDRESS(self) -> int:
        """Failed logins from one address, whatever the usernames, per window (an office may
        share one address, so it is wider)."""
        return _env_positive("LOGIN_MAX_FAILURES_PER_ADDRESS", 40)

    @property
    def LOGIN_WINDOW_SECONDS(self) -> int:
        return _env_positive("LOGIN_WINDOW_SECONDS", 300)

    @property
    def SESSION_IDLE_MINUTES(self) -> int:
        """A session (without "keep me logged in") ends after this long without a request."""
        return _env_positive("SESSION_IDLE_MINUTES", 30)

    @property
    def SESSION_MAX_HOURS(self) -> int:
        """A session (without "keep me logged in") ends this long after its login, used or not."""
        return _env_positive("SESSION_MAX_HOURS", 12)

    @property
    def REMEMBER_COOKIE_DAYS(self) -> int:
        """How long "keep me logged in" keeps a device logged in (cookie and session)."""
        return _env_positive("REMEMBER_COOKIE_DAYS", 14)

    @property
    def REMEMBER_COOKIE_DURATION(self) -> timedelta:  # read by Flask-Login
        return timedelta(days=self.REMEMBER_COOKIE_DAYS)

    @property
    def SECRET_KEY(self) -> str:
        return os.environ.get("SECRET_KEY", "").strip() or DEV_SECRET_KEY

    @property
    def DATABASE_URL(self) -> str | None:
        return os.environ.get("DATABASE_URL", "").strip() or None

    @property
    def DATABASE_READ_URL(self) -> str | None:
        """A read replica for exports, downloads and freezes (unset: DATABASE_URL)."""
        return os.environ.get("DATABASE_READ_URL", "").strip() or None

    @property
    def DATABASE_SSL_CA(self) -> str | None:
        return os.environ.get("DATABASE_SSL_CA", "").strip() or None

    @property
    def DATABASE_PASSWORD(self) -> str | None:
        return os.environ.get("DATABASE_PASSWORD") or None

    @property
    def DOCUMENT_STORAGE(self) -> str | None:
        return os.environ.get("DOCUMENT_STORAGE", "").strip() or None

    @property
    def MAX_UPLOAD_MB(self) -> int:
        return _env_int("MAX_UPLOAD_MB", 50)

    @property
    def MAX_REQUEST_MB(self) -> int:
        """A whole request (a batch of uploads); each file is held to MAX_UPLOAD_MB."""
        return _env_int("MAX_REQUEST_MB", 4 * self.MAX_UPLOAD_MB)

    @property
    def MAX_CONTENT_LENGTH(self) -> int:
        return self.MAX_REQUEST_MB * 1024 * 1024

    @property
    def PROXY_FIX_COUNT(self) -> int:
        return _env_int("PROXY_FIX_COUNT", 0)

    @property
    def PROXY_FIX_FOR(self) -> int:
        """Proxies that append to X-Forwarded-For (Elastic Beanstalk: 2, its nginx and the
        load balancer), when that differs from PROXY_FIX_COUNT."""
        return _env_int("PROXY_FIX_FOR", self.PROXY_FIX_COUNT)

    @property
    def DASHBOARD_RECOUNT_MINUTES(self) -> int:
        """How old the dashboard's running counts may get before they are rebuilt from the
        tables (catching rows written around the portal); 0: only by `flask dashboard
        recount`."""
        minutes = _env_int("DASHBOARD_RECOUNT_MINUTES", 10)
        if minutes < 0:
            raise ConfigError(f"DASHBOARD_RECOUNT_MINUTES must be 0 or more, got {minutes}.")
        return minutes

    @property
    def DATABASE_READ_TIMEOUT(self) -> int:
        """Seconds a query may wait for the database's answer before the connection is given
        up (0: no limit). Below gunicorn's 60 s and a load balancer's 60 s idle timeout."""
        return _env_seconds("DATABASE_READ_TIMEOUT", 30)

    @property
    def DATABASE_WRITE_TIMEOUT(self) -> int:
        """Seconds sending a query to the database may take (MySQL; 0: no limit)."""
        return _env_seconds("DATABASE_WRITE_TIMEOUT", 30)

    @property
    def DATABASE_CONNECT_TIMEOUT(self) -> int:
        """Seconds opening a connection to the database may take."""
        return _env_seconds("DATABASE_CONNECT_TIMEOUT", 10)

    @property
    def DATABASE_LOCK_TIMEOUT(self) -> int:
        """Seconds a statement waits for a lock held by someone else before it is refused
        (MySQL lock_wait_timeout and innodb_lock_wait_timeout, PostgreSQL lock_timeout)."""
        return _env_seconds("DATABASE_LOCK_TIMEOUT", 10)

    @property
    def LOG_LEVEL(self) -> str:
        return os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"

    def check(self) -> None:
        """Raise ConfigError when this configuration must not start."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False  # the debugger is opt-in via `flask run --debug`


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    WTF_CSRF_ENABLED = False
    SQLALCHEMY_RECORD_QUERIES = True
    LOGIN_MAX_FAILURES = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # still scrypt, cheaper so the suite stays fast

    @property
    def SECRET_KEY(self) -> str:
        return "testing-secret-key-not-for-production-use-0123456789"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    def check(self) -> None:
        key = os.environ.get("SECRET_KEY", "").strip()
        if len(key) < MIN_SECRET_KEY_LENGTH or key == DEV_SECRET_KEY:
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters in production "
                '(python -c "import secrets; print(secrets.token_hex(32))").'
            )
        if not self.DATABASE_URL:
            raise ConfigError(
                "DATABASE_URL must be set explicitly in production "
                "(for example mysql+pymysql://USER:PASSWORD@HOST:3306/DBNAME)."
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> Config:
    """Return the configuration named by APP_ENV (default: development)."""
    name = os.environ.get("APP_ENV", "").strip().lower() or "development"
    try:
        config_class = CONFIGS[name]
    except KeyError:
        choices = ", ".join(CONFIGS)
        raise ConfigError(f"APP_ENV must be one of {choices}; got {name!r}.") from None
    return config_class()
