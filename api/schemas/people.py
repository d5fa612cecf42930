"""Wire shapes of mandates and children's vaults (/v1/me/people). Fields listed by hand."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vault.representation.service import MandateView


class MandateHistoryOut(BaseModel):
    at: datetime
    status: str
    actor: str = Field(description="resident | representative | system")
    reason: str | None


class MandateOut(BaseModel):
    id: uuid.UUID = Field(description="Send it as Regie-Act-For to act under this mandate")
    kind: str = Field(description="mandate | parent (a parent's mandate for a child's vault)")
    role: str = Field(description="principal (you gave it) | representative (you hold it)")
    name: str = Field(description="the other person: who acts for you, or for whom you act")
    status: str = Field(description="offered | active | lapsed | ended")
    end_reason: str | None = Field(description="revoked | given-up | expired | vault-deleted")
    categories: list[str]
    actions: list[str] = Field(description="among read, write, decide-requests")
    valid_from: datetime
    valid_until: datetime
    label: str
    code_expires_at: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    history: list[MandateHistoryOut]

    @classmethod
    def of(cls, m: MandateView) -> MandateOut:
        return cls(
            id=m.mandate_id,
            kind=m.kind,
            role=m.role,
            name=m.other_name,
            status=m.status,
            end_reason=m.end_reason,
            categories=list(m.categories),
            actions=list(m.actions),
            valid_from=m.valid_from,
            valid_until=m.valid_until,
            label=m.label,
            code_expires_at=m.code_expires_at,
            created_at=m.created_at,
            accepted_at=m.accepted_at,
            ended_at=m.ended_at,
            history=[
                MandateHistoryOut(at=h.at, status=h.status, actor=h.actor, reason=h.reason)
                for h in m.history
            ],
        )


class PeopleOut(BaseModel):
    acting_for: list[MandateOut] = Field(description="people I act for (mandates I hold)")
    acting_for_me: list[MandateOut] = Field(description="people who act for me")


class MandateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(min_length=1, max_length=20)
    actions: list[str] = Field(min_length=1, max_length=3)
    valid_from: datetime | None = Field(default=None, description="default: now")
    valid_until: datetime
    label: str = Field(default="", max_length=200, description="e.g. 'Beschermingsbewind'")


class ParentOfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="", max_length=200, description="e.g. 'Tweede ouder'")


class MandateOfferOut(BaseModel):
    mandate: MandateOut
    code: str = Field(description="Give this to your representative; works once, 15 minutes")
    code_expires_at: datetime


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40)


class ChildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=64)
