"""Request-scoped dependencies: the container, and the signed-in resident's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.container import Container
from vault.errors import AuthenticationFailed
from vault.identity.service import SessionInfo

_bearer = HTTPBearer(auto_error=False, description="A resident session token (rgs_...)")


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


def resident_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SessionInfo:
    """The signed-in resident. Every /v1/me route depends on this; none takes a resident id."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("not signed in")
    return container(request).identity.authenticate(credentials.credentials)


ContainerDep = Annotated[Container, Depends(container)]
SessionDep = Annotated[SessionInfo, Depends(resident_session)]
