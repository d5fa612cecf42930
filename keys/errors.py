"""Errors of the key package.

    KeysError
    ├── DecryptionError          a ciphertext or wrapped key did not open (always opaque)
    ├── KeyBackendUnavailable    the keyring file or HSM cannot be reached right now
    ├── KeyringError             the keyring exists but is unusable (permissions, format)
    ├── UnknownKeyVersion        a KEK version this backend does not hold (retired, never made)
    └── KeyRetirementRefused     a KEK that still wraps data keys, or is too recently current

A decryption failure never says why: wrong key, wrong associated data and a tampered
ciphertext all raise the same `DecryptionError` (as `cryptography.fernet.InvalidToken` does),
so an attacker learns nothing from the error.
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
