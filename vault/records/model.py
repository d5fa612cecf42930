"""What the records service returns: plain values, decrypted, never storage rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonValue = Any  # anything json.loads returns


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who wrote a record: the resident, a service (under a grant), or a representative
    (under a mandate: its id, and the representative's name as the resident knows it, None
    when the mandate is gone). What a service is shown is the kind only, and a
    representative's record reads as the resident's (`vault.records.service.record_view`)."""

    written_by: str  # resident | representative | service
    service_id: uuid.UUID | None
    grant_id: uuid.UUID | None
    mandate_id: uuid.UUID | None = None
    representative: str | None = None


@dataclass(frozen=True, slots=True)
class FileInfo:
    media_type: str
    filename: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    """An issuer's signature over a version: verify it against the issuer's published keys."""

    jws: str  # detached JWS over keys.issuer.canonical_payload(type, title, content)
    issuer: str  # the signing service's client id
    kid: str
    alg: str


@dataclass(frozen=True, slots=True)
class VersionView:
    version: int
    title: str
    written_by: str
    created_at: datetime
    content: JsonValue | None  # for kind "json"; None in listings
    file: FileInfo | None  # for kind "file"
    signature: SignatureInfo | None = None
    # written_by "representative": the mandate, and the name as the resident knows it.
    mandate_id: uuid.UUID | None = None
    representative: str | None = None


@dataclass(frozen=True, slots=True)
class RecordView:
    record_id: uuid.UUID
    category: str
    type: str
    kind: str
    current_version: int
    provenance: Provenance
    created_at: datetime
    updated_at: datetime
    current: VersionView | None  # None for a file record whose first upload has not finished


@dataclass(frozen=True, slots=True)
class FileDownload:
    info: FileInfo
    chunks: Iterator[bytes]
