"""The service data API: what a service does under a grant, with a DPoP-bound access token.

The access check is not here: `vault.grants.access.ServiceAccess` runs it on every call.
These routes only authenticate the token (api/deps.py) and translate.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ContainerDep, container
from api.oauth.dpop import DpopError
from api.oauth.errors import OAuthError
from api.schemas.records import RecordListOut, RecordOut
from vault.errors import AuthenticationFailed
from vault.grants.model import TokenFacts

router = APIRouter(prefix="/v1/service", tags=["service data"])


def service_token(request: Request) -> TokenFacts:
    """The grant a DPoP-bound access token speaks for (RFC 9449 §7)."""
    c = container(request)
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "dpop" or not token:
        raise OAuthError("invalid_token", "send Authorization: DPoP <access token>", status=401)
    proofs = request.headers.getlist("dpop")
    if len(proofs) != 1:
        raise OAuthError("invalid_dpop_proof", "send exactly one DPoP proof", status=401)
    try:
        proof = c.dpop.verify(
            proofs[0],
            method=request.method,
            url=c.settings.public_url + request.url.path,
            access_token=token.strip(),
        )
        return c.tokens.authenticate(token.strip(), proof.jkt)
    except DpopError as e:
        raise OAuthError(e.error, e.description, status=401) from e
    except AuthenticationFailed as e:
        raise OAuthError("invalid_token", e.detail, status=401) from e


TokenDep = Annotated[TokenFacts, Depends(service_token)]


class ServiceRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(max_length=32)
    type: str = Field(max_length=64)
    title: str = Field(min_length=1, max_length=200)
    content: Any
    signature: str | None = Field(
        default=None,
        max_length=8192,
        description="Optional issuer signature: a detached JWS (typ regie-record+jws) over the"
        " RFC 8785 JSON of {type, title, content}, with a key from your registered JWKS",
    )


@router.get("/records", summary="Records this grant lets me read (metadata only)")
def list_records(who: TokenDep, c: ContainerDep) -> RecordListOut:
    return RecordListOut(records=[RecordOut.of(v) for v in c.service_access.list_records(who)])


@router.get("/records/{record_id}", summary="Read a record under the grant")
def read_record(record_id: uuid.UUID, who: TokenDep, c: ContainerDep) -> RecordOut:
    return RecordOut.of(c.service_access.read_record(who, record_id))


@router.post("/records", status_code=201, summary="Write a record into the resident's vault")
def write_record(body: ServiceRecordIn, who: TokenDep, c: ContainerDep) -> RecordOut:
    keys = None
    if body.signature is not None:
        service = c.services.get(who.service_id)
        found = c.client_keys.key_set(service.client_id)
        keys = dict(found.as_dict(private=False)) if found is not None else None
    return RecordOut.of(
        c.service_access.write_record(
            who,
            category=body.category,
            record_type=body.type,
            title=body.title,
            content=body.content,
            signature=body.signature,
            issuer_keys=keys,
        )
    )


@router.post("/grant/relinquish", status_code=204, summary="Give this grant back now")
def relinquish(who: TokenDep, c: ContainerDep) -> Response:
    service = c.services.get(who.service_id)
    c.grants.relinquish(service, who.resident_id, who.grant_id)
    return Response(status_code=204)
