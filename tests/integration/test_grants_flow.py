"""The grant domain end to end (below HTTP): ask, decide, tokens, read, write, end.

Every "no" the issue lists is attacked here at the service layer; the HTTP tests attack the
same through the OAuth endpoints.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.schemas.records import RecordOut
from api.settings import Settings
from support.clock import FakeClock
from support.residents import Resident, sign_up
from support.services import clinic_and_school
from vault.audit.events import ReplayClaim
from vault.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    GrantEnded,
    InvalidInput,
    NotFound,
)
from vault.grants.model import AccessRequestSpec, TokenFacts, TokenPair
from vault.grants.service import PollOutcome
from vault.records.model import Provenance, RecordView
from vault.services.service import ServiceInfo

JWKS = {
    "keys": [
        {
            "kty": "EC",
            "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            "kid": "k1",
        }
    ]
}
JKT = "thumbprint-of-the-services-dpop-key"


@dataclass
class World:
    c: Container
    client: TestClient
    clock: FakeClock
    clinic: ServiceInfo
    school: ServiceInfo
    anna: Resident
    anna_id: uuid.UUID
    subject: str  # Anna as the clinic knows her


@pytest.fixture
def world(settings: Settings, connection: Connection) -> Iterator[World]:
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url="http://localhost:8000") as client:
        clinic, school = clinic_and_school(c, JWKS)
        anna = sign_up(client, "Anna")
        anna_id = c.identity.authenticate(anna.token).resident_id
        code, _ = c.services.connection_code(anna_id)
        subject = c.services.redeem(clinic, code)
        yield World(c, client, clock, clinic, school, anna, anna_id, subject)


def spec(**changes: object) -> AccessRequestSpec:
    base: dict[str, object] = {
        "datatypes": frozenset({"health.medication", "health.allergies"}),
        "actions": frozenset({"read", "write"}),
        "purpose_uri": "https://w3id.org/dpv#ServiceProvision",
        "purpose_text": "Medicatiebeoordeling voor uw behandeling",
        "legal_basis": "https://w3id.org/dpv#Consent",
        "procedure_ref": "BEH-2026-0042",
        "procedure_description": "Fysiotherapie knie",
        "procedure_planned_end": None,
        "valid_until": None,
        "binding_message": "Code 4711",
    }
    base.update(changes)
    return AccessRequestSpec(**base)  # type: ignore[arg-type]


def _claim(w: World) -> ReplayClaim:
    """A DPoP proof's one-time value, as the API would claim it for this request."""
    return ReplayClaim("dpop", uuid.uuid4().hex, w.clock.now() + timedelta(minutes=5))


def read(w: World, tokens: TokenPair, record_id: uuid.UUID, jkt: str = JKT) -> RecordView:
    """What GET /v1/service/records/{id} does below HTTP (the async hot path)."""
    return asyncio.run(
        w.c.service_access.read_record(tokens.access_token, jkt, [_claim(w)], record_id)
    )


def authenticate(w: World, access_token: str, jkt: str = JKT) -> TokenFacts:
    return asyncio.run(w.c.tokens.authenticate(access_token, jkt, [_claim(w)]))


def poll(w: World, service: ServiceInfo, auth_req_id: str, jkt: str = JKT) -> PollOutcome:
    return asyncio.run(w.c.grants.poll(service, auth_req_id, jkt))


def medication(w: World) -> uuid.UUID:
    return w.c.records.create(
        w.anna_id,
        category="health",
        record_type="health.medication",
        title="Medicatieoverzicht",
        content={"metformine": "500 mg"},
    ).record_id


def approved_tokens(w: World, **approve: object):  # type: ignore[no-untyped-def]
    accepted = w.c.grants.request(w.clinic, w.subject, spec())
    grant = w.c.grants.pending(w.anna_id)[0]
    w.c.grants.approve(w.anna_id, grant.grant_id, **approve)  # type: ignore[arg-type]
    outcome = poll(w, w.clinic, accepted.auth_req_id)
    assert outcome.status == "approved"
    assert outcome.tokens is not None
    return grant.grant_id, outcome.tokens, authenticate(w, outcome.tokens.access_token)


