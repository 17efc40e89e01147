"""Deployment pieces that can run without Docker or AWS: the container entrypoint, the Elastic
Beanstalk migration hook, gunicorn.conf.py, and the contracts of the Dockerfile and Procfile.

`docker build` itself runs only with RUN_DOCKER_BUILD=1 and a reachable Docker engine.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from config import PROJECT_ROOT

ENTRYPOINT = PROJECT_ROOT / "docker" / "entrypoint.sh"
MIGRATE_CONFIGHOOK = PROJECT_ROOT / ".platform" / "confighooks" / "predeploy" / "01_migrate.sh"
SECRET = "s3cret-" + "x" * 40
DB_PASSWORD = "Db-Passw0rd-not-to-print"
# Settings that would change what the scripts do, from the developer's shell or .env: set
# empty, which the app reads as unset and which keeps .env from filling them in.
APP_SETTINGS = (
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_PASSWORD",
    "DATABASE_SSL_CA",
    "DOCUMENT_STORAGE",
    "MIGRATE_ATTEMPTS",
    "MIGRATE_DELAY",
    "MIGRATE_MAX_DELAY",
    "PYTHON",
    "FLASK_APP",
)
# gunicorn's own settings (only from the environment; gunicorn fails on an empty
# WEB_CONCURRENCY): removed.
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


def script_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(dict.fromkeys(APP_SETTINGS, ""), PYTHON=sys.executable)
    env.update(values)
    return env


def run(command: list[str], env: dict[str, str], timeout: float = 60):
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, cwd="/"
    )  # the scripts must find the project on their own


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def head_revision() -> str:
    [head] = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_heads()
    return head


def alembic_version(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        [(version,)] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    conn.close()
    return version


# --- docker/entrypoint.sh -------------------------------------------------------------------


def test_entrypoint_migrates_then_execs_the_command(tmp_path):
    database = tmp_path / "portal.db"
    env = script_env(
        APP_ENV="production",
        SECRET_KEY=SECRET,
        DATABASE_URL=f"sqlite:///{database}",
        DOCUMENT_STORAGE=str(tmp_path / "documents"),
    )
    server = [
        sys.executable,
        "-c",
        "import os, sys; print('serving as', os.getpid(), sys.argv[1:])",
        "--bind",
        "x",
    ]
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), *server],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "database migrated (attempt 1 of 10)" in stderr
    assert alembic_version(database) == head_revision()
    # exec: the command replaced the shell (same process id), so it gets docker's signals.
    assert stdout.strip() == f"serving as {process.pid} ['--bind', 'x']"


def test_entrypoint_gives_up_after_the_attempts_with_a_clear_message(tmp_path):
    marker = tmp_path / "server-started"
    url = f"mysql+pymysql://portal:{DB_PASSWORD}@127.0.0.1:{closed_port()}/portal"
    env = script_env(
        DATABASE_URL=url,
        MIGRATE_ATTEMPTS="2",
        MIGRATE_DELAY="0",
        DOCUMENT_STORAGE=str(tmp_path / "documents"),
    )
    result = run(["sh", str(ENTRYPOINT), sys.executable, "-c", f"open({str(marker)!r}, 'w')"], env)
    assert result.returncode == 69, result.stderr
    lines = result.stderr.splitlines()
    failures = [line for line in lines if "migration attempt" in line]
    assert len(failures) == 2
    assert failures[0].startswith("entrypoint: migration attempt 1 of 2 failed: ")
    assert "Connection refused" in failures[0] and failures[0].endswith("retrying in 0 s")
    assert failures[1].startswith("entrypoint: migration attempt 2 of 2 failed: ")
    assert "giving up: the database could not be migrated after 2 attempts." in result.stderr
    assert "[FAIL] TCP port answers" in result.stderr  # flask doctor names the step
    assert "Traceback" not in result.stderr
    assert DB_PASSWORD not in result.stderr + result.stdout
    assert not marker.exists()


def fake_tools(folder: Path) -> Path:
    """A python that fails every migration at once and a sleep that only notes its argument."""
    folder.mkdir()
    (folder / "python").write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  "-c import flask_backend_with_aws") exit 0 ;;\n'
        '  "-m flask db upgrade") echo "OperationalError: the database is starting" >&2;'
        " exit 1 ;;\n"
        '  "-m flask doctor") echo "[FAIL] fake doctor"; exit 1 ;;\n'
        "esac\n"
        "exit 2\n"
    )
    (folder / "sleep").write_text(f'#!/bin/sh\necho "$1" >> {folder / "slept"}\n')
    for tool in ("python", "sleep"):
        (folder / tool).chmod(0o755)
    return folder


def test_entrypoint_backs_off_up_to_a_ceiling(tmp_path):
    tools = fake_tools(tmp_path / "bin")
    env = script_env(
        PYTHON=str(tools / "python"),
        PATH=f"{tools}:{os.environ['PATH']}",
        MIGRATE_ATTEMPTS="5",
        MIGRATE_DELAY="2",
        MIGRATE_MAX_DELAY="5",
    )
    result = run(["sh", str(ENTRYPOINT), "true"], env)
    assert result.returncode == 69, result.stderr
    assert (tools / "slept").read_text().split() == ["2", "4", "5", "5"]
    assert "failed: OperationalError: the database is starting; retrying in 4 s" in result.stderr
    assert "[FAIL] fake doctor" in result.stderr


@pytest.mark.parametrize("value", ["three", "-1", "2.5"])
def test_entrypoint_refuses_a_bad_attempt_count(tmp_path, value):
    tools = fake_tools(tmp_path / "bin")
    result = run(
        ["sh", str(ENTRYPOINT), "true"],
        script_env(PYTHON=str(tools / "python"), MIGRATE_ATTEMPTS=value),
    )
    assert result.returncode == 64
    assert "must be whole numbers" in result.stderr


def test_entrypoint_does_not_retry_a_configuration_error(tmp_path):
    result = run(
        ["sh", str(ENTRYPOINT), "true"],
        script_env(APP_ENV="staging", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"),
    )
    assert result.returncode == 78
    assert "Configuration error: APP_ENV must be one of" in result.stderr
    assert "Nothing was migrated" in result.stderr
    assert "migration attempt" not in result.stderr
    assert not (tmp_path / "x.db").exists()


# --- the Elastic Beanstalk hooks ---------------------------------------------------------------


def test_beanstalk_hook_reads_the_environment_properties_and_migrates(tmp_path):
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").is_file():
        pytest.skip("the tests do not run in a virtualenv, which the hook activates")
    if shutil.which("bash") is None or shutil.which("python3") is None:
        pytest.skip("the hook needs bash and python3, as Amazon Linux 2023 has them")
    database = tmp_path / "portal.db"
    properties = {
        "APP_ENV": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": f"sqlite:///{database}",
        "DOCUMENT_STORAGE": str(tmp_path / "documents"),
        "MIGRATE_ATTEMPTS": "1",
        "aws:ignored.name": "not a shell name",
    }
    get_config = tmp_path / "get-config"
    get_config.write_text(
        "#!/bin/sh\n"
        '[ "$1" = environment ] || exit 1\n'
        f"cat <<'JSON'\n{json.dumps(properties)}\nJSON\n"
    )
    get_config.chmod(0o755)
    env = script_env(EB_GET_CONFIG=str(get_config), EB_VENV=str(venv))
    del env["PYTHON"]  # the hook picks the virtualenv's python itself
    # The configuration hook runs the deployment hook: one run covers both.
    result = run(["bash", str(MIGRATE_CONFIGHOOK)], env)
    assert result.returncode == 0, result.stderr
    assert "database migrated (attempt 1 of 1)" in result.stderr
    assert alembic_version(database) == head_revision()
    # What docs/deploy-aws.md tells you to run on an instance sees the same properties.
    doctor = run(["bash", str(PROJECT_ROOT / "scripts" / "eb-flask.sh"), "doctor"], env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"sqlite:///{database}" in doctor.stdout and "usable" in doctor.stdout


def test_beanstalk_scripts_are_executable_bash_scripts():
    for hook in [*PROJECT_ROOT.glob(".platform/*hooks/*/*"), PROJECT_ROOT / "scripts/eb-flask.sh"]:
        assert hook.read_text().startswith("#!/bin/bash\n"), hook
        assert os.access(hook, os.X_OK), f"{hook} is not executable (chmod +x)"
        assert subprocess.run(["bash", "-n", str(hook)]).returncode == 0


# --- gunicorn.conf.py -------------------------------------------------------------------------


def load_gunicorn_conf(monkeypatch, **env: str) -> dict:
    for name in SERVER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))


def test_gunicorn_defaults_follow_the_cpu_count(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    cpus = len(os.sched_getaffinity(0))
    assert conf["workers"] == min(2 * cpus + 1, 8)
    assert conf["threads"] >= 2 and conf["worker_class"] == "gthread"
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["accesslog"] == "-"  # stdout
    assert conf["keepalive"] > 60  # longer than the AWS load balancer's idle timeout
    assert conf["graceful_timeout"] <= conf["timeout"]
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    conf = load_gunicorn_conf(
        monkeypatch,
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="6",
        HOST="0.0.0.0",
        PORT="8080",
        GUNICORN_TIMEOUT="120",
        FORWARDED_ALLOW_IPS="*",
    )
    assert (conf["workers"], conf["threads"], conf["timeout"]) == (3, 6, 120)
    assert conf["bind"] == ["0.0.0.0:8080"]
    assert conf["forwarded_allow_ips"] == "*"


def test_gunicorn_conf_refuses_a_bad_number(monkeypatch):
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY must be a whole number"):
        load_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="four")


def test_gunicorn_stops_at_once_on_a_configuration_error(tmp_path):
    """The master checks the configuration: one line and an exit, not a worker restart loop."""
    env = script_env(
        APP_ENV="production", SECRET_KEY="too-short", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "-b",
            "127.0.0.1:0",
            "flask_backend_with_aws:application",
        ],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "Configuration error: SECRET_KEY must be set" in result.stderr
    assert "Booting worker" not in result.stderr


# --- Dockerfile, .dockerignore, Procfile ------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (PROJECT_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_runs_the_entrypoint_as_a_user_with_a_healthcheck():
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    verbs = [verb for verb, _ in steps]
    user = steps[verbs.index("USER")][1]
    assert user not in {"root", "0"}
    assert verbs.index("USER") > max(i for i, verb in enumerate(verbs) if verb == "RUN")
    assert "pip install -r requirements.txt" in " ".join(a for v, a in steps if v == "RUN")
    healthcheck = steps[verbs.index("HEALTHCHECK")][1]
    assert "/healthz" in healthcheck and "curl" not in healthcheck
    entrypoint = json.loads(steps[verbs.index("ENTRYPOINT")][1])
    assert entrypoint[-1] == "/app/docker/entrypoint.sh"
    assert json.loads(steps[verbs.index("CMD")][1])[:3] == ["gunicorn", "-c", "gunicorn.conf.py"]


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = set((PROJECT_ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git", "instance", "*.pem"} <= ignored
    for needed in (
        "app",
        "migrations",
        "docker",
        "requirements.txt",
        "gunicorn.conf.py",
        "flask_backend_with_aws.py",
        "config.py",
        ".flaskenv",
    ):
        assert needed not in ignored


def test_procfile_serves_the_wsgi_application_with_the_shared_settings():
    assert (PROJECT_ROOT / "Procfile").read_text() == (
        "web: gunicorn -c gunicorn.conf.py flask_backend_with_aws:application\n"
    )


@pytest.mark.skipif(
    os.environ.get("RUN_DOCKER_BUILD") != "1",
    reason="set RUN_DOCKER_BUILD=1 to build the image (needs a Docker engine)",
)
def test_docker_build():
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True).returncode != 0
    ):
        pytest.fail("RUN_DOCKER_BUILD=1 but no Docker engine answers `docker info`")
    result = subprocess.run(
        ["docker", "build", "-t", "portal-test", str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_entrypoint_is_a_posix_shell_script():
    """python:3.11-slim's /bin/sh is dash: no bash-only syntax."""
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)]).returncode == 0


def _requirements(name: str) -> list[str]:
    lines = (PROJECT_ROOT / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_the_runtime_requirements_hold_no_test_or_tool_package():
    runtime = {re.split(r"[=\[<>]", line)[0].lower() for line in _requirements("requirements.txt")}
    tools = {
        "pytest",
        "pytest-xdist",
        "playwright",
        "pandas",
        "moto",
        "flask-admin",
        "ruff",
        "mypy",
        "pre-commit",
    }
    assert {"flask", "sqlalchemy", "gunicorn", "pymysql"} <= runtime
    assert runtime.isdisjoint(tools)
    development = _requirements("requirements-dev.txt")
    assert development[0] == "-r requirements.txt"
    assert tools <= {re.split(r"[=\[<>]", line)[0].lower() for line in development[1:]}
