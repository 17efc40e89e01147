"""Two gunicorn instances, one MariaDB database, one document folder: any instance serves anyone.

A clerk logs in on instance A, saves a row through instance B with the same cookie, saves a
draft on A and finds it restored on B, and both list the row. The instances run the production
configuration behind a pretend load balancer (PROXY_FIX_COUNT=1, X-Forwarded-Proto: https), so
cookies are Secure and CSRF checks the Referer, as on AWS.

Runs when TEST_MYSQL_URL is set (fails without it under REQUIRE_DB_SERVERS=1), in a private
database named after it, created and dropped here.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from config import PROJECT_ROOT
from tests.helpers import PASSWORD, server_url

SITE = "portal.example.com"  # the name the load balancer answers to
SECRET_KEY = "multi-instance-" + "k" * 40
START_TIMEOUT_SECONDS = 30
# Blanked (the app reads "" as unset, and .env cannot fill it in) or, for gunicorn's own
# settings (it fails on an empty WEB_CONCURRENCY), removed.
APP_SETTINGS = (
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_PASSWORD",
    "DATABASE_SSL_CA",
    "DOCUMENT_STORAGE",
    "PROXY_FIX_COUNT",
    "LOG_LEVEL",
    "MAX_UPLOAD_MB",
)
SERVER_SETTINGS = (
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "FORWARDED_ALLOW_IPS",
    "HOST",
    "PORT",
)


# --- the shared database ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private, migrated MariaDB database with one clerk; dropped afterwards."""
    base = make_url(server_url("mysql"))
    name = f"{base.database}_multi_{os.getpid()}"  # the test user's grant covers <db>_%
    admin = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        conn.exec_driver_sql(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        app = create_app(
            {"DATABASE_URL": url, "DOCUMENT_STORAGE": str(tmp_path_factory.mktemp("unused"))}
        )
        with app.app_context():
            from app.services.accounts import create_user

            upgrade()
            create_user("clerk", PASSWORD, "clerk")
            create_user("boss", PASSWORD, "reviewer")
            db.session.remove()
            db.engine.dispose()
        yield url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


# --- two gunicorn instances -------------------------------------------------------------------


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen
    stdout: Path  # gunicorn's access log
    stderr: Path  # gunicorn's own log and the app's

    def log(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _start(name: str, env: dict[str, str], folder: Path) -> Instance:
    port = _free_port()
    stdout, stderr = folder / f"{name}.out.log", folder / f"{name}.err.log"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "flask_backend_with_aws:application",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    return Instance(name, port, process, stdout, stderr)


def _wait_until_healthy(instances: list[Instance]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    waiting = list(instances)
    while waiting and time.monotonic() < deadline:
        for instance in list(waiting):
            if instance.process.poll() is not None:
                pytest.fail(f"gunicorn {instance.name} exited:\n{instance.log()[-3000:]}")
            if _healthy(instance.port):
                waiting.remove(instance)
        time.sleep(0.1)
    if waiting:
        pytest.fail(
            f"gunicorn {waiting[0].name} not healthy within {START_TIMEOUT_SECONDS} s:"
            f"\n{waiting[0].log()[-3000:]}"
        )


def _stop(instance: Instance) -> None:
    """SIGTERM: gunicorn's graceful stop; the whole process group is killed if it hangs."""
    process = instance.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def instances(shared_database: str, tmp_path_factory) -> Iterator[tuple[Instance, Instance]]:
    folder = tmp_path_factory.mktemp("instances")
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(dict.fromkeys(APP_SETTINGS, ""))
    env.update(
        APP_ENV="production",
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=shared_database,
        DOCUMENT_STORAGE=str(folder / "documents"),
        PROXY_FIX_COUNT="1",
        GUNICORN_THREADS="2",
        GUNICORN_GRACEFUL_TIMEOUT="5",
        LOG_LEVEL="INFO",
    )
    started: list[Instance] = []
    try:
        for name in ("A", "B"):
            started.append(_start(name, env, folder))  # noqa: PERF401 (stop what did start)
        _wait_until_healthy(started)
        yield started[0], started[1]
    finally:
        for instance in started:
            _stop(instance)


# --- one browser session, by hand ---------------------------------------------------------------


@dataclass
class Page:
    status: int
    headers: http.client.HTTPMessage
    text: str


@dataclass
class Browser:
    """Keeps cookies like a browser behind an HTTPS load balancer, whichever instance answers."""

    cookies: dict[str, str] = field(default_factory=dict)
    secure_cookies: set[str] = field(default_factory=set)

    def request(
        self,
        instance: Instance,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Page:
        sent = {
            "Host": SITE,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.9",
            "Referer": f"https://{SITE}{path}",
            **(headers or {}),
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=15)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            page = Page(response.status, response.headers, response.read().decode())
        finally:
            connection.close()
        for header in page.headers.get_all("Set-Cookie") or []:
            self._remember(header)
        return page

    def _remember(self, header: str) -> None:
        for name, morsel in SimpleCookie(header).items():
            if morsel["max-age"] == "0" or "1970" in morsel["expires"]:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value
                if morsel["secure"]:
                    self.secure_cookies.add(name)

    def get(self, instance: Instance, path: str) -> Page:
        return self.request(instance, "GET", path)

    def post_form(self, instance: Instance, path: str, fields: dict[str, str]) -> Page:
        return self.request(
            instance,
            "POST",
            path,
            urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )

    def post_json(self, instance: Instance, path: str, data: object, token: str) -> Page:
        return self.request(
            instance,
            "POST",
            path,
            json.dumps(data).encode(),
            {"Content-Type": "application/json", "X-CSRFToken": token},
        )


def hidden_fields(html: str) -> dict[str, str]:
    """name -> value of every hidden input on the page (CSRF token, form token, version)."""
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        if 'type="hidden"' in tag:
            name = re.search(r'\bname="([^"]+)"', tag)
            value = re.search(r'\bvalue="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
    return fields


# --- the test -------------------------------------------------------------------------------------


def test_a_session_moves_between_instances(instances):
    a, b = instances
    browser = Browser()
    login_page = browser.get(a, "/login")
    token = hidden_fields(login_page.text)["csrf_token"]
    logged_in = browser.post_form(
        a, "/login", {"username": "clerk", "password": PASSWORD, "csrf_token": token}
    )
    assert logged_in.status == 303, logged_in.text[:500]
    assert "session" in browser.secure_cookies  # production cookies are Secure

    # B knows the clerk from the signed cookie alone, and saves through its own process.
    form = browser.get(b, "/data/testDB/new")
    assert form.status == 200, form.text[:500]
    key = f"MI-{uuid.uuid4().hex[:8]}"
    saved = browser.post_form(
        b,
        "/data/testDB/new",
        {
            **hidden_fields(form.text),
            "string_column": key,
            "integer_column": "42",
            "date_column": "",
        },
    )
    assert saved.status == 303, saved.text[:2000]

    # A draft typed on A is restored by B.
    draft = browser.post_json(
        a,
        "/data/testDB/draft",
        {"data": {"string_column": "DRAFT-on-A", "integer_column": "7"}},
        hidden_fields(form.text)["csrf_token"],
    )
    assert draft.status == 200, draft.text[:500]
    restored = browser.get(b, "/data/testDB/new")
    assert "unsaved draft" in restored.text
    assert 'value="DRAFT-on-A"' in restored.text

    for instance in (a, b):
        listing = browser.get(instance, "/data/testDB")
        assert listing.status == 200 and key in listing.text, instance.name

    # A reviewer logged in on B sees the same dashboard figures from either instance.
    reviewer = Browser()
    token = hidden_fields(reviewer.get(b, "/login").text)["csrf_token"]
    assert (
        reviewer.post_form(
            b, "/login", {"username": "boss", "password": PASSWORD, "csrf_token": token}
        ).status
        == 303
    )
    figures = {}
    for instance in (a, b):
        fragment = reviewer.get(instance, "/dashboard/fragment")
        assert fragment.status == 200, fragment.text[:500]
        row = re.search(r'<tr data-clerk="clerk">(.*?)</tr>', fragment.text, re.S).group(1)
        figures[instance.name] = re.search(r'data-metric="rows_today"[^>]*>\s*(\d+)', row).group(1)
    assert figures == {"A": "1", "B": "1"}

    # Each instance logged its requests with ids, and nothing the clerk typed.
    request_id = saved.headers["X-Request-ID"]
    assert re.search(
        rf"POST /data/testDB/new 303 \S+ms user=\d+ request_id={request_id}", b.stderr.read_text()
    )
    assert f"request_id={request_id}" in b.stdout.read_text()  # gunicorn's access line
    for instance in (a, b):
        assert PASSWORD not in instance.log() and "DRAFT-on-A" not in instance.log()
