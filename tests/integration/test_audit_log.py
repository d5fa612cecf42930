"""The verifiable log on a real database: sequencing, tiles, checkpoints, proofs, exports.

Attacks: a stored event changed or removed after it was logged, a tile changed, an export
edited, reordered or cut short, a checkpoint of another log or under another key. Each must
be caught, and named by the index it concerns.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError

from api.container import Container
from keys.errors import NoteError
from keys.note import Checkpoint, Signer, Verifier, open_checkpoint
from support import leaf_reference as reference
from support.residents import sign_up
from vault import tracecontext
from vault.audit import leaf, log, merkle
from vault.audit.events import AccessEvent, record
from vault.audit.log import Integrator, LogCorrupted, LogReader, frontier_nodes, node_tile
from vault.audit.verify import ExportInvalid, verify_export
from vault.errors import NotFound
from vault.storage import queries
from vault.storage.orm import AccessEventRow, AuditTileRow, ResidentRow

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def add_events(c: Container, n: int, *, resident: uuid.UUID | None = None) -> list[uuid.UUID]:
    """`n` committed events (a service reading, alternately allowed and refused)."""
    ids = []
    with c.uow() as uow:
        for i in range(n):
            ids.append(
                record(
                    uow,
                    AccessEvent(
                        resident_id=resident or uuid.uuid4(),
                        name="record.read",
                        outcome="permit" if i % 3 else "deny",
                        reason=None if i % 3 else "grant-revoked",
                        actor="service",
                        actor_id=str(uuid.uuid4()),
                        service_id=uuid.uuid4(),
                        grant_id=uuid.uuid4(),
                        datatype="health.medication",
                        action="read",
                    ),
                    T0 + timedelta(milliseconds=i),
                )
            )
        uow.commit()
    return ids


def integrator(c: Container, batch: int) -> Integrator:
    """The container's integrator, with a smaller batch."""
    return Integrator(
        uow=c.uow, clock=c.clock, signer=c.log_key, subject_hash=c.audit.subject_hash, batch=batch
    )


def root_of(signed: str) -> bytes:
    return Checkpoint.parse(signed.split("\n\n", 1)[0] + "\n").root_hash


def verifier(c: Container) -> Verifier:
    return Verifier.parse(c.log_key.verifier_key)


def test_an_empty_log_signs_the_checkpoint_of_size_zero(container: Container) -> None:
    with pytest.raises(NotFound):
        container.audit.checkpoint()
    assert container.integrator.run_once() == 0
    cp = container.audit.checkpoint()
    assert (cp.size, cp.root_hash) == (0, merkle.EMPTY_ROOT)
    opened = open_checkpoint(cp.note.encode(), verifier(container), container.log_key.name)
    assert opened.size == 0
    assert container.integrator.run_once() == 0
    assert len(container.audit.checkpoints()) == 1  # nothing new: no new checkpoint


def test_rounds_across_tile_boundaries_build_the_rfc_tree(container: Container) -> None:
    add_events(container, 600)
    rounds = integrator(container, batch=97)
    taken = []
    while n := rounds.run_once():
        taken.append(n)
    assert taken == [97] * 6 + [18]
    history = container.audit.checkpoints()
    assert [cp.size for cp in history] == [97 * k for k in range(1, 7)] + [600]
    # The stored tree is RFC 9162's tree over the entries' canonical bytes, in index order.
    entries = list(container.audit.entries(0, 600))
    assert [e.index for e in entries] == list(range(600))
    hashes = [leaf.leaf_hash(e.entry) for e in entries]
    assert hashes == [e.leaf_hash for e in entries]
    assert merkle.root(hashes) == history[-1].root_hash
    for cp in history:
        assert merkle.root(hashes[: cp.size]) == cp.root_hash
        assert open_checkpoint(cp.note.encode(), verifier(container), container.log_key.name)
    # Tiles after C2SP tlog-tiles: two full level-0 tiles, a partial third, level 1 partial.
    with container.uow() as uow:
        tiles = {
            (t.level, t.idx): len(t.hashes) // 32 for t in uow.session.scalars(select(AuditTileRow))
        }
    assert tiles == {(0, 0): 256, (0, 1): 256, (0, 2): 88, (1, 0): 2}


