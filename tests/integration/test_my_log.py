"""GET /v1/me/log and its proofs: my own events only, as sentences, filtered, paged, proven.

The story is driven below HTTP (as tests/integration/test_grants_flow.py does: the service
asks, Anna decides, the service reads, lists, writes, is refused); Anna then reads her log
over the API. Attacks: another resident's events and event ids, a cursor of someone else's,
a proof of an event not yet integrated, a proof checked against the wrong key or leaf.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from keys.note import Verifier, open_checkpoint
from support.clock import FakeClock
from support.residents import Resident, sign_up
from support.services import clinic_and_school
from vault.audit import merkle
from vault.audit.events import ReplayClaim
from vault.audit.sentences import EventFacts, sentences
from vault.errors import AccessDenied
from vault.grants.model import AccessRequestSpec, TokenFacts
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
# 3 March 2027, 14:02 in Amsterdam (CET, UTC+1).
START = datetime(2027, 3, 3, 13, 2, tzinfo=UTC)


@dataclass
class World:
    c: Container
    client: TestClient
    clock: FakeClock
    clinic: ServiceInfo
    school: ServiceInfo
    anna: Resident
    anna_id: uuid.UUID
    bert: Resident
    bert_id: uuid.UUID


@pytest.fixture
def world(settings: Settings, connection: Connection) -> Iterator[World]:
    clock = FakeClock(START)
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url="http://localhost:8000") as client:
        clinic, school = clinic_and_school(c, JWKS)
        anna = sign_up(client, "Anna")
        bert = sign_up(client, "Bert")
        yield World(
            c,
            client,
            clock,
            clinic,
            school,
            anna,
            c.identity.authenticate(anna.token).resident_id,
            bert,
            c.identity.authenticate(bert.token).resident_id,
        )


def spec(datatypes: set[str], purpose: str = "Uw behandeling") -> AccessRequestSpec:
    return AccessRequestSpec(
        datatypes=frozenset(datatypes),
        actions=frozenset({"read", "write"}),
        purpose_uri="https://w3id.org/dpv#ServiceProvision",
        purpose_text=purpose,
        legal_basis="https://w3id.org/dpv#Consent",
        procedure_ref=f"REF-{uuid.uuid4().hex[:8]}",
        procedure_description=None,
        procedure_planned_end=None,
        valid_until=None,
        binding_message=None,
    )


def _claim(w: World) -> ReplayClaim:
    return ReplayClaim("dpop", uuid.uuid4().hex, w.clock.now() + timedelta(minutes=5))


def grant_for(
    w: World, service: ServiceInfo, resident_id: uuid.UUID, datatypes: set[str]
) -> tuple[uuid.UUID, Any, TokenFacts]:
    """`service` connected, asked and approved: (grant id, tokens, token facts)."""
    code, _ = w.c.services.connection_code(resident_id)
    subject = w.c.services.redeem(service, code)
    accepted = w.c.grants.request(service, subject, spec(datatypes))
    grant = w.c.grants.pending(resident_id)[0]
    w.clock.advance(minutes=1)  # one event a minute: the order is the story's
    w.c.grants.approve(resident_id, grant.grant_id)
    outcome = asyncio.run(w.c.grants.poll(service, accepted.auth_req_id, JKT))
    assert outcome.tokens is not None
    who = asyncio.run(w.c.tokens.authenticate(outcome.tokens.access_token, JKT, [_claim(w)]))
    return grant.grant_id, outcome.tokens, who


def read(w: World, tokens: Any, record_id: uuid.UUID) -> Any:
    return asyncio.run(
        w.c.service_access.read_record(tokens.access_token, JKT, [_claim(w)], record_id)
    )


def medication(w: World, resident_id: uuid.UUID) -> uuid.UUID:
    return w.c.records.create(
        resident_id,
        category="health",
        record_type="health.medication",
        title="Medicatieoverzicht",
        content={"metformine": "500 mg"},
    ).record_id


def log(w: World, who: Resident | None = None, **params: Any) -> dict[str, Any]:
    response = w.client.get("/v1/me/log", headers=(who or w.anna).headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def story(world: World) -> World:
    """Anna's clinic asks, is given access, reads, lists, writes, is stopped, tries again;
    her school reads her grades. Bert's clinic reads his medication."""
    w = world
    record_id = medication(w, w.anna_id)
    grades = w.c.records.create(
        w.anna_id,
        category="education",
        record_type="education.grades",
        title="Rapport",
        content={"rekenen": 8},
    ).record_id
    grant_id, tokens, who = grant_for(w, w.clinic, w.anna_id, {"health.medication"})
    w.clock.advance(minutes=1)
    read(w, tokens, record_id)
    w.clock.advance(minutes=1)
    w.c.service_access.list_records(who)
    w.clock.advance(minutes=1)
    w.c.service_access.write_record(
        who,
        category="health",
        record_type="health.medication",
        title="Nieuw overzicht",
        content={"metformine": "1000 mg"},
    )
    w.clock.advance(minutes=1)
    w.c.grants.revoke(w.anna_id, grant_id)
    w.clock.advance(minutes=1)
    with pytest.raises(AccessDenied):  # a service that still holds its token's facts
        w.c.service_access.write_record(
            who,
            category="health",
            record_type="health.medication",
            title="Te laat",
            content={"metformine": "0 mg"},
        )
    w.clock.advance(minutes=1)
    _, school_tokens, _ = grant_for(w, w.school, w.anna_id, {"education.grades"})
    w.clock.advance(minutes=1)
    read(w, school_tokens, grades)
    # Bert's story: his own events, which Anna must never see.
    bert_medication = medication(w, w.bert_id)
    w.clock.advance(minutes=1)
    _, bert_tokens, _ = grant_for(w, w.clinic, w.bert_id, {"health.medication"})
    w.clock.advance(minutes=1)
    read(w, bert_tokens, bert_medication)
    return w


