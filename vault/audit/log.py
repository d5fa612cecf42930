"""The verifiable log: sequencing events into an RFC 9162 Merkle tree, checkpoints, proofs.

Events are committed with the action they record (`vault.audit.events`, invariant I2) and
carry no position yet. The `Integrator`, one at a time per log (a PostgreSQL advisory lock;
SQLite has one writer anyway), takes the committed events in batches, gives each its index
(`seq`), appends its leaf (`vault.audit.leaf`) to the tree, stores the tree as tiles
(C2SP tlog-tiles, height 8: `AuditTileRow`), and signs a checkpoint (C2SP tlog-checkpoint in a
signed note) over the new size and root, all in one transaction. So what is sequenced is
always covered by the latest checkpoint, and a crash loses nothing: the events wait.

Proofs (`LogReader`) read a handful of tiles, whatever the size of the log. The integrator
checks, before it appends, that the stored tree still has the root of the latest checkpoint
and refuses to go on if not (`LogCorrupted`): it never signs over a tree it cannot vouch for.

What the log proves, and its limits (an event not yet integrated can still be removed by
someone with write access to the database; integration runs every second), are in
docs/audit-format.md.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Executable,
    Row,
    Table,
    TextClause,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from keys.note import Checkpoint
from vault.audit import leaf, merkle
from vault.audit.verify import EXPORT_FORMAT, b64
from vault.errors import NotFound, VaultError
from vault.ports import Clock
from vault.storage import queries
from vault.storage.orm import AccessEventRow, AuditCheckpointRow, AuditTileRow
from vault.storage.unit_of_work import UnitOfWorkFactory

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
# pg_advisory_xact_lock key of the integrator: "regie-audit" folded into a bigint.
_LOCK_KEY = 0x7265_6769_6541_7564

_EVENTS: Table = AccessEventRow.__table__  # type: ignore[assignment]
_TILES: Table = AuditTileRow.__table__  # type: ignore[assignment]


class LogCorrupted(VaultError):
    """The stored tree does not match the latest signed checkpoint: integration stops."""


class CheckpointSigner(Protocol):
    """Signs checkpoint texts as signed notes under the log's key (`keys.note`)."""

    @property
    def name(self) -> str: ...

    def sign(self, text: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root_hash: bytes
    note: str  # the signed note, as served


def node_tile(level: int, index: int) -> tuple[int, int, int, int]:
    """Where tree node (`level`, `index`) is found: (tile level, tile index, first position,
    count). A node on a tile's level is one hash; one between levels is the subtree of
    `count` hashes of the tile below."""
    tile_level, within = divmod(level, TILE_HEIGHT)
    first = index << within
    tile_index, position = divmod(first, TILE_WIDTH)
    return tile_level, tile_index, position, 1 << within


# C2SP tlog-tiles: `<L>/<N>[.p/<W>]`, N in 3-digit groups, all but the last prefixed "x".
_TILE_PATH = re.compile(r"([0-9]{1,2})/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?")
_PATH_BASE = 1000
_MAX_INDEX = 1 << 63  # no tree, hence no tile, starts at or beyond 2^63 leaves


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The C2SP tlog-tiles path of a hash tile after `tile/`: `<L>/<N>[.p/<W>]`, e.g.
    (0, 1234067, 5) -> `0/x001/x234/067.p/5` (Go's `tlog.Tile.Path` without the height)."""
    digits = f"{index % _PATH_BASE:03d}"
    while index >= _PATH_BASE:
        index //= _PATH_BASE
        digits = f"x{index % _PATH_BASE:03d}/{digits}"
    partial = "" if width == TILE_WIDTH else f".p/{width}"
    return f"{level}/{digits}{partial}"


def parse_tile_path(path: str) -> tuple[int, int, int]:
    """(level, index, width) of a hash tile path as `tile_path` writes it; `ValueError` for any
    other spelling (leading zeros, an "x" missing or extra, width 0 or 256 or more, level over
    63, a tile no tree can reach), as strict as Go's `tlog.ParseTilePath`."""
    # The longest real path is about 40 characters; a longer one is not parsed at all.
    match = _TILE_PATH.fullmatch(path) if len(path) <= 64 else None
    if match is None:
        raise ValueError(f"not a hash tile path: {path!r}")
    level = int(match[1])
    index = int(match[2].replace("x", "").replace("/", ""))
    width = TILE_WIDTH if match[3] is None else int(match[3])
    # The round trip refuses every non-canonical spelling (Go's ParseTilePath does the same).
    if (
        not 0 <= level <= 63
        or not 1 <= width <= TILE_WIDTH
        or tile_path(level, index, width) != path
    ):
        raise ValueError(f"not a canonical hash tile path: {path!r}")
    if index << (TILE_HEIGHT * (level + 1)) >= _MAX_INDEX:
        raise ValueError(f"no tree reaches tile {path!r}")
    return level, index, width


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """The complete subtrees (level, index) of a tree of `size` leaves, left to right."""
    nodes = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


class _FullTile:
    """A full tile with every level of its subtree worked out once (255 hashes)."""

    __slots__ = ("levels", "raw")

    def __init__(self, raw: bytes) -> None:
        size = merkle.HASH_SIZE
        level = [raw[i : i + size] for i in range(0, len(raw), size)]
        self.raw = raw
        self.levels = [level]
        while len(level) > 1:
            level = [merkle.node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)


class TileCache:
    """Full tiles (256 hashes) never change again: a process keeps them, with their inner
    levels, so a proof reads from the database only the right edge of the tree and the
    level-0 tile it misses. Every full tile above level 0 is kept (there are 1/256 as many
    as level-0 tiles: 15 at 1M entries, each about 24 KiB with its levels); of level 0 the
    `max_tiles` used most recently."""

    def __init__(self, max_tiles: int = 2048) -> None:  # about 2048 x 24 KiB = 48 MiB at most
        self._max = max_tiles
        self._tiles: OrderedDict[tuple[int, int], _FullTile] = OrderedDict()
        self._upper: dict[tuple[int, int], _FullTile] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int]) -> _FullTile | None:
        if key[0]:
            return self._upper.get(key)
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def put(self, key: tuple[int, int], raw: bytes) -> _FullTile | None:
        if len(raw) != TILE_WIDTH * merkle.HASH_SIZE:
            return None  # a partial tile still grows
        tile = _FullTile(raw)
        if key[0]:
            self._upper[key] = tile
            return tile
        with self._lock:
            self._tiles[key] = tile
            self._tiles.move_to_end(key)
            while len(self._tiles) > self._max:
                self._tiles.popitem(last=False)
        return tile


