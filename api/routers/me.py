"""The signed-in resident: profile, passkeys, export, deletion of the vault."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from api.deps import ContainerDep, SessionDep
from api.schemas.auth import (
    CeremonyOut,
    MeOut,
    PasskeyListOut,
    PasskeyOut,
    PasskeyVerifyIn,
    RecoveryCodesOut,
    SessionListOut,
    SessionOut,
)
from vault.errors import NotFound

router = APIRouter(prefix="/v1/me", tags=["resident"])


@router.get("", summary="Who is signed in")
def me(session: SessionDep, c: ContainerDep) -> MeOut:
    profile = c.residents.profile(session.resident_id)
    return MeOut(
        display_name=profile.display_name,
        created_at=profile.created_at,
        recovery_codes_left=c.identity.recovery_codes_left(session.resident_id),
        auth_method=session.auth_method,
        session_expires_at=session.expires_at,
    )


@router.post("/passkeys/options", summary="Start adding another passkey")
def add_passkey_options(session: SessionDep, c: ContainerDep) -> CeremonyOut:
    ceremony = c.identity.begin_add_passkey(session.resident_id)
    return CeremonyOut(
        flow_id=ceremony.flow_id, public_key=ceremony.public_key, expires_at=ceremony.expires_at
    )


@router.post("/passkeys/verify", status_code=204, summary="Finish adding another passkey")
def add_passkey_verify(body: PasskeyVerifyIn, session: SessionDep, c: ContainerDep) -> Response:
    c.identity.finish_add_passkey(session.resident_id, body.flow_id, body.credential)
    return Response(status_code=204)


@router.get("/passkeys", summary="My passkeys")
def list_passkeys(session: SessionDep, c: ContainerDep) -> PasskeyListOut:
    return PasskeyListOut(
        passkeys=[
            PasskeyOut(
                id=bytes_to_base64url(p.credential_id),
                created_at=p.created_at,
                last_used_at=p.last_used_at,
                backed_up=p.backed_up,
                transports=list(p.transports),
            )
            for p in c.identity.passkeys(session.resident_id)
        ]
    )


@router.delete(
    "/passkeys/{passkey_id}",
    status_code=204,
    summary="Remove a lost or stolen passkey (needs a recent sign-in; never the last one)",
)
def remove_passkey(passkey_id: str, session: SessionDep, c: ContainerDep) -> Response:
    try:
        raw = base64url_to_bytes(passkey_id)
    except ValueError as e:
        raise NotFound("no such passkey in this account") from e
    c.identity.remove_passkey(session, raw)
    return Response(status_code=204)


@router.post(
    "/recovery-codes",
    summary="New recovery codes, shown once; the old ones stop working (needs a recent sign-in)",
)
def new_recovery_codes(session: SessionDep, c: ContainerDep) -> RecoveryCodesOut:
    return RecoveryCodesOut(recovery_codes=list(c.identity.regenerate_recovery_codes(session)))


@router.get("/sessions", summary="Where I am signed in: my live sessions")
def list_sessions(session: SessionDep, c: ContainerDep) -> SessionListOut:
    return SessionListOut(
        sessions=[
            SessionOut(
                id=s.session_id,
                auth_method=s.auth_method,
                created_at=s.created_at,
                last_used_at=s.last_seen_at,
                expires_at=s.expires_at,
                current=s.session_id == session.session_id,
            )
            for s in c.identity.sessions(session.resident_id)
        ]
    )


@router.delete("/sessions/{session_id}", status_code=204, summary="Sign one session out")
def end_session(session_id: uuid.UUID, session: SessionDep, c: ContainerDep) -> Response:
    c.identity.end_session(session.resident_id, session_id)
    return Response(status_code=204)


@router.post(
    "/reauthenticate/options",
    summary="Start confirming with a passkey (for deleting the vault and other big steps)",
)
def reauthenticate_options(session: SessionDep, c: ContainerDep) -> CeremonyOut:
    ceremony = c.identity.begin_reauthentication(session)
    return CeremonyOut(
        flow_id=ceremony.flow_id, public_key=ceremony.public_key, expires_at=ceremony.expires_at
    )


@router.post(
    "/reauthenticate/verify",
    status_code=204,
    summary="Finish confirming: this session counts as a passkey sign-in of just now",
)
def reauthenticate_verify(body: PasskeyVerifyIn, session: SessionDep, c: ContainerDep) -> Response:
    c.identity.finish_reauthentication(session, body.flow_id, body.credential)
    return Response(status_code=204)


@router.get(
    "/export",
    summary="Everything in the vault as a zip (format regie-export/1)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def export(session: SessionDep, c: ContainerDep) -> StreamingResponse:
    stream = c.exporter.export(session.resident_id)
    return StreamingResponse(
        stream,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="regie-export.zip"'},
    )


@router.delete(
    "",
    status_code=204,
    summary="Delete the vault for good (needs a passkey sign-in of the last 5 minutes)",
)
def delete_vault(session: SessionDep, c: ContainerDep) -> Response:
    c.identity.require_recent_sign_in(session)
    c.residents.delete_vault(session.resident_id)
    return Response(status_code=204)