def test_my_log_holds_my_events_newest_first_as_sentences(story: World) -> None:
    w = story
    entries = log(w)["entries"]
    anna_events = list(entries)
    assert [e["name"] for e in anna_events[:9]] == [
        "record.read",  # the school reads the grades
        "grant.approved",
        "grant.requested",
        "record.write",  # refused: Anna had stopped it
        "grant.ended",
        "record.write",
        "record.list",
        "record.read",
        "grant.approved",
    ]
    # The clinic's request and Anna's own two records were made at one instant (any order).
    assert sorted(e["name"] for e in anna_events[9:]) == [
        "grant.requested",
        "record.created",
        "record.created",
    ]
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)
    refused = entries[3]
    assert refused["outcome"] == "deny"
    assert refused["reason"] == "grant-ended"
    assert refused["text_nl"] == (
        "Huisartsenpraktijk De Linde wilde uw medicatieoverzicht in uw kluis zetten, maar had "
        "geen toegang meer (u had de toegang gestopt), op 3 maart om 14:08. Er is niets bewaard."
    )
    assert refused["text_en"] == (
        "Huisartsenpraktijk De Linde wanted to put your medication overview in your vault, but "
        "no longer had access (you had stopped it), on 3 March at 14:08. Nothing was kept."
    )
    first_read = entries[7]
    assert first_read["service"] == {
        "id": str(w.clinic.service_id),
        "name": "Huisartsenpraktijk De Linde",
    }
    assert first_read["datatype"] == "health.medication"
    assert first_read["action"] == "read"
    assert first_read["grant_id"] is not None
    assert first_read["log_index"] is None
    assert first_read["text_nl"] == (
        "Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken voor uw behandeling, "
        "op 3 maart om 14:04."
    )
    assert first_read["text_en"] == (
        "Huisartsenpraktijk De Linde viewed your medication overview for uw behandeling, on "
        "3 March at 14:04."
    )
    texts = {e["name"] + "/" + e["outcome"]: e["text_nl"] for e in entries}
    assert texts["record.list/permit"].startswith(
        "Huisartsenpraktijk De Linde heeft gekeken welke gegevens in uw kluis staan"
    )
    assert texts["record.write/permit"].startswith(
        "Huisartsenpraktijk De Linde heeft uw medicatieoverzicht in uw kluis gezet"
    )
    assert texts["grant.ended/done"] == (
        "U heeft de toegang van Huisartsenpraktijk De Linde gestopt, op 3 maart om 14:07."
    )
    assert entries[0]["text_nl"].startswith("Basisschool De Regenboog heeft uw cijfers bekeken")
    # Her own changes, in her words: no service, actor resident.
    mine = [e for e in entries if e["name"] == "record.created"]
    own = {(e["text_nl"], e["text_en"]) for e in mine}
    assert own == {
        (
            "U heeft uw medicatieoverzicht in uw kluis gezet, op 3 maart om 14:02.",
            "You put your medication overview in your vault, on 3 March at 14:02.",
        ),
        (
            "U heeft uw cijfers in uw kluis gezet, op 3 maart om 14:02.",
            "You put your grades in your vault, on 3 March at 14:02.",
        ),
    }
    assert {e["service"] is None and e["outcome"] == "done" for e in mine} == {True}
    assert {s["name"] for s in log(w)["services"]} == {
        "Huisartsenpraktijk De Linde",
        "Basisschool De Regenboog",
    }


