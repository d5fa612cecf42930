"""Acting for someone over HTTP (`Regie-Act-For: <mandate id>`): a representative reads and
writes the principal's records, decides their requests and reads their log, within the
mandate only; and the attacks: someone else's or a made-up mandate id, an offer not yet
accepted, revoked, given up, expired, not yet valid, a category or action out of scope, a
grant with one datatype out of scope, the header on routes that stay closed, and the
principal using their own mandate id, another vault's record and grant ids under a valid
mandate, a write-only mandate reading through an edit's answer, and a former representative
filling the principal's log (bounded: 429 beyond the limit, one `mandate.throttled` an
hour). Proofs of the principal's log, stopping a whole service and ending a procedure under
a mandate, with their attacks: an entry outside the mandate, another principal's entry,
service or procedure, an ended mandate, a mandate without `decide-requests`, a procedure
reaching outside the mandate's categories."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError

from api.settings import Settings
from keys.note import Verifier, open_checkpoint
from support.people import (
    World,
    accept,
    act,
    child_of,
    mandate,
    offer,
    people,
    reauthenticate,
    refused,
    rid,
    world,
)
from support.residents import Resident
from vault.audit import merkle
from vault.grants.model import AccessRequestSpec
from vault.storage.orm import AccessEventRow, GrantRow, MandateRow

JWKS = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "k",
        }
    ]
}


@pytest.fixture
def w(settings: Settings, connection: Connection) -> Iterator[World]:
    yield from world(settings, connection)


@pytest.fixture
def roomy(settings: Settings, connection: Connection) -> Iterator[World]:
    """A world whose bound on refusals is far off: for tests that make many on purpose."""
    yield from world(settings.model_copy(update={"mandate_refusals_per_hour": 1000}), connection)


def record(w: World, who: Resident, category: str, rtype: str, title: str) -> str:
    r = w.client.post(
        "/v1/me/records",
        json={"category": category, "type": rtype, "title": title, "content": {"x": 1}},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def ask(
    w: World,
    principal: Resident,
    datatypes: list[str],
    ref: str = "BEH-1",
    service_name: str = "Gemeente Utrecht",
) -> str:
    """A service asks `principal` for `datatypes`: the id of the pending request."""
    service = next(
        (s for s in w.c.services.all() if s.name == service_name), None
    ) or w.c.services.add(
        operator="test-operator",
        name=service_name,
        organisation="oin:00000001002220647000"
        if service_name == "Gemeente Utrecht"
        else "oin:00000001002220647099",
        kind="municipality",
        datatypes=["health.medication", "health.allergies", "education.grades", "debts.overview"],
        actions=["read", "write"],
        jwks=JWKS,
    )
    code, _ = w.c.services.connection_code(rid(w, principal))
    subject = w.c.services.redeem(service, code)
    before = grant_ids(w, principal)
    w.c.grants.request(
        service,
        subject,
        AccessRequestSpec(
            datatypes=frozenset(datatypes),
            actions=frozenset({"read"}),
            purpose_uri="https://w3id.org/dpv#ServiceProvision",
            purpose_text="Schuldhulpverlening",
            legal_basis="https://w3id.org/dpv#Consent",
            procedure_ref=ref,
            procedure_description=None,
            procedure_planned_end=None,
            valid_until=None,
            binding_message=None,
        ),
    )
    [made] = grant_ids(w, principal) - before
    return made


def grant_ids(w: World, who: Resident) -> set[str]:
    with w.c.uow() as uow:
        return {
            str(g)
            for g in uow.session.scalars(
                select(GrantRow.grant_id).where(GrantRow.resident_id == rid(w, who))
            )
        }


@dataclass(frozen=True)
class Event:
    event_id: uuid.UUID
    name: str
    actor: str
    actor_id: str | None
    datatype: str | None
    reason: str | None


def events(w: World, who: Resident) -> list[Event]:
    """The resident's access events as stored, oldest first."""
    with w.c.uow() as uow:
        return [
            Event(e.event_id, e.name, e.actor, e.actor_id, e.datatype, e.reason)
            for e in uow.session.scalars(
                select(AccessEventRow)
                .where(AccessEventRow.resident_id == rid(w, who))
                .order_by(AccessEventRow.at, AccessEventRow.event_id)
            )
        ]


# -- the happy paths ---------------------------------------------------------------------


def test_a_representative_reads_and_writes_the_principals_records(w: World) -> None:
    mid = mandate(w, actions=["read", "write"])
    debt = record(w, w.anna, "debts", "debts.overview", "Schulden 2026")
    record(w, w.anna, "education", "education.grades", "Cijfers")  # out of scope
    own = record(w, w.pieter, "debts", "debts.overview", "Pieters eigen schulden")
    listed = w.client.get("/v1/me/records", headers=act(w.pieter, mid))
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["records"]] == [debt]  # not Pieter's own, no grades
    got = w.client.get(f"/v1/me/records/{debt}", headers=act(w.pieter, mid))
    assert got.status_code == 200
    assert got.json()["title"] == "Schulden 2026"
    assert w.client.get(f"/v1/me/records/{own}", headers=act(w.pieter, mid)).status_code == 404
    made = w.client.post(
        "/v1/me/records",
        json={
            "category": "health",
            "type": "health.medication",
            "title": "Medicijnen",
            "content": {"a": 1},
        },
        headers=act(w.pieter, mid),
    )
    assert made.status_code == 201, made.text
    changed = w.client.patch(
        f"/v1/me/records/{debt}",
        json={"title": "Schulden (bijgewerkt)"},
        headers=act(w.pieter, mid),
    )
    assert changed.status_code == 200, changed.text
    versions = w.client.get(f"/v1/me/records/{debt}/versions", headers=act(w.pieter, mid))
    assert len(versions.json()["versions"]) == 2
    gone = w.client.delete(f"/v1/me/records/{made.json()['id']}", headers=act(w.pieter, mid))
    assert gone.status_code == 204
    # All of it happened in Anna's vault, none in Pieter's.
    anna_titles = sorted(
        r["title"] for r in w.client.get("/v1/me/records", headers=w.anna.headers).json()["records"]
    )
    assert anna_titles == ["Cijfers", "Schulden (bijgewerkt)"]
    pieter_ids = [
        r["id"] for r in w.client.get("/v1/me/records", headers=w.pieter.headers).json()["records"]
    ]
    assert pieter_ids == [own]
    # Every step is in Anna's log, by the representative under this mandate.
    mine = [(e.name, e.actor, e.actor_id) for e in events(w, w.anna) if e.actor != "resident"]
    assert sorted(n for n, _, _ in mine if n.startswith("record.")) == [
        "record.changed",
        "record.created",
        "record.deleted",
        "record.list",
        "record.read",
        "record.read",
    ]
    assert {(a, i) for n, a, i in mine if n.startswith("record.")} == {("representative", mid)}
    assert not [
        e
        for e in events(w, w.pieter)
        if e.name.startswith("record.") and e.actor == "representative"
    ]


def test_the_principals_log_says_who_did_it_for_them(w: World) -> None:
    mid = mandate(w, actions=["read", "write"])
    w.clock.advance(seconds=1)
    made = w.client.post(
        "/v1/me/records",
        json={
            "category": "debts",
            "type": "debts.overview",
            "title": "Overzicht",
            "content": {"a": 1},
        },
        headers=act(w.pieter, mid),
    )
    assert made.status_code == 201
    entries = w.client.get("/v1/me/log", headers=w.anna.headers).json()["entries"]
    [created] = [e for e in entries if e["name"] == "record.created"]
    assert created["text_nl"].startswith("Uw schuldenoverzicht is in uw kluis gezet, op ")
    assert created["text_nl"].endswith(", gedaan door Pieter Bewind voor u.")
    assert created["text_en"].endswith(", done by Pieter Bewind for you.")
    # The leaf holds the mandate id, not the name.
    [row] = [e for e in events(w, w.anna) if e.name == "record.created"]
    assert (row.actor, row.actor_id) == ("representative", mid)


