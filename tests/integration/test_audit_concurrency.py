"""The integrator with real commits: several integrators at once while events keep arriving,
and a round that fails half-way. Every event gets exactly one index, the tree matches every
checkpoint, and a failed round leaves nothing behind."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Database, drop_database, new_database
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from keys import note
from vault.audit import leaf, merkle
from vault.audit.events import AccessEvent, record
from vault.audit.log import Integrator, LogReader
from vault.storage.orm import AccessEventRow, AuditCheckpointRow, AuditTileRow
from vault.storage.unit_of_work import SqlUnitOfWork, UnitOfWorkFactory

NAME = "test.example/audit"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Signer:
    def __init__(self, key: note.Signer, *, fail: bool = False) -> None:
        self._key = key
        self.name = NAME
        self.fail = fail

    def sign(self, text: str) -> bytes:
        if self.fail:
            raise RuntimeError("the key backend went away")
        return note.sign(text, [self._key])


def subject(value: str) -> str:
    return "h:" + value


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = new_database(request.param, tmp_path)
    yield database
    drop_database(database)


def uow_of(db: Database) -> UnitOfWorkFactory:
    factory = sessionmaker(bind=db.engine, expire_on_commit=False)
    return lambda: SqlUnitOfWork(factory)


def add(uow: UnitOfWorkFactory, n: int) -> None:
    with uow() as u:
        for _ in range(n):
            record(
                u,
                AccessEvent(
                    resident_id=uuid.uuid4(), name="record.read", outcome="permit", actor="system"
                ),
                datetime.now(UTC),
            )
        u.commit()


def test_integrators_at_once_while_events_arrive(db: Database) -> None:
    uow = uow_of(db)
    key = note.Signer.generate(NAME)
    add(uow, 500)
    stop = threading.Event()
    errors: list[BaseException] = []

    def integrate() -> None:
        i = Integrator(uow=uow, clock=Clock(), signer=Signer(key), subject_hash=subject, batch=37)
        try:
            while not stop.is_set():
                try:
                    i.run_once()
                except Exception as e:
                    # SQLite refuses a second writer with "database is locked": a round that
                    # fails is retried; PostgreSQL's advisory lock makes the others wait.
                    if db.kind == "postgresql" or "locked" not in str(e):
                        raise
        except BaseException as e:  # noqa: BLE001 - reported to the test thread below
            errors.append(e)

    def write() -> None:
        try:
            for _ in range(20):
                add(uow, 25)
        except BaseException as e:  # noqa: BLE001 - reported to the test thread below
            errors.append(e)

    threads = [threading.Thread(target=integrate) for _ in range(3)]
    writer = threading.Thread(target=write)
    for t in [*threads, writer]:
        t.start()
    writer.join(120)
    # Let the integrators catch up, then stop them.
    final = Integrator(uow=uow, clock=Clock(), signer=Signer(key), subject_hash=subject)
    deadline = datetime.now(UTC).timestamp() + 60
    while datetime.now(UTC).timestamp() < deadline:
        with uow() as u:
            waiting = u.session.scalar(
                select(func.count()).select_from(AccessEventRow).where(AccessEventRow.seq.is_(None))
            )
        if not waiting:
            break
    stop.set()
    for t in threads:
        t.join(60)
    assert not errors, errors
    final.run_once()

    with uow() as u:
        seqs = sorted(u.session.scalars(select(AccessEventRow.seq)).all())
        sizes = u.session.scalars(select(AuditCheckpointRow.size)).all()
    assert seqs == list(range(1000))  # each event once, no gaps, no doubles
    reader = LogReader(uow=uow, subject_hash=subject)
    hashes = [leaf.leaf_hash(e.entry) for e in reader.entries(0, 1000)]
    verifier = key.verifier
    for size in sizes:
        cp = reader.checkpoint(size)
        assert note.open_checkpoint(cp.note.encode(), verifier, NAME).root_hash == cp.root_hash
        assert merkle.root(hashes[:size]) == cp.root_hash
    assert max(sizes) == 1000


def test_a_round_that_fails_leaves_nothing_behind(db: Database) -> None:
    uow = uow_of(db)
    key = note.Signer.generate(NAME)
    signer = Signer(key)
    i = Integrator(uow=uow, clock=Clock(), signer=signer, subject_hash=subject, batch=300)
    add(uow, 300)
    i.run_once()
    with uow() as u:
        tiles_before = {(t.level, t.idx): t.hashes for t in u.session.scalars(select(AuditTileRow))}
    add(uow, 100)
    signer.fail = True
    with pytest.raises(RuntimeError):
        i.run_once()
    with uow() as u:
        tiles_after = {(t.level, t.idx): t.hashes for t in u.session.scalars(select(AuditTileRow))}
        waiting = u.session.scalar(
            select(func.count()).select_from(AccessEventRow).where(AccessEventRow.seq.is_(None))
        )
        sizes = u.session.scalars(select(AuditCheckpointRow.size)).all()
    assert tiles_after == tiles_before
    assert waiting == 100
    assert sizes == [300]
    signer.fail = False
    assert i.run_once() == 100
    reader = LogReader(uow=uow, subject_hash=subject)
    hashes = [leaf.leaf_hash(e.entry) for e in reader.entries(0, 400)]
    assert merkle.root(hashes) == reader.checkpoint().root_hash
