"""Attacks and mistakes: another resident's data, and input the API must refuse cleanly.

Every refusal is a 4xx problem+json; nothing is written; never a 500.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from support.residents import sign_up

PROBLEM = "application/problem+json"


def problem(response, status: int, slug: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith(f"/problems/{slug}"), body
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]


@pytest.fixture
def two(client: TestClient):  # type: ignore[no-untyped-def]
    anna, bob = sign_up(client, "Anna"), sign_up(client, "Bob")
    record = client.post(
        "/v1/me/records",
        json={
            "category": "health",
            "type": "health.diagnosis",
            "title": "Diagnose",
            "content": {"d": "x"},
        },
        headers=anna.headers,
    ).json()
    file_record = client.post(
        "/v1/me/records",
        json={
            "category": "documents",
            "type": "documents.letter",
            "title": "Brief",
            "kind": "file",
        },
        headers=anna.headers,
    ).json()
    client.put(
        f"/v1/me/records/{file_record['id']}/file",
        content=b"secret letter",
        headers={
            **anna.headers,
            "Content-Type": "text/plain",
            "Content-Disposition": 'attachment; filename="b.txt"',
        },
    )
    return anna, bob, record["id"], file_record["id"]


def test_another_residents_record_is_not_found_for_every_verb(client: TestClient, two) -> None:  # type: ignore[no-untyped-def]
    anna, bob, rid, fid = two
    h = bob.headers
    problem(client.get(f"/v1/me/records/{rid}", headers=h), 404, "not-found")
    problem(client.get(f"/v1/me/records/{rid}/versions", headers=h), 404, "not-found")
    problem(client.get(f"/v1/me/records/{rid}/versions/1", headers=h), 404, "not-found")
    problem(
        client.patch(f"/v1/me/records/{rid}", json={"title": "mine"}, headers=h), 404, "not-found"
    )
    problem(client.delete(f"/v1/me/records/{rid}", headers=h), 404, "not-found")
    problem(client.get(f"/v1/me/records/{fid}/file", headers=h), 404, "not-found")
    upload = client.put(
        f"/v1/me/records/{fid}/file",
        content=b"overwrite",
        headers={
            **h,
            "Content-Type": "text/plain",
            "Content-Disposition": 'attachment; filename="x.txt"',
        },
    )
    problem(upload, 404, "not-found")
    assert client.get("/v1/me/records", headers=h).json()["records"] == []
    # Anna's data is untouched.
    assert client.get(f"/v1/me/records/{rid}", headers=anna.headers).json()["current_version"] == 1
    assert (
        client.get(f"/v1/me/records/{fid}/file", headers=anna.headers).content == b"secret letter"
    )
    names = client.get("/v1/me/export", headers=h)
    assert rid.encode() not in names.content


def test_no_session_means_401_everywhere(client: TestClient, two) -> None:  # type: ignore[no-untyped-def]
    _, _, rid, _ = two
    for method, path in [
        ("GET", "/v1/me"),
        ("GET", "/v1/me/records"),
        ("GET", f"/v1/me/records/{rid}"),
        ("DELETE", f"/v1/me/records/{rid}"),
        ("GET", "/v1/me/export"),
        ("DELETE", "/v1/me"),
    ]:
        problem(client.request(method, path), 401, "authentication-required")


def test_oversized_json_body_is_refused_before_parsing(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    anna = sign_up(client)
    big = {
        "category": "other",
        "type": "other.other",
        "title": "x",
        "content": "a" * settings.max_json_bytes,
    }
    response = client.post("/v1/me/records", json=big, headers=anna.headers)
    problem(response, 413, "payload-too-large")
    assert client.get("/v1/me/records", headers=anna.headers).json()["records"] == []


def test_oversized_body_without_content_length_is_refused(client: TestClient, settings) -> None:  # type: ignore[no-untyped-def]
    anna = sign_up(client)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(settings.max_json_bytes // 1000 + 2):
            yield b" " * 1000

    response = client.post(
        "/v1/me/records",
        content=chunks(),
        headers={**anna.headers, "Content-Type": "application/json"},
    )
    problem(response, 413, "payload-too-large")
    assert response.json()["limit_bytes"] == settings.max_json_bytes
    assert client.get("/v1/me/records", headers=anna.headers).json()["records"] == []


def test_oversized_file_is_refused_and_nothing_kept(client: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    anna = sign_up(client)
    container.records.max_file_bytes = 200 * 1024
    made = client.post(
        "/v1/me/records",
        json={"category": "documents", "type": "documents.other", "title": "Groot", "kind": "file"},
        headers=anna.headers,
    ).json()
    headers = {
        **anna.headers,
        "Content-Type": "application/pdf",
        "Content-Disposition": 'attachment; filename="g.pdf"',
    }
    declared = client.put(
        f"/v1/me/records/{made['id']}/file", content=b"x" * (300 * 1024), headers=headers
    )
    problem(declared, 413, "payload-too-large")

    def stream():  # type: ignore[no-untyped-def]
        for _ in range(30):
            yield b"y" * (10 * 1024)

    streamed = client.put(f"/v1/me/records/{made['id']}/file", content=stream(), headers=headers)
    problem(streamed, 413, "payload-too-large")
    assert (
        client.get(f"/v1/me/records/{made['id']}", headers=anna.headers).json()["current_version"]
        == 0
    )
    with container.uow() as uow:
        from sqlalchemy import func, select

        from vault.storage.orm import BlobChunkRow, BlobRow

        assert uow.session.scalar(select(func.count()).select_from(BlobRow)) == 0
        assert uow.session.scalar(select(func.count()).select_from(BlobChunkRow)) == 0


def test_wrong_content_type_is_refused(client: TestClient) -> None:
    anna = sign_up(client)
    response = client.post(
        "/v1/me/records",
        content=b"category=health",
        headers={**anna.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (415, 422), response.text
    assert response.headers["content-type"] == PROBLEM
    assert client.get("/v1/me/records", headers=anna.headers).json()["records"] == []


def test_invalid_json_is_refused(client: TestClient) -> None:
    anna = sign_up(client)
    response = client.post(
        "/v1/me/records",
        content=b'{"category": "health",',
        headers={**anna.headers, "Content-Type": "application/json"},
    )
    problem(response, 400, "malformed-json")


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        (
            {"category": "astrology", "type": "astrology.chart", "title": "x", "content": {}},
            "unknown-category",
        ),
        (
            {"category": "health", "type": "health.horoscope", "title": "x", "content": {}},
            "unknown-record-type",
        ),
        (
            {"category": "health", "type": "income.payslip", "title": "x", "content": {}},
            "unknown-record-type",
        ),
        (
            {"category": "health", "type": "health.other", "title": "   ", "content": {}},
            "invalid-input",
        ),
        ({"category": "health", "type": "health.other", "title": "x"}, "invalid-input"),
        (
            {
                "category": "health",
                "type": "health.other",
                "title": "x",
                "kind": "file",
                "content": {},
            },
            "invalid-input",
        ),
        (
            {
                "category": "health",
                "type": "health.other",
                "title": "x",
                "content": {},
                "owner": "bob",
            },
            "invalid-request",
        ),
        (
            {
                "category": "health",
                "type": "health.other",
                "title": "x",
                "kind": "video",
                "content": {},
            },
            "invalid-request",
        ),
        ({"type": "health.other", "title": "x", "content": {}}, "invalid-request"),
    ],
)
def test_unacceptable_records_are_refused(client: TestClient, body: dict, slug: str) -> None:
    anna = sign_up(client)
    response = client.post("/v1/me/records", json=body, headers=anna.headers)
    assert response.status_code == 422, response.text
    problem(response, 422, slug)
    assert client.get("/v1/me/records", headers=anna.headers).json()["records"] == []


@pytest.mark.parametrize(
    "bad", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "' OR 1=1 --"]
)
def test_non_uuid_ids_are_refused(client: TestClient, bad: str) -> None:
    anna = sign_up(client)
    problem(client.get(f"/v1/me/records/{bad}", headers=anna.headers), 422, "invalid-request")
    problem(client.delete(f"/v1/me/records/{bad}", headers=anna.headers), 422, "invalid-request")


def test_unknown_route_and_method(client: TestClient) -> None:
    problem(client.get("/v1/nothing-here"), 404, "not-found")
    problem(client.put("/healthz"), 405, "method-not-allowed")


def test_upload_without_filename_or_to_a_json_record(client: TestClient, two) -> None:  # type: ignore[no-untyped-def]
    anna, _, rid, fid = two
    no_name = client.put(
        f"/v1/me/records/{fid}/file",
        content=b"x",
        headers={**anna.headers, "Content-Type": "text/plain"},
    )
    problem(no_name, 422, "invalid-input")
    to_json = client.put(
        f"/v1/me/records/{rid}/file",
        content=b"x",
        headers={
            **anna.headers,
            "Content-Type": "text/plain",
            "Content-Disposition": 'attachment; filename="x"',
        },
    )
    problem(to_json, 422, "invalid-input")
    assert (
        client.get(f"/v1/me/records/{fid}/file", headers=anna.headers).content == b"secret letter"
    )


def test_problem_types_are_described(client: TestClient) -> None:
    described = client.get("/problems/payload-too-large")
    assert described.status_code == 200
    assert described.json()["status"] == 413


def test_json_route_with_another_content_type_is_415(client: TestClient) -> None:
    anna = sign_up(client)
    for content_type in ("text/plain", "application/xml"):
        response = client.post(
            "/v1/me/records",
            content=b'{"category": "health"}',
            headers={**anna.headers, "Content-Type": content_type},
        )
        problem(response, 415, "unsupported-media-type")


def test_405_names_every_allowed_method(client: TestClient) -> None:
    response = client.put("/v1/me/records")
    problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, POST"


def test_unknown_category_filter_is_refused(client: TestClient) -> None:
    anna = sign_up(client)
    problem(
        client.get("/v1/me/records?category=astrology", headers=anna.headers),
        422,
        "unknown-category",
    )


def test_null_content_is_refused_on_change_too(client: TestClient, two) -> None:  # type: ignore[no-untyped-def]
    anna, _, rid, _ = two
    problem(
        client.patch(f"/v1/me/records/{rid}", json={"content": None}, headers=anna.headers),
        422,
        "invalid-input",
    )


@pytest.mark.parametrize("name", [".", "..", "...", "\x00\x01", "   "])
def test_file_names_that_are_not_names_are_refused(client: TestClient, two, name: str) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote

    anna, _, _, fid = two
    response = client.put(
        f"/v1/me/records/{fid}/file",
        content=b"x",
        headers={
            **anna.headers,
            "Content-Type": "text/plain",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        },
    )
    problem(response, 422, "invalid-input")
