"""What the grant services take and return: plain values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AccessRequestSpec:
    """A service's request, as parsed from RFC 9396 `authorization_details` (type regie:records)."""

    datatypes: frozenset[str]
    actions: frozenset[str]
    purpose_uri: str
    purpose_text: str
    legal_basis: str
    procedure_ref: str
    procedure_description: str | None
    procedure_planned_end: datetime | None
    valid_until: datetime | None
    binding_message: str | None


@dataclass(frozen=True, slots=True)
class RequestAccepted:
    auth_req_id: str
    expires_at: datetime
    interval: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    status: str
    actor: str
    actor_id: str | None
    reason: str | None
    details: dict[str, object] | None


@dataclass(frozen=True, slots=True)
class ProcedureView:
    procedure_id: uuid.UUID
    ref: str
    description: str | None
    planned_end: datetime | None
    status: str
    closed_by: str | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class GrantView:
    grant_id: uuid.UUID
    service_id: uuid.UUID
    service_name: str
    status: str
    end_reason: str | None
    requested_datatypes: tuple[str, ...]
    requested_actions: tuple[str, ...]
    requested_valid_until: datetime
    datatypes: tuple[str, ...]
    actions: tuple[str, ...]
    valid_until: datetime | None
    purpose_uri: str
    purpose_text: str
    legal_basis: str
    binding_message: str | None
    granted_by: str | None
    procedure: ProcedureView
    request_expires_at: datetime
    created_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    grant_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """Who a valid access token speaks for: a service, under one grant, for one resident."""

    resident_id: uuid.UUID
    grant_id: uuid.UUID
    service_id: uuid.UUID
