"""Events to services: every grant change yields exactly one signed SET for the grant's service,
written in the change's transaction; pushed with retries (httpx.MockTransport, a FakeClock);
polled and acknowledged over HTTP; and, with a real pusher process killed mid-push and started
again, delivered to a real loopback receiver that dedupes it to exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ORIGIN, drop_database, new_database
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.events.push import HttpxSetPoster
from api.settings import Settings
from support.clock import FakeClock
from support.residents import Resident, sign_up
from support.service_client import ASSERTION_TYPE, ServiceAgent
from support.set_receiver import PushEndpoint, SetReceiver
from vault.events.delivery import OutboxDelivery
from vault.events.model import EVENT_TYPES, Acknowledged, PushPolicy
from vault.events.outbox import OutboxWriter
from vault.grants.model import AccessRequestSpec
from vault.grants.service import GrantService
from vault.residents.keys import VaultKeys
from vault.services.service import ServiceInfo
from vault.storage.orm import AccessEventRow, OutboxRow
from vault.storage.repositories import SqlTokenRepository

REPO = Path(__file__).resolve().parents[2]
QUIET: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
REF = "BEH-2026-0042"
# What must never be in a SET: Anna's name, and the texts of the request.
PLAINTEXT = ("Anna", "Medicatiebeoordeling", "Fysiotherapie", "Code 4711")


@dataclass
class World:
    c: Container
    client: TestClient
    clock: FakeClock
    clinic: ServiceInfo  # has an event endpoint
    school: ServiceInfo  # polls only
    clinic_agent: ServiceAgent
    school_agent: ServiceAgent
    anna: Resident
    anna_id: uuid.UUID
    subject: str  # Anna as the clinic knows her
    school_subject: str  # Anna as the school knows her


@pytest.fixture
def world(settings: Settings, connection: Connection) -> Iterator[World]:
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    settings = settings.model_copy(update={"events_poll_wait_seconds": 0.0})
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url=ORIGIN) as client:
        clinic_agent = ServiceAgent(client, "huisarts-de-linde")
        school_agent = ServiceAgent(client, "school-regenboog")
        clinic = c.services.add(
            operator="test-operator",
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication", "health.allergies"],
            actions=["read", "write"],
            jwks=clinic_agent.jwks,
            event_endpoint="https://linde.example/regie/events",
            client_id=clinic_agent.client_id,
        )
        school = c.services.add(
            operator="test-operator",
            name="Basisschool De Regenboog",
            organisation="oin:00000001234567890000",
            kind="school",
            datatypes=["education.grades", "health.medication"],
            actions=["read"],
            jwks=school_agent.jwks,
            client_id=school_agent.client_id,
        )
        anna = sign_up(client, "Anna")
        anna_id = c.identity.authenticate(anna.token).resident_id
        subject = c.services.redeem(clinic, c.services.connection_code(anna_id)[0])
        school_subject = c.services.redeem(school, c.services.connection_code(anna_id)[0])
        yield World(
            c,
            client,
            clock,
            clinic,
            school,
            clinic_agent,
            school_agent,
            anna,
            anna_id,
            subject,
            school_subject,
        )


def spec(**changes: Any) -> AccessRequestSpec:
    base: dict[str, Any] = {
        "datatypes": frozenset({"health.medication"}),
        "actions": frozenset({"read"}),
        "purpose_uri": "https://w3id.org/dpv#ServiceProvision",
        "purpose_text": "Medicatiebeoordeling voor uw behandeling",
        "legal_basis": "https://w3id.org/dpv#Consent",
        "procedure_ref": REF,
        "procedure_description": "Fysiotherapie knie",
        "procedure_planned_end": None,
        "valid_until": None,
        "binding_message": "Code 4711",
    }
    base.update(changes)
    return AccessRequestSpec(**base)


def ask(w: World, service: ServiceInfo | None = None, **changes: Any) -> uuid.UUID:
    service = service or w.clinic
    subject = w.subject if service == w.clinic else w.school_subject
    w.c.grants.request(service, subject, spec(**changes))
    return w.c.grants.pending(w.anna_id)[-1].grant_id


def approved(w: World, service: ServiceInfo | None = None, **changes: Any) -> uuid.UUID:
    grant_id = ask(w, service, **changes)
    w.c.grants.approve(w.anna_id, grant_id)
    return grant_id


def outbox(w: World) -> list[OutboxRow]:
    with w.c.uow() as uow:
        rows = list(
            uow.session.scalars(select(OutboxRow).order_by(OutboxRow.created_at, OutboxRow.jti))
        )
        uow.session.expunge_all()  # plain values after the unit of work rolls back
        return rows


def receiver(w: World, service: ServiceInfo, **options: Any) -> SetReceiver:
    jwks = w.client.get("/.well-known/jwks.json").json()
    return SetReceiver(
        jwks=jwks, issuer=ORIGIN, audience=service.client_id, now=w.clock.now, **options
    )


def _part(set_jwt: str, index: int) -> str:
    part = set_jwt.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def decoded(set_jwt: str) -> str:
    """Header and claims of a SET as text, to search for what must not be there."""
    return _part(set_jwt, 0) + _part(set_jwt, 1)


# -- one SET per change, for the right service ---------------------------------------------


def _approve(w: World) -> uuid.UUID:
    return approved(w)


def _deny(w: World) -> uuid.UUID:
    grant_id = ask(w)
    w.c.grants.deny(w.anna_id, grant_id)
    return grant_id


def _service_closes(w: World) -> uuid.UUID:
    grant_id = approved(w)
    w.clock.advance(seconds=1)
    assert w.c.grants.close_procedure_by_service(w.clinic, w.subject, REF) == 1
    return grant_id


def _resident_closes(w: World) -> uuid.UUID:
    grant_id = approved(w)
    procedure_id = w.c.grants.get(w.anna_id, grant_id).procedure.procedure_id
    w.clock.advance(seconds=1)
    assert w.c.grants.close_procedure_by_resident(w.anna_id, procedure_id) == 1
    return grant_id


def _revoke(w: World) -> uuid.UUID:
    grant_id = approved(w)
    w.clock.advance(seconds=1)
    w.c.grants.revoke(w.anna_id, grant_id)
    return grant_id


def _expire(w: World) -> uuid.UUID:
    grant_id = approved(w, valid_until=w.clock.now() + timedelta(days=1))
    w.clock.advance(days=2)
    assert w.c.grants.sweep()["expired"] == 1
    return grant_id


def _lapse(w: World) -> uuid.UUID:
    grant_id = ask(w)
    w.clock.advance(days=15)
    assert w.c.grants.sweep()["lapsed"] == 1
    return grant_id


SCENARIOS: dict[str, tuple[Callable[[World], uuid.UUID], list[tuple[str, str | None]]]] = {
    "approve": (_approve, [("grant-approved", None)]),
    "deny": (_deny, [("grant-denied", None)]),
    "service-closes": (
        _service_closes,
        [("grant-approved", None), ("grant-ended", "procedure-closed")],
    ),
    "resident-closes": (
        _resident_closes,
        [("grant-approved", None), ("grant-ended", "procedure-closed")],
    ),
    "revoke": (_revoke, [("grant-approved", None), ("grant-ended", "revoked")]),
    "expire": (_expire, [("grant-approved", None), ("grant-ended", "expired")]),
    "lapse": (_lapse, [("request-lapsed", "expired")]),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_change_yields_one_signed_set_for_the_grants_service(
    world: World, scenario: str
) -> None:
    w = world
    act, expected = SCENARIOS[scenario]
    grant_id = act(w)
    # The SETs as the service gets them (the sweeper's are signed when first delivered).
    sets = w.c.event_feed.poll(w.clinic.service_id).sets
    rows = outbox(w)
    assert [r.event_type for r in rows] == [t for t, _ in expected]
    assert {r.service_id for r in rows} == {w.clinic.service_id}
    assert len({r.jti for r in rows}) == len(rows)
    assert {r.jti: r.set_jwt for r in rows} == sets  # kept as delivered: the same bytes again
    clinic = receiver(w, w.clinic, max_age=timedelta(days=30))  # the clock moved days on
    for row, (event_type, reason) in zip(rows, expected, strict=True):
        assert row.set_jwt is not None
        # Verified against the JWKS the vault publishes, as the service would.
        event = clinic.verify(row.set_jwt)
        assert event.jti == row.jti
        assert event.event_type == event_type
        assert event.claims["iss"] == ORIGIN
        assert event.claims["aud"] == w.clinic.client_id
        assert event.claims["iat"] == int(row.created_at.timestamp())
        assert set(event.claims) == {"iss", "aud", "iat", "jti", "txn", "events"}
        assert event.payload["grant_id"] == str(grant_id)
        assert event.payload["subject"] == w.subject  # the clinic's pairwise subject
        assert event.payload["procedure"] == REF
        assert event.payload.get("reason") == reason
        moment = "decided_at" if event_type in ("grant-approved", "grant-denied") else "ended_at"
        assert event.payload[moment] == row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        text = decoded(row.set_jwt)
        assert '"typ":"secevent+jwt"' in text.replace(" ", "")
        assert str(w.anna_id) not in text
        assert w.anna_id.hex not in text
        assert not [p for p in PLAINTEXT if p in text]
    # The school, which has no part in this, verifies none of them (wrong audience).
    school = receiver(w, w.school, max_age=timedelta(days=30))
    for row in rows:
        with pytest.raises(Exception, match="invalid_audience"):
            school.verify(row.set_jwt)


def test_a_request_alone_tells_no_one_and_each_service_hears_under_its_own_subject(
    world: World,
) -> None:
    w = world
    ask(w)
    assert outbox(w) == []
    approved(w, w.school)
    rows = outbox(w)
    assert [(r.event_type, r.service_id) for r in rows] == [("grant-approved", w.school.service_id)]
    event = receiver(w, w.school).verify(rows[0].set_jwt)
    assert event.payload["subject"] == w.school_subject != w.subject


def test_sets_of_one_transaction_share_a_txn(world: World) -> None:
    w = world
    first, second = approved(w), approved(w)  # two grants under one procedure
    w.clock.advance(seconds=1)
    assert w.c.grants.close_procedure_by_service(w.clinic, w.subject, REF) == 2
    clinic = receiver(w, w.clinic)
    events = [clinic.verify(r.set_jwt) for r in outbox(w)]
    ended = [e for e in events if e.event_type == "grant-ended"]
    assert {e.payload["grant_id"] for e in ended} == {str(first), str(second)}
    assert ended[0].claims["txn"] == ended[1].claims["txn"]
    assert ended[0].jti != ended[1].jti
    approvals = [e.claims["txn"] for e in events if e.event_type == "grant-approved"]
    assert len(set(approvals)) == 2  # separate transactions, separate txns
    assert ended[0].claims["txn"] not in approvals


# -- the outbox row commits with the change, or neither does -------------------------------


def test_a_change_that_rolls_back_leaves_no_event(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    grant_id = approved(w)

    def broken(*_: object, **__: object) -> int:
        raise RuntimeError("the token table is gone")

    monkeypatch.setattr(SqlTokenRepository, "revoke_grant", broken)
    with pytest.raises(RuntimeError):
        w.c.grants.revoke(w.anna_id, grant_id)  # the SET was added before this failed
    assert w.c.grants.get(w.anna_id, grant_id).status == "approved"
    assert [r.event_type for r in outbox(w)] == ["grant-approved"]


class BrokenSigner:
    def sign_jwt(self, claims: dict[str, Any], **_: Any) -> str:
        raise OSError("the signing key cannot be read")


def test_an_event_that_cannot_be_written_fails_the_change(world: World) -> None:
    w = world
    grant_id = approved(w)
    grants = GrantService(
        uow=w.c.uow,
        keys=VaultKeys(w.c.keys),
        registry=w.c.services,
        tokens=w.c.tokens,
        clock=w.clock,
        events=OutboxWriter(signer=BrokenSigner(), registry=w.c.services, issuer=ORIGIN),
    )
    with pytest.raises(OSError, match="signing key"):
        grants.revoke(w.anna_id, grant_id)
    assert w.c.grants.get(w.anna_id, grant_id).status == "approved"
    assert [r.event_type for r in outbox(w)] == ["grant-approved"]
    with w.c.uow() as uow:
        names = uow.session.scalars(
            select(AccessEventRow.name).where(AccessEventRow.resident_id == w.anna_id)
        ).all()
    assert "grant.ended" not in names


# -- push (RFC 8935) ------------------------------------------------------------------------


class FakeReceiver:
    """What the MockTransport answers, and what it was sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def delivery(w: World, fake: FakeReceiver, **policy: Any) -> OutboxDelivery:
    http = httpx.Client(transport=httpx.MockTransport(fake), follow_redirects=False)
    return OutboxDelivery(
        uow=w.c.uow, poster=HttpxSetPoster(http), clock=w.clock, policy=PushPolicy(**policy)
    )


