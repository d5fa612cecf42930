"""Export of a whole vault as a zip, streamed: never the whole archive in memory or on disk.

Format ``regie-export/1`` (documented in docs/export-format.md):

    manifest.json                         format, exported_at, resident, record index, files
    records/<record_id>/record.json       category, type, kind, provenance, versions (metadata)
    records/<record_id>/v<N>.json         title and JSON content of version N
    records/<record_id>/v<N>/<filename>   file content of version N (file records)
    grants.json                           every grant with its service and status history
    log.jsonl                             the resident's own access log, oldest first
    checkpoint.txt                        the log's latest signed checkpoint (C2SP note)

Grants come from the grant views (`GrantService.get`, one at a time), the log from
`ResidentLog.oldest_first` (a batch at a time): what the resident sees in the app.

`zipfile` writes to an unseekable stream with data descriptors, so entries are produced as
they are read from the vault and handed to the HTTP response chunk by chunk.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from vault.audit.events import AccessEvent, record
from vault.audit.log import LogReader
from vault.audit.resident_log import LogItem, ResidentLog
from vault.errors import NotFound
from vault.grants.model import GrantView
from vault.grants.service import GrantService
from vault.ports import Clock
from vault.records.model import RecordView, VersionView
from vault.records.service import RecordService
from vault.representation.acting import actor
from vault.residents.service import ResidentService
from vault.services.service import ServiceInfo, ServiceRegistry
from vault.storage.unit_of_work import UnitOfWorkFactory

FORMAT = "regie-export/1"


class _Pipe:
    """A write-only file object whose bytes the generator below drains after each write."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self._offset = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> bytes:
        out = bytes(self.buffer)
        self.buffer.clear()
        return out


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _iso_or_none(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _entry(name: str, moment: datetime) -> zipfile.ZipInfo:
    """A zip entry dated at the export (zip's default is 1980), deflated."""
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _version_meta(v: VersionView) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "version": v.version,
        "written_by": v.written_by,
        "created_at": _iso(v.created_at),
        "content": f"v{v.version}.json",
    }
    if v.written_by == "representative":
        meta["mandate_id"] = str(v.mandate_id) if v.mandate_id else None
        meta["representative"] = v.representative
    if v.signature is not None:
        meta["signature"] = {
            "jws": v.signature.jws,
            "issuer": v.signature.issuer,
            "kid": v.signature.kid,
            "alg": v.signature.alg,
            "payload": "RFC 8785 JSON of {type, title, content}",
        }
    if v.file is not None:
        meta["file"] = {
            "path": f"v{v.version}/{v.file.filename}",
            "media_type": v.file.media_type,
            "size_bytes": v.file.size_bytes,
        }
    return meta


def _record_meta(r: RecordView, versions: list[VersionView]) -> dict[str, Any]:
    return {
        "record_id": str(r.record_id),
        "category": r.category,
        "type": r.type,
        "kind": r.kind,
        "current_version": r.current_version,
        "title": r.current.title if r.current else None,
        "provenance": {
            "written_by": r.provenance.written_by,
            "service_id": str(r.provenance.service_id) if r.provenance.service_id else None,
            "grant_id": str(r.provenance.grant_id) if r.provenance.grant_id else None,
            "mandate_id": str(r.provenance.mandate_id) if r.provenance.mandate_id else None,
            "representative": r.provenance.representative,
        },
        "created_at": _iso(r.created_at),
        "updated_at": _iso(r.updated_at),
        "versions": [_version_meta(v) for v in versions],
    }


def _grant(g: GrantView, service: ServiceInfo | None) -> dict[str, Any]:
    """One grant as the resident sees it in the app, with its service and whole history."""
    p = g.procedure
    return {
        "grant_id": str(g.grant_id),
        "service": {
            "service_id": str(g.service_id),
            "name": g.service_name,
            "organisation": service.organisation if service else None,
            "kind": service.kind if service else None,
        },
        "status": g.status,
        "end_reason": g.end_reason,
        "requested": {
            "datatypes": list(g.requested_datatypes),
            "actions": list(g.requested_actions),
            "valid_until": _iso(g.requested_valid_until),
        },
        "datatypes": list(g.datatypes),
        "actions": list(g.actions),
        "valid_until": _iso_or_none(g.valid_until),
        "purpose": {"uri": g.purpose_uri, "text": g.purpose_text},
        "legal_basis": g.legal_basis,
        "binding_message": g.binding_message,
        "procedure": {
            "procedure_id": str(p.procedure_id),
            "ref": p.ref,
            "description": p.description,
            "planned_end": _iso_or_none(p.planned_end),
            "status": p.status,
            "closed_by": p.closed_by,
            "closed_at": _iso_or_none(p.closed_at),
        },
        "request_expires_at": _iso(g.request_expires_at),
        "created_at": _iso(g.created_at),
        "decided_at": _iso_or_none(g.decided_at),
        "ended_at": _iso_or_none(g.ended_at),
        "history": [
            {
                "at": _iso(h.at),
                "status": h.status,
                "actor": h.actor,
                "actor_id": h.actor_id,
                "reason": h.reason,
                "details": h.details,
            }
            for h in g.history
        ],
    }


