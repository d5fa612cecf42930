"""Auditors: enrolment, passkey sign-in, the role boundary both ways, filters, exports, and
their own queries in the log. Attacks: a spent, wrong, expired or another auditor's code; a
resident's session or passkey at the auditor API and the other way round; a removed
auditor's session; a tampered export; a record's contents leaking into an auditor response.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import sessionmaker

# The grant flow's world (a clinic with a grant from Anna) and its helpers.
from test_grants_flow import World, approved_tokens, read, world  # noqa: F401

from api.app import create_app
from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from support.auditors import Auditor, appoint, enrol, sign_in
from support.clock import FakeClock
from support.passkeys import SoftPasskey
from support.residents import sign_in as resident_sign_in
from support.residents import sign_up
from vault.audit import leaf
from vault.audit.events import AccessEvent, record
from vault.audit.search import CSV_COLUMNS
from vault.audit.verify import ExportInvalid, verify_export

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SERVICE_A, SERVICE_B = uuid.uuid4(), uuid.uuid4()
CARE = "https://w3id.org/dpv#ServiceProvision"
RESEARCH = "https://w3id.org/dpv#ResearchAndDevelopment"
MARKER = "Zeldzaam-Geheim-7319"


def seed(c: Container) -> uuid.UUID:
    """Twelve integrated events of one resident: two services, two purposes, permit and deny,
    an hour apart from T0. Returns the resident's id."""
    resident = uuid.uuid4()
    with c.uow() as uow:
        for i in range(12):
            record(
                uow,
                AccessEvent(
                    resident_id=resident if i % 2 else uuid.uuid4(),
                    name="record.read",
                    outcome="deny" if i % 3 == 0 else "permit",
                    reason="grant-revoked" if i % 3 == 0 else None,
                    actor="service",
                    actor_id=str(SERVICE_A if i < 6 else SERVICE_B),
                    service_id=SERVICE_A if i < 6 else SERVICE_B,
                    datatype="health.medication",
                    action="read",
                    purpose=CARE if i % 4 else RESEARCH,
                ),
                T0 + timedelta(hours=i),
            )
        uow.commit()
    c.integrator.run_once()
    return resident


def events(client: TestClient, who: Auditor, **params: object) -> dict:  # type: ignore[type-arg]
    response = client.get("/v1/auditor/events", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()  # type: ignore[type-arg]
    return body


def service_reads(body: dict) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in body["events"] if e["entry"]["name"] == "record.read"]


# -- enrolment and sign-in ---------------------------------------------------------------


def test_an_auditor_enrols_with_the_code_once_and_signs_in_with_the_passkey(
    client: TestClient, container: Container
) -> None:
    made = container.auditors.appoint("A. Jansen", operator="test-operator")
    assert len(made.code.replace("-", "")) == 20
    first = enrol(client, made.code, SoftPasskey())
    assert first["status"] == 201, first
    again = enrol(client, made.code, SoftPasskey())
    assert again["status"] == 401
    assert again["body"]["type"].endswith("/problems/authentication-required")

    auditor = Auditor("A. Jansen", SoftPasskey(), "")
    made2 = container.auditors.appoint("B. de Boer", operator="test-operator")
    auditor.token = str(enrol(client, made2.code, auditor.passkey)["body"]["session_token"])
    assert auditor.token.startswith("rga_")
    token = sign_in(client, auditor)
    assert client.get(
        "/v1/auditor/events", headers={"Authorization": f"Bearer {token}"}
    ).status_code in (
        200,
        404,  # no checkpoint yet: the log is empty
    )
    [listed] = [a for a in container.auditors.all() if a.name == "B. de Boer"]
    assert (listed.status, listed.passkeys) == ("active", 1)


