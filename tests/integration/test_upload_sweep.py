"""Uploads that never finished (the request cut off: a worker killed, the connection gone)
leave sealed chunks no version refers to. The sweeper drops them once they are older than
`REGIE_UPLOAD_ABANDON_SECONDS`, and nothing else: finished files, uploads still under way
and other residents' uploads stay. An upload that comes back after its chunks were swept is
refused with a conflict, never a database error. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import sessionmaker

from api.bootstrap import build_container
from api.container import Container
from api.settings import Settings
from api.workers import sweep_worker
from support.clock import FakeClock
from support.residents import make_resident
from vault.errors import Conflict
from vault.records.service import CHUNK_BYTES, CHUNKS_PER_TRANSACTION, FileUpload
from vault.storage.orm import BlobChunkRow, BlobRow

DAY = timedelta(days=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def c(settings: Settings, connection: Connection, clock: FakeClock) -> Container:
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return build_container(settings, session_factory=factory, clock=clock)


def file_record(c: Container, resident: uuid.UUID) -> uuid.UUID:
    made = c.records.create(
        resident, category="documents", record_type="documents.other", title="Scan", kind="file"
    )
    return made.record_id


def cut_off(c: Container, resident: uuid.UUID, record_id: uuid.UUID) -> FileUpload:
    """An upload that stored one transaction of chunks, then stopped (not aborted)."""
    upload = c.records.upload(resident, record_id, media_type="application/pdf", filename="a.pdf")
    upload.write(b"x" * (CHUNK_BYTES * CHUNKS_PER_TRANSACTION + 1))  # one flush of chunks
    return upload


def stored(c: Container) -> tuple[int, int]:
    with c.uow() as uow:
        blobs = uow.session.scalar(select(func.count()).select_from(BlobRow))
        chunks = uow.session.scalar(select(func.count()).select_from(BlobChunkRow))
        return int(blobs or 0), int(chunks or 0)


def test_only_uploads_abandoned_long_enough_are_dropped(c: Container, clock: FakeClock) -> None:
    anna, bram = make_resident(c), make_resident(c)
    finished = file_record(c, anna)
    done = c.records.upload(anna, finished, media_type="application/pdf", filename="ok.pdf")
    done.write(b"finished file")
    done.finish()
    old = cut_off(c, anna, file_record(c, anna))
    bram_old = cut_off(c, bram, file_record(c, bram))
    assert stored(c) == (3, 1 + 2 * CHUNKS_PER_TRANSACTION)

    clock.advance(hours=23)
    young = cut_off(c, anna, file_record(c, anna))
    assert c.records.sweep_abandoned_uploads(older_than=DAY, batch=100) == 0
    clock.advance(hours=2)  # old and bram_old began 25 hours ago, young 2 hours ago
    assert c.records.sweep_abandoned_uploads(older_than=DAY, batch=100) == 2
    assert stored(c) == (2, 1 + CHUNKS_PER_TRANSACTION)  # the finished file and young's
    assert c.records.sweep_abandoned_uploads(older_than=DAY, batch=100) == 0

    # The finished file still opens; the cut-off records never got a version.
    assert b"".join(c.records.download(anna, finished).chunks) == b"finished file"
    placeholder = c.records.get(anna, old.record_id).current
    assert placeholder is not None
    assert (placeholder.version, placeholder.file) == (0, None)  # the title only, no file
    # The young one goes on and finishes; the swept ones are refused, kindly.
    young.write(b"y" * CHUNK_BYTES * CHUNKS_PER_TRANSACTION)
    assert young.finish().current is not None
    for gone in (old, bram_old):
        with pytest.raises(Conflict, match="abandoned"):
            gone.write(b"z" * CHUNK_BYTES * CHUNKS_PER_TRANSACTION)


def test_the_sweep_takes_a_batch_at_a_time(c: Container, clock: FakeClock) -> None:
    anna = make_resident(c)
    for _ in range(3):
        cut_off(c, anna, file_record(c, anna))
    clock.advance(days=2)
    assert c.records.sweep_abandoned_uploads(older_than=DAY, batch=2) == 2
    assert c.records.sweep_abandoned_uploads(older_than=DAY, batch=2) == 1
    assert stored(c) == (0, 0)


def test_the_servers_sweeper_drops_them_with_the_configured_age(
    settings: Settings, connection: Connection, clock: FakeClock
) -> None:
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    short = settings.model_copy(update={"upload_abandon_seconds": 3600})
    c = build_container(short, session_factory=factory, clock=clock)
    anna = make_resident(c)
    cut_off(c, anna, file_record(c, anna))
    clock.advance(minutes=59)
    sweep_worker(c).run_once()
    assert stored(c)[0] == 1
    clock.advance(minutes=2)
    sweep_worker(c).run_once()
    assert stored(c) == (0, 0)
