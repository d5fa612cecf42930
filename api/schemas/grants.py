"""Wire shapes of grants, requests and procedures, for residents. Fields listed by hand."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vault.grants.model import GrantView


class ProcedureOut(BaseModel):
    id: uuid.UUID
    ref: str
    description: str | None
    planned_end: datetime | None
    status: str
    closed_by: str | None
    closed_at: datetime | None


class HistoryOut(BaseModel):
    at: datetime
    status: str
    actor: str
    reason: str | None
    details: dict[str, object] | None


class GrantOut(BaseModel):
    id: uuid.UUID
    service: dict[str, str] = Field(description="id and name of the service")
    status: str = Field(description="requested | approved | denied | lapsed | ended")
    end_reason: str | None
    requested: dict[str, object] = Field(description="what the service asked for")
    datatypes: list[str]
    actions: list[str]
    valid_until: datetime | None
    purpose: dict[str, str] = Field(description="DPV purpose id and the service's text")
    legal_basis: str
    binding_message: str | None
    procedure: ProcedureOut
    request_expires_at: datetime
    created_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    history: list[HistoryOut]

    @classmethod
    def of(cls, g: GrantView) -> GrantOut:
        return cls(
            id=g.grant_id,
            service={"id": str(g.service_id), "name": g.service_name},
            status=g.status,
            end_reason=g.end_reason,
            requested={
                "datatypes": list(g.requested_datatypes),
                "actions": list(g.requested_actions),
                "valid_until": g.requested_valid_until.isoformat(),
            },
            datatypes=list(g.datatypes),
            actions=list(g.actions),
            valid_until=g.valid_until,
            purpose={"id": g.purpose_uri, "text": g.purpose_text},
            legal_basis=g.legal_basis,
            binding_message=g.binding_message,
            procedure=ProcedureOut(
                id=g.procedure.procedure_id,
                ref=g.procedure.ref,
                description=g.procedure.description,
                planned_end=g.procedure.planned_end,
                status=g.procedure.status,
                closed_by=g.procedure.closed_by,
                closed_at=g.procedure.closed_at,
            ),
            request_expires_at=g.request_expires_at,
            created_at=g.created_at,
            decided_at=g.decided_at,
            ended_at=g.ended_at,
            history=[
                HistoryOut(
                    at=h.at, status=h.status, actor=h.actor, reason=h.reason, details=h.details
                )
                for h in g.history
            ],
        )


class GrantListOut(BaseModel):
    grants: list[GrantOut]


class ApproveIn(BaseModel):
    """Approve as asked, or narrower: leave a field out to keep what was asked."""

    model_config = ConfigDict(extra="forbid")

    datatypes: list[str] | None = Field(default=None, max_length=100)
    actions: list[str] | None = Field(default=None, max_length=2)
    valid_until: datetime | None = None


class ConnectionCodeOut(BaseModel):
    code: str = Field(description="Give this to the service; it works once, for 15 minutes")
    expires_at: datetime


class StoppedOut(BaseModel):
    stopped: int


class AuthorizationStartIn(BaseModel):
    """What the browser brought to `GET /oauth/authorize` (RFC 9126 §4)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(max_length=64)
    request_uri: str = Field(max_length=200)


class AuthorizationOut(BaseModel):
    """A browser-flow request waiting for my answer: which service, and where I go back to."""

    grant_id: uuid.UUID
    client_id: str
    redirect_uri: str


class AuthorizationAnsweredOut(BaseModel):
    redirect_to: str = Field(
        description="Send the browser here: the service's redirect URI with code (or error), "
        "state and iss"
    )
