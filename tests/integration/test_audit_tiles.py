"""The log's hash tiles served as C2SP tlog-tiles (`GET /v1/audit/tile/<L>/<N>[.p/<W>]`).

What a tile verifier relies on: a full tile only once full, a partial tile `.p/W` as the first
W stored hashes, tiles that rebuild the signed root, long caching, and every other spelling of
a path (Go's `tlog.ParseTilePath` is as strict) a 404 problem. Entry bundles are not served.
The same tiles read by Go's own `tlog` code: tests/e2e/test_go_verifier.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.container import Container
from keys.note import Verifier, open_checkpoint
from vault.audit import merkle
from vault.audit.events import AccessEvent, record
from vault.audit.log import Integrator, parse_tile_path, tile_path
from vault.errors import NotFound
from vault.storage.orm import AuditTileRow

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SIZE = 600  # two full level-0 tiles, a partial one of 88, level 1 partial of 2


@pytest.fixture
def tiled(container: Container) -> Container:
    with container.uow() as uow:
        for i in range(SIZE):
            record(
                uow,
                AccessEvent(
                    resident_id=uuid.uuid4(),
                    name="record.read",
                    outcome="permit",
                    actor="service",
                    service_id=uuid.uuid4(),
                    datatype="health.medication",
                    action="read",
                ),
                T0 + timedelta(milliseconds=i),
            )
        uow.commit()
    rounds = Integrator(
        uow=container.uow,
        clock=container.clock,
        signer=container.log_key,
        subject_hash=container.audit.subject_hash,
        batch=250,
    )
    while rounds.run_once():
        pass
    return container


def stored(c: Container) -> dict[tuple[int, int], bytes]:
    with c.uow() as uow:
        return {(t.level, t.idx): t.hashes for t in uow.session.scalars(select(AuditTileRow))}


def test_tile_paths_are_c2sp_and_parsed_strictly() -> None:
    assert tile_path(0, 0) == "0/000"
    assert tile_path(4, 1234067) == "4/x001/x234/067"
    assert tile_path(4, 1234067, 1) == "4/x001/x234/067.p/1"
    assert tile_path(1, 1000, 255) == "1/x001/000.p/255"
    for level, index, width in [(0, 0, 256), (4, 1234067, 1), (1, 1000, 255), (0, 999, 3)]:
        assert parse_tile_path(tile_path(level, index, width)) == (level, index, width)
    assert parse_tile_path("0/x123/x456/789") == (0, 123456789, 256)
    assert parse_tile_path(tile_path(0, (1 << 55) - 1)) == (0, (1 << 55) - 1, 256)
    for bad in BAD_PATHS:
        with pytest.raises(ValueError, match="tile"):
            parse_tile_path(bad)


BAD_PATHS = [
    "",
    "0",
    "0/0",  # N is three digits
    "0/0000",
    "00/000",  # no leading zeros in L
    "01/000",
    "64/000",  # L is 0..63
    "-1/000",
    "0/x000/001",  # 1 is "001": the round trip refuses a leading zero group
    "0/001/002",  # all but the last group start with "x"
    "0/x001",  # ... and the last does not
    "0/x001/x002",
    "0/000/",
    "0/000.p",
    "0/000.p/",
    "0/000.p/0",  # W is 1..255
    "0/000.p/256",
    "0/000.p/01",
    "0/000.p/1/",
    "0/000.p/x1",
    "0/٠٠٠",  # Arabic-Indic digits: ASCII only
    "8/0/000",  # Go sumdb's tile/H/L/N: this layout has no height element
    "data/000",
    "entries/000",
    "0/x036/x028/x797/x018/x963/x968",  # 2^55 level-0 tiles: past any tree of < 2^63 leaves
    "7/001",
    "0/" + "x001/" * 5000 + "000",  # not parsed at all (an int of 15000 digits)
]


def test_tiles_serve_the_stored_tree(client: TestClient, tiled: Container) -> None:
    tiles = stored(tiled)
    assert {k: len(v) // 32 for k, v in tiles.items()} == {
        (0, 0): 256,
        (0, 1): 256,
        (0, 2): 88,
        (1, 0): 2,
    }
    full = client.get("/v1/audit/tile/0/001")
    assert full.status_code == 200
    assert full.headers["content-type"] == "application/octet-stream"
    assert "immutable" in full.headers["cache-control"]
    assert full.content == tiles[0, 1]
    assert len(full.content) == 8192
    part = client.get("/v1/audit/tile/0/002.p/88")
    assert part.status_code == 200
    assert part.content == tiles[0, 2]
    # An older checkpoint's partial tile: the first W hashes of the stored one.
    assert client.get("/v1/audit/tile/0/002.p/10").content == tiles[0, 2][: 10 * 32]
    level1 = client.get("/v1/audit/tile/1/000.p/2").content
    # A level-1 hash is the Merkle tree hash of a full level-0 tile ...
    assert level1 == merkle.perfect_root(tiles[0, 0]) + merkle.perfect_root(tiles[0, 1])
    # ... and the tiles a checkpoint's size needs rebuild its signed root.
    key = client.get("/v1/audit/key").json()
    latest = client.get("/v1/audit/checkpoint")  # <prefix>/checkpoint, as tlog-tiles wants it
    assert latest.headers["content-type"] == "text/plain; charset=utf-8"
    assert latest.headers["cache-control"] == "no-cache"
    signed = open_checkpoint(
        latest.content,
        Verifier.parse(key["verifier_key"]),
        key["origin"],
    )
    assert signed.size == SIZE
    leaves = [part.content[i : i + 32] for i in range(0, len(part.content), 32)]
    assert merkle.node_hash(merkle.node_hash(*[level1[:32], level1[32:]]), merkle.root(leaves)) == (
        signed.root_hash
    )


@pytest.mark.parametrize(
    "path",
    [
        "0/002",  # partial: not full yet
        "0/002.p/89",  # more hashes than stored
        "0/003.p/1",  # no such tile yet
        "1/000",
        "1/000.p/3",
        "2/000.p/1",
        *BAD_PATHS[1:],
    ],
)
def test_tiles_not_there_or_misspelled_are_404_problems(
    client: TestClient, tiled: Container, path: str
) -> None:
    got = client.get(f"/v1/audit/tile/{path}")
    assert got.status_code == 404, got.text
    assert got.headers["content-type"] == "application/problem+json"
    assert "immutable" not in got.headers.get("cache-control", "")


def test_entry_bundles_are_not_published(client: TestClient, tiled: Container) -> None:
    got = client.get("/v1/audit/tile/entries/000")
    assert got.status_code == 404
    assert "entry bundles are not published" in got.json()["detail"]


def test_log_reader_tile(tiled: Container) -> None:
    tiles = stored(tiled)
    assert tiled.audit.tile(0, 0) == tiles[0, 0]
    assert tiled.audit.tile(1, 0, 1) == tiles[1, 0][:32]
    with pytest.raises(NotFound):
        tiled.audit.tile(0, 2)
    with pytest.raises(NotFound):
        tiled.audit.tile(5, 0, 1)
