"""`private_key_jwt` client authentication: each rule attacked, the JWKS source, and Authlib.

Fakes, no sockets: an in-memory replay cache, a settable clock, a dict of key sets, and
`httpx.MockTransport` for `jwks_uri`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, KeySet, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from api.oauth.client_auth import (
    CLIENT_ASSERTION_TYPE,
    AuthenticatedClient,
    ClientAssertionVerifier,
    ClientAuthError,
    JwksClientKeys,
)

ISSUER = "https://vault.example.nl"
TOKEN_ENDPOINT = f"{ISSUER}/oauth/token"
BACKCHANNEL_ENDPOINT = f"{ISSUER}/oauth/bc-authorize"
JWKS_URI = "https://clinic.example.nl/.well-known/jwks.json"
CLINIC, SCHOOL = "clinic-7f3a", "school-22b1"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
T0 = int(NOW.timestamp())

CLINIC_ES256 = ECKey.generate_key("P-256", parameters={"kid": "clinic-es-1"})
CLINIC_ED25519 = OKPKey.generate_key("Ed25519", parameters={"kid": "clinic-ed-1"})
SCHOOL_ES256 = ECKey.generate_key("P-256", parameters={"kid": "school-es-1"})
ATTACKER_ES256 = ECKey.generate_key("P-256", parameters={"kid": "clinic-es-1"})


# --- fakes -----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.current = NOW

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeReplayCache:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.seen: dict[tuple[str, str], datetime] = {}

    def first_use(self, namespace: str, value: str, expires_at: datetime) -> bool:
        previous = self.seen.get((namespace, value))
        if previous is not None and self.clock.now() < previous:
            return False
        self.seen[(namespace, value)] = expires_at
        return True


class FakeClientKeys:
    """Registered key sets; `rotated` is what a refresh finds (the client's new JWKS)."""

    def __init__(self, registered: dict[str, KeySet], rotated: dict[str, KeySet] | None = None):
        self.registered = registered
        self.rotated = rotated or {}
        self.calls: list[tuple[str, bool]] = []

    def key_set(self, client_id: str, *, refresh: bool = False) -> KeySet | None:
        self.calls.append((client_id, refresh))
        if refresh and client_id in self.rotated:
            return self.rotated[client_id]
        return self.registered.get(client_id)


def public(*keys: Key) -> KeySet:
    return KeySet([type(key).import_key(key.as_dict(private=False)) for key in keys])


# --- building assertions ---------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signer(key: Key, alg: str) -> Callable[[bytes], bytes]:
    """Signs with joserfc's algorithm implementation; "EdDSA" with the Ed25519 one, since both
    produce the same signature and joserfc warns about the polymorphic name."""
    model = JWSRegistry.algorithms["Ed25519" if alg == "EdDSA" else alg]
    return lambda signing_input: model.sign(signing_input, key)


def compact(
    header: Mapping[str, Any], claims: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def claims_for(client_id: str = CLINIC, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "iat": T0,
        "exp": T0 + 60,
        "jti": uuid.uuid4().hex,
    }
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


DROP = object()


def assertion(
    key: Key = CLINIC_ES256,
    alg: str = "ES256",
    header: Mapping[str, Any] | None = None,
    client_id: str = CLINIC,
    **claim_changes: Any,
) -> str:
    protected: dict[str, Any] = {"alg": alg, "kid": key.kid, "typ": "client-authentication+jwt"}
    for name, value in (header or {}).items():
        if value is DROP:
            protected.pop(name, None)
        else:
            protected[name] = value
    return compact(protected, claims_for(client_id, **claim_changes), signer(key, alg))


def form(client_assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion,
        **extra,
    }


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys() -> FakeClientKeys:
    return FakeClientKeys(
        {CLINIC: public(CLINIC_ES256, CLINIC_ED25519), SCHOOL: public(SCHOOL_ES256)}
    )


def make_verifier(keys: Any, clock: FakeClock, **options: Any) -> ClientAssertionVerifier:
    return ClientAssertionVerifier(
        keys=keys,
        replay=FakeReplayCache(clock),
        clock=clock,
        issuer=ISSUER,
        endpoint_urls=[TOKEN_ENDPOINT, BACKCHANNEL_ENDPOINT],
        **options,
    )


@pytest.fixture
def verifier(keys: FakeClientKeys, clock: FakeClock) -> ClientAssertionVerifier:
    return make_verifier(keys, clock)


def refused(verifier: ClientAssertionVerifier, request_form: Mapping[str, str]) -> str:
    with pytest.raises(ClientAuthError) as caught:
        verifier.authenticate(request_form)
    assert caught.value.error == "invalid_client"
    return caught.value.description


# --- valid assertions ------------------------------------------------------------------------


def test_a_valid_es256_assertion_authenticates_the_client(
    verifier: ClientAssertionVerifier,
) -> None:
    jwt = assertion(jti="jti-1")
    assert verifier.authenticate(form(jwt)) == AuthenticatedClient(CLINIC, "jti-1", "clinic-es-1")


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_a_valid_ed25519_assertion_authenticates_under_either_name_without_warnings(
    verifier: ClientAssertionVerifier, alg: str
) -> None:
    # filterwarnings = error: joserfc's own EdDSA model would raise its SecurityWarning here.
    client = verifier.authenticate(form(assertion(CLINIC_ED25519, alg)))
    assert (client.client_id, client.key_id) == (CLINIC, "clinic-ed-1")


def test_a_kidless_assertion_is_verified_with_each_registered_key_of_its_type(
    verifier: ClientAssertionVerifier,
) -> None:
    jwt = assertion(CLINIC_ED25519, "Ed25519", header={"kid": DROP})
    assert verifier.authenticate(form(jwt)).key_id == "clinic-ed-1"


def test_a_matching_client_id_in_the_form_is_accepted(verifier: ClientAssertionVerifier) -> None:
    assert verifier.authenticate(form(assertion(), client_id=CLINIC)).client_id == CLINIC


# --- audience --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "aud",
    [
        ISSUER,
        TOKEN_ENDPOINT,
        BACKCHANNEL_ENDPOINT,
        [ISSUER],
        ["https://other.example", TOKEN_ENDPOINT],
    ],
    ids=["issuer", "token-endpoint", "backchannel-endpoint", "array", "array-containing-one"],
)
def test_the_audience_may_be_the_issuer_or_an_endpoint_alone_or_in_an_array(
    verifier: ClientAssertionVerifier, aud: object
) -> None:
    assert verifier.authenticate(form(assertion(aud=aud))).client_id == CLINIC


@pytest.mark.parametrize(
    "aud",
    [
        "https://other.example",
        f"{ISSUER}/",  # compared exactly: no normalisation
        "https://VAULT.example.nl",
        f"{TOKEN_ENDPOINT}?x=1",
        [],
        ["https://other.example"],
        [ISSUER, 7],
        {"aud": ISSUER},
        7,
        DROP,
    ],
    ids=[
        "other",
        "trailing-slash",
        "case",
        "query",
        "empty-array",
        "array-without",
        "array-with-non-string",
        "object",
        "number",
        "missing",
    ],
)
def test_any_other_audience_is_refused(verifier: ClientAssertionVerifier, aud: object) -> None:
    description = refused(verifier, form(assertion(aud=aud)))
    assert description == "client_assertion audience is not this server"


# --- header ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typ",
    [
        DROP,
        "client-authentication+jwt",
        "application/client-authentication+jwt",
        "Client-Authentication+JWT",
        "JWT",
    ],
)
def test_typ_absent_generic_or_client_authentication_is_accepted(
    verifier: ClientAssertionVerifier, typ: object
) -> None:
    assert verifier.authenticate(form(assertion(header={"typ": typ}))).client_id == CLINIC


