"""Public, unauthenticated documents: the JWKS and the problem type descriptions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ContainerDep
from api.errors import PROBLEMS
from vault.errors import NotFound

router = APIRouter(tags=["discovery"])


@router.get("/.well-known/jwks.json", summary="Public keys that verify what this vault signs")
def jwks(c: ContainerDep) -> JSONResponse:
    return JSONResponse(
        c.signing.jwks(),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/problems/{slug}", summary="What a problem type means")
def problem_type(slug: str) -> dict[str, Any]:
    kind = PROBLEMS.get(slug)
    if kind is None:
        raise NotFound("no such problem type")
    return {
        "type": slug,
        "status": kind.status,
        "title": kind.title,
        "description": kind.description,
    }


@router.get(
    "/v1/issuers/{client_id}", summary="A registered service's public keys, to check what it signed"
)
def issuer_keys(client_id: str, c: ContainerDep) -> dict[str, Any]:
    """Who a signing issuer is and where its keys are: to verify a record's issuer signature."""
    info = c.services.by_client_id(client_id)
    return {
        "client_id": info.client_id,
        "name": info.name,
        "organisation": info.organisation,
        "kind": info.kind,
        "jwks": info.jwks,
        "jwks_uri": info.jwks_uri,
    }