def test_a_representative_decides_requests_in_scope_only(w: World) -> None:
    mid = mandate(w)  # debts and health: read, decide-requests
    inside = ask(w, w.anna, ["health.medication", "health.allergies"], "A")
    mixed = ask(w, w.anna, ["health.medication", "education.grades"], "B")
    waiting = w.client.get("/v1/me/requests", headers=act(w.pieter, mid))
    assert waiting.status_code == 200, waiting.text
    assert [g["id"] for g in waiting.json()["grants"]] == [inside]
    assert [
        g["id"] for g in w.client.get("/v1/me/grants", headers=act(w.pieter, mid)).json()["grants"]
    ] == [inside]
    assert w.client.get("/v1/me/requests", headers=w.pieter.headers).json()["grants"] == []
    refused(
        w.client.post(f"/v1/me/grants/{mixed}/approve", json={}, headers=act(w.pieter, mid)),
        "category-not-in-scope",
    )
    refused(
        w.client.get(f"/v1/me/grants/{mixed}", headers=act(w.pieter, mid)), "category-not-in-scope"
    )
    refused(
        w.client.post(f"/v1/me/grants/{mixed}/deny", headers=act(w.pieter, mid)),
        "category-not-in-scope",
    )
    approved = w.client.post(
        f"/v1/me/grants/{inside}/approve",
        json={"datatypes": ["health.medication"]},  # narrower
        headers=act(w.pieter, mid),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["datatypes"] == ["health.medication"]
    with w.c.uow() as uow:
        row = uow.session.scalars(
            select(GrantRow).where(GrantRow.grant_id == uuid.UUID(inside))
        ).one()
        assert (row.granted_by, row.decided_by) == ("legal-representative", rid(w, w.pieter))
    stopped = w.client.post(f"/v1/me/grants/{inside}/revoke", headers=act(w.pieter, mid))
    assert (stopped.json()["status"], stopped.json()["end_reason"]) == ("ended", "revoked")
    history = w.client.get(f"/v1/me/grants/{inside}", headers=w.anna.headers).json()["history"]
    assert [h["status"] for h in history] == ["requested", "approved", "ended"]
    mixed_status = w.client.get(f"/v1/me/grants/{mixed}", headers=w.anna.headers).json()
    assert mixed_status["status"] == "requested"  # untouched by the refusals
    texts = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log", headers=w.anna.headers).json()["entries"]
        if e["name"] in ("grant.approved", "grant.ended")
    ]
    assert texts
    assert all(t.endswith("gedaan door Pieter Bewind voor u.") for t in texts)


def test_deny_under_a_mandate(w: World) -> None:
    mid = mandate(w)
    grant = ask(w, w.anna, ["debts.overview"])
    r = w.client.post(f"/v1/me/grants/{grant}/deny", headers=act(w.pieter, mid))
    assert r.status_code == 200
    assert r.json()["status"] == "denied"
    [row] = [e for e in events(w, w.anna) if e.name == "grant.denied"]
    assert (row.actor, row.actor_id) == ("representative", mid)


def test_the_log_under_a_mandate_shows_only_what_is_in_scope(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["read", "write", "decide-requests"])
    w.client.post(
        "/v1/me/records",
        json={
            "category": "education",
            "type": "education.grades",
            "title": "Cijfers",
            "content": {"a": 1},
        },
        headers=w.anna.headers,
    )  # out of scope: Anna's own change, not shown
    w.clock.advance(seconds=1)
    w.client.post(
        "/v1/me/records",
        json={
            "category": "debts",
            "type": "debts.overview",
            "title": "Schulden",
            "content": {"a": 1},
        },
        headers=w.anna.headers,
    )  # in scope
    ask(w, w.anna, ["education.grades"], "X")  # a request out of scope
    debt_request = ask(w, w.anna, ["debts.overview"], "Y")
    w.clock.advance(seconds=1)
    r = w.client.get("/v1/me/log?limit=100", headers=act(w.pieter, mid))
    assert r.status_code == 200, r.text
    seen = r.json()["entries"]
    names = [(e["name"], e.get("datatype"), e.get("grant_id")) for e in seen]
    assert ("record.created", "debts.overview", None) in names
    assert not [n for n in names if n[1] and n[1].startswith("education")]
    grant_ids = {g for _, _, g in names if g}
    assert grant_ids == {debt_request}
    assert [e["name"] for e in seen if e["name"].startswith("mandate.")] == ["mandate.active"]
    assert [s["name"] for s in r.json()["services"]] == ["Gemeente Utrecht"]
    # The look itself is logged in Anna's log, and Anna sees all of her log.
    [looked] = [e for e in events(w, w.anna) if e.name == "log.read"]
    assert (looked.actor, looked.actor_id) == ("representative", mid)
    full = w.client.get("/v1/me/log?limit=100", headers=w.anna.headers).json()["entries"]
    assert len(full) > len(seen)
    text = next(e["text_nl"] for e in full if e["name"] == "log.read")
    assert text.startswith("Uw logboek is bekeken")
    assert "gedaan door Pieter Bewind" in text


def test_a_log_cursor_outside_the_scope_is_unknown(w: World) -> None:
    mid = mandate(w, categories=["debts"])
    record(w, w.anna, "education", "education.grades", "Cijfers")
    [hidden] = [e for e in events(w, w.anna) if e.name == "record.created"]
    r = w.client.get(f"/v1/me/log?before={hidden.event_id}", headers=act(w.pieter, mid))
    assert r.status_code == 422


# -- the attacks -------------------------------------------------------------------------


def test_someone_elses_or_a_made_up_mandate_id_is_no_mandate(w: World) -> None:
    mid = mandate(w)
    for headers in (act(w.mallory, mid), act(w.pieter, uuid.uuid4()), act(w.anna, mid)):
        for path in ("/v1/me/records", "/v1/me/requests", "/v1/me/log"):
            refused(w.client.get(path, headers=headers), "no-mandate")
    bad = w.client.get("/v1/me/records", headers=act(w.pieter, "not-a-uuid"))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_an_offer_not_accepted_does_not_work(w: World) -> None:
    made = offer(w, categories=["debts"])
    refused(
        w.client.get("/v1/me/records", headers=act(w.pieter, made["mandate"]["id"])), "no-mandate"
    )


def test_revoked_and_given_up_mandates_stop_at_once(w: World) -> None:
    first = mandate(w)
    assert w.client.get("/v1/me/records", headers=act(w.pieter, first)).status_code == 200
    w.client.post(f"/v1/me/people/mandates/{first}/revoke", headers=w.anna.headers)
    refused(w.client.get("/v1/me/records", headers=act(w.pieter, first)), "mandate-ended")
    second = mandate(w)
    w.client.post(f"/v1/me/people/mandates/{second}/give-up", headers=w.pieter.headers)
    refused(w.client.get("/v1/me/requests", headers=act(w.pieter, second)), "mandate-ended")
    tried = [(e.reason, e.actor_id) for e in events(w, w.anna) if e.name == "mandate.refused"]
    assert sorted(tried) == sorted([("mandate-ended", first), ("mandate-ended", second)])


def test_expired_and_not_yet_valid_mandates_by_the_clock(w: World) -> None:
    soon = mandate(w, valid_until=(w.clock.now() + timedelta(minutes=10)).isoformat())
    w.clock.advance(minutes=10)
    # The check compares the period itself: nothing has marked the mandate ended yet.
    with w.c.uow() as uow:
        row = uow.session.scalars(
            select(MandateRow).where(MandateRow.mandate_id == uuid.UUID(soon))
        ).one()
        assert row.status == "active"
    refused(w.client.get("/v1/me/records", headers=act(w.pieter, soon)), "mandate-expired")
    later = mandate(
        w,
        valid_from=(w.clock.now() + timedelta(days=2)).isoformat(),
        valid_until=(w.clock.now() + timedelta(days=30)).isoformat(),
    )
    refused(w.client.get("/v1/me/records", headers=act(w.pieter, later)), "not-yet-valid")