@pytest.mark.parametrize(
    "typ",
    ["dpop+jwt", "at+jwt", "oauth-authz-req+jwt", "secevent+jwt", "logout+jwt", "", None, 1],
)
def test_any_other_typ_is_refused(verifier: ClientAssertionVerifier, typ: object) -> None:
    description = refused(verifier, form(assertion(header={"typ": typ})))
    assert description == "client_assertion header is not acceptable"


def test_alg_none_is_refused(verifier: ClientAssertionVerifier) -> None:
    for alg in ["none", "None", "NONE"]:
        jwt = compact({"alg": alg}, claims_for(), lambda _: b"")
        assert refused(verifier, form(jwt)) == "client_assertion header is not acceptable"


def test_hs256_signed_with_the_public_key_as_secret_is_refused(
    verifier: ClientAssertionVerifier,
) -> None:
    # The classic confusion attack: the verifier must never use a registered public key as an
    # HMAC secret, whatever form of it the attacker guesses.
    secrets = [
        CLINIC_ES256.as_pem(private=False),
        json.dumps(CLINIC_ES256.as_dict(private=False)).encode(),
    ]
    for secret in secrets:
        for alg, digest in [("HS256", hashlib.sha256), ("HS512", hashlib.sha512)]:
            jwt = compact(
                {"alg": alg, "kid": "clinic-es-1"},
                claims_for(),
                lambda signing_input, s=secret, d=digest: hmac.new(s, signing_input, d).digest(),
            )
            assert refused(verifier, form(jwt)) == "client_assertion header is not acceptable"


