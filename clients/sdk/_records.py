"""Records as the vault returns them (`RecordOut` in api/schemas/records.py), typed.

Shared by every client: a service reads the same record shape a resident does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from clients.sdk._errors import ProtocolError

__all__ = ["FileInfo", "Provenance", "Record", "RecordSignature", "parse_time"]


def parse_time(value: object, what: str) -> datetime:
    """An ISO 8601 / RFC 3339 time from the vault ("Z" or an offset)."""
    if not isinstance(value, str):
        raise ProtocolError(f"the vault sent no time for {what}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise ProtocolError(f"the vault sent an unreadable time for {what}") from e


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ProtocolError(f"the vault's record has no {name}")
    return value


@dataclass(frozen=True, slots=True)
class FileInfo:
    media_type: str
    filename: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who wrote the record: the resident (or someone acting for them under a mandate: a
    service is told no more), or a service under a grant."""

    written_by: Literal["resident", "service"]
    service_id: str | None
    grant_id: str | None


@dataclass(frozen=True, slots=True)
class RecordSignature:
    """An issuer's signature on the version shown: check it with `verify_signature`."""

    jws: str
    issuer: str  # the signing service's client_id
    kid: str
    alg: str


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    category: str
    type: str
    kind: Literal["json", "file"]
    current_version: int
    version: int | None
    title: str | None
    content: Any  # the JSON content; None in listings and for files
    file: FileInfo | None
    provenance: Provenance
    signature: RecordSignature | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_wire(cls, body: object) -> Record:
        if not isinstance(body, dict):
            raise ProtocolError("the vault's record is not an object")
        try:
            file = body.get("file")
            signature = body.get("signature")
            provenance = body.get("provenance") or {}
            return cls(
                id=_text(body, "id"),
                category=_text(body, "category"),
                type=_text(body, "type"),
                kind="file" if body.get("kind") == "file" else "json",
                current_version=int(body["current_version"]),
                version=int(body["version"]) if body.get("version") is not None else None,
                title=body.get("title"),
                content=body.get("content"),
                file=FileInfo(
                    media_type=str(file["media_type"]),
                    filename=str(file["filename"]),
                    size_bytes=int(file["size_bytes"]),
                )
                if isinstance(file, dict)
                else None,
                provenance=Provenance(
                    written_by="service"
                    if provenance.get("written_by") == "service"
                    else "resident",
                    service_id=_opt(provenance.get("service_id")),
                    grant_id=_opt(provenance.get("grant_id")),
                ),
                signature=RecordSignature(
                    jws=str(signature["jws"]),
                    issuer=str(signature["issuer"]),
                    kid=str(signature["kid"]),
                    alg=str(signature["alg"]),
                )
                if isinstance(signature, dict)
                else None,
                created_at=parse_time(body.get("created_at"), "created_at"),
                updated_at=parse_time(body.get("updated_at"), "updated_at"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ProtocolError("the vault's record is not in the expected shape") from e


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
