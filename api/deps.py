"""Request-scoped dependencies: the container, and the signed-in resident's or auditor's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.container import Container
from vault.errors import AccessDenied, AuthenticationFailed
from vault.identity.auditors import AuditorSession
from vault.identity.service import SessionInfo

ACT_FOR_HEADER = "Regie-Act-For"
_bearer = HTTPBearer(auto_error=False, description="A resident session token (rgs_...)")
_auditor_bearer = HTTPBearer(
    auto_error=False, scheme_name="AuditorBearer", description="An auditor session token (rga_...)"
)


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


def resident_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SessionInfo:
    """The signed-in resident. Every /v1/me route depends on this; none takes a resident id.

    Acting for someone else (`Regie-Act-For: <mandate id>`, docs/people.md) is not resolved
    here: a request that asks for it is refused, so no route can serve a representative as
    if they were the principal, nor the representative's own vault by mistake. (Routes that
    serve representatives under `may_act` are future work: docs/people.md.)"""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("not signed in")
    if ACT_FOR_HEADER in request.headers:
        raise AccessDenied("this cannot be done for someone else", reason="not-for-representatives")
    return container(request).identity.authenticate(credentials.credentials)


def auditor_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_auditor_bearer)],
) -> AuditorSession:
    """The signed-in auditor. Every /v1/auditor route after sign-in depends on this; a
    resident's session is refused here, as an auditor's is by `resident_session`."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("not signed in as an auditor")
    return container(request).auditors.authenticate(credentials.credentials)


ContainerDep = Annotated[Container, Depends(container)]
SessionDep = Annotated[SessionInfo, Depends(resident_session)]
AuditorDep = Annotated[AuditorSession, Depends(auditor_session)]
