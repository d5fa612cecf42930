"""The service SDK against the real app in-process, sync (Starlette's test transport) and async
(`httpx.ASGITransport`), on SQLite and PostgreSQL.

The server and the SDK share one `FakeClock`: the SDK's `sleep` moves it (and lets the
resident act, as a person would while the service waits), so token expiry, polling intervals
and lapsed requests are exercised without waiting. The resident acts through the resident API
(`support.residents`); the service only through the SDK.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import Connection, select
from sqlalchemy.orm import sessionmaker

import clients.sdk as sdk
from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from support.clock import FakeClock
from support.residents import Resident, sign_up
from support.sdk_clients import KINDS, make_client
from vault.storage.orm import OutboxRow

CLINIC = "huisarts-de-linde"
SCHOOL = "school-regenboog"
REF = "BEH-2026-0042"
MEDICATION = {"metformine": "500 mg", "times_per_day": 2}
REDIRECT = "https://kliniek.example/callback"


@dataclass
class Scene:
    c: Container
    http: TestClient
    clock: FakeClock
    key: sdk.ServiceKey
    anna: Resident
    record_id: str
    cache: sdk.GrantCache
    store: sdk.MemoryTokenStore
    on_sleep: list[Callable[[], None]] = field(default_factory=list)  # run at the next sleeps
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.clock.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds=seconds)
        if self.on_sleep:
            self.on_sleep.pop(0)()

    def code(self) -> str:
        made = self.http.post("/v1/me/connection-codes", headers=self.anna.headers)
        assert made.status_code == 201, made.text
        return str(made.json()["code"])

    def waiting(self) -> list[dict[str, Any]]:
        got = self.http.get("/v1/me/requests", headers=self.anna.headers)
        assert got.status_code == 200, got.text
        return list(got.json()["grants"])

    def answer(self, verb: str = "approve", **narrower: Any) -> Callable[[], None]:
        def act() -> None:
            (request,) = self.waiting()
            body = narrower if verb == "approve" else None
            done = self.http.post(
                f"/v1/me/grants/{request['id']}/{verb}", json=body, headers=self.anna.headers
            )
            assert done.status_code == 200, done.text

        return act

    def browser(self, url: str, verb: str = "approve", **narrower: Any) -> str:
        """Anna's browser at the vault: opens the link, answers: where she is sent back to."""
        link = urlsplit(url)
        assert f"{link.scheme}://{link.netloc}{link.path}" == f"{ORIGIN}/oauth/authorize"
        params = {k: v[0] for k, v in parse_qs(link.query).items()}
        started = self.http.post("/v1/me/authorizations", json=params, headers=self.anna.headers)
        assert started.status_code == 201, started.text
        grant_id = started.json()["grant_id"]
        body = narrower if verb == "approve" else None
        answered = self.http.post(
            f"/v1/me/authorizations/{grant_id}/{verb}", json=body, headers=self.anna.headers
        )
        assert answered.status_code == 200, answered.text
        return str(answered.json()["redirect_to"])

    def revoke(self, grant_id: str) -> None:
        done = self.http.post(f"/v1/me/grants/{grant_id}/revoke", headers=self.anna.headers)
        assert done.status_code == 200, done.text


@pytest.fixture
def scene(settings: Settings, connection: Connection) -> Iterator[Scene]:
    yield from make_scene(settings, connection)


def make_scene(settings: Settings, connection: Connection, **updates: Any) -> Iterator[Scene]:
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    settings = settings.model_copy(update={"events_poll_wait_seconds": 0.0, **updates})
    c = build_container(settings, session_factory=factory, clock=clock)
    key = sdk.ServiceKey.generate(kid=f"{CLINIC}-1")
    c.services.add(
        operator="test-operator",
        name="Huisartsenpraktijk De Linde",
        organisation="ura:12345678",
        kind="care-provider",
        datatypes=["health.medication", "health.allergies"],
        actions=["read", "write"],
        jwks=key.public_jwks(),
        client_id=CLINIC,
        redirect_uris=[REDIRECT],
    )
    with TestClient(create_app(settings, container=c), base_url=ORIGIN) as http:
        anna = sign_up(http, "Anna")
        made = http.post(
            "/v1/me/records",
            headers=anna.headers,
            json={
                "category": "health",
                "type": "health.medication",
                "title": "Medicatieoverzicht",
                "content": MEDICATION,
            },
        )
        assert made.status_code == 201, made.text
        yield Scene(
            c, http, clock, key, anna, made.json()["id"], sdk.GrantCache(), sdk.MemoryTokenStore()
        )


