"""Wire shapes of the resident's records. Response fields are listed here, by hand."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vault.records.model import RecordView, VersionView


class RecordCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(max_length=32, examples=["health"])
    type: str = Field(max_length=64, examples=["health.medication"])
    title: str = Field(min_length=1, max_length=200)
    kind: Literal["json", "file"] = "json"
    content: Any = Field(default=None, description="JSON content (kind json)")


class RecordUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    content: Any = Field(default=None, description="New JSON content; omit to keep it")
    expected_version: int | None = Field(
        default=None, ge=0, description="Refuse with 409 if the record is no longer this version"
    )


class FileOut(BaseModel):
    media_type: str
    filename: str
    size_bytes: int


class SignatureOut(BaseModel):
    """An issuer's signature: a detached JWS over the RFC 8785 JSON of
    {"type", "title", "content"}; check it with the issuer's keys (GET /v1/issuers/{issuer})."""

    jws: str
    issuer: str
    kid: str
    alg: str


def _signature(v: VersionView | None) -> SignatureOut | None:
    if v is None or v.signature is None:
        return None
    s = v.signature
    return SignatureOut(jws=s.jws, issuer=s.issuer, kid=s.kid, alg=s.alg)


def _writer(written_by: str) -> Literal["resident", "representative", "service"]:
    if written_by in ("service", "representative"):
        return "service" if written_by == "service" else "representative"
    return "resident"


class ProvenanceOut(BaseModel):
    written_by: Literal["resident", "representative", "service"] = Field(
        description="Who wrote the record: the resident, a service (under a grant), or a"
        " representative under a mandate (docs/people.md). A service is only ever told"
        " `resident` or `service`: a representative's record reads as the resident's to it."
    )
    service_id: uuid.UUID | None
    grant_id: uuid.UUID | None
    mandate_id: uuid.UUID | None = Field(
        default=None,
        description="The mandate a representative wrote it under (never shown to a service)",
    )
    representative: str | None = Field(
        default=None,
        description="That representative's name as the mandate holds it for the resident;"
        " null when the mandate is gone (never shown to a service)",
    )


class VersionOut(BaseModel):
    version: int
    title: str
    written_by: str  # resident | representative | service
    created_at: datetime
    file: FileOut | None
    signature: SignatureOut | None = None
    mandate_id: uuid.UUID | None = None  # written_by representative: under which mandate
    representative: str | None = None  # and their name, as the resident knows it

    @classmethod
    def of(cls, v: VersionView) -> VersionOut:
        return cls(
            version=v.version,
            title=v.title,
            written_by=v.written_by,
            created_at=v.created_at,
            signature=_signature(v),
            mandate_id=v.mandate_id,
            representative=v.representative,
            file=FileOut(
                media_type=v.file.media_type, filename=v.file.filename, size_bytes=v.file.size_bytes
            )
            if v.file
            else None,
        )


class RecordOut(BaseModel):
    id: uuid.UUID
    category: str
    type: str
    kind: Literal["json", "file"]
    current_version: int
    version: int | None = Field(
        description="The version shown here (the current one unless a version was asked for);"
        " null for a file record whose first upload has not finished"
    )
    title: str | None
    content: Any = None
    file: FileOut | None
    provenance: ProvenanceOut
    signature: SignatureOut | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: RecordView) -> RecordOut:
        current = r.current
        return cls(
            id=r.record_id,
            category=r.category,
            type=r.type,
            kind="file" if r.kind == "file" else "json",
            current_version=r.current_version,
            version=current.version if current and current.version > 0 else None,
            title=current.title if current else None,
            content=current.content if current else None,
            file=VersionOut.of(current).file if current else None,
            signature=_signature(current),
            provenance=ProvenanceOut(
                written_by=_writer(r.provenance.written_by),
                service_id=r.provenance.service_id,
                grant_id=r.provenance.grant_id,
                mandate_id=r.provenance.mandate_id,
                representative=r.provenance.representative,
            ),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class RecordListOut(BaseModel):
    records: list[RecordOut]


class VersionListOut(BaseModel):
    versions: list[VersionOut]


class LabelOut(BaseModel):
    nl: str
    en: str


class CatalogueTypeOut(BaseModel):
    code: str
    label: LabelOut


class CatalogueCategoryOut(BaseModel):
    code: str
    label: LabelOut
    types: list[CatalogueTypeOut]


class CatalogueOut(BaseModel):
    categories: list[CatalogueCategoryOut]