def test_push_delivers_once_with_the_rfc_8935_request(world: World) -> None:
    w = world
    approved(w)
    fake = FakeReceiver(httpx.Response(202))
    pusher = delivery(w, fake)
    report = pusher.run_once()
    assert (report.claimed, report.acknowledged) == (1, 1)
    (request,) = fake.requests
    (row,) = outbox(w)
    assert request.method == "POST"
    assert str(request.url) == "https://linde.example/regie/events"
    assert request.headers["content-type"] == "application/secevent+jwt"
    assert request.content.decode() == row.set_jwt
    assert "authorization" not in request.headers
    clinic = receiver(w, w.clinic)
    assert clinic.receive(request.content.decode()) is True
    assert (row.delivered_via, row.outcome, row.attempts) == ("push", "acknowledged", 1)
    assert row.delivered_at is not None
    w.clock.advance(hours=2)
    assert pusher.run_once().claimed == 0
    assert len(fake.requests) == 1


def test_push_retries_with_backoff_then_delivers(world: World) -> None:
    w = world
    approved(w)
    fake = FakeReceiver(
        httpx.Response(500),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(400, text="not json"),  # a 400 without an RFC 8935 error: retried
        httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
        httpx.Response(202),
    )
    pusher = delivery(w, fake)
    start = outbox(w)[0].created_at
    waits = []
    errors = []
    for _ in range(5):
        assert pusher.run_once().retrying == 1
        (row,) = outbox(w)
        assert row.delivered_at is None
        waits.append(row.next_attempt_at - w.clock.now())  # type: ignore[operator]
        errors.append(row.last_error)
        w.clock.advance(seconds=waits[-1].total_seconds() - 1)
        assert pusher.run_once().claimed == 0  # not due yet
        w.clock.advance(seconds=1)
    assert [d.total_seconds() for d in waits] == [5, 10, 20, 40, 80]
    assert errors == [
        "HTTP 500",
        "timeout",
        "no answer (ConnectError)",
        "HTTP 400 without an RFC 8935 error",
        "HTTP 302",
    ]
    assert pusher.run_once().acknowledged == 1
    (row,) = outbox(w)
    assert (row.outcome, row.attempts) == ("acknowledged", 6)
    assert len(fake.requests) == 6  # the redirect was not followed
    assert row.created_at == start


