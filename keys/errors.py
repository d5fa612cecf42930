"""Errors of the key package.

    KeysError
    ├── DecryptionError          a ciphertext or wrapped key did not open (always opaque)
    ├── KeyBackendUnavailable    the keyring file or HSM cannot be reached right now
    ├── KeyringError             the keyring exists but is unusable (permissions, format)
    ├── UnknownKeyVersion        a KEK version this backend does not hold (retired, never made)
    ├── KeyRetirementRefused     a KEK that still wraps data keys, or is too recently current
    └── NoteError                a signed note or checkpoint was refused (keys/note.py)
        ├── MalformedNoteKey     a verifier or signer key string that does not parse or check
        ├── MalformedNote        not a signed note (syntax, encoding, control characters)
        │   └── MalformedCheckpoint   a good note whose text is not a tlog checkpoint
        ├── InvalidNoteSignature     a signature by a known key that does not verify
        ├── UnverifiedNote       no signature by any known key
        └── CheckpointOriginMismatch  a verified checkpoint of another log

A decryption failure never says why: wrong key, wrong associated data and a tampered
ciphertext all raise the same `DecryptionError` (as `cryptography.fernet.InvalidToken` does),
so an attacker learns nothing from the error.

A note is refused as a whole (fail closed): one bad signature by a known key rejects it even
when another known key's signature verifies. Note errors may say what is wrong with the
syntax: a note is public text, and its reader needs to know why it was refused.
"""


class KeysError(Exception):
    """Root of every error raised by `keys`."""


class DecryptionError(KeysError):
    """The ciphertext did not open under this key and associated data."""

    def __init__(self) -> None:
        super().__init__("ciphertext could not be opened")


class KeyBackendUnavailable(KeysError):
    """The key backend cannot be reached; callers must fail closed."""


class KeyringError(KeysError):
    """The keyring is present but must not be used (unsafe permissions, bad format)."""


class UnknownKeyVersion(KeysError):
    """The backend holds no key-encryption key with this version."""

    def __init__(self, version: int) -> None:
        super().__init__(f"no key-encryption key with version {version}")
        self.version = version


class KeyRetirementRefused(KeysError):
    """A key-encryption key may not be retired yet."""


class NoteError(KeysError):
    """A signed note (c2sp.org/signed-note) or checkpoint was refused; do not use its text."""


class MalformedNoteKey(NoteError):
    """A verifier key (`name+hash+key`) or signer key (`PRIVATE+KEY+...`) is unusable."""


class MalformedNote(NoteError):
    """The message is not a well-formed signed note."""


class MalformedCheckpoint(MalformedNote):
    """The note text is not a checkpoint (c2sp.org/tlog-checkpoint)."""


class InvalidNoteSignature(NoteError):
    """A signature by a known key (name and key id) does not verify."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class UnverifiedNote(NoteError):
    """The note carries no signature by any of the known keys."""

    def __init__(self) -> None:
        super().__init__("note has no signature by a known key")


class CheckpointOriginMismatch(NoteError):
    """A verified checkpoint names another log than the one expected."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"checkpoint of log {found!r}, expected {expected!r}")
        self.expected = expected
        self.found = found
