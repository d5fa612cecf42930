"""`clients.sdk.ping`: a genuine CIBA ping is accepted, and every forged or malformed one is
refused with the status a notification endpoint answers (401 for the token, 400 for the body).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest

import clients.sdk as sdk
from clients.sdk.ping import MAX_PING_BODY

TOKEN = "tok_" + "A" * 40
AUTH_REQ_ID = "rar_1c2d3e4f"


def request(auth_req_id: str = AUTH_REQ_ID, token: str | None = TOKEN) -> sdk.AccessRequest:
    return sdk.AccessRequest(
        auth_req_id=auth_req_id,
        subject="n3c7subject",
        procedure="BEH-2026-0042",
        datatypes=("health.medication",),
        actions=("read",),
        interval=5,
        expires_at=datetime(2026, 12, 17, tzinfo=UTC),
        notification_token=token,
    )


def body(auth_req_id: Any = AUTH_REQ_ID) -> bytes:
    return json.dumps({"auth_req_id": auth_req_id}).encode()


GOOD = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def test_a_genuine_ping_gives_its_auth_req_id() -> None:
    assert sdk.check_ping(GOOD, body(), request()) == AUTH_REQ_ID
    # Header names are case-insensitive, the scheme too (RFC 9110 §11.1); lists and
    # http.server's message work as well as dicts.
    assert sdk.check_ping({"authorization": f"bearer {TOKEN}"}, body(), request())
    assert sdk.check_ping([("AUTHORIZATION", f"Bearer {TOKEN}")], body(), request())
    message = Message()
    message["Authorization"] = f"Bearer {TOKEN}"
    assert sdk.check_ping(message, body(), request()) == AUTH_REQ_ID


@pytest.mark.parametrize(
    "headers",
    [
        {},  # absent
        {"Authorization": f"Bearer {TOKEN}x"},  # wrong
        {"Authorization": f"Bearer {TOKEN[:-1]}"},  # a prefix of it
        {"Authorization": "Bearer tok_other"},
        {"Authorization": f"Basic {TOKEN}"},  # not Bearer
        {"Authorization": f"DPoP {TOKEN}"},
        {"Authorization": TOKEN},  # no scheme
        {"Authorization": "Bearer "},  # no token
        {"Authorization": "Bearer tökén"},  # not ASCII: refused, not a TypeError
        [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer tok_other")],
    ],
)
def test_a_ping_without_the_requests_bearer_token_is_refused_401(headers: Any) -> None:
    with pytest.raises(sdk.AuthError) as caught:
        sdk.check_ping(headers, body(), request())
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")


@pytest.mark.parametrize(
    "payload",
    [
        body("rar_other"),  # another request
        body(AUTH_REQ_ID + "x"),
        body(""),
        body(None),
        body(["rar_1c2d3e4f"]),
        json.dumps([AUTH_REQ_ID]).encode(),
        b"{not json",
        b"",
        json.dumps({"auth_req_id": AUTH_REQ_ID, "pad": "x" * MAX_PING_BODY}).encode(),
    ],
)
def test_a_ping_with_another_or_a_bad_body_is_refused_400(payload: bytes) -> None:
    with pytest.raises(sdk.InvalidRequest) as caught:
        sdk.check_ping(GOOD, payload, request())
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")


def test_the_token_of_another_request_does_not_pass() -> None:
    other = request("rar_other", token="tok_other_" + "B" * 40)
    with pytest.raises(sdk.AuthError):
        sdk.check_ping({"Authorization": f"Bearer {other.notification_token}"}, body(), request())


def test_a_poll_mode_request_cannot_be_checked() -> None:
    with pytest.raises(ValueError, match="ping mode"):
        sdk.check_ping(GOOD, body(), request(token=None))
    with pytest.raises(ValueError, match="ping mode"):
        sdk.PingCallback().expect(request(token=None))


def test_the_callback_finds_the_request_pinged_and_refuses_the_rest() -> None:
    callback = sdk.PingCallback()
    mine, theirs = request(), request("rar_second", token="tok_second_" + "C" * 40)
    callback.expect(mine)
    callback.expect(theirs)
    assert callback.check(GOOD, body()) is mine
    assert callback.check(GOOD, body()) is mine  # kept until discarded: the vault may retry
    second = {"Authorization": f"Bearer {theirs.notification_token}"}
    assert callback.check(second, body("rar_second")) is theirs
    with pytest.raises(sdk.AuthError):
        callback.check(GOOD, body("rar_second"))  # right id, another request's token
    with pytest.raises(sdk.AuthError):
        callback.check(GOOD, body("rar_unknown"))
    with pytest.raises(sdk.AuthError):
        callback.check({}, body())
    with pytest.raises(sdk.InvalidRequest):
        callback.check(GOOD, b"[]")
    callback.discard(mine)
    with pytest.raises(sdk.AuthError):
        callback.check(GOOD, body())
    assert len(callback) == 1
    assert TOKEN not in repr(callback)
    assert AUTH_REQ_ID not in repr(callback)
