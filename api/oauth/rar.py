"""RFC 9396 `authorization_details` of our type `regie:records`, parsed into a domain request.

[{"type": "regie:records", "actions": ["read"], "datatypes": ["health.medication"],
  "purpose": {"id": "https://w3id.org/dpv#ServiceProvision", "text": "..."},
  "legal_basis": "https://w3id.org/dpv#Consent",
  "procedure": {"ref": "BEH-2026-0042", "description": "...", "planned_end": "2027-02-01"},
  "valid_until": "2027-02-01T00:00:00Z"}]
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from api.oauth.errors import OAuthError
from vault.grants.model import AccessRequestSpec

TYPE = "regie:records"
ALLOWED = {"type", "actions", "datatypes", "purpose", "legal_basis", "procedure", "valid_until"}


def _bad(description: str) -> OAuthError:
    return OAuthError("invalid_authorization_details", description)


def _moment(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise _bad(f"{what} must be an RFC 3339 date-time or a date")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise _bad(f"{what} must be an RFC 3339 date-time or a date") from e
    if moment.tzinfo is None:
        raise _bad(f"{what} needs a time zone (e.g. Z)")
    return moment.astimezone(UTC)


def _strings(value: Any, what: str) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _bad(f"{what} must be a non-empty list of strings")
    if len(value) > 100:
        raise _bad(f"{what} is too long")
    return frozenset(value)


def parse(raw: str | None, binding_message: str | None) -> AccessRequestSpec:
    if not raw:
        raise _bad("authorization_details is required")
    try:
        details = json.loads(raw)
    except ValueError as e:
        raise _bad("authorization_details is not JSON") from e
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict):
        raise _bad(f"authorization_details must be a list with one object of type {TYPE}")
    d = details[0]
    if d.get("type") != TYPE:
        raise _bad(f"the authorization_details type must be {TYPE}")
    unknown = sorted(set(d) - ALLOWED)
    if unknown:
        raise _bad(f"unknown fields: {', '.join(unknown)[:200]}")
    purpose = d.get("purpose")
    procedure = d.get("procedure")
    if not isinstance(purpose, dict) or not isinstance(purpose.get("id"), str):
        raise _bad("purpose must be an object with an id (a DPV purpose URI) and a text")
    if not isinstance(purpose.get("text"), str):
        raise _bad("purpose.text is required: say in words why, for the resident")
    if not isinstance(procedure, dict) or not isinstance(procedure.get("ref"), str):
        raise _bad("procedure must be an object with a ref")
    description = procedure.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 500):
        raise _bad("procedure.description must be a text of at most 500 characters")
    legal_basis = d.get("legal_basis", "https://w3id.org/dpv#Consent")
    if not isinstance(legal_basis, str) or len(legal_basis) > 200:
        raise _bad("legal_basis must be a URI")
    if binding_message is not None and len(binding_message) > 100:
        raise OAuthError("invalid_binding_message", "binding_message is at most 100 characters")
    return AccessRequestSpec(
        datatypes=_strings(d.get("datatypes"), "datatypes"),
        actions=_strings(d.get("actions"), "actions"),
        purpose_uri=purpose["id"],
        purpose_text=purpose["text"],
        legal_basis=legal_basis,
        procedure_ref=procedure["ref"],
        procedure_description=description,
        procedure_planned_end=_moment(procedure.get("planned_end"), "procedure.planned_end"),
        valid_until=_moment(d.get("valid_until"), "valid_until"),
        binding_message=binding_message,
    )
