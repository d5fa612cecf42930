"""PKCE S256 (RFC 7636) as the browser flow checks it: the RFC's own vector, and what fails."""

from __future__ import annotations

from vault.grants.authorization import pkce_matches

# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_rfc_vector_matches() -> None:
    assert pkce_matches(VERIFIER, CHALLENGE)


def test_anything_else_fails() -> None:
    assert not pkce_matches(VERIFIER[:-1] + "l", CHALLENGE)  # another verifier
    assert not pkce_matches(CHALLENGE, CHALLENGE)  # plain: the challenge as its own verifier
    assert not pkce_matches("", CHALLENGE)
    assert not pkce_matches("a" * 42, CHALLENGE)  # too short (RFC 7636 §4.1: 43..128)
    assert not pkce_matches("a" * 129, CHALLENGE)  # too long
    assert not pkce_matches(VERIFIER + " ", CHALLENGE)  # outside the unreserved characters
    assert not pkce_matches(VERIFIER, CHALLENGE + "=")