def test_push_backoff_is_capped_and_gives_up_after_a_day_but_poll_still_has_it(
    world: World,
) -> None:
    w = world
    approved(w)
    fake = FakeReceiver(httpx.Response(503))
    pusher = delivery(w, fake)
    created = outbox(w)[0].created_at
    waits = []
    while True:
        report = pusher.run_once()
        assert report.claimed == 1
        (row,) = outbox(w)
        if row.next_attempt_at is None:
            break
        waits.append((row.next_attempt_at - w.clock.now()).total_seconds())
        w.clock.moment = row.next_attempt_at
    assert report.gave_up == 1
    assert waits[:4] == [5, 10, 20, 40]
    assert max(waits) == 3600
    assert w.clock.now() - created <= timedelta(hours=24)
    assert row.last_error == f"gave up after {row.attempts} attempts; last: HTTP 503"
    assert row.delivered_at is None
    w.clock.advance(days=1)
    assert pusher.run_once().claimed == 0
    polled = poll(w, w.clinic_agent, returnImmediately=True)
    assert list(polled.json()["sets"]) == [row.jti]


def test_push_refused_with_an_rfc_8935_error_is_not_retried(world: World) -> None:
    w = world
    approved(w)
    fake = FakeReceiver(
        httpx.Response(
            400, json={"err": "invalid_audience", "description": "Anna? we do not know her"}
        )
    )
    pusher = delivery(w, fake)
    assert pusher.run_once().refused == 1
    w.clock.advance(hours=1)
    assert pusher.run_once().claimed == 0
    assert len(fake.requests) == 1
    (row,) = outbox(w)
    assert (row.outcome, row.delivered_via) == ("refused", "push")
    assert row.last_error == "refused: invalid_audience"  # the code only, not their text
    assert poll(w, w.clinic_agent, returnImmediately=True).json()["sets"] == {}