class _Tiles:
    """The tiles one proof or one integration round needs, fetched in one query (or given
    as `fetched`: rows (level, idx, hashes) read with the checkpoint, see `_inclusion_read`;
    whatever they lack is fetched then)."""

    def __init__(
        self,
        session: Session,
        nodes: Iterable[tuple[int, int]],
        cache: TileCache | None = None,
        fetched: Iterable[tuple[int, int, bytes]] = (),
    ) -> None:
        wanted = {node_tile(level, index)[:2] for level, index in nodes}
        self._hashes: dict[tuple[int, int], bytes] = {}
        self._full: dict[tuple[int, int], _FullTile] = {}
        if cache is not None:
            for key in list(wanted):
                full = cache.get(key)
                if full is not None:
                    self._full[key] = full
                    self._hashes[key] = full.raw
                    wanted.discard(key)
        self._add(fetched, wanted, cache)
        if wanted:
            self._add(
                session.execute(
                    select(_TILES.c.level, _TILES.c.idx, _TILES.c.hashes).where(
                        _TILES.c.level.in_({w[0] for w in wanted}),
                        _TILES.c.idx.in_({w[1] for w in wanted}),
                    )
                ),
                wanted,
                cache,
            )

    def _add(
        self,
        rows: Iterable[tuple[int, int, bytes]],
        wanted: set[tuple[int, int]],
        cache: TileCache | None,
    ) -> None:
        for level, idx, hashes in rows:
            key = (level, idx)
            if key in wanted:
                wanted.discard(key)
                self._hashes[key] = hashes
                full = cache.put(key, hashes) if cache is not None else None
                if full is not None:
                    self._full[key] = full

    def tile(self, tile_level: int, tile_index: int) -> bytes:
        return self._hashes.get((tile_level, tile_index), b"")

    def node(self, level: int, index: int) -> bytes:
        tile_level, tile_index, position, count = node_tile(level, index)
        full = self._full.get((tile_level, tile_index))
        if full is not None:
            return full.levels[level % TILE_HEIGHT][position >> (level % TILE_HEIGHT)]
        hashes = self.tile(tile_level, tile_index)
        size = merkle.HASH_SIZE
        start, end = position * size, (position + count) * size
        if len(hashes) < end:
            raise LogCorrupted(f"the tree has no node at level {level}, index {index}")
        if count == 1:
            return hashes[start:end]
        return merkle.perfect_root(hashes[start:end])


