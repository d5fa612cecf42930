"""A school writes signed grades into the parent's vault; a later reader can check who wrote
them and that nobody changed them; a resident's edit makes a new, unsigned version."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jws
from joserfc.registry import HeaderParameter

from api.container import Container
from keys.issuer import IssuerSignatureInvalid, canonical_payload, verify
from support.residents import sign_up
from support.service_client import ServiceAgent

SIGNING = jws.JWSRegistry(
    header_registry={"iss": HeaderParameter("Issuer", "str")},
    algorithms=["ES256"],
    strict_check_header=False,
)
GRADES = {"leerling": "Sam", "rekenen": 7.5, "taal": 8}


def sign(agent: ServiceAgent, record_type: str, title: str, content: Any) -> str:
    header = {
        "alg": "ES256",
        "kid": agent.key.kid,
        "typ": "regie-record+jws",
        "iss": agent.client_id,
    }
    compact = jws.serialize_compact(
        header,
        canonical_payload(record_type, title, content),
        agent.key,
        algorithms=["ES256"],
        registry=SIGNING,
    )
    h, _, s = compact.split(".")
    return f"{h}..{s}"


def school_token(client: TestClient, container: Container) -> tuple[ServiceAgent, str, Any]:
    school = ServiceAgent(client, "school-regenboog")
    container.services.add(
        operator="test-operator",
        name="Basisschool De Regenboog",
        organisation="oin:00000001234567890000",
        kind="school",
        datatypes=["education.grades"],
        actions=["read", "write"],
        jwks=school.jwks,
        client_id=school.client_id,
    )
    parent = sign_up(client, "Ouder van Sam")
    subject = school.connect(
        client.post("/v1/me/connection-codes", headers=parent.headers).json()["code"]
    )
    asked = school.ask(
        subject, datatypes=["education.grades"], procedure={"ref": "INSCHRIJVING-2026"}
    )
    assert asked.status_code == 200, asked.text
    grant = client.get("/v1/me/requests", headers=parent.headers).json()["grants"][0]
    client.post(f"/v1/me/grants/{grant['id']}/approve", json={}, headers=parent.headers)
    token = school.poll(asked.json()["auth_req_id"]).json()["access_token"]
    return school, token, parent


def test_signed_grades_travel_with_their_proof(client: TestClient, container: Container) -> None:
    school, token, parent = school_token(client, container)
    signature = sign(school, "education.grades", "Rapport groep 8", GRADES)
    written = school.call(
        "POST",
        "/v1/service/records",
        token,
        json={
            "category": "education",
            "type": "education.grades",
            "title": "Rapport groep 8",
            "content": GRADES,
            "signature": signature,
        },
    )
    assert written.status_code == 201, written.text
    assert written.json()["signature"]["issuer"] == "school-regenboog"

    # The parent reads it; anyone holding it can check it against the issuer's published keys.
    record = client.get(f"/v1/me/records/{written.json()['id']}", headers=parent.headers).json()
    issuer = client.get(f"/v1/issuers/{record['signature']['issuer']}").json()
    assert issuer["name"] == "Basisschool De Regenboog"
    checked = verify(
        record["signature"]["jws"],
        canonical_payload(record["type"], record["title"], record["content"]),
        issuer=issuer["client_id"],
        jwks=issuer["jwks"],
    )
    assert checked.kid == school.key.kid

    # The parent changes a grade: a new, unsigned version; the signed one stays in the history.
    edited = client.patch(
        f"/v1/me/records/{record['id']}",
        json={"content": {**GRADES, "rekenen": 9}},
        headers=parent.headers,
    )
    assert edited.json()["signature"] is None
    versions = client.get(f"/v1/me/records/{record['id']}/versions", headers=parent.headers).json()[
        "versions"
    ]
    assert [v["signature"] is not None for v in versions] == [True, False]
    # The signature does not fit the edited content: a reader would see it was changed.
    first = client.get(f"/v1/me/records/{record['id']}/versions/1", headers=parent.headers).json()
    with pytest.raises(IssuerSignatureInvalid):
        verify(
            first["signature"]["jws"],
            canonical_payload(
                edited.json()["type"], edited.json()["title"], edited.json()["content"]
            ),
            issuer="school-regenboog",
            jwks=issuer["jwks"],
        )
    # And it travels in the export.
    archive = zipfile.ZipFile(
        io.BytesIO(client.get("/v1/me/export", headers=parent.headers).content)
    )
    meta = json.loads(archive.read(f"records/{record['id']}/record.json"))
    assert meta["versions"][0]["signature"]["jws"] == signature


def test_a_bad_signature_refuses_the_write_and_is_on_record(
    client: TestClient, container: Container
) -> None:
    school, token, parent = school_token(client, container)
    forged = sign(school, "education.grades", "Rapport groep 8", {**GRADES, "rekenen": 10})
    refused = school.call(
        "POST",
        "/v1/service/records",
        token,
        json={
            "category": "education",
            "type": "education.grades",
            "title": "Rapport groep 8",
            "content": GRADES,
            "signature": forged,
        },
    )
    assert refused.status_code == 422
    assert "signature" in refused.json()["detail"]
    assert client.get("/v1/me/records", headers=parent.headers).json()["records"] == []
    resident_id = container.identity.authenticate(parent.token).resident_id
    with container.uow() as uow:
        reasons = [
            e.reason for e in uow.access_events.of_resident(resident_id) if e.name == "record.write"
        ]
    assert reasons == ["invalid-signature"]
