"""Files are streamed: a 20 MB upload and download never hold the file in memory, and an
export with a long access log never holds the log."""

from __future__ import annotations

import hashlib
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.container import Container
from support.residents import make_resident
from vault.audit.events import AccessEvent, record_many

SIZE = 20 * 1024 * 1024
PIECE = 64 * 1024


def test_upload_and_download_of_20_mb_stay_under_4_mb_of_memory(container: Container) -> None:
    rid = make_resident(container)
    record = container.records.create(
        rid, category="documents", record_type="documents.other", title="Scan", kind="file"
    )
    piece = bytes(range(256)) * (PIECE // 256)
    expected = hashlib.sha256()

    tracemalloc.start()
    try:
        upload = container.records.upload(
            rid, record.record_id, media_type="application/pdf", filename="scan.pdf"
        )
        for i in range(SIZE // PIECE):
            data = piece[i % 256 :] + piece[: i % 256]
            expected.update(data)
            upload.write(data)
        view = upload.finish()
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got = hashlib.sha256()
        size = 0
        for chunk in container.records.download(rid, record.record_id).chunks:
            got.update(chunk)
            size += len(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert view.current is not None
    assert view.current.file is not None
    assert view.current.file.size_bytes == SIZE == size
    assert got.digest() == expected.digest()
    assert upload_peak < 4 * 1024 * 1024, f"upload peaked at {upload_peak / 2**20:.1f} MiB"
    assert download_peak < 4 * 1024 * 1024, f"download peaked at {download_peak / 2**20:.1f} MiB"


EVENTS = 12_000


def test_an_export_with_a_long_log_stays_under_4_mb_of_memory(
    container: Container, tmp_path: Path
) -> None:
    """12,000 events (about 5 MB of log.jsonl) go out a batch at a time, never all at once."""
    rid = make_resident(container)
    start = datetime.now(UTC) - timedelta(days=1)
    for minute in range(EVENTS // 1000):
        with container.uow() as uow:
            event = AccessEvent(
                resident_id=rid,
                name="record.created",
                outcome="done",
                actor="resident",
                actor_id=str(rid),
                datatype="health.medication",
                action="write",
            )
            record_many(uow, [event] * 1000, start + timedelta(minutes=minute))
            uow.commit()
    target = tmp_path / "export.zip"
    tracemalloc.start()
    try:
        with target.open("wb") as out:
            for chunk in container.exporter.export(rid):
                out.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        info = archive.getinfo("log.jsonl")
        with archive.open(info) as lines:
            count = sum(1 for _ in lines)
    assert count == EVENTS + 1  # and the export's own vault.exported
    assert info.file_size > 4 * 1024 * 1024, info.file_size
    assert peak < 4 * 1024 * 1024, f"the export peaked at {peak / 2**20:.1f} MiB"
