"""Sign up and sign in with a passkey; recovery codes; sign out."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ContainerDep, SessionDep
from api.schemas.auth import (
    AssertionVerifyIn,
    CeremonyOut,
    RecoveryIn,
    RegistrationOptionsIn,
    RegistrationVerifyIn,
    SignedInOut,
)
from vault.identity.service import Ceremony, SignedIn

router = APIRouter(prefix="/v1/auth", tags=["resident sign-in"])


def _ceremony(c: Ceremony) -> CeremonyOut:
    return CeremonyOut(flow_id=c.flow_id, public_key=c.public_key, expires_at=c.expires_at)


def _signed_in(s: SignedIn) -> SignedInOut:
    return SignedInOut(
        session_token=s.session_token,
        expires_at=s.expires_at,
        auth_method=s.auth_method,
        recovery_codes=list(s.recovery_codes) or None,
    )


@router.post("/passkeys/register/options", summary="Start signing up: options for a new passkey")
def register_options(body: RegistrationOptionsIn, c: ContainerDep) -> CeremonyOut:
    return _ceremony(c.identity.begin_registration(body.display_name))


@router.post(
    "/passkeys/register/verify",
    status_code=201,
    summary="Finish signing up: creates the vault, returns a session and recovery codes",
)
def register_verify(body: RegistrationVerifyIn, c: ContainerDep) -> SignedInOut:
    return _signed_in(
        c.identity.finish_registration(body.flow_id, body.credential, body.display_name)
    )


@router.post("/passkeys/login/options", summary="Start signing in with a passkey")
def login_options(c: ContainerDep) -> CeremonyOut:
    return _ceremony(c.identity.begin_login())


@router.post("/passkeys/login/verify", summary="Finish signing in: returns a session")
def login_verify(body: AssertionVerifyIn, c: ContainerDep) -> SignedInOut:
    return _signed_in(c.identity.finish_login(body.flow_id, body.credential))


@router.post("/recovery", summary="Sign in with a one-time recovery code")
def recover(body: RecoveryIn, c: ContainerDep) -> SignedInOut:
    return _signed_in(c.identity.recover(body.code))


@router.post("/sign-out", status_code=204, summary="End this session")
def sign_out(session: SessionDep, c: ContainerDep) -> Response:
    c.identity.sign_out(session)
    return Response(status_code=204)


@router.post("/sign-out-everywhere", status_code=204, summary="End every session of this resident")
def sign_out_everywhere(session: SessionDep, c: ContainerDep) -> Response:
    c.identity.sign_out_everywhere(session.resident_id)
    return Response(status_code=204)
