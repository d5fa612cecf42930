"""The resident's sessions list, signing one session out, and confirming with a passkey
(step-up re-authentication) before a destructive action."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.settings import Settings
from support.clock import FakeClock
from support.residents import Resident, sign_in, sign_up


@dataclass
class Timed:
    client: TestClient
    clock: FakeClock


@pytest.fixture
def timed(settings: Settings, connection: Connection) -> Iterator[Timed]:
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url=ORIGIN) as client:
        yield Timed(client, clock)


def reauthenticate(client: TestClient, who: Resident, headers: dict[str, str]) -> int:
    ceremony = client.post("/v1/me/reauthenticate/options", headers=headers)
    assert ceremony.status_code == 200, ceremony.text
    body = ceremony.json()
    done = client.post(
        "/v1/me/reauthenticate/verify",
        headers=headers,
        json={"flow_id": body["flow_id"], "credential": who.passkey.get(body["public_key"])},
    )
    return done.status_code


def test_sessions_lists_live_sessions_and_marks_the_current_one(client: TestClient) -> None:
    anna = sign_up(client)
    first = anna.headers
    sign_in(client, anna)
    second = anna.headers
    listed = client.get("/v1/me/sessions", headers=second)
    assert listed.status_code == 200, listed.text
    sessions = listed.json()["sessions"]
    assert len(sessions) == 2
    assert [s["current"] for s in sessions] == [False, True]
    assert {s["auth_method"] for s in sessions} == {"passkey"}
    assert set(sessions[0]) == {
        "id",
        "auth_method",
        "created_at",
        "last_used_at",
        "expires_at",
        "current",
    }
    # Sign the first one out from the second: it stops working and leaves the list.
    ended = client.delete(f"/v1/me/sessions/{sessions[0]['id']}", headers=second)
    assert ended.status_code == 204
    assert client.get("/v1/me", headers=first).status_code == 401
    assert [s["id"] for s in client.get("/v1/me/sessions", headers=second).json()["sessions"]] == [
        sessions[1]["id"]
    ]
    # Ending it again, or a made-up one, is 404.
    again = client.delete(f"/v1/me/sessions/{sessions[0]['id']}", headers=second)
    assert again.status_code == 404
    assert client.delete(f"/v1/me/sessions/{uuid.uuid4()}", headers=second).status_code == 404


def test_one_resident_cannot_see_or_end_anothers_sessions(client: TestClient) -> None:
    anna = sign_up(client, "Anna")
    bram = sign_up(client, "Bram")
    anna_sessions = client.get("/v1/me/sessions", headers=anna.headers).json()["sessions"]
    bram_sessions = client.get("/v1/me/sessions", headers=bram.headers).json()["sessions"]
    assert {s["id"] for s in anna_sessions}.isdisjoint({s["id"] for s in bram_sessions})
    refused = client.delete(f"/v1/me/sessions/{anna_sessions[0]['id']}", headers=bram.headers)
    assert refused.status_code == 404
    assert client.get("/v1/me", headers=anna.headers).status_code == 200


def test_idle_and_signed_out_sessions_are_not_listed(timed: Timed) -> None:
    client, clock = timed.client, timed.clock
    anna = sign_up(client)
    old = anna.headers
    clock.advance(minutes=20)
    sign_in(client, anna)
    clock.advance(minutes=15)  # the first is idle for 35 minutes, past the 30 allowed
    listed = client.get("/v1/me/sessions", headers=anna.headers).json()["sessions"]
    assert len(listed) == 1
    assert listed[0]["current"]
    assert client.get("/v1/me", headers=old).status_code == 401


def test_a_recovery_session_confirms_with_its_passkey_and_may_then_delete(
    client: TestClient,
) -> None:
    anna = sign_up(client)
    token = client.post("/v1/auth/recovery", json={"code": anna.recovery_codes[0]}).json()[
        "session_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete("/v1/me", headers=headers).status_code == 403
    assert reauthenticate(client, anna, headers) == 204
    me = client.get("/v1/me", headers=headers).json()
    assert me["auth_method"] == "passkey"
    assert client.delete("/v1/me", headers=headers).status_code == 204


def test_an_old_sign_in_must_confirm_again(timed: Timed) -> None:
    client, clock = timed.client, timed.clock
    anna = sign_up(client)
    clock.advance(minutes=6)
    assert client.post("/v1/me/recovery-codes", headers=anna.headers).status_code == 403
    assert reauthenticate(client, anna, anna.headers) == 204
    assert client.post("/v1/me/recovery-codes", headers=anna.headers).status_code == 200


def test_the_ceremony_offers_only_the_residents_own_passkeys(client: TestClient) -> None:
    anna = sign_up(client, "Anna")
    sign_up(client, "Bram")
    options = client.post("/v1/me/reauthenticate/options", headers=anna.headers).json()
    allowed = [c["id"] for c in options["public_key"]["allowCredentials"]]
    mine = [p["id"] for p in client.get("/v1/me/passkeys", headers=anna.headers).json()["passkeys"]]
    assert allowed == mine


def test_another_residents_passkey_cannot_confirm(timed: Timed) -> None:
    client, clock = timed.client, timed.clock
    anna = sign_up(client, "Anna")
    bram = sign_up(client, "Bram")
    clock.advance(minutes=6)
    ceremony = client.post("/v1/me/reauthenticate/options", headers=anna.headers).json()
    bram_answer = bram.passkey.get(ceremony["public_key"])
    refused = client.post(
        "/v1/me/reauthenticate/verify",
        headers=anna.headers,
        json={"flow_id": ceremony["flow_id"], "credential": bram_answer},
    )
    assert refused.status_code == 401
    assert client.delete("/v1/me", headers=anna.headers).status_code == 403
    # Nor can Anna's ceremony be finished inside Bram's session.
    ceremony = client.post("/v1/me/reauthenticate/options", headers=anna.headers).json()
    stolen = client.post(
        "/v1/me/reauthenticate/verify",
        headers=bram.headers,
        json={
            "flow_id": ceremony["flow_id"],
            "credential": anna.passkey.get(ceremony["public_key"]),
        },
    )
    assert stolen.status_code == 401
    assert client.delete("/v1/me", headers=bram.headers).status_code == 403


def test_a_confirmation_is_single_use(client: TestClient) -> None:
    anna = sign_up(client)
    ceremony = client.post("/v1/me/reauthenticate/options", headers=anna.headers).json()
    body = {"flow_id": ceremony["flow_id"], "credential": anna.passkey.get(ceremony["public_key"])}
    first = client.post("/v1/me/reauthenticate/verify", headers=anna.headers, json=body)
    assert first.status_code == 204
    replay = client.post("/v1/me/reauthenticate/verify", headers=anna.headers, json=body)
    assert replay.status_code == 401
    # A sign-in ceremony's id cannot be used to confirm.
    login = client.post("/v1/auth/passkeys/login/options").json()
    crossed = client.post(
        "/v1/me/reauthenticate/verify",
        headers=anna.headers,
        json={"flow_id": login["flow_id"], "credential": anna.passkey.get(login["public_key"])},
    )
    assert crossed.status_code == 401
