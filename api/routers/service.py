"""The service data API: what a service does under a grant, with a DPoP-bound access token.

The access check is not here: `vault.grants.access.ServiceAccess` runs it on every call.
These routes only authenticate the token (api/deps.py) and translate.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

from api.asgi_route import AsgiRoute, json_response
from api.container import Container
from api.deps import ContainerDep, container
from api.oauth.dpop import REPLAY_NAMESPACE, REPLAYED, DpopError, DpopProof
from api.oauth.errors import OAuthError
from api.schemas.records import RecordListOut, RecordOut
from vault.audit.events import ReplayClaim
from vault.errors import AuthenticationFailed, ReplayDetected
from vault.grants.model import TokenFacts

PREFIX = "/v1/service"
router = APIRouter(prefix=PREFIX, tags=["service data"])


def _dpop_bound(
    c: Container, method: str, path: str, authorization: str | None, proofs: list[str]
) -> tuple[str, DpopProof]:
    """The access token and its checked DPoP proof (RFC 9449 §7), not yet claimed once:
    from the request's `Authorization` header and its `DPoP` header values."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "dpop" or not token:
        raise OAuthError("invalid_token", "send Authorization: DPoP <access token>", status=401)
    if len(proofs) != 1:
        raise OAuthError("invalid_dpop_proof", "send exactly one DPoP proof", status=401)
    token = token.strip()
    try:
        proof = c.dpop.check(
            proofs[0], method=method, url=c.settings.public_url + path, access_token=token
        )
    except DpopError as e:
        raise OAuthError(e.error, e.description, status=401) from e
    return token, proof


def _request_dpop_bound(request: Request, c: Container) -> tuple[str, DpopProof]:
    return _dpop_bound(
        c,
        request.method,
        request.url.path,
        request.headers.get("authorization"),
        request.headers.getlist("dpop"),
    )


def _claims(proof: DpopProof) -> list[ReplayClaim]:
    return [ReplayClaim(REPLAY_NAMESPACE, proof.replay_value, proof.replay_expires_at)]


def _refused(e: AuthenticationFailed) -> OAuthError:
    if isinstance(e, ReplayDetected):
        return OAuthError("invalid_dpop_proof", REPLAYED, status=401)
    return OAuthError("invalid_token", e.detail, status=401)


async def service_token(request: Request) -> TokenFacts:
    """The grant a DPoP-bound access token speaks for (RFC 9449 §7)."""
    c = container(request)
    token, proof = _request_dpop_bound(request, c)
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


_RECORD_ID: TypeAdapter[uuid.UUID] = TypeAdapter(uuid.UUID)


# The operation as documented (no docstring: it would become the operation's description);
# `serve_read_record` answers it (an `AsgiRoute`), so this is never called.
def read_record(record_id: uuid.UUID) -> RecordOut:
    raise AssertionError("served by serve_read_record")  # pragma: no cover - never routed here


async def serve_read_record(scope: Scope, receive: Receive, send: Send) -> None:
    """The hot path, on the event loop and below FastAPI's request handler (api/asgi_route.py):
    the DPoP proof here, then one statement for token, grant, procedure, service and record,
    and the access event group-committed with the proof's replay claim
    (vault/grants/access.py); the answer serialised once."""
    raw = scope["path_params"]["record_id"]
    try:
        record_id = _RECORD_ID.validate_python(raw)
    except ValidationError as e:  # what FastAPI answers for a bad path parameter
        raise RequestValidationError(
            [{**err, "loc": ("path", "record_id", *err["loc"])} for err in e.errors()]
        ) from e
    authorization: str | None = None
    proofs: list[str] = []
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"dpop":
            proofs.append(value.decode("latin-1"))
    c: Container = scope["app"].state.container
    # The path as `Request.url.path` spells it (the DPoP proof's `htu` names it).
    path = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    token, proof = _dpop_bound(c, scope["method"], path, authorization, proofs)
    try:
        view = await c.service_access.read_record(token, proof.jkt, _claims(proof), record_id)
    except AuthenticationFailed as e:
        raise _refused(e) from e
    out = RecordOut.of(view)
    await json_response(send, 200, out.__pydantic_serializer__.to_json(out))


def hot_routes() -> list[AsgiRoute]:
    """The routes served below FastAPI's handler (api/asgi_route.py). `create_app` puts them
    on the application's own router, before every other route (they are matched first)."""
    return [
        AsgiRoute(
            PREFIX + "/records/{record_id}",
            read_record,
            serve=serve_read_record,
            methods=["GET"],
            response_model=RecordOut,
            summary="Read a record under the grant",
            tags=["service data"],
        )
    ]


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
