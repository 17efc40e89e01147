"""Document storage: the folder backend on its own, choosing a backend from DOCUMENT_STORAGE,
and S3 against moto's S3-compatible server (started here; no real S3 is reachable)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from moto.server import ThreadedMotoServer
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app import create_app
from app.documents.samples import pdf_document, png_image
from app.extensions import db
from app.models import Document
from app.storage import (
    FolderStorage,
    S3Storage,
    StorageError,
    page_key,
    storage_from_setting,
)
from config import PROJECT_ROOT, ConfigError
from tests.helpers import login

KEY = "0123456789abcdef0123456789abcdef.pdf"
BUCKET = "portal-documents"


# --- FolderStorage ---------------------------------------------------------------------------


def test_folder_put_get_delete(tmp_path):
    storage = FolderStorage(tmp_path / "documents")
    storage.put(KEY, b"%PDF-1.4 data", "application/pdf")
    assert storage.get(KEY) == b"%PDF-1.4 data"
    assert (tmp_path / "documents" / "01" / KEY).is_file()  # fanned out by the key's start
    storage.delete(KEY)
    assert not (tmp_path / "documents" / "01" / KEY).exists()
    storage.delete(KEY)  # deleting twice is harmless
    assert "folder" in storage.describe()


@pytest.mark.parametrize(
    "key",
    [
        "../../app.py",
        "../" + KEY,
        "/etc/passwd",
        "01/" + KEY,
        KEY.upper(),
        KEY[:-4] + ".html",
        KEY[:-4] + ".pdf.part",
        KEY[:-4] + ".pdf\n",
        "",
        "CON.pdf",
        "x" * 300,
        KEY[1:],
    ],
)
def test_folder_refuses_anything_but_a_generated_key(tmp_path, key):
    storage = FolderStorage(tmp_path / "documents")
    for action in (
        lambda: storage.put(key, b"data", "application/pdf"),
        lambda: storage.get(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(StorageError, match="not a storage key"):
            action()
    assert list(tmp_path.rglob("*")) == []  # not even the documents folder was made


def test_folder_write_is_atomic_when_the_rename_fails(tmp_path, monkeypatch):
    storage = FolderStorage(tmp_path)

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StorageError, match="No space left on device"):
        storage.put(KEY, b"%PDF-1.4 data", "application/pdf")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # no partial file left


def test_folder_write_is_atomic_when_writing_fails_halfway(tmp_path, monkeypatch):
    storage = FolderStorage(tmp_path)
    storage.put(KEY, b"old content", "application/pdf")
    real_write = Path.write_bytes

    def half_then_fail(path, data):
        real_write(path, data[: len(data) // 2])
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    with pytest.raises(StorageError, match="Input/output error"):
        storage.put(KEY, b"new content, longer", "application/pdf")
    monkeypatch.undo()
    assert storage.get(KEY) == b"old content"  # the real key never held half a file
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [KEY]


def test_folder_missing_file_is_a_storage_error(tmp_path):
    storage = FolderStorage(tmp_path)
    with pytest.raises(StorageError, match="could not read the document"):
        storage.get(KEY)


def test_folder_unwritable_root_is_a_storage_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(StorageError, match="could not write the document"):
        FolderStorage(blocker).put(KEY, b"data", "application/pdf")


# --- choosing the backend --------------------------------------------------------------------


def test_unset_setting_is_the_instance_folder(tmp_path):
    storage = storage_from_setting(None, str(tmp_path))
    assert isinstance(storage, FolderStorage) and storage.root == tmp_path / "documents"


def test_relative_folder_is_under_the_project_and_absolute_is_kept(tmp_path):
    assert storage_from_setting("instance/docs", "/unused").root == PROJECT_ROOT / "instance/docs"
    assert storage_from_setting(str(tmp_path), "/unused").root == tmp_path


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("s3://", "needs a bucket"),
        ("s3:///prefix", "needs a bucket"),
        ("ftp://host/docs", "folder path or s3://"),
        ("https://bucket.s3.amazonaws.com/x", "folder path or s3://"),
    ],
)
def test_bad_settings_are_config_errors(setting, message):
    with pytest.raises(ConfigError, match=message):
        storage_from_setting(setting, "/unused")


def test_an_s3_setting_names_bucket_and_prefix(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    storage = storage_from_setting("s3://my-bucket/scans/2024/", "/unused")
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("my-bucket", "scans/2024")
    assert storage.describe() == "s3://my-bucket/scans/2024"


# --- S3 through moto's server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch, tmp_path):
    """A fresh bucket on the moto server, with boto3 pointed at it through the environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)
    client.close()


def bucket_keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.fixture
def s3_app(app, s3, users):
    """The portal on the same test database, but keeping documents in S3."""
    s3_app = create_app(
        {
            "DATABASE_URL": app.config["DATABASE_URL"],
            "DOCUMENT_STORAGE": f"s3://{BUCKET}/trove/scans",
        }
    )
    yield s3_app
    with s3_app.app_context():
        db.session.remove()
        db.engine.dispose()


