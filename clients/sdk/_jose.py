"""What a service signs, on joserfc: its key, client assertions, DPoP proofs, record signatures.

- `ServiceKey`: a private signing key (EC P-256 → ES256, Ed25519 → Ed25519, RSA → PS256),
  loaded from a JWK or PEM file or generated; its repr names the algorithm and `kid` only.
- `client_assertion`: a `private_key_jwt` client assertion (RFC 7523 §3; the RFC 7523 update's
  explicit `typ: client-authentication+jwt`, `aud` the issuer identifier alone).
- `dpop_proof`: a DPoP proof (RFC 9449 §4.2) with `htm`, `htu`, `iat`, a fresh `jti`, `ath`
  for a request with an access token and the server's `nonce` once it gave one.
- `record_signature` / `verify_record_signature`: an issuer signature on a record, a JWS with
  a detached payload (RFC 7515 Appendix F) over the RFC 8785 JSON of `{type, title, content}`,
  header `typ: regie-record+jws` and `iss`: the same bytes the vault checks (keys/issuer.py).

Only public keys ever leave this module; the private half stays in `ServiceKey._key`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import rfc8785
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from joserfc.registry import HeaderParameter

from clients.sdk._errors import SignatureInvalid

__all__ = [
    "ServiceKey",
    "access_token_hash",
    "canonical_record",
    "client_assertion",
    "dpop_proof",
    "record_signature",
    "verify_record_signature",
]

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_JWT_TYPE: Final = "client-authentication+jwt"
RECORD_SIGNATURE_TYPE: Final = "regie-record+jws"
RECORD_SIGNATURE_ALGORITHMS: Final = ("ES256", "PS256", "Ed25519")

_Key = ECKey | OKPKey | RSAKey
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# `iss` (and `iat`) are not registered JWS header parameters; declared so joserfc accepts them,
# exactly as keys/issuer.py does on the vault's side.
_RECORD_REGISTRY: Final = jws.JWSRegistry(
    header_registry={
        "iss": HeaderParameter("Issuer (client id)", "str", required=True),
        "iat": HeaderParameter("Issued at", "int"),
    },
    algorithms=list(RECORD_SIGNATURE_ALGORITHMS),
)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _alg_of(key: _Key) -> str:
    if isinstance(key, ECKey):
        if key.curve_name != "P-256":
            raise ValueError("EC keys must be on P-256 (ES256)")
        return "ES256"
    if isinstance(key, OKPKey):
        if key.curve_name != "Ed25519":
            raise ValueError("OKP keys must be Ed25519")
        return "Ed25519"
    if key.public_key.key_size < 2048:
        raise ValueError("RSA keys must have at least 2048 bits")
    return "PS256"


class ServiceKey:
    """A private signing key and the algorithm it signs with.

    `kid` is the key id registered in the service's JWKS; a key without one (a PEM file) gets
    its RFC 7638 thumbprint, which is also what `public_jwks()` publishes.
    """

    __slots__ = ("_key", "alg", "kid")

    def __init__(self, key: _Key, *, kid: str | None = None) -> None:
        if not key.is_private:
            raise ValueError("a ServiceKey needs the private key, not only the public one")
        self._key = key
        self.alg = _alg_of(key)
        self.kid: str = kid or key.kid or key.thumbprint()

    @classmethod
    def generate(cls, alg: str = "ES256", *, kid: str | None = None) -> ServiceKey:
        """A new key: `ES256` (P-256, the default), `Ed25519` or `PS256` (RSA 3072)."""
        key: _Key
        if alg == "ES256":
            key = ECKey.generate_key("P-256")
        elif alg == "Ed25519":
            key = OKPKey.generate_key("Ed25519")
        elif alg == "PS256":
            key = RSAKey.generate_key(3072)
        else:
            raise ValueError("alg must be ES256, Ed25519 or PS256")
        return cls(key, kid=kid)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> ServiceKey:
        kty = jwk.get("kty")
        classes: dict[object, type[ECKey] | type[OKPKey] | type[RSAKey]] = {
            "EC": ECKey,
            "OKP": OKPKey,
            "RSA": RSAKey,
        }
        if kty not in classes:
            raise ValueError("the JWK must be an EC, OKP or RSA private key")
        try:
            key = classes[kty].import_key(dict(jwk))
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise ValueError("the JWK is not a valid private key") from e
        kid = jwk.get("kid")
        return cls(key, kid=kid if isinstance(kid, str) and kid else None)

    @classmethod
    def from_pem(cls, pem: bytes, *, kid: str | None = None) -> ServiceKey:
        # The key type is named explicitly: joserfc warns about guessing it, and rightly.
        for kind in (ECKey, OKPKey, RSAKey):
            try:
                return cls(kind.import_key(pem), kid=kid)
            except (JoseError, ValueError, TypeError):
                continue
        raise ValueError("the PEM file holds no EC P-256, Ed25519 or RSA private key")

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, kid: str | None = None) -> ServiceKey:
        """A key file: a private JWK (JSON) or a PKCS#8 / traditional PEM private key."""
        try:
            raw = Path(path).read_bytes()
        except OSError as e:
            raise ValueError(f"cannot read the key file {os.fspath(path)}: {e.strerror}") from e
        if raw.lstrip().startswith(b"{"):
            try:
                document = json.loads(raw)
            except ValueError as e:
                raise ValueError(f"{os.fspath(path)} is not valid JSON") from e
            if not isinstance(document, dict):
                raise ValueError(f"{os.fspath(path)} does not hold a JWK object")
            key = cls.from_jwk(document)
            return cls(key._key, kid=kid or key.kid) if kid else key
        return cls.from_pem(raw, kid=kid)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the private JWK to a new file readable by its owner only (mode 0600)."""
        document = {**self._key.as_dict(private=True), "kid": self.kid, "alg": self.alg}
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")

    @property
    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint (what a DPoP-bound token's `cnf.jkt` holds)."""
        return self._key.thumbprint()

    def public_jwk(self) -> dict[str, Any]:
        # as_dict(private=False) holds no private member; filtered again so none ever leaves.
        public = {
            k: v
            for k, v in self._key.as_dict(private=False).items()
            if k != "kid" and k not in _PRIVATE_MEMBERS
        }
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_jwks(self) -> dict[str, Any]:
        """`{"keys": [...]}` to register with `regie services add --jwks FILE`."""
        return {"keys": [self.public_jwk()]}

    def sign_jwt(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        return jwt.encode({**header, "alg": self.alg}, dict(claims), self._key, [self.alg])

    def sign_detached(self, header: Mapping[str, Any], payload: bytes) -> str:
        protected = {**header, "alg": self.alg}
        full = jws.serialize_compact(
            protected, payload, self._key, [self.alg], registry=_RECORD_REGISTRY
        )
        head, _, signature = full.split(".")
        return f"{head}..{signature}"

    def __repr__(self) -> str:
        return f"ServiceKey(alg={self.alg!r}, kid={self.kid!r})"


def client_assertion(
    key: ServiceKey,
    *,
    client_id: str,
    audience: str,
    now: float | None = None,
    lifetime: int = 60,
) -> str:
    """A one-time `private_key_jwt` assertion: `iss` = `sub` = client id, `aud` = the issuer."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "exp": issued + lifetime,
    }
    return key.sign_jwt({"typ": ASSERTION_JWT_TYPE, "kid": key.kid}, claims)


def access_token_hash(access_token: str) -> str:
    """`ath`: base64url(SHA-256(ASCII(access token))), unpadded (RFC 9449 §4.2)."""
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def htu_of(url: str) -> str:
    """The request URL without query and fragment (RFC 9449 §4.2)."""
    return url.split("#", 1)[0].split("?", 1)[0]


def dpop_proof(
    key: ServiceKey,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce: str | None = None,
    now: float | None = None,
) -> str:
    """A DPoP proof for one request; a new `jti` every time."""
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(24),
        "htm": method.upper(),
        "htu": htu_of(url),
        "iat": int(time.time() if now is None else now),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "jwk": key.public_jwk()}
    return key.sign_jwt(header, claims)


def canonical_record(record_type: str, title: str, content: Any) -> bytes:
    """The bytes an issuer signs for a record: RFC 8785 JSON of `{type, title, content}`."""
    try:
        return rfc8785.dumps({"type": record_type, "title": title, "content": content})
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise ValueError("the content cannot be canonicalised (RFC 8785)") from e


def normalised_title(title: str) -> str:
    """A title as the vault stores it: runs of white space become one space."""
    return " ".join(title.split())


def record_signature(
    key: ServiceKey, *, issuer: str, record_type: str, title: str, content: Any
) -> str:
    """The detached JWS (`<header>..<signature>`) for a record written with this title."""
    header = {"typ": RECORD_SIGNATURE_TYPE, "kid": key.kid, "iss": issuer}
    return key.sign_detached(header, canonical_record(record_type, title, content))


def verify_record_signature(
    compact: str,
    *,
    issuer: str,
    jwks: Mapping[str, Any],
    record_type: str,
    title: str,
    content: Any,
) -> tuple[str, str]:
    """(`kid`, `alg`) when `compact` is `issuer`'s valid signature over this record, else
    `SignatureInvalid`. The same checks as the vault's (keys/issuer.py)."""
    parts = compact.split(".")
    if len(parts) != 3 or parts[1] != "" or len(compact) > 8192:
        raise SignatureInvalid("expected a compact JWS with a detached payload (h..s)")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, TypeError) as e:
        raise SignatureInvalid("the JWS header is not readable") from e
    if not isinstance(header, dict):
        raise SignatureInvalid("the JWS header is not an object")
    alg, kid = header.get("alg"), header.get("kid")
    if header.get("typ") != RECORD_SIGNATURE_TYPE:
        raise SignatureInvalid(f"the JWS typ must be {RECORD_SIGNATURE_TYPE}")
    if header.get("iss") != issuer:
        raise SignatureInvalid("the signature names another issuer")
    if alg not in RECORD_SIGNATURE_ALGORITHMS:
        raise SignatureInvalid("the signature's alg is not allowed")
    if not isinstance(kid, str) or set(header) - {"alg", "kid", "typ", "iss", "iat"}:
        raise SignatureInvalid("the JWS header needs a kid and nothing unexpected")
    public = {
        "keys": [
            {k: v for k, v in entry.items() if k not in _PRIVATE_MEMBERS}
            for entry in jwks.get("keys", [])
            if isinstance(entry, dict)
        ]
    }
    try:
        key = KeySet.import_key_set(public).get_by_kid(kid)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as e:
        raise SignatureInvalid("the kid is not among the issuer's registered keys") from e
    try:
        payload = canonical_record(record_type, title, content)
        jws.deserialize_compact(
            compact, key, algorithms=[alg], registry=_RECORD_REGISTRY, payload=payload
        )
    except (JoseError, ValueError) as e:
        raise SignatureInvalid("the signature does not verify") from e
    return kid, alg