def test_every_inclusion_and_consistency_proof_verifies(container: Container) -> None:
    add_events(container, 300)
    rounds = integrator(container, batch=64)
    while rounds.run_once():
        pass
    history = container.audit.checkpoints()
    latest = history[-1]
    for index in [*range(0, 300, 7), 255, 256, 299]:
        proof = container.audit.inclusion(index)
        assert proof.size == 300
        merkle.verify_inclusion(proof.leaf_hash, index, 300, proof.hashes, latest.root_hash)
        # ... and against an older checkpoint that holds it.
        older = next(cp for cp in history if cp.size > index)
        p2 = container.audit.inclusion(index, older.size)
        merkle.verify_inclusion(p2.leaf_hash, index, older.size, p2.hashes, older.root_hash)
        assert root_of(p2.checkpoint) == older.root_hash
    for old in history:
        for new in history:
            if old.size <= new.size:
                c = container.audit.consistency(old.size, new.size)
                merkle.verify_consistency(
                    old.size, new.size, old.root_hash, new.root_hash, c.hashes
                )
    with pytest.raises(NotFound):
        container.audit.inclusion(300)
    with pytest.raises(NotFound):
        container.audit.inclusion(0, 5)  # no checkpoint of size 5
    with pytest.raises(NotFound):
        container.audit.consistency(history[-1].size, history[0].size)


