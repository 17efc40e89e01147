"""TLS to MySQL / MariaDB with DATABASE_SSL_CA, against a throwaway mariadbd the test configures.

The session fixture generates a certificate authority and a server certificate (for 127.0.0.1
and localhost), starts a private mariadbd on a free port with them, and creates a user that
must use TLS. Another generated CA plays the wrong bundle. The server is skipped when
mariadbd / mariadb-install-db are missing (a failure under REQUIRE_DB_SERVERS=1).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask_migrate import upgrade
from sqlalchemy.engine import URL

from app import create_app
from app.extensions import db
from config import ConfigError

MARIADBD = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
INSTALL_DB = shutil.which("mariadb-install-db")
USER, PASSWORD, DATABASE = "tls_user", "tls-user-Passw0rd", "portal_tls"
START_TIMEOUT_SECONDS = 20


# --- certificates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "portal tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_authority(common_name: str) -> Authority:
    """A self-signed CA certificate and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(common_name), _name(common_name), key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def make_server_cert(ca: Authority) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server certificate for 127.0.0.1 and localhost, signed by ca."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        _builder(_name("localhost"), ca.cert.subject, key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return key, cert


def write_pem(path: Path, *items) -> Path:
    chunks = []
    for item in items:
        if isinstance(item, x509.Certificate):
            chunks.append(item.public_bytes(serialization.Encoding.PEM))
        else:
            chunks.append(
                item.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            )
    path.write_bytes(b"".join(chunks))
    return path


# --- the throwaway server ---------------------------------------------------------------------


@dataclass(frozen=True)
class TlsServer:
    port: int
    ca_file: Path  # the CA that signed the server's certificate
    wrong_ca_file: Path  # another CA, which did not

    def url(self, host: str = "127.0.0.1") -> str:
        return URL.create(
            "mysql+pymysql", USER, PASSWORD, host, self.port, DATABASE
        ).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("REQUIRE_DB_SERVERS", "") in {"1", "true", "yes"}:
        pytest.fail(f"{reason}, but REQUIRE_DB_SERVERS=1")
    pytest.skip(reason)


def _root(socket_path: Path) -> pymysql.Connection:
    return pymysql.connect(
        unix_socket=str(socket_path), user="root", password="", connect_timeout=2
    )


def _wait_until_up(process: subprocess.Popen, socket_path: Path, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mariadbd exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if socket_path.exists():
            try:
                _root(socket_path).close()
                return
            except pymysql.err.OperationalError:
                pass
        time.sleep(0.1)
    pytest.fail(
        f"mariadbd did not start within {START_TIMEOUT_SECONDS} s:\n{log.read_text()[-3000:]}"
    )


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM is mariadbd's normal shutdown; kill it only if that hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """A private mariadbd requiring TLS for USER, with certificates from a generated CA."""
    if not (MARIADBD and INSTALL_DB):
        _skip_or_fail("mariadbd or mariadb-install-db not found: MariaDB TLS tests skipped")
    folder = tmp_path_factory.mktemp("mariadb-tls")
    ca, wrong_ca = make_authority("portal test CA"), make_authority("some other CA")
    server_key, server_cert = make_server_cert(ca)
    ca_file = write_pem(folder / "ca.pem", ca.cert)
    wrong_ca_file = write_pem(folder / "wrong-ca.pem", wrong_ca.cert)
    cert_file = write_pem(folder / "server-cert.pem", server_cert)
    key_file = write_pem(folder / "server-key.pem", server_key)
    datadir, socket_path, log = folder / "data", folder / "mysqld.sock", folder / "mysqld.log"
    # mariadbd refuses to run as root unless told to (and only root may say --user).
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            INSTALL_DB,
            "--no-defaults",
            f"--datadir={datadir}",
            *as_root,
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = _free_port()
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={socket_path}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                *as_root,
                f"--pid-file={folder / 'mysqld.pid'}",
                f"--log-error={log}",
                f"--ssl-ca={ca_file}",
                f"--ssl-cert={cert_file}",
                f"--ssl-key={key_file}",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                "--skip-log-bin",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(process, socket_path, log)
        with _root(socket_path) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4")
            cursor.execute(
                f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}' REQUIRE SSL"
            )
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO '{USER}'@'127.0.0.1'")
        server = TlsServer(port, ca_file, wrong_ca_file)
        app = tls_app(server, ca_file)
        with app.app_context():
            upgrade()  # so that `flask doctor` reaches its last step
            db.engine.dispose()
        yield server
    finally:
        _stop(process)
        shutil.rmtree(datadir, ignore_errors=True)  # InnoDB's files are ~100 MB


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ENV", "DATABASE_URL", "DATABASE_PASSWORD", "DATABASE_SSL_CA"):
        monkeypatch.delenv(name, raising=False)