def test_a_category_or_action_out_of_scope(roomy: World) -> None:
    w = roomy
    mid = mandate(w, categories=["debts"], actions=["read"])
    grades = record(w, w.anna, "education", "education.grades", "Cijfers")
    debt = record(w, w.anna, "debts", "debts.overview", "Schulden")
    h = act(w.pieter, mid)
    refused(w.client.get(f"/v1/me/records/{grades}", headers=h), "category-not-in-scope")
    refused(w.client.get(f"/v1/me/records/{grades}/versions", headers=h), "category-not-in-scope")
    refused(w.client.get("/v1/me/records?category=education", headers=h), "category-not-in-scope")
    # read-only: no writes
    refused(
        w.client.patch(f"/v1/me/records/{debt}", json={"title": "x"}, headers=h),
        "action-not-in-scope",
    )
    refused(w.client.delete(f"/v1/me/records/{debt}", headers=h), "action-not-in-scope")
    refused(
        w.client.post(
            "/v1/me/records",
            json={"category": "debts", "type": "debts.overview", "title": "t", "content": {}},
            headers=h,
        ),
        "action-not-in-scope",
    )
    refused(
        w.client.put(
            f"/v1/me/records/{debt}/file",
            content=b"x",
            headers={
                **h,
                "Content-Disposition": 'attachment; filename="a.pdf"',
                "Content-Type": "application/pdf",
            },
        ),
        "action-not-in-scope",
    )
    # no decide-requests: no requests, no grants
    grant = ask(w, w.anna, ["debts.overview"])
    refused(w.client.get("/v1/me/requests", headers=h), "action-not-in-scope")
    refused(w.client.get("/v1/me/grants", headers=h), "action-not-in-scope")
    refused(
        w.client.post(f"/v1/me/grants/{grant}/approve", json={}, headers=h), "action-not-in-scope"
    )
    refused(w.client.post(f"/v1/me/grants/{grant}/revoke", headers=h), "action-not-in-scope")
    # Nothing changed; refused steps are not in the log as done.
    assert w.client.get(f"/v1/me/records/{debt}", headers=w.anna.headers).json()["version"] == 1
    assert (
        w.client.get(f"/v1/me/grants/{grant}", headers=w.anna.headers).json()["status"]
        == "requested"
    )
    assert not [
        e
        for e in events(w, w.anna)
        if e.actor == "representative"
        and e.name in ("record.changed", "record.deleted", "grant.approved")
    ]
    # ... but every refused attempt is, in Anna's log, with its reason (invariant I2).
    tried = [(e.reason, e.datatype) for e in events(w, w.anna) if e.name == "mandate.refused"]
    assert sorted(tried, key=str) == sorted(
        [("category-not-in-scope", "education")] * 3
        + [("action-not-in-scope", "debts")] * 4
        + [("action-not-in-scope", None)] * 2
        + [("action-not-in-scope", "debts")] * 2,
        key=str,
    )
    assert {e.actor_id for e in events(w, w.anna) if e.name == "mandate.refused"} == {mid}
    assert not [e for e in events(w, w.pieter) if e.name == "mandate.refused"]
    texts = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log?limit=100", headers=w.anna.headers).json()["entries"]
        if e["name"] == "mandate.refused"
    ]
    assert (
        "Pieter Bewind wilde iets voor u regelen met uw gegevens over onderwijs, maar dat kon "
        "niet: dat valt buiten wat u toestond, op "
    ) in {t[: t.index(" op ") + 4] for t in texts}


def test_a_write_only_mandate_sees_only_its_own_steps_in_the_log(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["write"])
    record(w, w.anna, "debts", "debts.overview", "Anna's own")
    refused(w.client.get("/v1/me/records", headers=act(w.pieter, mid)), "action-not-in-scope")
    made = w.client.post(
        "/v1/me/records",
        json={"category": "debts", "type": "debts.overview", "title": "t", "content": {}},
        headers=act(w.pieter, mid),
    )
    assert made.status_code == 201
    seen = w.client.get("/v1/me/log", headers=act(w.pieter, mid)).json()["entries"]
    assert sorted(e["name"] for e in seen) == [
        "mandate.active",
        "mandate.refused",  # the list it could not see
        "record.created",
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/me"),
        ("GET", "/v1/me/export"),
        ("GET", "/v1/me/passkeys"),
        ("GET", "/v1/me/sessions"),
        ("GET", "/v1/me/people"),
        ("POST", "/v1/me/people/mandates"),
        ("POST", "/v1/me/people/children"),
    ],
)
def test_routes_that_stay_closed_refuse_the_header(w: World, method: str, path: str) -> None:
    mid = mandate(w, actions=["read", "write", "decide-requests"])
    body = {  # a valid body where one is needed: the refusal is not a validation error
        "categories": ["debts"],
        "actions": ["read"],
        "valid_until": (w.clock.now() + timedelta(days=30)).isoformat(),
        "display_name": "Sanne",
    }
    if path == "/v1/me/people/mandates":
        body.pop("display_name")
    r = w.client.request(method, path, headers=act(w.pieter, mid), json=body)
    refused(r, "not-for-representatives")
    assert [m["status"] for m in people(w, w.anna)["acting_for_me"]] == ["active"]
    assert people(w, w.pieter)["acting_for"][0]["kind"] == "mandate"  # no child was made
    assert w.client.get("/v1/me", headers=w.anna.headers).status_code == 200
    assert w.client.get("/v1/me", headers=w.pieter.headers).status_code == 200


def test_a_parent_decides_the_childs_requests(w: World) -> None:
    r = w.client.post(
        "/v1/me/people/children", json={"display_name": "Sanne"}, headers=w.anna.headers
    )
    mid = r.json()["id"]
    child_id = w.c.people.acting_for(rid(w, w.anna), uuid.UUID(mid)).principal_id
    school = w.c.services.add(
        operator="test-operator",
        name="Basisschool De Regenboog",
        organisation="oin:00000001234567890000",
        kind="school",
        datatypes=["education.grades"],
        actions=["read", "write"],
        jwks=JWKS,
    )
    # The parent makes the child's connection code over HTTP, under the parent mandate.
    made = w.client.post("/v1/me/connection-codes", headers=act(w.anna, mid))
    assert made.status_code == 201, made.text
    subject = w.c.services.redeem(school, made.json()["code"])
    assert subject != w.c.services.redeem(
        school, w.client.post("/v1/me/connection-codes", headers=w.anna.headers).json()["code"]
    ), "the code made under the mandate must connect the child, not the parent"
    w.c.grants.request(
        school,
        subject,
        AccessRequestSpec(
            datatypes=frozenset({"education.grades"}),
            actions=frozenset({"write"}),
            purpose_uri="https://w3id.org/dpv#ServiceProvision",
            purpose_text="Rapport",
            legal_basis="https://w3id.org/dpv#Consent",
            procedure_ref="2026-groep-5",
            procedure_description=None,
            procedure_planned_end=None,
            valid_until=None,
            binding_message=None,
        ),
    )
    [waiting] = w.client.get("/v1/me/requests", headers=act(w.anna, mid)).json()["grants"]
    assert waiting["service"]["name"] == "Basisschool De Regenboog"
    assert w.client.get("/v1/me/requests", headers=w.anna.headers).json()["grants"] == []
    ok = w.client.post(f"/v1/me/grants/{waiting['id']}/approve", json={}, headers=act(w.anna, mid))
    assert ok.status_code == 200, ok.text
    with w.c.uow() as uow:
        row = uow.session.scalars(
            select(GrantRow).where(GrantRow.grant_id == uuid.UUID(waiting["id"]))
        ).one()
        assert (row.resident_id, row.granted_by) == (child_id, "parent")
    # Someone else cannot use the parent's mandate.
    refused(w.client.get("/v1/me/requests", headers=act(w.mallory, mid)), "no-mandate")