def test_another_residents_events_never_appear(story: World) -> None:
    w = story
    anna_ids = {e["id"] for e in log(w, limit=100)["entries"]}
    bert_entries = log(w, w.bert, limit=100)["entries"]
    assert [e["name"] for e in bert_entries] == [
        "record.read",
        "grant.approved",
        "grant.requested",
        "record.created",
    ]
    assert anna_ids.isdisjoint({e["id"] for e in bert_entries})
    assert {s["name"] for s in log(w, w.bert)["services"]} == {"Huisartsenpraktijk De Linde"}
    # Bert's event as Anna's cursor or proof: not found, as if it did not exist.
    theirs = bert_entries[0]["id"]
    r = w.client.get("/v1/me/log", headers=w.anna.headers, params={"before": theirs})
    assert r.status_code == 422
    assert r.json()["detail"] == "`before` is not an event in your log"
    made_up = w.client.get("/v1/me/log", headers=w.anna.headers, params={"before": uuid.uuid4()})
    assert made_up.json() == {**r.json()}
    assert r.headers["content-type"].startswith("application/problem+json")
    w.c.integrator.run_once()
    r = w.client.get(f"/v1/me/log/{theirs}/proof", headers=w.anna.headers)
    assert r.status_code == 404
    assert "not yet" not in r.json()["detail"]
    assert w.client.get(f"/v1/me/log/{theirs}/proof", headers=w.bert.headers).status_code == 200


def test_filters_by_service_datatype_category_and_name(story: World) -> None:
    w = story
    school = log(w, service=str(w.school.service_id))["entries"]
    assert {e["service"]["name"] for e in school} == {"Basisschool De Regenboog"}
    assert len(school) == 3
    medication_only = log(w, datatype="health.medication")["entries"]
    assert [e["name"] for e in medication_only] == [
        "record.write",
        "record.write",
        "record.read",
        "record.created",
    ]
    assert log(w, datatype="health")["entries"] == medication_only
    assert log(w, datatype="heal")["entries"] == []  # a category is matched whole
    reads = log(w, name=["record.read", "record.list"])["entries"]
    assert [e["name"] for e in reads] == ["record.read", "record.list", "record.read"]
    both = log(w, service=str(w.clinic.service_id), name="record.read")["entries"]
    assert len(both) == 1
    assert log(w, service=str(uuid.uuid4()))["entries"] == []


def test_pages_walk_the_whole_log_without_gaps_or_repeats(story: World) -> None:
    w = story
    everything = [e["id"] for e in log(w, limit=100)["entries"]]
    seen: list[str] = []
    before: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if before:
            params["before"] = before
        page = log(w, **params)
        seen += [e["id"] for e in page["entries"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == everything
    assert len(seen) == 12
    assert log(w, limit=12)["next_before"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"before": "not-a-uuid"},
        {"service": "x"},
        {"datatype": "Health; DROP"},
        {"datatype": ""},
        {"name": ["record.read"] * 11},
        {"name": "x" * 100},
    ],
)
def test_bad_parameters_get_problems(world: World, params: dict[str, Any]) -> None:
    r = world.client.get("/v1/me/log", headers=world.anna.headers, params=params)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_not_signed_in_sees_nothing(world: World) -> None:
    assert world.client.get("/v1/me/log").status_code == 401
    assert world.client.get(f"/v1/me/log/{uuid.uuid4()}/proof").status_code == 401


