"""The resident client against the real app, in-process: the whole resident API, sync and
async, with a software passkey standing in for the browser."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient

import clients.sdk as sdk
from api.container import Container
from clients.sdk.resident import AsyncResidentClient, ResidentClient
from keys.note import Verifier, open_checkpoint
from support.passkeys import SoftPasskey
from support.service_client import register_clinic_and_school
from vault.audit import merkle
from vault.audit.events import AccessEvent, record


def sync_client(client: TestClient) -> ResidentClient:
    # TestClient's own transport runs the app in-process with its lifespan already started.
    return ResidentClient(ORIGIN, transport=client._transport)


def signed_up(rc: ResidentClient, name: str = "Anna") -> SoftPasskey:
    passkey = SoftPasskey(ORIGIN)
    ceremony = rc.begin_sign_up(name)
    rc.finish_sign_up(ceremony.flow_id, name, passkey.create(ceremony.public_key))
    return passkey


def test_the_whole_resident_api_through_the_sync_client(
    client: TestClient, container: Container
) -> None:
    rc = sync_client(client)
    passkey = SoftPasskey(ORIGIN)
    ceremony = rc.begin_sign_up("Anna de Vries")
    signed = rc.finish_sign_up(
        ceremony.flow_id, "Anna de Vries", passkey.create(ceremony.public_key)
    )
    assert len(signed.recovery_codes) == 10
    assert rc.token == signed.session_token
    me = rc.me()
    assert (me.display_name, me.auth_method, me.recovery_codes_left) == (
        "Anna de Vries",
        "passkey",
        10,
    )

    # Records: create, change (a version), read an old version, delete.
    catalogue = rc.catalogue()
    assert catalogue.type_label("health.medication") is not None
    record = rc.create_record("health", "health.medication", "Medicatie", {"note": "500 mg"})
    assert (record.current_version, record.provenance.written_by) == (1, "resident")
    changed = rc.update_record(record.id, content={"note": "1000 mg"}, expected_version=1)
    assert changed.current_version == 2
    with pytest.raises(sdk.Conflict):
        rc.update_record(record.id, title="Oud", expected_version=1)
    assert rc.record(record.id, 1).content == {"note": "500 mg"}
    assert [v.version for v in rc.versions(record.id)] == [1, 2]
    assert [r.id for r in rc.records("health")] == [record.id]
    assert rc.records("education") == []

    # A file record: upload streamed, download streamed, an old version too.
    plan = rc.create_record("care", "care.care_plan", "Zorgplan", kind="file")
    rc.upload_file(
        plan.id,
        iter([b"%PDF-1.4 ", b"een"]),
        filename="zorgplan é.pdf",
        media_type="application/pdf",
    )
    rc.upload_file(plan.id, b"%PDF-1.4 twee", filename="zorgplan.pdf", media_type="application/pdf")
    with rc.download_file(plan.id, version=1) as (info, chunks):
        assert (info.filename, info.media_type) == ("zorgplan é.pdf", "application/pdf")
        assert b"".join(chunks) == b"%PDF-1.4 een"
    with rc.download_file(plan.id) as (info, chunks):
        assert b"".join(chunks) == b"%PDF-1.4 twee"

    # A service asks; approve narrower; it shows as active; stop it.
    clinic, _ = register_clinic_and_school(container, client)
    subject = clinic.connect(rc.connection_code().code)
    assert clinic.ask(subject).status_code == 200
    [waiting] = rc.requests()
    assert waiting.status == "requested"
    assert waiting.purpose_text == "Medicatiebeoordeling voor uw behandeling"
    until = datetime.now(UTC) + timedelta(days=30)
    approved = rc.approve(
        waiting.id, datatypes=["health.medication"], actions=["read"], valid_until=until
    )
    assert (approved.status, approved.datatypes, approved.actions) == (
        "approved",
        ("health.medication",),
        ("read",),
    )
    assert set(approved.requested.datatypes) == {"health.medication", "health.allergies"}
    with pytest.raises(sdk.InvalidRequest):
        rc.approve(waiting.id)  # already answered
    assert rc.requests() == []
    assert [g.id for g in rc.grants() if g.active] == [waiting.id]
    stopped = rc.revoke(waiting.id)
    assert (stopped.status, stopped.end_reason) == ("ended", "revoked")
    assert [h.status for h in rc.grant(waiting.id).history][:2] == ["requested", "approved"]

    # Ask twice more: deny one, stop all of the service with the other approved.
    assert clinic.ask(subject).status_code == 200
    rc.deny(rc.requests()[0].id)
    assert clinic.ask(subject).status_code == 200
    again = rc.approve(rc.requests()[0].id)
    assert rc.revoke_service(again.service_id) == 1
    assert clinic.ask(subject, procedure={"ref": "BEH-2", "description": "Knie"}).status_code == 200
    third = rc.approve(rc.requests()[0].id)
    assert rc.close_procedure(third.procedure.id) == 1

    # Sessions: a second sign-in, listed; end the first; sign out everywhere.
    first_token = rc.token
    ceremony = rc.begin_sign_in()
    rc.finish_sign_in(ceremony.flow_id, passkey.get(ceremony.public_key))
    sessions = rc.sessions()
    assert [s.current for s in sessions] == [False, True]
    rc.end_session(sessions[0].id)
    with pytest.raises(sdk.AuthError):
        rc.with_token(first_token).me()

    # Passkeys and recovery codes.
    [only] = rc.passkeys()
    assert only.transports == ("internal",)
    codes = rc.new_recovery_codes()
    assert len(codes) == 10
    recovered = rc.with_token(None)
    recovered.recover(codes[0])
    assert recovered.me().auth_method == "recovery"
    with pytest.raises(sdk.ReauthenticationRequired):
        recovered.delete_vault()
    second = SoftPasskey(ORIGIN)
    add = recovered.begin_add_passkey()
    recovered.finish_add_passkey(add.flow_id, second.create(add.public_key))
    assert len(recovered.passkeys()) == 2
    confirm = recovered.begin_reauthentication()
    recovered.finish_reauthentication(confirm.flow_id, second.get(confirm.public_key))
    recovered.remove_passkey(only.id)
    assert [p.id for p in recovered.passkeys()] != [only.id]

    # Export, then delete the vault.
    with recovered.export() as chunks:
        archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "regie-export/1"
    recovered.sign_out_everywhere()
    with pytest.raises(sdk.AuthError):
        rc.me()
    assert recovered.token is None
    ceremony = recovered.begin_sign_in()
    recovered.finish_sign_in(ceremony.flow_id, second.get(ceremony.public_key))
    recovered.delete_vault()
    ceremony = recovered.begin_sign_in()
    with pytest.raises(sdk.AuthError):
        recovered.finish_sign_in(ceremony.flow_id, second.get(ceremony.public_key))


def test_the_async_client_against_the_real_app(client: TestClient) -> None:
    async def go() -> None:
        transport = httpx.ASGITransport(app=client.app)
        async with AsyncResidentClient(ORIGIN, transport=transport) as rc:
            passkey = SoftPasskey(ORIGIN)
            ceremony = await rc.begin_sign_up("Bram")
            await rc.finish_sign_up(ceremony.flow_id, "Bram", passkey.create(ceremony.public_key))
            record = await rc.create_record(
                "health", "health.allergies", "Allergie", {"noten": True}
            )
            await rc.update_record(record.id, title="Allergieën")
            assert [v.title for v in await rc.versions(record.id)] == ["Allergie", "Allergieën"]
            plan = await rc.create_record("care", "care.care_plan", "Plan", kind="file")

            async def pieces():  # type: ignore[no-untyped-def]
                yield b"een "
                yield b"twee"

            await rc.upload_file(plan.id, pieces(), filename="plan.txt", media_type="text/plain")
            async with rc.download_file(plan.id) as (info, chunks):
                assert info.filename == "plan.txt"
                assert b"".join([c async for c in chunks]) == b"een twee"
            code = await rc.connection_code()
            assert len(code.code) >= 10
            assert await rc.requests() == []
            async with rc.export() as chunks:
                data = b"".join([c async for c in chunks])
            assert zipfile.ZipFile(io.BytesIO(data)).read("manifest.json")
            with pytest.raises(sdk.NotFound):
                await rc.record(plan.id.replace(plan.id[:8], "00000000"))
            await rc.delete_vault()  # just signed up: a fresh passkey sign-in
            with pytest.raises(sdk.AuthError):
                await rc.me()

    anyio.run(go)


def test_my_log_and_its_proof_through_both_clients(
    client: TestClient, container: Container
) -> None:
    rc = sync_client(client)
    signed_up(rc, "Anna")
    assert rc.token
    anna = container.identity.authenticate(rc.token).resident_id
    clinic, _ = register_clinic_and_school(container, client)
    clinic_id = container.services.by_client_id(clinic.client_id).service_id
    with container.uow() as uow:
        for name in ("record.list", "record.read"):
            record(
                uow,
                AccessEvent(
                    resident_id=anna,
                    name=name,
                    outcome="permit",
                    actor="service",
                    service_id=clinic_id,
                    datatype="health.medication" if name == "record.read" else None,
                    action="read",
                ),
                datetime.now(UTC),
            )
        uow.commit()

    page = rc.log(names=["record.read"])
    (entry,) = page.entries
    assert entry.service is not None
    assert entry.service.name == "Huisartsenpraktijk De Linde"
    assert entry.text("nl").startswith("Huisartsenpraktijk De Linde heeft uw medicatieoverzicht")
    assert entry.log_index is None
    with pytest.raises(sdk.NotFound):
        rc.log_proof(entry.id)

    container.integrator.run_once()
    entry = rc.log(limit=1).entries[0]
    assert entry.log_index is not None
    proof = rc.log_proof(entry.id)
    key = rc.with_token(None).log_key()
    assert (proof.origin, proof.verifier_key) == (key.origin, key.verifier_key)
    checkpoint = open_checkpoint(
        proof.checkpoint.encode(), Verifier.parse(key.verifier_key), key.origin
    )
    merkle.verify_inclusion(
        base64.b64decode(proof.leaf_hash),
        proof.index,
        proof.size,
        [base64.b64decode(h) for h in proof.hashes],
        checkpoint.root_hash,
    )

    async def with_the_async_client() -> None:
        transport = httpx.ASGITransport(app=client.app)
        async with AsyncResidentClient(ORIGIN, transport=transport, token=rc.token) as ac:
            again = await ac.log(limit=1)
            assert again.entries == (entry,)
            assert await ac.log_proof(entry.id) == proof

    anyio.run(with_the_async_client)


def test_people_through_both_clients(client: TestClient) -> None:
    anna = sync_client(client)
    signed_up(anna, "Anna")
    pieter = sync_client(client)
    signed_up(pieter, "Pieter")
    offer = anna.offer_mandate(
        categories=["debts"],
        actions=["read"],
        valid_until=datetime.now(UTC) + timedelta(days=30),
        label="Bewind",
    )
    assert (offer.mandate.status, offer.mandate.role) == ("offered", "principal")
    held = pieter.accept_mandate(offer.code)
    assert (held.status, held.name, held.label) == ("active", "Anna", "Bewind")
    with pytest.raises(sdk.AuthError):
        pieter.accept_mandate(offer.code)
    assert [m.name for m in anna.people().acting_for_me] == ["Pieter"]
    child = anna.new_child("Sanne")
    assert (child.kind, child.name) == ("parent", "Sanne")
    assert {m.id for m in anna.people().acting_for} == {child.id}
    ended = anna.revoke_mandate(held.id)
    assert (ended.status, ended.end_reason) == ("ended", "revoked")
    with pytest.raises(sdk.NotFound):
        pieter.give_up_mandate(child.id)

    async def run() -> None:
        async with AsyncResidentClient(
            ORIGIN, transport=httpx.ASGITransport(app=client.app), token=pieter.token
        ) as rc:
            people = await rc.people()
            assert [m.end_reason for m in people.acting_for] == ["revoked"]
            gone = await rc.give_up_mandate(held.id)
            assert gone.end_reason == "revoked"

    anyio.run(run)


def test_acting_for_someone_through_both_clients(client: TestClient) -> None:
    anna = sync_client(client)
    signed_up(anna, "Anna")
    pieter = sync_client(client)
    signed_up(pieter, "Pieter")
    offer = anna.offer_mandate(
        categories=["debts"],
        actions=["read", "write"],
        valid_until=datetime.now(UTC) + timedelta(days=30),
    )
    held = pieter.accept_mandate(offer.code)
    for_anna = pieter.acting_for(held.id)
    assert pieter.act_for is None  # the client itself is unchanged
    made = for_anna.create_record("debts", "debts.overview", "Schulden", {"totaal": 1200})
    assert [r.id for r in anna.records()] == [made.id]
    assert pieter.records() == []
    assert [r.id for r in for_anna.records()] == [made.id]
    with pytest.raises(sdk.AccessDenied) as refused:
        for_anna.create_record("health", "health.allergies", "Allergie", {"noten": True})
    assert refused.value.reason == "category-not-in-scope"
    with pytest.raises(sdk.AccessDenied) as closed:
        for_anna.me()
    assert closed.value.reason == "not-for-representatives"
    [created] = [e for e in anna.log().entries if e.name == "record.created"]
    assert created.text("nl").endswith("gedaan door Pieter voor u.")
    with pytest.raises(sdk.AccessDenied) as nobody:
        anna.acting_for(held.id).records()  # the principal cannot use her own mandate id
    assert nobody.value.reason == "no-mandate"

    async def run() -> None:
        async with AsyncResidentClient(
            ORIGIN, transport=httpx.ASGITransport(app=client.app), token=pieter.token
        ) as rc:
            acting = rc.acting_for(held.id)
            assert [r.id for r in await acting.records()] == [made.id]
            assert await rc.records() == []
            anna.revoke_mandate(held.id)
            with pytest.raises(sdk.AccessDenied) as ended:
                await acting.records()
            assert ended.value.reason == "mandate-ended"
            child = await rc.new_child("Sanne")
            await rc.acting_for(child.id).create_record("health", "health.allergies", "N", {})
            await rc.delete_child_vault(child.id)  # Pieter just signed up: a fresh sign-in
            with pytest.raises(sdk.AccessDenied):
                await rc.acting_for(child.id).records()

    anyio.run(run)


def test_acting_for_someone_with_proofs_services_and_procedures_through_the_sdk(
    client: TestClient, container: Container
) -> None:
    """The acting client's log proofs, and its "stop everything" and "end a procedure",
    reach the principal's vault (the scope rules are attacked in test_acting_for_api.py)."""
    anna = sync_client(client)
    signed_up(anna, "Anna")
    pieter = sync_client(client)
    signed_up(pieter, "Pieter")
    offer = anna.offer_mandate(
        categories=["debts"],
        actions=["read", "decide-requests"],
        valid_until=datetime.now(UTC) + timedelta(days=30),
    )
    held = pieter.accept_mandate(offer.code)
    anna.create_record("debts", "debts.overview", "Schulden", {"totaal": 1200})
    container.integrator.run_once()
    for_anna = pieter.acting_for(held.id)
    [created] = [e for e in for_anna.log().entries if e.name == "record.created"]
    proof = for_anna.log_proof(created.id)
    assert proof == anna.log_proof(created.id)  # her entry, her proof
    key = anna.with_token(None).log_key()
    checkpoint = open_checkpoint(
        proof.checkpoint.encode(), Verifier.parse(key.verifier_key), key.origin
    )
    merkle.verify_inclusion(
        base64.b64decode(proof.leaf_hash),
        proof.index,
        proof.size,
        [base64.b64decode(h) for h in proof.hashes],
        checkpoint.root_hash,
    )
    with pytest.raises(sdk.NotFound):
        pieter.log_proof(created.id)  # not in his own log
    assert for_anna.revoke_service(str(uuid.uuid4())) == 0
    with pytest.raises(sdk.NotFound):
        for_anna.close_procedure(str(uuid.uuid4()))
    assert [e.name for e in anna.log(names=["log.proof"]).entries] == ["log.proof"]

    async def run() -> None:
        async with AsyncResidentClient(
            ORIGIN, transport=httpx.ASGITransport(app=client.app), token=pieter.token
        ) as rc:
            assert await rc.acting_for(held.id).log_proof(created.id) == proof

    anyio.run(run)