@pytest.fixture(params=KINDS)
def vault(request: pytest.FixtureRequest, scene: Scene) -> Iterator[Any]:
    """The clinic's SDK client, on the app in-process."""
    with make_client(
        request.param,
        ORIGIN,
        # Starlette's TestClient transport runs the app for a blocking httpx client; it is
        # private to TestClient, so taken from the client the fixture already entered.
        sync_transport=scene.http._transport,
        async_transport=httpx.ASGITransport(app=scene.http.app),
        client_id=CLINIC,
        key=scene.key,
        cache=scene.cache,
        token_store=scene.store,
        clock=scene.now,
        sleep=scene.sleep,
    ) as client:
        yield client


def ask(vault: Any, subject: str, **changes: Any) -> sdk.AccessRequest:
    options: dict[str, Any] = {
        "datatypes": ["health.medication", "health.allergies"],
        "actions": ["read", "write"],
        "purpose": sdk.Purpose("Medicatiebeoordeling voor uw behandeling"),
        "procedure": sdk.Procedure(REF, "Fysiotherapie knie"),
        "binding_message": "Code 4711",
    }
    options.update(changes)
    return vault.request_access(subject, **options)  # type: ignore[no-any-return]


def test_connect_ask_wait_read_write_close_and_access_is_over(scene: Scene, vault: Any) -> None:
    subject = vault.connect(scene.code())
    request = ask(vault, subject)
    # Anna answers while the clinic waits, and gives less than asked: medication only.
    scene.on_sleep.append(scene.answer(datatypes=["health.medication"]))
    grant = vault.wait(request)
    assert scene.slept == [5]  # polled at once (pending), then after the interval
    assert grant.datatypes == ("health.medication",)
    assert (grant.subject, grant.procedure) == (subject, REF)

    (listed,) = vault.list_records(grant)
    assert (listed.id, listed.title, listed.content) == (
        scene.record_id,
        "Medicatieoverzicht",
        None,
    )
    record = vault.read_record(grant, scene.record_id)
    assert record.content == MEDICATION
    assert record.provenance.written_by == "resident"
    assert scene.cache.items(grant.grant_id) == {scene.record_id: record}

    written = vault.write_record(
        grant,
        type="health.medication",
        title="Medicatieadvies  na  beoordeling",
        content={"advies": "Metformine blijft 500 mg"},
        sign=True,
    )
    assert written.provenance.written_by == "service"
    assert written.provenance.grant_id == grant.grant_id
    assert written.signature is not None
    assert written.signature.issuer == CLINIC
    assert written.title == "Medicatieadvies na beoordeling"
    assert vault.verify_signature(vault.read_record(grant, written.id)).kid == scene.key.kid
    with pytest.raises(sdk.AccessDenied) as not_given:  # Anna did not give allergies
        vault.write_record(grant, type="health.allergies", title="Allergie", content={"x": 1})
    assert not_given.value.reason == "datatype-not-granted"

    batch = vault.poll_events()
    assert [e.type for e in batch.events] == ["grant-approved"]
    vault.poll_events(ack=[e.jti for e in batch.events], max_events=0)

    tokens = scene.store.load(grant.grant_id)
    assert tokens is not None
    assert vault.close_procedure(subject, REF) == 1
    assert scene.cache.grants() == set()  # treatment done, data gone
    with pytest.raises(sdk.GrantEnded):
        vault.read_record(grant, scene.record_id)
    # And the vault itself refuses the tokens the clinic held: restored, they get it nowhere.
    scene.store.save(tokens)
    with pytest.raises(sdk.GrantEnded) as refused:
        vault.read_record(grant, scene.record_id)
    assert refused.value.code == "invalid_grant"  # the access token refused, then the refresh
    assert scene.store.load(grant.grant_id) is None

    (ended,) = vault.poll_events().events
    assert (ended.type, ended.reason, ended.grant_id) == (
        "grant-ended",
        "procedure-closed",
        grant.grant_id,
    )


