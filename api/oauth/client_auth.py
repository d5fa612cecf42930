"""Client authentication with `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9).

A service proves who it is by sending, in the form of its request to an OAuth endpoint,
`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
`client_assertion`: a JWT it signed with a private key whose public half it registered with us.
`ClientAssertionVerifier.authenticate` accepts such a form only when every check below passes,
in this order, and otherwise raises `ClientAuthError` (`invalid_client`, RFC 6749 §5.2):

1. the form uses this method and no other (no `client_secret`); a `client_id` in the form
   names the same client as the assertion;
2. the JWS header names an allowed asymmetric `alg` (never `none`, never HMAC), has no `typ` or
   one of the JWT / client-authentication types, and carries no key of its own (`jwk`, `jku`,
   `x5u`, `x5c`) nor any extension (`crit`, `b64`, `cty`): keys come from registration only;
3. the claims: `iss` == `sub` == the client id; `aud` (a string or an array) holds the issuer
   identifier or one of the configured endpoint URLs, compared exactly; `exp` is present and
   not past; `exp - iat` (or `exp - now` without `iat`) is within the maximum lifetime; `iat`
   and `nbf` are not in the future; `jti` is a string of at most 256 characters (clock skew is
   allowed for on every time comparison);
4. the signature verifies with one of the client's registered keys (the one named by `kid`,
   else each key of the algorithm's type); an unknown `kid`, or no key verifying, earns one
   `refresh=True` look-up (key rotation) before failing;
5. the `jti` is used for the first time (`ReplayCache`, shared by all workers); this check runs
   last, so an assertion that fails any other check cannot use up a `jti`.

Descriptions are short fixed texts that never echo input. An unknown or disabled client and a
bad signature get the same one, so the answer does not tell whether a client exists.

Audience: RFC 10070 (the RFC 7523 update) wants the issuer identifier as the sole audience.
design.md §4 deliberately also accepts the token and backchannel endpoints (CIBA §7.1) so that
existing client libraries, which send the token endpoint, keep working.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

import httpx
from joserfc import jws
from joserfc.errors import InvalidKeyTypeError, JoseError, UnsupportedKeyAlgorithmError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import Key, KeySet, OKPKey, RSAKey, import_key
from joserfc.jws import JWSRegistry

from vault.ports import Clock, ReplayCache

__all__ = [
    "CLIENT_ASSERTION_JWT_TYPE",
    "CLIENT_ASSERTION_TYPE",
    "AuthenticatedClient",
    "ClientAssertionVerifier",
    "ClientAuthError",
    "ClientKeyLookup",
    "ClientKeys",
    "JwksClientKeys",
    "claimed_client_id",
]

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The explicit type of RFC 10070 §4 (media type application/client-authentication+jwt).
CLIENT_ASSERTION_JWT_TYPE: Final = "client-authentication+jwt"

REPLAY_NAMESPACE: Final = "client_assertion"

# Generous for any allowed algorithm (a PS512 signature with a 4096-bit key is 683 characters);
# anything longer is refused before it is decoded.
_MAX_ASSERTION_CHARS: Final = 8192
_MAX_JTI_CHARS: Final = 256
_MAX_CLIENT_ID_CHARS: Final = 256
_MAX_KID_CHARS: Final = 256
_MIN_RSA_BITS: Final = 2048

# `typ` values taken as "a client assertion": none (absent), the generic "JWT" that most
# libraries put by default (Authlib, via joserfc, does; RFC 7519 §5.1 gives it no meaning beyond
# "this is a JWT", so it is no weaker than no `typ`), and the explicit type. Media types compare
# case-insensitively and "application/" may be left off (RFC 7515 §4.1.9). Every other explicit
# type (dpop+jwt, at+jwt, oauth-authz-req+jwt, secevent+jwt, ...) names another kind of token.
_ACCEPTED_TYPES: Final = frozenset({"jwt", CLIENT_ASSERTION_JWT_TYPE})
# Header parameters an assertion may carry; the key-carrying ones (jwk, jku, x5u, x5c) and the
# extensions (crit, b64, cty) are refused rather than ignored.
_ALLOWED_HEADER: Final = frozenset({"alg", "kid", "typ", "x5t", "x5t#S256"})

# Algorithms this module can be configured with: asymmetric only.
_JOSERFC_ALGORITHMS: Final = frozenset(
    {"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256"}
)
_ED25519_NAMES: Final = frozenset({"Ed25519", "EdDSA"})

# The descriptions (RFC 6749 §5.2 error_description): short, fixed, never echoing input.
_NOT_PRIVATE_KEY_JWT: Final = "client authentication must use private_key_jwt"
_SEVERAL_METHODS: Final = "more than one client authentication method"
_MALFORMED: Final = "client_assertion is malformed"
_HEADER_REFUSED: Final = "client_assertion header is not acceptable"
_CLIENT_ID_MISMATCH: Final = "client_id does not match the client_assertion"
_ISS_SUB: Final = "client_assertion iss and sub must both be the client_id"
_AUDIENCE: Final = "client_assertion audience is not this server"
_EXP_INVALID: Final = "client_assertion exp is missing or invalid"
_EXPIRED: Final = "client_assertion has expired"
_TOO_LONG: Final = "client_assertion lifetime is too long"
_NOT_YET_VALID: Final = "client_assertion is not yet valid"
_JTI_INVALID: Final = "client_assertion jti is missing or invalid"
_FAILED: Final = "client authentication failed"
_REPLAYED: Final = "client_assertion has already been used"
REPLAYED: Final = _REPLAYED


class ClientKeys(Protocol):
    def key_set(self, client_id: str, *, refresh: bool = False) -> KeySet | None:
        """The client's registered public keys, None for an unknown or disabled client.

        `refresh=True` asks for the current keys rather than cached ones (the client may have
        rotated its keys); implementations may limit how often they honour it.
        """
        ...


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    client_id: str
    jti: str
    #: The `kid` of the registered key that verified the assertion.
    key_id: str | None
    # What the replay cache keeps of it (namespace REPLAY_NAMESPACE), and until when.
    replay_value: str = field(default="", compare=False)
    replay_expires_at: datetime = field(default=datetime.min.replace(tzinfo=UTC), compare=False)


class ClientAuthError(Exception):
    """Client authentication failed: `invalid_client` (RFC 6749 §5.2), HTTP 401."""

    def __init__(self, error: Literal["invalid_client"], description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def _refuse(description: str) -> ClientAuthError:
    return ClientAuthError("invalid_client", description)


class _Ed25519Signature(JWSAlgModel):
    """Ed25519 signatures under the fully specified name `Ed25519` (RFC 9864) or the polymorphic
    `EdDSA` (RFC 8037) that most clients still send.

    joserfc 1.8's own `EdDSA` also takes Ed448 keys and emits a SecurityWarning on every use;
    this model takes Ed25519 keys only and does the verification with joserfc's `Ed25519`. A key
    registered with `"alg": "EdDSA"` or `"alg": "Ed25519"` is fit for both names.
    """

    key_type = "OKP"

    def __init__(self, name: str) -> None:
        self.name = name
        self.description = "EdDSA using the Ed25519 parameter set"
        self._ed25519 = JWSRegistry.algorithms["Ed25519"]

    def check_key(self, key: Any) -> None:
        key.check_use("sig")
        if not isinstance(key, OKPKey) or key.curve_name != "Ed25519":
            raise InvalidKeyTypeError(f"Algorithm '{self.name}' requires an Ed25519 key")
        if key.alg is not None and key.alg not in _ED25519_NAMES:
            raise UnsupportedKeyAlgorithmError(f"This key is designed for '{key.alg}'")

    def sign(self, msg: bytes, key: Any) -> bytes:
        return self._ed25519.sign(msg, key)

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        return self._ed25519.verify(msg, sig, key)


def _signature_registry(algorithms: tuple[str, ...]) -> JWSRegistry:
    models: dict[str, JWSAlgModel] = {}
    for name in algorithms:
        if name in _ED25519_NAMES:
            models[name] = _Ed25519Signature(name)
        elif name in _JOSERFC_ALGORITHMS:
            models[name] = JWSRegistry.algorithms[name]
        else:
            raise ValueError(f"unsupported client assertion algorithm: {name!r}")
    registry = JWSRegistry(algorithms=list(models))
    # An instance table holding only these algorithms, instead of joserfc's class-wide one
    # (which holds `none` and HMAC): what is not in it cannot be verified, whatever `allowed`
    # says.
    registry.algorithms = models
    return registry


class ClientAssertionVerifier:
    """Checks `private_key_jwt` client authentication; see the module docstring for the rules.

    `issuer` is our issuer identifier (RFC 8414); `endpoint_urls` are the other audiences
    accepted (the token endpoint, the backchannel authentication endpoint, ...).
    """

    def __init__(
        self,
        *,
        keys: ClientKeys,
        replay: ReplayCache,
        clock: Clock,
        issuer: str,
        endpoint_urls: Collection[str],
        max_lifetime_seconds: int = 300,
        skew_seconds: int = 30,
        algorithms: tuple[str, ...] = ("ES256", "Ed25519", "EdDSA", "PS256"),
    ) -> None:
        if not issuer:
            raise ValueError("issuer is required")
        if not algorithms:
            # Without this, an empty allowlist would fall back to joserfc's defaults.
            raise ValueError("at least one algorithm is required")
        if max_lifetime_seconds <= 0 or skew_seconds < 0:
            raise ValueError("max_lifetime_seconds must be positive and skew_seconds not negative")
        self._keys = keys
        self._replay = replay
        self._clock = clock
        self._audiences = frozenset({issuer, *endpoint_urls})
        self._max_lifetime = max_lifetime_seconds
        self._skew = skew_seconds
        self._registry = _signature_registry(algorithms)

    def authenticate(self, form: Mapping[str, str]) -> AuthenticatedClient:
        """The client that signed the form's `client_assertion`; `ClientAuthError` otherwise.

        `form` is the request body (`application/x-www-form-urlencoded`) with each parameter
        once; the caller refuses repeated parameters and an `Authorization` header carrying
        other client credentials.
        """
        client = self.check(form)
        if not self._replay.first_use(
            REPLAY_NAMESPACE, client.replay_value, client.replay_expires_at
        ):
            raise _refuse(_REPLAYED)
        return client

    def check(
        self, form: Mapping[str, str], *, keys: ClientKeys | None = None
    ) -> AuthenticatedClient:
        """Every check of `authenticate` except the replay cache, with the client's keys from
        `keys` when given (a registration the caller has just read). The caller records
        (`REPLAY_NAMESPACE`, `replay_value`) until `replay_expires_at` in the transaction of
        the request, and refuses the request with `REPLAYED` if it was there before.
        """
        token = _read_assertion(form)
        self._check_header(token.headers())
        claims = _claims_of(token)
        client_id = self._check_claims(claims, form.get("client_id"))
        jti: str = claims["jti"]
        key = self._verifying_key(token, client_id, keys or self._keys)
        expires_at = datetime.fromtimestamp(float(claims["exp"]) + self._skew, tz=UTC)
        return AuthenticatedClient(
            client_id=client_id,
            jti=jti,
            key_id=key.kid,
            replay_value=f"{client_id}:{jti}",
            replay_expires_at=expires_at,
        )

    def _check_header(self, header: Mapping[str, Any]) -> None:
        if not header.keys() <= _ALLOWED_HEADER:
            raise _refuse(_HEADER_REFUSED)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._registry.algorithms:
            raise _refuse(_HEADER_REFUSED)
        if "typ" in header and not _is_accepted_type(header["typ"]):
            raise _refuse(_HEADER_REFUSED)
        kid = header.get("kid")
        if "kid" in header and not (isinstance(kid, str) and 0 < len(kid) <= _MAX_KID_CHARS):
            raise _refuse(_HEADER_REFUSED)

    def _check_claims(self, claims: Mapping[str, Any], form_client_id: str | None) -> str:
        iss, sub = claims.get("iss"), claims.get("sub")
        if not (isinstance(iss, str) and 0 < len(iss) <= _MAX_CLIENT_ID_CHARS and sub == iss):
            raise _refuse(_ISS_SUB)
        if form_client_id is not None and form_client_id != iss:
            raise _refuse(_CLIENT_ID_MISMATCH)
        if not self._audiences.intersection(_audience_values(claims.get("aud"))):
            raise _refuse(_AUDIENCE)

        now = self._clock.now().timestamp()
        exp = _numeric_date(claims, "exp")
        if exp is None:
            raise _refuse(_EXP_INVALID)
        if exp + self._skew <= now:
            raise _refuse(_EXPIRED)
        iat, nbf = _numeric_date(claims, "iat"), _numeric_date(claims, "nbf")
        if (iat is not None and iat > now + self._skew) or (
            nbf is not None and nbf > now + self._skew
        ):
            raise _refuse(_NOT_YET_VALID)
        if exp - (now if iat is None else iat) > self._max_lifetime:
            raise _refuse(_TOO_LONG)

        jti = claims.get("jti")
        if not (isinstance(jti, str) and 0 < len(jti) <= _MAX_JTI_CHARS):
            raise _refuse(_JTI_INVALID)
        return iss

    def _verifying_key(self, token: jws.CompactSignature, client_id: str, keys: ClientKeys) -> Key:
        kid = token.headers().get("kid")
        key_set = keys.key_set(client_id)
        if key_set is None:
            raise _refuse(_FAILED)
        key = self._first_verifying(token, key_set, kid)
        # A new kid, or no key verifying a kid-less assertion, may mean the client rotated its
        # keys: ask once for the current ones. A known kid whose key does not verify may not.
        if key is None and (kid is None or all(k.kid != kid for k in key_set)):
            refreshed = keys.key_set(client_id, refresh=True)
            if refreshed is not None:
                key = self._first_verifying(token, refreshed, kid)
        if key is None:
            raise _refuse(_FAILED)
        return key

    def _first_verifying(
        self, token: jws.CompactSignature, key_set: KeySet, kid: str | None
    ) -> Key | None:
        model = self._registry.algorithms[token.headers()["alg"]]
        for key in key_set:
            if kid is not None and key.kid != kid:
                continue
            if key.key_type != model.key_type or not _strong_enough(key):
                continue
            try:
                if jws.validate_compact(token, key, registry=self._registry):
                    return key
            except JoseError:  # a key unfit for this alg (curve, "use", "alg", "key_ops")
                continue
        return None


def _read_assertion(form: Mapping[str, str]) -> jws.CompactSignature:
    assertion_type = form.get("client_assertion_type")
    assertion = form.get("client_assertion")
    if assertion_type != CLIENT_ASSERTION_TYPE or not assertion:
        raise _refuse(_NOT_PRIVATE_KEY_JWT)
    if "client_secret" in form:  # RFC 6749 §2.3: one method per request
        raise _refuse(_SEVERAL_METHODS)
    if not isinstance(assertion, str) or len(assertion) > _MAX_ASSERTION_CHARS:
        raise _refuse(_MALFORMED)
    try:
        token = jws.extract_compact(assertion.encode("ascii"))
    except (JoseError, UnicodeError, ValueError) as e:
        raise _refuse(_MALFORMED) from e
    if not isinstance(token.headers(), dict):
        raise _refuse(_MALFORMED)
    return token


def _claims_of(token: jws.CompactSignature) -> dict[str, Any]:
    # The claims read here are the bytes whose signature is verified later: the same object.
    try:
        claims = json.loads(token.payload)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _refuse(_MALFORMED) from e
    if not isinstance(claims, dict):
        raise _refuse(_MALFORMED)
    return claims


def _is_accepted_type(typ: object) -> bool:
    if not isinstance(typ, str):
        return False
    media_type = typ.lower().removeprefix("application/")
    return media_type in _ACCEPTED_TYPES


def _audience_values(aud: object) -> list[str]:
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(value, str) for value in aud):
        return aud
    return []


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 §2): a finite JSON number, None when absent or invalid."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= 2**53 else None
    return value if math.isfinite(value) else None


def _strong_enough(key: Key) -> bool:
    if isinstance(key, RSAKey):
        return key.public_key.key_size >= _MIN_RSA_BITS
    return True


# --- Keys from registration: inline JWKS or jwks_uri -------------------------------------

#: client_id -> (inline JWKS, jwks_uri) as registered, or None for an unknown or disabled client.
#: The inline JWKS may be given as its JSON text (as stored), which is cached by that text.
ClientKeyLookup = Callable[[str], tuple[Mapping[str, Any] | str | None, str | None] | None]

_KEY_TYPES: Final = frozenset({"EC", "OKP", "RSA"})
# Private members of EC, OKP and RSA keys, and the secret of oct keys: a JWKS published by a
# client must not hold them, and we never keep them.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(slots=True)
class _Fetched:
    uri: str
    key_set: KeySet | None
    fetched_at: datetime | None
    attempted_at: datetime


class JwksClientKeys:
    """`ClientKeys` over the registration: the client's inline JWKS, or its `jwks_uri`.

    The registration is looked up on every call (disabling a client takes effect at once); a
    `jwks_uri` is fetched over HTTPS with `http` (no redirects, `timeout_seconds` in all, at
    most `max_response_bytes` read) and its keys kept `cache_seconds`. `refresh=True` refetches
    at most once per `refresh_interval_seconds` per client, and a failed fetch is not retried
    sooner either. Only the public signing keys (EC, OKP, RSA) of a set are kept.

    Fails closed and raises nothing on a fetch problem: a failed fetch, an unusable document, a
    registration with both `jwks` and `jwks_uri` (RFC 7591 §2) or a non-HTTPS `jwks_uri` give
    None. Errors raised by `lookup` itself (the database) propagate.
    """

    def __init__(
        self,
        *,
        lookup: ClientKeyLookup,
        http: httpx.Client,
        clock: Clock,
        cache_seconds: int = 300,
        refresh_interval_seconds: int = 30,
        timeout_seconds: float = 5.0,
        max_response_bytes: int = 64 * 1024,
    ) -> None:
        self._lookup = lookup
        self._http = http
        self._clock = clock
        self._ttl = timedelta(seconds=cache_seconds)
        self._refresh_interval = timedelta(seconds=refresh_interval_seconds)
        self._timeout = timeout_seconds
        self._max_bytes = max_response_bytes
        self._lock = threading.Lock()
        self._fetched: dict[str, _Fetched] = {}
        self._inline: dict[str, KeySet | None] = {}

    def key_set(self, client_id: str, *, refresh: bool = False) -> KeySet | None:
        registered = self._lookup(client_id)
        if registered is None:
            return None
        inline, jwks_uri = registered
        return self.key_set_of(client_id, inline, jwks_uri, refresh=refresh)

    def key_set_of(
        self,
        client_id: str,
        inline: Mapping[str, Any] | str | None,
        jwks_uri: str | None,
        *,
        refresh: bool = False,
    ) -> KeySet | None:
        """The key set of a registration the caller has read: (inline JWKS, jwks_uri).

        An inline JWKS (a mapping, or its JSON text as stored) is imported once and kept by
        its exact content, so a rotation (new content) is imported anew on its first use and
        the old set is never consulted again; at most `_INLINE_CACHE` sets are kept.
        """
        if inline is not None and jwks_uri is not None:
            return None
        if inline is not None:
            return self._inline_key_set(inline)
        if jwks_uri is None or not jwks_uri.startswith("https://"):
            return None
        return self._remote_key_set(client_id, jwks_uri, refresh=refresh)

    def bound(
        self, client_id: str, inline: Mapping[str, Any] | str | None, jwks_uri: str | None
    ) -> ClientKeys:
        """`ClientKeys` for one registration just read (the async token endpoint reads it in
        its own transaction); `key_set` of another client id finds nothing."""
        return _BoundClientKeys(self, client_id, inline, jwks_uri)

    def needs_fetch(self, inline: object, jwks_uri: str | None) -> bool:
        """Whether resolving this registration may block on an HTTP fetch (jwks_uri)."""
        return inline is None and jwks_uri is not None

    def _inline_key_set(self, inline: Mapping[str, Any] | str) -> KeySet | None:
        text = inline if isinstance(inline, str) else json.dumps(inline, sort_keys=True)
        with self._lock:
            if text in self._inline:
                return self._inline[text]
        try:
            document = json.loads(text) if isinstance(inline, str) else inline
        except ValueError:
            document = None
        key_set = _public_key_set(document)
        with self._lock:
            if len(self._inline) >= _INLINE_CACHE:
                self._inline.clear()
            self._inline[text] = key_set
        return key_set

    def _remote_key_set(self, client_id: str, uri: str, *, refresh: bool) -> KeySet | None:
        now = self._clock.now()
        with self._lock:
            entry = self._fetched.get(client_id)
            if entry is not None and entry.uri == uri:
                fresh = entry.fetched_at is not None and now - entry.fetched_at < self._ttl
                tried_recently = now - entry.attempted_at < self._refresh_interval
                if fresh and (not refresh or tried_recently):
                    return entry.key_set
                if tried_recently:  # stale, and the last attempt (which failed) was just now
                    return None
                keep, fetched_at = entry.key_set, entry.fetched_at
            else:
                keep, fetched_at = None, None
            # Claim the attempt before fetching (outside the lock), so that concurrent requests
            # for this client do not fetch too.
            self._fetched[client_id] = _Fetched(uri, keep, fetched_at, attempted_at=now)

        key_set = self._fetch(uri)
        if key_set is not None:
            with self._lock:
                self._fetched[client_id] = _Fetched(uri, key_set, now, attempted_at=now)
        return key_set

    def _fetch(self, uri: str) -> KeySet | None:
        deadline = time.monotonic() + self._timeout
        body = bytearray()
        try:
            with self._http.stream(
                "GET",
                uri,
                headers={"Accept": "application/jwk-set+json, application/json"},
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                if response.status_code != httpx.codes.OK:
                    return None
                declared = response.headers.get("Content-Length")
                if declared is not None and (
                    not declared.isdigit() or int(declared) > self._max_bytes
                ):
                    return None
                for chunk in response.iter_bytes():
                    body += chunk
                    # httpx's timeouts are per read; this bounds the whole transfer.
                    if len(body) > self._max_bytes or time.monotonic() > deadline:
                        return None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError):
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return None
        return _public_key_set(document)


_INLINE_CACHE = 1024


@dataclass(frozen=True, slots=True)
class _BoundClientKeys:
    keys: JwksClientKeys
    client_id: str
    inline: Mapping[str, Any] | str | None
    jwks_uri: str | None

    def key_set(self, client_id: str, *, refresh: bool = False) -> KeySet | None:
        if client_id != self.client_id:
            return None
        return self.keys.key_set_of(client_id, self.inline, self.jwks_uri, refresh=refresh)


def claimed_client_id(form: Mapping[str, str]) -> str | None:
    """The `iss` a client assertion claims, unverified: only to find the registration whose
    keys `ClientAssertionVerifier.check` then verifies it with. None when unreadable."""
    try:
        token = _read_assertion(form)
        iss = _claims_of(token).get("iss")
    except ClientAuthError:
        return None
    return iss if isinstance(iss, str) and 0 < len(iss) <= _MAX_CLIENT_ID_CHARS else None


def _public_key_set(document: object) -> KeySet | None:
    """The public signing keys of a JWKS document; None when it holds none."""
    if not isinstance(document, Mapping):
        return None
    entries = document.get("keys")
    if not isinstance(entries, list):
        return None
    keys: list[Key] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("kty") not in _KEY_TYPES:
            continue  # RFC 7517 §5: ignore keys of a type not understood
        if entry.get("use", "sig") != "sig":
            continue
        public = {name: value for name, value in entry.items() if name not in _PRIVATE_MEMBERS}
        try:
            keys.append(import_key(public))
        except (JoseError, ValueError, TypeError):
            continue  # a malformed key is unusable; the others still count
    return KeySet(keys) if keys else None