def test_push_only_to_active_services_with_an_endpoint(world: World) -> None:
    w = world
    approved(w, w.school)  # the school registered no endpoint: it polls
    fake = FakeReceiver(httpx.Response(202))
    assert delivery(w, fake).run_once().claimed == 0
    approved(w)
    w.c.services.disable(w.clinic.client_id, operator="test-operator")
    assert delivery(w, fake).run_once().claimed == 0
    assert fake.requests == []


def test_an_event_polled_meanwhile_is_not_pushed(world: World) -> None:
    w = world
    approved(w)
    (row,) = outbox(w)
    taken = poll(w, w.clinic_agent, ack=[row.jti], maxEvents=0)
    assert taken.status_code == 200, taken.text
    fake = FakeReceiver(httpx.Response(202))
    assert delivery(w, fake).run_once().claimed == 0
    (row,) = outbox(w)
    assert (row.delivered_via, row.outcome) == ("poll", "acknowledged")


# -- poll (RFC 8936) ------------------------------------------------------------------------


def poll(w: World, agent: ServiceAgent, **members: Any) -> httpx.Response:
    # The service signs its assertion at the real time: set the vault's clock back to it.
    w.clock.moment = datetime.now(UTC)
    body = {
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": agent.assertion(),
        **members,
    }
    return w.client.post("/v1/service/events", json=body)