def start(vault: Any, **changes: Any) -> sdk.BrowserAuthorization:
    options: dict[str, Any] = {
        "redirect_uri": REDIRECT,
        "datatypes": ["health.medication", "health.allergies"],
        "actions": ["read"],
        "purpose": sdk.Purpose("Medicatiebeoordeling voor uw behandeling"),
        "procedure": sdk.Procedure(REF, "Fysiotherapie knie"),
    }
    options.update(changes)
    return vault.start_authorization(**options)  # type: ignore[no-any-return]


def test_the_browser_flow_connects_grants_and_ends_like_any_grant(scene: Scene, vault: Any) -> None:
    pending = start(vault)
    # Anna gives less than asked, in her browser; the clinic's callback finishes the flow.
    grant = vault.finish_authorization(
        pending, scene.browser(pending.url, datatypes=["health.medication"])
    )
    assert grant.datatypes == ("health.medication",)
    assert grant.procedure == REF
    assert vault.read_record(grant, scene.record_id).content == MEDICATION
    # The flow connected her: her subject is the one a connection code gives, and works as
    # the login_hint of a later backchannel request.
    assert vault.connect(scene.code()) == grant.subject
    later = ask(vault, grant.subject, procedure=sdk.Procedure("BEH-2026-0043"))
    assert later.subject == grant.subject
    assert vault.close_procedure(grant.subject, REF) == 1
    with pytest.raises(sdk.GrantEnded):
        vault.read_record(grant, scene.record_id)


def test_the_browser_flow_refuses_what_is_not_its_own(scene: Scene, vault: Any) -> None:
    pending = start(vault)
    back = scene.browser(pending.url)
    forged = back.replace(f"state={pending.state}", "state=forged")
    with pytest.raises(sdk.AuthError) as wrong_state:
        vault.finish_authorization(pending, forged)
    assert wrong_state.value.code == "invalid_state"
    mixed_up = back.replace("iss=http", "iss=https")
    with pytest.raises(sdk.AuthError) as wrong_iss:
        vault.finish_authorization(pending, mixed_up)
    assert wrong_iss.value.code == "invalid_issuer"
    # Neither sent the code anywhere: the real answer still works, once.
    grant = vault.finish_authorization(pending, back)
    with pytest.raises(sdk.InvalidRequest) as again:
        vault.finish_authorization(pending, back)
    assert again.value.code == "invalid_grant"
    # A code used twice ends the grant and its tokens (someone else may hold a copy).
    with pytest.raises(sdk.GrantEnded):
        vault.read_record(grant, scene.record_id)
    # Another browser's answer (another flow's state) is refused for this flow.
    first, second = start(vault), start(vault)
    with pytest.raises(sdk.AuthError):
        vault.finish_authorization(first, scene.browser(second.url))


def test_the_browser_flow_says_no_and_refuses_late_or_stolen_codes(
    scene: Scene, vault: Any
) -> None:
    pending = start(vault)
    with pytest.raises(sdk.AccessDenied) as denied:
        vault.finish_authorization(pending, scene.browser(pending.url, "deny"))
    assert denied.value.code == "access_denied"
    late = start(vault)
    back = scene.browser(late.url)
    scene.clock.advance(seconds=61)  # the code lives 60 seconds
    with pytest.raises(sdk.InvalidRequest) as expired:
        vault.finish_authorization(late, back)
    assert expired.value.code == "invalid_grant"
    # The code is bound to the clinic's DPoP key (dpop_jkt): the clinic's own key with
    # another DPoP key (a copy of its secrets elsewhere) cannot redeem it.
    stolen = start(vault)
    back = scene.browser(stolen.url)
    with (
        sdk.ServiceClient(
            ORIGIN,
            client_id=CLINIC,
            key=scene.key,
            transport=scene.http._transport,
            clock=scene.now,
        ) as thief,
        pytest.raises(sdk.InvalidRequest, match="DPoP"),
    ):
        thief.finish_authorization(stolen, back)
    with pytest.raises(sdk.AccessDenied) as beyond:  # beyond the clinic's ceiling
        start(vault, datatypes=["education.grades"])
    assert beyond.value.code == "access_denied"