def test_an_allowed_algorithm_that_is_not_configured_is_refused(clock: FakeClock) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "clinic-rsa-1"})
    only_es256 = make_verifier(FakeClientKeys({CLINIC: public(rsa)}), clock, algorithms=("ES256",))
    jwt = assertion(rsa, "PS256")
    assert refused(only_es256, form(jwt)) == "client_assertion header is not acceptable"
    with_ps256 = make_verifier(FakeClientKeys({CLINIC: public(rsa)}), clock)
    assert with_ps256.authenticate(form(jwt)).key_id == "clinic-rsa-1"


@pytest.mark.parametrize("bad", ["none", "HS256", "RS1", "", "ES256K"])
def test_the_verifier_cannot_be_configured_with_a_weak_or_unknown_algorithm(
    keys: FakeClientKeys, clock: FakeClock, bad: str
) -> None:
    with pytest.raises(ValueError, match="unsupported client assertion algorithm"):
        make_verifier(keys, clock, algorithms=("ES256", bad))


def test_the_verifier_cannot_be_configured_without_algorithms(
    keys: FakeClientKeys, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match="at least one algorithm"):
        make_verifier(keys, clock, algorithms=())


def test_an_assertion_signed_by_the_attackers_own_embedded_jwk_is_refused(
    verifier: ClientAssertionVerifier,
) -> None:
    attacker_jwk = ATTACKER_ES256.as_dict(private=False)
    for header in [{"jwk": attacker_jwk}, {"jwk": attacker_jwk, "kid": DROP}]:
        jwt = assertion(ATTACKER_ES256, header=header)
        assert refused(verifier, form(jwt)) == "client_assertion header is not acceptable"


@pytest.mark.parametrize(
    "header",
    [
        {"jwk": CLINIC_ES256.as_dict(private=False)},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIB"]},
        {"crit": ["exp"], "exp": 1},
        {"b64": False, "crit": ["b64"]},
        {"cty": "JWT"},
        {"kid": 7},
        {"kid": None},
        {"kid": ""},
        {"kid": "k" * 257},
    ],
    ids=[
        "jwk",
        "jku",
        "x5u",
        "x5c",
        "crit",
        "b64",
        "cty",
        "kid-number",
        "kid-null",
        "kid-empty",
        "kid-long",
    ],
)
def test_key_carrying_and_extension_headers_are_refused_even_with_a_good_signature(
    verifier: ClientAssertionVerifier, header: dict[str, Any]
) -> None:
    description = refused(verifier, form(assertion(header=header)))
    assert description == "client_assertion header is not acceptable"


# --- claims ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": SCHOOL},
        {"iss": SCHOOL},
        {"sub": DROP},
        {"iss": DROP},
        {"iss": 7, "sub": 7},
        {"iss": "", "sub": ""},
        {"iss": "c" * 257, "sub": "c" * 257},
    ],
    ids=["sub-other", "iss-other", "no-sub", "no-iss", "numbers", "empty", "long"],
)
def test_iss_and_sub_must_both_be_the_client_id(
    verifier: ClientAssertionVerifier, changes: dict[str, Any]
) -> None:
    description = refused(verifier, form(assertion(**changes)))
    assert description == "client_assertion iss and sub must both be the client_id"


def test_a_client_id_in_the_form_must_name_the_signer(verifier: ClientAssertionVerifier) -> None:
    description = refused(verifier, form(assertion(), client_id=SCHOOL))
    assert description == "client_id does not match the client_assertion"


def test_an_expired_assertion_is_refused_after_the_skew(
    verifier: ClientAssertionVerifier, clock: FakeClock
) -> None:
    jwt = assertion(exp=T0 - 10)
    assert verifier.authenticate(form(jwt)).client_id == CLINIC  # within 30 s of skew
    clock.advance(20)
    assert refused(verifier, form(assertion(exp=T0 - 10))) == "client_assertion has expired"


@pytest.mark.parametrize("exp", [DROP, "2000000000", None, True, float("inf"), 10**30])
def test_exp_is_required_and_must_be_a_number(
    verifier: ClientAssertionVerifier, exp: object
) -> None:
    assert (
        refused(verifier, form(assertion(exp=exp))) == "client_assertion exp is missing or invalid"
    )


