"""`ServiceClient` and `AsyncServiceClient` against a scripted vault on `httpx.MockTransport`.

The fake vault checks what a real one checks (the client assertion's signature and claims,
each DPoP proof's signature, `htm`, `htu`, `ath`, nonce and key binding) and records what it
saw, so the tests can assert the claims the SDK sends, the nonce retries, refresh rotation,
poll backoff and the error mapping. Every behavioural test runs with both clients.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import anyio
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, import_key

import clients.sdk as sdk
from keys import issuer as vault_issuer
from support.sdk_clients import KINDS, make_client

ISSUER = "https://vault.test"
CLIENT_ID = "huisarts-de-linde"
CIBA = "urn:openid:params:grant-type:ciba"
RECORD_ID = "8047f5eb-259f-4cbb-bbf8-1623b687a5cb"
GRANTED = [
    {
        "type": "regie:records",
        "actions": ["read"],
        "datatypes": ["health.medication"],
        "purpose": {"id": "https://w3id.org/dpv#ServiceProvision"},
        "legal_basis": "https://w3id.org/dpv#Consent",
        "procedure": {"ref": "BEH-2026-0042"},
        "valid_until": "2027-02-01T00:00:00+00:00",
    }
]


def record_wire(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": RECORD_ID,
        "category": "health",
        "type": "health.medication",
        "kind": "json",
        "current_version": 1,
        "version": 1,
        "title": "Medicatieoverzicht",
        "content": {"metformine": "500 mg"},
        "file": None,
        "provenance": {"written_by": "resident", "service_id": None, "grant_id": None},
        "signature": None,
        "created_at": "2026-11-22T09:45:01.646754Z",
        "updated_at": "2026-11-22T09:45:01.646754Z",
    }
    body.update(changes)
    return body


def oauth_error(code: str, status: int = 400, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": code, "error_description": f"about {code}"}, headers=headers
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC).timestamp()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class FakeVault:
    service_key: sdk.ServiceKey
    clock: Clock
    issuer: str = ISSUER
    ciba: list[str] = field(default_factory=list)  # scripted poll outcomes, "approved" last
    nonce: dict[str, str] = field(default_factory=dict)  # "token"/"resource" -> required nonce
    nonce_always_stale: bool = False
    ended: bool = False
    access_seconds: int = 300
    calls: list[tuple[str, str]] = field(default_factory=list)
    assertions: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    proofs: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    refreshed_with: list[str] = field(default_factory=list)
    access: dict[str, tuple[float, str]] = field(default_factory=dict)  # token -> (exp, jkt)
    refresh: dict[str, str] = field(default_factory=dict)  # live refresh token -> jkt
    spent: set[str] = field(default_factory=set)
    resource_answers: list[httpx.Response] = field(default_factory=list)  # before the default
    lock: threading.Lock = field(default_factory=threading.Lock)
    slow_tokens: bool = False
    grant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    browser_flow: bool = True  # the metadata names the PAR and authorization endpoints
    pushed: list[dict[str, str]] = field(default_factory=list)  # the PAR forms seen
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # live code -> its push

    # -- what a vault checks ------------------------------------------------------------------

    def _check_assertion(self, form: dict[str, str]) -> None:
        assert form["client_assertion_type"] == (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )
        public = import_key(self.service_key.public_jwk(), "EC")
        token = jwt.decode(form["client_assertion"], public, algorithms=["ES256"])
        self.assertions.append((dict(token.header), dict(token.claims)))

    def _check_proof(
        self, request: httpx.Request, slot: str, token: str | None = None
    ) -> tuple[str | None, httpx.Response | None]:
        proof = request.headers["DPoP"]
        header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
        key = ECKey.import_key(header["jwk"])
        assert not key.is_private
        claims = dict(jwt.decode(proof, key, algorithms=["ES256"]).claims)
        self.proofs.append((header, claims))
        assert header["typ"] == "dpop+jwt"
        assert claims["htm"] == request.method
        assert claims["htu"] == str(request.url).split("?")[0]
        if token is not None:
            digest = hashlib.sha256(token.encode()).digest()
            assert claims["ath"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
        required = self.nonce.get(slot)
        if required is not None and (claims.get("nonce") != required or self.nonce_always_stale):
            fresh = secrets.token_urlsafe(8)
            self.nonce[slot] = fresh
            if slot == "token":
                return None, oauth_error("use_dpop_nonce", 400, **{"DPoP-Nonce": fresh})
            return None, oauth_error(
                "use_dpop_nonce",
                401,
                **{"DPoP-Nonce": fresh, "WWW-Authenticate": 'DPoP error="use_dpop_nonce"'},
            )
        return key.thumbprint(), None

    def _issue(self, jkt: str, *, details: bool) -> httpx.Response:
        access, refresh = f"rat_{secrets.token_urlsafe(8)}", f"rrt_{secrets.token_urlsafe(8)}"
        self.access[access] = (self.clock.now + self.access_seconds, jkt)
        self.refresh[refresh] = jkt
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "DPoP",
            "expires_in": self.access_seconds,
            "refresh_token": refresh,
            "grant_id": self.grant_id,
        }
        if details:
            body["authorization_details"] = GRANTED
        return httpx.Response(200, json=body)

    # -- the routes -----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.slow_tokens and request.url.path == "/oauth/token":
            time.sleep(0.05)  # long enough for concurrent callers to pile up
        with self.lock:
            return self._route(request)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        if path == "/.well-known/oauth-authorization-server":
            return httpx.Response(
                200,
                json={
                    "issuer": self.issuer,
                    "token_endpoint": f"{ISSUER}/oauth/token",
                    "backchannel_authentication_endpoint": f"{ISSUER}/oauth/bc-authorize",
                    "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
                    "grant_types_supported": [CIBA, "refresh_token"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "dpop_signing_alg_values_supported": ["ES256"],
                    **(
                        {
                            "authorization_endpoint": f"{ISSUER}/oauth/authorize",
                            "pushed_authorization_request_endpoint": f"{ISSUER}/oauth/par",
                        }
                        if self.browser_flow
                        else {}
                    ),
                },
            )
        if path.startswith("/v1/service/records") or path == "/v1/service/grant/relinquish":
            return self._resource(request)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self._check_assertion(form)
        if path == "/v1/service/connections":
            if form["code"] != "K7QF2-M9D4X":
                return oauth_error("invalid_grant")
            return httpx.Response(200, json={"subject": "n3c7subject"})
        if path == "/oauth/bc-authorize":
            details = json.loads(form["authorization_details"])
            if details[0]["datatypes"] == ["debts.overview"]:
                return oauth_error("access_denied", 403)
            return httpx.Response(
                200, json={"auth_req_id": "rar_secret", "expires_in": 600, "interval": 5}
            )
        if path == "/oauth/par":
            details = json.loads(form["authorization_details"])
            if details[0]["datatypes"] == ["debts.overview"]:
                return oauth_error("invalid_authorization_details")
            self.pushed.append(form)
            return httpx.Response(
                201,
                json={"request_uri": f"urn:ietf:params:oauth:request_uri:{len(self.pushed)}"}
                | {"expires_in": 300},
            )
        if path == "/v1/service/procedures/close":
            self.ended = True
            return httpx.Response(200, json={"ended_grants": 1})
        if path == "/oauth/token":
            jkt, refused = self._check_proof(request, "token")
            if refused is not None:
                return refused
            assert jkt is not None
            if form["grant_type"] == "authorization_code":
                return self._redeem(form, jkt)
            if form["grant_type"] == CIBA:
                outcome = self.ciba.pop(0)
                if outcome == "approved":
                    return self._issue(jkt, details=True)
                if outcome == "unavailable":
                    return httpx.Response(
                        503,
                        json={"type": f"{ISSUER}/problems/service-unavailable", "detail": "db"},
                    )
                code = {
                    "pending": "authorization_pending",
                    "slow_down": "slow_down",
                    "denied": "access_denied",
                    "expired": "expired_token",
                }[outcome]
                return oauth_error(code, 403 if code == "access_denied" else 400)
            token = form["refresh_token"]
            self.refreshed_with.append(token)
            if self.ended or token in self.spent or self.refresh.get(token) != jkt:
                return oauth_error("invalid_grant")
            self.spent.add(token)
            del self.refresh[token]
            return self._issue(jkt, details=False)
        raise AssertionError(f"unexpected request {request.method} {path}")

    def approve_in_browser(self) -> str:
        """The resident approved the last pushed request: the code the browser brings back."""
        code = f"rac_{secrets.token_urlsafe(8)}"
        self.codes[code] = self.pushed[-1]
        return code

    def _redeem(self, form: dict[str, str], jkt: str) -> httpx.Response:
        pushed = self.codes.pop(form["code"], None)  # one attempt per code
        verifier = form["code_verifier"]
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            pushed is None
            or challenge.decode().rstrip("=") != pushed["code_challenge"]
            or form["redirect_uri"] != pushed["redirect_uri"]
            or jkt != pushed["dpop_jkt"]
        ):
            return oauth_error("invalid_grant")
        issued = self._issue(jkt, details=True)
        return httpx.Response(200, json=json.loads(issued.content) | {"sub": "n3c7subject"})

    def _resource(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers["Authorization"].partition(" ")
        assert scheme == "DPoP"
        jkt, refused = self._check_proof(request, "resource", token)
        if refused is not None:
            return refused
        if self.resource_answers:
            return self.resource_answers.pop(0)
        expires, bound = self.access.get(token, (0.0, ""))
        if self.ended:
            return oauth_error("invalid_token", 401, **{"WWW-Authenticate": "DPoP"})
        if expires <= self.clock.now or bound != jkt:
            return oauth_error("invalid_token", 401, **{"WWW-Authenticate": "DPoP"})
        if request.url.path == "/v1/service/records":
            if request.method == "POST":
                sent = json.loads(request.content)
                return httpx.Response(
                    201,
                    json=record_wire(
                        **{k: sent[k] for k in sent if k in ("type", "title", "content")}
                    ),
                )
            return httpx.Response(200, json={"records": [record_wire(content=None)]})
        if request.url.path == "/v1/service/grant/relinquish":
            return httpx.Response(204)
        return httpx.Response(200, json=record_wire())


@dataclass
class World:
    vault: FakeVault
    clock: Clock
    key: sdk.ServiceKey
    cache: sdk.GrantCache
    store: sdk.MemoryTokenStore


@pytest.fixture
def world() -> World:
    clock = Clock()
    key = sdk.ServiceKey.generate()
    return World(FakeVault(key, clock), clock, key, sdk.GrantCache(), sdk.MemoryTokenStore())


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(world: World, kind: str) -> Iterator[Any]:
    transport = httpx.MockTransport(world.vault)
    with make_client(
        kind,
        ISSUER,
        sync_transport=transport,
        async_transport=transport,
        client_id=CLIENT_ID,
        key=world.key,
        token_store=world.store,
        cache=world.cache,
        clock=world.clock,
        sleep=world.clock.sleep,
    ) as c:
        yield c


def ask(client: Any) -> sdk.AccessRequest:
    return client.request_access(  # type: ignore[no-any-return]
        "n3c7subject",
        datatypes=["health.medication"],
        actions=["read"],
        purpose=sdk.Purpose("Medicatiebeoordeling voor uw behandeling"),
        procedure=sdk.Procedure(
            "BEH-2026-0042", "Fysiotherapie knie", planned_end=datetime(2027, 2, 1, tzinfo=UTC)
        ),
        binding_message="Code 4711",
    )


def granted(client: Any, world: World) -> sdk.Grant:
    world.vault.ciba = ["approved"]
    return client.wait(ask(client))  # type: ignore[no-any-return]


# -- client assertions -------------------------------------------------------------------------


def test_every_assertion_is_fresh_signed_and_addressed_to_the_issuer(
    client: Any, world: World
) -> None:
    assert client.connect("K7QF2-M9D4X") == "n3c7subject"
    ask(client)
    assert len(world.vault.assertions) == 2
    jtis = set()
    for header, claims in world.vault.assertions:
        assert header == {"typ": "client-authentication+jwt", "alg": "ES256", "kid": world.key.kid}
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert claims["aud"] == ISSUER
        assert claims["iat"] == int(world.clock.now)
        assert claims["exp"] - claims["iat"] == 60
        jtis.add(claims["jti"])
    assert len(jtis) == 2  # one assertion per request, never reused


def test_the_request_carries_the_authorization_details(world: World, kind: str) -> None:
    seen: list[dict[str, str]] = []

    def spy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/bc-authorize":
            seen.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        return world.vault(request)

    transport = httpx.MockTransport(spy)
    with make_client(
        kind,
        ISSUER,
        sync_transport=transport,
        async_transport=transport,
        client_id=CLIENT_ID,
        key=world.key,
        clock=world.clock,
    ) as client:
        request = client.request_access(
            "n3c7subject",
            datatypes=["health.medication", "health.allergies"],
            actions=["read", "write"],
            purpose="Medicatiebeoordeling voor uw behandeling",
            procedure="BEH-2026-0042",
            valid_until=datetime(2027, 2, 1, tzinfo=UTC),
            binding_message="Code 4711",
        )
    assert json.loads(seen[0]["authorization_details"]) == [
        {
            "type": "regie:records",
            "actions": ["read", "write"],
            "datatypes": ["health.medication", "health.allergies"],
            "purpose": {
                "id": "https://w3id.org/dpv#ServiceProvision",
                "text": "Medicatiebeoordeling voor uw behandeling",
            },
            "legal_basis": "https://w3id.org/dpv#Consent",
            "procedure": {"ref": "BEH-2026-0042"},
            "valid_until": "2027-02-01T00:00:00Z",
        }
    ]
    assert (seen[0]["login_hint"], seen[0]["binding_message"]) == ("n3c7subject", "Code 4711")
    assert request.interval == 5
    assert request.expires_at == datetime.fromtimestamp(world.clock.now + 600, UTC)
    assert "rar_secret" not in repr(request)


def test_a_naive_time_is_refused_before_anything_is_sent(client: Any, world: World) -> None:
    with pytest.raises(ValueError, match="time zone"):
        client.request_access(
            "s",
            datatypes=["health.medication"],
            actions=["read"],
            purpose="p",
            procedure="r",
            valid_until=datetime(2027, 2, 1),  # noqa: DTZ001 - the point
        )
    with pytest.raises(TypeError):
        client.request_access(
            "s", datatypes="health.medication", actions=["read"], purpose="p", procedure="r"
        )
    assert world.vault.calls == []


# -- DPoP -------------------------------------------------------------------------------------


def test_dpop_proofs_bind_each_request_and_the_token(client: Any, world: World) -> None:
    grant = granted(client, world)
    client.read_record(grant, RECORD_ID)
    (token_header, token_claims), (read_header, read_claims) = world.vault.proofs
    assert token_claims["htm"] == "POST"
    assert token_claims["htu"] == f"{ISSUER}/oauth/token"
    assert "ath" not in token_claims
    assert read_claims["htm"] == "GET"
    assert read_claims["htu"] == f"{ISSUER}/v1/service/records/{RECORD_ID}"
    assert "ath" in read_claims  # checked against the token by the fake vault
    assert token_claims["jti"] != read_claims["jti"]
    assert token_header["jwk"] == read_header["jwk"]  # one key: the token is bound to it
    assert set(token_header["jwk"]) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert read_claims["iat"] == int(world.clock.now)


def test_a_server_nonce_is_used_after_one_retry_and_remembered(client: Any, world: World) -> None:
    world.vault.nonce = {"token": "n0", "resource": "r0"}
    grant = granted(client, world)
    client.read_record(grant, RECORD_ID)
    client.read_record(grant, RECORD_ID)
    nonces = [claims.get("nonce") for _, claims in world.vault.proofs]
    token_nonce, resource_nonce = world.vault.nonce["token"], world.vault.nonce["resource"]
    # token: refused without a nonce, then sent with the one the vault gave
    # resource: refused without, retried with it, and the second read uses it at once
    assert nonces == [None, token_nonce, None, resource_nonce, resource_nonce]
    assert world.vault.calls.count(("POST", "/oauth/token")) == 2


def test_a_nonce_is_retried_once_only(client: Any, world: World) -> None:
    world.vault.nonce = {"token": "n0"}
    world.vault.nonce_always_stale = True
    world.vault.ciba = ["approved", "approved"]
    with pytest.raises(sdk.AuthError) as refused:
        client.poll(ask(client))
    assert refused.value.code == "use_dpop_nonce"
    assert world.vault.calls.count(("POST", "/oauth/token")) == 2


# -- tokens -------------------------------------------------------------------------------------


def test_tokens_are_refreshed_before_expiry_and_the_newest_kept(client: Any, world: World) -> None:
    grant = granted(client, world)
    first = world.store.load(grant.grant_id)
    assert first is not None
    world.clock.now += 269  # 31 s left: nothing to do yet
    client.read_record(grant, RECORD_ID)
    assert world.vault.refreshed_with == []
    world.clock.now += 2  # 29 s left: within the 30 s margin
    client.read_record(grant, RECORD_ID)
    second = world.store.load(grant.grant_id)
    assert second is not None
    assert world.vault.refreshed_with == [first.refresh_token]
    assert second.refresh_token != first.refresh_token
    world.clock.now += 280
    client.list_records(grant)
    assert world.vault.refreshed_with == [first.refresh_token, second.refresh_token]
    assert "rat_" not in repr(world.store.load(grant.grant_id))  # no token in the repr


def test_concurrent_calls_refresh_once(world: World, kind: str) -> None:
    transport = httpx.MockTransport(world.vault)

    async def slow_async(request: httpx.Request) -> httpx.Response:
        if world.vault.slow_tokens and request.url.path == "/oauth/token":
            await anyio.sleep(0.05)  # lets the other tasks run up to their own refresh
        return world.vault._route(request)

    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "key": world.key,
        "token_store": world.store,
        "clock": world.clock,
    }
    errors: list[BaseException] = []
    with make_client(
        kind,
        ISSUER,
        sync_transport=transport,
        async_transport=httpx.MockTransport(slow_async),
        **options,
    ) as client:
        grant = granted(client, world)
        world.clock.now += 290  # every caller finds the token about to expire
        world.vault.slow_tokens = True
        if kind == "sync":
            start = threading.Barrier(8)

            def read() -> None:
                start.wait()
                try:
                    client.read_record(grant, RECORD_ID)
                except sdk.RegieError as e:
                    errors.append(e)

            threads = [threading.Thread(target=read) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            target = client._target  # the AsyncServiceClient itself

            async def read() -> None:
                try:
                    await target.read_record(grant, RECORD_ID)
                except sdk.RegieError as e:
                    errors.append(e)

            async def together() -> None:
                async with anyio.create_task_group() as tasks:
                    for _ in range(8):
                        tasks.start_soon(read)

            client._portal.call(together)
    assert errors == []
    # One refresh: a second with the same refresh token would be reuse, ending the grant.
    assert len(world.vault.refreshed_with) == 1


def test_a_refused_token_is_refreshed_and_the_call_retried(client: Any, world: World) -> None:
    grant = granted(client, world)
    world.vault.resource_answers = [oauth_error("invalid_token", 401)]
    assert client.read_record(grant, RECORD_ID).content == {"metformine": "500 mg"}
    assert len(world.vault.refreshed_with) == 1


def test_an_ended_grant_raises_grant_ended_and_forgets_everything(
    client: Any, world: World
) -> None:
    grant = granted(client, world)
    client.read_record(grant, RECORD_ID)
    assert world.cache.items(grant.grant_id)
    world.vault.ended = True  # e.g. the resident revoked it: the token is dead, refresh refused
    with pytest.raises(sdk.GrantEnded) as ended:
        client.read_record(grant, RECORD_ID)
    assert ended.value.code == "invalid_grant"
    assert world.store.load(grant.grant_id) is None
    assert world.cache.items(grant.grant_id) == {}
    calls = len(world.vault.calls)
    with pytest.raises(sdk.GrantEnded):  # known to be over: not even asked again
        client.list_records(grant)
    assert len(world.vault.calls) == calls


def test_grant_ended_problem_forgets_the_grant(client: Any, world: World) -> None:
    grant = granted(client, world)
    world.vault.resource_answers = [
        httpx.Response(
            403,
            json={
                "type": f"{ISSUER}/problems/grant-ended",
                "title": "Grant ended",
                "status": 403,
                "detail": "the grant has expired",
                "reason": "grant-expired",
            },
        )
    ]
    with pytest.raises(sdk.GrantEnded) as ended:
        client.read_record(grant, RECORD_ID)
    assert ended.value.reason == "grant-expired"
    with pytest.raises(sdk.GrantEnded) as again:
        client.grant(grant.grant_id)
    assert "grant-expired" in again.value.detail


def test_an_access_denial_keeps_the_grant(client: Any, world: World) -> None:
    grant = granted(client, world)
    world.vault.resource_answers = [
        httpx.Response(
            403,
            json={
                "type": f"{ISSUER}/problems/access-denied",
                "detail": "not granted",
                "reason": "datatype-not-granted",
            },
        )
    ]
    with pytest.raises(sdk.AccessDenied) as denied:
        client.read_record(grant, RECORD_ID)
    assert type(denied.value) is sdk.AccessDenied
    assert denied.value.reason == "datatype-not-granted"
    assert client.grant(grant.grant_id) == grant


def test_tokens_bound_to_another_dpop_key_are_refused_clearly(world: World, kind: str) -> None:
    transport = httpx.MockTransport(world.vault)
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "key": world.key,
        "token_store": world.store,
        "clock": world.clock,
    }
    with make_client(
        kind, ISSUER, sync_transport=transport, async_transport=transport, **options
    ) as a:
        grant = granted(a, world)
    with (
        make_client(
            kind, ISSUER, sync_transport=transport, async_transport=transport, **options
        ) as b,
        pytest.raises(sdk.AuthError, match="another DPoP key"),
    ):
        b.read_record(grant, RECORD_ID)


def test_an_unknown_grant_is_not_found(client: Any) -> None:
    with pytest.raises(sdk.NotFound):
        client.read_record(str(uuid.uuid4()), RECORD_ID)


# -- waiting for the resident -------------------------------------------------------------------


def test_wait_honours_interval_and_slow_down(client: Any, world: World) -> None:
    world.vault.ciba = ["pending", "slow_down", "pending", "approved"]
    grant = client.wait(ask(client))
    assert world.clock.slept == [5, 10, 10]  # interval 5; slow_down adds 5, for good
    assert grant.datatypes == ("health.medication",)
    assert grant.actions == ("read",)
    assert grant.subject == "n3c7subject"
    assert grant.procedure == "BEH-2026-0042"
    assert grant.valid_until == datetime(2027, 2, 1, tzinfo=UTC)
    assert client.grants() == [grant]


def test_wait_backs_off_while_the_vault_is_unavailable(client: Any, world: World) -> None:
    world.vault.ciba = ["unavailable", "unavailable", "unavailable", "pending", "approved"]
    client.wait(ask(client))
    assert world.clock.slept == [5, 10, 20, 5]


def test_wait_backs_off_on_transport_errors(world: World, kind: str) -> None:
    failures = iter([True, True, False])

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token" and next(failures):
            raise httpx.ConnectError("refused", request=request)
        return world.vault(request)

    world.vault.ciba = ["approved"]
    transport = httpx.MockTransport(flaky)
    with make_client(
        kind,
        ISSUER,
        sync_transport=transport,
        async_transport=transport,
        client_id=CLIENT_ID,
        key=world.key,
        clock=world.clock,
        sleep=world.clock.sleep,
    ) as client:
        client.wait(ask(client))
    assert world.clock.slept == [5, 10]


def test_wait_gives_up_after_its_timeout(client: Any, world: World) -> None:
    world.vault.ciba = ["pending"] * 10
    request = ask(client)
    with pytest.raises(sdk.AuthorizationPending, match="12 seconds"):
        client.wait(request, timeout=12)
    assert world.clock.slept == [5, 5]


@pytest.mark.parametrize(
    ("outcome", "error"),
    [("denied", sdk.AccessDenied), ("expired", sdk.RequestExpired)],
)
def test_wait_ends_with_the_residents_answer(
    client: Any, world: World, outcome: str, error: type[sdk.RegieError]
) -> None:
    world.vault.ciba = ["pending", outcome]
    with pytest.raises(error):
        client.wait(ask(client))
    assert world.store.grants() == []


def test_poll_says_pending(client: Any, world: World) -> None:
    world.vault.ciba = ["pending", "slow_down"]
    request = ask(client)
    with pytest.raises(sdk.AuthorizationPending):
        client.poll(request)
    with pytest.raises(sdk.SlowDown):
        client.poll(request)


# -- errors and the rest -----------------------------------------------------------------------


def test_errors_map_to_the_tree(client: Any, world: World) -> None:
    with pytest.raises(sdk.InvalidRequest) as bad_code:
        client.connect("WRONG-CODE")
    assert bad_code.value.code == "invalid_grant"
    with pytest.raises(sdk.AccessDenied):
        client.request_access(
            "n3c7subject",
            datatypes=["debts.overview"],
            actions=["read"],
            purpose="p",
            procedure="r",
        )


def test_the_issuer_must_be_the_vault_asked(world: World, kind: str) -> None:
    world.vault.issuer = "https://evil.test"
    transport = httpx.MockTransport(world.vault)
    with (
        make_client(
            kind,
            ISSUER,
            sync_transport=transport,
            async_transport=transport,
            client_id=CLIENT_ID,
            key=world.key,
        ) as client,
        pytest.raises(sdk.ProtocolError, match="issuer"),
    ):
        client.connect("K7QF2-M9D4X")
    assert world.vault.calls == [("GET", "/.well-known/oauth-authorization-server")]


def test_close_and_relinquish_forget_grants(client: Any, world: World) -> None:
    grant = granted(client, world)
    client.read_record(grant, RECORD_ID)
    assert client.close_procedure("n3c7subject", "BEH-2026-0042") == 1
    assert world.cache.grants() == set()
    with pytest.raises(sdk.GrantEnded, match="procedure-closed"):
        client.read_record(grant, RECORD_ID)
    world.vault.ended = False
    world.vault.grant_id = str(uuid.uuid4())
    other = granted(client, world)
    client.relinquish(other)
    assert ("POST", "/v1/service/grant/relinquish") in world.vault.calls
    with pytest.raises(sdk.GrantEnded, match="relinquished"):
        client.list_records(other)


def test_a_signed_write_verifies_as_the_vault_checks_it(client: Any, world: World) -> None:
    grant = granted(client, world)
    seen: list[dict[str, Any]] = []
    original = world.vault._resource

    def spy(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            seen.append(json.loads(request.content))
        return original(request)

    world.vault._resource = spy  # type: ignore[method-assign]
    client.write_record(
        grant,
        type="education.grades",
        title="  Rapport   groep 8 ",
        content={"rekenen": 8.5},
        sign=True,
    )
    body = seen[0]
    assert body["category"] == "education"
    assert body["title"] == "Rapport groep 8"  # as the vault stores it, so the bytes match
    payload = vault_issuer.canonical_payload(body["type"], body["title"], body["content"])
    checked = vault_issuer.verify(
        body["signature"], payload, issuer=CLIENT_ID, jwks=world.key.public_jwks()
    )
    assert (checked.kid, checked.alg) == (world.key.kid, "ES256")
    tampered = vault_issuer.canonical_payload(body["type"], body["title"], {"rekenen": 10})
    with pytest.raises(vault_issuer.IssuerSignatureInvalid):
        vault_issuer.verify(
            body["signature"], tampered, issuer=CLIENT_ID, jwks=world.key.public_jwks()
        )


def test_reprs_hold_no_secrets(client: Any, world: World) -> None:
    grant = granted(client, world)
    stored = world.store.load(grant.grant_id)
    assert stored is not None
    private = world.key.public_jwk() | json.loads(json.dumps({}))
    text = " ".join(map(repr, (client, world.key, stored, world.store, ask(client))))
    for secret in (stored.access_token, stored.refresh_token, "rar_secret"):
        assert secret not in text
    assert "'d'" not in text
    assert private["x"] not in text


def test_the_file_token_store_keeps_tokens_and_endings_privately(tmp_path: Any) -> None:
    path = tmp_path / "state" / "grants.json"
    grant = sdk.Grant.from_details("g-1", "n3c7subject", GRANTED)
    stored = sdk.StoredGrant(grant, "rat_a", "rrt_b", 1795000300.0, "jkt")
    store = sdk.FileTokenStore(path)
    store.save(stored)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = sdk.FileTokenStore(path)  # another process, later
    assert again.load("g-1") == stored
    assert again.grants() == [stored]
    again.end("g-1", "procedure-closed")
    assert store.load("g-1") is None
    assert store.ended("g-1") == "procedure-closed"
    assert store.ended("g-2") is None
    assert "rrt_b" not in path.read_text()  # an ended grant's tokens are gone from disk
    path.write_text("[1, 2]")
    with pytest.raises(sdk.ProtocolError, match="damaged"):
        store.load("g-1")


# -- CIBA ping mode ------------------------------------------------------------------------


def _asked_forms(world: World, kind: str, **options: Any) -> tuple[Any, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    def spy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/bc-authorize":
            seen.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        return world.vault(request)

    transport = httpx.MockTransport(spy)
    with make_client(
        kind,
        ISSUER,
        sync_transport=transport,
        async_transport=transport,
        client_id=CLIENT_ID,
        key=world.key,
        clock=world.clock,
    ) as client:
        request = client.request_access(
            "n3c7subject",
            datatypes=["health.medication"],
            actions=["read"],
            purpose="Medicatiebeoordeling",
            procedure="BEH-2026-0042",
            **options,
        )
    return request, seen


def test_a_ping_request_sends_a_fresh_strong_token_and_keeps_it(world: World, kind: str) -> None:
    first, seen = _asked_forms(world, kind, ping=True)
    second, _ = _asked_forms(world, kind, ping=True)
    token = seen[0]["client_notification_token"]
    assert first.notification_token == token
    assert len(token) >= 43  # secrets.token_urlsafe(32): 256 bits
    assert second.notification_token not in (None, token)  # a new one per request
    assert token not in repr(first)
    assert sdk.AccessRequest.from_dict(first.to_dict()) == first


def test_a_given_token_is_sent_as_is(world: World, kind: str) -> None:
    request, seen = _asked_forms(world, kind, client_notification_token="mine-0123456789")
    assert seen[0]["client_notification_token"] == "mine-0123456789"
    assert request.notification_token == "mine-0123456789"


def test_a_poll_request_sends_no_token(world: World, kind: str) -> None:
    request, seen = _asked_forms(world, kind)
    assert "client_notification_token" not in seen[0]
    assert request.notification_token is None
    assert "notification_token" not in request.to_dict()


# -- the browser flow (authorization code + PKCE + PAR) ---------------------------------------

REDIRECT = "https://portal.example/callback"


def start(client: Any, **changes: Any) -> sdk.BrowserAuthorization:
    options: dict[str, Any] = {
        "redirect_uri": REDIRECT,
        "datatypes": ["health.medication"],
        "actions": ["read"],
        "purpose": sdk.Purpose("Medicatiebeoordeling voor uw behandeling"),
        "procedure": sdk.Procedure("BEH-2026-0042", "Fysiotherapie knie"),
    }
    options.update(changes)
    return client.start_authorization(**options)  # type: ignore[no-any-return]


def back(world: World, pending: sdk.BrowserAuthorization, **changes: str) -> str:
    """The URL the vault sends the browser back to after the resident approved."""
    params = {"code": world.vault.approve_in_browser(), "state": pending.state, "iss": ISSUER}
    params.update(changes)
    return f"{REDIRECT}?{urlencode({k: v for k, v in params.items() if v})}"


def test_the_pushed_request_carries_pkce_state_details_and_the_dpop_key(
    client: Any, world: World
) -> None:
    pending = start(client, binding_message="Code 4711")
    (form,) = world.vault.pushed
    assert form["response_type"] == "code"
    assert form["client_id"] == CLIENT_ID
    assert form["redirect_uri"] == REDIRECT
    assert form["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pending.code_verifier.encode()).digest()
    assert form["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert 43 <= len(pending.code_verifier) <= 128
    assert form["state"] == pending.state
    assert len(pending.state) >= 43  # 256 random bits
    assert form["binding_message"] == "Code 4711"
    (details,) = json.loads(form["authorization_details"])
    assert details["type"] == "regie:records"
    assert details["purpose"]["text"] == "Medicatiebeoordeling voor uw behandeling"
    assert details["procedure"] == {"ref": "BEH-2026-0042", "description": "Fysiotherapie knie"}
    assert pending.url == (
        f"{ISSUER}/oauth/authorize?client_id={CLIENT_ID}"
        "&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A1"
    )
    assert pending.procedure == "BEH-2026-0042"
    assert pending.expires_at.timestamp() == world.clock.now + 300
    # Each flow its own secrets; none in the repr; kept and restored whole.
    other = start(client)
    assert other.state != pending.state
    assert other.code_verifier != pending.code_verifier
    assert pending.state not in repr(pending)
    assert pending.code_verifier not in repr(pending)
    assert sdk.BrowserAuthorization.from_dict(json.loads(json.dumps(pending.to_dict()))) == (
        pending
    )


def test_finishing_redeems_the_code_with_verifier_and_dpop_and_keeps_the_tokens(
    client: Any, world: World
) -> None:
    pending = start(client)
    grant = client.finish_authorization(pending, back(world, pending))
    assert (grant.grant_id, grant.subject) == (world.vault.grant_id, "n3c7subject")
    assert grant.datatypes == ("health.medication",)
    (form,) = world.vault.pushed
    header, claims = world.vault.proofs[-1]
    assert claims["htu"] == f"{ISSUER}/oauth/token"
    assert ECKey.import_key(header["jwk"]).thumbprint() == form["dpop_jkt"]
    assert client.read_record(grant, RECORD_ID).content == {"metformine": "500 mg"}
    # A parsed query (a web framework's) works as well as the URL.
    second = start(client)
    url = back(world, second)
    parsed = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert client.finish_authorization(second, parsed).subject == "n3c7subject"


def test_a_foreign_state_or_issuer_is_refused_before_anything_is_sent(
    client: Any, world: World
) -> None:
    pending = start(client)
    calls = len(world.vault.calls)
    for changes, code in (
        ({"state": "someone-elses-state"}, "invalid_state"),
        ({"state": ""}, "invalid_state"),
        ({"iss": "https://evil.test"}, "invalid_issuer"),
        ({"iss": ""}, "invalid_issuer"),
    ):
        with pytest.raises(sdk.AuthError) as refused:
            client.finish_authorization(pending, back(world, pending, **changes))
        assert refused.value.code == code
    assert len(world.vault.calls) == calls  # no code was sent anywhere
    repeated = back(world, pending) + "&state=" + pending.state
    with pytest.raises(sdk.InvalidRequest, match="repeated"):
        client.finish_authorization(pending, repeated)
    with pytest.raises(sdk.ProtocolError, match="neither a code nor an error"):
        client.finish_authorization(pending, back(world, pending, code=""))


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        ("access_denied", sdk.AccessDenied),
        ("temporarily_unavailable", sdk.Unavailable),
        ("server_error", sdk.ServerError),
        ("invalid_request", sdk.InvalidRequest),
        ("made_up_error", sdk.InvalidRequest),
    ],
)
def test_the_residents_refusal_maps_to_the_tree(
    client: Any, world: World, error: str, raised: type[sdk.RegieError]
) -> None:
    pending = start(client)
    url = back(world, pending, code="", error=error, error_description="the resident said no")
    with pytest.raises(raised) as refused:
        client.finish_authorization(pending, url)
    assert type(refused.value) is raised
    assert refused.value.code == error
    assert ("POST", "/oauth/token") not in world.vault.calls


def test_a_refused_code_push_or_vault_without_the_flow(world: World, kind: str) -> None:
    transport = httpx.MockTransport(world.vault)
    options: dict[str, Any] = {"client_id": CLIENT_ID, "key": world.key, "clock": world.clock}
    with make_client(
        kind, ISSUER, sync_transport=transport, async_transport=transport, **options
    ) as client:
        with pytest.raises(sdk.InvalidRequest) as beyond:
            start(client, datatypes=["debts.overview"])
        assert beyond.value.code == "invalid_authorization_details"
        pending = start(client)
        url = back(world, pending)
        assert client.finish_authorization(pending, url).subject == "n3c7subject"
        with pytest.raises(sdk.InvalidRequest) as used:  # a code works once
            client.finish_authorization(pending, url)
        assert used.value.code == "invalid_grant"
        # Another client (another DPoP key) with the same secrets cannot redeem the code.
        stolen = start(client)
        stolen_url = back(world, stolen)
    with (
        make_client(
            kind, ISSUER, sync_transport=transport, async_transport=transport, **options
        ) as thief,
        pytest.raises(sdk.InvalidRequest),
    ):
        thief.finish_authorization(stolen, stolen_url)
    world.vault.browser_flow = False
    with (
        make_client(
            kind, ISSUER, sync_transport=transport, async_transport=transport, **options
        ) as old,
        pytest.raises(sdk.ProtocolError, match="browser flow"),
    ):
        start(old)