def test_the_whole_story_treatment_done_data_gone(world: World) -> None:
    w = world
    record_id = medication(w)
    allergies = w.c.records.create(
        w.anna_id,
        category="health",
        record_type="health.allergies",
        title="Allergieën",
        content={"penicilline": True},
    ).record_id
    grant_id, tokens, who = approved_tokens(w, datatypes=["health.medication"])  # narrower
    assert tokens.expires_in <= 300
    seen = read(w, tokens, record_id)
    assert seen.current is not None
    assert seen.current.content == {"metformine": "500 mg"}
    with pytest.raises(AccessDenied) as refused:
        read(w, tokens, allergies)  # narrowed away
    assert refused.value.reason == "datatype-not-granted"
    written = w.c.service_access.write_record(
        who,
        category="health",
        record_type="health.medication",
        title="Nieuw medicatieoverzicht",
        content={"metformine": "1000 mg"},
    )
    assert written.provenance.written_by == "service"
    assert written.provenance.service_id == w.clinic.service_id
    assert written.provenance.grant_id == grant_id
    listed = {r.record_id for r in w.c.service_access.list_records(who)}
    assert listed == {record_id, written.record_id}  # allergies stay out of sight

    assert w.c.grants.close_procedure_by_service(w.clinic, w.subject, "BEH-2026-0042") == 1
    with pytest.raises(AuthenticationFailed, match=r"has ended \(procedure-closed\)"):
        read(w, tokens, record_id)  # the token died with the grant
    with pytest.raises(AuthenticationFailed):
        authenticate(w, tokens.access_token)
    assert w.c.tokens.refresh(w.clinic.service_id, tokens.refresh_token, JKT).tokens is None
    # The resident keeps what the service wrote.
    assert w.c.records.get(w.anna_id, written.record_id).current.content == {
        "metformine": "1000 mg"
    }  # type: ignore[union-attr]

    view = w.c.grants.get(w.anna_id, grant_id)
    assert view.status == "ended"
    assert view.end_reason == "procedure-closed"
    assert view.procedure.status == "closed"
    assert view.procedure.closed_by == "service"
    assert view.procedure.description == "Fysiotherapie knie"
    assert view.purpose_text == "Medicatiebeoordeling voor uw behandeling"
    assert [(h.status, h.actor) for h in view.history] == [
        ("requested", "service"),
        ("approved", "resident"),
        ("ended", "service"),
    ]
    assert view.history[1].details == {"datatypes": ["health.medication"]}
    with w.c.uow() as uow:
        events = [
            (e.name, e.outcome, e.reason)
            for e in reversed(uow.access_events.of_resident(w.anna_id))
        ]
    assert ("record.read", "permit", None) in events
    assert ("record.read", "deny", "datatype-not-granted") in events
    assert ("record.write", "permit", None) in events
    # An allowed access names its grant's purpose and legal basis (Logboek Dataverwerkingen).
    with w.c.uow() as uow:
        permitted = [
            (e.name, e.purpose, e.legal_basis)
            for e in uow.access_events.of_resident(w.anna_id)
            if e.outcome == "permit"
        ]
    assert {name for name, _, _ in permitted} >= {"record.read", "record.write"}
    assert {(p, b) for _, p, b in permitted} == {(view.purpose_uri, view.legal_basis)}
    # So does a refused attempt under that grant (here: a datatype it does not cover).
    with w.c.uow() as uow:
        refused = [
            (e.purpose, e.legal_basis, e.procedure_id)
            for e in uow.access_events.of_resident(w.anna_id)
            if e.outcome == "deny" and e.reason == "datatype-not-granted"
        ]
    assert refused
    assert {(p, b) for p, b, _ in refused} == {(view.purpose_uri, view.legal_basis)}
    assert all(procedure is not None for _, _, procedure in refused)
    assert view.purpose_uri.startswith("https://w3id.org/dpv#")
    # The closure itself is logged, once, beside the ending of the grant it ended.
    assert events.count(("procedure.closed", "done", None)) == 1
    assert ("grant.ended", "done", "procedure-closed") in events


