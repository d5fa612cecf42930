"""Request-scoped dependencies: the container, the signed-in resident's or auditor's session,
and whose vault a resident's request is about (`Regie-Act-For`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.container import Container
from vault.errors import AccessDenied, AuthenticationFailed, InvalidInput
from vault.identity.auditors import AuditorSession
from vault.identity.service import SessionInfo
from vault.representation.acting import ActingFor

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
    """The signed-in resident, in their own vault. Every /v1/me route that does not serve
    representatives depends on this; none takes a resident id.

    A request that asks to act for someone else (`Regie-Act-For`, docs/people.md) is refused
    here, so such a route can never serve a representative as if they were the principal,
    nor the representative's own vault by mistake. Routes that do serve representatives
    depend on `vault_subject` instead."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("not signed in")
    if ACT_FOR_HEADER in request.headers:
        raise AccessDenied("this cannot be done for someone else", reason="not-for-representatives")
    return container(request).identity.authenticate(credentials.credentials)


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose vault a request is about: the signed-in resident's own (`acting` None), or,
    with `Regie-Act-For`, the principal's, by the signed-in representative under a mandate."""

    session: SessionInfo
    acting: ActingFor | None

    @property
    def resident_id(self) -> uuid.UUID:
        """The vault's owner: the principal when acting for them, else the signed-in one."""
        return self.acting.principal_id if self.acting else self.session.resident_id


def vault_subject(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    # Declared so that the OpenAPI document shows it on every route that serves
    # representatives; read below from the raw headers (a repeated header is refused).
    _act_for: Annotated[
        str | None,
        Header(
            alias=ACT_FOR_HEADER,
            description="Act for someone else: the id of a mandate you hold (docs/people.md)."
            " Only the mandate's categories and actions are served; without it, your own vault.",
            examples=["0b6d2a54-6a4c-4f0e-9d63-4d0f7c7c2a11"],
        ),
    ] = None,
) -> Subject:
    """The one place `Regie-Act-For: <mandate id>` is resolved, for the routes that serve
    representatives (records, requests and grants, the log).

    Without the header: the signed-in resident in their own vault. With it: only a mandate
    the signed-in resident holds, usable now, is found (someone else's, a made-up one, or
    the principal's own id is `403 no-mandate`, alike); the route's service then asks the
    mandate (`ActingFor.check`, i.e. `policy.may_act`) for the category and action of each
    step, on current state, in its own transaction. Deny by default: a route not built on
    this dependency refuses the header (`resident_session`)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("not signed in")
    c = container(request)
    session = c.identity.authenticate(credentials.credentials)
    values = request.headers.getlist(ACT_FOR_HEADER)
    if not values:
        return Subject(session, None)
    if len(values) != 1:
        raise InvalidInput(f"send {ACT_FOR_HEADER} once")
    try:
        mandate_id = uuid.UUID(values[0].strip())
    except ValueError as e:
        raise InvalidInput(f"{ACT_FOR_HEADER} must be a mandate id") from e
    return Subject(session, c.people.acting_for(session.resident_id, mandate_id))


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
SubjectDep = Annotated[Subject, Depends(vault_subject)]
AuditorDep = Annotated[AuditorSession, Depends(auditor_session)]