def test_tokens_refresh_and_a_replayed_refresh_token_ends_the_grant(
    scene: Scene, vault: Any
) -> None:
    request = ask(vault, vault.connect(scene.code()))
    scene.answer()()
    grant = vault.wait(request)
    first = scene.store.load(grant.grant_id)
    assert first is not None
    scene.clock.advance(seconds=280)  # 20 s left of the 5 minutes: refreshed first
    assert vault.read_record(grant, scene.record_id).content == MEDICATION
    second = scene.store.load(grant.grant_id)
    assert second is not None
    assert second.refresh_token != first.refresh_token
    scene.clock.advance(seconds=600)  # the access token is long dead: refreshed again
    assert vault.read_record(grant, scene.record_id).content == MEDICATION
    # Someone replays the first, rotated refresh token: the vault ends the grant.
    scene.store.save(first)
    with pytest.raises(sdk.GrantEnded):
        vault.list_records(grant)
    (ended,) = [e for e in vault.poll_events().events if e.type == "grant-ended"]
    assert ended.reason == "token-reuse"


def test_the_residents_revocation_ends_the_services_access(scene: Scene, vault: Any) -> None:
    request = ask(vault, vault.connect(scene.code()))
    scene.answer()()
    grant = vault.wait(request)
    vault.read_record(grant, scene.record_id)
    scene.revoke(grant.grant_id)
    with pytest.raises(sdk.GrantEnded):
        vault.read_record(grant, scene.record_id)
    assert scene.cache.items(grant.grant_id) == {}


def test_relinquish_gives_the_grant_back(scene: Scene, vault: Any) -> None:
    request = ask(vault, vault.connect(scene.code()))
    scene.answer()()
    grant = vault.wait(request)
    vault.relinquish(grant)
    with pytest.raises(sdk.GrantEnded, match="relinquished"):
        vault.list_records(grant)
    # (Events made at one instant of the fake clock come in either order.)
    (ended,) = [e for e in vault.poll_events().events if e.type == "grant-ended"]
    assert ended.reason == "relinquished"


def test_a_denial_and_a_lapse_end_the_wait(scene: Scene, vault: Any) -> None:
    subject = vault.connect(scene.code())
    denied = ask(vault, subject)
    scene.on_sleep.append(scene.answer("deny"))
    with pytest.raises(sdk.AccessDenied) as no:
        vault.wait(denied)
    assert type(no.value) is sdk.AccessDenied

    lapsing = ask(vault, subject, procedure=sdk.Procedure("BEH-2026-0043"))
    scene.on_sleep.append(lambda: scene.clock.advance(days=15))  # Anna never answers
    with pytest.raises(sdk.RequestExpired):
        vault.wait(lapsing)
    assert scene.store.grants() == []


def test_a_request_beyond_the_ceiling_or_for_no_one_is_refused(scene: Scene, vault: Any) -> None:
    subject = vault.connect(scene.code())
    with pytest.raises(sdk.AccessDenied):
        ask(vault, subject, datatypes=["debts.overview"])
    with pytest.raises(sdk.InvalidRequest) as nobody:
        ask(vault, "not-a-subject")
    assert nobody.value.code == "unknown_user_id"
    with pytest.raises(sdk.InvalidRequest) as spent:
        vault.connect("K7QF2-M9D4X")
    assert spent.value.code == "invalid_grant"