def test_a_service_is_not_told_that_a_representative_wrote_a_record(world: World) -> None:
    """Provenance to a service is its kind only: a record a representative wrote (and a
    version they changed) reads as the resident's, with no mandate and no name."""
    w = world
    pieter = sign_up(w.client, "Pieter Bewind")
    pieter_id = w.c.identity.authenticate(pieter.token).resident_id
    offered = w.c.people.offer(
        w.anna_id,
        categories=["health"],
        actions=["read", "write"],
        valid_until=w.clock.now() + timedelta(days=30),
    )
    mandate = w.c.people.accept(pieter_id, offered.code)
    acting = w.c.people.acting_for(pieter_id, mandate.mandate_id)
    made = w.c.records.create(
        w.anna_id,
        category="health",
        record_type="health.medication",
        title="Medicatieoverzicht",
        content={"metformine": "500 mg"},
        acting=acting,
    )
    w.c.records.update(w.anna_id, made.record_id, title="Medicijnen", acting=acting)
    assert w.c.records.get(w.anna_id, made.record_id).provenance.written_by == "representative"
    _, tokens, who = approved_tokens(w)
    seen = [read(w, tokens, made.record_id), *w.c.service_access.list_records(who)]
    for view in seen:
        assert view.provenance == Provenance("resident", None, None, None, None)
        assert view.current is not None
        assert (view.current.written_by, view.current.mandate_id) == ("resident", None)
        answer = RecordOut.of(view).model_dump_json()
        assert str(mandate.mandate_id) not in answer
        assert "Pieter" not in answer
        assert '"representative"' not in answer.replace('"representative":null', "")


def test_poll_states(world: World) -> None:
    w = world
    accepted = w.c.grants.request(w.clinic, w.subject, spec())
    assert poll(w, w.clinic, accepted.auth_req_id).status == "pending"
    assert poll(w, w.clinic, accepted.auth_req_id).status == "slow_down"
    w.clock.advance(seconds=11)
    assert poll(w, w.clinic, accepted.auth_req_id).status == "pending"
    assert poll(w, w.school, accepted.auth_req_id).status == "invalid"  # not its request
    assert poll(w, w.clinic, "rar_made-up").status == "invalid"
    grant = w.c.grants.pending(w.anna_id)[0]
    w.c.grants.deny(w.anna_id, grant.grant_id)
    assert poll(w, w.clinic, accepted.auth_req_id).status == "denied"

    lapsing = w.c.grants.request(w.clinic, w.subject, spec(procedure_ref="BEH-2"))
    w.clock.advance(days=15)
    assert poll(w, w.clinic, lapsing.auth_req_id).status == "expired"
    assert w.c.grants.pending(w.anna_id) == []


def test_an_auth_req_id_is_redeemed_once(world: World) -> None:
    w = world
    accepted = w.c.grants.request(w.clinic, w.subject, spec())
    w.c.grants.approve(w.anna_id, w.c.grants.pending(w.anna_id)[0].grant_id)
    assert poll(w, w.clinic, accepted.auth_req_id).status == "approved"
    assert poll(w, w.clinic, accepted.auth_req_id).status == "invalid"


def test_widening_at_approval_is_refused(world: World) -> None:
    w = world
    w.c.grants.request(
        w.clinic,
        w.subject,
        spec(datatypes=frozenset({"health.medication"}), actions=frozenset({"read"})),
    )
    grant = w.c.grants.pending(w.anna_id)[0]
    for wider in (
        {"datatypes": ["health.medication", "health.allergies"]},
        {"actions": ["read", "write"]},
        {"valid_until": grant.requested_valid_until + timedelta(days=1)},
    ):
        with pytest.raises(InvalidInput):
            w.c.grants.approve(w.anna_id, grant.grant_id, **wider)  # type: ignore[arg-type]
    assert w.c.grants.get(w.anna_id, grant.grant_id).status == "requested"


def test_beyond_the_ceiling_is_refused_at_request_time(world: World) -> None:
    w = world
    for outside in (
        spec(datatypes=frozenset({"income.payslip"})),
        spec(datatypes=frozenset({"health.medication", "health.diagnosis"})),
    ):
        with pytest.raises(AccessDenied) as refused:
            w.c.grants.request(w.clinic, w.subject, outside)
        assert refused.value.reason == "beyond-ceiling"
    assert w.c.grants.pending(w.anna_id) == []


def test_another_services_subject_or_a_made_up_one_finds_no_one(world: World) -> None:
    w = world
    with pytest.raises(NotFound):
        w.c.grants.request(w.school, w.subject, spec(datatypes=frozenset({"education.grades"})))
    with pytest.raises(NotFound):
        w.c.grants.request(w.clinic, "made-up-subject", spec())