def test_the_proof_of_my_event_verifies_against_the_signed_checkpoint(story: World) -> None:
    w = story
    entry = log(w)["entries"][3]
    r = w.client.get(f"/v1/me/log/{entry['id']}/proof", headers=w.anna.headers)
    assert r.status_code == 404
    assert "not yet in the verified log" in r.json()["detail"]
    assert "try again in a minute" in r.json()["detail"]

    assert w.c.integrator.run_once() > 0
    entry = log(w)["entries"][3]
    assert isinstance(entry["log_index"], int)
    r = w.client.get(f"/v1/me/log/{entry['id']}/proof", headers=w.anna.headers)
    assert r.status_code == 200, r.text
    proof = r.json()
    assert proof["index"] == entry["log_index"]
    assert proof["event_id"] == entry["id"]
    assert proof["verifier_key"] == w.c.log_key.verifier_key
    assert proof["origin"] == w.c.log_key.name
    checkpoint = open_checkpoint(
        proof["checkpoint"].encode(), Verifier.parse(proof["verifier_key"]), proof["origin"]
    )
    assert checkpoint.size == proof["size"]
    assert base64.b64encode(checkpoint.root_hash).decode() == proof["root_hash"]
    leaf = base64.b64decode(proof["leaf_hash"])
    hashes = [base64.b64decode(h) for h in proof["hashes"]]
    merkle.verify_inclusion(leaf, proof["index"], proof["size"], hashes, checkpoint.root_hash)
    # The same proof for another leaf, or another index, does not verify.
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(
            bytes(32), proof["index"], proof["size"], hashes, checkpoint.root_hash
        )
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(
            leaf, (proof["index"] + 1) % proof["size"], proof["size"], hashes, checkpoint.root_hash
        )
    r = w.client.get(f"/v1/me/log/{uuid.uuid4()}/proof", headers=w.anna.headers)
    assert r.status_code == 404


# -- sentences for every event kind, both languages ----------------------------------------


def facts(name: str, outcome: str = "done", **kw: Any) -> EventFacts:
    return EventFacts(
        name=name,
        outcome=outcome,
        reason=kw.pop("reason", None),
        at=START,
        service_name=kw.pop("service_name", "Huisartsenpraktijk De Linde"),
        **kw,
    )


