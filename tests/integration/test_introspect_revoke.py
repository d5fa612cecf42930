"""Token introspection (RFC 7662) and revocation (RFC 7009) over HTTP.

A service learns about, and revokes, only its own tokens; anything else is "not active" and
"no effect". The container runs on a clock that follows real time plus an offset the test moves,
so expiry and planned ends can be reached while the service's client assertions (signed here
at the container's time) stay valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from support.residents import Resident, sign_up
from support.service_client import ASSERTION_TYPE, BASE, ServiceAgent, register_clinic_and_school

INTROSPECT = "/oauth/introspect"
REVOKE = "/oauth/revoke"


class ShiftedClock:
    """Real time plus an offset the test moves: proofs signed with real time stay fresh until
    the test moves the clock on purpose."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class Scene:
    client: TestClient
    c: Container
    clock: ShiftedClock
    clinic: ServiceAgent
    school: ServiceAgent
    anna: Resident
    anna_id: uuid.UUID
    subject: str
    record_id: str


@pytest.fixture
def scene(settings: Settings, connection: Connection) -> Iterator[Scene]:
    clock = ShiftedClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    container = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=container), base_url=BASE) as client:
        clinic, school = register_clinic_and_school(container, client)
        anna = sign_up(client, "Anna")
        anna_id = container.identity.authenticate(anna.token).resident_id
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
        subject = clinic.connect(code)
        yield Scene(
            client, container, clock, clinic, school, anna, anna_id, subject, record.json()["id"]
        )


# -- helpers ----------------------------------------------------------------------------------


def form(s: Scene, agent: ServiceAgent, **fields: str) -> dict[str, str]:
    """A client-authenticated form, its assertion signed at the container's (moved) time."""
    now = int(s.clock.now().timestamp())
    claims = {
        "iss": agent.client_id,
        "sub": agent.client_id,
        "aud": BASE,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    assertion = jwt.encode({"alg": "ES256", "kid": agent.key.kid}, claims, agent.key)
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **fields}


def introspect(s: Scene, token: str, agent: ServiceAgent | None = None, **extra: str) -> Any:
    response = s.client.post(INTROSPECT, data=form(s, agent or s.clinic, token=token, **extra))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def revoke(s: Scene, token: str, agent: ServiceAgent | None = None, **extra: str) -> None:
    response = s.client.post(REVOKE, data=form(s, agent or s.clinic, token=token, **extra))
    assert response.status_code == 200, response.text
    assert response.content == b""


def tokens(s: Scene, **changes: Any) -> dict[str, Any]:
    asked = s.clinic.ask(s.subject, **changes)
    assert asked.status_code == 200, asked.text
    waiting = s.client.get("/v1/me/requests", headers=s.anna.headers).json()["grants"]
    assert len(waiting) == 1
    done = s.client.post(
        f"/v1/me/grants/{waiting[0]['id']}/approve", json={}, headers=s.anna.headers
    )
    assert done.status_code == 200, done.text
    got = s.clinic.poll(asked.json()["auth_req_id"])
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def read(s: Scene, token: str) -> int:
    status: int = s.clinic.call("GET", f"/v1/service/records/{s.record_id}", token).status_code
    return status


INACTIVE = {"active": False}


# -- metadata -----------------------------------------------------------------------------------


