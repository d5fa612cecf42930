"""Operator changes in the verifiable log, on SQLite and PostgreSQL: they concern no resident,
so no resident's log shows them (not even filtered on the service they changed); auditors
see them, filter on the actor, and export them in excerpts that verify offline. A change
whose entry the database refuses does not happen, whichever the change."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

# The grant flow's world: a clinic (registered by an operator) and Anna, connected to it.
from test_grants_flow import JWKS, World, approved_tokens, world  # noqa: F401

from api.container import Container
from support.auditors import Auditor, appoint
from support.services import clinic_and_school
from vault.audit import leaf
from vault.audit.verify import verify_export
from vault.storage.orm import AccessEventRow

OPERATOR_NAMES = {
    "service.registered",
    "service.disabled",
    "service.keys-rotated",
    "service.updated",
    "auditor.appointed",
    "auditor.removed",
    "key.rotated",
    "key.rewrapped",
    "key.retired",
}


def events(client: TestClient, who: Auditor, **params: object) -> list[dict]:  # type: ignore[type-arg]
    response = client.get("/v1/auditor/events", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    found: list[dict] = response.json()["events"]  # type: ignore[type-arg]
    return found


def test_no_residents_log_shows_an_operators_change(
    world: World,  # noqa: F811 - the grant flow's fixture, imported above
) -> None:
    w = world
    approved_tokens(w)  # Anna's log: the clinic's request and her approval
    w.c.services.set_keys(w.clinic.client_id, operator="A. Beheer", jwks=w.clinic.jwks)
    w.c.services.disable(w.clinic.client_id, operator="A. Beheer")
    w.c.integrator.run_once()
    with w.c.uow() as uow:
        stored = uow.session.scalars(
            AccessEventRow.__table__.select()
            .with_only_columns(AccessEventRow.resident_id)
            .where(AccessEventRow.service_id == w.clinic.service_id)
            .where(AccessEventRow.actor == "operator")
        ).all()
    assert len(stored) == 3  # registered, keys rotated, disabled
    assert set(stored) == {leaf.NO_RESIDENT}

    for params in ({}, {"service": str(w.clinic.service_id)}, {"limit": 100}):
        body = w.client.get("/v1/me/log", params=params, headers=w.anna.headers).json()
        names = [e["name"] for e in body["entries"]]
        assert "grant.approved" in names
        assert not set(names) & OPERATOR_NAMES, names
    named = w.client.get(
        "/v1/me/log",
        params={"name": ["service.registered", "service.disabled"]},
        headers=w.anna.headers,
    ).json()
    assert named["entries"] == []


def test_auditors_see_operator_changes_and_filter_on_the_actor(
    world: World,  # noqa: F811 - the grant flow's fixture, imported above
) -> None:
    w = world
    approved_tokens(w)
    auditor = appoint(w.client, w.c)  # the operator's `auditor.appointed`
    w.c.services.disable(w.clinic.client_id, operator="A. Beheer")
    w.c.integrator.run_once()

    everything = events(w.client, auditor, limit=1000)
    actors = {e["entry"]["actor"] for e in everything}
    assert {"operator", "service", "resident"} <= actors
    operators = events(w.client, auditor, actor="operator", limit=1000)
    assert {e["entry"]["actor"] for e in operators} == {"operator"}
    assert [e["index"] for e in operators] == [
        e["index"] for e in everything if e["entry"]["actor"] == "operator"
    ]
    by_name = [(e["entry"]["name"], e["entry"]["service_id"]) for e in operators]
    assert ("service.registered", str(w.clinic.service_id)) in by_name
    assert ("service.registered", str(w.school.service_id)) in by_name
    assert ("auditor.appointed", None) in by_name
    [disabled] = [e["entry"] for e in operators if e["entry"]["name"] == "service.disabled"]
    assert disabled["service_id"] == str(w.clinic.service_id)
    assert disabled["actor_id"] == w.c.audit.subject_hash("A. Beheer")
    assert all(e["entry"]["subject"] is None for e in operators)
    # Combined with another filter, and excluded by another actor.
    clinic_ops = events(
        w.client, auditor, actor="operator", service=str(w.clinic.service_id), limit=1000
    )
    assert sorted(e["entry"]["name"] for e in clinic_ops) == [
        "service.disabled",
        "service.registered",
    ]
    services = events(w.client, auditor, actor="service", limit=1000)
    assert services
    assert {e["entry"]["actor"] for e in services} == {"service"}
    bad = w.client.get("/v1/auditor/events", params={"actor": "admin"}, headers=auditor.headers)
    assert bad.status_code == 422
    assert "actor" in bad.json()["detail"]

    # The excerpt of operator changes verifies offline; the CSV holds them too.
    excerpt = w.client.get(
        "/v1/auditor/export/jsonl", params={"actor": "operator"}, headers=auditor.headers
    )
    assert excerpt.status_code == 200
    lines = excerpt.text.splitlines()
    header = json.loads(lines[0])
    assert header["filter"] == {"actor": "operator"}
    verified = verify_export(
        lines, checkpoint=header["checkpoint"].encode(), verifier_key=w.c.log_key.verifier_key
    )
    assert verified.entries == len(operators)
    assert not verified.complete
    table = w.client.get(
        "/v1/auditor/export/csv", params={"actor": "operator"}, headers=auditor.headers
    )
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["name"] for r in rows] == [e["entry"]["name"] for e in operators]
    assert {r["subject"] for r in rows} == {""}
    # The auditor's own query records which actor they filtered on.
    w.c.integrator.run_once()
    mine = events(w.client, auditor, actor="auditor", limit=1000)
    assert any(e["entry"]["reason"] == "actor=operator" for e in mine)


def refuse_events(connection: Connection) -> None:
    """The database refuses every new log entry (as a full or broken log table would); the
    test's outer transaction takes the trigger away again."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'the log refuses'; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER refuse_events BEFORE INSERT ON access_events "
                "FOR EACH ROW EXECUTE FUNCTION refuse_event()"
            )
        )
    else:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_events BEFORE INSERT ON access_events "
                "BEGIN SELECT RAISE(ABORT, 'the log refuses'); END"
            )
        )