def test_poll_returns_undelivered_events_and_ack_takes_them(world: World) -> None:
    w = world
    _revoke(w)
    jtis = [r.jti for r in outbox(w)]
    first = poll(w, w.clinic_agent, returnImmediately=True, maxEvents=1)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    assert first.json()["moreAvailable"] is True
    assert list(first.json()["sets"]) == jtis[:1]
    again = poll(w, w.clinic_agent, returnImmediately=True)  # not acknowledged: sent again
    sets = again.json()["sets"]
    assert list(sets) == jtis
    assert again.json()["moreAvailable"] is False
    clinic = receiver(w, w.clinic)
    assert [clinic.receive(s) for s in sets.values()] == [True, True]
    assert clinic.receive(first.json()["sets"][jtis[0]]) is False  # a duplicate, deduped

    # The school cannot take the clinic's events, nor see them.
    assert poll(w, w.school_agent, ack=jtis, returnImmediately=True).json()["sets"] == {}
    acked = poll(w, w.clinic_agent, ack=jtis, returnImmediately=True)
    assert acked.json() == {"sets": {}, "moreAvailable": False}
    rows = outbox(w)
    assert {(r.delivered_via, r.outcome) for r in rows} == {("poll", "acknowledged")}


def test_poll_set_errors_are_final_and_kept_as_codes(world: World) -> None:
    w = world
    approved(w)
    (row,) = outbox(w)
    reported = poll(
        w,
        w.clinic_agent,
        setErrs={row.jti: {"err": "invalid_key", "description": "no such key, Anna"}},
        returnImmediately=True,
    )
    assert reported.json() == {"sets": {}, "moreAvailable": False}
    (row,) = outbox(w)
    assert (row.outcome, row.last_error) == ("refused", "refused: invalid_key")


def test_poll_waits_when_asked_to_and_nothing_is_there(
    settings: Settings, connection: Connection
) -> None:
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    waiting = settings.model_copy(update={"events_poll_wait_seconds": 1.0})
    c = build_container(waiting, session_factory=factory)
    with TestClient(create_app(waiting, container=c), base_url=ORIGIN) as client:
        agent = ServiceAgent(client, "huisarts-de-linde")
        c.services.add(
            operator="test-operator",
            name="Huisartsenpraktijk De Linde",
            organisation="ura:12345678",
            kind="care-provider",
            datatypes=["health.medication"],
            actions=["read"],
            jwks=agent.jwks,
            client_id=agent.client_id,
        )
        body = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": agent.assertion()}
        started = time.monotonic()
        answer = client.post("/v1/service/events", json=body)
        assert answer.json() == {"sets": {}, "moreAvailable": False}
        assert time.monotonic() - started >= 0.9
        body["client_assertion"] = agent.assertion()
        started = time.monotonic()
        client.post("/v1/service/events", json={**body, "returnImmediately": True})
        assert time.monotonic() - started < 0.9


