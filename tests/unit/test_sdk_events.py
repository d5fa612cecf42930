"""The SET receiver (`EventReceiver`, `AsyncEventReceiver`) and `GrantCache`, against a vault
faked on `httpx.MockTransport` that publishes metadata and a JWKS and signs SETs as the real
one does (ES256, `typ: secevent+jwt`). Each check of the receiver is attacked here: wrong
audience, issuer, key, kid, type, algorithm, stale or future `iat`, a replayed `jti`."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey

import clients.sdk as sdk
from clients.sdk.events import EVENT_BASE

VAULT = "https://vault.test"
CLIENT_ID = "huisarts-de-linde"
GRANT = "5f8f0c9e-7d6b-4a39-9a0e-2b6e4c1d7f35"


@dataclass
class SigningVault:
    keys: list[ECKey] = field(default_factory=lambda: [ECKey.generate_key("P-256", auto_kid=True)])
    jwks_fetches: int = 0
    down: bool = False

    @property
    def key(self) -> ECKey:
        return self.keys[-1]

    def rotate(self) -> None:
        self.keys.append(ECKey.generate_key("P-256", auto_kid=True))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("down", request=request)
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(
                200,
                json={
                    "issuer": VAULT,
                    "token_endpoint": f"{VAULT}/oauth/token",
                    "backchannel_authentication_endpoint": f"{VAULT}/oauth/bc-authorize",
                    "jwks_uri": f"{VAULT}/.well-known/jwks.json",
                    "grant_types_supported": ["urn:openid:params:grant-type:ciba"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                },
            )
        if request.url.path == "/.well-known/jwks.json":
            self.jwks_fetches += 1
            return httpx.Response(
                200,
                json={"keys": [{**k.as_dict(private=False), "alg": "ES256"} for k in self.keys]},
            )
        raise AssertionError(request.url)

    def set_jwt(
        self,
        event: str = "grant-ended",
        *,
        key: Any = None,
        header: dict[str, Any] | None = None,
        alg: str = "ES256",
        **claims: Any,
    ) -> str:
        signer = key or self.key
        payload: dict[str, Any] = {
            "iss": VAULT,
            "aud": CLIENT_ID,
            "iat": int(time.time()),
            "jti": str(uuid.uuid4()),
            "txn": "6f2d0a4e-3c5b-4f7a-8e21-9b0c1d2e3f40",
            "events": {
                EVENT_BASE + event: {
                    "grant_id": GRANT,
                    "subject": "k3xq7m2v",
                    "procedure": "BEH-2026-0042",
                    "reason": "procedure-closed",
                    "ended_at": "2026-12-01T10:00:00Z",
                }
            },
        }
        payload.update(claims)
        head = {"alg": alg, "kid": self.key.kid, "typ": "secevent+jwt", **(header or {})}
        return jwt.encode(head, payload, signer, algorithms=[alg])


@pytest.fixture
def vault() -> SigningVault:
    return SigningVault()


def receiver(vault: SigningVault, **options: Any) -> sdk.EventReceiver:
    return sdk.EventReceiver(
        VAULT, client_id=CLIENT_ID, transport=httpx.MockTransport(vault), **options
    )


def rejected(make: Callable[[], object]) -> sdk.SetRejected:
    with pytest.raises(sdk.SetRejected) as caught:
        make()
    return caught.value


def test_a_good_set_becomes_an_event(vault: SigningVault) -> None:
    with receiver(vault) as r:
        token = vault.set_jwt()
        event = r.verify(token)
    assert event.type == "grant-ended"
    assert event.ends_access
    assert (event.grant_id, event.subject, event.procedure) == (GRANT, "k3xq7m2v", "BEH-2026-0042")
    assert event.reason == "procedure-closed"
    assert event.at is not None
    assert event.at.isoformat() == "2026-12-01T10:00:00+00:00"
    assert event.txn == "6f2d0a4e-3c5b-4f7a-8e21-9b0c1d2e3f40"
    assert not event.duplicate


def test_the_audience_must_be_this_client(vault: SigningVault) -> None:
    r = receiver(vault)
    assert (
        rejected(lambda: r.verify(vault.set_jwt(aud="school-regenboog"))).err == "invalid_audience"
    )
    assert r.verify(vault.set_jwt(aud=["other", CLIENT_ID])).grant_id == GRANT


def test_the_issuer_must_be_the_vault(vault: SigningVault) -> None:
    r = receiver(vault)
    assert (
        rejected(lambda: r.verify(vault.set_jwt(iss="https://evil.test"))).err == "invalid_issuer"
    )


def test_a_set_signed_with_another_key_is_refused(vault: SigningVault) -> None:
    r = receiver(vault)
    forger = ECKey.generate_key("P-256")
    e = rejected(lambda: r.verify(vault.set_jwt(key=forger)))  # the vault's kid, not its key
    assert e.err == "invalid_key"
    assert e.status == 400
    assert json.loads(e.response_body) == {"err": "invalid_key", "description": e.detail}


def test_an_unknown_kid_refetches_once_then_refuses(vault: SigningVault) -> None:
    clock = [1000.0]
    r = receiver(vault, clock=lambda: clock[0])
    assert r.verify(vault.set_jwt(iat=1000)).grant_id == GRANT
    assert vault.jwks_fetches == 1
    clock[0] += 60
    token = vault.set_jwt(header={"kid": "unknown-kid"}, iat=1060)
    assert rejected(lambda: r.verify(token)).err == "invalid_key"
    assert vault.jwks_fetches == 2  # the cached JWKS lacked it: fetched once more
    clock[0] += 5  # another unknown kid right away: no third fetch, and not a final refusal
    with pytest.raises(sdk.Unavailable):
        r.verify(vault.set_jwt(header={"kid": "another-unknown"}, iat=1065))
    assert vault.jwks_fetches == 2


def test_an_unknown_kid_on_a_fresh_jwks_is_refused_at_once(vault: SigningVault) -> None:
    r = receiver(vault)
    assert rejected(lambda: r.verify(vault.set_jwt(header={"kid": "nope"}))).err == "invalid_key"
    assert vault.jwks_fetches == 1


def test_a_rotated_key_is_found_by_one_refetch(vault: SigningVault) -> None:
    clock = [1000.0]
    r = receiver(vault, clock=lambda: clock[0])
    r.verify(vault.set_jwt(iat=1000))
    assert vault.jwks_fetches == 1
    vault.rotate()
    clock[0] += 60
    assert r.verify(vault.set_jwt(iat=1050)).grant_id == GRANT
    assert vault.jwks_fetches == 2


def test_the_header_must_be_a_set_header(vault: SigningVault) -> None:
    r = receiver(vault)
    assert rejected(lambda: r.verify(vault.set_jwt(header={"typ": "JWT"}))).err == (
        "invalid_request"
    )
    good_claims = vault.set_jwt().split(".")[1]
    payload = base64.urlsafe_b64decode(good_claims + "==")
    no_typ = jws.serialize_compact({"alg": "ES256", "kid": vault.key.kid}, payload, vault.key)
    assert rejected(lambda: r.verify(no_typ)).err == "invalid_request"
    no_kid = jwt.encode({"alg": "ES256", "typ": "secevent+jwt"}, {"x": 1}, vault.key)
    assert "kid" in rejected(lambda: r.verify(no_kid)).detail
    # joserfc refuses to make a header with `crit`: signed by hand.
    crit = {"alg": "ES256", "kid": vault.key.kid, "typ": "secevent+jwt", "crit": ["x"], "x": 1}
    signing_input = f"{b64(json.dumps(crit).encode())}.{good_claims}"
    signature = jws.JWSRegistry.algorithms["ES256"].sign(signing_input.encode(), vault.key)
    with_crit = f"{signing_input}.{b64(signature)}"
    assert rejected(lambda: r.verify(with_crit)).err == "invalid_request"
    assert r.verify(vault.set_jwt(header={"typ": "application/secevent+jwt"})).grant_id == GRANT


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_mac_and_none_algorithms_are_refused(vault: SigningVault) -> None:
    r = receiver(vault)
    hs = vault.set_jwt(key=OctKey.generate_key(256), alg="HS256")
    assert rejected(lambda: r.verify(hs)).err == "invalid_request"
    # joserfc will not sign with `none`: the unsigned token is made by hand.
    body = vault.set_jwt().split(".")[1]
    none_header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "kid": vault.key.kid, "typ": "secevent+jwt"}).encode()
    )
    unsigned = f"{none_header.rstrip(b'=').decode()}.{body}."
    assert rejected(lambda: r.verify(unsigned)).err == "invalid_request"


def test_freshness_of_iat(vault: SigningVault) -> None:
    now = time.time()
    r = receiver(vault, clock=lambda: now, max_age=timedelta(hours=48))
    stale = vault.set_jwt(iat=int(now - 49 * 3600))
    assert "too old" in rejected(lambda: r.verify(stale)).detail
    future = vault.set_jwt(iat=int(now + 400))
    assert "future" in rejected(lambda: r.verify(future)).detail
    assert r.verify(vault.set_jwt(iat=int(now - 47 * 3600))).grant_id == GRANT
    assert r.verify(vault.set_jwt(iat=int(now + 200))).grant_id == GRANT  # within 5 minutes
    # A polled SET came over our own authenticated request: a backlog is not too old, and a
    # clock that is off does not refuse it for good.
    assert r.verify(stale, check_age=False).grant_id == GRANT
    assert r.verify(future, check_age=False).grant_id == GRANT
    assert "iat" in rejected(lambda: r.verify(vault.set_jwt(iat="yesterday"))).detail


@pytest.mark.parametrize(
    "claims",
    [
        {"jti": ""},
        {"events": {}},
        {"events": {"https://regie.example/events/unknown": {"grant_id": GRANT, "subject": "s"}}},
        {"events": {"https://elsewhere.example/grant-ended": {"grant_id": GRANT, "subject": "s"}}},
        {"events": {EVENT_BASE + "grant-ended": {"subject": "s"}}},
    ],
)
def test_the_event_must_be_one_we_know(vault: SigningVault, claims: dict[str, Any]) -> None:
    assert (
        rejected(lambda: receiver(vault).verify(vault.set_jwt(**claims))).err == "invalid_request"
    )


def test_a_replayed_jti_is_acknowledged_but_not_handled_twice(vault: SigningVault) -> None:
    handled: list[sdk.Event] = []
    r = receiver(vault, handlers=[handled.append])
    token = vault.set_jwt()
    first = r.receive(token)
    again = r.receive(token)
    assert not first.duplicate
    assert again.duplicate
    assert handled == [first]
    assert r.receive(vault.set_jwt()).duplicate is False  # another jti is another event
    assert len(handled) == 2


def test_a_failing_handler_leaves_the_set_for_the_retry(vault: SigningVault) -> None:
    calls: list[str] = []

    def flaky(event: sdk.Event) -> None:
        calls.append(event.jti)
        if len(calls) == 1:
            raise RuntimeError("database down")

    r = receiver(vault, handlers=[flaky])
    token = vault.set_jwt()
    with pytest.raises(RuntimeError):
        r.receive(token)  # the endpoint answers 5xx: the vault pushes it again
    assert not r.receive(token).duplicate
    assert len(calls) == 2


def test_handle_push_checks_the_media_type(vault: SigningVault) -> None:
    r = receiver(vault)
    token = vault.set_jwt()
    e = rejected(lambda: r.handle_push(token.encode(), {"Content-Type": "application/json"}))
    assert e.err == "invalid_request"
    event = r.handle_push(token.encode(), {"content-type": "application/secevent+jwt"})
    assert event.type == "grant-ended"


def test_an_unreachable_vault_is_not_a_refusal(vault: SigningVault) -> None:
    vault.down = True
    with pytest.raises(sdk.TransportError):  # answer 503: the vault will push it again
        receiver(vault).handle_push(vault.set_jwt(), {"Content-Type": "application/secevent+jwt"})


def test_the_grant_cache_purges_when_access_ends(vault: SigningVault) -> None:
    cache = sdk.GrantCache()
    cache.put(GRANT, "record-1", {"metformine": "500 mg"})
    cache.put("another-grant", "record-2", {"x": 1})
    r = receiver(vault, handlers=[cache.handle])
    r.receive(vault.set_jwt("grant-approved"))
    assert cache.items(GRANT) == {"record-1": {"metformine": "500 mg"}}
    r.receive(vault.set_jwt("grant-ended"))
    assert cache.items(GRANT) == {}
    assert cache.grants() == {"another-grant"}
    assert len(cache) == 1


def test_the_async_receiver_checks_the_same(vault: SigningVault) -> None:
    handled: list[str] = []

    async def handler(event: sdk.Event) -> None:
        handled.append(event.jti)

    async def go() -> None:
        async with sdk.AsyncEventReceiver(
            VAULT, client_id=CLIENT_ID, transport=httpx.MockTransport(vault), handlers=[handler]
        ) as r:
            token = vault.set_jwt()
            headers = {"Content-Type": "application/secevent+jwt"}
            assert not (await r.handle_push(token, headers)).duplicate
            assert (await r.handle_push(token, headers)).duplicate
            with pytest.raises(sdk.SetRejected) as wrong:
                await r.verify(vault.set_jwt(aud="someone-else"))
            assert wrong.value.err == "invalid_audience"

    anyio.run(go)
    assert len(handled) == 1


def test_reprs_name_no_keys(vault: SigningVault) -> None:
    assert repr(receiver(vault)) == f"EventReceiver('{VAULT}', client_id='{CLIENT_ID}')"
