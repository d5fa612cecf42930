"""Offline verification of a log export against a signed checkpoint and the log's public key.

What an auditor runs (`regie audit verify`), with nothing but the export, the checkpoint and
the verifier key: no database, no network. The export format is in docs/audit-format.md:
a header line, then one line per entry with its index, its entry (canonical JSON, see
`vault.audit.leaf`) and the leaf hash the tree holds for that index. Verification:

1. the checkpoint's signed note verifies under the key and names the expected origin;
2. every entry's canonical hash equals the tree's leaf hash at its index (else: the entry
   was changed after it was logged, here or in the database), indices are strictly
   increasing, and in a complete export they run 0, 1, 2, ... (else: an entry is missing);
3. a complete export's leaf hashes build the checkpoint's root (RFC 9162 MTH); an excerpt's
   entries each carry an inclusion proof that verifies against that root.

The first failure is reported with the index it concerns and why (`ExportInvalid`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from keys import note
from keys.errors import NoteError
from vault.audit import leaf, merkle
from vault.errors import ProofError, VaultError

EXPORT_FORMAT = "regie.audit.export.v1"
# `progress` hears of every this many entries, and of the last: a progress bar's update per
# entry (rich's takes a lock and keeps a speed sample) costs more than checking the entry.
PROGRESS_STEP = 1000
_BLOCK = 4096


class ExportInvalid(VaultError):
    """The export does not verify; `index` is the first entry concerned (None: the whole)."""

    def __init__(self, detail: str, *, index: int | None = None) -> None:
        super().__init__(detail)
        self.index = index


@dataclass(frozen=True, slots=True)
class Verified:
    origin: str
    size: int
    entries: int
    complete: bool


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: object, what: str, index: int) -> bytes:
    """A hash of entry `index`; `what` names it in the error ("the leaf hash" -> "the leaf
    hash of entry 7 is missing"), composed only then."""
    if not isinstance(text, str):
        raise ExportInvalid(f"{what} of entry {index} is missing", index=index)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise ExportInvalid(f"{what} of entry {index} is not base64", index=index) from e
    if len(raw) != merkle.HASH_SIZE:
        raise ExportInvalid(f"{what} of entry {index} is not a 32-byte hash", index=index)
    return raw


def verify_export(
    lines: Iterable[str],
    *,
    checkpoint: bytes,
    verifier_key: str,
    progress: Callable[[int], None] | None = None,
) -> Verified:
    """Verify an export (its lines, header first); raises `ExportInvalid` at the first fault.
    `progress` is called with the number of entries checked so far, every `PROGRESS_STEP`
    entries and once at the end."""
    try:
        verifier = note.Verifier.parse(verifier_key)
        signed = note.open_checkpoint(checkpoint, verifier, origin=verifier.name)
    except NoteError as e:
        raise ExportInvalid(f"the checkpoint does not verify under this key: {e}") from e
    it = iter(lines)
    try:
        header = json.loads(next(it))
    except (StopIteration, ValueError) as e:
        raise ExportInvalid("the export has no header line") from e
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise ExportInvalid(f"the export is not in format {EXPORT_FORMAT}")
    complete = header.get("complete") is True
    root, size = signed.root_hash, signed.size
    tree = merkle.Frontier()
    leaves: list[bytes] = []  # of a complete export, appended to `tree` a block at a time
    expected = 0
    count = 0
    for number, line in enumerate(it, start=2):
        if not line or line.isspace():  # what `not line.strip()` tells, without a copy
            continue
        try:
            item = json.loads(line)
            index = item["index"]
            value = item["entry"]
        except (ValueError, KeyError, TypeError) as e:
            raise ExportInvalid(f"line {number} is not an export entry") from e
        if not isinstance(index, int) or index < 0 or not isinstance(value, dict):
            raise ExportInvalid(f"line {number} is not an export entry")
        if index >= size:
            raise ExportInvalid(f"entry {index} is beyond the checkpoint", index=index)
        if index < expected:
            raise ExportInvalid(f"entry {index} is out of order or repeated", index=index)
        if complete and index != expected:
            raise ExportInvalid(f"entry {expected} is missing", index=expected)
        tree_leaf = _unb64(item.get("leaf_hash"), "the leaf hash", index)
        try:
            own = leaf.leaf_hash(value)
        except ValueError as e:
            raise ExportInvalid(f"entry {index} is not a valid entry: {e}", index=index) from e
        if own != tree_leaf:
            raise ExportInvalid(
                f"entry {index} differs from what was logged: it was changed", index=index
            )
        if complete:
            leaves.append(tree_leaf)
            if len(leaves) == _BLOCK:
                tree.extend(leaves)
                leaves.clear()
        else:
            proof = item.get("inclusion")
            if not isinstance(proof, list):
                raise ExportInvalid(f"entry {index} has no inclusion proof", index=index)
            hashes = [_unb64(h, "the proof", index) for h in proof]
            try:
                merkle.verify_inclusion(own, index, size, hashes, root)
            except ProofError as e:
                raise ExportInvalid(
                    f"entry {index} is not in the checkpoint's tree: {e.detail}", index=index
                ) from e
        expected = index + 1
        count += 1
        if progress is not None and not count % PROGRESS_STEP:
            progress(count)
    if progress is not None and count % PROGRESS_STEP:
        progress(count)
    if complete:
        tree.extend(leaves)
        if expected != signed.size:
            raise ExportInvalid(
                f"the export ends at entry {expected}, the checkpoint has {signed.size}",
                index=expected,
            )
        if tree.root() != root:
            raise ExportInvalid(
                "the leaf hashes do not build the checkpoint's root: the tree was changed"
            )
    return Verified(signed.origin, signed.size, count, complete)