def test_nan_exp_is_refused(verifier: ClientAssertionVerifier) -> None:
    claims = json.dumps(claims_for()).replace(f'"exp": {T0 + 60}', '"exp": NaN')
    header = b64(json.dumps({"alg": "ES256", "kid": "clinic-es-1"}).encode())
    signing_input = f"{header}.{b64(claims.encode())}"
    jwt = f"{signing_input}.{b64(signer(CLINIC_ES256, 'ES256')(signing_input.encode()))}"
    assert refused(verifier, form(jwt)) == "client_assertion exp is missing or invalid"


@pytest.mark.parametrize(
    "changes",
    [
        {"iat": T0, "exp": T0 + 301},
        {"iat": T0 - 600, "exp": T0 + 60},
        {"iat": DROP, "exp": T0 + 301},
        {"iat": T0, "exp": T0 + 3600},  # Authlib's default
    ],
    ids=["exp-iat", "backdated-iat", "exp-now-without-iat", "one-hour"],
)
def test_an_assertion_living_longer_than_the_maximum_is_refused(
    verifier: ClientAssertionVerifier, changes: dict[str, Any]
) -> None:
    assert refused(verifier, form(assertion(**changes))) == "client_assertion lifetime is too long"


def test_the_maximum_lifetime_itself_is_accepted(verifier: ClientAssertionVerifier) -> None:
    assert verifier.authenticate(form(assertion(iat=T0, exp=T0 + 300))).client_id == CLINIC
    assert verifier.authenticate(form(assertion(iat=DROP, exp=T0 + 300))).client_id == CLINIC


def test_iat_in_the_future_beyond_the_skew_is_refused(verifier: ClientAssertionVerifier) -> None:
    assert verifier.authenticate(form(assertion(iat=T0 + 30, exp=T0 + 90))).client_id == CLINIC
    description = refused(verifier, form(assertion(iat=T0 + 31, exp=T0 + 90)))
    assert description == "client_assertion is not yet valid"


def test_nbf_is_honoured(verifier: ClientAssertionVerifier) -> None:
    assert verifier.authenticate(form(assertion(nbf=T0 + 30))).client_id == CLINIC
    assert refused(verifier, form(assertion(nbf=T0 + 31))) == "client_assertion is not yet valid"


@pytest.mark.parametrize(
    "jti",
    [DROP, "", 7, None, ["a"], "j" * 257],
    ids=["missing", "empty", "number", "null", "array", "long"],
)
def test_jti_is_required_and_short(verifier: ClientAssertionVerifier, jti: object) -> None:
    assert (
        refused(verifier, form(assertion(jti=jti))) == "client_assertion jti is missing or invalid"
    )


def test_a_jti_of_256_characters_is_accepted(verifier: ClientAssertionVerifier) -> None:
    assert verifier.authenticate(form(assertion(jti="j" * 256))).jti == "j" * 256


# --- replay ----------------------------------------------------------------------------------


def test_a_replayed_assertion_is_refused(clock: FakeClock, keys: FakeClientKeys) -> None:
    replay = FakeReplayCache(clock)
    verifier = ClientAssertionVerifier(
        keys=keys, replay=replay, clock=clock, issuer=ISSUER, endpoint_urls=[TOKEN_ENDPOINT]
    )
    jwt = assertion(jti="once")
    verifier.authenticate(form(jwt))
    assert refused(verifier, form(jwt)) == "client_assertion has already been used"
    # The same jti in a new assertion is a replay too.
    assert (
        refused(verifier, form(assertion(jti="once"))) == "client_assertion has already been used"
    )
    # Remembered until the assertion can no longer be accepted (exp + skew).
    assert replay.seen[("client_assertion", f"{CLINIC}:once")] == NOW + timedelta(seconds=90)


def test_the_jti_is_spent_only_by_an_assertion_that_passed_every_other_check(
    clock: FakeClock, keys: FakeClientKeys
) -> None:
    replay = FakeReplayCache(clock)
    verifier = ClientAssertionVerifier(
        keys=keys, replay=replay, clock=clock, issuer=ISSUER, endpoint_urls=[]
    )
    forged = assertion(ATTACKER_ES256, jti="victims-next-jti")
    assert refused(verifier, form(forged)) == "client authentication failed"
    assert replay.seen == {}
    assert verifier.authenticate(form(assertion(jti="victims-next-jti"))).jti == "victims-next-jti"


def test_jtis_are_per_client(verifier: ClientAssertionVerifier) -> None:
    verifier.authenticate(form(assertion(jti="shared")))
    jwt = assertion(SCHOOL_ES256, client_id=SCHOOL, jti="shared")
    assert verifier.authenticate(form(jwt)).client_id == SCHOOL


# --- keys and signatures ---------------------------------------------------------------------


