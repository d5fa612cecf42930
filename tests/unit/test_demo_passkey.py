"""The demo's software passkey against the vault's own WebAuthn checks
(vault/identity/service.py): it registers and signs in; a tampered signature, another
challenge, another origin or a missing user-verification flag is refused."""

from __future__ import annotations

import base64
import json
import os
from hashlib import sha256
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from clients.demo.passkey import DemoSoftwarePasskey
from vault.errors import AuthenticationFailed
from vault.identity.service import (
    IdentityPolicy,
    authentication_options,
    registration_options,
    verify_assertion,
    verify_registration,
)

ORIGIN = "http://localhost:8000"
POLICY = IdentityPolicy(rp_id="localhost", rp_name="Regie", origin=ORIGIN)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def registered() -> tuple[DemoSoftwarePasskey, Any]:
    passkey = DemoSoftwarePasskey(ORIGIN)
    challenge = os.urandom(32)
    options = registration_options(POLICY, user_id=os.urandom(16), name="Anna", challenge=challenge)
    verified = verify_registration(POLICY, challenge, passkey.create(options))
    return passkey, verified


def sign_in(passkey: DemoSoftwarePasskey) -> tuple[bytes, dict[str, Any]]:
    challenge = os.urandom(32)
    return challenge, passkey.get(authentication_options(POLICY, challenge=challenge))


def test_it_registers_with_user_verification_and_signs_in() -> None:
    passkey, verified = registered()
    assert verified.credential_id == passkey.credential_id
    assert verified.user_verified is True
    assert verified.fmt == "none"
    for expected_count in (1, 2):
        challenge, assertion = sign_in(passkey)
        count = verify_assertion(
            POLICY, challenge, assertion, verified.credential_public_key, expected_count - 1
        )
        assert count == expected_count


def test_a_tampered_signature_is_refused() -> None:
    passkey, verified = registered()
    challenge, assertion = sign_in(passkey)
    signature = bytearray(unb64(assertion["response"]["signature"]))
    signature[-1] ^= 0x01
    assertion["response"]["signature"] = b64(bytes(signature))
    with pytest.raises(AuthenticationFailed):
        verify_assertion(POLICY, challenge, assertion, verified.credential_public_key, 0)


def test_another_challenge_origin_or_key_is_refused() -> None:
    passkey, verified = registered()
    _, assertion = sign_in(passkey)
    with pytest.raises(AuthenticationFailed):  # replayed against a new challenge
        verify_assertion(POLICY, os.urandom(32), assertion, verified.credential_public_key, 0)

    elsewhere = DemoSoftwarePasskey("http://evil.localhost:8000")
    challenge = os.urandom(32)
    options = registration_options(POLICY, user_id=os.urandom(16), name="Eve", challenge=challenge)
    with pytest.raises(AuthenticationFailed):
        verify_registration(POLICY, challenge, elsewhere.create(options))

    other, _ = registered()  # signed by another key than the one registered
    challenge, foreign = sign_in(other)
    with pytest.raises(AuthenticationFailed):
        verify_assertion(POLICY, challenge, foreign, verified.credential_public_key, 0)


def test_without_user_verification_it_is_refused() -> None:
    """Even validly signed: the vault requires UV (a PIN or fingerprint on a real device)."""
    passkey, verified = registered()
    challenge, assertion = sign_in(passkey)
    data = bytearray(unb64(assertion["response"]["authenticatorData"]))
    data[32] &= ~0x04  # clear UV
    client_data = unb64(assertion["response"]["clientDataJSON"])
    signature = passkey._key.sign(
        bytes(data) + sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
    )
    assertion["response"]["authenticatorData"] = b64(bytes(data))
    assertion["response"]["signature"] = b64(signature)
    with pytest.raises(AuthenticationFailed):
        verify_assertion(POLICY, challenge, assertion, verified.credential_public_key, 0)


def test_it_refuses_another_relying_party_and_leaks_no_key() -> None:
    passkey, _ = registered()
    options = authentication_options(POLICY, challenge=os.urandom(32))
    with pytest.raises(ValueError, match="another relying party"):
        passkey.get({**options, "rpId": "example.org"})
    assert "key" not in repr(passkey).lower().replace("passkey", "")
    assert json.dumps(passkey.get(options))  # plain JSON, as a browser gives
