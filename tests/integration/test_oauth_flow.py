"""The grant API over HTTP: a service registered like `regie services add` does the whole flow
(connect, ask, poll, read, write, close) and every listed attack is refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.container import Container
from support.residents import Resident, sign_up
from support.service_client import ServiceAgent, register_clinic_and_school


@dataclass
class Scene:
    client: TestClient
    c: Container
    clinic: ServiceAgent
    school: ServiceAgent
    anna: Resident
    subject: str
    record_id: str


@pytest.fixture
def scene(client: TestClient, container: Container) -> Scene:
    clinic, school = register_clinic_and_school(container, client)
    anna = sign_up(client, "Anna")
    record = client.post(
        "/v1/me/records",
        headers=anna.headers,
        json={
            "category": "health",
            "type": "health.medication",
            "title": "Medicatieoverzicht",
            "content": {"metformine": "500 mg"},
        },
    )
    code = client.post("/v1/me/connection-codes", headers=anna.headers).json()["code"]
    return Scene(client, container, clinic, school, anna, clinic.connect(code), record.json()["id"])


def approve(s: Scene, **narrower: object) -> dict:
    waiting = s.client.get("/v1/me/requests", headers=s.anna.headers).json()["grants"]
    assert len(waiting) == 1
    done = s.client.post(
        f"/v1/me/grants/{waiting[0]['id']}/approve", json=narrower, headers=s.anna.headers
    )
    assert done.status_code == 200, done.text
    return waiting[0]


def tokens(s: Scene, **narrower: object) -> dict:
    asked = s.clinic.ask(s.subject)
    assert asked.status_code == 200, asked.text
    approve(s, **narrower)
    got = s.clinic.poll(asked.json()["auth_req_id"])
    assert got.status_code == 200, got.text
    return got.json()


def test_metadata(scene: Scene) -> None:
    meta = scene.client.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == "http://localhost:8000"
    assert meta["token_endpoint"] == "http://localhost:8000/oauth/token"
    assert meta["backchannel_authentication_endpoint"] == "http://localhost:8000/oauth/bc-authorize"
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert "urn:openid:params:grant-type:ciba" in meta["grant_types_supported"]
    assert meta["authorization_details_types_supported"] == ["regie:records"]


def test_request_approve_read_write_close_and_the_next_read_fails(scene: Scene) -> None:
    s = scene
    asked = s.clinic.ask(s.subject)
    assert asked.status_code == 200, asked.text
    auth_req_id = asked.json()["auth_req_id"]
    assert asked.json()["interval"] == 5
    pending = s.clinic.poll(auth_req_id)
    assert pending.status_code == 400
    assert pending.json()["error"] == "authorization_pending"
    approve(s, datatypes=["health.medication"])
    issued = s.clinic.poll(auth_req_id)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "DPoP"
    assert body["expires_in"] <= 300
    assert body["authorization_details"][0]["datatypes"] == ["health.medication"]
    assert issued.headers["cache-control"] == "no-store"
    token = body["access_token"]

    read = s.clinic.call("GET", f"/v1/service/records/{s.record_id}", token)
    assert read.status_code == 200, read.text
    assert read.json()["content"] == {"metformine": "500 mg"}
    written = s.clinic.call(
        "POST",
        "/v1/service/records",
        token,
        json={
            "category": "health",
            "type": "health.medication",
            "title": "Nieuw overzicht",
            "content": {"metformine": "1000 mg"},
        },
    )
    assert written.status_code == 201, written.text
    assert written.json()["provenance"]["written_by"] == "service"
    listed = s.clinic.call("GET", "/v1/service/records", token)
    assert {r["id"] for r in listed.json()["records"]} == {s.record_id, written.json()["id"]}

    closed = s.client.post(
        "/v1/service/procedures/close", data=s.clinic.form(subject=s.subject, ref="BEH-2026-0042")
    )
    assert closed.status_code == 200, closed.text
    assert closed.json() == {"ended_grants": 1}
    after = s.clinic.call("GET", f"/v1/service/records/{s.record_id}", token)
    assert after.status_code == 401
    assert after.json() == {
        "error": "invalid_token",
        "error_description": "the grant of this token has ended (procedure-closed)",
    }
    assert after.headers["www-authenticate"].startswith("DPoP")
    # The resident keeps what the service wrote.
    kept = s.client.get(f"/v1/me/records/{written.json()['id']}", headers=s.anna.headers)
    assert kept.json()["content"] == {"metformine": "1000 mg"}


def test_outside_the_grant_is_403_problem_with_a_reason(scene: Scene) -> None:
    s = scene
    allergies = s.client.post(
        "/v1/me/records",
        headers=s.anna.headers,
        json={
            "category": "health",
            "type": "health.allergies",
            "title": "Allergieën",
            "content": {"noten": True},
        },
    ).json()["id"]
    token = tokens(s, datatypes=["health.medication"], actions=["read"])["access_token"]
    other = s.clinic.call("GET", f"/v1/service/records/{allergies}", token)
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["reason"] == "datatype-not-granted"
    write = s.clinic.call(
        "POST",
        "/v1/service/records",
        token,
        json={"category": "health", "type": "health.medication", "title": "x", "content": {}},
    )
    assert write.status_code == 403
    assert write.json()["reason"] == "action-not-granted"


def test_token_attacks(scene: Scene) -> None:
    s = scene
    token = tokens(s)["access_token"]
    path = f"/v1/service/records/{s.record_id}"
    no_dpop = s.client.get(path, headers={"Authorization": f"DPoP {token}"})
    assert no_dpop.status_code == 401
    bearer = s.client.get(
        path,
        headers={
            "Authorization": f"Bearer {token}",
            "DPoP": s.clinic.proof("GET", path, token=token),
        },
    )
    assert bearer.status_code == 401
    proof = s.clinic.proof("GET", path, token=token)
    first = s.client.get(path, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert first.status_code == 200
    replayed = s.client.get(path, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_dpop_proof"
    stolen = s.clinic.call(
        "GET", path, token, key=s.school.dpop_key
    )  # another key than the token's
    assert stolen.status_code == 401
    other_service = s.school.call("GET", path, token)  # the school presents the clinic's token
    assert other_service.status_code == 401
    wrong_path = s.client.get(
        path,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": s.clinic.proof("GET", "/v1/service/records", token=token),
        },
    )
    assert wrong_path.status_code == 401
    made_up = s.clinic.call("GET", path, "rat_" + "x" * 43)
    assert made_up.status_code == 401


def test_client_authentication_attacks(scene: Scene) -> None:
    s = scene
    form = s.clinic.form(login_hint=s.subject, authorization_details="[]")
    first = s.client.post("/oauth/bc-authorize", data=form)
    assert first.status_code == 400  # authenticated, then the details were refused
    replayed = s.client.post("/oauth/bc-authorize", data=form)
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_client"
    wrong_aud = {
        **s.clinic.form(login_hint=s.subject),
        "client_assertion": s.clinic.assertion(aud="https://elsewhere.example"),
    }
    assert s.client.post("/oauth/bc-authorize", data=wrong_aud).status_code == 401
    impostor = ServiceAgent(s.client, s.clinic.client_id)  # right name, wrong key
    assert impostor.ask(s.subject).status_code == 401
    stranger = ServiceAgent(s.client, "never-registered")
    assert stranger.ask(s.subject).status_code == 401
    json_body = s.client.post("/oauth/bc-authorize", json=s.clinic.form(login_hint=s.subject))
    assert json_body.status_code == 400


def test_request_time_refusals(scene: Scene) -> None:
    s = scene
    beyond = s.clinic.ask(s.subject, datatypes=["income.payslip"])
    assert beyond.status_code == 403
    assert beyond.json()["error"] == "access_denied"
    unknown = s.clinic.ask("not-a-subject")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unknown_user_id"
    school_knows_nobody = s.school.ask(s.subject, datatypes=["health.medication"])
    assert school_knows_nobody.json()["error"] == "unknown_user_id"  # subjects are pairwise
    bad_purpose = s.clinic.ask(
        s.subject, purpose={"id": "https://example.org/purpose", "text": "x"}
    )
    assert bad_purpose.json()["error"] == "invalid_authorization_details"
    assert s.client.get("/v1/me/requests", headers=s.anna.headers).json()["grants"] == []


def test_refresh_rotates_and_reuse_ends_the_grant(scene: Scene) -> None:
    s = scene
    first = tokens(s)
    second = s.clinic.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    reused = s.clinic.refresh(first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    grant = s.client.get("/v1/me/grants", headers=s.anna.headers).json()["grants"][0]
    assert (grant["status"], grant["end_reason"]) == ("ended", "token-reuse")
    dead = s.clinic.call("GET", f"/v1/service/records/{s.record_id}", second.json()["access_token"])
    assert dead.status_code == 401


def test_resident_revokes_then_the_next_read_fails(scene: Scene) -> None:
    s = scene
    token = tokens(s)["access_token"]
    grant = s.client.get("/v1/me/grants", headers=s.anna.headers).json()["grants"][0]
    s.client.post(f"/v1/me/grants/{grant['id']}/revoke", headers=s.anna.headers)
    after = s.clinic.call("GET", f"/v1/service/records/{s.record_id}", token)
    assert after.status_code == 401
    assert "revoked" in after.json()["error_description"]


def test_the_service_relinquishes(scene: Scene) -> None:
    s = scene
    token = tokens(s)["access_token"]
    assert s.clinic.call("POST", "/v1/service/grant/relinquish", token).status_code == 204
    grant = s.client.get("/v1/me/grants", headers=s.anna.headers).json()["grants"][0]
    assert grant["end_reason"] == "relinquished"


def test_denied_and_redeemed_twice(scene: Scene) -> None:
    s = scene
    asked = s.clinic.ask(s.subject).json()["auth_req_id"]
    grant = s.client.get("/v1/me/requests", headers=s.anna.headers).json()["grants"][0]
    s.client.post(f"/v1/me/grants/{grant['id']}/deny", headers=s.anna.headers)
    assert s.clinic.poll(asked).json()["error"] == "access_denied"
    asked = s.clinic.ask(s.subject, procedure={"ref": "BEH-2"}).json()["auth_req_id"]
    approve(s)
    assert s.clinic.poll(asked).status_code == 200
    assert s.clinic.poll(asked).json()["error"] == "invalid_grant"