def test_pairwise_subjects_do_not_correlate(world: World) -> None:
    w = world
    code, _ = w.c.services.connection_code(w.anna_id)
    at_school = w.c.services.redeem(w.school, code)
    assert at_school != w.subject
    assert str(w.anna_id) not in (at_school + w.subject)
    assert w.c.services.subject(w.clinic.service_id, w.anna_id) == w.subject  # stable


def test_connection_codes_are_single_use_and_short_lived(world: World) -> None:
    w = world
    code, expires = w.c.services.connection_code(w.anna_id)
    assert expires - w.clock.now() == timedelta(minutes=15)
    w.c.services.redeem(w.school, code.lower())
    with pytest.raises(AuthenticationFailed):
        w.c.services.redeem(w.school, code)
    late, _ = w.c.services.connection_code(w.anna_id)
    w.clock.advance(minutes=16)
    with pytest.raises(AuthenticationFailed):
        w.c.services.redeem(w.school, late)


def test_expiry_is_enforced_with_no_sweeper_running(world: World) -> None:
    w = world
    record_id = medication(w)
    _, tokens, who = approved_tokens(w, valid_until=w.clock.now() + timedelta(hours=1))
    read(w, tokens, record_id)
    w.clock.advance(hours=1)
    with pytest.raises(AuthenticationFailed, match="expired"):
        read(w, tokens, record_id)  # an access token never outlives its grant (I5)
    with pytest.raises(GrantEnded) as ended:  # and the check refuses the grant itself (I1)
        w.c.service_access.list_records(who)
    assert ended.value.reason == "grant-expired"
    with w.c.uow() as uow:
        last = uow.access_events.of_resident(w.anna_id)[0]
        assert (last.name, last.outcome, last.reason) == ("record.list", "deny", "grant-expired")
    assert w.c.grants.sweep() == {
        "expired": 1,
        "lapsed": 0,
        "procedures_closed": 0,
        "events_purged": 0,
        "requests_purged": 0,
    }


def test_planned_end_of_the_procedure_ends_access(world: World) -> None:
    w = world
    record_id = medication(w)
    accepted = w.c.grants.request(
        w.clinic, w.subject, spec(procedure_planned_end=w.clock.now() + timedelta(days=2))
    )
    w.c.grants.approve(w.anna_id, w.c.grants.pending(w.anna_id)[0].grant_id)
    tokens = poll(w, w.clinic, accepted.auth_req_id).tokens
    assert tokens is not None
    who = authenticate(w, tokens.access_token)
    w.clock.advance(days=2)
    with pytest.raises(AuthenticationFailed, match="expired"):
        read(w, tokens, record_id)  # its tokens never outlive the grant's planned end
    with pytest.raises(GrantEnded) as ended:
        w.c.service_access.list_records(who)
    assert ended.value.reason in ("grant-expired", "procedure-ended")
    assert w.c.grants.sweep()["procedures_closed"] == 1
    with w.c.uow() as uow:
        logged = [(e.name, e.actor, e.reason) for e in uow.access_events.of_resident(w.anna_id)]
    assert ("procedure.closed", "system", "planned-end") in logged


def test_resident_revokes_and_the_next_read_fails(world: World) -> None:
    w = world
    record_id = medication(w)
    grant_id, tokens, _ = approved_tokens(w)
    w.c.grants.revoke(w.anna_id, grant_id)
    with pytest.raises(AuthenticationFailed, match=r"has ended \(revoked\)"):
        read(w, tokens, record_id)
    with pytest.raises(AuthenticationFailed):
        authenticate(w, tokens.access_token)


def test_revoke_everything_for_a_service(world: World) -> None:
    w = world
    approved_tokens(w)
    w.c.grants.request(w.clinic, w.subject, spec(procedure_ref="BEH-3"))
    assert w.c.grants.revoke_service(w.anna_id, w.clinic.service_id) == 2
    assert {g.status for g in w.c.grants.grants(w.anna_id)} == {"ended", "denied"}


