"""Wire shapes of the auditor API. Inputs forbid unknown fields; entries are the log's own
(docs/audit-format.md): metadata only, never a record's contents."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.audit import CheckpointOut


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrolmentOptionsIn(Input):
    code: str = Field(min_length=1, max_length=64, description="The one-time enrolment code")


class EnrolmentVerifyIn(Input):
    flow_id: uuid.UUID
    code: str = Field(min_length=1, max_length=64)
    credential: dict[str, Any] = Field(description="The PublicKeyCredential as JSON")


class AuditorAssertionIn(Input):
    flow_id: uuid.UUID
    credential: dict[str, Any]


class AuditorSignedInOut(BaseModel):
    session_token: str = Field(description="An auditor session token (rga_...)")
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 scheme name
    expires_at: datetime


class LoggedEntryOut(BaseModel):
    index: int = Field(description="the entry's index in the log")
    leaf_hash: str = Field(description="the tree's leaf hash at `index`, base64")
    entry: dict[str, str | None] = Field(description="the canonical entry (docs/audit-format.md)")


class EventPageOut(BaseModel):
    checkpoint: CheckpointOut = Field(description="the checkpoint this page is read in")
    events: list[LoggedEntryOut]
    next_after: int | None = Field(
        description="pass as `after` (with `size`) for the next page; null: no more"
    )