def _log_line(e: LogItem) -> dict[str, Any]:
    """One event of the resident's log, with the fields of `GET /v1/me/log`."""
    return {
        "id": str(e.event_id),
        "at": _iso(e.at),
        "name": e.name,
        "outcome": e.outcome,
        "reason": e.reason,
        "service": {"id": str(e.service_id), "name": e.service_name}
        if e.service_id and e.service_name
        else None,
        "datatype": e.datatype,
        "action": e.action,
        "grant_id": str(e.grant_id) if e.grant_id else None,
        "log_index": e.index,
        "text_nl": e.text_nl,
        "text_en": e.text_en,
    }


class VaultExporter:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        records: RecordService,
        residents: ResidentService,
        grants: GrantService,
        services: ServiceRegistry,
        log: ResidentLog,
        audit: LogReader,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._records = records
        self._residents = residents
        self._grants = grants
        self._services = services
        self._log = log
        self._audit = audit
        self._clock = clock

    def export(self, resident_id: uuid.UUID) -> Iterator[bytes]:
        """The zip archive as a stream of byte chunks. Checks access and logs the export
        (`vault.exported`, in the resident's own log) before the first byte."""
        profile = self._residents.profile(resident_id)
        records = self._records.list_records(resident_id)
        grant_ids = self._grants.grant_ids(resident_id)
        with self._uow() as uow:
            kind, actor_id = actor(resident_id, None)
            record(
                uow,
                AccessEvent(
                    resident_id=resident_id,
                    name="vault.exported",
                    outcome="done",
                    actor=kind,
                    actor_id=actor_id,
                    action="read",
                ),
                self._clock.now(),
            )
            uow.commit()
        return self._stream(resident_id, profile.display_name, records, grant_ids)

    def _stream(
        self,
        resident_id: uuid.UUID,
        display_name: str,
        records: list[RecordView],
        grant_ids: list[uuid.UUID],
    ) -> Iterator[bytes]:
        pipe = _Pipe()
        now = self._clock.now()
        with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            index = []
            for record_view in records:
                try:
                    versions = self._records.versions(resident_id, record_view.record_id)
                except NotFound:
                    continue  # deleted by the resident while the export ran
                base = f"records/{record_view.record_id}"
                archive.writestr(
                    _entry(f"{base}/record.json", now),
                    json.dumps(_record_meta(record_view, versions), indent=2, ensure_ascii=False),
                )
                yield pipe.drain()
                for v in versions:
                    try:
                        full = self._records.get(
                            resident_id, record_view.record_id, v.version
                        ).current
                    except NotFound:
                        break  # deleted meanwhile: its record.json is already written
                    body = {"title": v.title, "content": full.content if full else None}
                    archive.writestr(
                        _entry(f"{base}/v{v.version}.json", now),
                        json.dumps(body, indent=2, ensure_ascii=False),
                    )
                    if v.file is not None:
                        download = self._records.download(
                            resident_id, record_view.record_id, v.version
                        )
                        path = _entry(f"{base}/v{v.version}/{v.file.filename}", now)
                        with archive.open(path, "w") as out:
                            for chunk in download.chunks:
                                out.write(chunk)
                                yield pipe.drain()
                    yield pipe.drain()
                index.append({"record_id": str(record_view.record_id), "path": base})

            grants = 0
            services: dict[uuid.UUID, ServiceInfo | None] = {}
            with archive.open(_entry("grants.json", now), "w") as out:
                out.write(b"[")
                for grant_id in grant_ids:
                    try:
                        grant = self._grants.get(resident_id, grant_id)
                    except NotFound:
                        continue
                    if grant.service_id not in services:
                        try:
                            services[grant.service_id] = self._services.get(grant.service_id)
                        except NotFound:
                            services[grant.service_id] = None  # removed: name says so
                    item = json.dumps(
                        _grant(grant, services[grant.service_id]), indent=2, ensure_ascii=False
                    )
                    out.write((",\n" if grants else "\n").encode() + item.encode())
                    grants += 1
                    yield pipe.drain()
                out.write(b"\n]\n")
            yield pipe.drain()

            events = 0
            with archive.open(_entry("log.jsonl", now), "w") as out:
                for event in self._log.oldest_first(resident_id):
                    out.write(json.dumps(_log_line(event), ensure_ascii=False).encode() + b"\n")
                    events += 1
                    if events % 100 == 0:
                        yield pipe.drain()
            yield pipe.drain()

            # Read after the log: it covers every `log_index` in log.jsonl (an index and the
            # checkpoint that first covers it are written in one transaction).
            checkpoint: dict[str, Any] | None = None
            try:
                signed = self._audit.checkpoint()
            except NotFound:
                signed = None  # a new vault whose log has no checkpoint yet
            if signed is not None:
                archive.writestr(_entry("checkpoint.txt", now), signed.note)
                checkpoint = {"path": "checkpoint.txt", "size": signed.size}

            manifest = {
                "format": FORMAT,
                "exported_at": _iso(now),
                "resident": {"display_name": display_name},
                "records": index,
                "grants": {"path": "grants.json", "count": grants},
                "log": {"path": "log.jsonl", "count": events, "checkpoint": checkpoint},
            }
            archive.writestr(
                _entry("manifest.json", now), json.dumps(manifest, indent=2, ensure_ascii=False)
            )
        yield pipe.drain()