def test_metadata_advertises_both_endpoints(scene: Scene) -> None:
    meta = scene.client.get("/.well-known/oauth-authorization-server").json()
    assert meta["introspection_endpoint"] == BASE + INTROSPECT
    assert meta["revocation_endpoint"] == BASE + REVOKE
    assert meta["introspection_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert meta["revocation_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert "ES256" in meta["introspection_endpoint_auth_signing_alg_values_supported"]


# -- introspection --------------------------------------------------------------------------


def test_an_active_access_token(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    before = int(s.clock.now().timestamp())
    body = introspect(s, issued["access_token"])
    assert body.keys() == {
        "active",
        "token_type",
        "client_id",
        "iss",
        "sub",
        "iat",
        "exp",
        "cnf",
        "authorization_details",
        "grant_id",
    }
    assert body["active"] is True
    assert body["token_type"] == "DPoP"
    assert body["client_id"] == s.clinic.client_id
    assert body["iss"] == BASE
    assert body["sub"] == s.subject
    assert body["cnf"] == {"jkt": s.clinic.dpop_key.thumbprint()}
    assert body["authorization_details"] == issued["authorization_details"]
    assert body["grant_id"] == issued["grant_id"]
    assert before - 5 <= body["iat"] <= before
    assert body["exp"] - body["iat"] == issued["expires_in"] <= 300
    # The hint is only a hint: a wrong one still finds the token (RFC 7662 §2.1).
    assert introspect(s, issued["access_token"], token_type_hint="refresh_token") == body


def test_an_active_refresh_token(scene: Scene) -> None:
    s = scene
    valid_until = (s.clock.now() + timedelta(days=30)).replace(microsecond=0)
    issued = tokens(s, valid_until=valid_until.isoformat())
    body = introspect(s, issued["refresh_token"], token_type_hint="refresh_token")
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["exp"] == int(valid_until.timestamp())
    assert body["sub"] == s.subject
    assert body["cnf"] == {"jkt": s.clinic.dpop_key.thumbprint()}
    assert body["authorization_details"] == issued["authorization_details"]
    assert body["grant_id"] == issued["grant_id"]


def test_sub_is_the_pairwise_subject_never_the_resident_id(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    response = s.client.post(INTROSPECT, data=form(s, s.clinic, token=issued["access_token"]))
    assert response.json()["sub"] == s.subject
    assert s.subject == s.c.services.subject(
        s.c.services.by_client_id(s.clinic.client_id).service_id, s.anna_id
    )
    for spelling in (str(s.anna_id), s.anna_id.hex):
        assert spelling not in response.text


def test_another_services_token_is_not_active(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    for token in (issued["access_token"], issued["refresh_token"]):
        assert introspect(s, token, s.school) == INACTIVE
        assert introspect(s, token)["active"] is True


@pytest.mark.parametrize(
    "token", ["rat_" + "x" * 43, "rrt_" + "x" * 43, "not-a-token", "rat_" + "x" * 200]
)
def test_unknown_tokens_are_not_active(scene: Scene, token: str) -> None:
    assert introspect(scene, token) == INACTIVE


def test_an_expired_access_token_is_not_active_and_its_refresh_token_is(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    s.clock.advance(seconds=301)
    assert introspect(s, issued["access_token"]) == INACTIVE
    assert introspect(s, issued["refresh_token"])["active"] is True


def test_a_grant_past_its_end_is_not_active(scene: Scene) -> None:
    s = scene
    valid_until = s.clock.now() + timedelta(hours=1)
    issued = tokens(s, valid_until=valid_until.isoformat())
    s.clock.advance(hours=1, seconds=1)
    assert introspect(s, issued["refresh_token"]) == INACTIVE


def test_a_procedure_past_its_planned_end_is_not_active(scene: Scene) -> None:
    s = scene
    planned_end = s.clock.now() + timedelta(days=1)
    issued = tokens(
        s,
        procedure={"ref": "BEH-2026-0042", "planned_end": planned_end.isoformat()},
        valid_until=(planned_end + timedelta(days=10)).isoformat(),
    )
    assert introspect(s, issued["refresh_token"])["active"] is True
    # The refresh token itself runs to valid_until; the procedure's end stops it first, before
    # any sweeper has marked anything.
    s.clock.advance(days=1, seconds=1)
    assert introspect(s, issued["refresh_token"]) == INACTIVE


def test_tokens_are_not_active_after_the_resident_revokes(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    grant = s.client.get("/v1/me/grants", headers=s.anna.headers).json()["grants"][0]
    done = s.client.post(f"/v1/me/grants/{grant['id']}/revoke", headers=s.anna.headers)
    assert done.status_code == 200, done.text
    assert introspect(s, issued["access_token"]) == INACTIVE
    assert introspect(s, issued["refresh_token"]) == INACTIVE


def test_tokens_are_not_active_after_the_procedure_closes(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    closed = s.client.post(
        "/v1/service/procedures/close",
        data=form(s, s.clinic, subject=s.subject, ref="BEH-2026-0042"),
    )
    assert closed.json() == {"ended_grants": 1}
    assert introspect(s, issued["access_token"]) == INACTIVE
    assert introspect(s, issued["refresh_token"]) == INACTIVE


def test_a_rotated_refresh_token_is_not_active(scene: Scene) -> None:
    s = scene
    first = tokens(s)
    second = s.clinic.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    assert introspect(s, first["refresh_token"]) == INACTIVE
    assert introspect(s, second.json()["refresh_token"])["active"] is True
    assert introspect(s, second.json()["access_token"])["grant_id"] == first["grant_id"]


# -- revocation -----------------------------------------------------------------------------


def test_revoking_an_access_token(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    assert read(s, issued["access_token"]) == 200
    revoke(s, issued["access_token"], token_type_hint="access_token")
    assert read(s, issued["access_token"]) == 401
    assert introspect(s, issued["access_token"]) == INACTIVE
    revoke(s, issued["access_token"])  # again: still 200, no effect
    # Only that token: the refresh token still works and the grant goes on.
    assert introspect(s, issued["refresh_token"])["active"] is True
    refreshed = s.clinic.refresh(issued["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert read(s, refreshed.json()["access_token"]) == 200


def test_revoking_a_refresh_token_kills_every_token_of_the_grant(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    assert read(s, issued["access_token"]) == 200
    revoke(s, issued["refresh_token"], token_type_hint="access_token")  # a wrong hint
    refreshed = s.clinic.refresh(issued["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    assert read(s, issued["access_token"]) == 401
    assert introspect(s, issued["access_token"]) == INACTIVE
    assert introspect(s, issued["refresh_token"]) == INACTIVE
    # Revoking tokens is not ending the grant (that is relinquishing).
    grant = s.client.get("/v1/me/grants", headers=s.anna.headers).json()["grants"][0]
    assert (grant["status"], grant["end_reason"]) == ("approved", None)
    with s.c.uow() as uow:
        revoked = [
            (e.name, e.reason, str(e.grant_id))
            for e in uow.access_events.of_resident(s.anna_id)
            if e.name == "token.revoked"
        ]
    assert revoked == [("token.revoked", "refresh", issued["grant_id"])]


def test_revoking_what_is_not_yours_or_unknown_is_200_without_effect(scene: Scene) -> None:
    s = scene
    issued = tokens(s)
    for token in (issued["access_token"], issued["refresh_token"]):
        revoke(s, token, s.school)
    for token in ("rat_" + "x" * 43, "rrt_" + "x" * 43, "something else"):
        revoke(s, token)
    assert read(s, issued["access_token"]) == 200
    assert introspect(s, issued["refresh_token"])["active"] is True


# -- the endpoints' own refusals ---------------------------------------------------------------


@pytest.mark.parametrize("path", [INTROSPECT, REVOKE])
def test_unauthenticated_calls_are_invalid_client(scene: Scene, path: str) -> None:
    s = scene
    token = tokens(s)["access_token"]
    bare = s.client.post(path, data={"token": token, "client_id": s.clinic.client_id})
    assert bare.status_code == 401
    assert bare.json()["error"] == "invalid_client"
    impostor = ServiceAgent(s.client, s.clinic.client_id)  # right name, wrong key
    forged = s.client.post(path, data=form(s, impostor, token=token))
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_client"
    basic = s.client.post(path, data={"token": token}, auth=(s.clinic.client_id, "secret"))
    assert basic.status_code == 400
    assert basic.json()["error"] == "invalid_request"
    assert read(s, token) == 200  # nothing was revoked


@pytest.mark.parametrize("path", [INTROSPECT, REVOKE])
def test_malformed_requests_are_400(scene: Scene, path: str) -> None:
    s = scene
    token = tokens(s)["access_token"]
    repeated = s.client.post(path, data={**form(s, s.clinic), "token": [token, "rat_" + "x" * 43]})
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    missing = s.client.post(path, data=form(s, s.clinic))
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    as_json = s.client.post(path, json=form(s, s.clinic, token=token))
    assert as_json.status_code == 400
    assert read(s, token) == 200
