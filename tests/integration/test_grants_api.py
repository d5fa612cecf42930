"""The resident's side of grants over HTTP: see requests, approve narrower, deny, stop."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.container import Container
from support.residents import sign_up
from vault.grants.model import AccessRequestSpec

JWKS = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "k",
        }
    ]
}


def ask(container: Container, client: TestClient, headers: dict[str, str], ref: str = "BEH-1"):  # type: ignore[no-untyped-def]
    services = container.services.all()
    clinic = (
        services[0]
        if services
        else container.services.add(
            operator="test-operator",
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication", "health.allergies"],
            actions=["read", "write"],
            jwks=JWKS,
        )
    )
    code = client.post("/v1/me/connection-codes", headers=headers)
    assert code.status_code == 201
    subject = container.services.redeem(clinic, code.json()["code"])
    return clinic, container.grants.request(
        clinic,
        subject,
        AccessRequestSpec(
            datatypes=frozenset({"health.medication", "health.allergies"}),
            actions=frozenset({"read", "write"}),
            purpose_uri="https://w3id.org/dpv#ServiceProvision",
            purpose_text="Voor uw behandeling",
            legal_basis="https://w3id.org/dpv#Consent",
            procedure_ref=ref,
            procedure_description="Knie",
            procedure_planned_end=None,
            valid_until=None,
            binding_message="4711",
        ),
    )


def test_see_and_approve_a_request_narrower(client: TestClient, container: Container) -> None:
    anna = sign_up(client)
    ask(container, client, anna.headers)
    waiting = client.get("/v1/me/requests", headers=anna.headers).json()["grants"]
    assert len(waiting) == 1
    request = waiting[0]
    assert request["service"]["name"] == "Huisartsenpraktijk De Linde"
    assert request["purpose"] == {
        "id": "https://w3id.org/dpv#ServiceProvision",
        "text": "Voor uw behandeling",
    }
    assert request["procedure"]["description"] == "Knie"
    assert request["binding_message"] == "4711"
    approved = client.post(
        f"/v1/me/grants/{request['id']}/approve",
        json={"datatypes": ["health.medication"], "actions": ["read"]},
        headers=anna.headers,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["datatypes"] == ["health.medication"]
    assert approved.json()["actions"] == ["read"]
    assert client.get("/v1/me/requests", headers=anna.headers).json()["grants"] == []
    history = client.get(f"/v1/me/grants/{request['id']}", headers=anna.headers).json()["history"]
    assert [h["status"] for h in history] == ["requested", "approved"]
    revoked = client.post(f"/v1/me/grants/{request['id']}/revoke", headers=anna.headers).json()
    assert (revoked["status"], revoked["end_reason"]) == ("ended", "revoked")


def test_widening_is_refused_over_http(client: TestClient, container: Container) -> None:
    anna = sign_up(client)
    ask(container, client, anna.headers)
    grant_id = client.get("/v1/me/requests", headers=anna.headers).json()["grants"][0]["id"]
    wider = client.post(
        f"/v1/me/grants/{grant_id}/approve",
        json={"datatypes": ["health.medication", "income.payslip"]},
        headers=anna.headers,
    )
    assert wider.status_code == 422
    longer = client.post(
        f"/v1/me/grants/{grant_id}/approve",
        json={"valid_until": "2099-01-01T00:00:00Z"},
        headers=anna.headers,
    )
    assert longer.status_code == 422
    assert (
        client.get(f"/v1/me/grants/{grant_id}", headers=anna.headers).json()["status"]
        == "requested"
    )


def test_deny_and_answering_twice(client: TestClient, container: Container) -> None:
    anna = sign_up(client)
    ask(container, client, anna.headers)
    grant_id = client.get("/v1/me/requests", headers=anna.headers).json()["grants"][0]["id"]
    assert (
        client.post(f"/v1/me/grants/{grant_id}/deny", headers=anna.headers).json()["status"]
        == "denied"
    )
    again = client.post(f"/v1/me/grants/{grant_id}/approve", json={}, headers=anna.headers)
    assert again.status_code == 409


def test_another_residents_grant_is_not_found(client: TestClient, container: Container) -> None:
    anna, bob = sign_up(client, "Anna"), sign_up(client, "Bob")
    ask(container, client, anna.headers)
    grant_id = client.get("/v1/me/requests", headers=anna.headers).json()["grants"][0]["id"]
    for path in (
        f"/v1/me/grants/{grant_id}/approve",
        f"/v1/me/grants/{grant_id}/deny",
        f"/v1/me/grants/{grant_id}/revoke",
    ):
        assert client.post(path, json={}, headers=bob.headers).status_code == 404
    assert client.get(f"/v1/me/grants/{grant_id}", headers=bob.headers).status_code == 404
    assert (
        client.get(f"/v1/me/grants/{grant_id}", headers=anna.headers).json()["status"]
        == "requested"
    )


def test_stop_everything_for_a_service_and_close_a_procedure(
    client: TestClient, container: Container
) -> None:
    anna = sign_up(client)
    clinic, _ = ask(container, client, anna.headers, "BEH-1")
    ask(container, client, anna.headers, "BEH-2")
    grants = client.get("/v1/me/requests", headers=anna.headers).json()["grants"]
    client.post(f"/v1/me/grants/{grants[0]['id']}/approve", json={}, headers=anna.headers)
    procedure = grants[0]["procedure"]["id"]
    closed = client.post(f"/v1/me/procedures/{procedure}/close", headers=anna.headers)
    assert closed.json() == {"stopped": 1}
    stopped = client.post(f"/v1/me/services/{clinic.service_id}/revoke", headers=anna.headers)
    assert stopped.json() == {"stopped": 1}  # the second request, denied
    assert {
        g["status"] for g in client.get("/v1/me/grants", headers=anna.headers).json()["grants"]
    } == {"ended", "denied"}
