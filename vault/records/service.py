"""Records in a resident's vault: create, read, change (a new version), delete, files.

Every title, JSON content, filename and file chunk is sealed with the resident's data key and
bound to its place (`keys.Binding`). File content arrives and leaves as a stream of chunks of
`CHUNK_BYTES`; the chunk's sequence number and whether it is the last one are part of its
binding, so chunks cannot be reordered, dropped or cut off without the read failing (the
STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár). Uploads write chunks in short
transactions into an incomplete blob; the new version appears only when the last chunk is in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from keys.errors import DecryptionError
from keys.service import Binding, DataKey
from vault.audit.events import AccessEvent, record
from vault.errors import (
    Conflict,
    InvalidInput,
    KeyServiceUnavailable,
    NotFound,
    PayloadTooLarge,
    UnknownCategory,
)
from vault.ports import Clock
from vault.records.catalogue import CATEGORIES, check_type
from vault.records.model import (
    FileDownload,
    FileInfo,
    JsonValue,
    Provenance,
    RecordView,
    SignatureInfo,
    VersionView,
)
from vault.representation.acting import ActingFor, actor
from vault.residents.keys import VaultKeys
from vault.storage.orm import BlobChunkRow, BlobRow, RecordRow, RecordVersionRow
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

# The names of a resident's representatives by mandate id, as the resident knows them
# (RepresentationService.representative_names); gone ones are left out.
RepresentativeNames = Callable[[SqlUnitOfWork, uuid.UUID, set[uuid.UUID]], dict[uuid.UUID, str]]
CHUNK_BYTES = 64 * 1024
CHUNKS_PER_TRANSACTION = 16  # 1 MiB of ciphertext per write or read transaction
MAX_TITLE = 200
_UNSET = object()


def title_binding(record_id: uuid.UUID, version: int) -> Binding:
    return Binding("record_versions", "title_ct", f"{record_id}/{version}")


def content_binding(record_id: uuid.UUID, version: int) -> Binding:
    return Binding("record_versions", "content_ct", f"{record_id}/{version}")


def filename_binding(record_id: uuid.UUID, version: int) -> Binding:
    return Binding("record_versions", "filename_ct", f"{record_id}/{version}")


def chunk_binding(blob_id: uuid.UUID, seq: int, *, last: bool) -> Binding:
    return Binding(
        "record_blob_chunks", "chunk_ct", f"{blob_id}/{seq}/{'last' if last else 'more'}"
    )


def clean_filename(name: str) -> str:
    """A file name safe to show and to use as one path segment (in exports)."""
    printable = "".join(ch for ch in name if ch.isprintable())
    cleaned = " ".join(printable.replace("/", "_").replace("\\", "_").split())[:255]
    if not cleaned.strip("."):
        raise InvalidInput("the file needs a name (not only dots)")
    return cleaned


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not 1 <= len(cleaned) <= MAX_TITLE:
        raise InvalidInput(f"a title of 1 to {MAX_TITLE} characters is needed")
    return cleaned


def _encode_content(content: JsonValue) -> bytes:
    try:
        return json.dumps(
            content, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
    except (TypeError, ValueError) as e:
        raise InvalidInput("the content must be JSON") from e


class VersionFields(Protocol):
    """What opening a version reads: a `RecordVersionRow`, or a `StoredVersion`."""

    @property
    def record_id(self) -> uuid.UUID: ...
    @property
    def version(self) -> int: ...
    @property
    def title_ct(self) -> bytes: ...
    @property
    def content_ct(self) -> bytes | None: ...
    @property
    def blob_id(self) -> uuid.UUID | None: ...
    @property
    def filename_ct(self) -> bytes | None: ...
    @property
    def media_type(self) -> str | None: ...
    @property
    def size_bytes(self) -> int | None: ...
    @property
    def written_by(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def signature_jws(self) -> str | None: ...
    @property
    def signer_client_id(self) -> str | None: ...
    @property
    def signer_kid(self) -> str | None: ...
    @property
    def signer_alg(self) -> str | None: ...


class RecordFields(Protocol):
    """What a record view shows besides its version: a `RecordRow`, or a `StoredRecord`."""

    @property
    def record_id(self) -> uuid.UUID: ...
    @property
    def category(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def current_version(self) -> int: ...
    @property
    def written_by(self) -> str: ...
    @property
    def writer_service_id(self) -> uuid.UUID | None: ...
    @property
    def writer_grant_id(self) -> uuid.UUID | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A record version as a Core statement read it (vault/storage/queries.py)."""

    record_id: uuid.UUID
    version: int
    title_ct: bytes
    content_ct: bytes | None
    blob_id: uuid.UUID | None
    filename_ct: bytes | None
    media_type: str | None
    size_bytes: int | None
    written_by: str
    created_at: datetime
    signature_jws: str | None
    signer_client_id: str | None
    signer_kid: str | None
    signer_alg: str | None


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record's own fields as a Core statement read them."""

    record_id: uuid.UUID
    category: str
    type: str
    kind: str
    current_version: int
    written_by: str
    writer_service_id: uuid.UUID | None
    writer_grant_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


