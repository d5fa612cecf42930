"""The export holds the resident's grants (with their history) and their own access log.

A small story below HTTP (as tests/integration/test_my_log.py tells it): the clinic asks
Anna, she approves, the clinic reads, she revokes; Bert's clinic reads his data; operators
register services (events under no resident). Anna then downloads her export over the API:
her grants and log are in it, with sentences and the signed checkpoint; nothing of Bert's
and no operator's event is.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select
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
from vault.audit.events import NO_RESIDENT, ReplayClaim
from vault.grants.model import AccessRequestSpec
from vault.services.service import ServiceInfo
from vault.storage.orm import AccessEventRow

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
START = datetime(2027, 3, 3, 13, 2, tzinfo=UTC)  # 14:02 in Amsterdam


@dataclass
class Story:
    c: Container
    client: TestClient
    clock: FakeClock
    clinic: ServiceInfo
    anna: Resident
    anna_id: uuid.UUID
    bert: Resident
    bert_id: uuid.UUID
    anna_grant: uuid.UUID
    bert_grant: uuid.UUID
    anna_record: uuid.UUID


def _spec(purpose: str, ref: str) -> AccessRequestSpec:
    return AccessRequestSpec(
        datatypes=frozenset({"health.medication"}),
        actions=frozenset({"read"}),
        purpose_uri="https://w3id.org/dpv#ServiceProvision",
        purpose_text=purpose,
        legal_basis="https://w3id.org/dpv#Consent",
        procedure_ref=ref,
        procedure_description="Controle bloeddruk",
        procedure_planned_end=START + timedelta(days=30),
        valid_until=START + timedelta(days=20),
        binding_message=None,
    )


def _asked_approved_read(
    c: Container, clock: FakeClock, service: ServiceInfo, resident_id: uuid.UUID, purpose: str
) -> tuple[uuid.UUID, uuid.UUID]:
    """The service asks, the resident approves, the service reads: (grant id, record id)."""
    record_id = c.records.create(
        resident_id,
        category="health",
        record_type="health.medication",
        title="Medicatieoverzicht",
        content={"metformine": "500 mg"},
    ).record_id
    clock.advance(minutes=1)  # one event a minute: the order is the story's
    code, _ = c.services.connection_code(resident_id)
    subject = c.services.redeem(service, code)
    accepted = c.grants.request(service, subject, _spec(purpose, f"REF-{uuid.uuid4().hex[:8]}"))
    grant_id = c.grants.pending(resident_id)[0].grant_id
    clock.advance(minutes=1)
    c.grants.approve(resident_id, grant_id)
    outcome = asyncio.run(c.grants.poll(service, accepted.auth_req_id, JKT))
    assert outcome.tokens is not None
    clock.advance(minutes=1)
    claim = ReplayClaim("dpop", uuid.uuid4().hex, clock.now() + timedelta(minutes=5))
    asyncio.run(c.service_access.read_record(outcome.tokens.access_token, JKT, [claim], record_id))
    clock.advance(minutes=1)
    return grant_id, record_id


@pytest.fixture
def story(settings: Settings, connection: Connection) -> Iterator[Story]:
    clock = FakeClock(START)
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url="http://localhost:8000") as client:
        clinic, _ = clinic_and_school(c, JWKS)  # two operator events, under no resident
        anna = sign_up(client, "Anna")
        bert = sign_up(client, "Bert")
        anna_id = c.identity.authenticate(anna.token).resident_id
        bert_id = c.identity.authenticate(bert.token).resident_id
        anna_grant, anna_record = _asked_approved_read(c, clock, clinic, anna_id, "Uw behandeling")
        c.grants.revoke(anna_id, anna_grant)
        clock.advance(minutes=1)
        bert_grant, _ = _asked_approved_read(c, clock, clinic, bert_id, "Bert zijn behandeling")
        c.integrator.run_once()
        yield Story(
            c,
            client,
            clock,
            clinic,
            anna,
            anna_id,
            bert,
            bert_id,
            anna_grant,
            bert_grant,
            anna_record,
        )


def _export(s: Story, who: Resident) -> zipfile.ZipFile:
    response = s.client.get("/v1/me/export", headers=who.headers)
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    return archive


def _log(archive: zipfile.ZipFile) -> list[dict[str, Any]]:
    return [json.loads(line) for line in archive.read("log.jsonl").decode().splitlines()]


def test_the_export_holds_my_grants_with_their_whole_history(story: Story) -> None:
    archive = _export(story, story.anna)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "regie-export/1"
    assert manifest["grants"] == {"path": "grants.json", "count": 1}
    grants = json.loads(archive.read("grants.json"))
    assert [g["grant_id"] for g in grants] == [str(story.anna_grant)]
    g = grants[0]
    assert g["service"] == {
        "service_id": str(story.clinic.service_id),
        "name": "Huisartsenpraktijk De Linde",
        "organisation": "ura:12345678",
        "kind": "care-provider",
    }
    assert g["purpose"] == {
        "uri": "https://w3id.org/dpv#ServiceProvision",
        "text": "Uw behandeling",
    }
    assert g["legal_basis"] == "https://w3id.org/dpv#Consent"
    assert g["procedure"]["ref"].startswith("REF-")
    assert g["procedure"]["description"] == "Controle bloeddruk"
    assert g["procedure"]["planned_end"] == (START + timedelta(days=30)).isoformat()
    assert g["procedure"]["status"] == "open"
    assert g["datatypes"] == ["health.medication"]
    assert g["actions"] == ["read"]
    assert g["status"] == "ended"
    assert g["end_reason"] == "revoked"
    assert g["valid_until"] == (START + timedelta(days=20)).isoformat()
    assert [(h["status"], h["actor"]) for h in g["history"]] == [
        ("requested", "service"),
        ("approved", "resident"),
        ("ended", "resident"),
    ]
    assert g["history"][2]["reason"] == "revoked"
    assert g["history"][1]["at"] == (START + timedelta(minutes=2)).isoformat()
    # Nothing of Bert's grant: not its id, not its purpose.
    raw = archive.read("grants.json").decode()
    assert str(story.bert_grant) not in raw
    assert "Bert" not in raw


def test_the_export_holds_my_log_oldest_first_with_sentences_and_a_checkpoint(
    story: Story,
) -> None:
    archive = _export(story, story.anna)
    lines = _log(archive)
    names = [e["name"] for e in lines]
    assert names == [
        "record.created",
        "grant.requested",
        "grant.approved",
        "record.read",
        "grant.ended",
        "vault.exported",  # the export itself, logged before its first byte
    ]
    assert [e["at"] for e in lines] == sorted(e["at"] for e in lines)
    read = lines[3]
    assert read["outcome"] == "permit"
    assert read["service"] == {
        "id": str(story.clinic.service_id),
        "name": "Huisartsenpraktijk De Linde",
    }
    assert read["datatype"] == "health.medication"
    assert read["action"] == "read"
    assert read["grant_id"] == str(story.anna_grant)
    assert read["text_nl"] == (
        "Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken voor uw behandeling, "
        "op 3 maart om 14:05."
    )
    assert read["text_en"].startswith("Huisartsenpraktijk De Linde viewed your medication")
    assert lines[4]["text_nl"].startswith("U heeft de toegang van Huisartsenpraktijk De Linde")
    assert lines[5]["text_nl"].startswith("U heeft een kopie van alles in uw kluis gedownload")
    assert lines[5]["log_index"] is None  # not integrated yet when the export ran
    # The same entries as GET /v1/me/log serves, newest first there.
    served = story.client.get("/v1/me/log", headers=story.anna.headers).json()["entries"]
    assert [e["id"] for e in reversed(served)] == [e["id"] for e in lines]
    assert [e["text_en"] for e in reversed(served)] == [e["text_en"] for e in lines]

    # The checkpoint covers every indexed line and proves it is in the log.
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["log"]["count"] == len(lines)
    note = archive.read("checkpoint.txt").decode()
    assert manifest["log"]["checkpoint"]["path"] == "checkpoint.txt"
    checkpoint = open_checkpoint(
        note.encode(), Verifier.parse(story.c.log_key.verifier_key), story.c.log_key.name
    )
    assert checkpoint.size == manifest["log"]["checkpoint"]["size"]
    indexed = [e for e in lines if e["log_index"] is not None]
    assert len(indexed) == 5
    for e in indexed:
        assert e["log_index"] < checkpoint.size
        (logged,) = story.c.audit.entries(e["log_index"], e["log_index"] + 1)
        proof = story.c.audit.inclusion(e["log_index"], checkpoint.size)
        merkle.verify_inclusion(
            logged.leaf_hash,
            e["log_index"],
            checkpoint.size,
            list(proof.hashes),
            checkpoint.root_hash,
        )


def test_the_export_holds_nothing_of_another_resident_nor_of_operators(
    story: Story, connection: Connection
) -> None:
    anna_lines = _log(_export(story, story.anna))
    bert_lines = _log(_export(story, story.bert))
    anna_ids = {e["id"] for e in anna_lines}
    bert_ids = {e["id"] for e in bert_lines}
    assert anna_ids
    assert bert_ids
    assert not anna_ids & bert_ids
    theirs = {
        str(r.event_id): r.resident_id
        for r in connection.execute(select(AccessEventRow.event_id, AccessEventRow.resident_id))
    }
    assert {theirs[i] for i in anna_ids} == {story.anna_id}
    assert {theirs[i] for i in bert_ids} == {story.bert_id}
    operators = {i for i, resident in theirs.items() if resident == NO_RESIDENT}
    assert len(operators) >= 2  # the clinic's and the school's registration
    assert not operators & (anna_ids | bert_ids)
    assert not {e["name"] for e in anna_lines + bert_lines} & {"service.registered"}
    assert all("Bert" not in e["text_nl"] for e in anna_lines)


def test_the_export_is_refused_under_a_mandate(story: Story) -> None:
    response = story.client.get(
        "/v1/me/export",
        headers={**story.anna.headers, "Regie-Act-For": str(uuid.uuid4())},
    )
    assert response.status_code in (400, 403), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
