"""Numbers and keys nobody expects in URLs and forms: a clear answer, never a 500."""

from __future__ import annotations

import pytest

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"/data/testDB?page={HUGE}", 200),
        ("/data/testDB?page=-1", 200),
        (f"/data/testDB?clerk={HUGE}", 200),
        (f"/data/testDB?document={HUGE}", 200),
        ("/data/testDB?q=" + "%25" * 300, 200),
        (f"/documents/?page={HUGE}", 200),
        (f"/documents/?clerk={HUGE}", 200),
        (f"/review/?page={HUGE}", 200),
        (f"/dashboard/?refresh={HUGE}", 200),
        ("/data/testDB/edit?key=" + "x" * 10_000, 404),
        ("/data/testDB/history?key=" + "x" * 10_000, 404),
        (f"/data/register_person/edit?key={HUGE}", 404),
        (f"/data/register_person?q={HUGE}", 200),
        (f"/documents/{HUGE}", 404),
        (f"/documents/{HUGE}/file", 404),
        (f"/admin/users/{HUGE}", 404),
        (f"/work/documents/{HUGE}", 404),
        (f"/data/testDB/new?document={HUGE}", 404),
    ],
)
def test_absurd_numbers_in_urls(client, auth, users, url, status):
    auth.login("admin")
    assert client.get(url).status_code == status


def test_absurd_ids_in_forms_change_nothing(client, auth, users):
    auth.login("admin")
    response = client.post("/documents/assign", data={"document_id": HUGE, "clerk_id": HUGE})
    assert response.status_code == 303
    assert "Select at least one document." in client.get("/documents/").get_data(as_text=True)