def _open(key: DataKey, sealed: bytes, binding: Binding) -> bytes:
    try:
        return key.open(sealed, binding)
    except DecryptionError as e:
        # Storage was changed behind our back, or rows were moved: fail closed.
        raise KeyServiceUnavailable("a stored value could not be opened") from e


def open_version(key: DataKey, row: VersionFields, *, with_content: bool) -> VersionView:
    """A version's view, its title (and content) opened with `key`, its data key."""
    title = _open(key, row.title_ct, title_binding(row.record_id, row.version)).decode()
    content: JsonValue | None = None
    if with_content and row.content_ct is not None:
        content = json.loads(
            _open(key, row.content_ct, content_binding(row.record_id, row.version))
        )
    file = None
    if row.blob_id is not None and row.filename_ct is not None:
        filename = _open(
            key, row.filename_ct, filename_binding(row.record_id, row.version)
        ).decode()
        file = FileInfo(row.media_type or "application/octet-stream", filename, row.size_bytes or 0)
    signature = (
        SignatureInfo(
            row.signature_jws,
            row.signer_client_id or "",
            row.signer_kid or "",
            row.signer_alg or "",
        )
        if row.signature_jws
        else None
    )
    return VersionView(
        row.version, title, writer_kind(row.written_by), row.created_at, content, file, signature
    )


def writer_kind(written_by: str) -> str:
    """Who wrote it, as anyone may be told: a service, or the resident. A representative's
    writing reads as the resident's here (it is, under the resident's mandate); only the
    resident's own API adds who it was (`RecordService`), never a service's: whether someone
    acts for a resident (debt administration, a guardian) is theirs to tell."""
    return "service" if written_by == "service" else "resident"


def record_view(record: RecordFields, current: VersionView | None) -> RecordView:
    """A record's view with its provenance kind only (see `writer_kind`)."""
    return RecordView(
        record_id=record.record_id,
        category=record.category,
        type=record.type,
        kind=record.kind,
        current_version=record.current_version,
        provenance=Provenance(
            writer_kind(record.written_by), record.writer_service_id, record.writer_grant_id
        ),
        created_at=record.created_at,
        updated_at=record.updated_at,
        current=current,
    )


@dataclass(slots=True)
class ToResident:
    """Who wrote a record, as the resident's own API tells it in one request: by mandate and
    the name the mandate holds (`names` remembers those). Under a mandate (`acting`), another
    mandate's id is left out: its name is shown, as the principal's log shows it to this
    representative, but not an id the log never shows them."""

    acting: ActingFor | None
    names: dict[uuid.UUID, str | None] = field(default_factory=dict)

    def shown(self, mandate_id: uuid.UUID | None) -> uuid.UUID | None:
        if self.acting is None or mandate_id == self.acting.mandate_id:
            return mandate_id
        return None


