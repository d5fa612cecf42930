"""Keyed hashes and sealed values from the deployment secret in the keyring.

A keyed hash (HMAC-SHA-256 under a key derived per purpose with HKDF) lets the vault look a
value up without storing it, while a copy of the database alone is not enough to test
guesses against it. Used for recovery codes now; pairwise subjects and the audit log's data
subject hashes use other purposes of the same secret.

`DeploymentSealer` seals values that belong to no resident and must be opened by processes
that hold no resident's data key (the event pusher): a CIBA ping's auth_req_id and bearer
token. Its AES-256-GCM key is derived per purpose under a label of its own
(``regie/aead/<purpose>``), so it never equals a keyed-hash key of the same secret.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys import aead
from keys.keyring import KeyringFile, b64d


class _DerivedKeys:
    """32-byte keys `HKDF-SHA-256(deployment secret, info=label + purpose)`, made once each."""

    _LABEL: bytes

    def __init__(self, keyring: KeyringFile) -> None:
        self._root = b64d(keyring.document()["secrets"]["deployment"])
        self._derived: dict[str, bytes] = {}

    def _key(self, purpose: str) -> bytes:
        key = self._derived.get(purpose)
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=None,
                info=self._LABEL + purpose.encode(),
            ).derive(self._root)
            self._derived[purpose] = key
        return key


class KeyedHasher(_DerivedKeys):
    """HMAC-SHA-256 under `HKDF(deployment secret, info="regie/" + purpose)`."""

    _LABEL = b"regie/"

    def digest(self, purpose: str, value: bytes) -> bytes:
        return hmac.new(self._key(purpose), value, hashlib.sha256).digest()


class DeploymentSealer(_DerivedKeys):
    """AES-256-GCM (keys/aead.py) under `HKDF(deployment secret, info="regie/aead/" + purpose)`;
    the caller names the associated data, as everywhere in keys/aead.py."""

    _LABEL = b"regie/aead/"

    def seal(self, purpose: str, plaintext: bytes, *context: str | int | bytes) -> bytes:
        """Seal `plaintext` bound to the purpose and `context` (at least one part)."""
        if not context:
            # Without this, a sealed value could be moved to any row of the same purpose.
            raise ValueError("name what the sealed value belongs to")
        return aead.seal(
            self._key(purpose), plaintext, aead.encode_associated_data(purpose, *context)
        )

    def open(self, purpose: str, sealed: bytes, *context: str | int | bytes) -> bytes:
        """Open what `seal` made for the same purpose and context; `DecryptionError` else."""
        if not context:
            raise ValueError("name what the sealed value belongs to")
        return aead.open_sealed(
            self._key(purpose), sealed, aead.encode_associated_data(purpose, *context)
        )