def test_proofs_stay_right_as_the_log_grows_and_when_tiles_come_in_a_second_read(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_events(container, 300)
    while container.integrator.run_once():
        pass
    first = container.audit.checkpoint()
    proof = container.audit.inclusion(5)  # the reader has now seen a tree of 300
    merkle.verify_inclusion(proof.leaf_hash, 5, 300, proof.hashes, first.root_hash)
    add_events(container, 400)
    while container.integrator.run_once():
        pass
    latest = container.audit.checkpoint()
    assert latest.size == 700
    # A reader that reads only level-0 tiles with the checkpoint: level 1 comes in a second
    # statement. Both readers, cache warm and cold, give the same verifying proofs.
    monkeypatch.setattr(log, "_tile_levels", lambda size: 0)
    fresh = LogReader(uow=container.uow, subject_hash=container.audit.subject_hash)
    for index in [*range(0, 700, 13), 255, 256, 299, 511, 512, 699]:
        for reader in (container.audit, fresh):
            p = reader.inclusion(index)
            assert p.size == 700
            merkle.verify_inclusion(p.leaf_hash, index, 700, p.hashes, latest.root_hash)
            if index < 300:
                old = reader.inclusion(index, 300)
                merkle.verify_inclusion(old.leaf_hash, index, 300, old.hashes, first.root_hash)
    with pytest.raises(NotFound):
        fresh.inclusion(700)
    with pytest.raises(NotFound):
        fresh.inclusion(-1)


def test_a_failed_sequencing_statement_signs_nothing(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_events(container, 50)
    container.integrator.run_once()
    add_events(container, 20)
    real = queries.set_event_seqs

    def one_short(dialect: str, events: Any, first: int) -> Any:
        return real(dialect, events[1:], first + 1)  # an event changed meanwhile

    def failing(dialect: str, events: Any, first: int) -> Any:
        return text("UPDATE access_events SET event_id = NULL"), {}  # NOT NULL: refused

    for patched, error in ((one_short, LogCorrupted), (failing, IntegrityError)):
        monkeypatch.setattr(queries, "set_event_seqs", patched)
        with pytest.raises(error):
            container.integrator.run_once()
        assert container.audit.checkpoint().size == 50
        with container.uow() as uow:
            waiting = uow.session.scalars(
                select(AccessEventRow.event_id).where(AccessEventRow.seq.is_(None))
            ).all()
        assert len(waiting) == 20
    monkeypatch.setattr(queries, "set_event_seqs", real)
    assert container.integrator.run_once() == 20


def test_a_tampered_tile_stops_the_integrator(container: Container) -> None:
    add_events(container, 40)
    container.integrator.run_once()
    with container.uow() as uow:
        tile = uow.session.get(AuditTileRow, (0, 0))
        assert tile is not None
        changed = bytearray(tile.hashes)
        changed[32 * 39] ^= 1  # the last leaf: a peak of the tree
        tile.hashes = bytes(changed)
        uow.commit()
    add_events(container, 1)
    with pytest.raises(LogCorrupted):
        container.integrator.run_once()
    with container.uow() as uow:  # nothing was sequenced or signed on top of it
        assert (
            uow.session.scalar(
                select(AccessEventRow.seq).where(AccessEventRow.seq.is_(None)).limit(1)
            )
            is None
        )
        waiting = uow.session.scalars(
            select(AccessEventRow).where(AccessEventRow.seq.is_(None))
        ).all()
    assert len(waiting) == 1
    assert container.audit.checkpoint().size == 40


def test_entries_hold_no_personal_data_and_carry_the_trace(container: Container) -> None:
    resident = uuid.uuid4()
    trace = tracecontext.start().child()
    token = tracecontext.set_current(trace)
    try:
        add_events(container, 2, resident=resident)
    finally:
        tracecontext.reset(token)
    container.integrator.run_once()
    entries = [e.entry for e in container.audit.entries(0, 2)]
    raw = b"".join(leaf.encode(e) for e in entries)
    assert str(resident).encode() not in raw
    assert entries[0]["subject"] == entries[1]["subject"] != str(resident)
    assert len(entries[0]["subject"] or "") == 64
    assert entries[0]["subject_id_type"] == "regie:keyed-hash"
    assert {e["trace_id"] for e in entries} == {trace.trace_id}
    assert {e["parent_span_id"] for e in entries} == {trace.parent_span_id}
    assert entries[0]["status_code"] == "ERROR"
    assert entries[1]["status_code"] == "OK"
    assert entries[0]["start_time"] == "2026-12-02T09:00:00.000000Z"
    # The canonical form is JCS for strings and nulls: sorted, compact, UTF-8.
    first = leaf.encode(entries[0])
    assert first == json.dumps(entries[0], sort_keys=True, separators=(",", ":")).encode()
    assert leaf.decode(first) == entries[0]
    with pytest.raises(ValueError, match="canonical"):
        leaf.decode(json.dumps(entries[0], indent=1).encode())


# Times at the edges of the texts the database writes for the integrator (years 1000-9999,
# microseconds 0 and 999999, another zone) and outside them (the datetime then comes instead).
ODD_TIMES = (
    datetime(5, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1000, 1, 1, tzinfo=UTC),
    T0,
    T0 + timedelta(microseconds=999999),
    datetime(2026, 12, 2, 15, 30, 1, 7, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
)
ODD_TEXTS = ("é€😀", 'a"b\\c/d', "\x01\x1f\x7f", "\u2028\u2029", "")


def test_the_integrator_hashes_stored_events_as_they_were_always_hashed(
    container: Container,
) -> None:
    """On PostgreSQL the integrator has the database write the UUIDs' and the time's texts;
    its leaves must still be the old serializer's bytes (tests/support/leaf_reference.py) of
    the stored rows, odd values included, and what the export rebuilds must equal them."""
    persons = ("resident", "service", "auditor", "operator", "system")
    with container.uow() as uow:
        for i, at in enumerate(ODD_TIMES * 3):
            text_value = ODD_TEXTS[i % len(ODD_TEXTS)]
            record(
                uow,
                AccessEvent(
                    resident_id=leaf.NO_RESIDENT if i % 4 == 0 else uuid.uuid4(),
                    name="record.read" if i % 2 else text_value,
                    outcome=("permit", "deny", "done")[i % 3],  # type: ignore[arg-type]
                    actor=persons[i % len(persons)],  # type: ignore[arg-type]
                    actor_id=None if i % 5 == 0 else text_value or str(uuid.uuid4()),
                    reason=text_value if i % 2 else None,
                    service_id=uuid.uuid4() if i % 3 else None,
                    grant_id=uuid.UUID(int=i) if i % 2 else None,
                    procedure_id=uuid.uuid4() if i % 3 == 1 else None,
                    record_id=uuid.UUID(int=2**128 - 1 - i),
                    datatype=text_value,
                    action=None if i % 2 else "read",
                    purpose=text_value,
                    legal_basis="https://w3id.org/dpv#Consent",
                ),
                at,
            )
        uow.commit()
    n = len(ODD_TIMES) * 3
    while integrator(container, batch=8).run_once():
        pass
    with container.uow() as uow:
        rows = (
            uow.session.execute(select(AccessEventRow.__table__).order_by(AccessEventRow.seq))
            .mappings()
            .all()
        )
    assert [r["seq"] for r in rows] == list(range(n))
    # In the order they happened, as always (oldest first; the event id breaks ties).
    assert [(r["at"], r["event_id"]) for r in rows] == sorted(
        (r["at"], r["event_id"]) for r in rows
    )
    expected = [
        merkle.leaf_hash(reference.encode(reference.entry(r, container.audit.subject_hash)))
        for r in rows
    ]
    logged = list(container.audit.entries(0, n))
    assert [e.leaf_hash for e in logged] == expected  # what the integrator put in the tree
    assert [leaf.leaf_hash(e.entry) for e in logged] == expected  # what the export rebuilds
    assert logged[0].entry["start_time"] == "5-01-01T00:00:00.000000Z"  # as strftime wrote it
    assert container.audit.checkpoint().root_hash == merkle.root(expected)


# -- exports, verified offline ---------------------------------------------------------------


def exported(c: Container) -> tuple[list[str], bytes, str]:
    lines = list(c.audit.export())
    return lines, c.audit.checkpoint().note.encode(), c.log_key.verifier_key


@pytest.fixture
def logged(container: Container) -> Container:
    add_events(container, 300)
    container.integrator.run_once()
    return container


def test_a_complete_export_verifies(logged: Container) -> None:
    lines, cp, key = exported(logged)
    counted = []
    result = verify_export(lines, checkpoint=cp, verifier_key=key, progress=counted.append)
    assert (result.size, result.entries, result.complete) == (300, 300, True)
    assert result.origin == logged.log_key.name
    assert counted[-1] == 300


def _fails(lines: list[str], cp: bytes, key: str, index: int | None, match: str) -> None:
    with pytest.raises(ExportInvalid, match=match) as caught:
        verify_export(lines, checkpoint=cp, verifier_key=key)
    assert caught.value.index == index


def test_an_event_changed_in_the_database_is_named(logged: Container) -> None:
    with logged.uow() as uow:
        uow.session.execute(
            update(AccessEventRow).where(AccessEventRow.seq == 123).values(datatype="income")
        )
        uow.commit()
    _fails(*exported(logged), index=123, match="entry 123 differs")


def test_an_event_removed_from_the_database_is_named(logged: Container) -> None:
    with logged.uow() as uow:
        uow.session.execute(delete(AccessEventRow).where(AccessEventRow.seq == 7))
        uow.commit()
    _fails(*exported(logged), index=7, match="entry 7 is missing")


def test_a_changed_tile_breaks_the_root(logged: Container) -> None:
    with logged.uow() as uow:  # change an entry and its leaf hash together
        uow.session.execute(
            update(AccessEventRow).where(AccessEventRow.seq == 200).values(outcome="deny")
        )
        row = (
            uow.session.execute(select(AccessEventRow.__table__).where(AccessEventRow.seq == 200))
            .mappings()
            .one()
        )
        tile = uow.session.get(AuditTileRow, (0, 0))
        assert tile is not None
        forged = leaf.leaf_hash(leaf.entry(row, logged.audit.subject_hash))
        tile.hashes = tile.hashes[: 32 * 200] + forged + tile.hashes[32 * 201 :]
        uow.commit()
    _fails(*exported(logged), index=None, match="do not build the checkpoint's root")


def test_an_edited_export_is_caught(logged: Container) -> None:
    lines, cp, key = exported(logged)
    edited = json.loads(lines[51])
    edited["entry"]["name"] = "record.write"
    _fails([*lines[:51], json.dumps(edited), *lines[52:]], cp, key, 50, "entry 50 differs")
    swapped = [*lines[:10], lines[11], lines[10], *lines[12:]]
    _fails(swapped, cp, key, 9, "entry 9 is missing")
    _fails(lines[:-1], cp, key, 299, "ends at entry 299")
    _fails([*lines, lines[-1]], cp, key, 299, "out of order or repeated")
    forged = json.loads(lines[1])
    forged["leaf_hash"] = base64.b64encode(b"\x00" * 31).decode()
    _fails([lines[0], json.dumps(forged), *lines[2:]], cp, key, 0, "not a 32-byte hash")
    _fails(["{}", *lines[1:]], cp, key, None, "not in format")
    _fails([], cp, key, None, "no header")


def test_a_checkpoint_under_another_key_or_log_is_refused(logged: Container) -> None:
    lines, cp, key = exported(logged)
    other = Signer.generate(logged.log_key.name)
    _fails(lines, cp, other.verifier.verifier_key, None, "does not verify under this key")
    stranger = Signer.generate("elsewhere.example/audit")
    _fails(lines, cp, stranger.verifier.verifier_key, None, "does not verify")
    tampered = cp.replace(b"\n300\n", b"\n301\n")
    _fails(lines, tampered, key, None, "does not verify")
    with pytest.raises(NoteError):
        open_checkpoint(tampered, verifier(logged), logged.log_key.name)


def test_an_excerpt_verifies_with_inclusion_proofs(logged: Container) -> None:
    lines, cp, key = exported(logged)
    header = json.loads(lines[0])
    header["complete"] = False
    excerpt = [json.dumps(header)]
    for index in (3, 150, 299):
        item = json.loads(lines[index + 1])
        proof = logged.audit.inclusion(index)
        item["inclusion"] = [base64.b64encode(h).decode() for h in proof.hashes]
        excerpt.append(json.dumps(item))
    result = verify_export(excerpt, checkpoint=cp, verifier_key=key)
    assert (result.entries, result.complete) == (3, False)
    bad = json.loads(excerpt[2])
    bad["inclusion"][0] = base64.b64encode(b"\x01" * 32).decode()
    _fails([*excerpt[:2], json.dumps(bad), excerpt[3]], cp, key, 150, "not in the checkpoint")
    del bad["inclusion"]
    _fails([*excerpt[:2], json.dumps(bad), excerpt[3]], cp, key, 150, "no inclusion proof")


def test_node_tile_and_frontier_nodes() -> None:
    assert node_tile(0, 300) == (0, 1, 44, 1)
    assert node_tile(3, 40) == (0, 1, 64, 8)
    assert node_tile(8, 2) == (1, 0, 2, 1)
    assert node_tile(9, 200) == (1, 1, 144, 2)
    assert frontier_nodes(0) == []
    assert frontier_nodes(13) == [(3, 0), (2, 2), (0, 12)]


# -- the public API --------------------------------------------------------------------------


def test_the_api_serves_key_checkpoints_and_proofs(client: TestClient, logged: Container) -> None:
    key = client.get("/v1/audit/key").json()
    assert key == {"origin": logged.log_key.name, "verifier_key": logged.log_key.verifier_key}
    got = client.get("/v1/audit/checkpoint")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/plain")
    signed = open_checkpoint(got.content, Verifier.parse(key["verifier_key"]), key["origin"])
    assert signed.size == 300
    history = client.get("/v1/audit/checkpoints").json()["checkpoints"]
    assert [cp["size"] for cp in history] == [300]
    proof = client.get("/v1/audit/proof/inclusion", params={"index": 42}).json()
    merkle.verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        42,
        proof["size"],
        [base64.b64decode(h) for h in proof["hashes"]],
        signed.root_hash,
    )
    add_events(logged, 5)
    logged.integrator.run_once()
    new = open_checkpoint(
        client.get("/v1/audit/checkpoint").content,
        Verifier.parse(key["verifier_key"]),
        key["origin"],
    )
    consistency = client.get("/v1/audit/proof/consistency", params={"old": 300}).json()
    assert (consistency["old_size"], consistency["new_size"]) == (300, 305)
    merkle.verify_consistency(
        300,
        305,
        signed.root_hash,
        new.root_hash,
        [base64.b64decode(h) for h in consistency["hashes"]],
    )


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v1/audit/checkpoint", {"size": 7}, 404),
        ("/v1/audit/checkpoint", {"size": -1}, 422),
        ("/v1/audit/proof/inclusion", {"index": 300}, 404),
        ("/v1/audit/proof/inclusion", {"index": "x"}, 422),
        ("/v1/audit/proof/inclusion", {}, 422),
        ("/v1/audit/proof/consistency", {"old": 301}, 404),
        ("/v1/audit/checkpoints", {"limit": 0}, 422),
    ],
)
def test_bad_requests_get_problems(
    client: TestClient, logged: Container, path: str, params: dict[str, object], status: int
) -> None:
    got = client.get(path, params=params)
    assert got.status_code == status, got.text
    assert got.headers["content-type"] == "application/problem+json"


