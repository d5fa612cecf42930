"""The auditor API: enrolment and passkey sign-in, then the log's entries, filtered and
exported (docs/auditors.md). Every route after sign-in depends on `AuditorDep`, which accepts
only auditor sessions; resident routes accept only resident sessions (api/deps.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from api.deps import AuditorDep, ContainerDep
from api.routers.audit import MAX_POSITION, checkpoint_out
from api.schemas.auditor import (
    AuditorAssertionIn,
    AuditorSignedInOut,
    EnrolmentOptionsIn,
    EnrolmentVerifyIn,
    EventPageOut,
    LoggedEntryOut,
)
from api.schemas.auth import CeremonyOut
from vault.audit.search import MAX_PAGE, EventFilter
from vault.audit.verify import b64
from vault.identity.auditors import AuditorSignedIn
from vault.identity.service import Ceremony

router = APIRouter(prefix="/v1/auditor", tags=["auditors"])


def _ceremony(c: Ceremony) -> CeremonyOut:
    return CeremonyOut(flow_id=c.flow_id, public_key=c.public_key, expires_at=c.expires_at)


def _signed_in(s: AuditorSignedIn) -> AuditorSignedInOut:
    return AuditorSignedInOut(session_token=s.session_token, expires_at=s.expires_at)


def event_filter(
    since: Annotated[
        datetime | None, Query(description="from this time (inclusive), RFC 3339")
    ] = None,
    until: Annotated[datetime | None, Query(description="before this time (exclusive)")] = None,
    service: Annotated[UUID | None, Query(description="a service's id (`service_id`)")] = None,
    purpose: Annotated[str | None, Query(max_length=200, description="a DPV purpose URI")] = None,
    outcome: Annotated[str | None, Query(description="permit | deny | done")] = None,
    subject: Annotated[
        str | None, Query(max_length=64, description="a resident's pseudonym, as entries show it")
    ] = None,
    actor: Annotated[
        str | None,
        Query(
            max_length=16,
            description="who acted: resident | representative | service | auditor | operator"
            " | system",
        ),
    ] = None,
) -> EventFilter:
    return EventFilter(
        since=since,
        until=until,
        service_id=service,
        purpose=purpose,
        outcome=outcome,
        subject=subject,
        actor=actor,
    )


FilterDep = Annotated[EventFilter, Depends(event_filter)]
Size = Annotated[
    int | None,
    Query(
        ge=0, le=MAX_POSITION, description="read in the checkpoint of this size (default: latest)"
    ),
]


@router.post("/enrol/options", summary="Start enrolling: options for the auditor's passkey")
def enrol_options(body: EnrolmentOptionsIn, c: ContainerDep) -> CeremonyOut:
    return _ceremony(c.auditors.begin_enrolment(body.code))


@router.post(
    "/enrol/verify",
    status_code=201,
    summary="Finish enrolling: registers the passkey, spends the code, returns a session",
)
def enrol_verify(body: EnrolmentVerifyIn, c: ContainerDep) -> AuditorSignedInOut:
    return _signed_in(c.auditors.finish_enrolment(body.flow_id, body.code, body.credential))


@router.post("/auth/login/options", summary="Start an auditor's sign-in with a passkey")
def login_options(c: ContainerDep) -> CeremonyOut:
    return _ceremony(c.auditors.begin_login())


@router.post("/auth/login/verify", summary="Finish an auditor's sign-in: returns a session")
def login_verify(body: AuditorAssertionIn, c: ContainerDep) -> AuditorSignedInOut:
    return _signed_in(c.auditors.finish_login(body.flow_id, body.credential))


@router.post("/auth/sign-out", status_code=204, summary="End this auditor session")
def sign_out(session: AuditorDep, c: ContainerDep) -> Response:
    c.auditors.sign_out(session)
    return Response(status_code=204)


@router.get("/events", summary="Log entries (metadata only), filtered and paged; logged")
def events(
    session: AuditorDep,
    c: ContainerDep,
    f: FilterDep,
    after: Annotated[
        int, Query(ge=-1, le=MAX_POSITION, description="only indices greater than this")
    ] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    size: Size = None,
) -> EventPageOut:
    page = c.auditor_queries.page(session.auditor_id, f, after=after, limit=limit, size=size)
    return EventPageOut(
        checkpoint=checkpoint_out(page.checkpoint),
        events=[
            LoggedEntryOut(index=e.index, leaf_hash=b64(e.leaf_hash), entry=e.entry)
            for e in page.events
        ],
        next_after=page.next_after,
    )


@router.get(
    "/export/jsonl",
    summary="Export as JSON lines with the checkpoint and proofs, to verify offline; logged",
)
def export_jsonl(session: AuditorDep, c: ContainerDep, f: FilterDep, size: Size = None) -> Response:
    lines = c.auditor_queries.export_jsonl(session.auditor_id, f, size=size)
    return StreamingResponse(
        (line + "\n" for line in lines),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="regie-audit.jsonl"'},
    )


@router.get("/export/csv", summary="Export as CSV, for reading (not verifying); logged")
def export_csv(session: AuditorDep, c: ContainerDep, f: FilterDep, size: Size = None) -> Response:
    checkpoint, rows = c.auditor_queries.export_csv(session.auditor_id, f, size=size)
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="regie-audit.csv"',
            # The checkpoint read in; its signed note is at /v1/audit/checkpoint?size=N.
            "Regie-Checkpoint-Size": str(checkpoint.size),
        },
    )
