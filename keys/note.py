"""Signed notes (c2sp.org/signed-note) and transparency-log checkpoints (c2sp.org/tlog-checkpoint).

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more signature
lines ``— <key name> base64(4-byte key id || Ed25519 signature of the text)``. The format and
the key strings are those of Go's ``golang.org/x/mod/sumdb/note``, so auditors can check our
checkpoints with stock tools:

- verifier key: ``<name>+<hex8 key id>+base64(0x01 || 32-byte public key)``;
- signer key: ``PRIVATE+KEY+<name>+<hex8 key id>+base64(0x01 || 32-byte seed)`` (secret);
- key id: the first four bytes, big-endian, of ``SHA-256(name || 0x0A || 0x01 || public key)``.

Only Ed25519 (signature type 0x01) is supported. Opening a note fails closed: anything
malformed, a signature by a known key that does not verify (even beside one that does), or no
signature by a known key at all raises a `NoteError`. Signatures by unknown keys (a witness's
cosignature, a rotated-out key) are kept as unverified, as the specification requires.

We are stricter than Go where it costs no conforming signer anything: base64 must be
canonical (no stray trailing bits), key ids in key strings lowercase hex, key names free of
control characters; every signature by a known key is verified, not only the first one per
key; and two different verifiers with one name and key id are refused even when unused.

A checkpoint is a note whose text is ``<origin>\\n<tree size>\\n<base64 root hash>\\n`` plus
optional extension lines; `Checkpoint.parse` accepts exactly that and nothing looser.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keys.errors import (
    CheckpointOriginMismatch,
    InvalidNoteSignature,
    MalformedCheckpoint,
    MalformedNote,
    MalformedNoteKey,
    UnverifiedNote,
)

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "Note",
    "Signature",
    "Signer",
    "Verifier",
    "key_id",
    "open",
    "open_checkpoint",
    "sign",
    "sign_checkpoint",
    "valid_name",
]

ALG_ED25519 = 0x01
# Go's limit; the specification asks verifiers to accept at least 16. It bounds the work an
# attacker can make us do with one note.
MAX_SIGNATURES = 100
_DASH = "\u2014 "  # em dash and space: the start of every signature line
_HEX8 = re.compile(r"[0-9a-f]{8}")
_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_TREE_SIZE = 2**64 - 1  # Go's tlog parses the size as a uint64
_ROOT_HASH_BYTES = 32  # RFC 6962 / 9162 Merkle tree with SHA-256


# -- text rules ------------------------------------------------------------------------------


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # a str with a lone surrogate has no UTF-8 form
    except UnicodeEncodeError:
        return False
    return True


def _has_control(text: str) -> bool:
    """Any ASCII control character (below U+0020) other than newline."""
    return any(ord(c) < 0x20 and c != "\n" for c in text)


def valid_name(name: str) -> bool:
    """A key name: non-empty, valid UTF-8, without '+', Unicode spaces or control characters."""
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() or ord(c) < 0x20 for c in name)
        and _utf8(name)
    )


def _b64decode(text: str) -> bytes | None:
    """Strict standard base64 (RFC 4648 §4, padded, canonical), or None."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError:  # binascii.Error and UnicodeEncodeError are both ValueErrors
        return None
    # Canonical only: otherwise several strings decode to the same key or signature.
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _chop(text: str, sep: str) -> tuple[str, str]:
    """Split at the first `sep`; without one, the whole text and an empty rest (as Go's chop)."""
    before, found, after = text.partition(sep)
    return (before, after) if found else (text, "")


# -- keys --------------------------------------------------------------------------------------


def key_id(name: str, public_key: bytes) -> int:
    """The key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian."""
    if not valid_name(name):
        raise MalformedNoteKey(f"invalid key name {name!r}")
    if len(public_key) != 32:
        raise MalformedNoteKey("an Ed25519 public key has 32 bytes")
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