def test_refresh_rotates_and_reuse_ends_the_grant(world: World) -> None:
    w = world
    record_id = medication(w)
    grant_id, first, _ = approved_tokens(w)
    second = w.c.tokens.refresh(w.clinic.service_id, first.refresh_token, JKT).tokens
    assert second is not None
    assert second.refresh_token != first.refresh_token
    assert (
        w.c.tokens.refresh(w.clinic.service_id, second.refresh_token, "another-key").tokens is None
    )
    assert w.c.tokens.refresh(w.school.service_id, second.refresh_token, JKT).tokens is None
    replay = w.c.tokens.refresh(w.clinic.service_id, first.refresh_token, JKT)
    assert replay.reused
    assert w.c.grants.get(w.anna_id, grant_id).end_reason == "token-reuse"
    with pytest.raises(AuthenticationFailed):
        authenticate(w, second.access_token)
    assert w.c.tokens.refresh(w.clinic.service_id, second.refresh_token, JKT).tokens is None
    del record_id


def test_a_token_needs_its_own_dpop_key_and_dies_after_five_minutes(world: World) -> None:
    w = world
    _, tokens, _ = approved_tokens(w)
    with pytest.raises(AuthenticationFailed):
        authenticate(w, tokens.access_token, "another-key")
    w.clock.advance(minutes=5)
    with pytest.raises(AuthenticationFailed):
        authenticate(w, tokens.access_token)


def test_a_token_of_one_resident_cannot_reach_another(world: World) -> None:
    w = world
    bob = sign_up(w.client, "Bob")
    bob_id = w.c.identity.authenticate(bob.token).resident_id
    bobs = w.c.records.create(
        bob_id, category="health", record_type="health.medication", title="Bob", content={"x": 1}
    ).record_id
    _, tokens, who = approved_tokens(w)
    with pytest.raises(NotFound):  # the record is looked up in the token's resident's vault only
        read(w, tokens, bobs)
    forged = TokenFacts(bob_id, who.grant_id, who.service_id)  # Anna's grant, Bob's vault
    with pytest.raises(AccessDenied):
        w.c.service_access.list_records(forged)


def test_a_disabled_service_loses_access(world: World) -> None:
    w = world
    record_id = medication(w)
    _, tokens, _ = approved_tokens(w)
    w.c.services.disable(w.clinic.client_id, operator="test-operator")
    with pytest.raises(AccessDenied) as refused:
        read(w, tokens, record_id)
    assert refused.value.reason == "service-disabled"


def test_deleting_the_vault_ends_service_access(world: World) -> None:
    w = world
    _, tokens, who = approved_tokens(w)
    w.c.residents.delete_vault(w.anna_id)
    with pytest.raises(AuthenticationFailed):
        authenticate(w, tokens.access_token)
    with pytest.raises(AccessDenied):
        w.c.service_access.list_records(who)
    with w.c.uow() as uow:  # the deletion is in the log, which outlives the vault
        names = [e.name for e in uow.access_events.of_resident(w.anna_id)]
    assert "vault.deleted" in names
    assert "grant.ended" in names


def test_a_closed_procedure_reference_cannot_be_reused(world: World) -> None:
    w = world
    approved_tokens(w)
    w.c.grants.close_procedure_by_service(w.clinic, w.subject, "BEH-2026-0042")
    with pytest.raises(Conflict):
        w.c.grants.request(w.clinic, w.subject, spec())


def test_resident_closes_a_procedure(world: World) -> None:
    w = world
    grant_id, _, _ = approved_tokens(w)
    procedure_id = w.c.grants.get(w.anna_id, grant_id).procedure.procedure_id
    assert w.c.grants.close_procedure_by_resident(w.anna_id, procedure_id) == 1
    assert w.c.grants.get(w.anna_id, grant_id).end_reason == "procedure-closed"


def test_the_servers_sweeper_marks_expiry_and_tells_the_service(world: World) -> None:
    from api.workers import sweep_worker

    w = world
    grant_id, _, _ = approved_tokens(w, valid_until=w.clock.now() + timedelta(hours=1))
    worker = sweep_worker(w.c)
    assert worker.run_once() is False  # nothing due yet
    assert w.c.grants.get(w.anna_id, grant_id).status == "approved"
    w.clock.advance(hours=1)
    assert worker.run_once() is False  # one grant, less than a full batch
    view = w.c.grants.get(w.anna_id, grant_id)
    assert (view.status, view.end_reason) == ("ended", "expired")
    assert view.history[-1].actor == "system"
