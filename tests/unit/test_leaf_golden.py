"""The canonical bytes of entries, pinned: an entry logged once must hash the same for ever.

The service read and the auditor's query of the whole log are what the code wrote before
operator events existed (computed with that code); the operator's change is the new kind: no
subject (null, null) and the operator's name as a keyed hash, like every person's id."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from vault.audit import leaf
from vault.audit.events import operator_event, operator_name
from vault.errors import InvalidInput

AT = datetime(2026, 12, 2, 14, 2, 3, 123, tzinfo=UTC)
EVENT = uuid.UUID("1b9e7a42-3c5d-4e6f-8a90-b1c2d3e4f506")
SERVICE = uuid.UUID("2a4c6e80-1357-4b9d-8f02-468ace13579b")


def keyed(value: str) -> str:
    return hmac.new(b"k" * 32, value.encode(), hashlib.sha256).hexdigest()


def row(**values: Any) -> dict[str, Any]:
    empty = dict.fromkeys(
        (
            "reason",
            "actor_id",
            "service_id",
            "grant_id",
            "procedure_id",
            "record_id",
            "datatype",
            "action",
            "purpose",
            "legal_basis",
            "trace_id",
            "span_id",
            "parent_span_id",
        )
    )
    return {**empty, "event_id": EVENT, "at": AT, **values}


SERVICE_READ = (
    '{"action":"read","actor":"service","actor_id":"2a4c6e80-1357-4b9d-8f02-468ace13579b",'
    '"datatype":"health.medication","end_time":"2026-12-02T14:02:03.000123Z",'
    '"event_id":"1b9e7a42-3c5d-4e6f-8a90-b1c2d3e4f506",'
    '"grant_id":"3b5d7f91-2468-4cae-9013-579bdf24680a",'
    '"legal_basis":"https://w3id.org/dpv#Consent","name":"record.read","outcome":"permit",'
    '"parent_span_id":null,"procedure_id":null,'
    '"purpose":"https://w3id.org/dpv#ServiceProvision","reason":null,"record_id":null,'
    '"service_id":"2a4c6e80-1357-4b9d-8f02-468ace13579b","span_id":"00f067aa0ba902b7",'
    '"start_time":"2026-12-02T14:02:03.000123Z","status_code":"OK",'
    '"subject":"e42f6c649cf730f4f54c51c413a5a4c02e30c36286553eecf5b749fb39ae2db5",'
    '"subject_id_type":"regie:keyed-hash","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",'
    '"v":"regie.audit.v1"}'
)
AUDITOR_QUERY = (
    '{"action":"query","actor":"auditor",'
    '"actor_id":"ff6cf599e443d2f45c820236091b46f8b0ae54af6fdf9533f46cef798b8af772",'
    '"datatype":null,"end_time":"2026-12-02T14:02:03.000123Z",'
    '"event_id":"1b9e7a42-3c5d-4e6f-8a90-b1c2d3e4f506","grant_id":null,"legal_basis":null,'
    '"name":"audit.query","outcome":"done","parent_span_id":null,"procedure_id":null,'
    '"purpose":null,"reason":null,"record_id":null,"service_id":null,"span_id":null,'
    '"start_time":"2026-12-02T14:02:03.000123Z","status_code":"OK","subject":null,'
    '"subject_id_type":null,"trace_id":null,"v":"regie.audit.v1"}'
)
OPERATOR_CHANGE = (
    '{"action":null,"actor":"operator",'
    '"actor_id":"89d9c8f79ef6c9e5fd37def59838d3bf91412f4bbc96eb70605476f571f6ca93",'
    '"datatype":null,"end_time":"2026-12-02T14:02:03.000123Z",'
    '"event_id":"1b9e7a42-3c5d-4e6f-8a90-b1c2d3e4f506","grant_id":null,"legal_basis":null,'
    '"name":"service.registered","outcome":"done","parent_span_id":null,"procedure_id":null,'
    '"purpose":null,"reason":null,"record_id":null,'
    '"service_id":"2a4c6e80-1357-4b9d-8f02-468ace13579b","span_id":null,'
    '"start_time":"2026-12-02T14:02:03.000123Z","status_code":"OK","subject":null,'
    '"subject_id_type":null,"trace_id":null,"v":"regie.audit.v1"}'
)


def test_a_service_read_keeps_its_bytes() -> None:
    stored = row(
        resident_id=uuid.UUID("6f1d3c2a-0b4e-4f55-9a77-0c8e5b1d2f30"),
        name="record.read",
        outcome="permit",
        actor="service",
        actor_id=str(SERVICE),
        service_id=SERVICE,
        grant_id=uuid.UUID("3b5d7f91-2468-4cae-9013-579bdf24680a"),
        datatype="health.medication",
        action="read",
        purpose="https://w3id.org/dpv#ServiceProvision",
        legal_basis="https://w3id.org/dpv#Consent",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
    )
    assert leaf.encode(leaf.entry(stored, keyed)).decode() == SERVICE_READ


def test_an_auditors_query_of_the_whole_log_keeps_its_bytes() -> None:
    stored = row(
        resident_id=leaf.NO_RESIDENT,
        name="audit.query",
        outcome="done",
        actor="auditor",
        actor_id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
        action="query",
    )
    assert leaf.encode(leaf.entry(stored, keyed)).decode() == AUDITOR_QUERY


def test_an_operators_change_has_no_subject_and_a_hashed_operator() -> None:
    event = operator_event("service.registered", "A.  Beheer ", service_id=SERVICE)
    assert (event.resident_id, event.actor, event.actor_id) == (
        leaf.NO_RESIDENT,
        "operator",
        "A. Beheer",  # spaces folded, so one name is one pseudonym
    )
    stored = row(
        resident_id=event.resident_id,
        name=event.name,
        outcome=event.outcome,
        actor=event.actor,
        actor_id=event.actor_id,
        service_id=event.service_id,
    )
    encoded = leaf.encode(leaf.entry(stored, keyed))
    assert encoded.decode() == OPERATOR_CHANGE
    assert keyed("A. Beheer") in OPERATOR_CHANGE
    assert "Beheer" not in OPERATOR_CHANGE
    assert leaf.decode(encoded) == leaf.entry(stored, keyed)


@pytest.mark.parametrize(
    "name", ["", " ", "x" * 65, str(uuid.uuid4()), str(uuid.uuid4()).upper(), "bel\x07"]
)
def test_an_operator_name_is_a_short_printable_name(name: str) -> None:
    with pytest.raises(InvalidInput):
        operator_name(name)
