"""Passkey sign-up and sign-in end to end through the API, with a software authenticator."""

from __future__ import annotations

from fastapi.testclient import TestClient

from support.passkeys import SoftPasskey, b64url
from support.residents import sign_in, sign_up


def test_sign_up_gives_a_session_and_ten_recovery_codes(client: TestClient) -> None:
    anna = sign_up(client, "Anna de Vries")
    assert len(anna.recovery_codes) == 10
    assert len(set(anna.recovery_codes)) == 10
    me = client.get("/v1/me", headers=anna.headers)
    assert me.status_code == 200
    assert me.json()["display_name"] == "Anna de Vries"
    assert me.json()["recovery_codes_left"] == 10


def test_sign_in_with_the_passkey(client: TestClient) -> None:
    anna = sign_up(client)
    first = anna.token
    second = sign_in(client, anna)
    assert second != first
    assert client.get("/v1/me", headers=anna.headers).status_code == 200


def test_replayed_assertion_is_refused(client: TestClient) -> None:
    anna = sign_up(client)
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    assertion = anna.passkey.get(ceremony["public_key"])
    body = {"flow_id": ceremony["flow_id"], "credential": assertion}
    assert client.post("/v1/auth/passkeys/login/verify", json=body).status_code == 200
    replay = client.post("/v1/auth/passkeys/login/verify", json=body)
    assert replay.status_code == 401
    assert replay.headers["content-type"] == "application/problem+json"
    assert replay.json()["type"].endswith("/problems/authentication-required")


def test_replayed_assertion_with_a_new_challenge_id_is_refused(client: TestClient) -> None:
    """An old signed assertion sent for a fresh ceremony carries the old challenge."""
    anna = sign_up(client)
    old = client.post("/v1/auth/passkeys/login/options").json()
    assertion = anna.passkey.get(old["public_key"])
    fresh = client.post("/v1/auth/passkeys/login/options").json()
    replay = client.post(
        "/v1/auth/passkeys/login/verify",
        json={"flow_id": fresh["flow_id"], "credential": assertion},
    )
    assert replay.status_code == 401


def test_wrong_origin_is_refused_at_sign_in(client: TestClient) -> None:
    anna = sign_up(client)
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    phished = anna.passkey.get(ceremony["public_key"], origin="https://regie.example.evil")
    response = client.post(
        "/v1/auth/passkeys/login/verify",
        json={"flow_id": ceremony["flow_id"], "credential": phished},
    )
    assert response.status_code == 401


def test_wrong_origin_is_refused_at_sign_up(client: TestClient) -> None:
    passkey = SoftPasskey(origin="https://regie.example.evil")
    ceremony = client.post(
        "/v1/auth/passkeys/register/options", json={"display_name": "Mallory"}
    ).json()
    response = client.post(
        "/v1/auth/passkeys/register/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "display_name": "Mallory",
            "credential": passkey.create(ceremony["public_key"]),
        },
    )
    assert response.status_code == 401
    # Nothing was created: the failed sign-up left no vault behind.
    assert client.get("/v1/me").status_code == 401


def test_assertion_without_user_verification_is_refused(client: TestClient) -> None:
    anna = sign_up(client)
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    weak = anna.passkey.get(ceremony["public_key"], user_verified=False)
    response = client.post(
        "/v1/auth/passkeys/login/verify", json={"flow_id": ceremony["flow_id"], "credential": weak}
    )
    assert response.status_code == 401


def test_unknown_passkey_is_refused(client: TestClient) -> None:
    sign_up(client)
    stranger = sign_up(client, "Bob")
    other = SoftPasskey()
    other.device = stranger.passkey.device
    other.device.credential_id = b"\x00" * 32  # a credential this vault never saw
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    response = client.post(
        "/v1/auth/passkeys/login/verify",
        json={"flow_id": ceremony["flow_id"], "credential": other.get(ceremony["public_key"])},
    )
    assert response.status_code == 401


def test_recovery_code_signs_in_once(client: TestClient) -> None:
    anna = sign_up(client)
    code = anna.recovery_codes[0]
    first = client.post("/v1/auth/recovery", json={"code": code.lower().replace("-", " ")})
    assert first.status_code == 200
    assert first.json()["auth_method"] == "recovery"
    again = client.post("/v1/auth/recovery", json={"code": code})
    assert again.status_code == 401
    token = first.json()["session_token"]
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["recovery_codes_left"] == 9