_CHECKPOINTS: Table = AuditCheckpointRow.__table__  # type: ignore[assignment]
_CHECKPOINT_COLUMNS = (_CHECKPOINTS.c.size, _CHECKPOINTS.c.root_hash, _CHECKPOINTS.c.note)


def _latest(session: Session) -> StoredCheckpoint | None:
    row = session.execute(
        select(*_CHECKPOINT_COLUMNS).order_by(_CHECKPOINTS.c.size.desc()).limit(1)
    ).first()
    return None if row is None else StoredCheckpoint(row.size, row.root_hash, row.note)


def _upsert_tiles(session: Session, tiles: dict[tuple[int, int], bytes]) -> None:
    if not tiles:
        return
    values = [{"level": k[0], "idx": k[1], "hashes": v} for k, v in tiles.items()]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_TILES).values(values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["level", "idx"], set_={"hashes": stmt.excluded.hashes}
        )
    )


def _tile_levels(size: int) -> int:
    """How many tile levels hold a node of a tree of `size` leaves (level L from 256^L)."""
    levels = 1
    while levels < _MAX_TILE_LEVELS and size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


_MAX_TILE_LEVELS = 8  # 256^8 = 2^64 leaves: no tree of fewer than 2^63 needs a ninth


_CHECKPOINT_ROW = (
    " SELECT size, root_hash, note, NULL AS level, NULL AS idx, NULL AS hashes FROM cp"
)


@functools.cache
def _inclusion_read(levels: int, latest: bool, own: bool) -> TextClause:
    """One statement for an inclusion proof: the checkpoint (`latest`, or the one of size
    :size) with the tiles on the right edge of its tree, idx = size // 256^(L+1) on each
    tile level L below `levels`, worked out by the database from the checkpoint it reads,
    and (`own`) level-0 tile :own, the one of the entry. A node on the proof path is in the
    entry's tile or an edge tile on each level (tests/property/test_log_tiles_properties.py);
    the entry's tiles above level 0 are full, hence cached, or edge tiles themselves, and
    whatever is still missing is read in a second statement. One statement, so on
    PostgreSQL in autocommit one round trip and one snapshot: primary-key lookups in a
    UNION ALL, the first part the checkpoint (its row has level NULL), present even when
    no tile matches. Text of a fixed shape, so psycopg prepares it after a few uses."""
    where = "ORDER BY size DESC LIMIT 1" if latest else "WHERE size = :size"
    # Only constants and integers of this module go into the text (B608: a false positive).
    cp = f"WITH cp AS (SELECT size, root_hash, note FROM audit_checkpoints {where})"  # noqa: S608  # nosec B608
    parts = [cp + _CHECKPOINT_ROW]
    tile = " SELECT NULL, NULL, NULL, t.level, t.idx, t.hashes FROM cp JOIN audit_tiles t ON "
    if own:
        parts.append(tile + "t.level = 0 AND t.idx = :own")
    for level in range(levels):
        span = TILE_HEIGHT * (level + 1)
        edge = f"cp.size / {1 << span}" if span < 63 else "0"
        parts.append(tile + f"t.level = {level} AND t.idx = {edge}")
    return text(" UNION ALL".join(parts))


