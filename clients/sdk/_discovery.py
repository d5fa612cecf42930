"""The vault's RFC 8414 metadata, fetched once and checked before anything is sent to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from clients.sdk._errors import ProtocolError
from clients.sdk._flow import Call, Flow
from clients.sdk._http import error_for, json_body

WELL_KNOWN: Final = "/.well-known/oauth-authorization-server"
CIBA_GRANT: Final = "urn:openid:params:grant-type:ciba"


@dataclass(frozen=True, slots=True)
class VaultMetadata:
    issuer: str
    token_endpoint: str
    backchannel_authentication_endpoint: str
    jwks_uri: str
    introspection_endpoint: str | None
    revocation_endpoint: str | None
    token_auth_algs: frozenset[str]
    dpop_algs: frozenset[str]
    # The browser flow (RFC 9126 pushed requests, then the authorization endpoint): None
    # when the vault does not offer it.
    authorization_endpoint: str | None = None
    pushed_authorization_request_endpoint: str | None = None


def _url(document: dict[str, object], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ProtocolError(f"the vault's metadata has no usable {name}")
    return value


def read_metadata(document: object, *, expected_issuer: str) -> VaultMetadata:
    """Checked metadata: the issuer must be the URL we asked (RFC 8414 §3.3: no mix-ups), and
    the vault must take `private_key_jwt`, the CIBA grant and DPoP."""
    if not isinstance(document, dict):
        raise ProtocolError("the vault's metadata is not a JSON object")
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or issuer.rstrip("/") != expected_issuer:
        raise ProtocolError(
            f"the vault at {expected_issuer} says its issuer is {issuer!r}: configure the"
            " client with the vault's issuer URL (its REGIE_PUBLIC_URL)"
        )
    methods = document.get("token_endpoint_auth_methods_supported") or []
    if "private_key_jwt" not in methods:
        raise ProtocolError("the vault does not offer private_key_jwt client authentication")
    if CIBA_GRANT not in (document.get("grant_types_supported") or []):
        raise ProtocolError("the vault does not offer the CIBA grant")

    def algs(name: str) -> frozenset[str]:
        value = document.get(name)
        return (
            frozenset(v for v in value if isinstance(v, str))
            if isinstance(value, list)
            else frozenset()
        )

    optional = {
        name: value if isinstance(value := document.get(name), str) else None
        for name in (
            "introspection_endpoint",
            "revocation_endpoint",
            "authorization_endpoint",
            "pushed_authorization_request_endpoint",
        )
    }
    return VaultMetadata(
        issuer=issuer,
        token_endpoint=_url(document, "token_endpoint"),
        backchannel_authentication_endpoint=_url(document, "backchannel_authentication_endpoint"),
        jwks_uri=_url(document, "jwks_uri"),
        introspection_endpoint=optional["introspection_endpoint"],
        revocation_endpoint=optional["revocation_endpoint"],
        token_auth_algs=algs("token_endpoint_auth_signing_alg_values_supported"),
        dpop_algs=algs("dpop_signing_alg_values_supported"),
        authorization_endpoint=optional["authorization_endpoint"],
        pushed_authorization_request_endpoint=optional["pushed_authorization_request_endpoint"],
    )


def fetch_metadata(vault_url: str) -> Flow[VaultMetadata]:
    response = yield Call("GET", vault_url + WELL_KNOWN, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise error_for(response)
    return read_metadata(json_body(response), expected_issuer=vault_url)
