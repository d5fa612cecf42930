"""The resident's side of grants: requests waiting, approve (or narrower), deny, stop.

Requests and grants (list, read, approve, deny, stop) also serve a representative under a
mandate (`SubjectDep`): only grants whose datatypes all lie in the mandate's categories for
`decide-requests`; so do connection codes (a mandate with `decide-requests` for some
category: a parent connects a school to the child's vault), stopping a whole service (only
the grants the mandate may decide on) and ending a procedure (only one whose grants all lie
in the mandate; else refused). The browser flow stays the resident's own (`SessionDep`
refuses `Regie-Act-For`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import ContainerDep, SessionDep, SubjectDep
from api.schemas.grants import (
    ApproveIn,
    AuthorizationAnsweredOut,
    AuthorizationOut,
    AuthorizationStartIn,
    ConnectionCodeOut,
    GrantListOut,
    GrantOut,
    StoppedOut,
)

router = APIRouter(prefix="/v1/me", tags=["resident: access"])


@router.post(
    "/connection-codes",
    status_code=201,
    summary="A one-time code to connect a service (valid 15 minutes, works once)",
)
def new_connection_code(who: SubjectDep, c: ContainerDep) -> ConnectionCodeOut:
    code, expires = c.services.connection_code(who.resident_id, acting=who.acting)
    return ConnectionCodeOut(code=code, expires_at=expires)


@router.get("/requests", summary="Requests for access waiting for my answer")
def pending(who: SubjectDep, c: ContainerDep) -> GrantListOut:
    return GrantListOut(
        grants=[GrantOut.of(g) for g in c.grants.pending(who.resident_id, acting=who.acting)]
    )


@router.get("/grants", summary="Every grant: who can see what, and what was asked before")
def grants(who: SubjectDep, c: ContainerDep) -> GrantListOut:
    return GrantListOut(
        grants=[GrantOut.of(g) for g in c.grants.grants(who.resident_id, acting=who.acting)]
    )


@router.get("/grants/{grant_id}", summary="One grant with its history")
def grant(grant_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> GrantOut:
    return GrantOut.of(c.grants.get(who.resident_id, grant_id, acting=who.acting))


@router.post("/grants/{grant_id}/approve", summary="Approve a request, as asked or narrower")
def approve(grant_id: uuid.UUID, body: ApproveIn, who: SubjectDep, c: ContainerDep) -> GrantOut:
    return GrantOut.of(
        c.grants.approve(
            who.resident_id,
            grant_id,
            datatypes=body.datatypes,
            actions=body.actions,
            valid_until=body.valid_until,
            acting=who.acting,
        )
    )


@router.post("/grants/{grant_id}/deny", summary="Say no to a request")
def deny(grant_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> GrantOut:
    return GrantOut.of(c.grants.deny(who.resident_id, grant_id, acting=who.acting))


@router.post("/grants/{grant_id}/revoke", summary="Stop a grant: access ends now")
def revoke(grant_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> GrantOut:
    return GrantOut.of(c.grants.revoke(who.resident_id, grant_id, acting=who.acting))


@router.post("/services/{service_id}/revoke", summary="Stop everything for one service")
def revoke_service(service_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> StoppedOut:
    return StoppedOut(
        stopped=c.grants.revoke_service(who.resident_id, service_id, acting=who.acting)
    )


@router.post("/procedures/{procedure_id}/close", summary="End a procedure and every grant under it")
def close_procedure(procedure_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> StoppedOut:
    return StoppedOut(
        stopped=c.grants.close_procedure_by_resident(
            who.resident_id, procedure_id, acting=who.acting
        )
    )


# -- the browser flow (authorization code + PKCE): the resident app calls these ----------------


def _authorization(
    c: ContainerDep, resident_id: uuid.UUID, grant_id: uuid.UUID
) -> AuthorizationOut:
    found = c.authorizations.get(resident_id, grant_id)
    return AuthorizationOut(
        grant_id=found.grant_id, client_id=found.client_id, redirect_uri=found.redirect_uri
    )


@router.post(
    "/authorizations",
    status_code=201,
    summary="Take up a service's pushed request I was sent to (single use): it becomes a request",
)
def start_authorization(
    body: AuthorizationStartIn, session: SessionDep, c: ContainerDep
) -> AuthorizationOut:
    grant_id = c.authorizations.start(session.resident_id, body.client_id, body.request_uri)
    return _authorization(c, session.resident_id, grant_id)


@router.get("/authorizations/{grant_id}", summary="A browser-flow request waiting for my answer")
def authorization(grant_id: uuid.UUID, session: SessionDep, c: ContainerDep) -> AuthorizationOut:
    return _authorization(c, session.resident_id, grant_id)


@router.post(
    "/authorizations/{grant_id}/approve",
    summary="Approve a browser-flow request (as asked or narrower); connects me to the service",
)
def approve_authorization(
    grant_id: uuid.UUID, body: ApproveIn, session: SessionDep, c: ContainerDep
) -> AuthorizationAnsweredOut:
    return AuthorizationAnsweredOut(
        redirect_to=c.authorizations.approve(
            session.resident_id,
            grant_id,
            datatypes=body.datatypes,
            actions=body.actions,
            valid_until=body.valid_until,
        )
    )


@router.post("/authorizations/{grant_id}/deny", summary="Say no to a browser-flow request")
def deny_authorization(
    grant_id: uuid.UUID, session: SessionDep, c: ContainerDep
) -> AuthorizationAnsweredOut:
    return AuthorizationAnsweredOut(
        redirect_to=c.authorizations.deny(session.resident_id, grant_id)
    )
