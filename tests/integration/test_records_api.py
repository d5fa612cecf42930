"""The resident's records through the API: create, read, change, versions, files, delete."""

from __future__ import annotations

import hashlib
import os

from fastapi.testclient import TestClient

from support.residents import Resident, sign_up

MEDICATION = {"medicines": [{"name": "Metformine", "dose": "500 mg", "times_a_day": 2}]}


def create(client: TestClient, who: Resident, **overrides: object) -> dict:
    body = {
        "category": "health",
        "type": "health.medication",
        "title": "Medicatieoverzicht",
        "content": MEDICATION,
        **overrides,
    }
    response = client.post("/v1/me/records", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_and_read_a_record(client: TestClient) -> None:
    anna = sign_up(client)
    made = create(client, anna)
    assert made["current_version"] == 1
    assert made["provenance"] == {
        "written_by": "resident",
        "service_id": None,
        "grant_id": None,
        "mandate_id": None,
        "representative": None,
    }
    got = client.get(f"/v1/me/records/{made['id']}", headers=anna.headers)
    assert got.status_code == 200
    assert got.json()["content"] == MEDICATION
    assert got.json()["title"] == "Medicatieoverzicht"


def test_list_by_category(client: TestClient) -> None:
    anna = sign_up(client)
    create(client, anna)
    create(
        client, anna, category="housing", type="housing.address", title="Adres", content={"x": 1}
    )
    everything = client.get("/v1/me/records", headers=anna.headers).json()["records"]
    assert {r["category"] for r in everything} == {"health", "housing"}
    health = client.get("/v1/me/records?category=health", headers=anna.headers).json()["records"]
    assert [r["type"] for r in health] == ["health.medication"]
    assert health[0]["content"] is None  # listings carry no content


def test_a_change_makes_a_new_version_and_keeps_the_old(client: TestClient) -> None:
    anna = sign_up(client)
    made = create(client, anna)
    rid = made["id"]
    changed = client.patch(
        f"/v1/me/records/{rid}",
        json={"content": {"medicines": []}, "expected_version": 1},
        headers=anna.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["current_version"] == 2
    renamed = client.patch(
        f"/v1/me/records/{rid}", json={"title": "Medicijnen"}, headers=anna.headers
    )
    assert renamed.json()["current_version"] == 3
    assert renamed.json()["content"] == {"medicines": []}  # the content carried over
    versions = client.get(f"/v1/me/records/{rid}/versions", headers=anna.headers).json()["versions"]
    assert [(v["version"], v["title"]) for v in versions] == [
        (1, "Medicatieoverzicht"),
        (2, "Medicatieoverzicht"),
        (3, "Medicijnen"),
    ]
    first = client.get(f"/v1/me/records/{rid}/versions/1", headers=anna.headers).json()
    assert first["content"] == MEDICATION
    assert first["version"] == 1
    assert first["current_version"] == 3


def test_stale_expected_version_is_a_conflict(client: TestClient) -> None:
    anna = sign_up(client)
    rid = create(client, anna)["id"]
    client.patch(f"/v1/me/records/{rid}", json={"title": "Nieuw"}, headers=anna.headers)
    stale = client.patch(
        f"/v1/me/records/{rid}",
        json={"title": "Ouder", "expected_version": 1},
        headers=anna.headers,
    )
    assert stale.status_code == 409
    assert stale.json()["type"].endswith("/problems/conflict")


def test_delete_a_record(client: TestClient) -> None:
    anna = sign_up(client)
    rid = create(client, anna)["id"]
    assert client.delete(f"/v1/me/records/{rid}", headers=anna.headers).status_code == 204
    assert client.get(f"/v1/me/records/{rid}", headers=anna.headers).status_code == 404
    assert client.delete(f"/v1/me/records/{rid}", headers=anna.headers).status_code == 404


def test_file_record_upload_and_download(client: TestClient) -> None:
    anna = sign_up(client)
    made = client.post(
        "/v1/me/records",
        json={
            "category": "documents",
            "type": "documents.letter",
            "title": "Brief gemeente",
            "kind": "file",
        },
        headers=anna.headers,
    ).json()
    assert made["current_version"] == 0
    assert made["title"] == "Brief gemeente"
    payload = os.urandom(3 * 64 * 1024 + 123)  # several chunks and a partial last one
    up = client.put(
        f"/v1/me/records/{made['id']}/file",
        content=payload,
        headers={
            **anna.headers,
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename*=UTF-8''brief%20gemeente%20%C3%A9.pdf",
        },
    )
    assert up.status_code == 200, up.text
    assert up.json()["current_version"] == 1
    assert up.json()["file"] == {
        "media_type": "application/pdf",
        "filename": "brief gemeente é.pdf",
        "size_bytes": len(payload),
    }
    down = client.get(f"/v1/me/records/{made['id']}/file", headers=anna.headers)
    assert down.status_code == 200
    assert down.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(down.content).digest() == hashlib.sha256(payload).digest()
    assert down.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''brief%20gemeente%20%C3%A9.pdf"
    )
    # A second upload is a new version; the first stays downloadable.
    client.put(
        f"/v1/me/records/{made['id']}/file",
        content=b"v2",
        headers={
            **anna.headers,
            "Content-Type": "text/plain",
            "Content-Disposition": 'attachment; filename="v2.txt"',
        },
    )
    v1 = client.get(f"/v1/me/records/{made['id']}/file?version=1", headers=anna.headers)
    assert v1.content == payload
    assert client.get(f"/v1/me/records/{made['id']}/file", headers=anna.headers).content == b"v2"


def test_renaming_a_file_record_before_its_upload_is_a_conflict(client: TestClient) -> None:
    anna = sign_up(client)
    made = client.post(
        "/v1/me/records",
        json={"category": "documents", "type": "documents.other", "title": "Scan", "kind": "file"},
        headers=anna.headers,
    ).json()
    renamed = client.patch(
        f"/v1/me/records/{made['id']}", json={"title": "Nieuw"}, headers=anna.headers
    )
    assert renamed.status_code == 409
    assert client.get(f"/v1/me/records/{made['id']}/versions", headers=anna.headers).json() == {
        "versions": []
    }


def test_empty_file_is_a_file(client: TestClient) -> None:
    anna = sign_up(client)
    made = client.post(
        "/v1/me/records",
        json={"category": "documents", "type": "documents.other", "title": "Leeg", "kind": "file"},
        headers=anna.headers,
    ).json()
    up = client.put(
        f"/v1/me/records/{made['id']}/file",
        content=b"",
        headers={
            **anna.headers,
            "Content-Type": "text/plain",
            "Content-Disposition": 'attachment; filename="leeg.txt"',
        },
    )
    assert up.status_code == 200, up.text
    assert client.get(f"/v1/me/records/{made['id']}/file", headers=anna.headers).content == b""


def test_export_contains_every_record_and_version(client: TestClient) -> None:
    import io
    import json
    import zipfile

    anna = sign_up(client, "Anna")
    rid = create(client, anna)["id"]
    client.patch(f"/v1/me/records/{rid}", json={"title": "Medicijnen"}, headers=anna.headers)
    file_id = client.post(
        "/v1/me/records",
        json={
            "category": "education",
            "type": "education.diploma",
            "title": "Diploma",
            "kind": "file",
        },
        headers=anna.headers,
    ).json()["id"]
    client.put(
        f"/v1/me/records/{file_id}/file",
        content=b"%PDF-1.7 diploma",
        headers={
            **anna.headers,
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="diploma.pdf"',
        },
    )
    response = client.get("/v1/me/export", headers=anna.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "regie-export/1"
    assert manifest["resident"] == {"display_name": "Anna"}
    assert {r["record_id"] for r in manifest["records"]} == {rid, file_id}
    record = json.loads(archive.read(f"records/{rid}/record.json"))
    assert [v["version"] for v in record["versions"]] == [1, 2]
    assert json.loads(archive.read(f"records/{rid}/v1.json")) == {
        "title": "Medicatieoverzicht",
        "content": MEDICATION,
    }
    assert archive.read(f"records/{file_id}/v1/diploma.pdf") == b"%PDF-1.7 diploma"
    assert archive.testzip() is None