class Verifier:
    """The public half of a note key: checks signatures made under `name`."""

    __slots__ = ("_key", "_key_id", "_name", "_public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        self._key_id = key_id(name, public_key)  # checks the name and the length
        self._name = name
        self._public_key = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self._public_key)

    # Read-only: a verifier whose name or id could be changed after the check is no verifier.
    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """A verifier from its key string ``name+hex8+base64(0x01 || public key)``."""
        name, rest = _chop(vkey, "+")
        hash16, key64 = _chop(rest, "+")
        key = _b64decode(key64)
        if not valid_name(name) or not _HEX8.fullmatch(hash16) or not key:
            raise MalformedNoteKey("malformed verifier key")
        if key[0] != ALG_ED25519:
            raise MalformedNoteKey("unknown verifier key algorithm")
        if len(key) != 33:
            raise MalformedNoteKey("malformed verifier key")
        verifier = cls(name, key[1:])
        if verifier.key_id != int(hash16, 16):
            raise MalformedNoteKey("verifier key id does not match its name and key")
        return verifier

    @property
    def verifier_key(self) -> str:
        """The key string to hand to verifiers: ``name+hex8+base64(0x01 || public key)``."""
        return f"{self.name}+{self.key_id:08x}+{_b64encode(bytes([ALG_ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's Ed25519 signature of `message`."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self.name, self.public_key) == (other.name, other.public_key)

    def __hash__(self) -> int:
        return hash((self.name, self.public_key))

    def __repr__(self) -> str:
        return f"Verifier({self.verifier_key!r})"


