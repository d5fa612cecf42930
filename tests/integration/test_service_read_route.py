"""The service's record read is served below FastAPI's request handler (api/asgi_route.py): what
FastAPI did for it (path parameter validation, the response model, the error mapping, the
method check, the OpenAPI operation, the layers around every route) it still gets."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from api.container import Container
from api.schemas.records import RecordOut
from support.residents import sign_up
from support.service_client import ServiceAgent, register_clinic_and_school


def _reader(client: TestClient, container: Container) -> tuple[ServiceAgent, str, str]:
    clinic, _school = register_clinic_and_school(container, client)
    anna = sign_up(client, "Anna")
    record_id = client.post(
        "/v1/me/records",
        headers=anna.headers,
        json={
            "category": "health",
            "type": "health.medication",
            "title": "Medicatie — één keer per dag",
            "content": {"metformine": "500 mg", "n": [1, 2.5, None, True]},
        },
    ).json()["id"]
    code = client.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
    asked = clinic.ask(clinic.connect(code))
    waiting = client.get("/v1/me/requests", headers=anna.headers).json()["grants"]
    client.post(f"/v1/me/grants/{waiting[0]['id']}/approve", json={}, headers=anna.headers)
    token = clinic.poll(asked.json()["auth_req_id"]).json()["access_token"]
    return clinic, token, record_id


def test_the_answer_is_the_response_model_with_every_layer_s_headers(
    client: TestClient, container: Container
) -> None:
    clinic, token, record_id = _reader(client, container)
    read = clinic.call("GET", f"/v1/service/records/{record_id}", token)
    assert read.status_code == 200, read.text
    assert read.headers["content-type"] == "application/json"
    assert int(read.headers["content-length"]) == len(read.content)
    # The layers around every route: security headers, the trace.
    assert read.headers["cache-control"] == "no-store"
    assert read.headers["x-content-type-options"] == "nosniff"
    assert read.headers["traceparent"].startswith("00-")
    body = read.json()
    assert RecordOut.model_validate(body).model_dump(mode="json") == body
    assert body["id"] == record_id
    assert body["title"] == "Medicatie — één keer per dag"
    assert body["content"] == {"metformine": "500 mg", "n": [1, 2.5, None, True]}
    assert body["provenance"] == {
        "written_by": "resident",
        "service_id": None,
        "grant_id": None,
        "mandate_id": None,  # a service never learns who wrote it for the resident
        "representative": None,
    }
    assert "één".encode() in read.content  # UTF-8, as FastAPI's JSONResponse sends it


def test_a_bad_record_id_is_a_422_problem_before_any_authentication(client: TestClient) -> None:
    bad = client.get("/v1/service/records/not-a-uuid")
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    problem = bad.json()
    assert problem["type"].endswith("/problems/invalid-request")
    assert [e["loc"] for e in problem["errors"]] == [["path", "record_id"]]
    assert problem["errors"][0]["type"] == "uuid_parsing"
    assert problem["instance"] == "/v1/service/records/not-a-uuid"


def test_without_a_token_or_with_two_proofs_it_is_401(
    client: TestClient, container: Container
) -> None:
    clinic, token, record_id = _reader(client, container)
    path = f"/v1/service/records/{record_id}"
    none = client.get(path)
    assert none.status_code == 401
    assert none.json()["error"] == "invalid_token"
    assert none.headers["www-authenticate"] == 'DPoP error="invalid_token"'
    two = client.get(
        path,
        headers=[
            ("Authorization", f"DPoP {token}"),
            ("DPoP", clinic.proof("GET", path, token=token)),
            ("DPoP", clinic.proof("GET", path, token=token)),
        ],
    )
    assert two.status_code == 401
    assert two.json()["error"] == "invalid_dpop_proof"
    # Neither used up anything: the next proper read is served.
    assert clinic.call("GET", path, token).status_code == 200


def test_an_unknown_record_is_a_404_problem(client: TestClient, container: Container) -> None:
    clinic, token, _record_id = _reader(client, container)
    missing = clinic.call("GET", f"/v1/service/records/{uuid.uuid4()}", token)
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/problems/not-found")


def test_other_methods_are_405_naming_get(client: TestClient, container: Container) -> None:
    _clinic, _token, record_id = _reader(client, container)
    refused = client.delete(f"/v1/service/records/{record_id}")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET"
    assert refused.json()["type"].endswith("/problems/method-not-allowed")


def test_the_operation_is_documented_as_before(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/service/records/{record_id}"]["get"]
    assert operation["operationId"] == "read_record_v1_service_records__record_id__get"
    assert operation["tags"] == ["service data"]
    assert operation["summary"] == "Read a record under the grant"
    assert [p["name"] for p in operation["parameters"]] == ["record_id"]
    assert operation["parameters"][0]["schema"]["format"] == "uuid"
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/RecordOut"}
    assert {"401", "403", "404", "422", "503"} <= set(operation["responses"])
