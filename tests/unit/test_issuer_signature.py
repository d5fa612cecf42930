"""Issuer signatures over records: a detached JWS over RFC 8785 canonical JSON."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey
from joserfc.registry import HeaderParameter

from keys.issuer import IssuerSignatureInvalid, canonical_payload, verify

SCHOOL = ECKey.generate_key("P-256", parameters={"kid": "school-2026"})
OTHER = ECKey.generate_key("P-256", parameters={"kid": "school-2026"})  # same kid, other key
JWKS = {"keys": [SCHOOL.as_dict(private=False)]}
# What an issuer uses to sign: joserfc must be told that `iss` may stand in the header.
SIGNING = jws.JWSRegistry(
    header_registry={"iss": HeaderParameter("Issuer", "str")},
    algorithms=["ES256", "Ed25519"],
    strict_check_header=False,
)
GRADES = {"rekenen": 7.5, "taal": 8, "leerling": "Sam"}


def sign(payload: bytes, key: Any = SCHOOL, **header: Any) -> str:
    protected = {
        "alg": "ES256",
        "kid": "school-2026",
        "typ": "regie-record+jws",
        "iss": "school-regenboog",
        **header,
    }
    compact = jws.serialize_compact(
        protected, payload, key, algorithms=[protected["alg"]], registry=SIGNING
    )
    h, _, s = compact.split(".")
    return f"{h}..{s}"


def test_canonical_payload_is_order_and_spacing_independent() -> None:
    a = canonical_payload("education.grades", "Cijfers", {"b": 1, "a": [1.0, "é"]})
    b = canonical_payload("education.grades", "Cijfers", {"a": [1, "é"], "b": 1})
    assert a == b
    assert (
        a == '{"content":{"a":[1,"é"],"b":1},"title":"Cijfers","type":"education.grades"}'.encode()
    )


def test_a_valid_signature_verifies() -> None:
    payload = canonical_payload("education.grades", "Rapport groep 8", GRADES)
    result = verify(sign(payload), payload, issuer="school-regenboog", jwks=JWKS)
    assert (result.issuer, result.kid, result.alg) == ("school-regenboog", "school-2026", "ES256")


def test_ed25519_signatures_verify() -> None:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "ed"})
    payload = canonical_payload("education.grades", "R", GRADES)
    compact = sign(payload, key, alg="Ed25519", kid="ed")
    verify(compact, payload, issuer="school-regenboog", jwks={"keys": [key.as_dict(private=False)]})


@pytest.mark.parametrize(
    "change",
    [
        {"content": {**GRADES, "rekenen": 9.5}},  # a changed grade
        {"title": "Rapport groep 7"},
        {"type": "education.diploma"},
    ],
)
def test_any_change_to_the_record_breaks_it(change: dict[str, Any]) -> None:
    signed = canonical_payload("education.grades", "Rapport groep 8", GRADES)
    record = {"type": "education.grades", "title": "Rapport groep 8", "content": GRADES, **change}
    altered = canonical_payload(record["type"], record["title"], record["content"])
    with pytest.raises(IssuerSignatureInvalid):
        verify(sign(signed), altered, issuer="school-regenboog", jwks=JWKS)


def test_refusals() -> None:
    payload = canonical_payload("education.grades", "R", GRADES)
    cases = [
        sign(payload, OTHER),  # signed by a key that is not registered (same kid)
        sign(payload, typ="JWT"),
        sign(payload, iss="another-school"),
        sign(payload, kid="unknown"),
        sign(payload, x5u="https://evil.example/keys"),  # a key source of the signer's choosing
        jws.serialize_compact(
            {
                "alg": "ES256",
                "kid": "school-2026",
                "typ": "regie-record+jws",
                "iss": "school-regenboog",
            },
            payload,
            SCHOOL,
            registry=SIGNING,
        ),  # attached
        "not a jws",
        "eyJhbGciOiJub25lIn0..",  # alg none
    ]
    for compact in cases:
        with pytest.raises(IssuerSignatureInvalid):
            verify(compact, payload, issuer="school-regenboog", jwks=JWKS)


def test_non_canonicalisable_content_is_refused() -> None:
    with pytest.raises(IssuerSignatureInvalid):
        canonical_payload("other.other", "x", {"n": float("nan")})