class Signer:
    """The private half of a note key. Its `signer_key` is a secret; `repr` never shows it."""

    __slots__ = ("_key", "_seed", "_verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise MalformedNoteKey("an Ed25519 private key (seed) has 32 bytes")
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(self._seed)
        self._verifier = Verifier(name, self._key.public_key().public_bytes_raw())

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def verifier(self) -> Verifier:
        """The matching public key."""
        return self._verifier

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A new random key for `name`."""
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """A signer from its key string ``PRIVATE+KEY+name+hex8+base64(0x01 || seed)``."""
        private, rest = _chop(skey, "+")
        word, rest = _chop(rest, "+")
        name, rest = _chop(rest, "+")
        hash16, key64 = _chop(rest, "+")
        key = _b64decode(key64)
        if (
            private != "PRIVATE"
            or word != "KEY"
            or not valid_name(name)
            or not _HEX8.fullmatch(hash16)
            or not key
        ):
            raise MalformedNoteKey("malformed signer key")
        if key[0] != ALG_ED25519:
            raise MalformedNoteKey("unknown signer key algorithm")
        if len(key) != 33:
            raise MalformedNoteKey("malformed signer key")
        signer = cls(name, key[1:])
        # The key id is the public key's: it can only be checked after deriving that.
        if signer.key_id != int(hash16, 16):
            raise MalformedNoteKey("signer key id does not match its name and key")
        return signer

    @property
    def signer_key(self) -> str:
        """The secret key string ``PRIVATE+KEY+name+hex8+base64(0x01 || seed)``."""
        seed = _b64encode(bytes([ALG_ED25519]) + self._seed)
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{seed}"

    def sign(self, message: bytes) -> bytes:
        """The raw Ed25519 signature of `message` (64 bytes); notes are made by `sign()` below."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"Signer({self.name}+{self.key_id:08x})"


# -- notes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line of a note: who signed, and the signature as it was written."""

    name: str
    key_id: int
    base64: str  # base64(4-byte key id || signature), exactly as in the note


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text, the signatures that verified, and those by unknown keys."""

    text: str
    signatures: tuple[Signature, ...]  # verified; never empty
    unverified: tuple[Signature, ...]  # by keys the caller does not know; not checked


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNote("note text must end with a newline")
    if _has_control(text) or not _utf8(text):
        raise MalformedNote("note text must be UTF-8 without control characters but newline")


def sign(text: str, signers: Sequence[Signer]) -> bytes:
    """The signed note: `text`, a blank line, and one signature line per signer, in order.

    Raises `MalformedNote` for a text that `open` would refuse, `ValueError` without signers
    or with two signers of the same key.
    """
    _check_text(text)
    if not signers:
        raise ValueError("a note needs at least one signer")
    if len({(s.name, s.key_id) for s in signers}) != len(signers):
        raise ValueError("two signers with the same key name and id")
    body = text.encode("utf-8")
    lines = "".join(
        f"{_DASH}{s.name} {_b64encode(s.key_id.to_bytes(4, 'big') + s.sign(body))}\n"
        for s in signers
    )
    return body + b"\n" + lines.encode("utf-8")


def _index(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], Verifier]:
    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        seen = known.setdefault((v.name, v.key_id), v)
        if seen != v:
            # Two keys share a name and id: an attacker may have planted one. Refuse.
            raise MalformedNoteKey(f"ambiguous key {v.name}+{v.key_id:08x}")
    return known


def open(msg: bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse `msg` and check its signatures against the known `verifiers`.

    Returns the note when at least one signature by a known key verifies and none by a known
    key fails. Raises `MalformedNote` (syntax), `InvalidNoteSignature` (a known key's signature
    does not verify), `UnverifiedNote` (no known key signed), `MalformedNoteKey` (two different
    verifiers with the same name and key id). Signatures by unknown keys are returned unchecked
    in `Note.unverified`; identical repeated lines are listed once.
    """
    known = _index(verifiers)
    try:
        decoded = msg.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedNote("a note must be UTF-8") from e
    if _has_control(decoded):
        raise MalformedNote("a note must not hold control characters other than newline")
    # The text ends at the last blank line: texts may hold blank lines, signatures never do.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNote("no signature lines ending in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"more than {MAX_SIGNATURES} signatures")
    body = text.encode("utf-8")
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for line in lines:
        if not line.startswith(_DASH):
            raise MalformedNote("a signature line must start with an em dash and a space")
        name, b64 = _chop(line[len(_DASH) :], " ")
        raw = _b64decode(b64)
        if raw is None or len(raw) < 5 or not valid_name(name):
            raise MalformedNote("malformed signature line")
        signature = Signature(name, int.from_bytes(raw[:4], "big"), b64)
        verifier = known.get((name, signature.key_id))
        if verifier is None:
            if signature not in unverified:
                unverified.append(signature)
            continue
        # Every signature by a known key is checked, repeated ones too (Go skips repeats).
        if not verifier.verify(body, raw[4:]):
            raise InvalidNoteSignature(name, signature.key_id)
        if all((s.name, s.key_id) != (name, signature.key_id) for s in verified):
            verified.append(signature)
    if not verified:
        raise UnverifiedNote
    return Note(text, tuple(verified), tuple(unverified))


# -- checkpoints -------------------------------------------------------------------------------


def _valid_line(line: object) -> bool:
    return isinstance(line, str) and bool(line) and "\n" not in line and not _has_control(line)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's signed tree head: its origin (the log's name), tree size and RFC 9162 root hash.

    Construction checks every field (`MalformedCheckpoint`), so a checkpoint that exists can
    always be written and read back.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _valid_line(self.origin) or not _utf8(self.origin):
            raise MalformedCheckpoint("checkpoint origin must be one non-empty line")
        # bool is an int subclass; True is not a tree size.
        if type(self.size) is not int or not 0 <= self.size <= _MAX_TREE_SIZE:
            raise MalformedCheckpoint("checkpoint size must be an integer from 0 to 2^64-1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _ROOT_HASH_BYTES:
            raise MalformedCheckpoint(f"checkpoint root hash must be {_ROOT_HASH_BYTES} bytes")
        if not isinstance(self.extensions, tuple) or not all(
            _valid_line(e) and _utf8(e) for e in self.extensions
        ):
            raise MalformedCheckpoint("checkpoint extension lines must be non-empty lines")

    def body(self) -> str:
        """The note text: origin, size, base64 root hash and extension lines, each ending in \\n."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint in a note text; `MalformedCheckpoint` unless it is exactly one."""
        if not text.endswith("\n"):
            raise MalformedCheckpoint("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint("checkpoint needs origin, size and root hash lines")
        if not all(lines):
            raise MalformedCheckpoint("checkpoint lines must not be empty")
        origin, size, root, *extensions = lines
        # Decimal ASCII without sign or leading zeros; length-capped before int() sees it.
        if len(size) > 20 or not _SIZE.fullmatch(size):
            raise MalformedCheckpoint("checkpoint size must be a decimal without leading zeros")
        root_hash = _b64decode(root)
        if root_hash is None:
            raise MalformedCheckpoint("checkpoint root hash must be base64")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> bytes:
    """The checkpoint as a signed note; the signer's key name must be the checkpoint's origin."""
    if signer.name != checkpoint.origin:
        raise ValueError(f"key {signer.name!r} does not sign for log {checkpoint.origin!r}")
    return sign(checkpoint.body(), [signer])


def open_checkpoint(msg: bytes, verifier: Verifier, origin: str) -> Checkpoint:
    """The checkpoint in `msg`, when `verifier`'s signature verifies and it is `origin`'s.

    Raises what `open` raises, `MalformedCheckpoint` for a note that is not a checkpoint and
    `CheckpointOriginMismatch` for a checkpoint of another log.
    """
    checkpoint = Checkpoint.parse(open(msg, [verifier]).text)
    if checkpoint.origin != origin:
        raise CheckpointOriginMismatch(origin, checkpoint.origin)
    return checkpoint