@pytest.mark.parametrize(
    ("event", "nl", "en"),
    [
        (
            facts("record.read", "permit", datatype="health.medication", purpose_text="Uw zorg"),
            "Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken voor uw zorg, op 3 "
            "maart om 14:02.",
            "Huisartsenpraktijk De Linde viewed your medication overview for uw zorg, on 3 "
            "March at 14:02.",
        ),
        (
            facts("record.read", "permit", datatype="health.allergies"),
            "Huisartsenpraktijk De Linde heeft uw allergieën bekeken met de toegang die u gaf, "
            "op 3 maart om 14:02.",
            "Huisartsenpraktijk De Linde viewed your allergies with the access you gave, on 3 "
            "March at 14:02.",
        ),
        (
            facts("record.read", "deny", reason="no-grant"),
            "Huisartsenpraktijk De Linde wilde iets bekijken dat niet in uw kluis staat, op 3 "
            "maart om 14:02. Huisartsenpraktijk De Linde kreeg niets.",
            "Huisartsenpraktijk De Linde wanted to view something that is not in your vault, on "
            "3 March at 14:02. Huisartsenpraktijk De Linde got nothing.",
        ),
        (
            facts("record.read", "deny", reason="procedure-closed", datatype="care.other"),
            "Huisartsenpraktijk De Linde wilde uw overige gegevens over zorg en ondersteuning "
            "bekijken, maar had geen toegang meer (de behandeling of zaak was klaar), op 3 maart "
            "om 14:02.",
            "Huisartsenpraktijk De Linde wanted to view your other care and support data, but no "
            "longer had access (the treatment or case was finished), on 3 March at 14:02.",
        ),
        (
            facts("record.read", "deny", reason="grant-expired", datatype="health.diagnosis"),
            "Huisartsenpraktijk De Linde wilde uw diagnose bekijken, maar had geen toegang meer "
            "(de einddatum was bereikt), op 3 maart om 14:02.",
            "Huisartsenpraktijk De Linde wanted to view your diagnosis, but no longer had access "
            "(the end date had been reached), on 3 March at 14:02.",
        ),
        (
            facts(
                "record.read",
                "deny",
                reason="grant-ended",
                datatype="health.medication",
                grant_end_reason="relinquished",
            ),
            "Huisartsenpraktijk De Linde wilde uw medicatieoverzicht bekijken, maar had geen "
            "toegang meer (de dienst had de toegang teruggegeven), op 3 maart om 14:02.",
            "Huisartsenpraktijk De Linde wanted to view your medication overview, but no longer "
            "had access (the service had given it back), on 3 March at 14:02.",
        ),
        (
            facts("record.list", "deny", reason="service-disabled"),
            "Huisartsenpraktijk De Linde wilde kijken welke gegevens in uw kluis staan, maar deze "
            "dienst mag Regie nu niet gebruiken, op 3 maart om 14:02.",
            "Huisartsenpraktijk De Linde wanted to look at which data is in your vault, but this "
            "service may not use Regie at the moment, on 3 March at 14:02.",
        ),
        (
            facts(
                "record.write",
                "deny",
                reason="action-not-granted",
                datatype="health.medication",
                action="write",
            ),
            "Huisartsenpraktijk De Linde wilde uw medicatieoverzicht in uw kluis zetten, maar "
            "mocht niets in uw kluis zetten, op 3 maart om 14:02. Er is niets bewaard.",
            "Huisartsenpraktijk De Linde wanted to put your medication overview in your vault, "
            "but was not allowed to put anything in your vault, on 3 March at 14:02. Nothing was "
            "kept.",
        ),
        (
            facts("record.write", "deny", reason="invalid-signature", datatype="documents.letter"),
            "Huisartsenpraktijk De Linde wilde uw brief in uw kluis zetten, maar de handtekening "
            "klopte niet, op 3 maart om 14:02. Er is niets bewaard.",
            "Huisartsenpraktijk De Linde wanted to put your letter in your vault, but its "
            "signature was not valid, on 3 March at 14:02. Nothing was kept.",
        ),
        (
            facts("grant.requested", purpose_text="Medicatiebeoordeling"),
            "Huisartsenpraktijk De Linde vroeg om toegang tot uw gegevens voor "
            "medicatiebeoordeling, op 3 maart om 14:02.",
            "Huisartsenpraktijk De Linde asked for access to your data for medicatiebeoordeling, "
            "on 3 March at 14:02.",
        ),
        (
            facts("grant.approved", purpose_text="WMO-indicatie"),
            "U gaf Huisartsenpraktijk De Linde toegang voor WMO-indicatie, op 3 maart om 14:02.",
            "You gave Huisartsenpraktijk De Linde access for WMO-indicatie, on 3 March at 14:02.",
        ),
        (
            facts("grant.denied"),
            "U zei nee tegen de vraag van Huisartsenpraktijk De Linde, op 3 maart om 14:02. "
            "Huisartsenpraktijk De Linde kreeg niets.",
            "You said no to the question from Huisartsenpraktijk De Linde, on 3 March at 14:02. "
            "Huisartsenpraktijk De Linde got nothing.",
        ),
        (
            facts("grant.lapsed"),
            "De vraag van Huisartsenpraktijk De Linde is verlopen zonder antwoord, op 3 maart om "
            "14:02. Er hoeft niets meer te gebeuren.",
            "The question from Huisartsenpraktijk De Linde expired without an answer, on 3 March "
            "at 14:02. Nothing more is needed.",
        ),
        (
            facts("grant.lapsed", reason="procedure-closed"),
            "De vraag van Huisartsenpraktijk De Linde is vervallen, want de behandeling of zaak "
            "is klaar, op 3 maart om 14:02.",
            "The question from Huisartsenpraktijk De Linde was dropped because the treatment or "
            "case is finished, on 3 March at 14:02.",
        ),
        (
            facts("grant.ended", reason="expired"),
            "De toegang van Huisartsenpraktijk De Linde is gestopt, want de einddatum was "
            "bereikt, op 3 maart om 14:02.",
            "Access for Huisartsenpraktijk De Linde stopped because the end date was reached, on "
            "3 March at 14:02.",
        ),
        (
            facts("grant.ended", reason="relinquished"),
            "Huisartsenpraktijk De Linde heeft de toegang teruggegeven, op 3 maart om 14:02.",
            "Huisartsenpraktijk De Linde gave the access back, on 3 March at 14:02.",
        ),
        (
            facts("grant.ended", reason="token-reuse"),
            "De toegang van Huisartsenpraktijk De Linde is gestopt voor uw veiligheid, want er "
            "werd iets dubbel gebruikt, op 3 maart om 14:02.",
            "Access for Huisartsenpraktijk De Linde stopped for your safety because something "
            "was used twice, on 3 March at 14:02.",
        ),
        (
            facts("token.revoked", reason="refresh"),
            "Huisartsenpraktijk De Linde heeft een sleutel tot uw kluis ingeleverd, op 3 maart om "
            "14:02. De toegang die u gaf, blijft hetzelfde.",
            "Huisartsenpraktijk De Linde handed back a key to your vault, on 3 March at 14:02. "
            "The access you gave stays the same.",
        ),
        (
            facts("procedure.closed"),
            "De behandeling of zaak bij Huisartsenpraktijk De Linde is afgesloten, op 3 maart om "
            "14:02. De toegang die daarbij hoorde, is gestopt.",
            "The treatment or case with Huisartsenpraktijk De Linde was closed, on 3 March at "
            "14:02. The access that went with it has stopped.",
        ),
        (
            facts("procedure.closed", reason="planned-end"),
            "De behandeling of zaak bij Huisartsenpraktijk De Linde is afgelopen op de geplande "
            "einddatum, op 3 maart om 14:02. De toegang die daarbij hoorde, is gestopt.",
            "The treatment or case with Huisartsenpraktijk De Linde reached its planned end, on "
            "3 March at 14:02. The access that went with it has stopped.",
        ),
        (
            facts("audit.query", service_name=None),
            "Een controleur heeft in het logboek gekeken wie uw gegevens bekeek, op 3 maart om "
            "14:02. Een controleur ziet nooit wat er in uw kluis staat.",
            "An auditor looked in the log at who looked at your data, on 3 March at 14:02. An "
            "auditor never sees what is in your vault.",
        ),
        (
            facts("grant.ended", reason="vault-deleted", service_name=None),
            "De toegang van een dienst is gestopt, want de kluis is weggegooid, op 3 maart om "
            "14:02.",
            "Access for a service stopped because the vault was deleted, on 3 March at 14:02.",
        ),
        (
            facts("record.read", "permit", service_name=None, datatype="other.other"),
            "Een dienst heeft uw overige gegevens bekeken met de toegang die u gaf, op 3 maart om "
            "14:02.",
            "A service viewed your other data with the access you gave, on 3 March at 14:02.",
        ),
    ],
)
def test_every_event_kind_reads_as_a_sentence(event: EventFacts, nl: str, en: str) -> None:
    assert sentences(event, START) == (nl, en)


def test_the_year_shows_only_when_it_is_not_this_year() -> None:
    event = facts("grant.denied")
    nl, en = sentences(event, START + timedelta(days=365))
    assert "op 3 maart 2027 om 14:02" in nl
    assert "on 3 March 2027 at 14:02" in en
    # Summer time: 12:00 UTC in July is 14:00 in Amsterdam.
    summer = EventFacts("grant.denied", "done", None, datetime(2027, 7, 1, 12, 0, tzinfo=UTC), "X")
    assert "op 1 juli om 14:00" in sentences(summer, START)[0]