def test_an_unknown_client_and_a_bad_signature_get_the_same_answer(
    verifier: ClientAssertionVerifier,
) -> None:
    unknown = refused(verifier, form(assertion(SCHOOL_ES256, client_id="no-such-client")))
    forged = refused(verifier, form(assertion(ATTACKER_ES256)))
    assert unknown == forged == "client authentication failed"


def test_an_assertion_signed_with_another_clients_key_is_refused(
    verifier: ClientAssertionVerifier,
) -> None:
    # The school claims to be the clinic, with its own (registered, but not the clinic's) key.
    for header in [{"kid": "school-es-1"}, {"kid": "clinic-es-1"}, {"kid": DROP}]:
        jwt = assertion(SCHOOL_ES256, header=header)
        assert refused(verifier, form(jwt)) == "client authentication failed"


def test_a_tampered_payload_is_refused(verifier: ClientAssertionVerifier) -> None:
    header, _, signature = assertion(CLINIC_ES256).split(".")
    other_payload = b64(json.dumps(claims_for(jti="tampered")).encode())
    jwt = f"{header}.{other_payload}.{signature}"
    assert refused(verifier, form(jwt)) == "client authentication failed"


def test_a_key_registered_for_another_algorithm_is_not_used(clock: FakeClock) -> None:
    restricted = ECKey.import_key({**CLINIC_ES256.as_dict(private=False), "alg": "ES384"})
    encryption = ECKey.import_key({**CLINIC_ES256.as_dict(private=False), "use": "enc"})
    for key in [restricted, encryption]:
        verifier = make_verifier(FakeClientKeys({CLINIC: KeySet([key])}), clock)
        assert refused(verifier, form(assertion())) == "client authentication failed"


def test_an_eddsa_key_and_an_ed25519_assertion_go_together(clock: FakeClock) -> None:
    registered = OKPKey.import_key({**CLINIC_ED25519.as_dict(private=False), "alg": "EdDSA"})
    verifier = make_verifier(FakeClientKeys({CLINIC: KeySet([registered])}), clock)
    assert verifier.authenticate(form(assertion(CLINIC_ED25519, "Ed25519"))).client_id == CLINIC
    assert verifier.authenticate(form(assertion(CLINIC_ED25519, "EdDSA"))).client_id == CLINIC


def test_an_unknown_kid_triggers_one_refresh_which_finds_the_rotated_key(
    clock: FakeClock,
) -> None:
    new_key = ECKey.generate_key("P-256", parameters={"kid": "clinic-es-2"})
    keys = FakeClientKeys({CLINIC: public(CLINIC_ES256)}, rotated={CLINIC: public(new_key)})
    verifier = make_verifier(keys, clock)
    assert verifier.authenticate(form(assertion(new_key))).key_id == "clinic-es-2"
    assert keys.calls == [(CLINIC, False), (CLINIC, True)]


def test_an_unknown_kid_still_unknown_after_the_refresh_is_refused(clock: FakeClock) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "clinic-es-9"})
    keys = FakeClientKeys({CLINIC: public(CLINIC_ES256)}, rotated={CLINIC: public(CLINIC_ES256)})
    verifier = make_verifier(keys, clock)
    assert refused(verifier, form(assertion(stranger))) == "client authentication failed"
    assert keys.calls == [(CLINIC, False), (CLINIC, True)]


def test_a_known_kid_with_a_bad_signature_does_not_trigger_a_refresh(
    verifier: ClientAssertionVerifier, keys: FakeClientKeys
) -> None:
    assert refused(verifier, form(assertion(ATTACKER_ES256))) == "client authentication failed"
    assert keys.calls == [(CLINIC, False)]


@pytest.mark.parametrize(
    "tampering",
    [
        lambda jwt: "",
        lambda jwt: "not-a-jwt",
        lambda jwt: jwt + ".extra",
        lambda jwt: jwt.replace(".", "..", 1),
        lambda jwt: "e30." + jwt.split(".", 1)[1],  # header {} without alg
        lambda jwt: "W10." + jwt.split(".", 1)[1],  # header []
        lambda jwt: jwt.split(".")[0] + ".W10." + jwt.split(".")[2],  # payload []
        lambda jwt: jwt.split(".")[0] + ".bm90IGpzb24." + jwt.split(".")[2],  # payload not JSON
        lambda jwt: jwt + "A" * 8192,
        lambda jwt: jwt.replace("e", "é", 1),
    ],
)
def test_malformed_assertions_are_refused_without_echoing_them(
    verifier: ClientAssertionVerifier, tampering: Callable[[str], str]
) -> None:
    description = refused(verifier, form(tampering(assertion())))
    assert description in {
        "client authentication must use private_key_jwt",  # an empty assertion is none at all
        "client_assertion is malformed",
    }


