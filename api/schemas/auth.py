"""Wire shapes of the sign-up and sign-in endpoints. Inputs forbid unknown fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationOptionsIn(Input):
    display_name: str = Field(min_length=1, max_length=64, description="How the passkey is named")


class CeremonyOut(BaseModel):
    flow_id: uuid.UUID
    public_key: dict[str, Any] = Field(
        description="PublicKeyCredentialCreationOptions/RequestOptions as JSON, for the browser"
    )
    expires_at: datetime


class RegistrationVerifyIn(Input):
    flow_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=64)
    credential: dict[str, Any] = Field(description="The PublicKeyCredential as JSON")


class AssertionVerifyIn(Input):
    flow_id: uuid.UUID
    credential: dict[str, Any]


class PasskeyVerifyIn(Input):
    flow_id: uuid.UUID
    credential: dict[str, Any]


class RecoveryIn(Input):
    code: str = Field(min_length=1, max_length=64)


class SignedInOut(BaseModel):
    session_token: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 scheme name
    expires_at: datetime
    auth_method: str
    recovery_codes: list[str] | None = Field(
        default=None, description="Shown once, at registration only: keep them somewhere safe"
    )


class MeOut(BaseModel):
    display_name: str
    created_at: datetime
    recovery_codes_left: int
    auth_method: str
    session_expires_at: datetime


class PasskeyOut(BaseModel):
    id: str = Field(description="The credential id, base64url")
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(description="Synced by a passkey provider (e.g. across phones)")
    transports: list[str]


class PasskeyListOut(BaseModel):
    passkeys: list[PasskeyOut]


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once: the old codes no longer work")


class SessionOut(BaseModel):
    id: uuid.UUID
    auth_method: str = Field(description="passkey | recovery: how this session signed in")
    created_at: datetime = Field(description="when this session signed in")
    last_used_at: datetime
    expires_at: datetime = Field(description="the absolute end (idle expiry may come sooner)")
    current: bool = Field(description="the session that asks")


class SessionListOut(BaseModel):
    sessions: list[SessionOut]
