"""Keyed hashes from the deployment secret in the keyring.

A keyed hash (HMAC-SHA-256 under a key derived per purpose with HKDF) lets the vault look a
value up without storing it, while a copy of the database alone is not enough to test
guesses against it. Used for recovery codes now; pairwise subjects and the audit log's data
subject hashes use other purposes of the same secret.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.keyring import KeyringFile, b64d


class KeyedHasher:
    """HMAC-SHA-256 under `HKDF(deployment secret, info=purpose)`."""

    def __init__(self, keyring: KeyringFile) -> None:
        self._root = b64d(keyring.document()["secrets"]["deployment"])
        self._derived: dict[str, bytes] = {}

    def _key(self, purpose: str) -> bytes:
        key = self._derived.get(purpose)
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"regie/" + purpose.encode()
            ).derive(self._root)
            self._derived[purpose] = key
        return key

    def digest(self, purpose: str, value: bytes) -> bytes:
        return hmac.new(self._key(purpose), value, hashlib.sha256).digest()