def test_two_ceremonies_started_with_one_code_enrol_only_once(
    client: TestClient, container: Container
) -> None:
    made = container.auditors.appoint("A. Twice", operator="test-operator")
    started = [
        client.post("/v1/auditor/enrol/options", json={"code": made.code}).json() for _ in range(2)
    ]
    outcomes = [
        client.post(
            "/v1/auditor/enrol/verify",
            json={
                "flow_id": ceremony["flow_id"],
                "code": made.code,
                "credential": SoftPasskey().create(ceremony["public_key"]),
            },
        ).status_code
        for ceremony in started
    ]
    assert outcomes == [201, 401]
    [listed] = [a for a in container.auditors.all() if a.name == "A. Twice"]
    assert listed.passkeys == 1


def test_an_auditor_enrolment_cannot_finish_as_a_resident_sign_up(
    client: TestClient, container: Container
) -> None:
    made = container.auditors.appoint("A. Cross", operator="test-operator")
    ceremony = client.post("/v1/auditor/enrol/options", json={"code": made.code}).json()
    done = client.post(
        "/v1/auth/passkeys/register/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "display_name": "Mallory",
            "credential": SoftPasskey().create(ceremony["public_key"]),
        },
    )
    assert done.status_code == 401
    # And a resident's sign-up cannot finish as an auditor's enrolment.
    resident = client.post("/v1/auth/passkeys/register/options", json={"display_name": "Anna"})
    flow = resident.json()
    done = client.post(
        "/v1/auditor/enrol/verify",
        json={
            "flow_id": flow["flow_id"],
            "code": made.code,
            "credential": SoftPasskey().create(flow["public_key"]),
        },
    )
    assert done.status_code == 401
    assert enrol(client, made.code, SoftPasskey())["status"] == 201  # the code is unspent


def test_the_code_is_stored_only_as_a_keyed_hash(client: TestClient, container: Container) -> None:
    from sqlalchemy import select

    from vault.storage.orm import AuditorRow

    made = container.auditors.appoint("C. Hash", operator="test-operator")
    with container.uow() as uow:
        row = uow.session.scalar(select(AuditorRow).where(AuditorRow.name == "C. Hash"))
        assert row is not None
        assert row.enrolment_hash is not None
        assert made.code.replace("-", "").encode() not in row.enrolment_hash
        assert len(row.enrolment_hash) == 32


@pytest.mark.parametrize(
    "code",
    ["", "AAAA-AAAA-AAAA-AAAA-AAAA", "not a code", "A" * 64],
)
def test_a_wrong_code_is_refused(client: TestClient, container: Container, code: str) -> None:
    container.auditors.appoint("D. Wrong", operator="test-operator")
    response = client.post("/v1/auditor/enrol/options", json={"code": code})
    assert response.status_code in (401, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_verify_with_another_auditors_code_is_refused(
    client: TestClient, container: Container
) -> None:
    one = container.auditors.appoint("E. One", operator="test-operator")
    two = container.auditors.appoint("F. Two", operator="test-operator")
    ceremony = client.post("/v1/auditor/enrol/options", json={"code": one.code}).json()
    done = client.post(
        "/v1/auditor/enrol/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "code": two.code,
            "credential": SoftPasskey().create(ceremony["public_key"]),
        },
    )
    assert done.status_code == 401
    # Both codes are still unspent: neither was used to enrol.
    assert enrol(client, two.code, SoftPasskey())["status"] == 201


@dataclass
class Timed:
    client: TestClient
    container: Container
    clock: FakeClock


@pytest.fixture
def timed(settings: Settings, connection: Connection) -> Iterator[Timed]:
    clock = FakeClock()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    c = build_container(settings, session_factory=factory, clock=clock)
    with TestClient(create_app(settings, container=c), base_url=ORIGIN) as client:
        yield Timed(client, c, clock)


def test_an_expired_code_is_refused(timed: Timed) -> None:
    made = timed.container.auditors.appoint("G. Late", operator="test-operator")
    timed.clock.advance(hours=24, seconds=1)
    assert enrol(timed.client, made.code, SoftPasskey())["status"] == 401
    fresh = timed.container.auditors.appoint("G. Later", operator="test-operator")
    timed.clock.advance(hours=23)
    assert enrol(timed.client, fresh.code, SoftPasskey())["status"] == 201