# The events that wait for an index, oldest first, as `leaf.Stored` (the columns of
# `leaf.STORED` in order). PostgreSQL writes the texts itself: the UUIDs' (`uuid::text` is the
# canonical form) and the time's, in UTC as `leaf.timestamp` writes it for years 1000-9999;
# in C there, instead of UUID and datetime objects made here and turned into text again. A
# time outside those years (none the vault's clock gives) comes as the datetime instead, in
# the last column (NULL otherwise), and `leaf.timestamp` writes it as it always has.
# The texts are written for the batch only: the inner query picks it with the columns as
# stored, the outer one writes its rows' texts. (With statistics that still describe an empty
# table, right after a bulk insert, the planner sorts every waiting row for each batch; a
# to_char per waiting row there cost as much again.) Every output column has a name of its
# own and ORDER BY names the subquery's columns: PostgreSQL would otherwise call the last
# one "at" (a CASE takes its ELSE's name) and sort by it.
_PG_WAITING = text(
    "SELECT CAST(w.resident_id AS text) AS resident_text, CAST(w.event_id AS text) AS event_text,"
    " CASE WHEN w.at >= '1000-01-01 00:00:00+00' AND w.at < '10000-01-01 00:00:00+00'"
    """ THEN to_char(w.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END AS at_text,"""
    " w.name, w.outcome, w.reason, w.actor, w.actor_id,"
    " CAST(w.service_id AS text) AS service_text, CAST(w.grant_id AS text) AS grant_text,"
    " CAST(w.procedure_id AS text) AS procedure_text, CAST(w.record_id AS text) AS record_text,"
    " w.datatype, w.action, w.purpose, w.legal_basis, w.trace_id, w.span_id, w.parent_span_id,"
    " CASE WHEN w.at >= '1000-01-01 00:00:00+00' AND w.at < '10000-01-01 00:00:00+00'"
    " THEN NULL ELSE w.at END AS odd_at"
    " FROM (SELECT resident_id, event_id, at, name, outcome, reason, actor, actor_id,"
    " service_id, grant_id, procedure_id, record_id, datatype, action, purpose, legal_basis,"
    " trace_id, span_id, parent_span_id FROM access_events WHERE seq IS NULL"
    " ORDER BY at, event_id LIMIT :batch) AS w"
    " ORDER BY w.at, w.event_id"
)
_AT = leaf.STORED.index("at")
# For this round's transaction only. The one join of a round is the sequencing UPDATE's, of
# the batch's keys with access_events: 5,000 primary-key probes. Costed as random reads, they
# lose to a hash join, which reads every event not yet sequenced (the whole backlog: a
# million rows at the bar's size) in each round; measured at 100,000 waiting events, the
# probes took 23-36 ms against 100-130 ms for the hash join, a gap that grows with the
# backlog. No other statement of the round joins.
_PG_NESTED_LOOPS = text(
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
)
_WAITING = (
    select(*(_EVENTS.c[name] for name in leaf.STORED))
    .where(_EVENTS.c.seq.is_(None))
    .order_by(_EVENTS.c.at, _EVENTS.c.event_id)
)


def _waiting(session: Session, dialect: str, batch: int) -> tuple[list[Any], list[leaf.Stored]]:
    """Up to `batch` events that wait for an index, oldest first: their keys (resident_id,
    event_id; texts on PostgreSQL) for `queries.set_event_seqs`, and their `leaf.Stored`."""
    if dialect != "postgresql":
        rows = session.execute(_WAITING.limit(batch)).all()
        return [r[:2] for r in rows], [leaf.texts(r._mapping) for r in rows]
    rows = session.execute(_PG_WAITING, {"batch": batch}).all()
    stored = [tuple(row[:-1]) if row[-1] is None else _odd_time(row) for row in rows]
    return [s[:2] for s in stored], stored


