"""Signing residents up through the API, as a client would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from api.container import Container
from support.passkeys import SoftPasskey
from vault.residents.keys import VaultKeys
from vault.storage.orm import ResidentRow


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


def make_resident(container: Container) -> uuid.UUID:
    """A resident with a data key, made below the API (for tests of storage and keys)."""
    resident_id = uuid.uuid4()
    with container.uow() as uow:
        now = datetime.now(UTC)
        uow.residents.add(
            ResidentRow(
                resident_id=resident_id,
                status="active",
                display_name_ct=None,
                dek_version=1,
                created_at=now,
                deleted_at=None,
            )
        )
        uow.flush()
        VaultKeys(container.keys).create(uow, resident_id, now)
        uow.commit()
    return resident_id