def test_a_wrong_key_cannot_act_for_the_service(scene: Scene) -> None:
    with (
        make_client(
            "sync",
            ORIGIN,
            sync_transport=scene.http._transport,
            client_id=CLINIC,
            key=sdk.ServiceKey.generate(kid=f"{CLINIC}-1"),  # the right kid, another key
        ) as impostor,
        pytest.raises(sdk.AuthError) as refused,
    ):
        impostor.connect(scene.code())
    assert refused.value.code == "invalid_client"


# -- the SET receiver against the vault's real SETs and JWKS ------------------------------------


def outbox(scene: Scene) -> list[tuple[str, str]]:
    """(event type, SET) of every event the vault made, for any service."""
    with scene.c.uow() as uow:
        rows = uow.session.execute(select(OutboxRow.event_type, OutboxRow.set_jwt))
        return [(event_type, token) for event_type, token in rows]


def test_the_receiver_verifies_the_vaults_sets_and_refuses_the_rest(
    scene: Scene, vault: Any
) -> None:
    school_key = sdk.ServiceKey.generate()
    scene.c.services.add(
        operator="test-operator",
        name="Basisschool De Regenboog",
        organisation="oin:00000001234567890000",
        kind="school",
        datatypes=["health.medication"],
        actions=["read"],
        jwks=school_key.public_jwks(),
        client_id=SCHOOL,
    )
    request = ask(vault, vault.connect(scene.code()))
    scene.answer()()
    grant = vault.wait(request)
    with make_client(
        "sync", ORIGIN, sync_transport=scene.http._transport, client_id=SCHOOL, key=school_key
    ) as school:
        school.request_access(
            school.connect(scene.code()),
            datatypes=["health.medication"],
            actions=["read"],
            purpose="Medicatie op school",
            procedure="LLN-2026-7",
        )
    (school_request,) = [r for r in scene.waiting() if r["service"]["name"].startswith("Basis")]
    scene.http.post(
        f"/v1/me/grants/{school_request['id']}/approve", json={}, headers=scene.anna.headers
    )
    vault.close_procedure(grant.subject, REF)
    rows = outbox(scene)
    clinic_sets = [token for kind, token in rows if kind == "grant-ended"]
    school_sets = [token for _, token in rows if json.loads(_payload(token))["aud"] == SCHOOL]
    (ended_set,) = clinic_sets

    handled: list[sdk.Event] = []
    now = [scene.now()]
    receiver = sdk.EventReceiver(
        ORIGIN,
        client_id=CLINIC,
        transport=scene.http._transport,
        handlers=[handled.append, scene.cache.handle, vault.handle_event],
        clock=lambda: now[0],
    )
    headers = {"Content-Type": "application/secevent+jwt"}
    event = receiver.handle_push(ended_set.encode(), headers)
    assert (event.type, event.reason, event.grant_id) == (
        "grant-ended",
        "procedure-closed",
        grant.grant_id,
    )
    assert receiver.handle_push(ended_set.encode(), headers).duplicate  # replayed jti
    assert handled == [event]

    # A SET for another service (the school's, genuinely signed by the vault): not ours.
    with pytest.raises(sdk.SetRejected) as wrong_audience:
        receiver.handle_push(school_sets[0], headers)
    assert wrong_audience.value.err == "invalid_audience"

    # The same claims signed with a key that is not the vault's, under the vault's kid.
    forger = ECKey.generate_key("P-256")
    header = json.loads(_header(ended_set))
    forged = jwt.encode(
        header, {**json.loads(_payload(ended_set)), "jti": str(uuid.uuid4())}, forger
    )
    with pytest.raises(sdk.SetRejected) as wrong_key:
        receiver.handle_push(forged, headers)
    assert wrong_key.value.err == "invalid_key"

    # Two days later the same genuine SET is too old to act on (a push is retried for one).
    now[0] += 49 * 3600
    fresh_receiver = sdk.EventReceiver(
        ORIGIN, client_id=CLINIC, transport=scene.http._transport, clock=lambda: now[0]
    )
    with pytest.raises(sdk.SetRejected) as stale:
        fresh_receiver.handle_push(ended_set, headers)
    assert (stale.value.err, stale.value.detail) == ("invalid_request", "the SET is too old")
    receiver.close()
    fresh_receiver.close()