def _odd_time(row: Row[Any]) -> leaf.Stored:
    """`leaf.Stored` of a row of `_PG_WAITING` whose time came as the datetime."""
    return (*row[:_AT], leaf.timestamp(row[-1]), *row[_AT + 1 : -1])


class _Statement:
    """One statement executed in a thread on `connection` (which nobody else uses until
    `join`): `join` returns its result or raises its error. With `threaded` false it runs
    at once (SQLite: the database is this process, there is nothing to overlap)."""

    def __init__(
        self, connection: Connection, statement: Executable, params: Any, *, threaded: bool
    ) -> None:
        self._result: CursorResult[Any] | None = None
        self._error: BaseException | None = None
        self._thread = None
        if not threaded:
            self._run(connection, statement, params)
            return
        self._thread = threading.Thread(
            target=self._run, args=(connection, statement, params), daemon=True
        )
        self._thread.start()

    def _run(self, connection: Connection, statement: Executable, params: Any) -> None:
        try:
            self._result = connection.execute(statement, params)
        except Exception as e:  # noqa: BLE001 - raised again in the caller's thread by join
            self._error = e

    def join(self) -> CursorResult[Any]:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise RuntimeError("the statement did not run to its end")
        return self._result


class Integrator:
    """Appends committed events to the tree and signs a checkpoint; one round at a time."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        signer: CheckpointSigner,
        subject_hash: leaf.SubjectHash,
        batch: int = 5000,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._signer = signer
        self._subject_hash = subject_hash
        self._batch = batch
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return self._signer.name

    @property
    def batch(self) -> int:
        return self._batch

    def run_once(self) -> int:
        """Integrate up to one batch; returns how many events it took (0: nothing waiting).
        The first round of an empty log signs the checkpoint of size 0."""
        with self._lock, self._uow() as uow:
            session = uow.session
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                session.execute(_PG_NESTED_LOOPS)
            latest = _latest(session)
            keys, stored = _waiting(session, dialect, self._batch)
            if latest is not None and not stored:
                return 0
            size = self._append(session, dialect, latest, keys, stored)
            uow.commit()
            return size - (latest.size if latest else 0)

    @staticmethod
    def _load(session: Session, latest: StoredCheckpoint | None) -> tuple[merkle.Frontier, _Tiles]:
        """The tree as stored, checked against the latest checkpoint, and the tiles on its
        right edge (the ones this round extends). Read every round (a few tiles): a cached
        copy would go on appending to tiles someone has changed."""
        size = latest.size if latest else 0
        edge = _Tiles(session, frontier_nodes(size))
        frontier = merkle.Frontier.load(size, edge.node)
        if latest is not None and frontier.root() != latest.root_hash:
            raise LogCorrupted(f"the stored tree does not match the checkpoint of size {size}")
        return frontier, edge

    def _hash(
        self, frontier: merkle.Frontier, partial: _Tiles, stored: Sequence[leaf.Stored]
    ) -> dict[tuple[int, int], bytearray]:
        """Append the events' leaves to `frontier`; the tiles this extends, as they become."""
        touched: dict[tuple[int, int], bytearray] = {}
        # One keyed hash per person per round, not per event.
        subject_hash = functools.lru_cache(maxsize=4096)(self._subject_hash)
        for event in stored:
            for level, index, node in frontier.append(leaf.stored_leaf_hash(event, subject_hash)):
                if level % TILE_HEIGHT:
                    continue
                key = (level // TILE_HEIGHT, index // TILE_WIDTH)
                tile = touched.get(key)
                if tile is None:
                    tile = touched[key] = bytearray(partial.tile(*key))
                if len(tile) != (index % TILE_WIDTH) * merkle.HASH_SIZE:
                    raise LogCorrupted(f"tile {key} does not end where node {index} goes")
                tile += node
        return touched

    def _append(
        self,
        session: Session,
        dialect: str,
        latest: StoredCheckpoint | None,
        keys: Sequence[Any],
        stored: Sequence[leaf.Stored],
    ) -> int:
        frontier, partial = self._load(session, latest)
        # The UPDATE that gives the events their indexes (first, first + 1, ...: known
        # before any hashing) runs in a thread on this transaction's connection while this
        # one builds and hashes the entries: the database works while Python does. Nothing
        # else uses the connection until the thread is joined, and nothing is committed
        # or signed unless both succeed.
        sequencing = (
            _Statement(
                session.connection(),
                *queries.set_event_seqs(dialect, keys, frontier.size),
                threaded=dialect == "postgresql",
            )
            if keys
            else None
        )
        try:
            touched = self._hash(frontier, partial, stored)
        finally:
            result = sequencing.join() if sequencing else None
        if result is not None and result.rowcount != len(keys):
            raise LogCorrupted("events changed while they were being sequenced")
        _upsert_tiles(session, {k: bytes(v) for k, v in touched.items()})
        root = frontier.root()
        checkpoint = Checkpoint(origin=self._signer.name, size=frontier.size, root_hash=root)
        note = self._signer.sign(checkpoint.body()).decode()
        session.add(
            AuditCheckpointRow(
                size=frontier.size, root_hash=root, note=note, signed_at=self._clock.now()
            )
        )
        session.flush()
        return frontier.size


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str  # the signed note of checkpoint `size`
    root_hash: bytes  # ... and its root, as stored


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str  # the signed note of checkpoint `new_size`
    old_root: bytes  # the roots of both checkpoints, as stored
    new_root: bytes


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    index: int
    entry: dict[str, str | None]
    leaf_hash: bytes


class LogReader:
    """Checkpoints, proofs and entries, read from the stored tree."""

    def __init__(self, *, uow: UnitOfWorkFactory, subject_hash: leaf.SubjectHash) -> None:
        self._uow = uow
        self.subject_hash = subject_hash
        self._tiles = TileCache()
        self._seen_size = 0  # the largest checkpoint a proof has read (a hint, see inclusion)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A session for reads that need no transaction: on PostgreSQL on a connection in
        autocommit, so each statement is its own snapshot with no BEGIN and ROLLBACK round
        trips (psycopg sends neither on an idle autocommit connection). Only for reads whose
        statements are each consistent on their own: tiles and checkpoints are only ever
        appended to, so a later statement sees a tree that extends the one an earlier one
        saw. Inside the unit of work, which turns an unreachable database into a 503."""
        with self._uow() as uow:
            bind = uow.session.get_bind()
            if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
                yield uow.session
                return
            with (
                bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
                Session(bind=connection) as session,
            ):
                yield session

    def checkpoint(self, size: int | None = None) -> StoredCheckpoint:
        """The latest checkpoint, or the one of `size`; `NotFound` when there is none."""
        with self._uow() as uow:
            return self._checkpoint(uow.session, size)

    @staticmethod
    def _checkpoint(session: Session, size: int | None) -> StoredCheckpoint:
        if size is None:
            latest = _latest(session)
            if latest is None:
                raise NotFound("the log has no checkpoint yet")
            return latest
        row = session.get(AuditCheckpointRow, size)
        if row is None:
            raise NotFound(f"there is no checkpoint of size {size}")
        return StoredCheckpoint(row.size, row.root_hash, row.note)

    def checkpoints(self, *, after: int = -1, limit: int = 100) -> list[StoredCheckpoint]:
        """The checkpoint history, oldest first, sizes greater than `after`."""
        with self._uow() as uow:
            rows = uow.session.scalars(
                select(AuditCheckpointRow)
                .where(AuditCheckpointRow.size > after)
                .order_by(AuditCheckpointRow.size)
                .limit(limit)
            )
            return [StoredCheckpoint(r.size, r.root_hash, r.note) for r in rows]

    def tile(self, level: int, index: int, width: int = TILE_WIDTH) -> bytes:
        """The first `width` hashes of the stored tile (`level`, `index`), 32 bytes each, as
        C2SP tlog-tiles serves them; `NotFound` while the tile holds fewer (a full tile, width
        256, only once full). Tiles and the latest checkpoint are written in one transaction,
        so what is served is part of the tree of the latest checkpoint, and never changes.

        Read from the database, not from the cache of full tiles: an auditor must see what is
        stored, a changed row included."""
        with self._uow() as uow:
            hashes = uow.session.scalar(
                select(_TILES.c.hashes).where(_TILES.c.level == level, _TILES.c.idx == index)
            )
        wanted = width * merkle.HASH_SIZE
        if hashes is None or len(hashes) < wanted:
            raise NotFound(f"tile {tile_path(level, index, width)} is not in the log (yet)")
        return bytes(hashes[:wanted])

    def inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that entry `index` is in the tree of checkpoint `size` (default: latest)."""
        # Tile levels to read with the checkpoint, from the largest tree seen so far: a tree
        # that has grown past it gets the tiles it lacks in a second statement.
        levels = _tile_levels(max(index + 1, self._seen_size)) + 1
        own = self._tiles.get((0, index >> TILE_HEIGHT)) is None
        with self._reading() as session:
            rows = session.execute(
                _inclusion_read(levels, size is None, own),
                {"size": size, "own": index >> TILE_HEIGHT},
            ).all()
            found = next((r for r in rows if r.level is None), None)
            if found is None:
                raise NotFound(
                    "the log has no checkpoint yet"
                    if size is None
                    else f"there is no checkpoint of size {size}"
                )
            checkpoint = StoredCheckpoint(found.size, found.root_hash, found.note)
            self._seen_size = max(self._seen_size, checkpoint.size)
            if not 0 <= index < checkpoint.size:
                raise NotFound(f"entry {index} is not in the checkpoint of size {checkpoint.size}")
            needed = merkle.inclusion_nodes(index, checkpoint.size) | {(0, index)}
            fetched = [(r.level, r.idx, r.hashes) for r in rows if r.level is not None]
            tiles = _Tiles(session, needed, self._tiles, fetched)
            hashes = merkle.inclusion_proof(index, checkpoint.size, tiles.node)
            return InclusionProof(
                index,
                checkpoint.size,
                tiles.node(0, index),
                tuple(hashes),
                checkpoint.note,
                checkpoint.root_hash,
            )

    def event_index(self, resident_id: Any, event_id: Any) -> int:
        """The log index of one of a resident's events; `NotFound` until it is integrated."""
        with self._uow() as uow:
            seq = uow.session.scalar(
                select(AccessEventRow.seq).where(
                    AccessEventRow.resident_id == resident_id, AccessEventRow.event_id == event_id
                )
            )
        if seq is None:
            raise NotFound("no such event in the log (yet)")
        return int(seq)

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that checkpoint `old_size` is a prefix of checkpoint `new_size`."""
        with self._reading() as session:
            new = self._checkpoint(session, new_size)
            old = self._checkpoint(session, old_size)
            if old_size > new.size:
                raise NotFound(f"checkpoint {old_size} is newer than checkpoint {new.size}")
            tiles = _Tiles(session, merkle.consistency_nodes(old_size, new.size), self._tiles)
            hashes = merkle.consistency_proof(old_size, new.size, tiles.node)
            return ConsistencyProof(
                old_size, new.size, tuple(hashes), new.note, old.root_hash, new.root_hash
            )

    def entries(self, start: int, end: int) -> Iterator[LoggedEvent]:
        """The entries with index in [start, end), in order, rebuilt from the stored rows,
        each with the leaf hash the tree holds at its index (they differ if a row was
        changed after it was logged). An index whose row is gone is skipped."""
        step = 8 * TILE_WIDTH
        for low in range(start, end, step):
            high = min(end, low + step)
            with self._uow() as uow:
                rows = (
                    uow.session.execute(
                        select(_EVENTS)
                        .where(_EVENTS.c.seq >= low, _EVENTS.c.seq < high)
                        .order_by(_EVENTS.c.seq)
                    )
                    .mappings()
                    .all()
                )
                tiles = _Tiles(uow.session, [(0, i) for i in range(low, high, TILE_WIDTH)])
            for row in rows:
                index = int(row["seq"])
                yield LoggedEvent(index, leaf.entry(row, self.subject_hash), tiles.node(0, index))

    def matching(
        self,
        conditions: Sequence[ColumnElement[bool]],
        *,
        size: int,
        after: int = -1,
        limit: int | None = None,
    ) -> list[LoggedEvent]:
        """The entries in the tree of `size` with index greater than `after` whose stored row
        meets every one of `conditions` (on table access_events), in index order, at most
        `limit` (None: all; then prefer `excerpt`, which streams)."""
        with self._uow() as uow:
            stmt = (
                select(_EVENTS)
                .where(_EVENTS.c.seq > after, _EVENTS.c.seq < size, *conditions)
                .order_by(_EVENTS.c.seq)
            )
            if limit is not None:
                stmt = stmt.limit(limit)
            rows = uow.session.execute(stmt).mappings().all()
            tiles = _Tiles(uow.session, [(0, int(r["seq"])) for r in rows], self._tiles)
            return [
                LoggedEvent(
                    int(r["seq"]), leaf.entry(r, self.subject_hash), tiles.node(0, int(r["seq"]))
                )
                for r in rows
            ]

    def excerpt(
        self,
        conditions: Sequence[ColumnElement[bool]],
        *,
        size: int | None = None,
        header: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        """An excerpt up to checkpoint `size` (default: latest): the entries meeting
        `conditions`, each with its inclusion proof, as JSON lines (docs/audit-format.md);
        `vault.audit.verify` checks it offline. `header` adds members to the header line
        (e.g. the filter), which verification ignores."""
        checkpoint = self.checkpoint(size)
        yield json.dumps(
            {
                **(header or {}),
                "format": EXPORT_FORMAT,
                "origin": checkpoint.note.split("\n", 1)[0],
                "size": checkpoint.size,
                "complete": False,
                "checkpoint": checkpoint.note,
            },
            ensure_ascii=False,
        )
        after = -1
        while True:
            batch = self.matching(conditions, size=checkpoint.size, after=after, limit=TILE_WIDTH)
            if not batch:
                return
            with self._uow() as uow:
                needed: set[tuple[int, int]] = set()
                for event in batch:
                    needed |= merkle.inclusion_nodes(event.index, checkpoint.size)
                tiles = _Tiles(uow.session, needed, self._tiles)
                proofs = [
                    merkle.inclusion_proof(event.index, checkpoint.size, tiles.node)
                    for event in batch
                ]
            # Yielded with no transaction open: the reader may be slow.
            for event, proof in zip(batch, proofs, strict=True):
                yield json.dumps(
                    {
                        "index": event.index,
                        "entry": event.entry,
                        "leaf_hash": b64(event.leaf_hash),
                        "inclusion": [b64(h) for h in proof],
                    },
                    ensure_ascii=False,
                )
            after = batch[-1].index

    def export(self, size: int | None = None) -> Iterator[str]:
        """A complete export up to checkpoint `size` (default: latest), as JSON lines
        (docs/audit-format.md); `vault.audit.verify` checks it offline."""
        checkpoint = self.checkpoint(size)
        yield json.dumps(
            {
                "format": EXPORT_FORMAT,
                "origin": checkpoint.note.split("\n", 1)[0],
                "size": checkpoint.size,
                "complete": True,
                "checkpoint": checkpoint.note,
            }
        )
        for event in self.entries(0, checkpoint.size):
            yield json.dumps(
                {"index": event.index, "entry": event.entry, "leaf_hash": b64(event.leaf_hash)},
                ensure_ascii=False,
            )