def test_wrong_recovery_code_is_refused(client: TestClient) -> None:
    sign_up(client)
    assert client.post("/v1/auth/recovery", json={"code": "AAAA-BBBB-CCCC-DDDD"}).status_code == 401
    assert client.post("/v1/auth/recovery", json={"code": "short"}).status_code == 401


def test_add_a_second_passkey_after_recovery(client: TestClient) -> None:
    anna = sign_up(client)
    token = client.post("/v1/auth/recovery", json={"code": anna.recovery_codes[1]}).json()[
        "session_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    ceremony = client.post("/v1/me/passkeys/options", headers=headers).json()
    new_phone = SoftPasskey()
    added = client.post(
        "/v1/me/passkeys/verify",
        headers=headers,
        json={
            "flow_id": ceremony["flow_id"],
            "credential": new_phone.create(ceremony["public_key"]),
        },
    )
    assert added.status_code == 204
    anna.passkey = new_phone
    sign_in(client, anna)
    assert client.get("/v1/me", headers=anna.headers).json()["auth_method"] == "passkey"


def test_sign_out_ends_the_session(client: TestClient) -> None:
    anna = sign_up(client)
    assert client.post("/v1/auth/sign-out", headers=anna.headers).status_code == 204
    assert client.get("/v1/me", headers=anna.headers).status_code == 401


def test_sign_out_everywhere_ends_every_session(client: TestClient) -> None:
    anna = sign_up(client)
    phone = anna.token
    laptop = sign_in(client, anna)
    assert client.post("/v1/auth/sign-out-everywhere", headers=anna.headers).status_code == 204
    for token in (phone, laptop):
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_garbage_tokens_are_refused(client: TestClient) -> None:
    sign_up(client)
    for token in ("", "rgs_", "rgs_" + "A" * 43, "Bearer", "x" * 500):
        response = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


def test_list_and_remove_a_stolen_passkey(client: TestClient) -> None:
    anna = sign_up(client)
    stolen = anna.passkey
    ceremony = client.post("/v1/me/passkeys/options", headers=anna.headers).json()
    new_phone = SoftPasskey()
    client.post(
        "/v1/me/passkeys/verify",
        headers=anna.headers,
        json={
            "flow_id": ceremony["flow_id"],
            "credential": new_phone.create(ceremony["public_key"]),
        },
    )
    listed = client.get("/v1/me/passkeys", headers=anna.headers).json()["passkeys"]
    assert len(listed) == 2
    stolen_id = b64url(stolen.device.credential_id)
    assert stolen_id in {p["id"] for p in listed}
    assert client.delete(f"/v1/me/passkeys/{stolen_id}", headers=anna.headers).status_code == 204
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    thief = client.post(
        "/v1/auth/passkeys/login/verify",
        json={"flow_id": ceremony["flow_id"], "credential": stolen.get(ceremony["public_key"])},
    )
    assert thief.status_code == 401
    anna.passkey = new_phone
    sign_in(client, anna)


def test_the_last_passkey_cannot_be_removed(client: TestClient) -> None:
    anna = sign_up(client)
    only = client.get("/v1/me/passkeys", headers=anna.headers).json()["passkeys"][0]["id"]
    response = client.delete(f"/v1/me/passkeys/{only}", headers=anna.headers)
    assert response.status_code == 409
    assert client.delete("/v1/me/passkeys/not-base64!", headers=anna.headers).status_code == 404


def test_removing_a_passkey_needs_a_recent_passkey_sign_in(client: TestClient) -> None:
    anna = sign_up(client)
    token = client.post("/v1/auth/recovery", json={"code": anna.recovery_codes[0]}).json()[
        "session_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    only = client.get("/v1/me/passkeys", headers=headers).json()["passkeys"][0]["id"]
    assert client.delete(f"/v1/me/passkeys/{only}", headers=headers).status_code == 403
    assert client.post("/v1/me/recovery-codes", headers=headers).status_code == 403


def test_new_recovery_codes_replace_the_old(client: TestClient) -> None:
    anna = sign_up(client)
    fresh = client.post("/v1/me/recovery-codes", headers=anna.headers)
    assert fresh.status_code == 200
    codes = fresh.json()["recovery_codes"]
    assert len(codes) == 10
    assert not set(codes) & set(anna.recovery_codes)
    assert (
        client.post("/v1/auth/recovery", json={"code": anna.recovery_codes[0]}).status_code == 401
    )
    assert client.post("/v1/auth/recovery", json={"code": codes[0]}).status_code == 200
