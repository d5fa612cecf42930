"""A software passkey for `regie demo` only.

The demo signs a resident and an auditor in without a browser, so it needs an authenticator
that answers WebAuthn ceremonies by itself. Its keys live in this process's memory and die
with it: it is for the demo, never for real residents or auditors (a real passkey lives in a
phone, a laptop's secure chip or a security key, behind a PIN or a fingerprint).

Written by hand because no installed library plays the authenticator's side (soft-webauthn,
which the tests use, is a development dependency and sets no user-verification flag). It
does what a platform authenticator does, and nothing more:

- registration: a new P-256 key (COSE ES256, alg -7), attestation format "none" (nothing
  signed), authenticator data with the flags UP, UV and AT and the attested credential data;
- sign-in: authenticator data with UP and UV and a growing sign count, signed with ECDSA
  over SHA-256 together with the hash of the client data, DER-encoded as WebAuthn requires.

Both return the JSON a browser's `PublicKeyCredential.toJSON()` gives, which is what the
API's passkey endpoints take (vault/identity/service.py verifies it with `webauthn`).
"""

from __future__ import annotations

import base64
import json
import os
from hashlib import sha256
from struct import pack
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["DemoSoftwarePasskey"]

_UP, _UV, _AT = 0x01, 0x04, 0x40  # user present, user verified, attested credential data
_ES256 = -7


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DemoSoftwarePasskey:
    """One passkey for one relying party, in memory. For the demo only: never for real people.

    `create(options)` answers a registration ceremony, `get(options)` a sign-in; `options` is
    the `public_key` object the API's `.../options` endpoints return.
    """

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.rp_id: str | None = None
        self.user_handle: bytes | None = None
        self.sign_count = 0

    def __repr__(self) -> str:  # never show key material
        return f"DemoSoftwarePasskey(origin={self.origin!r}, rp_id={self.rp_id!r})"

    def _cose_public_key(self) -> bytes:
        numbers = self._key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: _ES256,  # alg
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """Register: a new credential for `options["rp"]["id"]` and the user in `options`."""
        algorithms = {p.get("alg") for p in options.get("pubKeyCredParams", [])}
        if _ES256 not in algorithms:
            raise ValueError("the relying party does not accept ES256 keys")
        self.rp_id = str(options["rp"]["id"])
        self.user_handle = _unb64url(str(options["user"]["id"]))
        client_data = self._client_data("webauthn.create", str(options["challenge"]))
        attested = (
            bytes(16)  # AAGUID: none, as for attestation "none"
            + pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_public_key()
        )
        auth_data = (
            sha256(self.rp_id.encode()).digest()
            + bytes([_UP | _UV | _AT])
            + pack(">I", self.sign_count)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": _b64url(self.credential_id),
            "rawId": _b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64url(client_data),
                "attestationObject": _b64url(attestation),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        """Sign in: an assertion over `options["challenge"]`, user present and verified."""
        if self.rp_id is None or self.user_handle is None:
            raise ValueError("this passkey was never registered")
        if options.get("rpId", self.rp_id) != self.rp_id:
            raise ValueError("this passkey is for another relying party")
        allowed = {_unb64url(str(c["id"])) for c in options.get("allowCredentials") or []}
        if allowed and self.credential_id not in allowed:
            raise ValueError("the relying party asks for another passkey")
        self.sign_count += 1
        client_data = self._client_data("webauthn.get", str(options["challenge"]))
        auth_data = (
            sha256(self.rp_id.encode()).digest() + bytes([_UP | _UV]) + pack(">I", self.sign_count)
        )
        signature = self._key.sign(
            auth_data + sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": _b64url(self.credential_id),
            "rawId": _b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64url(client_data),
                "authenticatorData": _b64url(auth_data),
                "signature": _b64url(signature),
                "userHandle": _b64url(self.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
