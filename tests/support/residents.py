"""Signing residents up through the API, as a client would."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from support.passkeys import SoftPasskey


@dataclass
class Resident:
    name: str
    passkey: SoftPasskey
    token: str
    recovery_codes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(
    client: TestClient, name: str = "Anna de Vries", *, origin: str = "http://localhost:8000"
) -> Resident:
    passkey = SoftPasskey(origin)
    options = client.post("/v1/auth/passkeys/register/options", json={"display_name": name})
    assert options.status_code == 200, options.text
    ceremony = options.json()
    done = client.post(
        "/v1/auth/passkeys/register/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "display_name": name,
            "credential": passkey.create(ceremony["public_key"]),
        },
    )
    assert done.status_code == 201, done.text
    body = done.json()
    return Resident(name, passkey, body["session_token"], body["recovery_codes"])


def sign_in(client: TestClient, resident: Resident) -> str:
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    done = client.post(
        "/v1/auth/passkeys/login/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "credential": resident.passkey.get(ceremony["public_key"]),
        },
    )
    assert done.status_code == 200, done.text
    token: str = done.json()["session_token"]
    resident.token = token
    return token