def test_poll_refuses_bad_requests_and_unauthenticated_services(world: World) -> None:
    w = world
    approved(w)
    agent = w.clinic_agent
    cases: list[tuple[Any, dict[str, str], int, str]] = [
        ({"ack": []}, {}, 400, "invalid_request"),  # no client assertion at all
        (
            {"client_assertion_type": ASSERTION_TYPE, "client_assertion": "not-a-jwt"},
            {},
            401,
            "authentication_failed",
        ),
        (
            {
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": agent.assertion(aud="https://elsewhere.example"),
            },
            {},
            401,
            "authentication_failed",
        ),
        (
            {
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": agent.assertion(),
                "maxEvents": "10",
            },
            {},
            400,
            "invalid_request",
        ),
        (
            {
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": agent.assertion(),
                "surprise": True,
            },
            {},
            400,
            "invalid_request",
        ),
        (
            {"client_assertion_type": ASSERTION_TYPE, "client_assertion": agent.assertion()},
            {"Authorization": "Bearer something"},
            400,
            "invalid_request",
        ),
    ]
    for body, headers, status, err in cases:
        answer = w.client.post("/v1/service/events", json=body, headers=headers)
        assert (answer.status_code, answer.json()["err"]) == (status, err), answer.text
        assert set(answer.json()) == {"err", "description"}
        assert "not-a-jwt" not in answer.text
    form = w.client.post("/v1/service/events", data=agent.form(returnImmediately="true"))
    assert (form.status_code, form.json()["err"]) == (400, "invalid_request")
    replay = agent.assertion()
    body = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": replay}
    assert w.client.post("/v1/service/events", json={**body, "maxEvents": 0}).status_code == 200
    replayed = w.client.post("/v1/service/events", json={**body, "maxEvents": 0})
    assert (replayed.status_code, replayed.json()["err"]) == (401, "authentication_failed")
    (row,) = outbox(w)
    assert row.delivered_at is None


def test_the_push_lease_must_outlast_a_push() -> None:
    with pytest.raises(ValueError, match="at least 4 x"):
        Settings(events_push_timeout_seconds=5, events_push_lease_seconds=19)
    assert Settings(events_push_timeout_seconds=5, events_push_lease_seconds=20)


def test_docs_name_every_event_type_and_setting() -> None:
    doc = (REPO / "docs" / "events.md").read_text()
    for event_type in EVENT_TYPES:
        assert f"| `{event_type}` |" in doc
    for name in Settings.model_fields:
        if name.startswith("events_"):
            assert f"| `{name.upper()}` |" in doc, name


# -- real processes: the server's pusher, and a pusher killed mid-push ---------------------


def _regie() -> list[str]:
    beside = Path(sys.executable).with_name("regie")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "clients.cli.main"]


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class Live:
    settings: Settings
    c: Container
    client: TestClient
    env: dict[str, str]


@contextlib.contextmanager
def live_vault(kind: str, tmp_path: Path, *, push: bool, **changes: Any) -> Iterator[Live]:
    """A vault on a fresh, committed database (not the rolled-back one per test), so that
    other processes see its data."""
    db = new_database(kind, tmp_path)
    try:
        settings = Settings(
            mode="development",
            data_dir=tmp_path / "var",
            database_url=db.url,
            public_url=ORIGIN,
            events_push=push,
            events_push_interval_seconds=0.1,
            **changes,
        )
        c = build_container(settings, engine=db.engine)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGIE_")}
        env.update(
            REGIE_MODE="development",
            REGIE_DATA_DIR=str(settings.data_dir),
            REGIE_DATABASE_URL=db.url,
            REGIE_PUBLIC_URL=ORIGIN,
            REGIE_EVENTS_PUSH_INTERVAL_SECONDS="0.1",
            REGIE_RATE_LIMITS="false",
            **{f"REGIE_{k.upper()}": str(v) for k, v in changes.items()},
        )
        with TestClient(create_app(settings, container=c), base_url=ORIGIN) as client:
            yield Live(settings, c, client, env)
    finally:
        drop_database(db)