def test_a_change_the_log_refuses_does_not_happen(
    container: Container, connection: Connection
) -> None:
    c = container
    clinic, _ = clinic_and_school(c, JWKS)
    made = c.auditors.appoint("B. Jansen", operator="A. Beheer")
    c.keys.kek.current_version()  # KEK 1 exists
    c.key_rotation.rotate(operator="A. Beheer")  # KEK 2 is current; KEK 1 may be retired
    before = (
        c.services.all(),
        c.auditors.all(),
        c.keys.kek.versions(),
        c.signing.jwks(),
    )
    refuse_events(connection)
    attempts = {
        "services.add": lambda: c.services.add(
            operator="A. Beheer",
            name="Nieuw",
            organisation="kvk:12345678",
            kind="other",
            datatypes=["health.medication"],
            actions=["read"],
            jwks=JWKS,
        ),
        "services.disable": lambda: c.services.disable(clinic.client_id, operator="A. Beheer"),
        "services.set_keys": lambda: c.services.set_keys(
            clinic.client_id, operator="A. Beheer", jwks=JWKS
        ),
        "services.update": lambda: c.services.update(
            clinic.client_id, operator="A. Beheer", name="Andere naam"
        ),
        "auditors.appoint": lambda: c.auditors.appoint("E. Nieuw", operator="A. Beheer"),
        "auditors.remove": lambda: c.auditors.remove(
            str(made.auditor.auditor_id), operator="A. Beheer"
        ),
        "kek rotate": lambda: c.key_rotation.rotate(operator="A. Beheer"),
        "kek resume": lambda: c.key_rotation.rotate(operator="A. Beheer", new_version=False),
        "kek retire": lambda: c.key_rotation.retire(1, operator="A. Beheer"),
        "signing rotate": lambda: c.key_rotation.rotate_signing(operator="A. Beheer"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(Exception) as refused:  # noqa: PT011 - the database's own error
            attempt()
        assert "the log refuses" in str(refused.value), what
    after = (c.services.all(), c.auditors.all(), c.keys.kek.versions(), c.signing.jwks())
    assert after == before
