"""AuditorClient against httpx.MockTransport: the wire shapes, and offline verification that
refuses what it should (a tampered proof, a forked tree, another log's key, a changed export,
a checkpoint of another size). Checkpoints are signed here with a test key (`keys.note`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import clients.sdk as sdk
from clients.sdk.auditor import (
    AsyncAuditorClient,
    AuditorClient,
    Checkpoint,
    verify_consistency,
    verify_inclusion,
)
from clients.sdk.resident import LogKey
from keys.note import Checkpoint as NoteCheckpoint
from keys.note import Signer, sign_checkpoint
from vault.audit import merkle

BASE = "http://localhost:8000"
ORIGIN = "vault.test/audit"
SIGNER = Signer.generate(ORIGIN)
KEY = LogKey(ORIGIN, SIGNER.verifier.verifier_key)
OTHER = Signer.generate(ORIGIN)  # same name, another key: an impostor log
LEAVES = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(11)]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def node(level: int, index: int) -> bytes:
    return merkle.root(LEAVES[index << level : (index + 1) << level])


def note(size: int, signer: Signer = SIGNER, root: bytes | None = None) -> str:
    body = NoteCheckpoint(ORIGIN, size, root or merkle.root(LEAVES[:size]))
    return sign_checkpoint(body, signer).decode()


def inclusion_body(index: int, size: int) -> dict[str, Any]:
    return {
        "index": index,
        "size": size,
        "leaf_hash": b64(LEAVES[index]),
        "hashes": [b64(h) for h in merkle.inclusion_proof(index, size, node)],
        "checkpoint": note(size),
    }


def consistency_body(old: int, new: int) -> dict[str, Any]:
    return {
        "old_size": old,
        "new_size": new,
        "hashes": [b64(h) for h in merkle.consistency_proof(old, new, node)],
        "checkpoint": note(new),
    }


class Vault:
    def __init__(self, answers: dict[str, httpx.Response | Any]) -> None:
        self.answers = answers
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        answer = self.answers.get(request.url.path)
        if answer is None:
            return httpx.Response(404, json={"type": f"{BASE}/problems/not-found", "detail": "x"})
        if isinstance(answer, httpx.Response):
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        return httpx.Response(200, json=answer)


def client(vault: Vault, **kw: Any) -> AuditorClient:
    return AuditorClient(BASE, transport=httpx.MockTransport(vault), **kw)


def test_key_checkpoint_and_history() -> None:
    vault = Vault(
        {
            "/v1/audit/key": {"origin": KEY.origin, "verifier_key": KEY.verifier_key},
            "/v1/audit/checkpoint": httpx.Response(200, text=note(7)),
            "/v1/audit/checkpoints": {
                "checkpoints": [
                    {"size": n, "root_hash": b64(merkle.root(LEAVES[:n])), "checkpoint": note(n)}
                    for n in (3, 7)
                ]
            },
        }
    )
    ac = client(vault)
    assert ac.key() == KEY
    cp = ac.checkpoint(7)
    assert (cp.size, cp.root_hash) == (7, b64(merkle.root(LEAVES[:7])))
    assert vault.seen[-1].url.params["size"] == "7"
    assert cp.verified(KEY).size == 7
    assert [c.size for c in ac.checkpoints(after=2, limit=5)] == [3, 7]
    assert dict(vault.seen[-1].url.params) == {"after": "2", "limit": "5"}
    # Nothing public sends a token.
    assert all("authorization" not in r.headers for r in vault.seen)


def test_a_checkpoint_under_another_key_or_of_another_size_is_refused() -> None:
    with pytest.raises(sdk.LogInvalid, match="does not verify"):
        Checkpoint.from_note(note(7, OTHER)).verified(KEY)
    # A served size/root that the signed note does not say.
    cp = Checkpoint(8, b64(merkle.root(LEAVES[:7])), note(7))
    with pytest.raises(sdk.LogInvalid, match="another size"):
        cp.verified(KEY)
    with pytest.raises(sdk.ProtocolError):
        Checkpoint.from_note("not a checkpoint")


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 11), (5, 11), (10, 11), (3, 8)])
def test_inclusion_verifies_for_every_shape(index: int, size: int) -> None:
    ac = client(Vault({"/v1/audit/proof/inclusion": inclusion_body(index, size)}), key=KEY)
    assert ac.verify_inclusion(index, size).size == size


def test_inclusion_attacks() -> None:
    good = inclusion_body(5, 11)
    tampered = {**good, "hashes": [b64(b"\x00" * 32), *good["hashes"][1:]]}
    wrong_leaf = {**good, "leaf_hash": b64(LEAVES[4])}
    wrong_index = {**good, "index": 4}
    impostor = {**good, "checkpoint": note(11, OTHER)}
    other_size = {**good, "size": 10}
    for body, match in [
        (tampered, "not in the checkpoint's tree"),
        (wrong_leaf, "not in the checkpoint's tree"),
        (wrong_index, "not in the checkpoint's tree"),
        (impostor, "does not verify"),
        (other_size, "another size"),
    ]:
        ac = client(Vault({"/v1/audit/proof/inclusion": body}), key=KEY)
        with pytest.raises(sdk.LogInvalid, match=match):
            ac.verify_inclusion(5, 11)
    # Without a pinned key there is nothing to verify against.
    with pytest.raises(ValueError, match="pin"):
        client(Vault({"/v1/audit/proof/inclusion": good})).verify_inclusion(5, 11)


def test_consistency_verifies_and_a_fork_is_caught() -> None:
    old = Checkpoint.from_note(note(4))
    ac = client(Vault({"/v1/audit/proof/consistency": consistency_body(4, 11)}), key=KEY)
    old_ok, new_ok = ac.verify_consistency(old)
    assert (old_ok.size, new_ok.size) == (4, 11)
    # The vault signed an old checkpoint with another history (a split view).
    forked = Checkpoint.from_note(note(4, root=merkle.root([LEAVES[0]] * 4)))
    with pytest.raises(sdk.LogInvalid, match="does not extend"):
        ac.verify_consistency(forked)
    # A proof with a hash changed.
    body = consistency_body(4, 11)
    body["hashes"][0] = b64(b"\x01" * 32)
    proof = client(Vault({"/v1/audit/proof/consistency": body})).consistency_proof(4)
    with pytest.raises(sdk.LogInvalid):
        verify_consistency(old, proof, KEY)
    # A newer checkpoint that is not the one the auditor holds.
    with pytest.raises(sdk.LogInvalid, match="another checkpoint"):
        ac.verify_consistency(old, Checkpoint.from_note(note(11, OTHER)))


def test_events_need_a_session_and_send_the_filters() -> None:
    page = {
        "checkpoint": {"size": 7, "root_hash": b64(merkle.root(LEAVES[:7])), "checkpoint": note(7)},
        "events": [{"index": 2, "leaf_hash": b64(LEAVES[2]), "entry": {"name": "record.read"}}],
        "next_after": 2,
    }
    vault = Vault({"/v1/auditor/events": page})
    with pytest.raises(sdk.AuthError):
        client(vault).events()
    assert vault.seen == []  # refused before anything was sent
    got = client(vault, token="rga_x").events(outcome="deny", subject="abc", limit=1, size=7)
    assert (got.next_after, got.events[0].entry["name"]) == (2, "record.read")
    request = vault.seen[-1]
    assert request.headers["authorization"] == "Bearer rga_x"
    assert dict(request.url.params) == {
        "outcome": "deny",
        "subject": "abc",
        "size": "7",
        "after": "-1",
        "limit": "1",
    }


def test_sign_in_keeps_the_session_and_repr_hides_it() -> None:
    ceremony = {
        "flow_id": "f",
        "public_key": {"challenge": "c"},
        "expires_at": "2026-12-01T00:00:00Z",
    }
    signed = {
        "session_token": "rga_secret",
        "token_type": "Bearer",
        "expires_at": "2026-12-01T00:00:00Z",
    }
    vault = Vault(
        {"/v1/auditor/auth/login/options": ceremony, "/v1/auditor/auth/login/verify": signed}
    )
    ac = client(vault)
    assert ac.begin_sign_in().public_key == {"challenge": "c"}
    session = ac.finish_sign_in("f", {"id": "cred"})
    assert ac.token == "rga_secret"
    assert "rga_secret" not in repr(session) + repr(ac)
    assert json.loads(vault.seen[-1].content) == {"flow_id": "f", "credential": {"id": "cred"}}


def test_export_streams_to_a_file_and_a_failure_leaves_none(tmp_path: Path) -> None:
    text = "a line\n" * 1000
    vault = Vault({"/v1/auditor/export/csv": httpx.Response(200, text=text)})
    out = client(vault, token="rga_x").export(tmp_path / "x.csv", format="csv", outcome="deny")
    assert out.read_text() == text
    assert vault.seen[-1].url.params["outcome"] == "deny"
    refused = Vault({"/v1/auditor/export/jsonl": httpx.Response(401, json={"detail": "no"})})
    with pytest.raises(sdk.AuthError):
        client(refused, token="rga_old").export(tmp_path / "y.jsonl")
    assert not (tmp_path / "y.jsonl").exists()
    with pytest.raises(ValueError, match="format"):
        client(vault, token="rga_x").export(tmp_path / "z", format="xml")  # type: ignore[arg-type]


def test_verify_export_refuses_a_changed_file(tmp_path: Path) -> None:
    # Not a Regie export at all: the verifier names the problem, the SDK raises LogInvalid.
    path = tmp_path / "e.jsonl"
    path.write_text('{"format": "something else"}\n')
    ac = client(Vault({}), key=KEY)
    with pytest.raises(sdk.LogInvalid, match="format"):
        ac.verify_export(path, Checkpoint.from_note(note(3)))
    with pytest.raises(sdk.LogInvalid, match="does not verify"):
        ac.verify_export(path, Checkpoint.from_note(note(3, OTHER)))
    with pytest.raises(sdk.LogInvalid, match="cannot be read"):
        ac.verify_export(tmp_path / "missing.jsonl", Checkpoint.from_note(note(3)))


def test_the_async_twin() -> None:
    vault = Vault(
        {
            "/v1/audit/proof/inclusion": inclusion_body(3, 11),
            "/v1/audit/proof/consistency": consistency_body(3, 11),
        }
    )

    async def run() -> None:
        async with AsyncAuditorClient(BASE, transport=httpx.MockTransport(vault), key=KEY) as ac:
            assert (await ac.verify_inclusion(3, 11)).size == 11
            _, new = await ac.verify_consistency(Checkpoint.from_note(note(3)))
            assert new.size == 11
            with pytest.raises(sdk.AuthError):
                await ac.events()

    anyio.run(run)


def test_verify_inclusion_checks_the_entry_too() -> None:
    ac = client(Vault({"/v1/audit/proof/inclusion": inclusion_body(5, 11)}), key=KEY)
    proof = ac.inclusion_proof(5, 11)
    with pytest.raises(sdk.LogInvalid):
        verify_inclusion(proof, KEY, entry={"name": "not the entry"})