def _grant_changes(live: Live, endpoint: str, *, grants: int = 1) -> list[str]:
    """A clinic with `endpoint` asks, Anna approves, then revokes, `grants` times: two
    committed events each."""
    c = live.c
    clinic = c.services.add(
        operator="test-operator",
        name="Huisartsenpraktijk De Linde",
        organisation="ura:12345678",
        kind="care-provider",
        datatypes=["health.medication"],
        actions=["read"],
        jwks=ServiceAgent(live.client, "huisarts-de-linde").jwks,
        event_endpoint=endpoint,
        client_id="huisarts-de-linde",
    )
    anna = sign_up(live.client, "Anna")
    anna_id = c.identity.authenticate(anna.token).resident_id
    subject = c.services.redeem(clinic, c.services.connection_code(anna_id)[0])
    for _ in range(grants):
        c.grants.request(clinic, subject, spec())
        grant_id = c.grants.pending(anna_id)[0].grant_id
        c.grants.approve(anna_id, grant_id)
        c.grants.revoke(anna_id, grant_id)
    with c.uow() as uow:
        return list(uow.session.scalars(select(OutboxRow.jti).order_by(OutboxRow.created_at)))


def _rows(live: Live) -> list[OutboxRow]:
    with live.c.uow() as uow:
        rows = list(uow.session.scalars(select(OutboxRow).order_by(OutboxRow.created_at)))
        uow.session.expunge_all()
        return rows


def test_the_server_pushes_while_it_runs(tmp_path: Path) -> None:
    with live_vault("sqlite", tmp_path, push=True) as live:
        jwks = live.client.get("/.well-known/jwks.json").json()
        received = SetReceiver(jwks=jwks, issuer=ORIGIN, audience="huisarts-de-linde")
        with PushEndpoint(received) as endpoint:
            jtis = _grant_changes(live, endpoint.url)
            _wait_for(lambda: len(received.handled) == 2, 20, "the server to push")
            _wait_for(lambda: all(r.delivered_at for r in _rows(live)), 10, "the pushes recorded")
    assert list(received.handled) == jtis
    assert [e.event_type for e in received.handled.values()] == ["grant-approved", "grant-ended"]
    assert not [t for t in threading.enumerate() if t.name == "regie-events-push"]