def test_two_events_swapped_in_the_database_are_named(logged: Container) -> None:
    with logged.uow() as uow:
        for seq, to in ((40, -1), (41, 40), (-1, 41)):  # through a free value: seq is unique
            uow.session.execute(
                update(AccessEventRow).where(AccessEventRow.seq == seq).values(seq=to)
            )
        uow.commit()
    _fails(*exported(logged), index=40, match="entry 40 differs")


def test_a_cut_tail_with_a_forged_event_appended_is_named(logged: Container) -> None:
    with logged.uow() as uow:
        uow.session.execute(delete(AccessEventRow).where(AccessEventRow.seq >= 290))
        uow.commit()
    add_events(logged, 1)
    with logged.uow() as uow:  # someone gives the forged event the place of the first cut one
        uow.session.execute(
            update(AccessEventRow).where(AccessEventRow.seq.is_(None)).values(seq=290)
        )
        uow.commit()
    _fails(*exported(logged), index=290, match="entry 290 differs")


def test_a_shredded_residents_events_hold_no_personal_data_and_still_verify(
    client: TestClient, container: Container
) -> None:
    """Through the API, as it happens: a resident with a name and a record with a BSN, a
    title and contents; the service reads it; the vault is deleted. The log's entries hold
    none of it, before or after, and the export verifies after the shredding."""
    anna = sign_up(client, "Anna de Vries-Bakker")
    secrets = ["Anna de Vries-Bakker", "123456782", "Medicatieoverzicht De Linde", "metformine"]
    made = client.post(
        "/v1/me/records",
        headers=anna.headers,
        json={
            "category": "health",
            "type": "health.medication",
            "title": secrets[2],
            "content": {"bsn": secrets[1], "medicijn": secrets[3]},
        },
    )
    assert made.status_code == 201, made.text
    with container.uow() as uow:  # the one resident of this test
        resident_id = uow.session.scalars(select(ResidentRow.resident_id)).one()
    with container.uow() as uow:  # a service's read of it, as the data API logs it
        record(
            uow,
            AccessEvent(
                resident_id=resident_id,
                name="record.read",
                outcome="permit",
                actor="service",
                actor_id="huisarts-de-linde",
                service_id=uuid.uuid4(),
                record_id=uuid.UUID(made.json()["id"]),
                datatype="health.medication",
                action="read",
            ),
            T0,
        )
        uow.commit()
    container.residents.delete_vault(resident_id)
    container.integrator.run_once()
    lines, cp, key = exported(container)
    text_of_log = "\n".join(lines)
    assert "vault.deleted" in text_of_log
    for value in [*secrets, str(resident_id)]:
        assert value not in text_of_log
    assert verify_export(lines, checkpoint=cp, verifier_key=key).entries >= 2