# --- the form --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_form",
    [
        {"grant_type": "client_credentials", "client_id": CLINIC, "client_secret": "s3cret"},
        {"grant_type": "client_credentials", "client_id": CLINIC},  # "none"
        {"client_assertion": "x.y.z"},
        {"client_assertion_type": CLIENT_ASSERTION_TYPE},
        {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            "client_assertion": "x.y.z",
        },
    ],
    ids=["client_secret_post", "none", "no-type", "no-assertion", "saml"],
)
def test_any_other_client_authentication_is_refused(
    verifier: ClientAssertionVerifier, request_form: dict[str, str]
) -> None:
    assert refused(verifier, request_form) == "client authentication must use private_key_jwt"


def test_an_assertion_together_with_a_secret_is_refused(verifier: ClientAssertionVerifier) -> None:
    description = refused(verifier, form(assertion(), client_secret="s3cret"))
    assert description == "more than one client authentication method"


# --- JwksClientKeys --------------------------------------------------------------------------


class JwksServer:
    """A client's jwks_uri behind httpx.MockTransport: what it serves, and how often it is asked."""

    def __init__(self, *keys: Key) -> None:
        self.document: Any = public(*keys).as_dict()
        self.urls: list[str] = []
        self.respond: Callable[[httpx.Request], httpx.Response] | None = None

    @property
    def fetches(self) -> int:
        return len(self.urls)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        if self.respond is not None:
            return self.respond(request)
        return httpx.Response(200, json=self.document)


@pytest.fixture
def server() -> JwksServer:
    return JwksServer(CLINIC_ES256)


@pytest.fixture
def registrations() -> dict[str, tuple[dict[str, Any] | None, str | None]]:
    return {
        CLINIC: (None, JWKS_URI),
        SCHOOL: (dict(public(SCHOOL_ES256).as_dict()), None),
    }


@pytest.fixture
def http(server: JwksServer) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(server.handler)) as client:
        yield client


@pytest.fixture
def jwks_keys(
    registrations: dict[str, tuple[dict[str, Any] | None, str | None]],
    http: httpx.Client,
    clock: FakeClock,
) -> JwksClientKeys:
    return JwksClientKeys(lookup=registrations.get, http=http, clock=clock)