def _segment(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _header(token: str) -> bytes:
    return _segment(token, 0)


def _payload(token: str) -> bytes:
    return _segment(token, 1)


# -- DPoP server nonces (RFC 9449 §8, §9), when the vault requires them -----------------------


@pytest.fixture
def nonce_scene(settings: Settings, connection: Connection) -> Iterator[Scene]:
    yield from make_scene(settings, connection, dpop_nonces=True, dpop_nonce_lifetime_seconds=60)


@pytest.mark.parametrize("kind", KINDS)
def test_the_sdk_follows_server_nonces(nonce_scene: Scene, kind: str) -> None:
    scene = nonce_scene
    seen: list[tuple[str, int, str | None, str | None]] = []

    def note(request: httpx.Request, response: httpx.Response) -> None:
        proof = request.headers.get("dpop")
        nonce = None
        if proof:
            claims = json.loads(base64.urlsafe_b64decode(proof.split(".")[1] + "=="))
            nonce = claims.get("nonce")
        seen.append(
            (request.url.path, response.status_code, nonce, response.headers.get("dpop-nonce"))
        )

    class Recording(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self.inner.handle_request(request)
            note(request, response)
            return response

    class AsyncRecording(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            note(request, response)
            return response

    with make_client(
        kind,
        ORIGIN,
        sync_transport=Recording(scene.http._transport),
        async_transport=AsyncRecording(httpx.ASGITransport(app=scene.http.app)),
        client_id=CLINIC,
        key=scene.key,
        cache=scene.cache,
        token_store=scene.store,
        clock=scene.now,
        sleep=scene.sleep,
    ) as vault:
        subject = vault.connect(scene.code())
        request = ask(vault, subject)
        scene.on_sleep.append(scene.answer())
        grant = vault.wait(request)
        assert vault.read_record(grant, scene.record_id).content == MEDICATION
        # A new window: the nonce the SDK holds is two windows old, so it is asked again.
        scene.clock.advance(seconds=130)
        assert vault.read_record(grant, scene.record_id).content == MEDICATION
    tokens = [s for s in seen if s[0] == "/oauth/token"]
    reads = [s for s in seen if s[0].startswith("/v1/service/records")]
    # The first token request has no nonce: refused with one (400, RFC 9449 §8), then retried
    # with it (the resident has not answered yet: pending), then granted.
    assert tokens[0][1:3] == (400, None)
    assert tokens[0][3] is not None
    assert [s[1] for s in tokens] == [400, 400, 200]
    assert tokens[1][2] == tokens[0][3]
    # Every answer of a DPoP endpoint carries a nonce, and every retried request used one.
    assert all(s[3] for s in tokens + reads)
    assert all(s[2] for s in tokens[1:])
    # The data API keeps its own nonce (§9): asked for once, and again after the clock moved
    # two windows on; the request that follows each refusal carries the nonce it was given.
    assert [s[1] for s in reads] == [401, 200, 401, 200]
    assert reads[1][2] == reads[0][3]
    assert reads[3][2] == reads[2][3] != reads[1][2]


def test_without_a_current_nonce_the_vault_refuses_and_offers_one(nonce_scene: Scene) -> None:
    got = nonce_scene.http.post(
        "/oauth/token", data={"grant_type": "urn:openid:params:grant-type:ciba"}
    )
    # Client authentication fails first here (no assertion): no nonce is asked for then.
    assert got.status_code in (400, 401)
    assert got.headers.get("dpop-nonce")  # every answer of a DPoP endpoint carries one
    plain = nonce_scene.http.get("/v1/me", headers=nonce_scene.anna.headers)
    assert "dpop-nonce" not in plain.headers  # the resident API has no DPoP