def test_a_removed_auditor_is_signed_out_and_cannot_sign_in(
    client: TestClient, container: Container
) -> None:
    auditor = appoint(client, container, "H. Gone")
    container.integrator.run_once()
    assert client.get("/v1/auditor/events", headers=auditor.headers).status_code == 200
    container.auditors.remove("H. Gone", operator="test-operator")
    assert client.get("/v1/auditor/events", headers=auditor.headers).status_code == 401
    ceremony = client.post("/v1/auditor/auth/login/options").json()
    done = client.post(
        "/v1/auditor/auth/login/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "credential": auditor.passkey.get(ceremony["public_key"]),
        },
    )
    assert done.status_code == 401


def test_sign_out_ends_the_auditor_session(client: TestClient, container: Container) -> None:
    auditor = appoint(client, container)
    assert client.post("/v1/auditor/auth/sign-out", headers=auditor.headers).status_code == 204
    assert client.get("/v1/auditor/events", headers=auditor.headers).status_code == 401


# -- the role boundary, both ways --------------------------------------------------------


def test_an_auditor_session_does_not_work_on_resident_endpoints(
    client: TestClient, container: Container
) -> None:
    auditor = appoint(client, container)
    for path in ("/v1/me", "/v1/me/records", "/v1/me/sessions"):
        response = client.get(path, headers=auditor.headers)
        assert response.status_code == 401, (path, response.text)
    assert client.post("/v1/auth/sign-out", headers=auditor.headers).status_code == 401


def test_a_resident_session_does_not_work_on_auditor_endpoints(
    client: TestClient, container: Container
) -> None:
    container.integrator.run_once()
    anna = sign_up(client)
    for path in ("/v1/auditor/events", "/v1/auditor/export/jsonl", "/v1/auditor/export/csv"):
        response = client.get(path, headers=anna.headers)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.post("/v1/auditor/auth/sign-out", headers=anna.headers).status_code == 401


def test_passkeys_and_ceremonies_do_not_cross_roles(
    client: TestClient, container: Container
) -> None:
    auditor = appoint(client, container)
    anna = sign_up(client)
    # An auditor's passkey at the residents' sign-in, and a resident's at the auditors'.
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    done = client.post(
        "/v1/auth/passkeys/login/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "credential": auditor.passkey.get(ceremony["public_key"]),
        },
    )
    assert done.status_code == 401
    ceremony = client.post("/v1/auditor/auth/login/options").json()
    done = client.post(
        "/v1/auditor/auth/login/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "credential": anna.passkey.get(ceremony["public_key"]),
        },
    )
    assert done.status_code == 401
    # A resident's sign-in challenge cannot finish an auditor's sign-in (other purpose).
    ceremony = client.post("/v1/auth/passkeys/login/options").json()
    done = client.post(
        "/v1/auditor/auth/login/verify",
        json={
            "flow_id": ceremony["flow_id"],
            "credential": auditor.passkey.get(ceremony["public_key"]),
        },
    )
    assert done.status_code == 401
    # Each still signs in where it belongs.
    sign_in(client, auditor)
    resident_sign_in(client, anna)


# -- filters and paging ------------------------------------------------------------------


