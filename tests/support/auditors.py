"""Appointing and enrolling auditors through the API, as an auditor's client would."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from api.container import Container
from support.passkeys import SoftPasskey


@dataclass
class Auditor:
    name: str
    passkey: SoftPasskey
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def enrol(client: TestClient, code: str, passkey: SoftPasskey) -> dict[str, object]:
    """Run the enrolment ceremony; returns the HTTP outcome of the verify step."""
    options = client.post("/v1/auditor/enrol/options", json={"code": code})
    if options.status_code != 200:
        return {"status": options.status_code, "body": options.json()}
    ceremony = options.json()
    done = client.post(
        "/v1/auditor/enrol/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "code": code,
            "credential": passkey.create(ceremony["public_key"]),
        },
    )
    return {"status": done.status_code, "body": done.json()}


def appoint(client: TestClient, container: Container, name: str = "A. Jansen") -> Auditor:
    passkey = SoftPasskey()
    made = container.auditors.appoint(name, operator="test-operator")
    outcome = enrol(client, made.code, passkey)
    assert outcome["status"] == 201, outcome
    body = outcome["body"]
    assert isinstance(body, dict)
    return Auditor(name, passkey, str(body["session_token"]))


def sign_in(client: TestClient, auditor: Auditor) -> str:
    ceremony = client.post("/v1/auditor/auth/login/options").json()
    done = client.post(
        "/v1/auditor/auth/login/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "credential": auditor.passkey.get(ceremony["public_key"]),
        },
    )
    assert done.status_code == 200, done.text
    token: str = done.json()["session_token"]
    auditor.token = token
    return token
