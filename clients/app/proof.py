"""Checking, in the app's own process, that an entry of the resident's log is in the log.

The API answers with an RFC 9162 inclusion proof and the signed checkpoint it is against
(`ResidentClient.log_proof`). We do not take its word: the checkpoint's signature is checked
with the log's key (`keys.note`), and the proof with `vault.audit.merkle`, both the vault's
own verifiers (pure functions, no storage; the one place the app borrows from the vault).

The key is the one the API served first to this app (`GET /v1/audit/key`), kept for the
app's life: a proof under another key or of another log fails, even if the API now says
that key is the log's. What the check cannot show is that the leaf is this event's: the
leaf's entry is not given to the app. It shows that the log's signed tree holds this leaf at
the index the API gave the event, so a later change or removal would be visible.

The auditor pages check more, since an auditor is shown the entry itself: `check_entry` also
hashes the entry and compares it with the proven leaf, `check_checkpoint` checks a signed
checkpoint, and `check_consistency` that the latest tree extends an earlier one; all three
through the auditor SDK's verifiers (`clients.sdk.auditor`), under the same pinned key.
`check_pasted` takes a checkpoint note the auditor kept and pastes in: its text, origin and
signature are checked here first, then its size against the latest, then the consistency
proof from it to the latest, so the page can say which of these did not hold.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from clients.sdk import _errors as sdk_errors
from clients.sdk._errors import LogInvalid
from clients.sdk.auditor import (
    AsyncAuditorClient,
    Checkpoint,
    InclusionProof,
    verify_consistency,
    verify_inclusion,
)
from clients.sdk.resident import AsyncResidentClient, LogKey, LogProof
from keys.errors import InvalidNoteSignature, NoteError, UnverifiedNote
from keys.note import Checkpoint as NoteCheckpoint
from keys.note import Verifier, open_checkpoint
from vault.audit import merkle
from vault.errors import ProofError


@dataclass(frozen=True, slots=True)
class ProofResult:
    verified: bool
    index: int
    size: int
    root_hash: str  # base64, from the signed checkpoint
    origin: str
    problem: str | None = None  # for the logs and the curious: what did not match


async def log_key(
    client: AsyncResidentClient | AsyncAuditorClient, pinned: dict[str, LogKey]
) -> LogKey:
    """The log's key: the one in `pinned` (the app's), else fetched now and kept there."""
    if "key" not in pinned:
        fetched = client.key() if isinstance(client, AsyncAuditorClient) else client.log_key()
        pinned["key"] = await fetched
    return pinned["key"]


def check(proof: LogProof, key: LogKey, event_id: str, index: int | None) -> ProofResult:
    """Whether `proof` shows event `event_id` (log index `index`) in the log signed by `key`."""
    failed = ProofResult(False, proof.index, proof.size, proof.root_hash, proof.origin)
    if proof.event_id != event_id or index is None or proof.index != index:
        return _failed(failed, "the proof is of another entry")
    if proof.verifier_key != key.verifier_key or proof.origin != key.origin:
        return _failed(failed, "the proof names another key or log")
    try:
        verifier = Verifier.parse(key.verifier_key)
        checkpoint = open_checkpoint(proof.checkpoint.encode(), verifier, key.origin)
        if checkpoint.size != proof.size:
            return _failed(failed, "the checkpoint is of another size")
        leaf = base64.b64decode(proof.leaf_hash, validate=True)
        hashes = [base64.b64decode(h, validate=True) for h in proof.hashes]
        merkle.verify_inclusion(leaf, proof.index, proof.size, hashes, checkpoint.root_hash)
    except (NoteError, ProofError, binascii.Error, ValueError) as e:
        return _failed(failed, str(e) or type(e).__name__)
    root = base64.b64encode(checkpoint.root_hash).decode()
    return ProofResult(True, proof.index, proof.size, root, key.origin)


def _failed(result: ProofResult, problem: str) -> ProofResult:
    return ProofResult(False, result.index, result.size, result.root_hash, result.origin, problem)


# -- the auditor pages ----------------------------------------------------------------------


def check_entry(
    proof: InclusionProof, key: LogKey, index: int, entry: Mapping[str, str | None]
) -> ProofResult:
    """Whether `proof` shows `entry` (its canonical hash) at `index` in the log signed by `key`."""
    failed = ProofResult(False, proof.index, proof.size, proof.checkpoint.root_hash, key.origin)
    if proof.index != index:
        return _failed(failed, "the proof is of another index")
    try:
        opened = verify_inclusion(proof, key, entry=entry)
    except LogInvalid as e:
        return _failed(failed, e.detail)
    root = base64.b64encode(opened.root_hash).decode()
    return ProofResult(True, proof.index, opened.size, root, key.origin)


def check_checkpoint(checkpoint: Checkpoint, key: LogKey) -> ProofResult:
    """Whether `checkpoint` is signed by `key` (index: the last entry it covers)."""
    failed = ProofResult(
        False, checkpoint.size - 1, checkpoint.size, checkpoint.root_hash, key.origin
    )
    try:
        checkpoint.verified(key)
    except LogInvalid as e:
        return _failed(failed, e.detail)
    return ProofResult(True, checkpoint.size - 1, checkpoint.size, checkpoint.root_hash, key.origin)


async def check_consistency(
    client: AsyncAuditorClient, old: Checkpoint, new: Checkpoint, key: LogKey
) -> ProofResult:
    """Whether `new` extends `old` (nothing changed, moved or dropped), both signed by `key`."""
    failed = ProofResult(False, old.size, new.size, new.root_hash, key.origin)
    try:
        await client.verify_consistency(old, new, key=key)
    except LogInvalid as e:
        return _failed(failed, e.detail)
    return ProofResult(True, old.size, new.size, new.root_hash, key.origin)


# A C2SP checkpoint note is a few hundred bytes; anything much longer is not one.
MAX_PASTED_NOTE = 4096
# What a pasted checkpoint turned out to be (texts `auditor.pasted.<outcome>`):
# consistent / same: signed by the log's key and the latest tree extends it (or is it);
# malformed: not a signed checkpoint note; origin: another log's; signature: not signed by
# this log's key (changed, or another key); larger: signed, yet more entries than the latest
# (a log never shrinks); unknown: signed, yet the vault has no checkpoint of that size;
# inconsistent: signed, yet the latest tree does not extend it; latest: the latest checkpoint
# itself does not verify, so nothing can be compared with it.
PastedOutcome = Literal[
    "consistent",
    "same",
    "malformed",
    "origin",
    "signature",
    "larger",
    "unknown",
    "inconsistent",
    "latest",
]


@dataclass(frozen=True, slots=True)
class PastedCheckpoint:
    outcome: PastedOutcome
    latest_size: int
    latest_root: str  # base64
    origin: str | None = None  # the pasted checkpoint's, once its text parsed
    size: int | None = None
    root_hash: str | None = None  # base64
    hashes: tuple[str, ...] = ()  # the consistency proof checked (RFC 9162 §2.1.4), base64
    problem: str | None = None  # what did not match, exactly

    @property
    def verified(self) -> bool:
        return self.outcome in ("consistent", "same")


def pasted_note(text: str) -> bytes:
    """The bytes of a note as pasted into a form: browsers send a textarea's line ends as
    CRLF, and a copy often loses the final newline or picks up surrounding blank space."""
    return (text.replace("\r\n", "\n").replace("\r", "\n").strip() + "\n").encode()


async def check_pasted(
    client: AsyncAuditorClient, raw: bytes, latest: Checkpoint, key: LogKey
) -> PastedCheckpoint:
    """What the pasted checkpoint note `raw` is: checked against the pinned `key` first
    (its text, its origin, its signature), then against the `latest` checkpoint (the size,
    and the consistency proof the vault gives from it to the latest, checked here)."""
    found = PastedCheckpoint("malformed", latest.size, latest.root_hash)
    # The text, before any signature: to say exactly what is wrong with a note.
    decoded = raw.decode("utf-8", errors="replace")
    split = decoded.rfind("\n\n")
    if split < 0:
        return replace(found, problem="no blank line between the checkpoint and its signature")
    try:
        body = NoteCheckpoint.parse(decoded[: split + 1])
    except NoteError as e:
        return replace(found, problem=str(e))
    found = replace(
        found,
        origin=body.origin,
        size=body.size,
        root_hash=base64.b64encode(body.root_hash).decode(),
    )
    if body.origin != key.origin:
        return replace(found, outcome="origin", problem=f"{body.origin} is not {key.origin}")
    try:
        open_checkpoint(raw, Verifier.parse(key.verifier_key), key.origin)
    except (InvalidNoteSignature, UnverifiedNote) as e:
        return replace(found, outcome="signature", problem=str(e))
    except NoteError as e:  # the signature lines themselves do not parse
        return replace(found, problem=str(e))
    try:
        latest.verified(key)
    except LogInvalid as e:
        return replace(found, outcome="latest", problem=e.detail)
    if body.size > latest.size:
        return replace(
            found, outcome="larger", problem=f"size {body.size} > latest size {latest.size}"
        )
    if body.size == latest.size:
        if found.root_hash == latest.root_hash:
            return replace(found, outcome="same")
        return replace(found, outcome="inconsistent", problem="another root hash for the same size")
    try:
        proof = await client.consistency_proof(body.size, latest.size)
    except sdk_errors.NotFound:
        return replace(
            found, outcome="unknown", problem=f"the vault has no checkpoint of size {body.size}"
        )
    found = replace(found, hashes=proof.hashes)
    if proof.checkpoint.note != latest.note:
        return replace(found, outcome="latest", problem="the proof is against another checkpoint")
    pasted = Checkpoint(body.size, found.root_hash or "", raw.decode())
    try:
        verify_consistency(pasted, proof, key)
    except LogInvalid as e:
        return replace(found, outcome="inconsistent", problem=e.detail)
    return replace(found, outcome="consistent")