def upload(client, *files):
    data = MultiDict([("files", FileStorage(io.BytesIO(content), name)) for name, content in files])
    boundary, body = encode_multipart(data)
    return client.post(
        "/documents/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_s3_unit_round_trip(s3):
    storage = S3Storage(BUCKET, "/unit/")
    storage.put(KEY, b"%PDF-1.4 data", "application/pdf")
    assert bucket_keys(s3) == [f"unit/{KEY}"]
    head = s3.head_object(Bucket=BUCKET, Key=f"unit/{KEY}")
    assert head["ContentType"] == "application/pdf"
    assert storage.get(KEY) == b"%PDF-1.4 data"
    storage.delete(KEY)
    assert bucket_keys(s3) == []
    with pytest.raises(StorageError, match="could not read the document from S3"):
        storage.get(KEY)
    with pytest.raises(StorageError, match="not a storage key"):
        storage.put("../" + KEY, b"x", "application/pdf")


def test_upload_to_s3_and_serve_it_back(s3_app, s3):
    admin = login(s3_app, "admin")
    document, image = pdf_document("In S3", ["line"]), png_image(8, 8)
    response = upload(admin, ("page.pdf", document), ("scan.png", image))
    assert response.status_code == 200, response.get_data(as_text=True)
    with s3_app.app_context():
        rows = list(db.session.scalars(sa.select(Document).order_by(Document.id)))
    assert bucket_keys(s3) == sorted(f"trove/scans/{d.storage_key}" for d in rows)
    head = s3.head_object(Bucket=BUCKET, Key=f"trove/scans/{rows[0].storage_key}")
    assert head["ContentType"] == "application/pdf"
    served = admin.get(f"/documents/{rows[0].id}/file")
    assert served.status_code == 200 and served.data == document
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert login(s3_app, "reviewer").get(f"/documents/{rows[1].id}/file").data == image
    assert login(s3_app, "clerk").get(f"/documents/{rows[1].id}/file").status_code == 404


def test_a_tiff_in_s3_keeps_its_pages_beside_it(s3_app, s3):
    frames = [Image.new("L", (10 + n, 12), 255) for n in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    admin = login(s3_app, "admin")
    assert upload(admin, ("scan.tif", buffer.getvalue())).status_code == 200
    with s3_app.app_context():
        document = db.session.scalar(sa.select(Document))
    stem = document.storage_key.removesuffix(".tif")
    assert bucket_keys(s3) == sorted(
        f"trove/scans/{k}"
        for k in (document.storage_key, f"{stem}-p1.png", f"{stem}-p2.png", f"{stem}-p3.png")
    )
    head = s3.head_object(Bucket=BUCKET, Key=f"trove/scans/{stem}-p2.png")
    assert head["ContentType"] == "image/png"
    served = admin.get(f"/documents/{document.id}/pages/3.png")
    assert served.status_code == 200 and Image.open(io.BytesIO(served.data)).size == (12, 12)
    assert login(s3_app, "clerk").get(f"/documents/{document.id}/pages/1.png").status_code == 404


def test_page_keys_sit_beside_their_original():
    assert page_key(KEY.replace(".pdf", ".tif"), 12) == KEY.replace(".pdf", "-p12.png")
    for bad in (0, -1, 123456):
        with pytest.raises(StorageError, match="not a storage key"):
            page_key(KEY, bad)


def test_s3_refusing_the_file_stores_no_row(app, s3, users):
    broken = create_app(
        {"DATABASE_URL": app.config["DATABASE_URL"], "DOCUMENT_STORAGE": "s3://no-such-bucket/x"}
    )
    try:
        response = upload(login(broken, "admin"), ("page.pdf", pdf_document("x", [])))
        assert response.status_code == 422
        assert "S3 refused the document" in response.get_data(as_text=True)
        with broken.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0
    finally:
        with broken.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_document_missing_from_s3_is_a_404(s3_app, s3):
    admin = login(s3_app, "admin")
    assert upload(admin, ("page.pdf", pdf_document("gone", []))).status_code == 200
    (key,) = bucket_keys(s3)
    s3.delete_object(Bucket=BUCKET, Key=key)
    with s3_app.app_context():
        document_id = db.session.scalar(sa.select(Document.id))
    assert admin.get(f"/documents/{document_id}/file").status_code == 404


def test_a_freeze_archive_in_s3_is_stored_verified_and_served(s3_app, s3):
    from app.models import Freeze, TestDB
    from app.services import freezes
    from app.storage import get_storage

    with s3_app.app_context():
        db.session.add(TestDB(string_column="S3-1", integer_column=1, status="approved"))
        db.session.commit()
        job = freezes.start_job("in-s3", actor_name="tester")
        freeze = freezes.run_job(job.id, read_engine=db.engine, storage=get_storage())
        assert bucket_keys(s3) == [f"trove/scans/{freeze.storage_key}"]
        assert freeze.storage_key.startswith("freezes/")
        assert freezes.verify(freeze, get_storage()).ok
        sha256 = freeze.sha256
    with login(s3_app, "reviewer").get("/freezes/in-s3/download") as served:
        assert served.status_code == 200
        assert hashlib.sha256(served.data).hexdigest() == sha256
    body = s3.get_object(Bucket=BUCKET, Key=f"trove/scans/{freeze.storage_key}")["Body"].read()
    s3.put_object(
        Bucket=BUCKET,
        Key=f"trove/scans/{freeze.storage_key}",
        Body=body[:-1] + bytes([body[-1] ^ 1]),
    )
    with s3_app.app_context():
        result = freezes.verify(db.session.get(Freeze, freeze.id), get_storage())
    assert not result.ok and "the archive's sha256 is" in result.problems[0]