class CountingPoster:
    """Takes every SET after a little while, counting how often each `jti` came."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        self._lock = threading.Lock()

    def post(self, endpoint: str, set_jwt: str) -> Acknowledged:
        time.sleep(0.005)
        claims = json.loads(_part(set_jwt, 1))  # unverified: counting, not trusting
        with self._lock:
            self.posts.append(claims["jti"])
        return Acknowledged()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_pushers_never_push_the_same_event(kind: str, tmp_path: Path) -> None:
    """Four pushers with their own connections, small batches, all at once: every event is
    pushed exactly once (FOR UPDATE SKIP LOCKED and the lease on PostgreSQL, IMMEDIATE
    transactions on SQLite)."""
    with live_vault(kind, tmp_path, push=False) as live:
        jtis = _grant_changes(live, "https://linde.example/regie/events", grants=10)
        poster = CountingPoster()
        pushers = [
            OutboxDelivery(
                uow=live.c.uow, poster=poster, clock=live.c.clock, policy=PushPolicy(batch=3)
            )
            for _ in range(4)
        ]
        start = threading.Barrier(len(pushers))
        failures: list[BaseException] = []

        def push(pusher: OutboxDelivery) -> None:
            try:
                start.wait(10)
                pusher.drain()
            except BaseException as e:  # noqa: BLE001 - reported by the test below
                failures.append(e)

        threads = [threading.Thread(target=push, args=(p,)) for p in pushers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert failures == []
        assert sorted(poster.posts) == sorted(jtis)  # each once, none missed
        assert {(r.outcome, r.attempts) for r in _rows(live)} == {("acknowledged", 1)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_pusher_killed_mid_push_is_restarted_and_the_receiver_has_each_event_once(
    kind: str, tmp_path: Path
) -> None:
    """The change is committed, the pusher is killed -9 while its POST is in flight (the
    receiver holds its answer), then a new pusher starts: every event arrives, the one in
    flight twice, and the receiver, deduping by jti, handles each exactly once."""
    settings = {"events_push_timeout_seconds": 2.0, "events_push_lease_seconds": 8.0}
    with live_vault(kind, tmp_path, push=False, **settings) as live:
        jwks = live.client.get("/.well-known/jwks.json").json()
        received = SetReceiver(jwks=jwks, issuer=ORIGIN, audience="huisarts-de-linde")
        with PushEndpoint(received, hold_first=True) as endpoint:
            jtis = _grant_changes(live, endpoint.url)
            assert len(jtis) == 2
            assert [r.delivered_at for r in _rows(live)] == [None, None]  # committed, not sent

            deliver = [*_regie(), "events", "deliver"]
            with subprocess.Popen(deliver, cwd=REPO, env=live.env, **QUIET) as first:
                try:
                    assert endpoint.first_arrived.wait(30), "the first pusher never pushed"
                finally:
                    first.kill()  # SIGKILL while the POST waits for its answer
            assert first.returncode == -signal.SIGKILL
            endpoint.release.set()
            rows = _rows(live)
            assert [r.delivered_at for r in rows] == [None, None]  # nothing recorded as taken
            assert received.arrivals == jtis[:1]  # ... though the receiver has the first

            with subprocess.Popen(deliver, cwd=REPO, env=live.env, **QUIET) as second:
                try:
                    _wait_for(
                        lambda: all(r.delivered_at for r in _rows(live)),
                        30,
                        "the second pusher to deliver after the lease",
                    )
                finally:
                    second.send_signal(signal.SIGTERM)
                    second.wait(15)
            assert second.returncode == 0  # SIGTERM stops it cleanly

            again = subprocess.run(
                [*_regie(), "events", "deliver", "--once", "--json"],
                cwd=REPO,
                env=live.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
                check=False,
            )
            assert again.returncode == 0, again.stderr.decode()
            assert json.loads(again.stdout)["pushed"] == 0
            final = [(r.jti, r.delivered_via, r.outcome, r.attempts) for r in _rows(live)]

    assert sorted(received.arrivals) == sorted([jtis[0], *jtis])  # the first came twice
    assert list(received.handled) == jtis  # deduped: each handled exactly once
    assert endpoint.requests == 3
    # Each was claimed by both pushers; only the first was pushed by the killed one.
    assert final == [(jti, "push", "acknowledged", 2) for jti in jtis]


def test_deleting_the_vault_tells_every_service_its_grant_ended(world: World) -> None:
    w = world
    approved(w)
    before = {row.jti for row in outbox(w)}
    w.c.residents.delete_vault(w.anna_id)
    new = [row for row in outbox(w) if row.jti not in before]
    assert [row.event_type for row in new] == ["grant-ended"]
    event = receiver(w, w.clinic).verify(new[0].set_jwt)  # signed, for the clinic
    assert event.event_type == "grant-ended"
    assert event.payload["reason"] == "vault-deleted"
    assert event.payload["subject"] == w.subject
    assert str(w.anna_id) not in decoded(new[0].set_jwt)


def test_the_sweeper_deletes_finished_events_after_the_retention(world: World) -> None:
    w = world
    approved(w)
    assert delivery(w, FakeReceiver(httpx.Response(202))).run_once().claimed == 1
    approved(w)  # pending: never pushed yet
    approved(w)  # given up below
    with w.c.uow() as uow:
        rows = list(uow.session.scalars(select(OutboxRow).order_by(OutboxRow.created_at)))
        assert rows[0].delivered_at is not None
        rows[2].next_attempt_at = None  # what the pusher writes when it gives up
        uow.commit()
    w.clock.advance(days=6)
    assert w.c.grants.sweep()["events_purged"] == 0
    assert len(outbox(w)) == 3
    w.clock.advance(days=2)
    assert w.c.grants.sweep()["events_purged"] == 2
    (left,) = outbox(w)
    assert left.delivered_at is None
    assert left.next_attempt_at is not None
    w.clock.advance(days=30)
    assert w.c.grants.sweep()["events_purged"] == 0  # a pending event is never deleted
