"""Files are streamed: a 20 MB upload and download never hold the file in memory."""

from __future__ import annotations

import hashlib
import tracemalloc

from api.container import Container
from support.residents import make_resident

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