def test_a_parent_offers_an_ordinary_mandate_for_the_child(w: World) -> None:
    parent = child_of(w, w.anna)
    body = {
        "categories": ["health", "education"],
        "actions": ["read", "decide-requests"],
        "valid_until": (w.clock.now() + timedelta(days=365)).isoformat(),
        "label": "Tweede ouder",
    }
    r = w.client.post("/v1/me/people/mandates", json=body, headers=act(w.anna, parent))
    assert r.status_code == 201, r.text
    offered = r.json()
    held = accept(w, w.pieter, offered["code"])
    assert held.status_code == 200, held.text
    assert held.json()["name"] == "Sanne"  # the principal is the child, not Anna
    second = held.json()["id"]
    record(w, w.anna, "health", "health.allergies", "Anna's eigen allergie")
    made = w.client.post(
        "/v1/me/records",
        json={"category": "health", "type": "health.allergies", "title": "Noten", "content": {}},
        headers=act(w.anna, parent),
    )
    assert made.status_code == 201
    seen = w.client.get("/v1/me/records", headers=act(w.pieter, second)).json()["records"]
    assert [r["id"] for r in seen] == [made.json()["id"]]  # the child's, not Anna's
    # The child's mandates, as the parent sees them; an ordinary mandate cannot go further
    # (a second parent with a parent's own powers: test_second_parent_api.py).
    mine = w.client.get("/v1/me/people", headers=act(w.anna, parent)).json()
    assert {m["id"] for m in mine["acting_for_me"]} == {parent, second}
    refused(w.client.get("/v1/me/people", headers=act(w.pieter, second)), "not-for-representatives")
    refused(
        w.client.post("/v1/me/people/mandates", json=body, headers=act(w.pieter, second)),
        "not-for-representatives",
    )
    refused(
        w.client.post(f"/v1/me/people/mandates/{second}/revoke", headers=act(w.pieter, second)),
        "not-for-representatives",
    )
    # An ordinary representative never gives mandates in the principal's name.
    anna_for_pieter = mandate(w, actions=["read", "write", "decide-requests"])
    refused(
        w.client.post("/v1/me/people/mandates", json=body, headers=act(w.pieter, anna_for_pieter)),
        "not-for-representatives",
    )
    # The parent ends the second parent's mandate, never their own standing one.
    ended = w.client.post(f"/v1/me/people/mandates/{second}/revoke", headers=act(w.anna, parent))
    assert (ended.json()["status"], ended.json()["end_reason"]) == ("ended", "revoked")
    own = w.client.post(f"/v1/me/people/mandates/{parent}/revoke", headers=act(w.anna, parent))
    assert own.status_code == 409  # the last parent's (test_second_parent_api.py)
    refused(w.client.get("/v1/me/records", headers=act(w.pieter, second)), "mandate-ended")
    # The child's log says the parent did it.
    texts = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log", headers=act(w.anna, parent)).json()["entries"]
        if e["name"] in ("mandate.offered", "mandate.ended")
    ]
    assert sorted(t.split(",")[0] for t in texts) == [
        "Er is gestopt dat iemand dingen voor u regelt",
        "Er is iemand gevraagd om dingen voor u te regelen",
    ]
    assert all(t.endswith("gedaan door Anna voor u.") for t in texts)


def test_a_parent_deletes_the_childs_vault_after_signing_in_again(w: World) -> None:
    parent = child_of(w, w.anna)
    w.client.post(
        "/v1/me/records",
        json={"category": "health", "type": "health.allergies", "title": "Noten", "content": {}},
        headers=act(w.anna, parent),
    )
    child_id = w.c.people.acting_for(rid(w, w.anna), uuid.UUID(parent)).principal_id
    # Someone else, a made-up id, an ordinary mandate: refused, nothing deleted.
    refused(
        w.client.delete(f"/v1/me/people/children/{parent}", headers=w.mallory.headers), "no-mandate"
    )
    refused(
        w.client.delete(f"/v1/me/people/children/{uuid.uuid4()}", headers=w.anna.headers),
        "no-mandate",
    )
    ordinary = mandate(w, actions=["read", "write"])
    refused(
        w.client.delete(f"/v1/me/people/children/{ordinary}", headers=w.pieter.headers),
        "not-a-parent",
    )
    refused(
        w.client.delete(f"/v1/me/people/children/{parent}", headers=act(w.anna, parent)),
        "not-for-representatives",
    )
    w.clock.advance(minutes=6)  # the sign-in is no longer recent
    stale = w.client.delete(f"/v1/me/people/children/{parent}", headers=w.anna.headers)
    assert stale.status_code == 403, stale.text
    assert w.c.people.acting_for(rid(w, w.anna), uuid.UUID(parent)).principal_id == child_id
    reauthenticate(w, w.anna)
    gone = w.client.delete(f"/v1/me/people/children/{parent}", headers=w.anna.headers)
    assert gone.status_code == 204, gone.text
    refused(w.client.get("/v1/me/records", headers=act(w.anna, parent)), "no-mandate")
    held = w.client.get("/v1/me/people", headers=w.anna.headers).json()["acting_for"]
    assert parent not in {m["id"] for m in held}
    with w.c.uow() as uow:
        child = uow.residents.get(child_id)
        assert child is not None
        assert (child.status, child.display_name_ct) == ("deleted", None)
        [deleted] = uow.session.scalars(
            select(AccessEventRow).where(
                AccessEventRow.resident_id == child_id, AccessEventRow.name == "vault.deleted"
            )
        ).all()
        assert (deleted.actor, deleted.actor_id) == ("representative", parent)
    # Anna's own vault is untouched.
    assert w.client.get("/v1/me", headers=w.anna.headers).status_code == 200


def vault_events(w: World, resident_id: uuid.UUID, name: str) -> list[Event]:
    with w.c.uow() as uow:
        return [
            Event(e.event_id, e.name, e.actor, e.actor_id, e.datatype, e.reason)
            for e in uow.session.scalars(
                select(AccessEventRow)
                .where(AccessEventRow.resident_id == resident_id, AccessEventRow.name == name)
                .order_by(AccessEventRow.at, AccessEventRow.event_id)
            )
        ]


def test_a_refused_deletion_of_a_childs_vault_is_in_the_childs_log(w: World) -> None:
    parent = child_of(w, w.anna)
    child_id = w.c.people.acting_for(rid(w, w.anna), uuid.UUID(parent)).principal_id
    body = {
        "categories": ["health"],
        "actions": ["read", "write"],
        "valid_until": (w.clock.now() + timedelta(days=365)).isoformat(),
    }
    made = w.client.post("/v1/me/people/mandates", json=body, headers=act(w.anna, parent))
    second = accept(w, w.pieter, made.json()["code"]).json()["id"]
    # The second parent holds an ordinary mandate: refused, and the child's log says so.
    refused(
        w.client.delete(f"/v1/me/people/children/{second}", headers=w.pieter.headers),
        "not-a-parent",
    )
    [tried] = vault_events(w, child_id, "mandate.refused")
    assert (tried.actor, tried.actor_id, tried.reason) == ("representative", second, "not-a-parent")
    with w.c.uow() as uow:
        row = uow.session.scalars(
            select(AccessEventRow).where(AccessEventRow.event_id == tried.event_id)
        ).one()
        assert (row.outcome, row.action) == ("deny", "delete-vault")
    # (The parent does not see it under the parent mandate: another mandate's steps without
    # a category are outside what a representative sees of the log, docs/people.md.)
    seen = w.client.get("/v1/me/log", headers=act(w.anna, parent)).json()["entries"]
    assert "mandate.refused" not in {e["name"] for e in seen}
    # Someone else's parent mandate id names no vault of theirs: refused, logged nowhere.
    refused(
        w.client.delete(f"/v1/me/people/children/{parent}", headers=w.mallory.headers), "no-mandate"
    )
    assert len(vault_events(w, child_id, "mandate.refused")) == 1
    assert not logged(w, w.mallory, "mandate.refused")
    # An ordinary mandate over an adult's vault: in that principal's log.
    ordinary = mandate(w, actions=["read", "write"])
    refused(
        w.client.delete(f"/v1/me/people/children/{ordinary}", headers=w.pieter.headers),
        "not-a-parent",
    )
    assert [(e.actor_id, e.reason) for e in logged(w, w.anna, "mandate.refused")] == [
        (ordinary, "not-a-parent")
    ]
    texts = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log", headers=w.anna.headers).json()["entries"]
        if e["name"] == "mandate.refused"
    ]
    assert [t.split(", op ")[0] for t in texts] == [
        "Pieter Bewind wilde uw kluis weggooien, maar dat kon niet: dat mag alleen een ouder"
    ]
    # Nothing was deleted.
    with w.c.uow() as uow:
        child = uow.residents.get(child_id)
        assert child is not None
        assert child.status == "active"
    assert w.client.get("/v1/me/records", headers=act(w.anna, parent)).status_code == 200


