"""The service data API: what a service does under a grant, with a DPoP-bound access token.

The access check is not here: `vault.grants.access.ServiceAccess` runs it on every call.
These routes only authenticate the token (api/deps.py) and translate.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.container import Container
from api.deps import ContainerDep, container
from api.oauth.dpop import REPLAY_NAMESPACE, REPLAYED, DpopError, DpopProof
from api.oauth.errors import OAuthError
from api.schemas.records import RecordListOut, RecordOut
from vault.audit.events import ReplayClaim
from vault.errors import AuthenticationFailed, ReplayDetected
from vault.grants.model import TokenFacts

router = APIRouter(prefix="/v1/service", tags=["service data"])


def _dpop_bound(request: Request, c: Container) -> tuple[str, DpopProof]:
    """The access token and its checked DPoP proof (RFC 9449 §7), not yet claimed once."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "dpop" or not token:
        raise OAuthError("invalid_token", "send Authorization: DPoP <access token>", status=401)
    proofs = request.headers.getlist("dpop")
    if len(proofs) != 1:
        raise OAuthError("invalid_dpop_proof", "send exactly one DPoP proof", status=401)
    token = token.strip()
    try:
        proof = c.dpop.check(
            proofs[0],
            method=request.method,
            url=c.settings.public_url + request.url.path,
            access_token=token,
        )
    except DpopError as e:
        raise OAuthError(e.error, e.description, status=401) from e
    return token, proof


def _claims(proof: DpopProof) -> list[ReplayClaim]:
    return [ReplayClaim(REPLAY_NAMESPACE, proof.replay_value, proof.replay_expires_at)]


def _refused(e: AuthenticationFailed) -> OAuthError:
    if isinstance(e, ReplayDetected):
        return OAuthError("invalid_dpop_proof", REPLAYED, status=401)
    return OAuthError("invalid_token", e.detail, status=401)


async def service_token(request: Request) -> TokenFacts:
    """The grant a DPoP-bound access token speaks for (RFC 9449 §7)."""
    c = container(request)
    token, proof = _dpop_bound(request, c)
    try:
        return await c.tokens.authenticate(token, proof.jkt, _claims(proof))
    except AuthenticationFailed as e:
        raise _refused(e) from e


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
async def read_record(record_id: uuid.UUID, request: Request) -> RecordOut:
    # The hot path, on the event loop: the DPoP proof here, then one statement for token,
    # grant, procedure, service and record, and the access event group-committed with the
    # proof's replay claim (vault/grants/access.py).
    c = container(request)
    token, proof = _dpop_bound(request, c)
    try:
        view = await c.service_access.read_record(token, proof.jkt, _claims(proof), record_id)
    except AuthenticationFailed as e:
        raise _refused(e) from e
    return RecordOut.of(view)


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
