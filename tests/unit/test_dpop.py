"""api/oauth/dpop.py: every check of RFC 9449 §4.3, each attacked by a proof that breaks it."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from api.oauth.dpop import DpopError, DpopNonces, DpopProof, DpopVerifier

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
URL = "https://api.example.org/oauth/token"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.access-token.sig"
SECRET = b"n" * 32

Key = ECKey | OKPKey | RSAKey | OctKey

EC = ECKey.generate_key("P-256")
EC_OTHER = ECKey.generate_key("P-256")
EC_P384 = ECKey.generate_key("P-384")
ED = OKPKey.generate_key("Ed25519")
RSA = RSAKey.generate_key(2048)


class FixedClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


class MemoryReplayCache:
    """The ReplayCache contract in a dict: a value is refused until it expires."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.seen: dict[tuple[str, str], datetime] = {}

    def first_use(self, namespace: str, value: str, expires_at: datetime) -> bool:
        known = self.seen.get((namespace, value))
        if known is not None and known > self.clock.now():
            return False
        self.seen[(namespace, value)] = expires_at
        return True


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def ath(token: str) -> str:
    return b64(hashlib.sha256(token.encode("ascii")).digest())


def make_proof(
    key: Key = EC,
    *,
    alg: str = "ES256",
    sign_alg: str | None = None,
    signer: Key | None = None,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A DPoP proof signed by `signer` (default `key`) with `sign_alg` (default `alg`).

    Entries of `header` and `claims` replace the defaults; a value of None removes one.
    Built by hand so that tests can make proofs joserfc would refuse to make.
    """
    protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    payload: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "htm": "POST",
        "htu": URL,
        "iat": int(NOW.timestamp()),
    }
    for target, changes in ((protected, header), (payload, claims)):
        for name, value in (changes or {}).items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
    signing_input = f"{b64json(protected)}.{b64json(payload)}"
    model = JWSRegistry.algorithms[sign_alg or alg]
    signature = model.sign(signing_input.encode("ascii"), signer or key)
    return f"{signing_input}.{b64(signature)}"


def sign_raw(payload: bytes, key: Key = EC, alg: str = "ES256") -> str:
    """A proof with a valid header and signature over arbitrary payload bytes."""
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    signing_input = f"{b64json(header)}.{b64(payload)}"
    signature = JWSRegistry.algorithms[alg].sign(signing_input.encode("ascii"), key)
    return f"{signing_input}.{b64(signature)}"


def make_verifier(
    *, clock: FixedClock | None = None, nonce: DpopNonces | None = None, **options: Any
) -> DpopVerifier:
    clock = clock or FixedClock()
    return DpopVerifier(replay=MemoryReplayCache(clock), clock=clock, nonce=nonce, **options)


def check(proof: str | None, verifier: DpopVerifier | None = None, **request: Any) -> DpopProof:
    request.setdefault("method", "POST")
    request.setdefault("url", URL)
    return (verifier or make_verifier()).verify(proof, **request)


def refused(proof: str | None, verifier: DpopVerifier | None = None, **request: Any) -> DpopError:
    with pytest.raises(DpopError) as caught:
        check(proof, verifier, **request)
    assert caught.value.error == "invalid_dpop_proof"
    return caught.value


def rfc7638_ec_thumbprint(key: ECKey) -> str:
    jwk = key.as_dict(private=False)
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


# --- accepted proofs -------------------------------------------------------------------------


def test_valid_proof_returns_thumbprint_jti_and_time() -> None:
    result = check(make_proof(claims={"jti": "proof-1"}))
    assert result == DpopProof(jkt=rfc7638_ec_thumbprint(EC), jti="proof-1", issued_at=NOW)


@pytest.mark.parametrize(
    ("key", "alg", "sign_alg"),
    [
        (ED, "Ed25519", None),
        (ED, "EdDSA", "Ed25519"),  # the RFC 8037 name most clients still send
        (RSA, "RS256", None),
        (RSA, "PS256", None),
    ],
)
def test_other_allowed_algorithms_verify(key: Key, alg: str, sign_alg: str | None) -> None:
    result = check(make_proof(key, alg=alg, sign_alg=sign_alg))
    assert result.jkt == key.thumbprint()


def test_eddsa_alg_is_not_a_way_to_use_another_curve() -> None:
    refused(make_proof(EC, alg="EdDSA", sign_alg="ES256"))


def test_algorithm_outside_the_allowlist_is_refused() -> None:
    refused(make_proof(ED, alg="Ed25519"), make_verifier(algorithms=("ES256",)))


# --- htm, htu ----------------------------------------------------------------------------------


def test_wrong_method_is_refused() -> None:
    refused(make_proof(claims={"htm": "GET"}))
    refused(make_proof(claims={"htm": "post"}))
    refused(make_proof(claims={"htm": None}))


@pytest.mark.parametrize(
    "htu",
    [
        "https://api.example.org/oauth/token2",  # path
        "https://api.example.org/oauth/",
        "https://api.example.org/OAUTH/token",  # paths are case-sensitive
        "https://evil.example.org/oauth/token",  # host
        "http://api.example.org/oauth/token",  # scheme
        "https://api.example.org:8443/oauth/token",  # port
        "https://user@api.example.org/oauth/token",  # userinfo
        "https://api.example.org/oauth/./token",  # dot segments are not removed
        "https://api.example.org/oauth/%74oken",  # nor percent-encoded octets decoded
        "https://api.example.org/oauth/tok\ten",  # urlsplit would drop the tab
        "/oauth/token",  # not absolute
        "ftp://api.example.org/oauth/token",
        "",
    ],
)
def test_wrong_htu_is_refused(htu: str) -> None:
    refused(make_proof(claims={"htu": htu}))


def test_htu_must_be_a_string() -> None:
    refused(make_proof(claims={"htu": None}))
    refused(make_proof(claims={"htu": ["https://api.example.org/oauth/token"]}))


@pytest.mark.parametrize(
    ("htu", "url"),
    [
        (URL, URL + "?state=abc#frag"),  # the request's query and fragment are ignored
        (URL + "?x=1#y", URL),  # and so are the proof's
        ("https://api.example.org:443/oauth/token", URL),  # default port
        (URL, "https://api.example.org:443/oauth/token"),
        ("http://localhost:80/oauth/token", "http://localhost/oauth/token"),
        ("HTTPS://API.Example.ORG/oauth/token", URL),  # case of scheme and host
        ("https://api.example.org", "https://api.example.org/"),  # empty path is /
        ("https://api.example.org/a%2fb", "https://api.example.org/a%2Fb"),  # hex case
        ("https://[::1]:8000/oauth/token", "https://[::1]:8000/oauth/token"),
    ],
)
def test_htu_matches_after_normalisation(htu: str, url: str) -> None:
    check(make_proof(claims={"htu": htu}), url=url)


def test_long_query_on_the_request_is_ignored() -> None:
    check(make_proof(), url=URL + "?q=" + "x" * 10_000 + "&é=\t")


def test_unusable_request_url_refuses_every_proof() -> None:
    refused(make_proof(claims={"htu": "not a url"}), url="not a url")


# --- iat -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-300, True), (-301, False), (-86_400, False), (5, True), (6, False), (3_600, False)],
)
def test_iat_window(offset: int, accepted: bool) -> None:
    proof = make_proof(claims={"iat": int(NOW.timestamp()) + offset})
    if accepted:
        assert check(proof).issued_at == NOW + timedelta(seconds=offset)
    else:
        refused(proof)


@pytest.mark.parametrize(
    "iat", [None, "1748779200", True, [1], 10**400, -(10**400)], ids=lambda v: repr(v)[:20]
)
def test_iat_must_be_a_number(iat: Any) -> None:
    refused(make_proof(claims={"iat": iat}))


def test_fractional_iat_is_a_numericdate() -> None:
    assert check(make_proof(claims={"iat": NOW.timestamp() - 0.5})).issued_at < NOW


# --- jti and replay ----------------------------------------------------------------------------


def test_replayed_proof_is_refused() -> None:
    clock = FixedClock()
    verifier = make_verifier(clock=clock)
    proof = make_proof()
    check(proof, verifier)
    error = refused(proof, verifier)
    assert "used before" in error.description
    # A new proof with the same jti from the same key is the same proof to the cache.
    refused(make_proof(claims={"jti": json.loads(_payload(proof))["jti"]}), verifier)


def test_replay_is_remembered_until_the_proof_could_no_longer_be_accepted() -> None:
    clock = FixedClock()
    replay = MemoryReplayCache(clock)
    verifier = DpopVerifier(replay=replay, clock=clock)
    proof = make_proof(claims={"jti": "j"})
    check(proof, verifier)
    assert replay.seen == {("dpop", f"{EC.thumbprint()}:j"): NOW + timedelta(seconds=305)}


def test_same_jti_from_another_key_is_another_proof() -> None:
    verifier = make_verifier()
    check(make_proof(EC, claims={"jti": "same"}), verifier)
    check(make_proof(EC_OTHER, claims={"jti": "same"}), verifier)


def test_refused_proof_does_not_use_up_its_jti() -> None:
    verifier = make_verifier()
    refused(make_proof(claims={"jti": "j", "htm": "GET"}), verifier)
    check(make_proof(claims={"jti": "j"}), verifier)


@pytest.mark.parametrize("jti", [None, "", 42, ["a"], "x" * 257, "\ud800"])
def test_jti_must_be_a_short_string(jti: Any) -> None:
    refused(make_proof(claims={"jti": jti}))


def test_jti_of_256_characters_is_accepted() -> None:
    assert check(make_proof(claims={"jti": "x" * 256})).jti == "x" * 256


# --- header: typ, alg, jwk -------------------------------------------------------------------


@pytest.mark.parametrize(
    "typ", [None, "JWT", "jwt", "DPoP+JWT", "dpop+jwt ", "application/dpop+jwt"]
)
def test_typ_must_be_exactly_dpop_jwt(typ: str | None) -> None:
    refused(make_proof(header={"typ": typ}))


def test_alg_none_is_refused() -> None:
    unsigned = make_proof(alg="none")
    assert unsigned.endswith(".")
    refused(unsigned)
    refused(unsigned + "AAAA")
    refused(make_proof(header={"alg": "none"}))  # signed, but claiming none


def test_hmac_is_refused() -> None:
    secret = OctKey.generate_key(256)
    refused(make_proof(secret, alg="HS256"))
    # The classic confusion: HS256 with the public key as the MAC secret.
    public_as_secret = OctKey.import_key(json.dumps(EC.as_dict(private=False)).encode())
    refused(make_proof(EC, alg="HS256", signer=public_as_secret))


@pytest.mark.parametrize("algorithms", [(), ("none",), ("HS256",), ("ES256", "HS512"), ("RSA1_5",)])
def test_verifier_refuses_unsafe_allowlists(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="algorithm"):
        make_verifier(algorithms=algorithms)


@pytest.mark.parametrize("alg", [None, 256, "es256", "ES384"])
def test_alg_missing_or_unknown_is_refused(alg: Any) -> None:
    refused(make_proof(header={"alg": alg}, sign_alg="ES256"))


@pytest.mark.parametrize("key", [EC, ED, RSA], ids=["EC", "OKP", "RSA"])
def test_private_key_in_jwk_is_refused(key: Key) -> None:
    alg = {"EC": "ES256", "OKP": "Ed25519", "RSA": "RS256"}[key.key_type]
    error = refused(make_proof(key, alg=alg, header={"jwk": key.as_dict(private=True)}))
    assert "public key" in error.description


def test_signature_by_another_key_is_refused() -> None:
    error = refused(make_proof(EC, signer=EC_OTHER))
    assert "signature" in error.description


@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        (None, "wrong type"),
        ("not a key", "header is invalid"),
        ({"crv": "P-256", "x": "AAAA", "y": "AAAA"}, "wrong type"),  # no kty
        (ED.as_dict(private=False), "wrong type"),  # an OKP key for ES256
        (EC_P384.as_dict(private=False), "wrong type"),  # the wrong curve for ES256
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "not a valid key"),
        ({**EC.as_dict(private=False), "x": EC_OTHER.as_dict()["x"]}, "not a valid key"),
        ({**EC.as_dict(private=False), "use": "enc"}, "not a signature key"),
        ({**EC.as_dict(private=False), "key_ops": ["sign"]}, "signature"),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_jwk_missing_or_malformed_is_refused(jwk: Any, reason: str) -> None:
    assert reason in refused(make_proof(header={"jwk": jwk})).description


def test_ed25519_key_must_be_on_its_curve() -> None:
    x448 = {"kty": "OKP", "crv": "Ed448", "x": ED.as_dict()["x"]}
    refused(make_proof(ED, alg="Ed25519", header={"jwk": x448}))


def test_short_rsa_key_is_refused() -> None:
    jwk = {**RSA.as_dict(private=False), "n": b64(b"\xc1" + bytes(127))}  # 1024 bits
    error = refused(make_proof(RSA, alg="RS256", header={"jwk": jwk}))
    assert "RSA key size" in error.description


@pytest.mark.parametrize(
    "extra", [{"crit": ["exp"], "exp": 1}, {"b64": False, "crit": ["b64"]}, {"b64": True}]
)
def test_header_extensions_are_refused(extra: dict[str, Any]) -> None:
    refused(make_proof(header=extra))


def test_unknown_header_parameters_are_ignored() -> None:
    # RFC 7515 §4: parameters that are not understood are ignored unless listed in `crit`.
    check(make_proof(header={"x-client": "demo", "kid": "k1"}))


def test_registered_header_parameters_must_be_well_formed() -> None:
    assert "header is invalid" in refused(make_proof(header={"kid": 7})).description
    assert "header is invalid" in refused(make_proof(header={"jku": "file:///x"})).description


# --- ath and the token binding --------------------------------------------------------------


def test_ath_required_and_checked_with_an_access_token() -> None:
    check(make_proof(claims={"ath": ath(TOKEN)}), access_token=TOKEN)
    refused(make_proof(), access_token=TOKEN)
    refused(make_proof(claims={"ath": ath(TOKEN + "x")}), access_token=TOKEN)
    refused(make_proof(claims={"ath": ath(TOKEN) + "="}), access_token=TOKEN)
    refused(make_proof(claims={"ath": 1}), access_token=TOKEN)


def test_ath_that_is_not_unicode_is_refused() -> None:
    refused(make_proof(claims={"ath": "\ud800"}), access_token=TOKEN)


def test_ath_is_ignored_without_an_access_token() -> None:
    check(make_proof(claims={"ath": "anything"}))


def test_non_ascii_access_token_is_refused() -> None:
    refused(make_proof(claims={"ath": ath("x")}), access_token="tökén")


def test_expected_jkt_binds_the_proof_to_the_token_key() -> None:
    check(make_proof(), expected_jkt=EC.thumbprint())
    error = refused(make_proof(), expected_jkt=EC_OTHER.thumbprint())
    assert "binding" in error.description
    refused(make_proof(), expected_jkt="")
    refused(make_proof(), expected_jkt="ünicode")


# --- malformed proofs ----------------------------------------------------------------------------


def _payload(proof: str) -> str:
    segment = proof.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


def test_missing_proof_is_refused() -> None:
    assert "missing" in refused(None).description
    assert "missing" in refused("").description


def _swap_segment(index: int, value: str) -> Callable[[str], str]:
    def swap(proof: str) -> str:
        parts = proof.split(".")
        parts[index] = value
        return ".".join(parts)

    return swap


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: "garbage",
        lambda p: "a.b",
        lambda p: ".".join(p.split(".")[:2]),  # two parts
        lambda p: p + ".AAAA",  # four parts
        lambda p: p + "=",  # padding
        lambda p: p.replace(".", "=.", 1),
        lambda p: " " + p,
        lambda p: p + "\n",
        lambda p: "!!!!." + p.split(".", 1)[1],  # not base64url
        # base64, not base64url (a random proof may hold no - or _: then force a +)
        lambda p: p.replace("-", "+").replace("_", "/") if {"-", "_"} & set(p) else p[:-1] + "+",
        _swap_segment(0, b64(b"not json")),
        _swap_segment(0, b64json(["typ", "alg", "jwk"])),
        _swap_segment(0, b64(b'{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}')),
        _swap_segment(1, b64(b"[1, 2]")),
        _swap_segment(1, b64(b"\xff\xfe")),
        _swap_segment(2, "A" * 5),  # impossible base64url length
        _swap_segment(1, "A" * 6000),  # payload over the size limit
        lambda p: p + "A" * 10_000,  # too long
    ],
)
def test_malformed_proof_is_refused(mangle: Callable[[str], str]) -> None:
    refused(mangle(make_proof()))


@pytest.mark.parametrize(
    "payload",
    [
        b"[1, 2]",
        b"not json",
        b"\xff\xfe",
        b'"a string"',
        b'{"jti": "a", "htm": "POST", "htm": "POST", "htu": "%s", "iat": %d}',  # duplicate
        b'{"jti": "a", "htm": "POST", "htu": "%s", "iat": NaN}',
        b'{"jti": "a", "htm": "POST", "htu": "%s", "iat": Infinity}',
    ],
)
def test_signed_but_malformed_claims_are_refused(payload: bytes) -> None:
    filled = payload.replace(b"%s", URL.encode()).replace(b"%d", str(int(NOW.timestamp())).encode())
    error = refused(sign_raw(filled))
    assert "claims" in error.description


def test_signed_raw_claims_helper_makes_valid_proofs() -> None:
    claims = {"jti": "a", "htm": "POST", "htu": URL, "iat": int(NOW.timestamp())}
    assert check(sign_raw(json.dumps(claims).encode())).jti == "a"


def test_descriptions_do_not_echo_the_proof() -> None:
    marker = "<script>alert(1)</script>" * 20
    for proof in (
        make_proof(claims={"jti": marker, "htm": marker}),
        make_proof(claims={"htu": "https://x/" + marker}),
        make_proof(header={"typ": marker}),
        make_proof(header={"alg": marker}, sign_alg="ES256"),
    ):
        error = refused(proof)
        assert "script" not in str(error)
        assert len(error.description) <= 80


# --- server nonces -----------------------------------------------------------------------------


def test_nonce_required_when_the_verifier_has_nonces() -> None:
    clock = FixedClock()
    nonces = DpopNonces(SECRET, clock)
    verifier = make_verifier(clock=clock, nonce=nonces)
    with pytest.raises(DpopError) as caught:
        check(make_proof(), verifier)
    assert caught.value.error == "use_dpop_nonce"
    assert verifier.nonces is nonces
    check(make_proof(claims={"nonce": nonces.issue()}), verifier)


@pytest.mark.parametrize(
    "nonce",
    [
        "",
        "abc",
        42,
        DpopNonces(b"o" * 32, FixedClock()).issue(),  # another secret
        DpopNonces(SECRET, FixedClock(NOW - timedelta(seconds=600))).issue(),  # stale
        DpopNonces(SECRET, FixedClock(NOW + timedelta(seconds=300))).issue(),  # from the future
    ],
)
def test_wrong_or_stale_nonce_asks_for_a_new_one(nonce: Any) -> None:
    clock = FixedClock()
    verifier = make_verifier(clock=clock, nonce=DpopNonces(SECRET, clock))
    with pytest.raises(DpopError) as caught:
        check(make_proof(claims={"nonce": nonce}), verifier)
    assert caught.value.error == "use_dpop_nonce"


def test_invalid_proof_is_reported_as_invalid_even_without_a_nonce() -> None:
    clock = FixedClock()
    refused(
        make_proof(claims={"htm": "GET"}),
        make_verifier(clock=clock, nonce=DpopNonces(SECRET, clock)),
    )


def test_nonce_lives_for_its_window_and_the_next() -> None:
    clock = FixedClock(datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC))  # a window boundary
    nonces = DpopNonces(SECRET, clock)
    nonce = nonces.issue()
    clock.current += timedelta(seconds=599)
    assert nonces.check(nonce)
    clock.current += timedelta(seconds=1)
    assert not nonces.check(nonce)


def test_nonce_tampering_is_detected() -> None:
    nonces = DpopNonces(SECRET, FixedClock())
    nonce = nonces.issue()
    assert nonces.check(nonce)
    for i in range(len(nonce)):
        flipped = nonce[:i] + ("A" if nonce[i] != "A" else "B") + nonce[i + 1 :]
        assert not nonces.check(flipped)


def test_nonce_secret_must_be_long_enough() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DpopNonces(b"short", FixedClock())


def test_verifier_refuses_nonsense_windows() -> None:
    with pytest.raises(ValueError, match="max_age"):
        make_verifier(max_age_seconds=0)
    with pytest.raises(ValueError, match="future_skew"):
        make_verifier(future_skew_seconds=-1)


# --- tampering -----------------------------------------------------------------------------------

VALID = {
    "ES256": make_proof(claims={"ath": ath(TOKEN), "jti": "tamper"}),
    "Ed25519": make_proof(ED, alg="Ed25519", claims={"ath": ath(TOKEN), "jti": "tamper"}),
}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \x00é"


@st.composite
def single_character_changes(draw: st.DrawFn) -> str:
    valid = VALID[draw(st.sampled_from(sorted(VALID)))]
    position = draw(st.integers(min_value=0, max_value=len(valid) - 1))
    char = draw(st.sampled_from(ALPHABET).filter(lambda c: c != valid[position]))
    return valid[:position] + char + valid[position + 1 :]


@settings(max_examples=500, deadline=None)
@given(tampered=single_character_changes())
def test_any_single_character_change_is_refused(tampered: str) -> None:
    # joserfc's base64url decoding is canonical (no non-zero trailing bits), so not even a
    # change that leaves the decoded bytes equal can pass: every change is refused.
    with pytest.raises(DpopError):
        make_verifier().verify(tampered, method="POST", url=URL, access_token=TOKEN)


@pytest.mark.parametrize("alg", sorted(VALID))
def test_the_tampering_targets_are_valid(alg: str) -> None:
    assert check(VALID[alg], access_token=TOKEN).jti == "tamper"