def provenance(w: World, who: dict[str, str], record_id: str) -> dict[str, Any]:
    r = w.client.get(f"/v1/me/records/{record_id}", headers=who)
    assert r.status_code == 200, r.text
    return r.json()["provenance"]  # type: ignore[no-any-return]


def writers(w: World, who: dict[str, str], record_id: str) -> list[tuple[Any, ...]]:
    r = w.client.get(f"/v1/me/records/{record_id}/versions", headers=who)
    assert r.status_code == 200, r.text
    return [
        (v["version"], v["written_by"], v["mandate_id"], v["representative"])
        for v in r.json()["versions"]
    ]


def test_a_record_written_under_a_mandate_says_who_wrote_it(w: World) -> None:
    mid = mandate(w, actions=["read", "write"])
    made = w.client.post(
        "/v1/me/records",
        json={"category": "debts", "type": "debts.overview", "title": "Schulden", "content": {}},
        headers=act(w.pieter, mid),
    )
    assert made.status_code == 201, made.text
    by_pieter = {
        "written_by": "representative",
        "service_id": None,
        "grant_id": None,
        "mandate_id": mid,
        "representative": "Pieter Bewind",
    }
    assert made.json()["provenance"] == by_pieter
    debt = made.json()["id"]
    # The principal sees who it was, in her own vault; so does the representative.
    assert provenance(w, w.anna.headers, debt) == by_pieter
    assert provenance(w, act(w.pieter, mid), debt) == by_pieter
    listed = w.client.get("/v1/me/records", headers=w.anna.headers).json()["records"]
    assert [r["provenance"] for r in listed] == [by_pieter]
    # Each version says who wrote it: Anna's own edit is hers, Pieter's his.
    w.client.patch(f"/v1/me/records/{debt}", json={"title": "Schulden 2"}, headers=w.anna.headers)
    w.client.patch(
        f"/v1/me/records/{debt}", json={"title": "Schulden 3"}, headers=act(w.pieter, mid)
    )
    assert writers(w, w.anna.headers, debt) == [
        (1, "representative", mid, "Pieter Bewind"),
        (2, "resident", None, None),
        (3, "representative", mid, "Pieter Bewind"),
    ]
    assert provenance(w, w.anna.headers, debt) == by_pieter  # the record's first writer
    # A record Anna wrote herself and Pieter changed: hers, with his version.
    own = record(w, w.anna, "health", "health.medication", "Medicijnen")
    w.client.patch(f"/v1/me/records/{own}", json={"title": "M"}, headers=act(w.pieter, mid))
    assert provenance(w, w.anna.headers, own)["written_by"] == "resident"
    assert [x[1] for x in writers(w, act(w.pieter, mid), own)] == ["resident", "representative"]
    # Another representative of Anna's, reading in scope, sees the name as her log shows it
    # to them, but not the id of a mandate that is not theirs.
    made = offer(w, categories=["debts"], actions=["read"])
    mallorys = accept(w, w.mallory, made["code"]).json()["id"]
    assert provenance(w, act(w.mallory, mallorys), debt) == {**by_pieter, "mandate_id": None}
    assert [x[2] for x in writers(w, act(w.mallory, mallorys), debt)] == [None, None, None]
    # Once the mandate has ended, the name is still Anna's to read (sealed in the mandate).
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    assert provenance(w, w.anna.headers, debt)["representative"] == "Pieter Bewind"
    # Nothing of it in Pieter's own vault or anyone else's.
    assert w.client.get("/v1/me/records", headers=w.pieter.headers).json()["records"] == []
    assert w.client.get(f"/v1/me/records/{debt}", headers=w.mallory.headers).status_code == 404


def test_files_under_a_mandate(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["read", "write"])
    h = act(w.pieter, mid)
    made = w.client.post(
        "/v1/me/records",
        json={
            "category": "debts",
            "type": "debts.payment_plan",
            "title": "Regeling",
            "kind": "file",
        },
        headers=h,
    )
    assert made.status_code == 201, made.text
    rid_ = made.json()["id"]
    up = w.client.put(
        f"/v1/me/records/{rid_}/file",
        content=b"%PDF-1.7 regeling",
        headers={
            **h,
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="regeling.pdf"',
        },
    )
    assert up.status_code == 200, up.text
    down = w.client.get(f"/v1/me/records/{rid_}/file", headers=h)
    assert down.status_code == 200
    assert down.content == b"%PDF-1.7 regeling"
    assert w.client.get(f"/v1/me/records/{rid_}/file", headers=w.anna.headers).content == (
        b"%PDF-1.7 regeling"
    )
    # Revoked: the file is out of reach at once.
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    refused(w.client.get(f"/v1/me/records/{rid_}/file", headers=h), "mandate-ended")
    names = sorted(e.name for e in events(w, w.anna) if e.actor_id == mid)
    assert names.count("record.read") == 1  # the download
    assert names.count("record.changed") == 1  # the upload


def test_a_connection_code_under_a_mandate_needs_decide_requests_and_is_logged(
    w: World,
) -> None:
    """A representative who may decide on requests connects a service to the principal's
    vault (the service can then only ask); one who may only read or write cannot, and the
    refusal is in the principal's log. The code connects the principal, never the holder."""
    read_only = mandate(w, actions=["read"])
    refused(
        w.client.post("/v1/me/connection-codes", headers=act(w.pieter, read_only)),
        "action-not-in-scope",
    )
    [refusal] = [e for e in events(w, w.anna) if e.name == "mandate.refused"]
    assert (refusal.actor_id, refusal.reason) == (read_only, "action-not-in-scope")
    deciding = mandate(w, actions=["decide-requests"])
    made = w.client.post("/v1/me/connection-codes", headers=act(w.pieter, deciding))
    assert made.status_code == 201, made.text
    [logged] = [e for e in events(w, w.anna) if e.name == "connection.code"]
    assert (logged.actor, logged.actor_id) == ("representative", deciding)
    assert "connection.code" not in {e.name for e in events(w, w.pieter)}
    service = w.c.services.add(
        operator="test-operator",
        name="Kredietbank",
        organisation="oin:00000001002220647001",
        kind="other",
        datatypes=["debts.overview"],
        actions=["read"],
        jwks=JWKS,
    )
    subject = w.c.services.redeem(service, made.json()["code"])
    own, _ = w.c.services.connection_code(rid(w, w.anna))
    assert subject == w.c.services.redeem(service, own)  # Anna's pairwise subject
    # Someone else's mandate id, a revoked mandate: no code.
    refused(
        w.client.post("/v1/me/connection-codes", headers=act(w.mallory, deciding)), "no-mandate"
    )
    w.client.post(f"/v1/me/people/mandates/{deciding}/revoke", headers=w.anna.headers)
    refused(
        w.client.post("/v1/me/connection-codes", headers=act(w.pieter, deciding)), "mandate-ended"
    )
    sentence = w.client.get("/v1/me/log", headers=w.anna.headers).json()["entries"]
    assert any(
        "Er is een koppelcode gemaakt" in e["text_nl"] and "voor u" in e["text_nl"]
        for e in sentence
    )


# -- found in the security review ---------------------------------------------------------


