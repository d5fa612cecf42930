"""DPoP proof verification (RFC 9449): one proof, one request, one key, once.

A DPoP proof is a JWS that a client signs with a key pair of its own and sends in the `DPoP`
request header. `DpopVerifier.verify` accepts it only when every check of RFC 9449 §4.3 passes:

- a JWS compact serialisation whose protected header has `typ` exactly `dpop+jwt`, an `alg`
  from the verifier's allowlist (asymmetric signatures only: never `none`, never a MAC) and a
  `jwk` that is a public key of the type `alg` needs, with no private members;
- a signature that verifies with that `jwk`;
- claims `jti` (a string of at most 256 characters), `htm` equal to the request method, `htu`
  equal to the request URL without query and fragment, and `iat` inside
  [now - max_age, now + future_skew];
- `ath` equal to the hash of the access token, when one is presented with the proof;
- the key's RFC 7638 thumbprint equal to `expected_jkt` (the token's `cnf.jkt`), when given;
- a server nonce (`nonce` claim) issued by `DpopNonces`, when the verifier is given one;
- and a (thumbprint, `jti`) pair never seen before, recorded in the shared `ReplayCache`.

Every refusal raises `DpopError`; nothing is accepted by falling through. Descriptions are
fixed strings and never repeat what the client sent.

Choices beyond the RFC:
- `htu` is compared after case normalisation of scheme and host, removal of the default port,
  an empty path read as `/` and upper-case percent-encoding hex digits. Dot segments are not
  removed and percent-encoded octets are not decoded: a proof names one exact path.
- `EdDSA` (RFC 8037) is accepted as a name for `Ed25519` (RFC 9864) and means only that curve.
- RSA keys must have a modulus of 2048 to 4096 bits.
- `ath` is ignored when no access token is presented (the token endpoint).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, TypeGuard
from urllib.parse import urlsplit

from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from vault.ports import Clock, ReplayCache

__all__ = ["REPLAYED", "REPLAY_NAMESPACE", "DpopError", "DpopNonces", "DpopProof", "DpopVerifier"]

ErrorCode = Literal["invalid_dpop_proof", "use_dpop_nonce"]

PROOF_TYPE: Final = "dpop+jwt"
REPLAY_NAMESPACE: Final = "dpop"
MAX_JTI_LENGTH: Final = 256
REPLAYED: Final = "DPoP proof has been used before"

_MAX_HEADER = 4096  # an RSA-4096 `jwk` is about 1,100 characters of base64url
_MAX_PAYLOAD = 4096
_MAX_SIGNATURE = 1024
_MAX_PROOF = _MAX_HEADER + _MAX_PAYLOAD + _MAX_SIGNATURE + 2
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

# Which key type each acceptable algorithm verifies with. Only asymmetric signatures: `none`
# and the HS* MACs are absent, so no allowlist can name them.
_KEY_TYPE_OF: Final[dict[str, str]] = {
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "Ed25519": "OKP",
    "EdDSA": "OKP",
}
# The one curve each elliptic-curve algorithm admits (RFC 7518 §3.4, RFC 9864 §2.2).
_CURVE_OF: Final[dict[str, str]] = {
    "ES256": "P-256",
    "ES384": "P-384",
    "ES512": "P-521",
    "Ed25519": "Ed25519",
    "EdDSA": "Ed25519",
}
_KEY_CLASS: Final[dict[str, type[ECKey] | type[RSAKey] | type[OKPKey]]] = {
    "EC": ECKey,
    "RSA": RSAKey,
    "OKP": OKPKey,
}
# Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_RSA_BITS: Final = (2048, 4096)
_DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "https": 443}
_HEADER_CACHE = 4096  # distinct proof headers (client keys) kept per verifier
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


@dataclass(frozen=True, slots=True)
class DpopProof:
    """A proof that passed every check."""

    jkt: str  # RFC 7638 SHA-256 thumbprint of the proof's public key (base64url)
    jti: str
    issued_at: datetime
    # What the replay cache keeps of it (namespace REPLAY_NAMESPACE), and until when.
    replay_value: str = field(default="", compare=False)
    replay_expires_at: datetime = field(default=datetime.min.replace(tzinfo=UTC), compare=False)


class DpopError(Exception):
    """A DPoP proof was refused.

    `error` is the OAuth error code: `invalid_dpop_proof`, or `use_dpop_nonce` when the proof
    lacks a current server nonce (the caller then sends `DpopNonces.issue()` in a `DPoP-Nonce`
    header). `description` is a short fixed text that never echoes the proof.
    """

    def __init__(self, description: str, *, error: ErrorCode = "invalid_dpop_proof") -> None:
        super().__init__(f"{error}: {description}")
        self.error: ErrorCode = error
        self.description = description


class DpopNonces:
    """Stateless server nonces for DPoP proofs (RFC 9449 §8, §9).

    A nonce is `base64url(window || HMAC-SHA256(secret, label || window))`, where `window` is the
    current time divided by `lifetime_seconds`. `check` accepts a nonce of the current or the
    previous window, so a nonce lives between one and two lifetimes, in every worker that shares
    the secret.
    """

    _LABEL = b"regie/dpop-nonce/v1\x00"
    _WINDOW_BYTES = 8
    _LENGTH = 54  # base64url of 8 + 32 bytes, unpadded

    def __init__(self, secret: bytes, clock: Clock, lifetime_seconds: int = 300) -> None:
        if len(secret) < 32:
            raise ValueError("the DPoP nonce secret must be at least 32 bytes")
        if lifetime_seconds < 1:
            raise ValueError("lifetime_seconds must be positive")
        self._secret = secret
        self._clock = clock
        self._lifetime = lifetime_seconds

    def issue(self) -> str:
        """A fresh nonce for a `DPoP-Nonce` response header."""
        window = self._window().to_bytes(self._WINDOW_BYTES, "big")
        return _b64url(window + self._mac(window))

    def check(self, nonce: object) -> bool:
        """True only for a nonce this secret issued in the current or the previous window."""
        if not isinstance(nonce, str) or len(nonce) != self._LENGTH:
            return False
        raw = _b64url_decode(nonce)
        if raw is None:
            return False
        window, mac = raw[: self._WINDOW_BYTES], raw[self._WINDOW_BYTES :]
        current = self._window()
        if int.from_bytes(window, "big") not in (current, current - 1):
            return False
        return hmac.compare_digest(mac, self._mac(window))

    def _window(self) -> int:
        return math.floor(self._clock.now().timestamp()) // self._lifetime

    def _mac(self, window: bytes) -> bytes:
        return hmac.new(self._secret, self._LABEL + window, hashlib.sha256).digest()


class _EdDSAOverEd25519(JWSAlgModel):
    """`EdDSA` restricted to the Ed25519 curve, verified by joserfc's RFC 9864 `Ed25519`.

    joserfc 1.8 still knows `EdDSA` but warns on every use (RFC 9864 deprecates it), and common
    clients still send it. This model answers to the old name without the warning and without
    Ed448, so `EdDSA` accepts exactly what `Ed25519` accepts.
    """

    name = "EdDSA"
    description = "EdDSA, Ed25519 only (RFC 9864 name: Ed25519)"
    key_type = "OKP"

    def __init__(self, ed25519: JWSAlgModel) -> None:
        self._ed25519 = ed25519

    def check_key(self, key: Any) -> None:
        super().check_key(key)
        if not isinstance(key, OKPKey) or key.curve_name != "Ed25519":
            raise UnsupportedAlgorithmError("EdDSA is accepted for Ed25519 keys only")

    def sign(self, msg: bytes, key: Any) -> bytes:
        return self._ed25519.sign(msg, key)

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        return self._ed25519.verify(msg, sig, key)


class _DpopRegistry(JWSRegistry):
    """A JWS registry that knows only the verifier's algorithms: it checks the types of the
    registered header parameters and names the algorithm models (the segments' sizes are
    checked by `DpopVerifier.check` itself).

    `get_alg` is replaced so the allowlist is the whole world: a name outside it is unknown,
    whatever joserfc's global registry holds.
    """

    def __init__(self, models: dict[str, JWSAlgModel]) -> None:
        # Header parameters nobody here understands are ignored, as RFC 7515 §4 requires;
        # `crit` and `b64` are refused before joserfc sees the proof.
        super().__init__(algorithms=list(models), strict_check_header=False)
        self._models = models

    def get_alg(self, name: str) -> JWSAlgModel:
        model = self._models.get(name)
        if model is None:
            raise UnsupportedAlgorithmError("algorithm not allowed")
        return model


class DpopVerifier:
    """Checks DPoP proofs (RFC 9449 §4.3) and records them so each is accepted once."""

    def __init__(
        self,
        *,
        replay: ReplayCache,
        clock: Clock,
        max_age_seconds: int = 300,
        future_skew_seconds: int = 5,
        algorithms: tuple[str, ...] = ("ES256", "Ed25519", "EdDSA", "PS256", "RS256"),
        nonce: DpopNonces | None = None,
    ) -> None:
        if max_age_seconds < 1:
            raise ValueError("max_age_seconds must be positive")
        if future_skew_seconds < 0:
            raise ValueError("future_skew_seconds must not be negative")
        # Without this, an empty allowlist would leave joserfc to choose.
        if not algorithms:
            raise ValueError("at least one algorithm is required")
        for name in algorithms:
            if name not in _KEY_TYPE_OF:
                raise ValueError(f"{name!r} is not an asymmetric signature algorithm for DPoP")
        models: dict[str, JWSAlgModel] = {}
        for name in algorithms:
            if name == "EdDSA":
                models[name] = _EdDSAOverEd25519(JWSRegistry.algorithms["Ed25519"])
            else:
                models[name] = JWSRegistry.algorithms[name]
        self._algorithms = frozenset(algorithms)
        self._replay = replay
        self._clock = clock
        self._max_age = max_age_seconds
        self._future_skew = future_skew_seconds
        self._registry = _DpopRegistry(models)
        self._nonce = nonce
        self._headers: dict[str, tuple[ECKey | RSAKey | OKPKey, str, JWSAlgModel]] = {}

    @property
    def nonces(self) -> DpopNonces | None:
        """The nonce issuer, when this verifier requires server nonces."""
        return self._nonce

    def verify(
        self,
        proof: str | None,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        expected_jkt: str | None = None,
    ) -> DpopProof:
        """The checked proof from the one `DPoP` header value of a request, or `DpopError`.

        `method` and `url` are the request's own (the query and fragment of `url` are ignored).
        Pass `access_token` when the proof comes with one (then `ath` is required) and
        `expected_jkt` when that token is bound to a key (`cnf.jkt`). The caller refuses a
        request with more than one `DPoP` header before calling this.
        """
        checked = self.check(
            proof, method=method, url=url, access_token=access_token, expected_jkt=expected_jkt
        )
        # Recorded last, so only a proof that passed every other check uses up its jti.
        if not self._replay.first_use(
            REPLAY_NAMESPACE, checked.replay_value, expires_at=checked.replay_expires_at
        ):
            raise DpopError(REPLAYED)
        return checked

    def check(
        self,
        proof: str | None,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        expected_jkt: str | None = None,
    ) -> DpopProof:
        """Every check of `verify` except the replay cache: the caller records
        (`REPLAY_NAMESPACE`, `replay_value`) until `replay_expires_at` in the transaction of
        the request it serves, and refuses the request with `REPLAYED` if it was there
        before. The data API and the token endpoint do this (vault/audit/events.py).
        """
        if not proof:
            raise DpopError("missing DPoP proof")
        if not isinstance(proof, str) or len(proof) > _MAX_PROOF:
            raise DpopError("malformed DPoP proof")
        if not _COMPACT_JWS.fullmatch(proof):
            raise DpopError("malformed DPoP proof")

        header_segment, payload_segment, signature_segment = proof.split(".")
        key, jkt, model = self._header(header_segment)
        if len(payload_segment) > _MAX_PAYLOAD or len(signature_segment) > _MAX_SIGNATURE:
            raise DpopError("malformed DPoP proof")
        payload = _b64url_decode(payload_segment)
        if payload is None:
            raise DpopError("malformed DPoP proof")
        # RFC 7515 §5.2: the signature over ASCII(header segment . payload segment), checked
        # with the header's own key by the allowlisted algorithm the header names.
        signature = _b64url_decode(signature_segment)
        try:
            valid = signature is not None and model.verify(
                f"{header_segment}.{payload_segment}".encode("ascii"), signature, key
            )
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise DpopError("DPoP proof signature does not verify") from e
        if not valid:
            raise DpopError("DPoP proof signature does not verify")

        claims = _json_object(payload)
        if claims is None:
            raise DpopError("malformed DPoP proof claims")
        jti = claims.get("jti")
        if not _is_text(jti) or not 1 <= len(jti) <= MAX_JTI_LENGTH:
            raise DpopError("DPoP proof jti is missing or invalid")
        if claims.get("htm") != method:
            raise DpopError("DPoP proof htm does not match the request method")
        htu = claims.get("htu")
        target = _normalised_target(url)
        if not isinstance(htu, str) or target is None or _normalised_target(htu) != target:
            raise DpopError("DPoP proof htu does not match the request URL")
        issued_at = self._check_iat(claims.get("iat"))

        if access_token is not None:
            ath = claims.get("ath")
            if not _is_text(ath) or not hmac.compare_digest(
                ath.encode("utf-8"), _token_hash(access_token).encode("ascii")
            ):
                raise DpopError("DPoP proof ath does not match the access token")

        if expected_jkt is not None and not hmac.compare_digest(
            jkt.encode("ascii"), expected_jkt.encode("utf-8")
        ):
            raise DpopError("DPoP proof key does not match the token binding")

        if self._nonce is not None and not self._nonce.check(claims.get("nonce")):
            raise DpopError("a current server nonce is required", error="use_dpop_nonce")

        expires_at = issued_at + timedelta(seconds=self._max_age + self._future_skew)
        return DpopProof(
            jkt=jkt,
            jti=jti,
            issued_at=issued_at,
            replay_value=f"{jkt}:{jti}",
            replay_expires_at=expires_at,
        )

    def _header(self, segment: str) -> tuple[ECKey | RSAKey | OKPKey, str, JWSAlgModel]:
        """(public key, RFC 7638 thumbprint, the algorithm that verifies with it) of a
        protected header that passes every header check. A client signs all its proofs with
        one key, so their header segments are the same bytes: the result is a pure function
        of them and is kept (bounded), and the JSON parse, key import and thumbprint run once
        per key instead of per request. Refusals are not kept."""
        hit = self._headers.get(segment)
        if hit is not None:
            return hit
        if len(segment) > _MAX_HEADER:
            raise DpopError("malformed DPoP proof")
        header = _json_object(_b64url_decode(segment))
        if header is None:
            raise DpopError("malformed DPoP proof header")
        alg = self._check_header(header)
        key = _public_key(header.get("jwk"), alg)
        model = self._registry.get_alg(alg)
        try:
            model.check_key(key)  # the key's own `use` and `alg`, if it names them
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise DpopError("DPoP proof signature does not verify") from e
        checked = (key, key.thumbprint(), model)
        if len(self._headers) >= _HEADER_CACHE:
            self._headers.clear()
        self._headers[segment] = checked
        return checked

    def _check_header(self, header: dict[str, Any]) -> str:
        """The proof's `alg`, once `typ`, `alg` and the header's extensions are acceptable."""
        if header.get("typ") != PROOF_TYPE:
            raise DpopError("DPoP proof typ must be dpop+jwt")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise DpopError("DPoP proof alg is not allowed")
        # No extension is understood here: `crit` must be refused (RFC 7515 §4.1.11), and `b64`
        # (RFC 7797) would sign the payload unencoded.
        if "crit" in header or "b64" in header:
            raise DpopError("DPoP proof header has unsupported parameters")
        try:
            self._registry.check_header(header)  # registered parameters have their types
        except JoseError as e:
            raise DpopError("DPoP proof header is invalid") from e
        return alg

    def _check_iat(self, iat: object) -> datetime:
        # bool is an int in Python, but `true` is not a NumericDate. (A huge int is fine here:
        # comparing it with a float is exact and it fails the window below.)
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise DpopError("DPoP proof iat is missing or invalid")
        if isinstance(iat, float) and not math.isfinite(iat):
            raise DpopError("DPoP proof iat is missing or invalid")
        now = self._clock.now().timestamp()
        if iat < now - self._max_age:
            raise DpopError("DPoP proof is too old")
        if iat > now + self._future_skew:
            raise DpopError("DPoP proof is issued in the future")
        return datetime.fromtimestamp(iat, UTC)


def _public_key(jwk: object, alg: str) -> ECKey | RSAKey | OKPKey:
    """The `jwk` header as a public signature key that `alg` verifies with, or `DpopError`."""
    key_type = _KEY_TYPE_OF[alg]
    if not isinstance(jwk, dict) or jwk.get("kty") != key_type:
        raise DpopError("DPoP proof jwk is missing or of the wrong type")
    if alg in _CURVE_OF and jwk.get("crv") != _CURVE_OF[alg]:
        raise DpopError("DPoP proof jwk is missing or of the wrong type")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise DpopError("DPoP proof jwk must be a public key")
    if jwk.get("use", "sig") != "sig":
        raise DpopError("DPoP proof jwk is not a signature key")
    if key_type == "RSA":
        modulus = jwk.get("n")
        raw = _b64url_decode(modulus) if isinstance(modulus, str) else None
        bits = int.from_bytes(raw, "big").bit_length() if raw else 0
        if not _RSA_BITS[0] <= bits <= _RSA_BITS[1]:
            raise DpopError("DPoP proof jwk has an unacceptable RSA key size")
    try:
        key = _KEY_CLASS[key_type].import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise DpopError("DPoP proof jwk is not a valid key") from e
    # Belt and braces: the member check above already refuses every private JWK we know of.
    if key.is_private:
        raise DpopError("DPoP proof jwk must be a public key")
    return key


def _visible_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable() and " " not in text


@functools.lru_cache(maxsize=4096)  # a pure function of the text; a client sends few URLs
def _normalised_target(url: str) -> str | None:
    """`scheme://host[:port]/path` of an absolute http(s) URL, or None when it is not one.

    Query and fragment are dropped (RFC 9449 §4.3); scheme and host are lower-cased, the
    default port is removed, an empty path becomes `/` and percent-encoding hex digits are
    upper-cased (RFC 3986 §6.2.2.1, §6.2.3). Userinfo is refused.
    """
    base = _QUERY_OR_FRAGMENT.split(url, maxsplit=1)[0]
    # urlsplit silently drops tabs and newlines; a URL with any of them, or with spaces or
    # non-ASCII characters, is not one a client could have meant.
    # (Printable ASCII without the space is exactly "!" to "~".)
    if not base or len(base) > _MAX_PAYLOAD or not _visible_ascii(base):
        return None
    try:
        parts = urlsplit(base)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if "%" in _PERCENT.sub("", parts.path):
        return None  # a stray `%` is not percent-encoding
    path = _PERCENT.sub(lambda m: "%" + m.group(1).upper(), parts.path) or "/"
    return f"{scheme}://{netloc}{path}"


def _is_text(value: object) -> TypeGuard[str]:
    """True for a string that is also valid Unicode (JSON lets a lone surrogate through)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _token_hash(access_token: str) -> str:
    """`ath` for `access_token`: base64url(SHA-256(ASCII(token))), unpadded (RFC 9449 §4.2)."""
    try:
        raw = access_token.encode("ascii")
    except UnicodeEncodeError as e:
        raise DpopError("the access token is not ASCII") from e
    return _b64url(hashlib.sha256(raw).digest())


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    """The JSON object in `raw`, or None: not UTF-8, not an object, a duplicate member name,
    or NaN/Infinity (which JSON does not have)."""
    if raw is None:
        return None

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError("duplicate member")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constants
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    """The bytes of unpadded, canonical base64url `text`, or None."""
    if not text or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Refuse other spellings of the same bytes (non-zero trailing bits, stray characters).
    return raw if _b64url(raw) == text else None
