"""api/openapi.py: every route is on a surface, and errors are documented as they are sent."""

from __future__ import annotations

import pytest

from api.openapi import UndocumentedRoute, document, surface_of


def spec(path: str, method: str = "get", **op: object) -> dict:
    return {"paths": {path: {method: {"responses": {"200": {"description": "ok"}}, **op}}}}


def test_a_route_on_no_surface_cannot_be_published() -> None:
    with pytest.raises(UndocumentedRoute, match="/v2/new"):
        document(spec("/v2/new"))


def test_surfaces_are_found_by_path() -> None:
    assert surface_of("/v1/me/records/{record_id}").name == "resident"
    assert surface_of("/v1/auth/sign-out").name == "resident"
    assert surface_of("/v1/auth/passkeys/login/verify").name == "sign-in"
    assert surface_of("/v1/service/records/{record_id}").name == "service data"
    assert surface_of("/v1/service/events").name == "event poll"
    assert surface_of("/v1/service/connections").name == "OAuth"
    assert surface_of("/oauth/token").name == "OAuth"
    assert surface_of("/.well-known/jwks.json").name == "public"


def test_resident_errors_are_problems_and_need_what_makes_them_possible() -> None:
    out = document(spec("/v1/me"))["paths"]["/v1/me"]["get"]
    assert out["security"] == [{"HTTPBearer": []}]
    assert "application/problem+json" in out["responses"]["401"]["content"]
    # No body: no 400/413/415; no path parameter: no 404; no parameters at all: no 422.
    assert not {"400", "404", "413", "415", "422"} & set(out["responses"])
    with_id = document(spec("/v1/me/records/{record_id}", parameters=[{"name": "record_id"}]))
    assert {"404", "422"} <= set(with_id["paths"]["/v1/me/records/{record_id}"]["get"]["responses"])


def test_oauth_forms_and_rfc6749_errors_are_documented() -> None:
    out = document(spec("/oauth/token", "post"))["paths"]["/oauth/token"]["post"]
    form = out["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"client_assertion", "grant_type"} <= set(form["required"])
    error = out["responses"]["401"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/OAuthError"}