def test_a_write_only_mandate_does_not_read_content_through_an_edit(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["write"])
    h = act(w.pieter, mid)
    debt = record(w, w.anna, "debts", "debts.overview", "Schulden")
    w.client.patch(
        f"/v1/me/records/{debt}", json={"content": {"secret": "BKR 4711"}}, headers=w.anna.headers
    )
    refused(w.client.get(f"/v1/me/records/{debt}", headers=h), "action-not-in-scope")
    r = w.client.patch(f"/v1/me/records/{debt}", json={"title": "Nieuw"}, headers=h)
    assert r.status_code == 200, r.text
    assert "BKR 4711" not in r.text, r.text
    assert (r.json()["title"], r.json()["content"], r.json()["current_version"]) == (
        None,
        None,
        3,
    )
    # The edit was done (Anna sees the new title and her content) ...
    mine = w.client.get(f"/v1/me/records/{debt}", headers=w.anna.headers).json()
    assert (mine["title"], mine["content"]) == ("Nieuw", {"secret": "BKR 4711"})
    # ... and asking whether it may show the record is no attempt: nothing refused logged.
    assert [e.name for e in events(w, w.anna) if e.name == "mandate.refused"] == [
        "mandate.refused"  # the GET above
    ]
    # An upload's answer does not show the principal's title either.
    made = w.client.post(
        "/v1/me/records",
        json={"category": "debts", "type": "debts.payment_plan", "title": "Geheim", "kind": "file"},
        headers=w.anna.headers,
    )
    up = w.client.put(
        f"/v1/me/records/{made.json()['id']}/file",
        content=b"%PDF-1.7",
        headers={
            **h,
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="a.pdf"',
        },
    )
    assert up.status_code == 200, up.text
    assert "Geheim" not in up.text


def test_a_read_and_write_mandate_still_sees_what_it_wrote(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["read", "write"])
    debt = record(w, w.anna, "debts", "debts.overview", "Schulden")
    r = w.client.patch(
        f"/v1/me/records/{debt}", json={"title": "Nieuw"}, headers=act(w.pieter, mid)
    )
    assert (r.json()["title"], r.json()["content"]) == ("Nieuw", {"x": 1})


def test_another_vaults_ids_are_unknown_under_a_valid_mandate(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["read", "write", "decide-requests"])
    h = act(w.pieter, mid)
    theirs = record(w, w.mallory, "debts", "debts.overview", "Mallory's")
    grant = ask(w, w.mallory, ["debts.overview"], "M")
    for method, path, body in [
        ("GET", f"/v1/me/records/{theirs}", None),
        ("GET", f"/v1/me/records/{theirs}/versions", None),
        ("GET", f"/v1/me/records/{theirs}/versions/1", None),
        ("PATCH", f"/v1/me/records/{theirs}", {"title": "x"}),
        ("DELETE", f"/v1/me/records/{theirs}", None),
        ("GET", f"/v1/me/records/{theirs}/file", None),
        ("GET", f"/v1/me/grants/{grant}", None),
        ("POST", f"/v1/me/grants/{grant}/approve", {}),
        ("POST", f"/v1/me/grants/{grant}/deny", None),
        ("POST", f"/v1/me/grants/{grant}/revoke", None),
    ]:
        r = w.client.request(method, path, json=body, headers=h)
        assert r.status_code == 404, (method, path, r.text)
    assert (
        w.client.get(f"/v1/me/records/{theirs}", headers=w.mallory.headers).json()["version"] == 1
    )
    assert (
        w.client.get(f"/v1/me/grants/{grant}", headers=w.mallory.headers).json()["status"]
        == "requested"
    )
    assert not [e for e in events(w, w.mallory) if e.actor == "representative"]


def test_approving_narrower_cannot_add_datatypes_outside_the_mandate(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["decide-requests"])
    grant = ask(w, w.anna, ["debts.overview"], "N")
    r = w.client.post(
        f"/v1/me/grants/{grant}/approve",
        json={"datatypes": ["debts.overview", "health.medication"]},
        headers=act(w.pieter, mid),
    )
    assert r.status_code == 422, r.text


# -- a bound on refusals (vault/representation/throttle.py) ------------------------------


def too_many(r: Any) -> int:
    """A 429 problem+json with Retry-After: the seconds to wait."""
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/problems/too-many-requests")
    assert r.json()["reason"] == "too-many-refusals"  # this limit, not the connection's
    return int(r.headers["retry-after"])


def logged(w: World, who: Resident, name: str) -> list[Event]:
    return [e for e in events(w, who) if e.name == name]


def later(w: World, minutes: int) -> None:
    """`minutes` on, the sessions kept alive (they end after 30 idle minutes)."""
    while minutes > 0:
        step = min(minutes, 20)
        w.clock.advance(minutes=step)
        minutes -= step
        for who in (w.anna, w.pieter):
            assert w.client.get("/v1/me", headers=who.headers).status_code == 200


def test_an_ended_mandate_cannot_flood_the_principals_log(w: World) -> None:
    """10 refusals at once are logged (then one per 6 minutes); beyond, 429 before any log
    write, and one `mandate.throttled` an hour tells the principal."""
    mid = mandate(w, categories=["debts"])
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    before = len(events(w, w.anna))
    answers = [w.client.get("/v1/me/records", headers=act(w.pieter, mid)) for _ in range(50)]
    for r in answers[:10]:
        refused(r, "mandate-ended")
    assert {too_many(r) for r in answers[10:]} == {360}  # 10 an hour: the next in 6 minutes
    assert len(logged(w, w.anna, "mandate.refused")) == 10
    [throttled] = logged(w, w.anna, "mandate.throttled")
    assert (throttled.actor, throttled.actor_id, throttled.reason) == (
        "representative",
        mid,
        "too-many-refusals",
    )
    assert len(events(w, w.anna)) == before + 11  # nothing else of the 50 attempts
    # Six minutes on, one more refusal is logged, the next is refused again, no new notice.
    later(w, 6)
    refused(w.client.get("/v1/me/requests", headers=act(w.pieter, mid)), "mandate-ended")
    assert too_many(w.client.get("/v1/me/log", headers=act(w.pieter, mid))) == 360
    assert len(logged(w, w.anna, "mandate.refused")) == 11
    assert len(logged(w, w.anna, "mandate.throttled")) == 1
    # An hour on, the bucket is full again, and a new flood gets one new notice.
    later(w, 61)
    answers = [w.client.get("/v1/me/records", headers=act(w.pieter, mid)) for _ in range(30)]
    assert [r.status_code for r in answers] == [403] * 10 + [429] * 20
    assert len(logged(w, w.anna, "mandate.refused")) == 21
    assert len(logged(w, w.anna, "mandate.throttled")) == 2
    # The principal reads it in words.
    texts = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log?limit=100", headers=w.anna.headers).json()["entries"]
        if e["name"] == "mandate.throttled"
    ]
    assert len(texts) == 2
    assert all(
        t.startswith("Pieter Bewind probeerde vaak iets voor u te doen zonder toestemming, op ")
        for t in texts
    )