def test_jwks_uri_keys_are_fetched_once_and_cached(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = make_verifier(jwks_keys, clock)
    verifier.authenticate(form(assertion()))
    verifier.authenticate(form(assertion()))
    assert server.fetches == 1


def test_the_cache_lasts_five_minutes(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    assert jwks_keys.key_set(CLINIC) is not None
    clock.advance(299)
    assert jwks_keys.key_set(CLINIC) is not None
    assert server.fetches == 1
    clock.advance(1)
    assert jwks_keys.key_set(CLINIC) is not None
    assert server.fetches == 2


def test_a_key_removed_from_the_jwks_stops_working_when_the_cache_expires(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = make_verifier(jwks_keys, clock)
    verifier.authenticate(form(assertion()))
    server.document = public(ECKey.generate_key("P-256", parameters={"kid": "new"})).as_dict()
    clock.advance(300)
    later = assertion(iat=T0 + 300, exp=T0 + 360)
    assert refused(verifier, form(later)) == "client authentication failed"
    assert server.fetches == 2


def test_rotation_an_unknown_kid_refetches_and_finds_the_new_key(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = make_verifier(jwks_keys, clock)
    verifier.authenticate(form(assertion()))
    clock.advance(31)
    new_key = ECKey.generate_key("P-256", parameters={"kid": "clinic-es-2"})
    server.document = public(CLINIC_ES256, new_key).as_dict()
    assert verifier.authenticate(form(assertion(new_key))).key_id == "clinic-es-2"
    assert server.fetches == 2


def test_refresh_refetches_at_most_once_per_30_seconds(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = make_verifier(jwks_keys, clock)
    stranger = ECKey.generate_key("P-256", parameters={"kid": "clinic-es-9"})
    verifier.authenticate(form(assertion()))
    for _ in range(5):  # an attacker sending unknown kids cannot make us hammer the client
        refused(verifier, form(assertion(stranger)))
    assert server.fetches == 1
    clock.advance(30)
    refused(verifier, form(assertion(stranger)))
    assert server.fetches == 2
    verifier.authenticate(form(assertion()))  # the cached set still serves the known key
    assert server.fetches == 2


@pytest.mark.parametrize(
    "respond",
    [
        lambda request: httpx.Response(500),
        lambda request: httpx.Response(404),
        lambda request: httpx.Response(302, headers={"Location": "https://attacker.example/j"}),
        lambda request: httpx.Response(200, content=b"not json"),
        lambda request: httpx.Response(200, json={"keys": "nope"}),
        lambda request: httpx.Response(200, json={"keys": []}),
        lambda request: httpx.Response(200, json=[1, 2]),
        lambda request: httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
    ],
    ids=["500", "404", "redirect", "not-json", "keys-not-list", "no-keys", "array", "only-oct"],
)
def test_a_failed_or_unusable_fetch_fails_closed(
    jwks_keys: JwksClientKeys,
    server: JwksServer,
    clock: FakeClock,
    respond: Callable[[httpx.Request], httpx.Response],
) -> None:
    server.respond = respond
    assert jwks_keys.key_set(CLINIC) is None
    verifier = make_verifier(jwks_keys, clock)
    assert refused(verifier, form(assertion())) == "client authentication failed"


def test_a_network_failure_fails_closed(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server.respond = unreachable
    assert jwks_keys.key_set(CLINIC) is None
    clock.advance(30)
    assert jwks_keys.key_set(CLINIC) is None
    assert server.fetches == 2  # retried, but not more than once per 30 s


def test_a_failed_fetch_is_not_retried_within_30_seconds(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    server.respond = lambda request: httpx.Response(503)
    for _ in range(5):
        assert jwks_keys.key_set(CLINIC) is None
    assert server.fetches == 1
    server.respond = None
    clock.advance(30)
    assert jwks_keys.key_set(CLINIC) is not None


def test_a_response_over_64_kib_fails_closed(jwks_keys: JwksClientKeys, server: JwksServer) -> None:
    padded = {**server.document, "padding": "x" * (64 * 1024)}
    server.respond = lambda request: httpx.Response(200, json=padded)
    assert jwks_keys.key_set(CLINIC) is None


def test_a_streamed_response_over_64_kib_without_a_length_fails_closed(
    jwks_keys: JwksClientKeys, server: JwksServer
) -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        chunks = (b'{"keys": [' if i == 0 else b" " * 4096 for i in range(100))
        return httpx.Response(200, content=chunks)  # an iterator: no Content-Length

    server.respond = endless
    assert jwks_keys.key_set(CLINIC) is None


def test_a_response_within_64_kib_is_accepted(
    jwks_keys: JwksClientKeys, server: JwksServer
) -> None:
    padded = {**server.document, "padding": "x" * (60 * 1024)}
    server.respond = lambda request: httpx.Response(200, json=padded)
    assert jwks_keys.key_set(CLINIC) is not None


def test_inline_jwks_needs_no_fetch(
    jwks_keys: JwksClientKeys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = make_verifier(jwks_keys, clock)
    jwt = assertion(SCHOOL_ES256, client_id=SCHOOL)
    assert verifier.authenticate(form(jwt)).client_id == SCHOOL
    assert server.fetches == 0


def test_unknown_or_disabled_clients_have_no_keys(
    jwks_keys: JwksClientKeys,
    registrations: dict[str, tuple[dict[str, Any] | None, str | None]],
) -> None:
    assert jwks_keys.key_set("no-such-client") is None
    jwks_keys.key_set(CLINIC)
    del registrations[CLINIC]  # disabled: the cached keys are not used any more
    assert jwks_keys.key_set(CLINIC) is None


@pytest.mark.parametrize(
    "registration",
    [
        (None, None),
        (None, "http://clinic.example.nl/jwks.json"),
        (None, "file:///etc/passwd"),
        ({"keys": []}, None),
        (dict(public(CLINIC_ES256).as_dict()), JWKS_URI),  # both: RFC 7591 §2 forbids it
    ],
    ids=["nothing", "http", "file", "empty-inline", "both"],
)
def test_unusable_registrations_have_no_keys(
    registrations: dict[str, tuple[dict[str, Any] | None, str | None]],
    jwks_keys: JwksClientKeys,
    server: JwksServer,
    registration: tuple[dict[str, Any] | None, str | None],
) -> None:
    registrations[CLINIC] = registration
    assert jwks_keys.key_set(CLINIC) is None
    assert server.fetches == 0


def test_only_public_signing_keys_are_kept(jwks_keys: JwksClientKeys, server: JwksServer) -> None:
    # A client that publishes its private key by mistake: we keep only the public half.
    server.document = {
        "keys": [
            CLINIC_ES256.as_dict(private=True),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**SCHOOL_ES256.as_dict(private=False), "use": "enc"},
            {"kty": "EC", "crv": "P-256", "x": "broken", "kid": "broken"},
            {"kty": "PQ-KEY", "kid": "future"},
        ]
    }
    key_set = jwks_keys.key_set(CLINIC)
    assert key_set is not None
    assert [(key.kid, key.is_private) for key in key_set] == [("clinic-es-1", False)]


def test_a_changed_jwks_uri_is_fetched_anew(
    jwks_keys: JwksClientKeys,
    server: JwksServer,
    registrations: dict[str, tuple[dict[str, Any] | None, str | None]],
) -> None:
    assert jwks_keys.key_set(CLINIC) is not None
    registrations[CLINIC] = (None, JWKS_URI + "?v=2")
    assert jwks_keys.key_set(CLINIC) is not None
    assert server.urls == [JWKS_URI, JWKS_URI + "?v=2"]


# --- Authlib as the client -------------------------------------------------------------------


def authlib_form(key: Key, alg: str) -> dict[str, str]:
    """The form Authlib's httpx OAuth2Client sends to the token endpoint with private_key_jwt."""
    # Authlib >= 1.8 prefers the httpx fork "httpx2" and warns, once on import, that plain httpx
    # is deprecated. design.md §4 keeps httpx; the test's filterwarnings mark silences exactly
    # that warning, and importing here keeps it from firing at collection.
    from authlib.integrations.httpx_client import OAuth2Client

    sent: dict[str, str] = {}

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        sent.update(parse_qsl(request.content.decode()))
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer"})

    client = OAuth2Client(
        client_id=CLINIC,
        client_secret=key,
        token_endpoint_auth_method="private_key_jwt",
        transport=httpx.MockTransport(token_endpoint),
    )
    client.register_client_auth_method(PrivateKeyJWT(TOKEN_ENDPOINT, alg=alg))
    with client, warnings.catch_warnings():
        # Signing (client side, in joserfc) with the polymorphic "EdDSA" name warns that RFC 9864
        # deprecates it; the verifier must not, so verification runs outside this block.
        warnings.filterwarnings("ignore", "EdDSA is deprecated via RFC 9864", SecurityWarning)
        client.fetch_token(TOKEN_ENDPOINT, grant_type="client_credentials")
    return sent


AUTHLIB_HTTPX_WARNING = (
    "ignore:The httpx module is deprecated; please use httpx2 instead."
    ":authlib.deprecate.AuthlibDeprecationWarning"
)


@pytest.mark.filterwarnings(AUTHLIB_HTTPX_WARNING)
@pytest.mark.parametrize(("key", "alg"), [(CLINIC_ES256, "ES256"), (CLINIC_ED25519, "EdDSA")])
def test_authlibs_private_key_jwt_is_accepted(
    keys: FakeClientKeys, clock: FakeClock, key: Key, alg: str
) -> None:
    sent = authlib_form(key, alg)

    # What Authlib sends: the assertion and its type, no client_id; typ "JWT", the configured
    # alg, aud the token endpoint (a string), exp one hour after iat, a 36-character jti.
    assert sent.keys() == {"grant_type", "client_assertion_type", "client_assertion"}
    header_segment, payload_segment, _ = sent["client_assertion"].split(".")
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
    claims = json.loads(base64.urlsafe_b64decode(payload_segment + "=="))
    assert header == {"typ": "JWT", "alg": alg}
    assert (claims["iss"], claims["sub"], claims["aud"]) == (CLINIC, CLINIC, TOKEN_ENDPOINT)
    assert claims["exp"] - claims["iat"] == 3600
    assert len(claims["jti"]) == 36

    # Authlib signs with the real time; its one-hour lifetime needs max_lifetime_seconds=3600.
    clock.current = datetime.fromtimestamp(claims["iat"], tz=UTC)
    verifier = make_verifier(keys, clock, max_lifetime_seconds=3600)
    client = verifier.authenticate(sent)
    assert (client.client_id, client.jti) == (CLINIC, claims["jti"])
    assert refused(verifier, sent) == "client_assertion has already been used"


@pytest.mark.filterwarnings(AUTHLIB_HTTPX_WARNING)
def test_authlibs_one_hour_assertion_exceeds_the_default_maximum_lifetime(
    verifier: ClientAssertionVerifier, clock: FakeClock
) -> None:
    sent = authlib_form(CLINIC_ES256, "ES256")
    payload_segment = sent["client_assertion"].split(".")[1]
    clock.current = datetime.fromtimestamp(
        json.loads(base64.urlsafe_b64decode(payload_segment + "=="))["iat"], tz=UTC
    )
    assert refused(verifier, sent) == "client_assertion lifetime is too long"