class RecordService:
    def __init__(
        self, *, uow: UnitOfWorkFactory, keys: VaultKeys, clock: Clock, max_file_bytes: int
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._clock = clock
        self.max_file_bytes = max_file_bytes
        # Set by the wiring (api/bootstrap.py): names for records a representative wrote.
        self.representative_names: RepresentativeNames | None = None

    def _own_change(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        name: str,
        row: RecordRow,
        acting: ActingFor | None = None,
    ) -> None:
        """The resident's own change to their record (or a representative's, under a
        mandate), logged in the change's transaction (invariant I2): every change to a vault
        is in its log, not only what services do."""
        self._log(uow, resident_id, name, acting, record_id=row.record_id, datatype=row.type)

    def _log(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        name: str,
        acting: ActingFor | None,
        *,
        record_id: uuid.UUID | None,
        datatype: str | None,
        action: str = "write",
    ) -> None:
        """The one event of a resident's (or their representative's) step with records."""
        kind, actor_id = actor(resident_id, acting)
        record(
            uow,
            AccessEvent(
                resident_id=resident_id,
                name=name,
                outcome="done" if action == "write" else "permit",
                actor=kind,
                actor_id=actor_id,
                record_id=record_id,
                datatype=datatype,
                action=action,
            ),
            self._clock.now(),
        )

    @staticmethod
    def _may(
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        acting: ActingFor | None,
        *,
        category: str,
        action: str,
    ) -> None:
        """Under a mandate: does it cover `action` on `category` of this vault, now?"""
        if acting is None:
            return
        acting.same_vault(resident_id)
        acting.check(uow, category=category, action=action)

    def _read(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        acting: ActingFor | None,
        row: RecordRow,
    ) -> None:
        """A representative's read is checked and logged (the resident's own is neither)."""
        if acting is not None:
            self._may(uow, resident_id, acting, category=row.category, action="read")
            self._log(
                uow,
                resident_id,
                "record.read",
                acting,
                record_id=row.record_id,
                datatype=row.type,
                action="read",
            )

    @staticmethod
    def _written(
        uow: SqlUnitOfWork, acting: ActingFor | None, record: RecordRow, view: RecordView
    ) -> RecordView:
        """The answer to a write: under a mandate that may not also `read` the category,
        only the record's own fields (no title, content or file of the principal's)."""
        if acting is None or acting.covers(uow, category=record.category, action="read"):
            return view
        return replace(view, current=None)

    # -- reading ---------------------------------------------------------------------------

    def list_records(
        self,
        resident_id: uuid.UUID,
        *,
        category: str | None = None,
        acting: ActingFor | None = None,
    ) -> list[RecordView]:
        """The resident's records; under a mandate only those of the categories it lets the
        representative read (one category asked for must be one of them)."""
        if category is not None and category not in CATEGORIES:
            raise UnknownCategory(f"unknown category {category!r}")
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            if acting is None:
                return self.list_in(uow, resident_id, category=category, told=ToResident(None))
            if category is not None:
                self._may(uow, resident_id, acting, category=category, action="read")
            acting.same_vault(resident_id)
            readable = acting.categories(uow, action="read")
            views = [
                v
                for v in self.list_in(uow, resident_id, category=category, told=ToResident(acting))
                if v.category in readable
            ]
            self._log(
                uow,
                resident_id,
                "record.list",
                acting,
                record_id=None,
                datatype=category,
                action="read",
            )
            uow.commit()
            return views

    def list_in(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        *,
        category: str | None = None,
        types: frozenset[str] | None = None,
        told: ToResident | None = None,
    ) -> list[RecordView]:
        """Metadata of the resident's records (of `types` only, if given), in the caller's
        transaction. Provenance is its kind only (what a service may be told) unless `told`
        (the resident's own API): then a representative's records name them (`_view`)."""
        rows = [
            r
            for r in uow.records.all(resident_id, category=category)
            if types is None or r.type in types
        ]
        current = uow.records.current_versions(resident_id, [r.record_id for r in rows])
        return [
            self._view(uow, r, current.get(r.record_id), with_content=False, told=told)
            for r in rows
        ]

    def get(
        self,
        resident_id: uuid.UUID,
        record_id: uuid.UUID,
        version: int | None = None,
        *,
        acting: ActingFor | None = None,
    ) -> RecordView:
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            if acting is not None:
                self._read(uow, resident_id, acting, self._record(uow, resident_id, record_id))
            view = self.get_in(uow, resident_id, record_id, version, told=ToResident(acting))
            uow.commit()
            return view

    def record_type(self, uow: SqlUnitOfWork, resident_id: uuid.UUID, record_id: uuid.UUID) -> str:
        """A record's datatype: what the access check needs before any content is opened."""
        return self._record(uow, resident_id, record_id).type

    def get_in(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        record_id: uuid.UUID,
        version: int | None = None,
        *,
        told: ToResident | None = None,
    ) -> RecordView:
        """A record with its content, in the caller's transaction (provenance as `list_in`
        says)."""
        record = self._record(uow, resident_id, record_id)
        if version is not None and version < 1:
            raise NotFound("no such version of this record")
        wanted = record.current_version if version is None else version
        # Version 0 is a file record's placeholder: it carries the title until the upload.
        row = uow.records.version(resident_id, record_id, wanted)
        if version is not None and row is None:
            raise NotFound("no such version of this record")
        return self._view(uow, record, row, with_content=True, told=told)

    def versions(
        self, resident_id: uuid.UUID, record_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> list[VersionView]:
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            self._read(uow, resident_id, acting, self._record(uow, resident_id, record_id))
            told = ToResident(acting)
            found = [
                self._version_view(uow, v, with_content=False, told=told)
                for v in uow.records.versions(resident_id, record_id)
                if v.version > 0  # 0 is a file record's placeholder before its first upload
            ]
            uow.commit()
            return found

    def _record(
        self, uow: SqlUnitOfWork, resident_id: uuid.UUID, record_id: uuid.UUID
    ) -> RecordRow:
        record = uow.records.get(resident_id, record_id)
        if record is None:
            raise NotFound("no such record in this vault")
        return record

    def _version_view(
        self,
        uow: SqlUnitOfWork,
        row: RecordVersionRow,
        *,
        with_content: bool,
        told: ToResident | None = None,
    ) -> VersionView:
        """A version's view; with `told` (the resident's own API), a representative's
        version names them, else its provenance is the kind only (`writer_kind`)."""
        key = self._keys.key(uow, row.resident_id, row.dek_version)
        view = open_version(key, row, with_content=with_content)
        if told is None or row.written_by != "representative":
            return view
        return replace(
            view,
            written_by="representative",
            mandate_id=told.shown(row.writer_mandate_id),
            representative=self._named(uow, row.resident_id, row.writer_mandate_id, told),
        )

    def _view(
        self,
        uow: SqlUnitOfWork,
        record: RecordRow,
        current: RecordVersionRow | None,
        *,
        with_content: bool,
        told: ToResident | None = None,
    ) -> RecordView:
        """A record's view. With `told`, as the resident's own API
        shows it, to the resident or to a representative under the resident's mandate: who
        wrote it, by mandate and name. Without, provenance is its kind only (`writer_kind`):
        what a service may be told, and the default."""
        view = record_view(
            record,
            self._version_view(uow, current, with_content=with_content, told=told)
            if current
            else None,
        )
        if told is None or record.written_by != "representative":
            return view
        mandate_id = record.writer_mandate_id
        return replace(
            view,
            provenance=Provenance(
                "representative",
                None,
                None,
                told.shown(mandate_id),
                self._named(uow, record.resident_id, mandate_id, told),
            ),
        )

    def _named(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        mandate_id: uuid.UUID | None,
        told: ToResident,
    ) -> str | None:
        """The name of the representative who wrote under `mandate_id`, as the resident
        knows it (sealed in the mandate under the resident's key); None when it is gone.
        `told` remembers the answers within one request."""
        if mandate_id is None or self.representative_names is None:
            return None
        if mandate_id not in told.names:
            found = self.representative_names(uow, resident_id, {mandate_id})
            told.names[mandate_id] = found.get(mandate_id) or None
        return told.names[mandate_id]

    # -- writing ---------------------------------------------------------------------------

    def create(
        self,
        resident_id: uuid.UUID,
        *,
        category: str,
        record_type: str,
        title: str,
        kind: Literal["json", "file"] = "json",
        content: JsonValue | None = None,
        acting: ActingFor | None = None,
    ) -> RecordView:
        """A new record. A JSON record gets its first version now; a file record when its
        content has been uploaded (`upload`)."""
        with self._uow() as uow:
            if acting is not None:
                check_type(category, record_type)
                self._may(uow, resident_id, acting, category=category, action="write")
            view = self.create_in(
                uow,
                resident_id,
                category=category,
                record_type=record_type,
                title=title,
                kind=kind,
                content=content,
                mandate_id=acting.mandate_id if acting is not None else None,
                told=ToResident(acting),
            )
            stored = uow.records.get(resident_id, view.record_id)
            if stored is not None:
                self._own_change(uow, resident_id, "record.created", stored, acting)
            uow.commit()
            return view

    def create_in(
        self,
        uow: SqlUnitOfWork,
        resident_id: uuid.UUID,
        *,
        category: str,
        record_type: str,
        title: str,
        kind: Literal["json", "file"] = "json",
        content: JsonValue | None = None,
        service_id: uuid.UUID | None = None,
        grant_id: uuid.UUID | None = None,
        signature: SignatureInfo | None = None,
        mandate_id: uuid.UUID | None = None,
        told: ToResident | None = None,
    ) -> RecordView:
        """A new record in the caller's transaction. With `service_id` and `grant_id` it is
        written by that service under that grant (provenance); with `mandate_id`, by a
        representative under that mandate (checked by the caller); the resident keeps it. A
        `signature` must have been verified by the caller (ServiceAccess.write_record). The
        answer's provenance as `list_in` says."""
        check_type(category, record_type)
        clean_title = _clean_title(title)
        if kind == "json" and content is None:
            raise InvalidInput("a JSON record needs content")
        if kind == "file" and content is not None:
            raise InvalidInput("a file record gets its content by upload, not in JSON")
        encoded = _encode_content(content) if kind == "json" else b""
        if service_id is not None and mandate_id is not None:
            raise ValueError("a record has one writer: a service or a representative")
        writer = (
            "service"
            if service_id is not None
            else "representative"
            if mandate_id is not None
            else "resident"
        )
        resident = self._keys.active_resident(uow, resident_id)
        key = self._keys.current(uow, resident)
        now = self._clock.now()
        record = RecordRow(
            resident_id=resident_id,
            record_id=uuid.uuid4(),
            category=category,
            type=record_type,
            kind=kind,
            current_version=0,
            written_by=writer,
            writer_service_id=service_id,
            writer_grant_id=grant_id,
            writer_mandate_id=mandate_id,
            created_at=now,
            updated_at=now,
        )
        uow.records.add(record)
        # A file record keeps its title in a version-0 placeholder until the first upload.
        version = RecordVersionRow(
            resident_id=resident_id,
            record_id=record.record_id,
            version=1 if kind == "json" else 0,
            dek_version=key.version,
            title_ct=b"",
            content_ct=None,
            blob_id=None,
            media_type=None,
            filename_ct=None,
            size_bytes=None,
            written_by=writer,
            writer_mandate_id=mandate_id,
            created_at=now,
        )
        version.title_ct = key.seal(
            clean_title.encode(), title_binding(record.record_id, version.version)
        )
        if kind == "json":
            version.content_ct = key.seal(encoded, content_binding(record.record_id, 1))
            record.current_version = 1
        if signature is not None:
            version.signature_jws = signature.jws
            version.signer_client_id = signature.issuer
            version.signer_kid = signature.kid
            version.signer_alg = signature.alg
        uow.flush()
        uow.records.add_version(version)
        uow.flush()
        return self._view(uow, record, version, with_content=True, told=told)

    def update(
        self,
        resident_id: uuid.UUID,
        record_id: uuid.UUID,
        *,
        title: str | None = None,
        content: JsonValue = _UNSET,
        expected_version: int | None = None,
        acting: ActingFor | None = None,
    ) -> RecordView:
        """A new version with the changed title and/or content; the old versions stay."""
        if title is None and content is _UNSET:
            raise InvalidInput("nothing to change: give a title or content")
        if content is None:
            raise InvalidInput("content cannot be null; delete the record instead")
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            record = uow.records.get(resident_id, record_id, for_update=True)
            if record is None:
                raise NotFound("no such record in this vault")
            self._may(uow, resident_id, acting, category=record.category, action="write")
            if expected_version is not None and expected_version != record.current_version:
                raise Conflict(
                    f"the record changed meanwhile (now version {record.current_version})"
                )
            if content is not _UNSET and record.kind != "json":
                raise InvalidInput("a file record's content changes by upload")
            previous = uow.records.version(resident_id, record_id, record.current_version)
            if previous is None or record.current_version == 0:
                raise Conflict("this file record has no content yet: upload it first")
            key = self._keys.current(uow, resident)
            new = self._next_version(uow, key, record, previous, title=title, acting=acting)
            if content is not _UNSET:
                new.content_ct = key.seal(
                    _encode_content(content), content_binding(record_id, new.version)
                )
            uow.records.add_version(new)
            record.current_version = new.version
            record.updated_at = new.created_at
            uow.flush()
            view = self._written(
                uow,
                acting,
                record,
                self._view(uow, record, new, with_content=True, told=ToResident(acting)),
            )
            self._own_change(uow, resident_id, "record.changed", record, acting)
            uow.commit()
            return view

    def _next_version(
        self,
        uow: SqlUnitOfWork,
        key: DataKey,
        record: RecordRow,
        previous: RecordVersionRow,
        *,
        title: str | None,
        acting: ActingFor | None,
    ) -> RecordVersionRow:
        """A copy of `previous` as the next version, resealed under its own binding, written
        by the resident, or by a representative under `acting`."""
        old_key = self._keys.key(uow, previous.resident_id, previous.dek_version)
        number = record.current_version + 1
        rid = record.record_id
        plain_title = (
            _clean_title(title)
            if title is not None
            else _open(old_key, previous.title_ct, title_binding(rid, previous.version)).decode()
        )
        new = RecordVersionRow(
            resident_id=record.resident_id,
            record_id=rid,
            version=number,
            dek_version=key.version,
            title_ct=key.seal(plain_title.encode(), title_binding(rid, number)),
            content_ct=None,
            blob_id=previous.blob_id,
            media_type=previous.media_type,
            filename_ct=None,
            size_bytes=previous.size_bytes,
            written_by="resident" if acting is None else "representative",
            writer_mandate_id=None if acting is None else acting.mandate_id,
            created_at=self._clock.now(),
        )
        if previous.content_ct is not None:
            plain = _open(old_key, previous.content_ct, content_binding(rid, previous.version))
            new.content_ct = key.seal(plain, content_binding(rid, number))
        if previous.filename_ct is not None:
            plain = _open(old_key, previous.filename_ct, filename_binding(rid, previous.version))
            new.filename_ct = key.seal(plain, filename_binding(rid, number))
        return new

    def delete(
        self, resident_id: uuid.UUID, record_id: uuid.UUID, *, acting: ActingFor | None = None
    ) -> None:
        """Delete a record with all its versions and files."""
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            record = uow.records.get(resident_id, record_id, for_update=True)
            if record is None:
                raise NotFound("no such record in this vault")
            self._may(uow, resident_id, acting, category=record.category, action="write")
            blobs = uow.records.blob_ids(resident_id, record_id)
            self._own_change(uow, resident_id, "record.deleted", record, acting)
            uow.records.delete(resident_id, record_id)
            uow.blobs.delete(resident_id, sorted(set(blobs)))
            uow.commit()

    # -- files -----------------------------------------------------------------------------

    def upload(
        self,
        resident_id: uuid.UUID,
        record_id: uuid.UUID,
        *,
        media_type: str,
        filename: str,
        acting: ActingFor | None = None,
    ) -> FileUpload:
        """Start a new version of a file record; feed it with `write`, end with `finish`."""
        clean_name = clean_filename(filename)
        if not media_type or len(media_type) > 128 or "/" not in media_type:
            raise InvalidInput("the file needs a media type such as application/pdf")
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, resident_id)
            record = self._record(uow, resident_id, record_id)
            self._may(uow, resident_id, acting, category=record.category, action="write")
            if record.kind != "file":
                raise InvalidInput("this record holds JSON, not a file")
            key = self._keys.current(uow, resident)
            blob = BlobRow(
                resident_id=resident_id,
                blob_id=uuid.uuid4(),
                dek_version=key.version,
                chunk_count=0,
                size_bytes=0,
                complete=False,
                created_at=self._clock.now(),
            )
            uow.blobs.add(blob)
            uow.commit()
            blob_id = blob.blob_id
        return FileUpload(
            self, key, resident_id, record_id, blob_id, media_type, clean_name, acting
        )

    def _finish_upload(self, upload: FileUpload, last_chunk: BlobChunkRow, size: int) -> RecordView:
        with self._uow() as uow:
            resident = self._keys.active_resident(uow, upload.resident_id)
            record = uow.records.get(upload.resident_id, upload.record_id, for_update=True)
            if record is None:
                raise NotFound("the record was deleted during the upload")
            # The mandate is asked again: it may have ended while the file streamed in.
            self._may(
                uow, upload.resident_id, upload.acting, category=record.category, action="write"
            )
            blob = uow.blobs.get(upload.resident_id, upload.blob_id)
            if blob is None:
                raise Conflict("the upload was abandoned")
            uow.blobs.add_chunk(last_chunk)
            blob.chunk_count = last_chunk.seq + 1
            blob.size_bytes = size
            blob.complete = True
            key = self._keys.current(uow, resident)
            previous = uow.records.version(
                upload.resident_id, upload.record_id, record.current_version
            )
            if previous is None:
                raise Conflict("the record has no title")
            new = self._next_version(uow, key, record, previous, title=None, acting=upload.acting)
            new.blob_id = upload.blob_id
            new.media_type = upload.media_type
            new.size_bytes = size
            new.filename_ct = key.seal(
                upload.filename.encode(), filename_binding(record.record_id, new.version)
            )
            uow.records.add_version(new)
            record.current_version = new.version
            record.updated_at = new.created_at
            if previous.version == 0:
                uow.session.delete(previous)  # the placeholder has served its purpose
            uow.flush()
            view = self._written(
                uow,
                upload.acting,
                record,
                self._view(uow, record, new, with_content=False, told=ToResident(upload.acting)),
            )
            self._own_change(uow, upload.resident_id, "record.changed", record, upload.acting)
            uow.commit()
            return view

    def _store_chunks(self, resident_id: uuid.UUID, chunks: Sequence[BlobChunkRow]) -> None:
        with self._uow() as uow:
            # Locked, so that the sweep of abandoned uploads cannot drop it under these chunks;
            # gone (swept after a day without a chunk): this upload cannot go on.
            if uow.blobs.get(resident_id, chunks[0].blob_id, for_update=True) is None:
                raise Conflict("the upload was abandoned")
            for chunk in chunks:
                uow.blobs.add_chunk(chunk)
            uow.commit()

    def _abandon(self, resident_id: uuid.UUID, blob_id: uuid.UUID) -> None:
        with self._uow() as uow:
            uow.blobs.delete(resident_id, [blob_id])
            uow.commit()

    def sweep_abandoned_uploads(self, *, older_than: timedelta, batch: int) -> int:
        """Drop up to `batch` uploads begun more than `older_than` ago that never finished
        (the request was cut off: a worker killed, the connection lost): sealed chunks that
        no version refers to and nobody can open. Housekeeping, not a change to anyone's
        data, so no access event: the record never had that version."""
        with self._uow() as uow:
            dropped = uow.blobs.delete_abandoned(self._clock.now() - older_than, batch)
            uow.commit()
            return dropped

    def download(
        self,
        resident_id: uuid.UUID,
        record_id: uuid.UUID,
        version: int | None = None,
        *,
        acting: ActingFor | None = None,
    ) -> FileDownload:
        with self._uow() as uow:
            self._keys.active_resident(uow, resident_id)
            record = self._record(uow, resident_id, record_id)
            self._read(uow, resident_id, acting, record)
            if record.kind != "file":
                raise InvalidInput("this record holds JSON, not a file")
            number = record.current_version if version is None else version
            row = uow.records.version(resident_id, record_id, number) if number else None
            if row is None or row.blob_id is None:
                raise NotFound("this version has no file")
            view = self._version_view(uow, row, with_content=False)
            blob = uow.blobs.get(resident_id, row.blob_id)
            if blob is None or not blob.complete or view.file is None:
                raise NotFound("this version has no file")
            key = self._keys.key(uow, resident_id, blob.dek_version)
            chunk_count = blob.chunk_count
            blob_id = blob.blob_id
            uow.commit()
        return FileDownload(view.file, self._chunks(key, resident_id, blob_id, chunk_count))

    def _chunks(
        self, key: DataKey, resident_id: uuid.UUID, blob_id: uuid.UUID, count: int
    ) -> Iterator[bytes]:
        seq = 0
        while seq < count:
            with self._uow() as uow:
                rows = uow.blobs.chunks(resident_id, blob_id, seq, CHUNKS_PER_TRANSACTION)
            if not rows:
                raise KeyServiceUnavailable("the file is incomplete in storage")
            for stored_seq, sealed in rows:
                if stored_seq != seq:
                    raise KeyServiceUnavailable("the file is incomplete in storage")
                last = seq == count - 1
                yield _open(key, sealed, chunk_binding(blob_id, seq, last=last))
                seq += 1


class FileUpload:
    """An upload in progress. Not thread-safe: one request feeds one upload, in order."""

    def __init__(
        self,
        service: RecordService,
        key: DataKey,
        resident_id: uuid.UUID,
        record_id: uuid.UUID,
        blob_id: uuid.UUID,
        media_type: str,
        filename: str,
        acting: ActingFor | None = None,
    ) -> None:
        self._service = service
        self.acting = acting
        self._key = key
        self.resident_id = resident_id
        self.record_id = record_id
        self.blob_id = blob_id
        self.media_type = media_type
        self.filename = filename
        self._buffer = bytearray()
        self._pending: list[BlobChunkRow] = []
        self._seq = 0
        self._size = 0
        self._done = False

    def _seal(self, plain: bytes, *, last: bool) -> BlobChunkRow:
        row = BlobChunkRow(
            resident_id=self.resident_id,
            blob_id=self.blob_id,
            seq=self._seq,
            chunk_ct=self._key.seal(plain, chunk_binding(self.blob_id, self._seq, last=last)),
        )
        self._seq += 1
        return row

    def write(self, data: bytes) -> None:
        if self._done:
            raise Conflict("this upload has ended")
        self._size += len(data)
        if self._size > self._service.max_file_bytes:
            self.abort()
            raise PayloadTooLarge(
                f"the file is larger than {self._service.max_file_bytes} bytes",
                limit=self._service.max_file_bytes,
            )
        self._buffer += data
        # Keep at least one full chunk back: only at the end do we know which one is last.
        while len(self._buffer) > CHUNK_BYTES:
            self._pending.append(self._seal(bytes(self._buffer[:CHUNK_BYTES]), last=False))
            del self._buffer[:CHUNK_BYTES]
            if len(self._pending) >= CHUNKS_PER_TRANSACTION:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._service._store_chunks(self.resident_id, self._pending)
            self._pending = []

    def finish(self) -> RecordView:
        if self._done:
            raise Conflict("this upload has ended")
        try:
            self._flush()
            last = self._seal(bytes(self._buffer), last=True)
            view = self._service._finish_upload(self, last, self._size)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return view

    def abort(self) -> None:
        """Throw away what was written; safe to call more than once."""
        if not self._done:
            self._done = True
            self._pending = []
            self._service._abandon(self.resident_id, self.blob_id)
