"""A resident's records. No route takes a resident id: the vault is the signed-in resident's
own, or, with `Regie-Act-For`, the principal's under the representative's mandate
(`api.deps.vault_subject`; the record service asks the mandate for each record's category:
`read` to list and read, `write` to add, change and delete)."""

from __future__ import annotations

import re
import uuid
from email.message import Message
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ContainerDep, SubjectDep
from api.schemas.records import (
    CatalogueCategoryOut,
    CatalogueOut,
    CatalogueTypeOut,
    LabelOut,
    RecordCreateIn,
    RecordListOut,
    RecordOut,
    RecordUpdateIn,
    VersionListOut,
    VersionOut,
)
from vault.errors import InvalidInput, PayloadTooLarge
from vault.records.catalogue import CATEGORIES, TYPES

router = APIRouter(tags=["records"])

# File uploads stream past the JSON body limit; the upload enforces its own limit.
UPLOAD_PATHS = (re.compile(r"^/v1/me/records/[^/]+/file$"),)


@router.get("/v1/catalogue", summary="Record categories and types, with Dutch and English labels")
def catalogue() -> CatalogueOut:
    return CatalogueOut(
        categories=[
            CatalogueCategoryOut(
                code=code,
                label=LabelOut(nl=label.nl, en=label.en),
                types=[
                    CatalogueTypeOut(code=t, label=LabelOut(nl=tl.nl, en=tl.en))
                    for t, tl in TYPES.items()
                    if t.split(".", 1)[0] == code
                ],
            )
            for code, label in CATEGORIES.items()
        ]
    )


@router.get("/v1/me/records", summary="My records, optionally of one category")
def list_records(
    who: SubjectDep,
    c: ContainerDep,
    category: Annotated[str | None, Query(max_length=32)] = None,
) -> RecordListOut:
    views = c.records.list_records(who.resident_id, category=category, acting=who.acting)
    return RecordListOut(records=[RecordOut.of(v) for v in views])


@router.post("/v1/me/records", status_code=201, summary="Add a record")
def create_record(
    body: RecordCreateIn, who: SubjectDep, c: ContainerDep, response: Response
) -> RecordOut:
    view = c.records.create(
        who.resident_id,
        category=body.category,
        record_type=body.type,
        title=body.title,
        kind=body.kind,
        content=body.content if "content" in body.model_fields_set else None,
        acting=who.acting,
    )
    response.headers["Location"] = f"/v1/me/records/{view.record_id}"
    return RecordOut.of(view)


@router.get("/v1/me/records/{record_id}", summary="A record, its current version and content")
def get_record(record_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> RecordOut:
    return RecordOut.of(c.records.get(who.resident_id, record_id, acting=who.acting))


@router.patch("/v1/me/records/{record_id}", summary="Change a record: makes a new version")
def update_record(
    record_id: uuid.UUID, body: RecordUpdateIn, who: SubjectDep, c: ContainerDep
) -> RecordOut:
    changes: dict[str, object] = {}
    if "content" in body.model_fields_set:
        changes["content"] = body.content
    view = c.records.update(
        who.resident_id,
        record_id,
        title=body.title,
        expected_version=body.expected_version,
        acting=who.acting,
        **changes,
    )
    return RecordOut.of(view)


@router.delete("/v1/me/records/{record_id}", status_code=204, summary="Delete a record")
def delete_record(record_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> Response:
    c.records.delete(who.resident_id, record_id, acting=who.acting)
    return Response(status_code=204)


@router.get("/v1/me/records/{record_id}/versions", summary="All versions of a record")
def list_versions(record_id: uuid.UUID, who: SubjectDep, c: ContainerDep) -> VersionListOut:
    versions = c.records.versions(who.resident_id, record_id, acting=who.acting)
    return VersionListOut(versions=[VersionOut.of(v) for v in versions])


@router.get("/v1/me/records/{record_id}/versions/{version}", summary="One version of a record")
def get_version(record_id: uuid.UUID, version: int, who: SubjectDep, c: ContainerDep) -> RecordOut:
    return RecordOut.of(c.records.get(who.resident_id, record_id, version, acting=who.acting))


def _filename(header: str | None) -> str:
    """The filename of a Content-Disposition header (RFC 6266, with RFC 5987 filename*)."""
    if not header:
        raise InvalidInput('send the file name as Content-Disposition: attachment; filename="..."')
    message = Message()
    message["content-disposition"] = header
    name = message.get_filename()
    if not name:
        raise InvalidInput('send the file name as Content-Disposition: attachment; filename="..."')
    return name


@router.put(
    "/v1/me/records/{record_id}/file",
    summary="Upload a file record's content (the raw body, streamed): makes a new version",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_file(
    record_id: uuid.UUID, request: Request, who: SubjectDep, c: ContainerDep
) -> RecordOut:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > c.records.max_file_bytes:
        raise PayloadTooLarge(
            f"the file is larger than {c.records.max_file_bytes} bytes",
            limit=c.records.max_file_bytes,
        )
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    filename = _filename(request.headers.get("content-disposition"))
    upload = await run_in_threadpool(
        c.records.upload,
        who.resident_id,
        record_id,
        media_type=media_type,
        filename=filename,
        acting=who.acting,
    )
    try:
        pending = bytearray()
        async for piece in request.stream():
            pending += piece
            if len(pending) >= 256 * 1024:  # hand work to the thread pool in sizeable bites
                await run_in_threadpool(upload.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(upload.write, bytes(pending))
        view = await run_in_threadpool(upload.finish)
    except BaseException:
        await run_in_threadpool(upload.abort)
        raise
    return RecordOut.of(view)


@router.get(
    "/v1/me/records/{record_id}/file",
    summary="Download a file record's current content (streamed)",
    response_class=StreamingResponse,
)
def download_file(
    record_id: uuid.UUID,
    who: SubjectDep,
    c: ContainerDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    download = c.records.download(who.resident_id, record_id, version, acting=who.acting)
    return StreamingResponse(
        download.chunks,
        media_type=download.info.media_type,
        headers={
            "Content-Length": str(download.info.size_bytes),
            # RFC 6266 with an RFC 8187 UTF-8 name: residents' file names are rarely ASCII.
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(download.info.filename)}",
        },
    )