def test_filters_select_by_time_service_purpose_outcome_and_subject(
    client: TestClient, container: Container
) -> None:
    resident = seed(container)
    auditor = appoint(client, container)
    everything = service_reads(events(client, auditor, limit=1000))
    assert len(everything) == 12
    assert all(set(e["entry"]) == set(CSV_COLUMNS) - {"index", "leaf_hash"} for e in everything)

    since, until = T0 + timedelta(hours=3), T0 + timedelta(hours=7)
    timed = service_reads(events(client, auditor, since=since.isoformat(), until=until.isoformat()))
    assert [e["entry"]["start_time"][:13] for e in timed] == [
        f"2026-12-01T{h:02d}" for h in (12, 13, 14, 15)
    ]
    by_service = service_reads(events(client, auditor, service=str(SERVICE_B)))
    assert len(by_service) == 6
    assert {e["entry"]["service_id"] for e in by_service} == {str(SERVICE_B)}
    research = service_reads(events(client, auditor, purpose=RESEARCH))
    assert len(research) == 3
    assert {e["entry"]["purpose"] for e in research} == {RESEARCH}
    denied = events(client, auditor, outcome="deny")["events"]
    assert len(denied) == 4
    assert {e["entry"]["status_code"] for e in denied} == {"ERROR"}
    pseudonym = container.audit.subject_hash(str(resident))
    # The pseudonym names a resident with a residents row: make one for the seeded id.
    from support.residents import make_resident

    real = make_resident(container)
    with container.uow() as uow:
        record(
            uow,
            AccessEvent(resident_id=real, name="record.read", outcome="permit", actor="service"),
            T0,
        )
        uow.commit()
    container.integrator.run_once()
    mine = events(client, auditor, subject=container.audit.subject_hash(str(real)))["events"]
    assert [e["entry"]["subject"] for e in mine] == [container.audit.subject_hash(str(real))]
    # A pseudonym of no resident on record matches nothing (never everything).
    assert events(client, auditor, subject=pseudonym)["events"] == []
    assert events(client, auditor, subject="0" * 64)["events"] == []
    combined = service_reads(events(client, auditor, service=str(SERVICE_A), outcome="permit"))
    assert len(combined) == 4


