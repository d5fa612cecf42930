"""Issuer signatures on records a service writes into a resident's vault.

A service (a school writing grades, a care provider writing a care plan) may sign what it
writes, so a later reader (the next school, another care provider) can check who wrote it and
that nobody, the resident included, changed it. The signature is a JWS with a detached payload
(RFC 7515 Appendix F): ``<protected header>..<signature>``. The payload is the RFC 8785
canonical JSON of ``{"type": <datatype>, "title": <title>, "content": <content>}``, so it is
byte-for-byte reproducible by anyone holding the record. The protected header carries
``typ: regie-record+jws``, ``alg``, ``kid`` (a key in the issuer's registered JWKS) and
``iss`` (the issuer's client id).

Verification here is strict: the `typ`, the issuer, an allowed asymmetric `alg`, a `kid` from
the issuer's registered keys, and the signature over the canonical payload.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import rfc8785
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.registry import HeaderParameter

from keys.errors import KeysError

TYPE = "regie-record+jws"
ALGORITHMS = ("ES256", "PS256", "Ed25519")
# `iss` is not a registered JWS header parameter; we declare it (and `iat`) so joserfc checks
# their types instead of refusing them. Which members may appear at all is checked in `verify`.
_REGISTRY = jws.JWSRegistry(
    header_registry={
        "iss": HeaderParameter("Issuer (client id)", "str", required=True),
        "iat": HeaderParameter("Issued at", "int"),
    },
    algorithms=ALGORITHMS,
)


class IssuerSignatureInvalid(KeysError):
    """The signature does not verify, or does not say what the record says."""


@dataclass(frozen=True, slots=True)
class IssuerSignature:
    issuer: str
    kid: str
    alg: str


def canonical_payload(record_type: str, title: str, content: Any) -> bytes:
    """The exact bytes an issuer signs for a record (RFC 8785)."""
    try:
        return rfc8785.dumps({"type": record_type, "title": title, "content": content})
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise IssuerSignatureInvalid("the content cannot be canonicalised (RFC 8785)") from e


def _header(compact: str) -> dict[str, Any]:
    parts = compact.split(".")
    if len(parts) != 3 or parts[1] != "" or len(compact) > 8192:
        raise IssuerSignatureInvalid("expected a compact JWS with a detached payload (h..s)")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (ValueError, TypeError) as e:
        raise IssuerSignatureInvalid("the JWS header is not readable") from e
    if not isinstance(header, dict):
        raise IssuerSignatureInvalid("the JWS header is not an object")
    return header


def verify(compact: str, payload: bytes, *, issuer: str, jwks: dict[str, Any]) -> IssuerSignature:
    """Check `compact` (detached) over `payload` against the issuer's registered `jwks`."""
    header = _header(compact)
    alg, kid = header.get("alg"), header.get("kid")
    if header.get("typ") != TYPE:
        raise IssuerSignatureInvalid(f"the JWS typ must be {TYPE}")
    if header.get("iss") != issuer:
        raise IssuerSignatureInvalid("the JWS names another issuer")
    if alg not in ALGORITHMS:
        raise IssuerSignatureInvalid(f"alg must be one of {', '.join(ALGORITHMS)}")
    if not isinstance(kid, str) or set(header) - {"alg", "kid", "typ", "iss", "iat"}:
        raise IssuerSignatureInvalid("the JWS header needs a kid and nothing unexpected")
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        key = keys.get_by_kid(kid)
    except (JoseError, ValueError, KeyError) as e:
        raise IssuerSignatureInvalid("the kid is not among the issuer's registered keys") from e
    try:
        jws.deserialize_compact(compact, key, algorithms=[alg], registry=_REGISTRY, payload=payload)
    except (JoseError, ValueError) as e:
        raise IssuerSignatureInvalid("the signature does not verify") from e
    return IssuerSignature(issuer=issuer, kid=kid, alg=alg)