def test_a_second_parent_through_both_clients(client: TestClient) -> None:
    anna = sync_client(client)
    signed_up(anna, "Anna")
    pieter = sync_client(client)
    signed_up(pieter, "Pieter")
    child = anna.new_child("Sanne")
    offer = anna.acting_for(child.id).offer_parent_mandate("Tweede ouder")
    assert (offer.mandate.kind, offer.mandate.status) == ("parent", "offered")
    assert offer.mandate.valid_until == child.valid_until
    with pytest.raises(sdk.AccessDenied) as own_vault:
        anna.offer_parent_mandate()  # for her own vault: she is nobody's parent there
    assert own_vault.value.reason == "not-a-parent"
    held = pieter.accept_mandate(offer.code)
    assert (held.kind, held.name) == ("parent", "Sanne")
    ended = pieter.acting_for(held.id).revoke_mandate(child.id)  # he ends Anna's
    assert (ended.kind, ended.status, ended.end_reason) == ("parent", "ended", "revoked")
    with pytest.raises(sdk.Conflict):
        pieter.give_up_mandate(held.id)  # the last parent's

    async def run() -> None:
        async with AsyncResidentClient(
            ORIGIN, transport=httpx.ASGITransport(app=client.app), token=pieter.token
        ) as rc:
            again = await rc.acting_for(held.id).offer_parent_mandate()
            assert again.mandate.kind == "parent"
            await rc.delete_child_vault(held.id)  # the second parent may, as the first
            with pytest.raises(sdk.AccessDenied):
                await rc.acting_for(held.id).records()

    anyio.run(run)
