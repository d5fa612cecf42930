"""The auditor client against the real app, in-process: enrol with a software passkey, read
checkpoints and proofs, page the entries, export, verify offline; sync and async. Attacks: a
tampered export, a key pinned from another log, a resident's session at the auditor API."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from test_auditors import seed

import clients.sdk as sdk
from api.container import Container
from clients.sdk.auditor import AsyncAuditorClient, AuditorClient
from clients.sdk.resident import LogKey
from keys.note import Signer
from support.passkeys import SoftPasskey
from support.residents import sign_up


def enrolled(client: TestClient, container: Container) -> tuple[AuditorClient, SoftPasskey]:
    ac = AuditorClient(ORIGIN, transport=client._transport)
    passkey = SoftPasskey(ORIGIN)
    code = container.auditors.appoint("A. Jansen", operator="test-operator").code
    ceremony = ac.begin_enrolment(code)
    ac.finish_enrolment(ceremony.flow_id, code, passkey.create(ceremony.public_key))
    return ac, passkey


def test_the_auditor_api_through_the_sync_client(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    seed(container)
    ac, passkey = enrolled(client, container)
    key = ac.key()
    ac.pinned = key  # in real life: from the operator's publication

    # Sign in again with the passkey: a new session replaces the first.
    first = ac.token
    ceremony = ac.begin_sign_in()
    ac.finish_sign_in(ceremony.flow_id, passkey.get(ceremony.public_key))
    assert ac.token != first

    old = ac.checkpoint()
    assert old.size == 12
    page = ac.events(outcome="deny", limit=2)
    assert len(page.events) == 2
    assert page.next_after is not None
    assert all(e.entry["outcome"] == "deny" for e in page.events)
    rest = ac.events(outcome="deny", after=page.next_after, size=page.checkpoint.size)
    assert {e.index for e in rest.events}.isdisjoint({e.index for e in page.events})

    # An entry's place in the log, with the entry itself checked against its leaf.
    first_entry = page.events[0]
    verified = ac.verify_inclusion(first_entry.index, page.checkpoint.size, entry=first_entry.entry)
    assert verified.size == page.checkpoint.size

    # The auditor's own queries are entries too: integrate them; the new tree extends the old.
    container.integrator.run_once()
    new = ac.checkpoint()
    assert new.size > old.size
    old_ok, new_ok = ac.verify_consistency(old, new)
    assert (old_ok.size, new_ok.size) == (old.size, new.size)
    assert [c.size for c in ac.checkpoints()][-1] == new.size

    # Export the whole log (streamed to a file) and verify it offline.
    path = ac.export(tmp_path / "log.jsonl", size=new.size)
    result = ac.verify_export(path, new)
    assert (result.complete, result.entries, result.size) == (True, new.size, new.size)
    excerpt = ac.export(tmp_path / "deny.jsonl", outcome="deny", size=new.size)
    assert ac.verify_export(excerpt, new).complete is False
    csv_path = ac.export(tmp_path / "log.csv", format="csv", size=new.size)
    assert csv_path.read_text().startswith("index,")

    # Tamper with one entry: verification names it.
    lines = path.read_text().splitlines()
    item = json.loads(lines[3])
    item["entry"]["outcome"] = "permit" if item["entry"]["outcome"] == "deny" else "deny"
    lines[3] = json.dumps(item)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(sdk.LogInvalid, match="changed") as caught:
        ac.verify_export(path, new)
    assert caught.value.index == item["index"]

    # A key pinned from another log (same name, another key) verifies nothing.
    impostor = LogKey(key.origin, Signer.generate(key.origin).verifier.verifier_key)
    with pytest.raises(sdk.LogInvalid):
        ac.verify_export(excerpt, new, impostor)
    with pytest.raises(sdk.LogInvalid):
        ac.verify_inclusion(0, new.size, key=impostor)

    # Signed out, the session is gone.
    token = ac.token
    ac.sign_out()
    with pytest.raises(sdk.AuthError):
        AuditorClient(ORIGIN, transport=client._transport, token=token).events()


def test_a_resident_session_is_not_an_auditor_session(client: TestClient) -> None:
    anna = sign_up(client, origin=ORIGIN)
    ac = AuditorClient(ORIGIN, transport=client._transport, token=anna.token)
    with pytest.raises(sdk.AuthError):
        ac.events()
    with pytest.raises(sdk.AuthError):
        ac.export("/nonexistent-dir-never-written/x.jsonl")


def test_the_async_client(client: TestClient, container: Container, tmp_path: Path) -> None:
    seed(container)
    token = enrolled(client, container)[0].token
    app = client.app

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with AsyncAuditorClient(ORIGIN, transport=transport, token=token) as ac:
            ac.pinned = await ac.key()
            cp = await ac.checkpoint()
            page = await ac.events(limit=3)
            assert len(page.events) == 3
            assert (await ac.verify_inclusion(0, cp.size)).size == cp.size
            path = await ac.export(tmp_path / "a.jsonl", size=cp.size)
            assert (await ac.verify_export(path, cp)).entries == cp.size
            container.integrator.run_once()
            _, new = await ac.verify_consistency(cp)
            assert new.size > cp.size

    anyio.run(run)