def test_the_refusal_bound_is_per_representative_and_never_stops_what_is_allowed(
    w: World,
) -> None:
    ended = mandate(w, categories=["debts"])
    live = mandate(w, categories=["health"], actions=["read"])
    w.client.post(f"/v1/me/people/mandates/{ended}/revoke", headers=w.anna.headers)
    for _ in range(10):
        refused(w.client.get("/v1/me/records", headers=act(w.pieter, ended)), "mandate-ended")
    too_many(w.client.get("/v1/me/records", headers=act(w.pieter, ended)))
    # What Pieter's other mandate allows still works, and is logged as usual ...
    assert w.client.get("/v1/me/records", headers=act(w.pieter, live)).status_code == 200
    assert [e.actor_id for e in logged(w, w.anna, "record.list")] == [live]
    # ... but his refusals in Anna's log are over the bound, under any of her mandates.
    too_many(w.client.get("/v1/me/records?category=debts", headers=act(w.pieter, live)))
    assert len(logged(w, w.anna, "mandate.refused")) == 10
    # Another representative of Anna's has a budget of their own.
    made = offer(w, categories=["debts"])
    r = accept(w, w.mallory, made["code"])
    assert r.status_code == 200, r.text
    mallorys = str(r.json()["id"])
    refused(
        w.client.get("/v1/me/records?category=income", headers=act(w.mallory, mallorys)),
        "category-not-in-scope",
    )
    theirs_logged = [e for e in logged(w, w.anna, "mandate.refused") if e.actor_id == mallorys]
    assert [e.reason for e in theirs_logged] == ["category-not-in-scope"]
    # Pieter acting for another principal: a budget of its own too (per principal).
    body = {
        "categories": ["debts"],
        "actions": ["read"],
        "valid_until": (w.clock.now() + timedelta(days=30)).isoformat(),
    }
    theirs = w.client.post("/v1/me/people/mandates", json=body, headers=w.mallory.headers)
    assert theirs.status_code == 201, theirs.text
    for_mallory = accept(w, w.pieter, theirs.json()["code"]).json()["id"]
    refused(
        w.client.get("/v1/me/requests", headers=act(w.pieter, for_mallory)), "action-not-in-scope"
    )
    assert [e.actor_id for e in logged(w, w.mallory, "mandate.refused")] == [for_mallory]
    # The principal's own requests, and Pieter's in his own vault, are never counted.
    for _ in range(20):
        assert w.client.get("/v1/me/records", headers=w.anna.headers).status_code == 200
        assert w.client.get("/v1/me/records", headers=w.pieter.headers).status_code == 200
    assert record(w, w.anna, "debts", "debts.overview", "Schulden") != ""
    # No mandate at all (someone else's id) is not logged, so it is not counted either.
    for _ in range(20):
        refused(w.client.get("/v1/me/records", headers=act(w.mallory, ended)), "no-mandate")
    assert len(logged(w, w.anna, "mandate.refused")) == 11  # Pieter's 10, Mallory's 1
    # And Pieter is still bounded in Anna's log, not in Mallory's.
    too_many(w.client.get("/v1/me/requests", headers=act(w.pieter, ended)))
    refused(
        w.client.get("/v1/me/grants", headers=act(w.pieter, for_mallory)), "action-not-in-scope"
    )


