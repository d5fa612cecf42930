"""A software passkey for tests, on top of soft-webauthn.

soft-webauthn sets only the user-present flag; Regie requires user verification (as a
phone's passkey with a PIN or fingerprint gives). This wrapper sets UV on creation (the
attestation is "none", so authenticator data is unsigned there) and signs assertions itself
with the device's key, with UP and UV set. Output is the JSON the browser's
`PublicKeyCredential.toJSON()` gives, as the API expects.
"""

from __future__ import annotations

import base64
import json
from hashlib import sha256
from struct import pack
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from soft_webauthn import SoftWebauthnDevice

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftPasskey:
    def __init__(self, origin: str = "http://localhost:8000") -> None:
        self.device = SoftWebauthnDevice()
        self.origin = origin

    def create(self, public_key: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        options = {
            "publicKey": {
                **public_key,
                "challenge": unb64url(public_key["challenge"]),
                "user": {**public_key["user"], "id": unb64url(public_key["user"]["id"])},
            }
        }
        made = self.device.create(options, origin or self.origin)
        attestation = cbor.decode(made["response"]["attestationObject"])
        auth_data = bytearray(attestation["authData"])
        auth_data[32] = UP | UV | AT
        attestation["authData"] = bytes(auth_data)
        return {
            "id": b64url(made["rawId"]),
            "rawId": b64url(made["rawId"]),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(made["response"]["clientDataJSON"]),
                "attestationObject": b64url(cbor.encode(attestation)),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        public_key: dict[str, Any],
        *,
        origin: str | None = None,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        device = self.device
        if public_key.get("rpId") != device.rp_id:
            raise ValueError("this passkey is for another relying party")
        device.sign_count += 1
        client_data = json.dumps(
            {
                "type": "webauthn.get",
                "challenge": public_key["challenge"],
                "origin": origin or self.origin,
            }
        ).encode()
        flags = UP | (UV if user_verified else 0)
        auth_data = (
            sha256(device.rp_id.encode()).digest() + bytes([flags]) + pack(">I", device.sign_count)
        )
        signature = device.private_key.sign(
            auth_data + sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(device.credential_id),
            "rawId": b64url(device.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(device.user_handle),
            },
            "clientExtensionResults": {},
        }