def test_pages_are_pinned_to_a_checkpoint_and_cover_everything_once(
    client: TestClient, container: Container
) -> None:
    seed(container)
    auditor = appoint(client, container)
    first = events(client, auditor, limit=5)
    size = first["checkpoint"]["size"]
    seen = [e["index"] for e in first["events"]]
    after = first["next_after"]
    while after is not None:
        container.integrator.run_once()  # the log grows (our own queries) while paging
        page = events(client, auditor, limit=5, after=after, size=size)
        assert page["checkpoint"]["size"] == size
        seen += [e["index"] for e in page["events"]]
        after = page["next_after"]
    assert seen == list(range(size))


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-12-02T10:00:00Z", "until": "2026-12-02T09:00:00Z"},
        {"since": "2026-12-02T10:00:00"},  # no time zone
        {"since": "yesterday"},
        {"since": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"outcome": "maybe"},
        {"purpose": "https://w3id.org/dpv#\x00"},
        {"purpose": "not a uri"},
        {"subject": "not-a-pseudonym"},
        {"subject": "A" * 64},
        {"service": "not-a-uuid"},
        {"size": "-1"},
        {"limit": "0"},
        {"limit": "1001"},
        {"after": "-2"},
    ],
)
def test_bad_filters_are_problems(
    client: TestClient, container: Container, params: dict[str, str]
) -> None:
    container.integrator.run_once()
    auditor = appoint(client, container)
    paging = {"limit", "after"} & set(params)
    paths = ["/v1/auditor/events"]
    if not paging:  # exports are not paged
        paths += ["/v1/auditor/export/jsonl", "/v1/auditor/export/csv"]
    for path in paths:
        response = client.get(path, params=params, headers=auditor.headers)
        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_checkpoint_size_is_a_404(client: TestClient, container: Container) -> None:
    container.integrator.run_once()
    auditor = appoint(client, container)
    response = client.get("/v1/auditor/events", params={"size": 99999}, headers=auditor.headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


# -- exports -----------------------------------------------------------------------------


def export(client: TestClient, who: Auditor, kind: str, **params: object) -> str:
    response = client.get(f"/v1/auditor/export/{kind}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.text


def verify(c: Container, text: str) -> object:
    lines = text.splitlines()
    note = json.loads(lines[0])["checkpoint"].encode()
    return verify_export(lines, checkpoint=note, verifier_key=c.log_key.verifier_key)


def test_a_filtered_jsonl_export_is_an_excerpt_that_verifies_offline(
    client: TestClient, container: Container
) -> None:
    seed(container)
    auditor = appoint(client, container)
    text = export(client, auditor, "jsonl", service=str(SERVICE_A), outcome="deny")
    header = json.loads(text.splitlines()[0])
    assert header["complete"] is False
    assert header["filter"] == {"service_id": str(SERVICE_A), "outcome": "deny"}
    result = verify(container, text)
    assert result.entries == 2
    assert result.complete is False

    # Tampered: one entry's outcome changed in the file.
    lines = text.splitlines()
    item = json.loads(lines[1])
    item["entry"]["outcome"] = "permit"
    lines[1] = json.dumps(item)
    with pytest.raises(ExportInvalid) as caught:
        verify_export(
            lines,
            checkpoint=header["checkpoint"].encode(),
            verifier_key=container.log_key.verifier_key,
        )
    assert caught.value.index == item["index"]
    # Tampered: a proof hash swapped for another entry's.
    lines = text.splitlines()
    a, b = json.loads(lines[1]), json.loads(lines[2])
    a["inclusion"] = b["inclusion"]
    lines[1] = json.dumps(a)
    with pytest.raises(ExportInvalid):
        verify_export(
            lines,
            checkpoint=header["checkpoint"].encode(),
            verifier_key=container.log_key.verifier_key,
        )


def test_an_unfiltered_jsonl_export_is_complete_and_verifies(
    client: TestClient, container: Container
) -> None:
    seed(container)
    auditor = appoint(client, container)
    text = export(client, auditor, "jsonl")
    assert json.loads(text.splitlines()[0])["complete"] is True
    result = verify(container, text)
    assert result.complete is True
    assert result.entries == result.size
    lines = text.splitlines()
    del lines[3]  # an entry dropped
    with pytest.raises(ExportInvalid):
        verify(container, "\n".join(lines))


def test_the_jsonl_export_verifies_with_the_regie_audit_verify_command(
    client: TestClient, container: Container, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from clients.cli.main import app

    seed(container)
    auditor = appoint(client, container)
    text = export(client, auditor, "jsonl", purpose=RESEARCH)
    path = tmp_path / "excerpt.jsonl"
    path.write_text(text)
    checkpoint = tmp_path / "checkpoint.txt"
    checkpoint.write_text(json.loads(text.splitlines()[0])["checkpoint"])
    key = tmp_path / "key.txt"
    key.write_text(container.log_key.verifier_key)
    verified = CliRunner().invoke(
        app, ["audit", "verify", str(path), "--checkpoint", str(checkpoint), "--key", f"@{key}"]
    )
    assert verified.exit_code == 0, verified.output


def test_csv_has_flat_columns_index_and_leaf_hash(client: TestClient, container: Container) -> None:
    seed(container)
    auditor = appoint(client, container)
    response = client.get(
        "/v1/auditor/export/csv", params={"outcome": "deny"}, headers=auditor.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    size = int(response.headers["regie-checkpoint-size"])
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 4
    assert {r["outcome"] for r in rows} == {"deny"}
    # Each row's leaf hash is the tree's: the inclusion proof for its index says the same.
    for r in rows:
        proof = client.get(
            "/v1/audit/proof/inclusion", params={"index": r["index"], "size": size}
        ).json()
        assert proof["leaf_hash"] == r["leaf_hash"]
    # And the row is the entry: rebuilt from the columns, it hashes to the leaf hash.
    first = {k: (v or None) for k, v in rows[0].items() if k not in ("index", "leaf_hash")}
    import base64

    assert base64.b64encode(leaf.leaf_hash(first)).decode() == rows[0]["leaf_hash"]


# -- auditor queries are logged ----------------------------------------------------------


def test_every_auditor_query_and_export_is_logged(client: TestClient, container: Container) -> None:
    from sqlalchemy import select

    from vault.storage.orm import AuditorRow

    resident = seed(container)
    auditor = appoint(client, container)
    with container.uow() as uow:
        auditor_id = uow.session.scalar(
            select(AuditorRow.auditor_id).where(AuditorRow.name == "A. Jansen")
        )
    events(client, auditor, service=str(SERVICE_A), outcome="deny")
    export(client, auditor, "jsonl", purpose=RESEARCH)
    export(client, auditor, "csv")
    container.integrator.run_once()
    logged = [
        e["entry"]
        for e in events(client, auditor, limit=1000)["events"]
        if e["entry"]["actor"] == "auditor"
    ]
    assert [(e["name"], e["action"]) for e in logged] == [
        ("audit.query", "query"),
        ("audit.export", "jsonl"),
        ("audit.export", "csv"),
    ]
    query, jsonl, csv_export = logged
    assert query["actor_id"] == container.audit.subject_hash(str(auditor_id))
    assert query["subject"] is None
    assert query["subject_id_type"] is None
    assert (query["service_id"], query["reason"]) == (str(SERVICE_A), "service_id,outcome=deny")
    assert jsonl["purpose"] == RESEARCH
    assert jsonl["reason"] == "purpose"
    assert csv_export["reason"] is None
    assert resident  # the seeded events are not the auditor's


def test_a_query_on_one_residents_pseudonym_is_logged_under_that_resident(
    world: World,  # noqa: F811 - the grant flow's fixture, imported above
) -> None:
    w = world
    approved_tokens(w)  # grant events of Anna's
    w.c.integrator.run_once()
    auditor = appoint(w.client, w.c)
    pseudonym = w.c.audit.subject_hash(str(w.anna_id))
    hers = events(w.client, auditor, subject=pseudonym)["events"]
    assert hers
    assert {e["entry"]["subject"] for e in hers} == {pseudonym}
    w.c.integrator.run_once()
    again = events(w.client, auditor, subject=pseudonym)["events"]
    logged = [e["entry"] for e in again if e["entry"]["actor"] == "auditor"]
    assert [(e["name"], e["reason"]) for e in logged] == [("audit.query", "subject")]


def test_a_query_whose_event_cannot_be_written_is_not_answered(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(container)
    auditor = appoint(client, container)
    import vault.audit.search as search
    from vault.errors import StorageUnavailable

    def broken(*args: object, **kwargs: object) -> None:
        raise StorageUnavailable("the access log could not be written")

    monkeypatch.setattr(search, "record", broken)
    for path in ("/v1/auditor/events", "/v1/auditor/export/jsonl", "/v1/auditor/export/csv"):
        response = client.get(path, headers=auditor.headers)
        assert response.status_code == 503, (path, response.text)
        assert "record.read" not in response.text


# -- no record contents, ever ------------------------------------------------------------


def test_no_auditor_response_holds_record_contents(
    world: World,  # noqa: F811 - the grant flow's fixture, imported above
) -> None:
    w = world
    record_id = w.c.records.create(
        w.anna_id,
        category="health",
        record_type="health.medication",
        title=f"Medicatie {MARKER}",
        content={"note": MARKER},
    ).record_id
    _, tokens, _ = approved_tokens(w)
    seen = read(w, tokens, record_id).current
    assert seen is not None
    assert MARKER in json.dumps(seen.content)
    w.c.integrator.run_once()
    auditor = appoint(w.client, w.c)
    page = events(w.client, auditor, limit=1000)
    reads = [e for e in page["events"] if e["entry"]["name"] == "record.read"]
    assert [e["entry"]["record_id"] for e in reads] == [str(record_id)]
    responses = [
        json.dumps(page),
        export(w.client, auditor, "jsonl"),
        export(w.client, auditor, "jsonl", outcome="permit"),
        export(w.client, auditor, "csv"),
    ]
    for text in responses:
        assert str(record_id) in text  # the access is there...
        assert MARKER not in text  # ...its contents are not
        assert "Medicatie" not in text
        assert "Anna" not in text