def test_the_refusal_bound_fails_closed(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The buckets cannot be reached: 503, nothing logged, nothing served."""
    import vault.representation.throttle as throttle

    mid = mandate(w, categories=["debts"])
    grades = record(w, w.anna, "education", "education.grades", "Cijfers")

    def unreachable(*args: object, **kwargs: object) -> tuple[bool, int]:
        raise OperationalError("INSERT INTO rate_limit_buckets", {}, ConnectionError("gone"))

    monkeypatch.setattr(throttle, "take_in", unreachable)
    before = events(w, w.anna)
    r = w.client.get(f"/v1/me/records/{grades}", headers=act(w.pieter, mid))
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "Cijfers" not in r.text
    assert events(w, w.anna) == before
    # What the mandate allows needs no bucket.
    assert w.client.get("/v1/me/records", headers=act(w.pieter, mid)).status_code == 200


# -- the principal's log proofs, a whole service, a procedure, under a mandate -----------------


def approve(w: World, who: Resident, grant: str) -> None:
    r = w.client.post(f"/v1/me/grants/{grant}/approve", json={}, headers=who.headers)
    assert r.status_code == 200, r.text


def grant_of(w: World, who: Resident, grant: str) -> dict[str, Any]:
    r = w.client.get(f"/v1/me/grants/{grant}", headers=who.headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def test_a_proof_of_an_entry_of_the_principals_log(w: World) -> None:
    mid = mandate(w, categories=["debts"], actions=["read", "write"])
    record(w, w.anna, "debts", "debts.overview", "Schulden")
    record(w, w.anna, "education", "education.grades", "Cijfers")  # outside the mandate
    record(w, w.mallory, "debts", "debts.overview", "Mallory's")
    record(w, w.pieter, "debts", "debts.overview", "Pieters eigen")
    assert w.c.integrator.run_once() > 0
    h = act(w.pieter, mid)
    entries = w.client.get("/v1/me/log?limit=100", headers=h).json()["entries"]
    [created] = [e for e in entries if e["name"] == "record.created"]
    assert created["datatype"] == "debts.overview"
    r = w.client.get(f"/v1/me/log/{created['id']}/proof", headers=h)
    assert r.status_code == 200, r.text
    proof = r.json()
    assert (proof["event_id"], proof["index"]) == (created["id"], created["log_index"])
    checkpoint = open_checkpoint(
        proof["checkpoint"].encode(), Verifier.parse(w.c.log_key.verifier_key), w.c.log_key.name
    )
    merkle.verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        proof["index"],
        checkpoint.size,
        [base64.b64decode(x) for x in proof["hashes"]],
        checkpoint.root_hash,
    )
    # It is Anna's entry: the same proof she gets for it herself.
    hers = w.client.get(f"/v1/me/log/{created['id']}/proof", headers=w.anna.headers).json()
    assert hers["leaf_hash"] == proof["leaf_hash"]

    # Attacks: an entry of hers outside the mandate, another principal's, the
    # representative's own, a made-up id: all alike not found, none logged.
    made_up = w.client.get(f"/v1/me/log/{uuid.uuid4()}/proof", headers=h)
    assert made_up.status_code == 404
    hidden = next(
        e
        for e in events(w, w.anna)
        if e.name == "record.created" and e.datatype == "education.grades"
    )
    others = [
        hidden.event_id,
        next(e.event_id for e in events(w, w.mallory) if e.name == "record.created"),
        next(e.event_id for e in events(w, w.pieter) if e.name == "record.created"),
    ]
    for event_id in others:
        r = w.client.get(f"/v1/me/log/{event_id}/proof", headers=h)
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert {**r.json(), "instance": None} == {**made_up.json(), "instance": None}
    # The proof served is in Anna's log, by the representative; the refused ones are not.
    proofs = [e for e in events(w, w.anna) if e.name == "log.proof"]
    assert [(e.actor, e.actor_id) for e in proofs] == [("representative", mid)]
    assert not [e for e in events(w, w.anna) if e.name == "mandate.refused"]
    assert not [e for e in events(w, w.mallory) + events(w, w.pieter) if e.name == "log.proof"]
    said = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log", headers=w.anna.headers).json()["entries"]
        if e["name"] == "log.proof"
    ]
    assert len(said) == 1
    assert said[0].startswith("Er is gecontroleerd dat iets echt in uw logboek staat, op ")
    assert said[0].endswith(", gedaan door Pieter Bewind voor u.")


def test_a_proof_under_an_ended_mandate_is_refused_and_logged(w: World) -> None:
    mid = mandate(w, categories=["debts"])
    record(w, w.anna, "debts", "debts.overview", "Schulden")
    w.c.integrator.run_once()
    [created] = [
        e
        for e in w.client.get("/v1/me/log", headers=act(w.pieter, mid)).json()["entries"]
        if e["name"] == "record.created"
    ]
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    refused(
        w.client.get(f"/v1/me/log/{created['id']}/proof", headers=act(w.pieter, mid)),
        "mandate-ended",
    )
    tried = [(e.reason, e.actor_id) for e in events(w, w.anna) if e.name == "mandate.refused"]
    assert tried == [("mandate-ended", mid)]
    assert not [e for e in events(w, w.anna) if e.name == "log.proof"]


def test_stopping_a_whole_service_stops_only_what_the_mandate_covers(w: World) -> None:
    mid = mandate(w)  # debts and health: read, decide-requests
    health = ask(w, w.anna, ["health.medication"], "A")
    approve(w, w.anna, health)
    debts = ask(w, w.anna, ["debts.overview"], "B")  # waiting
    mixed = ask(w, w.anna, ["health.medication", "education.grades"], "C")
    approve(w, w.anna, mixed)
    outside = ask(w, w.anna, ["education.grades"], "D")
    approve(w, w.anna, outside)
    elsewhere = ask(w, w.anna, ["health.allergies"], "E", service_name="Zorgkantoor Midden")
    approve(w, w.anna, elsewhere)
    theirs = ask(w, w.mallory, ["health.medication"], "M")  # another principal, same service
    approve(w, w.mallory, theirs)
    service = grant_of(w, w.anna, health)["service"]["id"]

    # Without decide-requests: refused, logged, nothing stopped.
    read_only = mandate(w, actions=["read"])
    refused(
        w.client.post(f"/v1/me/services/{service}/revoke", headers=act(w.pieter, read_only)),
        "action-not-in-scope",
    )
    assert grant_of(w, w.anna, health)["status"] == "approved"
    assert [(e.reason, e.actor_id) for e in events(w, w.anna) if e.name == "mandate.refused"] == [
        ("action-not-in-scope", read_only)
    ]
    # Someone else's use of the mandate id: refused before anything.
    refused(
        w.client.post(f"/v1/me/services/{service}/revoke", headers=act(w.mallory, mid)),
        "no-mandate",
    )

    r = w.client.post(f"/v1/me/services/{service}/revoke", headers=act(w.pieter, mid))
    assert r.status_code == 200, r.text
    assert r.json() == {"stopped": 2}  # counts only what it stopped
    assert (grant_of(w, w.anna, health)["status"], grant_of(w, w.anna, health)["end_reason"]) == (
        "ended",
        "revoked",
    )
    assert grant_of(w, w.anna, debts)["status"] == "denied"
    # Outside the mandate, another service, another principal: untouched.
    assert grant_of(w, w.anna, mixed)["status"] == "approved"
    assert grant_of(w, w.anna, outside)["status"] == "approved"
    assert grant_of(w, w.anna, elsewhere)["status"] == "approved"
    assert grant_of(w, w.mallory, theirs)["status"] == "approved"
    # Each step is in Anna's log, done by Pieter for her.
    done = [
        (e.name, e.reason)
        for e in events(w, w.anna)
        if e.actor == "representative" and e.name in ("grant.ended", "grant.denied")
    ]
    assert sorted(done, key=str) == [("grant.denied", None), ("grant.ended", "revoked")]
    assert {e.actor_id for e in events(w, w.anna) if e.name in ("grant.ended", "grant.denied")} == {
        mid
    }
    assert not [e for e in events(w, w.mallory) if e.actor == "representative"]
    texts = [
        e["text_nl"]
        for e in w.client.get("/v1/me/log?limit=100", headers=w.anna.headers).json()["entries"]
        if e["name"] in ("grant.ended", "grant.denied")
    ]
    assert len(texts) == 2
    assert all("gedaan door Pieter Bewind voor u." in t for t in texts)
    # Again: nothing left that the mandate covers; a service Anna has nothing with: nothing.
    again = w.client.post(f"/v1/me/services/{service}/revoke", headers=act(w.pieter, mid))
    assert again.json() == {"stopped": 0}
    none = w.client.post(f"/v1/me/services/{uuid.uuid4()}/revoke", headers=act(w.pieter, mid))
    assert none.json() == {"stopped": 0}

    # Ended: refused, logged.
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    refused(
        w.client.post(f"/v1/me/services/{service}/revoke", headers=act(w.pieter, mid)),
        "mandate-ended",
    )
    assert grant_of(w, w.anna, mixed)["status"] == "approved"


def test_ending_a_procedure_under_a_mandate_is_all_or_nothing(w: World) -> None:
    mid = mandate(w)  # debts and health: read, decide-requests
    first = ask(w, w.anna, ["health.medication"], "A")
    approve(w, w.anna, first)
    second = ask(w, w.anna, ["health.allergies"], "A")  # waiting, same procedure
    inside = grant_of(w, w.anna, first)["procedure"]["id"]
    assert grant_of(w, w.anna, second)["procedure"]["id"] == inside
    part = ask(w, w.anna, ["health.medication"], "B")
    approve(w, w.anna, part)
    rest = ask(w, w.anna, ["education.grades"], "B")  # the same procedure, outside the mandate
    approve(w, w.anna, rest)
    partly = grant_of(w, w.anna, part)["procedure"]["id"]
    whole = ask(w, w.anna, ["education.grades"], "C")
    approve(w, w.anna, whole)
    outside = grant_of(w, w.anna, whole)["procedure"]["id"]
    theirs = ask(w, w.mallory, ["health.medication"], "A")
    approve(w, w.mallory, theirs)
    mallorys = grant_of(w, w.mallory, theirs)["procedure"]["id"]
    h = act(w.pieter, mid)

    # A procedure reaching outside the mandate, partly or wholly: refused, logged, unchanged.
    for procedure in (partly, outside):
        refused(
            w.client.post(f"/v1/me/procedures/{procedure}/close", headers=h),
            "category-not-in-scope",
        )
    assert [g["status"] for g in (grant_of(w, w.anna, part), grant_of(w, w.anna, rest))] == [
        "approved",
        "approved",
    ]
    assert grant_of(w, w.anna, part)["procedure"]["status"] == "open"
    assert grant_of(w, w.anna, whole)["procedure"]["status"] == "open"
    tried = [(e.reason, e.datatype) for e in events(w, w.anna) if e.name == "mandate.refused"]
    assert tried == [("category-not-in-scope", "education")] * 2
    # Another principal's procedure, a made-up one: not found, nothing changed.
    for procedure in (mallorys, uuid.uuid4()):
        r = w.client.post(f"/v1/me/procedures/{procedure}/close", headers=h)
        assert r.status_code == 404, r.text
    assert grant_of(w, w.mallory, theirs)["status"] == "approved"
    # Without decide-requests: refused.
    read_only = mandate(w, actions=["read"])
    refused(
        w.client.post(f"/v1/me/procedures/{inside}/close", headers=act(w.pieter, read_only)),
        "action-not-in-scope",
    )
    assert grant_of(w, w.anna, first)["status"] == "approved"

    # Wholly inside: it ends, with its grants and requests, done by Pieter for Anna.
    r = w.client.post(f"/v1/me/procedures/{inside}/close", headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"stopped": 1}
    ended = grant_of(w, w.anna, first)
    assert (ended["status"], ended["end_reason"]) == ("ended", "procedure-closed")
    assert (ended["procedure"]["status"], ended["procedure"]["closed_by"]) == (
        "closed",
        "representative",
    )
    assert grant_of(w, w.anna, second)["status"] == "lapsed"
    steps = sorted(
        (e.name, e.reason)
        for e in events(w, w.anna)
        if e.actor == "representative" and e.actor_id == mid and not e.name.startswith("mandate.")
    )
    assert steps == [
        ("grant.ended", "procedure-closed"),
        ("grant.lapsed", "procedure-closed"),
        ("procedure.closed", None),
    ]
    texts = {
        e["name"]: e["text_nl"]
        for e in w.client.get("/v1/me/log?limit=100", headers=w.anna.headers).json()["entries"]
        if e["name"] in ("procedure.closed", "grant.lapsed")
        or (e["name"] == "grant.ended" and e["grant_id"] == first)
    }
    assert texts["procedure.closed"].startswith(
        "De behandeling of zaak bij Gemeente Utrecht is afgesloten, op "
    )
    assert texts["grant.ended"].startswith(
        "De toegang van Gemeente Utrecht is gestopt, want de behandeling of zaak is klaar"
    )
    assert texts["grant.lapsed"].startswith("De vraag van Gemeente Utrecht is vervallen")
    assert all("gedaan door Pieter Bewind voor u" in t for t in texts.values())
    # The service can ask nothing more under it; the other procedures are as they were.
    assert grant_of(w, w.anna, rest)["procedure"]["status"] == "open"
    assert grant_of(w, w.mallory, theirs)["procedure"]["status"] == "open"

    # Ended mandate: refused, logged.
    w.client.post(f"/v1/me/people/mandates/{mid}/revoke", headers=w.anna.headers)
    refused(w.client.post(f"/v1/me/procedures/{partly}/close", headers=h), "mandate-ended")
