"""Export of a whole vault as a zip, streamed: never the whole archive in memory or on disk.

Format ``regie-export/1`` (documented in docs/export-format.md):

    manifest.json                         format, exported_at, resident, record index
    records/<record_id>/record.json       category, type, kind, provenance, versions (metadata)
    records/<record_id>/v<N>.json         title and JSON content of version N
    records/<record_id>/v<N>/<filename>   file content of version N (file records)

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

from vault.errors import NotFound
from vault.ports import Clock
from vault.records.model import RecordView, VersionView
from vault.records.service import RecordService
from vault.residents.service import ResidentService

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
        },
        "created_at": _iso(r.created_at),
        "updated_at": _iso(r.updated_at),
        "versions": [_version_meta(v) for v in versions],
    }


class VaultExporter:
    def __init__(self, *, records: RecordService, residents: ResidentService, clock: Clock) -> None:
        self._records = records
        self._residents = residents
        self._clock = clock

    def export(self, resident_id: uuid.UUID) -> Iterator[bytes]:
        """The zip archive as a stream of byte chunks. Checks access before the first byte."""
        profile = self._residents.profile(resident_id)
        records = self._records.list_records(resident_id)
        return self._stream(resident_id, profile.display_name, records)

    def _stream(
        self, resident_id: uuid.UUID, display_name: str, records: list[RecordView]
    ) -> Iterator[bytes]:
        pipe = _Pipe()
        now = self._clock.now()
        with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            index = []
            for record in records:
                try:
                    versions = self._records.versions(resident_id, record.record_id)
                except NotFound:
                    continue  # deleted by the resident while the export ran
                base = f"records/{record.record_id}"
                archive.writestr(
                    _entry(f"{base}/record.json", now),
                    json.dumps(_record_meta(record, versions), indent=2, ensure_ascii=False),
                )
                yield pipe.drain()
                for v in versions:
                    try:
                        full = self._records.get(resident_id, record.record_id, v.version).current
                    except NotFound:
                        break  # deleted meanwhile: its record.json is already written
                    body = {"title": v.title, "content": full.content if full else None}
                    archive.writestr(
                        _entry(f"{base}/v{v.version}.json", now),
                        json.dumps(body, indent=2, ensure_ascii=False),
                    )
                    if v.file is not None:
                        download = self._records.download(resident_id, record.record_id, v.version)
                        path = _entry(f"{base}/v{v.version}/{v.file.filename}", now)
                        with archive.open(path, "w") as out:
                            for chunk in download.chunks:
                                out.write(chunk)
                                yield pipe.drain()
                    yield pipe.drain()
                index.append({"record_id": str(record.record_id), "path": base})
            manifest = {
                "format": FORMAT,
                "exported_at": _iso(now),
                "resident": {"display_name": display_name},
                "records": index,
            }
            archive.writestr(
                _entry("manifest.json", now), json.dumps(manifest, indent=2, ensure_ascii=False)
            )
        yield pipe.drain()
