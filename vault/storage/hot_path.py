"""The data API's two statements: the read of one decision, and the group commit's write.

`HotPath` is what `ServiceAccess.read_record` and `AccessLog` run on (docs/performance.md,
"The grant API against its bars"). Two implementations, with the same results:

- `PsycopgHotPath` (PostgreSQL, production): each statement on psycopg directly, on a raw
  connection of the autocommit engine's pool, prepared, rows as plain tuples: none of
  SQLAlchemy's per-execution result machinery, and two greenlet hops (checkout, check-in)
  instead of one per driver call. The write is one statement (`queries.PG_CLAIM_AND_LOG`): in
  autocommit its own transaction, so one round trip for the batch's claims and events.
- `UowHotPath` (SQLite, and the tests' shared connection): the same statements through the
  async unit of work.

A database that cannot be reached or a connection that died is `StorageUnavailable` (503):
the dead connection is discarded (with the other engine's idle ones), the next call
reconnects.
"""

from __future__ import annotations

import uuid
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from vault.errors import StorageUnavailable
from vault.storage import queries
from vault.storage.async_uow import AsyncUnitOfWorkFactory
from vault.storage.unit_of_work import unreachable

#: (owner, namespace, value, expires_at): a one-time value of request `owner` of a batch.
OwnedClaim = tuple[int, str, str, datetime]
#: (owner, the values of `vault.audit.events.event_row`)
OwnedEvent = tuple[int, Mapping[str, Any]]


class HotPath(Protocol):
    async def token_and_record(self, token_hash: bytes, record_id: uuid.UUID) -> Any | None:
        """The row of `queries.TOKEN_FACTS_AND_RECORD` (attributes by label), or None."""
        ...

    async def claim_and_log(
        self, claims: Sequence[OwnedClaim], events: Sequence[OwnedEvent], now: datetime
    ) -> set[tuple[str, str]]:
        """In one transaction: record `claims` (each (namespace, value) once) and the events
        of the owners whose claims were all new; the (namespace, value) claims that were new.
        Nothing is written if it raises."""
        ...


def _all_fresh(claims: Sequence[OwnedClaim], fresh: set[tuple[str, str]]) -> set[int]:
    """The owners none of whose claims was seen before."""
    stale = {o for o, n, v, _ in claims if (n, v) not in fresh}
    return {o for o, _, _, _ in claims if o not in stale}


class UowHotPath:
    """`HotPath` through the async unit of work (SQLite; tests' shared connection)."""

    def __init__(self, uow: AsyncUnitOfWorkFactory) -> None:
        self._uow = uow

    async def token_and_record(self, token_hash: bytes, record_id: uuid.UUID) -> Any | None:
        async with self._uow(read_only=True) as uow:
            result = await uow.execute(
                queries.TOKEN_FACTS_AND_RECORD, {"token_hash": token_hash, "record_id": record_id}
            )
            return result.first()

    async def claim_and_log(
        self, claims: Sequence[OwnedClaim], events: Sequence[OwnedEvent], now: datetime
    ) -> set[tuple[str, str]]:
        async with self._uow() as uow:
            fresh: set[tuple[str, str]] = set()
            if claims:
                result = await uow.execute(
                    *queries.claim_replays(uow.dialect, [(n, v, e) for _, n, v, e in claims], now)
                )
                fresh = {(row.namespace, row.value) for row in result}
            owners = {o for o, _, _, _ in claims}
            kept = _all_fresh(claims, fresh)
            rows = [row for o, row in events if o not in owners or o in kept]
            if rows:
                await uow.execute(*queries.insert_access_events(uow.dialect, rows))
            await uow.commit()
            return fresh


class _Statement:
    """A Core SELECT compiled once for psycopg: its text, and a row maker that applies the
    columns' result processors (UtcDateTime, ...) and names the values by label."""

    def __init__(self, statement: Any, engine: AsyncEngine) -> None:
        dialect = engine.dialect
        self.sql: str = str(statement.compile(dialect=dialect))
        columns = list(statement.selected_columns)
        self._row: Any = namedtuple("_Row", [c.name for c in columns])  # type: ignore[misc]
        self._processors: list[tuple[int, Callable[[Any], Any]]] = [
            (i, p)
            for i, c in enumerate(columns)
            if (p := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]

    def row(self, values: tuple[Any, ...] | None) -> Any | None:
        if values is None:
            return None
        if self._processors:
            out = list(values)
            for i, process in self._processors:
                out[i] = process(out[i])
            values = tuple(out)
        return self._row._make(values)


class PsycopgHotPath:
    """`HotPath` on psycopg directly (PostgreSQL), on raw connections of `engine`'s pool (the
    autocommit engine: each statement is its own snapshot, or its own transaction).
    `sibling`, the other engine on the same database, drops its idle connections when this
    one finds the server gone."""

    def __init__(self, engine: AsyncEngine, *, sibling: AsyncEngine | None = None) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("PsycopgHotPath is for PostgreSQL")
        self._engine = engine
        self._sibling = sibling
        self._read = _Statement(queries.TOKEN_FACTS_AND_RECORD, engine)

    async def token_and_record(self, token_hash: bytes, record_id: uuid.UUID) -> Any | None:
        fairy = await self._checkout()
        conn: psycopg.AsyncConnection[Any] = fairy.driver_connection  # type: ignore[assignment]
        try:
            cursor = await conn.execute(
                self._read.sql, {"token_hash": token_hash, "record_id": record_id}, prepare=True
            )
            values = await cursor.fetchone()
        except BaseException as e:
            await self._failed(fairy, e)
            raise
        await greenlet_spawn(fairy.close)
        return self._read.row(values)

    async def claim_and_log(
        self, claims: Sequence[OwnedClaim], events: Sequence[OwnedEvent], now: datetime
    ) -> set[tuple[str, str]]:
        if not claims and not events:
            return set()
        params = queries.pg_claim_and_log_params(claims, events, now)
        fairy = await self._checkout()
        conn: psycopg.AsyncConnection[Any] = fairy.driver_connection  # type: ignore[assignment]
        try:
            cursor = await conn.execute(queries.PG_CLAIM_AND_LOG, params, prepare=True)
            fresh = {(n, v) for n, v in await cursor.fetchall()}
        except BaseException as e:
            await self._failed(fairy, e)
            raise
        await greenlet_spawn(fairy.close)
        return fresh

    async def _checkout(self) -> PoolProxiedConnection:
        try:
            return await self._engine.raw_connection()
        except Exception as e:
            if unreachable(e) or isinstance(e, psycopg.OperationalError):
                raise StorageUnavailable("the database cannot be reached") from e
            raise

    async def _failed(self, fairy: PoolProxiedConnection, e: BaseException) -> None:
        """After statement error `e`: a healthy connection back to the pool; a dead one, or
        one left mid-statement (cancelled), discarded. A dead server is `StorageUnavailable`."""
        conn: psycopg.AsyncConnection[Any] = fairy.driver_connection  # type: ignore[assignment]
        healthy = (
            isinstance(e, psycopg.Error)
            and not conn.broken
            and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )
        if healthy and not isinstance(e, psycopg.OperationalError):
            await greenlet_spawn(fairy.close)
            return
        await greenlet_spawn(fairy.invalidate, e)
        if not isinstance(e, psycopg.Error):
            return  # cancelled: the caller's exception goes on
        if conn.broken:
            # The server went away: the pools' other idle connections are dead too.
            await self._engine.dispose()
            if self._sibling is not None:
                await self._sibling.dispose()
        raise StorageUnavailable("the database cannot be reached") from e
