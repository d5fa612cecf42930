"""AES-256-GCM with mandatory associated data: the one place ciphertexts are made and opened.

The caller never chooses a nonce (a random 96-bit nonce per message: with one data key per
resident, the number of messages per key stays far below the 2^32 bound of NIST SP 800-38D).
Associated data is required and is built from named parts by `encode_associated_data`, so
two different contexts can never produce the same bytes.

Wire format of a sealed message: ``0x01 ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)``.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.errors import DecryptionError

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32
OVERHEAD = len(FORMAT_V1) + NONCE_BYTES + 16


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def encode_associated_data(*parts: str | int | bytes) -> bytes:
    """Length-prefixed encoding of the parts: unambiguous, so ("ab", "c") != ("a", "bc")."""
    if not parts:
        # Without this, an empty context would bind a ciphertext to nothing at all.
        raise ValueError("associated data must name at least one part")
    out = bytearray()
    for part in parts:
        if isinstance(part, bytes):
            raw = part
        elif isinstance(part, bool):
            raise TypeError("booleans are ambiguous in associated data; use a word")
        else:
            raw = str(part).encode()
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt and authenticate `plaintext`, bound to `associated_data`."""
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    if not associated_data:
        raise ValueError("associated data is required")
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """Open what `seal` made; any mismatch raises the opaque `DecryptionError`."""
    if len(sealed) < OVERHEAD or sealed[:1] != FORMAT_V1 or not associated_data:
        raise DecryptionError
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, sealed[1 + NONCE_BYTES :], associated_data)
    except (InvalidTag, ValueError) as e:
        raise DecryptionError from e