def tls_app(server: TlsServer, ca_file: Path | str):
    return create_app({"DATABASE_URL": server.url(), "DATABASE_SSL_CA": str(ca_file)})


# --- the tests ----------------------------------------------------------------------------------


def test_the_right_ca_gives_a_verified_encrypted_connection(tls_server, clean_environment):
    app = tls_app(tls_server, tls_server.ca_file)
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                cipher = conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Ssl_cipher'").one()[1]
                version = conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Ssl_version'").one()[1]
        finally:
            db.engine.dispose()
    assert cipher and version.startswith("TLS")


def test_doctor_reports_tls_with_its_cipher(tls_server, clean_environment):
    app = tls_app(tls_server, tls_server.ca_file)
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if "TLS in use" in line]
    assert re.match(r"\[ok\] +TLS in use: TLSv1\.[23], [A-Z0-9_-]+; ", line), line  # the cipher
    assert line.endswith(f"server certificate verified against {tls_server.ca_file}")
    assert PASSWORD not in result.output


def test_without_a_ca_the_connection_is_encrypted_but_not_verified(tls_server, clean_environment):
    """PyMySQL tries TLS on its own, but checks nobody's certificate: doctor warns about it."""
    app = create_app({"DATABASE_URL": tls_server.url()})
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if "TLS" in line]
    assert line.startswith("[warn] TLS in use but not verified: TLSv1.")
    assert "DATABASE_SSL_CA" in line


def test_a_wrong_ca_fails_and_doctor_says_why(tls_server, clean_environment):
    app = tls_app(tls_server, tls_server.wrong_ca_file)
    with app.app_context():
        try:
            with pytest.raises(sa.exc.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
                db.engine.connect().close()
        finally:
            db.engine.dispose()
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1, result.output
    fail = next(line for line in result.output.splitlines() if line.startswith("[FAIL]"))
    assert fail.startswith("[FAIL] TLS handshake: ")
    assert "certificate verify failed" in fail
    assert "no CA in the DATABASE_SSL_CA file signed the server's certificate" in fail
    assert PASSWORD not in result.output


@pytest.mark.parametrize(("host", "accepted"), [("localhost", True), ("127.1", False)])
def test_the_certificate_must_name_the_host(tls_server, clean_environment, host, accepted):
    """The CA is right, but the certificate names 127.0.0.1 and localhost, not "127.1" (the
    same address spelt another way): the host name is checked, as it is for an RDS endpoint."""
    app = create_app(
        {"DATABASE_URL": tls_server.url(host=host), "DATABASE_SSL_CA": str(tls_server.ca_file)}
    )
    with app.app_context():
        try:
            if accepted:
                with db.engine.connect() as conn:
                    assert conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Ssl_cipher'").one()[1]
            else:
                with pytest.raises(sa.exc.OperationalError, match="Hostname mismatch"):
                    db.engine.connect().close()
        finally:
            db.engine.dispose()
    if not accepted:
        result = app.test_cli_runner().invoke(args=["doctor"])
        assert result.exit_code == 1, result.output
        assert "the server's certificate is for another name" in result.output


def test_a_missing_ca_file_is_a_configuration_error(tls_server, clean_environment, tmp_path):
    missing = tmp_path / "global-bundle.pem"
    with pytest.raises(ConfigError, match="DATABASE_SSL_CA") as excinfo:
        tls_app(tls_server, missing)
    assert str(missing) in str(excinfo.value)
