"""The app's own check of a log proof (clients/app/proof.py), attacked.

A real tree of seven leaves and a checkpoint signed with a real note key; then each part of
the answer is changed in turn: the leaf, a hash, the index, the size, the event, the key,
the log's name, the signature, the encoding. Only the untouched proof verifies.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import pytest

from clients.app.proof import check
from clients.sdk.resident import LogKey, LogProof
from keys.note import Checkpoint, Signer, sign_checkpoint
from vault.audit import merkle

ORIGIN = "regie.example/audit"
EVENT = "6f1c1f1e-1111-4e5e-9a57-7d4f3f0f2b11"
INDEX, SIZE = 5, 7


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def leaves() -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(SIZE)]


def make(signer: Signer, *, index: int = INDEX) -> LogProof:
    hashes = leaves()
    root = merkle.root(hashes)

    def node(level: int, i: int) -> bytes:
        return merkle.root(hashes[i << level : (i + 1) << level])

    path = merkle.inclusion_proof(index, SIZE, node)
    note = sign_checkpoint(Checkpoint(signer.name, SIZE, root), signer).decode()
    return LogProof(
        event_id=EVENT,
        index=index,
        size=SIZE,
        leaf_hash=b64(hashes[index]),
        hashes=tuple(b64(h) for h in path),
        root_hash=b64(root),
        checkpoint=note,
        origin=signer.name,
        verifier_key=signer.verifier.verifier_key,
    )


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


def key_of(signer: Signer) -> LogKey:
    return LogKey(signer.name, signer.verifier.verifier_key)


def test_an_honest_proof_verifies(signer: Signer) -> None:
    proof = make(signer)
    result = check(proof, key_of(signer), EVENT, INDEX)
    assert result.verified, result.problem
    assert (result.index, result.size, result.origin) == (INDEX, SIZE, ORIGIN)
    assert result.root_hash == b64(merkle.root(leaves()))


def flip(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    return b64(bytes(raw))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: dataclasses.replace(p, leaf_hash=flip(p.leaf_hash)), id="leaf"),
        pytest.param(
            lambda p: dataclasses.replace(p, hashes=(flip(p.hashes[0]), *p.hashes[1:])),
            id="a-hash",
        ),
        pytest.param(lambda p: dataclasses.replace(p, hashes=p.hashes[:-1]), id="truncated"),
        pytest.param(lambda p: dataclasses.replace(p, hashes=(*p.hashes, p.hashes[0])), id="long"),
        pytest.param(lambda p: dataclasses.replace(p, size=SIZE + 1), id="size"),
        pytest.param(lambda p: dataclasses.replace(p, leaf_hash="not base64!"), id="encoding"),
        pytest.param(
            lambda p: dataclasses.replace(
                p, checkpoint=p.checkpoint.replace(f"\n{SIZE}\n", f"\n{SIZE + 1}\n", 1)
            ),
            id="signed-text-edited",
        ),
        pytest.param(
            lambda p: dataclasses.replace(
                p,
                checkpoint=p.checkpoint.replace(
                    p.root_hash, b64(hashlib.sha256(b"another tree").digest())
                ),
            ),
            id="root-in-checkpoint",
        ),
    ],
)
def test_a_tampered_proof_fails(signer: Signer, tamper) -> None:  # type: ignore[no-untyped-def]
    result = check(tamper(make(signer)), key_of(signer), EVENT, INDEX)
    assert not result.verified
    assert result.problem


def test_a_proof_of_another_index_or_event_fails(signer: Signer) -> None:
    key = key_of(signer)
    other_index = make(signer, index=2)  # a true proof, but of another entry
    assert check(other_index, key, EVENT, 2).verified
    assert not check(other_index, key, EVENT, INDEX).verified
    assert not check(make(signer), key, "7e2d0a00-0000-4000-8000-000000000000", INDEX).verified
    assert not check(make(signer), key, EVENT, None).verified  # not in the log, says the list


def test_a_proof_under_another_key_or_log_fails(signer: Signer) -> None:
    pinned = key_of(signer)
    impostor = Signer.generate(ORIGIN)  # same log name, another key
    assert not check(make(impostor), pinned, EVENT, INDEX).verified
    # Even when the answer names the pinned key, the signature is the impostor's.
    lying = dataclasses.replace(make(impostor), verifier_key=pinned.verifier_key)
    assert not check(lying, pinned, EVENT, INDEX).verified
    elsewhere = Signer.generate("elsewhere.example/audit")
    assert not check(make(elsewhere), pinned, EVENT, INDEX).verified
    renamed = dataclasses.replace(make(signer), origin="elsewhere.example/audit")
    assert not check(renamed, pinned, EVENT, INDEX).verified
