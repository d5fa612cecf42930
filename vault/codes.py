"""One-time codes a person reads off one screen and types into another.

Used for connecting a service (vault/services/service.py) and for accepting a mandate
(vault/representation/service.py). A code is 10 characters of Crockford's base32 alphabet
(50 bits), shown in two groups of five (e.g. `K7Q2M-9TXRB`), valid for a short time and
once. Only its keyed hash is
stored (`keys.secrets.KeyedHasher`, one purpose per kind of code), and a code is looked up
by that hash: the database compares HMAC outputs the caller cannot steer without the
deployment secret, so no comparison ever runs on the code itself and its timing tells an
attacker nothing about it (the constant-time property, without a secret-dependent loop).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from keys.secrets import KeyedHasher

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LIFETIME = timedelta(minutes=15)
_LENGTH = 10  # 50 bits: with 15 minutes and rate limits, out of reach of guessing


def new_code() -> tuple[str, str]:
    """A fresh code: (what is shown, e.g. `K7Q2M-9TXRB`; its normal form, for hashing)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(_LENGTH))
    return f"{raw[:5]}-{raw[5:]}", raw


def normalise(code: str) -> str:
    """What a person typed, as the code it means: case, spaces and dashes ignored, and the
    letters Crockford's alphabet leaves out read as the digits they look like."""
    return "".join(ch for ch in code.upper() if ch.isalnum()).translate(str.maketrans("OIL", "011"))


def code_hash(hasher: KeyedHasher, purpose: str, code: str) -> bytes:
    """The stored form of `code` (typed or fresh) for `purpose`."""
    return hasher.digest(purpose, normalise(code).encode())
